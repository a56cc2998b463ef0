/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "kiln.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} subcommands[] = {
	{ "info", cmd_module_info, "what a module says about itself (modinfo, and more)" },
	{ "sign", cmd_module_sign, "sign modules as the kernel's sign-file does" },
	{ "verify", cmd_module_verify, "verify module signatures as the kernel does" },
	{ "check", cmd_module_check, "will it load? vermagic, CRCs, signature, firmware, dependencies" },
};

static void help(void)
{
	printf("Usage: kiln module SUBCOMMAND [OPTIONS] FILE...\n"
	       "\n"
	       "Kernel modules (.ko, .ko.xz, .ko.zst):\n");
	for (size_t i = 0; i < ELEMENTSOF(subcommands); i++)
		printf("  %-8s %s\n", subcommands[i].name, subcommands[i].help);
	printf("\nRun 'kiln module SUBCOMMAND --help' for its options.\n");
}

int cmd_module(int argc, char **argv)
{
	if (argc < 2) {
		help();
		return EXIT_USAGE;
	}
	if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
		help();
		return EXIT_OK;
	}
	for (size_t i = 0; i < ELEMENTSOF(subcommands); i++)
		if (streq(argv[1], subcommands[i].name)) {
			/* a fresh getopt scan over the subcommand's own arguments */
			optind = 0;
			return subcommands[i].run(argc - 1, argv + 1);
		}
	return cli_usage("module: unknown subcommand '%s': run 'kiln module --help'", argv[1]);
}
