// SPDX-License-Identifier: GPL-2.0
/*
 * kiln_demo: a module in the shape of a real device driver, small enough to
 * read in a minute. At init it loads its firmware with request_firmware()
 * (so a missing blob fails the load, as it does for the Hailo driver) and
 * registers the misc character device /dev/kiln_demo, whose mode a udev
 * rule sets. Reading the device returns the firmware's first line.
 */
#include <linux/firmware.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/string.h>

#define KILN_DEMO_FIRMWARE "kiln/demo.bin"

static char *kiln_demo_banner;
static size_t kiln_demo_banner_len;

static ssize_t kiln_demo_read(struct file *file, char __user *buf, size_t count, loff_t *pos)
{
	return simple_read_from_buffer(buf, count, pos, kiln_demo_banner, kiln_demo_banner_len);
}

static const struct file_operations kiln_demo_fops = {
	.owner = THIS_MODULE,
	.read = kiln_demo_read,
	.llseek = default_llseek,
};

static struct miscdevice kiln_demo_device = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kiln_demo",
	.fops = &kiln_demo_fops,
};

static int __init kiln_demo_init(void)
{
	const struct firmware *fw;
	const char *end;
	int ret;

	ret = request_firmware(&fw, KILN_DEMO_FIRMWARE, NULL);
	if (ret) {
		pr_err("kiln_demo: cannot load firmware %s: %d\n", KILN_DEMO_FIRMWARE, ret);
		return ret;
	}
	end = memchr(fw->data, '\n', fw->size);
	kiln_demo_banner_len = end ? (size_t)(end - (const char *)fw->data) + 1 : fw->size;
	kiln_demo_banner = kmemdup(fw->data, kiln_demo_banner_len, GFP_KERNEL);
	pr_info("kiln_demo: firmware %s loaded, %zu bytes\n", KILN_DEMO_FIRMWARE, fw->size);
	release_firmware(fw);
	if (!kiln_demo_banner)
		return -ENOMEM;

	ret = misc_register(&kiln_demo_device);
	if (ret) {
		kfree(kiln_demo_banner);
		return ret;
	}
	pr_info("kiln_demo: loaded, /dev/%s\n", kiln_demo_device.name);
	return 0;
}

static void __exit kiln_demo_exit(void)
{
	misc_deregister(&kiln_demo_device);
	kfree(kiln_demo_banner);
	pr_info("kiln_demo: unloaded\n");
}

module_init(kiln_demo_init);
module_exit(kiln_demo_exit);

MODULE_DESCRIPTION("kiln demonstration driver: a misc device with firmware");
MODULE_AUTHOR("kiln");
MODULE_LICENSE("GPL");
MODULE_FIRMWARE(KILN_DEMO_FIRMWARE);
