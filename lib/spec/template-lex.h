/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The template engine's lexer (template-lex.c), as its parser (template.c)
 * sees it: the tokens of an action, the keywords among them, and the values
 * of literal ones. Not installed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "template-funcs.h"

/* The type of a struct tpl_tok. */
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

static inline bool tpl_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline int tpl_quote_len(size_t len)
{
	return (int)(len < TPL_MAX_QUOTE ? len : TPL_MAX_QUOTE);
}

/* The arguments of a "%.*s" that quotes token @tk, cut at TPL_MAX_QUOTE bytes. */
#define TOK_QUOTE(t, tk) tpl_quote_len((tk)->len), (t)->text + (tk)->pos

static inline bool tpl_at_right_delim(const struct tpl *t, size_t p)
{
	return p + 1 < t->len && t->text[p] == '}' && t->text[p + 1] == '}';
}

/* Where byte @pos of the template is, both counted from 1. */
void tpl_line_col(const struct tpl *t, size_t pos, unsigned *ret_line, unsigned *ret_col);

/* The next token of the action the parser is in: an unread one first. */
int tpl_lex_next(struct tpl *t, struct tpl_tok *ret);

/* Push @tk back, for the next tpl_lex_next() to return again; one at a time. */
void tpl_lex_unread(struct tpl *t, const struct tpl_tok *tk);

/* Whether @tk is the identifier @word. */
bool tpl_tok_is(const struct tpl *t, const struct tpl_tok *tk, const char *word);

/* The keyword @tk is, or KW_NONE (a function name, or not an identifier). */
enum keyword tpl_tok_keyword(const struct tpl *t, const struct tpl_tok *tk);

/* The error for @tk where it does not belong, in Go's words; @context names the place. */
int tpl_unexpected(struct tpl *t, const struct tpl_tok *tk, const char *context);

/* The string a TOK_STRING or TOK_RAW_STRING stands for, into *@ret. */
int tpl_unquote(struct tpl *t, const struct tpl_tok *tk, struct tpl_value *ret);

/* The integer a TOK_NUMBER stands for; floats and overflow are errors. */
int tpl_parse_int(struct tpl *t, const struct tpl_tok *tk, int64_t *ret);
