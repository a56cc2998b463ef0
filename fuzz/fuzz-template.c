/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the template engine: render the input over a few fixed variables,
 * the way a package tree's pkg.yaml is rendered, and free everything.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <kiln/kiln.h>

#include "strmap.h"
#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kv[][2] = {
		{ "ARCH", "x86_64" },
		{ "VERSION", "v1.7.0" },
		{ "KVER", "6.12.3-talos" },
		{ "REF", "0123456789abcdef0123" },
		{ "TOOLCHAIN", "/toolchain" },
		{ "EMPTY", "" },
		{ "UTF8", "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xff" },
	};
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_strmap_ struct strmap vars = STRMAP_INIT;
	_cleanup_free_ char *out = NULL;
	size_t len;

	if (kiln_ctx_new(&ctx) < 0)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(kv); i++)
		if (strmap_set(&vars, kv[i][0], kv[i][1]) < 0)
			return 0;
	if (kiln_template_render(ctx, "fuzz", (const char *)data, size, &vars, &out, &len) < 0) {
		/* every failure leaves a message and no output */
		if (!kiln_ctx_error(ctx) || out)
			abort();
		return 0;
	}
	if (!out || out[len] != '\0')
		abort();
	return 0;
}
