/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Registry URLs: which hosts may be spoken to in plain HTTP, where the API
 * of a domain lives, and Location headers (absolute, absolute-path or
 * relative, with 2.8's "?_state=" kept) resolved with libcurl's URL parser
 * rather than by pasting strings.
 */
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "registry-internal.h"

static bool is_loopback_ipv4(const char *s, size_t len)
{
	unsigned parts = 0, value = 0, digits = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (digits == 0 || value > 255 || (parts == 0 && value != 127))
				return false;
			parts++;
			value = digits = 0;
		} else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
			value = value * 10 + (unsigned)(s[i] - '0');
			digits++;
		} else {
			return false;
		}
	}
	return parts == 4;
}

bool kiln_registry_host_is_local(const char *domain)
{
	const char *colon, *end;
	size_t len;

	if (!domain)
		return false;
	if (domain[0] == '[') {
		end = strchr(domain, ']');
		if (!end || (end[1] != '\0' && end[1] != ':'))
			return false;
		return (size_t)(end - domain - 1) == 3 && strncmp(domain + 1, "::1", 3) == 0;
	}
	if (streq(domain, "::1"))
		return true;
	colon = strchr(domain, ':');
	len = colon ? (size_t)(colon - domain) : strlen(domain);
	if (len == 9 && strncasecmp(domain, "localhost", 9) == 0)
		return true;
	return is_loopback_ipv4(domain, len);
}

const char *kiln_registry_api_host(const char *domain)
{
	/* docker.io is only a name: the API answers at registry-1.docker.io */
	if (streq(domain, "docker.io") || streq(domain, "index.docker.io"))
		return "registry-1.docker.io";
	return domain;
}

static void curl_url_cleanupp(CURLU **u)
{
	curl_url_cleanup(*u);
}

static void curl_freep(char **s)
{
	curl_free(*s);
}

int kiln_registry_url_resolve(const char *base, const char *location, const char *key,
			      const char *value, char **ret)
{
	_cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
	_cleanup_(curl_freep) char *scheme = NULL, *s = NULL;
	_cleanup_free_ char *kv = NULL;
	char *copy;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
		return -EINVAL;
	/* on a handle holding a URL, setting another resolves it relative to the first */
	if (location && curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK)
		return -EINVAL;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		return -EINVAL;
	if (!streq(scheme, "http") && !streq(scheme, "https"))
		return -EINVAL;
	if (key) {
		if (asprintf(&kv, "%s=%s", key, value) < 0)
			return -ENOMEM;
		/* URLENCODE with APPENDQUERY encodes the value and leaves the first '=' */
		if (curl_url_set(u, CURLUPART_QUERY, kv, CURLU_APPENDQUERY | CURLU_URLENCODE) !=
		    CURLUE_OK)
			return -EINVAL;
	}
	if (curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
		return -EINVAL;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

int reg_url(struct reg_client *c, const char *repo, const char *kind, const char *ref, char **ret)
{
	char *s;

	if (asprintf(&s, "%s/v2/%s/%s%s%s", c->origin, repo, kind, ref ? "/" : "", strempty(ref)) <
	    0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* scheme, host and port of @url, as one comparable string */
static char *origin_of(const char *url)
{
	_cleanup_(curl_url_cleanupp) CURLU *u = curl_url();
	_cleanup_(curl_freep) char *scheme = NULL, *host = NULL, *port = NULL;
	char *s;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		return NULL;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		return NULL;
	if (asprintf(&s, "%s://%s:%s", scheme, host, port) < 0)
		return NULL;
	return s;
}

bool reg_url_same_origin(const struct reg_client *c, const char *url)
{
	_cleanup_free_ char *a = NULL, *b = NULL;

	if (!c->origin)
		return false;
	a = origin_of(c->origin);
	b = origin_of(url);
	return a && b && strcasecmp(a, b) == 0;
}
