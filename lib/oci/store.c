/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The local store: an OCI image layout that skopeo, umoci and containerd
 * read as it is. Blobs are the truth: each is written to a temporary file,
 * hashed on the way, fsync()ed and renamed into blobs/sha256/ only when its
 * digest is what was expected, so a reader never sees a partial or wrong
 * blob under a digest's name, whatever crashes when.
 */
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fileio.h"
#include "json-parse.h"
#include "log.h"
#include "store-internal.h"
#include "strbuf.h"
#include "strv.h"

#define LAYOUT_JSON "{\"imageLayoutVersion\":\"1.0.0\"}"

int kiln_cache_dir(struct kiln_ctx *ctx, const char *dir, char **ret)
{
	const char *e = dir ? dir : getenv("KILN_CACHE_DIR");
	struct passwd *pw;
	char *s;

	if (e && *e) {
		s = strdup(e);
	} else if ((e = getenv("XDG_CACHE_HOME")) && *e == '/') {
		/* the XDG spec says relative values are to be ignored */
		s = path_join(e, "kiln");
	} else if ((e = getenv("HOME")) && *e == '/') {
		s = path_join(e, ".cache/kiln");
	} else {
		errno = 0;
		pw = getpwuid(getuid());
		if (!pw && errno == ENOMEM)
			return -ENOMEM;
		if (!pw || !pw->pw_dir || *pw->pw_dir != '/')
			return kiln_error(ctx, ENOENT,
					  "cannot find kiln's cache directory: set KILN_CACHE_DIR "
					  "or HOME");
		s = path_join(pw->pw_dir, ".cache/kiln");
	}
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* mkdir -p: every missing directory of @path, each 0755 */
static int mkdir_p(const char *path)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *c = p + 1;; c++) {
		char saved = *c;

		if (saved != '/' && saved != '\0')
			continue;
		*c = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*c = saved;
		if (!saved)
			return 0;
	}
}

static int mkdirat_ok(int dir_fd, const char *name)
{
	if (mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The layout's version file: created, or checked to be the one version there is. */
static int check_layout(struct kiln_ctx *ctx, struct kiln_store *s)
{
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	_cleanup_free_ char *buf = NULL, *path = NULL;
	const char *version;
	size_t len;
	int r;

	path = path_join(s->path, "oci-layout");
	if (!path)
		return -ENOMEM;
	r = read_file_at(s->dir_fd, "oci-layout", 65536, &buf, &len);
	if (r == -ENOENT) {
		r = write_file_atomic(path, LAYOUT_JSON, strlen(LAYOUT_JSON), 0644);
		if (r < 0)
			return kiln_error(ctx, r, "cannot write %s: %s", path, strerror(-r));
		return 0;
	}
	if (r < 0)
		return kiln_error(ctx, r, "cannot read %s: %s", path, strerror(-r));
	r = json_parse(ctx, path, buf, len, &doc);
	if (r < 0)
		return r;
	version = json_get_string(json_doc_root(doc), "imageLayoutVersion");
	if (!streq(version, "1.0.0"))
		return kiln_error(ctx, EOPNOTSUPP,
				  "%s: imageLayoutVersion is not \"1.0.0\", the only version of "
				  "the OCI image layout",
				  path);
	return 0;
}

/* index.json is created under the index lock, so that a ref set meanwhile is never lost. */
static int ensure_index(struct kiln_ctx *ctx, struct kiln_store *s)
{
	_cleanup_close_ int lock = -1;
	struct kiln_index empty = { .media_type = (char *)KILN_MT_OCI_INDEX };

	if (faccessat(s->dir_fd, "index.json", F_OK, 0) == 0)
		return 0;
	lock = store_lock_index(ctx, s);
	if (lock < 0)
		return lock;
	if (faccessat(s->dir_fd, "index.json", F_OK, 0) == 0)
		return 0;
	return store_write_index(ctx, s, &empty);
}

static int open_dir_at(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int kiln_store_open(struct kiln_ctx *ctx, const char *dir, struct kiln_store **ret)
{
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_free_ char *cache = NULL;
	char *abs;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dir_fd = s->blobs_fd = s->tmp_fd = s->gc_lock_fd = -1;
	if (dir) {
		s->path = strdup(dir);
	} else {
		r = kiln_cache_dir(ctx, NULL, &cache);
		if (r < 0)
			return r;
		s->path = path_join(cache, "store");
	}
	if (!s->path)
		return -ENOMEM;
	r = mkdir_p(s->path);
	if (r < 0)
		return kiln_error(ctx, r, "cannot create the store %s: %s", s->path, strerror(-r));
	/* index.json is replaced by path: a later chdir() must not move the store */
	abs = realpath(s->path, NULL);
	if (!abs)
		return kiln_error(ctx, errno, "cannot resolve the store %s: %m", s->path);
	free(s->path);
	s->path = abs;
	s->dir_fd = open_dir_at(AT_FDCWD, s->path);
	if (s->dir_fd < 0)
		return kiln_error(ctx, s->dir_fd, "cannot open the store %s: %s", s->path,
				  strerror(-s->dir_fd));
	r = mkdirat_ok(s->dir_fd, "blobs");
	if (r >= 0)
		r = mkdirat_ok(s->dir_fd, "blobs/sha256");
	if (r >= 0)
		r = mkdirat_ok(s->dir_fd, STORE_TMP_DIR);
	if (r >= 0) {
		s->blobs_fd = r = open_dir_at(s->dir_fd, "blobs/sha256");
		if (r >= 0)
			s->tmp_fd = r = open_dir_at(s->dir_fd, STORE_TMP_DIR);
	}
	if (r < 0)
		return kiln_error(ctx, r, "cannot set up the store %s: %s", s->path, strerror(-r));

	/* a lease against gc for as long as this store is open (see store-internal.h) */
	s->gc_lock_fd = openat(s->dir_fd, STORE_GC_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->gc_lock_fd < 0)
		return kiln_error(ctx, errno, "cannot open %s/%s: %m", s->path, STORE_GC_LOCK);
	/* blocks only while a gc runs */
	while (flock(s->gc_lock_fd, LOCK_SH) < 0)
		if (errno != EINTR)
			return kiln_error(ctx, errno, "cannot lock %s/%s: %m", s->path,
					  STORE_GC_LOCK);

	r = check_layout(ctx, s);
	if (r < 0)
		return r;
	r = ensure_index(ctx, s);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

void kiln_store_free(struct kiln_store *s)
{
	if (!s)
		return;
	closep(&s->dir_fd);
	closep(&s->blobs_fd);
	closep(&s->tmp_fd);
	closep(&s->gc_lock_fd);
	free(s->path);
	free(s);
}

const char *kiln_store_path(const struct kiln_store *s)
{
	return s->path;
}

int store_take_whole(struct kiln_ctx *ctx, struct kiln_store *s, const char *what)
{
	int err;

	/* this handle's shared lease becomes the whole store; a failed attempt drops the lease */
	if (flock(s->gc_lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	err = errno;
	store_release_whole(s);
	if (err == EWOULDBLOCK)
		return kiln_error(ctx, EBUSY,
				  "the store %s is in use by another kiln process (or another "
				  "handle in this one); %s when it has finished",
				  s->path, what);
	return kiln_error(ctx, err, "cannot lock %s/%s: %s", s->path, STORE_GC_LOCK,
			  strerror(err));
}

void store_release_whole(struct kiln_store *s)
{
	while (flock(s->gc_lock_fd, LOCK_SH) < 0 && errno == EINTR)
		;
}

int store_lock_index(struct kiln_ctx *ctx, struct kiln_store *s)
{
	_cleanup_close_ int fd = -1;

	fd = openat(s->dir_fd, STORE_INDEX_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return kiln_error(ctx, errno, "cannot open %s/%s: %m", s->path, STORE_INDEX_LOCK);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return kiln_error(ctx, errno, "cannot lock %s/%s: %m", s->path,
					  STORE_INDEX_LOCK);
	return TAKE_FD(fd);
}

/* ---- blobs ---- */

int kiln_store_has_blob(struct kiln_store *s, const struct kiln_digest *d, uint64_t *ret_size)
{
	struct stat st;

	if (!kiln_digest_is_valid(d->s))
		return -EINVAL;
	if (fstatat(s->blobs_fd, kiln_digest_hex(d), &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	if (ret_size)
		*ret_size = (uint64_t)st.st_size;
	return 1;
}

int kiln_store_open_blob(struct kiln_store *s, const struct kiln_digest *d)
{
	int fd;

	if (!kiln_digest_is_valid(d->s))
		return -EINVAL;
	fd = openat(s->blobs_fd, kiln_digest_hex(d), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

/* Unlink a blob found corrupt, unless it was replaced (by a good copy) since it was read. */
static void remove_corrupt(struct kiln_store *s, const struct kiln_digest *d, int fd)
{
	struct stat a, b;

	if (fstat(fd, &a) == 0 && fstatat(s->blobs_fd, kiln_digest_hex(d), &b,
					  AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		unlinkat(s->blobs_fd, kiln_digest_hex(d), 0);
}

int kiln_store_read_blob(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_digest *d,
			 size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct kiln_digest got;
	struct stat st;
	size_t len = 0;
	int r;

	fd = kiln_store_open_blob(s, d);
	if (fd == -ENOENT)
		return kiln_error(ctx, ENOENT, "blob %s is not in the store %s", d->s, s->path);
	if (fd < 0)
		return kiln_error(ctx, fd, "cannot open blob %s: %s", d->s, strerror(-fd));
	if (fstat(fd, &st) < 0)
		return kiln_error(ctx, errno, "cannot stat blob %s: %m", d->s);
	if (!S_ISREG(st.st_mode))
		return kiln_error(ctx, EBADMSG, "blob %s in %s is not a regular file", d->s,
				  s->path);
	if ((uint64_t)st.st_size > max)
		return kiln_error(ctx, EFBIG,
				  "blob %s is %jd bytes, more than the %zu allowed here", d->s,
				  (intmax_t)st.st_size, max);
	r = read_fd_all(fd, max, &buf, &len);
	if (r == -EFBIG)
		return kiln_error(ctx, EFBIG, "blob %s grew past the %zu bytes allowed here", d->s,
				  max);
	if (r < 0)
		return kiln_error(ctx, r, "cannot read blob %s: %s", d->s, strerror(-r));
	r = kiln_digest_of(ctx, buf, len, &got);
	if (r < 0)
		return r;
	if (!streq(got.s, d->s)) {
		remove_corrupt(s, d, fd);
		return kiln_error(ctx, EBADMSG,
				  "blob %s in the store %s is corrupt (its content hashes to %s); "
				  "it was removed: pull or import the image again",
				  d->s, s->path, got.s);
	}
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int kiln_store_put_blob(struct kiln_ctx *ctx, struct kiln_store *s, const void *data, size_t len,
			struct kiln_digest *ret)
{
	_cleanup_(kiln_blob_writer_freep) struct kiln_blob_writer *w = NULL;
	struct kiln_digest d;
	uint64_t size;
	int r;

	r = kiln_digest_of(ctx, data, len, &d);
	if (r < 0)
		return r;
	/* content-addressed: a blob of the right name and size is this content */
	if (kiln_store_has_blob(s, &d, &size) > 0 && size == len) {
		*ret = d;
		return 0;
	}
	r = kiln_blob_writer_new(ctx, s, &w);
	if (r < 0)
		return r;
	r = kiln_blob_writer_write(w, data, len);
	if (r < 0)
		return r;
	return kiln_blob_writer_commit(ctx, w, &d, ret);
}

/* ---- streaming writers ---- */

struct kiln_blob_writer {
	struct kiln_ctx *ctx; /* the one it was made with: writes report on it */
	struct kiln_store *s;
	struct kiln_hasher *hasher;
	int fd;
	char name[48]; /* in tmp/ */
	uint64_t size;
	int error; /* the first write error: the temporary file is then incomplete */
	bool done;
};

/*
 * What blob writers that were killed left in tmp/ (a pull's partial
 * blobs, which may be large), removed by the first writer of each handle
 * rather than at the next gc: each while holding its lock, so that a
 * writer that has just made its file finds it gone and makes another.
 * A temporary file of a live writer is locked, and stays.
 */
static void sweep_tmp_once(struct kiln_store *s)
{
	if (!__atomic_exchange_n(&s->tmp_swept, true, __ATOMIC_RELAXED))
		(void)sweep_unlocked_at(s->tmp_fd, NULL, NULL);
}

int kiln_blob_writer_new(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_blob_writer **ret)
{
	_cleanup_(kiln_blob_writer_freep) struct kiln_blob_writer *w = NULL;
	int r;

	sweep_tmp_once(s);

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->ctx = ctx;
	w->s = s;
	w->fd = -1;
	w->done = true; /* nothing to remove until the file exists */
	r = kiln_hasher_new(ctx, KILN_HASH_SHA256, &w->hasher);
	if (r < 0)
		return r;
	for (int tries = 0; w->fd < 0; tries++) {
		uint64_t rnd;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint64_t)(uintptr_t)w ^ ((uint64_t)getpid() << 32) ^ (uint64_t)tries;
		snprintf(w->name, sizeof(w->name), "blob-%d-%016llx", (int)getpid(),
			 (unsigned long long)rnd);
		w->fd = openat(s->tmp_fd, w->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (w->fd < 0 && (errno != EEXIST || tries > 100))
			return kiln_error(ctx, errno, "cannot create a temporary file in %s/%s: %m",
					  s->path, STORE_TMP_DIR);
		if (w->fd < 0)
			continue;
		/* tells gc and sweep_tmp_once() that this file is being written */
		r = lock_new_temp(w->fd);
		if (r == -ESTALE && tries < 100) {
			/* swept before it was locked: gone already */
			closep(&w->fd);
			w->fd = -1;
			continue;
		}
		if (r < 0) {
			(void)unlinkat(s->tmp_fd, w->name, 0);
			return kiln_error(ctx, -r, "cannot lock %s/%s/%s: %s", s->path,
					  STORE_TMP_DIR, w->name, strerror(-r));
		}
	}
	w->done = false;
	*ret = TAKE_PTR(w);
	return 0;
}

int kiln_blob_writer_write(struct kiln_blob_writer *w, const void *data, size_t len)
{
	int r;

	if (w->error < 0)
		return w->error;
	if (w->done)
		return -EINVAL;
	r = kiln_hasher_update(w->ctx, w->hasher, data, len);
	if (r < 0)
		return w->error = r;
	r = write_all(w->fd, data, len);
	if (r < 0)
		return w->error = kiln_error(w->ctx, r, "cannot write a blob into %s/%s: %s",
					     w->s->path, STORE_TMP_DIR, strerror(-r));
	w->size += len;
	return 0;
}

uint64_t kiln_blob_writer_size(const struct kiln_blob_writer *w)
{
	return w->size;
}

static void writer_abort(struct kiln_blob_writer *w)
{
	if (!w->done && w->fd >= 0)
		unlinkat(w->s->tmp_fd, w->name, 0);
	w->done = true;
}

int kiln_blob_writer_commit(struct kiln_ctx *ctx, struct kiln_blob_writer *w,
			    const struct kiln_digest *expect, struct kiln_digest *ret)
{
	struct kiln_digest got;
	int r;

	if (w->done)
		return kiln_error(ctx, EINVAL, "blob writer already committed or aborted");
	if (w->error < 0) {
		r = w->error;
		writer_abort(w);
		return kiln_error(ctx, r, "cannot write a blob to %s: %s", w->s->path,
				  strerror(-r));
	}
	r = kiln_hasher_final(ctx, w->hasher, &got);
	if (r < 0) {
		writer_abort(w);
		return r;
	}
	if (expect && !streq(expect->s, got.s)) {
		writer_abort(w);
		return kiln_error(ctx, EBADMSG,
				  "digest mismatch: expected %s, got %s (%ju bytes); the blob was "
				  "not stored",
				  expect->s, got.s, (uintmax_t)w->size);
	}
	/* blobs are immutable; the data must be on disk before its name is */
	if (fchmod(w->fd, 0444) < 0 || fsync(w->fd) < 0) {
		r = -errno;
		writer_abort(w);
		return kiln_error(ctx, r, "cannot sync blob %s: %s", got.s, strerror(-r));
	}
	if (renameat(w->s->tmp_fd, w->name, w->s->blobs_fd, kiln_digest_hex(&got)) < 0) {
		r = -errno;
		writer_abort(w);
		return kiln_error(ctx, r, "cannot move blob %s into %s: %s", got.s, w->s->path,
				  strerror(-r));
	}
	w->done = true;
	/* the rename itself must survive a crash before anything names the blob */
	if (fsync(w->s->blobs_fd) < 0)
		return kiln_error(ctx, errno, "cannot sync %s/blobs/sha256: %m", w->s->path);
	if (ret)
		*ret = got;
	return 0;
}

void kiln_blob_writer_free(struct kiln_blob_writer *w)
{
	if (!w)
		return;
	writer_abort(w);
	closep(&w->fd);
	kiln_hasher_free(w->hasher);
	free(w);
}

/* ---- the store's files ---- */

bool store_is_hex64(const char *s)
{
	size_t i = 0;

	for (; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

int store_list_blobs(struct kiln_ctx *ctx, struct kiln_store *s, char ***ret)
{
	int n = dir_names(s->blobs_fd, ret);

	if (n < 0)
		return kiln_error(ctx, n, "cannot list %s/blobs/sha256: %s", s->path, strerror(-n));
	return n;
}

/* Each leftover in directory @fd (@dir for its callers): temporary files whose writer died. */
static int sweep_dir(int fd, const char *dir, bool (*is_leftover)(int, const char *),
		     store_leftover_fn fn, void *userdata)
{
	_cleanup_(strv_freep) char **names = NULL;
	int n, r = 0;

	n = dir_names(fd, &names);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *rel = NULL;

		if (!is_leftover(fd, names[i]))
			continue;
		rel = dir ? path_join(dir, names[i]) : strdup(names[i]);
		if (!rel) {
			r = -ENOMEM;
			break;
		}
		if (!fn || fn(userdata, rel))
			(void)unlinkat(fd, names[i], 0);
	}
	return r;
}

/*
 * write_file_atomic()'s temporary files of index.json and oci-layout: locked
 * while written, as tmp/'s (index.json.tmp.*: an older kiln's, unlocked)
 */
static bool top_is_leftover(int fd, const char *name)
{
	if (strncmp(name, "index.json.tmp.", 15) == 0)
		return true;
	return atomic_is_temp_name(name, NULL) && unlocked_at(fd, name);
}

int store_sweep_leftovers(struct kiln_store *s, store_leftover_fn fn, void *userdata)
{
	int r = sweep_dir(s->tmp_fd, STORE_TMP_DIR, unlocked_at, fn, userdata);

	if (r >= 0)
		r = sweep_dir(s->dir_fd, NULL, top_is_leftover, fn, userdata);
	return r;
}
