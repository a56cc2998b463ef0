/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>

#include "hex.h"

char *hex_encode(char *out, const void *data, size_t len, char sep, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		if (sep && i)
			*out++ = sep;
		*out++ = digits[p[i] >> 4];
		*out++ = digits[p[i] & 0xf];
	}
	*out = '\0';
	return out;
}
