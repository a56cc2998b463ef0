// SPDX-License-Identifier: GPL-2.0
/* Exports a symbol for kiln_consumer. */
#include <linux/init.h>
#include <linux/module.h>

int kiln_provider_value(void)
{
	return 42;
}
EXPORT_SYMBOL_GPL(kiln_provider_value);

static int __init kiln_provider_init(void)
{
	return 0;
}

static void __exit kiln_provider_exit(void)
{
}

module_init(kiln_provider_init);
module_exit(kiln_provider_exit);
MODULE_DESCRIPTION("kiln test module: exports a symbol");
MODULE_LICENSE("GPL");
