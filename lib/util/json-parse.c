/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A recursive-descent JSON parser into an arena. Recursion is bounded by
 * JSON_MAX_DEPTH; strings are decoded (escapes, surrogate pairs) and checked
 * to be UTF-8, as RFC 8259 requires of interchanged JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "json-parse.h"
#include "log.h"
#include "strbuf.h"
#include "utf8.h"

/* Allocations are carved out of chunks that are freed together. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct json_doc {
	struct arena_chunk *chunks;
	struct json_value *root;
};

struct parser {
	struct kiln_ctx *ctx;
	const char *what;
	const char *s;
	size_t len, pos;
	struct json_doc *doc;
	struct strbuf scratch;
};

static void *arena_alloc(struct json_doc *doc, size_t size)
{
	struct arena_chunk *c = doc->chunks;
	size_t align = sizeof(max_align_t);

	size = (size + align - 1) / align * align;
	if (!c || c->size - c->used < size) {
		size_t n = size > 16384 ? size : 16384;

		c = malloc(sizeof(*c) + n);
		if (!c)
			return NULL;
		c->next = doc->chunks;
		c->used = 0;
		c->size = n;
		doc->chunks = c;
	}
	c->used += size;
	return (char *)c->data + c->used - size;
}

static int fail(struct parser *p, const char *why)
{
	unsigned line = 1, col = 1;

	for (size_t i = 0; i < p->pos && i < p->len; i++) {
		if (p->s[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	return kiln_error(p->ctx, EBADMSG, "%s is not valid JSON: line %u, column %u: %s", p->what,
			  line, col, why);
}

static void skip_space(struct parser *p)
{
	while (p->pos < p->len &&
	       (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
		p->s[p->pos] == '\r'))
		p->pos++;
}

static bool literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return false;
	p->pos += n;
	return true;
}

static int hex4(struct parser *p, uint32_t *ret)
{
	uint32_t v = 0;

	if (p->len - p->pos < 4)
		return fail(p, "truncated \\u escape");
	for (int i = 0; i < 4; i++) {
		char c = p->s[p->pos++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (uint32_t)((c | 0x20) - 'a' + 10);
		else
			return fail(p, "bad \\u escape");
	}
	*ret = v;
	return 0;
}

/* A string at p->pos (the opening quote), decoded into the arena. */
static int parse_string(struct parser *p, const char **ret, size_t *ret_len)
{
	struct strbuf *sb = &p->scratch;
	char *copy;

	strbuf_reset(sb);
	p->pos++;
	for (;;) {
		size_t start = p->pos, n;

		/* copy the plain run at once */
		while (p->pos < p->len && p->s[p->pos] != '"' && p->s[p->pos] != '\\' &&
		       (unsigned char)p->s[p->pos] >= 0x20 && (unsigned char)p->s[p->pos] < 0x80)
			p->pos++;
		if (strbuf_add(sb, p->s + start, p->pos - start) < 0)
			return -ENOMEM;
		if (p->pos >= p->len)
			return fail(p, "unterminated string");
		if (p->s[p->pos] == '"') {
			p->pos++;
			break;
		}
		if ((unsigned char)p->s[p->pos] < 0x20)
			return fail(p, "control character in string");
		if ((unsigned char)p->s[p->pos] >= 0x80) {
			n = utf8_sequence_len((const unsigned char *)p->s + p->pos, p->len - p->pos);
			if (!n)
				return fail(p, "string is not valid UTF-8");
			strbuf_add(sb, p->s + p->pos, n);
			p->pos += n;
			continue;
		}
		/* a backslash */
		if (++p->pos >= p->len)
			return fail(p, "unterminated string");
		switch (p->s[p->pos++]) {
		case '"':
			strbuf_addch(sb, '"');
			break;
		case '\\':
			strbuf_addch(sb, '\\');
			break;
		case '/':
			strbuf_addch(sb, '/');
			break;
		case 'b':
			strbuf_addch(sb, '\b');
			break;
		case 'f':
			strbuf_addch(sb, '\f');
			break;
		case 'n':
			strbuf_addch(sb, '\n');
			break;
		case 'r':
			strbuf_addch(sb, '\r');
			break;
		case 't':
			strbuf_addch(sb, '\t');
			break;
		case 'u': {
			uint32_t c, lo;
			int r = hex4(p, &c);

			if (r < 0)
				return r;
			if (c >= 0xdc00 && c <= 0xdfff)
				return fail(p, "lone low surrogate in \\u escape");
			if (c >= 0xd800 && c <= 0xdbff) {
				if (!literal(p, "\\u"))
					return fail(p, "high surrogate without its low half");
				r = hex4(p, &lo);
				if (r < 0)
					return r;
				if (lo < 0xdc00 || lo > 0xdfff)
					return fail(p, "high surrogate without its low half");
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
			}
			strbuf_add_utf8(sb, c);
			break;
		}
		default:
			return fail(p, "bad escape in string");
		}
	}
	/* an add that failed above (they stick): the string would have a hole */
	if (strbuf_error(sb) < 0)
		return -ENOMEM;
	copy = arena_alloc(p->doc, sb->len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, strbuf_str(sb), sb->len);
	copy[sb->len] = '\0';
	*ret = copy;
	*ret_len = sb->len;
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int parse_number(struct parser *p, struct json_value *v)
{
	size_t start = p->pos;

	if (p->pos < p->len && p->s[p->pos] == '-')
		p->pos++;
	if (p->pos >= p->len || !is_digit(p->s[p->pos]))
		return fail(p, "bad number");
	if (p->s[p->pos] == '0')
		p->pos++;
	else
		while (p->pos < p->len && is_digit(p->s[p->pos]))
			p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (p->pos >= p->len || !is_digit(p->s[p->pos]))
			return fail(p, "bad number");
		while (p->pos < p->len && is_digit(p->s[p->pos]))
			p->pos++;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (p->pos >= p->len || !is_digit(p->s[p->pos]))
			return fail(p, "bad number");
		while (p->pos < p->len && is_digit(p->s[p->pos]))
			p->pos++;
	}
	v->type = JSON_NUMBER;
	v->num.text = p->s + start;
	v->num.len = p->pos - start;
	return 0;
}

struct item_list {
	void *v;
	size_t n, alloc;
};

static int parse_value(struct parser *p, struct json_value **ret, unsigned depth);

/* Copy a list being built (in malloc'ed memory) into the arena. */
static void *to_arena(struct parser *p, const void *items, size_t n, size_t size)
{
	void *a;

	if (n == 0)
		return NULL;
	a = arena_alloc(p->doc, n * size);
	if (a)
		memcpy(a, items, n * size);
	return a;
}

static int parse_array(struct parser *p, struct json_value *v, unsigned depth)
{
	_cleanup_free_ struct json_value **items = NULL;
	size_t n = 0, alloc = 0;
	int r;

	p->pos++;
	skip_space(p);
	if (p->pos < p->len && p->s[p->pos] == ']') {
		p->pos++;
	} else {
		for (;;) {
			struct json_value *item;

			r = parse_value(p, &item, depth + 1);
			if (r < 0)
				return r;
			if (GROW(items, alloc, n + 1) < 0)
				return -ENOMEM;
			items[n++] = item;
			skip_space(p);
			if (p->pos < p->len && p->s[p->pos] == ',') {
				p->pos++;
				continue;
			}
			if (p->pos < p->len && p->s[p->pos] == ']') {
				p->pos++;
				break;
			}
			return fail(p, "expected ',' or ']' in array");
		}
	}
	v->type = JSON_ARRAY;
	v->arr.n = n;
	v->arr.v = to_arena(p, items, n, sizeof(*items));
	return n && !v->arr.v ? -ENOMEM : 0;
}

static int parse_object(struct parser *p, struct json_value *v, unsigned depth)
{
	_cleanup_free_ struct json_member *members = NULL;
	size_t n = 0, alloc = 0;
	int r;

	p->pos++;
	skip_space(p);
	if (p->pos < p->len && p->s[p->pos] == '}') {
		p->pos++;
	} else {
		for (;;) {
			struct json_member m;

			skip_space(p);
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return fail(p, "expected a string key in object");
			r = parse_string(p, &m.key, &m.key_len);
			if (r < 0)
				return r;
			/* objects in manifests and replies are small: a linear scan is enough */
			for (size_t i = 0; i < n; i++)
				if (members[i].key_len == m.key_len &&
				    memcmp(members[i].key, m.key, m.key_len) == 0)
					return fail(p, "duplicate key in object");
			skip_space(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return fail(p, "expected ':' after object key");
			p->pos++;
			r = parse_value(p, &m.value, depth + 1);
			if (r < 0)
				return r;
			if (GROW(members, alloc, n + 1) < 0)
				return -ENOMEM;
			members[n++] = m;
			skip_space(p);
			if (p->pos < p->len && p->s[p->pos] == ',') {
				p->pos++;
				continue;
			}
			if (p->pos < p->len && p->s[p->pos] == '}') {
				p->pos++;
				break;
			}
			return fail(p, "expected ',' or '}' in object");
		}
	}
	v->type = JSON_OBJECT;
	v->obj.n = n;
	v->obj.m = to_arena(p, members, n, sizeof(*members));
	return n && !v->obj.m ? -ENOMEM : 0;
}

static int parse_value(struct parser *p, struct json_value **ret, unsigned depth)
{
	struct json_value *v;
	int r;

	if (depth > JSON_MAX_DEPTH)
		return fail(p, "nested too deeply");
	v = arena_alloc(p->doc, sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v, 0, sizeof(*v));
	skip_space(p);
	if (p->pos >= p->len)
		return fail(p, "unexpected end of input");
	switch (p->s[p->pos]) {
	case '{':
		r = parse_object(p, v, depth);
		break;
	case '[':
		r = parse_array(p, v, depth);
		break;
	case '"':
		v->type = JSON_STRING;
		r = parse_string(p, &v->str.s, &v->str.len);
		break;
	case 't':
		v->type = JSON_TRUE;
		r = literal(p, "true") ? 0 : fail(p, "unexpected character");
		break;
	case 'f':
		v->type = JSON_FALSE;
		r = literal(p, "false") ? 0 : fail(p, "unexpected character");
		break;
	case 'n':
		v->type = JSON_NULL;
		r = literal(p, "null") ? 0 : fail(p, "unexpected character");
		break;
	default:
		r = parse_number(p, v);
		break;
	}
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

int json_parse(struct kiln_ctx *ctx, const char *what, const char *text, size_t len,
	       struct json_doc **ret)
{
	_cleanup_(json_doc_freep) struct json_doc *doc = calloc(1, sizeof(*doc));
	struct parser p = { .ctx = ctx, .what = what, .s = text, .len = len, .doc = doc };
	int r;

	if (!doc)
		return -ENOMEM;
	r = parse_value(&p, &doc->root, 0);
	if (r >= 0) {
		skip_space(&p);
		if (p.pos != p.len)
			r = fail(&p, "trailing characters after the value");
	}
	strbuf_release(&p.scratch);
	if (r == -ENOMEM)
		return kiln_error(ctx, ENOMEM, "%s: out of memory", what);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(doc);
	return 0;
}

const struct json_value *json_doc_root(const struct json_doc *doc)
{
	return doc->root;
}

void json_doc_free(struct json_doc *doc)
{
	if (!doc)
		return;
	while (doc->chunks) {
		struct arena_chunk *next = doc->chunks->next;

		free(doc->chunks);
		doc->chunks = next;
	}
	free(doc);
}

const struct json_value *json_get(const struct json_value *v, const char *key)
{
	size_t n = strlen(key);

	if (!v || v->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->obj.n; i++)
		if (v->obj.m[i].key_len == n && memcmp(v->obj.m[i].key, key, n) == 0)
			return v->obj.m[i].value;
	return NULL;
}

const char *json_get_string(const struct json_value *v, const char *key)
{
	const struct json_value *s = json_get(v, key);

	return s && s->type == JSON_STRING ? s->str.s : NULL;
}

int json_get_u64(const struct json_value *v, uint64_t *ret)
{
	uint64_t n = 0;

	if (!v || v->type != JSON_NUMBER)
		return -EINVAL;
	for (size_t i = 0; i < v->num.len; i++) {
		char c = v->num.text[i];

		if (!is_digit(c))
			return -ERANGE;
		if (n > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(c - '0');
	}
	*ret = n;
	return 0;
}
