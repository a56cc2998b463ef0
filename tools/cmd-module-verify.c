/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Placeholder while kiln module verify is written; replaced before anything lands. */
#include "kiln.h"

int cmd_module_verify(int argc, char **argv)
{
	return cli_usage("module verify: not in this build");
}
