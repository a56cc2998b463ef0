/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The template engine: lexer, parser and evaluator for the subset of Go's
 * text/template that bldr trees use. The functions live in template-funcs.c.
 *
 * There is no syntax tree. The template is read twice by the same recursive
 * descent parser: the first pass only checks syntax and function names (what
 * Go's parser rejects, Go rejects even in branches that are never taken), the
 * second evaluates the branches that are taken and skips the others. Memory
 * use is the output plus one command's operands, whatever the input size.
 */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "template-funcs.h"
#include "template.h"

/* Go has no limit; the recursion here needs one. */
#define TPL_MAX_DEPTH 100u

/* More operands than this in one command is an attack, not a template. */
#define TPL_MAX_OPERANDS 1000u

enum tok_type {
	TOK_RIGHT, /* }} or " -}}" */
	TOK_PIPE,
	TOK_FIELD, /* .Name */
	TOK_DOT,   /* . alone */
	TOK_IDENT, /* a function, keyword, true or false */
	TOK_STRING,
	TOK_RAW_STRING,
	TOK_NUMBER,
};

enum keyword {
	KW_NONE, /* a function name */
	KW_TRUE,
	KW_FALSE,
	KW_IF,
	KW_ELSE,
	KW_END,
	KW_UNSUPPORTED, /* range, with, define, ...: keywords kiln does not implement */
};

/* Why parse_list() stopped. */
enum stop {
	STOP_EOF,
	STOP_END,
	STOP_ELSE,
	STOP_ELSE_IF, /* the lexer is left just after the "if" */
};

/* Lines are counted only on error: the common path never pays for them. */
static void line_col(const struct tpl *t, size_t pos, unsigned *ret_line, unsigned *ret_col)
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

	line_col(t, pos, &line, &col);
	va_start(ap, fmt);
	strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	return kiln_error_at(t->ctx, err ? err : -EINVAL, t->file, line, col, "%s",
			     msg.buf ? msg.buf : "out of memory");
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
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

static int quote_len(size_t len)
{
	return (int)(len < TPL_MAX_QUOTE ? len : TPL_MAX_QUOTE);
}

#define TOK_QUOTE(t, tk) quote_len((tk)->len), (t)->text + (tk)->pos

static bool at_right_delim(const struct tpl *t, size_t p)
{
	return p + 1 < t->len && t->text[p] == '}' && t->text[p + 1] == '}';
}

/* What may follow a field or identifier without a space (Go's atTerminator). */
static bool at_terminator(const struct tpl *t, size_t p)
{
	return p >= t->len || is_space(t->text[p]) || in_set(t->text[p], ".,|:()") ||
	       at_right_delim(t, p);
}

/* Scan a number as Go's lexer does; its value is checked by parse_int(). */
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
				 quote_len(p + 1 - tk->pos), s + tk->pos);
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
static int lex_next(struct tpl *t, struct tpl_tok *ret)
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
	for (; p < t->len && is_space(s[p]); p++) {
		tk.space_before = true;
		if (p + 3 < t->len && s[p + 1] == '-' && at_right_delim(t, p + 2)) {
			tk.trim = true;
			break;
		}
	}
	if (p >= t->len)
		return tpl_error(t, 0, t->action_pos, "unclosed action");
	tk.pos = p;
	c = s[p];
	if (tk.trim || at_right_delim(t, p)) {
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

static void lex_unread(struct tpl *t, const struct tpl_tok *tk)
{
	t->peek = *tk;
	t->has_peek = true;
}

static bool tok_is(const struct tpl *t, const struct tpl_tok *tk, const char *word)
{
	size_t n = strlen(word);

	return tk->len == n && memcmp(t->text + tk->pos, word, n) == 0;
}

static enum keyword tok_keyword(const struct tpl *t, const struct tpl_tok *tk)
{
	static const char *const unsupported[] = {
		"range", "with", "define", "template", "block", "break", "continue", "nil",
	};

	if (tk->type != TOK_IDENT)
		return KW_NONE;
	if (tok_is(t, tk, "true"))
		return KW_TRUE;
	if (tok_is(t, tk, "false"))
		return KW_FALSE;
	if (tok_is(t, tk, "if"))
		return KW_IF;
	if (tok_is(t, tk, "else"))
		return KW_ELSE;
	if (tok_is(t, tk, "end"))
		return KW_END;
	for (size_t i = 0; i < ELEMENTSOF(unsupported); i++)
		if (tok_is(t, tk, unsupported[i]))
			return KW_UNSUPPORTED;
	return KW_NONE;
}

static int unexpected(struct tpl *t, const struct tpl_tok *tk, const char *context)
{
	if (tok_keyword(t, tk) >= KW_IF)
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

static int utf8_add(struct strbuf *sb, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return strbuf_add(sb, b, n);
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
			r = utf8_add(sb, v);
		} else {
			if (v > 0xff)
				return tpl_error(t, 0, esc, "invalid escape sequence in string literal");
			r = strbuf_addch(sb, (char)v);
		}
	}
	return r < 0 ? tpl_error(t, r, p, "out of memory") : 0;
}

/* The value of a string literal; a string needing no decoding points into the template. */
static int unquote(struct tpl *t, const struct tpl_tok *tk, struct tpl_value *ret)
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
static int parse_int(struct tpl *t, const struct tpl_tok *tk, int64_t *ret)
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

/* The syntax-check pass: what Go's parser checks of an operand. */
static int check_operand(struct tpl *t, const struct tpl_tok *tk)
{
	_cleanup_(tpl_value_release) struct tpl_value v = {};
	int64_t i;

	switch (tk->type) {
	case TOK_DOT:
		return tpl_error(t, 0, tk->pos,
				 "{{.}} (the whole variable map) is not supported by kiln");
	case TOK_STRING:
	case TOK_RAW_STRING:
		return unquote(t, tk, &v);
	case TOK_NUMBER:
		return parse_int(t, tk, &i);
	case TOK_IDENT:
		switch (tok_keyword(t, tk)) {
		case KW_TRUE:
		case KW_FALSE:
			return 0;
		case KW_NONE:
			break;
		default:
			if (tok_is(t, tk, "nil"))
				return tpl_error(t, 0, tk->pos, "nil is not supported by kiln");
			return unexpected(t, tk, "operand");
		}
		if (tpl_func_lookup(t->text + tk->pos, tk->len))
			return 0;
		if (tpl_func_is_unsupported(t->text + tk->pos, tk->len))
			return tpl_error(t, 0, tk->pos, "function \"%.*s\" is not supported by kiln",
					 TOK_QUOTE(t, tk));
		return tpl_error(t, 0, tk->pos, "function \"%.*s\" not defined", TOK_QUOTE(t, tk));
	default:
		return 0;
	}
}

static int eval_operand(struct tpl *t, const struct tpl_tok *tk, struct tpl_value *ret)
{
	_cleanup_(tpl_value_release) struct tpl_value v = {
		.type = TPL_MISSING,
		.pos = tk->pos,
		.tok_len = tk->len,
	};
	const struct strmap_entry *e;
	const struct tpl_func *f;
	int r;

	switch (tk->type) {
	case TOK_FIELD:
		e = t->vars ? strmap_find(t->vars, t->text + tk->pos + 1, tk->len - 1) : NULL;
		if (e) {
			v.type = TPL_STRING;
			v.s = e->value;
			v.len = e->value_len;
		}
		break;
	case TOK_STRING:
	case TOK_RAW_STRING:
		v.literal = true;
		r = unquote(t, tk, &v);
		if (r < 0)
			return r;
		break;
	case TOK_NUMBER:
		v.literal = true;
		v.type = TPL_INT;
		r = parse_int(t, tk, &v.i);
		if (r < 0)
			return r;
		break;
	case TOK_IDENT:
		if (tok_keyword(t, tk) == KW_TRUE || tok_keyword(t, tk) == KW_FALSE) {
			v.literal = true;
			v.type = TPL_BOOL;
			v.i = tok_keyword(t, tk) == KW_TRUE;
			break;
		}
		/* a function name as an operand is a call without arguments */
		f = tpl_func_lookup(t->text + tk->pos, tk->len);
		if (!f)
			return tpl_error(t, 0, tk->pos, "function \"%.*s\" not defined", TOK_QUOTE(t, tk));
		if (tpl_func_check_args(t, f, tk->pos, 0) < 0)
			return -EINVAL;
		r = tpl_func_call(t, f, tk->pos, NULL, 0, &v);
		if (r < 0)
			return r;
		break;
	default:
		return tpl_error(t, 0, tk->pos, "unexpected \"%.*s\" in operand", TOK_QUOTE(t, tk));
	}
	tpl_value_move(ret, &v);
	return 0;
}

static int eval_command(struct tpl *t, size_t n, struct tpl_value *final, struct tpl_value *ret)
{
	_cleanup_(tpl_value_release) struct tpl_value v = { .type = TPL_MISSING };
	const struct tpl_tok *toks = t->toks;
	const struct tpl_func *f = NULL;
	size_t n_args, i;
	int r = 0;

	if (toks[0].type == TOK_IDENT && tok_keyword(t, &toks[0]) == KW_NONE)
		f = tpl_func_lookup(t->text + toks[0].pos, toks[0].len);
	if (!f) {
		if (n > 1 || final)
			return tpl_error(t, 0, toks[0].pos, "can't give argument to non-function %.*s",
					 TOK_QUOTE(t, &toks[0]));
		return eval_operand(t, &toks[0], ret);
	}

	n_args = n - 1 + !!final;
	r = tpl_func_check_args(t, f, toks[0].pos, n_args);
	if (r < 0)
		return r;
	if (GROW(t->args, t->args_alloc, n_args) < 0)
		return tpl_error(t, -ENOMEM, toks[0].pos, "out of memory");
	/* i counts the arguments evaluated: a failed one leaves its slot unset */
	for (i = 0; i + 1 < n; i++) {
		r = eval_operand(t, &toks[i + 1], &t->args[i]);
		if (r < 0)
			break;
	}
	if (r >= 0) {
		if (final) {
			tpl_value_move(&t->args[i], final);
			/* a piped value is never "a literal" to Go, even if it was one */
			t->args[i++].literal = false;
		}
		r = tpl_func_call(t, f, toks[0].pos, t->args, n_args, &v);
	}
	while (i > 0)
		tpl_value_release(&t->args[--i]);
	if (r < 0)
		return r;
	v.pos = toks[0].pos;
	tpl_value_move(ret, &v);
	return 0;
}

/*
 * One command of a pipeline: its operands up to "|" or the end of the action.
 * @final is the value piped in from the previous command (NULL for the first).
 * Evaluated only if @live; *@ret_more says whether a "|" follows.
 */
static int parse_command(struct tpl *t, bool live, unsigned stage, struct tpl_value *final,
			 struct tpl_value *ret, bool *ret_more)
{
	struct tpl_tok tk;
	size_t n = 0;
	int r;

	for (;;) {
		r = lex_next(t, &tk);
		if (r < 0)
			return r;
		if (tk.type == TOK_RIGHT || tk.type == TOK_PIPE)
			break;
		if (n > 0 && !tk.space_before)
			return unexpected(t, &tk, "operand");
		if (!t->exec && (r = check_operand(t, &tk)) < 0)
			return r;
		if (n >= TPL_MAX_OPERANDS)
			return tpl_error(t, 0, tk.pos, "more than %u operands in one command",
					 TPL_MAX_OPERANDS);
		if (GROW(t->toks, t->toks_alloc, n + 1) < 0)
			return tpl_error(t, -ENOMEM, tk.pos, "out of memory");
		t->toks[n++] = tk;
	}
	if (tk.type == TOK_RIGHT)
		t->trim_next = tk.trim;

	if (n == 0) {
		/* Go accepts a trailing "|": the value goes through unchanged */
		if (final && tk.type == TOK_RIGHT) {
			tpl_value_move(ret, final);
			*ret_more = false;
			return 0;
		}
		if (!final)
			return unexpected(t, &tk, "command");
		return tpl_error(t, 0, tk.pos, "empty command");
	}
	/* Go's parser: only the first command may start with a literal */
	if (final && (t->toks[0].type != TOK_FIELD && (t->toks[0].type != TOK_IDENT ||
						       tok_keyword(t, &t->toks[0]) != KW_NONE)))
		return tpl_error(t, 0, t->toks[0].pos, "non executable command in pipeline stage %u",
				 stage);
	if (live) {
		r = eval_command(t, n, final, ret);
		if (r < 0)
			return r;
	}
	*ret_more = tk.type == TOK_PIPE;
	return 0;
}

/* A pipeline up to and including the "}}"; *@ret is its value if @live, else missing. */
static int parse_pipeline(struct tpl *t, bool live, const char *context, struct tpl_value *ret)
{
	_cleanup_(tpl_value_release) struct tpl_value v = { .type = TPL_MISSING };
	struct tpl_tok tk;
	unsigned stage = 1;
	bool more = true;
	int r;

	r = lex_next(t, &tk);
	if (r < 0)
		return r;
	if (tk.type == TOK_RIGHT)
		return tpl_error(t, 0, tk.pos, "missing value for %s", context);
	lex_unread(t, &tk);

	for (; more; stage++) {
		struct tpl_value next = { .type = TPL_MISSING };

		r = parse_command(t, live, stage, stage > 1 ? &v : NULL, &next, &more);
		tpl_value_release(&v);
		if (r < 0) {
			tpl_value_release(&next);
			return r;
		}
		v = next;
	}
	tpl_value_move(ret, &v);
	return 0;
}

static bool is_true(const struct tpl_value *v)
{
	switch (v->type) {
	case TPL_STRING:
		return v->len > 0;
	case TPL_INT:
	case TPL_BOOL:
		return v->i != 0;
	default:
		return false;
	}
}

static int out_add(struct tpl *t, size_t pos, const char *s, size_t n)
{
	int r;

	if (n > TPL_MAX_STRING - t->out.len)
		return tpl_error(t, -EFBIG, pos, "rendered output exceeds %zu MiB",
				 TPL_MAX_STRING >> 20);
	/* text copied from the template is the only output that points into it at @pos */
	if (t->map && n > 0 && srcmap_add(t->map, t->out.len, pos, s == t->text + pos) < 0)
		return tpl_error(t, -ENOMEM, pos, "out of memory");
	r = strbuf_add(&t->out, s, n);
	return r < 0 ? tpl_error(t, r, pos, "out of memory") : 0;
}

static int print_value(struct tpl *t, size_t pos, const struct tpl_value *v)
{
	char num[32];

	switch (v->type) {
	case TPL_STRING:
		return out_add(t, pos, v->s, v->len);
	case TPL_INT:
		snprintf(num, sizeof(num), "%" PRId64, v->i);
		return out_add(t, pos, num, strlen(num));
	case TPL_BOOL:
		return out_add(t, pos, v->i ? "true" : "false", v->i ? 4 : 5);
	default:
		return out_add(t, pos, "<no value>", 10);
	}
}

/*
 * Copy the text up to the next "{{" (applying trim markers on both sides) and
 * enter that action. Returns 1 inside an action, 0 at the end of the input.
 */
static int next_action(struct tpl *t, bool live)
{
	const char *s = t->text, *open = NULL;
	size_t start = t->pos, end, text_end;
	bool trim;
	int r;

	if (start < t->len)
		open = tpl_find2(s + start, t->len - start, '{', '{');
	end = open ? (size_t)(open - s) : t->len;
	trim = open && end + 3 < t->len && s[end + 2] == '-' && is_space(s[end + 3]);

	if (t->trim_next)
		while (start < end && is_space(s[start]))
			start++;
	t->trim_next = false;
	text_end = end;
	if (trim)
		while (text_end > start && is_space(s[text_end - 1]))
			text_end--;
	if (live && text_end > start && (r = out_add(t, start, s + start, text_end - start)) < 0)
		return r;
	if (!open) {
		t->pos = t->len;
		return 0;
	}
	t->action_pos = end;
	t->pos = end + (trim ? 4 : 2);
	return 1;
}

/* A comment action ("{{" slash-star ... star-slash "}}"): returns 1 if one was consumed. */
static int skip_comment(struct tpl *t)
{
	const char *s = t->text, *close;
	size_t p = t->pos;

	if (!(p + 1 < t->len && s[p] == '/' && s[p + 1] == '*'))
		return 0;
	close = tpl_find2(s + p + 2, t->len - p - 2, '*', '/');
	if (!close)
		return tpl_error(t, 0, t->action_pos, "unclosed comment");
	p = (size_t)(close - s) + 2;
	if (p + 3 < t->len && is_space(s[p]) && s[p + 1] == '-' && at_right_delim(t, p + 2)) {
		t->trim_next = true;
		t->pos = p + 4;
	} else if (at_right_delim(t, p)) {
		t->pos = p + 2;
	} else {
		return tpl_error(t, 0, p, "comment ends before closing delimiter");
	}
	return 1;
}

static int expect_right(struct tpl *t, const char *context)
{
	struct tpl_tok tk;
	int r = lex_next(t, &tk);

	if (r < 0)
		return r;
	if (tk.type != TOK_RIGHT)
		return unexpected(t, &tk, context);
	t->trim_next = tk.trim;
	return 0;
}

static int parse_list(struct tpl *t, bool live, unsigned depth, enum stop *ret_stop,
		      size_t *ret_pos);

/* {{ if P }} ... [{{ else if P }} ...]* [{{ else }} ...] {{ end }}; "if" is consumed. */
static int parse_if(struct tpl *t, bool live, unsigned depth, size_t if_pos)
{
	enum stop stop;
	bool taken = false;
	size_t pos;
	int r;

	if (depth >= TPL_MAX_DEPTH)
		return tpl_error(t, 0, if_pos, "{{if}} nested deeper than %u levels", TPL_MAX_DEPTH);
	do {
		_cleanup_(tpl_value_release) struct tpl_value v = { .type = TPL_MISSING };
		bool cond;

		/* an "else if" condition is evaluated only if no branch was taken yet */
		r = parse_pipeline(t, live && !taken, "if", &v);
		if (r < 0)
			return r;
		cond = live && !taken && is_true(&v);
		r = parse_list(t, cond, depth + 1, &stop, &pos);
		if (r < 0)
			return r;
		taken = taken || cond;
	} while (stop == STOP_ELSE_IF);

	if (stop == STOP_ELSE) {
		r = parse_list(t, live && !taken, depth + 1, &stop, &pos);
		if (r < 0)
			return r;
		if (stop == STOP_ELSE || stop == STOP_ELSE_IF)
			return tpl_error(t, 0, pos, "expected end; found {{else}}");
	}
	if (stop == STOP_EOF) {
		unsigned line, col;

		line_col(t, if_pos, &line, &col);
		return tpl_error(t, 0, pos, "unexpected EOF (the {{if}} at %u:%u has no {{end}})",
				 line, col);
	}
	return 0;
}

/*
 * Text and actions up to {{ end }}, {{ else }} or the end of the input; copies
 * text and prints values only if @live. *@ret_pos: where the stopper is.
 */
static int parse_list(struct tpl *t, bool live, unsigned depth, enum stop *ret_stop,
		      size_t *ret_pos)
{
	for (;;) {
		_cleanup_(tpl_value_release) struct tpl_value v = { .type = TPL_MISSING };
		struct tpl_tok tk;
		enum stop stop;
		size_t stop_pos;
		int r;

		r = next_action(t, live);
		if (r < 0)
			return r;
		if (r == 0) {
			*ret_stop = STOP_EOF;
			*ret_pos = t->len;
			return 0;
		}
		r = skip_comment(t);
		if (r != 0) {
			if (r < 0)
				return r;
			continue;
		}
		r = lex_next(t, &tk);
		if (r < 0)
			return r;
		switch (tok_keyword(t, &tk)) {
		case KW_IF:
			r = parse_if(t, live, depth, tk.pos);
			if (r < 0)
				return r;
			continue;
		case KW_ELSE:
			stop_pos = tk.pos;
			r = lex_next(t, &tk);
			if (r < 0)
				return r;
			if (tok_keyword(t, &tk) == KW_IF) {
				stop = STOP_ELSE_IF;
			} else {
				lex_unread(t, &tk);
				r = expect_right(t, "else");
				if (r < 0)
					return r;
				stop = STOP_ELSE;
			}
			*ret_stop = stop;
			*ret_pos = stop_pos;
			return 0;
		case KW_END:
			r = expect_right(t, "end");
			if (r < 0)
				return r;
			*ret_stop = STOP_END;
			*ret_pos = tk.pos;
			return 0;
		case KW_UNSUPPORTED:
			return tpl_error(t, 0, tk.pos, "{{%.*s}} is not supported by kiln",
					 TOK_QUOTE(t, &tk));
		default:
			break;
		}
		lex_unread(t, &tk);
		r = parse_pipeline(t, live, "command", &v);
		if (r < 0)
			return r;
		if (live && (r = print_value(t, tk.pos, &v)) < 0)
			return r;
	}
}

static int render_pass(struct tpl *t, bool exec)
{
	enum stop stop;
	size_t pos;
	int r;

	t->exec = exec;
	t->pos = 0;
	t->trim_next = false;
	t->has_peek = false;
	r = parse_list(t, exec, 0, &stop, &pos);
	if (r < 0)
		return r;
	if (stop == STOP_END)
		return tpl_error(t, 0, pos, "unexpected {{end}}");
	if (stop != STOP_EOF)
		return tpl_error(t, 0, pos, "unexpected {{else}}");
	return 0;
}

static void tpl_done(struct tpl *t)
{
	free(t->toks);
	free(t->args);
	strbuf_release(&t->out);
	tpl_regex_cache_free(t->regexes);
}

int kiln_template_render(struct kiln_ctx *ctx, const char *file, const char *text, size_t len,
			 const struct strmap *vars, char **ret_out, size_t *ret_len)
{
	return kiln_template_render_mapped(ctx, file, text, len, vars, ret_out, ret_len, NULL);
}

int kiln_template_render_mapped(struct kiln_ctx *ctx, const char *file, const char *text,
				size_t len, const struct strmap *vars, char **ret_out,
				size_t *ret_len, struct srcmap *map)
{
	_cleanup_(tpl_done) struct tpl t = {
		.ctx = ctx,
		.file = file ? file : "<template>",
		.text = text ? text : "",
		.len = text ? len : 0,
		.vars = vars,
	};
	size_t out_len;
	char *out;
	int r;

	r = render_pass(&t, false);
	if (r < 0)
		return r;
	/* the output is usually about as long as the template */
	if (strbuf_reserve(&t.out, t.len < TPL_MAX_STRING ? t.len : TPL_MAX_STRING) < 0)
		return kiln_error(ctx, -ENOMEM, "%s: out of memory", t.file);
	t.map = map;
	r = render_pass(&t, true);
	if (r < 0)
		return r;
	out = strbuf_detach(&t.out, &out_len);
	if (!out)
		return kiln_error(ctx, -ENOMEM, "%s: out of memory", t.file);
	if (map) {
		map->src = t.text;
		map->src_len = t.len;
		map->out = out;
		map->out_len = out_len;
	}
	*ret_out = out;
	if (ret_len)
		*ret_len = out_len;
	return 0;
}
