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
#define kiln_ssl_error(ctx, err, ...) kiln_ssl_fail(ctx, err, false, __VA_ARGS__)

/*
 * For an OpenSSL call that cannot fail on what it was given (a key that
 * loaded, a structure that parsed), so that only memory is left to run
 * out: -ENOMEM, "<fmt>: out of memory", with OpenSSL's reason in
 * parentheses when it named another one. OpenSSL 3.0 does not always say
 * that an allocation failed ("cms datafinal error" for a digest context it
 * could not copy). The error queue is cleared.
 */
#define kiln_ssl_oom(ctx, ...) kiln_ssl_fail(ctx, ENOMEM, true, __VA_ARGS__)

/* Both of the above: @only_memory makes it kiln_ssl_oom(). */
int kiln_ssl_fail(struct kiln_ctx *ctx, int err, bool only_memory, const char *fmt, ...)
	_printf_(4, 5);

/*
 * Whether OpenSSL still holds every key manager and decoder its providers
 * offer: 0, or -ENOMEM recorded. OpenSSL 3.0 fills these tables on first
 * use, a provider's whole set at once, and an implementation it fails to
 * allocate then stays missing for the rest of the process without a word
 * on its error queue: a key it can read becomes one it "cannot decode".
 * Before blaming a key or certificate that failed to load, ask this.
 */
int kiln_ssl_check_algorithms(struct kiln_ctx *ctx);

/* Empty OpenSSL's error queue; true if an allocation failure was in it. */
bool kiln_ssl_clear_error(void);
