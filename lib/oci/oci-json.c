/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The field readers and writers shared by the image model's parsers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "oci-json.h"
#include "strbuf.h"

int oci_bad(const struct oci_parse *p, const char *field, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (field && *field)
		return kiln_error(p->ctx, EBADMSG, "%s: %s: %s", p->what, field, strbuf_str(&sb));
	return kiln_error(p->ctx, EBADMSG, "%s: %s", p->what, strbuf_str(&sb));
}

/* "field.key", or "key" at the top level */
static void member_path(char *buf, size_t size, const char *field, const char *key)
{
	snprintf(buf, size, "%s%s%s", strempty(field), field && *field ? "." : "", key);
}

bool oci_strdup(const char *s, char **ret)
{
	char *copy = NULL;

	if (s && !(copy = strdup(s)))
		return false;
	*ret = copy;
	return true;
}

static const char *type_name(enum json_type t)
{
	switch (t) {
	case JSON_NULL:
		return "null";
	case JSON_FALSE:
	case JSON_TRUE:
		return "a boolean";
	case JSON_NUMBER:
		return "a number";
	case JSON_STRING:
		return "a string";
	case JSON_ARRAY:
		return "an array";
	case JSON_OBJECT:
		return "an object";
	}
	return "?";
}

/* A decoded JSON string as a C string; strings holding NUL are refused, C cannot carry them. */
static int copy_string(const struct oci_parse *p, const struct json_value *v, const char *path,
		       char **ret)
{
	char *s;

	if (v->type != JSON_STRING)
		return oci_bad(p, path, "expected a string, got %s", type_name(v->type));
	if (strlen(v->str.s) != v->str.len)
		return oci_bad(p, path, "a NUL character in a string");
	s = strdup(v->str.s);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int oci_get_string(const struct oci_parse *p, const struct json_value *obj, const char *field,
		   const char *key, bool required, char **ret)
{
	const struct json_value *v = json_get(obj, key);
	char path[160];

	member_path(path, sizeof(path), field, key);
	if (!v || (v->type == JSON_NULL && !required)) {
		if (required)
			return oci_bad(p, path, "missing");
		*ret = NULL;
		return 0;
	}
	return copy_string(p, v, path, ret);
}

void oci_strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n && v; i++)
		free(v[i]);
	free(v);
}

int oci_get_strings(const struct oci_parse *p, const struct json_value *obj, const char *field,
		    const char *key, char ***ret, size_t *ret_n)
{
	const struct json_value *v = json_get(obj, key);
	char path[160], item[200];
	char **out;
	int r;

	member_path(path, sizeof(path), field, key);
	if (v && v->type != JSON_NULL && v->type != JSON_ARRAY)
		return oci_bad(p, path, "expected an array of strings, got %s", type_name(v->type));
	if (!v || v->type == JSON_NULL || v->arr.n == 0) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	out = calloc(v->arr.n, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < v->arr.n; i++) {
		snprintf(item, sizeof(item), "%s[%zu]", path, i);
		r = copy_string(p, v->arr.v[i], item, &out[i]);
		if (r < 0) {
			oci_strings_free(out, i);
			return r;
		}
	}
	*ret = out;
	*ret_n = v->arr.n;
	return 0;
}

int oci_strings_copy(char *const *v, size_t n, char ***ret)
{
	char **out;

	if (n == 0) {
		*ret = NULL;
		return 0;
	}
	out = calloc(n, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(v[i]);
		if (!out[i]) {
			oci_strings_free(out, i);
			return -ENOMEM;
		}
	}
	*ret = out;
	return 0;
}

void oci_annotations_free(struct kiln_annotation *a, size_t n)
{
	for (size_t i = 0; i < n && a; i++) {
		free(a[i].key);
		free(a[i].value);
	}
	free(a);
}

static int annotation_cmp(const void *a, const void *b)
{
	const struct kiln_annotation *x = a, *y = b;

	return strcmp(x->key, y->key);
}

int oci_get_annotations(const struct oci_parse *p, const struct json_value *obj, const char *field,
			const char *key, struct kiln_annotation **ret, size_t *ret_n)
{
	const struct json_value *v = json_get(obj, key);
	struct kiln_annotation *out;
	char path[160], item[240];
	size_t n = 0;
	int r;

	member_path(path, sizeof(path), field, key);
	if (v && v->type != JSON_NULL && v->type != JSON_OBJECT)
		return oci_bad(p, path, "expected an object of strings, got %s",
			       type_name(v->type));
	if (!v || v->type == JSON_NULL || v->obj.n == 0) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	out = calloc(v->obj.n, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (; n < v->obj.n; n++) {
		const struct json_member *m = &v->obj.m[n];

		snprintf(item, sizeof(item), "%s[\"%.60s\"]", path, m->key);
		if (strlen(m->key) != m->key_len) {
			r = oci_bad(p, path, "a NUL character in a key");
			goto fail;
		}
		r = copy_string(p, m->value, item, &out[n].value);
		if (r < 0)
			goto fail;
		out[n].key = strdup(m->key);
		if (!out[n].key) {
			r = -ENOMEM;
			goto fail;
		}
	}
	/* keys are unique (the parser refuses duplicates), so the order is total */
	qsort(out, n, sizeof(*out), annotation_cmp);
	*ret = out;
	*ret_n = n;
	return 0;
fail:
	/* calloc()ed: the entries not reached are NULL */
	oci_annotations_free(out, v->obj.n);
	return r;
}

int oci_annotations_copy(const struct kiln_annotation *a, size_t n, struct kiln_annotation **ret)
{
	struct kiln_annotation *out;

	if (n == 0) {
		*ret = NULL;
		return 0;
	}
	out = calloc(n, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		out[i].key = strdup(a[i].key);
		out[i].value = strdup(a[i].value);
		if (!out[i].key || !out[i].value) {
			oci_annotations_free(out, i + 1);
			return -ENOMEM;
		}
	}
	*ret = out;
	return 0;
}

int oci_check_schema_version(const struct oci_parse *p, const struct json_value *root)
{
	const struct json_value *v = json_get(root, "schemaVersion");
	uint64_t n;

	if (!v)
		return oci_bad(p, "schemaVersion", "missing");
	if (json_get_u64(v, &n) < 0 || n != 2)
		return oci_bad(p, "schemaVersion", "must be 2");
	return 0;
}

/* The decoder's own check: one rule for what counts as base64. */
static bool is_base64(const char *s)
{
	_cleanup_free_ char *decoded = NULL;

	return base64_decode(s, &decoded, NULL) >= 0;
}

/* RFC 6838: type "/" subtype, restricted-name characters, parameters allowed after ";" */
static bool is_media_type(const char *s)
{
	size_t n = strlen(s);
	bool slash = false;

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == ';')
			return slash && i > 0 && s[i - 1] != '/';
		if (c == '/') {
			if (slash || i == 0 || i + 1 == n)
				return false;
			slash = true;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("!#$&-^_.+", c)))
			return false;
	}
	return slash;
}

int oci_get_artifact_type(const struct oci_parse *p, const struct json_value *obj,
			  const char *field, char **ret)
{
	_cleanup_free_ char *t = NULL;
	int r;

	r = oci_get_string(p, obj, field, "artifactType", false, &t);
	if (r < 0)
		return r;
	if (t && !is_media_type(t))
		return oci_bad(p, field, "artifactType is not a media type");
	*ret = TAKE_PTR(t);
	return 0;
}

static int parse_platform(const struct oci_parse *p, const struct json_value *v, const char *field,
			  struct kiln_platform **ret)
{
	_cleanup_(kiln_platform_release) struct kiln_platform pl = { 0 };
	struct kiln_platform *out;
	int r;

	if (v->type != JSON_OBJECT)
		return oci_bad(p, field, "expected an object, got %s", type_name(v->type));
	r = oci_get_string(p, v, field, "architecture", true, &pl.architecture);
	if (r < 0)
		return r;
	r = oci_get_string(p, v, field, "os", true, &pl.os);
	if (r < 0)
		return r;
	r = oci_get_string(p, v, field, "variant", false, &pl.variant);
	if (r < 0)
		return r;
	r = oci_get_string(p, v, field, "os.version", false, &pl.os_version);
	if (r < 0)
		return r;
	if (!*pl.architecture || !*pl.os)
		return oci_bad(p, field, "empty os or architecture");
	out = malloc(sizeof(*out));
	if (!out)
		return -ENOMEM;
	*out = pl;
	pl = (struct kiln_platform){ 0 };
	*ret = out;
	return 0;
}

int oci_parse_descriptor(const struct oci_parse *p, const struct json_value *v, const char *field,
			 struct kiln_descriptor *ret)
{
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor d = { 0 };
	_cleanup_free_ char *digest = NULL;
	const struct json_value *size, *platform;
	char path[200];
	int r;

	if (v->type != JSON_OBJECT)
		return oci_bad(p, field, "expected a descriptor object, got %s",
			       type_name(v->type));
	r = oci_get_string(p, v, field, "mediaType", true, &d.media_type);
	if (r < 0)
		return r;
	if (!is_media_type(d.media_type)) {
		_cleanup_free_ char *q = quote_for_message(d.media_type, strlen(d.media_type), 80);

		return oci_bad(p, field, "mediaType \"%s\" is not a media type",
			       q ? q : "(out of memory)");
	}
	r = oci_get_string(p, v, field, "digest", true, &digest);
	if (r < 0)
		return r;
	r = kiln_digest_parse(p->ctx, digest, &d.digest);
	if (r < 0) {
		snprintf(path, sizeof(path), "%s%sdigest", field, *field ? "." : "");
		kiln_error_prefix(p->ctx, "%s: %s", p->what, path);
		return r == -EINVAL ? -EBADMSG : r;
	}
	snprintf(path, sizeof(path), "%s%ssize", field, *field ? "." : "");
	size = json_get(v, "size");
	if (!size)
		return oci_bad(p, path, "missing");
	/* image-spec sizes are int64 */
	if (json_get_u64(size, &d.size) < 0 || d.size > INT64_MAX)
		return oci_bad(p, path, "must be a whole number of bytes from 0 to 2^63-1");
	r = oci_get_artifact_type(p, v, field, &d.artifact_type);
	if (r < 0)
		return r;
	platform = json_get(v, "platform");
	if (platform && platform->type != JSON_NULL) {
		snprintf(path, sizeof(path), "%s%splatform", field, *field ? "." : "");
		r = parse_platform(p, platform, path, &d.platform);
		if (r < 0)
			return r;
	}
	r = oci_get_annotations(p, v, field, "annotations", &d.annotations, &d.n_annotations);
	if (r < 0)
		return r;
	r = oci_get_strings(p, v, field, "urls", &d.urls, &d.n_urls);
	if (r < 0)
		return r;
	r = oci_get_string(p, v, field, "data", false, &d.data);
	if (r < 0)
		return r;
	if (d.data && !is_base64(d.data))
		return oci_bad(p, field, "data is not base64");
	*ret = d;
	d = (struct kiln_descriptor){ 0 };
	return 0;
}

int oci_json_finish(struct json_writer *w, struct strbuf *sb, char **ret, size_t *ret_len)
{
	char *s;

	if (w->error < 0)
		return w->error;
	s = strbuf_detach(sb, ret_len);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int oci_value_to_json(const struct json_value *v, char **ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init_compact(&w, &sb);
	json_write_value(&w, v);
	return oci_json_finish(&w, &sb, ret, NULL);
}

/* Indexes of @a in key order: written sorted whatever the caller's order. */
static int sorted_order(const struct kiln_annotation *a, size_t n, size_t **ret)
{
	size_t *idx = calloc(n ? n : 1, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		/* insertion sort: annotation lists are short */
		while (j > 0 && strcmp(a[idx[j - 1]].key, a[i].key) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	*ret = idx;
	return 0;
}

void oci_write_annotations(struct json_writer *w, const char *key, const struct kiln_annotation *a,
			   size_t n)
{
	_cleanup_free_ size_t *idx = NULL;

	if (n == 0)
		return;
	if (sorted_order(a, n, &idx) < 0) {
		w->error = -ENOMEM;
		return;
	}
	json_key(w, key);
	json_begin_object(w);
	for (size_t i = 0; i < n; i++) {
		json_key(w, a[idx[i]].key);
		json_string(w, strempty(a[idx[i]].value));
	}
	json_end_object(w);
}

void oci_write_strings(struct json_writer *w, const char *key, char *const *v, size_t n)
{
	if (n == 0)
		return;
	json_key(w, key);
	json_begin_array(w);
	for (size_t i = 0; i < n; i++)
		json_string(w, strempty(v[i]));
	json_end_array(w);
}

/* image-spec's Go struct order, so kiln's bytes look like those of other tools */
int oci_write_descriptor(struct json_writer *w, const struct kiln_descriptor *d)
{
	if (!d->media_type || !kiln_digest_is_valid(d->digest.s) || d->size > INT64_MAX)
		return -EINVAL;
	json_begin_object(w);
	json_kv_string(w, "mediaType", d->media_type);
	json_kv_string(w, "digest", d->digest.s);
	json_key(w, "size");
	json_uint(w, d->size);
	oci_write_strings(w, "urls", d->urls, d->n_urls);
	oci_write_annotations(w, "annotations", d->annotations, d->n_annotations);
	if (d->data)
		json_kv_string(w, "data", d->data);
	if (d->platform) {
		const struct kiln_platform *p = d->platform;

		if (!p->architecture || !p->os)
			return -EINVAL;
		json_key(w, "platform");
		json_begin_object(w);
		json_kv_string(w, "architecture", p->architecture);
		json_kv_string(w, "os", p->os);
		if (p->os_version)
			json_kv_string(w, "os.version", p->os_version);
		if (p->variant)
			json_kv_string(w, "variant", p->variant);
		json_end_object(w);
	}
	if (d->artifact_type)
		json_kv_string(w, "artifactType", d->artifact_type);
	json_end_object(w);
	return 0;
}
