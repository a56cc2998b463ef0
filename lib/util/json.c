/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <string.h>

#include "json.h"

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
	if (w->depth < JSON_MAX_DEPTH)
		w->has_items[w->depth] = false;
	w->depth++;
}

static void close_container(struct json_writer *w, char c)
{
	bool had = w->depth <= JSON_MAX_DEPTH && w->has_items[w->depth - 1];

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

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, c = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, c = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return len;
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
			l = utf8_len(s + i, n - i);
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
