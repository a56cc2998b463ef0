/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Push: the image's blobs first, in parallel (HEAD, mount, or upload
 * streamed from the store's file), then child manifests by digest, and the
 * tag last, so that a push that fails anywhere leaves the tag where it was.
 */
#include <string.h>

#include "json-parse.h"
#include "log.h"
#include "registry-internal.h"

/* Up to this a blob goes in one PUT; above it in PATCH chunks that can be resumed. */
#define MONOLITHIC_MAX (16u << 20)
#define MANIFEST_ATTEMPTS 4
#define INDEX_DEPTH_MAX 4

struct push_manifest {
	struct kiln_digest digest;
	uint64_t size;
	char *media_type;
	char *json;
	size_t len;
};

struct push {
	struct kiln_ctx *ctx;
	struct kiln_store *s;
	const struct kiln_ref *dest;
	struct reg_transfer t;
	struct reg_sources *sources;
	struct push_manifest *manifests; /* children first, the pushed image last */
	size_t n_manifests, alloc_manifests;
	struct kiln_digest *remote; /* index children that must already be in the destination */
	size_t n_remote, alloc_remote;
};

static void push_release(struct push *p)
{
	for (size_t i = 0; i < p->n_manifests; i++) {
		free(p->manifests[i].media_type);
		free(p->manifests[i].json);
	}
	free(p->manifests);
	free(p->remote);
	reg_sources_free(p->sources);
	reg_transfer_release(&p->t);
}

void kiln_push_result_release(struct kiln_push_result *r)
{
	free(r->reference);
	free(r->name);
	kiln_descriptor_release(&r->desc);
	*r = (struct kiln_push_result){ 0 };
}

/* ---- the plan: which blobs and manifests, in which order ---- */

static int add_blob(struct push *p, const struct kiln_descriptor *d, const char *owner)
{
	uint64_t size;
	int r;

	r = reg_transfer_lookup(&p->t, p->ctx, p->s, d, &size);
	if (r <= 0)
		return r;
	if (r == 1 && d->n_urls > 0)
		return 0; /* a foreign layer: it is fetched from its URLs, never pushed */
	if (r == 1)
		return kiln_error(p->ctx, ENOENT,
				  "blob %s of manifest %s is not in the store: the image is "
				  "incomplete (pull or build it again)",
				  d->digest.s, owner);
	if (size != d->size)
		return kiln_error(p->ctx, EBADMSG,
				  "blob %s is %ju bytes in the store but manifest %s says %ju",
				  d->digest.s, (uintmax_t)size, owner, (uintmax_t)d->size);
	return reg_transfer_add(&p->t, d);
}

static int add_manifest(struct push *p, const struct kiln_descriptor *d, const char *mt,
			char **json, size_t len)
{
	struct push_manifest *m;

	for (size_t i = 0; i < p->n_manifests; i++)
		if (streq(p->manifests[i].digest.s, d->digest.s))
			return 0;
	if (GROW(p->manifests, p->alloc_manifests, p->n_manifests + 1) < 0)
		return -ENOMEM;
	m = &p->manifests[p->n_manifests];
	*m = (struct push_manifest){ .digest = d->digest, .size = len };
	m->media_type = strdup(mt);
	if (!m->media_type)
		return -ENOMEM;
	m->json = TAKE_PTR(*json);
	m->len = len;
	p->n_manifests++;
	return 0;
}

static int plan_image(struct push *p, const struct kiln_descriptor *d, unsigned depth)
{
	_cleanup_free_ char *json = NULL, *mt = NULL;
	size_t len;
	int r;

	if (depth > INDEX_DEPTH_MAX)
		return kiln_error(p->ctx, ELOOP, "indexes nested more than %d deep at %s",
				  INDEX_DEPTH_MAX, d->digest.s);
	r = kiln_store_read_blob(p->ctx, p->s, &d->digest, KILN_MANIFEST_MAX, &json, &len);
	if (r < 0)
		return r;
	r = reg_manifest_media_type(p->ctx, json, len, d->media_type, &mt);
	if (r < 0)
		return r;
	if (kiln_media_type_is_index(mt)) {
		_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;

		r = kiln_index_parse(p->ctx, json, len, &idx);
		if (r < 0)
			return r;
		for (size_t i = 0; i < idx->n_manifests; i++) {
			const struct kiln_descriptor *child = &idx->manifests[i];

			r = kiln_store_has_blob(p->s, &child->digest, NULL);
			if (r < 0)
				return r;
			if (r > 0) {
				r = plan_image(p, child, depth + 1);
			} else {
				/* a pulled index holds one platform: the others must be there */
				r = GROW(p->remote, p->alloc_remote, p->n_remote + 1);
				if (r >= 0)
					p->remote[p->n_remote++] = child->digest;
			}
			if (r < 0)
				return r;
		}
	} else {
		_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;

		r = kiln_manifest_parse(p->ctx, json, len, &m);
		if (r < 0)
			return r;
		r = add_blob(p, &m->config, d->digest.s);
		for (size_t i = 0; r >= 0 && i < m->n_layers; i++)
			r = add_blob(p, &m->layers[i], d->digest.s);
		if (r < 0)
			return r;
	}
	return add_manifest(p, d, mt, &json, len);
}

/* ---- one blob ---- */

static int verify_local(struct push *p, struct reg_conn *conn, struct reg_blob *b, int fd)
{
	struct kiln_digest got;
	int r;

	r = kiln_digest_of_fd(conn->ctx, fd, &got);
	if (r < 0) {
		kiln_error_prefix(conn->ctx, "cannot read blob %s from the store", b->digest.s);
		return r;
	}
	if (!streq(got.s, b->digest.s))
		return kiln_error(conn->ctx, EBADMSG,
				  "blob %s in the store %s is corrupt (it hashes to %s): pull or "
				  "build the image again",
				  b->digest.s, kiln_store_path(p->s), got.s);
	return 0;
}

/* POST .../blobs/uploads/: a new upload session's URL. */
static int start_upload(struct push *p, struct reg_conn *conn, struct reg_blob *b, char **ret)
{
	_cleanup_(http_response_release) struct http_response resp = { .content_length = -1 };
	_cleanup_free_ char *url = NULL, *what = NULL;
	const char *scopes[] = { p->t.scope, NULL };
	int r;

	r = reg_url(p->t.c, p->dest->path, "blobs/uploads/", NULL, &url);
	if (r < 0 || asprintf(&what, "start upload of blob %s", b->digest.s) < 0)
		return -ENOMEM;
	r = reg_call(conn,
		     &(struct reg_call){ .what = what,
					 .method = "POST",
					 .url = url,
					 .scopes = scopes,
					 .max_body = 65536,
					 .retry = true,
					 .cancel = &p->t.w.failed },
		     &resp);
	if (r < 0)
		return r;
	if (resp.status != 202 || !resp.location)
		return reg_status_error(conn, what, &resp);
	r = kiln_registry_url_resolve(url, resp.location, NULL, NULL, ret);
	if (r < 0)
		return kiln_error(conn->ctx, EPROTO, "%s: %s sent an unusable Location", what,
				  p->t.c->domain);
	return 0;
}

/* The registry's digest of what it stored must be ours. */
static int check_digest(struct reg_conn *conn, const char *what, const struct http_response *resp,
			const struct kiln_digest *d)
{
	if (resp->docker_digest && !streq(resp->docker_digest, d->s)) {
		_cleanup_free_ char *q =
		    quote_for_message(resp->docker_digest, strlen(resp->docker_digest), 80);

		return kiln_error(conn->ctx, EBADMSG, "%s: %s stored it as \"%s\"", what,
				  conn->c->domain, strempty(q));
	}
	return 0;
}

static int head_blob(struct push *p, struct reg_conn *conn, struct reg_blob *b, bool *ret)
{
	_cleanup_free_ char *digest = NULL;
	int r = reg_head(conn, p->t.scope, p->dest->path, "blobs", b->digest.s, &p->t.w.failed,
			 &digest);

	if (r >= 0)
		*ret = digest;
	return r;
}

static int upload_blob(struct push *p, struct reg_conn *conn, struct reg_blob *b, char *location_in)
{
	_cleanup_free_ char *location = location_in, *what = NULL;
	_cleanup_close_ int fd = -1;
	const char *scopes[] = { p->t.scope, NULL };
	bool checked_local = false, corrupted = false;
	unsigned delay_ms = 0;
	int r = 0;

	if (asprintf(&what, "upload of blob %s", b->digest.s) < 0)
		return -ENOMEM;
	fd = kiln_store_open_blob(p->s, &b->digest);
	if (fd < 0)
		return kiln_error(conn->ctx, fd, "cannot open blob %s in the store: %s",
				  b->digest.s, strerror(-fd));
	for (unsigned attempt = 0;; attempt++) {
		_cleanup_(http_response_release) struct http_response resp = { .content_length =
										   -1 };
		_cleanup_free_ char *put_url = NULL;
		bool chunked = b->size > MONOLITHIC_MAX;

		if (attempt > 0) {
			bool there = false;

			if (attempt >= REG_UPLOAD_ATTEMPTS && corrupted)
				return kiln_error(
				    conn->ctx, EBADMSG,
				    "%s: %s said %u times that the bytes it got do not "
				    "match the digest, and the store's copy does: "
				    "something on the way corrupts uploads",
				    what, p->t.c->domain, REG_UPLOAD_ATTEMPTS);
			if (attempt >= REG_UPLOAD_ATTEMPTS)
				return r;
			/* the error names the blob already */
			reg_notice(conn, "%s; starting it again (%u of %u)",
				   kiln_ctx_error(conn->ctx) ? kiln_ctx_error(conn->ctx) : what,
				   attempt + 1, REG_UPLOAD_ATTEMPTS);
			kiln_ctx_clear_error(conn->ctx);
			if (http_sleep_ms(delay_ms, &p->t.w.failed) < 0)
				return -ECANCELED;
			/* what was lost may have been the answer, not the blob */
			if (head_blob(p, conn, b, &there) >= 0 && there)
				return 0;
			kiln_ctx_clear_error(conn->ctx);
			free(location);
			location = NULL;
			atomic_store(&b->moved, 0);
		}
		if (!location) {
			r = start_upload(p, conn, b, &location);
			if (r < 0)
				return r;
		}
		if (chunked) {
			r = reg_send_chunks(&p->t, conn, b, fd, &location);
			if (r < 0)
				return r;
			if (r > 0) {
				r = kiln_error(conn->ctx, EIO, "%s: the upload session was lost",
					       what);
				delay_ms = 0;
				continue;
			}
		}
		r = kiln_registry_url_resolve(location, NULL, "digest", b->digest.s, &put_url);
		if (r < 0)
			return kiln_error(conn->ctx, EPROTO, "%s: unusable upload URL", what);
		r = reg_call(
		    conn,
		    &(struct reg_call){ .what = what,
					.method = "PUT",
					.url = put_url,
					.scopes = scopes,
					.body_kind = chunked ? HTTP_BODY_NONE : HTTP_BODY_FD,
					.body_fd = fd,
					.body_fd_len = b->size,
					.content_type = "application/octet-stream",
					.max_body = 65536,
					.progress = &b->moved,
					.cancel = &p->t.w.failed },
		    &resp);
		if (r == 0 && resp.status == 201)
			return check_digest(conn, what, &resp, &b->digest);
		if (r == -ECANCELED)
			return r;
		if (r == 0 && resp.status == 400 &&
		    strstr(strbuf_str(&resp.body), "DIGEST_INVALID")) {
			/* the store's copy, or the bytes on the way: only the first is fatal */
			if (!checked_local) {
				r = verify_local(p, conn, b, fd);
				if (r < 0)
					return r;
				checked_local = true;
			}
			r = reg_status_error(conn, what, &resp);
			corrupted = true;
			delay_ms = 0;
			continue;
		}
		/* the session is gone (see reg_send_chunks()), or the registry is busy: again */
		corrupted = false;
		if (http_is_transient(r, &resp, false) || r == -EAGAIN ||
		    (r == 0 && resp.status == 404)) {
			delay_ms = http_backoff_ms(attempt, r == 0 ? resp.retry_after : NULL);
			if (r == 0)
				r = reg_status_error(conn, what, &resp);
			continue;
		}
		return r < 0 ? r : reg_status_error(conn, what, &resp);
	}
}

/* 1 when mounted; 0 with *@location set to an upload session (or NULL) when not. */
static int mount_blob(struct push *p, struct reg_conn *conn, struct reg_blob *b, char **location)
{
	_cleanup_(http_response_release) struct http_response resp = { .content_length = -1 };
	_cleanup_free_ char *base = NULL, *u1 = NULL, *url = NULL, *from_scope = NULL;
	const char *scopes[] = { p->t.scope, NULL, NULL };
	int r;

	from_scope = reg_scope(b->mount_from, "pull");
	if (!from_scope || reg_url(p->t.c, p->dest->path, "blobs/uploads/", NULL, &base) < 0)
		return -ENOMEM;
	scopes[1] = from_scope;
	r = kiln_registry_url_resolve(base, NULL, "mount", b->digest.s, &u1);
	if (r >= 0)
		r = kiln_registry_url_resolve(u1, NULL, "from", b->mount_from, &url);
	if (r < 0)
		return r;
	r = reg_call(conn,
		     &(struct reg_call){ .what = "mount",
					 .method = "POST",
					 .url = url,
					 .scopes = scopes,
					 .max_body = 65536,
					 .retry = true,
					 .cancel = &p->t.w.failed },
		     &resp);
	if (r == -ECANCELED)
		return r;
	if (r == 0 && resp.status == 201)
		return 1;
	if (r == 0 && resp.status == 202 && resp.location &&
	    kiln_registry_url_resolve(base, resp.location, NULL, NULL, location) >= 0)
		return 0;
	/* no pull right on the other repository, or it is gone: upload instead */
	kiln_log(conn->ctx, KILN_LOG_DEBUG, "mount of %s from %s failed: %s", b->digest.s,
		 b->mount_from, strempty(kiln_ctx_error(conn->ctx)));
	kiln_ctx_clear_error(conn->ctx);
	return 0;
}

static int push_one(void *userdata, struct reg_conn *conn, struct reg_blob *b)
{
	struct push *p = userdata;
	char *location = NULL;
	bool exists;
	int r;

	r = head_blob(p, conn, b, &exists);
	if (r < 0)
		return r;
	if (exists) {
		b->action = KILN_BLOB_EXISTS;
		return 0;
	}
	if (b->mount_from) {
		r = mount_blob(p, conn, b, &location);
		if (r < 0)
			return r;
		if (r > 0) {
			b->action = KILN_BLOB_MOUNTED;
			return 0;
		}
	}
	atomic_fetch_add(&p->t.ev.bytes_total, b->size);
	r = upload_blob(p, conn, b, location);
	if (r < 0)
		return r;
	b->action = KILN_BLOB_UPLOADED;
	return 0;
}

/* ---- manifests ---- */

/* The URL of the destination's manifest @ref, and "@method manifest PATH:REF" for messages. */
static int manifest_call(struct push *p, const char *method, const char *ref, char **ret_url,
			 char **ret_what)
{
	_cleanup_free_ char *url = NULL, *what = NULL;
	int r;

	r = reg_url(p->t.c, p->dest->path, "manifests", ref, &url);
	if (r < 0 || asprintf(&what, "%s manifest %s:%s", method, p->dest->path, ref) < 0)
		return -ENOMEM;
	*ret_url = TAKE_PTR(url);
	*ret_what = TAKE_PTR(what);
	return 0;
}

/* The digest a manifest HEAD reports, or NULL in *@ret for 404. */
static int head_manifest(struct push *p, const char *ref, char **ret)
{
	return reg_head(p->t.w.main, p->t.scope, p->dest->path, "manifests", ref, NULL, ret);
}

static int put_manifest(struct push *p, const struct push_manifest *m, const char *ref)
{
	_cleanup_(http_response_release) struct http_response resp = { .content_length = -1 };
	_cleanup_free_ char *url = NULL, *what = NULL;
	const char *scopes[] = { p->t.scope, NULL };
	struct reg_conn *conn = p->t.w.main;
	int r;

	r = manifest_call(p, "PUT", ref, &url, &what);
	if (r < 0)
		return r;
	for (unsigned attempt = 1;; attempt++) {
		r = reg_call(conn,
			     &(struct reg_call){ .what = what,
						 .method = "PUT",
						 .url = url,
						 .scopes = scopes,
						 .body_kind = HTTP_BODY_MEMORY,
						 .body = m->json,
						 .body_len = m->len,
						 .content_type = m->media_type,
						 .max_body = 65536,
						 .retry = true },
			     &resp);
		if (r < 0)
			return r;
		if (resp.status == 201)
			break;
		/*
		 * Every blob was found or sent just before: "unknown" now is a
		 * registry rewriting its links under another push of the same
		 * blobs (distribution's filesystem storage empties a link file
		 * before it writes it again).
		 */
		if (resp.status != 400 || attempt >= MANIFEST_ATTEMPTS ||
		    !strstr(strbuf_str(&resp.body), "MANIFEST_BLOB_UNKNOWN"))
			return reg_status_error(conn, what, &resp);
		reg_notice(conn,
			   "%s: %s calls a blob it just confirmed unknown (another push of the "
			   "same blobs?); retrying (%u of %u)",
			   what, p->t.c->domain, attempt + 1, MANIFEST_ATTEMPTS);
		if (http_sleep_ms(http_backoff_ms(attempt - 1, NULL), NULL) < 0)
			return -ECANCELED;
	}
	r = check_digest(conn, what, &resp, &m->digest);
	if (r < 0)
		return r;
	reg_event_manifest(&p->t.ev, &m->digest, m->size);
	return 0;
}

static int push_manifests(struct push *p, struct kiln_push_result *res)
{
	for (size_t i = 0; i < p->n_manifests; i++) {
		const struct push_manifest *m = &p->manifests[i];
		bool top = i + 1 == p->n_manifests;
		const char *ref = top && p->dest->tag ? p->dest->tag : m->digest.s;
		_cleanup_free_ char *have = NULL;
		int r;

		/* a tag that already names this image is left alone: a re-push changes nothing */
		r = head_manifest(p, ref, &have);
		if (r < 0)
			return r;
		if (have && streq(have, m->digest.s))
			continue;
		r = put_manifest(p, m, ref);
		if (r < 0)
			return r;
		res->manifests_put++;
	}
	return 0;
}

static int check_remote_children(struct push *p)
{
	for (size_t i = 0; i < p->n_remote; i++) {
		_cleanup_free_ char *have = NULL;
		int r = head_manifest(p, p->remote[i].s, &have);

		if (r < 0)
			return r;
		if (!have)
			return kiln_error(p->ctx, ENOENT,
					  "the index references manifest %s, which is neither in "
					  "the store nor in %s/%s",
					  p->remote[i].s, p->dest->domain, p->dest->path);
	}
	return 0;
}

static int make_result(struct push *p, const struct kiln_descriptor *src,
		       struct kiln_push_result *res)
{
	const struct push_manifest *top = &p->manifests[p->n_manifests - 1];
	struct kiln_ref full = {
		.domain = p->dest->domain,
		.path = p->dest->path,
		.tag = p->dest->tag,
		.digest = (char *)top->digest.s,
	};
	int r;

	res->reference = kiln_ref_string(&full);
	res->name = kiln_ref_name(p->dest);
	if (!res->reference || !res->name)
		return -ENOMEM;
	r = kiln_descriptor_copy(src, &res->desc);
	if (r < 0)
		return r;
	free(res->desc.media_type);
	res->desc.media_type = strdup(top->media_type);
	if (!res->desc.media_type)
		return -ENOMEM;
	for (size_t i = 0; i < p->t.n_blobs; i++) {
		if (p->t.blobs[i].action == KILN_BLOB_EXISTS)
			res->blobs_existing++;
		else if (p->t.blobs[i].action == KILN_BLOB_MOUNTED)
			res->blobs_mounted++;
		else
			res->blobs_uploaded++;
	}
	res->bytes_uploaded = atomic_load(&p->t.ev.bytes_done);
	return 0;
}

static void remember(struct push *p)
{
	_cleanup_free_ const struct kiln_digest **v = calloc(p->t.n_blobs + 1, sizeof(*v));

	if (!v)
		return;
	for (size_t i = 0; i < p->t.n_blobs; i++)
		v[i] = &p->t.blobs[i].digest;
	reg_sources_add(p->s, p->sources, p->dest->domain, p->dest->path, v, p->t.n_blobs);
}

int kiln_registry_push(struct kiln_ctx *ctx, struct kiln_store *s,
		       const struct kiln_descriptor *src, const struct kiln_ref *dest,
		       const struct kiln_registry_options *o, struct kiln_push_result *ret)
{
	_cleanup_(push_release) struct push p = { .ctx = ctx, .s = s, .dest = dest };
	struct kiln_push_result res = { 0 };
	int r;

	reg_transfer_init(&p.t, o);
	if (dest->digest && !streq(dest->digest, src->digest.s))
		return kiln_error(ctx, EINVAL,
				  "the destination names digest %s but the image is %s: give a "
				  "tag, or no digest",
				  dest->digest, src->digest.s);
	r = plan_image(&p, src, 0);
	if (r < 0)
		return r;
	r = reg_transfer_connect(&p.t, ctx, dest->domain, dest->path, "pull,push", o);
	if (r < 0)
		return r;
	r = check_remote_children(&p);
	if (r < 0)
		return r;
	r = reg_sources_load(s, dest->domain, &p.sources);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p.t.n_blobs; i++)
		p.t.blobs[i].mount_from =
		    reg_sources_find(p.sources, &p.t.blobs[i].digest, dest->path);
	p.t.ev.blobs_total = (unsigned)p.t.n_blobs;

	r = reg_transfer_blobs(&p.t, ctx, push_one, &p);
	if (r < 0)
		return r;
	remember(&p);
	r = push_manifests(&p, &res);
	if (r < 0)
		return r;
	r = make_result(&p, src, &res);
	if (r < 0) {
		kiln_push_result_release(&res);
		return r;
	}
	/*
	 * The store now knows what @dest names, as a pull of it would, so that
	 * `kiln ls DEST` and a build naming DEST see what was pushed, not an
	 * older pull of the tag. Not a failure of the push if it cannot.
	 */
	if (dest->tag && streq(p.manifests[p.n_manifests - 1].digest.s, src->digest.s) &&
	    kiln_store_set_ref(ctx, s, res.name, src) < 0) {
		kiln_log(ctx, KILN_LOG_WARNING, "pushed, but cannot name %s in the store: %s",
			 res.name, strempty(kiln_ctx_error(ctx)));
		kiln_ctx_clear_error(ctx);
	}
	*ret = res;
	return 0;
}
