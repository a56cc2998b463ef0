/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the commands share: the library context, option parsing for the
 * package tree, and printing errors once, as "kiln: <what failed>: <why>".
 */

#include <getopt.h>
#include <stdbool.h>

#include <kiln/kiln.h>
#include <kiln/spec.h>

#include "macro.h"

enum {
	EXIT_OK = 0,
	EXIT_FAILURE_ = 1,
	EXIT_USAGE = 2,
};

/* Set by the dispatcher before a command runs. */
extern struct kiln_ctx *cli_ctx;
extern const char *cli_root;

/*
 * Options every command that loads a tree takes. A command adds
 * TREE_LONG_OPTIONS to its long options and TREE_SHORT_OPTIONS to its short
 * ones, and hands unknown option characters to tree_args_parse().
 */
struct tree_args {
	const char *platform;
	char **build_args;
	size_t n_build_args;
	char **targets;
	size_t n_targets;
	bool json;
};

enum {
	OPT_PLATFORM = 0x100,
	OPT_BUILD_ARG,
	OPT_JSON,
	OPT_FIRST_COMMAND_OPTION,
};

#define TREE_SHORT_OPTIONS "C:ht:"
#define TREE_LONG_OPTIONS                                              \
	{ "root", required_argument, NULL, 'C' },                      \
	{ "target", required_argument, NULL, 't' },                    \
	{ "platform", required_argument, NULL, OPT_PLATFORM },         \
	{ "build-arg", required_argument, NULL, OPT_BUILD_ARG },       \
	{ "json", no_argument, NULL, OPT_JSON },                       \
	{ "help", no_argument, NULL, 'h' }

#define TREE_OPTIONS_HELP                                                          \
	"  -C, --root DIR         the package tree (default: the current directory)\n" \
	"  -t, --target NAME      a package to start from (repeatable)\n"              \
	"      --platform P       linux/amd64 or linux/arm64 (default: the host's)\n"  \
	"      --build-arg K=V    set template variable BUILD_ARG_K (repeatable)\n"     \
	"      --json             print JSON for machines\n"                            \
	"  -h, --help             show this help\n"

/*
 * Handle one of the shared options (-C, -t, --platform, --build-arg, --json).
 * Returns 1 if @c was one, 0 if not, -EINVAL after printing a usage error.
 */
int tree_args_parse(struct tree_args *a, int c, const char *arg);
void tree_args_release(struct tree_args *a);

/* Load the tree root with @a; the error is left on cli_ctx for cli_fail(). */
int cli_load_tree(const struct tree_args *a, bool keep_going, struct kiln_tree **ret);

/*
 * The packages a command works on: with targets, those the targets need
 * (dependencies first); without, every package, less those that set
 * GRAPH_IGNORE when @skip_graph_ignore. Prints the error and returns
 * EXIT_FAILURE_ on failure; free() the array.
 */
int cli_select_pkgs(const struct kiln_tree *tree, const struct tree_args *a,
		    bool skip_graph_ignore, const struct kiln_pkg ***ret, size_t *ret_n);

/* Print "kiln: @what: <the context's error, or strerror(-r)>" and return EXIT_FAILURE_. */
int cli_fail(int r, const char *what, ...) _printf_(2, 3);

/* Print "kiln: <message>" and return EXIT_USAGE. */
int cli_usage(const char *fmt, ...) _printf_(1, 2);

/* Write all of @s to stdout; returns 0 or EXIT_FAILURE_ after printing why. */
int cli_write_stdout(const char *s, size_t len);

int cmd_graph(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_dump(int argc, char **argv);
