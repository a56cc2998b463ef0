/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry client's parts that need no registry: WWW-Authenticate
 * challenges, the auth-file lookup (order, key matching, bad entries),
 * which hosts may use plain HTTP, Location resolution, images.json, and
 * the retry policy every HTTP client of kiln shares (lib/util/http.c: the
 * registry client and step source downloads).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <kiln/registry.h>

#include "fileio.h"
#include "http.h"
#include "tap.h"

/* ---- challenges ---- */

TEST(challenge_docker_hub)
{
	struct kiln_auth_challenge c = { 0 };

	ASSERT_OK(kiln_auth_challenge_parse(
	    "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
	    "scope=\"repository:library/alpine:pull\"",
	    &c));
	ASSERT_STREQ(c.scheme, "Bearer");
	ASSERT_STREQ(c.realm, "https://auth.docker.io/token");
	ASSERT_STREQ(c.service, "registry.docker.io");
	ASSERT_EQ(c.n_scopes, 1);
	ASSERT_STREQ(c.scopes[0], "repository:library/alpine:pull");
	ASSERT_TRUE(c.error == NULL);
	kiln_auth_challenge_release(&c);
}

TEST(challenge_several_scopes_and_error)
{
	struct kiln_auth_challenge c = { 0 };

	ASSERT_OK(kiln_auth_challenge_parse(
	    "bearer REALM=\"http://127.0.0.1:5003/token\" , service=kiln-registry,"
	    "error=\"insufficient_scope\","
	    "scope=\"repository:a/b:pull,push  repository:c/d:pull\"",
	    &c));
	ASSERT_STREQ(c.scheme, "Bearer");
	ASSERT_STREQ(c.realm, "http://127.0.0.1:5003/token");
	ASSERT_STREQ(c.service, "kiln-registry");
	ASSERT_STREQ(c.error, "insufficient_scope");
	ASSERT_EQ(c.n_scopes, 2);
	ASSERT_STREQ(c.scopes[0], "repository:a/b:pull,push");
	ASSERT_STREQ(c.scopes[1], "repository:c/d:pull");
	kiln_auth_challenge_release(&c);
}

TEST(challenge_quoted_escapes)
{
	struct kiln_auth_challenge c = { 0 };

	ASSERT_OK(kiln_auth_challenge_parse("Bearer realm=\"a\\\"b,c\\\\d\", service=\"x y\"", &c));
	ASSERT_STREQ(c.realm, "a\"b,c\\d");
	ASSERT_STREQ(c.service, "x y");
	kiln_auth_challenge_release(&c);
}

TEST(challenge_bearer_preferred_over_basic)
{
	struct kiln_auth_challenge c = { 0 };

	ASSERT_OK(kiln_auth_challenge_parse(
	    "Basic realm=\"kiln-test\", Bearer realm=\"https://t/token\",service=\"s\"", &c));
	ASSERT_STREQ(c.scheme, "Bearer");
	ASSERT_STREQ(c.realm, "https://t/token");
	kiln_auth_challenge_release(&c);

	ASSERT_OK(kiln_auth_challenge_parse("Negotiate, Basic realm=\"kiln-test\"", &c));
	ASSERT_STREQ(c.scheme, "Basic");
	ASSERT_STREQ(c.realm, "kiln-test");
	kiln_auth_challenge_release(&c);
}

TEST(challenge_first_parameter_wins_unknown_ignored)
{
	struct kiln_auth_challenge c = { 0 };

	ASSERT_OK(kiln_auth_challenge_parse(
	    "Bearer realm=\"first\", realm=\"second\", charset=\"UTF-8\"", &c));
	ASSERT_STREQ(c.realm, "first");
	ASSERT_TRUE(c.service == NULL);
	ASSERT_EQ(c.n_scopes, 0);
	kiln_auth_challenge_release(&c);
}

TEST(challenge_malformed)
{
	struct kiln_auth_challenge c = { 0 };
	char *huge;

	ASSERT_EQ(kiln_auth_challenge_parse("Bearer realm=\"unterminated", &c), -EBADMSG);
	ASSERT_EQ(kiln_auth_challenge_parse("Bearer realm=\"trailing\\", &c), -EBADMSG);
	ASSERT_EQ(kiln_auth_challenge_parse("realm=\"no scheme\"", &c), -EBADMSG);
	ASSERT_EQ(kiln_auth_challenge_parse("", &c), -EBADMSG);
	ASSERT_EQ(kiln_auth_challenge_parse("Bearer =x", &c), -EBADMSG);
	ASSERT_EQ(kiln_auth_challenge_parse("Negotiate abc", &c), -EOPNOTSUPP);
	huge = malloc(20000);
	ASSERT_TRUE(huge);
	memset(huge, 'a', 19999);
	huge[19999] = '\0';
	memcpy(huge, "Bearer realm=", 13);
	ASSERT_EQ(kiln_auth_challenge_parse(huge, &c), -EBADMSG);
	free(huge);
}

/* ---- auth files ---- */

static char *tmpdir;

static void write_text(const char *path, const char *text)
{
	ASSERT_OK(write_file_atomic(path, text, strlen(text), 0600));
}

/*
 * A clean environment under a fresh directory: no file of the caller's is
 * read. The test's own process changes it, and tap.h removes the directory.
 */
static void setup_env(void)
{
	char path[512];

	tmpdir = tap_temp_dir("test-registry");
	setenv("HOME", tmpdir, 1);
	snprintf(path, sizeof(path), "%s/run", tmpdir);
	setenv("XDG_RUNTIME_DIR", path, 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("DOCKER_CONFIG");
	unsetenv("REGISTRY_AUTH_FILE");
	snprintf(path, sizeof(path), "%s/run", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/run/containers", tmpdir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/.docker", tmpdir);
	mkdir(path, 0700);
}

static void in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* base64("kiln:s3cret") and base64("other:pw") */
#define AUTH_KILN "a2lsbjpzM2NyZXQ="
#define AUTH_OTHER "b3RoZXI6cHc="

TEST(credentials_none)
{
	struct kiln_ctx *ctx;
	struct kiln_credentials cr = { 0 };
	char *searched = NULL;

	setup_env();
	ASSERT_OK(kiln_ctx_new(&ctx));
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "127.0.0.1:5000", "kiln/test", &cr, &searched),
		  0);
	ASSERT_CONTAINS(searched, "/run/containers/auth.json");
	ASSERT_CONTAINS(searched, "/.docker/config.json");
	ASSERT_CONTAINS(searched, "/.dockercfg");
	free(searched);
	kiln_ctx_free(ctx);
}

TEST(credentials_order_first_file_wins)
{
	struct kiln_ctx *ctx;
	struct kiln_credentials cr = { 0 };
	char p[512];

	setup_env();
	ASSERT_OK(kiln_ctx_new(&ctx));
	in_tmp(p, sizeof(p), ".docker/config.json");
	write_text(p, "{\"auths\":{\"reg.example:5000\":{\"auth\":\"" AUTH_OTHER "\"}}}");
	in_tmp(p, sizeof(p), "run/containers/auth.json");
	write_text(p, "{\"auths\":{\"reg.example:5000\":{\"auth\":\"" AUTH_KILN "\"}}}");
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "reg.example:5000", "a/b", &cr, NULL), 1);
	ASSERT_STREQ(cr.username, "kiln");
	ASSERT_STREQ(cr.password, "s3cret");
	ASSERT_CONTAINS(cr.source, "run/containers/auth.json");
	ASSERT_TRUE(strstr(cr.source, "s3cret") == NULL);
	kiln_credentials_release(&cr);

	/* $REGISTRY_AUTH_FILE comes before them all */
	in_tmp(p, sizeof(p), "explicit.json");
	write_text(p, "{\"auths\":{\"reg.example:5000\":{\"auth\":\"" AUTH_OTHER "\"}}}");
	setenv("REGISTRY_AUTH_FILE", p, 1);
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "reg.example:5000", "a/b", &cr, NULL), 1);
	ASSERT_STREQ(cr.username, "other");
	kiln_credentials_release(&cr);
	unsetenv("REGISTRY_AUTH_FILE");

	/* a file given explicitly is the only one read */
	in_tmp(p, sizeof(p), "empty.json");
	write_text(p, "{\"auths\":{}}");
	ASSERT_EQ(kiln_credentials_lookup(ctx, p, "reg.example:5000", "a/b", &cr, NULL), 0);
	kiln_ctx_free(ctx);
}

TEST(credentials_longest_key_wins)
{
	struct kiln_ctx *ctx;
	struct kiln_credentials cr = { 0 };
	char p[512];

	setup_env();
	ASSERT_OK(kiln_ctx_new(&ctx));
	in_tmp(p, sizeof(p), "run/containers/auth.json");
	write_text(p, "{\"auths\":{\"reg.example\":{\"auth\":\"" AUTH_OTHER "\"},"
		      "\"reg.example/team\":{\"auth\":\"" AUTH_KILN "\"}}}");
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "reg.example", "team/app", &cr, NULL), 1);
	ASSERT_STREQ(cr.username, "kiln");
	kiln_credentials_release(&cr);
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "reg.example", "teamx/app", &cr, NULL), 1);
	ASSERT_STREQ(cr.username, "other");
	kiln_credentials_release(&cr);
	/* another port is another registry */
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "reg.example:5000", "team/app", &cr, NULL), 0);
	kiln_ctx_free(ctx);
}

TEST(credentials_docker_hub_legacy_keys)
{
	struct kiln_ctx *ctx;
	struct kiln_credentials cr = { 0 };
	char p[512];

	setup_env();
	ASSERT_OK(kiln_ctx_new(&ctx));
	in_tmp(p, sizeof(p), "dockerconf");
	mkdir(p, 0700);
	setenv("DOCKER_CONFIG", p, 1);
	in_tmp(p, sizeof(p), "dockerconf/config.json");
	write_text(p, "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"" AUTH_KILN "\"},"
		      "\"http://myreg:8080/v2/\":{\"auth\":\"" AUTH_OTHER "\"}}}");
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "docker.io", "library/alpine", &cr, NULL), 1);
	ASSERT_STREQ(cr.username, "kiln");
	kiln_credentials_release(&cr);
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "myreg:8080", "x", &cr, NULL), 1);
	ASSERT_STREQ(cr.username, "other");
	kiln_credentials_release(&cr);
	unsetenv("DOCKER_CONFIG");

	/* ~/.dockercfg: entries at the top level */
	in_tmp(p, sizeof(p), ".dockercfg");
	write_text(p,
		   "{\"https://legacy.example/v1/\":{\"auth\":\"" AUTH_KILN "\",\"email\":\"\"}}");
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "legacy.example", "x/y", &cr, NULL), 1);
	ASSERT_STREQ(cr.password, "s3cret");
	kiln_credentials_release(&cr);
	kiln_ctx_free(ctx);
}

TEST(credentials_bad_entries)
{
	struct kiln_ctx *ctx;
	struct kiln_credentials cr = { 0 };
	char p[512], q[512];

	setup_env();
	ASSERT_OK(kiln_ctx_new(&ctx));
	/* unpadded base64 is refused, and the next file is not consulted */
	in_tmp(p, sizeof(p), "run/containers/auth.json");
	write_text(p, "{\"auths\":{\"r.example\":{\"auth\":\"a2lsbjpzM2NyZXQ\"}}}");
	in_tmp(q, sizeof(q), ".docker/config.json");
	write_text(q, "{\"auths\":{\"r.example\":{\"auth\":\"" AUTH_KILN "\"}}}");
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "r.example", "a", &cr, NULL), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "not padded base64");
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "\"r.example\"");

	/* no colon */
	write_text(p, "{\"auths\":{\"r.example\":{\"auth\":\"a2lsbg==\"}}}");
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "r.example", "a", &cr, NULL), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "user:password");

	/* not JSON: named */
	write_text(p, "{\"auths\":");
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "r.example", "a", &cr, NULL), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "auth.json");

	/* an entry without "auth" wins and means anonymous */
	write_text(p, "{\"auths\":{\"r.example\":{}}}");
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "r.example", "a", &cr, NULL), 0);

	/* a password may hold colons */
	write_text(p, "{\"auths\":{\"r.example\":{\"auth\":\"dTpwOnc6eA==\"}}}");
	ASSERT_EQ(kiln_credentials_lookup(ctx, NULL, "r.example", "a", &cr, NULL), 1);
	ASSERT_STREQ(cr.username, "u");
	ASSERT_STREQ(cr.password, "p:w:x");
	kiln_credentials_release(&cr);
	kiln_ctx_free(ctx);
}

/* ---- hosts and URLs ---- */

TEST(local_hosts)
{
	ASSERT_TRUE(kiln_registry_host_is_local("localhost"));
	ASSERT_TRUE(kiln_registry_host_is_local("localhost:5000"));
	ASSERT_TRUE(kiln_registry_host_is_local("LOCALHOST:5000"));
	ASSERT_TRUE(kiln_registry_host_is_local("127.0.0.1:5005"));
	ASSERT_TRUE(kiln_registry_host_is_local("127.1.2.3"));
	ASSERT_TRUE(kiln_registry_host_is_local("[::1]:5000"));
	ASSERT_TRUE(kiln_registry_host_is_local("[::1]"));
	ASSERT_FALSE(kiln_registry_host_is_local("127.0.0.1.example.com"));
	ASSERT_FALSE(kiln_registry_host_is_local("128.0.0.1"));
	ASSERT_FALSE(kiln_registry_host_is_local("127.0.0.256"));
	ASSERT_FALSE(kiln_registry_host_is_local("127.0.0"));
	ASSERT_FALSE(kiln_registry_host_is_local("localhost.example:5000"));
	ASSERT_FALSE(kiln_registry_host_is_local("[::2]:5000"));
	ASSERT_FALSE(kiln_registry_host_is_local("docker.io"));
	ASSERT_FALSE(kiln_registry_host_is_local("0x7f.0.0.1"));
	ASSERT_STREQ(kiln_registry_api_host("docker.io"), "registry-1.docker.io");
	ASSERT_STREQ(kiln_registry_api_host("ghcr.io"), "ghcr.io");
}

TEST(location_resolution)
{
	const char *post = "http://127.0.0.1:5000/v2/kiln/test/blobs/uploads/";
	char *u = NULL;

	ASSERT_OK(kiln_registry_url_resolve(post, "/v2/kiln/test/blobs/uploads/abc?_state=x%3Dy",
					    "digest", "sha256:0011", &u));
	ASSERT_STREQ(u, "http://127.0.0.1:5000/v2/kiln/test/blobs/uploads/abc?_state=x%3Dy&"
			"digest=sha256%3a0011");
	free(u);
	ASSERT_OK(kiln_registry_url_resolve(post, "https://other:443/up/1", NULL, NULL, &u));
	ASSERT_STREQ(u, "https://other:443/up/1");
	free(u);
	ASSERT_OK(kiln_registry_url_resolve(post, "abc", NULL, NULL, &u));
	ASSERT_STREQ(u, "http://127.0.0.1:5000/v2/kiln/test/blobs/uploads/abc");
	free(u);
	ASSERT_OK(kiln_registry_url_resolve("https://r/token", NULL, "scope",
					    "repository:a/b:pull,push", &u));
	ASSERT_STREQ(u, "https://r/token?scope=repository%3aa%2fb%3apull%2cpush");
	free(u);
	ASSERT_EQ(kiln_registry_url_resolve(post, "file:///etc/passwd", NULL, NULL, &u), -EINVAL);
	ASSERT_EQ(kiln_registry_url_resolve(post, "ftp://x/y", NULL, NULL, &u), -EINVAL);
}

/* ---- the retry policy ---- */

TEST(retry_what_is_transient)
{
	struct http_response resp = { .content_length = -1 };
	static const long again[] = { 408, 429, 500, 502, 503, 504, 599 };
	static const long not_again[] = { 200, 301, 400, 401, 403, 404, 410, 416, 600 };

	for (size_t i = 0; i < ELEMENTSOF(again); i++) {
		resp.status = again[i];
		ASSERT_TRUE(http_status_is_transient(again[i]));
		ASSERT_TRUE(http_is_transient(0, &resp, false));
	}
	for (size_t i = 0; i < ELEMENTSOF(not_again); i++) {
		resp.status = not_again[i];
		ASSERT_FALSE(http_status_is_transient(not_again[i]));
		ASSERT_FALSE(http_is_transient(0, &resp, true));
	}
	/* a cut or reset connection is worth another try, for every client */
	ASSERT_TRUE(http_error_is_transient(CURLE_RECV_ERROR, false));
	ASSERT_TRUE(http_error_is_transient(CURLE_PARTIAL_FILE, false));
	ASSERT_TRUE(http_error_is_transient(CURLE_OPERATION_TIMEDOUT, false));
	ASSERT_TRUE(http_error_is_transient(CURLE_HTTP2_STREAM, false));
	/* not reaching the server at all, only for a client that says so */
	ASSERT_FALSE(http_error_is_transient(CURLE_COULDNT_CONNECT, false));
	ASSERT_TRUE(http_error_is_transient(CURLE_COULDNT_CONNECT, true));
	ASSERT_FALSE(http_error_is_transient(CURLE_COULDNT_RESOLVE_HOST, false));
	ASSERT_TRUE(http_error_is_transient(CURLE_COULDNT_RESOLVE_HOST, true));
	ASSERT_TRUE(http_error_is_transient(CURLE_SSL_CONNECT_ERROR, true));
	/* never: a certificate that is not trusted, a url curl refuses */
	ASSERT_FALSE(http_error_is_transient(CURLE_PEER_FAILED_VERIFICATION, true));
	ASSERT_FALSE(http_error_is_transient(CURLE_UNSUPPORTED_PROTOCOL, true));
	/* the status of a failed transfer, or the transport of an answer, says nothing */
	resp.curl_code = CURLE_RECV_ERROR;
	resp.status = 200;
	ASSERT_TRUE(http_is_transient(-EIO, &resp, false));
	ASSERT_FALSE(http_is_transient(0, &resp, false));
	resp.status = 503;
	ASSERT_FALSE(http_is_transient(-ENOMEM, &resp, true));
}

TEST(retry_backoff_and_retry_after)
{
	char date[64];
	time_t t;
	unsigned ms;

	ASSERT_EQ(http_backoff_ms(0, NULL), 250);
	ASSERT_EQ(http_backoff_ms(1, NULL), 500);
	ASSERT_EQ(http_backoff_ms(4, ""), 4000);
	ASSERT_EQ(http_backoff_ms(5, NULL), 8000);
	ASSERT_EQ(http_backoff_ms(6, NULL), 8000);
	ASSERT_EQ(http_backoff_ms(1000, NULL), 8000);
	/* Retry-After wins, in seconds or as a date, capped at a minute */
	ASSERT_EQ(http_backoff_ms(0, "3"), 3000);
	ASSERT_EQ(http_backoff_ms(5, "0"), 0);
	ASSERT_EQ(http_backoff_ms(0, "120"), 60000);
	ASSERT_EQ(http_backoff_ms(0, "99999999999999999999"), 60000);
	t = time(NULL) + 10;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
	ms = http_backoff_ms(0, date);
	ASSERT_TRUE(ms >= 8000 && ms <= 10000);
	t = time(NULL) + 3600;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
	ASSERT_EQ(http_backoff_ms(0, date), 60000);
	/* a date gone by, or nothing to read: the backoff */
	ASSERT_EQ(http_backoff_ms(1, "Thu, 01 Jan 1970 00:00:01 GMT"), 500);
	ASSERT_EQ(http_backoff_ms(2, "soon"), 1000);
}

struct notices {
	unsigned n;
	char last[256];
};

static void on_notice(void *userdata, const char *message)
{
	struct notices *n = userdata;

	n->n++;
	snprintf(n->last, sizeof(n->last), "%s", message);
}

static void on_log(void *userdata, enum kiln_log_level level, const char *msg)
{
	if (level == KILN_LOG_INFO)
		on_notice(userdata, msg);
}

TEST(retry_says_so_waits_and_stops)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	struct http_response resp = { .content_length = -1, .retry_after = (char *)"0" };
	struct notices seen = { 0 };
	atomic_bool cancel = false;
	struct http_retry p = {
		.tries = 3,
		.server = "r.example",
		.cancel = &cancel,
		.notice = on_notice,
		.userdata = &seen,
	};

	ASSERT_OK(kiln_ctx_new(&ctx));
	kiln_ctx_set_log_fn(ctx, on_log, &seen);
	kiln_ctx_set_log_level(ctx, KILN_LOG_INFO);
	resp.status = 503;
	ASSERT_EQ(http_retry(ctx, &p, 1, "GET x", 0, &resp), 1);
	ASSERT_STREQ(seen.last, "GET x: r.example answered 503; retrying (2 of 3)");
	ASSERT_EQ(http_retry(ctx, &p, 2, "GET x", 0, &resp), 1);
	ASSERT_STREQ(seen.last, "GET x: r.example answered 503; retrying (3 of 3)");
	/* the last try is the last */
	ASSERT_EQ(http_retry(ctx, &p, 3, "GET x", 0, &resp), 0);
	resp.status = 404;
	ASSERT_EQ(http_retry(ctx, &p, 1, "GET x", 0, &resp), 0);
	ASSERT_EQ(seen.n, 2);
	/* a transport failure: curl's words, and no Retry-After (there was no answer) */
	resp.curl_code = CURLE_COULDNT_CONNECT;
	snprintf(resp.curl_error, sizeof(resp.curl_error), "Failed to connect");
	ASSERT_EQ(http_retry(ctx, &p, 1, "GET x", -EIO, &resp), 0);
	p.unreachable = true;
	p.server = NULL;
	/* a wait of 250 ms, ended at once by the cancel flag */
	cancel = true;
	ASSERT_EQ(http_retry(ctx, &p, 1, "GET x", -EIO, &resp), -ECANCELED);
	ASSERT_STREQ(seen.last, "GET x: Failed to connect; retrying (2 of 3)");
	ASSERT_EQ(http_sleep_ms(10000, &cancel), -ECANCELED);
	cancel = false;
	ASSERT_OK(http_sleep_ms(1, &cancel));
	ASSERT_OK(http_sleep_ms(0, NULL));
	/* without a notice function, the line goes to the log at KILN_LOG_INFO */
	p.notice = NULL;
	resp.status = 429;
	ASSERT_EQ(http_retry(ctx, &p, 1, "GET y", 0, &resp), 1);
	ASSERT_EQ(seen.n, 4);
	ASSERT_STREQ(seen.last, "GET y: the server answered 429; retrying (2 of 3)");
}

/* ---- images.json ---- */

TEST(images_json)
{
	struct kiln_ctx *ctx;
	struct kiln_descriptor d = { .media_type = (char *)KILN_MT_OCI_MANIFEST, .size = 42 };
	char dir[512], path[600], *text = NULL;
	size_t len;

	setup_env();
	ASSERT_OK(kiln_ctx_new(&ctx));
	strcpy(d.digest.s,
	       "sha256:0123456789012345678901234567890123456789012345678901234567890123");
	in_tmp(dir, sizeof(dir), "_out");
	snprintf(path, sizeof(path), "%s/images.json", dir);
	ASSERT_OK(kiln_images_json_record(ctx, dir, "r:5000/b:v1", "r:5000/b:v1@x", &d));
	ASSERT_OK(kiln_images_json_record(ctx, dir, "r:5000/a:v1", "r:5000/a:v1@x", &d));
	ASSERT_OK(kiln_images_json_record(ctx, dir, "r:5000/b:v1", "r:5000/b:v1@y", &d));
	ASSERT_OK(read_file_at(AT_FDCWD, path, 1 << 20, &text, &len));
	/* sorted, replaced, nothing lost */
	ASSERT_TRUE(strstr(text, "\"r:5000/a:v1\"") < strstr(text, "\"r:5000/b:v1\""));
	ASSERT_CONTAINS(text, "\"reference\": \"r:5000/b:v1@y\"");
	ASSERT_TRUE(strstr(text, "r:5000/b:v1@x") == NULL);
	ASSERT_CONTAINS(text, "\"size\": 42");
	free(text);

	/* entries kiln did not write survive, numbers as written */
	write_text(path, "{\"z\": {\"n\": 1.50, \"l\": [true, null]}}");
	ASSERT_OK(kiln_images_json_record(ctx, dir, "r:5000/a:v1", "r:5000/a:v1@x", &d));
	ASSERT_OK(read_file_at(AT_FDCWD, path, 1 << 20, &text, &len));
	ASSERT_CONTAINS(text, "1.50");
	ASSERT_CONTAINS(text, "\"r:5000/a:v1\"");
	free(text);

	write_text(path, "[1, 2]");
	ASSERT_EQ(kiln_images_json_record(ctx, dir, "r:5000/a:v1", "r:5000/a:v1@x", &d), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "fix or remove it");
	kiln_ctx_free(ctx);
}

TAP_MAIN
