/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A stage's output: finalize's copies out of the stage's root (or, for the
 * common single directory, the directory itself under a prefix), validated
 * when it is a system extension, its kernel modules checked, and written as
 * a one-layer image named after the stage's cache key.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/ext.h>

#include "build-internal.h"
#include "copy.h"
#include "fileio.h"
#include "log.h"

/* Where @path of the stage lives for kiln: /tmp/build is the build directory, not the root's. */
static int source_root(struct run *r, const char *path, const char **ret_path)
{
	size_t len = strlen(BUILD_DIR);

	while (path[0] == '/' && path[1] == '/')
		path++;
	if (strncmp(path, BUILD_DIR, len) == 0 && (path[len] == '/' || path[len] == '\0')) {
		*ret_path = path[len] ? path + len : "/";
		return r->build_fd;
	}
	*ret_path = path;
	return r->root_fd;
}

/* What the build reports of a valid extension: its name, version, files and warnings. */
static int keep_extension(struct stage *st, const struct kiln_ext_report *rep)
{
	struct kiln_build_extension *e = calloc(1, sizeof(*e));
	int r = 0;

	if (!e)
		return -ENOMEM;
	kiln_build_extension_free(st->extension);
	st->extension = e;
	e->n_files = rep->n_files;
	if (rep->manifest &&
	    ((rep->manifest->name && !(e->name = strdup(rep->manifest->name))) ||
	     (rep->manifest->ext_version && !(e->version = strdup(rep->manifest->ext_version)))))
		return -ENOMEM;
	e->warnings = calloc(rep->n_problems + 1, sizeof(*e->warnings));
	if (!e->warnings)
		return -ENOMEM;
	for (size_t i = 0; i < rep->n_problems && r >= 0; i++) {
		const struct kiln_ext_problem *p = &rep->problems[i];

		if (asprintf(&e->warnings[e->n_warnings], "%s: %s", p->path ? p->path : "/",
			     p->message) < 0)
			r = -ENOMEM;
		else
			e->n_warnings++;
	}
	return r;
}

/*
 * An output in the shape of a Talos system extension (manifest.yaml and
 * rootfs/ at the top) is validated before it is stored, so that a bad
 * extension never reaches the store: Talos's rules and kiln's (without a
 * kernel, which a stage does not name). Problems go to the log; errors fail
 * the stage; a valid one is st->extension, with its warnings.
 */
static int validate_extension(struct run *r, const char *out)
{
	_cleanup_(kiln_ext_report_freep) struct kiln_ext_report *rep = NULL;
	struct kiln_ext_validate_options vo = { .owners_advisory = true };
	_cleanup_free_ char *manifest = path_join(out, "manifest.yaml");
	_cleanup_free_ char *rootfs = path_join(out, "rootfs");
	const struct kiln_ext_problem *first = NULL;
	struct stat st;
	int ret;

	if (!manifest || !rootfs)
		return -ENOMEM;
	if (lstat(manifest, &st) < 0 || !S_ISREG(st.st_mode) || lstat(rootfs, &st) < 0 ||
	    !S_ISDIR(st.st_mode))
		return 0;
	r->phase = "validate extension";
	run_report(r, NULL);
	ret = kiln_ext_validate_dir(r->ctx, out, NULL, &vo, &rep);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < rep->n_problems; i++) {
		const struct kiln_ext_problem *p = &rep->problems[i];

		run_log_line(r, "kiln: extension %s: %s%s: %s\n", p->warning ? "warning" : "error",
			     p->path ? p->path : "", p->path ? "" : "/", p->message);
		if (!p->warning && !first)
			first = p;
	}
	if (!first)
		return keep_extension(r->st, rep);
	return kiln_error(r->ctx, EINVAL,
			  "the output is an invalid system extension (%u error%s; all are in the "
			  "log): %s: %s",
			  rep->n_errors, rep->n_errors == 1 ? "" : "s",
			  first->path ? first->path : "/", first->message);
}

/*
 * Whether @to is a plain directory path ("/", "/src", "/usr/lib/"): no "."
 * or ".." in it. *@ret gets it relative and without slashes at either end
 * ("" for the root).
 */
static int finalize_prefix(const char *to, char **ret)
{
	_cleanup_free_ char *copy = NULL;
	size_t len;

	while (*to == '/')
		to++;
	copy = strdup(to);
	if (!copy)
		return -ENOMEM;
	len = strlen(copy);
	while (len > 0 && copy[len - 1] == '/')
		copy[--len] = '\0';
	for (const char *p = copy; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		p += n;
		if (*p)
			p++;
	}
	*ret = TAKE_PTR(copy);
	return 0;
}

int run_finalize(struct run *r)
{
	const struct kiln_pkg *pkg = r->st->pkg;
	_cleanup_free_ char *out = NULL, *ref = NULL, *created_by = NULL, *prefix = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor desc = { 0 };
	_cleanup_close_ int out_fd = -1;
	struct kiln_image_options io = {
		.platform = &r->b->platform,
		.created = r->b->o->source_date_epoch,
		/*
		 * zstd: a kernel tree of 1.6 GB takes 7 s where gzip -6 takes 53 s (gzip
		 * -1: 19 s), and unpacks 4 times faster; registries, skopeo, containerd
		 * and go-containerregistry (the Talos imager's) all take it.
		 */
		.layer = { .compression = KILN_COMPRESSION_ZSTD },
	};
	int ret;

	r->step = 0;
	r->phase = "finalize";
	run_report(r, NULL);
	if (pkg->n_finalize == 1 && finalize_prefix(pkg->finalize[0].to, &prefix) >= 0) {
		/*
		 * The common `from: /rootfs, to: /` and `from: /src, to: /src` of one
		 * directory: the layer is written from the stage directly, under the
		 * prefix, with no copy of what may be a whole kernel tree.
		 */
		const char *path;
		int at = source_root(r, pkg->finalize[0].from, &path);

		out_fd = openat_in_root(at, path, O_RDONLY | O_DIRECTORY, 0);
		if (out_fd >= 0 && prefix[0])
			io.layer.tree.prefix = prefix;
	}
	if (out_fd < 0) {
		out = path_join(r->work, "out");
		if (!out)
			return -ENOMEM;
		if (mkdir(out, 0755) < 0 ||
		    (out_fd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return kiln_error(r->ctx, errno, "cannot make \"%s\": %m", out);
		for (size_t i = 0; i < pkg->n_finalize; i++) {
			_cleanup_free_ char *what = NULL;
			const char *path;
			int at = source_root(r, pkg->finalize[i].from, &path);

			if (asprintf(&what, "finalize %s -> %s", pkg->finalize[i].from,
				     pkg->finalize[i].to) < 0) {
				what = NULL;
				return -ENOMEM;
			}
			ret = copy_in_root(r->ctx, what, at, path, out_fd, pkg->finalize[i].to);
			if (ret < 0)
				return ret;
		}
	}
	{
		/* the direct case has no path of its own: the fd's is as good */
		char fd_path[64];

		snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", out_fd);
		/* an output under a prefix has only that directory at its top: not an extension */
		ret = io.layer.tree.prefix ? 0 : validate_extension(r, out ? out : fd_path);
		if (ret < 0)
			return ret;
		r->phase = "check modules";
		ret = stage_check_modules(r->ctx, r->b, r->st, out ? out : fd_path,
					  io.layer.tree.prefix, r->lowers, r->log_fd);
		if (ret < 0)
			return ret;
		if (r->st->n_modules > 0 || r->st->extension)
			stage_record_modules(r->ctx, r->b, r->st);
		r->phase = "finalize";
	}
	if (asprintf(&ref, KILN_STAGE_REF_PREFIX "%s:%s", pkg->name, r->st->key) < 0 ||
	    asprintf(&created_by, "kiln build %s", pkg->name) < 0) {
		ref = created_by = NULL;
		return -ENOMEM;
	}
	io.created_by = created_by;
	ret = kiln_image_from_dirfd(r->ctx, r->b->store, out_fd, ref, &io, &desc);
	if (ret < 0)
		return ret;
	r->st->digest = desc.digest;
	r->st->size = desc.size;
	return 0;
}
