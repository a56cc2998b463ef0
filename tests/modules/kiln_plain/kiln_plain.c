// SPDX-License-Identifier: GPL-2.0
/* The plainest module: one parameter, no firmware, no dependencies. */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/printk.h>

static int level = 1;
module_param(level, int, 0444);
MODULE_PARM_DESC(level, "how loud to be");

static int __init kiln_plain_init(void)
{
	pr_info("kiln_plain: loaded at level %d\n", level);
	return 0;
}

static void __exit kiln_plain_exit(void)
{
}

module_init(kiln_plain_init);
module_exit(kiln_plain_exit);
MODULE_DESCRIPTION("kiln test module: plain");
MODULE_AUTHOR("kiln");
MODULE_LICENSE("GPL");
MODULE_ALIAS("kiln-plain-alias");
MODULE_ALIAS("kiln-plain-other");
