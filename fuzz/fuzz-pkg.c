/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Feed arbitrary bytes to kiln_pkg_parse() as a rendered pkg.yaml: YAML
 * parsing (libyaml plus our tree and limits) and every bldr check behind it.
 * Success and failure are both fine; crashes, leaks and hangs are not.
 */
#include <stddef.h>
#include <stdint.h>

#include <kiln/spec.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = NULL;

	if (kiln_ctx_new(&ctx) < 0)
		return 0;
	/* no log function: warnings are counted and dropped */
	(void)kiln_pkg_parse(ctx, "pkg.yaml", (const char *)data, size, &pkg);
	return 0;
}
