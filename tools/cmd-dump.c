/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>

#include "kiln.h"

static int help(void)
{
	printf("Usage: kiln dump [OPTIONS]\n"
	       "\n"
	       "Print the rendered packages: every package of the tree, or with -t the\n"
	       "targets and what they need, dependencies first. Without --json, one line a\n"
	       "package; with --json, one array of objects with name, variant, shell, dir,\n"
	       "install, dependencies, steps, finalize and buildPlatform.\n"
	       "\n"
	       "Options:\n" TREE_OPTIONS_HELP);
	return EXIT_OK;
}

static int print_json(const struct kiln_pkg **pkgs, size_t n)
{
	_cleanup_free_ char *json = NULL;
	size_t len;
	int r;

	r = kiln_pkgs_json(pkgs, n, &json, &len);
	if (r < 0)
		return cli_fail(r, "dump");
	return cli_write_stdout(json, len);
}

static void print_text(const struct kiln_pkg **pkgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct kiln_pkg *p = pkgs[i];
		size_t n_sources = 0;

		for (size_t s = 0; s < p->n_steps; s++)
			n_sources += p->steps[s].n_sources;
		printf("%-32s %-8s %2zu deps %2zu steps %2zu sources  %s\n", p->name, p->variant,
		       p->n_deps, p->n_steps, n_sources, p->dir);
	}
}

int cmd_dump(int argc, char **argv)
{
	static const struct cli_options o = { .name = "dump", .help = help };
	_cleanup_(tree_args_release) struct tree_args a = { 0 };
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	_cleanup_free_ const struct kiln_pkg **pkgs = NULL;
	size_t n;
	int r;

	r = cli_parse_options(argc, argv, &o, &a);
	if (r != CLI_CONTINUE)
		return r;
	if (optind < argc)
		return cli_usage("dump: unexpected argument '%s'", argv[optind]);

	r = cli_load_tree(&a, false, &tree);
	if (r < 0)
		return cli_fail(r, "cannot load package tree '%s'", cli_root);
	r = cli_select_pkgs(tree, &a, false, &pkgs, &n);
	if (r != EXIT_OK)
		return r;
	if (a.json)
		return print_json(pkgs, n);
	print_text(pkgs, n);
	return EXIT_OK;
}
