/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One stage, run: its dependencies' snapshots as overlay lower layers, a
 * fresh upper layer, /pkg written into the merged root, sources fetched
 * and verified before anything runs, each instruction in its own sandbox
 * (the root and /tmp/build persist between them), the test phase on a
 * throw-away layer, and finalize copied out into a one-layer image.
 *
 * The overlay is mounted in kiln's own mount namespace (kiln_build_prepare),
 * so kiln reads and writes the stage's root through ordinary paths, and
 * each sandbox gets a private copy of that mount as its "/".
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "build-internal.h"
#include "copy.h"
#include "fileio.h"
#include "log.h"
#include "sandbox.h"
#include "sources.h"

#define LOG_TAIL_LINES 50

static void run_release(struct run *r)
{
	if (r->mounted)
		sandbox_umount(r->ctx, r->root);
	/* the build directory's overlay, unused, then gone with the rest of @work */
	if (r->build_fd >= 0)
		close(r->build_fd);
	if (r->build_mounted)
		sandbox_umount(r->ctx, r->build);
	if (r->source_fds) {
		for (size_t i = 0; i < r->st->pkg->n_steps; i++) {
			for (size_t j = 0; r->source_fds[i] && j < r->st->pkg->steps[i].n_sources;
			     j++)
				if (r->source_fds[i][j] >= 0)
					close(r->source_fds[i][j]);
			free(r->source_fds[i]);
		}
		free(r->source_fds);
	}
	for (size_t i = 0; i < r->n_lowers; i++)
		free(r->lowers[i]);
	free(r->lowers);
	for (size_t i = 0; i < r->n_env; i++)
		free(r->env[i]);
	free(r->env);
	if (r->root_fd >= 0)
		close(r->root_fd);
	if (r->log_fd >= 0)
		close(r->log_fd);
	if (r->work)
		remove_tree_at(AT_FDCWD, r->work);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	free(r->work);
	free(r->root);
	free(r->upper);
	free(r->ovl_work);
	free(r->build);
}

void run_report(struct run *r, const char *instruction)
{
	struct kiln_build_event ev = {
		.kind = KILN_BUILD_STAGE_STEP,
		.stage = r->st->pkg->name,
		.step = r->step,
		.phase = r->phase,
		.instruction = instruction,
		.log_path = r->st->log_path,
	};

	build_event(r->b, &ev);
}

/* A line in the stage's log, so that its reader knows where the output came from. */
void run_log_line(struct run *r, const char *fmt, ...)
{
	_cleanup_free_ char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n >= 0)
		(void)write_all(r->log_fd, s, (size_t)n);
	else
		s = NULL;
}

/* ---- environment ---------------------------------------------------------- */

static int env_set(struct run *r, const char *name, const char *value)
{
	size_t len = strlen(name);
	char *kv;

	if (asprintf(&kv, "%s=%s", name, value) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_env; i++)
		if (strncmp(r->env[i], name, len) == 0 && r->env[i][len] == '=') {
			free(r->env[i]);
			r->env[i] = kv;
			return 0;
		}
	r->env = reallocarray(r->env, r->n_env + 2, sizeof(*r->env));
	if (!r->env) {
		free(kv);
		return -ENOMEM;
	}
	r->env[r->n_env++] = kv;
	r->env[r->n_env] = NULL;
	return 0;
}

/* bldr's container environment: levels 1 to 3 of the variables, PKG_NAME, SOURCE_DATE_EPOCH. */
static int env_init(struct run *r)
{
	char epoch[32];
	int ret = 0;

	for (size_t i = 0; stage_builtin_env[i] && ret >= 0; i++) {
		const char *v = kiln_tree_var(r->b->tree, r->st->pkg, stage_builtin_env[i]);

		if (v)
			ret = env_set(r, stage_builtin_env[i], v);
	}
	snprintf(epoch, sizeof(epoch), "%lld", (long long)r->b->o->source_date_epoch);
	if (ret >= 0)
		ret = env_set(r, "PKG_NAME", r->st->pkg->name);
	if (ret >= 0)
		ret = env_set(r, "SOURCE_DATE_EPOCH", epoch);
	return ret;
}

/* ---- the root ---------------------------------------------------------------- */

int run_make_dir(struct run *r, const char *name, char **ret)
{
	*ret = path_join(r->work, name);
	if (!*ret)
		return -ENOMEM;
	if (mkdir(*ret, 0755) < 0 && errno != EEXIST)
		return kiln_error(r->ctx, errno, "cannot make \"%s\": %m", *ret);
	return 0;
}

/*
 * The build directory is an overlay of its own (an empty lower layer, its
 * files in "build-upper"), which kiln and the steps both use through the
 * mount: bound as /tmp/build, the root of a mount shows "/" as its root
 * field in /proc/self/mountinfo, where a bind mount of a plain directory
 * shows its host path in kiln's cache.
 */
static int make_build_dir(struct run *r)
{
	_cleanup_free_ char *empty = NULL, *upper = NULL, *work = NULL;
	int ret = run_make_dir(r, "build", &r->build);

	if (ret >= 0)
		ret = run_make_dir(r, "build-empty", &empty);
	if (ret >= 0)
		ret = run_make_dir(r, "build-upper", &upper);
	if (ret >= 0)
		ret = run_make_dir(r, "build-work", &work);
	if (ret >= 0)
		ret = sandbox_mount_overlay(r->ctx, r->build, (const char *const *)&empty, 1,
					    upper, work, r->b->userns);
	if (ret < 0)
		return ret;
	r->build_mounted = true;
	return 0;
}

static int make_dirs(struct run *r)
{
	int ret = run_make_dir(r, "root", &r->root);

	if (ret >= 0)
		ret = run_make_dir(r, "upper", &r->upper);
	if (ret >= 0)
		ret = run_make_dir(r, "ovl-work", &r->ovl_work);
	if (ret >= 0)
		ret = make_build_dir(r);
	if (ret < 0)
		return ret;
	r->build_fd = open(r->build, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->build_fd < 0)
		return kiln_error(r->ctx, errno, "cannot open \"%s\": %m", r->build);
	return 0;
}

/* The snapshots of the inputs, top layer (the last merged) first. */
static int collect_lowers(struct run *r)
{
	struct stage *st = r->st;
	size_t n = st->n_inputs ? st->n_inputs : 1;

	r->lowers = calloc(n, sizeof(*r->lowers));
	if (!r->lowers)
		return -ENOMEM;
	if (st->n_inputs == 0) {
		/* scratch with no dependencies: overlayfs needs a lower layer all the same */
		r->lowers[0] = path_join(r->work, "empty");
		if (!r->lowers[0])
			return -ENOMEM;
		r->n_lowers = 1;
		if (mkdir(r->lowers[0], 0755) < 0)
			return kiln_error(r->ctx, errno, "cannot make \"%s\": %m", r->lowers[0]);
		return 0;
	}
	for (size_t i = 0; i < st->n_inputs; i++) {
		int ret =
		    snapshot_get(r->ctx, r->b, &st->inputs[st->n_inputs - 1 - i], &r->lowers[i]);

		if (ret < 0)
			return ret;
		r->n_lowers++;
	}
	return 0;
}

static int mount_root(struct run *r, const char *upper, const char *work, const char *extra_lower)
{
	_cleanup_free_ const char **lowers = calloc(r->n_lowers + 1, sizeof(*lowers));
	size_t n = 0;
	int ret;

	if (!lowers)
		return -ENOMEM;
	if (extra_lower)
		lowers[n++] = extra_lower;
	for (size_t i = 0; i < r->n_lowers; i++)
		lowers[n++] = r->lowers[i];
	ret = sandbox_mount_overlay(r->ctx, r->root, lowers, n, upper, work, r->b->userns);
	if (ret < 0)
		return ret;
	r->mounted = true;
	if (r->root_fd >= 0)
		close(r->root_fd);
	r->root_fd = open(r->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->root_fd < 0)
		return kiln_error(r->ctx, errno, "cannot open the stage's root \"%s\": %m",
				  r->root);
	return 0;
}

static int unmount_root(struct run *r)
{
	if (r->root_fd >= 0) {
		close(r->root_fd);
		r->root_fd = -1;
	}
	r->mounted = false;
	return sandbox_umount(r->ctx, r->root);
}

/* Write the package directory to /pkg, templates rendered. */
static int write_pkg(struct run *r)
{
	_cleanup_free_ char *dir = path_join(kiln_tree_root(r->b->tree), r->st->pkg->dir);
	_cleanup_close_ int src = -1;

	if (!dir)
		return -ENOMEM;
	src = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0)
		return kiln_error(r->ctx, errno, "cannot open package directory \"%s\": %m", dir);

	for (size_t i = 0; i < r->st->n_files; i++) {
		const struct pkg_file *f = &r->st->files[i];
		_cleanup_free_ char *dest = path_join("/pkg", f->path);
		_cleanup_free_ char *parent = NULL;
		_cleanup_close_ int pfd = -1;
		const char *base;
		int ret;

		if (!dest)
			return -ENOMEM;
		base = strrchr(dest, '/') + 1;
		parent = strndup(dest, (size_t)(base - dest));
		if (!parent)
			return -ENOMEM;
		ret = open_dir_in_root(r->root_fd, parent, true, &pfd);
		if (ret < 0)
			return kiln_error(r->ctx, -ret, "cannot make \"%s\" in the stage: %s",
					  parent, strerror(-ret));
		if (f->type == KILN_TAR_DIR) {
			if (mkdirat(pfd, base, f->mode) < 0 && errno != EEXIST)
				return kiln_error(r->ctx, errno, "cannot make \"%s\": %m", dest);
		} else if (f->type == KILN_TAR_SYMLINK) {
			char target[4096];
			ssize_t n = readlinkat(src, f->path, target, sizeof(target) - 1);

			if (n < 0)
				return kiln_error(r->ctx, errno, "cannot read \"%s/%s\": %m", dir,
						  f->path);
			target[n] = '\0';
			(void)unlinkat(pfd, base, 0);
			if (symlinkat(target, pfd, base) < 0)
				return kiln_error(r->ctx, errno, "cannot make \"%s\": %m", dest);
		} else if (f->tmpl) {
			_cleanup_close_ int out = -1;

			(void)unlinkat(pfd, base, 0);
			out = openat(pfd, base,
				     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f->mode);
			if (out < 0 || (ret = write_all(out, f->tmpl->text, f->tmpl->len)) < 0)
				return kiln_error(r->ctx, out < 0 ? errno : -ret,
						  "cannot write \"%s\" in the stage", dest);
		} else {
			ret = copy_in_root(r->ctx, "/pkg", src, f->path, r->root_fd, dest);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* ---- sources ------------------------------------------------------------------ */

static void on_fetch(void *userdata, const char *url, uint64_t done, int64_t total)
{
	struct run *r = userdata;
	struct kiln_build_event ev = {
		.kind = KILN_BUILD_FETCH,
		.stage = r->st->pkg->name,
		.step = r->step,
		.phase = "sources",
		.url = url,
		.done = done,
		.total = total,
	};

	build_event(r->b, &ev);
}

/* Every source of every step, fetched and verified before any instruction runs. */
static int fetch_sources(struct run *r)
{
	const struct kiln_pkg *pkg = r->st->pkg;
	struct source_fetch_options so = {
		.cache_dir = r->b->cache_dir,
		.tls_verify = !(r->b->o->registry && r->b->o->registry->insecure),
		.progress = on_fetch,
		.userdata = r,
		.cancel = &r->b->cancel,
	};

	r->source_fds = calloc(pkg->n_steps ? pkg->n_steps : 1, sizeof(*r->source_fds));
	if (!r->source_fds)
		return -ENOMEM;
	r->phase = "sources";
	for (size_t i = 0; i < pkg->n_steps; i++) {
		const struct kiln_step *step = &pkg->steps[i];

		r->step = (unsigned)i + 1;
		r->source_fds[i] = malloc((step->n_sources ? step->n_sources : 1) * sizeof(int));
		if (!r->source_fds[i])
			return -ENOMEM;
		for (size_t j = 0; j < step->n_sources; j++)
			r->source_fds[i][j] = -1;
		for (size_t j = 0; j < step->n_sources; j++) {
			int ret;

			run_report(r, step->sources[j].url);
			ret = source_fetch(r->ctx, &step->sources[j], &so, &r->source_fds[i][j]);
			if (ret < 0) {
				kiln_error_prefix(r->ctx, "%s:%u", pkg->file,
						  step->sources[j].line);
				return ret;
			}
		}
	}
	return 0;
}

/* ---- instructions ------------------------------------------------------------ */

/*
 * A step that failed on a full filesystem (its files are in the cache's
 * work directory) says so: ENOSPC, and the advice that goes with it.
 */
static int step_failed(struct run *r, int status)
{
	struct statvfs sv;

	if (statvfs(r->work, &sv) == 0 && sv.f_bavail == 0)
		return kiln_error(r->ctx, ENOSPC,
				  "the instruction exited with status %d, and the filesystem of "
				  "%s is full: %s",
				  status, r->work, strerror(ENOSPC));
	return kiln_error(r->ctx, EIO, "the instruction exited with status %d", status);
}

static int run_one(struct run *r, const struct kiln_step *step, const char *build_dir,
		   const char *shell, const char *text)
{
	_cleanup_free_ char *script = NULL;
	struct step_mounts m = { 0 };
	int status = 0, ret, ret2;

	if (asprintf(&script, "set -eou pipefail\n%s", text) < 0) {
		script = NULL;
		return -ENOMEM;
	}
	ret = step_mounts_open(r, step, build_dir, &m);
	if (ret >= 0) {
		char *const argv[] = { (char *)shell, (char *)"-c", script, NULL };
		struct sandbox_spec spec = {
			.root = r->root,
			.argv = argv,
			.envp = r->env,
			.cwd = BUILD_DIR,
			.hostname = "kiln",
			.network = step && step->network != KILN_NETWORK_NONE,
			.mounts = m.v,
			.n_mounts = m.n,
			.output_fd = r->log_fd,
			.cancel = &r->b->cancel,
		};

		run_report(r, text);
		run_log_line(r, "#### %s: step %u, %s: %s\n", r->st->pkg->name, r->step, r->phase,
			     text);
		ret = sandbox_run(r->ctx, &spec, &status);
	}
	ret2 = step_mounts_close(r, &m);
	if (ret >= 0)
		ret = ret2;
	if (ret >= 0 && status != 0)
		ret = step_failed(r, status);
	if (ret < 0) {
		free(r->st->instruction);
		r->st->instruction = strdup(text);
	}
	return ret;
}

static int run_list(struct run *r, const struct kiln_step *step, const char *build_dir,
		    const char *phase, const struct kiln_strv *list)
{
	r->phase = phase;
	for (size_t i = 0; i < list->n; i++) {
		int ret = run_one(r, step, build_dir, r->st->pkg->shell, list->v[i]);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * The test phase runs on throw-away layers: the stage's upper layer becomes
 * a lower one, and so does the build directory, with fresh uppers on top
 * that are removed afterwards.
 */
static int run_tests(struct run *r, const struct kiln_step *step)
{
	_cleanup_free_ char *t_upper = path_join(r->work, "test-upper");
	_cleanup_free_ char *t_work = path_join(r->work, "test-work");
	_cleanup_free_ char *b_upper = path_join(r->work, "test-build-upper");
	_cleanup_free_ char *b_work = path_join(r->work, "test-build-work");
	_cleanup_free_ char *b_root = path_join(r->work, "test-build");
	const char *dirs[] = { t_upper, t_work, b_upper, b_work, b_root };
	const char *build_lower[] = { r->build };
	int ret, ret2;

	if (!t_upper || !t_work || !b_upper || !b_work || !b_root)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (mkdir(dirs[i], 0755) < 0)
			return kiln_error(r->ctx, errno, "cannot make \"%s\": %m", dirs[i]);
	ret = unmount_root(r);
	if (ret >= 0)
		ret = mount_root(r, t_upper, t_work, r->upper);
	if (ret >= 0) {
		ret = sandbox_mount_overlay(r->ctx, b_root, build_lower, 1, b_upper, b_work,
					    r->b->userns);
		if (ret >= 0) {
			ret = run_list(r, step, b_root, "test", &step->test);
			ret2 = sandbox_umount(r->ctx, b_root);
			if (ret >= 0)
				ret = ret2;
		}
		ret2 = unmount_root(r);
		if (ret >= 0)
			ret = ret2;
	}
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		remove_tree_at(AT_FDCWD, dirs[i]);
	if (ret < 0)
		return ret;
	return mount_root(r, r->upper, r->ovl_work, NULL);
}

static int run_steps(struct run *r)
{
	const struct kiln_pkg *pkg = r->st->pkg;
	int ret;

	if (pkg->install.n > 0 || streq(pkg->variant, "alpine")) {
		/* bldr: apk runs after the dependencies are merged, with the default network */
		_cleanup_(strbuf_release) struct strbuf cmd = { 0 };
		struct kiln_step net = { .network = KILN_NETWORK_DEFAULT };

		strbuf_adds(&cmd, "/sbin/apk add --no-cache");
		if (streq(pkg->variant, "alpine"))
			strbuf_adds(&cmd, " bash");
		for (size_t i = 0; i < pkg->install.n; i++)
			strbuf_addf(&cmd, " %s", pkg->install.v[i]);
		r->step = 0;
		r->phase = "install packages";
		ret = run_one(r, &net, r->build, "/bin/sh", strbuf_str(&cmd));
		if (ret < 0)
			return ret;
	}

	for (size_t i = 0; i < pkg->n_steps; i++) {
		const struct kiln_step *step = &pkg->steps[i];

		r->step = (unsigned)i + 1;
		r->phase = "sources";
		for (size_t j = 0; j < step->n_sources; j++) {
			ret = source_place(r->ctx, r->source_fds[i][j], r->build_fd,
					   step->sources[j].destination);
			if (ret < 0)
				return ret;
		}
		for (size_t j = 0; j < step->n_env; j++) {
			ret = env_set(r, step->env[j].name, step->env[j].value);
			if (ret < 0)
				return ret;
		}
		ret = run_list(r, step, r->build, "prepare", &step->prepare);
		if (ret >= 0)
			ret = run_list(r, step, r->build, "build", &step->build);
		if (ret >= 0)
			ret = run_list(r, step, r->build, "install", &step->install);
		if (ret >= 0 && step->test.n > 0)
			ret = run_tests(r, step);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The last @LOG_TAIL_LINES lines of the log, for the failure message. */
static char *log_tail(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);
	size_t want = 16384, lines = 0;
	char *buf, *p;
	ssize_t n;

	if (end <= 0)
		return NULL;
	if ((off_t)want > end)
		want = (size_t)end;
	buf = malloc(want + 1);
	if (!buf)
		return NULL;
	n = pread(fd, buf, want, end - (off_t)want);
	if (n <= 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	p = buf + n;
	if (p > buf && p[-1] == '\n')
		p--;
	while (p > buf && lines < LOG_TAIL_LINES)
		if (*--p == '\n')
			lines++;
	if (*p == '\n')
		p++;
	memmove(buf, p, strlen(p) + 1);
	return buf;
}

static int open_log(struct run *r)
{
	const char *dir = r->b->o->log_dir;

	if (dir) {
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return kiln_error(r->ctx, errno, "cannot make log directory \"%s\": %m",
					  dir);
		free(r->st->log_path);
		if (asprintf(&r->st->log_path, "%s/%s.log", dir, r->st->pkg->name) < 0) {
			r->st->log_path = NULL;
			return -ENOMEM;
		}
	} else {
		r->st->log_path = path_join(r->work, "log");
		if (!r->st->log_path)
			return -ENOMEM;
	}
	r->log_fd = open(r->st->log_path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (r->log_fd < 0)
		return kiln_error(r->ctx, errno, "cannot open log \"%s\": %m", r->st->log_path);
	return 0;
}

/*
 * A stage that runs nothing and finalizes all of its one dependency (bldr's
 * usual `base` over the tools image) would only copy that image into a new
 * layer of the same files: its output is the dependency's image itself,
 * with the owners and layers it has, at no cost.
 */
bool stage_passes_through(const struct stage *st)
{
	const struct kiln_pkg *pkg = st->pkg;

	for (size_t i = 0; i < pkg->n_steps; i++) {
		const struct kiln_step *s = &pkg->steps[i];

		if (s->n_sources > 0 || s->prepare.n > 0 || s->build.n > 0 || s->install.n > 0 ||
		    s->test.n > 0)
			return false;
	}
	return pkg->n_finalize == 1 && streq(pkg->finalize[0].from, "/") &&
	       streq(pkg->finalize[0].to, "/") && st->n_inputs == 1 && st->inputs[0].dep &&
	       streq(st->inputs[0].from, "/") && streq(st->inputs[0].to, "/");
}

static int pass_through(struct kiln_ctx *ctx, struct build *b, struct stage *st)
{
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	_cleanup_free_ char *ref = NULL;
	int r;

	r = kiln_store_load_image(ctx, b->store, st->inputs[0].digest.s, NULL, &img);
	if (r < 0)
		return r;
	if (asprintf(&ref, KILN_STAGE_REF_PREFIX "%s:%s", st->pkg->name, st->key) < 0) {
		ref = NULL;
		return -ENOMEM;
	}
	r = kiln_store_set_ref(ctx, b->store, ref, &img->manifest_desc);
	if (r < 0)
		return r;
	st->digest = img->manifest_desc.digest;
	st->size = img->manifest_desc.size;
	return 0;
}

int stage_run(struct kiln_ctx *ctx, struct build *b, struct stage *st)
{
	struct run r = {
		.ctx = ctx,
		.b = b,
		.st = st,
		.lock_fd = -1,
		.log_fd = -1,
		.root_fd = -1,
		.build_fd = -1,
	};
	int ret;

	if (stage_passes_through(st))
		return pass_through(ctx, b, st);
	ret = workdir_new(ctx, b->work_dir, st->pkg->name, &r.work, &r.lock_fd);
	if (ret >= 0)
		ret = open_log(&r);
	if (ret >= 0)
		ret = env_init(&r);
	if (ret >= 0)
		ret = fetch_sources(&r);
	if (ret >= 0) {
		r.step = 0;
		r.phase = "dependencies";
		run_report(&r, NULL);
		ret = make_dirs(&r);
	}
	if (ret >= 0)
		ret = collect_lowers(&r);
	if (ret >= 0)
		ret = mount_root(&r, r.upper, r.ovl_work, NULL);
	if (ret >= 0)
		ret = write_pkg(&r);
	if (ret >= 0)
		ret = run_steps(&r);
	if (ret >= 0)
		ret = run_finalize(&r);
	if (ret < 0 && r.log_fd >= 0) {
		free(st->log_tail);
		st->log_tail = log_tail(r.log_fd);
	}
	st->failed_step = r.step;
	st->failed_phase = r.phase;
	run_release(&r);
	return ret;
}
