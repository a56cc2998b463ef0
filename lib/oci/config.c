/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Image configs (application/vnd.oci.image.config.v1+json and Docker's
 * container.image.v1+json, the same document). kiln models what it reads
 * and writes; every other member, at the top level and inside "config", is
 * kept as JSON text and written back, so that rewriting a config made by
 * another tool (docker's container_config, ExposedPorts, Healthcheck...)
 * loses nothing.
 */
#include <string.h>

#include "oci-json.h"
#include "strbuf.h"

static const char *const top_keys[] = { "created", "author", "architecture", "os",
					"os.version", "variant", "config", "rootfs",
					"history" };
static const char *const config_keys[] = { "User", "Env", "Entrypoint", "Cmd", "WorkingDir",
					   "Labels" };

static bool is_known(const char *key, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(key, keys[i]))
			return true;
	return false;
}

static void fields_free(struct kiln_json_field *f, size_t n)
{
	for (size_t i = 0; i < n && f; i++) {
		free(f[i].key);
		free(f[i].json);
	}
	free(f);
}

static void history_free(struct kiln_history *h, size_t n)
{
	for (size_t i = 0; i < n && h; i++) {
		free(h[i].created);
		free(h[i].created_by);
		free(h[i].author);
		free(h[i].comment);
	}
	free(h);
}

void kiln_image_config_free(struct kiln_image_config *c)
{
	if (!c)
		return;
	free(c->architecture);
	free(c->os);
	free(c->variant);
	free(c->os_version);
	free(c->created);
	free(c->author);
	free(c->diff_ids);
	oci_annotations_free(c->labels, c->n_labels);
	oci_strings_free(c->env, c->n_env);
	oci_strings_free(c->cmd, c->n_cmd);
	oci_strings_free(c->entrypoint, c->n_entrypoint);
	free(c->user);
	free(c->working_dir);
	history_free(c->history, c->n_history);
	fields_free(c->extra, c->n_extra);
	fields_free(c->config_extra, c->n_config_extra);
	free(c);
}

static int field_cmp(const void *a, const void *b)
{
	const struct kiln_json_field *x = a, *y = b;

	return strcmp(x->key, y->key);
}

/* The members of @obj not named in @keys, as JSON text, sorted by key. */
static int collect_extra(const struct oci_parse *p, const struct json_value *obj,
			 const char *field, const char *const *keys, size_t n_keys,
			 struct kiln_json_field **ret, size_t *ret_n)
{
	struct kiln_json_field *f;
	size_t n = 0;
	int r;

	if (obj->obj.n == 0)
		goto none;
	f = calloc(obj->obj.n, sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < obj->obj.n; i++) {
		const struct json_member *m = &obj->obj.m[i];

		if (strlen(m->key) != m->key_len) {
			fields_free(f, n);
			return oci_bad(p, field, "a NUL character in a key");
		}
		if (is_known(m->key, keys, n_keys))
			continue;
		f[n].key = strdup(m->key);
		r = f[n].key ? oci_value_to_json(m->value, &f[n].json) : -ENOMEM;
		n++;
		if (r < 0) {
			fields_free(f, n);
			return r;
		}
	}
	if (n == 0) {
		free(f);
		goto none;
	}
	qsort(f, n, sizeof(*f), field_cmp);
	*ret = f;
	*ret_n = n;
	return 0;
none:
	*ret = NULL;
	*ret_n = 0;
	return 0;
}

static int parse_inner_config(const struct oci_parse *p, const struct json_value *v,
			      struct kiln_image_config *c)
{
	int r;

	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_OBJECT)
		return oci_bad(p, "config", "expected an object");
	r = oci_get_string(p, v, "config", "User", false, &c->user);
	if (r < 0)
		return r;
	r = oci_get_strings(p, v, "config", "Env", &c->env, &c->n_env);
	if (r < 0)
		return r;
	r = oci_get_strings(p, v, "config", "Entrypoint", &c->entrypoint, &c->n_entrypoint);
	if (r < 0)
		return r;
	r = oci_get_strings(p, v, "config", "Cmd", &c->cmd, &c->n_cmd);
	if (r < 0)
		return r;
	r = oci_get_string(p, v, "config", "WorkingDir", false, &c->working_dir);
	if (r < 0)
		return r;
	r = oci_get_annotations(p, v, "config", "Labels", &c->labels, &c->n_labels);
	if (r < 0)
		return r;
	return collect_extra(p, v, "config", config_keys, ELEMENTSOF(config_keys),
			     &c->config_extra, &c->n_config_extra);
}

static int parse_rootfs(const struct oci_parse *p, const struct json_value *v,
			struct kiln_image_config *c)
{
	const struct json_value *ids;
	_cleanup_free_ char *type = NULL;
	char field[48];
	int r;

	if (!v)
		return oci_bad(p, "rootfs", "missing");
	if (v->type != JSON_OBJECT)
		return oci_bad(p, "rootfs", "expected an object");
	r = oci_get_string(p, v, "rootfs", "type", true, &type);
	if (r < 0)
		return r;
	if (!streq(type, "layers"))
		return oci_bad(p, "rootfs.type", "must be \"layers\"");
	ids = json_get(v, "diff_ids");
	if (!ids)
		return oci_bad(p, "rootfs.diff_ids", "missing");
	if (ids->type != JSON_ARRAY)
		return oci_bad(p, "rootfs.diff_ids", "expected an array of digests");
	if (ids->arr.n == 0)
		return 0;
	c->diff_ids = calloc(ids->arr.n, sizeof(*c->diff_ids));
	if (!c->diff_ids)
		return -ENOMEM;
	for (size_t i = 0; i < ids->arr.n; i++) {
		const struct json_value *d = ids->arr.v[i];

		snprintf(field, sizeof(field), "rootfs.diff_ids[%zu]", i);
		if (d->type != JSON_STRING || strlen(d->str.s) != d->str.len)
			return oci_bad(p, field, "expected a digest string");
		r = kiln_digest_parse(p->ctx, d->str.s, &c->diff_ids[i]);
		if (r < 0) {
			kiln_error_prefix(p->ctx, "%s: %s", p->what, field);
			return r == -EINVAL ? -EBADMSG : r;
		}
		c->n_diff_ids++;
	}
	return 0;
}

static int parse_history(const struct oci_parse *p, const struct json_value *v,
			 struct kiln_image_config *c)
{
	char field[40];
	int r;

	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_ARRAY)
		return oci_bad(p, "history", "expected an array");
	if (v->arr.n == 0)
		return 0;
	c->history = calloc(v->arr.n, sizeof(*c->history));
	if (!c->history)
		return -ENOMEM;
	for (size_t i = 0; i < v->arr.n; i++) {
		const struct json_value *e = v->arr.v[i], *empty;
		struct kiln_history *h = &c->history[i];

		snprintf(field, sizeof(field), "history[%zu]", i);
		c->n_history++;
		if (e->type != JSON_OBJECT)
			return oci_bad(p, field, "expected an object");
		r = oci_get_string(p, e, field, "created", false, &h->created);
		if (r < 0)
			return r;
		r = oci_get_string(p, e, field, "created_by", false, &h->created_by);
		if (r < 0)
			return r;
		r = oci_get_string(p, e, field, "author", false, &h->author);
		if (r < 0)
			return r;
		r = oci_get_string(p, e, field, "comment", false, &h->comment);
		if (r < 0)
			return r;
		empty = json_get(e, "empty_layer");
		if (empty && empty->type != JSON_TRUE && empty->type != JSON_FALSE &&
		    empty->type != JSON_NULL)
			return oci_bad(p, field, "empty_layer must be a boolean");
		h->empty_layer = empty && empty->type == JSON_TRUE;
	}
	return 0;
}

int kiln_image_config_parse(struct kiln_ctx *ctx, const char *json, size_t len,
			    struct kiln_image_config **ret)
{
	const struct oci_parse p = { ctx, "image config" };
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	_cleanup_(kiln_image_config_freep) struct kiln_image_config *c = NULL;
	const struct json_value *root;
	int r;

	r = json_parse(ctx, p.what, json, len, &doc);
	if (r < 0)
		return r;
	root = json_doc_root(doc);
	if (root->type != JSON_OBJECT)
		return oci_bad(&p, NULL, "expected a JSON object");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = oci_get_string(&p, root, "", "architecture", true, &c->architecture);
	if (r < 0)
		return r;
	r = oci_get_string(&p, root, "", "os", true, &c->os);
	if (r < 0)
		return r;
	if (!*c->architecture || !*c->os)
		return oci_bad(&p, NULL, "empty os or architecture");
	r = oci_get_string(&p, root, "", "variant", false, &c->variant);
	if (r < 0)
		return r;
	r = oci_get_string(&p, root, "", "os.version", false, &c->os_version);
	if (r < 0)
		return r;
	r = oci_get_string(&p, root, "", "created", false, &c->created);
	if (r < 0)
		return r;
	r = oci_get_string(&p, root, "", "author", false, &c->author);
	if (r < 0)
		return r;
	r = parse_inner_config(&p, json_get(root, "config"), c);
	if (r < 0)
		return r;
	r = parse_rootfs(&p, json_get(root, "rootfs"), c);
	if (r < 0)
		return r;
	r = parse_history(&p, json_get(root, "history"), c);
	if (r < 0)
		return r;
	r = collect_extra(&p, root, "", top_keys, ELEMENTSOF(top_keys), &c->extra, &c->n_extra);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

/* Extras are written after the known members; one named like a known member would repeat it. */
static int write_extra(struct json_writer *w, const struct kiln_json_field *f, size_t n,
		       const char *const *keys, size_t n_keys)
{
	for (size_t i = 0; i < n; i++) {
		if (!f[i].key || !f[i].json || is_known(f[i].key, keys, n_keys))
			return -EINVAL;
		json_key(w, f[i].key);
		json_raw(w, f[i].json, strlen(f[i].json));
	}
	return 0;
}

static void write_opt_string(struct json_writer *w, const char *key, const char *value)
{
	if (value)
		json_kv_string(w, key, value);
}

static int write_inner_config(struct json_writer *w, const struct kiln_image_config *c)
{
	if (!c->user && !c->n_env && !c->n_entrypoint && !c->n_cmd && !c->working_dir &&
	    !c->n_labels && !c->n_config_extra)
		return 0;
	json_key(w, "config");
	json_begin_object(w);
	write_opt_string(w, "User", c->user);
	oci_write_strings(w, "Env", c->env, c->n_env);
	oci_write_strings(w, "Entrypoint", c->entrypoint, c->n_entrypoint);
	oci_write_strings(w, "Cmd", c->cmd, c->n_cmd);
	write_opt_string(w, "WorkingDir", c->working_dir);
	oci_write_annotations(w, "Labels", c->labels, c->n_labels);
	if (write_extra(w, c->config_extra, c->n_config_extra, config_keys,
			ELEMENTSOF(config_keys)) < 0)
		return -EINVAL;
	json_end_object(w);
	return 0;
}

/* image-spec's member order: created, author, architecture, os, ..., rootfs, history */
int kiln_image_config_to_json(const struct kiln_image_config *c, char **ret, size_t *ret_len)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;
	int r;

	if (!c->architecture || !c->os)
		return -EINVAL;
	json_init_compact(&w, &sb);
	json_begin_object(&w);
	write_opt_string(&w, "created", c->created);
	write_opt_string(&w, "author", c->author);
	json_kv_string(&w, "architecture", c->architecture);
	json_kv_string(&w, "os", c->os);
	write_opt_string(&w, "os.version", c->os_version);
	write_opt_string(&w, "variant", c->variant);
	r = write_inner_config(&w, c);
	if (r < 0)
		return r;
	json_key(&w, "rootfs");
	json_begin_object(&w);
	json_kv_string(&w, "type", "layers");
	json_key(&w, "diff_ids");
	json_begin_array(&w);
	for (size_t i = 0; i < c->n_diff_ids; i++) {
		if (!kiln_digest_is_valid(c->diff_ids[i].s))
			return -EINVAL;
		json_string(&w, c->diff_ids[i].s);
	}
	json_end_array(&w);
	json_end_object(&w);
	if (c->n_history) {
		json_key(&w, "history");
		json_begin_array(&w);
		for (size_t i = 0; i < c->n_history; i++) {
			const struct kiln_history *h = &c->history[i];

			json_begin_object(&w);
			write_opt_string(&w, "created", h->created);
			write_opt_string(&w, "created_by", h->created_by);
			write_opt_string(&w, "author", h->author);
			write_opt_string(&w, "comment", h->comment);
			if (h->empty_layer) {
				json_key(&w, "empty_layer");
				json_bool(&w, true);
			}
			json_end_object(&w);
		}
		json_end_array(&w);
	}
	r = write_extra(&w, c->extra, c->n_extra, top_keys, ELEMENTSOF(top_keys));
	if (r < 0)
		return r;
	json_end_object(&w);
	return oci_json_finish(&w, &sb, ret, ret_len);
}
