/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Feed arbitrary bytes to the private-key scan, which reads every file of
 * every layer of an image that came from a registry: whole, and streamed
 * in uneven pieces as a layer's tar gives them. Both must agree, and a
 * key found must say what it is.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <kiln/ext.h>

#include "fuzz.h"
#include "keys.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pieces {
	const uint8_t *p;
	size_t left, turn;
};

/* 1, 7, 64, 1, 7, 64, ... bytes a read, as a tar reader may stop anywhere */
static ssize_t read_pieces(void *userdata, void *buf, size_t len)
{
	static const size_t sizes[] = { 1, 7, 64 };
	struct pieces *in = userdata;
	size_t n = sizes[in->turn++ % ELEMENTSOF(sizes)];

	if (n > len)
		n = len;
	if (n > in->left)
		n = in->left;
	memcpy(buf, in->p, n);
	in->p += n;
	in->left -= n;
	return (ssize_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *copy = fuzz_copy(data, size, 1u << 20);
	struct ext_key_buffer b = { 0 };
	struct pieces in = { (const uint8_t *)copy, size, 0 };
	const char *what = NULL, *what_streamed = NULL;
	int whole, streamed;

	if (!copy)
		return 0;
	whole = kiln_ext_find_private_key("file", copy, size, &what);
	if (whole < 0 || whole > 1 || (whole == 1 && (!what || !*what)))
		abort();
	streamed = ext_read_private_key("file", size, read_pieces, &in, &b, &what_streamed);
	free(b.data);
	if (streamed != whole || (whole == 1 && strcmp(what, what_streamed) != 0))
		abort();
	return 0;
}
