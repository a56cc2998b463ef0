/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The build engine: `kiln build` runs the stages of a package tree in
 * namespace sandboxes, caches their outputs by content, and runs
 * independent stages in parallel.
 *
 * A stage's root filesystem is its dependencies merged in order (an
 * overlay of read-only snapshots, later ones on top), its package
 * directory at /pkg, and its steps run as `<shell> -c "set -eou
 * pipefail\n<instruction>"` with /tmp/build as working directory. Its
 * output is what finalize copies out, stored as a one-layer image. The
 * image's digest, with everything else the stage reads, keys the next
 * stage's cache entry.
 *
 * Everything lives under kiln's cache directory:
 *   store/            the OCI image layout; stage outputs are refs
 *                     kiln.local/stage/<name>:<cache key>
 *   snapshots/<key>/  a dependency's files, unpacked once, used as an
 *                     overlay lower layer by every stage that merges it
 *   sources/<sha512>  verified downloads
 *   cachepaths/<id>/  the persistent directories of `cachePaths`
 *   work/<stage>-*    a running stage's overlay and build directory
 *                     (removed after it, or by the next run if kiln died)
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>
#include <kiln/module.h>
#include <kiln/oci.h>
#include <kiln/registry.h>
#include <kiln/spec.h>

#pragma GCC visibility push(default)

/* A build secret: --secret id=ID,src=PATH. */
struct kiln_build_secret {
	const char *id;
	const char *path;
};

/*
 * A kernel module (*.ko, *.ko.xz, *.ko.zst) in a stage's output, and what
 * the kernel it was built against makes of it: after a stage runs, each is
 * checked as `kiln module check` checks (vermagic, symbols and their CRCs,
 * signature, firmware, depends), with signatures enforced as Talos enforces
 * them, against the kernel build tree of the nearest dependency that holds
 * one (at its /src, as siderolabs' kernel-build has it, or at its top), else
 * against the modules directory of the nearest that holds a kernel's
 * (siderolabs' kernel image: symbols and signers cannot be checked then,
 * that modules are signed can). When none does, the module is only
 * described. A module that would not load fails the stage; missing firmware
 * is a warning (another package may ship it).
 */
struct kiln_build_module {
	char *path; /* in the output: "usr/lib/modules/6.12.118-kiln/extras/kiln_demo.ko" */
	char *name; /* as the kernel calls it; NULL when the file could not be read */
	char *vermagic; /* NULL when it has none */
	bool has_signature; /* a signature is appended; signer and sig_hash when it parses: */
	char *signer; /* the signer's name, as kmod's modinfo gives it */
	char *sig_hash; /* the signature's digest, "sha512" */
	/* the <release> of the lib/modules/<release>/ it is installed in, or NULL */
	char *installed_release;
	char *error; /* the file is no module kiln can read, and why; NULL: it is */
	/*
	 * @checked: judged against the kernel of dependency @kernel (a stage's
	 * name or an image reference) at @kernel_dir in the stage: a build tree
	 * ("/src", "/") when @kernel_is_tree, else its modules directory
	 * ("/usr/lib/modules/<release>"); for release @kernel_release (the
	 * strings are NULL when not checked). @check holds the verdict:
	 * check.path is @path, and paths in its findings are as the stage sees
	 * them. A module installed for another release than @kernel_release
	 * fails vermagic: modprobe would never find it.
	 */
	bool checked;
	bool kernel_is_tree;
	char *kernel, *kernel_dir, *kernel_release;
	struct kiln_check_result check;
};

/* The module would load (with or without warnings), or was not judged. */
static inline bool kiln_build_module_loads(const struct kiln_build_module *m)
{
	return !m->checked || kiln_check_loads(&m->check);
}

void kiln_build_modules_free(struct kiln_build_module *m, size_t n);

/*
 * A stage output in the shape of a Talos system extension (manifest.yaml and
 * rootfs/ at its top), as kiln build validated it before storing it:
 * Talos's rules and kiln's, without a kernel (its modules are checked as
 * every stage's are). An output with errors fails its stage and is never
 * stored, so one that was stored has none; its warnings are kept here.
 */
struct kiln_build_extension {
	char *name; /* the manifest's metadata.name and .version */
	char *version;
	unsigned n_files; /* entries under rootfs/ */
	char **warnings; /* "PATH: what", one a warning */
	size_t n_warnings;
};

void kiln_build_extension_free(struct kiln_build_extension *e);

enum kiln_build_event_kind {
	KILN_BUILD_STAGE_CACHED, /* a cache hit: nothing to run */
	/*
	 * a hit in a registry cache (--cache-from): the output was pulled, every
	 * blob verified, and is in the local stage cache now; @url is the
	 * repository, @seconds the time the pull took, @done the bytes of blobs
	 * it downloaded (those already in the store are not)
	 */
	KILN_BUILD_STAGE_PULLED,
	KILN_BUILD_STAGE_START,
	KILN_BUILD_STAGE_STEP, /* a new instruction started */
	KILN_BUILD_STAGE_DONE,
	KILN_BUILD_STAGE_FAILED,
	KILN_BUILD_STAGE_SKIPPED, /* a dependency failed */
	KILN_BUILD_FETCH, /* source download progress */
};

struct kiln_build_event {
	enum kiln_build_event_kind kind;
	const char *stage;
	unsigned
	    step; /* counting from 1; 0 before the steps (dependencies, /pkg) or after (finalize) */
	const char *phase; /* "prepare", "build", "install", "test", "sources", "finalize", ... */
	const char *instruction; /* STEP and FAILED: the instruction's text, or NULL */
	const char *log_path; /* the stage's full log */
	const char *digest; /* DONE, CACHED and PULLED: "sha256:..." of the output manifest */
	const char *error; /* FAILED: what went wrong, one line */
	const char *log_tail; /* FAILED: the last lines of the log (up to 50), or NULL */
	double seconds; /* DONE, FAILED and PULLED: time spent on the stage */
	uint64_t done; /* FETCH: bytes so far; PULLED: bytes downloaded */
	int64_t total; /* FETCH: bytes in all, -1 if unknown */
	const char *url; /* FETCH; PULLED: the cache repository it came from */
	/*
	 * DONE, CACHED and PULLED: the kernel modules of the output (a cache hit reports
	 * what was recorded when the stage was built); FAILED: those of the
	 * output that was refused, when the modules failed the stage.
	 */
	const struct kiln_build_module *modules;
	size_t n_modules;
	/*
	 * DONE, CACHED and PULLED: the output is a system extension, validated
	 * (NULL when it is none, or for a cache entry a kiln wrote that did not
	 * record it)
	 */
	const struct kiln_build_extension *extension;
};

struct kiln_build_options {
	unsigned jobs; /* stages run at once; 0: one per CPU */
	bool no_cache; /* run every stage, do not look at the stage cache (still writes it) */
	bool keep_going; /* after a failure, build every stage that does not depend on it */
	int64_t source_date_epoch; /* mtimes of outputs and the images' "created" */
	const struct kiln_build_secret *secrets;
	size_t n_secrets;
	const char *log_dir; /* where <stage>.log files go (created); NULL: none kept */
	const char *cache_dir; /* NULL: kiln_cache_dir() */
	/* pull image dependencies missing from the store from their registry */
	bool pull;
	/*
	 * How registries are reached (NULL: the defaults of struct
	 * kiln_registry_options); its @insecure also lets sources be
	 * downloaded without checking TLS certificates.
	 */
	const struct kiln_registry_options *registry;
	/*
	 * Registry caches (--cache-from, --cache-to): repositories ("host/path",
	 * no tag) where stage outputs are kept under tag "kiln-<cache key>"
	 * (KILN_CACHE_TAG_PREFIX), as an index of the output manifest and a
	 * record of its module verdicts (the layout is in the README). After a
	 * local miss, each of @cache_from is asked in order; a hit is pulled
	 * (every blob verified) into the store and the local stage cache. A
	 * stage built, found or pulled is pushed to each of @cache_to that
	 * lacks its key, unless its output holds a private key. Every cache
	 * failure is a warning and a miss, never a failed build.
	 */
	const char *const *cache_from;
	size_t n_cache_from;
	const char *const *cache_to;
	size_t n_cache_to;
	/* called from any thread, serialized by the engine; may be NULL */
	void (*on_event)(void *userdata, const struct kiln_build_event *ev);
	void *userdata;
};

/* What a target became. */
struct kiln_build_target {
	char *name; /* the package */
	struct kiln_digest digest; /* its output image's manifest */
	uint64_t size; /* of the manifest */
	bool cached; /* no stage of the target's own ran: it was in the cache */
	bool pulled; /* ... in a registry cache, and pulled from there */
	struct kiln_build_module *modules; /* the kernel modules of its output */
	size_t n_modules;
};

struct kiln_build_stats {
	unsigned stages; /* stages the targets need */
	unsigned built; /* stages that ran */
	unsigned cached; /* local cache hits */
	unsigned pulled; /* hits in a registry cache (--cache-from), pulled */
	unsigned pushed; /* stages pushed to a registry cache (--cache-to) */
	unsigned failed;
	unsigned skipped; /* not run because a dependency failed */
};

/**
 * kiln_build_prepare() - make the process able to build
 *
 * Puts the process in its own mount namespace (and a user namespace when
 * not root) so that the overlays it mounts are its own and go away with it.
 * Must be called while the process has one thread, before kiln_build().
 */
int kiln_build_prepare(struct kiln_ctx *ctx);

/**
 * kiln_build() - build @targets of @tree
 * @s: the store that holds image dependencies and receives stage outputs
 * @ret: one entry per target, in the order given; free with
 *       kiln_build_targets_free() (@n_targets entries)
 * @ret_stats: may be NULL; filled on failure too
 *
 * Returns 0 when every stage was built or found, -errno otherwise with the
 * first failure on @ctx (with --keep-going, after the rest was built).
 */
int kiln_build(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_tree *tree,
	       const char *const *targets, size_t n_targets, const struct kiln_build_options *o,
	       struct kiln_build_target **ret, struct kiln_build_stats *ret_stats);

void kiln_build_targets_free(struct kiln_build_target *t, size_t n);

/* ---- publishing the targets (lib/build/publish.c) ---- */

struct kiln_build_publish_options {
	const char *tag; /* the targets' tag (kiln_build_describe() gives bldr's); NULL: "latest" */
	const char *out_dir; /* where images.json is (created when missing) */
	/*
	 * Export each target's files to this directory, replacing what it held
	 * (kiln_unpack_image_to_dir()); with several targets, to
	 * @export_dir/TARGET. NULL: none are exported.
	 */
	const char *export_dir;
};

/* What a target was published as. */
struct kiln_build_published {
	char *name; /* "TARGET:TAG", as the store's ref and images.json's key have it */
	char *reference; /* "TARGET:TAG@sha256:..." */
	struct kiln_descriptor desc; /* the target's manifest */
	char *export_dir; /* where its files went, or NULL */
};

/**
 * kiln_build_publish() - hand the targets kiln_build() made to the user
 * @t: kiln_build()'s @n targets
 * @ret: @n entries in the same order; free with kiln_build_published_free()
 *
 * Each target is tagged TARGET:TAG in @s (docker.io/library/TARGET:TAG in
 * full), recorded in @o->out_dir/images.json under TARGET:TAG, and
 * exported when @o->export_dir asks for it. Stops at the first failure,
 * with what failed and for which target on @ctx.
 */
int kiln_build_publish(struct kiln_ctx *ctx, struct kiln_store *s,
		       const struct kiln_build_target *t, size_t n,
		       const struct kiln_build_publish_options *o,
		       struct kiln_build_published **ret);
void kiln_build_published_free(struct kiln_build_published *p, size_t n);

/**
 * kiln_build_describe() - the tag bldr's Makefiles give a tree's images
 *
 * `git describe --tags --always --dirty` of @root, run as a child of its
 * own (argv, no shell). *@ret gets its first line, or NULL when @root is
 * no git work tree or git is not installed. Ask before the build writes
 * its logs into the tree, or they may make it -dirty. Returns 0, or -ENOMEM.
 */
int kiln_build_describe(struct kiln_ctx *ctx, const char *root, char **ret);

/* ---- planning a build for a CI engine (lib/build/plan.c) ---- */

/* A stage of a plan: what `kiln build -t NAME` would run, and what it needs first. */
struct kiln_plan_stage {
	const char *name; /* the package (the tree's string) */
	size_t *deps; /* indices in the plan of the stages it merges (each before it) */
	size_t n_deps;
	bool target; /* one of the targets asked for */
	/* with keys asked for: every input's digest was known, so is @key */
	bool keyed;
	char key[65]; /* the cache key, hex, when @keyed */
	/*
	 * @key is in a registry cache (@build's cache_from), or the stage
	 * passes its one dependency's image through (it runs nothing and
	 * finalizes all of it: no cache holds it, nothing need build it):
	 * @digest is its output
	 */
	bool cached;
	struct kiln_digest digest;
};

struct kiln_plan_options {
	/*
	 * What the jobs will build with: SOURCE_DATE_EPOCH, the secrets (their
	 * digests enter the keys), whether and how image dependencies are
	 * pulled, and the registry caches they share (cache_from: where keys
	 * are looked up; the store's own stage cache is not looked at, it is
	 * no runner's). Only read with @keys.
	 */
	const struct kiln_build_options *build;
	/*
	 * Compute each stage's key and look it up in the registry caches,
	 * dependencies first, fetching each entry's index but none of its
	 * blobs: a stage's key needs the output digests of the stages it
	 * merges, so only stages whose stage dependencies are all cached get
	 * one. Image dependencies are resolved to digests (pulled when
	 * missing, as kiln_build() pulls them). A cache that cannot be reached
	 * is a warning and a miss, as in kiln_build().
	 */
	bool keys;
};

/**
 * kiln_build_plan() - the stages @targets need, as a CI engine would run them
 * @ret: the stages, every dependency before its dependents; free with
 *       kiln_plan_stages_free() (@ret_n entries). Names point into @tree.
 *
 * Without @o->keys this is the graph alone: nothing is read but the tree.
 */
int kiln_build_plan(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_tree *tree,
		    const char *const *targets, size_t n_targets,
		    const struct kiln_plan_options *o, struct kiln_plan_stage **ret,
		    size_t *ret_n);
void kiln_plan_stages_free(struct kiln_plan_stage *p, size_t n);

/* The ref a stage output is kept under in the store: "kiln.local/stage/<name>:<key hex>". */
#define KILN_STAGE_REF_PREFIX "kiln.local/stage/"

/* The tag of a stage's entry in a registry cache: "kiln-<key hex>" (69 characters). */
#define KILN_CACHE_TAG_PREFIX "kiln-"

/* ---- the cache (lib/build/cache.c) ---- */

struct kiln_cache_entry {
	char *stage; /* the package name */
	char *key; /* 64 hex digits */
	struct kiln_digest digest; /* the output manifest */
	uint64_t size; /* bytes of its layers */
	int64_t created; /* when the entry was written (seconds since the epoch), -1 unknown */
};

/* The stage cache's entries, sorted by stage then key. */
int kiln_cache_list(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_cache_entry **ret,
		    size_t *ret_n);
void kiln_cache_entries_free(struct kiln_cache_entry *e, size_t n);

struct kiln_cache_usage {
	uint64_t stages; /* bytes of stage output layers */
	unsigned n_stages;
	uint64_t snapshots; /* bytes of unpacked dependency snapshots */
	unsigned n_snapshots;
	uint64_t sources;
	unsigned n_sources;
	uint64_t cache_paths;
	unsigned n_cache_paths;
	uint64_t squashfs; /* extensions made squashfs images by kiln image installer */
	unsigned n_squashfs;
	uint64_t work; /* leftovers of stages that were killed */
};

int kiln_cache_usage(struct kiln_ctx *ctx, struct kiln_store *s, const char *cache_dir,
		     struct kiln_cache_usage *ret);

struct kiln_cache_prune_options {
	bool all; /* everything below, and the cachePaths too */
	int64_t older_than; /* seconds: stage entries not written within; 0: all */
	bool dry_run;
};

/*
 * Remove stage cache entries (their refs; kiln_store_gc() then frees the
 * blobs), every snapshot and extension squashfs image (they are made again
 * when needed), and what killed builds left in work/. Sources and
 * cachePaths stay unless @all. *@ret gets what was (or would be) freed.
 */
int kiln_cache_prune(struct kiln_ctx *ctx, struct kiln_store *s, const char *cache_dir,
		     const struct kiln_cache_prune_options *o, struct kiln_cache_usage *ret);

#pragma GCC visibility pop
