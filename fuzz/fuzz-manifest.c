/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the image model's parsers: the input is read as a manifest, an index
 * and an image config (and, when short, as a reference and a platform).
 * Each either parses, or is refused with a message. Whatever parses must
 * serialize, and its serialization must parse back to the same bytes: the
 * canonical form is a fixed point, or equal values could get two digests.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/oci.h>

#include "fuzz.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void refused(struct kiln_ctx *ctx, int r)
{
	if (r >= 0 || !kiln_ctx_error(ctx))
		abort();
	kiln_ctx_clear_error(ctx);
}

static void check_manifest(struct kiln_ctx *ctx, const char *s, size_t n)
{
	_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL, *m2 = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL;
	size_t la, lb;
	int r;

	r = kiln_manifest_parse(ctx, s, n, &m);
	if (r < 0) {
		refused(ctx, r);
		return;
	}
	if (kiln_manifest_to_json(m, &a, &la) < 0 || kiln_manifest_parse(ctx, a, la, &m2) < 0 ||
	    kiln_manifest_to_json(m2, &b, &lb) < 0 || la != lb || memcmp(a, b, la) != 0)
		abort();
}

static void check_index(struct kiln_ctx *ctx, const char *s, size_t n)
{
	_cleanup_(kiln_index_freep) struct kiln_index *i = NULL, *i2 = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL;
	size_t la, lb;
	int r;

	r = kiln_index_parse(ctx, s, n, &i);
	if (r < 0) {
		refused(ctx, r);
		return;
	}
	if (kiln_index_to_json(i, &a, &la) < 0 || kiln_index_parse(ctx, a, la, &i2) < 0 ||
	    kiln_index_to_json(i2, &b, &lb) < 0 || la != lb || memcmp(a, b, la) != 0)
		abort();
}

static void check_config(struct kiln_ctx *ctx, const char *s, size_t n)
{
	_cleanup_(kiln_image_config_freep) struct kiln_image_config *c = NULL, *c2 = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL;
	size_t la, lb;
	int r;

	r = kiln_image_config_parse(ctx, s, n, &c);
	if (r < 0) {
		refused(ctx, r);
		return;
	}
	if (kiln_image_config_to_json(c, &a, &la) < 0 ||
	    kiln_image_config_parse(ctx, a, la, &c2) < 0 ||
	    kiln_image_config_to_json(c2, &b, &lb) < 0 || la != lb || memcmp(a, b, la) != 0)
		abort();
}

static void check_ref(struct kiln_ctx *ctx, const char *s)
{
	_cleanup_(kiln_ref_release) struct kiln_ref ref = { 0 }, again = { 0 };
	_cleanup_free_ char *full = NULL, *full2 = NULL;
	int r;

	r = kiln_ref_parse(ctx, s, &ref);
	if (r < 0) {
		refused(ctx, r);
		return;
	}
	/* the printed form is a reference too, and prints the same */
	full = kiln_ref_string(&ref);
	if (!full || kiln_ref_parse(ctx, full, &again) < 0)
		abort();
	full2 = kiln_ref_string(&again);
	if (!full2 || strcmp(full, full2) != 0)
		abort();
}

static void check_platform(struct kiln_ctx *ctx, const char *s)
{
	_cleanup_(kiln_platform_release) struct kiln_platform p = { 0 };
	int r;

	r = kiln_platform_parse(ctx, s, &p);
	if (r < 0) {
		refused(ctx, r);
		return;
	}
	if (!p.os || !p.architecture)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_free_ char *s = NULL;

	s = fuzz_copy(data, size, 1u << 20);
	if (!s || kiln_ctx_new(&ctx) < 0)
		return 0;
	check_manifest(ctx, s, size);
	check_index(ctx, s, size);
	check_config(ctx, s, size);
	if (size < 1024 && !memchr(data, '\0', size)) {
		_cleanup_free_ char *z = strndup((const char *)data, size);

		if (z) {
			check_ref(ctx, z);
			check_platform(ctx, z);
		}
	}
	return 0;
}
