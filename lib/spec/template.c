/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The template engine: parser and evaluator for the subset of Go's
 * text/template that bldr trees use. The lexer is in template-lex.c, the
 * functions in template-funcs.c.
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
#include "template-lex.h"
#include "template.h"

/* Go has no limit; the recursion here needs one. */
#define TPL_MAX_DEPTH 100u

/* More operands than this in one command is an attack, not a template. */
#define TPL_MAX_OPERANDS 1000u

/* Why parse_list() stopped. */
enum stop {
	STOP_EOF,
	STOP_END,
	STOP_ELSE,
	STOP_ELSE_IF, /* the lexer is left just after the "if" */
};

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
		return tpl_unquote(t, tk, &v);
	case TOK_NUMBER:
		return tpl_parse_int(t, tk, &i);
	case TOK_IDENT:
		switch (tpl_tok_keyword(t, tk)) {
		case KW_TRUE:
		case KW_FALSE:
			return 0;
		case KW_NONE:
			break;
		default:
			if (tpl_tok_is(t, tk, "nil"))
				return tpl_error(t, 0, tk->pos, "nil is not supported by kiln");
			return tpl_unexpected(t, tk, "operand");
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
		r = tpl_unquote(t, tk, &v);
		if (r < 0)
			return r;
		break;
	case TOK_NUMBER:
		v.literal = true;
		v.type = TPL_INT;
		r = tpl_parse_int(t, tk, &v.i);
		if (r < 0)
			return r;
		break;
	case TOK_IDENT:
		if (tpl_tok_keyword(t, tk) == KW_TRUE || tpl_tok_keyword(t, tk) == KW_FALSE) {
			v.literal = true;
			v.type = TPL_BOOL;
			v.i = tpl_tok_keyword(t, tk) == KW_TRUE;
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

	if (toks[0].type == TOK_IDENT && tpl_tok_keyword(t, &toks[0]) == KW_NONE)
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
		r = tpl_lex_next(t, &tk);
		if (r < 0)
			return r;
		if (tk.type == TOK_RIGHT || tk.type == TOK_PIPE)
			break;
		if (n > 0 && !tk.space_before)
			return tpl_unexpected(t, &tk, "operand");
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
			return tpl_unexpected(t, &tk, "command");
		return tpl_error(t, 0, tk.pos, "empty command");
	}
	/* Go's parser: only the first command may start with a literal */
	if (final && (t->toks[0].type != TOK_FIELD &&
		      (t->toks[0].type != TOK_IDENT || tpl_tok_keyword(t, &t->toks[0]) != KW_NONE)))
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

	r = tpl_lex_next(t, &tk);
	if (r < 0)
		return r;
	if (tk.type == TOK_RIGHT)
		return tpl_error(t, 0, tk.pos, "missing value for %s", context);
	tpl_lex_unread(t, &tk);

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
	trim = open && end + 3 < t->len && s[end + 2] == '-' && tpl_is_space(s[end + 3]);

	if (t->trim_next)
		while (start < end && tpl_is_space(s[start]))
			start++;
	t->trim_next = false;
	text_end = end;
	if (trim)
		while (text_end > start && tpl_is_space(s[text_end - 1]))
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
	if (p + 3 < t->len && tpl_is_space(s[p]) && s[p + 1] == '-' &&
	    tpl_at_right_delim(t, p + 2)) {
		t->trim_next = true;
		t->pos = p + 4;
	} else if (tpl_at_right_delim(t, p)) {
		t->pos = p + 2;
	} else {
		return tpl_error(t, 0, p, "comment ends before closing delimiter");
	}
	return 1;
}

static int expect_right(struct tpl *t, const char *context)
{
	struct tpl_tok tk;
	int r = tpl_lex_next(t, &tk);

	if (r < 0)
		return r;
	if (tk.type != TOK_RIGHT)
		return tpl_unexpected(t, &tk, context);
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

		tpl_line_col(t, if_pos, &line, &col);
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
		r = tpl_lex_next(t, &tk);
		if (r < 0)
			return r;
		switch (tpl_tok_keyword(t, &tk)) {
		case KW_IF:
			r = parse_if(t, live, depth, tk.pos);
			if (r < 0)
				return r;
			continue;
		case KW_ELSE:
			stop_pos = tk.pos;
			r = tpl_lex_next(t, &tk);
			if (r < 0)
				return r;
			if (tpl_tok_keyword(t, &tk) == KW_IF) {
				stop = STOP_ELSE_IF;
			} else {
				tpl_lex_unread(t, &tk);
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
		tpl_lex_unread(t, &tk);
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
