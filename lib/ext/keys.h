/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Feeding kiln_ext_find_private_key() from a stream. Internal to lib/ext. */

#include <stddef.h>
#include <stdint.h>

#include <kiln/layer.h>

/* Scratch space for ext_read_private_key(), kept between files; free(data) after the last. */
struct ext_key_buffer {
	unsigned char *data;
	size_t size;
};

/*
 * kiln_ext_find_private_key() on the file @name of @size bytes that @in
 * gives (a tar entry's data), with the same answer as for the whole file
 * but in at most a few MiB of @b whatever its size: the name is looked at
 * first and the data not read when it tells; a large file is looked at in
 * overlapping windows, and reading stops at the first key. 1 with
 * *@ret_what, 0, or -errno from @in.
 */
int ext_read_private_key(const char *name, uint64_t size, kiln_read_fn in, void *userdata,
			 struct ext_key_buffer *b, const char **ret_what);
