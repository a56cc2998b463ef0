/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kiln.h"

static int help(void)
{
	printf("Usage: kiln eval -t TARGET [OPTIONS] TEMPLATE\n"
	       "\n"
	       "Render TEMPLATE with the variables TARGET's pkg.yaml sees, as 'bldr eval'\n"
	       "does: for example kiln eval -t hailort '{{ .VERSION }}-{{ .BUILD_ARG_TAG }}'.\n"
	       "\n"
	       "Options:\n" TREE_OPTIONS_HELP);
	return EXIT_OK;
}

int cmd_eval(int argc, char **argv)
{
	static const struct cli_options o = { .name = "eval", .help = help };
	_cleanup_(tree_args_release) struct tree_args a = { 0 };
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	_cleanup_free_ char *out = NULL;
	int r;

	r = cli_parse_options(argc, argv, &o, &a);
	if (r != CLI_CONTINUE)
		return r;
	if (a.n_targets != 1)
		return cli_usage("eval: give exactly one target with -t");
	if (argc - optind != 1)
		return cli_usage("eval: give exactly one template to render");

	r = cli_load_tree(&a, false, &tree);
	if (r < 0)
		return cli_fail(r, "cannot load package tree '%s'", cli_root);
	r = kiln_tree_eval(cli_ctx, tree, a.targets[0], argv[optind], &out);
	if (r < 0)
		return cli_fail(r, "cannot render template for \"%s\"", a.targets[0]);
	if (a.json) {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		struct json_writer w;

		json_init(&w, &sb);
		json_begin_object(&w);
		json_kv_string(&w, "target", a.targets[0]);
		json_kv_string(&w, "result", out);
		json_end_object(&w);
		return cli_write_strbuf(&sb);
	}
	printf("%s\n", out);
	return EXIT_OK;
}
