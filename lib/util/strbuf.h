/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A growable byte string. Invariant: once anything has been added, buf is
 * NUL-terminated at len; a zero-initialized strbuf (STRBUF_INIT) is empty and
 * owns nothing. Every add returns 0 or -ENOMEM. A failed add leaves the
 * buffer as it was and marks it: every later add fails too, and
 * strbuf_detach() returns NULL, so a writer that adds many pieces may check
 * strbuf_error() once at the end and never hand on text with a hole in it.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
	int error; /* 0, or -ENOMEM once an add failed */
};

#define STRBUF_INIT { NULL, 0, 0, 0 }

/* 0, or the error of the first add that failed since the buffer was made or reset. */
static inline int strbuf_error(const struct strbuf *sb)
{
	return sb->error;
}

int strbuf_reserve(struct strbuf *sb, size_t extra);
int strbuf_add(struct strbuf *sb, const void *data, size_t len);
int strbuf_adds(struct strbuf *sb, const char *s);
int strbuf_addch(struct strbuf *sb, char c);
int strbuf_addf(struct strbuf *sb, const char *fmt, ...) _printf_(2, 3);
int strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) _printf_(2, 0);
/* Code point @cp (at most U+10FFFF; the caller checks) encoded as UTF-8. */
int strbuf_add_utf8(struct strbuf *sb, uint32_t cp);

/*
 * Quote hostile text for an error message: @s (@len bytes, may hold NULs)
 * with quotes, backslashes and control characters escaped, cut after @max
 * bytes (between UTF-8 characters) with "..." appended. The caller adds the
 * surrounding double quotes. Returns NULL only on -ENOMEM.
 */
char *quote_for_message(const char *s, size_t len, size_t max);

/* Empty the buffer (and forget a failed add) but keep its memory. */
void strbuf_reset(struct strbuf *sb);

/* Free the memory and return to the STRBUF_INIT state. */
void strbuf_release(struct strbuf *sb);

/*
 * Hand the string over to the caller (never NULL: an empty buffer gives an
 * allocated ""), and return to STRBUF_INIT. Returns NULL on -ENOMEM, now or
 * in an earlier add (the buffer is then released).
 */
char *strbuf_detach(struct strbuf *sb, size_t *ret_len);

/* The contents as a C string; "" for a buffer that never grew. */
static inline const char *strbuf_str(const struct strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

#define _cleanup_strbuf_ _cleanup_(strbuf_release)
