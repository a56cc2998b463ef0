/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Image references with the rules of docker's distribution/reference
 * (ParseNormalizedNamed): the same string names the same image in kiln,
 * docker, podman and skopeo. The grammar:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [domain "/"] path          (at most 255 characters)
 *   domain     := host [":" port]            (host: DNS labels or [IPv6])
 *   path       := component ("/" component)*
 *   component  := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
 *   tag        := [A-Za-z0-9_][A-Za-z0-9._-]{0,127}
 */
#include <string.h>

#include <kiln/oci.h>

#include "log.h"
#include "strbuf.h"

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128
#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DEFAULT_DOMAIN "index.docker.io"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* Why a path component [s, s+n) is malformed, or NULL. */
static const char *check_component(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return "an empty path component";
	for (size_t j = 0; j < n; j++)
		if (s[j] >= 'A' && s[j] <= 'Z')
			return "the repository name must be lowercase";
	if (!is_lower_alnum(s[0]))
		return "a path component must start with a lowercase letter or digit";
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		/* a separator: ".", "_", "__" or a run of "-", then more alphanumerics */
		if (s[i] == '.' || s[i] == '_') {
			if (s[i] == '_' && i + 1 < n && s[i + 1] == '_')
				i++;
			i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return "a path component may only hold [a-z0-9] separated by '.', '_', "
			       "'__' or '-'";
		}
		if (i == n || !is_lower_alnum(s[i]))
			return "a separator ('.', '_', '__', '-') must be followed by a letter or "
			       "digit";
	}
	return NULL;
}

static const char *check_path(const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			const char *why = check_component(s + start, i - start);

			if (why)
				return why;
			start = i + 1;
		}
	}
	return NULL;
}

/* host[:port], host being DNS labels (upper case allowed) or a bracketed IPv6 address */
static const char *check_domain(const char *s, size_t n)
{
	size_t host_end = n;

	if (n == 0)
		return "an empty domain";
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close || close == s + 1)
			return "an IPv6 domain must be a bracketed address such as [::1]";
		for (const char *p = s + 1; p < close; p++)
			if (!(is_alnum(*p) || *p == ':' || *p == '.'))
				return "bad character in the IPv6 address";
		host_end = (size_t)(close - s) + 1;
		if (host_end < n && s[host_end] != ':')
			return "junk after the IPv6 address";
	} else {
		const char *colon = memchr(s, ':', n);
		size_t label = 0;

		if (colon)
			host_end = (size_t)(colon - s);
		if (host_end == 0)
			return "an empty host name";
		for (size_t i = 0; i <= host_end; i++) {
			if (i == host_end || s[i] == '.') {
				if (label == 0)
					return "an empty label in the host name";
				if (s[i - 1] == '-')
					return "a host name label must not end with '-'";
				label = 0;
				continue;
			}
			if (!is_alnum(s[i]) && s[i] != '-')
				return "a host name may only hold letters, digits, '-' and '.'";
			if (label == 0 && s[i] == '-')
				return "a host name label must not start with '-'";
			label++;
		}
	}
	if (host_end < n) {
		size_t digits = n - host_end - 1;

		if (digits == 0)
			return "an empty port";
		for (size_t i = host_end + 1; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return "the port must be a number";
	}
	return NULL;
}

static const char *check_tag(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return "an empty tag";
	if (n > TAG_MAX_LEN)
		return "a tag is at most 128 characters";
	if (!is_alnum(s[0]) && s[0] != '_')
		return "a tag must start with a letter, digit or '_'";
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("._-", s[i]))
			return "a tag may only hold letters, digits, '_', '.' and '-'";
	return NULL;
}

/* docker's rule: the first component names a registry only if it could not be a repository */
static bool looks_like_domain(const char *s, size_t n)
{
	if (n == 9 && memcmp(s, "localhost", 9) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == ':' || (s[i] >= 'A' && s[i] <= 'Z'))
			return true;
	return false;
}

static bool is_hex64(const char *s)
{
	size_t n = strlen(s);

	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

_printf_(3, 4) static int ref_error(struct kiln_ctx *ctx, const char *s, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *q = quote_for_message(s, strlen(s), 300);
	va_list ap;

	if (!q)
		return -ENOMEM;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return kiln_error(ctx, EINVAL, "invalid reference \"%s\": %s", q, strbuf_str(&sb));
}

int kiln_ref_parse(struct kiln_ctx *ctx, const char *s, struct kiln_ref *ret)
{
	_cleanup_(kiln_ref_release) struct kiln_ref r = { 0 };
	_cleanup_free_ char *name = NULL;
	const char *at, *slash, *colon, *path, *why;
	size_t name_len, first_len;
	struct kiln_digest d;
	int k;

	if (!s || !*s)
		return kiln_error(ctx, EINVAL, "invalid reference \"\": empty");
	if (strlen(s) > 4096)
		return ref_error(ctx, s, "longer than 4096 characters");
	if (is_hex64(s))
		return ref_error(ctx, s,
				 "a 64-digit hexadecimal string is an image ID, not a name; "
				 "write sha256:%s",
				 s);

	at = strchr(s, '@');
	if (at) {
		if (strchr(at + 1, '@'))
			return ref_error(ctx, s, "more than one '@'");
		k = kiln_digest_parse(ctx, at + 1, &d);
		if (k < 0) {
			_cleanup_free_ char *q = quote_for_message(s, strlen(s), 300);

			kiln_error_prefix(ctx, "invalid reference \"%s\"", strempty(q));
			return k == -ENOMEM ? k : -EINVAL;
		}
		r.digest = strdup(d.s);
		if (!r.digest)
			return -ENOMEM;
		name_len = (size_t)(at - s);
	} else {
		name_len = strlen(s);
	}
	name = strndup(s, name_len);
	if (!name)
		return -ENOMEM;
	if (!*name)
		return ref_error(ctx, s, "no repository name before '@'");

	/* a tag is after the last ':' that follows the last '/' (a port's ':' comes before) */
	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		why = check_tag(colon + 1);
		if (why)
			return ref_error(ctx, s, "%s", why);
		r.tag = strdup(colon + 1);
		if (!r.tag)
			return -ENOMEM;
		name[colon - name] = '\0';
		if (!*name)
			return ref_error(ctx, s, "no repository name before ':'");
	}

	slash = strchr(name, '/');
	first_len = slash ? (size_t)(slash - name) : 0;
	if (slash && looks_like_domain(name, first_len)) {
		why = check_domain(name, first_len);
		if (why)
			return ref_error(ctx, s, "in the domain: %s", why);
		if (first_len == strlen(LEGACY_DEFAULT_DOMAIN) &&
		    memcmp(name, LEGACY_DEFAULT_DOMAIN, first_len) == 0)
			r.domain = strdup(DEFAULT_DOMAIN);
		else
			r.domain = strndup(name, first_len);
		path = slash + 1;
	} else {
		r.domain = strdup(DEFAULT_DOMAIN);
		path = name;
	}
	if (!r.domain)
		return -ENOMEM;
	why = check_path(path, strlen(path));
	if (why)
		return ref_error(ctx, s, "%s", why);
	/* official images on Docker Hub live under library/ */
	if (streq(r.domain, DEFAULT_DOMAIN) && !strchr(path, '/')) {
		if (asprintf(&r.path, "library/%s", path) < 0) {
			r.path = NULL;
			return -ENOMEM;
		}
	} else {
		r.path = strdup(path);
		if (!r.path)
			return -ENOMEM;
	}
	if (strlen(r.domain) + 1 + strlen(r.path) > NAME_MAX_LEN)
		return ref_error(ctx, s, "the name \"%s/%s\" is longer than %d characters",
				 r.domain, r.path, NAME_MAX_LEN);
	if (!r.tag && !r.digest) {
		r.tag = strdup("latest");
		if (!r.tag)
			return -ENOMEM;
	}
	*ret = r;
	r = (struct kiln_ref){ 0 };
	return 0;
}

char *kiln_ref_string(const struct kiln_ref *r)
{
	char *s;

	if (asprintf(&s, "%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "", strempty(r->tag),
		     r->digest ? "@" : "", strempty(r->digest)) < 0)
		return NULL;
	return s;
}

char *kiln_ref_name(const struct kiln_ref *r)
{
	char *s;
	int k;

	if (r->tag)
		k = asprintf(&s, "%s/%s:%s", r->domain, r->path, r->tag);
	else
		k = asprintf(&s, "%s/%s@%s", r->domain, r->path, strempty(r->digest));
	return k < 0 ? NULL : s;
}

char *kiln_ref_repository(const struct kiln_ref *r)
{
	char *s;

	if (asprintf(&s, "%s/%s", r->domain, r->path) < 0)
		return NULL;
	return s;
}

void kiln_ref_release(struct kiln_ref *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	*r = (struct kiln_ref){ 0 };
}
