/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry client: one reg_client per registry, shared by worker
 * threads; one reg_conn (libcurl handle, error context) per thread. Every
 * request goes through reg_call(), which attaches auth, answers 401
 * challenges, and retries what the spec and containers/image say may be
 * retried, by the policy of lib/util/http.c: 408, 429 (after Retry-After),
 * 5xx and dropped connections.
 */
#include <stdarg.h>
#include <string.h>

#include "curl-util.h"
#include "json-parse.h"
#include "log.h"
#include "registry-internal.h"

#define MAX_ATTEMPTS 6
#define PING_MAX (64u << 10)

void reg_notice(struct reg_conn *conn, const char *fmt, ...)
{
	struct reg_events *e = conn->c->events;
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	if (e && e->opts && e->opts->on_event)
		reg_event_notice(e, msg);
	else
		kiln_log(conn->ctx, KILN_LOG_INFO, "%s", msg);
}

static void retry_notice(void *userdata, const char *message)
{
	reg_notice(userdata, "%s", message);
}

struct http_retry reg_retry(struct reg_conn *conn, unsigned tries, const atomic_bool *cancel)
{
	return (struct http_retry){
		.tries = tries,
		.server = conn->c->domain,
		.cancel = cancel,
		.notice = retry_notice,
		.userdata = conn,
	};
}

int reg_client_new(struct kiln_ctx *ctx, const char *domain, const char *repo,
		   const struct kiln_registry_options *o, struct reg_client **ret)
{
	_cleanup_(reg_client_freep) struct reg_client *c = NULL;
	int r;

	r = kiln_curl_global_init(ctx);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->log_lock, NULL);
	c->ctx = ctx;
	c->opts = o;
	c->domain = strdup(domain);
	c->repo = strdup(repo);
	if (!c->domain || !c->repo)
		return -ENOMEM;
	c->local = kiln_registry_host_is_local(domain);
	c->tls_verify = !o->insecure;
	r = kiln_credentials_lookup(ctx, o->auth_file, domain, repo, &c->creds, &c->searched);
	if (r < 0)
		return r;
	c->have_creds = r > 0;
	if (c->have_creds)
		kiln_log(ctx, KILN_LOG_DEBUG, "credentials for %s from %s", domain,
			 c->creds.source);
	*ret = TAKE_PTR(c);
	return 0;
}

void reg_client_free(struct reg_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_tokens; i++) {
		free(c->tokens[i].key);
		if (c->tokens[i].token) {
			explicit_bzero(c->tokens[i].token, strlen(c->tokens[i].token));
			free(c->tokens[i].token);
		}
	}
	free(c->tokens);
	kiln_credentials_release(&c->creds);
	free(c->searched);
	free(c->realm);
	free(c->service);
	free(c->origin);
	free(c->domain);
	free(c->repo);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->log_lock);
	free(c);
}

/* A worker's messages reach the caller's log function one at a time. */
static void forward_log(void *userdata, enum kiln_log_level level, const char *msg)
{
	struct reg_client *c = userdata;

	pthread_mutex_lock(&c->log_lock);
	kiln_log(c->ctx, level, "%s", msg);
	pthread_mutex_unlock(&c->log_lock);
}

int reg_conn_new(struct reg_client *c, struct kiln_ctx *ctx, struct reg_conn **ret)
{
	_cleanup_(reg_conn_freep) struct reg_conn *conn = calloc(1, sizeof(*conn));
	int r;

	if (!conn)
		return -ENOMEM;
	conn->c = c;
	conn->curl = curl_easy_init();
	if (!conn->curl)
		return -ENOMEM;
	if (ctx) {
		conn->ctx = ctx;
	} else {
		r = kiln_ctx_new(&conn->ctx);
		if (r < 0)
			return r;
		conn->own_ctx = true;
		kiln_ctx_set_log_fn(conn->ctx, forward_log, c);
		kiln_ctx_set_log_level(conn->ctx, KILN_LOG_DEBUG);
	}
	*ret = TAKE_PTR(conn);
	return 0;
}

void reg_conn_free(struct reg_conn *conn)
{
	if (!conn)
		return;
	if (conn->curl)
		curl_easy_cleanup(conn->curl);
	if (conn->own_ctx)
		kiln_ctx_free(conn->ctx);
	free(conn);
}

/* The registry's {"errors":[{"code","message","detail"}]}, quoted for a message. */
static void describe_errors(const struct http_response *resp, struct strbuf *sb)
{
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	struct kiln_ctx *scratch = NULL;
	const struct json_value *errs = NULL;
	size_t shown = 0;

	if (resp->body.len && kiln_ctx_new(&scratch) >= 0 &&
	    json_parse(scratch, "error body", resp->body.buf, resp->body.len, &doc) >= 0)
		errs = json_get(json_doc_root(doc), "errors");
	kiln_ctx_free(scratch);
	if (errs && errs->type == JSON_ARRAY) {
		for (size_t i = 0; i < errs->arr.n && shown < 3; i++) {
			const char *code = json_get_string(errs->arr.v[i], "code");
			const char *msg = json_get_string(errs->arr.v[i], "message");
			_cleanup_free_ char *qc = NULL, *qm = NULL;

			if (!code && !msg)
				continue;
			qc = code ? quote_for_message(code, strlen(code), 64) : NULL;
			qm = msg ? quote_for_message(msg, strlen(msg), 200) : NULL;
			strbuf_addf(sb, "%s%s%s%s", shown ? "; " : ": ", strempty(qc),
				    qc && qm ? " " : "", strempty(qm));
			shown++;
		}
		if (shown)
			return;
	}
	if (resp->body.len) {
		size_t n = strcspn(resp->body.buf, "\r\n");
		_cleanup_free_ char *q = quote_for_message(resp->body.buf, n, 200);

		if (q && n)
			strbuf_addf(sb, ": \"%s\"", q);
	}
}

int reg_status_error(struct reg_conn *conn, const char *what, const struct http_response *resp)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int err;

	if (resp->status == 404)
		err = ENOENT;
	else if (resp->status == 401 || resp->status == 403)
		err = EACCES;
	else if (http_status_is_transient(resp->status))
		err = EAGAIN;
	else
		err = EPROTO;
	if (resp->redirected_to)
		strbuf_addf(&sb, "%s: %s, where %s sent kiln, answered %ld", what,
			    resp->redirected_to, conn->c->domain, resp->status);
	else
		strbuf_addf(&sb, "%s: %s answered %ld", what, conn->c->domain, resp->status);
	describe_errors(resp, &sb);
	return kiln_error(conn->ctx, err, "%s", strbuf_str(&sb));
}

/* The scopes of a call and those challenges added, as one NULL-terminated list. */
static int merge_scopes(const char *const *a, char *const *b, char ***ret)
{
	_cleanup_(strv_freep) char **v = NULL;
	int r;

	for (const char *const *s = a; s && *s; s++) {
		r = strv_add_unique(&v, *s);
		if (r < 0)
			return r;
	}
	for (char *const *s = b; s && *s; s++) {
		r = strv_add_unique(&v, *s);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(v);
	return 0;
}

static int auth_refused(struct reg_conn *conn, const struct reg_call *call,
			const struct http_response *resp)
{
	struct reg_client *c = conn->c;

	reg_status_error(conn, call->what, resp);
	if (c->have_creds)
		kiln_error_prefix(conn->ctx, "access refused with the credentials from %s",
				  c->creds.source);
	else
		kiln_error_prefix(conn->ctx,
				  "access refused: no credentials for %s in %s (log in with "
				  "podman login or docker login, or set REGISTRY_AUTH_FILE)",
				  c->domain, strempty(c->searched));
	return -EACCES;
}

int reg_call(struct reg_conn *conn, const struct reg_call *call, struct http_response *resp)
{
	struct reg_client *c = conn->c;
	_cleanup_(strv_freep) char **extra = NULL;
	const struct http_retry retry = reg_retry(conn, MAX_ATTEMPTS, call->cancel);
	unsigned tries = 0, auth_rounds = 0;
	bool same_origin = reg_url_same_origin(c, call->url);
	int r;

	if (!same_origin && c->origin && strncmp(c->origin, "https:", 6) == 0 &&
	    strncmp(call->url, "http:", 5) == 0)
		return kiln_error(conn->ctx, EPROTO,
				  "%s: %s sent kiln to a plain-HTTP URL; refusing to downgrade",
				  call->what, c->domain);
	for (;;) {
		_cleanup_(strv_freep) char **scopes = NULL;
		_cleanup_free_ char *auth = NULL;
		struct http_request req = {
			.method = call->method,
			.url = call->url,
			.headers = call->headers,
			.body_kind = call->body_kind,
			.body = call->body,
			.body_len = call->body_len,
			.body_fd = call->body_fd,
			.body_offset = call->body_offset,
			.body_fd_len = call->body_fd_len,
			.content_type = call->content_type,
			.sink = call->sink,
			.sink_userdata = call->sink_userdata,
			.max_body = call->max_body,
			.follow_redirects = call->follow_redirects,
			.tls_verify = c->tls_verify,
			.progress = call->progress,
			.cancel = call->cancel,
		};
		int k;

		r = merge_scopes(call->scopes, extra, &scopes);
		if (r < 0)
			return r;
		/* credentials go to the registry itself, never to a host an upload URL names */
		if (same_origin) {
			r = reg_auth_header(conn, (const char *const *)scopes, &auth);
			if (r < 0)
				return r;
		}
		req.authorization = auth;
		r = http_perform(conn->curl, &req, resp);
		if (auth)
			explicit_bzero(auth, strlen(auth));
		if (r == -ECANCELED)
			return r;
		if (r < 0 && r != -EIO) {
			/* the sink's own error names what failed (a full store's path) */
			if (call->sink && kiln_ctx_error_for(conn->ctx, r)) {
				kiln_error_prefix(conn->ctx, "%s", call->what);
				return r;
			}
			if (r == -EMSGSIZE)
				return kiln_error(conn->ctx, EMSGSIZE,
						  "%s: the reply from %s is larger than %zu bytes",
						  call->what, c->domain, call->max_body);
			return kiln_error(conn->ctx, r, "%s: %s", call->what, strerror(-r));
		}
		if (r == 0 && resp->status == 401 && same_origin) {
			if (++auth_rounds > 2)
				return auth_refused(conn, call, resp);
			r = reg_auth_challenged(conn, resp, (const char *const *)scopes, &extra);
			if (r < 0)
				return r;
			continue;
		}
		/* storage a redirect led to refuses for its own reasons (an expired signature) */
		if (r == 0 && resp->status == 403 && !resp->redirected_to)
			return auth_refused(conn, call, resp);
		/* a body already streamed into a sink cannot be taken back: the caller resumes */
		if (!call->retry || resp->sink_bytes > 0)
			break;
		k = http_retry(conn->ctx, &retry, ++tries, call->what, r, resp);
		if (k < 0)
			return k;
		if (k == 0)
			break;
	}
	if (r < 0)
		return kiln_error(conn->ctx, EIO, "%s: %s", call->what, resp->curl_error);
	if (http_status_is_transient(resp->status))
		return reg_status_error(conn, call->what, resp);
	return 0;
}

static int ping_once(struct reg_conn *conn, const char *scheme, bool retry,
		     struct http_response *resp)
{
	struct reg_client *c = conn->c;
	_cleanup_free_ char *url = NULL;
	struct reg_call call = {
		.what = "GET /v2/",
		.method = "GET",
		.max_body = PING_MAX,
		.retry = retry,
	};

	free(c->origin);
	if (asprintf(&c->origin, "%s://%s", scheme, kiln_registry_api_host(c->domain)) < 0) {
		c->origin = NULL;
		return -ENOMEM;
	}
	if (asprintf(&url, "%s/v2/", c->origin) < 0)
		return -ENOMEM;
	call.url = url;
	return reg_call(conn, &call, resp);
}

static int tls_failure(struct reg_conn *conn, const struct http_response *resp)
{
	struct reg_client *c = conn->c;

	/* nothing answered there: plain HTTP would not reach it either */
	if (resp->curl_code == CURLE_COULDNT_RESOLVE_HOST ||
	    resp->curl_code == CURLE_COULDNT_RESOLVE_PROXY ||
	    resp->curl_code == CURLE_COULDNT_CONNECT)
		return kiln_error(conn->ctx, EIO, "cannot reach the registry %s: %s", c->domain,
				  resp->curl_error);
	if (resp->curl_code == CURLE_PEER_FAILED_VERIFICATION)
		return kiln_error_hint(conn->ctx, KILN_HINT_INSECURE, NULL, EIO,
				       "the TLS certificate of %s is not trusted (%s)", c->domain,
				       resp->curl_error);
	return kiln_error_hint(conn->ctx, KILN_HINT_INSECURE, NULL, EIO,
			       "cannot reach the registry %s over https (%s); plain HTTP is only "
			       "tried for loopback hosts",
			       c->domain, resp->curl_error);
}

int reg_ping(struct reg_conn *conn)
{
	struct reg_client *c = conn->c;
	_cleanup_(http_response_release) struct http_response resp = { .content_length = -1 };
	int r;

	if (c->local) {
		/*
		 * Loopback: http first. Local registries mostly speak plain
		 * HTTP, and it spares loading the CA store (most of the time
		 * of an unchanged re-push). One that speaks only TLS answers
		 * 400 or hangs up: then https.
		 */
		r = ping_once(conn, "http", true, &resp);
		if ((r == -EIO && resp.curl_code != CURLE_COULDNT_CONNECT) ||
		    (r == 0 && resp.status == 400)) {
			kiln_log(conn->ctx, KILN_LOG_DEBUG, "%s: http failed, trying https",
				 c->domain);
			kiln_ctx_clear_error(conn->ctx);
			r = ping_once(conn, "https", true, &resp);
			if (r == -EIO)
				return tls_failure(conn, &resp);
		} else if (r == -EIO) {
			return kiln_error(conn->ctx, EIO, "cannot reach the registry %s: %s",
					  c->domain, resp.curl_error);
		}
	} else if (c->opts->insecure) {
		/* as skopeo does with --tls-verify=false: https without checks, else http */
		r = ping_once(conn, "https", false, &resp);
		if (r == -EIO) {
			kiln_log(conn->ctx, KILN_LOG_DEBUG, "%s: https failed (%s), trying http",
				 c->domain, resp.curl_error);
			kiln_ctx_clear_error(conn->ctx);
			r = ping_once(conn, "http", true, &resp);
			if (r == -EIO)
				return kiln_error(
				    conn->ctx, EIO,
				    "cannot reach the registry %s over https or http: %s",
				    c->domain, resp.curl_error);
		}
	} else {
		r = ping_once(conn, "https", true, &resp);
		if (r == -EIO)
			return tls_failure(conn, &resp);
	}
	if (r < 0)
		return r;
	if (resp.status == 404)
		return kiln_error(conn->ctx, EPROTO,
				  "%s is not a registry of the distribution API: GET %s/v2/ "
				  "answered 404",
				  c->domain, c->origin);
	if (resp.status != 200)
		return reg_status_error(conn, "GET /v2/", &resp);
	kiln_log(conn->ctx, KILN_LOG_DEBUG, "registry %s at %s", c->domain, c->origin);
	return 0;
}
