/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

/* @len bytes as padded base64, NUL-terminated; NULL on -ENOMEM. */
char *base64_encode(const void *data, size_t len);

/*
 * Decode padded base64 (Go's StdEncoding, which docker and OCI use): a length
 * that is not a multiple of 4, a character outside the alphabet or misplaced
 * padding is -EINVAL. The output is NUL-terminated; @ret_len may be NULL.
 */
int base64_decode(const char *s, char **ret, size_t *ret_len);
