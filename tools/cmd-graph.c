/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph-dot.h"
#include "json.h"
#include "kiln.h"
#include "strmap.h"

enum format {
	FORMAT_DOT,
	FORMAT_JSON,
};

static int help(void)
{
	printf("Usage: kiln graph [OPTIONS]\n"
	       "\n"
	       "Print the stage graph: every package of the tree (less those that set\n"
	       "GRAPH_IGNORE), or with -t the targets and what they need. Edges point from a\n"
	       "dependency to the package that uses it; images are yellow boxes and runtime\n"
	       "dependencies green and bold, as 'bldr graph' draws them. Render it with\n"
	       "graphviz: kiln graph | dot -Tsvg -o graph.svg\n"
	       "\n"
	       "Options:\n"
	       "      --format FORMAT    dot (default) or json\n" TREE_OPTIONS_HELP);
	return EXIT_OK;
}

static int write_json(struct strbuf *sb, const struct kiln_pkg **pkgs, size_t n)
{
	struct strmap images = STRMAP_INIT;
	struct json_writer w;

	json_init(&w, sb);
	json_begin_object(&w);
	json_key(&w, "nodes");
	json_begin_array(&w);
	for (size_t i = 0; i < n; i++) {
		json_begin_object(&w);
		json_kv_string(&w, "name", pkgs[i]->name);
		json_kv_string(&w, "kind", "stage");
		json_end_object(&w);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t d = 0; d < pkgs[i]->n_deps; d++) {
			const char *image = pkgs[i]->deps[d].image;

			if (!image || strmap_get(&images, image))
				continue;
			if (strmap_set(&images, image, "") < 0) {
				strmap_release(&images);
				return -ENOMEM;
			}
			json_begin_object(&w);
			json_kv_string(&w, "name", image);
			json_kv_string(&w, "kind", "image");
			json_end_object(&w);
		}
	json_end_array(&w);
	json_key(&w, "edges");
	json_begin_array(&w);
	for (size_t i = 0; i < n; i++)
		for (size_t d = 0; d < pkgs[i]->n_deps; d++) {
			const struct kiln_dep *dep = &pkgs[i]->deps[d];

			json_begin_object(&w);
			json_kv_string(&w, "from", graph_dep_name(dep));
			json_kv_string(&w, "to", pkgs[i]->name);
			json_key(&w, "runtime");
			json_bool(&w, dep->runtime);
			json_end_object(&w);
		}
	json_end_array(&w);
	json_end_object(&w);
	strmap_release(&images);
	return json_error(&w);
}

static int on_option(int c, const char *arg, void *userdata)
{
	enum format *format = userdata;

	if (streq(arg, "dot"))
		*format = FORMAT_DOT;
	else if (streq(arg, "json"))
		*format = FORMAT_JSON;
	else
		return cli_usage("graph: unknown format '%s': use dot or json", arg);
	return CLI_CONTINUE;
}

int cmd_graph(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "format", required_argument, NULL, OPT_FIRST_COMMAND_OPTION },
		{},
	};
	_cleanup_(tree_args_release) struct tree_args a = { 0 };
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	_cleanup_free_ const struct kiln_pkg **pkgs = NULL;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	enum format format = FORMAT_DOT;
	const struct cli_options o = {
		.name = "graph", .help = help, .extra = extra, .on_option = on_option,
		.userdata = &format,
	};
	size_t n;
	int r;

	r = cli_parse_options(argc, argv, &o, &a);
	if (r != CLI_CONTINUE)
		return r;
	if (optind < argc)
		return cli_usage("graph: unexpected argument '%s'", argv[optind]);
	if (a.json)
		format = FORMAT_JSON;

	r = cli_load_tree(&a, false, &tree);
	if (r < 0)
		return cli_fail(r, "cannot load package tree '%s'", cli_root);
	r = cli_select_pkgs(tree, &a, true, &pkgs, &n);
	if (r != EXIT_OK)
		return r;
	r = format == FORMAT_JSON ? write_json(&sb, pkgs, n) : graph_write_dot(&sb, pkgs, n, NULL, NULL);
	if (r < 0)
		return cli_fail(r, "graph");
	return cli_write_strbuf(&sb);
}
