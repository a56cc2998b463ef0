/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/*
 * The store's insides, shared by store.c (layout, blobs, writers),
 * store-refs.c (index.json, refs, resolving, loading images) and
 * store-gc.c. Internal to lib/oci.
 *
 * On disk, besides the image layout (oci-layout, index.json, blobs/sha256/):
 *   tmp/             blobs being written, each flock()ed by its writer
 *   index.json.lock  flock()ed exclusively around every index.json update
 *   gc.lock          flock()ed shared by every open store, exclusively by gc:
 *                    a writer may hold blobs that no ref reaches yet
 */

#include <kiln/oci.h>

#define STORE_TMP_DIR "tmp"
#define STORE_INDEX_LOCK "index.json.lock"
#define STORE_GC_LOCK "gc.lock"
#define STORE_INDEX_MAX (64u << 20)

struct kiln_store {
	char *path;
	int dir_fd;
	int blobs_fd; /* blobs/sha256 */
	int tmp_fd;
	int gc_lock_fd; /* held LOCK_SH while open */
	bool tmp_swept; /* by this handle's first blob writer */
};

/*
 * The store for this handle alone (gc.lock exclusively), for what must not
 * race a writer; -EBUSY (recorded, saying to @what when the other ends)
 * while another handle has it open. store_release_whole() gives it back.
 */
int store_take_whole(struct kiln_ctx *ctx, struct kiln_store *s, const char *what);
void store_release_whole(struct kiln_store *s);

/* The lock on index.json: an fd to close to unlock, or -errno (recorded on @ctx). */
int store_lock_index(struct kiln_ctx *ctx, struct kiln_store *s);

/* index.json, parsed; errors name the file. */
int store_read_index(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_index **ret);

/*
 * Lock index.json and read it, for a change: the lock fd (close it to
 * unlock) and the index, or -errno with neither.
 */
int store_lock_read_index(struct kiln_ctx *ctx, struct kiln_store *s, int *ret_lock,
			  struct kiln_index **ret);

/* Replace index.json (atomically: temp file, fsync, rename). Hold the index lock. */
int store_write_index(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_index *idx);

/*
 * The media type of a manifest or index blob, from its "mediaType" or, when
 * absent, from its shape ("manifests": an index; "config": a manifest).
 * *@ret is a static string; -EBADMSG (recorded) when it is neither.
 */
int store_sniff_media_type(struct kiln_ctx *ctx, const char *json, size_t len, const char **ret);

/* A blob's file name: 64 lowercase hex digits. */
bool store_is_hex64(const char *s);

/* The names in blobs/sha256/, sorted (free with strv_free()): their count, or -errno. */
int store_list_blobs(struct kiln_ctx *ctx, struct kiln_store *s, char ***ret);

/*
 * Called with each leftover (its path in the store): whether to remove it.
 * NULL removes every one.
 */
typedef bool (*store_leftover_fn)(void *userdata, const char *path);

/*
 * The temporary files of writers that died: files in tmp/ and temporary
 * names of index.json and oci-layout that no writer holds (a writer locks
 * its file), and an older kiln's index.json.tmp.* (hold the index lock: its
 * holder was their only writer).
 */
int store_sweep_leftovers(struct kiln_store *s, store_leftover_fn fn, void *userdata);
