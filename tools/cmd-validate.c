/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kiln.h"

static int help(void)
{
	printf("Usage: kiln validate [OPTIONS]\n"
	       "\n"
	       "Load every Pkgfile, vars.yaml, pkg.yaml and *.tmpl of the tree, render them\n"
	       "for the platform, and check each package as bldr does. Every error is printed\n"
	       "with its file:line:col; exit status 1 if there is any.\n"
	       "\n"
	       "Options:\n" TREE_OPTIONS_HELP
	       "\n"
	       "Checking sources against their sha256 and sha512 (bldr's --checksums)\n"
	       "needs the source fetcher of 'kiln build', which this version lacks.\n");
	return EXIT_OK;
}

static int print_json(const struct kiln_tree *tree, bool ok, const char *error)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct kiln_tree_stats st = { 0 };
	struct json_writer w;

	if (tree)
		kiln_tree_stats(tree, &st);
	json_init(&w, &sb);
	json_begin_object(&w);
	json_key(&w, "ok");
	json_bool(&w, ok);
	json_kv_string(&w, "root", cli_root);
	json_kv_string(&w, "error", error);
	json_key(&w, "packages");
	json_int(&w, tree ? (int64_t)kiln_tree_n_pkgs(tree) : 0);
	json_key(&w, "pkgYaml");
	json_int(&w, st.n_pkg_yaml);
	json_key(&w, "varsYaml");
	json_int(&w, st.n_vars_yaml);
	json_key(&w, "templates");
	json_int(&w, st.n_tmpl);
	json_key(&w, "warnings");
	json_int(&w, kiln_ctx_warnings(cli_ctx));
	json_end_object(&w);
	return cli_write_strbuf(&sb);
}

static int on_option(int c, const char *arg, void *userdata)
{
	/* --checksums */
	return cli_usage("validate: --checksums needs the source fetcher of 'kiln build', "
			 "which this version lacks");
}

int cmd_validate(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "checksums", no_argument, NULL, OPT_FIRST_COMMAND_OPTION },
		{},
	};
	static const struct cli_options o = {
		.name = "validate", .help = help, .extra = extra, .on_option = on_option,
	};
	_cleanup_(tree_args_release) struct tree_args a = { 0 };
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	struct kiln_tree_stats st;
	int r;

	r = cli_parse_options(argc, argv, &o, &a);
	if (r != CLI_CONTINUE)
		return r;
	if (optind < argc)
		return cli_usage("validate: unexpected argument '%s'", argv[optind]);

	r = cli_load_tree(&a, true, &tree);
	if (r >= 0) {
		/* every package must resolve: no stage missing, no cycle */
		_cleanup_free_ const struct kiln_pkg **order = NULL;
		size_t n;

		r = kiln_tree_resolve_all(cli_ctx, tree, &order, &n);
	}
	if (r < 0) {
		if (a.json) {
			_cleanup_free_ char *err = NULL;
			const char *e = kiln_ctx_error_for(cli_ctx, r);

			err = e ? strdup(e) : NULL;
			print_json(NULL, false, err ? err : strerror(-r));
		}
		return cli_fail(r, "validate");
	}
	if (a.json)
		return print_json(tree, true, NULL);
	kiln_tree_stats(tree, &st);
	printf("%s: %zu packages valid for %s (%u pkg.yaml, %u vars.yaml, %u templates, %u warnings)\n",
	       cli_root, kiln_tree_n_pkgs(tree), kiln_tree_platform(tree), st.n_pkg_yaml,
	       st.n_vars_yaml, st.n_tmpl, kiln_ctx_warnings(cli_ctx));
	return EXIT_OK;
}
