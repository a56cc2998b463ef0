/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sprig's regexReplaceAll, for the function table in template-funcs.c.
 *
 * Regular expressions are RE2 syntax in the trees and PCRE2 here. The two
 * agree on the common part; translate_re2() rejects what Go would reject and
 * PCRE2 would give another meaning (backreferences, lookaround, possessive
 * quantifiers, \K, (*VERBS)), and rewrites the escapes they read differently.
 * PCRE2 backtracks where RE2 runs in linear time, so every match counts its
 * steps (auto-callouts) against one budget per render.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <string.h>

#include "template-funcs.h"

/* Compiled patterns kept per render; trees use a handful. */
#define TPL_REGEX_CACHE_SIZE 16

/* RE2 refuses longer patterns and larger repeat counts; so do we. */
#define TPL_REGEX_MAX_PATTERN 4096
#define TPL_REGEX_MAX_REPEAT 1000

/* Backtracking steps allowed per render: real trees use a few hundred. */
#define TPL_REGEX_MAX_STEPS 20000000u

struct tpl_regex {
	char *pattern;
	size_t len;
	pcre2_code *code;
	pcre2_match_data *md;
};

struct tpl_regex_cache {
	struct tpl_regex e[TPL_REGEX_CACHE_SIZE];
	size_t n, next_victim;
	pcre2_compile_context *cctx;
	pcre2_match_context *mctx;
	uint64_t steps;
};

static bool is_ascii_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* strchr() that does not find the terminating NUL */
static bool in_set_c(char c, const char *set)
{
	return c && strchr(set, c);
}

static bool is_octal(char c)
{
	return c >= '0' && c <= '7';
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/*
 * One escape of an RE2 pattern at re[*i] (the backslash), copied to @out as
 * PCRE2 must read it. Returns false with a Go error text in @err.
 */
static bool translate_escape(const char *re, size_t n, size_t *i, bool in_class,
			     struct strbuf *out, struct strbuf *err)
{
	size_t p = *i + 1, end;
	char c;

	if (p >= n) {
		strbuf_adds(err, "trailing backslash at end of expression: ``");
		return false;
	}
	c = re[p];
	end = p + 1;
	if (is_octal(c) && (c == '0' || (end < n && is_octal(re[end])))) {
		/* octal, never a backreference: PCRE2 reads \12 as one if 12 groups exist */
		unsigned v = 0;

		for (end = p; end < n && end < p + 3 && is_octal(re[end]); end++)
			v = v * 8 + (unsigned)(re[end] - '0');
		*i = end;
		strbuf_addf(out, "\\o{%o}", v);
		return true;
	}
	if (c == 'x') {
		if (end < n && re[end] == '{') {
			while (++end < n && is_hex(re[end]))
				;
			if (end >= n || re[end] != '}' || end == p + 2)
				goto bad;
			end++;
		} else if (end + 1 < n && is_hex(re[end]) && is_hex(re[end + 1])) {
			end += 2;
		} else {
			goto bad;
		}
	} else if (c == 'v') {
		/* RE2's \v is a vertical tab; PCRE2's is any vertical space */
		*i = end;
		strbuf_adds(out, "\\x0b");
		return true;
	} else if (c == 'Q' && !in_class) {
		/* quoted text up to \E: copy it through, PCRE2 reads it the same */
		const char *e = tpl_find2(re + end, n - end, '\\', 'E');

		end = e ? (size_t)(e - re) + 2 : n;
	} else if (c == 'p' || c == 'P') {
		if (end < n && re[end] == '{') {
			const char *close = memchr(re + end, '}', n - end);

			if (!close)
				goto bad;
			end = (size_t)(close - re) + 1;
		} else if (end < n) {
			end++;
		}
	} else if (!(in_set_c(c, "afnrtdDsSwW") || (!in_class && in_set_c(c, "bBAz")) ||
		     ((unsigned char)c < 0x80 && !is_ascii_alnum((unsigned char)c)))) {
		/* anything else is not RE2 (PCRE2's \K, \R, \h, \g, \k, \C, \E, ...) */
		goto bad;
	}
	strbuf_add(out, re + *i, end - *i);
	*i = end;
	return true;
bad:
	end = end < n ? end : n;
	strbuf_addf(err, "invalid escape sequence: `%.*s`", (int)(end - *i), re + *i);
	return false;
}

/* A [class] at re[*i]; inside it, only escapes and "[" need care. */
static bool translate_class(const char *re, size_t n, size_t *i, struct strbuf *out,
			    struct strbuf *err)
{
	size_t p = *i + 1;

	strbuf_addch(out, '[');
	if (p < n && re[p] == '^')
		strbuf_addch(out, re[p++]);
	if (p < n && re[p] == ']')
		strbuf_addch(out, re[p++]);
	while (p < n && re[p] != ']') {
		const char *close;

		if (re[p] == '[' && p + 1 < n && re[p + 1] == ':' &&
		    (close = tpl_find2(re + p + 2, n - p - 2, ':', ']'))) {
			size_t end = (size_t)(close - re) + 2;

			strbuf_add(out, re + p, end - p);
			p = end;
		} else if (re[p] == '\\') {
			if (!translate_escape(re, n, &p, true, out, err))
				return false;
		} else if (re[p] == '[') {
			/* a literal to RE2; PCRE2 would read "[." and "[=" as POSIX collation */
			strbuf_adds(out, "\\[");
			p++;
		} else {
			strbuf_addch(out, re[p++]);
		}
	}
	if (p >= n) {
		strbuf_addf(err, "missing closing ]: `%.*s`", (int)(n - *i < 64 ? n - *i : 64),
			    re + *i);
		return false;
	}
	strbuf_addch(out, ']');
	*i = p + 1;
	return true;
}

/*
 * "(?" at re[i]: RE2 knows only flags, (?:...) and named groups. Returns the
 * length of the group's opening, or 0 with Go's error text in @err.
 */
static size_t check_group(const char *re, size_t n, size_t i, struct strbuf *err)
{
	size_t p = i + 2, q;
	bool minus = false, flag_after_minus = false;

	if (p < n && (re[p] == 'P' || re[p] == '<')) {
		q = p + (re[p] == 'P');
		if (q < n && re[q] == '<' && q + 1 < n && re[q + 1] != '=' && re[q + 1] != '!') {
			for (q++; q < n && (is_ascii_alnum((unsigned char)re[q]) || re[q] == '_');)
				q++;
			if (q < n && re[q] == '>' && re[q - 1] != '<')
				return q + 1 - i;
			strbuf_addf(err, "invalid named capture: `%.*s`",
				    (int)((q < n ? q + 1 : n) - i), re + i);
			return 0;
		}
		goto bad;
	}
	for (; p < n && in_set_c(re[p], "imsU-"); p++) {
		if (re[p] == '-') {
			if (minus)
				goto bad;
			minus = true;
		} else if (minus) {
			flag_after_minus = true;
		}
	}
	if (p < n && (re[p] == ')' || re[p] == ':') && (!minus || flag_after_minus))
		return p + 1 - i;
bad:
	strbuf_addf(err, "invalid or unsupported Perl syntax: `%.*s`",
		    (int)((p < n ? p + 1 : n) - i), re + i);
	return 0;
}

/* A counted repetition {n}, {n,} or {n,m} at re[i]; anything else is a literal "{". */
static bool parse_repeat(const char *re, size_t n, size_t i, size_t *ret_end, bool *ret_ok)
{
	long min = -1, max = -1, *cur = &min;
	size_t p = i + 1;
	bool comma = false;

	for (; p < n; p++) {
		if (re[p] >= '0' && re[p] <= '9') {
			*cur = (*cur < 0 ? 0 : *cur) * 10 + (re[p] - '0');
			if (*cur > 100000)
				*cur = 100000; /* anything this big is invalid anyway */
		} else if (re[p] == ',' && !comma && min >= 0) {
			comma = true;
			cur = &max;
		} else {
			break;
		}
	}
	if (p >= n || re[p] != '}' || min < 0)
		return false;
	if (!comma)
		max = min;
	*ret_ok = min <= TPL_REGEX_MAX_REPEAT && max <= TPL_REGEX_MAX_REPEAT &&
		  (max < 0 || min <= max);
	*ret_end = p + 1;
	return true;
}

/*
 * Check an RE2 pattern and write it to @out as PCRE2 syntax with the same
 * meaning. On failure, @err holds Go's error text.
 */
static bool translate_re2(const char *re, size_t n, struct strbuf *out, struct strbuf *err)
{
	bool atom = false, quant = false;
	size_t i = 0, quant_start = 0;

	if (n > TPL_REGEX_MAX_PATTERN) {
		strbuf_addf(err, "expression too large");
		return false;
	}
	while (i < n) {
		size_t end = i + 1;
		bool repeat_ok = true;
		char c = re[i];

		if (c == '\\' || c == '[') {
			if (c == '\\' ? !translate_escape(re, n, &i, false, out, err) :
					!translate_class(re, n, &i, out, err))
				return false;
			atom = true;
			quant = false;
			continue;
		}
		if (c == '*' || c == '+' || c == '?' ||
		    (c == '{' && parse_repeat(re, n, i, &end, &repeat_ok))) {
			if (end < n && re[end] == '?')
				end++; /* non-greedy */
			if (quant || !atom || !repeat_ok) {
				size_t from = quant ? quant_start : i;

				strbuf_addf(err, "%s: `%.*s`",
					    quant ? "invalid nested repetition operator" :
					    !atom ? "missing argument to repetition operator" :
						    "invalid repeat count",
					    (int)(end - from), re + from);
				return false;
			}
			strbuf_add(out, re + i, end - i);
			quant_start = i;
			i = end;
			quant = true;
			atom = false;
			continue;
		}
		if (c == '(' && end < n && re[end] == '*') {
			strbuf_adds(err, "missing argument to repetition operator: `*`");
			return false;
		}
		if (c == '(' && end < n && re[end] == '?') {
			size_t len = check_group(re, n, i, err);

			if (!len)
				return false;
			strbuf_add(out, re + i, len);
			i += len;
			atom = quant = false;
			continue;
		}
		atom = c != '(' && c != '|';
		quant = false;
		strbuf_addch(out, c);
		i++;
	}
	return true;
}

static int count_step(pcre2_callout_block *block, void *data)
{
	struct tpl_regex_cache *c = data;

	return ++c->steps > TPL_REGEX_MAX_STEPS ? PCRE2_ERROR_MATCHLIMIT : 0;
}

static void regex_clear(struct tpl_regex *e)
{
	free(e->pattern);
	pcre2_match_data_free(e->md);
	pcre2_code_free(e->code);
	*e = (struct tpl_regex){};
}

void tpl_regex_cache_free(struct tpl_regex_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		regex_clear(&c->e[i]);
	pcre2_compile_context_free(c->cctx);
	pcre2_match_context_free(c->mctx);
	free(c);
}

static int regex_cache_new(struct tpl *t, size_t pos)
{
	struct tpl_regex_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return tpl_error(t, -ENOMEM, pos, "out of memory");
	t->regexes = c;
	c->cctx = pcre2_compile_context_create(NULL);
	c->mctx = pcre2_match_context_create(NULL);
	if (!c->cctx || !c->mctx)
		return tpl_error(t, -ENOMEM, pos, "out of memory");
	/* RE2's "." stops at \n only, whatever PCRE2 was built with */
	pcre2_set_newline(c->cctx, PCRE2_NEWLINE_LF);
	pcre2_set_callout(c->mctx, count_step, c);
	pcre2_set_heap_limit(c->mctx, 64 * 1024); /* KiB */
	return 0;
}

/* The compiled form of @re, from the cache or compiled now. */
static int regex_get(struct tpl *t, const char *name, size_t pos, const struct tpl_value *re,
		     struct tpl_regex **ret)
{
	/*
	 * RE2 semantics: "$" is the end of the text only, invalid UTF-8 in the
	 * subject is matched rather than refused. No auto-possessification, so
	 * that every backtracking step passes a callout and is counted.
	 */
	const uint32_t flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
			       PCRE2_NEVER_BACKSLASH_C | PCRE2_AUTO_CALLOUT | PCRE2_NO_AUTO_POSSESS;
	_cleanup_strbuf_ struct strbuf pcre = STRBUF_INIT, err = STRBUF_INIT;
	struct tpl_regex_cache *c;
	struct tpl_regex *e;
	PCRE2_SIZE offset;
	int code, r;

	if (!t->regexes && (r = regex_cache_new(t, pos)) < 0)
		return r;
	c = t->regexes;
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].len == re->len && memcmp(c->e[i].pattern, re->s, re->len) == 0) {
			*ret = &c->e[i];
			return 0;
		}

	if (!translate_re2(re->s, re->len, &pcre, &err))
		return tpl_error(t, 0, pos, "error calling %s: error parsing regexp: %s", name,
				 strbuf_str(&err));
	if (c->n < TPL_REGEX_CACHE_SIZE) {
		e = &c->e[c->n++];
	} else {
		e = &c->e[c->next_victim];
		c->next_victim = (c->next_victim + 1) % TPL_REGEX_CACHE_SIZE;
		regex_clear(e);
	}
	e->code = pcre2_compile((PCRE2_SPTR)strbuf_str(&pcre), pcre.len, flags, &code, &offset,
				c->cctx);
	if (!e->code) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(code, msg, sizeof(msg));
		return tpl_error(t, 0, pos, "error calling %s: error parsing regexp: %s: `%.*s`",
				 name, (const char *)msg,
				 (int)(re->len < TPL_MAX_QUOTE ? re->len : TPL_MAX_QUOTE), re->s);
	}
	e->md = pcre2_match_data_create_from_pattern(e->code, NULL);
	e->pattern = malloc(re->len + 1);
	if (!e->md || !e->pattern)
		return tpl_error(t, -ENOMEM, pos, "out of memory");
	memcpy(e->pattern, re->s, re->len);
	e->len = re->len;
	*ret = e;
	return 0;
}

/* The group a "$name" of a replacement refers to (Go's Regexp.Expand), or -1. */
static long group_number(const struct tpl_regex *e, const char *name, size_t len)
{
	char buf[33];
	long num = 0;
	int r;

	if (name[0] != '0' || len == 1) {
		size_t i;

		for (i = 0; i < len && i < 9 && name[i] >= '0' && name[i] <= '9'; i++)
			num = num * 10 + (name[i] - '0');
		if (i == len)
			return num;
	}
	/* PCRE2 group names are at most 32 bytes */
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	r = pcre2_substring_number_from_name(e->code, (PCRE2_SPTR)buf);
	return r >= 0 ? r : -1;
}

/*
 * Append @tmpl with $1, ${1}, $name, ${name} replaced by groups of the match
 * and $$ by $. A name is the longest run of letters, digits and "_" (any
 * non-ASCII byte counts as a letter); a malformed reference stays literal, an
 * unknown or unmatched group expands to nothing.
 */
static int expand(struct tpl *t, const char *name, size_t pos, struct strbuf *sb,
		  const struct tpl_regex *e, const char *subject, const struct tpl_value *tmpl)
{
	const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
	uint32_t n_groups = pcre2_get_ovector_count(e->md);
	const char *s = tmpl->s;
	size_t p = 0, n = tmpl->len;
	int r;

	while (p < n) {
		const char *dollar = memchr(s + p, '$', n - p);
		size_t lit = dollar ? (size_t)(dollar - s) - p : n - p, q, start;
		bool brace;
		long g;

		r = tpl_add_capped(t, name, pos, sb, s + p, lit);
		if (r < 0 || !dollar)
			return r;
		p += lit + 1;
		if (p < n && s[p] == '$') {
			p++;
			r = tpl_add_capped(t, name, pos, sb, "$", 1);
			if (r < 0)
				return r;
			continue;
		}
		brace = p < n && s[p] == '{';
		start = q = p + brace;
		while (q < n && (is_ascii_alnum((unsigned char)s[q]) || s[q] == '_' ||
				 (unsigned char)s[q] >= 0x80))
			q++;
		if (q == start || (brace && (q >= n || s[q] != '}'))) {
			r = tpl_add_capped(t, name, pos, sb, "$", 1);
			if (r < 0)
				return r;
			continue;
		}
		g = group_number(e, s + start, q - start);
		p = q + brace;
		if (g >= 0 && (uint32_t)g < n_groups && ov[2 * g] != PCRE2_UNSET) {
			r = tpl_add_capped(t, name, pos, sb, subject + ov[2 * g],
						   ov[2 * g + 1] - ov[2 * g]);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* sprig's regexReplaceAll RE S REPL: Go's regexp.MustCompile(RE).ReplaceAllString(S, REPL). */
int tpl_fn_regex_replace_all(struct tpl *t, const char *name, size_t pos, struct tpl_value *a,
			     size_t n, struct tpl_value *ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *s = a[1].s;
	size_t len = a[1].len, last_end = 0, search = 0;
	struct tpl_regex *e = NULL;
	bool matched = false;
	int r;

	for (size_t i = 0; i < 3; i++)
		if (tpl_want(t, &a[i], TPL_STRING) < 0)
			return -EINVAL;
	r = regex_get(t, name, pos, &a[0], &e);
	if (r < 0)
		return r;

	while (search <= len) {
		const PCRE2_SIZE *ov;
		size_t w;

		r = pcre2_match(e->code, (PCRE2_SPTR)s, len, search, 0, e->md, t->regexes->mctx);
		if (r == PCRE2_ERROR_NOMATCH)
			break;
		if (r == PCRE2_ERROR_MATCHLIMIT || r == PCRE2_ERROR_DEPTHLIMIT ||
		    r == PCRE2_ERROR_HEAPLIMIT)
			return tpl_error(t, 0, pos,
					 "error calling %s: regular expression too costly to match "
					 "(kiln backtracks where Go does not)", name);
		if (r < 0) {
			PCRE2_UCHAR msg[256];

			pcre2_get_error_message(r, msg, sizeof(msg));
			return tpl_error(t, 0, pos, "error calling %s: %s", name, (const char *)msg);
		}
		ov = pcre2_get_ovector_pointer(e->md);
		if (ov[0] < last_end || ov[1] < ov[0] || ov[1] > len)
			return tpl_error(t, 0, pos, "error calling %s: bad match", name);
		matched = true;
		r = tpl_add_capped(t, name, pos, &sb, s + last_end, ov[0] - last_end);
		if (r < 0)
			return r;
		/* Go's rule: no replacement for an empty match right after the previous match */
		if (ov[1] > last_end || ov[0] == 0) {
			r = expand(t, name, pos, &sb, e, s, &a[2]);
			if (r < 0)
				return r;
		}
		last_end = ov[1];
		/* advance past the match, and by at least one character */
		w = tpl_utf8_width((const unsigned char *)s + search, len - search);
		if (search + w > ov[1])
			search += w;
		else if (search + 1 > ov[1])
			search++;
		else
			search = ov[1];
	}
	if (!matched) {
		tpl_take_substring(ret, &a[1], s, len);
		return 0;
	}
	r = tpl_add_capped(t, name, pos, &sb, s + last_end, len - last_end);
	if (r < 0)
		return r;
	return tpl_take_strbuf(t, pos, &sb, ret);
}
