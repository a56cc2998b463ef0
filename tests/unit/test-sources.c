/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Step sources (lib/build/sources.c) against a real HTTP server (python3's
 * http.server on loopback): fetches verified by both hashes, cache hits that
 * download nothing, mismatches that leave nothing behind, HTTP errors,
 * file:// urls, refused schemes, and placing files into a build directory
 * that holds hostile symlinks.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/evp.h>

#include <kiln/oci.h>

#include "fileio.h"
#include "sources.h"
#include "tap.h"

#define DATA_SIZE (3u << 20) /* over one read chunk, so streaming is exercised */

static char *root; /* the served directory's parent, made once for all tests */
static pid_t server_pid = -1;
static int server_port;
static char *data; /* the served file's bytes */
static char data_sha256[65], data_sha512[129];

static struct kiln_ctx *new_ctx(void)
{
	struct kiln_ctx *ctx = NULL;

	if (kiln_ctx_new(&ctx) < 0)
		abort();
	return ctx;
}

static char *path_in_root(const char *name)
{
	char *p = path_join(root, name);

	if (!p)
		abort();
	return p;
}

static void hex_of(const unsigned char *md, size_t n, char *ret)
{
	for (size_t i = 0; i < n; i++)
		sprintf(ret + 2 * i, "%02x", md[i]);
}

/* In the binary, not in a test's process (which _exit()s); tap.h removes the root. */
static void teardown(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, NULL, 0);
	}
}

/* A port nothing listens on now: the kernel's pick for a socket bound to port 0. */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool server_accepts(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* python3 -m http.server serving <root>/www on loopback; false when it does not come up. */
static bool start_server(void)
{
	_cleanup_free_ char *www = path_in_root("www");
	char port_s[16];
	int status;

	server_port = free_port();
	if (server_port < 0)
		return false;
	snprintf(port_s, sizeof(port_s), "%d", server_port);
	server_pid = fork();
	if (server_pid < 0)
		return false;
	if (server_pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* never outlive the test binary, whatever kills it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp("python3", "python3", "-m", "http.server", "--bind", "127.0.0.1", port_s,
		       "--directory", www, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct timespec ts = { .tv_nsec = 50 * 1000000L };

		if (server_accepts(server_port))
			return true;
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			server_pid = -1;
			return false;
		}
		nanosleep(&ts, NULL);
	}
	return false;
}

/*
 * Once, before the first test: the served file and its hashes, the server.
 * python3 is installed by scripts/install-deps.sh: a server that does not
 * come up fails the tests that use it.
 */
static bool server_up;

__attribute__((constructor(200))) static void setup_server(void)
{
	_cleanup_free_ char *www = NULL, *file = NULL;
	unsigned char md[64];
	uint32_t x = 12345;

	root = tap_temp_dir("test-sources");
	data = malloc(DATA_SIZE);
	if (!data)
		abort();
	for (size_t i = 0; i < DATA_SIZE; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (char)(x >> 16);
	}
	if (!EVP_Digest(data, DATA_SIZE, md, NULL, EVP_sha256(), NULL))
		abort();
	hex_of(md, 32, data_sha256);
	if (!EVP_Digest(data, DATA_SIZE, md, NULL, EVP_sha512(), NULL))
		abort();
	hex_of(md, 64, data_sha512);
	www = path_in_root("www");
	file = path_in_root("www/data.bin");
	if (mkdir(www, 0755) < 0 || write_file_atomic(file, data, DATA_SIZE, 0644) < 0)
		abort();
	atexit(teardown);
	server_up = start_server();
}

static void setup(void)
{
	if (!server_up)
		TAP_FAIL("python3 -m http.server did not start (scripts/install-deps.sh installs "
			 "python3)");
}

/* @name of the served directory: over HTTP, or as a file:// url when @file. */
static char *served_url(const char *name, bool file)
{
	char *u;
	int r;

	setup();
	if (file)
		r = asprintf(&u, "file://%s/www/%s", root, name);
	else
		r = asprintf(&u, "http://127.0.0.1:%d/%s", server_port, name);
	if (r < 0)
		abort();
	return u;
}

static char *http_url(const char *name)
{
	return served_url(name, false);
}

/* A new, empty cache directory in the test's $TMPDIR. */
static char *new_cache(const char *name)
{
	char *c = path_join(getenv("TMPDIR"), name);

	if (mkdir(c, 0755) < 0)
		abort();
	return c;
}

/* How many entries @dir holds (-1 when it cannot be read). */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Nothing cached and no temporary left: sources/ holds only an empty tmp/. */
static bool cache_is_empty(const char *cache)
{
	_cleanup_free_ char *sources = path_join(cache, "sources");
	_cleanup_free_ char *tmp = path_join(cache, "sources/tmp");

	return count_entries(sources) == 1 && count_entries(tmp) == 0;
}

/* All of @fd equals the served data. */
static bool fd_has_data(int fd)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	if (lseek(fd, 0, SEEK_SET) < 0 || read_fd_all(fd, 2 * DATA_SIZE, &buf, &len) < 0)
		return false;
	return len == DATA_SIZE && memcmp(buf, data, DATA_SIZE) == 0;
}

struct progress_seen {
	unsigned calls;
	uint64_t done;
	int64_t total;
};

static void on_progress(void *userdata, const char *url, uint64_t done, int64_t total)
{
	struct progress_seen *p = userdata;

	p->calls++;
	p->done = done;
	p->total = total;
}

/*
 * One source_fetch() into a new cache <root>/@cache_name, of the served
 * data by default: the test changes src or o before fetch_run().
 */
struct fetch {
	struct kiln_ctx *ctx;
	char *cache;
	char *url;
	struct kiln_source src;
	struct source_fetch_options o;
	int fd;
};

static void fetch_init(struct fetch *f, const char *cache_name, char *url)
{
	setup();
	*f = (struct fetch){ .ctx = new_ctx(), .cache = new_cache(cache_name), .fd = -1 };
	f->url = url ? url : http_url("data.bin");
	f->src =
	    (struct kiln_source){ .url = f->url, .sha256 = data_sha256, .sha512 = data_sha512 };
	f->o = (struct source_fetch_options){ .cache_dir = f->cache, .tls_verify = true };
}

static int fetch_run(struct fetch *f)
{
	closep(&f->fd);
	f->fd = -1;
	return source_fetch(f->ctx, &f->src, &f->o, &f->fd);
}

static void fetch_release(struct fetch *f)
{
	closep(&f->fd);
	kiln_ctx_free(f->ctx);
	free(f->cache);
	free(f->url);
}

#define _cleanup_fetch_ _cleanup_(fetch_release)

/* The fetch failed with @err, its message names the url and @what, nothing was cached. */
#define ASSERT_FETCH_FAILS(f, err, what)                                 \
	do {                                                             \
		ASSERT_EQ(fetch_run(f), -(err));                         \
		ASSERT_EQ((f)->fd, -1);                                  \
		ASSERT_CONTAINS(kiln_ctx_error((f)->ctx), (f)->src.url); \
		ASSERT_CONTAINS(kiln_ctx_error((f)->ctx), what);         \
		ASSERT_TRUE(cache_is_empty((f)->cache));                 \
	} while (0)

TEST(http_fetch_and_place)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };
	_cleanup_free_ char *build = NULL, *cached = NULL, *placed = NULL, *tmp = NULL;
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dirfd = -1, pfd = -1;
	struct progress_seen seen = { 0 };
	struct stat st;

	fetch_init(&f, "cache-http", NULL);
	f.o.progress = on_progress;
	f.o.userdata = &seen;
	ASSERT_OK(fetch_run(&f));
	ASSERT_TRUE(fd_has_data(f.fd));
	ASSERT_TRUE(seen.calls >= 1);
	ASSERT_EQ(seen.done, DATA_SIZE);
	ASSERT_EQ(seen.total, DATA_SIZE);
	ASSERT_EQ(fcntl(f.fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	ASSERT_TRUE(fcntl(f.fd, F_GETFD) & FD_CLOEXEC);

	/* in the cache under its sha512, and no temporary left */
	ASSERT_TRUE(asprintf(&cached, "%s/sources/%s", f.cache, data_sha512) > 0);
	ASSERT_OK(stat(cached, &st));
	ASSERT_EQ(st.st_size, DATA_SIZE);
	tmp = path_join(f.cache, "sources/tmp");
	ASSERT_EQ(count_entries(tmp), 0);

	build = new_cache("build-http");
	dirfd = open(build, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dirfd >= 0);
	ASSERT_OK(source_place(f.ctx, f.fd, dirfd, "sub/dir/data.bin"));
	placed = path_join(build, "sub/dir/data.bin");
	pfd = open(placed, O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(pfd >= 0);
	ASSERT_TRUE(fd_has_data(pfd));
	ASSERT_OK(fstat(pfd, &st));
	ASSERT_EQ(st.st_mode & 07777, 0644);
	/* only the file: no temporary beside it */
	dir = path_join(build, "sub/dir");
	ASSERT_EQ(count_entries(dir), 1);
	/* placed again over itself: replaced, still whole */
	ASSERT_OK(source_place(f.ctx, f.fd, dirfd, "./sub//dir/data.bin"));
	closep(&pfd);
	pfd = open(placed, O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(fd_has_data(pfd));
}

TEST(cache_hit_downloads_nothing)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };
	_cleanup_free_ char *missing = http_url("no-such-file.bin");
	struct progress_seen seen = { 0 };

	fetch_init(&f, "cache-hit", NULL);
	ASSERT_OK(fetch_run(&f));

	/* the same hashes at a url that 404s: only a cache hit can succeed */
	f.o.progress = on_progress;
	f.o.userdata = &seen;
	f.src.url = missing;
	ASSERT_OK(fetch_run(&f));
	ASSERT_TRUE(fd_has_data(f.fd));
	ASSERT_EQ(seen.calls, 0);
}

TEST(uppercase_hashes_are_accepted)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };
	char up256[65], up512[129];

	fetch_init(&f, "cache-upper", NULL);
	for (size_t i = 0; i < sizeof(up256); i++)
		up256[i] = (char)toupper((unsigned char)data_sha256[i]);
	for (size_t i = 0; i < sizeof(up512); i++)
		up512[i] = (char)toupper((unsigned char)data_sha512[i]);
	f.src.sha256 = up256;
	f.src.sha512 = up512;
	ASSERT_OK(fetch_run(&f));
	ASSERT_TRUE(fd_has_data(f.fd));
}

/* A fetch whose sha256 (@bad256) or sha512 is one digit off. */
static void check_mismatch(const char *cache_name, bool bad256)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };
	const char *good = bad256 ? data_sha256 : data_sha512;
	char bad[129];

	fetch_init(&f, cache_name, NULL);
	memcpy(bad, good, strlen(good) + 1);
	bad[0] = bad[0] == '0' ? '1' : '0';
	if (bad256)
		f.src.sha256 = bad;
	else
		f.src.sha512 = bad;
	ASSERT_FETCH_FAILS(&f, EBADMSG, bad256 ? "sha256 mismatch" : "sha512 mismatch");
	ASSERT_CONTAINS(kiln_ctx_error(f.ctx), bad);
	ASSERT_CONTAINS(kiln_ctx_error(f.ctx), good);
	ASSERT_CONTAINS(kiln_ctx_error(f.ctx),
			bad256 ? "fix the sha256 in pkg.yaml" : "fix the sha512 in pkg.yaml");
	ASSERT_FALSE(strstr(kiln_ctx_error(f.ctx), bad256 ? "sha512 mismatch" : "sha256 mismatch"));
}

TEST(wrong_sha512_caches_nothing)
{
	check_mismatch("cache-bad512", false);
}

TEST(wrong_sha256_caches_nothing)
{
	check_mismatch("cache-bad256", true);
}

TEST(malformed_hash_is_refused)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };
	char bad[129];

	fetch_init(&f, "cache-malformed", NULL);
	memcpy(bad, data_sha512, sizeof(bad));
	bad[5] = 'g';
	f.src.sha512 = bad;
	ASSERT_EQ(fetch_run(&f), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(f.ctx), "sha512 must be 128 hexadecimal digits");
}

TEST(http_404_names_the_status)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };

	fetch_init(&f, "cache-404", http_url("no-such-file.bin"));
	ASSERT_FETCH_FAILS(&f, ENOENT, "HTTP 404");
}

static void count_retries(void *userdata, enum kiln_log_level level, const char *msg)
{
	if (level == KILN_LOG_INFO && strstr(msg, "; retrying ("))
		(*(unsigned *)userdata)++;
}

/* A source mirror may come back: unlike a registry, one that refuses is tried again. */
TEST(connection_refused_is_retried_then_fails)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };
	unsigned retries = 0;
	char *url;

	setup();
	ASSERT_TRUE(asprintf(&url, "http://127.0.0.1:%d/data.bin", free_port()) > 0);
	fetch_init(&f, "cache-refused", url);
	kiln_ctx_set_log_fn(f.ctx, count_retries, &retries);
	kiln_ctx_set_log_level(f.ctx, KILN_LOG_INFO);
	ASSERT_FETCH_FAILS(&f, EIO, "download failed after 3 tries");
	ASSERT_EQ(retries, 2);
}

TEST(file_url)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };
	_cleanup_free_ char *missing = NULL;

	fetch_init(&f, "cache-file", served_url("data.bin", true));
	ASSERT_OK(fetch_run(&f));
	ASSERT_TRUE(fd_has_data(f.fd));

	/* a missing file names its path; "file://host/..." is refused */
	missing = served_url("nothing-here", true);
	f.src.url = missing;
	f.src.sha512 = "00000000000000000000000000000000000000000000000000000000000000000000"
		       "000000000000000000000000000000000000000000000000000000000000";
	ASSERT_EQ(fetch_run(&f), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(f.ctx), "nothing-here");
	f.src.url = "file://host/etc/passwd";
	ASSERT_EQ(fetch_run(&f), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(f.ctx), "file:///absolute/path");
}

TEST(unsupported_scheme_is_refused)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };

	fetch_init(&f, "cache-ftp", strdup("ftp://127.0.0.1/data.bin"));
	ASSERT_EQ(fetch_run(&f), -EPROTONOSUPPORT);
	ASSERT_CONTAINS(kiln_ctx_error(f.ctx), "ftp://127.0.0.1/data.bin");
	ASSERT_CONTAINS(kiln_ctx_error(f.ctx), "http://, https:// and file:///absolute/path");
}

TEST(cancel_stops_and_caches_nothing)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };
	atomic_bool cancel = true;

	fetch_init(&f, "cache-cancel", NULL);
	f.o.cancel = &cancel;
	ASSERT_FETCH_FAILS(&f, ECANCELED, "cancelled");
}

TEST(stale_temporaries_are_swept)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };
	_cleanup_free_ char *sources = NULL, *tmp = NULL, *old = NULL, *young = NULL;
	struct timespec times[2] = { { .tv_sec = 1000000 }, { .tv_sec = 1000000 } };

	fetch_init(&f, "cache-sweep", NULL);
	sources = path_join(f.cache, "sources");
	tmp = path_join(f.cache, "sources/tmp");
	ASSERT_OK(mkdir(sources, 0755));
	ASSERT_OK(mkdir(tmp, 0755));
	/* one left by a kiln killed long ago, one that may belong to a running download */
	old = path_join(tmp, "0123456789abcdef-AAAAAA");
	young = path_join(tmp, "0123456789abcdef-BBBBBB");
	ASSERT_OK(write_file_atomic(old, "partial", 7, 0644));
	ASSERT_OK(write_file_atomic(young, "partial", 7, 0644));
	ASSERT_OK(utimensat(AT_FDCWD, old, times, 0));
	ASSERT_OK(fetch_run(&f));
	ASSERT_TRUE(access(old, F_OK) < 0);
	ASSERT_OK(access(young, F_OK));
	ASSERT_EQ(count_entries(tmp), 1);
}

struct racer {
	struct kiln_source src;
	const char *cache;
	int r;
	bool good;
};

static void *race(void *userdata)
{
	struct racer *rc = userdata;
	struct source_fetch_options o = { .cache_dir = rc->cache, .tls_verify = true };
	struct kiln_ctx *ctx = new_ctx();
	int fd = -1;

	rc->r = source_fetch(ctx, &rc->src, &o, &fd);
	rc->good = rc->r >= 0 && fd_has_data(fd);
	if (fd >= 0)
		close(fd);
	kiln_ctx_free(ctx);
	return NULL;
}

TEST(parallel_fetches_of_one_source)
{
	_cleanup_free_ char *url = NULL, *cache = NULL;
	struct racer rc[4];
	pthread_t th[4];

	setup();
	url = http_url("data.bin");
	cache = new_cache("cache-race");
	for (size_t i = 0; i < ELEMENTSOF(rc); i++) {
		rc[i] = (struct racer){
			.src = { .url = url, .sha256 = data_sha256, .sha512 = data_sha512 },
			.cache = cache
		};
		ASSERT_EQ(pthread_create(&th[i], NULL, race, &rc[i]), 0);
	}
	for (size_t i = 0; i < ELEMENTSOF(rc); i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < ELEMENTSOF(rc); i++) {
		ASSERT_OK(rc[i].r);
		ASSERT_TRUE(rc[i].good);
	}
	{
		_cleanup_free_ char *tmp = path_join(cache, "sources/tmp");
		_cleanup_free_ char *sources = path_join(cache, "sources");

		ASSERT_EQ(count_entries(tmp), 0);
		ASSERT_EQ(count_entries(sources), 2);
	}
}

/* An fd on the served data, from a file:// fetch into a cache of its own. */
static int data_fd(const char *cache_name)
{
	_cleanup_fetch_ struct fetch f = { .fd = -1 };

	fetch_init(&f, cache_name, served_url("data.bin", true));
	if (fetch_run(&f) < 0)
		return -1;
	return TAKE_FD(f.fd);
}

TEST(place_refuses_escaping_destinations)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *build = NULL;
	_cleanup_close_ int fd = -1, dirfd = -1;
	static const char *const bad[] = { "../x", "/abs", "a/../../x", "a/..", "", "dir/", "." };

	setup();
	fd = data_fd("cache-place-bad");
	ASSERT_TRUE(fd >= 0);
	build = new_cache("build-bad");
	dirfd = open(build, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dirfd >= 0);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		ASSERT_EQ(source_place(ctx, fd, dirfd, bad[i]), -EINVAL);
		ASSERT_CONTAINS(kiln_ctx_error(ctx), bad[i]);
		ASSERT_CONTAINS(kiln_ctx_error(ctx), "source destination");
	}
	ASSERT_EQ(count_entries(build), 0);
}

TEST(place_stays_inside_through_symlinks)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *build = NULL, *link = NULL, *link2 = NULL, *outside = NULL;
	_cleanup_free_ char *escaped = NULL, *inside = NULL, *name = NULL, *dest = NULL;
	_cleanup_free_ char *outside_file = NULL;
	_cleanup_close_ int fd = -1, dirfd = -1, pfd = -1;
	struct stat st;

	setup();
	fd = data_fd("cache-place-link");
	ASSERT_TRUE(fd >= 0);
	build = new_cache("build-link");
	outside = new_cache("outside");
	ASSERT_TRUE(asprintf(&link, "%s/build", build) > 0);
	ASSERT_OK(mkdir(link, 0755));
	free(link);
	link = path_join(build, "build/link");
	ASSERT_OK(symlink("/", link));
	dirfd = open(build, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(dirfd >= 0);

	/* build/link -> / is the build directory itself, seen from inside */
	ASSERT_TRUE(asprintf(&name, "kiln-test-sources-escape-%d", (int)getpid()) > 0);
	ASSERT_TRUE(asprintf(&dest, "build/link/%s", name) > 0);
	ASSERT_TRUE(asprintf(&escaped, "/%s", name) > 0);
	ASSERT_OK(source_place(ctx, fd, dirfd, dest));
	if (lstat(escaped, &st) == 0) {
		unlink(escaped);
		TAP_FAIL("the file escaped to %s", escaped);
	}
	inside = path_join(build, name);
	pfd = open(inside, O_RDONLY | O_CLOEXEC);
	ASSERT_TRUE(pfd >= 0);
	ASSERT_TRUE(fd_has_data(pfd));

	/* a link to a real directory outside leads nowhere inside: refused, nothing written there
	 */
	link2 = path_join(build, "link2");
	ASSERT_OK(symlink(outside, link2));
	ASSERT_TRUE(source_place(ctx, fd, dirfd, "link2/x") < 0);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "link2/x");
	ASSERT_EQ(count_entries(outside), 0);

	/* a file named by a symlink is replaced, its target is not written */
	outside_file = path_join(outside, "target");
	ASSERT_OK(write_file_atomic(outside_file, "keep", 4, 0644));
	free(link2);
	link2 = path_join(build, "file-link");
	ASSERT_OK(symlink(outside_file, link2));
	ASSERT_OK(source_place(ctx, fd, dirfd, "file-link"));
	ASSERT_OK(lstat(link2, &st));
	ASSERT_TRUE(S_ISREG(st.st_mode));
	ASSERT_OK(stat(outside_file, &st));
	ASSERT_EQ(st.st_size, 4);
}

TAP_MAIN
