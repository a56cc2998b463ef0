/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The functions a bldr template may call: text/template's eq and ne, and the
 * sprig functions replace, trimPrefix, substr and regexReplaceAll, with Go's
 * argument checks and error texts. regexReplaceAll, with its translation of
 * RE2 patterns to PCRE2, is in template-regex.c.
 */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "template-funcs.h"

typedef int (*tpl_fn)(struct tpl *t, const char *name, size_t pos, struct tpl_value *a,
		      size_t n, struct tpl_value *ret);

struct tpl_func {
	const char *name;
	unsigned n_args;
	bool variadic; /* n_args or more */
	tpl_fn fn;
};

const char *tpl_type_name(enum tpl_type type)
{
	switch (type) {
	case TPL_STRING:
		return "string";
	case TPL_INT:
		return "int";
	case TPL_BOOL:
		return "bool";
	default:
		return "invalid";
	}
}

size_t tpl_utf8_width(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t w;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		w = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		w = 3;
		lo = s[0] == 0xe0 ? 0xa0 : lo; /* no overlong forms */
		hi = s[0] == 0xed ? 0x9f : hi; /* no surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		w = 4;
		lo = s[0] == 0xf0 ? 0x90 : lo;
		hi = s[0] == 0xf4 ? 0x8f : hi; /* nothing above U+10FFFF */
	} else {
		return 1;
	}
	if (n < w || s[1] < lo || s[1] > hi)
		return 1;
	for (size_t i = 2; i < w; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 1;
	return w;
}

/* Go's wording for an argument of the wrong type: it depends on where the value came from. */
int tpl_want(struct tpl *t, const struct tpl_value *v, enum tpl_type type)
{
	const char *go_name = type == TPL_INT ? "int" : "string";

	if (v->type == type)
		return 0;
	if (v->type == TPL_MISSING)
		return tpl_error(t, 0, v->pos, "invalid value; expected %s", go_name);
	if (v->literal)
		return tpl_error(t, 0, v->pos, "expected %s; found %.*s",
				 type == TPL_INT ? "integer" : "string",
				 (int)(v->tok_len < TPL_MAX_QUOTE ? v->tok_len : TPL_MAX_QUOTE),
				 t->text + v->pos);
	return tpl_error(t, 0, v->pos, "wrong type for value; expected %s; got %s", go_name,
			 tpl_type_name(v->type));
}

/* The result is @len bytes at @s inside @from, taking over what @from owns. */
void tpl_take_substring(struct tpl_value *ret, struct tpl_value *from, const char *s, size_t len)
{
	*ret = (struct tpl_value){ .type = TPL_STRING, .s = s, .len = len, .buf = from->buf };
	from->buf = NULL;
}

int tpl_take_strbuf(struct tpl *t, size_t pos, struct strbuf *sb, struct tpl_value *ret)
{
	size_t len;
	char *buf = strbuf_detach(sb, &len);

	if (!buf)
		return tpl_error(t, -ENOMEM, pos, "out of memory");
	*ret = (struct tpl_value){ .type = TPL_STRING, .buf = buf, .s = buf, .len = len };
	return 0;
}

int tpl_add_capped(struct tpl *t, const char *name, size_t pos, struct strbuf *sb, const char *s,
		   size_t n)
{
	int r;

	if (n > TPL_MAX_STRING - sb->len)
		return tpl_error(t, -EFBIG, pos, "error calling %s: result exceeds %zu MiB", name,
				 TPL_MAX_STRING >> 20);
	r = strbuf_add(sb, s, n);
	return r < 0 ? tpl_error(t, r, pos, "out of memory") : 0;
}

/*
 * Go's eq: values of different kinds are an error, unless one of them is a
 * missing key (Go's invalid reflect.Value), which equals only another
 * missing key. So eq .MISSING "x" is false and ne .MISSING "" is true
 * (Go 1.18 and later; older releases failed with an error here).
 */
static int equal(struct tpl *t, const char *name, size_t pos, const struct tpl_value *a,
		 const struct tpl_value *b, bool *ret)
{
	if (a->type != b->type) {
		if (a->type != TPL_MISSING && b->type != TPL_MISSING)
			return tpl_error(t, 0, pos,
					 "error calling %s: incompatible types for comparison: %s and %s",
					 name, tpl_type_name(a->type), tpl_type_name(b->type));
		*ret = false;
		return 0;
	}
	if (a->type == TPL_STRING)
		*ret = a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
	else
		*ret = a->i == b->i;
	return 0;
}

static int fn_eq(struct tpl *t, const char *name, size_t pos, struct tpl_value *a, size_t n,
		 struct tpl_value *ret)
{
	bool eq = false;

	if (n < 2)
		return tpl_error(t, 0, pos, "error calling eq: missing argument for comparison");
	for (size_t i = 1; i < n && !eq; i++)
		if (equal(t, name, pos, &a[0], &a[i], &eq) < 0)
			return -EINVAL;
	*ret = (struct tpl_value){ .type = TPL_BOOL, .i = eq };
	return 0;
}

static int fn_ne(struct tpl *t, const char *name, size_t pos, struct tpl_value *a, size_t n,
		 struct tpl_value *ret)
{
	bool eq;

	if (equal(t, name, pos, &a[0], &a[1], &eq) < 0)
		return -EINVAL;
	*ret = (struct tpl_value){ .type = TPL_BOOL, .i = !eq };
	return 0;
}

/* sprig's replace OLD NEW S: Go's strings.Replace(S, OLD, NEW, -1). */
static int fn_replace(struct tpl *t, const char *name, size_t pos, struct tpl_value *a, size_t n,
		      struct tpl_value *ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const struct tpl_value *old = &a[0], *new = &a[1];
	struct tpl_value *src = &a[2];
	const char *s = src->s, *hit;
	size_t p = 0;
	int r;

	for (size_t i = 0; i < 3; i++)
		if (tpl_want(t, &a[i], TPL_STRING) < 0)
			return -EINVAL;
	if (old->len > 0 && !memmem(s, src->len, old->s, old->len)) {
		tpl_take_substring(ret, src, s, src->len);
		return 0;
	}
	if (old->len == 0) {
		/* an empty OLD matches before every UTF-8 sequence and at the end */
		for (;;) {
			size_t w = tpl_utf8_width((const unsigned char *)s + p, src->len - p);

			r = tpl_add_capped(t, name, pos, &sb, new->s, new->len);
			if (r >= 0)
				r = tpl_add_capped(t, name, pos, &sb, s + p, w);
			if (r < 0)
				return r;
			if (w == 0)
				break;
			p += w;
		}
	} else {
		while ((hit = memmem(s + p, src->len - p, old->s, old->len))) {
			r = tpl_add_capped(t, name, pos, &sb, s + p, (size_t)(hit - s) - p);
			if (r >= 0)
				r = tpl_add_capped(t, name, pos, &sb, new->s, new->len);
			if (r < 0)
				return r;
			p = (size_t)(hit - s) + old->len;
		}
		r = tpl_add_capped(t, name, pos, &sb, s + p, src->len - p);
		if (r < 0)
			return r;
	}
	return tpl_take_strbuf(t, pos, &sb, ret);
}

/* sprig's trimPrefix PREFIX S */
static int fn_trim_prefix(struct tpl *t, const char *name, size_t pos, struct tpl_value *a,
			  size_t n, struct tpl_value *ret)
{
	size_t skip = 0;

	if (tpl_want(t, &a[0], TPL_STRING) < 0 || tpl_want(t, &a[1], TPL_STRING) < 0)
		return -EINVAL;
	if (a[0].len <= a[1].len && memcmp(a[1].s, a[0].s, a[0].len) == 0)
		skip = a[0].len;
	tpl_take_substring(ret, &a[1], a[1].s + skip, a[1].len - skip);
	return 0;
}

/*
 * sprig's substr START END S: S[:END] if START < 0, S[START:] if END < 0 or
 * past the end, else S[START:END]. Byte offsets. Where Go's slicing panics
 * (and sprig's template call turns the panic into an error), so do we.
 */
static int fn_substr(struct tpl *t, const char *name, size_t pos, struct tpl_value *a, size_t n,
		     struct tpl_value *ret)
{
	const char *oob = "error calling substr: runtime error: slice bounds out of range";
	int64_t start, end, len;

	for (size_t i = 0; i < 3; i++)
		if (tpl_want(t, &a[i], i < 2 ? TPL_INT : TPL_STRING) < 0)
			return -EINVAL;
	start = a[0].i;
	end = a[1].i;
	len = (int64_t)a[2].len;
	if (start < 0) {
		if (end < 0)
			return tpl_error(t, 0, pos, "%s [:%" PRId64 "]", oob, end);
		if (end > len)
			return tpl_error(t, 0, pos, "%s [:%" PRId64 "] with length %" PRId64, oob,
					 end, len);
		start = 0;
	} else if (end < 0 || end > len) {
		if (start > len)
			return tpl_error(t, 0, pos, "%s [%" PRId64 ":%" PRId64 "]", oob, start, len);
		end = len;
	} else if (start > end) {
		return tpl_error(t, 0, pos, "%s [%" PRId64 ":%" PRId64 "]", oob, start, end);
	}
	tpl_take_substring(ret, &a[2], a[2].s + start, (size_t)(end - start));
	return 0;
}

static const struct tpl_func funcs[] = {
	{ "eq", 1, true, fn_eq },
	{ "ne", 2, false, fn_ne },
	{ "replace", 3, false, fn_replace },
	{ "trimPrefix", 2, false, fn_trim_prefix },
	{ "substr", 3, false, fn_substr },
	{ "regexReplaceAll", 3, false, tpl_fn_regex_replace_all },
};

static bool name_is(const char *name, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(name, word, len) == 0;
}

const struct tpl_func *tpl_func_lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < ELEMENTSOF(funcs); i++)
		if (name_is(name, len, funcs[i].name))
			return &funcs[i];
	return NULL;
}

bool tpl_func_is_unsupported(const char *name, size_t len)
{
	/* text/template's other builtins, and the sprig functions most likely to be tried */
	static const char *const names[] = {
		"and", "or", "not", "len", "index", "slice", "print", "printf", "println",
		"html", "js", "urlquery", "call", "lt", "le", "gt", "ge",
		"default", "empty", "coalesce", "ternary", "required", "fail",
		"upper", "lower", "title", "untitle", "trim", "trimAll", "trimSuffix", "trunc",
		"contains", "hasPrefix", "hasSuffix", "quote", "squote", "cat", "indent",
		"nindent", "repeat", "nospace", "abbrev", "plural", "toString", "toStrings",
		"split", "splitList", "splitn", "join", "list", "dict", "get", "set", "first",
		"last", "has", "keys", "values", "until", "seq", "add", "sub", "mul", "div",
		"mod", "max", "min", "atoi", "int", "int64", "float64", "regexMatch",
		"regexFind", "regexFindAll", "regexSplit", "regexReplaceAllLiteral",
		"regexQuoteMeta", "semver", "semverCompare", "env", "expandenv", "b64enc",
		"b64dec", "sha1sum", "sha256sum", "toJson", "toYaml", "fromJson", "now", "date",
		"uuidv4", "base", "dir", "ext", "clean",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (name_is(name, len, names[i]))
			return true;
	return false;
}

const char *tpl_func_name(const struct tpl_func *f)
{
	return f->name;
}

int tpl_func_check_args(struct tpl *t, const struct tpl_func *f, size_t pos, size_t n_args)
{
	if (f->variadic && n_args < f->n_args)
		return tpl_error(t, 0, pos, "wrong number of args for %s: want at least %u got %zu",
				 f->name, f->n_args, n_args);
	if (!f->variadic && n_args != f->n_args)
		return tpl_error(t, 0, pos, "wrong number of args for %s: want %u got %zu", f->name,
				 f->n_args, n_args);
	return 0;
}

int tpl_func_call(struct tpl *t, const struct tpl_func *f, size_t pos, struct tpl_value *args,
		  size_t n_args, struct tpl_value *ret)
{
	*ret = (struct tpl_value){ .type = TPL_MISSING };
	return f->fn(t, f->name, pos, args, n_args, ret);
}
