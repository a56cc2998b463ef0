/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder while kiln module info is written; replaced before anything lands. */
#include "kiln.h"

int cmd_module_info(int argc, char **argv)
{
	return cli_usage("module info: not in this build");
}
