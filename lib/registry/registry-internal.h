/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The registry client's insides. A reg_client is one registry host and is
 * shared by the worker threads of a push or pull (its token cache and auth
 * state under a mutex); a reg_conn is one thread's libcurl handle and
 * error context.
 */

#include <pthread.h>
#include <stdatomic.h>

#include <kiln/registry.h>

#include "http.h"
#include "strbuf.h"
#include "strv.h"

/* The six manifest media types a GET asks for: 2.8 answers 404 for a type not accepted. */
#define REG_ACCEPT_MANIFESTS                                                                \
	"Accept: " KILN_MT_OCI_MANIFEST ", " KILN_MT_OCI_INDEX ", " KILN_MT_DOCKER_MANIFEST \
	", " KILN_MT_DOCKER_LIST ", " REG_MT_DOCKER_V1 ", " REG_MT_DOCKER_V1_SIGNED

#define REG_MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define REG_MT_DOCKER_V1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

enum reg_auth_mode {
	REG_AUTH_NONE,
	REG_AUTH_BASIC,
	REG_AUTH_BEARER,
};

struct reg_token {
	char *key; /* realm, service and sorted scopes */
	char *token;
	uint64_t expires_ms; /* CLOCK_MONOTONIC */
};

struct reg_client {
	struct kiln_ctx *ctx; /* the caller's: worker threads log to it under @log_lock */
	pthread_mutex_t log_lock;
	char *domain; /* as in the reference: "docker.io", "127.0.0.1:5000" */
	char *repo; /* the repository worked on: credentials are looked up for it */
	char *origin; /* "https://registry-1.docker.io", once pinged */
	bool tls_verify;
	bool local;
	const struct kiln_registry_options *opts;

	bool have_creds;
	struct kiln_credentials creds;
	char *searched; /* the auth files looked at, for "no credentials" messages */

	struct reg_events *events; /* where notices go, once a push or pull has begun */

	pthread_mutex_t lock; /* everything below */
	enum reg_auth_mode auth;
	char *realm;
	char *service;
	struct reg_token *tokens;
	size_t n_tokens, alloc_tokens;
};

struct reg_conn {
	struct reg_client *c;
	CURL *curl;
	struct kiln_ctx *ctx; /* errors of this thread; the caller's for the main thread */
	bool own_ctx;
};

/* A request to the registry; see reg_call(). */
struct reg_call {
	const char *what; /* "HEAD blob sha256:...", for messages */
	const char *method;
	const char *url; /* absolute */
	const char *const *scopes; /* the token scopes it needs, NULL-terminated */
	const char *const *headers;
	/* body and response handling as in struct http_request */
	enum http_body_kind body_kind;
	const void *body;
	size_t body_len;
	int body_fd;
	uint64_t body_offset, body_fd_len;
	const char *content_type;
	int (*sink)(void *userdata, long status, const void *data, size_t len);
	void *sink_userdata;
	size_t max_body;
	bool follow_redirects;
	/* retry what http_is_transient() says (only if the request can be sent again as it is) */
	bool retry;
	_Atomic uint64_t *progress;
	const atomic_bool *cancel;
};

int reg_client_new(struct kiln_ctx *ctx, const char *domain, const char *repo,
		   const struct kiln_registry_options *o, struct reg_client **ret);
void reg_client_free(struct reg_client *c);
DEFINE_FREEP(struct reg_client, reg_client_free)

/* A connection for one thread; @ctx NULL gives it its own context, logging to the client's. */
int reg_conn_new(struct reg_client *c, struct kiln_ctx *ctx, struct reg_conn **ret);
void reg_conn_free(struct reg_conn *conn);
DEFINE_FREEP(struct reg_conn, reg_conn_free)

/*
 * GET /v2/: picks the scheme (https, or http where allowed) and learns how
 * the registry authenticates. Errors say what to do (a login, or a hint:
 * KILN_HINT_INSECURE).
 */
int reg_ping(struct reg_conn *conn);

/*
 * Send @call with the auth it needs, answering 401 challenges (once a
 * scope set) and retrying what may be retried. Returns 0 once a response
 * arrived that is not an auth failure or transient (408, 429, 5xx; the
 * caller judges the status: 404 is often an answer), else -errno with the
 * error on conn->ctx: -EACCES (auth refused: 401/403), -EAGAIN (a
 * transient status after the last try), -EIO (transport).
 */
int reg_call(struct reg_conn *conn, const struct reg_call *call, struct http_response *resp);

/*
 * Record on conn->ctx an error for @resp's unexpected status: the
 * registry's error codes and messages (quoted, capped) or the start of its
 * body. Returns -ENOENT for 404, -EACCES for 401/403, -EAGAIN for
 * a transient status (408, 429, 5xx), else -EPROTO.
 */
int reg_status_error(struct reg_conn *conn, const char *what, const struct http_response *resp);

/*
 * A token service's reply (RFC 6750 as the distribution spec uses it):
 * "token", else "access_token", and "expires_in" seconds (raised to the
 * minimum lifetime). Errors name @realm.
 */
int reg_token_reply_parse(struct kiln_ctx *ctx, const char *realm, const char *body, size_t len,
			  char **ret, uint64_t *ret_lifetime_s);

/* "origin/v2/repo/kind/ref" */
int reg_url(struct reg_client *c, const char *repo, const char *kind, const char *ref, char **ret);

/* Whether @url is on the registry's own origin (credentials go nowhere else). */
bool reg_url_same_origin(const struct reg_client *c, const char *url);

/*
 * Tell the user about a retry: a NOTICE event when the caller takes events,
 * else an info message on the log.
 */
void reg_notice(struct reg_conn *conn, const char *fmt, ...) _printf_(2, 3);

/*
 * How requests on @conn are tried again (see http_retry()): @tries in all,
 * the registry's own name in messages, which go through reg_notice(), and
 * waits that end when *@cancel (may be NULL) is set.
 */
struct http_retry reg_retry(struct reg_conn *conn, unsigned tries, const atomic_bool *cancel);

/* ---- auth.c ---- */

/*
 * The Authorization value for a request needing @scopes ("Bearer T",
 * "Basic B64"), or NULL in *@ret when none is needed. May fetch a token
 * over @conn.
 */
int reg_auth_header(struct reg_conn *conn, const char *const *scopes, char **ret);

/*
 * Digest a 401: switch to what @resp's WWW-Authenticate asks for. Scopes an
 * insufficient_scope challenge names are added to *@extra (a
 * NULL-terminated array the caller frees with strv_free()). The cached
 * token for @scopes is dropped. -EACCES (with the message) when nothing can
 * be done: no credentials, or no usable challenge.
 */
int reg_auth_challenged(struct reg_conn *conn, const struct http_response *resp,
			const char *const *scopes, char ***extra);

/* "repository:@repo:@actions" */
char *reg_scope(const char *repo, const char *actions);


/* ---- sources.c: where blobs are known to be, for cross-repository mounts ---- */

struct reg_sources;

/* Load the record in @s for @domain (an absent or damaged record is an empty one). */
int reg_sources_load(struct kiln_store *s, const char *domain, struct reg_sources **ret);
void reg_sources_free(struct reg_sources *src);
DEFINE_FREEP(struct reg_sources, reg_sources_free)
/* A repository of the domain other than @not_repo holding @d, or NULL. */
const char *reg_sources_find(const struct reg_sources *src, const struct kiln_digest *d,
			     const char *not_repo);
/*
 * Remember that @digests are in @domain/@repo, less those @known (may be
 * NULL) has already; failures only lose a hint, so none are reported.
 */
void reg_sources_add(struct kiln_store *s, const struct reg_sources *known, const char *domain,
		     const char *repo, const struct kiln_digest *const *digests, size_t n);

/* ---- transfer.c: worker threads, events, helpers of push and pull ---- */

struct reg_events {
	const struct kiln_registry_options *opts;
	pthread_mutex_t lock;
	_Atomic uint64_t bytes_done;
	_Atomic uint64_t bytes_total;
	atomic_uint blobs_done;
	unsigned blobs_total;
};

void reg_events_init(struct reg_events *e, const struct kiln_registry_options *o);
void reg_events_destroy(struct reg_events *e);
void reg_event_blob(struct reg_events *e, enum kiln_blob_action action, const struct kiln_digest *d,
		    uint64_t size, const char *from);
void reg_event_manifest(struct reg_events *e, const struct kiln_digest *d, uint64_t size);
void reg_event_progress(struct reg_events *e);
void reg_event_notice(struct reg_events *e, const char *message);

/* The main thread's connection and one per worker thread. */
struct reg_workers {
	struct reg_conn *main; /* on the caller's context */
	struct reg_conn **conns;
	unsigned n;
	/* set by the first failure: the others stop (their transfers are cancelled) */
	atomic_bool failed;
};

#define REG_DEFAULT_JOBS 4
#define REG_MAX_JOBS 32

int reg_workers_init(struct reg_workers *w, struct reg_client *c, struct kiln_ctx *ctx,
		     unsigned jobs);
void reg_workers_release(struct reg_workers *w);
/* A worker failed with @r: keep its message and hint (*@ret_error, *@ret_hint), stop the rest. */
void reg_workers_fail(struct reg_workers *w, struct reg_conn *conn, int r, char **ret_error,
		      enum kiln_hint *ret_hint);

/* One blob of a push or pull, as the worker threads see it. */
struct reg_blob {
	struct kiln_digest digest;
	uint64_t size;
	const char *mount_from; /* push: a repository holding it (borrowed), or NULL */
	enum kiln_blob_action action;
	_Atomic uint64_t moved; /* bytes moved for this blob (rolled back on restarts) */
	int r;
	char *error;
	enum kiln_hint hint; /* of @error */
};

/* What a push and a pull hold alike: the registry, its connections, events, blobs. */
struct reg_transfer {
	struct reg_client *c;
	struct reg_workers w;
	struct reg_events ev;
	char *scope; /* "repository:<repo>:pull[,push]" */
	struct reg_blob *blobs;
	size_t n_blobs, alloc_blobs;
};

/* Ready for events to @o (the registry is not spoken to yet). */
void reg_transfer_init(struct reg_transfer *t, const struct kiln_registry_options *o);
void reg_transfer_release(struct reg_transfer *t);

/*
 * Make the client for @domain/@repo with a token scope of @actions
 * ("pull", "pull,push"), its connections (@o's jobs) and ping it. On
 * failure @t holds what it held before plus what its release frees.
 */
int reg_transfer_connect(struct reg_transfer *t, struct kiln_ctx *ctx, const char *domain,
			 const char *repo, const char *actions,
			 const struct kiln_registry_options *o);

/*
 * Where @d stands: 0 among @t's blobs already, 1 not in @s, 2 in @s with
 * *@ret_size its size there. -errno, with the error on @ctx, when the store
 * cannot be asked.
 */
int reg_transfer_lookup(struct reg_transfer *t, struct kiln_ctx *ctx, struct kiln_store *s,
			const struct kiln_descriptor *d, uint64_t *ret_size);
/* Tries of a blob upload (push.c), and of a chunk within one (push-chunks.c). */
#define REG_UPLOAD_ATTEMPTS 5

/*
 * PATCH blob @b, read from @fd, in chunks to the upload session at
 * *@location (kept up to date). Returns 0 when all is sent, 1 when the
 * session was lost and the upload must start over, -errno on failure.
 */
int reg_send_chunks(struct reg_transfer *t, struct reg_conn *conn, struct reg_blob *b, int fd,
		    char **location);

/* Append @d to @t's blobs. */
int reg_transfer_add(struct reg_transfer *t, const struct kiln_descriptor *d);

/*
 * Run @one for each of @t's blobs on the worker connections; @one sets the
 * blob's action. Progress and a blob event for each blob done go to @t's
 * events. The first failure stops the rest; it is returned, with its
 * message, on @ctx.
 */
int reg_transfer_blobs(struct reg_transfer *t, struct kiln_ctx *ctx,
		       int (*one)(void *userdata, struct reg_conn *conn, struct reg_blob *b),
		       void *userdata);

/*
 * HEAD @ref of repository @path, @kind "manifests" (a tag or digest) or
 * "blobs" (a digest), with token scope @scope: *@ret gets the digest the
 * registry reports ("" when it sends none), or NULL for 404.
 */
int reg_head(struct reg_conn *conn, const char *scope, const char *path, const char *kind,
	     const char *ref, const atomic_bool *cancel, char **ret);

/*
 * The media type of a manifest or index: its "mediaType", else @fallback
 * (a descriptor's or a Content-Type, parameters dropped) when that is a
 * manifest or index type, else its shape. Schema 1 and other types are
 * -EPROTONOSUPPORT naming the type; a body that is not JSON -EBADMSG.
 */
int reg_manifest_media_type(struct kiln_ctx *ctx, const char *json, size_t len,
			    const char *fallback, char **ret);
