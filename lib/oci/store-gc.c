/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Garbage collection: mark every blob reachable from index.json (through
 * indexes, manifests, configs, layers and subjects), then sweep the rest of
 * blobs/sha256/ and the temporary files no writer holds. gc takes the store
 * for itself first (gc.lock exclusively): a kiln process that has the store
 * open may have written blobs it has not tagged yet.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "log.h"
#include "store-internal.h"
#include "strbuf.h"
#include "strmap.h"

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

static bool is_hex64(const char *s)
{
	size_t i = 0;

	for (; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory @fd (which stays open), sorted. */
static int list_dir(int fd, char ***ret, size_t *ret_n)
{
	DIR *dir;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, alloc = 0;
	int dfd, r = 0;

	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dfd < 0)
		return -errno;
	dir = fdopendir(dfd);
	if (!dir) {
		r = -errno;
		close(dfd);
		return r;
	}
	rewinddir(dir);
	while ((errno = 0, de = readdir(dir))) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (GROW(v, alloc, n + 1) < 0 || !(v[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (!r && errno)
		r = -errno;
	closedir(dir);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return r;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_strp);
	*ret = v;
	*ret_n = n;
	return 0;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n && v; i++)
		free(v[i]);
	free(v);
}

static int sweep_blobs(struct gc *g, const struct kiln_gc_options *opts, struct kiln_gc_stats *st)
{
	char **names = NULL;
	size_t n = 0;
	int r;

	r = list_dir(g->s->blobs_fd, &names, &n);
	if (r < 0)
		return kiln_error(g->ctx, r, "cannot list %s/blobs/sha256: %s", g->s->path,
				  strerror(-r));
	for (size_t i = 0; i < n; i++) {
		struct kiln_digest d;
		struct stat sb;

		/* files kiln did not name are not kiln's to remove */
		if (!is_hex64(names[i]) || strmap_get(&g->marked, names[i])) {
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
	names_free(names, n);
	if (r >= 0 && !opts->dry_run && fsync(g->s->blobs_fd) < 0)
		r = kiln_error(g->ctx, errno, "cannot sync %s/blobs/sha256: %m", g->s->path);
	return r;
}

/* Temporary files of writers that died; a live writer holds a lock on its file. */
static void sweep_tmp(struct gc *g)
{
	char **names = NULL;
	size_t n = 0;

	if (list_dir(g->s->tmp_fd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int fd = openat(g->s->tmp_fd, names[i],
						O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlinkat(g->s->tmp_fd, names[i], 0);
	}
	names_free(names, n);
	names = NULL;
	n = 0;
	/* index.json.tmp.*: write_file_atomic()'s leftovers; we hold the index lock */
	if (list_dir(g->s->dir_fd, &names, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (strncmp(names[i], "index.json.tmp.", 15) == 0)
			unlinkat(g->s->dir_fd, names[i], 0);
	names_free(names, n);
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
	/* this handle's shared lease becomes the whole store; a failed attempt drops the lease */
	if (flock(s->gc_lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno;
		while (flock(s->gc_lock_fd, LOCK_SH) < 0 && errno == EINTR)
			;
		if (r == EWOULDBLOCK)
			return kiln_error(ctx, EBUSY,
					  "the store %s is in use by another kiln process (or "
					  "another handle in this one); run gc when it has "
					  "finished",
					  s->path);
		return kiln_error(ctx, r, "cannot lock %s/%s: %s", s->path, STORE_GC_LOCK,
				  strerror(r));
	}
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
		sweep_tmp(&g);
	if (ret)
		*ret = st;
out:
	strmap_release(&g.marked);
	while (flock(s->gc_lock_fd, LOCK_SH) < 0 && errno == EINTR)
		;
	return r;
}

int kiln_store_gc(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_gc_stats *ret)
{
	return kiln_store_gc_with(ctx, s, NULL, ret);
}
