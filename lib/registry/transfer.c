/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What push and pull share: a connection per worker thread (libcurl easy
 * handles are not to be shared between threads; one each also keeps one
 * socket alive per worker), transfer events serialized for the caller, and
 * the media type of a manifest as the registry and the spec see it.
 */
#include <string.h>
#include <strings.h>

#include "json-parse.h"
#include "log.h"
#include "parallel.h"
#include "registry-internal.h"

/* ---- workers ---- */

int reg_workers_init(struct reg_workers *w, struct reg_client *c, struct kiln_ctx *ctx,
		     unsigned jobs)
{
	int r;

	*w = (struct reg_workers){ 0 };
	if (jobs == 0)
		jobs = REG_DEFAULT_JOBS;
	if (jobs > REG_MAX_JOBS)
		jobs = REG_MAX_JOBS;
	r = reg_conn_new(c, ctx, &w->main);
	if (r < 0)
		return r;
	w->conns = calloc(jobs, sizeof(*w->conns));
	if (!w->conns)
		return -ENOMEM;
	for (unsigned i = 0; i < jobs; i++) {
		r = reg_conn_new(c, NULL, &w->conns[i]);
		if (r < 0)
			return r;
		w->n++;
	}
	return 0;
}

void reg_workers_release(struct reg_workers *w)
{
	for (unsigned i = 0; i < w->n; i++)
		reg_conn_free(w->conns[i]);
	free(w->conns);
	reg_conn_free(w->main);
	*w = (struct reg_workers){ 0 };
}

void reg_workers_fail(struct reg_workers *w, struct reg_conn *conn, int r, char **ret_error,
		      enum kiln_hint *ret_hint)
{
	const char *msg = kiln_ctx_error(conn->ctx);

	if (r != -ECANCELED)
		atomic_store(&w->failed, true);
	free(*ret_error);
	*ret_error = msg ? strdup(msg) : NULL;
	*ret_hint = kiln_ctx_error_hint(conn->ctx, NULL);
	kiln_ctx_clear_error(conn->ctx);
}

void reg_transfer_init(struct reg_transfer *t, const struct kiln_registry_options *o)
{
	*t = (struct reg_transfer){ 0 };
	reg_events_init(&t->ev, o);
}

void reg_transfer_release(struct reg_transfer *t)
{
	for (size_t i = 0; i < t->n_blobs; i++)
		free(t->blobs[i].error);
	free(t->blobs);
	free(t->scope);
	reg_workers_release(&t->w);
	reg_client_free(t->c);
	reg_events_destroy(&t->ev);
}

int reg_transfer_connect(struct reg_transfer *t, struct kiln_ctx *ctx, const char *domain,
			 const char *repo, const char *actions,
			 const struct kiln_registry_options *o)
{
	int r;

	t->scope = reg_scope(repo, actions);
	if (!t->scope)
		return -ENOMEM;
	r = reg_client_new(ctx, domain, repo, o, &t->c);
	if (r < 0)
		return r;
	t->c->events = &t->ev;
	r = reg_workers_init(&t->w, t->c, ctx, o->jobs);
	if (r < 0)
		return r;
	return reg_ping(t->w.main);
}

int reg_transfer_lookup(struct reg_transfer *t, struct kiln_ctx *ctx, struct kiln_store *s,
			const struct kiln_descriptor *d, uint64_t *ret_size)
{
	uint64_t size;
	int r;

	for (size_t i = 0; i < t->n_blobs; i++)
		if (streq(t->blobs[i].digest.s, d->digest.s))
			return 0;
	r = kiln_store_has_blob(s, &d->digest, &size);
	if (r < 0)
		return kiln_error(ctx, r, "cannot look up blob %s in the store: %s", d->digest.s,
				  strerror(-r));
	if (r == 0)
		return 1;
	*ret_size = size;
	return 2;
}

int reg_transfer_add(struct reg_transfer *t, const struct kiln_descriptor *d)
{
	if (GROW(t->blobs, t->alloc_blobs, t->n_blobs + 1) < 0)
		return -ENOMEM;
	t->blobs[t->n_blobs++] = (struct reg_blob){ .digest = d->digest, .size = d->size };
	return 0;
}

/* ---- blobs in parallel ---- */

struct transfer {
	struct reg_transfer *t;
	int (*one)(void *userdata, struct reg_conn *conn, struct reg_blob *b);
	void *userdata;
};

static void transfer_worker(size_t i, unsigned worker, void *userdata)
{
	struct transfer *x = userdata;
	struct reg_blob *b = &x->t->blobs[i];
	struct reg_conn *conn = x->t->w.conns[worker];

	if (atomic_load(&x->t->w.failed)) {
		b->r = -ECANCELED;
		return;
	}
	b->r = x->one(x->userdata, conn, b);
	if (b->r < 0) {
		reg_workers_fail(&x->t->w, conn, b->r, &b->error, &b->hint);
		return;
	}
	reg_event_blob(&x->t->ev, b->action, &b->digest, b->size,
		       b->action == KILN_BLOB_MOUNTED ? b->mount_from : NULL);
}

static void transfer_progress(size_t done, size_t n, void *userdata)
{
	struct reg_transfer *t = ((struct transfer *)userdata)->t;
	uint64_t sum = 0;

	for (size_t i = 0; i < t->n_blobs; i++)
		sum += atomic_load(&t->blobs[i].moved);
	atomic_store(&t->ev.bytes_done, sum);
	if (done < n)
		reg_event_progress(&t->ev);
}

int reg_transfer_blobs(struct reg_transfer *t, struct kiln_ctx *ctx,
		       int (*one)(void *userdata, struct reg_conn *conn, struct reg_blob *b),
		       void *userdata)
{
	struct transfer x = { .t = t, .one = one, .userdata = userdata };

	kiln_parallel_for(t->n_blobs, t->w.n, transfer_worker, transfer_progress, &x);
	/* a cancelled blob only says another failed first: report that one */
	for (size_t i = 0; i < t->n_blobs; i++)
		if (t->blobs[i].r < 0 && t->blobs[i].r != -ECANCELED)
			return kiln_error_hint(ctx, t->blobs[i].hint, NULL, t->blobs[i].r, "%s",
					       t->blobs[i].error ? t->blobs[i].error
								 : strerror(-t->blobs[i].r));
	return 0;
}

/* ---- events ---- */

void reg_events_init(struct reg_events *e, const struct kiln_registry_options *o)
{
	*e = (struct reg_events){ .opts = o };
	pthread_mutex_init(&e->lock, NULL);
}

void reg_events_destroy(struct reg_events *e)
{
	pthread_mutex_destroy(&e->lock);
}

static void emit(struct reg_events *e, struct kiln_transfer_event *ev)
{
	if (!e->opts || !e->opts->on_event)
		return;
	ev->bytes_done = atomic_load(&e->bytes_done);
	ev->bytes_total = atomic_load(&e->bytes_total);
	ev->blobs_done = atomic_load(&e->blobs_done);
	ev->blobs_total = e->blobs_total;
	pthread_mutex_lock(&e->lock);
	e->opts->on_event(e->opts->userdata, ev);
	pthread_mutex_unlock(&e->lock);
}

void reg_event_blob(struct reg_events *e, enum kiln_blob_action action, const struct kiln_digest *d,
		    uint64_t size, const char *from)
{
	struct kiln_transfer_event ev = {
		.kind = KILN_TRANSFER_BLOB,
		.action = action,
		.digest = d,
		.size = size,
		.from = from,
	};

	atomic_fetch_add(&e->blobs_done, 1);
	emit(e, &ev);
}

void reg_event_manifest(struct reg_events *e, const struct kiln_digest *d, uint64_t size)
{
	struct kiln_transfer_event ev = {
		.kind = KILN_TRANSFER_MANIFEST,
		.digest = d,
		.size = size,
	};

	emit(e, &ev);
}

void reg_event_progress(struct reg_events *e)
{
	struct kiln_transfer_event ev = { .kind = KILN_TRANSFER_PROGRESS };

	emit(e, &ev);
}

void reg_event_notice(struct reg_events *e, const char *message)
{
	struct kiln_transfer_event ev = { .kind = KILN_TRANSFER_NOTICE, .message = message };

	emit(e, &ev);
}

/* @mt without parameters, if it is a manifest or index type kiln handles */
static char *known_type(const char *mt)
{
	size_t n;

	if (!mt)
		return NULL;
	n = strcspn(mt, "; \t");
	for (const char *const *k =
		 (const char *const[]){ KILN_MT_OCI_MANIFEST, KILN_MT_OCI_INDEX,
					KILN_MT_DOCKER_MANIFEST, KILN_MT_DOCKER_LIST, NULL };
	     *k; k++)
		if (strlen(*k) == n && strncasecmp(*k, mt, n) == 0)
			return strdup(*k);
	return NULL;
}

int reg_manifest_media_type(struct kiln_ctx *ctx, const char *json, size_t len,
			    const char *fallback, char **ret)
{
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	const struct json_value *root, *sv;
	const char *mt;
	uint64_t version = 0;
	char *k;
	int r;

	r = json_parse(ctx, "manifest", json, len, &doc);
	if (r < 0)
		return r;
	root = json_doc_root(doc);
	if (root->type != JSON_OBJECT)
		return kiln_error(ctx, EBADMSG, "the manifest is not a JSON object");
	sv = json_get(root, "schemaVersion");
	if (sv && json_get_u64(sv, &version) >= 0 && version == 1)
		return kiln_error(ctx, EPROTONOSUPPORT,
				  "a Docker schema 1 manifest: kiln reads schema 2 and OCI only");
	mt = json_get_string(root, "mediaType");
	if (mt) {
		k = known_type(mt);
		if (!k) {
			_cleanup_free_ char *q = quote_for_message(mt, strlen(mt), 100);

			return kiln_error(ctx, EPROTONOSUPPORT,
					  "unsupported manifest media type \"%s\"", strempty(q));
		}
	} else {
		k = known_type(fallback);
		if (!k && json_get(root, "manifests"))
			k = strdup(KILN_MT_OCI_INDEX);
		else if (!k && json_get(root, "config"))
			k = strdup(KILN_MT_OCI_MANIFEST);
		else if (!k)
			return kiln_error(ctx, EBADMSG,
					  "the JSON is neither a manifest nor an index (no "
					  "mediaType, config or manifests)");
	}
	if (!k)
		return -ENOMEM;
	*ret = k;
	return 0;
}

int reg_head(struct reg_conn *conn, const char *scope, const char *path, const char *kind,
	     const char *ref, const atomic_bool *cancel, char **ret)
{
	_cleanup_(http_response_release) struct http_response resp = { .content_length = -1 };
	_cleanup_free_ char *url = NULL, *what = NULL;
	const char *scopes[] = { scope, NULL };
	const char *headers[] = { REG_ACCEPT_MANIFESTS, NULL };
	bool manifest = streq(kind, "manifests");
	char *digest;
	int r;

	r = reg_url(conn->c, path, kind, ref, &url);
	if (r < 0 || asprintf(&what, "HEAD %s %s%s%s", manifest ? "manifest" : "blob",
			      manifest ? path : "", manifest ? ":" : "", ref) < 0)
		return -ENOMEM;
	r = reg_call(conn,
		     &(struct reg_call){ .what = what,
					 .method = "HEAD",
					 .url = url,
					 .scopes = scopes,
					 .headers = manifest ? headers : NULL,
					 .retry = true,
					 .cancel = cancel },
		     &resp);
	if (r < 0)
		return r;
	if (resp.status == 404) {
		*ret = NULL;
		return 0;
	}
	if (resp.status != 200)
		return reg_status_error(conn, what, &resp);
	digest = strdup(resp.docker_digest ? resp.docker_digest : "");
	if (!digest)
		return -ENOMEM;
	*ret = digest;
	return 0;
}
