/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * HTTP exchanges on libcurl easy handles: bodies streamed from files with
 * pread() (a retry or a redirect re-reads the same range, nothing is held in
 * memory), responses streamed to a sink only when they succeed (an error
 * page must never reach a blob writer), and response headers read back with
 * curl_easy_header() once the exchange is over. Then the retry policy
 * every caller shares: what is transient, how long to wait, what to say.
 */
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "curl-util.h"
#include "http.h"
#include "log.h"
#include "macro.h"

/* Error bodies are kept for their message, never for their bulk. */
#define ERROR_BODY_MAX (64u << 10)
/* Big buffers: fewer syscalls and callbacks for layers of hundreds of MiB. */
#define SEND_BUFFER_SIZE (512L << 10)
#define MAX_REDIRECTS 10L
#define BACKOFF_BASE_MS 250u
#define BACKOFF_MAX_MS 8000u
/* A Retry-After longer than this is a server asking us to give up. */
#define RETRY_AFTER_MAX_MS 60000u
/* How often a wait looks at its cancel flag. */
#define SLEEP_SLICE_MS 50u

void http_response_release(struct http_response *r)
{
	strbuf_release(&r->body);
	free(r->location);
	free(r->content_type);
	free(r->docker_digest);
	free(r->range);
	free(r->content_range);
	free(r->retry_after);
	free(r->redirected_to);
	for (char **p = r->www_authenticate; p && *p; p++)
		free(*p);
	free(r->www_authenticate);
	*r = (struct http_response){ .content_length = -1 };
}

struct transfer {
	CURL *curl;
	const struct http_request *req;
	struct http_response *resp;
	uint64_t sent; /* of the request body, from its start */
	int error; /* -errno that ended the transfer from a callback */
};

static bool cancelled(const struct transfer *t)
{
	return t->req->cancel && atomic_load_explicit(t->req->cancel, memory_order_relaxed);
}

static size_t read_body(char *buf, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	const struct http_request *req = t->req;
	size_t want = size * nmemb, n;

	if (cancelled(t)) {
		t->error = -ECANCELED;
		return CURL_READFUNC_ABORT;
	}
	if (req->body_kind == HTTP_BODY_MEMORY) {
		n = req->body_len - (size_t)t->sent;
		if (n > want)
			n = want;
		memcpy(buf, (const char *)req->body + t->sent, n);
	} else {
		uint64_t left = req->body_fd_len - t->sent;
		ssize_t k;

		n = left < want ? (size_t)left : want;
		if (n == 0)
			return 0;
		do
			k = pread(req->body_fd, buf, n, (off_t)(req->body_offset + t->sent));
		while (k < 0 && errno == EINTR);
		if (k <= 0) {
			/* a file that shrank under us is as broken as one that cannot be read */
			t->error = k < 0 ? -errno : -EIO;
			return CURL_READFUNC_ABORT;
		}
		n = (size_t)k;
	}
	t->sent += n;
	if (req->progress)
		atomic_fetch_add_explicit(req->progress, n, memory_order_relaxed);
	return n;
}

/* libcurl rewinds the body when it must send it again (a redirect, a reused dead connection). */
static int seek_body(void *userdata, curl_off_t offset, int origin)
{
	struct transfer *t = userdata;
	uint64_t len =
	    t->req->body_kind == HTTP_BODY_MEMORY ? t->req->body_len : t->req->body_fd_len;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > len)
		return CURL_SEEKFUNC_CANTSEEK;
	if (t->req->progress)
		atomic_fetch_sub_explicit(t->req->progress, t->sent - (uint64_t)offset,
					  memory_order_relaxed);
	t->sent = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t write_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	const struct http_request *req = t->req;
	size_t n = size * nmemb;
	long status = 0;

	if (cancelled(t)) {
		t->error = -ECANCELED;
		return CURL_WRITEFUNC_ERROR;
	}
	curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		if (req->sink) {
			int r;

			if (t->resp->sink_bytes == 0) {
				curl_off_t cl = -1;

				curl_easy_getinfo(t->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
				t->resp->content_length = cl;
			}
			r = req->sink(req->sink_userdata, status, data, n);

			if (r < 0) {
				t->error = r;
				return CURL_WRITEFUNC_ERROR;
			}
			t->resp->sink_bytes += n;
			if (req->progress)
				atomic_fetch_add_explicit(req->progress, n, memory_order_relaxed);
			return n;
		}
		if (t->resp->body.len + n > req->max_body) {
			t->error = -EMSGSIZE;
			return CURL_WRITEFUNC_ERROR;
		}
	} else if (t->resp->body.len >= ERROR_BODY_MAX) {
		return n; /* the start of an error page says all there is to say */
	} else if (t->resp->body.len + n > ERROR_BODY_MAX) {
		n = ERROR_BODY_MAX - t->resp->body.len;
	}
	if (strbuf_add(&t->resp->body, data, n) < 0) {
		t->error = -ENOMEM;
		return CURL_WRITEFUNC_ERROR;
	}
	return size * nmemb;
}

/* Called often even while nothing arrives: a stalled exchange can still be cancelled. */
static int xferinfo(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	struct transfer *t = userdata;

	if (cancelled(t)) {
		t->error = -ECANCELED;
		return 1;
	}
	return 0;
}

static char *header_value(CURL *curl, const char *name, size_t index)
{
	struct curl_header *h;

	if (curl_easy_header(curl, name, index, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return NULL;
	return strdup(h->value);
}

/* scheme://host[:port] of @url, without user info: what may be shown of a URL */
static char *url_origin(const char *url)
{
	const char *sep = strstr(url, "://"), *host, *end, *at;
	char *ret;

	if (!sep)
		return strdup("?");
	host = sep + 3;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at)
		host = at + 1;
	if (asprintf(&ret, "%.*s%.*s", (int)(sep + 3 - url), url, (int)(end - host), host) < 0)
		return NULL;
	return ret;
}

static int collect_headers(CURL *curl, struct http_response *resp)
{
	struct curl_header *h;
	size_t n = 0;
	long redirects = 0;
	char *url = NULL;

	resp->location = header_value(curl, "Location", 0);
	resp->content_type = header_value(curl, "Content-Type", 0);
	resp->docker_digest = header_value(curl, "Docker-Content-Digest", 0);
	resp->range = header_value(curl, "Range", 0);
	resp->content_range = header_value(curl, "Content-Range", 0);
	resp->retry_after = header_value(curl, "Retry-After", 0);
	if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_COUNT, &redirects) == CURLE_OK &&
	    redirects > 0 && curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK &&
	    url) {
		resp->redirected_to = url_origin(url);
		if (!resp->redirected_to)
			return -ENOMEM;
	}
	if (curl_easy_header(curl, "WWW-Authenticate", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		n = h->amount;
	if (n > 16)
		n = 16; /* more challenges than any server sends: the rest are noise */
	resp->www_authenticate = calloc(n + 1, sizeof(char *));
	if (!resp->www_authenticate)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		resp->www_authenticate[i] = header_value(curl, "WWW-Authenticate", i);
		if (!resp->www_authenticate[i])
			return -ENOMEM;
	}
	return 0;
}

static void free_header_list(struct curl_slist **l)
{
	curl_slist_free_all(*l);
}

/* The Authorization line holds a secret: wipe it before the memory goes back. */
static void free_secret(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
	}
}

static int build_headers(const struct http_request *req, struct curl_slist **ret)
{
	_cleanup_(free_header_list) struct curl_slist *l = NULL;
	_cleanup_(free_secret) char *auth = NULL;
	_cleanup_free_ char *ct = NULL;
	struct curl_slist *n;

	for (const char *const *h = req->headers; h && *h; h++) {
		n = curl_slist_append(l, *h);
		if (!n)
			return -ENOMEM;
		l = n;
	}
	if (req->authorization) {
		if (asprintf(&auth, "Authorization: %s", req->authorization) < 0)
			return -ENOMEM;
		n = curl_slist_append(l, auth);
		if (!n)
			return -ENOMEM;
		l = n;
	}
	/* "Content-Type:" with nothing after it removes the header libcurl would add */
	if (asprintf(&ct, "Content-Type:%s%s", req->content_type ? " " : "",
		     strempty(req->content_type)) < 0)
		return -ENOMEM;
	n = curl_slist_append(l, ct);
	if (!n)
		return -ENOMEM;
	l = n;
	/* no 100-continue round trip: kiln knows its auth before it sends a body */
	n = curl_slist_append(l, "Expect:");
	if (!n)
		return -ENOMEM;
	l = n;
	*ret = TAKE_PTR(l);
	return 0;
}

/* Wipe the Authorization line inside libcurl's copy too. */
static void free_header_list_secret(struct curl_slist **l)
{
	for (struct curl_slist *p = *l; p; p = p->next)
		if (strncasecmp(p->data, "Authorization:", 14) == 0)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(*l);
}

static void setup_method(CURL *curl, const struct http_request *req, struct transfer *t)
{
	uint64_t len = req->body_kind == HTTP_BODY_MEMORY ? req->body_len : req->body_fd_len;

	if (streq(req->method, "HEAD")) {
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
		return;
	}
	if (req->body_kind != HTTP_BODY_NONE || streq(req->method, "PUT") ||
	    streq(req->method, "PATCH") || streq(req->method, "POST")) {
		/*
		 * Every method with a body goes through the upload path: it
		 * streams from the read callback with an exact Content-Length,
		 * and never adds a form Content-Type as CURLOPT_POSTFIELDS does.
		 */
		if (req->body_kind == HTTP_BODY_NONE)
			len = 0;
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
		curl_easy_setopt(curl, CURLOPT_READDATA, t);
		curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, seek_body);
		curl_easy_setopt(curl, CURLOPT_SEEKDATA, t);
		curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, SEND_BUFFER_SIZE);
		if (!streq(req->method, "PUT"))
			curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
		return;
	}
	curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	if (!streq(req->method, "GET"))
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
}

int http_perform(CURL *curl, const struct http_request *req, struct http_response *resp)
{
	_cleanup_(free_header_list_secret) struct curl_slist *headers = NULL;
	struct transfer t = { .curl = curl, .req = req, .resp = resp };
	curl_off_t cl = -1;
	CURLcode c;
	int r;

	http_response_release(resp);
	r = build_headers(req, &headers);
	if (r < 0)
		return r;

	/* reset keeps the connection cache: the next exchange reuses the socket */
	curl_easy_reset(curl);
	kiln_curl_set_defaults(curl, resp->curl_error, req->tls_verify);
	curl_easy_setopt(curl, CURLOPT_URL, req->url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
	if (req->follow_redirects) {
		/* libcurl keeps our Authorization header off other hosts (no UNRESTRICTED_AUTH) */
		curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(curl, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	}
	if (req->cancel) {
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, xferinfo);
		curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
	}
	setup_method(curl, req, &t);

	c = curl_easy_perform(curl);
	resp->curl_code = c;
	if (t.error < 0)
		return t.error;
	if (c != CURLE_OK) {
		if (!resp->curl_error[0])
			snprintf(resp->curl_error, sizeof(resp->curl_error), "%s",
				 curl_easy_strerror(c));
		return -EIO;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	resp->content_length = cl;
	return collect_headers(curl, resp);
}

/* ---- trying again ---------------------------------------------------------- */

bool http_status_is_transient(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status < 600);
}

bool http_error_is_transient(CURLcode c, bool unreachable)
{
	switch (c) {
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
		return unreachable;
	default:
		return false;
	}
}

bool http_is_transient(int r, const struct http_response *resp, bool unreachable)
{
	if (r == -EIO)
		return http_error_is_transient(resp->curl_code, unreachable);
	return r == 0 && http_status_is_transient(resp->status);
}

unsigned http_backoff_ms(unsigned retry, const char *retry_after)
{
	unsigned ms = BACKOFF_BASE_MS << (retry < 6 ? retry : 6);

	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	if (retry_after && *retry_after) {
		char *end;
		unsigned long s = strtoul(retry_after, &end, 10);

		if (end != retry_after && *end == '\0') {
			ms =
			    s > RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS : (unsigned)s * 1000;
		} else {
			/* an HTTP-date */
			time_t when = curl_getdate(retry_after, NULL), now = time(NULL);

			if (when > now)
				ms = when - now > RETRY_AFTER_MAX_MS / 1000
					 ? RETRY_AFTER_MAX_MS
					 : (unsigned)(when - now) * 1000;
		}
	}
	return ms;
}

static bool is_set(const atomic_bool *flag)
{
	return flag && atomic_load_explicit(flag, memory_order_relaxed);
}

int http_sleep_ms(unsigned ms, const atomic_bool *cancel)
{
	while (ms > 0) {
		unsigned slice = cancel && ms > SLEEP_SLICE_MS ? SLEEP_SLICE_MS : ms;
		struct timespec ts = { .tv_sec = slice / 1000,
				       .tv_nsec = (long)(slice % 1000) * 1000000L };

		if (is_set(cancel))
			return -ECANCELED;
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		ms -= slice;
	}
	return is_set(cancel) ? -ECANCELED : 0;
}

int http_retry(struct kiln_ctx *ctx, const struct http_retry *p, unsigned try, const char *what,
	       int r, const struct http_response *resp)
{
	_cleanup_free_ char *msg = NULL;
	/* after a redirect, what answered is the storage it led to */
	const char *who = resp->redirected_to ? resp->redirected_to
			  : p->server	      ? p->server
					      : "the server";
	unsigned ms;
	int k;

	if (try >= p->tries || !http_is_transient(r, resp, p->unreachable))
		return 0;
	if (r < 0)
		k = asprintf(&msg, "%s: %s; retrying (%u of %u)", what, resp->curl_error, try + 1,
			     p->tries);
	else
		k = asprintf(&msg, "%s: %s answered %ld; retrying (%u of %u)", what, who,
			     resp->status, try + 1, p->tries);
	if (k < 0)
		msg = NULL;
	else if (p->notice)
		p->notice(p->userdata, msg);
	else
		kiln_log(ctx, KILN_LOG_INFO, "%s", msg);
	ms = http_backoff_ms(try - 1, r < 0 ? NULL : resp->retry_after);
	return http_sleep_ms(ms, p->cancel) < 0 ? -ECANCELED : 1;
}
