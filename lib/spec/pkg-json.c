/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A package as JSON: the shape `kiln dump --json` prints and other tools
 * read. Fields come in a fixed order, so the text is also a canonical form
 * of the rendered definition.
 */
#include <kiln/spec.h>

#include "pkg-json.h"

static void strv(struct json_writer *w, const char *key, const struct kiln_strv *v)
{
	json_key(w, key);
	json_begin_array(w);
	for (size_t i = 0; i < v->n; i++)
		json_string(w, v->v[i]);
	json_end_array(w);
}

static void dep(struct json_writer *w, const struct kiln_dep *d)
{
	json_begin_object(w);
	if (d->stage)
		json_kv_string(w, "stage", d->stage);
	else
		json_kv_string(w, "image", d->image);
	json_kv_string(w, "from", d->from);
	json_kv_string(w, "to", d->to);
	json_kv_string(w, "platform", d->platform);
	json_key(w, "runtime");
	json_bool(w, d->runtime);
	json_end_object(w);
}

static void sbom(struct json_writer *w, const struct kiln_sbom *s)
{
	json_begin_object(w);
	json_kv_string(w, "outputPath", s->output_path);
	json_kv_string(w, "name", s->name);
	json_kv_string(w, "version", s->version);
	strv(w, "cpes", &s->cpes);
	json_kv_string(w, "purl", s->purl);
	strv(w, "licenses", &s->licenses);
	json_end_object(w);
}

static void step(struct json_writer *w, const struct kiln_step *s)
{
	json_begin_object(w);
	json_key(w, "sources");
	json_begin_array(w);
	for (size_t i = 0; i < s->n_sources; i++) {
		json_begin_object(w);
		json_kv_string(w, "url", s->sources[i].url);
		json_kv_string(w, "destination", s->sources[i].destination);
		json_kv_string(w, "sha256", s->sources[i].sha256);
		json_kv_string(w, "sha512", s->sources[i].sha512);
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "env");
	json_begin_object(w);
	for (size_t i = 0; i < s->n_env; i++)
		json_kv_string(w, s->env[i].name, s->env[i].value);
	json_end_object(w);
	strv(w, "cachePaths", &s->cache_paths);
	/* kiln's own key: written only when used, so that dumps of bldr trees stay bldr's */
	if (s->secrets.n > 0)
		strv(w, "secrets", &s->secrets);
	strv(w, "prepare", &s->prepare);
	strv(w, "build", &s->build);
	strv(w, "install", &s->install);
	strv(w, "test", &s->test);
	json_kv_string(w, "network", kiln_network_name(s->network));
	if (s->sbom) {
		json_key(w, "sbom");
		sbom(w, s->sbom);
	}
	json_end_object(w);
}

void kiln_pkg_write_json(struct json_writer *w, const struct kiln_pkg *pkg)
{
	json_begin_object(w);
	json_kv_string(w, "name", pkg->name);
	json_kv_string(w, "variant", pkg->variant);
	json_kv_string(w, "shell", pkg->shell);
	json_kv_string(w, "dir", pkg->dir);
	strv(w, "install", &pkg->install);
	json_key(w, "dependencies");
	json_begin_array(w);
	for (size_t i = 0; i < pkg->n_deps; i++)
		dep(w, &pkg->deps[i]);
	json_end_array(w);
	json_key(w, "steps");
	json_begin_array(w);
	for (size_t i = 0; i < pkg->n_steps; i++)
		step(w, &pkg->steps[i]);
	json_end_array(w);
	json_key(w, "finalize");
	json_begin_array(w);
	for (size_t i = 0; i < pkg->n_finalize; i++) {
		json_begin_object(w);
		json_kv_string(w, "from", pkg->finalize[i].from);
		json_kv_string(w, "to", pkg->finalize[i].to);
		json_end_object(w);
	}
	json_end_array(w);
	json_kv_string(w, "buildPlatform", pkg->build_platform);
	json_end_object(w);
}

int kiln_pkgs_json(const struct kiln_pkg *const *pkgs, size_t n, char **ret, size_t *ret_len)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;
	char *s;

	json_init(&w, &sb);
	json_begin_array(&w);
	for (size_t i = 0; i < n; i++)
		kiln_pkg_write_json(&w, pkgs[i]);
	json_end_array(&w);
	if (json_error(&w) < 0)
		return json_error(&w);
	s = strbuf_detach(&sb, ret_len);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}
