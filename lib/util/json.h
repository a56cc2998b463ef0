/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A streaming JSON writer into a strbuf, indented two spaces a level. The
 * writer places commas and newlines; callers only say what comes next.
 * Strings are escaped as RFC 8259 requires; bytes that are not valid UTF-8
 * are written as U+FFFD so the output always parses.
 */

#include <stdbool.h>
#include <stdint.h>

#include "strbuf.h"

#define JSON_WRITER_MAX_DEPTH 32

struct json_writer {
	struct strbuf *out;
	unsigned depth;
	bool after_key;
	bool has_items[JSON_WRITER_MAX_DEPTH];
};

void json_init(struct json_writer *w, struct strbuf *out);
void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *s);
void json_string_len(struct json_writer *w, const char *s, size_t len);
void json_int(struct json_writer *w, int64_t v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);

/* "key": "value", or "key": null for a NULL value. */
void json_kv_string(struct json_writer *w, const char *key, const char *value);
