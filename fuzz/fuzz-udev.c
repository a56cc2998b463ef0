/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the udev rules lint: the input is a rules file from an extension.
 * The lint counts its problems and reports each as one warning naming
 * the file, line and column; it fails only for memory. Nothing may crash,
 * leak, read past the file, or take more than linear time in it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/ext.h>

#include "fuzz.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each problem is one warning that names the file, line and column. */
static void count_warning(void *userdata, enum kiln_log_level level, const char *msg)
{
	unsigned *n = userdata;

	if (level == KILN_LOG_WARNING) {
		if (strncmp(msg, "51-fuzz.rules:", 14) != 0)
			abort();
		(*n)++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_free_ char *text = NULL;
	unsigned warnings = 0;
	int r;

	text = fuzz_copy(data, size, 1u << 20);
	if (!text || kiln_ctx_new(&ctx) < 0)
		return 0;
	kiln_ctx_set_log_fn(ctx, count_warning, &warnings);
	r = kiln_udev_lint(ctx, "51-fuzz.rules", text, size);
	if (r < 0 && r != -ENOMEM)
		abort();
	if (r >= 0 && (unsigned)r != warnings)
		abort();
	/* the empty file and a file of comments have nothing to say */
	if (size == 0 && r != 0)
		abort();
	return 0;
}
