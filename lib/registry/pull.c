/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Pull: tag -> manifest or index (bytes kept exactly, digest checked) ->
 * the platform's manifest -> config and layers streamed into the store in
 * parallel, each through a blob writer that hashes as it writes and
 * commits only on the expected digest. Manifests are stored and the ref is
 * set only when every blob is in: an interrupted or corrupt pull tags
 * nothing.
 */
#include <string.h>

#include "log.h"
#include "registry-internal.h"

#define DOWNLOAD_ATTEMPTS 6
#define INDEX_DEPTH_MAX 4

struct fetched {
	struct kiln_digest digest;
	char *json;
	size_t len;
	char *media_type;
};

struct pull {
	struct kiln_ctx *ctx;
	struct kiln_store *s;
	const struct kiln_ref *src;
	struct reg_transfer t;
	struct fetched chain[INDEX_DEPTH_MAX + 1]; /* what the ref names first, the manifest last */
	size_t n_chain;
};

static void pull_release(struct pull *p)
{
	for (size_t i = 0; i < p->n_chain; i++) {
		free(p->chain[i].json);
		free(p->chain[i].media_type);
	}
	reg_transfer_release(&p->t);
}

void kiln_pull_result_release(struct kiln_pull_result *r)
{
	free(r->reference);
	free(r->name);
	kiln_descriptor_release(&r->desc);
	kiln_descriptor_release(&r->manifest);
	*r = (struct kiln_pull_result){ 0 };
}

/* ---- manifests ---- */

static int fetch_manifest(struct pull *p, const char *ref, const struct kiln_digest *expect,
			  const char *fallback_mt, struct fetched *ret)
{
	_cleanup_(http_response_release) struct http_response resp = { .content_length = -1 };
	_cleanup_free_ char *url = NULL, *what = NULL, *mt = NULL;
	const char *scopes[] = { p->t.scope, NULL };
	const char *headers[] = { REG_ACCEPT_MANIFESTS, NULL };
	struct reg_conn *conn = p->t.w.main;
	struct kiln_digest d;
	char *json;
	size_t len;
	int r;

	r = reg_url(p->t.c, p->src->path, "manifests", ref, &url);
	if (r < 0 || asprintf(&what, "GET manifest %s/%s%s%s", p->src->domain, p->src->path,
			      strncmp(ref, "sha256:", 7) == 0 ? "@" : ":", ref) < 0)
		return -ENOMEM;
	r = reg_call(conn,
		     &(struct reg_call){ .what = what,
					 .method = "GET",
					 .url = url,
					 .scopes = scopes,
					 .headers = headers,
					 .max_body = KILN_MANIFEST_MAX,
					 .retry = true },
		     &resp);
	if (r < 0)
		return r;
	if (resp.status == 404) {
		reg_status_error(conn, what, &resp);
		kiln_error_prefix(p->ctx, "no such image");
		return -ENOENT;
	}
	if (resp.status != 200)
		return reg_status_error(conn, what, &resp);
	r = kiln_digest_of(p->ctx, resp.body.buf ? resp.body.buf : "", resp.body.len, &d);
	if (r < 0)
		return r;
	if (expect && !streq(expect->s, d.s))
		return kiln_error(p->ctx, EBADMSG, "%s: the manifest received hashes to %s", what,
				  d.s);
	if (resp.docker_digest && kiln_digest_is_valid(resp.docker_digest) &&
	    !streq(resp.docker_digest, d.s))
		return kiln_error(p->ctx, EBADMSG,
				  "%s: the manifest received hashes to %s, the registry says %s",
				  what, d.s, resp.docker_digest);
	r = reg_manifest_media_type(p->ctx, strbuf_str(&resp.body), resp.body.len,
				    resp.content_type ? resp.content_type : fallback_mt, &mt);
	if (r < 0) {
		kiln_error_prefix(p->ctx, "%s", what);
		return r;
	}
	len = resp.body.len;
	json = strbuf_detach(&resp.body, NULL);
	if (!json)
		return -ENOMEM;
	*ret =
	    (struct fetched){ .digest = d, .len = len, .json = json, .media_type = TAKE_PTR(mt) };
	return 0;
}

/* The entry of @idx for @want (see kiln_index_find_platform()). */
static int choose(struct pull *p, const struct kiln_index *idx, const struct kiln_platform *want,
		  const struct kiln_descriptor **ret)
{
	_cleanup_free_ char *have = NULL, *w = NULL;
	const struct kiln_descriptor *d = kiln_index_find_platform(idx, want);

	if (d) {
		*ret = d;
		return 0;
	}
	w = kiln_platform_string(want);
	have = kiln_index_platforms_string(idx);
	if (!w || !have)
		return -ENOMEM;
	return kiln_error_hint(p->ctx, KILN_HINT_PLATFORM, NULL, ENOENT,
			       "%s/%s has no image for %s (it has: %s)", p->src->domain,
			       p->src->path, w, *have ? have : "none");
}

static int resolve(struct pull *p, const struct kiln_platform *platform)
{
	struct kiln_platform host = { 0 };
	const struct kiln_platform *want = platform;
	const char *ref = p->src->digest ? p->src->digest : p->src->tag ? p->src->tag : "latest";
	struct kiln_digest expect;
	int r;

	if (p->src->digest) {
		r = kiln_digest_parse(p->ctx, p->src->digest, &expect);
		if (r < 0)
			return r;
	}
	r = fetch_manifest(p, ref, p->src->digest ? &expect : NULL, NULL, &p->chain[0]);
	if (r < 0)
		return r;
	p->n_chain = 1;
	while (kiln_media_type_is_index(p->chain[p->n_chain - 1].media_type)) {
		const struct fetched *f = &p->chain[p->n_chain - 1];
		_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
		const struct kiln_descriptor *d = NULL;

		if (p->n_chain > INDEX_DEPTH_MAX) {
			r = kiln_error(p->ctx, ELOOP, "indexes nested more than %d deep",
				       INDEX_DEPTH_MAX);
			break;
		}
		r = kiln_index_parse(p->ctx, f->json, f->len, &idx);
		if (r < 0)
			break;
		if (!want) {
			r = kiln_platform_parse(p->ctx, NULL, &host);
			if (r < 0)
				break;
			want = &host;
		}
		r = choose(p, idx, want, &d);
		if (r < 0)
			break;
		r = fetch_manifest(p, d->digest.s, &d->digest, d->media_type,
				   &p->chain[p->n_chain]);
		if (r < 0)
			break;
		p->n_chain++;
	}
	kiln_platform_release(&host);
	return r;
}

/* ---- blobs ---- */

struct sink {
	struct pull *p;
	struct reg_conn *conn;
	struct reg_blob *b;
	struct kiln_blob_writer *w;
	bool first; /* no data yet from this response */
};

static int sink_write(void *userdata, long status, const void *data, size_t len)
{
	struct sink *k = userdata;
	int r;

	/* a 200 to a Range request starts from byte 0: so must the file */
	if (k->first && status == 200 && kiln_blob_writer_size(k->w) > 0) {
		kiln_blob_writer_free(k->w);
		k->w = NULL;
		atomic_store(&k->b->moved, 0);
		r = kiln_blob_writer_new(k->conn->ctx, k->p->s, &k->w);
		if (r < 0)
			return r;
	}
	k->first = false;
	if (kiln_blob_writer_size(k->w) + len > k->b->size)
		return -EFBIG;
	return kiln_blob_writer_write(k->w, data, len);
}

static int download(struct pull *p, struct reg_conn *conn, struct reg_blob *b)
{
	_cleanup_free_ char *url = NULL, *what = NULL;
	const char *scopes[] = { p->t.scope, NULL };
	struct sink k = { .p = p, .conn = conn, .b = b };
	int r;

	r = reg_url(p->t.c, p->src->path, "blobs", b->digest.s, &url);
	if (r < 0 || asprintf(&what, "GET blob %s", b->digest.s) < 0)
		return -ENOMEM;
	r = kiln_blob_writer_new(conn->ctx, p->s, &k.w);
	if (r < 0)
		return r;
	for (unsigned attempt = 0;; attempt++) {
		_cleanup_(http_response_release) struct http_response resp = { .content_length =
										   -1 };
		uint64_t have = kiln_blob_writer_size(k.w);
		char range[64];
		const char *headers[] = { range, NULL };

		snprintf(range, sizeof(range), "Range: bytes=%ju-", (uintmax_t)have);
		k.first = true;
		r = reg_call(conn,
			     &(struct reg_call){ .what = what,
						 .method = "GET",
						 .url = url,
						 .scopes = scopes,
						 .headers = have > 0 ? headers : NULL,
						 .sink = sink_write,
						 .sink_userdata = &k,
						 .max_body = 0,
						 .follow_redirects = true,
						 .retry = true,
						 .progress = &b->moved,
						 .cancel = &p->t.w.failed },
			     &resp);
		if (r == -EFBIG) {
			r = kiln_error(conn->ctx, EBADMSG,
				       "%s: the registry sent more than the %ju bytes the manifest "
				       "says",
				       what, (uintmax_t)b->size);
			break;
		}
		if (r == 0 && (resp.status == 200 || resp.status == 206)) {
			if (kiln_blob_writer_size(k.w) == b->size)
				break;
			r = kiln_error(conn->ctx, EIO, "%s: %ju of %ju bytes arrived", what,
				       (uintmax_t)kiln_blob_writer_size(k.w), (uintmax_t)b->size);
		} else if (r == 0 && resp.status == 404) {
			r = reg_status_error(conn, what, &resp);
			break;
		} else if (r == 0 && resp.status == 416) {
			/* what we hold is not a prefix the registry agrees with: start over */
			kiln_blob_writer_free(k.w);
			k.w = NULL;
			atomic_store(&b->moved, 0);
			r = kiln_blob_writer_new(conn->ctx, p->s, &k.w);
			if (r < 0)
				return r;
			r = reg_status_error(conn, what, &resp);
		} else if (r == 0) {
			r = reg_status_error(conn, what, &resp);
			break;
		} else if (!http_is_transient(r, &resp, false)) {
			break;
		}
		if (attempt + 1 >= DOWNLOAD_ATTEMPTS)
			break;
		reg_notice(conn, "%s; resuming at byte %ju (%u of %u)",
			   kiln_ctx_error(conn->ctx) ? kiln_ctx_error(conn->ctx) : what,
			   (uintmax_t)kiln_blob_writer_size(k.w), attempt + 2, DOWNLOAD_ATTEMPTS);
		kiln_ctx_clear_error(conn->ctx);
		if (http_sleep_ms(http_backoff_ms(attempt, NULL), &p->t.w.failed) < 0) {
			r = -ECANCELED;
			break;
		}
	}
	if (r < 0) {
		kiln_blob_writer_free(k.w);
		return r;
	}
	r = kiln_blob_writer_commit(conn->ctx, k.w, &b->digest, NULL);
	kiln_blob_writer_free(k.w);
	if (r < 0)
		kiln_error_prefix(conn->ctx, "blob %s from %s/%s", b->digest.s, p->src->domain,
				  p->src->path);
	return r;
}

static int pull_one(void *userdata, struct reg_conn *conn, struct reg_blob *b)
{
	int r = download(userdata, conn, b);

	if (r >= 0)
		b->action = KILN_BLOB_DOWNLOADED;
	return r;
}

static int add_blob(struct pull *p, const struct kiln_descriptor *d)
{
	uint64_t size;
	int r;

	r = reg_transfer_lookup(&p->t, p->ctx, p->s, d, &size);
	if (r <= 0)
		return r;
	if (r == 2 && size == d->size) {
		reg_event_blob(&p->t.ev, KILN_BLOB_PRESENT, &d->digest, d->size, NULL);
		return 0;
	}
	r = reg_transfer_add(&p->t, d);
	if (r < 0)
		return r;
	atomic_fetch_add(&p->t.ev.bytes_total, d->size);
	return 0;
}

/* ---- the whole ---- */

static int store_chain(struct pull *p)
{
	for (size_t i = p->n_chain; i > 0; i--) {
		const struct fetched *f = &p->chain[i - 1];
		struct kiln_digest got;
		int r;

		r = kiln_store_put_blob(p->ctx, p->s, f->json, f->len, &got);
		if (r < 0)
			return r;
		if (!streq(got.s, f->digest.s))
			return kiln_error(p->ctx, EIO, "the store kept manifest %s as %s",
					  f->digest.s, got.s);
		reg_event_manifest(&p->t.ev, &f->digest, f->len);
	}
	return 0;
}

static int make_result(struct pull *p, unsigned present, struct kiln_pull_result *res)
{
	const struct fetched *top = &p->chain[0], *man = &p->chain[p->n_chain - 1];
	struct kiln_ref full = {
		.domain = p->src->domain,
		.path = p->src->path,
		.tag = p->src->tag,
		.digest = (char *)top->digest.s,
	};

	res->reference = kiln_ref_string(&full);
	res->name = kiln_ref_name(p->src);
	res->desc.media_type = strdup(top->media_type);
	res->manifest.media_type = strdup(man->media_type);
	if (!res->reference || !res->name || !res->desc.media_type || !res->manifest.media_type)
		return -ENOMEM;
	res->desc.digest = top->digest;
	res->desc.size = top->len;
	res->manifest.digest = man->digest;
	res->manifest.size = man->len;
	res->blobs_present = present;
	res->blobs_downloaded = (unsigned)p->t.n_blobs;
	res->bytes_downloaded = atomic_load(&p->t.ev.bytes_done);
	return 0;
}

int kiln_registry_pull(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_ref *src,
		       const struct kiln_platform *platform, const struct kiln_registry_options *o,
		       struct kiln_pull_result *ret)
{
	_cleanup_(pull_release) struct pull p = { .ctx = ctx, .s = s, .src = src };
	_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
	_cleanup_free_ const struct kiln_digest **digests = NULL;
	_cleanup_(reg_sources_freep) struct reg_sources *known = NULL;
	struct kiln_pull_result res = { 0 };
	const struct fetched *man;
	unsigned present;
	int r;

	reg_transfer_init(&p.t, o);
	r = reg_transfer_connect(&p.t, ctx, src->domain, src->path, "pull", o);
	if (r < 0)
		return r;
	r = resolve(&p, platform);
	if (r < 0)
		return r;
	man = &p.chain[p.n_chain - 1];
	r = kiln_manifest_parse(ctx, man->json, man->len, &m);
	if (r < 0) {
		kiln_error_prefix(ctx, "manifest %s from %s/%s", man->digest.s, src->domain,
				  src->path);
		return r;
	}
	r = add_blob(&p, &m->config);
	for (size_t i = 0; r >= 0 && i < m->n_layers; i++)
		r = add_blob(&p, &m->layers[i]);
	if (r < 0)
		return r;
	present = atomic_load(&p.t.ev.blobs_done);
	p.t.ev.blobs_total = (unsigned)p.t.n_blobs + present;

	r = reg_transfer_blobs(&p.t, ctx, pull_one, &p);
	if (r < 0)
		return r;
	r = store_chain(&p);
	if (r < 0)
		return r;
	r = make_result(&p, present, &res);
	if (r >= 0)
		r = kiln_store_set_ref(ctx, s, res.name, &res.desc);
	if (r < 0) {
		kiln_pull_result_release(&res);
		return r;
	}
	digests = calloc(p.t.n_blobs + 1, sizeof(*digests));
	if (digests && reg_sources_load(s, src->domain, &known) >= 0) {
		for (size_t i = 0; i < p.t.n_blobs; i++)
			digests[i] = &p.t.blobs[i].digest;
		reg_sources_add(s, known, src->domain, src->path, digests, p.t.n_blobs);
	}
	*ret = res;
	return 0;
}

int kiln_registry_load_image(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
			     const struct kiln_platform *platform,
			     const struct kiln_registry_options *pull, struct kiln_image **ret)
{
	_cleanup_(kiln_ref_release) struct kiln_ref parsed = { 0 };
	_cleanup_(kiln_pull_result_release) struct kiln_pull_result pulled = { 0 };
	int r;

	r = kiln_store_load_image(ctx, s, ref, platform, ret);
	if (r != -ENOENT || !pull)
		return r;
	kiln_ctx_clear_error(ctx);
	kiln_log(ctx, KILN_LOG_INFO, "pulling %s", ref);
	r = kiln_ref_parse(ctx, ref, &parsed);
	if (r >= 0)
		r = kiln_registry_pull(ctx, s, &parsed, platform, pull, &pulled);
	if (r < 0) {
		kiln_error_prefix(ctx, "\"%s\" is not in the store and could not be pulled", ref);
		return r;
	}
	return kiln_store_load_image(ctx, s, ref, platform, ret);
}

int kiln_registry_resolve(struct kiln_ctx *ctx, const struct kiln_ref *ref,
			  const struct kiln_registry_options *o, struct kiln_digest *ret)
{
	_cleanup_(reg_transfer_release) struct reg_transfer t = { 0 };
	_cleanup_free_ char *digest = NULL;
	const char *name = ref->digest ? ref->digest : ref->tag ? ref->tag : "latest";
	int r;

	reg_transfer_init(&t, o);
	r = reg_transfer_connect(&t, ctx, ref->domain, ref->path, "pull", o);
	if (r < 0)
		return r;
	r = reg_head(t.w.main, t.scope, ref->path, "manifests", name, NULL, &digest);
	if (r < 0)
		return r;
	if (!digest)
		return kiln_error(ctx, ENOENT, "%s/%s:%s: no such image", ref->domain, ref->path,
				  name);
	if (!kiln_digest_is_valid(digest))
		return kiln_error(ctx, EPROTO,
				  "HEAD manifest %s/%s:%s: the registry sent no digest of it",
				  ref->domain, ref->path, name);
	return kiln_digest_parse(ctx, digest, ret);
}

int kiln_registry_get_manifest(struct kiln_ctx *ctx, const struct kiln_ref *ref,
			       const struct kiln_registry_options *o, char **ret_json,
			       size_t *ret_len, struct kiln_digest *ret_digest)
{
	_cleanup_(pull_release) struct pull p = { .ctx = ctx, .src = ref };
	const char *name = ref->digest ? ref->digest : ref->tag ? ref->tag : "latest";
	struct kiln_digest expect;
	struct fetched f;
	int r;

	reg_transfer_init(&p.t, o);
	if (ref->digest) {
		r = kiln_digest_parse(ctx, ref->digest, &expect);
		if (r < 0)
			return r;
	}
	r = reg_transfer_connect(&p.t, ctx, ref->domain, ref->path, "pull", o);
	if (r < 0)
		return r;
	r = fetch_manifest(&p, name, ref->digest ? &expect : NULL, NULL, &f);
	if (r < 0)
		return r;
	free(f.media_type);
	*ret_json = f.json;
	*ret_len = f.len;
	*ret_digest = f.digest;
	return 0;
}
