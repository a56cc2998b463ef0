/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln module info: what kmod's modinfo prints, in its exact format, and
 * then what modinfo does not say (the __versions count, whether a signature
 * is there and well-formed, and which key it names).
 *
 * The modinfo part follows kmod's tools/modinfo.c: "filename:" and the
 * absolute path, every .modinfo entry but parm and parmtype in file order
 * as "key:" padded to 16 columns, the signature fields, and last the
 * parameters, one line per name, newest name first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/module.h>

#include "hex.h"
#include "json.h"
#include "kiln.h"
#include "log.h"
#include "parallel.h"
#include "strbuf.h"

enum {
	OPT_COMPAT = OPT_FIRST_COMMAND_OPTION,
};

struct info_args {
	const char *field;
	bool compat;
};

/* The keys kiln adds after modinfo's; a .modinfo entry cannot shadow them in JSON. */
static const char *const kiln_keys[] = { "compression", "versions", "signature_status",
					 "signer_id" };
static const char *const sig_keys[] = { "sig_id", "signer", "sig_key", "sig_hashalgo",
					"signature" };

/*
 * JSON: fields that modpost or the signature give once are strings; every
 * other field, and any unknown one, is an array, because a module linked
 * from several objects can carry each MODULE_*() more than once (37 of
 * Debian 6.1's modules have two license= lines).
 */
static const char *const scalar_keys[] = { "filename", "name", "vermagic", "srcversion",
					   "depends", "intree", "retpoline", "staging",
					   "livepatch", "scmversion", "sig_id", "signer",
					   "sig_key", "sig_hashalgo", "signature" };

static int help(void)
{
	printf("Usage: kiln module info [OPTIONS] FILE|DIR...\n"
	       "\n"
	       "Print what kernel modules (.ko, .ko.xz, .ko.zst, told apart by their magic)\n"
	       "say about themselves. A directory is searched recursively for *.ko, *.ko.xz\n"
	       "and *.ko.zst files.\n"
	       "\n"
	       "The output is kmod's modinfo's, byte for byte: filename (made absolute),\n"
	       "the .modinfo fields in file order, the signature fields (sig_id, signer,\n"
	       "sig_key, sig_hashalgo, signature) and the parameters. Then, per module,\n"
	       "what modinfo does not show:\n"
	       "  compression       none, xz or zstd\n"
	       "  versions          the number of __versions entries (symbol CRCs)\n"
	       "  signature_status  signed (a well-formed trailer and PKCS#7; not verified:\n"
	       "                    that is 'kiln module verify'), unsigned, or\n"
	       "                    malformed: why\n"
	       "  signer_id         the key the signature names: issuer \"CN\" serial HEX,\n"
	       "                    or subjectKeyIdentifier HEX (sign-file -k)\n"
	       "Unlike kmod 30, the signature fields are shown for signatures that name\n"
	       "their key by subjectKeyIdentifier too (sig_key is then that identifier).\n"
	       "\n"
	       "Options:\n"
	       "  -F, --field FIELD  print only FIELD's values, one per line, as modinfo -F\n"
	       "                     does: any .modinfo key, filename, parm (merged with\n"
	       "                     parmtype, as modinfo does), a signature field, or one\n"
	       "                     of kiln's four above\n"
	       "      --compat       print only what modinfo prints, not kiln's four fields\n"
	       "      --json         print one JSON array, an object per module, keyed by\n"
	       "                     field name. filename, name, vermagic, srcversion,\n"
	       "                     depends, intree, retpoline, staging, livepatch,\n"
	       "                     scmversion and the signature fields are strings (the\n"
	       "                     first value, should one repeat); every other .modinfo\n"
	       "                     field is always an array of strings in file order\n"
	       "                     (parm and parmtype raw, as in .modinfo). Values are\n"
	       "                     modinfo's (the hex wraps as it does). versions is a\n"
	       "                     number, signer_id null or {\"type\": \"issuer-serial\",\n"
	       "                     \"issuer\", \"serial\"} or {\"type\": \"skid\", \"skid\"}.\n"
	       "                     A .modinfo field named like one kiln adds is written\n"
	       "                     as \"modinfo:NAME\".\n"
	       "  -h, --help         show this help\n"
	       "\n"
	       "A file that cannot be read is reported on stderr and the others are still\n"
	       "printed. Exit status: 0 success, 1 if any file failed, 2 usage error.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct info_args *a = userdata;

	switch (c) {
	case 'F':
		a->field = arg;
		return CLI_CONTINUE;
	case OPT_COMPAT:
		a->compat = true;
		return CLI_CONTINUE;
	default:
		return cli_usage("module info: run 'kiln module info --help' for usage");
	}
}

static bool is_one_of(const char *key, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(key, keys[i]))
			return true;
	return false;
}

/* ---- what one module shows ---------------------------------------------- */

/* What lib/kmod read of one module (kiln_module_batch()), and its fields as modinfo writes them. */
struct module_view {
	const struct kiln_module *m;
	char *filename; /* as modinfo prints it: absolute, not normalized */
	const struct kiln_module_param *params; /* in modinfo's order: the newest name first */
	size_t n_params;
	char *sig_status; /* "signed", "unsigned", or "malformed: why" */
	char n_versions[24];
	const struct kiln_modsig_desc *desc; /* NULL unless signed */
	char *sig_key; /* the desc's, wrapped as modinfo wraps it */
	char *signature;
	char *signer_id;
};

static void module_view_release(struct module_view *v)
{
	free(v->filename);
	free(v->sig_status);
	free(v->sig_key);
	free(v->signature);
	free(v->signer_id);
	*v = (struct module_view){ 0 };
}

/*
 * kmod's hex layout, "01:AB:..." with a newline and two tabs after every 20
 * bytes, from @len bytes at @p; written straight into place, as a signature
 * is 512 bytes and there are thousands of modules.
 */
static char *hex_kmod(const uint8_t *p, size_t len)
{
	char *s = malloc(len ? len * 3 + len / 20 * 3 : 1), *q = s;

	if (!s)
		return NULL;
	*q = '\0';
	for (size_t i = 0; i < len; i += 20) {
		if (i) {
			memcpy(q, ":\n\t\t", 4);
			q += 4;
		}
		q = hex_encode(q, p + i, len - i < 20 ? len - i : 20, ':', true);
	}
	return s;
}

/* The same layout for "01:AB:..." text (the library's sig_key). */
static char *wrap_colon_hex(const char *hex)
{
	size_t len = strlen(hex), colons = 0;
	char *s, *q;

	for (const char *p = hex; *p; p++)
		colons += *p == ':';
	s = q = malloc(len + colons / 20 * 3 + 1);
	colons = 0;
	if (!s)
		return NULL;
	for (const char *p = hex; *p; p++) {
		*q++ = *p;
		if (*p == ':' && ++colons % 20 == 0) {
			memcpy(q, "\n\t\t", 3);
			q += 3;
		}
	}
	*q = '\0';
	return s;
}

/* The signature's fields, in modinfo's layout and kiln's words. */
static int view_signature(struct module_view *v, const struct kiln_module_sig *sig)
{
	int r;

	if (sig->state == KILN_MODSIG_MALFORMED) {
		if (asprintf(&v->sig_status, "malformed: %s", strempty(sig->why)) < 0)
			v->sig_status = NULL;
		return v->sig_status ? 0 : -ENOMEM;
	}
	v->sig_status = strdup(kiln_modsig_state_name(sig->state));
	if (sig->state != KILN_MODSIG_SIGNED)
		return v->sig_status ? 0 : -ENOMEM;
	v->desc = &sig->desc;
	v->sig_key = wrap_colon_hex(v->desc->sig_key);
	v->signature = hex_kmod(v->desc->signature, v->desc->signature_len);
	if (v->desc->by_skid)
		r = asprintf(&v->signer_id, "subjectKeyIdentifier %s", v->desc->sig_key);
	else
		r = asprintf(&v->signer_id, "issuer \"%s\" serial %s", strempty(v->desc->signer),
			     v->desc->sig_key);
	if (r < 0)
		v->signer_id = NULL;
	return v->sig_status && v->sig_key && v->signature && v->signer_id ? 0 : -ENOMEM;
}

/*
 * modinfo prints kmod_module_get_path(), which is the path made absolute, as
 * given; @cwd is there for any path that is relative (info_all()).
 */
static char *absolute_path(const char *cwd, const char *path)
{
	char *s;

	if (path[0] == '/')
		return strdup(path);
	return asprintf(&s, "%s/%s", cwd, path) < 0 ? NULL : s;
}

static int module_view_init(struct module_view *v, const struct kiln_module_batch_item *item,
			    const char *cwd)
{
	size_t n;

	*v = (struct module_view){
		.m = item->module,
		.params = item->params,
		.n_params = item->n_params,
	};
	v->filename = absolute_path(cwd, item->path);
	if (!v->filename)
		return -ENOMEM;
	kiln_module_versions(v->m, &n);
	snprintf(v->n_versions, sizeof(v->n_versions), "%zu", n);
	return view_signature(v, &item->sig);
}

/* ---- modinfo's text ----------------------------------------------------- */

/* kmod prints "%s:%-*s" with 15 - strlen(key): a negative width pads on the left just as well. */
static void add_field(struct strbuf *sb, const char *key, const char *value)
{
	static const char spaces[] = "               ";
	size_t len = strlen(key), pad = len <= 15 ? 15 - len : len - 15;

	strbuf_add(sb, key, len);
	strbuf_addch(sb, ':');
	while (pad) {
		size_t k = pad < sizeof(spaces) - 1 ? pad : sizeof(spaces) - 1;

		strbuf_add(sb, spaces, k);
		pad -= k;
	}
	strbuf_adds(sb, value);
	strbuf_addch(sb, '\n');
}

/* One parameter as modinfo prints it: in the full listing, or with -F parm. */
static void add_param(struct strbuf *sb, const struct kiln_module_param *p, bool field_only)
{
	if (!field_only)
		strbuf_addf(sb, "%-16s", "parm:");
	if (!p->desc)
		strbuf_addf(sb, field_only ? "%.*s: (%s)\n" : "%.*s:%s\n", (int)p->name_len,
			    p->name, p->type);
	else if (p->type)
		strbuf_addf(sb, "%.*s:%s (%s)\n", (int)p->name_len, p->name, p->desc, p->type);
	else
		strbuf_addf(sb, "%.*s:%s\n", (int)p->name_len, p->name, p->desc);
}

static void sig_values(const struct module_view *v, const char *values[static 5])
{
	values[0] = "PKCS#7";
	values[1] = strempty(v->desc->signer);
	values[2] = v->sig_key;
	values[3] = v->desc->hash_algo;
	values[4] = v->signature;
}

/* kiln's own fields, in kiln_keys' order; signer_id is NULL for an unsigned module. */
static void kiln_values(const struct module_view *v, const char *values[static 4])
{
	values[0] = kiln_compression_name(kiln_module_compression(v->m));
	values[1] = v->n_versions;
	values[2] = v->sig_status;
	values[3] = v->signer_id;
}

static void add_text(struct strbuf *sb, const struct module_view *v, bool compat)
{
	const struct kiln_modinfo *mi;
	const char *values[5];
	size_t n;

	strbuf_addf(sb, "%-16s%s\n", "filename:", v->filename);
	mi = kiln_module_modinfo(v->m, &n);
	for (size_t i = 0; i < n; i++)
		if (!streq(mi[i].key, "parm") && !streq(mi[i].key, "parmtype"))
			add_field(sb, mi[i].key, mi[i].value);
	if (v->desc) {
		sig_values(v, values);
		for (size_t i = 0; i < ELEMENTSOF(sig_keys); i++)
			add_field(sb, sig_keys[i], values[i]);
	}
	for (size_t i = 0; i < v->n_params; i++)
		add_param(sb, &v->params[i], false);
	if (compat)
		return;
	kiln_values(v, values);
	for (size_t i = 0; i < ELEMENTSOF(kiln_keys); i++)
		if (values[i])
			add_field(sb, kiln_keys[i], values[i]);
}

/* -F FIELD: the values only, in the order the full listing has them. */
static void add_field_values(struct strbuf *sb, const struct module_view *v, const char *field)
{
	const struct kiln_modinfo *mi;
	const char *values[5];
	size_t n;

	if (streq(field, "filename")) {
		strbuf_addf(sb, "%s\n", v->filename);
		return;
	}
	if (streq(field, "parm")) {
		for (size_t i = 0; i < v->n_params; i++)
			add_param(sb, &v->params[i], true);
		return;
	}
	mi = kiln_module_modinfo(v->m, &n);
	for (size_t i = 0; i < n; i++)
		if (streq(mi[i].key, field))
			strbuf_addf(sb, "%s\n", mi[i].value);
	if (v->desc) {
		sig_values(v, values);
		for (size_t i = 0; i < ELEMENTSOF(sig_keys); i++)
			if (streq(field, sig_keys[i]))
				strbuf_addf(sb, "%s\n", values[i]);
	}
	kiln_values(v, values);
	for (size_t i = 0; i < ELEMENTSOF(kiln_keys); i++)
		if (values[i] && streq(field, kiln_keys[i]))
			strbuf_addf(sb, "%s\n", values[i]);
}

/* ---- JSON --------------------------------------------------------------- */

struct entry_ref {
	const char *key;
	size_t index;
};

struct key_group {
	const char *key;
	size_t start; /* its first entry in the sorted refs */
	size_t first; /* where the key first appears in .modinfo */
};

static int entry_ref_by_key(const void *a, const void *b)
{
	const struct entry_ref *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int group_by_first(const void *a, const void *b)
{
	const struct key_group *x = a, *y = b;

	return (x->first > y->first) - (x->first < y->first);
}

/*
 * The .modinfo fields grouped by key, in the order each key first appears:
 * sorted, not searched, so that a crafted module with a million distinct
 * keys costs n log n.
 */
static int add_json_modinfo(struct json_writer *w, const struct kiln_module *m)
{
	_cleanup_free_ struct entry_ref *refs = NULL;
	_cleanup_free_ struct key_group *groups = NULL;
	const struct kiln_modinfo *mi;
	size_t n, n_groups = 0;

	mi = kiln_module_modinfo(m, &n);
	if (n == 0)
		return 0;
	refs = calloc(n, sizeof(*refs));
	groups = calloc(n, sizeof(*groups));
	if (!refs || !groups)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		refs[i] = (struct entry_ref){ mi[i].key, i };
	qsort(refs, n, sizeof(*refs), entry_ref_by_key);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || !streq(refs[i].key, refs[i - 1].key))
			groups[n_groups++] = (struct key_group){ refs[i].key, i, refs[i].index };
	qsort(groups, n_groups, sizeof(*groups), group_by_first);

	for (size_t g = 0; g < n_groups; g++) {
		const char *key = groups[g].key;
		bool shadowed = streq(key, "filename") ||
				is_one_of(key, sig_keys, ELEMENTSOF(sig_keys)) ||
				is_one_of(key, kiln_keys, ELEMENTSOF(kiln_keys));
		_cleanup_free_ char *renamed = NULL;

		if (shadowed) {
			if (asprintf(&renamed, "modinfo:%s", key) < 0)
				return -ENOMEM;
			json_key(w, renamed);
		} else {
			json_key(w, key);
		}
		if (!shadowed && is_one_of(key, scalar_keys, ELEMENTSOF(scalar_keys))) {
			json_string(w, mi[groups[g].first].value);
			continue;
		}
		json_begin_array(w);
		for (size_t i = groups[g].start; i < n && streq(refs[i].key, key); i++)
			json_string(w, mi[refs[i].index].value);
		json_end_array(w);
	}
	return 0;
}

static int add_json(struct json_writer *w, const struct module_view *v)
{
	size_t n_versions;
	int r;

	json_begin_object(w);
	json_kv_string(w, "filename", v->filename);
	r = add_json_modinfo(w, v->m);
	if (r < 0)
		return r;
	if (v->desc) {
		const char *values[5];

		sig_values(v, values);
		for (size_t i = 0; i < ELEMENTSOF(sig_keys); i++)
			json_kv_string(w, sig_keys[i], values[i]);
	}
	json_kv_string(w, "compression", kiln_compression_name(kiln_module_compression(v->m)));
	kiln_module_versions(v->m, &n_versions);
	json_key(w, "versions");
	json_int(w, (int64_t)n_versions);
	json_kv_string(w, "signature_status", v->sig_status);
	json_key(w, "signer_id");
	if (!v->desc) {
		json_null(w);
	} else if (v->desc->by_skid) {
		json_begin_object(w);
		json_kv_string(w, "type", "skid");
		json_kv_string(w, "skid", v->desc->sig_key);
		json_end_object(w);
	} else {
		json_begin_object(w);
		json_kv_string(w, "type", "issuer-serial");
		json_kv_string(w, "issuer", v->desc->signer);
		json_kv_string(w, "serial", v->desc->sig_key);
		json_end_object(w);
	}
	json_end_object(w);
	return 0;
}

struct path_list {
	char **v;
	size_t n, alloc;
};

static void path_list_release(struct path_list *l)
{
	kiln_strv_free(l->v, l->n);
	*l = (struct path_list){ 0 };
}

static int path_list_add(struct path_list *l, char *path)
{
	if (GROW(l->v, l->alloc, l->n + 1) < 0) {
		free(path);
		return -ENOMEM;
	}
	l->v[l->n++] = path;
	return 0;
}

/* ---- the command -------------------------------------------------------- */

struct info_run {
	const struct info_args *a;
	bool json;
	const char *cwd;
	size_t n_written; /* JSON objects written */
	bool failed; /* a module could not be read */
};

/* One module's failure, or its warning, on stderr. */
static void report(const struct kiln_module_batch_item *item)
{
	if (item->r < 0 && item->error)
		/* the library's messages name the file; a bare errno does not */
		fprintf(stderr, "kiln: module info: %s\n", item->error);
	else if (item->r < 0)
		fprintf(stderr, "kiln: module info: '%s': %s\n", item->path, strerror(-item->r));
	else if (item->n_bad_params)
		fprintf(stderr,
			"kiln: module info: '%s': warning: %zu parm or parmtype entries without"
			" ':' left out, as modinfo does\n",
			item->path, item->n_bad_params);
}

/*
 * Each module, in operand order, as soon as lib/kmod has read it (on every
 * core: most of the time goes to mapping files and faulting pages in). A
 * negative return (stdout failed) stops the run.
 */
static int show_one(struct kiln_module_batch_item *item, void *userdata)
{
	struct info_run *run = userdata;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	_cleanup_(module_view_release) struct module_view v = { 0 };
	int r = item->r;

	if (r >= 0)
		r = module_view_init(&v, item, run->cwd);
	if (r == -ENOMEM)
		return r;
	report(item);
	if (item->r < 0) {
		run->failed = true;
		return 0;
	}
	if (run->json) {
		/* an array element: what json_writer writes one level down */
		struct json_writer w;

		if (run->n_written++ > 0)
			strbuf_addch(&out, ',');
		json_init(&w, &out);
		w.depth = 1;
		r = add_json(&w, &v);
		if (r >= 0)
			r = json_error(&w);
		if (r < 0)
			return r;
	} else if (run->a->field) {
		add_field_values(&out, &v, run->a->field);
	} else {
		add_text(&out, &v, run->a->compat);
	}
	/* a module shown with a hole in it would be another answer */
	if (strbuf_error(&out) < 0)
		return strbuf_error(&out);
	if (out.len && cli_write_stdout(out.buf, out.len) != EXIT_OK)
		return -EPIPE;
	return 0;
}

/* The current directory, when one of @paths is relative: modinfo makes them absolute. */
static int need_cwd(char *const *paths, size_t n, char **ret)
{
	*ret = NULL;
	for (size_t i = 0; i < n; i++)
		if (paths[i][0] != '/') {
			*ret = getcwd(NULL, 0);
			if (!*ret) {
				int err = errno;

				return kiln_error(cli_ctx, err,
						  "cannot get the current directory: %s",
						  strerror(err));
			}
			break;
		}
	return 0;
}

static int info_all(const struct info_args *a, bool json, char *const *paths, size_t n)
{
	_cleanup_free_ char *cwd = NULL;
	unsigned cpus = kiln_cpus_online();
	struct info_run run = { .a = a, .json = json };
	struct kiln_module_batch_options o = {
		.op = KILN_MODULE_BATCH_INFO,
		.jobs = cpus < 16 ? cpus : 16,
		.on_item = show_one,
		.userdata = &run,
	};
	int r;

	r = need_cwd(paths, n, &cwd);
	if (r < 0)
		return cli_fail(r, "module info");
	run.cwd = cwd;
	if (json && cli_write_stdout("[", 1) != EXIT_OK)
		return EXIT_FAILURE_;
	r = kiln_module_batch(cli_ctx, paths, n, &o);
	if (r == -EPIPE)
		return EXIT_FAILURE_; /* cli_write_stdout() said why */
	if (r < 0)
		return cli_fail(r, "module info");
	if (json &&
	    cli_write_stdout(run.n_written ? "\n]\n" : "]\n", run.n_written ? 3 : 2) != EXIT_OK)
		return EXIT_FAILURE_;
	return run.failed ? EXIT_FAILURE_ : EXIT_OK;
}

int cmd_module_info(int argc, char **argv)
{
	static const struct option options[] = {
		{ "field", required_argument, NULL, 'F' },
		{ "compat", no_argument, NULL, OPT_COMPAT },
		{ 0 },
	};
	struct info_args a = { 0 };
	struct cli_options o = {
		.name = "module info",
		.no_tree = true,
		.help = help,
		.extra = options,
		.short_options = "F:",
		.on_option = on_option,
		.userdata = &a,
	};
	_cleanup_(path_list_release) struct path_list paths = { 0 };
	int r, status = EXIT_OK;
	bool json;

	r = cli_parse_plain(argc, argv, &o, &json);
	if (r != CLI_CONTINUE)
		return r;
	if (optind >= argc)
		return cli_usage("module info: no module given: run 'kiln module info --help'");
	if (a.field && json)
		return cli_usage("module info: -F and --json do not go together");

	for (int i = optind; i < argc; i++) {
		char **v = NULL;
		size_t n = 0;

		/* one operand at a time, to tell which directory held no module */
		r = kiln_module_collect(cli_ctx, argv + i, 1, &v, &n);
		if (r < 0) {
			status = cli_fail(r, "module info");
			continue;
		}
		if (n == 0) {
			kiln_error(cli_ctx, ENOENT, "'%s': no .ko, .ko.xz or .ko.zst files in it",
				   argv[i]);
			status = cli_fail(-ENOENT, "module info");
		}
		for (size_t j = 0; j < n; j++)
			if (path_list_add(&paths, TAKE_PTR(v[j])) < 0) {
				kiln_strv_free(v, n);
				return cli_fail(-ENOMEM, "module info");
			}
		free(v);
	}

	r = info_all(&a, json, paths.v, paths.n);
	return r != EXIT_OK ? r : status;
}
