// SPDX-License-Identifier: GPL-2.0
/*
 * kiln_demo: the smallest module that exercises what kiln checks before a
 * module ships: a signature, versioned symbols, a declared firmware file.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init kiln_demo_init(void)
{
	pr_info("kiln_demo: loaded\n");
	return 0;
}

static void __exit kiln_demo_exit(void)
{
	pr_info("kiln_demo: unloaded\n");
}

module_init(kiln_demo_init);
module_exit(kiln_demo_exit);

MODULE_DESCRIPTION("kiln demonstration module");
MODULE_AUTHOR("kiln");
MODULE_LICENSE("GPL");
MODULE_FIRMWARE("kiln/demo.bin");
