/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a stage built: the kernel modules of its output, each checked as
 * `kiln module check` checks it, against the kernel build tree the stage
 * was built with (that of the nearest dependency holding one), or only
 * described when no dependency holds one. A module the kernel would refuse
 * fails the stage before its output reaches the store.
 *
 * A kernel build tree tells the most; a kernel's modules directory (its
 * image, siderolabs' kernel package) is taken when no dependency has a
 * tree: it cannot say what the kernel exports or trusts, but it can say
 * that a module is unsigned, for another release, or missing a dependency.
 *
 * The verdicts are recorded beside the cache entry (modules-record.c), in
 * <cache>/modules/<key>.json, so that a cache hit reports them without
 * unpacking the output or the kernel tree: they depend on nothing the key
 * does not cover. A stage whose output holds no module costs one walk of
 * it and records nothing.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "build-internal.h"
#include "fileio.h"
#include "log.h"

/* ---- describing ------------------------------------------------------------------ */

/* The <release> of ".../lib/modules/<release>/..." in @path: 1 with *@ret, 0 when not in one. */
static int installed_release(const char *path, char **ret)
{
	static const char dir[] = "lib/modules/";

	for (const char *p = path; (p = strstr(p, dir)); p++) {
		const char *rel = p + strlen(dir), *slash = strchr(rel, '/');

		if ((p == path || p[-1] == '/') && slash && slash > rel) {
			char *release = strndup(rel, (size_t)(slash - rel));

			if (!release)
				return -ENOMEM;
			*ret = release;
			return 1;
		}
	}
	return 0;
}

/* What `kiln module info` tells of @km: its name, vermagic and signer. */
static int describe(struct kiln_ctx *ctx, const struct kiln_module *km, struct kiln_build_module *m)
{
	_cleanup_(kiln_module_sig_release) struct kiln_module_sig sig = { 0 };
	const char *name = kiln_module_get(km, "name"), *vermagic = kiln_module_get(km, "vermagic");
	int r;

	if (!name) {
		/* before 4.x, the kernel took the file's name */
		const char *base = strrchr(m->path, '/');

		base = base ? base + 1 : m->path;
		m->name = strndup(base, strcspn(base, "."));
	} else {
		m->name = strdup(name);
	}
	if (!m->name || (vermagic && !(m->vermagic = strdup(vermagic))))
		return -ENOMEM;
	r = kiln_module_sig_describe(ctx, km, &sig);
	if (r < 0)
		return r;
	m->has_signature = sig.state != KILN_MODSIG_UNSIGNED;
	/* a malformed one has no signer: the check says why the kernel refuses it */
	if (sig.state == KILN_MODSIG_SIGNED) {
		m->signer = TAKE_PTR(sig.desc.signer);
		m->sig_hash = TAKE_PTR(sig.desc.hash_algo);
	}
	return 0;
}

/* ---- judging ---------------------------------------------------------------------- */

/* The stage's run, as far as its modules are concerned. */
struct modules_run {
	struct kiln_ctx *ctx;
	struct stage *st;
	const char *out;
	const char *prefix; /* where @out's files are in the image: "src/", or "" */
	char *const *snapshots; /* top first: st->inputs[i]'s is snapshots[n_inputs - 1 - i] */
	int log_fd;
	struct kiln_module **opened; /* per module; NULL when it could not be read */
	/* the kernel: its dependency, its directory, where the stage sees it */
	const char *dependency;
	bool is_tree; /* a build tree; else the kernel's modules directory */
	char *tree;
	char *tree_in_stage;
	char *rootfs; /* the output's rootfs/, when it is an extension's */
};

static const char *input_name(const struct stage_input *in)
{
	return in->stage ? in->stage->pkg->name : in->image;
}

static const char *snapshot_of(const struct modules_run *mr, size_t input)
{
	return mr->snapshots[mr->st->n_inputs - 1 - input];
}

static bool is_direct(const struct stage *st, const struct stage_input *in)
{
	for (size_t i = 0; in->dep && i < st->pkg->n_deps; i++)
		if (in->dep == &st->pkg->deps[i])
			return true;
	return false;
}

/* The directory of a kernel in @snap: a build tree (@tree), or else its modules directory. */
static int find_kernel_in(struct modules_run *mr, const char *snap, bool tree, char **ret)
{
	const char *sub;
	char *dir;
	int r;

	if (!tree)
		return kiln_kernel_modules_find(mr->ctx, snap, ret);
	r = kiln_kernel_build_find(mr->ctx, snap, &sub);
	if (r <= 0)
		return r;
	dir = strdup(sub);
	if (!dir)
		return -ENOMEM;
	*ret = dir;
	return r;
}

/*
 * The kernel of the nearest input that holds one: a build tree before a
 * kernel's modules directory; the stage's own dependencies before those
 * they bring along (runtime); among those the last merged, whose files the
 * stage's steps saw on top. 1 when found.
 */
static int find_kernel(struct modules_run *mr)
{
	const struct stage *st = mr->st;

	for (int tree = 1; tree >= 0; tree--)
		for (int direct = 1; direct >= 0; direct--)
			for (size_t i = st->n_inputs; i-- > 0;) {
				_cleanup_free_ char *sub = NULL;
				const char *snap = snapshot_of(mr, i);
				int r;

				if (is_direct(st, &st->inputs[i]) != direct)
					continue;
				r = find_kernel_in(mr, snap, tree, &sub);
				if (r <= 0) {
					if (r < 0)
						return r;
					continue;
				}
				mr->dependency = input_name(&st->inputs[i]);
				mr->is_tree = tree;
				mr->tree = path_join(snap, sub);
				if (asprintf(&mr->tree_in_stage, "/%s",
					     streq(sub, ".") ? "" : sub) < 0)
					mr->tree_in_stage = NULL;
				return mr->tree && mr->tree_in_stage ? 1 : -ENOMEM;
			}
	return 0;
}

/* Replace every @from in *@s by @to. */
static int substitute(char **s, const char *from, const char *to)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *p = *s, *hit;
	size_t len = strlen(from);

	if (!p || !strstr(p, from))
		return 0;
	while ((hit = strstr(p, from))) {
		strbuf_add(&sb, p, (size_t)(hit - p));
		strbuf_adds(&sb, to);
		p = hit + len;
	}
	strbuf_adds(&sb, p);
	p = strbuf_detach(&sb, NULL);
	if (!p)
		return -ENOMEM;
	free(*s);
	*s = (char *)p;
	return 0;
}

/*
 * Paths in messages as the stage sees them, not as kiln's cache holds them:
 * the output's files relative to it, a dependency's files at their place in
 * the stage's root, a firmware root by its name.
 */
static int stage_paths(const struct modules_run *mr, char **s)
{
	_cleanup_free_ char *quoted = NULL, *rootfs = NULL, *prefix = NULL;
	int r;

	if (asprintf(&rootfs, "\"%s/rootfs\"", mr->out) < 0 ||
	    asprintf(&quoted, "\"%s\"", mr->out) < 0 || asprintf(&prefix, "%s/", mr->out) < 0)
		return -ENOMEM;
	r = substitute(s, rootfs, "the output's rootfs");
	if (r >= 0)
		r = substitute(s, quoted, "the output");
	if (r >= 0)
		r = substitute(s, prefix, mr->prefix);
	for (size_t i = 0; i < mr->st->n_inputs && r >= 0; i++) {
		free(quoted);
		free(prefix);
		quoted = prefix = NULL;
		if (asprintf(&quoted, "\"%s\"", snapshot_of(mr, i)) < 0 ||
		    asprintf(&prefix, "%s/", snapshot_of(mr, i)) < 0)
			return -ENOMEM;
		r = substitute(s, quoted, input_name(&mr->st->inputs[i]));
		if (r >= 0)
			r = substitute(s, prefix, "/");
	}
	return r;
}

/* Installed for another release: modprobe looks in /lib/modules/$(uname -r), and never finds it. */
static int check_release(struct kiln_build_module *m)
{
	struct kiln_check_result *c = &m->check;
	struct kiln_check_finding *f;

	if (!m->installed_release || streq(m->installed_release, m->kernel_release))
		return 0;
	f = reallocarray(c->findings, c->n_findings + 1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	c->findings = f;
	/* first: it is the cause, whatever else the module has wrong */
	memmove(f + 1, f, c->n_findings * sizeof(*f));
	*f = (struct kiln_check_finding){
		.kind = KILN_CHECK_VERMAGIC,
		.status = KILN_CHECK_FAIL,
		.fix = KILN_FIX_INSTALL,
	};
	c->n_findings++;
	c->status = c->checks[KILN_CHECK_VERMAGIC] = KILN_CHECK_FAIL;
	if (asprintf(&f->message,
		     "installed for kernel %s (lib/modules/%s/), but the kernel is %s: modprobe "
		     "looks in /lib/modules/%s/ only",
		     m->installed_release, m->installed_release, m->kernel_release,
		     m->kernel_release) < 0 ||
	    asprintf(&f->kernel_says,
		     "modprobe: FATAL: Module %s not found in directory /lib/modules/%s",
		     strempty(m->name), m->kernel_release) < 0 ||
	    !(f->fix_arg = strdup(m->kernel_release)))
		return -ENOMEM;
	return 0;
}

/* Cannot judge: a warning, and the modules are listed as if no tree were there. */
static int cannot_judge(struct modules_run *mr, int r)
{
	if (r == -ENOMEM)
		return r;
	kiln_log(mr->ctx, KILN_LOG_WARNING,
		 "stage %s: its kernel modules are not checked: the kernel at %s of %s: %s",
		 mr->st->pkg->name, mr->tree_in_stage, mr->dependency,
		 kiln_ctx_error(mr->ctx) ?: strerror(-r));
	dprintf(mr->log_fd, "kiln: the modules are not checked: the kernel at %s of %s: %s\n",
		mr->tree_in_stage, mr->dependency, kiln_ctx_error(mr->ctx) ?: strerror(-r));
	kiln_ctx_clear_error(mr->ctx);
	return 0;
}

/* The output's firmware, and the dependencies': where a module's firmware may come from. */
static int firmware_roots(struct modules_run *mr, const char ***ret, size_t *ret_n)
{
	const char **roots = calloc(mr->st->n_inputs + 2, sizeof(*roots));
	struct stat st;
	size_t n = 0;

	mr->rootfs = path_join(mr->out, "rootfs");
	if (!roots || !mr->rootfs) {
		free(roots);
		return -ENOMEM;
	}
	roots[n++] = mr->out;
	if (stat(mr->rootfs, &st) == 0 && S_ISDIR(st.st_mode))
		roots[n++] = mr->rootfs;
	for (size_t i = 0; i < mr->st->n_inputs; i++)
		roots[n++] = snapshot_of(mr, i);
	*ret = roots;
	*ret_n = n;
	return 0;
}

/* Every finding's words with paths as the stage sees them. */
static int module_stage_paths(const struct modules_run *mr, struct kiln_build_module *m)
{
	int r = 0;

	for (size_t i = 0; i < m->check.n_findings && r >= 0; i++) {
		struct kiln_check_finding *f = &m->check.findings[i];

		r = stage_paths(mr, &f->message);
		if (r >= 0)
			r = stage_paths(mr, &f->kernel_says);
		if (r >= 0)
			r = stage_paths(mr, &f->fix_arg);
	}
	return r;
}

/* Check the modules that could be read against the tree; those that could not fail. */
static int judge(struct modules_run *mr, struct kiln_build_module *mods, size_t n)
{
	_cleanup_(kiln_kernel_freep) struct kiln_kernel *k = NULL;
	_cleanup_free_ struct kiln_module **readable = calloc(n, sizeof(*readable));
	_cleanup_free_ const char **roots = NULL;
	struct kiln_kernel_options ko = {
		.build_dir = mr->is_tree ? mr->tree : NULL,
		.modules_dir = mr->is_tree ? NULL : mr->tree,
		/* lib/modules/<release> */
		.release = mr->is_tree ? NULL : strrchr(mr->tree, '/') + 1,
	};
	struct kiln_check_options co = {
		/* Talos boots with module.sig_enforce=1 */
		.sig_enforce = true,
	};
	struct kiln_check_result *res = NULL;
	const struct kiln_kernel_info *ki;
	size_t n_readable = 0, j = 0;
	int r;

	if (!readable)
		return -ENOMEM;
	r = kiln_kernel_load(mr->ctx, &ko, &k);
	if (r < 0)
		return cannot_judge(mr, r);
	ki = kiln_kernel_info(k);
	r = firmware_roots(mr, &roots, &co.n_firmware_roots);
	if (r < 0)
		return r;
	co.firmware_roots = roots;
	for (size_t i = 0; i < n; i++)
		if (mr->opened[i])
			readable[n_readable++] = mr->opened[i];
	r = kiln_module_check(mr->ctx, k, readable, n_readable, &co, &res);
	if (r < 0)
		return cannot_judge(mr, r);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct kiln_build_module *m = &mods[i];

		m->checked = true;
		m->kernel_is_tree = mr->is_tree;
		if (mr->opened[i]) {
			m->check = res[j];
			res[j++] = (struct kiln_check_result){ 0 };
		} else {
			m->check.status = KILN_CHECK_FAIL;
		}
		m->check.path = m->path;
		m->kernel = strdup(mr->dependency);
		m->kernel_dir = strdup(mr->tree_in_stage);
		m->kernel_release = strdup(ki->release);
		if (!m->kernel || !m->kernel_dir || !m->kernel_release)
			r = -ENOMEM;
		if (r >= 0)
			r = check_release(m);
		if (r >= 0)
			r = module_stage_paths(mr, m);
	}
	kiln_check_results_free(res, n_readable);
	return r;
}

/* ---- reporting ------------------------------------------------------------------- */

static void log_module(const struct modules_run *mr, const struct kiln_build_module *m)
{
	dprintf(mr->log_fd, "kiln: module %s: %s\n", m->path,
		!m->checked		      ? "not checked"
		: kiln_check_loads(&m->check) ? kiln_check_status_name(m->check.status)
					      : "would not load");
	if (m->error)
		dprintf(mr->log_fd, "kiln:   %s\n", m->error);
	for (size_t i = 0; i < m->check.n_findings; i++) {
		const struct kiln_check_finding *f = &m->check.findings[i];

		dprintf(mr->log_fd, "kiln:   %s: %s: %s%s%s\n", kiln_check_status_name(f->status),
			kiln_check_kind_name(f->kind), strempty(f->subject), f->subject ? ": " : "",
			f->message);
		for (const char *t = f->kernel_says; t && *t;) {
			size_t len = strcspn(t, "\n");

			dprintf(mr->log_fd, "kiln:     the kernel says: %.*s\n", (int)len, t);
			t += len + (t[len] == '\n');
		}
	}
}

/* One line: the first module the kernel would refuse, and why. */
static int refused(const struct modules_run *mr, const struct kiln_build_module *mods, size_t n)
{
	_cleanup_free_ char *why = NULL;
	const struct kiln_build_module *first = NULL;
	size_t n_refused = 0;

	for (size_t i = 0; i < n; i++)
		if (!kiln_build_module_loads(&mods[i]) && n_refused++ == 0)
			first = &mods[i];
	if (!first)
		return 0;
	for (size_t i = 0; i < first->check.n_findings && !why; i++) {
		const struct kiln_check_finding *f = &first->check.findings[i];

		if (f->status == KILN_CHECK_FAIL &&
		    asprintf(&why, "%s%s%s: %s", kiln_check_kind_name(f->kind),
			     f->subject ? " " : "", strempty(f->subject), f->message) < 0)
			return -ENOMEM;
	}
	return kiln_error(mr->ctx, EINVAL, "%s would not load on kernel %s (%s of %s): %s%s",
			  first->path, first->kernel_release, first->kernel_dir, first->kernel,
			  why ? why : strempty(first->error),
			  n_refused > 1 ? " (and more modules: all are in the log)" : "");
}

/* ---- the check ----------------------------------------------------------------- */

/*
 * An output that is a kernel build tree (kernel-build's): its in-tree
 * modules are build products, unsigned until modules_install signs them
 * where they ship (the kernel package, which is judged). Nothing to list.
 */
static bool is_kernel_build_tree(struct kiln_ctx *ctx, const char *out)
{
	const char *sub;
	int r;

	r = kiln_kernel_build_find(ctx, out, &sub);
	if (r > 0)
		return true;
	if (r < 0)
		kiln_ctx_clear_error(ctx);
	return false;
}

/*
 * The module files of the output @out, in *@ret_paths: 1 when there are
 * any, 0 when there are none or the output cannot be walked (a warning).
 */
static int collect_modules(struct kiln_ctx *ctx, const struct stage *st, const char *out,
			   char ***ret_paths, size_t *ret_n)
{
	char *const operands[] = { (char *)out };
	int r;

	r = kiln_module_collect(ctx, operands, 1, ret_paths, ret_n);
	if (r < 0 && r != -ENOMEM) {
		/* checking is a service: an output too deep to walk is stored all the same */
		kiln_log(ctx, KILN_LOG_WARNING, "stage %s: cannot look for kernel modules: %s",
			 st->pkg->name, kiln_ctx_error(ctx) ?: strerror(-r));
		kiln_ctx_clear_error(ctx);
		return 0;
	}
	if (r < 0)
		return r;
	return *ret_n > 0;
}

static void report_checking(struct build *b, const struct stage *st)
{
	struct kiln_build_event ev = {
		.kind = KILN_BUILD_STAGE_STEP,
		.stage = st->pkg->name,
		.phase = "check modules",
		.log_path = st->log_path,
	};

	build_event(b, &ev);
}

/*
 * Each of the @n module files @paths as mods[i], opened into
 * mr->opened[i] and described; one that cannot be read keeps the reason,
 * a failure when it is judged.
 */
static int describe_modules(struct modules_run *mr, char *const *paths,
			    struct kiln_build_module *mods, size_t n)
{
	struct kiln_ctx *ctx = mr->ctx;
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		struct kiln_build_module *m = &mods[i];

		if (asprintf(&m->path, "%s%s", mr->prefix, paths[i] + strlen(mr->out) + 1) < 0)
			m->path = NULL;
		r = m->path ? installed_release(m->path, &m->installed_release) : -ENOMEM;
		if (r >= 0)
			r = kiln_module_open(ctx, paths[i], &mr->opened[i]);
		if (r >= 0) {
			r = describe(ctx, mr->opened[i], m);
		} else if (r != -ENOMEM) {
			/* what the kernel would make of it: a failure when judged */
			m->error = strdup(kiln_ctx_error(ctx) ?: strerror(-r));
			kiln_ctx_clear_error(ctx);
			r = m->error ? stage_paths(mr, &m->error) : -ENOMEM;
		}
	}
	return r;
}

/* Judge the @n modules @mods against the kernel of the nearest input that holds one, if any. */
static int find_kernel_and_judge(struct modules_run *mr, struct kiln_build_module *mods, size_t n)
{
	int r;

	r = find_kernel(mr);
	if (r <= 0)
		return r;
	dprintf(mr->log_fd, "kiln: checking %zu kernel modules against the kernel at %s of %s\n", n,
		mr->tree_in_stage, mr->dependency);
	return judge(mr, mods, n);
}

/*
 * The verdicts in the log and in the stage's st->modules (which takes
 * *@mods), refused or not: a failed stage reports them too. The first
 * refused module fails the stage.
 */
static int keep_verdicts(struct modules_run *mr, struct kiln_build_module **mods, size_t n)
{
	struct stage *st = mr->st;

	for (size_t i = 0; i < n; i++)
		log_module(mr, &(*mods)[i]);
	kiln_build_modules_free(st->modules, st->n_modules);
	st->modules = TAKE_PTR(*mods);
	st->n_modules = n;
	return refused(mr, st->modules, n);
}

/* What the run holds of its @n modules and the kernel. */
static void modules_run_release(struct modules_run *mr, size_t n)
{
	for (size_t i = 0; mr->opened && i < n; i++)
		kiln_module_free(mr->opened[i]);
	free(mr->opened);
	free(mr->tree);
	free(mr->tree_in_stage);
	free(mr->rootfs);
}

int stage_check_modules(struct kiln_ctx *ctx, struct build *b, struct stage *st, const char *out,
			const char *prefix, char *const *snapshots, int log_fd)
{
	/* "src" -> "src/": what the output's paths start with in the image */
	const char *top = prefix ? prefix + strspn(prefix, "/") : "";
	_cleanup_free_ char *in_image = *top ? path_join(top, "") : strdup("");
	struct modules_run mr = {
		.ctx = ctx,
		.st = st,
		.out = out,
		.prefix = in_image,
		.snapshots = snapshots,
		.log_fd = log_fd,
	};
	struct kiln_build_module *mods = NULL;
	char **paths = NULL;
	size_t n = 0;
	int r;

	if (!in_image)
		return -ENOMEM;
	if (is_kernel_build_tree(ctx, out))
		return 0;
	r = collect_modules(ctx, st, out, &paths, &n);
	if (r <= 0)
		return r;

	report_checking(b, st);
	mods = calloc(n, sizeof(*mods));
	mr.opened = calloc(n, sizeof(*mr.opened));
	r = mods && mr.opened ? 0 : -ENOMEM;
	if (r >= 0)
		r = describe_modules(&mr, paths, mods, n);
	if (r >= 0)
		r = find_kernel_and_judge(&mr, mods, n);
	if (r >= 0)
		r = keep_verdicts(&mr, &mods, n);
	kiln_build_modules_free(mods, n);
	modules_run_release(&mr, n);
	kiln_strv_free(paths, n);
	return r;
}
