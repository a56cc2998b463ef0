/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* NULL-terminated arrays of owned strings. */

#include <stddef.h>

#include "macro.h"

/* Free every string and the array; NULL is allowed. */
void strv_free(char **v);
DEFINE_FREEP(char *, strv_free)

size_t strv_length(const char *const *v);

/* Append a copy of @s to *@v unless it is there: 1 added, 0 present, -ENOMEM. */
int strv_add_unique(char ***v, const char *s);
