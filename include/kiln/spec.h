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

#pragma GCC visibility push(default)

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
	/*
	 * kiln's extension of the format: ids of build secrets (`kiln build
	 * --secret id=ID,src=PATH`) mounted read-only at /run/secrets/<id> for
	 * this step's instructions only. bldr ignores the key.
	 */
	struct kiln_strv secrets;
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

/* A loaded package tree: every package rendered for one platform and set of build arguments. */
struct kiln_tree;

struct kiln_tree_options {
	/* "linux/amd64" or "linux/arm64"; NULL for the host's */
	const char *platform;
	/* "KEY=VALUE" strings, visible to templates as BUILD_ARG_KEY */
	char *const *build_args;
	size_t n_build_args;
	/*
	 * Go on after a broken file, reporting each error to the log function
	 * at KILN_LOG_ERR, and fail at the end with a count (for validate).
	 * Otherwise stop at the first error.
	 */
	bool keep_going;
};

/* A rendered *.tmpl file of a package. */
struct kiln_tmpl {
	char *path; /* relative to the package directory, ".tmpl" dropped */
	char *file; /* the template, relative to the tree root */
	char *text; /* rendered */
	size_t len;
};

struct kiln_tree_stats {
	unsigned n_pkg_yaml;
	unsigned n_vars_yaml;
	unsigned n_tmpl;
};

/**
 * kiln_tree_load() - discover, render and check a package tree
 * @ctx: library context
 * @root: the tree's root directory (holding the Pkgfile)
 * @opts: platform and build arguments; NULL for the defaults
 * @ret: the loaded tree
 *
 * Walks @root (skipping directories whose name starts with "." and the root's
 * _out/), reads the Pkgfile, renders each vars.yaml with its ancestors'
 * variables, renders and parses each pkg.yaml with the variables of its
 * directory, renders each *.tmpl with the variables of its package, and
 * checks that package names are unique.
 */
int kiln_tree_load(struct kiln_ctx *ctx, const char *root, const struct kiln_tree_options *opts,
		   struct kiln_tree **ret);

void kiln_tree_free(struct kiln_tree *tree);

static inline void kiln_tree_freep(struct kiln_tree **t)
{
	kiln_tree_free(*t);
}

/* The packages, sorted by name. */
size_t kiln_tree_n_pkgs(const struct kiln_tree *tree);
const struct kiln_pkg *kiln_tree_pkg(const struct kiln_tree *tree, size_t i);

/* The package called @name, or NULL. */
const struct kiln_pkg *kiln_tree_find(const struct kiln_tree *tree, const char *name);

/* The value of template variable @key for package @pkg, or NULL if unset. */
const char *kiln_tree_var(const struct kiln_tree *tree, const struct kiln_pkg *pkg,
			  const char *key);

/* The rendered *.tmpl files of @pkg, sorted by path; *@ret_n gets their count. */
const struct kiln_tmpl *kiln_tree_templates(const struct kiln_tree *tree,
					    const struct kiln_pkg *pkg, size_t *ret_n);

/* The platform the tree was rendered for, such as "linux/amd64". */
const char *kiln_tree_platform(const struct kiln_tree *tree);

/* The tree's root directory, as given to kiln_tree_load(). */
const char *kiln_tree_root(const struct kiln_tree *tree);

void kiln_tree_stats(const struct kiln_tree *tree, struct kiln_tree_stats *ret);

/**
 * kiln_tree_eval() - render @text with the variables of package @target
 *
 * As `bldr eval`: the template sees exactly what the target's pkg.yaml saw.
 */
int kiln_tree_eval(struct kiln_ctx *ctx, const struct kiln_tree *tree, const char *target,
		   const char *text, char **ret);

/**
 * kiln_tree_resolve() - the stages needed to build some targets
 * @targets: package names, @n_targets of them
 * @ret: the packages, every dependency before its dependents; free() the
 *       array, not its elements
 * @ret_n: their count
 *
 * Follows `stage` dependencies (and so the runtime closure). A name that no
 * package defines is an error naming the package that asked for it; a cycle
 * is an error that prints the cycle.
 */
int kiln_tree_resolve(struct kiln_ctx *ctx, const struct kiln_tree *tree,
		      const char *const *targets, size_t n_targets, const struct kiln_pkg ***ret,
		      size_t *ret_n);

/** kiln_tree_resolve_all() - kiln_tree_resolve() with every package as a target. */
int kiln_tree_resolve_all(struct kiln_ctx *ctx, const struct kiln_tree *tree,
			  const struct kiln_pkg ***ret, size_t *ret_n);

/**
 * kiln_tree_effective_deps() - the dependencies a stage really merges
 *
 * @pkg's own dependencies, each stage dependency followed by the dependencies
 * its package marks runtime (transitively), deduplicated by (stage or image,
 * to) keeping the first, which is the order bldr merges them in. Free the
 * array, not its elements.
 */
int kiln_tree_effective_deps(struct kiln_ctx *ctx, const struct kiln_tree *tree,
			     const struct kiln_pkg *pkg, const struct kiln_dep ***ret,
			     size_t *ret_n);

/*
 * kiln_pkgs_json() - @n packages as one JSON array, as `kiln dump --json`
 * prints it: an object a package with name, variant, shell, dir, install,
 * dependencies, steps, finalize and buildPlatform, always in that order.
 * Sets *@ret to the text and *@ret_len to its length. Returns 0 or -ENOMEM.
 */
int kiln_pkgs_json(const struct kiln_pkg *const *pkgs, size_t n, char **ret, size_t *ret_len);

#pragma GCC visibility pop
