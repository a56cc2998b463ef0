/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Exporting an image of the store as a docker-archive (what `docker load`
 * takes) or an oci-archive (a tar of an OCI image layout).
 *
 * The docker-archive is the dual form Docker 25 writes, so that both
 * `docker load` and tools that read OCI layouts take it: oci-layout,
 * index.json and blobs/sha256/... for the OCI reader, and manifest.json
 * pointing at the same blobs for docker. Its layers are uncompressed, as
 * docker's graphdriver saves them: a layer blob is then its own diff_id,
 * and docker checks exactly that. When the store holds compressed layers,
 * the archive gets a manifest of its own for the uncompressed ones; the
 * config is the same, so the image ID is too.
 *
 * Archives are deterministic (sorted entries, fixed modes, owner 0, mtime
 * 0) and written atomically. Every blob is hashed as it is copied, and a
 * mismatch aborts the export: a corrupt store never leaves as an archive.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/layer.h>

#include "fileio.h"
#include "json.h"
#include "layer-internal.h"
#include "log.h"
#include "strbuf.h"

#define MAX_BLOBS 10000
#define MAX_DEPTH 8

struct out {
	struct kiln_ctx *ctx;
	struct atomic_file file;
	struct kiln_tar_writer *tw;
};

static int out_write(void *userdata, const void *data, size_t len)
{
	struct out *o = userdata;
	int r = write_all(o->file.fd, data, len);

	return r < 0 ? kiln_error(o->ctx, r, "cannot write \"%s\": %s", o->file.tmp, strerror(-r))
		     : 0;
}

static int out_open(struct kiln_ctx *ctx, const char *path, struct out *o)
{
	int r;

	*o = (struct out){ .ctx = ctx, .file = { .fd = -1 } };
	/* what an export to @path that was killed left; a leftover is no reason to fail */
	(void)atomic_sweep(path);
	r = atomic_file_open(path, &o->file);
	if (r < 0)
		return kiln_error(ctx, r, "cannot create a temporary file beside \"%s\": %s", path,
				  strerror(-r));
	return kiln_tar_writer_new(out_write, o, &o->tw);
}

/* Remove the temporary file unless it was renamed into place. */
static void out_release(struct out *o)
{
	atomic_file_release(&o->file);
	kiln_tar_writer_free(o->tw);
	o->tw = NULL;
}

static int out_commit(struct out *o)
{
	int r;

	r = kiln_tar_writer_finish(o->ctx, o->tw);
	if (r < 0)
		return r;
	r = atomic_file_commit(&o->file, 0644);
	if (r < 0)
		return kiln_error(o->ctx, r, "cannot write \"%s\": %s", o->file.path, strerror(-r));
	return 0;
}

static int add_dir(struct out *o, const char *name)
{
	struct kiln_tar_entry e = { .path = (char *)name, .type = KILN_TAR_DIR, .mode = 0755 };

	return kiln_tar_writer_add(o->ctx, o->tw, &e);
}

static int add_file(struct out *o, const char *name, const void *data, size_t len)
{
	struct kiln_tar_entry e = {
		.path = (char *)name,
		.type = KILN_TAR_REG,
		.mode = 0644,
		.size = len,
	};
	int r;

	r = kiln_tar_writer_add(o->ctx, o->tw, &e);
	return r < 0 ? r : kiln_tar_writer_write(o->tw, data, len);
}

static char *blob_name(const struct kiln_digest *d)
{
	char *s;

	return asprintf(&s, "blobs/sha256/%s", kiln_digest_hex(d)) < 0 ? NULL : s;
}

/* A blob of the store, copied as it is stored and verified on the way. */
static int add_store_blob(struct out *o, struct kiln_store *s, const struct kiln_digest *d,
			  uint64_t size)
{
	_cleanup_(kiln_hasher_freep) struct kiln_hasher *h = NULL;
	_cleanup_free_ char *name = blob_name(d);
	_cleanup_close_ int fd = -1;
	struct kiln_tar_entry e = { .type = KILN_TAR_REG, .mode = 0644, .size = size };
	struct kiln_digest got;
	char buf[65536];
	int r;

	if (!name)
		return -ENOMEM;
	fd = kiln_store_open_blob(s, d);
	if (fd < 0)
		return kiln_error(o->ctx, fd, "blob %s: %s", d->s,
				  fd == -ENOENT ? "not in the store" : strerror(-fd));
	r = kiln_hasher_new(o->ctx, KILN_HASH_SHA256, &h);
	if (r < 0)
		return r;
	e.path = name;
	r = kiln_tar_writer_add(o->ctx, o->tw, &e);
	if (r < 0)
		return r;
	for (uint64_t left = size; left > 0;) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return kiln_error(o->ctx, n < 0 ? errno : EBADMSG,
					  "blob %s is shorter than %llu bytes in the store", d->s,
					  (unsigned long long)size);
		r = kiln_hasher_update(o->ctx, h, buf, (size_t)n);
		if (r < 0)
			return r;
		r = kiln_tar_writer_write(o->tw, buf, (size_t)n);
		if (r < 0)
			return r;
		left -= (uint64_t)n;
	}
	r = kiln_hasher_final(o->ctx, h, &got);
	if (r < 0)
		return r;
	if (!streq(got.s, d->s) || read(fd, buf, 1) != 0)
		return kiln_error(o->ctx, EBADMSG, "blob %s is corrupt in the store", d->s);
	return 0;
}

/* The names an exported image goes by: none for a digest, else the store's full name. */
static int export_name(struct kiln_ctx *ctx, const char *ref, char **ret)
{
	_cleanup_(kiln_ref_release) struct kiln_ref parsed = { 0 };
	char *name;

	if (strncmp(ref, KILN_DIGEST_PREFIX, 7) == 0) {
		*ret = NULL;
		return 0;
	}
	if (kiln_ref_parse(ctx, ref, &parsed) < 0 || !parsed.tag || parsed.digest) {
		kiln_ctx_clear_error(ctx);
		*ret = NULL;
		return 0;
	}
	name = kiln_ref_name(&parsed);
	if (!name)
		return -ENOMEM;
	*ret = name;
	return 0;
}

/* The index.json of an archive: one entry, named as in the store. */
static int index_json(const struct kiln_descriptor *d, const char *name, char **ret,
		      size_t *ret_len)
{
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor e = { 0 };
	struct kiln_index idx = { .media_type = (char *)KILN_MT_OCI_INDEX };
	int r;

	r = kiln_descriptor_copy(d, &e);
	if (r < 0)
		return r;
	/* the store's own names on its entry are replaced by the archive's */
	for (size_t i = 0; i < e.n_annotations; i++)
		if (streq(e.annotations[i].key, KILN_ANNOTATION_IMAGE_NAME) ||
		    streq(e.annotations[i].key, KILN_ANNOTATION_REF_NAME)) {
			free(e.annotations[i].key);
			free(e.annotations[i].value);
			memmove(e.annotations + i, e.annotations + i + 1,
				(e.n_annotations - i - 1) * sizeof(*e.annotations));
			e.n_annotations--;
			i--;
		}
	if (name && ((r = kiln_annotation_set(&e.annotations, &e.n_annotations,
					      KILN_ANNOTATION_IMAGE_NAME, name)) < 0 ||
		     (r = kiln_annotation_set(&e.annotations, &e.n_annotations,
					      KILN_ANNOTATION_REF_NAME, name)) < 0))
		return r;
	idx.manifests = &e;
	idx.n_manifests = 1;
	return kiln_index_to_json(&idx, ret, ret_len);
}

/* ---- oci-archive ------------------------------------------------------------ */

struct blob_ref {
	struct kiln_digest digest;
	uint64_t size;
	const void *data; /* docker-archive: the bytes, when made in memory */
	const struct kiln_descriptor *layer; /* docker-archive: a layer to decompress */
	const struct kiln_digest *diff_id;
};

struct blob_set {
	struct blob_ref *v;
	size_t n, alloc;
};

static int blob_set_add(struct kiln_ctx *ctx, struct blob_set *set, const struct blob_ref *b)
{
	for (size_t i = 0; i < set->n; i++)
		if (streq(set->v[i].digest.s, b->digest.s))
			return 0;
	if (set->n >= MAX_BLOBS)
		return kiln_error(ctx, E2BIG, "more than %u blobs in one image", MAX_BLOBS);
	if (GROW(set->v, set->alloc, set->n + 1) < 0)
		return -ENOMEM;
	set->v[set->n++] = *b;
	return 1;
}

static int blob_ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct blob_ref *)a)->digest.s,
		      ((const struct blob_ref *)b)->digest.s);
}

/* Everything @d reaches that the store holds (an index's absent children are skipped). */
static int collect(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_descriptor *d,
		   unsigned depth, struct blob_set *set)
{
	_cleanup_free_ char *json = NULL;
	struct blob_ref b = { .digest = d->digest, .size = d->size };
	size_t len;
	int r;

	if (depth > MAX_DEPTH)
		return kiln_error(ctx, ELOOP, "indexes nested more than %d deep", MAX_DEPTH);
	r = blob_set_add(ctx, set, &b);
	if (r <= 0)
		return r;
	if (!kiln_media_type_is_index(d->media_type) && !kiln_media_type_is_manifest(d->media_type))
		return 0;
	r = kiln_store_read_blob(ctx, s, &d->digest, KILN_MANIFEST_MAX, &json, &len);
	if (r < 0)
		return r;
	if (kiln_media_type_is_index(d->media_type)) {
		_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;

		r = kiln_index_parse(ctx, json, len, &idx);
		if (r < 0)
			return r;
		for (size_t i = 0; i < idx->n_manifests; i++) {
			r = kiln_store_has_blob(s, &idx->manifests[i].digest, NULL);
			if (r < 0)
				return r;
			if (r == 0) {
				kiln_warn_at(ctx, NULL, 0, 0,
					     "%s (listed in %s) is not in the store: left out",
					     idx->manifests[i].digest.s, d->digest.s);
				continue;
			}
			r = collect(ctx, s, &idx->manifests[i], depth + 1, set);
			if (r < 0)
				return r;
		}
	} else {
		_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;

		r = kiln_manifest_parse(ctx, json, len, &m);
		if (r < 0)
			return r;
		b = (struct blob_ref){ m->config.digest, m->config.size };
		r = blob_set_add(ctx, set, &b);
		for (size_t i = 0; r >= 0 && i < m->n_layers; i++) {
			b = (struct blob_ref){ m->layers[i].digest, m->layers[i].size };
			r = blob_set_add(ctx, set, &b);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int export_oci(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
		      const struct kiln_platform *platform, struct out *o)
{
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor d = { 0 };
	_cleanup_free_ char *name = NULL, *index = NULL;
	_cleanup_free_ struct blob_ref *blobs = NULL;
	struct blob_set set = { 0 };
	size_t index_len;
	int r;

	if (platform) {
		_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;

		r = kiln_store_load_image(ctx, s, ref, platform, &img);
		if (r >= 0)
			r = kiln_descriptor_copy(&img->manifest_desc, &d);
	} else {
		r = kiln_store_resolve(ctx, s, ref, &d);
	}
	if (r < 0)
		return r;
	r = export_name(ctx, ref, &name);
	if (r < 0)
		return r;
	r = collect(ctx, s, &d, 0, &set);
	blobs = set.v;
	if (r < 0)
		return r;
	/* every blob of a manifest must be there: a layout may lack only what an index lists */
	for (size_t i = 0; i < set.n; i++) {
		r = kiln_store_has_blob(s, &set.v[i].digest, NULL);
		if (r == 0)
			return kiln_error(ctx, ENOENT, "blob %s of %s is not in the store",
					  set.v[i].digest.s, ref);
		if (r < 0)
			return r;
	}
	qsort(set.v, set.n, sizeof(*set.v), blob_ref_cmp);
	r = index_json(&d, name, &index, &index_len);
	if (r < 0)
		return r;

	if ((r = add_dir(o, "blobs")) < 0 || (r = add_dir(o, "blobs/sha256")) < 0)
		return r;
	for (size_t i = 0; i < set.n; i++) {
		r = add_store_blob(o, s, &set.v[i].digest, set.v[i].size);
		if (r < 0)
			return r;
	}
	if ((r = add_file(o, "index.json", index, index_len)) < 0 ||
	    (r = add_file(o, "oci-layout", OCI_LAYOUT_JSON, strlen(OCI_LAYOUT_JSON))) < 0)
		return r;
	return 0;
}

/* ---- docker-archive ------------------------------------------------------------- */

/* The name as docker prints it: "foo:1" for docker.io/library/foo:1. */
static const char *familiar(const char *name)
{
	if (strncmp(name, "docker.io/library/", 18) == 0)
		return name + 18;
	if (strncmp(name, "docker.io/", 10) == 0)
		return name + 10;
	return name;
}

/* A layer, decompressed as it goes into the archive, checked against its diff_id. */
static int add_layer(struct out *o, struct kiln_store *s, const struct blob_ref *b)
{
	_cleanup_(kiln_layer_reader_freep) struct kiln_layer_reader *lr = NULL;
	_cleanup_free_ char *name = blob_name(&b->digest);
	struct kiln_tar_entry e = { .type = KILN_TAR_REG, .mode = 0644, .size = b->size };
	char buf[65536];
	uint64_t got;
	ssize_t n;
	int r;

	if (!name)
		return -ENOMEM;
	e.path = name;
	r = kiln_layer_reader_open(o->ctx, s, b->layer, b->diff_id, &lr);
	if (r < 0)
		return r;
	r = kiln_tar_writer_add(o->ctx, o->tw, &e);
	if (r < 0)
		return r;
	for (uint64_t left = b->size; left > 0; left -= (uint64_t)n) {
		n = kiln_layer_reader_read_raw(lr, buf,
					       left < sizeof(buf) ? (size_t)left : sizeof(buf));
		if (n < 0)
			return (int)n;
		if (n == 0)
			return kiln_error(o->ctx, EBADMSG, "layer %s changed while being exported",
					  b->layer->digest.s);
		r = kiln_tar_writer_write(o->tw, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	r = kiln_layer_reader_finish(lr, &got);
	if (r < 0)
		return r;
	if (got != b->size)
		return kiln_error(o->ctx, EBADMSG, "layer %s changed while being exported",
				  b->layer->digest.s);
	return 0;
}

/* The uncompressed size of each layer (a first pass over compressed ones), verified. */
static int measure_layers(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *img,
			  uint64_t *sizes, bool *all_plain)
{
	const struct kiln_manifest *m = img->manifest;

	*all_plain = true;
	for (size_t i = 0; i < m->n_layers; i++) {
		_cleanup_(kiln_layer_reader_freep) struct kiln_layer_reader *lr = NULL;
		int r;

		r = kiln_layer_reader_open(ctx, s, &m->layers[i], &img->config->diff_ids[i], &lr);
		if (r < 0)
			return r;
		if (kiln_layer_reader_format(lr) == KILN_COMPRESSION_NONE &&
		    streq(m->layers[i].digest.s, img->config->diff_ids[i].s)) {
			/* its bytes are checked against the digest while they are copied */
			sizes[i] = m->layers[i].size;
			continue;
		}
		*all_plain = false;
		r = kiln_layer_reader_finish(lr, &sizes[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static void json_blob_path(struct json_writer *w, const struct kiln_digest *d)
{
	char path[96];

	snprintf(path, sizeof(path), "blobs/sha256/%s", kiln_digest_hex(d));
	json_string(w, path);
}

/* [{"Config": ..., "RepoTags": [...], "Layers": [...]}], what docker load reads. */
static int manifest_json_of(const struct kiln_image *img, const char *name, char **ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;
	char *json;

	json_init_compact(&w, &sb);
	json_begin_array(&w);
	json_begin_object(&w);
	json_key(&w, "Config");
	json_blob_path(&w, &img->manifest->config.digest);
	json_key(&w, "RepoTags");
	json_begin_array(&w);
	if (name)
		json_string(&w, familiar(name));
	json_end_array(&w);
	json_key(&w, "Layers");
	json_begin_array(&w);
	for (size_t i = 0; i < img->config->n_diff_ids; i++)
		json_blob_path(&w, &img->config->diff_ids[i]);
	json_end_array(&w);
	json_end_object(&w);
	json_end_array(&w);
	if (w.error < 0)
		return w.error;
	json = strbuf_detach(&sb, NULL);
	if (!json)
		return -ENOMEM;
	*ret = json;
	return 0;
}

/*
 * A manifest of the archive's own for the image's layers uncompressed, as
 * the archive holds them (@sizes; their diff_ids are their digests), in
 * *@ret (*@ret_len bytes); @mdesc gets its digest and size.
 */
static int uncompressed_manifest(struct kiln_ctx *ctx, const struct kiln_image *img,
				 const uint64_t *sizes, char **ret, size_t *ret_len,
				 struct kiln_descriptor *mdesc)
{
	_cleanup_free_ struct kiln_descriptor *layers = NULL;
	_cleanup_free_ char *json = NULL;
	struct kiln_manifest m = *img->manifest;
	bool docker = streq(m.media_type, KILN_MT_DOCKER_MANIFEST);
	size_t len;
	int r;

	layers = calloc(m.n_layers + 1, sizeof(*layers));
	if (!layers)
		return -ENOMEM;
	for (size_t i = 0; i < m.n_layers; i++)
		layers[i] = (struct kiln_descriptor){
			.media_type = (char *)(docker ? KILN_MT_DOCKER_LAYER : KILN_MT_OCI_LAYER),
			.digest = img->config->diff_ids[i],
			.size = sizes[i],
		};
	m.layers = layers;
	r = kiln_manifest_to_json(&m, &json, &len);
	if (r < 0)
		return r;
	r = kiln_digest_of(ctx, json, len, &mdesc->digest);
	if (r < 0)
		return r;
	mdesc->size = len;
	*ret = TAKE_PTR(json);
	*ret_len = len;
	return 0;
}

/* The platform of @mdesc, from the image's config when the store's descriptor has none. */
static int add_config_platform(const struct kiln_image *img, struct kiln_descriptor *mdesc)
{
	if (mdesc->platform || !(img->config->os || img->config->architecture))
		return 0;
	mdesc->platform = calloc(1, sizeof(*mdesc->platform));
	if (!mdesc->platform)
		return -ENOMEM;
	mdesc->platform->os = strdup(strempty(img->config->os));
	mdesc->platform->architecture = strdup(strempty(img->config->architecture));
	mdesc->platform->variant = img->config->variant ? strdup(img->config->variant) : NULL;
	if (!mdesc->platform->os || !mdesc->platform->architecture ||
	    (img->config->variant && !mdesc->platform->variant))
		return -ENOMEM;
	return 0;
}

/*
 * The blobs of the archive in @set, sorted: the manifest (@manifest,
 * @mlen bytes, @mdesc), the config, and the layers uncompressed (@sizes).
 */
static int docker_blobs(struct kiln_ctx *ctx, const struct kiln_image *img,
			const struct kiln_descriptor *mdesc, const char *manifest, size_t mlen,
			const uint64_t *sizes, struct blob_set *set)
{
	struct blob_ref b;
	int r;

	b = (struct blob_ref){ .digest = mdesc->digest, .size = mlen, .data = manifest };
	r = blob_set_add(ctx, set, &b);
	b = (struct blob_ref){ .digest = img->manifest->config.digest,
			       .size = img->config_len,
			       .data = img->config_json };
	if (r >= 0)
		r = blob_set_add(ctx, set, &b);
	for (size_t i = 0; r >= 0 && i < img->manifest->n_layers; i++) {
		b = (struct blob_ref){ .digest = img->config->diff_ids[i],
				       .size = sizes[i],
				       .layer = &img->manifest->layers[i],
				       .diff_id = &img->config->diff_ids[i] };
		r = blob_set_add(ctx, set, &b);
	}
	if (r < 0)
		return r;
	qsort(set->v, set->n, sizeof(*set->v), blob_ref_cmp);
	return 0;
}

/* The archive's entries: the blobs of @set, then index.json, manifest.json and oci-layout. */
static int write_docker_archive(struct out *o, struct kiln_store *s, const struct blob_set *set,
				const char *index, size_t index_len, const char *docker_json)
{
	int r;

	if ((r = add_dir(o, "blobs")) < 0 || (r = add_dir(o, "blobs/sha256")) < 0)
		return r;
	for (size_t i = 0; i < set->n; i++) {
		_cleanup_free_ char *bname = blob_name(&set->v[i].digest);

		if (!bname)
			return -ENOMEM;
		if (set->v[i].layer)
			r = add_layer(o, s, &set->v[i]);
		else
			r = add_file(o, bname, set->v[i].data, set->v[i].size);
		if (r < 0)
			return r;
	}
	if ((r = add_file(o, "index.json", index, index_len)) < 0 ||
	    (r = add_file(o, "manifest.json", docker_json, strlen(docker_json))) < 0 ||
	    (r = add_file(o, "oci-layout", OCI_LAYOUT_JSON, strlen(OCI_LAYOUT_JSON))) < 0)
		return r;
	return 0;
}

static int export_docker(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
			 const struct kiln_platform *platform, struct out *o)
{
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor mdesc = { 0 };
	_cleanup_free_ char *name = NULL, *index = NULL, *docker_json = NULL, *mjson = NULL;
	_cleanup_free_ uint64_t *sizes = NULL;
	_cleanup_free_ struct blob_ref *blobs = NULL;
	struct blob_set set = { 0 };
	const char *manifest_bytes;
	size_t index_len, mlen;
	bool all_plain;
	int r;

	r = kiln_store_load_image(ctx, s, ref, platform, &img);
	if (r < 0)
		return r;
	if (img->config->n_diff_ids != img->manifest->n_layers)
		return kiln_error(ctx, EBADMSG, "%s: %zu layers, but its config lists %zu diff_ids",
				  ref, img->manifest->n_layers, img->config->n_diff_ids);
	r = export_name(ctx, ref, &name);
	if (r < 0)
		return r;
	sizes = calloc(img->manifest->n_layers + 1, sizeof(*sizes));
	if (!sizes)
		return -ENOMEM;
	r = measure_layers(ctx, s, img, sizes, &all_plain);
	if (r < 0)
		return r;

	r = kiln_descriptor_copy(&img->manifest_desc, &mdesc);
	if (r < 0)
		return r;
	if (all_plain) {
		manifest_bytes = img->manifest_json;
		mlen = img->manifest_len;
	} else {
		r = uncompressed_manifest(ctx, img, sizes, &mjson, &mlen, &mdesc);
		if (r < 0)
			return r;
		manifest_bytes = mjson;
	}
	r = add_config_platform(img, &mdesc);
	if (r < 0)
		return r;
	r = index_json(&mdesc, name, &index, &index_len);
	if (r < 0)
		return r;
	r = manifest_json_of(img, name, &docker_json);
	if (r < 0)
		return r;

	r = docker_blobs(ctx, img, &mdesc, manifest_bytes, mlen, sizes, &set);
	blobs = set.v;
	if (r < 0)
		return r;
	return write_docker_archive(o, s, &set, index, index_len, docker_json);
}

int kiln_archive_export(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
			const struct kiln_platform *platform, enum kiln_archive_format format,
			const char *path)
{
	_cleanup_(out_release) struct out o = { .file = { .fd = -1 } };
	int r;

	if (format != KILN_ARCHIVE_DOCKER && format != KILN_ARCHIVE_OCI)
		return kiln_error(ctx, EINVAL, "export: choose docker-archive or oci-archive");
	r = out_open(ctx, path, &o);
	if (r < 0)
		return r;
	if (format == KILN_ARCHIVE_OCI)
		r = export_oci(ctx, s, ref, platform, &o);
	else
		r = export_docker(ctx, s, ref, platform, &o);
	if (r < 0)
		return r;
	return out_commit(&o);
}
