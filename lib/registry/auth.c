/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Registry auth: WWW-Authenticate challenges (RFC 7235, parsed for what
 * registries really send: several challenges in one header, quoted strings
 * with escapes, several space-separated scopes), Basic credentials, and
 * Bearer tokens from the challenge's realm, cached per realm, service and
 * scope set until they expire. Tokens and credentials are secrets: they
 * never reach an error message or a log line, and are wiped when freed.
 */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base64.h"
#include "json-parse.h"
#include "log.h"
#include "registry-internal.h"

/* A challenge header longer than this is not from a registry. */
#define CHALLENGE_MAX (16u << 10)
#define TOKEN_REPLY_MAX (1u << 20)
/* The spec's floor for expires_in; also the default. */
#define TOKEN_MIN_LIFETIME_S 60
/* Renew a little early: a token must not expire between the check and the request. */
#define TOKEN_MARGIN_MS 10000
#define TOKEN_ATTEMPTS 5

char *reg_scope(const char *repo, const char *actions)
{
	char *s;

	if (asprintf(&s, "repository:%s:%s", repo, actions) < 0)
		return NULL;
	return s;
}

/* ---- challenges ---- */

void kiln_auth_challenge_release(struct kiln_auth_challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->error);
	for (size_t i = 0; i < c->n_scopes; i++)
		free(c->scopes[i]);
	free(c->scopes);
	*c = (struct kiln_auth_challenge){ 0 };
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ows(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* A quoted-string (with \-escapes) or, leniently, anything up to a comma or blank. */
static int parse_value(const char **p, char **ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *s = *p;
	char *v;

	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (!*s)
				return -EBADMSG;
			if (*s == '\\' && !*++s)
				return -EBADMSG;
			if (strbuf_addch(&sb, *s) < 0)
				return -ENOMEM;
		}
		s++;
	} else {
		while (*s && *s != ',' && *s != ' ' && *s != '\t')
			if (strbuf_addch(&sb, *s++) < 0)
				return -ENOMEM;
	}
	v = strbuf_detach(&sb, NULL);
	if (!v)
		return -ENOMEM;
	*p = s;
	*ret = v;
	return 0;
}

static int split_scopes(struct kiln_auth_challenge *c, const char *v)
{
	while (*v) {
		const char *end = v + strcspn(v, " \t");
		char **n;

		if (end > v) {
			n = realloc(c->scopes, (c->n_scopes + 1) * sizeof(*n));
			if (!n)
				return -ENOMEM;
			c->scopes = n;
			c->scopes[c->n_scopes] = strndup(v, (size_t)(end - v));
			if (!c->scopes[c->n_scopes])
				return -ENOMEM;
			c->n_scopes++;
		}
		v = *end ? end + 1 : end;
	}
	return 0;
}

static int set_param(struct kiln_auth_challenge *c, const char *name, size_t len, char *value)
{
	char **slot = NULL;

	if (len == 5 && strncasecmp(name, "realm", 5) == 0)
		slot = &c->realm;
	else if (len == 7 && strncasecmp(name, "service", 7) == 0)
		slot = &c->service;
	else if (len == 5 && strncasecmp(name, "error", 5) == 0)
		slot = &c->error;
	else if (len == 5 && strncasecmp(name, "scope", 5) == 0) {
		int r = c->n_scopes ? 0 : split_scopes(c, value);

		free(value);
		return r;
	}
	/* the first of a repeated parameter counts; unknown ones are extensions */
	if (!slot || *slot) {
		free(value);
		return 0;
	}
	*slot = value;
	return 0;
}

static bool scheme_is(const struct kiln_auth_challenge *c, const char *s)
{
	return c->scheme && strcasecmp(c->scheme, s) == 0;
}

/* A challenge just parsed: kept when it is the first Bearer or Basic one, else dropped. */
static void keep_challenge(struct kiln_auth_challenge *cur, struct kiln_auth_challenge *bearer,
			   struct kiln_auth_challenge *basic)
{
	if (scheme_is(cur, "Bearer") && !bearer->scheme)
		*bearer = *cur;
	else if (scheme_is(cur, "Basic") && !basic->scheme)
		*basic = *cur;
	else
		kiln_auth_challenge_release(cur);
	*cur = (struct kiln_auth_challenge){ 0 };
}

int kiln_auth_challenge_parse(const char *header, struct kiln_auth_challenge *ret)
{
	struct kiln_auth_challenge cur = { 0 }, bearer = { 0 }, basic = { 0 };
	const char *p = header;
	bool any = false;
	int r = 0;

	if (!header || strlen(header) > CHALLENGE_MAX)
		return -EBADMSG;
	for (;;) {
		const char *tok;
		size_t len;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		tok = p;
		while (is_tchar(*p))
			p++;
		len = (size_t)(p - tok);
		if (len == 0) {
			r = -EBADMSG;
			goto out;
		}
		skip_ows(&p);
		if (*p == '=') {
			char *value;

			/* name=value belongs to the challenge before it */
			if (!cur.scheme) {
				r = -EBADMSG;
				goto out;
			}
			p++;
			skip_ows(&p);
			r = parse_value(&p, &value);
			if (r < 0)
				goto out;
			r = set_param(&cur, tok, len, value);
			if (r < 0)
				goto out;
			continue;
		}
		/* a token not followed by '=' starts the next challenge */
		keep_challenge(&cur, &bearer, &basic);
		cur.scheme = strndup(tok, len);
		if (!cur.scheme) {
			r = -ENOMEM;
			goto out;
		}
		any = true;
	}
	keep_challenge(&cur, &bearer, &basic);

	if (bearer.scheme || basic.scheme) {
		struct kiln_auth_challenge *pick = bearer.scheme ? &bearer : &basic;

		/* the scheme's name in its canonical case */
		free(pick->scheme);
		pick->scheme = strdup(pick == &bearer ? "Bearer" : "Basic");
		if (!pick->scheme) {
			r = -ENOMEM;
			goto out;
		}
		*ret = *pick;
		*pick = (struct kiln_auth_challenge){ 0 };
	} else {
		r = any ? -EOPNOTSUPP : -EBADMSG;
	}
out:
	kiln_auth_challenge_release(&cur);
	kiln_auth_challenge_release(&bearer);
	kiln_auth_challenge_release(&basic);
	return r;
}

/* ---- tokens ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* realm, service and the sorted scopes: one key per distinct grant */
static char *token_key(const char *realm, const char *service, const char *const *scopes)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ const char **sorted = NULL;
	size_t n = strv_length(scopes);

	sorted = calloc(n + 1, sizeof(*sorted));
	if (!sorted)
		return NULL;
	memcpy(sorted, scopes, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	if (strbuf_addf(&sb, "%s\n%s", strempty(realm), strempty(service)) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strbuf_addf(&sb, "\n%s", sorted[i]) < 0)
			return NULL;
	return strbuf_detach(&sb, NULL);
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void wipe_freep(char **s)
{
	wipe_free(*s);
}

static struct reg_token *token_find(struct reg_client *c, const char *key)
{
	for (size_t i = 0; i < c->n_tokens; i++)
		if (streq(c->tokens[i].key, key))
			return &c->tokens[i];
	return NULL;
}

static int token_store(struct reg_client *c, char *key, char *token, uint64_t expires)
{
	struct reg_token *t = token_find(c, key);

	if (t) {
		wipe_free(t->token);
		free(key);
	} else {
		if (GROW(c->tokens, c->alloc_tokens, c->n_tokens + 1) < 0) {
			free(key);
			wipe_free(token);
			return -ENOMEM;
		}
		t = &c->tokens[c->n_tokens++];
		t->key = key;
	}
	t->token = token;
	t->expires_ms = expires;
	return 0;
}

static char *basic_value(const struct kiln_credentials *cr)
{
	_cleanup_(wipe_freep) char *up = NULL, *enc = NULL;
	char *s;

	if (asprintf(&up, "%s:%s", cr->username, cr->password) < 0)
		return NULL;
	enc = base64_encode(up, strlen(up));
	if (!enc || asprintf(&s, "Basic %s", enc) < 0)
		return NULL;
	return s;
}

static bool realm_is_plain_http(const char *realm)
{
	return strncasecmp(realm, "http://", 7) == 0;
}

/* The host part of an http(s) URL, for the loopback check. */
static bool realm_is_local(const char *realm)
{
	const char *h = strstr(realm, "://"), *end;
	_cleanup_free_ char *host = NULL;

	if (!h)
		return false;
	h += 3;
	end = h + strcspn(h, "/?#");
	host = strndup(h, (size_t)(end - h));
	return host && kiln_registry_host_is_local(host);
}

int reg_token_reply_parse(struct kiln_ctx *ctx, const char *realm, const char *body, size_t len,
			  char **ret, uint64_t *ret_lifetime_s)
{
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	const struct json_value *root, *ei;
	const char *tok;
	char *copy;
	uint64_t lifetime = TOKEN_MIN_LIFETIME_S;
	int r;

	r = json_parse(ctx, "token reply", body, len, &doc);
	if (r < 0) {
		kiln_error_prefix(ctx, "token service %s", realm);
		return r;
	}
	root = json_doc_root(doc);
	tok = json_get_string(root, "token");
	if (!tok || !*tok)
		tok = json_get_string(root, "access_token");
	if (!tok || !*tok)
		return kiln_error(
		    ctx, EBADMSG,
		    "token service %s answered without a \"token\" or \"access_token\"", realm);
	ei = json_get(root, "expires_in");
	if (ei && json_get_u64(ei, &lifetime) < 0)
		return kiln_error(ctx, EBADMSG,
				  "token service %s: \"expires_in\" is not a count of seconds",
				  realm);
	if (lifetime < TOKEN_MIN_LIFETIME_S)
		lifetime = TOKEN_MIN_LIFETIME_S;
	copy = strdup(tok);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	*ret_lifetime_s = lifetime;
	return 0;
}

static int fetch_token(struct reg_conn *conn, const char *realm, const char *service,
		       const char *const *scopes, char **ret, uint64_t *ret_lifetime_s)
{
	struct reg_client *c = conn->c;
	_cleanup_(wipe_freep) char *basic = NULL;
	_cleanup_free_ char *url = NULL, *what = NULL;
	_cleanup_(http_response_release) struct http_response resp = { .content_length = -1 };
	struct http_retry retry = reg_retry(conn, TOKEN_ATTEMPTS, NULL);
	int r;

	if (!realm || !*realm)
		return kiln_error(conn->ctx, EACCES,
				  "%s asks for a bearer token but names no realm to get it from",
				  c->domain);
	if (c->have_creds && realm_is_plain_http(realm) && !realm_is_local(realm) &&
	    !c->opts->insecure)
		return kiln_error_hint(conn->ctx, KILN_HINT_INSECURE, NULL, EACCES,
				       "refusing to send credentials to the plain-HTTP token "
				       "service %s",
				       realm);
	url = strdup(realm);
	if (!url)
		return -ENOMEM;
	if (service) {
		char *u;

		r = kiln_registry_url_resolve(url, NULL, "service", service, &u);
		if (r < 0)
			goto bad_realm;
		free(url);
		url = u;
	}
	for (const char *const *s = scopes; s && *s; s++) {
		char *u;

		r = kiln_registry_url_resolve(url, NULL, "scope", *s, &u);
		if (r < 0)
			goto bad_realm;
		free(url);
		url = u;
	}
	if (c->have_creds) {
		char *u;

		r = kiln_registry_url_resolve(url, NULL, "account", c->creds.username, &u);
		if (r < 0)
			goto bad_realm;
		free(url);
		url = u;
		basic = basic_value(&c->creds);
		if (!basic)
			return -ENOMEM;
	}

	if (asprintf(&what, "token service %s", realm) < 0) {
		what = NULL;
		return -ENOMEM;
	}
	/* the token service is a host of its own: its answers are not the registry's */
	retry.server = NULL;
	for (unsigned try = 1;; try++) {
		struct http_request req = {
			.method = "GET",
			.url = url,
			.authorization = basic,
			.max_body = TOKEN_REPLY_MAX,
			.tls_verify = c->tls_verify,
		};

		r = http_perform(conn->curl, &req, &resp);
		if (r < 0 && r != -EIO)
			return kiln_error(conn->ctx, r, "token service %s: %s", realm,
					  r == -EMSGSIZE ? "reply too large" : strerror(-r));
		if (http_retry(conn->ctx, &retry, try, what, r, &resp) <= 0)
			break;
	}
	if (r < 0)
		return kiln_error(conn->ctx, EIO, "cannot reach the token service %s: %s", realm,
				  resp.curl_error);
	if (resp.status == 401 || resp.status == 403) {
		if (c->have_creds)
			return kiln_error(conn->ctx, EACCES,
					  "the token service %s refused the credentials for %s "
					  "from %s (answered %ld)",
					  realm, c->domain, c->creds.source, resp.status);
		return kiln_error(conn->ctx, EACCES,
				  "the token service %s refused anonymous access to %s "
				  "(answered %ld): no credentials for it in %s",
				  realm, c->domain, resp.status, strempty(c->searched));
	}
	if (resp.status != 200) {
		r = reg_status_error(conn, "token request", &resp);
		kiln_error_prefix(conn->ctx, "token service %s", realm);
		return r;
	}
	return reg_token_reply_parse(conn->ctx, realm, resp.body.buf, resp.body.len, ret,
				     ret_lifetime_s);

bad_realm:
	if (r == -ENOMEM)
		return r;
	return kiln_error(conn->ctx, EACCES, "%s names an unusable token realm", c->domain);
}

int reg_auth_header(struct reg_conn *conn, const char *const *scopes, char **ret)
{
	struct reg_client *c = conn->c;
	_cleanup_free_ char *key = NULL, *realm = NULL, *service = NULL;
	_cleanup_(wipe_freep) char *token = NULL;
	struct reg_token *t;
	uint64_t lifetime;
	char *v = NULL;
	int r;

	pthread_mutex_lock(&c->lock);
	switch (c->auth) {
	case REG_AUTH_NONE:
		pthread_mutex_unlock(&c->lock);
		*ret = NULL;
		return 0;
	case REG_AUTH_BASIC:
		pthread_mutex_unlock(&c->lock);
		if (c->have_creds) {
			v = basic_value(&c->creds);
			if (!v)
				return -ENOMEM;
		}
		*ret = v;
		return 0;
	case REG_AUTH_BEARER:
		break;
	}
	key = token_key(c->realm, c->service, scopes);
	realm = c->realm ? strdup(c->realm) : NULL;
	service = c->service ? strdup(c->service) : NULL;
	if (!key || (c->realm && !realm) || (c->service && !service)) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	t = token_find(c, key);
	if (t && t->token && t->expires_ms > now_ms()) {
		r = asprintf(&v, "Bearer %s", t->token);
		pthread_mutex_unlock(&c->lock);
		if (r < 0)
			return -ENOMEM;
		*ret = v;
		return 0;
	}
	pthread_mutex_unlock(&c->lock);

	/* fetched unlocked: two threads may both fetch a token, which is only a little waste */
	r = fetch_token(conn, realm, service, scopes, &token, &lifetime);
	if (r < 0)
		return r;
	if (asprintf(&v, "Bearer %s", token) < 0)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	r = token_store(c, TAKE_PTR(key), TAKE_PTR(token),
			now_ms() + lifetime * 1000 - TOKEN_MARGIN_MS);
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		wipe_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

static int replace_str(char **slot, const char *v)
{
	char *copy = NULL;

	if (v) {
		copy = strdup(v);
		if (!copy)
			return -ENOMEM;
	}
	free(*slot);
	*slot = copy;
	return 0;
}

int reg_auth_challenged(struct reg_conn *conn, const struct http_response *resp,
			const char *const *scopes, char ***extra)
{
	struct reg_client *c = conn->c;
	struct kiln_auth_challenge ch = { 0 };
	_cleanup_free_ char *key = NULL;
	struct reg_token *t;
	int r = -EBADMSG;

	/* a server may send Basic and Bearer in separate headers: prefer Bearer as the parse does
	 */
	for (char **h = resp->www_authenticate; h && *h; h++) {
		struct kiln_auth_challenge one = { 0 };

		if (kiln_auth_challenge_parse(*h, &one) < 0)
			continue;
		if (!ch.scheme || (streq(one.scheme, "Bearer") && !streq(ch.scheme, "Bearer"))) {
			kiln_auth_challenge_release(&ch);
			ch = one;
			r = 0;
		} else {
			kiln_auth_challenge_release(&one);
		}
	}
	if (r < 0)
		return kiln_error(conn->ctx, EACCES,
				  "%s answered 401 without an authentication challenge kiln "
				  "understands (Bearer or Basic)",
				  c->domain);

	pthread_mutex_lock(&c->lock);
	if (streq(ch.scheme, "Basic")) {
		c->auth = REG_AUTH_BASIC;
	} else {
		c->auth = REG_AUTH_BEARER;
		r = replace_str(&c->realm, ch.realm);
		if (r >= 0)
			r = replace_str(&c->service, ch.service);
		/* the token we hold for these scopes was not good enough: never offer it again */
		key = r >= 0 ? token_key(c->realm, c->service, scopes) : NULL;
		t = key ? token_find(c, key) : NULL;
		if (t) {
			wipe_free(t->token);
			t->token = NULL;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		kiln_auth_challenge_release(&ch);
		return r;
	}
	if (streq(ch.scheme, "Basic") && !c->have_creds) {
		kiln_auth_challenge_release(&ch);
		return kiln_error(conn->ctx, EACCES,
				  "%s requires a login (Basic auth) and there are no credentials "
				  "for it in %s",
				  c->domain, strempty(c->searched));
	}
	if (streq(ch.error, "insufficient_scope") && extra)
		for (size_t i = 0; i < ch.n_scopes && r >= 0; i++)
			r = strv_add_unique(extra, ch.scopes[i]);
	kiln_auth_challenge_release(&ch);
	return r < 0 ? r : 0;
}
