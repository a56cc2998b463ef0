/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Bytes as hexadecimal text: digests, key identifiers, serial numbers, signatures. */

#include <stdbool.h>
#include <stddef.h>

/* The bytes hex_encode() writes for @len bytes, the NUL included. */
static inline size_t hex_encoded_size(size_t len, char sep)
{
	return len * 2 + (sep && len ? len - 1 : 0) + 1;
}

/*
 * @len bytes at @data as two hex digits each at @out (uppercase with
 * @upper, else lowercase), @sep between bytes unless it is '\0', then a
 * NUL: hex_encoded_size(@len, @sep) bytes in all. Returns the end of the
 * text (where the NUL is), for a caller that writes on from there.
 */
char *hex_encode(char *out, const void *data, size_t len, char sep, bool upper);
