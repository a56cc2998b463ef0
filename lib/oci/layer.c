/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Layers in the store: made in one streaming pass, from a directory or
 * from entries read from another tar (tar writer -> sha256 for the
 * diff_id -> compressor -> blob writer, which hashes the digest), and
 * read back through the same chain in reverse, verifying both digests at
 * the end.
 */
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include <kiln/layer.h>

#include "layer-internal.h"
#include "log.h"

/* ---- writing ---------------------------------------------------------------- */

const char *kiln_layer_media_type(enum kiln_compression c)
{
	switch (c) {
	case KILN_COMPRESSION_NONE:
		return KILN_MT_OCI_LAYER;
	case KILN_COMPRESSION_GZIP:
		return KILN_MT_OCI_LAYER_GZIP;
	case KILN_COMPRESSION_ZSTD:
		return KILN_MT_OCI_LAYER_ZSTD;
	default:
		return NULL;
	}
}

struct layer_sink {
	struct kiln_ctx *ctx;
	struct kiln_hasher *diff;
	struct kiln_zip *zip;
	struct kiln_blob_writer *blob;
};

static int sink_blob(void *userdata, const void *data, size_t len)
{
	struct layer_sink *s = userdata;
	return kiln_blob_writer_write(s->blob, data, len);
}

static int sink_tar(void *userdata, const void *data, size_t len)
{
	struct layer_sink *s = userdata;
	int r = kiln_hasher_update(s->ctx, s->diff, data, len);

	return r < 0 ? r : kiln_zip_write(s->zip, data, len);
}

int layer_write(struct kiln_ctx *ctx, struct kiln_store *s, enum kiln_compression c, int level,
		layer_fill_fn fill, void *userdata, struct kiln_descriptor *ret,
		struct kiln_digest *ret_diff_id)
{
	_cleanup_(kiln_hasher_freep) struct kiln_hasher *diff = NULL;
	_cleanup_(kiln_zip_freep) struct kiln_zip *zip = NULL;
	_cleanup_(kiln_blob_writer_freep) struct kiln_blob_writer *blob = NULL;
	_cleanup_(kiln_tar_writer_freep) struct kiln_tar_writer *tw = NULL;
	struct layer_sink sink = { .ctx = ctx };
	const char *mt = kiln_layer_media_type(c);
	struct kiln_digest digest, diff_id;
	char *mt_copy;
	int r;

	if (!mt)
		return kiln_error(ctx, EOPNOTSUPP, "cannot write %s layers: use tar, gzip or zstd",
				  kiln_compression_name(c));
	r = kiln_hasher_new(ctx, KILN_HASH_SHA256, &diff);
	if (r < 0)
		return r;
	r = kiln_blob_writer_new(ctx, s, &blob);
	if (r < 0)
		return r;
	sink.diff = diff;
	sink.blob = blob;
	r = kiln_zip_new(ctx, c, level, sink_blob, &sink, &zip);
	if (r < 0)
		return r;
	sink.zip = zip;
	r = kiln_tar_writer_new(sink_tar, &sink, &tw);
	if (r < 0)
		return r;
	r = fill(userdata, tw);
	if (r >= 0)
		r = kiln_tar_writer_finish(ctx, tw);
	if (r >= 0)
		r = kiln_zip_finish(zip);
	if (r < 0)
		return r;
	r = kiln_blob_writer_commit(ctx, blob, NULL, &digest);
	if (r < 0)
		return r;
	r = kiln_hasher_final(ctx, diff, &diff_id);
	if (r < 0)
		return r;

	mt_copy = strdup(mt);
	if (!mt_copy)
		return -ENOMEM;
	*ret = (struct kiln_descriptor){
		.media_type = mt_copy,
		.digest = digest,
		.size = kiln_blob_writer_size(blob),
	};
	*ret_diff_id = diff_id;
	return 0;
}

struct tree_fill {
	struct kiln_ctx *ctx;
	int dirfd;
	const struct kiln_tar_tree_options *tree;
};

static int fill_tree(void *userdata, struct kiln_tar_writer *w)
{
	const struct tree_fill *t = userdata;

	return kiln_tar_write_tree(t->ctx, t->dirfd, t->tree, w);
}

int kiln_layer_from_dir(struct kiln_ctx *ctx, struct kiln_store *s, int dirfd,
			const struct kiln_layer_options *o, struct kiln_descriptor *ret,
			struct kiln_digest *ret_diff_id)
{
	struct tree_fill t = { ctx, dirfd, &o->tree };

	return layer_write(ctx, s, o->compression, o->level, fill_tree, &t, ret, ret_diff_id);
}

/* RFC 3339 in UTC, as Go's time.Time marshals a whole second. */
static int format_time(struct kiln_ctx *ctx, int64_t t, char buf[static 32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return kiln_error(ctx, ERANGE, "time %lld cannot be written as a date",
				  (long long)t);
	return 0;
}

int layer_canonical_name(struct kiln_ctx *ctx, const char *ref, char **ret)
{
	_cleanup_(kiln_ref_release) struct kiln_ref parsed = { 0 };
	char *name;
	int r;

	r = kiln_ref_parse(ctx, ref, &parsed);
	if (r < 0)
		return r;
	if (parsed.digest)
		return kiln_error(ctx, EINVAL,
				  "cannot name an image \"%s\": a name takes a tag, "
				  "not a digest",
				  ref);
	name = kiln_ref_name(&parsed);
	if (!name)
		return -ENOMEM;
	*ret = name;
	return 0;
}

int kiln_image_from_dir(struct kiln_ctx *ctx, struct kiln_store *s, const char *dir,
			const char *ref_name, const struct kiln_image_options *o,
			struct kiln_descriptor *ret)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return kiln_error(ctx, errno, "cannot open directory \"%s\": %m", dir);
	return kiln_image_from_dirfd(ctx, s, fd, ref_name, o, ret);
}

int kiln_image_from_dirfd(struct kiln_ctx *ctx, struct kiln_store *s, int dirfd,
			  const char *ref_name, const struct kiln_image_options *o,
			  struct kiln_descriptor *ret)
{
	struct kiln_tar_tree_options tree = o->layer.tree;
	struct tree_fill t = { ctx, dirfd, &tree };

	tree.mtime = o->created;
	return layer_make_image(ctx, s, ref_name, o, fill_tree, &t, ret);
}

/*
 * Store @config_json, then an OCI manifest of it and @layers, and name it
 * @name (when not NULL): *@ret gets the manifest's descriptor, with @p as
 * its platform.
 */
static int store_image(struct kiln_ctx *ctx, struct kiln_store *s, const char *config_json,
		       size_t config_len, struct kiln_descriptor *layers, size_t n_layers,
		       const struct kiln_platform *p, const char *name, struct kiln_descriptor *ret)
{
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor d = { 0 };
	_cleanup_free_ char *manifest_json = NULL;
	struct kiln_digest config_digest, manifest_digest;
	size_t manifest_len;
	int r;

	r = kiln_store_put_blob(ctx, s, config_json, config_len, &config_digest);
	if (r < 0)
		return r;
	{
		struct kiln_manifest m = {
			.media_type = (char *)KILN_MT_OCI_MANIFEST,
			.config = {
				.media_type = (char *)KILN_MT_OCI_CONFIG,
				.digest = config_digest,
				.size = config_len,
			},
			.layers = layers,
			.n_layers = n_layers,
		};

		r = kiln_manifest_to_json(&m, &manifest_json, &manifest_len);
		if (r < 0)
			return r;
	}
	r = kiln_store_put_blob(ctx, s, manifest_json, manifest_len, &manifest_digest);
	if (r < 0)
		return r;

	d.digest = manifest_digest;
	d.size = manifest_len;
	d.media_type = strdup(KILN_MT_OCI_MANIFEST);
	if (!d.media_type)
		return -ENOMEM;
	d.platform = calloc(1, sizeof(*d.platform));
	if (!d.platform)
		return -ENOMEM;
	if (kiln_platform_copy(p, d.platform) < 0)
		return -ENOMEM;
	if (name) {
		r = kiln_store_set_ref(ctx, s, name, &d);
		if (r < 0)
			return r;
	}
	*ret = d;
	d = (struct kiln_descriptor){ 0 };
	return 0;
}

int layer_make_image(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref_name,
		     const struct kiln_image_options *o, layer_fill_fn fill, void *userdata,
		     struct kiln_descriptor *ret)
{
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor layer = { 0 };
	_cleanup_(kiln_platform_release) struct kiln_platform host = { 0 };
	_cleanup_free_ char *name = NULL, *config_json = NULL;
	const struct kiln_platform *p = o->platform;
	struct kiln_digest diff_id;
	size_t config_len;
	char created[32];
	int r;

	if (ref_name) {
		r = layer_canonical_name(ctx, ref_name, &name);
		if (r < 0)
			return r;
	}
	if (!p) {
		r = kiln_platform_parse(ctx, NULL, &host);
		if (r < 0)
			return r;
		p = &host;
	}
	r = format_time(ctx, o->created, created);
	if (r < 0)
		return r;
	r = layer_write(ctx, s, o->layer.compression, o->layer.level, fill, userdata, &layer,
			&diff_id);
	if (r < 0)
		return r;

	{
		struct kiln_history history = {
			.created = created,
			.created_by = (char *)(o->created_by ? o->created_by : "kiln import"),
		};
		struct kiln_image_config c = {
			.architecture = p->architecture,
			.os = p->os,
			.variant = p->variant,
			.os_version = p->os_version,
			.created = created,
			.diff_ids = &diff_id,
			.n_diff_ids = 1,
			.labels = (struct kiln_annotation *)o->labels,
			.n_labels = o->n_labels,
			.history = &history,
			.n_history = 1,
		};

		r = kiln_image_config_to_json(&c, &config_json, &config_len);
		if (r < 0)
			return r;
	}
	return store_image(ctx, s, config_json, config_len, &layer, 1, p, name, ret);
}

/* ---- an image on top of another --------------------------------------------- */

/*
 * Cut @c's history to the entries of its first @n layers (and the empty
 * ones among them), when it has one entry for each layer; else drop it, as
 * it says nothing reliable about which entry made which layer.
 */
static void history_keep_layers(struct kiln_image_config *c, size_t n)
{
	size_t layers = 0, keep = 0;

	for (size_t i = 0; i < c->n_history; i++)
		layers += !c->history[i].empty_layer;
	if (layers == c->n_diff_ids)
		for (size_t seen = 0; keep < c->n_history && seen < n; keep++)
			seen += !c->history[keep].empty_layer;
	for (size_t i = keep; i < c->n_history; i++) {
		free(c->history[i].created);
		free(c->history[i].created_by);
		free(c->history[i].author);
		free(c->history[i].comment);
	}
	c->n_history = keep;
}

int kiln_image_append_dir(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *base,
			  size_t n_layers, int dirfd, const char *ref_name,
			  const struct kiln_image_options *o, struct kiln_descriptor *ret)
{
	_cleanup_(kiln_image_config_freep) struct kiln_image_config *c = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor layer = { 0 };
	_cleanup_free_ char *name = NULL, *config_json = NULL;
	_cleanup_free_ struct kiln_descriptor *layers = NULL;
	struct kiln_tar_tree_options tree = o->layer.tree;
	struct tree_fill t = { ctx, dirfd, &tree };
	struct kiln_digest diff_id, *diff_ids;
	struct kiln_history *history;
	size_t config_len;
	char created[32];
	int r;

	r = layer_check_image(ctx, base);
	if (r < 0)
		return r;
	if (n_layers > base->manifest->n_layers)
		return kiln_error(ctx, EINVAL, "the base image has %zu layers, not %zu",
				  base->manifest->n_layers, n_layers);
	if (ref_name) {
		r = layer_canonical_name(ctx, ref_name, &name);
		if (r < 0)
			return r;
	}
	r = format_time(ctx, o->created, created);
	if (r < 0)
		return r;
	r = kiln_image_config_parse(ctx, base->config_json, base->config_len, &c);
	if (r < 0)
		return r;
	tree.mtime = o->created;
	r = layer_write(ctx, s, o->layer.compression, o->layer.level, fill_tree, &t, &layer,
			&diff_id);
	if (r < 0)
		return r;

	history_keep_layers(c, n_layers);
	diff_ids = reallocarray(c->diff_ids, n_layers + 1, sizeof(*diff_ids));
	history = reallocarray(c->history, c->n_history + 1, sizeof(*history));
	if (diff_ids)
		c->diff_ids = diff_ids;
	if (history)
		c->history = history;
	free(c->created);
	c->created = strdup(created);
	layers = calloc(n_layers + 1, sizeof(*layers));
	if (!diff_ids || !history || !c->created || !layers)
		return -ENOMEM;
	c->diff_ids[n_layers] = diff_id;
	c->n_diff_ids = n_layers + 1;
	c->history[c->n_history] = (struct kiln_history){
		.created = strdup(created),
		.created_by = strdup(o->created_by ? o->created_by : "kiln"),
	};
	if (!c->history[c->n_history].created || !c->history[c->n_history].created_by) {
		free(c->history[c->n_history].created);
		free(c->history[c->n_history].created_by);
		return -ENOMEM;
	}
	c->n_history++;
	r = kiln_image_config_to_json(c, &config_json, &config_len);
	if (r < 0)
		return r;

	/* the descriptors are borrowed: the base's as they are, the new layer's */
	memcpy(layers, base->manifest->layers, n_layers * sizeof(*layers));
	layers[n_layers] = layer;
	{
		const struct kiln_platform p = {
			.os = c->os,
			.architecture = c->architecture,
			.variant = c->variant,
			.os_version = c->os_version,
		};

		return store_image(ctx, s, config_json, config_len, layers, n_layers + 1, &p, name,
				   ret);
	}
}

/* ---- reading ---------------------------------------------------------------- */

struct kiln_layer_reader {
	struct kiln_ctx *ctx;
	int fd;
	struct kiln_hasher *blob_hash;
	struct kiln_hasher *diff_hash;
	uint64_t blob_size;
	uint64_t raw_size;
	struct kiln_digest digest;
	uint64_t size;
	struct kiln_digest diff_id;
	bool check_diff_id;
	struct kiln_unzip *unzip;
	struct kiln_tar_reader *tar;
};

void kiln_layer_reader_free(struct kiln_layer_reader *lr)
{
	if (!lr)
		return;
	kiln_tar_reader_free(lr->tar);
	kiln_unzip_free(lr->unzip);
	kiln_hasher_free(lr->blob_hash);
	kiln_hasher_free(lr->diff_hash);
	closep(&lr->fd);
	free(lr);
}

static ssize_t blob_read(void *userdata, void *buf, size_t len)
{
	struct kiln_layer_reader *lr = userdata;
	ssize_t n;
	int r;

	do {
		n = read(lr->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return kiln_error(lr->ctx, errno, "cannot read layer %s: %m", lr->digest.s);
	r = kiln_hasher_update(lr->ctx, lr->blob_hash, buf, (size_t)n);
	if (r < 0)
		return r;
	lr->blob_size += (uint64_t)n;
	return n;
}

ssize_t kiln_layer_reader_read_raw(void *userdata, void *buf, size_t len)
{
	struct kiln_layer_reader *lr = userdata;
	ssize_t n = kiln_unzip_read(lr->unzip, buf, len);
	int r;

	if (n > 0) {
		/* with nothing to check it against, hashing the stream is a sixth of the work */
		if (lr->check_diff_id) {
			r = kiln_hasher_update(lr->ctx, lr->diff_hash, buf, (size_t)n);
			if (r < 0)
				return r;
		}
		lr->raw_size += (uint64_t)n;
	}
	return n;
}

int kiln_layer_reader_open(struct kiln_ctx *ctx, struct kiln_store *s,
			   const struct kiln_descriptor *layer, const struct kiln_digest *diff_id,
			   struct kiln_layer_reader **ret)
{
	_cleanup_(kiln_layer_reader_freep) struct kiln_layer_reader *lr = NULL;
	int r;

	lr = calloc(1, sizeof(*lr));
	if (!lr)
		return -ENOMEM;
	lr->ctx = ctx;
	lr->fd = -1;
	lr->digest = layer->digest;
	lr->size = layer->size;
	if (diff_id) {
		lr->diff_id = *diff_id;
		lr->check_diff_id = true;
	}
	if ((r = kiln_hasher_new(ctx, KILN_HASH_SHA256, &lr->blob_hash)) < 0 ||
	    (r = kiln_hasher_new(ctx, KILN_HASH_SHA256, &lr->diff_hash)) < 0)
		return r;
	lr->fd = kiln_store_open_blob(s, &layer->digest);
	if (lr->fd == -ENOENT)
		return kiln_error(ctx, ENOENT, "layer %s is not in the store", layer->digest.s);
	if (lr->fd < 0)
		return kiln_error(ctx, lr->fd, "cannot open layer %s: %s", layer->digest.s,
				  strerror(-lr->fd));
	r = kiln_unzip_new(ctx, blob_read, lr, &lr->unzip);
	if (r < 0)
		return r;
	r = kiln_tar_reader_new(ctx, kiln_layer_reader_read_raw, lr, &lr->tar);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(lr);
	return 0;
}

struct kiln_tar_reader *kiln_layer_reader_tar(struct kiln_layer_reader *lr)
{
	return lr->tar;
}

enum kiln_compression kiln_layer_reader_format(const struct kiln_layer_reader *lr)
{
	return kiln_unzip_format(lr->unzip);
}

int kiln_layer_reader_finish(struct kiln_layer_reader *lr, uint64_t *ret_size)
{
	struct kiln_digest got;
	char buf[16384];
	ssize_t n;
	int r;

	/* the digests cover every byte: what follows the tar's end too */
	while ((n = kiln_layer_reader_read_raw(lr, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		return (int)n;
	r = kiln_hasher_final(lr->ctx, lr->blob_hash, &got);
	if (r < 0)
		return r;
	if (!streq(got.s, lr->digest.s) || lr->blob_size != lr->size)
		return kiln_error(lr->ctx, EBADMSG,
				  "layer %s is corrupt in the store: it hashes to %s (%llu bytes, "
				  "%llu expected)",
				  lr->digest.s, got.s, (unsigned long long)lr->blob_size,
				  (unsigned long long)lr->size);
	if (lr->check_diff_id && (r = kiln_hasher_final(lr->ctx, lr->diff_hash, &got)) < 0)
		return r;
	if (lr->check_diff_id && !streq(got.s, lr->diff_id.s))
		return kiln_error(lr->ctx, EBADMSG,
				  "layer %s does not match the image config: its uncompressed "
				  "digest is %s, the config says %s",
				  lr->digest.s, got.s, lr->diff_id.s);
	if (ret_size)
		*ret_size = lr->raw_size;
	return 0;
}

int layer_reader_fail(struct kiln_ctx *ctx, struct kiln_layer_reader *lr, int r)
{
	_cleanup_free_ char *why = NULL;
	int blob;

	if (r == -ENOMEM || !kiln_ctx_error(ctx))
		return r;
	why = strdup(kiln_ctx_error(ctx));
	if (!why)
		return r;
	blob = kiln_layer_reader_finish(lr, NULL);
	if (blob < 0 && blob != -ENOMEM)
		return blob;
	kiln_error(ctx, r, "%s", why);
	return r;
}

int layer_check_image(struct kiln_ctx *ctx, const struct kiln_image *img)
{
	const struct kiln_manifest *m = img->manifest;

	if (img->config->n_diff_ids != m->n_layers)
		return kiln_error(ctx, EBADMSG,
				  "image %s: %zu layers, but its config lists %zu "
				  "diff_ids",
				  img->manifest_desc.digest.s, m->n_layers,
				  img->config->n_diff_ids);
	return 0;
}

int kiln_layer_read(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_descriptor *layer,
		    const struct kiln_digest *diff_id, kiln_layer_fn fn, void *userdata)
{
	_cleanup_(kiln_layer_reader_freep) struct kiln_layer_reader *lr = NULL;
	int r;

	r = kiln_layer_reader_open(ctx, s, layer, diff_id, &lr);
	if (r < 0)
		return r;
	r = fn(userdata, kiln_layer_reader_tar(lr));
	if (r < 0)
		return layer_reader_fail(ctx, lr, r);
	return kiln_layer_reader_finish(lr, NULL);
}

struct apply_one {
	int (*apply)(void *userdata, size_t i, struct kiln_tar_reader *tar);
	void *userdata;
	size_t i;
};

static int apply_one(void *userdata, struct kiln_tar_reader *tar)
{
	struct apply_one *a = userdata;

	return a->apply(a->userdata, a->i, tar);
}

int layer_apply_image(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *img,
		      int (*apply)(void *userdata, size_t i, struct kiln_tar_reader *tar),
		      void *userdata)
{
	const struct kiln_manifest *m = img->manifest;
	int r;

	r = layer_check_image(ctx, img);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->n_layers; i++) {
		struct apply_one a = { apply, userdata, i };

		r = kiln_layer_read(ctx, s, &m->layers[i], &img->config->diff_ids[i], apply_one,
				    &a);
		if (r < 0) {
			kiln_error_prefix(ctx, "layer %zu (%s)", i + 1, m->layers[i].digest.s);
			return r;
		}
	}
	return 0;
}
