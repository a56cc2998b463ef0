/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln store ls|gc|rm|verify|path: the local image store, an OCI image layout
 * under kiln's cache directory (skopeo reads it as oci:DIR:NAME, umoci as
 * --layout DIR).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <kiln/oci.h>

#include "json.h"
#include "kiln.h"
#include "strbuf.h"

#define STORE_ENV_HELP                                                                   \
	"The store is $KILN_CACHE_DIR/store, else $XDG_CACHE_HOME/kiln/store, else\n"     \
	"~/.cache/kiln/store.\n"

enum {
	OPT_DRY_RUN = OPT_FIRST_COMMAND_OPTION,
	OPT_REPAIR,
};

static void main_help(void)
{
	printf("Usage: kiln store SUBCOMMAND [OPTIONS]\n"
	       "\n"
	       "The local image store, an OCI image layout (skopeo reads it as oci:DIR:NAME,\n"
	       "umoci as --layout DIR):\n"
	       "  ls       list the images it names, with their digests\n"
	       "  gc       remove the blobs no name reaches\n"
	       "  rm       remove names (the blobs stay until gc)\n"
	       "  verify   rehash every blob and check every name's image is complete\n"
	       "  path     print where the store is\n"
	       "\n" STORE_ENV_HELP "\n"
	       "Run 'kiln store SUBCOMMAND --help' for its options.\n");
}

/* ---- ls ---- */

static int ls_help(void)
{
	printf("Usage: kiln store ls [--json]\n"
	       "\n"
	       "List the names in the store, sorted, each with the digest, media type and\n"
	       "size of the manifest or index it names. Names are full references as kiln\n"
	       "keeps them (docker.io/library/alpine:3.19); entries other tools left without\n"
	       "a name are shown as <none>.\n"
	       "\n"
	       "Options:\n"
	       "      --json   print a JSON array of {\"name\", \"digest\", \"mediaType\",\n"
	       "               \"size\"} (name null for an entry without one)\n"
	       "  -h, --help   show this help\n"
	       "\n" STORE_ENV_HELP "Exit status: 0 success, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

static const char *kind_of(const char *mt)
{
	if (kiln_media_type_is_index(mt))
		return "index";
	if (kiln_media_type_is_manifest(mt))
		return "manifest";
	return "other";
}

static int store_ls(int argc, char **argv)
{
	const struct cli_options o = { .name = "store ls", .no_tree = true, .help = ls_help };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct json_writer w;
	size_t width = 4;
	bool json;
	int r;

	r = cli_parse_plain(argc, argv, &o, &json);
	if (r != CLI_CONTINUE)
		return r;
	if (optind < argc)
		return cli_usage("store ls: unexpected argument '%s'", argv[optind]);
	r = cli_open_store("store ls", &s);
	if (r != EXIT_OK)
		return r;
	r = kiln_store_read_index(cli_ctx, s, &idx);
	if (r < 0)
		return cli_fail(r, "store ls");
	/* index.json keeps entries sorted by name already; unnamed ones first */
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct kiln_descriptor *d = &idx->manifests[i];
		const char *name = kiln_annotation_get(d->annotations, d->n_annotations,
						       KILN_ANNOTATION_REF_NAME);

		if (name && strlen(name) > width)
			width = strlen(name);
	}
	if (json) {
		json_init(&w, &out);
		json_begin_array(&w);
	} else if (idx->n_manifests) {
		strbuf_addf(&out, "%-*s  %-71s  %-8s  %s\n", (int)width, "NAME", "DIGEST", "TYPE",
			    "SIZE");
	}
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct kiln_descriptor *d = &idx->manifests[i];
		const char *name = kiln_annotation_get(d->annotations, d->n_annotations,
						       KILN_ANNOTATION_REF_NAME);

		if (json) {
			json_begin_object(&w);
			json_kv_string(&w, "name", name);
			json_kv_string(&w, "digest", d->digest.s);
			json_kv_string(&w, "mediaType", d->media_type);
			json_key(&w, "size");
			json_uint(&w, d->size);
			json_end_object(&w);
		} else {
			strbuf_addf(&out, "%-*s  %s  %-8s  %" PRIu64 "\n", (int)width,
				    name ? name : "<none>", d->digest.s, kind_of(d->media_type),
				    d->size);
		}
	}
	if (json)
		json_end_array(&w);
	return cli_write_strbuf(&out);
}

/* ---- gc ---- */

static int gc_help(void)
{
	printf("Usage: kiln store gc [--dry-run] [--json]\n"
	       "\n"
	       "Remove every blob that no name in the store reaches (through indexes,\n"
	       "manifests, configs and layers), and temporary files left by kiln processes\n"
	       "that died. Each removed blob is printed as 'removed DIGEST SIZE', then a\n"
	       "summary. gc refuses to run while another kiln process has the store open\n"
	       "(it may hold blobs it has not named yet): run it again when that one ends.\n"
	       "A name whose manifest cannot be parsed stops gc before anything is removed.\n"
	       "\n"
	       "Options:\n"
	       "      --dry-run  print what would be removed, remove nothing\n"
	       "      --json     print {\"removed\": [{\"digest\", \"size\"}], \"kept\": N,\n"
	       "                 \"bytes_removed\": N, \"dry_run\": BOOL}\n"
	       "  -h, --help     show this help\n"
	       "\n" STORE_ENV_HELP "Exit status: 0 success, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

struct gc_out {
	struct strbuf out;
	struct json_writer w;
	bool json;
	bool dry_run;
};

static void on_remove(void *userdata, const struct kiln_digest *d, uint64_t size)
{
	struct gc_out *g = userdata;

	if (g->json) {
		json_begin_object(&g->w);
		json_kv_string(&g->w, "digest", d->s);
		json_key(&g->w, "size");
		json_uint(&g->w, size);
		json_end_object(&g->w);
	} else {
		strbuf_addf(&g->out, "%s %s %" PRIu64 "\n", g->dry_run ? "would remove" : "removed",
			    d->s, size);
	}
}

static int gc_option(int c, const char *arg, void *userdata)
{
	struct gc_out *g = userdata;

	if (c != OPT_DRY_RUN)
		return cli_usage("store gc: run 'kiln store gc --help' for usage");
	g->dry_run = true;
	return CLI_CONTINUE;
}

static int store_gc(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{},
	};
	struct gc_out g = { .out = STRBUF_INIT };
	const struct cli_options o = {
		.name = "store gc",
		.no_tree = true,
		.help = gc_help,
		.extra = options,
		.on_option = gc_option,
		.userdata = &g,
	};
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	struct kiln_gc_options opts;
	struct kiln_gc_stats st = { 0 };
	int r;

	r = cli_parse_plain(argc, argv, &o, &g.json);
	if (r != CLI_CONTINUE)
		goto out;
	if (optind < argc) {
		r = cli_usage("store gc: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	r = cli_open_store("store gc", &s);
	if (r != EXIT_OK)
		goto out;
	if (g.json) {
		json_init(&g.w, &g.out);
		json_begin_object(&g.w);
		json_key(&g.w, "removed");
		json_begin_array(&g.w);
	}
	opts = (struct kiln_gc_options){ .dry_run = g.dry_run, .on_remove = on_remove,
					 .userdata = &g };
	r = kiln_store_gc_with(cli_ctx, s, &opts, &st);
	if (r < 0) {
		r = cli_fail(r, "store gc");
		goto out;
	}
	if (g.json) {
		json_end_array(&g.w);
		json_key(&g.w, "kept");
		json_uint(&g.w, st.blobs_kept);
		json_key(&g.w, "bytes_removed");
		json_uint(&g.w, st.bytes_removed);
		json_key(&g.w, "dry_run");
		json_bool(&g.w, g.dry_run);
		json_end_object(&g.w);
	} else {
		strbuf_addf(&g.out, "%s %u blobs (%" PRIu64 " bytes), kept %u\n",
			    g.dry_run ? "would remove" : "removed", st.blobs_removed,
			    st.bytes_removed, st.blobs_kept);
	}
	r = cli_write_strbuf(&g.out);
out:
	strbuf_release(&g.out);
	return r;
}

/* ---- rm ---- */

static int rm_help(void)
{
	printf("Usage: kiln store rm NAME...\n"
	       "\n"
	       "Remove names from the store. NAME is written as for docker (alpine is\n"
	       "docker.io/library/alpine:latest) or exactly as 'kiln store ls' shows it. The\n"
	       "blobs stay until 'kiln store gc'.\n"
	       "\n"
	       "Options:\n"
	       "  -h, --help   show this help\n"
	       "\n" STORE_ENV_HELP "Exit status: 0 success, 1 if a name was not there or could\n"
	       "not be removed (the others still are), 2 usage error.\n");
	return EXIT_OK;
}

static int store_rm(int argc, char **argv)
{
	const struct cli_options o = { .name = "store rm", .no_tree = true, .help = rm_help };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	int r, ret = EXIT_OK;

	r = cli_parse_plain(argc, argv, &o, NULL);
	if (r != CLI_CONTINUE)
		return r;
	if (optind >= argc)
		return cli_usage("store rm: no name given: run 'kiln store rm --help'");
	r = cli_open_store("store rm", &s);
	if (r != EXIT_OK)
		return r;
	for (int i = optind; i < argc; i++) {
		_cleanup_(kiln_ref_release) struct kiln_ref ref = { 0 };
		_cleanup_free_ char *name = NULL;
		_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
		bool literal = false;

		/* the name exactly as stored first (entries other tools wrote), then normalized */
		r = kiln_store_read_index(cli_ctx, s, &idx);
		if (r < 0)
			return cli_fail(r, "store rm");
		for (size_t k = 0; k < idx->n_manifests && !literal; k++)
			literal = streq(kiln_annotation_get(idx->manifests[k].annotations,
							    idx->manifests[k].n_annotations,
							    KILN_ANNOTATION_REF_NAME),
					argv[i]);
		if (!literal) {
			r = kiln_ref_parse(cli_ctx, argv[i], &ref);
			if (r < 0) {
				ret = cli_fail(r, "store rm");
				continue;
			}
			if (ref.digest && ref.tag) {
				ret = cli_usage("store rm: '%s': give a name with a tag or a "
						"digest, not both",
						argv[i]);
				continue;
			}
			name = kiln_ref_name(&ref);
			if (!name)
				return cli_fail(-ENOMEM, "store rm");
		}
		r = kiln_store_remove_ref(cli_ctx, s, literal ? argv[i] : name);
		if (r < 0)
			ret = cli_fail(r, "store rm");
	}
	return ret;
}

/* ---- verify ---- */

static int verify_help(void)
{
	printf("Usage: kiln store verify [--repair] [--json]\n"
	       "\n"
	       "Check the whole store: every blob is rehashed (its name must be its digest),\n"
	       "every manifest and index must find what it names (config, layers, child\n"
	       "manifests) with the sizes its descriptors give, and every name, stage cache\n"
	       "entries included, must reach a complete image. An index may hold only the\n"
	       "platforms that were pulled. Each problem is printed on its own line, naming\n"
	       "the blob or name, then a summary.\n"
	       "\n"
	       "Temporary files left by a kiln process that was killed mid-write are listed\n"
	       "as leftovers, not problems: kiln writes a blob under a temporary name and\n"
	       "renames it when complete, and names an image only after all its blobs are\n"
	       "in, so no reader ever sees them.\n"
	       "\n"
	       "Options:\n"
	       "      --repair   remove what is broken: corrupt blobs, files that are not\n"
	       "                 blobs, names whose image is incomplete (pull, import or\n"
	       "                 build them again; a stage's next build rebuilds it) and\n"
	       "                 leftovers; then 'kiln store gc' removes what only they\n"
	       "                 reached. As gc, it refuses to run while another kiln\n"
	       "                 process has the store open\n"
	       "      --json     print {\"problems\": [{\"kind\", \"subject\", \"message\",\n"
	       "                 \"repaired\"}], \"blobs\", \"bytes\", \"refs\", \"faults\",\n"
	       "                 \"leftovers\", \"repaired\"}\n"
	       "  -h, --help     show this help\n"
	       "\n" STORE_ENV_HELP "Exit status: 0 the store is sound (leftovers aside), 1 a problem was\n"
	       "found (even if --repair removed it) or the check failed, 2 usage error.\n");
	return EXIT_OK;
}

struct verify_out {
	struct strbuf out;
	struct json_writer w;
	bool json;
	bool repair;
};

static const char *fault_name(enum kiln_store_fault f)
{
	static const char *const names[] = {
		[KILN_STORE_FAULT_CORRUPT] = "corrupt",
		[KILN_STORE_FAULT_STRAY] = "stray",
		[KILN_STORE_FAULT_MISSING] = "missing",
		[KILN_STORE_FAULT_SIZE] = "size",
		[KILN_STORE_FAULT_UNREADABLE] = "unreadable",
		[KILN_STORE_FAULT_REF] = "ref",
		[KILN_STORE_FAULT_LEFTOVER] = "leftover",
	};

	return f < ELEMENTSOF(names) && names[f] ? names[f] : "unknown";
}

static void on_problem(void *userdata, const struct kiln_store_problem *p)
{
	struct verify_out *v = userdata;

	if (v->json) {
		json_begin_object(&v->w);
		json_kv_string(&v->w, "kind", fault_name(p->kind));
		json_kv_string(&v->w, "subject", p->subject);
		json_kv_string(&v->w, "message", p->message);
		json_key(&v->w, "repaired");
		json_bool(&v->w, p->repaired);
		json_end_object(&v->w);
	} else {
		strbuf_addf(&v->out, "%s: %s%s\n", fault_name(p->kind), p->message,
			    p->repaired ? " [removed]" : "");
	}
}

static int verify_option(int c, const char *arg, void *userdata)
{
	struct verify_out *v = userdata;

	if (c != OPT_REPAIR)
		return cli_usage("store verify: run 'kiln store verify --help' for usage");
	v->repair = true;
	return CLI_CONTINUE;
}

static void verify_summary(struct verify_out *v, const struct kiln_store_verify_stats *st)
{
	if (!v->json) {
		strbuf_addf(&v->out,
			    "%u blobs (%" PRIu64 " bytes), %u names: %u problems, %u leftovers, "
			    "%u removed\n",
			    st->blobs, st->bytes, st->refs, st->problems, st->leftovers,
			    st->repaired);
		return;
	}
	json_end_array(&v->w);
	json_key(&v->w, "blobs");
	json_uint(&v->w, st->blobs);
	json_key(&v->w, "bytes");
	json_uint(&v->w, st->bytes);
	json_key(&v->w, "refs");
	json_uint(&v->w, st->refs);
	json_key(&v->w, "faults");
	json_uint(&v->w, st->problems);
	json_key(&v->w, "leftovers");
	json_uint(&v->w, st->leftovers);
	json_key(&v->w, "repaired");
	json_uint(&v->w, st->repaired);
	json_end_object(&v->w);
}

static int store_verify(int argc, char **argv)
{
	static const struct option options[] = {
		{ "repair", no_argument, NULL, OPT_REPAIR },
		{},
	};
	struct verify_out v = { .out = STRBUF_INIT };
	const struct cli_options o = {
		.name = "store verify",
		.no_tree = true,
		.help = verify_help,
		.extra = options,
		.on_option = verify_option,
		.userdata = &v,
	};
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	struct kiln_store_verify_options opts;
	struct kiln_store_verify_stats st = { 0 };
	int r;

	r = cli_parse_plain(argc, argv, &o, &v.json);
	if (r != CLI_CONTINUE)
		goto out;
	if (optind < argc) {
		r = cli_usage("store verify: unexpected argument '%s'", argv[optind]);
		goto out;
	}
	r = cli_open_store("store verify", &s);
	if (r != EXIT_OK)
		goto out;
	if (v.json) {
		json_init(&v.w, &v.out);
		json_begin_object(&v.w);
		json_key(&v.w, "problems");
		json_begin_array(&v.w);
	}
	opts = (struct kiln_store_verify_options){ .repair = v.repair, .on_problem = on_problem,
						   .userdata = &v };
	r = kiln_store_verify(cli_ctx, s, &opts, &st);
	if (r < 0) {
		/* what was found before the check stopped is still news */
		if (!v.json)
			(void)cli_write_strbuf(&v.out);
		r = cli_fail(r, "store verify");
		goto out;
	}
	verify_summary(&v, &st);
	r = cli_write_strbuf(&v.out);
	if (r == EXIT_OK && st.problems > 0)
		r = EXIT_FAILURE_;
out:
	strbuf_release(&v.out);
	return r;
}

/* ---- path ---- */

static int path_help(void)
{
	printf("Usage: kiln store path\n"
	       "\n"
	       "Print the store's directory (creating the store if it does not exist).\n"
	       "\n" STORE_ENV_HELP "Exit status: 0 success, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

static int store_path(int argc, char **argv)
{
	const struct cli_options o = { .name = "store path", .no_tree = true, .help = path_help };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	int r;

	r = cli_parse_plain(argc, argv, &o, NULL);
	if (r != CLI_CONTINUE)
		return r;
	if (optind < argc)
		return cli_usage("store path: unexpected argument '%s'", argv[optind]);
	r = cli_open_store("store path", &s);
	if (r != EXIT_OK)
		return r;
	printf("%s\n", kiln_store_path(s));
	return cli_write_stdout("", 0);
}

int cmd_store(int argc, char **argv)
{
	static const struct cli_subcommand subcommands[] = {
		{ "ls", store_ls },
		{ "gc", store_gc },
		{ "rm", store_rm },
		{ "verify", store_verify },
		{ "path", store_path },
	};

	return cli_run_subcommand("store", argc, argv, subcommands, ELEMENTSOF(subcommands),
				  main_help);
}
