/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln cache ls|du|prune: the build cache (stage outputs, dependency
 * snapshots, sources, cachePaths) under kiln's cache directory.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kiln/build.h>
#include <kiln/oci.h>

#include "json.h"
#include "kiln.h"
#include "strbuf.h"

enum {
	OPT_ALL = OPT_FIRST_COMMAND_OPTION,
	OPT_OLDER_THAN,
	OPT_DRY_RUN,
};

static void main_help(void)
{
	printf("Usage: kiln cache SUBCOMMAND [OPTIONS]\n"
	       "\n"
	       "The build cache under kiln's cache directory ($KILN_CACHE_DIR, else\n"
	       "$XDG_CACHE_HOME/kiln, else ~/.cache/kiln):\n"
	       "  ls      list the cached stage outputs\n"
	       "  du      show what the cache holds, by kind\n"
	       "  prune   remove cached stages, snapshots, squashfs images and leftovers\n"
	       "          of killed builds\n"
	       "\n"
	       "Run 'kiln cache SUBCOMMAND --help' for its options.\n");
}

static double mib(uint64_t n)
{
	return (double)n / (1024.0 * 1024.0);
}

/*
 * What every subcommand does first: parse its options (it takes no
 * operands) and open the store. CLI_CONTINUE, or the exit code.
 */
static int cache_begin(int argc, char **argv, const struct cli_options *o, bool *ret_json,
		       struct kiln_store **ret)
{
	_cleanup_free_ char *what = NULL;
	int r;

	r = cli_parse_plain(argc, argv, o, ret_json);
	if (r != CLI_CONTINUE)
		return r;
	if (optind != argc)
		return cli_usage("%s: takes no operands", o->name);
	if (asprintf(&what, "%s: cannot open the store", o->name) < 0)
		return cli_fail(-ENOMEM, "%s", o->name);
	r = cli_open_store(what, ret);
	return r == EXIT_OK ? CLI_CONTINUE : r;
}

/* ---- ls ---- */

static int ls_help(void)
{
	printf("Usage: kiln cache ls [--json]\n"
	       "\n"
	       "List the cached stage outputs: stage, cache key (shortened), output\n"
	       "digest, size of its blobs and when it was written.\n"
	       "\n"
	       "Options:\n"
	       "      --json   a JSON array of {\"stage\", \"key\", \"digest\", \"size\",\n"
	       "               \"created\"}\n"
	       "  -h, --help   show this help\n");
	return EXIT_OK;
}

static int cache_ls(int argc, char **argv)
{
	const struct cli_options o = { .name = "cache ls", .no_tree = true, .help = ls_help };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct kiln_cache_entry *e = NULL;
	struct json_writer w;
	size_t n = 0;
	bool json;
	int r;

	r = cache_begin(argc, argv, &o, &json, &s);
	if (r != CLI_CONTINUE)
		return r;
	r = kiln_cache_list(cli_ctx, s, &e, &n);
	if (r < 0)
		return cli_fail(r, "cache ls");
	json_init(&w, &out);
	if (json)
		json_begin_array(&w);
	for (size_t i = 0; i < n; i++) {
		if (json) {
			json_begin_object(&w);
			json_kv_string(&w, "stage", e[i].stage);
			json_kv_string(&w, "key", e[i].key);
			json_kv_string(&w, "digest", e[i].digest.s);
			json_key(&w, "size");
			json_uint(&w, e[i].size);
			json_key(&w, "created");
			json_int(&w, e[i].created);
			json_end_object(&w);
		} else {
			char when[32] = "-";
			time_t t = (time_t)e[i].created;
			struct tm tm;

			if (e[i].created >= 0 && localtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
			strbuf_addf(&out, "%-28s %.12s  %.19s  %9.1f MiB  %s\n", e[i].stage,
				    e[i].key, e[i].digest.s, mib(e[i].size), when);
		}
	}
	if (json) {
		json_end_array(&w);
		strbuf_addch(&out, '\n');
	}
	kiln_cache_entries_free(e, n);
	return cli_write_strbuf(&out);
}

/* ---- du ---- */

static int du_help(void)
{
	printf("Usage: kiln cache du [--json]\n"
	       "\n"
	       "Show the cache's size by kind: stage outputs (their blobs in the store),\n"
	       "snapshots (dependencies unpacked for overlay mounts), sources (verified\n"
	       "downloads), cachePaths, and what killed builds left behind.\n"
	       "\n"
	       "Options:\n"
	       "      --json   a JSON object, sizes in bytes\n"
	       "  -h, --help   show this help\n");
	return EXIT_OK;
}

static void usage_json(struct json_writer *w, const struct kiln_cache_usage *u)
{
	const struct {
		const char *name;
		uint64_t bytes;
		unsigned n;
	} rows[] = {
		{ "stages", u->stages, u->n_stages },
		{ "snapshots", u->snapshots, u->n_snapshots },
		{ "sources", u->sources, u->n_sources },
		{ "cachePaths", u->cache_paths, u->n_cache_paths },
		{ "squashfs", u->squashfs, u->n_squashfs },
	};

	json_begin_object(w);
	for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
		json_key(w, rows[i].name);
		json_begin_object(w);
		json_key(w, "count");
		json_uint(w, rows[i].n);
		json_key(w, "bytes");
		json_uint(w, rows[i].bytes);
		json_end_object(w);
	}
	json_key(w, "leftovers");
	json_uint(w, u->work);
	json_end_object(w);
}

static void usage_text(struct strbuf *out, const struct kiln_cache_usage *u)
{
	strbuf_addf(out, "stages      %6u  %10.1f MiB\n", u->n_stages, mib(u->stages));
	strbuf_addf(out, "snapshots   %6u  %10.1f MiB\n", u->n_snapshots, mib(u->snapshots));
	strbuf_addf(out, "sources     %6u  %10.1f MiB\n", u->n_sources, mib(u->sources));
	strbuf_addf(out, "cachePaths  %6u  %10.1f MiB\n", u->n_cache_paths, mib(u->cache_paths));
	strbuf_addf(out, "squashfs    %6u  %10.1f MiB\n", u->n_squashfs, mib(u->squashfs));
	strbuf_addf(out, "leftovers           %10.1f MiB\n", mib(u->work));
}

static int cache_du(int argc, char **argv)
{
	const struct cli_options o = { .name = "cache du", .no_tree = true, .help = du_help };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct kiln_cache_usage u;
	struct json_writer w;
	bool json;
	int r;

	r = cache_begin(argc, argv, &o, &json, &s);
	if (r != CLI_CONTINUE)
		return r;
	r = kiln_cache_usage(cli_ctx, s, NULL, &u);
	if (r < 0)
		return cli_fail(r, "cache du");
	if (json) {
		json_init(&w, &out);
		usage_json(&w, &u);
		strbuf_addch(&out, '\n');
	} else {
		usage_text(&out, &u);
	}
	return cli_write_strbuf(&out);
}

/* ---- prune ---- */

static int prune_help(void)
{
	printf("Usage: kiln cache prune [--all] [--older-than DURATION] [--dry-run]\n"
	       "\n"
	       "Remove cached stage outputs (their names; the store's gc then frees blobs\n"
	       "nothing else names), every snapshot (remade from the store when needed),\n"
	       "every extension squashfs image of kiln image installer (made again when\n"
	       "needed) and what killed builds left. Sources and cachePaths stay unless\n"
	       "--all.\n"
	       "Refused while a build uses the cache.\n"
	       "\n"
	       "Options:\n"
	       "      --all                 remove sources and cachePaths too\n"
	       "      --older-than DURATION only stage outputs written longer ago: N with s,\n"
	       "                            m, h or d (\"7d\")\n"
	       "      --dry-run             say what would go, remove nothing\n"
	       "      --json                print what was freed as JSON\n"
	       "  -h, --help                show this help\n");
	return EXIT_OK;
}

static int on_prune_option(int c, const char *arg, void *userdata)
{
	struct kiln_cache_prune_options *po = userdata;
	char *end;

	switch (c) {
	case OPT_ALL:
		po->all = true;
		return CLI_CONTINUE;
	case OPT_DRY_RUN:
		po->dry_run = true;
		return CLI_CONTINUE;
	case OPT_OLDER_THAN: {
		long long n = strtoll(arg, &end, 10);
		long long unit = streq(end, "s") || !*end ? 1
				 : streq(end, "m")	  ? 60
				 : streq(end, "h")	  ? 3600
				 : streq(end, "d")	  ? 86400
							  : 0;

		if (n <= 0 || unit == 0 || end == arg)
			return cli_usage("cache prune: --older-than: expected N[s|m|h|d], not '%s'",
					 arg);
		po->older_than = n * unit;
		return CLI_CONTINUE;
	}
	default:
		return cli_usage("cache prune: run 'kiln cache prune --help' for usage");
	}
}

static int cache_prune(int argc, char **argv)
{
	static const struct option options[] = {
		{ "all", no_argument, NULL, OPT_ALL },
		{ "older-than", required_argument, NULL, OPT_OLDER_THAN },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{},
	};
	struct kiln_cache_prune_options po = { 0 };
	const struct cli_options o = {
		.name = "cache prune",
		.no_tree = true,
		.help = prune_help,
		.extra = options,
		.on_option = on_prune_option,
		.userdata = &po,
	};
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct kiln_cache_usage u;
	struct kiln_gc_stats gc = { 0 };
	struct json_writer w;
	bool json;
	int r;

	r = cache_begin(argc, argv, &o, &json, &s);
	if (r != CLI_CONTINUE)
		return r;
	r = kiln_cache_prune(cli_ctx, s, NULL, &po, &u);
	if (r < 0)
		return cli_fail(r, "cache prune");
	if (!po.dry_run) {
		struct kiln_gc_options go = { 0 };

		r = kiln_store_gc_with(cli_ctx, s, &go, &gc);
		if (r < 0)
			return cli_fail(r,
					"cache prune: the stage names are gone, but the store's gc "
					"failed (run 'kiln store gc' later)");
	}
	if (json) {
		json_init(&w, &out);
		json_begin_object(&w);
		json_key(&w, "removed");
		usage_json(&w, &u);
		json_key(&w, "blobsRemoved");
		json_uint(&w, gc.blobs_removed);
		json_key(&w, "bytesRemoved");
		json_uint(&w, gc.bytes_removed);
		json_key(&w, "dryRun");
		json_bool(&w, po.dry_run);
		json_end_object(&w);
		strbuf_addch(&out, '\n');
	} else {
		strbuf_addf(&out, "%s:\n", po.dry_run ? "would remove" : "removed");
		usage_text(&out, &u);
		if (!po.dry_run)
			strbuf_addf(&out, "store gc: %u blobs, %.1f MiB\n", gc.blobs_removed,
				    mib(gc.bytes_removed));
	}
	return cli_write_strbuf(&out);
}

int cmd_cache(int argc, char **argv)
{
	static const struct cli_subcommand subcommands[] = {
		{ "ls", cache_ls },
		{ "du", cache_du },
		{ "prune", cache_prune },
	};

	return cli_run_subcommand("cache", argc, argv, subcommands, ELEMENTSOF(subcommands),
				  main_help);
}
