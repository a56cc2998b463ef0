/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One HTTP exchange over a libcurl easy handle, and when to try it again:
 * the one transfer path and the one retry policy of every HTTP client of
 * kiln (the registry client, step source downloads). The handle is reset
 * and reused between exchanges so that its connection stays alive: a push
 * of a few hundred blobs is then a few hundred requests on one or two
 * sockets.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include <kiln/kiln.h>

#include "strbuf.h"

/* What a request sends as its body: nothing, bytes in memory, or a range of a file. */
enum http_body_kind {
	HTTP_BODY_NONE,
	HTTP_BODY_MEMORY,
	HTTP_BODY_FD,
};

struct http_request {
	const char *method; /* "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE" */
	const char *url;
	/* extra header lines ("Accept: ..."), NULL-terminated; may be NULL */
	const char *const *headers;
	const char *authorization; /* the Authorization value, or NULL; never logged */

	enum http_body_kind body_kind;
	const void *body; /* HTTP_BODY_MEMORY */
	size_t body_len;
	int body_fd; /* HTTP_BODY_FD: read with pread(), so a retry re-reads from @body_offset */
	uint64_t body_offset;
	uint64_t body_fd_len;
	const char *content_type; /* with a body: never libcurl's form default */

	/*
	 * A successful (2xx) response body goes to @sink when set, else into the
	 * response's @body, of at most @max_body bytes (more fails the exchange
	 * with -EMSGSIZE). Error bodies always go to @body, capped at 64 KiB.
	 * The response's content_length is set before the sink's first call.
	 */
	int (*sink)(void *userdata, long status, const void *data, size_t len);
	void *sink_userdata;
	size_t max_body;

	bool follow_redirects; /* up to 10: blob GETs go to storage, tarballs to mirrors */
	bool tls_verify;
	/* bytes moved (body sent or received) are added here; may be NULL */
	_Atomic uint64_t *progress;
	/*
	 * set by another thread to end the exchange early (-ECANCELED), even
	 * one that is waiting for data; may be NULL
	 */
	const atomic_bool *cancel;
};

struct http_response {
	long status; /* 0 when no response arrived */
	struct strbuf body;
	uint64_t sink_bytes; /* how much of the body went to the sink */
	char *location;
	char *content_type;
	char *docker_digest; /* Docker-Content-Digest */
	char *range; /* Range (upload status) */
	char *content_range;
	char *retry_after;
	char **www_authenticate; /* every WWW-Authenticate header, NULL-terminated */
	/*
	 * when a redirect was followed, the scheme, host and port that answered
	 * (never the path or query: a storage URL's query holds its signature)
	 */
	char *redirected_to;
	int64_t content_length; /* -1 when unknown */
	CURLcode curl_code;
	char curl_error[CURL_ERROR_SIZE];
};

void http_response_release(struct http_response *r);

/*
 * Perform @req on @curl. Returns 0 when a response arrived (whatever its
 * status), -EIO for a transport failure (curl_code and curl_error tell
 * which), -EMSGSIZE for a body over @max_body, -ECANCELED when cancelled,
 * or the -errno the sink returned. @resp is released and filled anew.
 */
int http_perform(CURL *curl, const struct http_request *req, struct http_response *resp);

/* ---- trying again ------------------------------------------------------- */

/* An answer that says "later": 408, 429 and 5xx. */
bool http_status_is_transient(long status);

/*
 * A transport failure that another try may not see: a reset, a timeout, a
 * cut transfer, an HTTP/2 stream error. Not reaching the server at all
 * (refused, unresolved, a failed TLS handshake) counts only with
 * @unreachable: a registry that is not there is an answer (and the ping
 * falls back from one scheme to the other on it), a source mirror may
 * come back.
 */
bool http_error_is_transient(CURLcode c, bool unreachable);

/*
 * Whether an exchange that ended as http_perform() returned @r with @resp
 * is worth another try: -EIO and a transient transport failure, or 0 and a
 * transient status.
 */
bool http_is_transient(int r, const struct http_response *resp, bool unreachable);

/*
 * Milliseconds to wait before retry number @retry (0 for the first):
 * 250 ms doubling up to 8 s, unless @retry_after (a Retry-After value:
 * seconds or an HTTP-date; may be NULL) says otherwise, up to 60 s.
 */
unsigned http_backoff_ms(unsigned retry, const char *retry_after);

/* Sleep @ms, waking early with -ECANCELED once *@cancel (may be NULL) is set. */
int http_sleep_ms(unsigned ms, const atomic_bool *cancel);

/* How a client tries again; see http_retry(). */
struct http_retry {
	unsigned tries; /* in all, the first one included */
	bool unreachable; /* see http_error_is_transient() */
	const char *server; /* who answers, for messages ("docker.io"); NULL: "the server" */
	const atomic_bool *cancel; /* ends a wait early; may be NULL */
	/* where the line saying it retries goes; NULL: kiln_log() at KILN_LOG_INFO */
	void (*notice)(void *userdata, const char *message);
	void *userdata;
};

/*
 * After try number @try (counting from 1) of @what ended as http_perform()
 * returned @r with @resp: when it is transient and tries are left, say so
 * ("<what>: <curl's error>; retrying (2 of 3)", "<what>: <server> answered
 * 503; retrying (2 of 3)", the server being where a redirect led if one
 * did) and wait http_backoff_ms(), honouring the response's Retry-After.
 * Returns 1 to try again, 0 not to, -ECANCELED when cancelled while
 * waiting.
 */
int http_retry(struct kiln_ctx *ctx, const struct http_retry *p, unsigned try, const char *what,
	       int r, const struct http_response *resp);
