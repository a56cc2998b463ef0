/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Feed arbitrary bytes to kiln_ext_manifest_parse() as an extension's
 * manifest.yaml, and check whatever constraint it holds as Talos would.
 * A refusal must come with a message; a manifest that parses has every
 * required field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/ext.h>

#include "fuzz.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_(kiln_ext_manifest_freep) struct kiln_ext_manifest *m = NULL;
	_cleanup_free_ char *text = NULL;
	int r;

	text = fuzz_copy(data, size, SIZE_MAX);
	if (!text || kiln_ctx_new(&ctx) < 0)
		return 0;
	r = kiln_ext_manifest_parse(ctx, "manifest.yaml", text, size, &m);
	if (r < 0) {
		if (!kiln_ctx_error(ctx) || m)
			abort();
		return 0;
	}
	if (!streq(m->version, "v1alpha1") || !m->name || !m->ext_version || !m->author ||
	    !m->description)
		abort();
	r = kiln_ext_check_talos_version(ctx, m->talos_version, "v1.12.0");
	if (r < 0 && !kiln_ctx_error(ctx))
		abort();
	return 0;
}
