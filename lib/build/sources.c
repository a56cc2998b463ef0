/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Step sources: downloads streamed to a temporary file through both hashes
 * of pkg.yaml and renamed under their sha512 only once both match, so a
 * file under its final name is always a verified one and a cache hit needs
 * no rehash (a kernel tarball is 150 MB). Placing a source into a build
 * directory resolves every path component inside that directory: the tree
 * is written by the package's own steps and may hold any symlink.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include <kiln/oci.h>

#include "curl-util.h"
#include "fileio.h"
#include "http.h"
#include "log.h"
#include "sources.h"
#include "strbuf.h"

#define FETCH_TRIES 3
#define PROGRESS_INTERVAL_NS 250000000LL
#define READ_CHUNK (1u << 20)
#define QUOTE_MAX 200
/* A temporary nobody holds and nobody wrote for this long was left by a killed kiln. */
#define STALE_TMP_SECONDS (60 * 60)

static void curl_easy_cleanupp(CURL **c)
{
	if (*c)
		curl_easy_cleanup(*c);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* @s as @n lowercase hex digits in @ret (@n + 1 bytes); false when it is not @n hex digits. */
static bool hex_lower(const char *s, size_t n, char *ret)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		ret[i] = c;
	}
	ret[n] = '\0';
	return true;
}

/* ---- one download: a temporary file fed through both hashes ------------------ */

struct download {
	struct kiln_ctx *ctx;
	const struct source_fetch_options *o;
	const char *url;
	const char *qurl; /* @url quoted for messages */
	int fd; /* the temporary file */
	struct kiln_hasher *sha256;
	struct kiln_hasher *sha512;
	uint64_t done;
	int64_t total;
	int64_t last_progress;
	int error; /* -errno that ended a transfer from the sink, recorded on @ctx */
};

static bool cancelled(const struct download *d)
{
	return d->o->cancel && atomic_load_explicit(d->o->cancel, memory_order_relaxed);
}

static void report_progress(struct download *d, bool last)
{
	int64_t t;

	if (!d->o->progress)
		return;
	t = now_ns();
	if (!last && t - d->last_progress < PROGRESS_INTERVAL_NS)
		return;
	d->last_progress = t;
	d->o->progress(d->o->userdata, d->url, d->done, d->total);
}

static int write_failed(struct download *d, int err)
{
	return kiln_error(d->ctx, err,
			  "source \"%s\": cannot write the download to %s/sources/tmp: %s", d->qurl,
			  d->o->cache_dir, strerror(err));
}

/* Start again from nothing, for a new try. */
static int download_reset(struct download *d)
{
	int r;

	if (ftruncate(d->fd, 0) < 0)
		return write_failed(d, errno);
	r = kiln_hasher_reset(d->ctx, d->sha256);
	if (r >= 0)
		r = kiln_hasher_reset(d->ctx, d->sha512);
	if (r < 0)
		return r;
	d->done = 0;
	d->total = -1;
	d->error = 0;
	return 0;
}

static int download_add(struct download *d, const void *data, size_t len)
{
	const char *p = data;
	size_t left = len;
	int r;

	/* pwrite at our own count: a reset needs no seek, and a short write is just continued */
	while (left) {
		ssize_t n = pwrite(d->fd, p, left, (off_t)(d->done + (len - left)));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return write_failed(d, errno);
		p += n;
		left -= (size_t)n;
	}
	r = kiln_hasher_update(d->ctx, d->sha256, data, len);
	if (r >= 0)
		r = kiln_hasher_update(d->ctx, d->sha512, data, len);
	if (r < 0)
		return r;
	d->done += len;
	report_progress(d, false);
	return 0;
}

/* ---- http and https ---------------------------------------------------------- */

struct http_download {
	struct download *d;
	const struct http_response *resp;
};

/* The body of a 2xx answer, into the file and both hashes (an error page never is). */
static int http_sink(void *userdata, long status, const void *data, size_t len)
{
	struct http_download *h = userdata;
	struct download *d = h->d;
	int r;

	if (d->done == 0)
		d->total = h->resp->content_length;
	r = download_add(d, data, len);
	if (r < 0)
		d->error = r;
	return r;
}

static int status_errno(long status)
{
	if (status == 404 || status == 410)
		return ENOENT;
	if (status == 401 || status == 403)
		return EACCES;
	return EIO;
}

static int download_cancelled(struct download *d)
{
	return kiln_error(d->ctx, ECANCELED, "source \"%s\": download cancelled", d->qurl);
}

static int fetch_http(struct download *d)
{
	_cleanup_(curl_easy_cleanupp) CURL *curl = NULL;
	_cleanup_(http_response_release) struct http_response resp = { .content_length = -1 };
	_cleanup_free_ char *what = NULL;
	struct http_download h = { .d = d, .resp = &resp };
	const struct http_request req = {
		.method = "GET",
		.url = d->url,
		.sink = http_sink,
		.sink_userdata = &h,
		.follow_redirects = true,
		.tls_verify = d->o->tls_verify,
		.cancel = d->o->cancel,
	};
	/* a mirror that cannot be reached now may be back in a moment */
	const struct http_retry retry = {
		.tries = FETCH_TRIES,
		.unreachable = true,
		.cancel = d->o->cancel,
	};
	char after[32] = "";
	unsigned tries;
	int r, k;

	if (asprintf(&what, "source \"%s\"", d->qurl) < 0) {
		what = NULL;
		return -ENOMEM;
	}
	r = kiln_curl_global_init(d->ctx);
	if (r < 0) {
		kiln_error_prefix(d->ctx, "source \"%s\"", d->qurl);
		return r;
	}
	curl = curl_easy_init();
	if (!curl)
		return -ENOMEM;
	for (tries = 1;; tries++) {
		r = download_reset(d);
		if (r < 0)
			return r;
		r = http_perform(curl, &req, &resp);
		if (r == -ECANCELED)
			return download_cancelled(d);
		if (d->error < 0)
			return d->error; /* the file or a hash failed: on the context already */
		if (r < 0 && r != -EIO)
			return kiln_error(d->ctx, r, "source \"%s\": %s", d->qurl, strerror(-r));
		if (r == 0 && resp.status >= 200 && resp.status < 300)
			return 0;
		k = http_retry(d->ctx, &retry, tries, what, r, &resp);
		if (k < 0)
			return download_cancelled(d);
		if (k == 0)
			break;
	}
	if (tries > 1)
		snprintf(after, sizeof(after), " after %u tries", tries);
	if (r < 0)
		return kiln_error(
		    d->ctx, EIO,
		    "source \"%s\": download failed%s: %s; check the url and the network", d->qurl,
		    after, resp.curl_error);
	if (http_status_is_transient(resp.status))
		return kiln_error(d->ctx, EIO,
				  "source \"%s\": the server answered HTTP %ld%s; try again later",
				  d->qurl, resp.status, after);
	return kiln_error(d->ctx, status_errno(resp.status),
			  "source \"%s\": the server answered HTTP %ld; check the url in pkg.yaml",
			  d->qurl, resp.status);
}

/* ---- file:///absolute/path ----------------------------------------------------- */

static int fetch_file(struct download *d, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return kiln_error(d->ctx, errno, "source \"%s\": cannot open the file: %m",
				  d->qurl);
	if (!S_ISREG(st.st_mode))
		return kiln_error(d->ctx, EINVAL, "source \"%s\": not a regular file", d->qurl);
	buf = malloc(READ_CHUNK);
	if (!buf)
		return -ENOMEM;
	r = download_reset(d);
	if (r < 0)
		return r;
	d->total = st.st_size;
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kiln_error(d->ctx, errno, "source \"%s\": cannot read the file: %m",
					  d->qurl);
		if (n == 0)
			return 0;
		if (cancelled(d))
			return kiln_error(d->ctx, ECANCELED, "source \"%s\": copy cancelled",
					  d->qurl);
		r = download_add(d, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

/* ---- the cache ------------------------------------------------------------------- */

/* The verified file under @path, or -ENOENT (an empty file counts as missing). */
static int open_cached(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	struct stat st;

	if (fd < 0)
		return errno == ELOOP ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return -ENOENT;
	return TAKE_FD(fd);
}

/* Remove temporaries of downloads that a killed kiln left: unlocked and long untouched. */
static void sweep_stale(int tmpfd)
{
	_cleanup_close_ int dfd = openat(tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	time_t now = time(NULL);
	struct dirent *de;
	DIR *dir;

	if (dfd < 0 || !(dir = fdopendir(dfd)))
		return;
	TAKE_FD(dfd);
	while ((de = readdir(dir))) {
		_cleanup_close_ int fd = -1;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    now - st.st_mtime < STALE_TMP_SECONDS || flock(fd, LOCK_EX | LOCK_NB) < 0)
			continue;
		unlinkat(dirfd(dir), de->d_name, 0);
	}
	closedir(dir);
}

/*
 * A locked temporary file in <cache>/sources/tmp, made with its parents.
 * The lock tells sweep_stale() in other processes that it is being written.
 */
static int open_tmp(struct kiln_ctx *ctx, const char *cache_dir, const char *sha512,
		    struct atomic_file *ret)
{
	_cleanup_free_ char *sources = path_join(cache_dir, "sources");
	_cleanup_free_ char *tmpdir = path_join(cache_dir, "sources/tmp");
	_cleanup_close_ int tmpfd = -1;
	const char *dirs[] = { cache_dir, sources, tmpdir };
	struct atomic_file f = { .fd = -1 };

	if (!sources || !tmpdir)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if (mkdir(dirs[i], 0755) < 0 && errno != EEXIST)
			return kiln_error(ctx, errno, "cannot create %s: %m; check KILN_CACHE_DIR",
					  dirs[i]);
	tmpfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tmpfd >= 0)
		sweep_stale(tmpfd);
	if (asprintf(&f.tmp, "%s/%.16s-XXXXXX", tmpdir, sha512) < 0)
		return -ENOMEM;
	f.fd = mkostemp(f.tmp, O_CLOEXEC);
	if (f.fd < 0 || flock(f.fd, LOCK_EX | LOCK_NB) < 0) {
		int r = kiln_error(ctx, errno, "cannot create a temporary file in %s: %m", tmpdir);

		atomic_file_release(&f);
		return r;
	}
	*ret = f;
	return 0;
}

static int verify(struct download *d, const char *sha256, const char *sha512)
{
	_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
	struct kiln_digest got256;
	char got512[KILN_HASH_HEX_MAX + 1];
	bool bad256, bad512;
	int r;

	r = kiln_hasher_final(d->ctx, d->sha256, &got256);
	if (r >= 0)
		r = kiln_hasher_final_hex(d->ctx, d->sha512, got512);
	if (r < 0)
		return r;
	bad256 = !streq(sha256, kiln_digest_hex(&got256));
	bad512 = !streq(sha512, got512);
	if (!bad256 && !bad512)
		return 0;
	if (bad256)
		strbuf_addf(&msg, "sha256 mismatch: expected %s, got %s", sha256,
			    kiln_digest_hex(&got256));
	if (bad512)
		strbuf_addf(&msg, "%ssha512 mismatch: expected %s, got %s", bad256 ? "; " : "",
			    sha512, got512);
	return kiln_error(
	    d->ctx, EBADMSG, "source \"%s\": %s; fix the %s in pkg.yaml or check the download",
	    d->qurl, strempty(msg.buf), bad512 ? (bad256 ? "hashes" : "sha512") : "sha256");
}

int source_fetch(struct kiln_ctx *ctx, const struct kiln_source *src,
		 const struct source_fetch_options *o, int *ret_fd)
{
	_cleanup_(kiln_hasher_freep) struct kiln_hasher *h256 = NULL, *h512 = NULL;
	_cleanup_(atomic_file_release) struct atomic_file f = { .fd = -1 };
	_cleanup_free_ char *qurl = NULL, *final = NULL;
	_cleanup_close_ int rofd = -1;
	char sha256[65], sha512[129];
	struct download d;
	bool is_file;
	int r;

	if (!src || !src->url || !o || !o->cache_dir)
		return kiln_error(ctx, EINVAL, "source_fetch: no source or no cache directory");
	qurl = quote_for_message(src->url, strlen(src->url), QUOTE_MAX);
	if (!qurl)
		return -ENOMEM;
	is_file = strncasecmp(src->url, "file://", 7) == 0;
	if (is_file && src->url[7] != '/')
		return kiln_error(ctx, EINVAL,
				  "source \"%s\": a file url must be file:///absolute/path", qurl);
	if (!is_file && strncasecmp(src->url, "http://", 7) != 0 &&
	    strncasecmp(src->url, "https://", 8) != 0)
		return kiln_error(ctx, EPROTONOSUPPORT,
				  "source \"%s\": unsupported url scheme; kiln fetches http://, "
				  "https:// and file:///absolute/path urls",
				  qurl);
	if (!hex_lower(src->sha256, 64, sha256))
		return kiln_error(ctx, EINVAL,
				  "source \"%s\": sha256 must be 64 hexadecimal digits; fix it in "
				  "pkg.yaml",
				  qurl);
	if (!hex_lower(src->sha512, 128, sha512))
		return kiln_error(ctx, EINVAL,
				  "source \"%s\": sha512 must be 128 hexadecimal digits; fix it in "
				  "pkg.yaml",
				  qurl);

	if (asprintf(&final, "%s/sources/%s", o->cache_dir, sha512) < 0)
		return -ENOMEM;
	r = open_cached(final);
	if (r >= 0) {
		*ret_fd = r;
		return 0;
	}
	if (r != -ENOENT)
		return kiln_error(ctx, r, "cannot open the cached source %s: %s", final,
				  strerror(-r));

	r = kiln_hasher_new(ctx, KILN_HASH_SHA256, &h256);
	if (r >= 0)
		r = kiln_hasher_new(ctx, KILN_HASH_SHA512, &h512);
	if (r < 0)
		return r;
	r = open_tmp(ctx, o->cache_dir, sha512, &f);
	if (r < 0)
		return r;
	d = (struct download){
		.ctx = ctx,
		.o = o,
		.url = src->url,
		.qurl = qurl,
		.fd = f.fd,
		.sha256 = h256,
		.sha512 = h512,
		.total = -1,
	};
	r = is_file ? fetch_file(&d, src->url + 7) : fetch_http(&d);
	if (r < 0)
		return r;
	report_progress(&d, true);
	r = verify(&d, sha256, sha512);
	if (r < 0)
		return r;

	/* the same inode, whoever's rename ends up under the final name */
	rofd = open(f.tmp, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (rofd < 0)
		return kiln_error(ctx, errno, "cannot reopen %s: %m", f.tmp);
	f.path = final;
	r = atomic_file_commit(&f, 0644);
	if (r < 0)
		return kiln_error(ctx, r, "cannot store the source \"%s\" as %s: %s", qurl, final,
				  strerror(-r));
	*ret_fd = TAKE_FD(rofd);
	return 0;
}

/* ---- placing a source in a build directory ---------------------------------- */

/*
 * @dest without "." and empty components, in @ret ("a/b/name"); *@name
 * points at its last component. -EINVAL for an absolute path, "..", or
 * one that names no file.
 */
static int clean_destination(const char *dest, char **ret, char **name)
{
	_cleanup_free_ char *s = NULL, *out = NULL;
	char *save = NULL, *last = NULL;
	const char *base;
	size_t len = 0;

	if (!dest || dest[0] == '/' || dest[0] == '\0')
		return -EINVAL;
	/* "dir/" and "dir/." name a directory, not the file to write */
	base = strrchr(dest, '/');
	base = base ? base + 1 : dest;
	if (base[0] == '\0' || streq(base, "."))
		return -EINVAL;
	s = strdup(dest);
	out = calloc(1, strlen(dest) + 1);
	if (!s || !out)
		return -ENOMEM;
	for (char *c = strtok_r(s, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		size_t n = strlen(c);

		if (streq(c, ".."))
			return -EINVAL;
		if (streq(c, "."))
			continue;
		if (len)
			out[len++] = '/';
		last = out + len;
		memcpy(last, c, n);
		len += n;
	}
	*name = last;
	*ret = TAKE_PTR(out);
	return 0;
}

/* A new file named ".<name>.<random>" in @dirfd, for writing; its name in *@tmp. */
static int create_tmp_at(int dirfd, const char *name, char **tmp)
{
	for (unsigned tries = 0;; tries++) {
		uint64_t rnd = 0;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32) ^ tries;
		free(*tmp);
		if (asprintf(tmp, ".%.200s.%016llx", name, (unsigned long long)rnd) < 0) {
			*tmp = NULL;
			return -ENOMEM;
		}
		fd =
		    openat(dirfd, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST || tries > 100) {
			free(*tmp);
			*tmp = NULL;
			return -errno;
		}
	}
}

int source_place(struct kiln_ctx *ctx, int fd, int dirfd, const char *destination)
{
	_cleanup_free_ char *path = NULL, *qdest = NULL, *tmp = NULL, *name = NULL;
	_cleanup_close_ int parent = -1, out = -1;
	char *last;
	int r;

	qdest = quote_for_message(strempty(destination), strlen(strempty(destination)), QUOTE_MAX);
	if (!qdest)
		return -ENOMEM;
	r = clean_destination(destination, &path, &last);
	if (r == -EINVAL)
		return kiln_error(ctx, EINVAL,
				  "source destination \"%s\": must name a file by a relative path "
				  "without \"..\"; fix it in pkg.yaml",
				  qdest);
	if (r < 0)
		return r;
	name = strdup(last);
	if (!name)
		return -ENOMEM;
	/* the parent: everything before the name ("" for the build directory itself) */
	if (last == path)
		path[0] = '\0';
	else
		last[-1] = '\0';
	r = open_dir_in_root(dirfd, path, true, &parent);
	if (r < 0)
		return kiln_error(ctx, r,
				  "source destination \"%s\": cannot make its directory: %s%s",
				  qdest, strerror(-r),
				  r == -ENOENT ? " (symlinks in the build directory resolve inside "
						 "it, as in the sandbox)"
					       : "");
	out = create_tmp_at(parent, name, &tmp);
	if (out < 0)
		return kiln_error(ctx, out, "source destination \"%s\": cannot create a file: %s",
				  qdest, strerror(-out));
	r = copy_fd_data(fd, out);
	if (r >= 0 && fchmod(out, 0644) < 0)
		r = -errno;
	/* no fsync: the build directory is scratch, made again whole if kiln dies */
	if (r >= 0 && renameat(parent, tmp, parent, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(parent, tmp, 0);
		return kiln_error(ctx, r, "source destination \"%s\": cannot write it: %s", qdest,
				  strerror(-r));
	}
	return 0;
}
