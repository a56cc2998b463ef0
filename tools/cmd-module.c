/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

#include "kiln.h"

static const struct cli_subcommand subcommands[] = {
	{ "info", cmd_module_info, "what a module says about itself (modinfo, and more)" },
	{ "sign", cmd_module_sign, "sign modules as the kernel's sign-file does" },
	{ "verify", cmd_module_verify, "verify module signatures as the kernel does" },
	{ "check", cmd_module_check, "will it load? vermagic, CRCs, signature, firmware, dependencies" },
	{ "certs", cmd_module_certs, "the certificates a kernel image trusts for module signatures" },
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
	return cli_run_subcommand("module", argc, argv, subcommands, ELEMENTSOF(subcommands), help);
}
