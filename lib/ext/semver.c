/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Versions as github.com/blang/semver/v4 (v4.0.0, the one Talos links) reads
 * and orders them: Parse and Compare, with blang's error messages word for
 * word and Go's %q quoting. Version ranges, and Talos's check of an
 * extension's compatibility.talos.version, are in semver-range.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <kiln/ext.h>

#include "go-quote.h"
#include "log.h"
#include "semver-internal.h"
#include "strbuf.h"

/* Real versions are a dozen bytes; this bounds the work on hostile ones. */
#define VERSION_MAX 1024

/* An error with Go's formatting: %q quotes a C string as Go does, %s copies it. */
int semver_go_error(struct strbuf *err, const char *fmt, ...)
{
	va_list ap;
	int r = 0;

	va_start(ap, fmt);
	for (const char *p = fmt; *p && r >= 0; p++) {
		const char *arg;

		if (*p != '%') {
			r = strbuf_addch(err, *p);
			continue;
		}
		arg = va_arg(ap, const char *);
		if (*++p == 'q')
			r = strbuf_add_go_quoted(err, arg, strlen(arg), SIZE_MAX);
		else
			r = strbuf_adds(err, arg);
	}
	va_end(ap);
	return r < 0 ? -ENOMEM : -EINVAL;
}

static bool all_in(const char *s, size_t len, const char *set)
{
	for (size_t i = 0; i < len; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

#define NUMBERS "0123456789"
#define ALPHANUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-" NUMBERS

/* strconv.ParseUint(s, 10, 64) on a string of digits only, with its errors. */
static int go_parse_uint(const char *s, size_t len, uint64_t *ret, struct strbuf *err)
{
	_cleanup_free_ char *z = strndup(s, len);
	uint64_t v = 0;

	if (!z)
		return -ENOMEM;
	if (len == 0)
		return semver_go_error(err, "strconv.ParseUint: parsing %q: invalid syntax", z);
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return semver_go_error(
			    err, "strconv.ParseUint: parsing %q: value out of range", z);
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

static bool has_leading_zeroes(const char *s, size_t len)
{
	return len > 1 && s[0] == '0';
}

/* Major, minor or patch: digits, no leading zero, fits in 64 bits. */
static int parse_number(const char *s, size_t len, const char *what, uint64_t *ret,
			struct strbuf *err)
{
	_cleanup_free_ char *z = strndup(s, len);

	if (!z)
		return -ENOMEM;
	if (!all_in(s, len, NUMBERS))
		return semver_go_error(err, "Invalid character(s) found in %s number %q", what, z);
	if (has_leading_zeroes(s, len))
		return semver_go_error(err, "%s number must not contain leading zeroes %q",
				       streq(what, "major") ? "Major" :
				       streq(what, "minor") ? "Minor" : "Patch",
				       z);
	return go_parse_uint(s, len, ret, err);
}

/* Check each dot-separated identifier of a prerelease (@build false) or build metadata. */
static int check_identifiers(const char *s, size_t len, bool build, struct strbuf *err)
{
	const char *end = s + len;

	for (const char *p = s;;) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t n = (size_t)((dot ? dot : end) - p);
		_cleanup_free_ char *z = strndup(p, n);
		uint64_t ignored;
		int r;

		if (!z)
			return -ENOMEM;
		if (build && n == 0)
			return semver_go_error(err, "Build meta data is empty");
		if (build && !all_in(p, n, ALPHANUM))
			return semver_go_error(
			    err, "Invalid character(s) found in build meta data %q", z);
		if (!build && n == 0)
			return semver_go_error(err, "Prerelease is empty");
		if (!build && all_in(p, n, NUMBERS)) {
			if (has_leading_zeroes(p, n))
				return semver_go_error(
				    err,
				    "Numeric PreRelease version must not contain "
				    "leading zeroes %q",
				    z);
			r = go_parse_uint(p, n, &ignored, err);
			if (r < 0)
				return r;
		} else if (!build && !all_in(p, n, ALPHANUM)) {
			return semver_go_error(err, "Invalid character(s) found in prerelease %q",
					       z);
		}
		if (!dot)
			return 0;
		p = dot + 1;
	}
}

/* blang's Parse of @len bytes at @s; the error text, blang's, goes to @err. */
int semver_go_parse_version(const char *s, size_t len, struct kiln_semver *ret, struct strbuf *err)
{
	const char *end = s + len, *dot1, *dot2, *patch, *plus, *minus, *patch_end;
	struct kiln_semver v = { 0 };
	int r;

	if (len == 0)
		return semver_go_error(err, "Version string empty");
	dot1 = memchr(s, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
	if (!dot2)
		return semver_go_error(err, "No Major.Minor.Patch elements found");

	r = parse_number(s, (size_t)(dot1 - s), "major", &v.major, err);
	if (r < 0)
		return r;
	r = parse_number(dot1 + 1, (size_t)(dot2 - dot1 - 1), "minor", &v.minor, err);
	if (r < 0)
		return r;

	/* build metadata after the first '+', then a prerelease after the first '-' before it */
	patch = dot2 + 1;
	plus = memchr(patch, '+', (size_t)(end - patch));
	patch_end = plus ? plus : end;
	minus = memchr(patch, '-', (size_t)(patch_end - patch));
	r = parse_number(patch, (size_t)((minus ? minus : patch_end) - patch), "patch", &v.patch,
			 err);
	if (r < 0)
		return r;
	if (minus) {
		r = check_identifiers(minus + 1, (size_t)(patch_end - minus - 1), false, err);
		if (r < 0)
			return r;
	}
	if (plus) {
		r = check_identifiers(plus + 1, (size_t)(end - plus - 1), true, err);
		if (r < 0)
			return r;
	}
	if (minus) {
		v.pre = strndup(minus + 1, (size_t)(patch_end - minus - 1));
		if (!v.pre)
			return -ENOMEM;
	}
	*ret = v;
	return 0;
}

void kiln_semver_release(struct kiln_semver *v)
{
	if (!v)
		return;
	free(v->pre);
	v->pre = NULL;
}

int kiln_semver_parse(struct kiln_ctx *ctx, const char *s, struct kiln_semver *ret)
{
	_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;
	_cleanup_free_ char *q = NULL;
	size_t len;
	int r;

	if (!s)
		return kiln_error(ctx, EINVAL, "no version given");
	len = strlen(s);
	if (len > VERSION_MAX)
		r = semver_go_error(&err, "longer than 1024 bytes");
	else
		r = semver_go_parse_version(s + (s[0] == 'v'), len - (s[0] == 'v'), ret, &err);
	if (r == -ENOMEM)
		return kiln_error(ctx, ENOMEM, "out of memory");
	if (r < 0) {
		q = quote_for_message(s, len, 96);
		return kiln_error(ctx, EINVAL, "invalid version \"%s\": %s", strempty(q),
				  strbuf_str(&err));
	}
	return 0;
}

/* Compare prerelease identifiers: numbers by value and before words, words bytewise. */
static int compare_identifier(const char *a, size_t la, const char *b, size_t lb)
{
	bool na = la > 0 && all_in(a, la, NUMBERS), nb = lb > 0 && all_in(b, lb, NUMBERS);
	int c;

	if (na != nb)
		return na ? -1 : 1;
	if (na) {
		/* no leading zeroes after Parse, but a hand-made struct may have them */
		while (la > 1 && *a == '0')
			a++, la--;
		while (lb > 1 && *b == '0')
			b++, lb--;
		if (la != lb)
			return la < lb ? -1 : 1;
		c = memcmp(a, b, la);
		return c < 0 ? -1 : c > 0;
	}
	c = memcmp(a, b, la < lb ? la : lb);
	if (c != 0)
		return c < 0 ? -1 : 1;
	return la == lb ? 0 : la < lb ? -1 : 1;
}

static int compare_u64(uint64_t a, uint64_t b)
{
	return a == b ? 0 : a < b ? -1 : 1;
}

int kiln_semver_compare(const struct kiln_semver *a, const struct kiln_semver *b)
{
	const char *pa, *pb, *ea, *eb;
	int c;

	if ((c = compare_u64(a->major, b->major)) || (c = compare_u64(a->minor, b->minor)) ||
	    (c = compare_u64(a->patch, b->patch)))
		return c;
	/* a release sorts after its prereleases */
	if (!a->pre || !b->pre)
		return !a->pre && !b->pre ? 0 : !a->pre ? 1 : -1;

	pa = a->pre, ea = pa + strlen(pa);
	pb = b->pre, eb = pb + strlen(pb);
	for (;;) {
		const char *da = memchr(pa, '.', (size_t)(ea - pa));
		const char *db = memchr(pb, '.', (size_t)(eb - pb));

		c = compare_identifier(pa, (size_t)((da ? da : ea) - pa), pb,
				       (size_t)((db ? db : eb) - pb));
		if (c)
			return c;
		/* more identifiers sort later */
		if (!da || !db)
			return !da && !db ? 0 : !da ? -1 : 1;
		pa = da + 1;
		pb = db + 1;
	}
}
