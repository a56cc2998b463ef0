/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder while kiln module sign is written; replaced before anything lands. */
#include "kiln.h"

int cmd_module_sign(int argc, char **argv)
{
	return cli_usage("module sign: not in this build");
}
