/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln: the command-line front of libkiln. A table of commands, each in its
 * own cmd-<verb>.c; global options come before the command.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "validate", cmd_validate, "check every package of the tree for schema and template errors" },
	{ "graph", cmd_graph, "draw the stage graph (dot or JSON)" },
	{ "dump", cmd_dump, "print the rendered packages" },
	{ "eval", cmd_eval, "render a template with a package's variables" },
	{ "build", cmd_build, "build packages in namespace sandboxes, with a content-addressed cache" },
	{ "cache", cmd_cache, "the build cache: ls, du, prune" },
	{ "ext", cmd_ext, "Talos system extensions: validate, info, new" },
	{ "image", cmd_image, "make an installer image from a base and extensions, as Talos's imager" },
	{ "module", cmd_module, "inspect, sign, verify and pre-flight check kernel modules" },
	{ "import", cmd_import, "make an image in the store from an archive or a directory" },
	{ "export", cmd_export, "write an image as a docker-archive or an oci-archive" },
	{ "push", cmd_push, "push an image to a registry" },
	{ "pull", cmd_pull, "pull an image from a registry into the store" },
	{ "tag", cmd_tag, "give an image in the store another name" },
	{ "inspect", cmd_inspect, "show an image's manifest, config, layers and platforms" },
	{ "ls", cmd_ls, "list files in an image's flattened filesystem" },
	{ "cat", cmd_cat, "print a file from an image" },
	{ "unpack", cmd_unpack, "unpack an image's filesystem into a directory" },
	{ "store", cmd_store, "the local image store: ls, gc, rm, path" },
	{ "boot-test", cmd_boot_test, "boot an installer under QEMU and check its modules and devices" },
};

static void print_help(void)
{
	printf("Usage: kiln [-C DIR] [--verbose] COMMAND [ARGS]...\n"
	       "\n"
	       "Read and build bldr package trees, sign and pre-flight check kernel\n"
	       "modules, validate Talos system extensions, and work with OCI images and\n"
	       "registries: the pieces of a custom Talos Linux module's path, with no\n"
	       "Docker and no daemon.\n"
	       "\n"
	       "Commands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].help);
	printf("  %-10s %s\n", "help", "show this help, or a command's: kiln help COMMAND");
	printf("\n"
	       "Options:\n"
	       "  -C, --root DIR   the package tree (default: the current directory)\n"
	       "  -v, --verbose    show debug messages\n"
	       "  -h, --help       show this help\n"
	       "  -V, --version    show the version\n"
	       "\n"
	       "Exit status: 0 success, 1 failure, 2 usage error.\n"
	       "Run 'kiln COMMAND --help' for a command's options.\n");
}

static void log_to_stderr(void *userdata, enum kiln_log_level level, const char *msg)
{
	switch (level) {
	case KILN_LOG_ERR:
		fprintf(stderr, "kiln: %s\n", msg);
		break;
	case KILN_LOG_WARNING:
		fprintf(stderr, "kiln: warning: %s\n", msg);
		break;
	default:
		fprintf(stderr, "kiln: %s\n", msg);
		break;
	}
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		if (streq(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int run_command(const struct command *cmd, int argc, char **argv)
{
	/* each command parses its own options from a fresh getopt state */
	optind = 0;
	return cmd->run(argc, argv);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "root", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	const struct command *cmd;
	bool verbose = false;
	int c, r;

	cli_argc = argc;
	cli_argv = argv;
	while ((c = getopt_long(argc, argv, "+C:vhV", options, NULL)) >= 0) {
		switch (c) {
		case 'C':
			cli_root = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			print_help();
			return EXIT_OK;
		case 'V':
			printf("kiln %s\n", kiln_version());
			return EXIT_OK;
		default:
			return cli_usage("run 'kiln --help' for usage");
		}
	}
	if (optind >= argc) {
		print_help();
		return EXIT_USAGE;
	}

	r = kiln_ctx_new(&ctx);
	if (r < 0) {
		fprintf(stderr, "kiln: out of memory\n");
		return EXIT_FAILURE_;
	}
	kiln_ctx_set_log_fn(ctx, log_to_stderr, NULL);
	if (verbose)
		kiln_ctx_set_log_level(ctx, KILN_LOG_DEBUG);
	cli_ctx = ctx;

	argc -= optind;
	argv += optind;
	if (streq(argv[0], "help")) {
		if (argc < 2) {
			print_help();
			return EXIT_OK;
		}
		cmd = find_command(argv[1]);
		if (!cmd)
			return cli_usage("unknown command '%s': run 'kiln help' for the list", argv[1]);
		return run_command(cmd, 2, (char *[]){ argv[1], (char *)"--help", NULL });
	}
	cmd = find_command(argv[0]);
	if (!cmd)
		return cli_usage("unknown command '%s': run 'kiln help' for the list", argv[0]);
	return run_command(cmd, argc, argv);
}
