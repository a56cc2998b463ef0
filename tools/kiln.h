/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the commands share: the library context, option parsing for the
 * package tree, and printing errors once, as "kiln: <what failed>: <why>".
 */

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <kiln/kiln.h>
#include <kiln/registry.h>
#include <kiln/spec.h>

#include "macro.h"
#include "strbuf.h"

enum {
	EXIT_OK = 0,
	EXIT_FAILURE_ = 1,
	EXIT_USAGE = 2,
};

/* Set by the dispatcher before a command runs. */
extern struct kiln_ctx *cli_ctx;
extern const char *cli_root;
/* The command line as kiln was started with it (for a build report). */
extern int cli_argc;
extern char **cli_argv;
/* The option that picks the platform of the images a command reads, for advice. */
extern const char *cli_platform_option;

/* The options every command that loads a tree takes. */
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
	OPT_INSECURE, /* the registry options: struct cli_options.registry */
	OPT_AUTHFILE,
	OPT_NO_PULL,
	OPT_FIRST_COMMAND_OPTION,
};

#define TREE_OPTIONS_HELP                                                          \
	"  -C, --root DIR         the package tree (default: the current directory)\n" \
	"  -t, --target NAME      a package to start from (repeatable)\n"              \
	"      --platform P       linux/amd64 or linux/arm64 (default: the host's)\n"  \
	"      --build-arg K=V    set template variable BUILD_ARG_K (repeatable)\n"     \
	"      --json             print JSON for machines\n"                            \
	"  -h, --help             show this help\n"

void tree_args_release(struct tree_args *a);

/*
 * Append @arg (not copied: an argv string) to the array *@v of *@n: 1, or
 * -ENOMEM after printing it.
 */
int cli_push_arg(char ***v, size_t *n, const char *arg);

/*
 * The options of every command that reaches a registry: --insecure and
 * --authfile FILE, and --no-pull for those that pull what the store lacks.
 */
struct cli_registry_args {
	struct kiln_registry_options reg; /* @insecure, @auth_file */
	bool no_pull;
};

/*
 * Print the registry options' help lines, each description at column
 * @column as the command's other options have theirs; --no-pull with @pulls.
 */
void cli_registry_help(int column, bool pulls);

/* A command's own options, beyond the shared ones. */
struct cli_options {
	const char *name; /* "graph", for messages */
	bool no_tree; /* the command reads no package tree: only --json and --help are shared */
	int (*help)(void);
	const struct option *extra; /* NULL, or ended by an all-zero entry */
	/* getopt short options of the command's own, such as "k:c:" (-h is shared) */
	const char *short_options;
	/* called for each of @extra (and short options); returns CLI_CONTINUE or an exit code */
	int (*on_option)(int c, const char *arg, void *userdata);
	void *userdata;
	/* NULL, or where the registry options go (cli_registry_help() words them) */
	struct cli_registry_args *registry;
	bool pulls; /* with @registry: --no-pull too */
};

#define CLI_CONTINUE (-1)

/*
 * Parse a command's arguments: the shared options into @a, the command's own
 * through @o. Returns CLI_CONTINUE when the command should go on (its
 * operands start at optind), or the exit code to return: EXIT_OK after
 * --help, EXIT_USAGE after printing a usage error.
 */
int cli_parse_options(int argc, char **argv, const struct cli_options *o, struct tree_args *a);

/*
 * cli_parse_options() for a command that reads no package tree: the shared
 * options are dropped but --json, stored in *@ret_json (may be NULL).
 */
int cli_parse_plain(int argc, char **argv, const struct cli_options *o, bool *ret_json);

struct kiln_platform;
struct kiln_store;
struct kiln_image;

/*
 * Parse @cmd's --platform @arg (NULL: none given, *@ret untouched).
 * EXIT_OK, or EXIT_USAGE after printing "kiln: @cmd: --platform: <why>".
 */
int cli_parse_platform(const char *cmd, const char *arg, struct kiln_platform *ret);

/* Open kiln's store; EXIT_OK, or EXIT_FAILURE_ after printing "kiln: @what: <why>". */
int cli_open_store(const char *what, struct kiln_store **ret);

/*
 * Open the store and load image @ref of it for @platform (NULL: the
 * store's choice) for @cmd; EXIT_OK, or EXIT_FAILURE_ after printing
 * "kiln: @cmd [@ref]: <why>".
 */
int cli_open_image(const char *cmd, const char *ref, const struct kiln_platform *platform,
		   struct kiln_store **ret_store, struct kiln_image **ret_image);

struct kiln_descriptor;

/*
 * Before pushing @d (the image @name names, for messages): look for private
 * keys in every layer of it. A key is an error naming the first one (layer,
 * file, what it is) and counting the rest, EXIT_FAILURE_; with @allow each
 * is a warning and the push may go on (EXIT_OK), as it may when there are
 * none.
 */
int cli_check_private_keys(struct kiln_store *s, const struct kiln_descriptor *d, const char *name,
			   bool allow);

struct kiln_registry_options;

/*
 * Push @d (the image @what names, for messages) to @dest: its layers are
 * looked through for private keys first (cli_check_private_keys()), and
 * the push is recorded in @out_dir/images.json. *@ret_reference (may be
 * NULL) gets HOST/REPO:TAG@sha256:.... EXIT_OK, or EXIT_FAILURE_ after
 * printing why.
 */
int cli_push_image(struct kiln_store *s, const struct kiln_descriptor *d, const char *what,
		   const char *dest, const struct kiln_registry_options *ro, bool allow_private_key,
		   const char *out_dir, char **ret_reference);

/*
 * SOURCE_DATE_EPOCH as reproducible-builds.org defines it, decimal
 * seconds, into *@ret (0 when unset). EXIT_OK, or EXIT_USAGE after saying
 * that @cmd cannot use it.
 */
int cli_source_date_epoch(const char *cmd, int64_t *ret);

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

/* A subcommand of a command such as `kiln store`. */
struct cli_subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help; /* one line, for a command's --help that lists them; may be NULL */
};

/*
 * Run the subcommand argv[1] of @cmd with the arguments after it (a fresh
 * getopt scan), or print @help: EXIT_OK for --help, EXIT_USAGE without a
 * subcommand; an unknown one is a usage error.
 */
int cli_run_subcommand(const char *cmd, int argc, char **argv, const struct cli_subcommand *subs,
		       size_t n, void (*help)(void));

/*
 * Print "kiln: @what: <the context's error, or strerror(-r)>", with the
 * advice the error's hint (kiln_ctx_error_hint()) calls for in kiln's own
 * words, and return EXIT_FAILURE_.
 */
int cli_fail(int r, const char *what, ...) _printf_(2, 3);

/*
 * A library hint (enum kiln_hint, about @subject) in the words of kiln's
 * options and commands, to @f: "; <advice>", or nothing.
 */
void cli_print_advice(FILE *f, enum kiln_hint hint, const char *subject);

/* Print "kiln: <message>" and return EXIT_USAGE. */
int cli_usage(const char *fmt, ...) _printf_(1, 2);

/* Write all of @s to stdout; returns 0 or EXIT_FAILURE_ after printing why. */
int cli_write_stdout(const char *s, size_t len);
/* The buffer, unless an add to it failed (then the error, and nothing printed). */
int cli_write_strbuf(const struct strbuf *sb);

int cmd_graph(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_module(int argc, char **argv);
int cmd_store(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_unpack(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_ext(int argc, char **argv);
int cmd_boot_test(int argc, char **argv);
int cmd_image(int argc, char **argv);

/* kiln module SUBCOMMAND: one file each */
int cmd_module_info(int argc, char **argv);
int cmd_module_sign(int argc, char **argv);
int cmd_module_verify(int argc, char **argv);
int cmd_module_check(int argc, char **argv);
int cmd_module_certs(int argc, char **argv);
