/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Go's "%q" of a string (strconv.Quote), for messages that must read as
 * Talos prints them. Internal to lib/ext.
 */

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/*
 * Append @s (@len bytes, may hold NULs and invalid UTF-8) to @sb as Go's %q
 * prints it: in double quotes, with ", \ and non-printable characters
 * escaped (\n, \x00, \u00a0, ...) and invalid bytes as \xNN. Printability
 * follows unicode.IsPrint except that unassigned code points pass as
 * printable. After @max bytes of @s the rest is left out and "..." follows
 * the closing quote. Returns 0 or -ENOMEM.
 */
int strbuf_add_go_quoted(struct strbuf *sb, const char *s, size_t len, size_t max);

/* Decode one UTF-8 character as Go does: an invalid byte is U+FFFD of width 1. */
size_t go_decode_rune(const char *s, size_t len, uint32_t *ret_rune);
