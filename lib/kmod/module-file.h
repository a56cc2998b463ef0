/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading a module file whole, as sign and verify do. Internal to lib/kmod. */

#include <stddef.h>

#include <kiln/kiln.h>

/*
 * All of the module file @path, up to KILN_MODULE_MAX_SIZE, NUL-terminated.
 * The error on @ctx is worded for the caller to prefix with the file's name.
 */
int kmod_read_file(struct kiln_ctx *ctx, const char *path, char **ret, size_t *ret_len);
