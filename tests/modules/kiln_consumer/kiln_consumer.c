// SPDX-License-Identifier: GPL-2.0
/* Depends on kiln_provider through the symbol it uses. */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

int kiln_provider_value(void);

static int __init kiln_consumer_init(void)
{
	pr_info("kiln_consumer: provider says %d\n", kiln_provider_value());
	return 0;
}

static void __exit kiln_consumer_exit(void)
{
}

module_init(kiln_consumer_init);
module_exit(kiln_consumer_exit);
MODULE_DESCRIPTION("kiln test module: uses kiln_provider");
MODULE_LICENSE("GPL");
