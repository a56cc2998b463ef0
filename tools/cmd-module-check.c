/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder while kiln module check is written; replaced before anything lands. */
#include "kiln.h"

int cmd_module_check(int argc, char **argv)
{
	return cli_usage("module check: not in this build");
}
