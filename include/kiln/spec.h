/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The package model: bldr package trees (format v1alpha2) as kiln reads them.
 *
 * A tree is a root holding a Pkgfile, any number of pkg.yaml files (one per
 * package), vars.yaml files that set template variables for their directory
 * and below, and *.tmpl files that belong to the nearest package above them.
 * Loading a tree renders every pkg.yaml for one platform and set of build
 * arguments and checks it as bldr does.
 */

#include <stdbool.h>
#include <stddef.h>

#include <kiln/kiln.h>

/* A list of strings, as YAML sequences of scalars become. */
struct kiln_strv {
	char **v;
	size_t n;
};

struct kiln_dep {
	char *stage; /* exactly one of stage and image is set */
	char *image;
	char *from; /* default "/" */
	char *to; /* default "/" */
	char *platform; /* NULL when not given */
	bool runtime;
	unsigned line, col;
};

struct kiln_source {
	char *url;
	char *destination;
	char *sha256; /* 64 hex digits */
	char *sha512; /* 128 hex digits */
	unsigned line, col;
};

struct kiln_env {
	char *name;
	char *value;
};

enum kiln_network {
	KILN_NETWORK_NONE,
	KILN_NETWORK_DEFAULT,
	KILN_NETWORK_HOST,
};

struct kiln_sbom {
	char *output_path;
	char *name;
	char *version;
	struct kiln_strv cpes;
	char *purl;
	struct kiln_strv licenses;
};

struct kiln_step {
	struct kiln_source *sources;
	size_t n_sources;
	struct kiln_env *env; /* sorted by name, as bldr sets it */
	size_t n_env;
	struct kiln_strv cache_paths;
	struct kiln_strv prepare;
	struct kiln_strv build;
	struct kiln_strv install;
	struct kiln_strv test;
	enum kiln_network network;
	struct kiln_sbom *sbom; /* NULL when absent */
	unsigned line, col;
};

struct kiln_finalize {
	char *from;
	char *to;
};

struct kiln_pkg {
	char *name;
	char *variant; /* "alpine" or "scratch" */
	char *shell; /* default "/bin/sh" */
	struct kiln_strv install; /* apk packages */
	struct kiln_dep *deps;
	size_t n_deps;
	struct kiln_step *steps;
	size_t n_steps;
	struct kiln_finalize *finalize;
	size_t n_finalize;
	char *build_platform; /* NULL when not given */

	char *file; /* the pkg.yaml, relative to the tree root */
	char *dir; /* its directory, relative to the root ("." for the root) */
};

const char *kiln_network_name(enum kiln_network n);

/**
 * kiln_pkg_parse() - parse and check one rendered pkg.yaml
 * @ctx: library context
 * @file: the name to report errors against
 * @text: the rendered document, @len bytes
 * @ret: the package; its file and dir are left NULL for the caller
 *
 * Unknown keys are warnings with file:line; everything bldr refuses (a missing
 * name or variant, a dependency with both or neither of stage and image, a
 * source without both hashes or with a hash of the wrong length, steps without
 * finalize, a bad network mode) is an error naming file:line:col.
 */
int kiln_pkg_parse(struct kiln_ctx *ctx, const char *file, const char *text, size_t len,
		   struct kiln_pkg **ret);

/** kiln_pkg_free() - free a package; NULL is allowed. */
void kiln_pkg_free(struct kiln_pkg *pkg);

static inline void kiln_pkg_freep(struct kiln_pkg **p)
{
	kiln_pkg_free(*p);
}
