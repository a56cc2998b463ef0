/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Credentials from the files podman, skopeo, buildah and docker write, read
 * in containers/image's order and with its matching rules, so that a
 * `podman login` or `docker login` is all a user needs. These files are
 * hostile input like any other JSON, and hold secrets: nothing from an
 * "auth" value is ever put in a message.
 */
#include <fcntl.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "fileio.h"
#include "json-parse.h"
#include "log.h"
#include "registry-internal.h"

#define AUTH_FILE_MAX (4u << 20)

struct auth_path {
	char *path;
	bool legacy; /* ~/.dockercfg: the entries are the top-level object, no "auths" */
};

static void auth_paths_free(struct auth_path **v)
{
	for (struct auth_path *p = *v; p && p->path; p++)
		free(p->path);
	free(*v);
}

static int add_path(struct auth_path **v, size_t *n, bool legacy, const char *fmt, ...)
    _printf_(4, 5);

static int add_path(struct auth_path **v, size_t *n, bool legacy, const char *fmt, ...)
{
	struct auth_path *nv;
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	nv = realloc(*v, (*n + 2) * sizeof(*nv));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	nv[*n] = (struct auth_path){ s, legacy };
	nv[++*n] = (struct auth_path){ 0 };
	*v = nv;
	return 0;
}

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* containers/image's getAuthFilePaths(), with $REGISTRY_AUTH_FILE as podman's --authfile default */
static int auth_paths(const char *auth_file, struct auth_path **ret)
{
	_cleanup_(auth_paths_free) struct auth_path *v = NULL;
	const char *home = env_nonempty("HOME"), *e;
	size_t n = 0;
	int r = 0;

	if (auth_file) {
		r = add_path(&v, &n, false, "%s", auth_file);
		goto out;
	}
	if ((e = env_nonempty("REGISTRY_AUTH_FILE")))
		r = add_path(&v, &n, false, "%s", e);
	if (r >= 0 && (e = env_nonempty("XDG_RUNTIME_DIR")))
		r = add_path(&v, &n, false, "%s/containers/auth.json", e);
	else if (r >= 0)
		r = add_path(&v, &n, false, "/run/containers/%u/auth.json", (unsigned)getuid());
	if (r >= 0 && (e = env_nonempty("XDG_CONFIG_HOME")))
		r = add_path(&v, &n, false, "%s/containers/auth.json", e);
	else if (r >= 0 && home)
		r = add_path(&v, &n, false, "%s/.config/containers/auth.json", home);
	if (r >= 0 && (e = env_nonempty("DOCKER_CONFIG")))
		r = add_path(&v, &n, false, "%s/config.json", e);
	else if (r >= 0 && home)
		r = add_path(&v, &n, false, "%s/.docker/config.json", home);
	if (r >= 0 && home)
		r = add_path(&v, &n, true, "%s/.dockercfg", home);
out:
	if (r < 0)
		return r;
	if (!v) {
		v = calloc(1, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(v);
	return 0;
}

/* The registry a key names, as containers/image's normalizeAuthFileKey() gives it. */
static char *normalize_key(const char *key, bool legacy)
{
	const char *s = key;
	bool had_scheme = false;
	char *r;

	if (strncmp(s, "http://", 7) == 0) {
		s += 7;
		had_scheme = true;
	} else if (strncmp(s, "https://", 8) == 0) {
		s += 8;
		had_scheme = true;
	}
	r = (legacy || had_scheme) ? strndup(s, strcspn(s, "/")) : strdup(s);
	if (!r)
		return NULL;
	if (streq(r, "docker.io") || streq(r, "registry-1.docker.io")) {
		free(r);
		r = strdup("index.docker.io");
	}
	return r;
}

/* The entry for @domain/@path: exact keys, longest first, then normalized registry keys. */
static const struct json_member *find_entry(const struct json_value *auths, bool legacy,
					    const char *domain, const char *path)
{
	_cleanup_free_ char *want = NULL, *norm_domain = NULL;
	size_t len;

	if (!auths || auths->type != JSON_OBJECT)
		return NULL;
	if (asprintf(&want, "%s%s%s", domain, path ? "/" : "", strempty(path)) < 0)
		return NULL;
	len = strlen(want);
	for (;;) {
		for (size_t i = 0; i < auths->obj.n; i++) {
			const struct json_member *m = &auths->obj.m[i];

			if (m->key_len == len && memcmp(m->key, want, len) == 0)
				return m;
		}
		/* "host/ns/repo" -> "host/ns" -> "host" */
		while (len > strlen(domain) && want[len - 1] != '/')
			len--;
		if (len <= strlen(domain))
			break;
		want[--len] = '\0';
	}
	norm_domain = normalize_key(domain, false);
	if (!norm_domain)
		return NULL;
	for (size_t i = 0; i < auths->obj.n; i++) {
		const struct json_member *m = &auths->obj.m[i];
		_cleanup_free_ char *k = NULL;

		if (strlen(m->key) != m->key_len)
			continue;
		k = normalize_key(m->key, legacy);
		if (k && streq(k, norm_domain))
			return m;
	}
	return NULL;
}

static int decode_entry(struct kiln_ctx *ctx, const char *file, const struct json_member *m,
			struct kiln_credentials *ret)
{
	_cleanup_free_ char *qkey = quote_for_message(m->key, m->key_len, 100);
	_cleanup_free_ char *plain = NULL;
	const char *auth = json_get_string(m->value, "auth");
	struct kiln_credentials cr = { 0 };
	size_t len;
	char *colon;

	if (!qkey)
		return -ENOMEM;
	if (m->value->type != JSON_OBJECT)
		return kiln_error(ctx, EINVAL, "%s: the entry \"%s\" is not an object", file, qkey);
	if (!auth || !*auth)
		return 0; /* an entry without "auth" means anonymous, as in containers/image */
	if (base64_decode(auth, &plain, &len) < 0)
		return kiln_error(ctx, EINVAL,
				  "%s: the \"auth\" of \"%s\" is not padded base64 of "
				  "\"user:password\"",
				  file, qkey);
	colon = memchr(plain, ':', len);
	if (!colon || memchr(plain, '\0', len)) {
		explicit_bzero(plain, len);
		return kiln_error(ctx, EINVAL,
				  "%s: the \"auth\" of \"%s\" does not decode to \"user:password\"",
				  file, qkey);
	}
	*colon = '\0';
	cr.username = strdup(plain);
	cr.password = strdup(colon + 1);
	explicit_bzero(plain, len);
	if (asprintf(&cr.source, "%s (key \"%s\")", file, qkey) < 0)
		cr.source = NULL;
	if (!cr.username || !cr.password || !cr.source) {
		kiln_credentials_release(&cr);
		return -ENOMEM;
	}
	*ret = cr;
	return 1;
}

void kiln_credentials_release(struct kiln_credentials *c)
{
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->username);
	free(c->source);
	*c = (struct kiln_credentials){ 0 };
}

static void warn_helpers(struct kiln_ctx *ctx, const char *file, const struct json_value *root,
			 const char *domain)
{
	const struct json_value *h = json_get(root, "credHelpers");

	if ((h && json_get(h, domain)) || json_get_string(root, "credsStore"))
		kiln_log(ctx, KILN_LOG_WARNING,
			 "%s names a credential helper for %s; kiln does not run helpers "
			 "(put the credentials in an auth.json, for example with podman login)",
			 file, domain);
}

int kiln_credentials_lookup(struct kiln_ctx *ctx, const char *auth_file, const char *domain,
			    const char *path, struct kiln_credentials *ret, char **ret_searched)
{
	_cleanup_(auth_paths_free) struct auth_path *paths = NULL;
	_cleanup_strbuf_ struct strbuf searched = STRBUF_INIT;
	int r;

	r = auth_paths(auth_file, &paths);
	if (r < 0)
		return r;
	for (struct auth_path *p = paths; p->path; p++) {
		_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
		_cleanup_free_ char *text = NULL;
		const struct json_value *root;
		const struct json_member *m;
		size_t len;

		if (strbuf_addf(&searched, "%s%s", searched.len ? ", " : "", p->path) < 0)
			return -ENOMEM;
		r = read_file_at(AT_FDCWD, p->path, AUTH_FILE_MAX, &text, &len);
		if (r == -ENOENT || r == -ENOTDIR)
			continue;
		if (r < 0) {
			/* podman stops here too: a file it cannot read may hold the entry */
			return kiln_error(ctx, r, "cannot read the auth file %s: %s", p->path,
					  strerror(-r));
		}
		r = json_parse(ctx, p->path, text, len, &doc);
		explicit_bzero(text, len);
		if (r < 0)
			return -EINVAL;
		root = json_doc_root(doc);
		m = find_entry(p->legacy ? root : json_get(root, "auths"), p->legacy, domain, path);
		if (!m) {
			if (!p->legacy)
				warn_helpers(ctx, p->path, root, domain);
			continue;
		}
		/* the first file holding an entry wins, even an entry that does not decode */
		return decode_entry(ctx, p->path, m, ret);
	}
	if (ret_searched) {
		char *s = strbuf_detach(&searched, NULL);

		if (!s)
			return -ENOMEM;
		*ret_searched = s;
	}
	return 0;
}
