/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One HTTP exchange over a libcurl easy handle. The handle is reset and
 * reused between exchanges so that its connection stays alive: a push of a
 * few hundred blobs is then a few hundred requests on one or two sockets.
 * Internal to lib/registry.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

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
	 */
	int (*sink)(void *userdata, long status, const void *data, size_t len);
	void *sink_userdata;
	size_t max_body;

	bool follow_redirects; /* blob GETs are redirected to storage backends */
	bool tls_verify;
	/* bytes moved (body sent or received) are added here; may be NULL */
	_Atomic uint64_t *progress;
	/* set by another thread to end the exchange early (-ECANCELED); may be NULL */
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

/* True for transport failures worth another try: resets, timeouts, cut transfers. */
bool http_error_is_transient(CURLcode c);
