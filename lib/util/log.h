/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Error and warning reporting inside libkiln. An error is recorded on the
 * context once, at the place that knows what went wrong, and the negative
 * errno is passed up unchanged; callers above add nothing unless they add
 * context with kiln_error_prefix().
 */

#include <kiln/kiln.h>

#include "macro.h"

/*
 * Record an error and return -@err (@err may be given as positive or
 * negative errno). The message says what failed and why, lowercase.
 */
int kiln_error(struct kiln_ctx *ctx, int err, const char *fmt, ...) _printf_(3, 4);

/* As kiln_error(), prefixed by "@file:@line:@col: " (@col 0 leaves it out). */
int kiln_error_at(struct kiln_ctx *ctx, int err, const char *file, unsigned line, unsigned col,
		  const char *fmt, ...) _printf_(6, 7);

/*
 * As kiln_error(), with @hint (see enum kiln_hint): what the caller could
 * change to get past it. @subject (may be NULL) is what the hint is about.
 */
int kiln_error_hint(struct kiln_ctx *ctx, enum kiln_hint hint, const char *subject, int err,
		    const char *fmt, ...) _printf_(5, 6);

/*
 * Give the recorded error @hint (and @subject) unless it has one already:
 * the advice of the nearer cause is the better one.
 */
void kiln_error_add_hint(struct kiln_ctx *ctx, enum kiln_hint hint, const char *subject);

/* Put "@prefix: " in front of the recorded error (for context such as a file name). */
void kiln_error_prefix(struct kiln_ctx *ctx, const char *fmt, ...) _printf_(2, 3);

/* Report a warning, located as in kiln_error_at(); @file may be NULL. */
void kiln_warn_at(struct kiln_ctx *ctx, const char *file, unsigned line, unsigned col,
		  const char *fmt, ...) _printf_(5, 6);

/*
 * While set, every error and warning located in @file has its line and
 * column passed through @fn first: the YAML parser sees rendered text, the
 * user wrote the template. NULL @file clears it.
 */
typedef void (*kiln_locate_fn)(void *userdata, unsigned *line, unsigned *col);
void kiln_ctx_set_locator(struct kiln_ctx *ctx, const char *file, kiln_locate_fn fn,
			  void *userdata);

void kiln_log(struct kiln_ctx *ctx, enum kiln_log_level level, const char *fmt, ...)
	_printf_(3, 4);
