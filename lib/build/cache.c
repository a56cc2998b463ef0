/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The stage cache as the user sees it: `kiln cache ls|du|prune`. Stage
 * outputs are images in the store under KILN_STAGE_REF_PREFIX refs, so the
 * store's gc keeps exactly what the cache names; snapshots, sources and
 * cachePaths are plain directories beside the store.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "build-internal.h"
#include "fileio.h"
#include "log.h"

void kiln_cache_entries_free(struct kiln_cache_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++) {
		free(e[i].stage);
		free(e[i].key);
	}
	free(e);
}

/* The bytes of @d's layers, and when its manifest was written. */
static int entry_size(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_digest *d,
		      uint64_t *ret_size, int64_t *ret_created)
{
	_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
	_cleanup_free_ char *json = NULL, *path = NULL;
	uint64_t size;
	size_t len;
	struct stat st;
	int r;

	r = kiln_store_read_blob(ctx, s, d, KILN_MANIFEST_MAX, &json, &len);
	if (r >= 0)
		r = kiln_manifest_parse(ctx, json, len, &m);
	if (r < 0)
		return r;
	size = m->config.size;
	for (size_t i = 0; i < m->n_layers; i++)
		size += m->layers[i].size;
	if (asprintf(&path, "%s/blobs/sha256/%s", kiln_store_path(s), kiln_digest_hex(d)) < 0) {
		path = NULL;
		return -ENOMEM;
	}
	*ret_size = size;
	*ret_created = stat(path, &st) == 0 ? (int64_t)st.st_mtime : -1;
	return 0;
}

int kiln_cache_list(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_cache_entry **ret,
		    size_t *ret_n)
{
	struct kiln_cache_entry *out = NULL;
	size_t n = 0, alloc = 0, plen = strlen(KILN_STAGE_REF_PREFIX);
	char **refs = NULL;
	int n_refs, r = 0;

	n_refs = kiln_store_list_refs(ctx, s, &refs);
	if (n_refs < 0)
		return n_refs;
	for (int i = 0; i < n_refs && r >= 0; i++) {
		_cleanup_(kiln_descriptor_release) struct kiln_descriptor d = { 0 };
		const char *colon;
		struct kiln_cache_entry *e;

		if (strncmp(refs[i], KILN_STAGE_REF_PREFIX, plen) != 0)
			continue;
		colon = strrchr(refs[i], ':');
		if (!colon || colon < refs[i] + plen)
			continue;
		r = kiln_store_get_ref(ctx, s, refs[i], &d);
		if (r < 0)
			break;
		r = kiln_grow((void **)&out, &alloc, n + 1, sizeof(*out));
		if (r < 0)
			break;
		e = &out[n++];
		*e = (struct kiln_cache_entry){ .digest = d.digest, .created = -1 };
		e->stage = strndup(refs[i] + plen, (size_t)(colon - refs[i]) - plen);
		e->key = strdup(colon + 1);
		if (!e->stage || !e->key) {
			r = -ENOMEM;
			break;
		}
		r = entry_size(ctx, s, &d.digest, &e->size, &e->created);
	}
	for (int i = 0; i < n_refs; i++)
		free(refs[i]);
	free(refs);
	if (r < 0) {
		kiln_cache_entries_free(out, n);
		return r;
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

/* Bytes and entries of each entry of directory @dir. */
static void dir_usage(const char *dir, uint64_t *ret_bytes, unsigned *ret_n)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	*ret_bytes = 0;
	if (ret_n)
		*ret_n = 0;
	if (fd < 0 || !(d = fdopendir(fd)))
		return;
	fd = -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || streq(de->d_name, "tmp"))
			continue;
		*ret_bytes += disk_usage_at(dirfd(d), de->d_name);
		if (ret_n)
			(*ret_n)++;
	}
	closedir(d);
}

struct cache_dirs {
	char *dir, *snapshots, *sources, *cache_paths, *squashfs, *work, *locks;
};

static void cache_dirs_release(struct cache_dirs *d)
{
	free(d->dir);
	free(d->snapshots);
	free(d->sources);
	free(d->cache_paths);
	free(d->squashfs);
	free(d->work);
	free(d->locks);
}

static int cache_dirs_init(struct kiln_ctx *ctx, const char *cache_dir, struct cache_dirs *ret)
{
	_cleanup_(cache_dirs_release) struct cache_dirs d = { 0 };
	int r;

	r = kiln_cache_dir(ctx, cache_dir, &d.dir);
	if (r < 0)
		return r;
	d.snapshots = path_join(d.dir, "snapshots");
	d.sources = path_join(d.dir, "sources");
	d.cache_paths = path_join(d.dir, "cachepaths");
	/* kiln image installer's (lib/image/installer-ext.c) */
	d.squashfs = path_join(d.dir, "image/sqsh");
	d.work = path_join(d.dir, "work");
	d.locks = path_join(d.dir, STAGE_LOCKS_DIR);
	if (!d.snapshots || !d.sources || !d.cache_paths || !d.squashfs || !d.work || !d.locks)
		return -ENOMEM;
	*ret = d;
	d = (struct cache_dirs){ 0 };
	return 0;
}

int kiln_cache_usage(struct kiln_ctx *ctx, struct kiln_store *s, const char *cache_dir,
		     struct kiln_cache_usage *ret)
{
	_cleanup_(cache_dirs_release) struct cache_dirs dirs = { 0 };
	struct kiln_cache_entry *e = NULL;
	struct kiln_cache_usage u = { 0 };
	size_t n = 0;
	int r;

	r = cache_dirs_init(ctx, cache_dir, &dirs);
	if (r < 0)
		return r;
	r = kiln_cache_list(ctx, s, &e, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		u.stages += e[i].size;
	u.n_stages = (unsigned)n;
	kiln_cache_entries_free(e, n);
	dir_usage(dirs.snapshots, &u.snapshots, &u.n_snapshots);
	dir_usage(dirs.sources, &u.sources, &u.n_sources);
	dir_usage(dirs.cache_paths, &u.cache_paths, &u.n_cache_paths);
	dir_usage(dirs.squashfs, &u.squashfs, &u.n_squashfs);
	dir_usage(dirs.work, &u.work, NULL);
	*ret = u;
	return 0;
}

/*
 * Remove every entry of @dir (not @dir itself), adding what they held to
 * *@bytes; with @visible_only, not the hidden ones, which are files being
 * written (atomic_file's temporary names) by a process that takes no lock
 * of the cache.
 */
static int empty_dir(struct kiln_ctx *ctx, const char *dir, bool visible_only, bool dry_run,
		     uint64_t *bytes, unsigned *count)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : kiln_error(ctx, errno, "cannot open \"%s\": %m", dir);
	d = fdopendir(TAKE_FD(fd));
	if (!d)
		return -ENOMEM;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
		    (visible_only && de->d_name[0] == '.'))
			continue;
		*bytes += disk_usage_at(dirfd(d), de->d_name);
		(*count)++;
		if (dry_run)
			continue;
		r = remove_tree_at(dirfd(d), de->d_name);
		if (r < 0) {
			r = kiln_error(ctx, -r, "cannot remove \"%s/%s\": %s", dir, de->d_name,
				       strerror(-r));
			break;
		}
	}
	closedir(d);
	return r;
}

int kiln_cache_prune(struct kiln_ctx *ctx, struct kiln_store *s, const char *cache_dir,
		     const struct kiln_cache_prune_options *o, struct kiln_cache_usage *ret)
{
	_cleanup_(cache_dirs_release) struct cache_dirs dirs = { 0 };
	struct kiln_cache_entry *e = NULL;
	struct kiln_cache_usage u = { 0 };
	int64_t cutoff = o->older_than > 0 ? (int64_t)time(NULL) - o->older_than : INT64_MAX;
	_cleanup_close_ int lock = -1;
	size_t n = 0;
	int r;

	r = cache_dirs_init(ctx, cache_dir, &dirs);
	if (r < 0)
		return r;
	r = cache_lock(ctx, dirs.dir, true, &lock);
	if (r < 0)
		return r;
	r = kiln_cache_list(ctx, s, &e, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *ref = NULL;

		if (e[i].created >= 0 && e[i].created > cutoff)
			continue;
		u.stages += e[i].size;
		u.n_stages++;
		if (o->dry_run)
			continue;
		if (asprintf(&ref, KILN_STAGE_REF_PREFIX "%s:%s", e[i].stage, e[i].key) < 0) {
			ref = NULL;
			r = -ENOMEM;
			break;
		}
		r = kiln_store_remove_ref(ctx, s, ref);
		if (r >= 0) {
			/* the entry's module verdicts go with it */
			_cleanup_free_ char *record = stage_modules_record(dirs.dir, e[i].key);
			_cleanup_free_ char *refused = NULL;

			if (!record)
				r = -ENOMEM;
			else if (unlink(record) < 0 && errno != ENOENT)
				r = kiln_error(ctx, errno, "cannot remove \"%s\": %m", record);
			/* and the note that a registry cache may not have it (cache-remote.c) */
			if (r >= 0 && !(refused = cache_remote_refusal(dirs.dir, e[i].key)))
				r = -ENOMEM;
			if (r >= 0 && unlink(refused) < 0 && errno != ENOENT)
				r = kiln_error(ctx, errno, "cannot remove \"%s\": %m", refused);
		}
	}
	kiln_cache_entries_free(e, n);
	if (r < 0)
		return r;

	r = empty_dir(ctx, dirs.snapshots, false, o->dry_run, &u.snapshots, &u.n_snapshots);
	if (r >= 0)
		r = empty_dir(ctx, dirs.squashfs, true, o->dry_run, &u.squashfs, &u.n_squashfs);
	if (r >= 0)
		r = workdir_clean(ctx, dirs.work, o->dry_run, &u.work);
	if (r >= 0 && o->all)
		r = empty_dir(ctx, dirs.sources, false, o->dry_run, &u.sources, &u.n_sources);
	if (r >= 0 && o->all)
		r = empty_dir(ctx, dirs.cache_paths, false, o->dry_run, &u.cache_paths,
			      &u.n_cache_paths);
	if (r >= 0) {
		/* empty files, one per stage key built; no build holds one now */
		uint64_t bytes = 0;
		unsigned count = 0;

		r = empty_dir(ctx, dirs.locks, false, o->dry_run, &bytes, &count);
	}
	if (r < 0)
		return r;
	*ret = u;
	return 0;
}
