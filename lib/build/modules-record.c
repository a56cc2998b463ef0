/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The record of a stage's kernel modules: the verdicts modules.c reached
 * (and, for a system extension, what its validation found), kept beside the
 * cache entry in <cache>/modules/<key>.json, so that a cache hit reports
 * them without unpacking the output or the kernel tree (they depend on
 * nothing the key does not cover). The same JSON copies the modules into
 * the build's result.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "build-internal.h"
#include "fileio.h"
#include "json-parse.h"
#include "json.h"
#include "log.h"

#define RECORD_VERSION "kiln-build-modules-v1"
/* every module of a kernel's output, with findings: thousands of entries */
#define RECORD_MAX ((size_t)256 << 20)

void kiln_build_modules_free(struct kiln_build_module *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++) {
		free(m[i].path);
		free(m[i].name);
		free(m[i].vermagic);
		free(m[i].signer);
		free(m[i].sig_hash);
		free(m[i].installed_release);
		free(m[i].error);
		free(m[i].kernel);
		free(m[i].kernel_dir);
		free(m[i].kernel_release);
		kiln_check_result_release(&m[i].check);
	}
	free(m);
}

void kiln_build_extension_free(struct kiln_build_extension *e)
{
	if (!e)
		return;
	free(e->name);
	free(e->version);
	kiln_strv_free(e->warnings, e->n_warnings);
	free(e);
}

/* ---- the record: the verdicts as JSON ------------------------------------------- */

static void write_module(struct json_writer *w, const struct kiln_build_module *m)
{
	json_begin_object(w);
	json_kv_string(w, "path", m->path);
	json_kv_string(w, "name", m->name);
	json_kv_string(w, "vermagic", m->vermagic);
	json_key(w, "signed");
	json_bool(w, m->has_signature);
	json_kv_string(w, "signer", m->signer);
	json_kv_string(w, "hash", m->sig_hash);
	json_kv_string(w, "installed_release", m->installed_release);
	json_kv_string(w, "error", m->error);
	if (m->checked) {
		json_kv_string(w, "kernel", m->kernel);
		json_kv_string(w, "kernel_dir", m->kernel_dir);
		json_kv_string(w, "kernel_release", m->kernel_release);
		json_key(w, "kernel_is_tree");
		json_bool(w, m->kernel_is_tree);
		json_kv_string(w, "status", kiln_check_status_name(m->check.status));
		json_key(w, "findings");
		json_begin_array(w);
		for (size_t i = 0; i < m->check.n_findings; i++) {
			const struct kiln_check_finding *f = &m->check.findings[i];

			json_begin_object(w);
			json_kv_string(w, "check", kiln_check_kind_name(f->kind));
			json_kv_string(w, "status", kiln_check_status_name(f->status));
			json_kv_string(w, "subject", f->subject);
			json_kv_string(w, "message", f->message);
			json_kv_string(w, "kernel_says", f->kernel_says);
			json_kv_string(w, "fix", kiln_check_fix_name(f->fix));
			json_kv_string(w, "fix_arg", f->fix_arg);
			json_end_object(w);
		}
		json_end_array(w);
	}
	json_end_object(w);
}

static void write_extension(struct json_writer *w, const struct kiln_build_extension *e)
{
	json_key(w, "extension");
	json_begin_object(w);
	json_kv_string(w, "name", e->name);
	json_kv_string(w, "version", e->version);
	json_key(w, "files");
	json_uint(w, e->n_files);
	json_key(w, "warnings");
	json_begin_array(w);
	for (size_t i = 0; i < e->n_warnings; i++)
		json_string(w, e->warnings[i]);
	json_end_array(w);
	json_end_object(w);
}

/* @ext: NULL when the output is no extension */
static int modules_to_json(const struct kiln_build_module *m, size_t n,
			   const struct kiln_build_extension *ext, struct strbuf *ret)
{
	struct json_writer w;

	json_init_compact(&w, ret);
	json_begin_object(&w);
	json_kv_string(&w, "version", RECORD_VERSION);
	json_key(&w, "modules");
	json_begin_array(&w);
	for (size_t i = 0; i < n; i++)
		write_module(&w, &m[i]);
	json_end_array(&w);
	if (ext)
		write_extension(&w, ext);
	json_end_object(&w);
	return w.error;
}

static int get_string(const struct json_value *v, const char *key, char **ret)
{
	const char *s = json_get_string(v, key);

	*ret = s ? strdup(s) : NULL;
	return !s || *ret ? 0 : -ENOMEM;
}

static int status_by_name(const char *s)
{
	for (int i = KILN_CHECK_OK; s && i <= KILN_CHECK_FAIL; i++)
		if (streq(kiln_check_status_name(i), s))
			return i;
	return -EBADMSG;
}

static int kind_by_name(const char *s)
{
	for (int i = 0; s && i < KILN_CHECK_KIND_MAX; i++)
		if (streq(kiln_check_kind_name(i), s))
			return i;
	return -EBADMSG;
}

static int read_finding(const struct json_value *v, struct kiln_check_result *res)
{
	struct kiln_check_finding *f = &res->findings[res->n_findings];
	int kind = kind_by_name(json_get_string(v, "check"));
	int status = status_by_name(json_get_string(v, "status"));
	/* a note is a finding, not a problem: as lib/kmod counts them */
	int counts = status == KILN_CHECK_NOTE ? KILN_CHECK_OK : status;
	int r;

	if (kind < 0 || status < 0 || !json_get_string(v, "message"))
		return -EBADMSG;
	/* records of a kiln that gave advice in words have no fix: nothing to do then */
	*f = (struct kiln_check_finding){
		.kind = kind,
		.status = status,
		.fix = kiln_check_fix_by_name(json_get_string(v, "fix")),
	};
	res->n_findings++;
	if ((enum kiln_check_status)counts > res->checks[kind])
		res->checks[kind] = counts;
	r = get_string(v, "subject", &f->subject);
	if (r >= 0)
		r = get_string(v, "message", &f->message);
	if (r >= 0)
		r = get_string(v, "kernel_says", &f->kernel_says);
	if (r >= 0)
		r = get_string(v, "fix_arg", &f->fix_arg);
	return r;
}

static int read_module(const struct json_value *v, struct kiln_build_module *m)
{
	const struct json_value *findings = json_get(v, "findings");
	const struct json_value *sig = json_get(v, "signed");
	const struct json_value *is_tree = json_get(v, "kernel_is_tree");
	const struct {
		const char *key;
		char **field;
	} strings[] = {
		{ "path", &m->path },
		{ "name", &m->name },
		{ "vermagic", &m->vermagic },
		{ "signer", &m->signer },
		{ "hash", &m->sig_hash },
		{ "installed_release", &m->installed_release },
		{ "error", &m->error },
		{ "kernel", &m->kernel },
		{ "kernel_dir", &m->kernel_dir },
		{ "kernel_release", &m->kernel_release },
	};
	int r = 0, status;

	if (v->type != JSON_OBJECT || !json_get_string(v, "path"))
		return -EBADMSG;
	for (size_t i = 0; i < ELEMENTSOF(strings) && r >= 0; i++)
		r = get_string(v, strings[i].key, strings[i].field);
	if (r < 0)
		return r;
	m->has_signature = sig && sig->type == JSON_TRUE;
	m->check.path = m->path;
	if (!m->kernel)
		return 0;
	status = status_by_name(json_get_string(v, "status"));
	if (status < 0 || !findings || findings->type != JSON_ARRAY)
		return -EBADMSG;
	m->checked = true;
	m->kernel_is_tree = is_tree && is_tree->type == JSON_TRUE;
	m->check.status = status;
	m->check.findings =
	    calloc(findings->arr.n ? findings->arr.n : 1, sizeof(*m->check.findings));
	if (!m->check.findings || (m->name && !(m->check.name = strdup(m->name))))
		return -ENOMEM;
	for (size_t i = 0; i < findings->arr.n && r >= 0; i++)
		r = read_finding(findings->arr.v[i], &m->check);
	return r;
}

/* The "extension" of a record, or NULL in *@ret when it has none. */
static int read_extension(const struct json_value *root, struct kiln_build_extension **ret)
{
	const struct json_value *v = json_get(root, "extension"), *files, *warnings;
	struct kiln_build_extension *e;
	int r;

	*ret = NULL;
	if (!v)
		return 0;
	files = json_get(v, "files");
	warnings = json_get(v, "warnings");
	if (!files || files->type != JSON_NUMBER || !warnings || warnings->type != JSON_ARRAY)
		return -EBADMSG;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*ret = e;
	e->n_files = (unsigned)strtoul(files->num.text, NULL, 10);
	r = get_string(v, "name", &e->name);
	if (r >= 0)
		r = get_string(v, "version", &e->version);
	e->warnings = calloc(warnings->arr.n + 1, sizeof(*e->warnings));
	if (r >= 0 && !e->warnings)
		r = -ENOMEM;
	for (size_t i = 0; i < warnings->arr.n && r >= 0; i++) {
		const struct json_value *w = warnings->arr.v[i];

		if (w->type != JSON_STRING)
			r = -EBADMSG;
		else if (!(e->warnings[e->n_warnings++] = strdup(w->str.s)))
			r = -ENOMEM;
	}
	return r;
}

/* @ret_ext may be NULL: the record's extension is not read then. */
static int modules_from_json(struct kiln_ctx *ctx, const char *what, const char *text, size_t len,
			     struct kiln_build_module **ret, size_t *ret_n,
			     struct kiln_build_extension **ret_ext)
{
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	const struct json_value *root, *list;
	struct kiln_build_extension *ext = NULL;
	struct kiln_build_module *m;
	size_t n;
	int r;

	r = json_parse(ctx, what, text, len, &doc);
	if (r < 0)
		return r;
	root = json_doc_root(doc);
	list = json_get(root, "modules");
	if (!streq(json_get_string(root, "version"), RECORD_VERSION) || !list ||
	    list->type != JSON_ARRAY)
		return kiln_error(ctx, EBADMSG, "%s: not a record of kiln's module verdicts", what);
	n = list->arr.n;
	m = calloc(n ? n : 1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++)
		r = read_module(list->arr.v[i], &m[i]);
	if (r >= 0 && ret_ext)
		r = read_extension(root, &ext);
	if (r < 0) {
		kiln_build_modules_free(m, n);
		kiln_build_extension_free(ext);
		return r == -EBADMSG
			   ? kiln_error(ctx, EBADMSG, "%s: malformed module verdict", what)
			   : r;
	}
	*ret = m;
	*ret_n = n;
	if (ret_ext)
		*ret_ext = ext;
	return 0;
}

int build_modules_copy(struct kiln_ctx *ctx, const struct kiln_build_module *m, size_t n,
		       struct kiln_build_module **ret)
{
	_cleanup_strbuf_ struct strbuf json = STRBUF_INIT;
	size_t n_copy;
	int r;

	if (n == 0) {
		*ret = NULL;
		return 0;
	}
	/* through the record: one list of the fields, which the record's reader keeps */
	r = modules_to_json(m, n, NULL, &json);
	if (r >= 0)
		r = modules_from_json(ctx, "module verdicts", json.buf, json.len, ret, &n_copy,
				      NULL);
	return r;
}

char *stage_modules_record(const char *cache_dir, const char *key)
{
	char *path;

	if (asprintf(&path, "%s/modules/%s.json", cache_dir, key) < 0)
		return NULL;
	return path;
}

int stage_load_modules(struct kiln_ctx *ctx, struct build *b, struct stage *st)
{
	_cleanup_free_ char *path = stage_modules_record(b->cache_dir, st->key), *text = NULL;
	size_t len;
	int r;

	if (!path)
		return -ENOMEM;
	r = read_file_at(AT_FDCWD, path, RECORD_MAX, &text, &len);
	if (r == -ENOENT)
		return 0; /* no modules, or built by a kiln that did not record them */
	if (r >= 0)
		r = modules_from_json(ctx, path, text, len, &st->modules, &st->n_modules,
				      &st->extension);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/* the verdicts are a report: without them, the cached output is as good */
		kiln_log(ctx, KILN_LOG_DEBUG, "stage %s: its module verdicts are lost: %s",
			 st->pkg->name, kiln_ctx_error(ctx) ?: strerror(-r));
		kiln_ctx_clear_error(ctx);
	}
	return 0;
}

void stage_record_modules(struct kiln_ctx *ctx, struct build *b, struct stage *st)
{
	_cleanup_strbuf_ struct strbuf json = STRBUF_INIT;
	_cleanup_free_ char *path = stage_modules_record(b->cache_dir, st->key);
	_cleanup_free_ char *dir = path_join(b->cache_dir, "modules");
	int r = path && dir ? modules_to_json(st->modules, st->n_modules, st->extension, &json)
			    : -ENOMEM;

	if (r >= 0 && mkdir(dir, 0755) < 0 && errno != EEXIST)
		r = -errno;
	if (r >= 0)
		r = write_file_atomic(path, json.buf, json.len, 0644);
	if (r < 0)
		kiln_log(ctx, KILN_LOG_WARNING,
			 "stage %s: cannot record its module verdicts in \"%s\": %s; a cache hit "
			 "will not report them",
			 st->pkg->name, strempty(path), strerror(-r));
}
