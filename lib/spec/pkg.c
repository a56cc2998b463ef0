/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pkg.yaml (bldr format v1alpha2) into struct kiln_pkg, with bldr's checks.
 *
 * bldr decodes with yaml.v3 into Go structs and then validates; we walk the
 * node tree instead, so every message can name the file, line and column of
 * the node at fault. Each mapping (package, dependency, step, source, sbom,
 * finalize entry) is read by one table-driven helper that dispatches known
 * keys and warns about unknown ones, where yaml.v3 would drop them silently.
 *
 * What bldr accepts we accept, with a few exceptions made stricter because
 * they would only fail later, far from the line at fault, or silently build
 * something else: hashes must be lowercase hex (BuildKit's digest parser
 * refuses anything else), finalize entries need both "from" and "to", list
 * items of strings may not be null, env names may not hold '=', and merge
 * keys ("<<") are refused rather than ignored.
 */
#include <stddef.h>
#include <string.h>

#include <kiln/spec.h>

#include "log.h"
#include "strbuf.h"
#include "yaml-tree.h"

/* In messages, quoted values are cut to this many bytes. */
#define QUOTE_MAX 96

struct pkg_parser {
	struct kiln_ctx *ctx;
	const char *file;
};

enum field_kind {
	FIELD_STRING, /* char * */
	FIELD_STRV, /* struct kiln_strv */
	FIELD_BOOL, /* bool */
	FIELD_FUNC, /* parsed by the field's function */
};

struct field {
	const char *key;
	enum field_kind kind;
	size_t offset; /* of the member in the object being filled */
	int (*parse)(struct pkg_parser *pp, const struct yaml_node *value, void *obj);
};

#define FIELD(k, kind, type, member) { k, kind, offsetof(type, member), NULL }
#define FIELD_FN(k, fn) { k, FIELD_FUNC, 0, fn }

const char *kiln_network_name(enum kiln_network n)
{
	static const char *const names[] = {
		[KILN_NETWORK_NONE] = "none",
		[KILN_NETWORK_DEFAULT] = "default",
		[KILN_NETWORK_HOST] = "host",
	};

	return (unsigned)n < ELEMENTSOF(names) ? names[n] : "unknown";
}

static void strv_release(struct kiln_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct kiln_strv){ 0 };
}

static void step_release(struct kiln_step *s)
{
	for (size_t i = 0; i < s->n_sources; i++) {
		free(s->sources[i].url);
		free(s->sources[i].destination);
		free(s->sources[i].sha256);
		free(s->sources[i].sha512);
	}
	free(s->sources);
	for (size_t i = 0; i < s->n_env; i++) {
		free(s->env[i].name);
		free(s->env[i].value);
	}
	free(s->env);
	strv_release(&s->cache_paths);
	strv_release(&s->secrets);
	strv_release(&s->prepare);
	strv_release(&s->build);
	strv_release(&s->install);
	strv_release(&s->test);
	if (s->sbom) {
		free(s->sbom->output_path);
		free(s->sbom->name);
		free(s->sbom->version);
		strv_release(&s->sbom->cpes);
		free(s->sbom->purl);
		strv_release(&s->sbom->licenses);
		free(s->sbom);
	}
}

void kiln_pkg_free(struct kiln_pkg *pkg)
{
	if (!pkg)
		return;
	free(pkg->name);
	free(pkg->variant);
	free(pkg->shell);
	strv_release(&pkg->install);
	for (size_t i = 0; i < pkg->n_deps; i++) {
		free(pkg->deps[i].stage);
		free(pkg->deps[i].image);
		free(pkg->deps[i].from);
		free(pkg->deps[i].to);
		free(pkg->deps[i].platform);
	}
	free(pkg->deps);
	for (size_t i = 0; i < pkg->n_steps; i++)
		step_release(&pkg->steps[i]);
	free(pkg->steps);
	for (size_t i = 0; i < pkg->n_finalize; i++) {
		free(pkg->finalize[i].from);
		free(pkg->finalize[i].to);
	}
	free(pkg->finalize);
	free(pkg->build_platform);
	free(pkg->file);
	free(pkg->dir);
	free(pkg);
}

static char *escape(const char *s, size_t len)
{
	return quote_for_message(s, len, QUOTE_MAX);
}

static int error_at(struct pkg_parser *pp, const struct yaml_node *n, const char *fmt, ...)
	_printf_(3, 4);

static int error_at(struct pkg_parser *pp, const struct yaml_node *n, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return kiln_error_at(pp->ctx, -EINVAL, pp->file, n ? n->line : 0, n ? n->col : 0, "%s",
			     strbuf_str(&sb));
}

static int oom(struct pkg_parser *pp)
{
	return kiln_error(pp->ctx, -ENOMEM, "out of memory parsing %s", pp->file);
}

/* A copy of scalar @n, the value of "@name"; NULs would cut it short silently, so refuse them. */
static int get_string(struct pkg_parser *pp, const struct yaml_node *n, const char *name,
		      char **ret)
{
	char *s;

	if (n->kind != YAML_SCALAR)
		return error_at(pp, n, "\"%s\" must be a string, got %s", name,
				yaml_kind_name(n->kind));
	if (memchr(n->scalar.text, '\0', n->scalar.len))
		return error_at(pp, n, "\"%s\" contains a NUL character; remove the \\0 escape",
				name);
	s = strdup(n->scalar.text);
	if (!s)
		return oom(pp);
	free(*ret);
	*ret = s;
	return 0;
}

static int get_strv(struct pkg_parser *pp, const struct yaml_node *n, const char *name,
		    struct kiln_strv *ret)
{
	if (n->kind != YAML_SEQUENCE)
		return error_at(pp, n, "\"%s\" must be a list of strings, got %s", name,
				yaml_kind_name(n->kind));
	strv_release(ret);
	ret->v = calloc(n->seq.n + 1, sizeof(char *));
	if (!ret->v)
		return oom(pp);
	for (size_t i = 0; i < n->seq.n; i++) {
		const struct yaml_node *item = n->seq.items[i];
		int r;

		if (item->kind != YAML_SCALAR)
			return error_at(pp, item, "items of \"%s\" must be strings, got %s", name,
					yaml_kind_name(item->kind));
		if (yaml_is_null(item))
			return error_at(pp, item,
					"item %zu of \"%s\" is empty; remove it or quote it", i + 1,
					name);
		r = get_string(pp, item, name, &ret->v[i]);
		if (r < 0)
			return r;
		ret->n = i + 1;
	}
	return 0;
}

/*
 * yaml.v3 takes the YAML 1.1 spellings too when it decodes into a Go bool,
 * so a pkg.yaml that says "runtime: yes" builds with bldr; it must with us.
 */
static int get_bool(struct pkg_parser *pp, const struct yaml_node *n, const char *name, bool *ret)
{
	static const char *const yes[] = { "true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES",
					   "on", "On", "ON" };
	static const char *const no[] = { "false", "False", "FALSE", "n", "N", "no", "No", "NO",
					  "off", "Off", "OFF" };
	_cleanup_free_ char *q = NULL;

	if (n->kind != YAML_SCALAR)
		return error_at(pp, n, "\"%s\" must be true or false, got %s", name,
				yaml_kind_name(n->kind));
	for (size_t i = 0; i < ELEMENTSOF(yes) && n->scalar.plain; i++) {
		if (streq(n->scalar.text, yes[i])) {
			*ret = true;
			return 0;
		}
		if (streq(n->scalar.text, no[i])) {
			*ret = false;
			return 0;
		}
	}
	q = escape(n->scalar.text, n->scalar.len);
	return error_at(pp, n, "\"%s\" must be true or false (unquoted), got \"%s\"", name,
			strempty(q));
}

/*
 * Fill @obj from mapping @n (a plain null counts as an empty mapping) by
 * @fields; unknown keys are warned about and skipped, as bldr skips them. A
 * null value leaves its field absent, as yaml.v3 leaves it zero.
 */
static int read_mapping(struct pkg_parser *pp, const struct yaml_node *n, const char *what,
			const struct field *fields, size_t n_fields, void *obj)
{
	if (yaml_is_null(n))
		return 0;
	if (n->kind != YAML_MAPPING)
		return error_at(pp, n, "%s must be a mapping, got %s", what,
				yaml_kind_name(n->kind));

	for (size_t i = 0; i < n->map.n; i++) {
		const struct yaml_node *key = n->map.pairs[i].key, *value = n->map.pairs[i].value;
		const struct field *f = NULL;
		void *member;
		int r = 0;

		for (size_t j = 0; j < n_fields && !f; j++)
			if (key->scalar.len == strlen(fields[j].key) &&
			    memcmp(key->scalar.text, fields[j].key, key->scalar.len) == 0)
				f = &fields[j];
		/* yaml.v3 merges "<<: *anchor": dropping that with a warning changes the build */
		if (!f && key->scalar.plain && streq(key->scalar.text, "<<"))
			return error_at(pp, key,
					"merge keys (<<) are not supported in %s; write the keys "
					"out",
					what);
		if (!f) {
			_cleanup_free_ char *q = escape(key->scalar.text, key->scalar.len);

			kiln_warn_at(pp->ctx, pp->file, key->line, key->col,
				     "unknown key \"%s\" in %s, ignoring", strempty(q), what);
			continue;
		}
		if (yaml_is_null(value))
			continue;

		member = (char *)obj + f->offset;
		switch (f->kind) {
		case FIELD_STRING:
			r = get_string(pp, value, f->key, member);
			break;
		case FIELD_STRV:
			r = get_strv(pp, value, f->key, member);
			break;
		case FIELD_BOOL:
			r = get_bool(pp, value, f->key, member);
			break;
		case FIELD_FUNC:
			r = f->parse(pp, value, obj);
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Parse list @n, the value of "@name", into a new array of @size-byte
 * elements with @one per item. The array is handed over before the first
 * item is parsed and the count grows with each, so whatever was built is
 * freed by kiln_pkg_free() when an item fails.
 */
static int read_list(struct pkg_parser *pp, const struct yaml_node *n, const char *name,
		     size_t size, void **ret_arr, size_t *ret_n,
		     int (*one)(struct pkg_parser *pp, const struct yaml_node *item, void *elem))
{
	char *arr;

	if (n->kind != YAML_SEQUENCE)
		return error_at(pp, n, "\"%s\" must be a list, got %s", name,
				yaml_kind_name(n->kind));
	arr = calloc(n->seq.n ? n->seq.n : 1, size);
	if (!arr)
		return oom(pp);
	*ret_arr = arr;
	*ret_n = 0;
	for (size_t i = 0; i < n->seq.n; i++) {
		int r;

		*ret_n = i + 1;
		r = one(pp, n->seq.items[i], arr + i * size);
		if (r < 0)
			return r;
	}
	return 0;
}

/* An empty string counts as unset, as Go's zero value does for bldr. */
static bool unset(const char *s)
{
	return !s || !*s;
}

static int set_default(struct pkg_parser *pp, char **s, const char *def)
{
	if (!unset(*s))
		return 0;
	free(*s);
	*s = strdup(def);
	return *s ? 0 : oom(pp);
}

static int parse_dep(struct pkg_parser *pp, const struct yaml_node *n, void *elem)
{
	static const struct field fields[] = {
		FIELD("stage", FIELD_STRING, struct kiln_dep, stage),
		FIELD("image", FIELD_STRING, struct kiln_dep, image),
		FIELD("from", FIELD_STRING, struct kiln_dep, from),
		FIELD("to", FIELD_STRING, struct kiln_dep, to),
		FIELD("platform", FIELD_STRING, struct kiln_dep, platform),
		FIELD("runtime", FIELD_BOOL, struct kiln_dep, runtime),
	};
	struct kiln_dep *d = elem;
	int r;

	d->line = n->line;
	d->col = n->col;
	r = read_mapping(pp, n, "dependency", fields, ELEMENTSOF(fields), d);
	if (r < 0)
		return r;

	if (!unset(d->image) && !unset(d->stage)) {
		_cleanup_free_ char *qi = escape(d->image, strlen(d->image));
		_cleanup_free_ char *qs = escape(d->stage, strlen(d->stage));

		return error_at(pp, n,
				"dependency can't have both image & stage set: \"%s\", \"%s\"; "
				"keep one of them",
				strempty(qi), strempty(qs));
	}
	if (unset(d->image) && unset(d->stage))
		return error_at(pp, n,
				"either image or stage should be set for the dependency; add "
				"\"stage: <package name>\" or \"image: <reference>\"");
	if (unset(d->image)) {
		free(d->image);
		d->image = NULL;
	} else {
		free(d->stage);
		d->stage = NULL;
	}
	if (unset(d->platform)) {
		free(d->platform);
		d->platform = NULL;
	}
	r = set_default(pp, &d->from, "/");
	if (r < 0)
		return r;
	return set_default(pp, &d->to, "/");
}

static int parse_deps(struct pkg_parser *pp, const struct yaml_node *n, void *obj)
{
	struct kiln_pkg *pkg = obj;

	return read_list(pp, n, "dependencies", sizeof(struct kiln_dep), (void **)&pkg->deps,
			 &pkg->n_deps, parse_dep);
}

static bool is_hex(char c)
{
	return c && strchr("0123456789abcdefABCDEF", c);
}

/* Go's url.Parse refuses these; bldr reports them as "error parsing source.url". */
static int check_url(struct pkg_parser *pp, const struct yaml_node *n, const char *url)
{
	_cleanup_free_ char *q = escape(url, strlen(url));
	const char *why = NULL;

	if (url[0] == ':')
		why = "missing protocol scheme";
	for (const char *p = url; *p && !why; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			why = "invalid control character in URL";
		else if (*p == '%' && !(is_hex(p[1]) && is_hex(p[2])))
			why = "invalid URL escape";
	}
	if (why)
		return error_at(pp, n, "error parsing source.url \"%s\": %s", strempty(q), why);
	return 0;
}

/*
 * bldr checks the length of each hash; we also check the digits, since
 * BuildKit refuses anything but lowercase hex only when it downloads.
 */
static int check_hash(struct pkg_parser *pp, const struct yaml_node *src, const char *key,
		      const char *url, const char *hash, size_t want)
{
	const struct yaml_node *n = yaml_map_get(src, key);
	_cleanup_free_ char *q = escape(url, strlen(url));
	size_t len = hash ? strlen(hash) : 0;

	if (len == 0)
		return error_at(pp, n && !yaml_is_null(n) ? n : src,
				"source \"%s\": source.%s can't be empty; add the %s of the file "
				"(%zu hex digits)",
				strempty(q), key, key, want);
	if (len != want)
		return error_at(pp, n,
				"source \"%s\" has a %s of %zu characters, want %zu hex digits",
				strempty(q), key, len, want);
	for (size_t i = 0; i < len; i++) {
		char c = hash[i] >= 0x20 && hash[i] < 0x7f ? hash[i] : '?';

		if (!strchr("0123456789abcdef", hash[i]))
			return error_at(pp, n,
					"source \"%s\" has a %s with '%c' at character %zu, want "
					"%zu lowercase hex digits (0-9, a-f)",
					strempty(q), key, c, i + 1, want);
	}
	return 0;
}

static int parse_source(struct pkg_parser *pp, const struct yaml_node *n, void *elem)
{
	static const struct field fields[] = {
		FIELD("url", FIELD_STRING, struct kiln_source, url),
		FIELD("destination", FIELD_STRING, struct kiln_source, destination),
		FIELD("sha256", FIELD_STRING, struct kiln_source, sha256),
		FIELD("sha512", FIELD_STRING, struct kiln_source, sha512),
	};
	struct kiln_source *s = elem;
	int r;

	s->line = n->line;
	s->col = n->col;
	r = read_mapping(pp, n, "source", fields, ELEMENTSOF(fields), s);
	if (r < 0)
		return r;

	if (unset(s->url))
		return error_at(pp, n, "source.url can't be empty; add the URL to download");
	r = check_url(pp, yaml_map_get(n, "url"), s->url);
	if (r < 0)
		return r;
	if (unset(s->destination)) {
		_cleanup_free_ char *q = escape(s->url, strlen(s->url));

		return error_at(pp, n,
				"source \"%s\": source.destination can't be empty; add the file "
				"name to save it as",
				strempty(q));
	}
	r = check_hash(pp, n, "sha256", s->url, s->sha256, 64);
	if (r < 0)
		return r;
	return check_hash(pp, n, "sha512", s->url, s->sha512, 128);
}

static int parse_sources(struct pkg_parser *pp, const struct yaml_node *n, void *obj)
{
	struct kiln_step *s = obj;

	return read_list(pp, n, "sources", sizeof(struct kiln_source), (void **)&s->sources,
			 &s->n_sources, parse_source);
}

static int env_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kiln_env *)a)->name, ((const struct kiln_env *)b)->name);
}

/* bldr sets the variables in sorted order, so we store them that way. */
static int parse_env(struct pkg_parser *pp, const struct yaml_node *n, void *obj)
{
	struct kiln_step *s = obj;

	if (n->kind != YAML_MAPPING)
		return error_at(pp, n, "\"env\" must be a mapping of names to values, got %s",
				yaml_kind_name(n->kind));
	s->env = calloc(n->map.n ? n->map.n : 1, sizeof(*s->env));
	if (!s->env)
		return oom(pp);
	for (size_t i = 0; i < n->map.n; i++) {
		const struct yaml_node *key = n->map.pairs[i].key, *value = n->map.pairs[i].value;
		struct kiln_env *e = &s->env[i];
		int r;

		s->n_env = i + 1;
		if (key->scalar.len == 0 || memchr(key->scalar.text, '=', key->scalar.len) ||
		    memchr(key->scalar.text, '\0', key->scalar.len)) {
			_cleanup_free_ char *q = escape(key->scalar.text, key->scalar.len);

			return error_at(pp, key,
					"env name \"%s\" is not a valid variable name; it must be "
					"non-empty, without '=' or NUL",
					strempty(q));
		}
		r = get_string(pp, key, "env", &e->name);
		if (r < 0)
			return r;
		/* yaml.v3 decodes a null into a map[string]string as "" */
		if (yaml_is_null(value)) {
			e->value = strdup("");
			if (!e->value)
				return oom(pp);
			continue;
		}
		r = get_string(pp, value, e->name, &e->value);
		if (r < 0)
			return r;
	}
	if (s->n_env > 1)
		qsort(s->env, s->n_env, sizeof(*s->env), env_cmp);
	return 0;
}

static int parse_network(struct pkg_parser *pp, const struct yaml_node *n, void *obj)
{
	struct kiln_step *s = obj;
	_cleanup_free_ char *text = NULL, *q = NULL;
	int r;

	r = get_string(pp, n, "network", &text);
	if (r < 0)
		return r;
	for (enum kiln_network m = KILN_NETWORK_NONE; m <= KILN_NETWORK_HOST; m++) {
		if (streq(text, kiln_network_name(m))) {
			s->network = m;
			return 0;
		}
	}
	q = escape(text, strlen(text));
	return error_at(pp, n, "unknown networkmode \"%s\"; use none, default or host",
			strempty(q));
}

static int parse_sbom(struct pkg_parser *pp, const struct yaml_node *n, void *obj)
{
	static const struct field fields[] = {
		FIELD("outputPath", FIELD_STRING, struct kiln_sbom, output_path),
		FIELD("name", FIELD_STRING, struct kiln_sbom, name),
		FIELD("version", FIELD_STRING, struct kiln_sbom, version),
		FIELD("cpes", FIELD_STRV, struct kiln_sbom, cpes),
		FIELD("purl", FIELD_STRING, struct kiln_sbom, purl),
		FIELD("licenses", FIELD_STRV, struct kiln_sbom, licenses),
	};
	struct kiln_step *s = obj;

	/* bldr's SBOM step has no required fields; it fills what is given */
	s->sbom = calloc(1, sizeof(*s->sbom));
	if (!s->sbom)
		return oom(pp);
	return read_mapping(pp, n, "sbom", fields, ELEMENTSOF(fields), s->sbom);
}

static int parse_step(struct pkg_parser *pp, const struct yaml_node *n, void *elem)
{
	static const struct field fields[] = {
		FIELD_FN("sources", parse_sources),
		FIELD_FN("env", parse_env),
		FIELD("cachePaths", FIELD_STRV, struct kiln_step, cache_paths),
		FIELD("secrets", FIELD_STRV, struct kiln_step, secrets),
		FIELD("prepare", FIELD_STRV, struct kiln_step, prepare),
		FIELD("build", FIELD_STRV, struct kiln_step, build),
		FIELD("install", FIELD_STRV, struct kiln_step, install),
		FIELD("test", FIELD_STRV, struct kiln_step, test),
		FIELD_FN("network", parse_network),
		FIELD_FN("sbom", parse_sbom),
	};
	struct kiln_step *s = elem;

	s->line = n->line;
	s->col = n->col;
	s->network = KILN_NETWORK_NONE;
	return read_mapping(pp, n, "step", fields, ELEMENTSOF(fields), s);
}

static int parse_steps(struct pkg_parser *pp, const struct yaml_node *n, void *obj)
{
	struct kiln_pkg *pkg = obj;

	return read_list(pp, n, "steps", sizeof(struct kiln_step), (void **)&pkg->steps,
			 &pkg->n_steps, parse_step);
}

static int parse_finalize_one(struct pkg_parser *pp, const struct yaml_node *n, void *elem)
{
	static const struct field fields[] = {
		FIELD("from", FIELD_STRING, struct kiln_finalize, from),
		FIELD("to", FIELD_STRING, struct kiln_finalize, to),
	};
	struct kiln_finalize *f = elem;
	int r;

	r = read_mapping(pp, n, "finalize entry", fields, ELEMENTSOF(fields), f);
	if (r < 0)
		return r;
	/* bldr would copy from or to "" without a word; say so here instead */
	if (unset(f->from))
		return error_at(pp, n,
				"finalize.from can't be empty; set it to the directory to copy "
				"out of the build, such as /rootfs");
	if (unset(f->to))
		return error_at(pp, n,
				"finalize.to can't be empty; set it to where the files go in the "
				"package, such as /");
	return 0;
}

static int parse_finalize(struct pkg_parser *pp, const struct yaml_node *n, void *obj)
{
	struct kiln_pkg *pkg = obj;

	return read_list(pp, n, "finalize", sizeof(struct kiln_finalize),
			 (void **)&pkg->finalize, &pkg->n_finalize, parse_finalize_one);
}

static int parse_variant(struct pkg_parser *pp, const struct yaml_node *n, void *obj)
{
	struct kiln_pkg *pkg = obj;
	_cleanup_free_ char *q = NULL;
	int r;

	r = get_string(pp, n, "variant", &pkg->variant);
	if (r < 0)
		return r;
	if (streq(pkg->variant, "alpine") || streq(pkg->variant, "scratch"))
		return 0;
	q = escape(pkg->variant, strlen(pkg->variant));
	return error_at(pp, n, "unknown variant \"%s\"; use alpine or scratch", strempty(q));
}

static const struct field pkg_fields[] = {
	FIELD("name", FIELD_STRING, struct kiln_pkg, name),
	FIELD_FN("variant", parse_variant),
	FIELD("shell", FIELD_STRING, struct kiln_pkg, shell),
	FIELD("install", FIELD_STRV, struct kiln_pkg, install),
	FIELD_FN("dependencies", parse_deps),
	FIELD_FN("steps", parse_steps),
	FIELD_FN("finalize", parse_finalize),
	FIELD("buildPlatform", FIELD_STRING, struct kiln_pkg, build_platform),
};

/* The checks bldr's Pkg.Validate() makes across fields, once all are read. */
static int validate_pkg(struct pkg_parser *pp, const struct yaml_node *root, struct kiln_pkg *pkg)
{
	const struct yaml_node *n;

	if (unset(pkg->name)) {
		n = yaml_map_get(root, "name");
		return error_at(pp, n && !yaml_is_null(n) ? n : root,
				"package name can't be empty; set \"name\" to a name unique in the "
				"tree");
	}
	/* bldr v0.4 dropped the alpine default (bldr#183) to make non-hermetic builds visible */
	if (!pkg->variant)
		return error_at(pp, root,
				"variant is required; set \"variant\" to scratch, or to alpine for "
				"a build that uses Alpine's packages");
	if (pkg->n_steps > 0 && pkg->n_finalize == 0)
		return error_at(pp, yaml_map_get(root, "steps"),
				"finalize steps are missing, this is going to lead to empty build; "
				"add \"finalize\" with the directories to keep, such as "
				"{from: /rootfs, to: /}");
	if (unset(pkg->build_platform)) {
		free(pkg->build_platform);
		pkg->build_platform = NULL;
	}
	return set_default(pp, &pkg->shell, "/bin/sh");
}

int kiln_pkg_parse(struct kiln_ctx *ctx, const char *file, const char *text, size_t len,
		   struct kiln_pkg **ret)
{
	struct pkg_parser pp = { .ctx = ctx, .file = strempty(file) };
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc = NULL;
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = NULL;
	int r;

	r = yaml_parse(ctx, pp.file, text, len, &doc);
	if (r < 0)
		return r;
	if (!doc->root || yaml_is_null(doc->root))
		return kiln_error_at(ctx, -EINVAL, pp.file, 0, 0,
				     "empty package definition; a pkg.yaml needs at least \"name\" "
				     "and \"variant\"");
	if (doc->root->kind != YAML_MAPPING)
		return error_at(&pp, doc->root, "a package definition must be a mapping, got %s",
				yaml_kind_name(doc->root->kind));

	pkg = calloc(1, sizeof(*pkg));
	if (!pkg)
		return oom(&pp);
	r = read_mapping(&pp, doc->root, "package", pkg_fields, ELEMENTSOF(pkg_fields), pkg);
	if (r < 0)
		return r;
	r = validate_pkg(&pp, doc->root, pkg);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(pkg);
	return 0;
}
