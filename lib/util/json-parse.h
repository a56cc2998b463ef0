/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A JSON reader for hostile input (manifests, registry replies, auth files):
 * RFC 8259, UTF-8 checked, nesting and size bounded. The document is a tree
 * of values allocated in one arena and freed at once.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>

#include "macro.h"

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_value;

struct json_member {
	const char *key; /* NUL-terminated; may also hold NULs (key_len) */
	size_t key_len;
	struct json_value *value;
};

struct json_value {
	enum json_type type;
	union {
		struct {
			const char *s; /* NUL-terminated, decoded; may hold NULs */
			size_t len;
		} str;
		struct {
			const char *text; /* as written: "1e3", "-0", "18446744073709551616" */
			size_t len;
		} num;
		struct {
			struct json_value **v;
			size_t n;
		} arr;
		struct {
			struct json_member *m;
			size_t n;
		} obj;
	};
};

struct json_doc;

#define JSON_MAX_DEPTH 64

/*
 * Parse @len bytes of @text. Errors (with "line L, column C" and what was
 * wrong) are recorded on @ctx prefixed by @what ("manifest", "index.json"),
 * and -EBADMSG is returned. Duplicate object keys are an error: two readers
 * could otherwise see two different documents.
 */
int json_parse(struct kiln_ctx *ctx, const char *what, const char *text, size_t len,
	       struct json_doc **ret);

const struct json_value *json_doc_root(const struct json_doc *doc);
void json_doc_free(struct json_doc *doc);
DEFINE_FREEP(struct json_doc, json_doc_free)

/* The member @key of object @v, or NULL (also when @v is not an object). */
const struct json_value *json_get(const struct json_value *v, const char *key);

/* The string value of member @key, or NULL when absent or not a string. */
const char *json_get_string(const struct json_value *v, const char *key);

/*
 * A number as an unsigned 64-bit integer: 0, or -ERANGE for negative,
 * fractional, exponent or too-large numbers, -EINVAL for non-numbers.
 */
int json_get_u64(const struct json_value *v, uint64_t *ret);
