/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Validating an extension: what Talos checks when it loads one (the top
 * level, the manifest, the constraint) and what the extensions validator
 * checks when it is built (the content rules), each with Talos's words,
 * then what only shows at boot today: modules for another kernel or signed
 * by another key, missing firmware, udev rules that do not parse or sit
 * where udev never looks, files not owned by root, a private key shipped
 * by mistake. Every problem is collected; the caller decides what fails.
 */
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <kiln/ext.h>
#include <kiln/layer.h>

#include "fileio.h"
#include "log.h"
#include "strbuf.h"
#include "strv.h"

#define MANIFEST_MAX (1u << 20)
#define MODULES_DIR "/usr/lib/modules/"
#define UDEV_RULES_DIR "/usr/lib/udev/rules.d/"

struct validator {
	struct kiln_ctx *ctx;
	const struct kiln_ext_validate_options *o;
	const struct kiln_fs *meta;
	struct kiln_ext_report *r;
	size_t alloc_problems;
	char *rootfs; /* <dir>/rootfs */
	int rootfs_fd;
	char **modules; /* paths inside rootfs */
	char **releases;
	size_t owner_problem; /* the first owner problem's index, reported once for all */
	unsigned n_owner_problems;
};

void kiln_ext_report_free(struct kiln_ext_report *r)
{
	if (!r)
		return;
	kiln_ext_manifest_free(r->manifest);
	for (size_t i = 0; i < r->n_problems; i++) {
		free(r->problems[i].path);
		free(r->problems[i].message);
		free(r->problems[i].fix_arg);
	}
	free(r->problems);
	free(r->modules_release);
	free(r);
}

static int problem(struct validator *v, bool warning, const char *path, const char *fmt, ...)
    _printf_(4, 5);
static int problem(struct validator *v, bool warning, const char *path, const char *fmt, ...)
{
	struct kiln_ext_report *r = v->r;
	struct kiln_ext_problem *p;
	va_list ap;
	int n;

	if (kiln_grow((void **)&r->problems, &v->alloc_problems, r->n_problems + 1,
		      sizeof(*r->problems)) < 0)
		return -ENOMEM;
	p = &r->problems[r->n_problems];
	*p = (struct kiln_ext_problem){ .warning = warning };
	va_start(ap, fmt);
	n = vasprintf(&p->message, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (path && !(p->path = strdup(path))) {
		free(p->message);
		return -ENOMEM;
	}
	r->n_problems++;
	if (warning)
		r->n_warnings++;
	else
		r->n_errors++;
	return 0;
}

/* What to do about the problem just recorded: @f's fix, which the caller words. */
static int problem_fix(struct validator *v, const struct kiln_check_finding *f)
{
	struct kiln_ext_problem *p = &v->r->problems[v->r->n_problems - 1];

	p->fix = f->fix;
	if (f->fix_arg && !(p->fix_arg = strdup(f->fix_arg)))
		return -ENOMEM;
	return 0;
}

/* The library's error text of the last failure, for a problem's message. */
static const char *last_error(struct kiln_ctx *ctx, int r)
{
	const char *e = kiln_ctx_error(ctx);

	return e ? e : strerror(-r);
}

/* ---- the manifest -------------------------------------------------------------------- */

static int check_manifest(struct validator *v, int dirfd)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = read_file_at(dirfd, "manifest.yaml", MANIFEST_MAX, &text, &len);
	if (r < 0)
		return problem(v, false, "/manifest.yaml", "cannot read manifest.yaml: %s",
			       strerror(-r));
	kiln_ctx_clear_error(v->ctx);
	r = kiln_ext_manifest_parse(v->ctx, "manifest.yaml", text, len, &v->r->manifest);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return problem(v, false, "/manifest.yaml", "%s", last_error(v->ctx, r));
	if (!v->o->talos_version)
		return 0;
	kiln_ctx_clear_error(v->ctx);
	r = kiln_ext_check_talos_version(v->ctx, strempty(v->r->manifest->talos_version),
					 v->o->talos_version);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return problem(v, false, "/manifest.yaml", "%s", last_error(v->ctx, r));
	return 0;
}

/* ---- entries ------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && streq(s + a - b, suffix);
}

static bool is_module(const char *path)
{
	return ends_with(path, ".ko") || ends_with(path, ".ko.xz") || ends_with(path, ".ko.zst") ||
	       ends_with(path, ".ko.gz");
}

static void capture_warning(void *userdata, enum kiln_log_level level, const char *msg)
{
	struct validator *v = userdata;

	if (level <= KILN_LOG_WARNING)
		(void)problem(v, false, NULL, "%s", msg);
}

/* The rules file's lint, each finding a problem of its own. */
static int lint_udev(struct validator *v, const char *path, const char *data, size_t len)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *lint = NULL;
	_cleanup_free_ char *name = NULL;
	size_t first = v->r->n_problems;
	int r;

	if (kiln_ctx_new(&lint) < 0 || asprintf(&name, "rootfs%s", path) < 0)
		return -ENOMEM;
	kiln_ctx_set_log_fn(lint, capture_warning, v);
	r = kiln_udev_lint(lint, name, data, len);
	if (r < 0)
		return problem(v, false, path, "cannot lint the udev rules: %s",
			       last_error(lint, r));
	for (size_t i = first; i < v->r->n_problems; i++)
		if (!v->r->problems[i].path && !(v->r->problems[i].path = strdup(path)))
			return -ENOMEM;
	return 0;
}

/* What a regular file holds: private keys, and udev rules that must parse. */
static int check_contents(struct validator *v, const char *path)
{
	_cleanup_close_ int fd = openat_in_root(v->rootfs_fd, path, O_RDONLY | O_NOFOLLOW, 0);
	const char *what;
	struct stat st;
	void *data = NULL;
	int r = 0;

	if (fd < 0)
		return problem(v, false, path, "cannot read it: %s", strerror(-fd));
	if (fstat(fd, &st) < 0)
		return problem(v, false, path, "cannot stat it: %m");
	if (st.st_size > 0) {
		data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (data == MAP_FAILED)
			return problem(v, false, path, "cannot read it: %m");
	}
	if (kiln_ext_find_private_key(strrchr(path, '/') + 1, data, (size_t)st.st_size, &what) > 0)
		r = problem(v, false, path,
			    "holds %s: private keys must never ship; sign modules at build time "
			    "with the key given as a build secret, and keep it out of the rootfs",
			    what);
	if (r >= 0 && ends_with(path, ".rules") &&
	    strncmp(path, UDEV_RULES_DIR, strlen(UDEV_RULES_DIR)) == 0)
		r = lint_udev(v, path, data, (size_t)st.st_size);
	if (data)
		munmap(data, (size_t)st.st_size);
	return r;
}

static int check_entry(struct validator *v, const struct kiln_ext_entry *e)
{
	int r;

	v->r->n_files++;
	kiln_ctx_clear_error(v->ctx);
	r = kiln_ext_check_entry(v->ctx, e);
	if (r == -ENOMEM)
		return r;
	if (r < 0 && (r = problem(v, false, e->path, "%s", last_error(v->ctx, r))) < 0)
		return r;
	/* one problem for all of them: an image built as a user has every file wrong */
	if ((e->uid != 0 || e->gid != 0) && v->n_owner_problems++ == 0) {
		v->owner_problem = v->r->n_problems;
		r = problem(v, v->o->owners_advisory, e->path,
			    "owned by %llu:%llu: Talos expects extension files to belong to root "
			    "(0:0)%s",
			    (unsigned long long)e->uid, (unsigned long long)e->gid,
			    v->o->owners_advisory ? "; an image made from this directory holds them so"
						  : "; the image's layers must hold them as 0:0");
		if (r < 0)
			return r;
	}
	if (e->type != KILN_TAR_REG)
		return 0;

	if (ends_with(e->path, ".rules") && strstr(e->path, "/rules.d/") &&
	    strncmp(e->path, UDEV_RULES_DIR, strlen(UDEV_RULES_DIR)) != 0 &&
	    (r = problem(v, false, e->path,
			 "a udev rule outside " UDEV_RULES_DIR ": udev on Talos reads extension "
			 "rules only from there; install it to " UDEV_RULES_DIR "%s",
			 strrchr(e->path, '/') + 1)) < 0)
		return r;
	if (is_module(e->path)) {
		const char *rel = e->path + strlen(MODULES_DIR);
		_cleanup_free_ char *release = NULL;

		if (strncmp(e->path, MODULES_DIR, strlen(MODULES_DIR)) != 0 || !strchr(rel, '/'))
			return problem(v, false, e->path,
				       "a kernel module outside " MODULES_DIR "<release>/: Talos "
				       "loads modules only from there; install it with "
				       "INSTALL_MOD_PATH=/rootfs/usr");
		release = strndup(rel, (size_t)(strchr(rel, '/') - rel));
		if (!release || strv_add_unique(&v->releases, release) < 0 ||
		    strv_add_unique(&v->modules, e->path) < 0)
			return -ENOMEM;
		v->r->n_modules++;
	}
	return check_contents(v, e->path);
}

/* ---- walking: the directory itself, or the image's view of it ------------------------- */

static char stat_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return KILN_TAR_REG;
	case S_IFDIR:
		return KILN_TAR_DIR;
	case S_IFLNK:
		return KILN_TAR_SYMLINK;
	case S_IFCHR:
		return KILN_TAR_CHAR;
	case S_IFBLK:
		return KILN_TAR_BLOCK;
	case S_IFIFO:
		return KILN_TAR_FIFO;
	default:
		return 's'; /* a socket: no tar type, and special all the same */
	}
}

static int walk_dir(struct validator *v, int dirfd, struct strbuf *path)
{
	_cleanup_(strv_freep) char **names = NULL;
	size_t mark = path->len;
	int r;

	r = dir_names(dirfd, &names);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return problem(v, false, path->len ? path->buf : "/", "cannot read directory: %s",
			       strerror(-r));
	r = 0;
	for (size_t i = 0; names[i] && r >= 0; i++) {
		struct kiln_ext_entry e;
		struct stat st;

		path->len = mark;
		strbuf_addch(path, '/');
		strbuf_adds(path, names[i]);
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = problem(v, false, path->buf, "cannot stat it: %m");
			continue;
		}
		e = (struct kiln_ext_entry){ .path = path->buf,
					     .type = stat_type(st.st_mode),
					     .mode = st.st_mode & 07777,
					     .uid = st.st_uid,
					     .gid = st.st_gid };
		r = check_entry(v, &e);
		if (r >= 0 && S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(
			    dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			r = sub < 0 ? problem(v, false, path->buf, "cannot open directory: %m")
				    : walk_dir(v, sub, path);
		}
	}
	path->len = mark;
	if (path->buf)
		path->buf[mark] = '\0';
	return r;
}

static int walk_meta(struct validator *v, const struct kiln_fs_node *dir, struct strbuf *path)
{
	_cleanup_free_ const struct kiln_fs_node **children = NULL;
	size_t mark = path->len;
	int n, r = 0;

	n = kiln_fs_children(dir, &children);
	if (n < 0)
		return n;
	for (int i = 0; i < n && r >= 0; i++) {
		struct kiln_fs_stat st;
		struct kiln_ext_entry e;

		kiln_fs_node_stat(children[i], &st);
		path->len = mark;
		strbuf_addch(path, '/');
		strbuf_adds(path, st.name);
		e = (struct kiln_ext_entry){ .path = path->buf,
					     .type = st.type,
					     .mode = st.mode,
					     .uid = st.uid,
					     .gid = st.gid };
		r = check_entry(v, &e);
		if (r >= 0 && st.type == KILN_TAR_DIR)
			r = walk_meta(v, children[i], path);
	}
	path->len = mark;
	if (path->buf)
		path->buf[mark] = '\0';
	return r;
}

/* ---- the top level: manifest.yaml and rootfs/, nothing else ---------------------------- */

static int check_top(struct validator *v, int dirfd, bool *ret_manifest, bool *ret_rootfs)
{
	_cleanup_(strv_freep) char **names = NULL;
	bool manifest = false, rootfs = false;
	int n = dir_names(dirfd, &names);

	if (n < 0)
		return kiln_error(v->ctx, -n, "cannot read the extension's directory: %s",
				  strerror(-n));
	for (size_t i = 0; names[i]; i++) {
		struct stat st;
		int r = 0;

		if (streq(names[i], "manifest.yaml"))
			manifest = true;
		else if (streq(names[i], "rootfs") && fstatat(dirfd, "rootfs", &st, 0) == 0 &&
			 S_ISDIR(st.st_mode))
			rootfs = true;
		else
			r = problem(v, false, names[i],
				    "unexpected file \"%s\": an extension holds only manifest.yaml "
				    "and rootfs/",
				    names[i]);
		if (r < 0)
			return r;
	}
	if (!manifest && problem(v, false, "/manifest.yaml",
				 "extension manifest is missing: finalize the rendered "
				 "manifest.yaml to /") < 0)
		return -ENOMEM;
	if (!rootfs && problem(v, false, "/rootfs",
			       "extension rootfs is missing: finalize /rootfs to /rootfs") < 0)
		return -ENOMEM;
	*ret_manifest = manifest;
	*ret_rootfs = rootfs;
	return 0;
}

/* ---- modules ------------------------------------------------------------------------- */

static int check_modules(struct validator *v)
{
	const struct kiln_kernel_info *ki;
	struct kiln_module **mods = NULL;
	struct kiln_check_result *res = NULL;
	size_t n = strv_length((const char *const *)v->modules), n_open = 0;
	size_t n_rel = strv_length((const char *const *)v->releases);
	const char *roots[2];
	size_t n_roots = 0;
	int r = 0;

	if (n_rel > 1) {
		_cleanup_free_ char *list = NULL;
		struct strbuf sb = { 0 };

		for (size_t i = 0; i < n_rel; i++)
			strbuf_addf(&sb, "%s%s", i ? ", " : "", v->releases[i]);
		list = strbuf_detach(&sb, NULL);
		return problem(v, false, "/usr/lib/modules",
			       "modules for %zu kernel releases (%s): an extension carries modules "
			       "for the one kernel it is installed with",
			       n_rel, strempty(list));
	}
	if (n_rel == 1 && !(v->r->modules_release = strdup(v->releases[0])))
		return -ENOMEM;
	if (n == 0 || !v->o->kernel)
		return 0;
	ki = kiln_kernel_info(v->o->kernel);
	if (!streq(ki->release, v->releases[0]))
		return problem(v, false, "/usr/lib/modules",
			       "the modules are for kernel %s, but the target kernel is %s: "
			       "build them against the target's kernel-build (its /src), in the "
			       "same tree as the kernel",
			       v->releases[0], ki->release);

	mods = calloc(n, sizeof(*mods));
	if (!mods)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *file = path_join(v->rootfs, v->modules[i]);

		if (!file) {
			r = -ENOMEM;
			goto out;
		}
		kiln_ctx_clear_error(v->ctx);
		r = kiln_module_open(v->ctx, file, &mods[n_open]);
		if (r == -ENOMEM)
			goto out;
		if (r < 0) {
			r = problem(v, false, v->modules[i], "not a module the kernel can load: %s",
				    last_error(v->ctx, r));
			if (r < 0)
				goto out;
			continue;
		}
		n_open++;
	}
	roots[n_roots++] = v->rootfs;
	if (v->o->base_root)
		roots[n_roots++] = v->o->base_root;
	{
		struct kiln_check_options co = {
			.firmware_roots = roots,
			.n_firmware_roots = n_roots,
			.sig_enforce = true, /* Talos boots with module.sig_enforce=1 */
		};

		r = kiln_module_check(v->ctx, v->o->kernel, mods, n_open, &co, &res);
		if (r < 0) {
			r = problem(v, false, "/usr/lib/modules", "cannot check the modules: %s",
				    last_error(v->ctx, r));
			goto out;
		}
	}
	v->r->n_modules_checked = (unsigned)n_open;
	for (size_t i = 0; i < n_open && r >= 0; i++) {
		const char *path = res[i].path + strlen(v->rootfs);

		for (size_t j = 0; j < res[i].n_findings && r >= 0; j++) {
			const struct kiln_check_finding *f = &res[i].findings[j];

			/* a module that probes without its firmware is as broken as one that does
			 * not load */
			if (f->status < KILN_CHECK_WARN)
				continue;
			r = problem(v,
				    f->status < KILN_CHECK_FAIL && f->kind != KILN_CHECK_FIRMWARE,
				    path, "%s%s%s: %s%s%s%s", kiln_check_kind_name(f->kind),
				    f->subject ? " " : "", strempty(f->subject), f->message,
				    f->kernel_says ? " (the kernel says: " : "",
				    strempty(f->kernel_says), f->kernel_says ? ")" : "");
			if (r >= 0)
				r = problem_fix(v, f);
		}
	}
out:
	if (res)
		kiln_check_results_free(res, n_open);
	for (size_t i = 0; i < n_open; i++)
		kiln_module_free(mods[i]);
	free(mods);
	return r;
}

/* ---- all of it ----------------------------------------------------------------------- */

int kiln_ext_validate_dir(struct kiln_ctx *ctx, const char *dir, const struct kiln_fs *meta,
			  const struct kiln_ext_validate_options *o, struct kiln_ext_report **ret)
{
	_cleanup_(kiln_ext_report_freep) struct kiln_ext_report *report =
	    calloc(1, sizeof(*report));
	_cleanup_close_ int dirfd = -1;
	_cleanup_(strbuf_release) struct strbuf path = { 0 };
	struct validator v = { .ctx = ctx, .o = o, .meta = meta, .rootfs_fd = -1 };
	bool has_manifest = false, has_rootfs = false;
	int r;

	if (!report)
		return -ENOMEM;
	v.r = report;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return kiln_error(ctx, errno, "cannot open extension directory \"%s\": %m", dir);
	r = check_top(&v, dirfd, &has_manifest, &has_rootfs);
	if (r >= 0 && has_manifest)
		r = check_manifest(&v, dirfd);
	if (o->load_only)
		has_rootfs = false;
	if (r >= 0 && has_rootfs) {
		v.rootfs = path_join(dir, "rootfs");
		v.rootfs_fd = openat(dirfd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (!v.rootfs)
			r = -ENOMEM;
		else if (v.rootfs_fd < 0)
			r = kiln_error(ctx, errno, "cannot open \"%s\": %m", v.rootfs);
	}
	if (r >= 0 && has_rootfs) {
		const struct kiln_fs_node *node;

		if (meta) {
			r = kiln_fs_lookup(ctx, meta, "/rootfs", false, &node);
			if (r >= 0)
				r = walk_meta(&v, node, &path);
		} else {
			r = walk_dir(&v, v.rootfs_fd, &path);
		}
	}
	if (r >= 0 && v.n_owner_problems > 1) {
		struct kiln_ext_problem *p = &report->problems[v.owner_problem];
		char *m;

		if (asprintf(&m, "%s (and %u more files not owned by root)", p->message,
			     v.n_owner_problems - 1) < 0)
			r = -ENOMEM;
		else {
			free(p->message);
			p->message = m;
		}
	}
	if (r >= 0 && !o->load_only)
		r = check_modules(&v);
	if (v.rootfs_fd >= 0)
		close(v.rootfs_fd);
	free(v.rootfs);
	strv_free(v.modules);
	strv_free(v.releases);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(report);
	return 0;
}
