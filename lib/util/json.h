/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A streaming JSON writer into a strbuf, indented two spaces a level (or, in
 * compact mode, with no whitespace at all, for canonical manifests whose
 * bytes are hashed). The writer places commas and newlines; callers only say
 * what comes next. Strings are escaped as RFC 8259 requires; bytes that are
 * not valid UTF-8 are written as U+FFFD so the output always parses.
 */

#include <stdbool.h>
#include <stdint.h>

#include "strbuf.h"

/* as deep as json-parse.h reads, so that a parsed value can be written back */
#define JSON_WRITER_MAX_DEPTH 64

struct json_writer {
	struct strbuf *out;
	unsigned depth;
	bool after_key;
	bool has_items[JSON_WRITER_MAX_DEPTH];
	bool compact;
	/*
	 * -ENOMEM (or -E2BIG past JSON_WRITER_MAX_DEPTH) once any write
	 * failed; from then on nothing more is written, and the output is
	 * incomplete: check json_error() before using it.
	 */
	int error;
};

/* 0, or why the output is incomplete. */
static inline int json_error(const struct json_writer *w)
{
	return w->error;
}

void json_init(struct json_writer *w, struct strbuf *out);
/* No indentation, no space after ':', no final newline: the bytes hashed into a digest. */
void json_init_compact(struct json_writer *w, struct strbuf *out);
void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_key_len(struct json_writer *w, const char *key, size_t len);
void json_string(struct json_writer *w, const char *s);
void json_string_len(struct json_writer *w, const char *s, size_t len);
void json_int(struct json_writer *w, int64_t v);
void json_uint(struct json_writer *w, uint64_t v);
/* A value given as JSON text, copied verbatim; the caller vouches that it is valid JSON. */
void json_raw(struct json_writer *w, const char *json, size_t len);
void json_bool(struct json_writer *w, bool v);
/*
 * A parsed value written back as it was read: object keys in their order,
 * numbers verbatim (their text is what a reader saw, and may not fit a double).
 */
struct json_value;
void json_write_value(struct json_writer *w, const struct json_value *v);
void json_null(struct json_writer *w);

/* "key": "value", or "key": null for a NULL value. */
void json_kv_string(struct json_writer *w, const char *key, const char *value);
