// SPDX-License-Identifier: GPL-2.0
/* A module that declares the firmware it needs, one name plain and one a glob. */
#include <linux/init.h>
#include <linux/module.h>

static int __init kiln_fw_init(void)
{
	return 0;
}

static void __exit kiln_fw_exit(void)
{
}

module_init(kiln_fw_init);
module_exit(kiln_fw_exit);
MODULE_DESCRIPTION("kiln test module: firmware");
MODULE_LICENSE("GPL");
MODULE_FIRMWARE("kiln/test-fw.bin");
MODULE_FIRMWARE("kiln/board-*.bin");
