/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Refs in the store's index.json, resolving names and digests, and loading
 * an image for a platform. index.json is read without a lock (it is only
 * ever replaced by rename) and rewritten under an exclusive flock, so that
 * two processes tagging at once both land.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "json-parse.h"
#include "log.h"
#include "store-internal.h"
#include "strbuf.h"

int store_read_index(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_index **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_file_at(s->dir_fd, "index.json", STORE_INDEX_MAX, &buf, &len);
	if (r < 0)
		return kiln_error(ctx, r, "cannot read %s/index.json: %s", s->path, strerror(-r));
	r = kiln_index_parse(ctx, buf, len, ret);
	if (r < 0)
		kiln_error_prefix(ctx, "%s/index.json", s->path);
	return r;
}

int store_write_index(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_index *idx)
{
	_cleanup_free_ char *json = NULL, *path = NULL;
	size_t len;
	int r;

	r = kiln_index_to_json(idx, &json, &len);
	if (r < 0)
		return kiln_error(ctx, r, "cannot serialize %s/index.json: %s", s->path,
				  strerror(-r));
	path = path_join(s->path, "index.json");
	if (!path)
		return -ENOMEM;
	r = write_file_atomic(path, json, len, 0644);
	if (r < 0)
		return kiln_error(ctx, r, "cannot write %s: %s", path, strerror(-r));
	if (fsync(s->dir_fd) < 0)
		return kiln_error(ctx, errno, "cannot sync %s: %m", s->path);
	return 0;
}

int store_lock_read_index(struct kiln_ctx *ctx, struct kiln_store *s, int *ret_lock,
			  struct kiln_index **ret)
{
	_cleanup_close_ int lock = -1;
	int r;

	lock = store_lock_index(ctx, s);
	if (lock < 0)
		return lock;
	r = store_read_index(ctx, s, ret);
	if (r < 0)
		return r;
	*ret_lock = TAKE_FD(lock);
	return 0;
}

int kiln_store_read_index(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_index **ret)
{
	return store_read_index(ctx, s, ret);
}

int store_sniff_media_type(struct kiln_ctx *ctx, const char *json, size_t len, const char **ret)
{
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	const struct json_value *root;
	const char *mt;
	int r;

	r = json_parse(ctx, "blob", json, len, &doc);
	if (r < 0)
		return r;
	root = json_doc_root(doc);
	mt = json_get_string(root, "mediaType");
	if (kiln_media_type_is_index(mt))
		*ret = strstr(mt, "docker") ? KILN_MT_DOCKER_LIST : KILN_MT_OCI_INDEX;
	else if (kiln_media_type_is_manifest(mt))
		*ret = strstr(mt, "docker") ? KILN_MT_DOCKER_MANIFEST : KILN_MT_OCI_MANIFEST;
	else if (!mt && json_get(root, "manifests"))
		*ret = KILN_MT_OCI_INDEX;
	else if (!mt && json_get(root, "config"))
		*ret = KILN_MT_OCI_MANIFEST;
	else
		return kiln_error(ctx, EBADMSG, "neither a manifest nor an index");
	return 0;
}

static const char *entry_name(const struct kiln_descriptor *d)
{
	return kiln_annotation_get(d->annotations, d->n_annotations, KILN_ANNOTATION_REF_NAME);
}

/* The entry named @name: by ref.name, or by the full name docker and containerd write. */
static const struct kiln_descriptor *find_entry(const struct kiln_index *idx, const char *name)
{
	for (size_t i = 0; i < idx->n_manifests; i++)
		if (streq(entry_name(&idx->manifests[i]), name))
			return &idx->manifests[i];
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct kiln_descriptor *d = &idx->manifests[i];

		if (streq(kiln_annotation_get(d->annotations, d->n_annotations,
					      KILN_ANNOTATION_IMAGE_NAME),
			  name))
			return d;
	}
	return NULL;
}

/* A store name must be what kiln_ref_name() makes, so that every spelling finds it. */
static int check_ref_name(struct kiln_ctx *ctx, const char *name)
{
	_cleanup_(kiln_ref_release) struct kiln_ref ref = { 0 };
	_cleanup_free_ char *canon = NULL;
	int r;

	r = kiln_ref_parse(ctx, name, &ref);
	if (r < 0)
		return r;
	canon = kiln_ref_name(&ref);
	if (!canon)
		return -ENOMEM;
	if (!streq(canon, name))
		return kiln_error(ctx, EINVAL,
				  "ref name \"%s\" is not in full form: it would be \"%s\"", name,
				  canon);
	return 0;
}

static void remove_entry(struct kiln_index *idx, size_t i)
{
	kiln_descriptor_release(&idx->manifests[i]);
	memmove(idx->manifests + i, idx->manifests + i + 1,
		(idx->n_manifests - i - 1) * sizeof(*idx->manifests));
	idx->n_manifests--;
}

int kiln_store_set_ref(struct kiln_ctx *ctx, struct kiln_store *s, const char *name,
		       const struct kiln_descriptor *d)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor e = { 0 };
	_cleanup_close_ int lock = -1;
	struct kiln_descriptor *v;
	uint64_t size;
	size_t pos;
	int r;

	r = check_ref_name(ctx, name);
	if (r < 0)
		return r;
	if (!kiln_media_type_is_manifest(d->media_type) && !kiln_media_type_is_index(d->media_type))
		return kiln_error(ctx, EINVAL, "cannot tag %s as %s: media type %s is neither a "
				  "manifest nor an index",
				  d->digest.s, name, strempty(d->media_type));
	r = kiln_store_has_blob(s, &d->digest, &size);
	if (r < 0)
		return kiln_error(ctx, r, "cannot tag %s as %s: %s", d->digest.s, name,
				  strerror(-r));
	if (r == 0)
		return kiln_error(ctx, ENOENT, "cannot tag %s as %s: the blob is not in the store",
				  d->digest.s, name);
	if (size != d->size)
		return kiln_error(ctx, EINVAL,
				  "cannot tag %s as %s: the descriptor says %ju bytes, the blob "
				  "has %ju",
				  d->digest.s, name, (uintmax_t)d->size, (uintmax_t)size);
	r = kiln_descriptor_copy(d, &e);
	if (r < 0)
		return r;
	r = kiln_annotation_set(&e.annotations, &e.n_annotations, KILN_ANNOTATION_IMAGE_NAME, name);
	if (r >= 0)
		r = kiln_annotation_set(&e.annotations, &e.n_annotations, KILN_ANNOTATION_REF_NAME,
					name);
	if (r < 0)
		return r;

	r = store_lock_read_index(ctx, s, &lock, &idx);
	if (r < 0)
		return r;
	/* moving a ref: drop its old entry (any spelling of the same name) */
	for (size_t i = idx->n_manifests; i-- > 0;) {
		const struct kiln_descriptor *x = &idx->manifests[i];

		if (streq(entry_name(x), name) ||
		    streq(kiln_annotation_get(x->annotations, x->n_annotations,
					      KILN_ANNOTATION_IMAGE_NAME),
			  name))
			remove_entry(idx, i);
	}
	v = realloc(idx->manifests, (idx->n_manifests + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	idx->manifests = v;
	/* sorted by name after the unnamed entries: a stable, readable index.json */
	for (pos = idx->n_manifests; pos > 0; pos--) {
		const char *other = entry_name(&v[pos - 1]);

		if (!other || strcmp(other, name) < 0)
			break;
	}
	memmove(v + pos + 1, v + pos, (idx->n_manifests - pos) * sizeof(*v));
	v[pos] = e;
	e = (struct kiln_descriptor){ 0 };
	idx->n_manifests++;
	return store_write_index(ctx, s, idx);
}

int kiln_store_get_ref(struct kiln_ctx *ctx, struct kiln_store *s, const char *name,
		       struct kiln_descriptor *ret)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	const struct kiln_descriptor *d;
	int r;

	r = store_read_index(ctx, s, &idx);
	if (r < 0)
		return r;
	d = find_entry(idx, name);
	if (!d)
		return kiln_error(ctx, ENOENT, "no image named %s in the store %s", name, s->path);
	return kiln_descriptor_copy(d, ret);
}

int kiln_store_remove_ref(struct kiln_ctx *ctx, struct kiln_store *s, const char *name)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_close_ int lock = -1;
	bool found = false;
	int r;

	r = store_lock_read_index(ctx, s, &lock, &idx);
	if (r < 0)
		return r;
	for (size_t i = idx->n_manifests; i-- > 0;) {
		if (streq(entry_name(&idx->manifests[i]), name)) {
			remove_entry(idx, i);
			found = true;
		}
	}
	if (!found)
		return kiln_error(ctx, ENOENT, "no image named %s in the store %s", name, s->path);
	return store_write_index(ctx, s, idx);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int kiln_store_list_refs(struct kiln_ctx *ctx, struct kiln_store *s, char ***ret)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	char **v;
	size_t n = 0;
	int r;

	r = store_read_index(ctx, s, &idx);
	if (r < 0)
		return r;
	v = calloc(idx->n_manifests + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const char *name = entry_name(&idx->manifests[i]);

		if (!name)
			continue;
		v[n] = strdup(name);
		if (!v[n]) {
			for (size_t k = 0; k < n; k++)
				free(v[k]);
			free(v);
			return -ENOMEM;
		}
		n++;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_strp);
	/* index.json written by other tools may name two entries alike */
	for (size_t i = 1; i < n;) {
		if (streq(v[i], v[i - 1])) {
			free(v[i]);
			memmove(v + i, v + i + 1, (n - i - 1) * sizeof(*v));
			n--;
		} else {
			i++;
		}
	}
	*ret = v;
	return (int)n;
}

/* A blob named by digest: its descriptor, the media type read from it. */
static int resolve_digest(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
			  const struct kiln_digest *d, struct kiln_descriptor *ret)
{
	_cleanup_free_ char *buf = NULL;
	const char *mt;
	char *media_type;
	uint64_t size;
	size_t len;
	int r;

	r = kiln_store_has_blob(s, d, &size);
	if (r < 0)
		return kiln_error(ctx, r, "%s: %s", ref, strerror(-r));
	if (r == 0)
		return kiln_error(ctx, ENOENT, "no blob %s in the store %s", d->s, s->path);
	r = kiln_store_read_blob(ctx, s, d, KILN_MANIFEST_MAX, &buf, &len);
	if (r == -EFBIG)
		return kiln_error(ctx, EINVAL,
				  "%s is a blob of %ju bytes, too large to be a manifest or index",
				  d->s, (uintmax_t)size);
	if (r < 0)
		return r;
	r = store_sniff_media_type(ctx, buf, len, &mt);
	if (r < 0) {
		kiln_error_prefix(ctx, "blob %s", d->s);
		return r;
	}
	media_type = strdup(mt);
	if (!media_type)
		return -ENOMEM;
	*ret = (struct kiln_descriptor){ .media_type = media_type, .digest = *d, .size = len };
	return 0;
}

int kiln_store_resolve(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
		       struct kiln_descriptor *ret)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_(kiln_ref_release) struct kiln_ref parsed = { 0 };
	_cleanup_free_ char *name = NULL;
	const struct kiln_descriptor *d;
	struct kiln_digest digest;
	int r;

	if (strncmp(ref, KILN_DIGEST_PREFIX, strlen(KILN_DIGEST_PREFIX)) == 0) {
		r = kiln_digest_parse(ctx, ref, &digest);
		if (r < 0)
			return r;
		return resolve_digest(ctx, s, ref, &digest, ret);
	}
	r = store_read_index(ctx, s, &idx);
	if (r < 0)
		return r;
	/* the name exactly as written in index.json, as skopeo matches it */
	d = find_entry(idx, ref);
	if (d)
		return kiln_descriptor_copy(d, ret);
	r = kiln_ref_parse(ctx, ref, &parsed);
	if (r < 0)
		return r;
	/* a digest beats a tag */
	if (parsed.digest) {
		r = kiln_digest_parse(ctx, parsed.digest, &digest);
		if (r < 0)
			return r;
		return resolve_digest(ctx, s, ref, &digest, ret);
	}
	name = kiln_ref_name(&parsed);
	if (!name)
		return -ENOMEM;
	d = find_entry(idx, name);
	if (!d) {
		if (streq(name, ref))
			return kiln_error(ctx, ENOENT, "no image named %s in the store %s", ref,
					  s->path);
		return kiln_error(ctx, ENOENT, "no image named %s (%s) in the store %s", ref, name,
				  s->path);
	}
	return kiln_descriptor_copy(d, ret);
}
