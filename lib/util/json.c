/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

void json_init(struct json_writer *w, struct strbuf *out)
{
	*w = (struct json_writer){ .out = out };
}

static void indent(struct json_writer *w)
{
	strbuf_addch(w->out, '\n');
	for (unsigned i = 0; i < w->depth; i++)
		strbuf_adds(w->out, "  ");
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
	if (w->has_items[w->depth - 1])
		strbuf_addch(w->out, ',');
	w->has_items[w->depth - 1] = true;
	indent(w);
}

static void open_container(struct json_writer *w, char c)
{
	begin_value(w);
	strbuf_addch(w->out, c);
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
	strbuf_addch(w->out, c);
	if (w->depth == 0)
		strbuf_addch(w->out, '\n');
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

static void add_escaped(struct strbuf *sb, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	strbuf_addch(sb, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t l;

		switch (c) {
		case '"':
			strbuf_adds(sb, "\\\"");
			break;
		case '\\':
			strbuf_adds(sb, "\\\\");
			break;
		case '\n':
			strbuf_adds(sb, "\\n");
			break;
		case '\t':
			strbuf_adds(sb, "\\t");
			break;
		case '\r':
			strbuf_adds(sb, "\\r");
			break;
		default:
			if (c < 0x20) {
				strbuf_addf(sb, "\\u%04x", c);
				break;
			}
			l = utf8_sequence_len(s + i, n - i);
			if (l == 0) {
				strbuf_adds(sb, "\\ufffd");
				break;
			}
			strbuf_add(sb, s + i, l);
			i += l;
			continue;
		}
		i++;
	}
	strbuf_addch(sb, '"');
}

void json_key(struct json_writer *w, const char *key)
{
	begin_value(w);
	add_escaped(w->out, key, strlen(key));
	strbuf_adds(w->out, ": ");
	w->after_key = true;
}

void json_string_len(struct json_writer *w, const char *s, size_t len)
{
	begin_value(w);
	add_escaped(w->out, s, len);
}

void json_string(struct json_writer *w, const char *s)
{
	json_string_len(w, s, strlen(s));
}

void json_int(struct json_writer *w, int64_t v)
{
	begin_value(w);
	strbuf_addf(w->out, "%" PRId64, v);
}

void json_bool(struct json_writer *w, bool v)
{
	begin_value(w);
	strbuf_adds(w->out, v ? "true" : "false");
}

void json_null(struct json_writer *w)
{
	begin_value(w);
	strbuf_adds(w->out, "null");
}

void json_kv_string(struct json_writer *w, const char *key, const char *value)
{
	json_key(w, key);
	if (value)
		json_string(w, value);
	else
		json_null(w);
}
