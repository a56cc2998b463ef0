/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The image model of image-spec 1.1: media types, platforms, descriptors,
 * manifests and indexes (configs are in config.c). Docker's schema 2 types
 * are read as the OCI ones they mirror. Serialization is compact JSON in
 * image-spec's Go struct order, annotations sorted: equal values give
 * equal bytes, and so equal digests.
 */
#include <string.h>

#include "oci-json.h"
#include "strbuf.h"

/* ---- media types ---- */

/* @mt equals @want, parameters (";charset=utf-8") aside */
static bool media_type_is(const char *mt, const char *want)
{
	size_t n = strlen(want);

	if (!mt || strncmp(mt, want, n) != 0)
		return false;
	return mt[n] == '\0' || mt[n] == ';' || mt[n] == ' ';
}

bool kiln_media_type_is_index(const char *mt)
{
	return media_type_is(mt, KILN_MT_OCI_INDEX) || media_type_is(mt, KILN_MT_DOCKER_LIST);
}

bool kiln_media_type_is_manifest(const char *mt)
{
	return media_type_is(mt, KILN_MT_OCI_MANIFEST) ||
	       media_type_is(mt, KILN_MT_DOCKER_MANIFEST);
}

/* ---- platforms ---- */

void kiln_platform_release(struct kiln_platform *p)
{
	if (!p)
		return;
	free(p->os);
	free(p->architecture);
	free(p->variant);
	free(p->os_version);
	*p = (struct kiln_platform){ 0 };
}

int kiln_platform_copy(const struct kiln_platform *src, struct kiln_platform *dst)
{
	struct kiln_platform p = { 0 };

	if (!oci_strdup(src->os, &p.os) || !oci_strdup(src->architecture, &p.architecture) ||
	    !oci_strdup(src->variant, &p.variant) || !oci_strdup(src->os_version, &p.os_version)) {
		kiln_platform_release(&p);
		return -ENOMEM;
	}
	*dst = p;
	return 0;
}

char *kiln_platform_string(const struct kiln_platform *p)
{
	char *s;

	if (asprintf(&s, "%s/%s%s%s", strempty(p->os), strempty(p->architecture),
		     p->variant ? "/" : "", strempty(p->variant)) < 0)
		return NULL;
	return s;
}

/* The GOARCH and variant this code was compiled for: what the host runs. */
static int host_platform(const char **arch, const char **variant)
{
	*variant = NULL;
#if defined(__x86_64__)
	*arch = "amd64";
#elif defined(__aarch64__)
	*arch = "arm64";
	*variant = "v8";
#elif defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7
	*arch = "arm";
	*variant = "v7";
#elif defined(__arm__)
	*arch = "arm";
	*variant = "v6";
#elif defined(__i386__)
	*arch = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	*arch = "ppc64le";
#elif defined(__s390x__)
	*arch = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	*arch = "riscv64";
#else
	*arch = NULL;
	return -EOPNOTSUPP;
#endif
	return 0;
}

/* containerd's normalization of the names people write for architectures */
static void normalize_arch(char **arch, char **variant)
{
	static const struct {
		const char *alias, *arch, *variant;
	} aliases[] = {
		{ "x86_64", "amd64", NULL },  { "x86-64", "amd64", NULL },
		{ "aarch64", "arm64", NULL }, { "armhf", "arm", "v7" },
		{ "armel", "arm", "v6" },     { "i386", "386", NULL },
		{ "i686", "386", NULL },
	};

	for (size_t i = 0; i < ELEMENTSOF(aliases); i++) {
		if (!streq(*arch, aliases[i].alias))
			continue;
		/* the new strings are shorter than the aliases: rewrite in place */
		strcpy(*arch, aliases[i].arch);
		if (aliases[i].variant && !*variant)
			*variant = strdup(aliases[i].variant);
		return;
	}
}

static bool is_platform_word(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      strchr("._-", s[i])))
			return false;
	return true;
}

int kiln_platform_parse(struct kiln_ctx *ctx, const char *s, struct kiln_platform *ret)
{
	_cleanup_(kiln_platform_release) struct kiln_platform p = { 0 };
	_cleanup_free_ char *q = NULL;
	const char *parts[3] = { 0 };
	size_t lens[3] = { 0 }, n = 0;

	if (!s) {
		const char *arch, *variant;

		if (host_platform(&arch, &variant) < 0)
			return kiln_error(ctx, EOPNOTSUPP,
					  "kiln does not know this machine's architecture: "
					  "name a platform");
		p.os = strdup("linux");
		p.architecture = strdup(arch);
		if (!p.os || !p.architecture || !oci_strdup(variant, &p.variant))
			return -ENOMEM;
		*ret = p;
		p = (struct kiln_platform){ 0 };
		return 0;
	}
	q = quote_for_message(s, strlen(s), 100);
	if (!q)
		return -ENOMEM;
	for (const char *c = s, *start = s;; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		if (n == 3)
			return kiln_error(ctx, EINVAL,
					  "invalid platform \"%s\": more than three parts; "
					  "expected os/architecture[/variant]",
					  q);
		parts[n] = start;
		lens[n] = (size_t)(c - start);
		if (!is_platform_word(parts[n], lens[n]))
			return kiln_error(ctx, EINVAL,
					  "invalid platform \"%s\": expected "
					  "os/architecture[/variant] in lowercase, such as "
					  "linux/amd64 or linux/arm64/v8",
					  q);
		n++;
		if (*c == '\0')
			break;
		start = c + 1;
	}
	if (n < 2)
		return kiln_error(ctx, EINVAL,
				  "invalid platform \"%s\": expected os/architecture[/variant], "
				  "such as linux/amd64",
				  q);
	p.os = strndup(parts[0], lens[0]);
	p.architecture = strndup(parts[1], lens[1]);
	if (n == 3)
		p.variant = strndup(parts[2], lens[2]);
	if (!p.os || !p.architecture || (n == 3 && !p.variant))
		return -ENOMEM;
	normalize_arch(&p.architecture, &p.variant);
	*ret = p;
	p = (struct kiln_platform){ 0 };
	return 0;
}

/* The variant an image without one is taken to have (containerd's defaults). */
static const char *default_variant(const char *arch)
{
	if (streq(arch, "arm64"))
		return "v8";
	if (streq(arch, "arm"))
		return "v7";
	if (streq(arch, "amd64"))
		return "v1";
	return "";
}

const struct kiln_descriptor *kiln_index_find_platform(const struct kiln_index *idx,
						       const struct kiln_platform *want)
{
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct kiln_descriptor *d = &idx->manifests[i];

		if (d->platform && kiln_platform_matches(want, d->platform))
			return d;
	}
	if (idx->n_manifests == 1 && !idx->manifests[0].platform)
		return &idx->manifests[0];
	return NULL;
}

char *kiln_index_platforms_string(const struct kiln_index *idx)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < idx->n_manifests; i++) {
		_cleanup_free_ char *p = NULL;

		if (!idx->manifests[i].platform)
			continue;
		p = kiln_platform_string(idx->manifests[i].platform);
		if (!p || strbuf_addf(&sb, "%s%s", sb.len ? ", " : "", p) < 0)
			return NULL;
	}
	return sb.len ? strbuf_detach(&sb, NULL) : strdup("");
}

bool kiln_platform_matches(const struct kiln_platform *want, const struct kiln_platform *have)
{
	const char *wv, *hv;

	if (!streq(want->os, have->os) || !streq(want->architecture, have->architecture))
		return false;
	if (!want->variant)
		return true;
	wv = want->variant;
	hv = have->variant ? have->variant : default_variant(have->architecture);
	/* "8" and "v8" are both written */
	if (wv[0] == 'v')
		wv++;
	if (hv[0] == 'v')
		hv++;
	return streq(wv, hv);
}

/* ---- annotations ---- */

const char *kiln_annotation_get(const struct kiln_annotation *a, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (streq(a[i].key, key))
			return a[i].value;
	return NULL;
}

int kiln_annotation_set(struct kiln_annotation **a, size_t *n, const char *key, const char *value)
{
	struct kiln_annotation *v;
	char *k, *val;
	size_t pos = 0;

	for (size_t i = 0; i < *n; i++) {
		if (streq((*a)[i].key, key)) {
			val = strdup(value);
			if (!val)
				return -ENOMEM;
			free((*a)[i].value);
			(*a)[i].value = val;
			return 0;
		}
		if (strcmp((*a)[i].key, key) < 0)
			pos = i + 1;
	}
	k = strdup(key);
	val = strdup(value);
	v = realloc(*a, (*n + 1) * sizeof(**a));
	if (!k || !val || !v) {
		free(k);
		free(val);
		if (v)
			*a = v;
		return -ENOMEM;
	}
	memmove(v + pos + 1, v + pos, (*n - pos) * sizeof(*v));
	v[pos] = (struct kiln_annotation){ k, val };
	*a = v;
	(*n)++;
	return 0;
}

/* ---- descriptors ---- */

void kiln_descriptor_release(struct kiln_descriptor *d)
{
	if (!d)
		return;
	free(d->media_type);
	free(d->artifact_type);
	if (d->platform) {
		kiln_platform_release(d->platform);
		free(d->platform);
	}
	oci_annotations_free(d->annotations, d->n_annotations);
	oci_strings_free(d->urls, d->n_urls);
	free(d->data);
	*d = (struct kiln_descriptor){ 0 };
}

int kiln_descriptor_copy(const struct kiln_descriptor *src, struct kiln_descriptor *dst)
{
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor d = {
		.digest = src->digest,
		.size = src->size,
	};

	if (!oci_strdup(src->media_type, &d.media_type) ||
	    !oci_strdup(src->artifact_type, &d.artifact_type) || !oci_strdup(src->data, &d.data))
		return -ENOMEM;
	/* each count is set once its array is copied: the release frees what d holds */
	if (oci_annotations_copy(src->annotations, src->n_annotations, &d.annotations) < 0)
		return -ENOMEM;
	d.n_annotations = src->n_annotations;
	if (oci_strings_copy(src->urls, src->n_urls, &d.urls) < 0)
		return -ENOMEM;
	d.n_urls = src->n_urls;
	if (src->platform) {
		d.platform = calloc(1, sizeof(*d.platform));
		if (!d.platform || kiln_platform_copy(src->platform, d.platform) < 0)
			return -ENOMEM;
	}
	*dst = d;
	d = (struct kiln_descriptor){ 0 };
	return 0;
}

/* ---- manifests and indexes ---- */

static void descriptors_free(struct kiln_descriptor *d, size_t n)
{
	for (size_t i = 0; i < n && d; i++)
		kiln_descriptor_release(&d[i]);
	free(d);
}

static void descriptor_free(struct kiln_descriptor *d)
{
	descriptors_free(d, d ? 1 : 0);
}

void kiln_manifest_free(struct kiln_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	free(m->artifact_type);
	kiln_descriptor_release(&m->config);
	descriptors_free(m->layers, m->n_layers);
	descriptor_free(m->subject);
	oci_annotations_free(m->annotations, m->n_annotations);
	free(m);
}

void kiln_index_free(struct kiln_index *i)
{
	if (!i)
		return;
	free(i->media_type);
	free(i->artifact_type);
	descriptors_free(i->manifests, i->n_manifests);
	descriptor_free(i->subject);
	oci_annotations_free(i->annotations, i->n_annotations);
	free(i);
}

/* An array of descriptors, member @key of @root; required. */
static int parse_descriptors(const struct oci_parse *p, const struct json_value *root,
			     const char *key, struct kiln_descriptor **ret, size_t *ret_n)
{
	const struct json_value *v = json_get(root, key);
	struct kiln_descriptor *d;
	char field[64];
	int r;

	if (!v)
		return oci_bad(p, key, "missing");
	if (v->type != JSON_ARRAY)
		return oci_bad(p, key, "expected an array of descriptors");
	if (v->arr.n == 0) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	d = calloc(v->arr.n, sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < v->arr.n; i++) {
		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		r = oci_parse_descriptor(p, v->arr.v[i], field, &d[i]);
		if (r < 0) {
			descriptors_free(d, i);
			return r;
		}
	}
	*ret = d;
	*ret_n = v->arr.n;
	return 0;
}

static int parse_subject(const struct oci_parse *p, const struct json_value *root,
			 struct kiln_descriptor **ret)
{
	const struct json_value *v = json_get(root, "subject");
	struct kiln_descriptor *d;
	int r;

	if (!v || v->type == JSON_NULL) {
		*ret = NULL;
		return 0;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	r = oci_parse_descriptor(p, v, "subject", d);
	if (r < 0) {
		free(d);
		return r;
	}
	*ret = d;
	return 0;
}

static int parse_root(const struct oci_parse *p, const char *json, size_t len,
		      struct json_doc **ret)
{
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	int r;

	r = json_parse(p->ctx, p->what, json, len, &doc);
	if (r < 0)
		return r;
	if (json_doc_root(doc)->type != JSON_OBJECT)
		return oci_bad(p, NULL, "expected a JSON object");
	*ret = TAKE_PTR(doc);
	return 0;
}

/*
 * What a manifest (@index false) and an index share at the top: a mediaType
 * of their own kind (a body of the other kind is told apart, for a better
 * message), schemaVersion 2 and artifactType. Fields are stored into
 * *@media_type and *@artifact_type, owned by the caller's struct, as read.
 */
static int parse_head(const struct oci_parse *p, const struct json_value *root, bool index,
		      char **media_type, char **artifact_type)
{
	const char *mine = index ? "index" : "manifest", *other = index ? "manifest" : "index";
	bool other_type, my_type;
	int r;

	r = oci_get_string(p, root, "", "mediaType", false, media_type);
	if (r < 0)
		return r;
	other_type = index ? kiln_media_type_is_manifest(*media_type)
			   : kiln_media_type_is_index(*media_type);
	if (other_type || (!*media_type && json_get(root, index ? "config" : "manifests") &&
			   !json_get(root, index ? "manifests" : "config")))
		return oci_bad(p, NULL, "this is %s %s, not %s %s", index ? "a" : "an", other,
			       index ? "an" : "a", mine);
	my_type = index ? kiln_media_type_is_index(*media_type)
			: kiln_media_type_is_manifest(*media_type);
	if (*media_type && !my_type) {
		_cleanup_free_ char *q = quote_for_message(*media_type, strlen(*media_type), 80);

		return oci_bad(p, "mediaType", "\"%s\" is not %s %s media type (%s or %s)",
			       q ? q : "", index ? "an" : "a", mine,
			       index ? KILN_MT_OCI_INDEX : KILN_MT_OCI_MANIFEST,
			       index ? KILN_MT_DOCKER_LIST : KILN_MT_DOCKER_MANIFEST);
	}
	r = oci_check_schema_version(p, root);
	if (r < 0)
		return r;
	return oci_get_artifact_type(p, root, "", artifact_type);
}

int kiln_manifest_parse(struct kiln_ctx *ctx, const char *json, size_t len,
			struct kiln_manifest **ret)
{
	const struct oci_parse p = { ctx, "manifest" };
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
	const struct json_value *root, *config;
	int r;

	r = parse_root(&p, json, len, &doc);
	if (r < 0)
		return r;
	root = json_doc_root(doc);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	r = parse_head(&p, root, false, &m->media_type, &m->artifact_type);
	if (r < 0)
		return r;
	config = json_get(root, "config");
	if (!config)
		return oci_bad(&p, "config", "missing");
	r = oci_parse_descriptor(&p, config, "config", &m->config);
	if (r < 0)
		return r;
	r = parse_descriptors(&p, root, "layers", &m->layers, &m->n_layers);
	if (r < 0)
		return r;
	r = parse_subject(&p, root, &m->subject);
	if (r < 0)
		return r;
	r = oci_get_annotations(&p, root, "", "annotations", &m->annotations, &m->n_annotations);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

int kiln_index_parse(struct kiln_ctx *ctx, const char *json, size_t len, struct kiln_index **ret)
{
	const struct oci_parse p = { ctx, "index" };
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	const struct json_value *root;
	int r;

	r = parse_root(&p, json, len, &doc);
	if (r < 0)
		return r;
	root = json_doc_root(doc);
	idx = calloc(1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	r = parse_head(&p, root, true, &idx->media_type, &idx->artifact_type);
	if (r < 0)
		return r;
	r = parse_descriptors(&p, root, "manifests", &idx->manifests, &idx->n_manifests);
	if (r < 0)
		return r;
	r = parse_subject(&p, root, &idx->subject);
	if (r < 0)
		return r;
	r = oci_get_annotations(&p, root, "", "annotations", &idx->annotations,
				&idx->n_annotations);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(idx);
	return 0;
}

/* The fields a manifest and an index begin with, in the order the spec's examples use. */
static void write_head(struct json_writer *w, const char *media_type, const char *artifact_type)
{
	json_begin_object(w);
	json_key(w, "schemaVersion");
	json_int(w, 2);
	if (media_type)
		json_kv_string(w, "mediaType", media_type);
	if (artifact_type)
		json_kv_string(w, "artifactType", artifact_type);
}

/* "@key": [descriptors], written even when empty: both arrays are required. */
static int write_descriptors(struct json_writer *w, const char *key,
			     const struct kiln_descriptor *d, size_t n)
{
	int r;

	json_key(w, key);
	json_begin_array(w);
	for (size_t i = 0; i < n; i++) {
		r = oci_write_descriptor(w, &d[i]);
		if (r < 0)
			return r;
	}
	json_end_array(w);
	return 0;
}

/* The fields a manifest and an index end with, and the end of the object. */
static int write_tail(struct json_writer *w, const struct kiln_descriptor *subject,
		      const struct kiln_annotation *annotations, size_t n_annotations)
{
	int r;

	if (subject) {
		json_key(w, "subject");
		r = oci_write_descriptor(w, subject);
		if (r < 0)
			return r;
	}
	oci_write_annotations(w, "annotations", annotations, n_annotations);
	json_end_object(w);
	return 0;
}

int kiln_manifest_to_json(const struct kiln_manifest *m, char **ret, size_t *ret_len)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;
	int r;

	json_init_compact(&w, &sb);
	write_head(&w, m->media_type, m->artifact_type);
	json_key(&w, "config");
	r = oci_write_descriptor(&w, &m->config);
	if (r >= 0)
		r = write_descriptors(&w, "layers", m->layers, m->n_layers);
	if (r >= 0)
		r = write_tail(&w, m->subject, m->annotations, m->n_annotations);
	if (r < 0)
		return r;
	return oci_json_finish(&w, &sb, ret, ret_len);
}

int kiln_index_to_json(const struct kiln_index *i, char **ret, size_t *ret_len)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;
	int r;

	json_init_compact(&w, &sb);
	write_head(&w, i->media_type, i->artifact_type);
	r = write_descriptors(&w, "manifests", i->manifests, i->n_manifests);
	if (r >= 0)
		r = write_tail(&w, i->subject, i->annotations, i->n_annotations);
	if (r < 0)
		return r;
	return oci_json_finish(&w, &sb, ret, ret_len);
}
