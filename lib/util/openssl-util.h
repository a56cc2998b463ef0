/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* OpenSSL failures reported as kiln errors: signing, verifying and hashing use it. */

#include <stdbool.h>

#include <kiln/kiln.h>

#include "macro.h"

/*
 * Record an error as kiln_error() does, with OpenSSL's reason for the
 * latest failure appended (": <reason>"), and clear OpenSSL's error queue.
 * When an allocation failed anywhere in the chain, the error is -ENOMEM
 * and says "out of memory" instead: the reason at the top of the chain
 * ("nested asn1 error") would blame the input.
 */
int kiln_ssl_error(struct kiln_ctx *ctx, int err, const char *fmt, ...) _printf_(3, 4);

/* Empty OpenSSL's error queue; true if an allocation failure was in it. */
bool kiln_ssl_clear_error(void);
