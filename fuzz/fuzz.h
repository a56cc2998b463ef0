/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the harnesses share. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * A private copy of the input, exactly @size bytes long, or NULL (also for
 * an input over @max bytes, which the harness skips): the replay driver's
 * buffer is longer and NUL-terminated, and a parser must not read past
 * @size, which ASan sees only at the end of an allocation.
 */
static inline char *fuzz_copy(const uint8_t *data, size_t size, size_t max)
{
	char *s = size <= max ? malloc(size ? size : 1) : NULL;

	if (s)
		memcpy(s, data, size);
	return s;
}
