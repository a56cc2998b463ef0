/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Garbage collection: mark every blob reachable from index.json (through
 * indexes, manifests, configs, layers and subjects), then sweep the rest of
 * blobs/sha256/ and the temporary files no writer holds. gc takes the store
 * for itself first (gc.lock exclusively): a kiln process that has the store
 * open may have written blobs it has not tagged yet.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "store-internal.h"
#include "strbuf.h"
#include "strmap.h"
#include "strv.h"

#define MAX_DEPTH 8

struct gc {
	struct kiln_ctx *ctx;
	struct kiln_store *s;
	struct strmap marked; /* hex -> "" */
};

static int mark(struct gc *g, const char *root, const struct kiln_descriptor *d, int depth);

static int mark_all(struct gc *g, const char *root, const struct kiln_descriptor *d, size_t n,
		    int depth)
{
	for (size_t i = 0; i < n; i++) {
		int r = mark(g, root, &d[i], depth);

		if (r < 0)
			return r;
	}
	return 0;
}

static int mark(struct gc *g, const char *root, const struct kiln_descriptor *d, int depth)
{
	_cleanup_free_ char *buf = NULL;
	bool is_index = kiln_media_type_is_index(d->media_type);
	bool is_manifest = kiln_media_type_is_manifest(d->media_type);
	size_t len;
	int r;

	if (strmap_get(&g->marked, kiln_digest_hex(&d->digest)))
		return 0;
	r = strmap_set(&g->marked, kiln_digest_hex(&d->digest), "");
	if (r < 0)
		return r;
	if (!is_index && !is_manifest)
		return 0;
	if (depth > MAX_DEPTH)
		return kiln_error(g->ctx, ELOOP, "%s: indexes nested more than %d deep", root,
				  MAX_DEPTH);
	r = kiln_store_read_blob(g->ctx, g->s, &d->digest, KILN_MANIFEST_MAX, &buf, &len);
	/* a manifest already gone (or found corrupt and removed) reaches nothing that is here */
	if (r == -ENOENT || (r == -EBADMSG && kiln_store_has_blob(g->s, &d->digest, NULL) == 0)) {
		kiln_log(g->ctx, KILN_LOG_WARNING, "%s: %s", root, kiln_ctx_error(g->ctx));
		kiln_ctx_clear_error(g->ctx);
		return 0;
	}
	if (r < 0)
		goto fail;
	if (is_index) {
		_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;

		r = kiln_index_parse(g->ctx, buf, len, &idx);
		if (r < 0)
			goto fail;
		r = mark_all(g, root, idx->manifests, idx->n_manifests, depth + 1);
		if (r >= 0 && idx->subject)
			r = mark(g, root, idx->subject, depth + 1);
		return r;
	} else {
		_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;

		r = kiln_manifest_parse(g->ctx, buf, len, &m);
		if (r < 0)
			goto fail;
		r = mark(g, root, &m->config, depth + 1);
		if (r >= 0)
			r = mark_all(g, root, m->layers, m->n_layers, depth + 1);
		if (r >= 0 && m->subject)
			r = mark(g, root, m->subject, depth + 1);
		return r;
	}
fail:
	/* what this blob references is unknown: sweeping now could remove what a ref needs */
	kiln_error_prefix(g->ctx, "gc stopped, nothing was removed: %s: %s", root, d->digest.s);
	return r;
}

static int sweep_blobs(struct gc *g, const struct kiln_gc_options *opts, struct kiln_gc_stats *st)
{
	_cleanup_(strv_freep) char **names = NULL;
	int n, r = 0;

	n = store_list_blobs(g->ctx, g->s, &names);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct kiln_digest d;
		struct stat sb;

		/* files kiln did not name are not kiln's to remove */
		if (!store_is_hex64(names[i]) || strmap_get(&g->marked, names[i])) {
			st->blobs_kept++;
			continue;
		}
		if (fstatat(g->s->blobs_fd, names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!opts->dry_run && unlinkat(g->s->blobs_fd, names[i], 0) < 0) {
			r = kiln_error(g->ctx, errno, "cannot remove %s/blobs/sha256/%s: %m",
				       g->s->path, names[i]);
			break;
		}
		snprintf(d.s, sizeof(d.s), "%s%s", KILN_DIGEST_PREFIX, names[i]);
		st->blobs_removed++;
		st->bytes_removed += (uint64_t)sb.st_size;
		if (opts->on_remove)
			opts->on_remove(opts->userdata, &d, (uint64_t)sb.st_size);
	}
	if (r >= 0 && !opts->dry_run && fsync(g->s->blobs_fd) < 0)
		r = kiln_error(g->ctx, errno, "cannot sync %s/blobs/sha256: %m", g->s->path);
	return r;
}

int kiln_store_gc_with(struct kiln_ctx *ctx, struct kiln_store *s,
		       const struct kiln_gc_options *opts, struct kiln_gc_stats *ret)
{
	static const struct kiln_gc_options defaults = { 0 };
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_close_ int lock = -1;
	struct gc g = { .ctx = ctx, .s = s };
	struct kiln_gc_stats st = { 0 };
	int r;

	if (!opts)
		opts = &defaults;
	r = store_take_whole(ctx, s, "run gc");
	if (r < 0)
		return r;
	r = store_lock_read_index(ctx, s, &lock, &idx);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < idx->n_manifests && r >= 0; i++) {
		const struct kiln_descriptor *d = &idx->manifests[i];
		const char *name = kiln_annotation_get(d->annotations, d->n_annotations,
						       KILN_ANNOTATION_REF_NAME);
		char root[96];

		if (!name) {
			snprintf(root, sizeof(root), "index.json entry %s", d->digest.s);
			name = root;
		}
		r = mark(&g, name, d, 0);
	}
	if (r < 0)
		goto out;
	r = sweep_blobs(&g, opts, &st);
	if (r < 0)
		goto out;
	if (!opts->dry_run)
		store_sweep_leftovers(s, NULL, NULL);
	if (ret)
		*ret = st;
out:
	strmap_release(&g.marked);
	store_release_whole(s);
	return r;
}

int kiln_store_gc(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_gc_stats *ret)
{
	return kiln_store_gc_with(ctx, s, NULL, ret);
}
