/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The template engine's lexer: the tokens of an action as Go's text/template
 * cuts them, the values of its string and number literals (Go's escapes,
 * strconv.ParseInt), and the "file:line:col:" of every error. The parser
 * that reads the tokens is in template.c.
 */
#include <string.h>

#include "log.h"
#include "template-lex.h"

/* Lines are counted only on error: the common path never pays for them. */
void tpl_line_col(const struct tpl *t, size_t pos, unsigned *ret_line, unsigned *ret_col)
{
	unsigned line = 1;
	size_t bol = 0;

	for (const char *p = t->text, *end = t->text + pos;
	     (p = memchr(p, '\n', (size_t)(end - p))); p++) {
		line++;
		bol = (size_t)(p - t->text) + 1;
	}
	*ret_line = line;
	/* columns count bytes from 1, as Go's do */
	*ret_col = (unsigned)(pos - bol + 1);
}

int tpl_error(struct tpl *t, int err, size_t pos, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf msg = STRBUF_INIT;
	unsigned line, col;
	va_list ap;

	tpl_line_col(t, pos, &line, &col);
	va_start(ap, fmt);
	strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	return kiln_error_at(t->ctx, err ? err : -EINVAL, t->file, line, col, "%s",
			     msg.buf ? msg.buf : "out of memory");
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Go accepts Unicode letters in identifiers; any non-ASCII byte stands in for them. */
static bool is_alnum(char c)
{
	unsigned char u = (unsigned char)c;

	return u == '_' || u >= 0x80 || is_digit(c) || ((u | 0x20) >= 'a' && (u | 0x20) <= 'z');
}

/* strchr() that does not find the terminating NUL: the input may contain NULs. */
static bool in_set(char c, const char *set)
{
	return c && strchr(set, c);
}

/* What may follow a field or identifier without a space (Go's atTerminator). */
static bool at_terminator(const struct tpl *t, size_t p)
{
	return p >= t->len || tpl_is_space(t->text[p]) || in_set(t->text[p], ".,|:()") ||
	       tpl_at_right_delim(t, p);
}

/* Scan a number as Go's lexer does; its value is checked by tpl_parse_int(). */
static int lex_number(struct tpl *t, size_t p, struct tpl_tok *tk)
{
	const char *s = t->text, *digits = "0123456789_", *exponent = "eE";

	if (p < t->len && in_set(s[p], "+-"))
		p++;
	if (p + 1 < t->len && s[p] == '0' && in_set(s[p + 1], "xXoObB")) {
		char b = (char)(s[p + 1] | 0x20);

		digits = b == 'x' ? "0123456789abcdefABCDEF_" : b == 'o' ? "01234567_" : "01_";
		exponent = b == 'x' ? "pP" : "";
		p += 2;
	}
	while (p < t->len && in_set(s[p], digits))
		p++;
	if (p < t->len && s[p] == '.')
		for (p++; p < t->len && in_set(s[p], digits);)
			p++;
	if (p < t->len && in_set(s[p], exponent)) {
		p++;
		if (p < t->len && in_set(s[p], "+-"))
			p++;
		while (p < t->len && in_set(s[p], "0123456789_"))
			p++;
	}
	if (p < t->len && s[p] == 'i')
		p++;
	if (p < t->len && is_alnum(s[p]))
		return tpl_error(t, 0, tk->pos, "bad number syntax: \"%.*s\"",
				 tpl_quote_len(p + 1 - tk->pos), s + tk->pos);
	tk->type = TOK_NUMBER;
	tk->len = p - tk->pos;
	return 0;
}

static int lex_quoted(struct tpl *t, size_t p, struct tpl_tok *tk)
{
	const char *s = t->text;

	if (s[p] == '`') {
		const char *close = memchr(s + p + 1, '`', t->len - p - 1);

		if (!close)
			return tpl_error(t, 0, p, "unterminated raw quoted string");
		tk->type = TOK_RAW_STRING;
		tk->len = (size_t)(close - s) + 1 - p;
		return 0;
	}
	for (p++;; p++) {
		bool escaped = p < t->len && s[p] == '\\';

		p += escaped;
		if (p >= t->len || s[p] == '\n')
			return tpl_error(t, 0, tk->pos, "unterminated quoted string");
		if (s[p] == '"' && !escaped)
			break;
	}
	tk->type = TOK_STRING;
	tk->len = p + 1 - tk->pos;
	return 0;
}

/* The next token of the current action; an action must end before the input does. */
int tpl_lex_next(struct tpl *t, struct tpl_tok *ret)
{
	const char *s = t->text;
	struct tpl_tok tk = {};
	size_t p = t->pos;
	char c;
	int r = 0;

	if (t->has_peek) {
		t->has_peek = false;
		*ret = t->peek;
		return 0;
	}
	for (; p < t->len && tpl_is_space(s[p]); p++) {
		tk.space_before = true;
		if (p + 3 < t->len && s[p + 1] == '-' && tpl_at_right_delim(t, p + 2)) {
			tk.trim = true;
			break;
		}
	}
	if (p >= t->len)
		return tpl_error(t, 0, t->action_pos, "unclosed action");
	tk.pos = p;
	c = s[p];
	if (tk.trim || tpl_at_right_delim(t, p)) {
		tk.type = TOK_RIGHT;
		tk.len = tk.trim ? 4 : 2;
	} else if (c == '|') {
		tk.type = TOK_PIPE;
		tk.len = 1;
	} else if (c == '"' || c == '`') {
		r = lex_quoted(t, p, &tk);
	} else if (c == '.' && !(p + 1 < t->len && is_digit(s[p + 1]))) {
		for (p++; p < t->len && is_alnum(s[p]);)
			p++;
		tk.type = p == tk.pos + 1 ? TOK_DOT : TOK_FIELD;
		tk.len = p - tk.pos;
	} else if (c == '.' || c == '+' || c == '-' || is_digit(c)) {
		r = lex_number(t, p, &tk);
	} else if (is_alnum(c)) {
		while (p < t->len && is_alnum(s[p]))
			p++;
		tk.type = TOK_IDENT;
		tk.len = p - tk.pos;
	} else if (c == '$') {
		r = tpl_error(t, 0, p, "variables ($x) are not supported by kiln");
	} else if (c == '(' || c == ')') {
		r = tpl_error(t, 0, p, "parenthesized pipelines are not supported by kiln");
	} else if (c == '\'') {
		r = tpl_error(t, 0, p, "character constants are not supported by kiln");
	} else if (c == '=' || (c == ':' && p + 1 < t->len && s[p + 1] == '=')) {
		r = tpl_error(t, 0, p, "variable assignments are not supported by kiln");
	} else if (c >= 0x20 && c < 0x7f) {
		r = tpl_error(t, 0, p, "unrecognized character in action: U+%04X '%c'", c, c);
	} else {
		r = tpl_error(t, 0, p, "unrecognized character in action: U+%04X", (unsigned char)c);
	}
	if (r < 0)
		return r;

	p = tk.pos + tk.len;
	if (tk.type == TOK_FIELD || tk.type == TOK_DOT || tk.type == TOK_IDENT) {
		if (p < t->len && s[p] == '.')
			return tpl_error(t, 0, tk.pos,
					 "nested fields and field chains (.X.Y) are not supported by kiln");
		if (!at_terminator(t, p)) {
			c = s[p];
			if (c >= 0x20 && c < 0x7f)
				return tpl_error(t, 0, p, "bad character U+%04X '%c'", c, c);
			return tpl_error(t, 0, p, "bad character U+%04X", (unsigned char)c);
		}
	}
	t->pos = p;
	*ret = tk;
	return 0;
}

void tpl_lex_unread(struct tpl *t, const struct tpl_tok *tk)
{
	t->peek = *tk;
	t->has_peek = true;
}

bool tpl_tok_is(const struct tpl *t, const struct tpl_tok *tk, const char *word)
{
	size_t n = strlen(word);

	return tk->len == n && memcmp(t->text + tk->pos, word, n) == 0;
}

enum keyword tpl_tok_keyword(const struct tpl *t, const struct tpl_tok *tk)
{
	static const char *const unsupported[] = {
		"range", "with", "define", "template", "block", "break", "continue", "nil",
	};

	if (tk->type != TOK_IDENT)
		return KW_NONE;
	if (tpl_tok_is(t, tk, "true"))
		return KW_TRUE;
	if (tpl_tok_is(t, tk, "false"))
		return KW_FALSE;
	if (tpl_tok_is(t, tk, "if"))
		return KW_IF;
	if (tpl_tok_is(t, tk, "else"))
		return KW_ELSE;
	if (tpl_tok_is(t, tk, "end"))
		return KW_END;
	for (size_t i = 0; i < ELEMENTSOF(unsupported); i++)
		if (tpl_tok_is(t, tk, unsupported[i]))
			return KW_UNSUPPORTED;
	return KW_NONE;
}

int tpl_unexpected(struct tpl *t, const struct tpl_tok *tk, const char *context)
{
	if (tpl_tok_keyword(t, tk) >= KW_IF)
		return tpl_error(t, 0, tk->pos, "unexpected <%.*s> in %s", TOK_QUOTE(t, tk), context);
	return tpl_error(t, 0, tk->pos, "unexpected \"%.*s\" in %s", TOK_QUOTE(t, tk), context);
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Decode the escapes of a "string" (Go's strconv.Unquote) from @p to @end
 * into @sb. A string without escapes never gets here: it is used in place.
 */
static int unescape(struct tpl *t, size_t p, size_t end, struct strbuf *sb)
{
	static const char simple_from[] = "abfnrtv\\\"", simple_to[] = "\a\b\f\n\r\t\v\\\"";
	const char *s = t->text;
	int r = 0;

	while (p < end && r >= 0) {
		const char *bs = memchr(s + p, '\\', end - p);
		size_t lit = bs ? (size_t)(bs - s) - p : end - p, esc = p + lit, ndig = 0;
		uint32_t v = 0;
		char c;

		r = strbuf_add(sb, s + p, lit);
		if (!bs || r < 0)
			break;
		/* the lexer guarantees a character after every backslash */
		c = s[esc + 1];
		p = esc + 2;
		if (in_set(c, simple_from)) {
			r = strbuf_addch(sb, simple_to[strchr(simple_from, c) - simple_from]);
			continue;
		}
		if (c >= '0' && c <= '7') {
			p = esc + 1;
			ndig = 3;
		} else {
			ndig = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
		}
		if (!ndig || p + ndig > end)
			return tpl_error(t, 0, esc, "invalid escape sequence in string literal");
		for (size_t i = 0; i < ndig; i++) {
			int d = hex_value(s[p + i]);

			if (d < 0 || (c <= '7' && d > 7))
				return tpl_error(t, 0, esc, "invalid escape sequence in string literal");
			v = v * (c <= '7' ? 8 : 16) + (uint32_t)d;
		}
		p += ndig;
		if (c == 'u' || c == 'U') {
			if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
				return tpl_error(t, 0, esc, "invalid escape sequence in string literal");
			r = strbuf_add_utf8(sb, v);
		} else {
			if (v > 0xff)
				return tpl_error(t, 0, esc, "invalid escape sequence in string literal");
			r = strbuf_addch(sb, (char)v);
		}
	}
	return r < 0 ? tpl_error(t, r, p, "out of memory") : 0;
}

/* The value of a string literal; a string needing no decoding points into the template. */
int tpl_unquote(struct tpl *t, const struct tpl_tok *tk, struct tpl_value *ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *s = t->text + tk->pos + 1;
	size_t n = tk->len - 2, len;
	char *buf;
	int r;

	if (tk->type == TOK_RAW_STRING) {
		/* Go drops carriage returns from raw strings */
		if (!memchr(s, '\r', n))
			goto in_place;
		for (size_t i = 0; i < n; i++)
			if (s[i] != '\r' && (r = strbuf_addch(&sb, s[i])) < 0)
				return tpl_error(t, r, tk->pos, "out of memory");
	} else {
		if (!memchr(s, '\\', n))
			goto in_place;
		r = unescape(t, tk->pos + 1, tk->pos + 1 + n, &sb);
		if (r < 0)
			return r;
	}
	buf = strbuf_detach(&sb, &len);
	if (!buf)
		return tpl_error(t, -ENOMEM, tk->pos, "out of memory");
	ret->type = TPL_STRING;
	ret->buf = buf;
	ret->s = buf;
	ret->len = len;
	return 0;
in_place:
	ret->type = TPL_STRING;
	ret->s = s;
	ret->len = n;
	return 0;
}

/* An integer literal as Go's strconv.ParseInt(s, 0, 64) reads it. */
int tpl_parse_int(struct tpl *t, const struct tpl_tok *tk, int64_t *ret)
{
	const char *s = t->text + tk->pos, *end = s + tk->len;
	unsigned base = 10, ndigits = 0;
	uint64_t v = 0, limit;
	bool neg = false;
	char saw = '^'; /* Go's underscoreOK(): '_' only between digits */

	if (in_set(*s, "+-"))
		neg = *s++ == '-';
	if (end - s >= 2 && s[0] == '0' && in_set((char)(s[1] | 0x20), "xob")) {
		base = (s[1] | 0x20) == 'x' ? 16 : (s[1] | 0x20) == 'o' ? 8 : 2;
		s += 2;
		saw = '0';
	} else if (end - s >= 2 && s[0] == '0') {
		base = 8;
	}
	if (memchr(s, '.', (size_t)(end - s)) || end[-1] == 'i' ||
	    memchr(s, base == 16 ? 'p' : 'e', (size_t)(end - s)) ||
	    memchr(s, base == 16 ? 'P' : 'E', (size_t)(end - s)))
		return tpl_error(t, 0, tk->pos,
				 "floating-point and complex constants are not supported by kiln");
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; s < end; s++) {
		int d = *s == '_' ? -1 : hex_value(*s);

		if (*s == '_') {
			if (saw != '0')
				break;
			saw = '_';
			continue;
		}
		if (d < 0 || (unsigned)d >= base)
			break;
		saw = '0';
		ndigits++;
		if (v > (limit - (unsigned)d) / base)
			return tpl_error(t, 0, tk->pos, "integer overflow: \"%.*s\"", TOK_QUOTE(t, tk));
		v = v * base + (unsigned)d;
	}
	if (s < end || saw == '_' || !ndigits)
		return tpl_error(t, 0, tk->pos, "illegal number syntax: \"%.*s\"", TOK_QUOTE(t, tk));
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}
