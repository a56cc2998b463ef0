/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Internals of the template engine shared by its files. Not installed.
 *
 *   template-lex.c     the lexer, literals, error positions (template-lex.h)
 *   template.c         the parser and evaluator
 *   template-funcs.c   the function table; eq, ne, replace, trimPrefix, substr
 *   template-regex.c   regexReplaceAll: RE2 patterns as PCRE2, the cache
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <kiln/kiln.h>

#include "srcmap.h"
#include "macro.h"
#include "strbuf.h"
#include "strmap.h"

/* Any string the engine builds (the output, a function result) stays below this. */
#define TPL_MAX_STRING ((size_t)256 << 20)

/* Token text quoted in error messages is cut here: identifiers can be megabytes long. */
#define TPL_MAX_QUOTE 64

/*
 * The dynamic types a value can have. TPL_MISSING is a key absent from the
 * variables: Go's invalid reflect.Value, which prints "<no value>" and is false.
 */
enum tpl_type {
	TPL_MISSING,
	TPL_STRING,
	TPL_INT,
	TPL_BOOL,
};

struct tpl_value {
	enum tpl_type type;
	/* Written as a literal in the template: Go words type errors on those differently. */
	bool literal;
	/* TPL_STRING: s/len, pointing into the template, a variable, or buf. */
	const char *s;
	size_t len;
	/* The storage this value owns (s points into it), or NULL. */
	char *buf;
	/* TPL_INT, and TPL_BOOL as 0 or 1. */
	int64_t i;
	/* The operand this value came from, for error positions and messages. */
	size_t pos;
	size_t tok_len;
};

struct tpl_regex_cache;

/* A token inside an action. */
struct tpl_tok {
	int type;          /* enum tok_type, in template-lex.h */
	bool space_before; /* whitespace separated it from what came before */
	bool trim;         /* a right delimiter written " -}}" */
	size_t pos, len;   /* its bytes in the template */
};

/* The state of one kiln_template_render() call. */
struct tpl {
	struct kiln_ctx *ctx;
	const char *file;
	const char *text;
	size_t len;
	const struct strmap *vars;

	/* false: the syntax-check pass (Go's parse); true: the evaluating pass. */
	bool exec;
	size_t pos;        /* lexer position in text */
	size_t action_pos; /* the "{{" of the action being lexed */
	bool trim_next;    /* the last action ended with " -}}" */
	bool has_peek;
	struct tpl_tok peek;

	/* Scratch space for one command: commands never nest (no parentheses). */
	struct tpl_tok *toks;
	size_t toks_alloc;
	struct tpl_value *args;
	size_t args_alloc;

	struct strbuf out;
	struct srcmap *map; /* NULL unless the caller asked where output came from */
	struct tpl_regex_cache *regexes;
};

/*
 * Record "file:line:col: message" on the context for the byte at @pos of the
 * template and return -@err (or -EINVAL when @err is 0).
 */
int tpl_error(struct tpl *t, int err, size_t pos, const char *fmt, ...) _printf_(4, 5);

static inline void tpl_value_release(struct tpl_value *v)
{
	free(v->buf);
	v->buf = NULL;
}

/* Move @src into @dst, leaving @src owning nothing. */
static inline void tpl_value_move(struct tpl_value *dst, struct tpl_value *src)
{
	*dst = *src;
	src->buf = NULL;
}

/* The Go name of a type, for error messages. */
const char *tpl_type_name(enum tpl_type type);

/* The width of the UTF-8 sequence at @s, decoded as Go does: invalid bytes count as one. */
size_t tpl_utf8_width(const unsigned char *s, size_t n);

/*
 * memmem() for a two-byte needle, linear like it. Unlike memmem(), whose
 * sanitizer interceptor checks the whole haystack on every call (quadratic
 * over a long template), memchr() is checked only up to what it found.
 */
static inline const char *tpl_find2(const char *s, size_t n, char a, char b)
{
	const char *end = s + n;

	for (const char *p = s; p < end && (p = memchr(p, a, (size_t)(end - p))); p++)
		if (p + 1 < end && p[1] == b)
			return p;
	return NULL;
}

struct tpl_func;

/* The function called @name, or NULL. */
const struct tpl_func *tpl_func_lookup(const char *name, size_t len);

/* Whether @name is a text/template or sprig function that kiln deliberately leaves out. */
bool tpl_func_is_unsupported(const char *name, size_t len);

const char *tpl_func_name(const struct tpl_func *f);

/* Go checks the argument count before it evaluates any argument; so do we. */
int tpl_func_check_args(struct tpl *t, const struct tpl_func *f, size_t pos, size_t n_args);

/*
 * Call @f (named at @pos) with @args. The result may take over the storage of
 * an argument; the caller releases @args afterwards either way.
 */
int tpl_func_call(struct tpl *t, const struct tpl_func *f, size_t pos, struct tpl_value *args,
		  size_t n_args, struct tpl_value *ret);

void tpl_regex_cache_free(struct tpl_regex_cache *c);

/* ---- between the functions' files: template-funcs.c and template-regex.c ---- */

/* 0 if @v is of @type, else Go's error for it, in words that depend on where @v came from. */
int tpl_want(struct tpl *t, const struct tpl_value *v, enum tpl_type type);

/* *@ret is the @len bytes at @s, which lie inside @from, and takes over what @from owns. */
void tpl_take_substring(struct tpl_value *ret, struct tpl_value *from, const char *s, size_t len);

/* *@ret takes the string built in @sb. */
int tpl_take_strbuf(struct tpl *t, size_t pos, struct strbuf *sb, struct tpl_value *ret);

/* strbuf_add() for the result of function @name, which must stay below TPL_MAX_STRING. */
int tpl_add_capped(struct tpl *t, const char *name, size_t pos, struct strbuf *sb, const char *s,
		   size_t n);

/* regexReplaceAll, as an entry of the function table. */
int tpl_fn_regex_replace_all(struct tpl *t, const char *name, size_t pos, struct tpl_value *a,
			     size_t n, struct tpl_value *ret);
