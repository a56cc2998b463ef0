/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* OpenSSL failures reported as kiln errors: signing, verifying and hashing use it. */

#include <kiln/kiln.h>

#include "macro.h"

/*
 * Record an error as kiln_error() does, with OpenSSL's reason for the
 * latest failure appended (": <reason>"), and clear OpenSSL's error queue.
 */
int kiln_ssl_error(struct kiln_ctx *ctx, int err, const char *fmt, ...) _printf_(3, 4);
