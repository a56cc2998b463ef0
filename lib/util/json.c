/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <string.h>

#include "json-parse.h"
#include "json.h"
#include "utf8.h"

void json_init(struct json_writer *w, struct strbuf *out)
{
	*w = (struct json_writer){ .out = out };
}

void json_init_compact(struct json_writer *w, struct strbuf *out)
{
	*w = (struct json_writer){ .out = out, .compact = true };
}

/* Every byte goes through these, so that one failed allocation marks the writer for good. */
static void put(struct json_writer *w, const void *data, size_t len)
{
	if (w->error < 0)
		return;
	if (strbuf_add(w->out, data, len) < 0)
		w->error = -ENOMEM;
}

static void puts_(struct json_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void putch(struct json_writer *w, char c)
{
	put(w, &c, 1);
}

static void indent(struct json_writer *w)
{
	if (w->compact)
		return;
	putch(w, '\n');
	for (unsigned i = 0; i < w->depth; i++)
		puts_(w, "  ");
}

/* Separate a new value from what came before it at this level. */
static void begin_value(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (w->depth > JSON_WRITER_MAX_DEPTH) {
		w->error = -E2BIG;
		return;
	}
	if (w->has_items[w->depth - 1])
		putch(w, ',');
	w->has_items[w->depth - 1] = true;
	indent(w);
}

static void open_container(struct json_writer *w, char c)
{
	begin_value(w);
	putch(w, c);
	if (w->depth < JSON_WRITER_MAX_DEPTH)
		w->has_items[w->depth] = false;
	w->depth++;
}

static void close_container(struct json_writer *w, char c)
{
	bool had = w->depth <= JSON_WRITER_MAX_DEPTH && w->has_items[w->depth - 1];

	w->depth--;
	if (had)
		indent(w);
	putch(w, c);
	if (w->depth == 0 && !w->compact)
		putch(w, '\n');
}

void json_begin_object(struct json_writer *w)
{
	open_container(w, '{');
}

void json_end_object(struct json_writer *w)
{
	close_container(w, '}');
}

void json_begin_array(struct json_writer *w)
{
	open_container(w, '[');
}

void json_end_array(struct json_writer *w)
{
	close_container(w, ']');
}

static void add_escaped(struct json_writer *w, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	putch(w, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		char u[8];
		size_t l;

		switch (c) {
		case '"':
			puts_(w, "\\\"");
			break;
		case '\\':
			puts_(w, "\\\\");
			break;
		case '\n':
			puts_(w, "\\n");
			break;
		case '\t':
			puts_(w, "\\t");
			break;
		case '\r':
			puts_(w, "\\r");
			break;
		default:
			if (c < 0x20) {
				snprintf(u, sizeof(u), "\\u%04x", c);
				puts_(w, u);
				break;
			}
			l = utf8_sequence_len(s + i, n - i);
			if (l == 0) {
				puts_(w, "\\ufffd");
				break;
			}
			put(w, s + i, l);
			i += l;
			continue;
		}
		i++;
	}
	putch(w, '"');
}

void json_key_len(struct json_writer *w, const char *key, size_t len)
{
	begin_value(w);
	add_escaped(w, key, len);
	puts_(w, w->compact ? ":" : ": ");
	w->after_key = true;
}

void json_key(struct json_writer *w, const char *key)
{
	json_key_len(w, key, strlen(key));
}

void json_string_len(struct json_writer *w, const char *s, size_t len)
{
	begin_value(w);
	add_escaped(w, s, len);
}

void json_string(struct json_writer *w, const char *s)
{
	json_string_len(w, s, strlen(s));
}

void json_int(struct json_writer *w, int64_t v)
{
	char b[24];

	begin_value(w);
	snprintf(b, sizeof(b), "%" PRId64, v);
	puts_(w, b);
}

void json_uint(struct json_writer *w, uint64_t v)
{
	char b[24];

	begin_value(w);
	snprintf(b, sizeof(b), "%" PRIu64, v);
	puts_(w, b);
}

void json_raw(struct json_writer *w, const char *json, size_t len)
{
	begin_value(w);
	put(w, json, len);
}

void json_bool(struct json_writer *w, bool v)
{
	begin_value(w);
	puts_(w, v ? "true" : "false");
}

void json_null(struct json_writer *w)
{
	begin_value(w);
	puts_(w, "null");
}

void json_kv_string(struct json_writer *w, const char *key, const char *value)
{
	json_key(w, key);
	if (value)
		json_string(w, value);
	else
		json_null(w);
}

void json_write_value(struct json_writer *w, const struct json_value *v)
{
	switch (v->type) {
	case JSON_NULL:
		json_null(w);
		break;
	case JSON_FALSE:
	case JSON_TRUE:
		json_bool(w, v->type == JSON_TRUE);
		break;
	case JSON_NUMBER:
		/* verbatim: a number's text is what a reader sees, and may not fit a double */
		json_raw(w, v->num.text, v->num.len);
		break;
	case JSON_STRING:
		json_string_len(w, v->str.s, v->str.len);
		break;
	case JSON_ARRAY:
		json_begin_array(w);
		for (size_t i = 0; i < v->arr.n; i++)
			json_write_value(w, v->arr.v[i]);
		json_end_array(w);
		break;
	case JSON_OBJECT:
		json_begin_object(w);
		for (size_t i = 0; i < v->obj.n; i++) {
			json_key_len(w, v->obj.m[i].key, v->obj.m[i].key_len);
			json_write_value(w, v->obj.m[i].value);
		}
		json_end_object(w);
		break;
	}
}
