/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Feed arbitrary text to the version and range parsers: as a version, as a
 * blang/semver range, and as a Talos compatibility constraint. Refusals
 * need a message; what parses must order consistently.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/ext.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const probes[] = { "0.0.0", "1.9.0", "1.15.0-alpha.0", "1.15.0", "2.0.0" };

static void refused(struct kiln_ctx *ctx, int r)
{
	if (r >= 0 || !kiln_ctx_error(ctx))
		abort();
	kiln_ctx_clear_error(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_(kiln_semver_range_freep) struct kiln_semver_range *range = NULL;
	_cleanup_free_ char *s = NULL;
	struct kiln_semver v, p[ELEMENTSOF(probes)];
	int r;

	if (size > 8192 || kiln_ctx_new(&ctx) < 0)
		return 0;
	s = strndup((const char *)data, size);
	if (!s)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(probes); i++)
		if (kiln_semver_parse(ctx, probes[i], &p[i]) < 0)
			abort();

	r = kiln_semver_parse(ctx, s, &v);
	if (r < 0) {
		refused(ctx, r);
	} else {
		/* a total order: antisymmetric against every probe */
		if (kiln_semver_compare(&v, &v) != 0)
			abort();
		for (size_t i = 0; i < ELEMENTSOF(probes); i++)
			if (kiln_semver_compare(&v, &p[i]) != -kiln_semver_compare(&p[i], &v))
				abort();
		kiln_semver_release(&v);
	}

	r = kiln_semver_range_parse(ctx, s, &range);
	if (r < 0)
		refused(ctx, r);
	else
		for (size_t i = 0; i < ELEMENTSOF(probes); i++)
			(void)kiln_semver_range_match(range, &p[i]);

	r = kiln_ext_check_talos_version(ctx, s, "v1.15.0-alpha.0");
	if (r < 0) {
		if (r != -EINVAL && r != -ERANGE)
			abort();
		refused(ctx, r);
	}

	for (size_t i = 0; i < ELEMENTSOF(probes); i++)
		kiln_semver_release(&p[i]);
	return 0;
}
