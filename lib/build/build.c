/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scheduler: resolve the targets to stages, their image dependencies
 * to digests in the store (pulling what is missing), then run stages on
 * up to -j worker threads as soon as the stages they merge are done. A
 * stage's cache key needs its dependencies' output digests, so keys are
 * computed as the build goes, and a no-op rebuild is a walk down the graph
 * that finds every key in the store.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <kiln/registry.h>

#include "build-internal.h"
#include "fileio.h"
#include "log.h"
#include "parallel.h"
#include "sandbox.h"

/* bldr's base for variant alpine: alpine:3.21 with bash added. */
#define ALPINE_IMAGE "docker.io/library/alpine:3.21"

int kiln_build_prepare(struct kiln_ctx *ctx)
{
	return sandbox_enter(ctx, NULL);
}

void build_event(struct build *b, const struct kiln_build_event *ev)
{
	if (!b->o->on_event)
		return;
	pthread_mutex_lock(&b->log_lock);
	b->o->on_event(b->o->userdata, ev);
	pthread_mutex_unlock(&b->log_lock);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct stage *find_stage(struct build *b, const char *name)
{
	for (size_t i = 0; i < b->n_stages; i++)
		if (streq(b->stages[i].pkg->name, name))
			return &b->stages[i];
	return NULL;
}

/* ---- image dependencies --------------------------------------------------------- */

/* The manifest digest of image @ref for the build's platform, pulled first if missing. */
static int resolve_image(struct build *b, const char *ref, const char *asked_by,
			 struct kiln_digest *ret)
{
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	struct kiln_registry_options ro =
	    b->o->registry ? *b->o->registry : (struct kiln_registry_options){ 0 };
	int r;

	r = kiln_registry_load_image(b->ctx, b->store, ref, &b->platform, b->o->pull ? &ro : NULL,
				     &img);
	if (r < 0 && b->o->pull) {
		kiln_error_prefix(b->ctx, "%s needs image \"%s\"", asked_by, ref);
		/* a pull that failed for a reason the caller can change says so */
		kiln_error_add_hint(b->ctx, KILN_HINT_IMAGE_MISSING, ref);
		return r;
	}
	if (r == -ENOENT)
		return kiln_error_hint(b->ctx, KILN_HINT_IMAGE_MISSING, ref, ENOENT,
				       "%s needs image \"%s\", which is not in the store", asked_by,
				       ref);
	if (r < 0)
		return r;
	*ret = img->manifest_desc.digest;
	return 0;
}

static int add_input(struct stage *st, size_t *alloc, const struct stage_input *in)
{
	if (kiln_grow((void **)&st->inputs, alloc, st->n_inputs + 1, sizeof(*st->inputs)) < 0)
		return -ENOMEM;
	st->inputs[st->n_inputs++] = *in;
	return 0;
}

static int add_dep(struct stage *st, size_t *alloc, struct stage *dep)
{
	for (size_t i = 0; i < st->n_deps; i++)
		if (st->deps[i] == dep)
			return 0;
	if (kiln_grow((void **)&st->deps, alloc, st->n_deps + 1, sizeof(*st->deps)) < 0)
		return -ENOMEM;
	st->deps[st->n_deps++] = dep;
	return 0;
}

/*
 * Fill in what each stage merges, in bldr's order; images are resolved here
 * when @images (else their digests stay empty), stages later.
 */
static int plan(struct build *b, bool images)
{
	for (size_t i = 0; i < b->n_stages; i++) {
		struct stage *st = &b->stages[i];
		_cleanup_free_ const struct kiln_dep **deps = NULL;
		_cleanup_free_ char *asked_by = NULL;
		size_t n_deps, alloc_in = 0, alloc_deps = 0;
		int r;

		if (asprintf(&asked_by, "package %s (%s)", st->pkg->name, st->pkg->file) < 0) {
			asked_by = NULL;
			return -ENOMEM;
		}
		if (streq(st->pkg->variant, "alpine")) {
			struct stage_input in = { .image = ALPINE_IMAGE, .from = "/", .to = "/" };

			r = images ? resolve_image(b, ALPINE_IMAGE, asked_by, &in.digest) : 0;
			if (r < 0) {
				kiln_error_prefix(b->ctx, "variant alpine");
				return r;
			}
			r = add_input(st, &alloc_in, &in);
			if (r < 0)
				return r;
		}
		r = kiln_tree_effective_deps(b->ctx, b->tree, st->pkg, &deps, &n_deps);
		if (r < 0)
			return r;
		for (size_t j = 0; j < n_deps; j++) {
			struct stage_input in = { .dep = deps[j],
						  .from = deps[j]->from,
						  .to = deps[j]->to };

			if (deps[j]->stage) {
				in.stage = find_stage(b, deps[j]->stage);
				if (!in.stage)
					return kiln_error_at(b->ctx, ENOENT, st->pkg->file,
							     deps[j]->line, deps[j]->col,
							     "stage \"%s\" is not defined",
							     deps[j]->stage);
				r = add_dep(st, &alloc_deps, in.stage);
			} else {
				in.image = deps[j]->image;
				r = images ? resolve_image(b, deps[j]->image, asked_by, &in.digest)
					   : 0;
				if (r < 0)
					kiln_error_prefix(b->ctx, "%s:%u", st->pkg->file,
							  deps[j]->line);
			}
			if (r >= 0)
				r = add_input(st, &alloc_in, &in);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ---- running ----------------------------------------------------------------------- */

static void forward_log(void *userdata, enum kiln_log_level level, const char *msg)
{
	struct build *b = userdata;

	pthread_mutex_lock(&b->log_lock);
	kiln_log(b->ctx, level, "%s", msg);
	pthread_mutex_unlock(&b->log_lock);
}

/* 1 when the cache holds @st's output under @ref (and it is taken), 0 when not. */
static int from_cache(struct kiln_ctx *ctx, struct build *b, struct stage *st, const char *ref)
{
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor d = { 0 };
	struct kiln_build_event ev = { .kind = KILN_BUILD_STAGE_CACHED, .stage = st->pkg->name };
	int r;

	if (kiln_store_get_ref(ctx, b->store, ref, &d) < 0 ||
	    kiln_store_has_blob(b->store, &d.digest, NULL) <= 0) {
		kiln_ctx_clear_error(ctx);
		return 0;
	}
	st->digest = d.digest;
	st->size = d.size;
	st->cached = true;
	r = stage_load_modules(ctx, b, st);
	if (r < 0)
		return r;
	ev.digest = st->digest.s;
	ev.modules = st->modules;
	ev.n_modules = st->n_modules;
	ev.extension = st->extension;
	build_event(b, &ev);
	return 1;
}

/*
 * Look the stage up in the cache, or run it. Called without the lock (of
 * @b; the stage's own lock, stage_lock(), is held while it runs).
 */
static int work_on(struct kiln_ctx *ctx, struct build *b, struct stage *st)
{
	_cleanup_free_ char *ref = NULL;
	_cleanup_close_ int lock = -1;
	struct kiln_build_event ev = { .stage = st->pkg->name };
	double start = now();
	int r;

	for (size_t i = 0; i < st->n_inputs; i++)
		if (st->inputs[i].stage)
			st->inputs[i].digest = st->inputs[i].stage->digest;
	r = stage_list_files(ctx, b, st);
	if (r >= 0)
		r = stage_compute_key(ctx, b, st);
	if (r < 0)
		return r;

	if (asprintf(&ref, KILN_STAGE_REF_PREFIX "%s:%s", st->pkg->name, st->key) < 0) {
		ref = NULL;
		return -ENOMEM;
	}
	if (!b->o->no_cache) {
		r = from_cache(ctx, b, st, ref);
		if (r == 0) {
			r = stage_lock(ctx, b, st, &lock);
			if (r < 0)
				return r;
			/* what another build made while this one waited */
			r = from_cache(ctx, b, st, ref);
		}
		if (r != 0)
			return r < 0 ? r : 0;
		/* a registry cache's entry: pulled once too, under the stage's lock */
		r = cache_remote_fetch(ctx, b, st, &ev.done);
		if (r < 0)
			return r;
		if (r > 0) {
			ev.kind = KILN_BUILD_STAGE_PULLED;
			ev.digest = st->digest.s;
			ev.modules = st->modules;
			ev.n_modules = st->n_modules;
			ev.url = st->pulled_from->name;
			ev.seconds = now() - start;
			build_event(b, &ev);
			return 0;
		}
	}

	ev.kind = KILN_BUILD_STAGE_START;
	build_event(b, &ev);
	r = stage_run(ctx, b, st);
	if (r < 0)
		return r;
	ev.kind = KILN_BUILD_STAGE_DONE;
	ev.digest = st->digest.s;
	ev.modules = st->modules;
	ev.n_modules = st->n_modules;
	ev.extension = st->extension;
	ev.log_path = st->log_path;
	ev.seconds = now() - start;
	build_event(b, &ev);
	return 0;
}

static bool deps_state(const struct stage *st, bool *ret_broken)
{
	bool ready = true;

	*ret_broken = false;
	for (size_t i = 0; i < st->n_deps; i++) {
		enum stage_state s = st->deps[i]->state;

		if (s == STAGE_FAILED || s == STAGE_SKIPPED)
			*ret_broken = true;
		if (s != STAGE_DONE)
			ready = false;
	}
	return ready;
}

static void skip(struct build *b, struct stage *st)
{
	struct kiln_build_event ev = { .kind = KILN_BUILD_STAGE_SKIPPED, .stage = st->pkg->name };

	st->state = STAGE_SKIPPED;
	build_event(b, &ev);
}

static void *worker(void *userdata)
{
	struct build *b = userdata;
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;

	if (kiln_ctx_new(&ctx) < 0)
		return NULL;
	kiln_ctx_set_log_fn(ctx, forward_log, b);
	kiln_ctx_set_log_level(ctx, KILN_LOG_DEBUG);

	pthread_mutex_lock(&b->lock);
	for (;;) {
		struct stage *pick = NULL;
		bool busy = false, changed = false;

		for (size_t i = 0; i < b->n_stages; i++) {
			struct stage *st = &b->stages[i];
			bool broken;

			if (st->state == STAGE_RUNNING)
				busy = true;
			if (st->state != STAGE_PENDING)
				continue;
			if (atomic_load(&b->cancel)) {
				skip(b, st);
				changed = true;
				continue;
			}
			if (deps_state(st, &broken)) {
				if (!pick)
					pick = st;
			} else if (broken) {
				skip(b, st);
				changed = true;
			} else {
				busy = true; /* waits for a running stage */
			}
		}
		if (changed)
			pthread_cond_broadcast(&b->changed);
		if (pick) {
			double start = now();
			int r;

			pick->state = STAGE_RUNNING;
			pthread_mutex_unlock(&b->lock);
			r = work_on(ctx, b, pick);
			pthread_mutex_lock(&b->lock);
			if (r >= 0) {
				pick->state = STAGE_DONE;
				/* the push happens while the stages that need this one run */
				if (b->o->n_cache_to > 0) {
					pthread_cond_broadcast(&b->changed);
					pthread_mutex_unlock(&b->lock);
					cache_remote_store(ctx, b, pick);
					pthread_mutex_lock(&b->lock);
				}
			} else {
				struct kiln_build_event ev = {
					.kind = KILN_BUILD_STAGE_FAILED,
					.stage = pick->pkg->name,
					.step = pick->failed_step,
					.phase = pick->failed_phase,
					.instruction = pick->instruction,
					.log_path = pick->log_path,
					.log_tail = pick->log_tail,
					.seconds = now() - start,
					.modules = pick->modules,
					.n_modules = pick->n_modules,
				};
				const char *subject;

				pick->state = STAGE_FAILED;
				pick->err = r;
				pick->error = strdup(kiln_ctx_error(ctx) ?: strerror(-r));
				pick->hint = kiln_ctx_error_hint(ctx, &subject);
				pick->hint_subject = subject ? strdup(subject) : NULL;
				if (subject && !pick->hint_subject)
					pick->hint = KILN_HINT_NONE;
				ev.error = pick->error;
				if (r != -ECANCELED)
					build_event(b, &ev);
				if (!b->o->keep_going)
					atomic_store(&b->cancel, true);
			}
			pthread_cond_broadcast(&b->changed);
			continue;
		}
		if (!busy)
			break;
		pthread_cond_wait(&b->changed, &b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static int run_all(struct build *b)
{
	unsigned jobs = b->o->jobs ? b->o->jobs : kiln_cpus_online();
	pthread_t *threads;
	unsigned started = 0;

	if (jobs > b->n_stages)
		jobs = (unsigned)b->n_stages;
	threads = calloc(jobs ? jobs : 1, sizeof(*threads));
	if (!threads)
		return -ENOMEM;
	for (unsigned i = 1; i < jobs; i++)
		if (pthread_create(&threads[started], NULL, worker, b) == 0)
			started++;
	worker(b);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	return 0;
}

/* ---- the build ---------------------------------------------------------------- */

int build_hash_secrets(struct build *b)
{
	b->secret_digests = calloc(b->o->n_secrets + 1, sizeof(*b->secret_digests));
	if (!b->secret_digests)
		return -ENOMEM;
	for (size_t i = 0; i < b->o->n_secrets; i++) {
		_cleanup_close_ int fd = open(b->o->secrets[i].path, O_RDONLY | O_CLOEXEC);
		int r;

		if (fd < 0)
			return kiln_error(b->ctx, errno, "secret \"%s\": cannot read \"%s\": %m",
					  b->o->secrets[i].id, b->o->secrets[i].path);
		r = kiln_digest_of_fd(b->ctx, fd, &b->secret_digests[i]);
		if (r < 0) {
			kiln_error_prefix(b->ctx, "secret \"%s\": cannot read \"%s\"",
					  b->o->secrets[i].id, b->o->secrets[i].path);
			return r;
		}
	}
	return 0;
}

void build_release(struct build *b)
{
	for (size_t i = 0; i < b->n_stages; i++) {
		struct stage *st = &b->stages[i];

		stage_release_files(st);
		free(st->deps);
		free(st->inputs);
		free(st->error);
		free(st->hint_subject);
		free(st->log_path);
		free(st->log_tail);
		free(st->instruction);
		kiln_build_modules_free(st->modules, st->n_modules);
		kiln_build_extension_free(st->extension);
	}
	free(b->stages);
	cache_remote_release(b);
	free(b->secret_digests);
	free(b->cache_dir);
	free(b->work_dir);
	free(b->snapshot_dir);
	free(b->cache_paths_dir);
	cache_mounts_release(&b->cache_mounts);
	kiln_platform_release(&b->platform);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->log_lock);
	pthread_cond_destroy(&b->changed);
}

void kiln_build_targets_free(struct kiln_build_target *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		free(t[i].name);
		kiln_build_modules_free(t[i].modules, t[i].n_modules);
	}
	free(t);
}

/*
 * Ready the build: its namespaces, the cache's directories, a shared hold
 * on the cache (*@lock), the tree's platform and the secrets' digests;
 * what a killed build left in the cache is removed.
 */
static int build_setup(struct build *b, int *lock)
{
	struct kiln_ctx *ctx = b->ctx;
	int r;

	r = sandbox_enter(ctx, &b->userns);
	if (r < 0)
		return r;
	r = kiln_cache_dir(ctx, b->o->cache_dir, &b->cache_dir);
	if (r < 0)
		return r;
	b->work_dir = path_join(b->cache_dir, "work");
	b->snapshot_dir = path_join(b->cache_dir, "snapshots");
	b->cache_paths_dir = path_join(b->cache_dir, "cachepaths");
	if (!b->work_dir || !b->snapshot_dir || !b->cache_paths_dir)
		return -ENOMEM;
	r = cache_lock(ctx, b->cache_dir, false, lock);
	if (r < 0)
		return r;
	r = cache_remote_setup(b);
	if (r < 0)
		return r;
	r = kiln_platform_parse(ctx, kiln_tree_platform(b->tree), &b->platform);
	if (r < 0)
		return r;
	/* what a killed build left behind */
	r = workdir_clean(ctx, b->work_dir, false, NULL);
	if (r < 0)
		return r;
	return build_hash_secrets(b);
}

int build_make_stages(struct build *b, const char *const *targets, size_t n_targets, bool images)
{
	_cleanup_free_ const struct kiln_pkg **pkgs = NULL;
	size_t n_pkgs;
	int r;

	r = kiln_tree_resolve(b->ctx, b->tree, targets, n_targets, &pkgs, &n_pkgs);
	if (r < 0)
		return r;
	b->stages = calloc(n_pkgs ? n_pkgs : 1, sizeof(*b->stages));
	if (!b->stages)
		return -ENOMEM;
	for (size_t i = 0; i < n_pkgs; i++)
		b->stages[i].pkg = pkgs[i];
	b->n_stages = n_pkgs;
	return plan(b, images);
}

/*
 * Count the stages in @stats by how they ended. The first that failed (and
 * was not cancelled) is the error, left on the caller's context.
 */
static int tally_stages(struct build *b, struct kiln_build_stats *stats)
{
	struct kiln_ctx *ctx = b->ctx;
	int r = 0;

	stats->stages = (unsigned)b->n_stages;
	for (size_t i = 0; i < b->n_stages; i++) {
		struct stage *st = &b->stages[i];

		switch (st->state) {
		case STAGE_DONE:
			if (st->cached)
				stats->cached++;
			else if (st->pulled_from)
				stats->pulled++;
			else
				stats->built++;
			stats->pushed += st->pushed;
			break;
		case STAGE_FAILED:
			stats->failed++;
			if (r < 0 || st->err == -ECANCELED)
				break;
			if (st->failed_step)
				r = kiln_error(ctx, -st->err, "stage %s failed at step %u (%s): %s",
					       st->pkg->name, st->failed_step, st->failed_phase,
					       st->error ? st->error : strerror(-st->err));
			else
				r = kiln_error(ctx, -st->err, "stage %s failed%s%s%s: %s",
					       st->pkg->name, st->failed_phase ? " (" : "",
					       strempty(st->failed_phase),
					       st->failed_phase ? ")" : "",
					       st->error ? st->error : strerror(-st->err));
			kiln_error_add_hint(ctx, st->hint, st->hint_subject);
			break;
		default:
			stats->skipped++;
			break;
		}
	}
	return r;
}

/* What the build made of each of the @n_targets @targets, in *@ret. */
static int build_targets(struct build *b, const char *const *targets, size_t n_targets,
			 struct kiln_build_target **ret)
{
	struct kiln_build_target *out;
	int r;

	out = calloc(n_targets ? n_targets : 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n_targets; i++) {
		struct stage *st = find_stage(b, targets[i]);

		out[i].name = strdup(targets[i]);
		r = out[i].name && st
			? build_modules_copy(b->ctx, st->modules, st->n_modules, &out[i].modules)
			: -ENOMEM;
		if (r < 0) {
			kiln_build_targets_free(out, n_targets);
			return r;
		}
		out[i].n_modules = st->n_modules;
		out[i].digest = st->digest;
		out[i].size = st->size;
		out[i].cached = st->cached || st->pulled_from;
		out[i].pulled = st->pulled_from;
	}
	*ret = out;
	return 0;
}

int kiln_build(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_tree *tree,
	       const char *const *targets, size_t n_targets, const struct kiln_build_options *o,
	       struct kiln_build_target **ret, struct kiln_build_stats *ret_stats)
{
	struct kiln_build_stats stats = { 0 };
	struct build b = {
		.ctx = ctx,
		.store = s,
		.tree = tree,
		.o = o,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.log_lock = PTHREAD_MUTEX_INITIALIZER,
		.cache_mounts = CACHE_MOUNTS_INIT,
		.changed = PTHREAD_COND_INITIALIZER,
	};
	_cleanup_close_ int lock = -1;
	int r;

	r = build_setup(&b, &lock);
	if (r >= 0)
		r = build_make_stages(&b, targets, n_targets, true);
	if (r >= 0)
		r = run_all(&b);
	if (r >= 0)
		r = tally_stages(&b, &stats);
	if (r >= 0 && stats.failed > 0)
		r = kiln_error(ctx, ECANCELED, "the build was cancelled");
	if (r >= 0)
		r = build_targets(&b, targets, n_targets, ret);
	if (ret_stats)
		*ret_stats = stats;
	build_release(&b);
	return r;
}
