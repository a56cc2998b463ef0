/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the parts of lib/build share: the build (options, tree, store and
 * the cache directory's layout) and its stages.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <kiln/build.h>
#include <kiln/layer.h>

#include "strbuf.h"

enum stage_state {
	STAGE_PENDING,
	STAGE_RUNNING,
	STAGE_DONE,
	STAGE_FAILED,
	STAGE_SKIPPED,
};

/* A file of a package directory as the stage sees it at /pkg. */
struct pkg_file {
	char *path; /* relative to the package directory */
	char type; /* KILN_TAR_REG, _DIR or _SYMLINK */
	unsigned mode; /* 07777 */
	struct kiln_digest digest; /* of the contents (the link target for a symlink) */
	const struct kiln_tmpl *tmpl; /* rendered from a template: write its text */
};

/* A dependency resolved to an image in the store. */
struct stage_input {
	const struct kiln_dep *dep; /* NULL for the alpine base of variant alpine */
	struct stage *stage; /* the stage that makes it, for stage dependencies */
	const char *image; /* the reference, for image dependencies */
	struct kiln_digest digest; /* the manifest */
	const char *from, *to;
};

struct stage {
	const struct kiln_pkg *pkg;
	enum stage_state state;
	struct stage **deps; /* the stages this one merges (directly or as runtime closure) */
	size_t n_deps;
	struct stage_input *inputs; /* in merge order, base first */
	size_t n_inputs;
	struct pkg_file *files;
	size_t n_files;
	char key[65]; /* the cache key, hex */
	struct kiln_digest digest; /* the output manifest, once DONE */
	uint64_t size;
	bool cached;
	const struct cache_repo *pulled_from; /* a hit in this registry cache */
	const struct cache_repo *unusable_in; /* its entry there could not be used */
	bool pushed; /* to a registry cache */
	char *error; /* FAILED: the message */
	enum kiln_hint hint; /* FAILED: the message's hint, and what it is about */
	char *hint_subject;
	int err;
	char *log_path; /* the stage's log, once it ran */
	char *log_tail; /* FAILED: the end of the log */
	char *instruction; /* FAILED: the instruction that failed, if one did */
	unsigned failed_step;
	const char *failed_phase;
	struct kiln_build_module *modules; /* the output's kernel modules, once checked or cached */
	size_t n_modules;
	struct kiln_build_extension *extension; /* the output is a system extension, validated */
};

/* A registry cache: a repository, given without tag or digest. */
struct cache_repo {
	const char *name; /* as given */
	struct kiln_ref ref; /* its domain and path */
	atomic_bool down; /* unreachable or refusing: not asked again in this build */
};

/* The cachePaths directories this build has mounted (stage-mounts.c). */
struct cache_mounts {
	pthread_mutex_t lock; /* the list, and making @work */
	struct cache_mount **v;
	size_t n, alloc;
	char *work; /* a working directory of the build's, for the mount points */
	int work_lock;
};

#define CACHE_MOUNTS_INIT { .lock = PTHREAD_MUTEX_INITIALIZER, .work_lock = -1 }

/* Unmounted and unlocked by then: frees what the build kept of its cachePaths. */
void cache_mounts_release(struct cache_mounts *m);

struct build {
	struct kiln_ctx *ctx; /* the caller's: only the scheduler thread uses it */
	struct kiln_store *store;
	const struct kiln_tree *tree;
	const struct kiln_build_options *o;
	char *cache_dir;
	char *work_dir; /* <cache>/work */
	char *snapshot_dir; /* <cache>/snapshots */
	char *cache_paths_dir; /* <cache>/cachepaths */
	struct kiln_platform platform;
	bool userns; /* running in a user namespace: overlay takes "userxattr" */

	struct kiln_digest *secret_digests; /* one per o->secrets */
	struct cache_repo *cache_from, *cache_to; /* o->cache_from and o->cache_to, parsed */

	struct stage *stages;
	size_t n_stages;

	pthread_mutex_t lock; /* stages' states, the event callback */
	pthread_cond_t changed;
	struct cache_mounts cache_mounts; /* cachePaths' overlays (stage-mounts.c) */
	atomic_bool cancel; /* a stage failed without --keep-going: stop the others */
	pthread_mutex_t log_lock; /* the caller's context, for workers' warnings */
};

/*
 * A stage for each package the @n_targets @targets need, dependencies
 * first, with what each merges; image dependencies are resolved to their
 * digests (pulled when missing and b->o->pull) when @images.
 */
int build_make_stages(struct build *b, const char *const *targets, size_t n_targets, bool images);

/* b->secret_digests: the sha256 of each secret of b->o. */
int build_hash_secrets(struct build *b);

/* Free what the build holds (not @b itself). */
void build_release(struct build *b);

/* Report an event to the caller's callback, serialized. */
void build_event(struct build *b, const struct kiln_build_event *ev);

/* ---- key.c ---- */

/*
 * A step's `secrets:` entry is an id, or an id and "?" for an optional
 * secret: mounted when --secret gives it, absent otherwise (the step looks
 * for the file). The id of @entry, newly allocated; *@ret_optional tells
 * which form it was.
 */
char *secret_entry_id(const char *entry, bool *ret_optional);

/* Whether the `secrets:` entry @entry names secret @id, in either form. */
bool secret_entry_is(const char *entry, const char *id);

/* List the files the stage sees at /pkg, with their digests. */
int stage_list_files(struct kiln_ctx *ctx, struct build *b, struct stage *st);

void stage_release_files(struct stage *st);

/* The variables of bldr's levels 1 to 3, the only ones a step's environment gets; NULL-ended. */
extern const char *const stage_builtin_env[];

/*
 * The text the stage's cache key hashes, in *@ret: every input the stage
 * reads, in a canonical form of its own (see key.c). Its inputs must be
 * resolved and its files listed.
 */
int stage_key_text(const struct build *b, const struct stage *st, struct strbuf *ret);

/* The stage's cache key, from everything it reads; its inputs must be resolved. */
int stage_compute_key(struct kiln_ctx *ctx, struct build *b, struct stage *st);

/* ---- snapshot.c ---- */

/*
 * The directory holding the files @in contributes to a stage (its image,
 * @in->from copied to @in->to), made once from the store and kept under
 * <cache>/snapshots/. *@ret gets its path.
 */
int snapshot_get(struct kiln_ctx *ctx, struct build *b, const struct stage_input *in, char **ret);

/* ---- workdir.c ---- */

/*
 * A new working directory under <cache>/work, named after @name, locked
 * for as long as *@ret_lock_fd stays open: a directory without a lock
 * holder is what a killed kiln left, and build_clean_work() removes it.
 */
int workdir_new(struct kiln_ctx *ctx, const char *work_dir, const char *name, char **ret_path,
		int *ret_lock_fd);

/*
 * Hold the cache: builds share it, prune needs it alone (-EBUSY while a
 * build runs). The lock lasts as long as *@ret_fd stays open.
 */
int cache_lock(struct kiln_ctx *ctx, const char *cache_dir, bool exclusive, int *ret_fd);

/* <cache>/locks: a lock file per stage key, see stage_lock() */
#define STAGE_LOCKS_DIR "locks"

/*
 * Hold stage @st's key while this build makes it: two builds sharing a
 * cache make a stage once, the second waiting (a STEP event says so) and
 * then finding the first's output in the cache. Waits until the holder
 * is done or @b is cancelled (-ECANCELED). The lock lasts as long as
 * *@ret_fd stays open; it goes with the process however it dies.
 */
int stage_lock(struct kiln_ctx *ctx, struct build *b, const struct stage *st, int *ret_fd);

/*
 * The lock file @path (made if missing) taken exclusively for @b: what
 * stage_lock() and a cachePaths directory's lock share. Polls until the
 * holder is done or @b is cancelled (-ECANCELED); while it waits, a STEP
 * event of @stage says @waiting, once. The lock lasts as long as *@ret_fd
 * stays open.
 */
int build_lock_wait(struct kiln_ctx *ctx, struct build *b, const char *path, const char *stage,
		    const char *waiting, int *ret_fd);

/* Bytes under @name in @at as du counts them, symlinks not followed; 0 if it is missing. */
uint64_t disk_usage_at(int at, const char *name);

/* Remove every unlocked directory in @work_dir; the bytes freed go to *@ret_bytes (may be NULL). */
int workdir_clean(struct kiln_ctx *ctx, const char *work_dir, bool dry_run, uint64_t *ret_bytes);

/* ---- cache-remote.c: registry caches ---- */

/* Parse o->cache_from and o->cache_to: a repository each, no tag, no digest. */
int cache_remote_setup(struct build *b);
void cache_remote_release(struct build *b);

/*
 * After a local miss: the stage's entry in the first --cache-from
 * repository that has it, pulled and checked, becomes its output and its
 * local cache entry (st->digest, st->size, st->modules, st->pulled_from).
 * 1 on a hit, with the bytes moved in *@ret_bytes; 0 on a miss (a bad
 * entry or an unreachable registry is a miss, with a warning); -ENOMEM.
 */
int cache_remote_fetch(struct kiln_ctx *ctx, struct build *b, struct stage *st,
		       uint64_t *ret_bytes);

/*
 * Whether a --cache-from repository holds the stage's entry, without
 * pulling it: 1 with its output manifest's digest in *@ret (the index
 * fetched and checked, digest-verified; its blobs are not), 0 on a miss
 * (an unusable entry or registry is one, with a warning), -ENOMEM.
 */
int cache_remote_lookup(struct kiln_ctx *ctx, struct build *b, const struct stage *st,
			struct kiln_digest *ret);

/*
 * The stage is done: push its entry to each --cache-to repository that
 * lacks its key, unless its output holds a private key. Failures are
 * warnings; st->pushed tells whether any push went through.
 */
void cache_remote_store(struct kiln_ctx *ctx, struct build *b, struct stage *st);

/*
 * Where the stage cache notes that entry @key holds a private key, so that
 * it is not looked through again (the note names the file); NULL on -ENOMEM.
 */
char *cache_remote_refusal(const char *cache_dir, const char *key);

/* ---- stage.c ---- */

/*
 * A stage that runs nothing and finalizes all of its one dependency: its
 * output is that dependency's image, made at no cost (and never shared
 * through a registry cache: every runner has the image to build at all).
 */
bool stage_passes_through(const struct stage *st);

/* Run the stage: its output becomes st->digest. The error is left on @ctx. */
int stage_run(struct kiln_ctx *ctx, struct build *b, struct stage *st);

/* ---- stage.c and stage-output.c: one stage's run ---- */

/* The build directory, as the stage's steps see it (kiln keeps it beside the root). */
#define BUILD_DIR "/tmp/build"

/* Everything one stage run holds; released by run_release(). */
struct run {
	struct kiln_ctx *ctx;
	struct build *b;
	struct stage *st;
	char *work; /* the working directory, and the lock that keeps it ours */
	int lock_fd;
	char *root, *upper, *ovl_work, *build; /* under @work */
	char **lowers; /* top first */
	size_t n_lowers;
	bool mounted;
	bool build_mounted; /* @build is an overlay of its own (make_build_dir) */
	int log_fd;
	int root_fd, build_fd;
	int **source_fds; /* per step, per source */
	char **env; /* "K=V", NULL-ended: the built-ins, then each step's env as it comes */
	size_t n_env;
	unsigned step; /* counting from 1 */
	const char *phase;
};

/* @name under the run's directory, made unless it is there; in *@ret. */
int run_make_dir(struct run *r, const char *name, char **ret);

/*
 * The mounts of one instruction (stage-mounts.c): /tmp/build (@build_dir),
 * its step's cachePaths, each mounted now under the run's directory as an
 * overlay of its own, and its secrets. step_mounts_close() unmounts and
 * frees them, whether or not step_mounts_open() succeeded; 0 or the first
 * unmount's error.
 */
struct step_mounts {
	struct sandbox_mount *v;
	size_t n;
	char **owned; /* [i]: the path made for v[i] (NULL for /tmp/build) */
	struct cache_mount **cache; /* [1 .. n_cache]: the cachePaths overlays taken */
	size_t n_cache; /* owned[1 .. n_cache]: their mount points */
};

int step_mounts_open(struct run *r, const struct kiln_step *step, const char *build_dir,
		     struct step_mounts *m);
int step_mounts_close(struct run *r, struct step_mounts *m);

/* Tell the caller's callback where the run is: its step, phase and @instruction (may be NULL). */
void run_report(struct run *r, const char *instruction);

/* A line in the stage's log, so that its reader knows where the output came from. */
void run_log_line(struct run *r, const char *fmt, ...) _printf_(2, 3);

/*
 * The stage's output (stage-output.c): finalize's copies, validated as an
 * extension where it is one, its modules checked, stored as the one-layer
 * image whose digest and size become st->digest and st->size.
 */
int run_finalize(struct run *r);

/* ---- modules.c and modules-record.c ---- */

/*
 * Check the kernel modules of the stage's output @out (its files at @prefix
 * of the image, NULL: at its top) against the kernel of the nearest input
 * that holds one (a build tree, else a kernel's modules directory), or only
 * describe them when none does: st->modules gets them, the log their
 * findings, the cache a record of them. A module the kernel would refuse
 * fails the stage (-EINVAL, one line on @ctx). @snapshots: the inputs'
 * snapshots, top (last merged) first.
 */
int stage_check_modules(struct kiln_ctx *ctx, struct build *b, struct stage *st, const char *out,
			const char *prefix, char *const *snapshots, int log_fd);

/*
 * A cache hit: st->modules and st->extension get what was recorded when the
 * stage was built.
 */
int stage_load_modules(struct kiln_ctx *ctx, struct build *b, struct stage *st);

/* A copy of @n modules @m (NULL for none), for the build's result. */
int build_modules_copy(struct kiln_ctx *ctx, const struct kiln_build_module *m, size_t n,
		       struct kiln_build_module **ret);

/* Every module of a kernel's output, with findings: thousands of entries. */
#define MODULES_RECORD_MAX ((size_t)256 << 20)

/*
 * A record of module verdicts (stage_record_modules()'s JSON), read from
 * @what: -EBADMSG naming @what unless it is one, with every field checked.
 * @ret_ext gets the record's system extension, if it has one; with NULL it
 * is not read.
 */
int build_modules_parse(struct kiln_ctx *ctx, const char *what, const char *text, size_t len,
			struct kiln_build_module **ret, size_t *ret_n,
			struct kiln_build_extension **ret_ext);

/* Where the stage cache keeps the module verdicts of entry @key; NULL on -ENOMEM. */
char *stage_modules_record(const char *cache_dir, const char *key);

/* The record at @path (stage_modules_record()'s; NULL: -ENOMEM), as read_file_at() reads it. */
int stage_read_modules_record(const char *path, char **ret, size_t *ret_len);

/*
 * Record st->modules and st->extension in the stage cache, for
 * stage_load_modules(); a failure is a warning: the cache entry is as good
 * without them.
 */
void stage_record_modules(struct kiln_ctx *ctx, struct build *b, struct stage *st);
