/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loading an image from the store: ref -> (index -> the platform's entry)*
 * -> manifest -> config, every blob verified against its digest and size
 * as it is read.
 */
#include <string.h>

#include "log.h"
#include "store-internal.h"
#include "strbuf.h"

/* indexes of indexes are legal; deeper than this is a loop or an attack */
#define MAX_INDEX_DEPTH 4

void kiln_image_free(struct kiln_image *img)
{
	if (!img)
		return;
	kiln_descriptor_release(&img->manifest_desc);
	kiln_manifest_free(img->manifest);
	free(img->manifest_json);
	kiln_descriptor_release(&img->index_desc);
	kiln_image_config_free(img->config);
	free(img->config_json);
	free(img);
}

/* Read the blob @d names, checking the size the descriptor gives as well as the digest. */
static int read_described(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
			  const struct kiln_descriptor *d, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	if (d->size > max)
		return kiln_error(ctx, EFBIG, "%s: %s is %ju bytes, more than the %zu kiln reads",
				  ref, d->digest.s, (uintmax_t)d->size, max);
	r = kiln_store_read_blob(ctx, s, &d->digest, max, &buf, &len);
	if (r < 0) {
		kiln_error_prefix(ctx, "%s", ref);
		return r;
	}
	if (len != d->size)
		return kiln_error(ctx, EBADMSG, "%s: blob %s is %zu bytes, its descriptor says %ju",
				  ref, d->digest.s, len, (uintmax_t)d->size);
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* The entry of @idx for @want: the first that matches, or the only one when none says. */
static int pick_entry(struct kiln_ctx *ctx, const char *ref, const struct kiln_index *idx,
		      const struct kiln_platform *want, const struct kiln_descriptor **ret)
{
	_cleanup_free_ char *have = NULL, *wanted = NULL;
	const struct kiln_descriptor *d = kiln_index_find_platform(idx, want);

	if (d) {
		*ret = d;
		return 0;
	}
	wanted = kiln_platform_string(want);
	have = kiln_index_platforms_string(idx);
	if (!wanted || !have)
		return -ENOMEM;
	return kiln_error(ctx, ENOENT, "%s has no image for %s (it has: %s)", ref, wanted,
			  *have ? have : "none named");
}

static bool is_config_type(const char *mt)
{
	return streq(mt, KILN_MT_OCI_CONFIG) || streq(mt, KILN_MT_DOCKER_CONFIG);
}

int kiln_store_load_image(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
			  const struct kiln_platform *platform, struct kiln_image **ret)
{
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	_cleanup_(kiln_platform_release) struct kiln_platform host = { 0 };
	const struct kiln_platform *want = platform;
	int r;

	img = calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	r = kiln_store_resolve(ctx, s, ref, &img->manifest_desc);
	if (r < 0)
		return r;
	if (!want) {
		r = kiln_platform_parse(ctx, NULL, &host);
		if (r < 0)
			return r;
		want = &host;
	}
	for (int depth = 0;; depth++) {
		_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
		_cleanup_free_ char *buf = NULL;
		const struct kiln_descriptor *entry = NULL;
		size_t len;

		if (kiln_media_type_is_manifest(img->manifest_desc.media_type)) {
			r = read_described(ctx, s, ref, &img->manifest_desc, KILN_MANIFEST_MAX,
					   &img->manifest_json, &img->manifest_len);
			if (r < 0)
				return r;
			r = kiln_manifest_parse(ctx, img->manifest_json, img->manifest_len,
						&img->manifest);
			if (r < 0) {
				kiln_error_prefix(ctx, "%s: %s", ref, img->manifest_desc.digest.s);
				return r;
			}
			break;
		}
		if (!kiln_media_type_is_index(img->manifest_desc.media_type))
			return kiln_error(ctx, EINVAL,
					  "%s: %s has media type %s, neither a manifest nor an "
					  "index",
					  ref, img->manifest_desc.digest.s,
					  strempty(img->manifest_desc.media_type));
		if (depth >= MAX_INDEX_DEPTH)
			return kiln_error(ctx, ELOOP, "%s: indexes nested more than %d deep", ref,
					  MAX_INDEX_DEPTH);
		r = read_described(ctx, s, ref, &img->manifest_desc, KILN_MANIFEST_MAX, &buf, &len);
		if (r < 0)
			return r;
		r = kiln_index_parse(ctx, buf, len, &idx);
		if (r < 0) {
			kiln_error_prefix(ctx, "%s: %s", ref, img->manifest_desc.digest.s);
			return r;
		}
		r = pick_entry(ctx, ref, idx, want, &entry);
		if (r < 0)
			return r;
		if (!img->from_index) {
			img->index_desc = img->manifest_desc;
			img->manifest_desc = (struct kiln_descriptor){ 0 };
			img->from_index = true;
		} else {
			kiln_descriptor_release(&img->manifest_desc);
		}
		r = kiln_descriptor_copy(entry, &img->manifest_desc);
		if (r < 0)
			return r;
	}

	if (!is_config_type(img->manifest->config.media_type))
		return kiln_error(ctx, EMEDIUMTYPE,
				  "%s is not a container image: its config is %s%s%s", ref,
				  strempty(img->manifest->config.media_type),
				  img->manifest->artifact_type ? ", artifact type " : "",
				  strempty(img->manifest->artifact_type));
	r = read_described(ctx, s, ref, &img->manifest->config, KILN_CONFIG_MAX, &img->config_json,
			   &img->config_len);
	if (r < 0)
		return r;
	r = kiln_image_config_parse(ctx, img->config_json, img->config_len, &img->config);
	if (r < 0) {
		kiln_error_prefix(ctx, "%s: %s", ref, img->manifest->config.digest.s);
		return r;
	}
	if (platform && !img->from_index) {
		struct kiln_platform have = {
			.os = img->config->os,
			.architecture = img->config->architecture,
			.variant = img->config->variant,
		};

		if (!kiln_platform_matches(platform, &have)) {
			_cleanup_free_ char *a = kiln_platform_string(platform);
			_cleanup_free_ char *b = kiln_platform_string(&have);

			return kiln_error(ctx, ENOENT, "%s is an image for %s, not %s", ref,
					  b ? b : "?", a ? a : "?");
		}
	}
	*ret = TAKE_PTR(img);
	return 0;
}
