/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Importing a docker-archive or an oci-archive into the store.
 *
 * An archive is a tar whose members refer to each other by name
 * (manifest.json names the config and layer files, index.json names blobs
 * by digest), in no particular order. So the archive is first listed,
 * seeking past the data, and members are then read by offset: a layer of
 * gigabytes is streamed once, from the archive into the store, while it
 * is hashed and decompressed to check its diff_id. The listing and the
 * reading of members are archive-members.c's.
 *
 * Archives are hostile: every member name goes through the same path
 * checks as a layer entry, symlinks between members (skopeo writes
 * <id>/layer.tar as links) are resolved inside the archive with a bound on
 * hops, JSON members are capped, and every blob is verified before the
 * store takes it.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/layer.h>

#include "json-parse.h"
#include "layer-internal.h"
#include "log.h"
#include "strbuf.h"

#define MAX_DEPTH 8

/* ---- blobs into the store ----------------------------------------------------- */

struct layer_in {
	struct kiln_ctx *ctx;
	struct archive_range *src;
	struct kiln_blob_writer *blob;
	bool tee_raw;
};

static ssize_t layer_raw(void *userdata, void *buf, size_t len)
{
	struct layer_in *li = userdata;
	ssize_t n = archive_range_read(li->src, buf, len);
	int r;

	if (n > 0 && li->tee_raw && (r = kiln_blob_writer_write(li->blob, buf, (size_t)n)) < 0)
		return r;
	return n;
}

/*
 * A layer from the archive into the store: stored as found when it is a
 * tar, gzip or zstd (unless @keep_raw is required, xz is stored
 * decompressed: OCI has no media type for it), its uncompressed digest
 * checked against @diff_id.
 */
static int import_layer(struct kiln_ctx *ctx, struct kiln_store *s, struct archive_range *src,
			const struct kiln_digest *expect, const struct kiln_digest *diff_id,
			bool require_raw, struct kiln_descriptor *ret)
{
	_cleanup_(kiln_blob_writer_freep) struct kiln_blob_writer *blob = NULL;
	_cleanup_(kiln_hasher_freep) struct kiln_hasher *h = NULL;
	_cleanup_(kiln_unzip_freep) struct kiln_unzip *uz = NULL;
	struct layer_in li = { .ctx = ctx, .src = src };
	enum kiln_compression c;
	struct kiln_digest got, digest;
	unsigned char magic[6];
	char buf[65536], *media_type;
	ssize_t n;
	int r;

	n = pread(src->a->fd, magic, src->left < sizeof(magic) ? (size_t)src->left : sizeof(magic),
		  (off_t)src->off);
	if (n < 0)
		return kiln_error(ctx, errno, "cannot read \"%s\": %m", src->a->path);
	c = kiln_compression_detect(magic, (size_t)n);
	li.tee_raw = kiln_layer_media_type(c) != NULL;
	if (!li.tee_raw && require_raw)
		return kiln_error(ctx, EOPNOTSUPP,
				  "layer \"%s\" is %s-compressed, which OCI has no "
				  "media type for",
				  src->name, kiln_compression_name(c));
	if ((r = kiln_hasher_new(ctx, KILN_HASH_SHA256, &h)) < 0 ||
	    (r = kiln_blob_writer_new(ctx, s, &blob)) < 0)
		return r;
	li.blob = blob;
	r = kiln_unzip_new(ctx, layer_raw, &li, &uz);
	if (r < 0)
		return r;
	while ((n = kiln_unzip_read(uz, buf, sizeof(buf))) > 0) {
		r = kiln_hasher_update(ctx, h, buf, (size_t)n);
		if (r < 0 ||
		    (!li.tee_raw && (r = kiln_blob_writer_write(blob, buf, (size_t)n)) < 0))
			return r;
	}
	if (n < 0) {
		kiln_error_prefix(ctx, "layer \"%s\"", src->name);
		return (int)n;
	}
	r = kiln_hasher_final(ctx, h, &got);
	if (r < 0)
		return r;
	if (diff_id && !streq(got.s, diff_id->s))
		return kiln_error(ctx, EBADMSG,
				  "layer \"%s\": its uncompressed digest is %s, the "
				  "config says %s",
				  src->name, got.s, diff_id->s);
	r = kiln_blob_writer_commit(ctx, blob, li.tee_raw ? expect : NULL, &digest);
	if (r < 0)
		return r;
	media_type = strdup(li.tee_raw ? kiln_layer_media_type(c) : KILN_MT_OCI_LAYER);
	if (!media_type)
		return -ENOMEM;
	*ret = (struct kiln_descriptor){
		.media_type = media_type,
		.digest = digest,
		.size = kiln_blob_writer_size(blob),
	};
	return 0;
}

/* Any other blob, copied as it is, verified. */
static int import_raw(struct kiln_ctx *ctx, struct kiln_store *s, struct archive_range *src,
		      const struct kiln_digest *expect)
{
	_cleanup_(kiln_blob_writer_freep) struct kiln_blob_writer *blob = NULL;
	char buf[65536];
	ssize_t n;
	int r;

	r = kiln_blob_writer_new(ctx, s, &blob);
	if (r < 0)
		return r;
	while ((n = archive_range_read(src, buf, sizeof(buf))) > 0)
		if ((r = kiln_blob_writer_write(blob, buf, (size_t)n)) < 0)
			return r;
	if (n < 0)
		return (int)n;
	return kiln_blob_writer_commit(ctx, blob, expect, NULL);
}

static int config_platform(const struct kiln_image_config *c, struct kiln_platform **ret)
{
	struct kiln_platform *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->os = strdup(strempty(c->os));
	p->architecture = strdup(strempty(c->architecture));
	p->variant = c->variant ? strdup(c->variant) : NULL;
	if (!p->os || !p->architecture || (c->variant && !p->variant)) {
		kiln_platform_release(p);
		free(p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

/*
 * Name the image @d imported from @a: @ref_name, else the name the archive
 * gives it (@own), canonical; -EINVAL saying @why_none when there is neither.
 */
static int name_import(struct kiln_ctx *ctx, struct kiln_store *s, const struct archive *a,
		       const char *ref_name, const char *own, const char *why_none,
		       const struct kiln_descriptor *d, char **ret_name)
{
	_cleanup_free_ char *name = NULL;
	int r;

	if (!ref_name && !own)
		return kiln_error(ctx, EINVAL, "\"%s\" names no image (%s): give it a name",
				  a->path, why_none);
	r = layer_canonical_name(ctx, ref_name ? ref_name : own, &name);
	if (r < 0)
		return r;
	r = kiln_store_set_ref(ctx, s, name, d);
	if (r < 0)
		return r;
	*ret_name = TAKE_PTR(name);
	return 0;
}

/* ---- docker-archive ------------------------------------------------------------- */

/*
 * The one image manifest.json (@root) lists: its Config, its Layers and the
 * first of its RepoTags (*@ret_tag NULL when there is none).
 */
static int docker_image(struct kiln_ctx *ctx, const struct archive *a,
			const struct json_value *root, const char **ret_config,
			const struct json_value **ret_layers, const char **ret_tag)
{
	const struct json_value *img, *layer_names, *tags;
	const char *config_name, *tag = NULL;

	if (root->type != JSON_ARRAY || root->arr.n != 1)
		return kiln_error(ctx, root->type == JSON_ARRAY ? EOPNOTSUPP : EBADMSG,
				  "\"%s\": manifest.json %s", a->path,
				  root->type != JSON_ARRAY ? "is not an array"
				  : root->arr.n == 0	   ? "lists no image"
						     : "lists several images: kiln imports one");
	img = root->arr.v[0];
	config_name = json_get_string(img, "Config");
	layer_names = json_get(img, "Layers");
	tags = json_get(img, "RepoTags");
	if (!config_name || !layer_names || layer_names->type != JSON_ARRAY)
		return kiln_error(ctx, EBADMSG, "\"%s\": manifest.json needs Config and Layers",
				  a->path);
	if (tags && tags->type == JSON_ARRAY && tags->arr.n > 0 &&
	    tags->arr.v[0]->type == JSON_STRING)
		tag = tags->arr.v[0]->str.s;
	*ret_config = config_name;
	*ret_layers = layer_names;
	*ret_tag = tag;
	return 0;
}

/*
 * The config, member @name: parsed into *@ret, checked to have a diff_id
 * for each of the @n_layers layers, and stored (*@ret_digest, *@ret_len).
 */
static int import_docker_config(struct kiln_ctx *ctx, struct kiln_store *s, const struct archive *a,
				const char *name, size_t n_layers, struct kiln_image_config **ret,
				struct kiln_digest *ret_digest, size_t *ret_len)
{
	_cleanup_(kiln_image_config_freep) struct kiln_image_config *config = NULL;
	_cleanup_free_ char *config_json = NULL;
	struct kiln_digest digest;
	size_t config_len;
	int r;

	r = archive_read_member(a, name, KILN_CONFIG_MAX, &config_json, &config_len);
	if (r < 0)
		return r;
	r = kiln_image_config_parse(ctx, config_json, config_len, &config);
	if (r < 0) {
		kiln_error_prefix(ctx, "\"%s\": %s", a->path, name);
		return r;
	}
	if (config->n_diff_ids != n_layers)
		return kiln_error(ctx, EBADMSG,
				  "\"%s\": %zu layers, but the config lists %zu "
				  "diff_ids",
				  a->path, n_layers, config->n_diff_ids);
	r = kiln_store_put_blob(ctx, s, config_json, config_len, &digest);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(config);
	*ret_digest = digest;
	*ret_len = config_len;
	return 0;
}

/*
 * The layers manifest.json lists (@names) into the store, each checked
 * against its diff_id in @config: layers[i], *@n_layers of them so far.
 */
static int import_docker_layers(struct kiln_ctx *ctx, struct kiln_store *s, struct archive *a,
				const struct json_value *names,
				const struct kiln_image_config *config,
				struct kiln_descriptor *layers, size_t *n_layers)
{
	for (size_t i = 0; i < names->arr.n; i++) {
		const struct json_value *v = names->arr.v[i];
		const struct archive_member *m;
		struct archive_range rg;
		int r;

		if (v->type != JSON_STRING)
			return kiln_error(ctx, EBADMSG,
					  "\"%s\": manifest.json: Layers[%zu] is not a "
					  "string",
					  a->path, i);
		r = archive_find_file(a, v->str.s, &m);
		if (r < 0)
			return r;
		rg = (struct archive_range){ a, m->name, m->offset, m->size };
		r = import_layer(ctx, s, &rg, NULL, &config->diff_ids[i], false, &layers[i]);
		if (r < 0)
			return r;
		(*n_layers)++;
	}
	return 0;
}

/*
 * The OCI manifest of the config (@config_digest, @config_len bytes) and
 * the @n_layers @layers, stored: @desc gets its digest, size and media type.
 */
static int store_docker_manifest(struct kiln_ctx *ctx, struct kiln_store *s,
				 const struct kiln_digest *config_digest, size_t config_len,
				 struct kiln_descriptor *layers, size_t n_layers,
				 struct kiln_descriptor *desc)
{
	_cleanup_free_ char *mjson = NULL;
	struct kiln_manifest m = {
		.media_type = (char *)KILN_MT_OCI_MANIFEST,
		.config = { .media_type = (char *)KILN_MT_OCI_CONFIG,
			    .digest = *config_digest,
			    .size = config_len },
		.layers = layers,
		.n_layers = n_layers,
	};
	size_t mlen;
	int r;

	r = kiln_manifest_to_json(&m, &mjson, &mlen);
	if (r < 0)
		return r;
	r = kiln_store_put_blob(ctx, s, mjson, mlen, &desc->digest);
	if (r < 0)
		return r;
	desc->size = mlen;
	desc->media_type = strdup(KILN_MT_OCI_MANIFEST);
	return desc->media_type ? 0 : -ENOMEM;
}

static int import_docker(struct kiln_ctx *ctx, struct kiln_store *s, struct archive *a,
			 const char *ref_name, const struct kiln_platform *platform,
			 struct kiln_descriptor *ret, char **ret_name)
{
	_cleanup_free_ char *json = NULL, *name = NULL;
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	_cleanup_(kiln_image_config_freep) struct kiln_image_config *config = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor desc = { 0 };
	struct kiln_descriptor *layers = NULL;
	const struct json_value *layer_names = NULL;
	const char *config_name = NULL, *tag = NULL;
	struct kiln_digest config_digest;
	size_t len, config_len = 0, n_layers = 0;
	int r;

	r = archive_read_member(a, "manifest.json", KILN_MANIFEST_MAX, &json, &len);
	if (r < 0)
		return r;
	r = json_parse(ctx, "manifest.json", json, len, &doc);
	if (r < 0)
		return r;
	r = docker_image(ctx, a, json_doc_root(doc), &config_name, &layer_names, &tag);
	if (r < 0)
		return r;
	r = import_docker_config(ctx, s, a, config_name, layer_names->arr.n, &config,
				 &config_digest, &config_len);
	if (r < 0)
		return r;
	r = config_platform(config, &desc.platform);
	if (r < 0)
		return r;
	if (platform && !kiln_platform_matches(platform, desc.platform))
		return kiln_error(ctx, ENOENT,
				  "\"%s\" holds an image for %s/%s, not the platform "
				  "asked for",
				  a->path, desc.platform->os, desc.platform->architecture);

	layers = calloc(layer_names->arr.n + 1, sizeof(*layers));
	if (!layers)
		return -ENOMEM;
	r = import_docker_layers(ctx, s, a, layer_names, config, layers, &n_layers);
	if (r >= 0)
		r = store_docker_manifest(ctx, s, &config_digest, config_len, layers, n_layers,
					  &desc);
	for (size_t i = 0; i < n_layers; i++)
		kiln_descriptor_release(&layers[i]);
	free(layers);
	if (r < 0)
		return r;

	r = name_import(ctx, s, a, ref_name, tag, "RepoTags is empty", &desc, &name);
	if (r < 0)
		return r;
	*ret = desc;
	desc = (struct kiln_descriptor){ 0 };
	if (ret_name)
		*ret_name = TAKE_PTR(name);
	return 0;
}

/* ---- oci-archive ------------------------------------------------------------------ */

static bool is_image_config(const char *mt)
{
	return streq(mt, KILN_MT_OCI_CONFIG) || streq(mt, KILN_MT_DOCKER_CONFIG);
}

/* A small JSON blob of the archive, verified, stored, returned. */
static int import_json_blob(struct kiln_ctx *ctx, struct kiln_store *s, const struct archive *a,
			    const struct kiln_descriptor *d, size_t max, char **ret,
			    size_t *ret_len)
{
	_cleanup_free_ char *name = NULL, *data = NULL;
	struct kiln_digest got;
	size_t len;
	int r;

	if (asprintf(&name, "blobs/sha256/%s", kiln_digest_hex(&d->digest)) < 0)
		return -ENOMEM;
	r = archive_read_member(a, name, max, &data, &len);
	if (r < 0)
		return r;
	r = kiln_digest_of(ctx, data, len, &got);
	if (r < 0)
		return r;
	if (!streq(got.s, d->digest.s) || len != d->size)
		return kiln_error(ctx, EBADMSG,
				  "\"%s\": blob %s does not match its descriptor "
				  "(it hashes to %s, %zu bytes)",
				  a->path, d->digest.s, got.s, len);
	r = kiln_store_put_blob(ctx, s, data, len, &got);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(data);
	*ret_len = len;
	return 0;
}

static int import_blob(struct kiln_ctx *ctx, struct kiln_store *s, struct archive *a,
		       const struct kiln_descriptor *d, const struct kiln_digest *diff_id)
{
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor got = { 0 };
	_cleanup_free_ char *name = NULL;
	const struct archive_member *m;
	struct archive_range rg;
	int r;

	if (asprintf(&name, "blobs/sha256/%s", kiln_digest_hex(&d->digest)) < 0)
		return -ENOMEM;
	r = archive_find_file(a, name, &m);
	if (r < 0)
		return r;
	if (m->size != d->size)
		return kiln_error(ctx, EBADMSG,
				  "\"%s\": blob %s has %llu bytes, its descriptor "
				  "says %llu",
				  a->path, d->digest.s, (unsigned long long)m->size,
				  (unsigned long long)d->size);
	rg = (struct archive_range){ a, m->name, m->offset, m->size };
	if (diff_id)
		return import_layer(ctx, s, &rg, &d->digest, diff_id, true, &got);
	return import_raw(ctx, s, &rg, &d->digest);
}

static int import_tree(struct kiln_ctx *ctx, struct kiln_store *s, struct archive *a,
		       const struct kiln_descriptor *d, unsigned depth)
{
	_cleanup_free_ char *json = NULL;
	size_t len;
	int r;

	if (depth > MAX_DEPTH)
		return kiln_error(ctx, ELOOP, "\"%s\": indexes nested more than %d deep", a->path,
				  MAX_DEPTH);
	if (kiln_media_type_is_index(d->media_type)) {
		_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;

		r = import_json_blob(ctx, s, a, d, KILN_MANIFEST_MAX, &json, &len);
		if (r >= 0)
			r = kiln_index_parse(ctx, json, len, &idx);
		for (size_t i = 0; r >= 0 && i < idx->n_manifests; i++) {
			r = import_tree(ctx, s, a, &idx->manifests[i], depth + 1);
			/* a layout may lack what an index lists (other platforms) */
			if (r == -ENOENT) {
				kiln_warn_at(ctx, NULL, 0, 0, "%s", kiln_ctx_error(ctx));
				kiln_ctx_clear_error(ctx);
				r = 0;
			}
		}
		return r;
	}
	if (kiln_media_type_is_manifest(d->media_type)) {
		_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
		_cleanup_(kiln_image_config_freep) struct kiln_image_config *c = NULL;
		_cleanup_free_ char *cjson = NULL;
		size_t clen;

		r = import_json_blob(ctx, s, a, d, KILN_MANIFEST_MAX, &json, &len);
		if (r >= 0)
			r = kiln_manifest_parse(ctx, json, len, &m);
		if (r < 0)
			return r;
		if (is_image_config(m->config.media_type)) {
			r = import_json_blob(ctx, s, a, &m->config, KILN_CONFIG_MAX, &cjson, &clen);
			if (r >= 0)
				r = kiln_image_config_parse(ctx, cjson, clen, &c);
			if (r < 0)
				return r;
			if (c->n_diff_ids != m->n_layers)
				return kiln_error(ctx, EBADMSG,
						  "\"%s\": manifest %s has %zu layers, "
						  "its config %zu diff_ids",
						  a->path, d->digest.s, m->n_layers, c->n_diff_ids);
		} else {
			r = import_blob(ctx, s, a, &m->config, NULL);
			if (r < 0)
				return r;
		}
		for (size_t i = 0; i < m->n_layers; i++) {
			r = import_blob(ctx, s, a, &m->layers[i], c ? &c->diff_ids[i] : NULL);
			if (r < 0)
				return r;
		}
		return 0;
	}
	return import_blob(ctx, s, a, d, NULL);
}

static int pick_entry(struct kiln_ctx *ctx, const struct archive *a, const struct kiln_index *idx,
		      const struct kiln_platform *platform, const struct kiln_descriptor **ret)
{
	const struct kiln_descriptor *found = NULL;
	const char *why;
	size_t n = 0;

	if (idx->n_manifests == 1 && !platform) {
		*ret = &idx->manifests[0];
		return 0;
	}
	for (size_t i = 0; platform && i < idx->n_manifests; i++)
		if (idx->manifests[i].platform &&
		    kiln_platform_matches(platform, idx->manifests[i].platform))
			found = &idx->manifests[i], n++;
	if (n == 1) {
		*ret = found;
		return 0;
	}
	if (idx->n_manifests == 0)
		return kiln_error(ctx, ENOENT, "\"%s\": index.json lists no image", a->path);
	if (idx->n_manifests == 1)
		return kiln_error(ctx, ENOENT,
				  "\"%s\": its one image is not for the platform asked "
				  "for",
				  a->path);
	why = platform ? "not exactly one for the platform asked for" : "choose one by platform";
	return kiln_error(ctx, EOPNOTSUPP, "\"%s\": index.json lists %zu images: %s", a->path,
			  idx->n_manifests, why);
}

static int import_oci(struct kiln_ctx *ctx, struct kiln_store *s, struct archive *a,
		      const char *ref_name, const struct kiln_platform *platform,
		      struct kiln_descriptor *ret, char **ret_name)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_free_ char *json = NULL, *name = NULL;
	const struct kiln_descriptor *d = NULL;
	const char *own;
	size_t len;
	int r;

	r = archive_read_member(a, "index.json", KILN_MANIFEST_MAX, &json, &len);
	if (r >= 0)
		r = kiln_index_parse(ctx, json, len, &idx);
	if (r < 0)
		return r;
	r = pick_entry(ctx, a, idx, platform, &d);
	if (r < 0)
		return r;
	r = import_tree(ctx, s, a, d, 0);
	if (r < 0)
		return r;
	own = kiln_annotation_get(d->annotations, d->n_annotations, KILN_ANNOTATION_IMAGE_NAME);
	if (!own)
		own =
		    kiln_annotation_get(d->annotations, d->n_annotations, KILN_ANNOTATION_REF_NAME);
	r = name_import(ctx, s, a, ref_name, own, "no ref.name annotation", d, &name);
	if (r < 0)
		return r;
	r = kiln_descriptor_copy(d, ret);
	if (r < 0)
		return r;
	if (ret_name)
		*ret_name = TAKE_PTR(name);
	return 0;
}

enum kiln_archive_format archive_kind(bool index_json, bool oci_layout, bool manifest_json)
{
	if (index_json && oci_layout)
		return KILN_ARCHIVE_OCI;
	return manifest_json ? KILN_ARCHIVE_DOCKER : KILN_ARCHIVE_ROOTFS;
}

int archive_import_fd(struct kiln_ctx *ctx, struct kiln_store *s, int fd, const char *what,
		      enum kiln_archive_format format, const char *ref_name,
		      const struct kiln_platform *platform, struct kiln_descriptor *ret,
		      char **ret_name)
{
	_cleanup_(archive_release) struct archive a = { .fd = -1 };
	int r;

	r = archive_open(ctx, fd, what, &a);
	if (r < 0)
		return r;
	if (format == KILN_ARCHIVE_AUTO)
		format = archive_kind(archive_member_named(&a, "index.json"),
				      archive_member_named(&a, "oci-layout"),
				      archive_member_named(&a, "manifest.json"));
	switch (format) {
	case KILN_ARCHIVE_OCI:
		return import_oci(ctx, s, &a, ref_name, platform, ret, ret_name);
	case KILN_ARCHIVE_DOCKER:
		return import_docker(ctx, s, &a, ref_name, platform, ret, ret_name);
	default:
		return kiln_error(ctx, EINVAL,
				  "\"%s\" has no manifest.json (docker-archive) and no "
				  "index.json and oci-layout (oci-archive)",
				  what);
	}
}

int kiln_archive_import(struct kiln_ctx *ctx, struct kiln_store *s, const char *path,
			enum kiln_archive_format format, const char *ref_name,
			const struct kiln_platform *platform, struct kiln_descriptor *ret,
			char **ret_name)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return kiln_error(ctx, errno, "cannot open \"%s\": %m", path);
	return archive_import_fd(ctx, s, fd, path, format, ref_name, platform, ret, ret_name);
}
