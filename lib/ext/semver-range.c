/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Version ranges as github.com/blang/semver/v4 (v4.0.0, the one Talos links)
 * reads them, and Talos's check of an extension's compatibility.talos.version
 * (pkg/machinery/extensions/validate.go). Versions are in semver.c.
 *
 * ParseRange is reproduced step by step, quirks included, because a
 * constraint kiln accepts must be one Talos accepts and mean the same:
 * the string is cut at spaces except after '<', '>' or '=' (so ">= 1.2.3"
 * is one term), and a piece of one byte is dropped ("! 1.2.3" is "1.2.3");
 * a term holding an 'x' anywhere is expanded as a wildcard by string
 * surgery (">1.x" => ">=2.0.0", "1.2.x" => ">=1.2.0 <1.3.0", and
 * "1.0.0-x" => ">=1.0.0-x <", which then fails); the comparator is whatever
 * precedes the first Unicode decimal digit, less white space. The error
 * messages are blang's, word for word, with Go's %q quoting.
 *
 * Deviations: an empty alternative ("1.0.0 || || 2.0.0") parses in Go but
 * calls a nil function when it is reached, crashing Talos; it is an error
 * here. A constraint holding control characters is quoted in the
 * "can't be satisfied" message, where Talos prints it raw. Otherwise the
 * results and messages were found identical to blang/semver v4.0.0's own
 * (Debian's golang-github-blang-semver-dev) on a million generated
 * constraints, but for Go's quoting of code points unassigned in Unicode
 * (see go-quote.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <kiln/ext.h>

#include "go-quote.h"
#include "log.h"
#include "semver-internal.h"
#include "strbuf.h"

/* Real constraints are a dozen bytes; this bounds the work on hostile ones. */
#define RANGE_MAX 4096

enum comparator {
	CMP_INVALID,
	CMP_EQ,
	CMP_NE,
	CMP_GT,
	CMP_GE,
	CMP_LT,
	CMP_LE,
};

struct comparison {
	enum comparator op;
	struct kiln_semver v;
};

/* OR of AND groups: group i is comparisons [ends[i-1], ends[i]). */
struct kiln_semver_range {
	struct comparison *cmps;
	size_t n_cmps, alloc_cmps;
	size_t *ends;
	size_t n_groups, alloc_groups;
};

/* A list of owned strings: the terms of a range as ParseRange rewrites them. */
struct terms {
	char **v;
	size_t n, alloc;
};

static void terms_release(struct terms *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	*t = (struct terms){ 0 };
}

/* Append @len bytes of @s, without the spaces in it (Go: strings.Replace(v, " ", "", -1)). */
static int terms_add(struct terms *t, const char *s, size_t len, bool drop_spaces)
{
	char *c;
	size_t k = 0;

	if (GROW(t->v, t->alloc, t->n + 1) < 0)
		return -ENOMEM;
	c = malloc(len + 1);
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		if (!drop_spaces || s[i] != ' ')
			c[k++] = s[i];
	c[k] = '\0';
	t->v[t->n++] = c;
	return 0;
}

static int terms_add_str(struct terms *t, const char *s)
{
	return terms_add(t, s, strlen(s), false);
}

/* unicode.IsDigit: the decimal digits of Unicode 15.0 (Go's tables), ASCII first. */
static bool go_is_digit(uint32_t c)
{
	static const uint32_t zeros[] = {
		0x660,	 0x6f0,	  0x7c0,   0x966,   0x9e6,   0xa66,   0xae6,   0xb66,	0xbe6,
		0xc66,	 0xce6,	  0xd66,   0xde6,   0xe50,   0xed0,   0xf20,   0x1040,	0x1090,
		0x17e0,	 0x1810,  0x1946,  0x19d0,  0x1a80,  0x1a90,  0x1b50,  0x1bb0,	0x1c40,
		0x1c50,	 0xa620,  0xa8d0,  0xa900,  0xa9d0,  0xa9f0,  0xaa50,  0xabf0,	0xff10,
		0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0,
		0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x11f50,
		0x16a60, 0x16ac0, 0x16b50, 0x1e140, 0x1e2f0, 0x1e4f0, 0x1e950, 0x1fbf0,
	};

	if (c < 0x100)
		return c >= '0' && c <= '9';
	if (c >= 0x1d7ce && c <= 0x1d7ff) /* the mathematical digits, five sets in a row */
		return true;
	for (size_t i = 0; i < ELEMENTSOF(zeros); i++)
		if (c >= zeros[i] && c < zeros[i] + 10)
			return true;
	return false;
}

/* unicode.IsSpace */
static bool go_is_space(uint32_t c)
{
	return (c >= '\t' && c <= '\r') || c == ' ' || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/*
 * splitComparatorVersion: the comparator is what precedes the first digit,
 * trimmed of white space (strings.TrimSpace), the version the rest. Returns
 * false when there is no digit.
 */
static bool split_comparator_version(const char *s, char **ret_op, const char **ret_version)
{
	size_t len = strlen(s), i = 0, op_start = 0, op_end = 0;
	bool leading = true;

	while (i < len) {
		uint32_t c;
		size_t w = go_decode_rune(s + i, len - i, &c);

		if (go_is_digit(c))
			break;
		if (!go_is_space(c)) {
			if (leading)
				op_start = i;
			leading = false;
			op_end = i + w;
		}
		i += w;
	}
	if (i == len)
		return false;
	*ret_op = strndup(s + op_start, op_end > op_start ? op_end - op_start : 0);
	*ret_version = s + i;
	return true;
}

/* splitAndTrim: cut at spaces not preceded by '<', '>' or '=', dropping pieces of one byte. */
static int split_and_trim(const char *s, struct terms *ret)
{
	ptrdiff_t last = 0, len = (ptrdiff_t)strlen(s);
	char last_char = '\0';

	for (ptrdiff_t i = 0; i < len; i++) {
		if (s[i] == ' ' && !(last_char && strchr("<>=", last_char))) {
			if (last < i - 1 && terms_add(ret, s + last, (size_t)(i - last), true) < 0)
				return -ENOMEM;
			last = i + 1;
		} else if (s[i] != ' ') {
			last_char = s[i];
		}
	}
	if (last < len - 1 && terms_add(ret, s + last, (size_t)(len - last), true) < 0)
		return -ENOMEM;
	return 0;
}

/* strings.Replace(s, old, new, 1), into a new string */
static char *replace_first(const char *s, const char *old, const char *new)
{
	const char *at = strstr(s, old);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	if (!at)
		return strdup(s);
	if (strbuf_add(&sb, s, (size_t)(at - s)) < 0 || strbuf_adds(&sb, new) < 0 ||
	    strbuf_adds(&sb, at + strlen(old)) < 0)
		return NULL;
	return strbuf_detach(&sb, NULL);
}

static size_t count_parts(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		n += *s == '.';
	return n;
}

/* strconv.Atoi on a 64-bit machine: an optional sign, then at least one digit, in int64. */
static bool go_atoi(const char *s, size_t len, int64_t *ret)
{
	bool neg = false;
	uint64_t v = 0;

	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		s++, len--;
	}
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX + neg)
		return false;
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/*
 * incrementMajorVersion (@index 0) and incrementMinorVersion (@index 1):
 * part @index of the dot-separated @s as a Go int plus one (wrapping as Go
 * does), or "" when it is not a number. NULL on -ENOMEM.
 */
static char *increment_part(const char *s, size_t index)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *p = s, *e;
	int64_t n;

	for (size_t i = 0; i < index; i++) {
		p = strchr(p, '.');
		if (!p)
			return strdup("");
		p++;
	}
	e = strchrnul(p, '.');
	if (!go_atoi(p, (size_t)(e - p), &n))
		return strdup("");
	if (strbuf_add(&sb, s, (size_t)(p - s)) < 0 ||
	    strbuf_addf(&sb, "%" PRId64, (int64_t)((uint64_t)n + 1)) < 0 || strbuf_adds(&sb, e) < 0)
		return NULL;
	return strbuf_detach(&sb, NULL);
}

/*
 * expandWildcardVersion for one term holding an 'x': append what it becomes.
 * @op is its comparator, @version the rest.
 */
static int expand_wildcard(const char *op, const char *version, struct terms *out)
{
	_cleanup_free_ char *tmp = NULL, *flat = NULL, *result = NULL, *term = NULL;
	const char *last_part = strrchr(version, '.');
	size_t n_parts = count_parts(version), wildcard = 0; /* 2 minor, 3 patch */
	const char *result_op = "";
	bool increment = false;
	int r;

	if (streq(last_part ? last_part + 1 : version, "x") && (n_parts == 2 || n_parts == 3))
		wildcard = n_parts;

	/* createVersionFromWildcard: "1.x.x" => "1.x", then the first ".x" => ".0" */
	tmp = replace_first(version, ".x.x", ".x");
	flat = tmp ? replace_first(tmp, ".x", ".0") : NULL;
	if (!flat)
		return -ENOMEM;
	if (count_parts(flat) == 2) {
		char *f = NULL;

		if (asprintf(&f, "%s.0", flat) < 0)
			return -ENOMEM;
		free(flat);
		flat = f;
	}

	if (streq(op, ">")) {
		result_op = ">=";
		increment = true;
	} else if (streq(op, ">=")) {
		result_op = ">=";
	} else if (streq(op, "<")) {
		result_op = "<";
	} else if (streq(op, "<=")) {
		result_op = "<";
		increment = true;
	} else if (streq(op, "") || streq(op, "=") || streq(op, "==")) {
		_cleanup_free_ char *lower = NULL;

		if (asprintf(&lower, ">=%s", flat) < 0)
			return -ENOMEM;
		r = terms_add_str(out, lower);
		if (r < 0)
			return r;
		result_op = "<";
		increment = true;
	} else if (streq(op, "!=") || streq(op, "!")) {
		_cleanup_free_ char *lower = NULL;

		if (asprintf(&lower, "<%s", flat) < 0)
			return -ENOMEM;
		r = terms_add_str(out, lower);
		if (r < 0)
			return r;
		result_op = ">=";
		increment = true;
	}
	/* any other comparator is lost: Go's switch has no default */

	if (!increment)
		result = strdup(flat);
	else if (wildcard == 3)
		result = increment_part(flat, 1);
	else if (wildcard == 2)
		result = increment_part(flat, 0);
	else
		result = strdup("");
	if (!result)
		return -ENOMEM;
	if (asprintf(&term, "%s%s", result_op, result) < 0)
		return -ENOMEM;
	return terms_add_str(out, term);
}

static enum comparator parse_comparator(const char *s)
{
	static const struct {
		const char *s;
		enum comparator c;
	} table[] = {
		{ "", CMP_EQ },	  { "=", CMP_EQ },  { "==", CMP_EQ },
		{ "!", CMP_NE },  { "!=", CMP_NE }, { ">", CMP_GT },
		{ ">=", CMP_GE }, { "<", CMP_LT },  { "<=", CMP_LE },
	};

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (streq(s, table[i].s))
			return table[i].c;
	return CMP_INVALID;
}

void kiln_semver_range_free(struct kiln_semver_range *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_cmps; i++)
		kiln_semver_release(&r->cmps[i].v);
	free(r->cmps);
	free(r->ends);
	free(r);
}

static int end_group(struct kiln_semver_range *range)
{
	if (GROW(range->ends, range->alloc_groups, range->n_groups + 1) < 0)
		return -ENOMEM;
	range->ends[range->n_groups++] = range->n_cmps;
	return 0;
}

/* buildVersionRange for term @t, appended to @range; errors wrapped as ParseRange wraps them. */
static int add_comparison(struct kiln_semver_range *range, const char *t, struct strbuf *err)
{
	_cleanup_free_ char *op = NULL, *joined = NULL;
	_cleanup_strbuf_ struct strbuf why = STRBUF_INIT;
	const char *version;
	struct kiln_semver v;
	enum comparator c;
	int r;

	if (!split_comparator_version(t, &op, &version))
		return semver_go_error(err, "Could not get version from string: %q", t);
	if (!op || asprintf(&joined, "%s%s", op, version) < 0)
		return -ENOMEM;
	c = parse_comparator(op);
	if (c == CMP_INVALID)
		return semver_go_error(
		    err, "Could not parse Range %q: Could not parse comparator %q in %q", t, op,
		    joined);
	r = semver_go_parse_version(version, strlen(version), &v, &why);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return semver_go_error(
		    err, "Could not parse Range %q: Could not parse version %q in %q: %s", t,
		    version, joined, strbuf_str(&why));
	if (GROW(range->cmps, range->alloc_cmps, range->n_cmps + 1) < 0) {
		kiln_semver_release(&v);
		return -ENOMEM;
	}
	range->cmps[range->n_cmps++] = (struct comparison){ c, v };
	return 0;
}

/* ParseRange of @s; blang's error text goes to @err. */
static int go_parse_range(const char *s, struct kiln_semver_range **ret, struct strbuf *err)
{
	_cleanup_(terms_release) struct terms parts = { 0 }, expanded = { 0 };
	_cleanup_(kiln_semver_range_freep) struct kiln_semver_range *range = NULL;
	bool empty_group = false;
	int r;

	r = split_and_trim(s, &parts);
	if (r < 0)
		return r;

	/* splitORParts */
	if (parts.n > 0 && streq(parts.v[0], "||"))
		return semver_go_error(err, "First element in range is '||'");
	if (parts.n == 0 || streq(parts.v[parts.n - 1], "||"))
		return semver_go_error(err, "Last element in range is '||'");

	/* expandWildcardVersion: every term first, so its errors come before any other */
	for (size_t i = 0; i < parts.n; i++) {
		_cleanup_free_ char *op = NULL;
		const char *version;

		if (streq(parts.v[i], "||") || !strchr(parts.v[i], 'x')) {
			r = terms_add_str(&expanded, parts.v[i]);
		} else if (!split_comparator_version(parts.v[i], &op, &version)) {
			return semver_go_error(err, "Could not get version from string: %q",
					       parts.v[i]);
		} else {
			r = op ? expand_wildcard(op, version, &expanded) : -ENOMEM;
		}
		if (r < 0)
			return r;
	}

	range = calloc(1, sizeof(*range));
	if (!range)
		return -ENOMEM;
	for (size_t i = 0; i < expanded.n; i++) {
		if (streq(expanded.v[i], "||")) {
			if (range->n_cmps ==
			    (range->n_groups ? range->ends[range->n_groups - 1] : 0))
				empty_group = true;
			r = end_group(range);
		} else {
			r = add_comparison(range, expanded.v[i], err);
		}
		if (r < 0)
			return r;
	}
	/*
	 * Go parses it into a nil function and calls it once the alternatives
	 * before it fail. Refused after every error Go reports, so that those
	 * read the same.
	 */
	if (empty_group)
		return semver_go_error(err,
				       "empty alternative between '||' and '||' (Talos would crash "
				       "on it)");
	r = end_group(range);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(range);
	return 0;
}

int kiln_semver_range_parse(struct kiln_ctx *ctx, const char *s, struct kiln_semver_range **ret)
{
	_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;
	size_t len = strlen(s);
	int r;

	if (len > RANGE_MAX)
		return kiln_error(ctx, EINVAL, "version range of %zu bytes, more than %d", len,
				  RANGE_MAX);
	r = go_parse_range(s, ret, &err);
	if (r == -ENOMEM)
		return kiln_error(ctx, ENOMEM, "out of memory");
	if (r < 0) {
		_cleanup_free_ char *q = quote_for_message(s, len, 96);

		return kiln_error(ctx, EINVAL, "invalid version range \"%s\": %s", strempty(q),
				  strbuf_str(&err));
	}
	return 0;
}

static bool comparison_match(const struct comparison *c, const struct kiln_semver *v)
{
	int d = kiln_semver_compare(v, &c->v);

	switch (c->op) {
	case CMP_EQ:
		return d == 0;
	case CMP_NE:
		return d != 0;
	case CMP_GT:
		return d > 0;
	case CMP_GE:
		return d >= 0;
	case CMP_LT:
		return d < 0;
	case CMP_LE:
		return d <= 0;
	case CMP_INVALID:
		break;
	}
	return false;
}

bool kiln_semver_range_match(const struct kiln_semver_range *r, const struct kiln_semver *v)
{
	size_t start = 0;

	for (size_t g = 0; g < r->n_groups; g++) {
		bool all = true;

		for (size_t i = start; i < r->ends[g] && all; i++)
			all = comparison_match(&r->cmps[i], v);
		if (all)
			return true;
		start = r->ends[g];
	}
	return false;
}

/* Talos's trim(): drop every 'v' that is followed by a digit, scanning as its loop does. */
static char *talos_trim(const char *constraint)
{
	char *s = strdup(constraint);
	size_t len;

	if (!s)
		return NULL;
	len = strlen(s);
	for (size_t i = 0; i < len; i++)
		if (s[i] == 'v' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9') {
			memmove(s + i, s + i + 1, len - i);
			len--;
		}
	return s;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int kiln_ext_check_talos_version(struct kiln_ctx *ctx, const char *constraint,
				 const char *talos_version)
{
	_cleanup_(kiln_semver_range_freep) struct kiln_semver_range *range = NULL;
	_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;
	_cleanup_free_ char *trimmed = NULL, *q = NULL;
	struct kiln_semver talos, core;
	int r;

	r = kiln_semver_parse(ctx, talos_version, &talos);
	if (r < 0) {
		kiln_error_prefix(ctx, "Talos version");
		return r;
	}
	/* the comparison is made with MAJOR.MINOR.PATCH alone */
	core = (struct kiln_semver){ talos.major, talos.minor, talos.patch, NULL };
	kiln_semver_release(&talos);

	if (!constraint || !*constraint)
		return 0;
	if (strlen(constraint) > RANGE_MAX)
		return kiln_error(ctx, EINVAL,
				  "error parsing Talos version constraint: %zu bytes, more than %d",
				  strlen(constraint), RANGE_MAX);
	trimmed = talos_trim(constraint);
	if (!trimmed)
		return kiln_error(ctx, ENOMEM, "out of memory");
	r = go_parse_range(trimmed, &range, &err);
	if (r == -ENOMEM)
		return kiln_error(ctx, ENOMEM, "out of memory");
	if (r < 0)
		return kiln_error(ctx, EINVAL, "error parsing Talos version constraint: %s",
				  strbuf_str(&err));
	if (kiln_semver_range_match(range, &core))
		return 0;

	/* Talos prints the constraint as it is; a line break would forge a second message */
	if (has_control(constraint)) {
		q = quote_for_message(constraint, strlen(constraint), RANGE_MAX);
		if (!q)
			return kiln_error(ctx, ENOMEM, "out of memory");
	}
	return kiln_error(ctx, ERANGE,
			  "version constraint %s can't be satisfied with Talos version %s",
			  q ? q : constraint, talos_version + (talos_version[0] == 'v'));
}
