/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pieces of kiln module check that stand alone: the kernel's vermagic
 * rule (same_magic()), the vermagic derived from a .config, Module.symvers
 * parsing on real and hostile input, the kernel description of a real
 * headers tree, and a module's symbol table (KILN_TEST_MODULES).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kiln/module.h>

#include "fileio.h"
#include "ksyms.h"
#include "strbuf.h"
#include "tap.h"
#include "helpers.h"

/* ---- fixes --------------------------------------------------------------- */

/* A fix is a fact with a stable name (build records keep it); the words are the CLI's. */
TEST(check_fix_names_round_trip)
{
	ASSERT_TRUE(kiln_check_fix_name(KILN_FIX_NONE) == NULL);
	ASSERT_EQ(kiln_check_fix_by_name(NULL), KILN_FIX_NONE);
	ASSERT_EQ(kiln_check_fix_by_name("use --replace"), KILN_FIX_NONE);
	for (int i = KILN_FIX_NONE + 1; i < KILN_FIX_MAX; i++) {
		const char *name = kiln_check_fix_name((enum kiln_check_fix)i);

		ASSERT_TRUE(name != NULL);
		ASSERT_TRUE(strchr(name, ' ') == NULL);
		ASSERT_EQ(kiln_check_fix_by_name(name), i);
	}
	ASSERT_STREQ(kiln_check_fix_name(KILN_FIX_SIGN), "sign");
	ASSERT_TRUE(kiln_check_fix_name(KILN_FIX_MAX) == NULL);
}

/* ---- vermagic ------------------------------------------------------------ */

TEST(vermagic_same_whole_string_without_crcs)
{
	const char *k = "6.1.0-56-amd64 SMP preempt mod_unload modversions ";
	const char *other = "6.1.0-99-other SMP preempt mod_unload modversions ";

	ASSERT_TRUE(kiln_vermagic_same(k, k, false));
	ASSERT_TRUE(kiln_vermagic_same(k, k, true));
	/* the release counts without CRCs ... */
	ASSERT_FALSE(kiln_vermagic_same(other, k, false));
	/* ... and not with them: same_magic() skips up to the first space */
	ASSERT_TRUE(kiln_vermagic_same(other, k, true));
	/* flags always count */
	ASSERT_FALSE(kiln_vermagic_same("6.1.0-56-amd64 SMP mod_unload modversions ", k, true));
	ASSERT_FALSE(kiln_vermagic_same("6.1.0-99-other SMP mod_unload modversions ", k, true));
	/* even the trailing space: strcmp(), not a word comparison */
	ASSERT_FALSE(kiln_vermagic_same("6.1.0-56-amd64 SMP preempt mod_unload modversions", k,
					true));
	/* no space at all: the whole string is the release */
	ASSERT_TRUE(kiln_vermagic_same("a", "b", true));
	ASSERT_FALSE(kiln_vermagic_same("a", "b", false));
	ASSERT_TRUE(kiln_vermagic_same("", "", false));
}

static char *vermagic_of(const char *config, const char *seed)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	char *vm = NULL;

	if (kiln_vermagic_from_config(ctx, "R", config, strlen(config), seed, &vm) < 0)
		return NULL;
	return vm;
}

TEST(vermagic_from_config_follows_vermagic_h)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL, *f = NULL;

	a = vermagic_of("CONFIG_X86_64=y\nCONFIG_SMP=y\nCONFIG_PREEMPT_BUILD=y\n"
			"CONFIG_MODULE_UNLOAD=y\nCONFIG_MODVERSIONS=y\n", NULL);
	ASSERT_STREQ(a, "R SMP preempt mod_unload modversions ");
	/* "is not set" lines and other values are not "y" */
	b = vermagic_of("CONFIG_X86_64=y\n# CONFIG_SMP is not set\nCONFIG_PREEMPT_RT=y\n"
			"CONFIG_MODULE_UNLOAD=m\n", NULL);
	ASSERT_STREQ(b, "R preempt_rt ");
	c = vermagic_of("CONFIG_ARM64=y\nCONFIG_SMP=y\nCONFIG_MODULE_UNLOAD=y\n", NULL);
	ASSERT_STREQ(c, "R SMP mod_unload aarch64");
	d = vermagic_of("CONFIG_X86_32=y\nCONFIG_M686=y\nCONFIG_MPENTIUM4=y\n", NULL);
	ASSERT_STREQ(d, "R 686 ");
	e = vermagic_of("CONFIG_RISCV=y\nCONFIG_RANDSTRUCT=y\nCONFIG_RANDSTRUCT_FULL=y\n", "ab12");
	ASSERT_STREQ(e, "R riscvRANDSTRUCT_ab12");
	/* before 5.16 CONFIG_PREEMPT itself */
	f = vermagic_of("CONFIG_S390=y\nCONFIG_PREEMPT=y\n", NULL);
	ASSERT_STREQ(f, "R preempt ");
}

TEST(vermagic_from_config_refuses_what_it_cannot_know)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	char *vm = NULL;
	const char *arm = "CONFIG_ARM=y\nCONFIG_SMP=y\n", *none = "CONFIG_SMP=y\n";
	const char *rs = "CONFIG_X86_64=y\nCONFIG_RANDSTRUCT=y\n", *x86 = "CONFIG_X86_32=y\n";

	ASSERT_EQ(kiln_vermagic_from_config(ctx, "R", arm, strlen(arm), NULL, &vm), -EOPNOTSUPP);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "CONFIG_ARM");
	ASSERT_EQ(kiln_vermagic_from_config(ctx, "R", none, strlen(none), NULL, &vm), -EOPNOTSUPP);
	ASSERT_EQ(kiln_vermagic_from_config(ctx, "R", rs, strlen(rs), NULL, &vm), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "randstruct_hash.h");
	ASSERT_EQ(kiln_vermagic_from_config(ctx, "R", x86, strlen(x86), NULL, &vm), -EINVAL);
	ASSERT_TRUE(vm == NULL);
}

TEST(vermagic_of_debian_config_is_its_modules)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *config = NULL, *vm = NULL;
	size_t len;

	_cleanup_free_ char *path = NULL;
	struct debian_headers h;

	need_debian_headers(&h);
	path = path_join(h.dir, ".config");
	ASSERT_TRUE(path != NULL);
	ASSERT_OK(read_file_at(AT_FDCWD, path, 1 << 24, &config, &len));
	ASSERT_OK(kiln_vermagic_from_config(ctx, h.release, config, len, NULL, &vm));
	ASSERT_STREQ(vm, h.vermagic);
}

/* ---- Module.symvers -------------------------------------------------------- */

/* Parse @text; returns the error (0 on success) and leaves the message in @err. */
static int parse(struct kiln_symvers *s, const char *text, size_t len, char **err)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	int r = kiln_symvers_add(ctx, s, "Module.symvers", text, len);

	*err = r < 0 && kiln_ctx_error(ctx) ? strdup(kiln_ctx_error(ctx)) : NULL;
	return r;
}

TEST(symvers_parses_every_format)
{
	_cleanup_(kiln_symvers_freep) struct kiln_symvers *s = NULL;
	_cleanup_free_ char *err = NULL;
	const struct kiln_symvers_entry *e;
	static const char text[] = "0x92997ed8\t_printk\tvmlinux\tEXPORT_SYMBOL\t\n"
				   "0x84b45156\tinsert_res\tvmlinux\tEXPORT_SYMBOL_GPL\tCXL\n"
				   "\n"
				   "0xABCDEF01\told_style\tdrivers/x/y\tEXPORT_SYMBOL\r\n"
				   "0x1\tns_third\tUSB_STORAGE\tdrivers/usb/storage/usb-storage\t"
				   "EXPORT_SYMBOL_GPL\n"
				   "0x00000002\t_printk\tother\tEXPORT_SYMBOL\t\n"
				   "0x3\tno_newline\tvmlinux\tEXPORT_SYMBOL";
	size_t n;

	ASSERT_OK(kiln_symvers_new(&s));
	ASSERT_OK(parse(s, text, sizeof(text) - 1, &err));
	kiln_symvers_entries(s, &n);
	ASSERT_EQ(n, 6);

	e = kiln_symvers_find(s, "_printk");
	ASSERT_TRUE(e != NULL);
	/* the first entry of a symbol wins, as the kernel's file is read first */
	ASSERT_EQ(e->crc, 0x92997ed8);
	ASSERT_STREQ(e->module, "vmlinux");
	ASSERT_STREQ(e->ns, "");
	ASSERT_EQ(e->line, 1);
	e = kiln_symvers_find(s, "insert_res");
	ASSERT_STREQ(e->export_type, "EXPORT_SYMBOL_GPL");
	ASSERT_STREQ(e->ns, "CXL");
	e = kiln_symvers_find(s, "old_style");
	ASSERT_EQ(e->crc, 0xabcdef01);
	ASSERT_STREQ(e->export_type, "EXPORT_SYMBOL");
	e = kiln_symvers_find(s, "ns_third");
	ASSERT_STREQ(e->ns, "USB_STORAGE");
	ASSERT_STREQ(e->module, "drivers/usb/storage/usb-storage");
	ASSERT_EQ(kiln_symvers_find(s, "no_newline")->line, 7);
	ASSERT_TRUE(kiln_symvers_find(s, "_print") == NULL);
	ASSERT_TRUE(kiln_symvers_find(s, "") == NULL);
}

/* One bad input: refused with @msg at line @line, and @s left as it was. */
static void assert_refused(struct kiln_symvers *s, const char *text, size_t len, int err,
			   const char *msg)
{
	_cleanup_free_ char *e = NULL;
	size_t before, after;

	kiln_symvers_entries(s, &before);
	ASSERT_EQ(parse(s, text, len, &e), err);
	ASSERT_CONTAINS(e, msg);
	kiln_symvers_entries(s, &after);
	ASSERT_EQ(after, before);
}

#define REFUSED(s, text, err, msg) assert_refused(s, text, sizeof(text) - 1, err, msg)

TEST(symvers_refuses_hostile_lines)
{
	_cleanup_(kiln_symvers_freep) struct kiln_symvers *s = NULL;
	_cleanup_free_ char *err = NULL, *longline = NULL;
	static const char good[] = "0x1\tkeep\tvmlinux\tEXPORT_SYMBOL\t\n";

	ASSERT_OK(kiln_symvers_new(&s));
	ASSERT_OK(parse(s, good, sizeof(good) - 1, &err));

	REFUSED(s, "0x1\tok\tvmlinux\tEXPORT_SYMBOL\n0x\tx\tvmlinux\tEXPORT_SYMBOL\n", -EBADMSG,
		"Module.symvers:2: bad CRC");
	REFUSED(s, "0xZZ\tx\tvmlinux\tEXPORT_SYMBOL\n", -EBADMSG, ":1: bad CRC");
	REFUSED(s, "0x123456789\tx\tvmlinux\tEXPORT_SYMBOL\n", -EBADMSG, "0x123456789");
	REFUSED(s, "1234\tx\tvmlinux\tEXPORT_SYMBOL\n", -EBADMSG, "bad CRC");
	REFUSED(s, "-0x1\tx\tvmlinux\tEXPORT_SYMBOL\n", -EBADMSG, "bad CRC");
	REFUSED(s, "0x1 \tx\tvmlinux\tEXPORT_SYMBOL\n", -EBADMSG, "bad CRC");
	REFUSED(s, "0x1\tx\tvmlinux\n", -EBADMSG, ":1: 3 tab-separated fields");
	REFUSED(s, "0x1\n", -EBADMSG, "1 tab-separated fields");
	REFUSED(s, "0x1\tx\tvmlinux\tEXPORT_SYMBOL\tNS\textra\n", -EBADMSG, "more than 5");
	REFUSED(s, "0x1\tx\tvmlinux\tEXPORTED\n", -EBADMSG, "no export type");
	REFUSED(s, "0x1\tx\tvmlinux\tNS\tNOPE\n", -EBADMSG, "no export type");
	REFUSED(s, "0x1\t\tvmlinux\tEXPORT_SYMBOL\n", -EBADMSG, "empty symbol name");
	REFUSED(s, "0x1\ta b\tvmlinux\tEXPORT_SYMBOL\n", -EBADMSG, "blank or control character");
	REFUSED(s, "0x1\ta\x01\tvmlinux\tEXPORT_SYMBOL\n", -EBADMSG, "\\x01");
	REFUSED(s, "0x1\tx\t\tEXPORT_SYMBOL\n", -EBADMSG, "bad module name");
	REFUSED(s, "0x1\tx\tvmlinux\tEXPORT_SYMBOL\tN S\n", -EBADMSG, "bad namespace");
	REFUSED(s, "0x1\tx\tvmlinux\tEXPORT_SYMBOL\n\0\n", -EBADMSG, "NUL byte");

	/* an overlong line is refused by its length, before anything else */
	longline = malloc(KILN_SYMVERS_MAX_LINE + 2);
	ASSERT_TRUE(longline != NULL);
	memset(longline, 'a', KILN_SYMVERS_MAX_LINE + 1);
	longline[KILN_SYMVERS_MAX_LINE + 1] = '\n';
	assert_refused(s, longline, KILN_SYMVERS_MAX_LINE + 2, -EBADMSG, ":1: line of 4097 bytes");
	/* a symbol name over the bound, in a line under it */
	memcpy(longline, "0x1\t", 4);
	memcpy(longline + 4 + 2000, "\tvmlinux\tEXPORT_SYMBOL\n", 23);
	assert_refused(s, longline, 4 + 2000 + 23, -EBADMSG, "symbol name longer than");

	/* what was there before the bad files is still all there, and only that */
	ASSERT_TRUE(kiln_symvers_find(s, "keep") != NULL);
	ASSERT_TRUE(kiln_symvers_find(s, "ok") == NULL);
	ASSERT_TRUE(kiln_symvers_find(s, "x") == NULL);
}

TEST(symvers_rollback_keeps_lookups_intact)
{
	_cleanup_(kiln_symvers_freep) struct kiln_symvers *s = NULL;
	_cleanup_strbuf_ struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	_cleanup_free_ char *err = NULL;
	char name[32];

	ASSERT_OK(kiln_symvers_new(&s));
	for (int i = 0; i < 3000; i++)
		ASSERT_OK(strbuf_addf(&a, "0x%x\ta%d\tvmlinux\tEXPORT_SYMBOL\t\n", i, i));
	ASSERT_OK(parse(s, a.buf, a.len, &err));
	/* enough new symbols to grow the index, then a bad line */
	for (int i = 0; i < 5000; i++)
		ASSERT_OK(strbuf_addf(&b, "0x%x\tb%d\tvmlinux\tEXPORT_SYMBOL\t\n", i, i));
	ASSERT_OK(strbuf_adds(&b, "bad\n"));
	ASSERT_EQ(parse(s, b.buf, b.len, &err), -EBADMSG);
	ASSERT_CONTAINS(err, "Module.symvers:5001: ");
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		ASSERT_TRUE(kiln_symvers_find(s, name) != NULL);
		ASSERT_EQ(kiln_symvers_find(s, name)->crc, (uint32_t)i);
	}
	for (int i = 0; i < 5000; i += 7) {
		snprintf(name, sizeof(name), "b%d", i);
		ASSERT_TRUE(kiln_symvers_find(s, name) == NULL);
	}
}

TEST(symvers_of_a_real_kernel)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_symvers_freep) struct kiln_symvers *s = NULL;
	const struct kiln_symvers_entry *e;
	size_t n;

	_cleanup_free_ char *path = NULL, *text = NULL;
	size_t len, lines = 0;
	unsigned long crc;
	const char *p;
	struct debian_headers h;

	need_debian_headers(&h);
	path = path_join(h.dir, "Module.symvers");
	ASSERT_TRUE(path != NULL);
	ASSERT_OK(kiln_symvers_new(&s));
	ASSERT_OK(kiln_symvers_add_file(ctx, s, path));
	/* every line is an entry, and module_layout's CRC is the one the file has */
	ASSERT_OK(read_file_at(AT_FDCWD, path, 1 << 26, &text, &len));
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	kiln_symvers_entries(s, &n);
	ASSERT_TRUE(n > 10000);
	ASSERT_EQ(n, lines);
	p = strstr(text, "\tmodule_layout\t");
	ASSERT_TRUE(p != NULL);
	while (p > text && p[-1] != '\n')
		p--;
	crc = strtoul(p, NULL, 16);
	e = kiln_symvers_find(s, "module_layout");
	ASSERT_TRUE(e != NULL);
	ASSERT_EQ(e->crc, crc);
	e = kiln_symvers_find(s, "crypto_cipher_setkey");
	ASSERT_STREQ(e->ns, "CRYPTO_INTERNAL");
	ASSERT_STREQ(e->export_type, "EXPORT_SYMBOL_GPL");
}

/* ---- the kernel ---------------------------------------------------------- */

TEST(kernel_of_debian_headers)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_kernel_freep) struct kiln_kernel *k = NULL;
	struct kiln_kernel_options o = { 0 };
	const struct kiln_kernel_info *ki;
	struct debian_headers h;

	need_debian_headers(&h);
	o.build_dir = h.dir;
	ASSERT_OK(kiln_kernel_load(ctx, &o, &k));
	ki = kiln_kernel_info(k);
	/* utsrelease.h, not include/config/kernel.release (Debian's upstream version there) */
	ASSERT_STREQ(ki->release, h.release);
	ASSERT_STREQ(ki->vermagic, h.vermagic);
	ASSERT_STREQ(ki->vermagic_source, ".config");
	ASSERT_EQ(ki->modversions, 1);
	ASSERT_EQ(ki->module_sig, 1);
	ASSERT_EQ(ki->sig_force, 0);
	ASSERT_EQ(ki->force_load, 1);
	ASSERT_TRUE(ki->cert == NULL);
	/* in-tree modules that export: their names, '-' or '_' */
	ASSERT_STREQ(kiln_kernel_module_source(k, "usbcore"), "Module.symvers");
	ASSERT_STREQ(kiln_kernel_module_source(k, "usb-storage"), "Module.symvers");
	ASSERT_TRUE(kiln_kernel_module_source(k, "kiln_provider") == NULL);
}

TEST(kernel_options_checked)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	struct kiln_kernel *k = NULL;
	struct kiln_kernel_options o = { .release = "6.1.0-56-amd64" };
	const char *bad[] = { "/nonexistent/Module.symvers" };

	ASSERT_EQ(kiln_kernel_load(ctx, &o, &k), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "no Module.symvers");
	o.symvers = bad;
	o.n_symvers = 1;
	ASSERT_EQ(kiln_kernel_load(ctx, &o, &k), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "/nonexistent/Module.symvers");
	o.release = "6.1 with spaces";
	ASSERT_EQ(kiln_kernel_load(ctx, &o, &k), -EINVAL);
	o.release = "../../etc";
	ASSERT_EQ(kiln_kernel_load(ctx, &o, &k), -EINVAL);
	ASSERT_TRUE(k == NULL);
}

/* ---- firmware ------------------------------------------------------------ */

static void make_file(const char *root, const char *path)
{
	_cleanup_free_ char *p = NULL, *cmd = NULL;

	if (asprintf(&p, "%s/%s", root, path) < 0 ||
	    asprintf(&cmd, "mkdir -p \"$(dirname '%s')\" && echo x > '%s'", p, p) < 0 ||
	    system(cmd) != 0)
		abort();
}

TEST(firmware_search_path_and_globs)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *root = tap_temp_dir("test-fw"), *outside = tap_temp_dir("test-out");
	_cleanup_free_ char *link = NULL, *up = NULL;
	char *path = NULL;

	make_file(root, "lib/firmware/a/plain.bin");
	make_file(root, "lib/firmware/updates/R/a/updated.bin");
	make_file(root, "lib/firmware/R/a/rel.bin.zst");
	make_file(root, "usr/lib/firmware/b/usr.bin.xz");
	make_file(root, "lib/firmware/vendor-1/board-7.bin");
	make_file(outside, "secret.bin");
	ASSERT_TRUE(asprintf(&link, "%s/lib/firmware/escape", root) > 0);
	ASSERT_OK(symlink(outside, link));

	ASSERT_EQ(kiln_firmware_find(ctx, root, "R", "a/plain.bin", &path), 1);
	ASSERT_STREQ(path, "lib/firmware/a/plain.bin");
	free(path);
	ASSERT_EQ(kiln_firmware_find(ctx, root, "R", "a/updated.bin", &path), 1);
	ASSERT_STREQ(path, "lib/firmware/updates/R/a/updated.bin");
	free(path);
	ASSERT_EQ(kiln_firmware_find(ctx, root, "R", "a/rel.bin", &path), 1);
	ASSERT_STREQ(path, "lib/firmware/R/a/rel.bin.zst");
	free(path);
	ASSERT_EQ(kiln_firmware_find(ctx, root, "R", "b/usr.bin", &path), 1);
	ASSERT_STREQ(path, "usr/lib/firmware/b/usr.bin.xz");
	free(path);
	/* another release's directory is not searched */
	ASSERT_EQ(kiln_firmware_find(ctx, root, "S", "a/updated.bin", &path), 0);
	/* globs, in any component */
	ASSERT_EQ(kiln_firmware_find(ctx, root, "R", "vendor-*/board-?.bin", &path), 1);
	ASSERT_STREQ(path, "lib/firmware/vendor-1/board-7.bin");
	free(path);
	ASSERT_EQ(kiln_firmware_find(ctx, root, "R", "vendor-[2-9]/board-*.bin", &path), 0);
	ASSERT_EQ(kiln_firmware_find(ctx, root, "R", "*", &path), 0); /* directories are not files */
	/* nothing outside the root: not by "..", not by an absolute symlink */
	ASSERT_TRUE(asprintf(&up, "../../../../../..%s/secret.bin", outside) > 0);
	ASSERT_EQ(kiln_firmware_find(ctx, root, "R", up, &path), 0);
	ASSERT_EQ(kiln_firmware_find(ctx, root, "R", "escape/secret.bin", &path), 0);
	ASSERT_EQ(kiln_firmware_find(ctx, root, "R", "", &path), -EINVAL);
}

/* ---- finding a kernel in a tree (kiln build's dependencies) --------------- */

TEST(kernel_found_in_a_root)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *root = tap_temp_dir("test-kroot"), *outside = tap_temp_dir("test-kout");
	_cleanup_free_ char *cmd = NULL, *link = NULL, *dir = NULL;
	struct kiln_kernel_options o = { .release = "6.1.0-9-test" };
	struct kiln_kernel *k = NULL;
	const char *sub = NULL;
	char *mods = NULL;

	ASSERT_EQ(kiln_kernel_build_find(ctx, root, &sub), 0);
	ASSERT_EQ(kiln_kernel_modules_find(ctx, root, &mods), 0);
	/* a tree through a symlink out of the root is not one */
	make_file(outside, "Module.symvers");
	make_file(outside, "include/config/kernel.release");
	ASSERT_TRUE(asprintf(&link, "%s/src", root) > 0);
	ASSERT_OK(symlink(outside, link));
	ASSERT_EQ(kiln_kernel_build_find(ctx, root, &sub), 0);
	ASSERT_OK(unlink(link));
	/* at the top; at /src, which comes first */
	make_file(root, "Module.symvers");
	make_file(root, "include/generated/utsrelease.h");
	ASSERT_EQ(kiln_kernel_build_find(ctx, root, &sub), 1);
	ASSERT_STREQ(sub, ".");
	make_file(root, "src/Module.symvers");
	ASSERT_EQ(kiln_kernel_build_find(ctx, root, &sub), 1);
	ASSERT_STREQ(sub, "."); /* no release in src/: not a tree */
	make_file(root, "src/include/config/kernel.release");
	ASSERT_EQ(kiln_kernel_build_find(ctx, root, &sub), 1);
	ASSERT_STREQ(sub, "src");

	/* a kernel's modules: modules.dep and modules.builtin, as modules_install leaves them */
	make_file(root, "usr/lib/modules/6.1.0-9-ext/modules.dep");
	ASSERT_EQ(kiln_kernel_modules_find(ctx, root, &mods), 0); /* depmod alone: an extension */
	make_file(root, "usr/lib/modules/6.1.0-9-test/modules.dep");
	make_file(root, "usr/lib/modules/6.1.0-9-test/modules.builtin");
	ASSERT_EQ(kiln_kernel_modules_find(ctx, root, &mods), 1);
	ASSERT_STREQ(mods, "usr/lib/modules/6.1.0-9-test");
	free(mods);
	mods = NULL;
	/* known by its modules alone: a release, no Module.symvers */
	ASSERT_TRUE(asprintf(&dir, "%s/usr/lib/modules/6.1.0-9-test", root) > 0);
	ASSERT_TRUE(asprintf(&cmd, "printf 'kernel/a.ko:\\n' > '%s/modules.dep'", dir) > 0);
	ASSERT_EQ(system(cmd), 0);
	free(cmd);
	cmd = NULL;
	make_file(dir, "kernel/a.ko");
	o.modules_dir = dir;
	/* its vermagic comes from its first module, which must be one */
	ASSERT_EQ(kiln_kernel_load(ctx, &o, &k), -ENOEXEC);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "kernel/a.ko");
	o.vermagic = "6.1.0-9-test SMP mod_unload modversions ";
	ASSERT_OK(kiln_kernel_load(ctx, &o, &k));
	ASSERT_STREQ(kiln_kernel_info(k)->release, "6.1.0-9-test");
	ASSERT_STREQ(kiln_kernel_module_source(k, "a"), "modules.dep");
	ASSERT_TRUE(kiln_kernel_info(k)->symvers == NULL);
	kiln_kernel_free(k);
	/* two kernels: which one is not guessed */
	make_file(root, "usr/lib/modules/6.1.0-9-other/modules.dep");
	make_file(root, "usr/lib/modules/6.1.0-9-other/modules.builtin");
	ASSERT_EQ(kiln_kernel_modules_find(ctx, root, &mods), 0);
}

/* ---- a module's symbols --------------------------------------------------- */

static struct kiln_module *open_test_module(struct kiln_ctx *ctx, const char *name)
{
	_cleanup_free_ char *path = NULL;
	struct kiln_module *m = NULL;

	if (asprintf(&path, "%s/%s.ko", need_test_modules(), name) < 0)
		abort();
	ASSERT_OK(kiln_module_open(ctx, path, &m));
	return m;
}

TEST(module_syms_imports_and_exports)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_module_freep) struct kiln_module *prov = NULL, *cons = NULL;
	struct kiln_module_syms ps = { 0 }, cs = { 0 };
	const struct kiln_ksym *x;
	bool printk = false, value = false;

	prov = open_test_module(ctx, "kiln_provider");
	cons = open_test_module(ctx, "kiln_consumer");
	ASSERT_TRUE(prov && cons);
	ASSERT_OK(kiln_module_read_syms(ctx, prov, &ps));
	ASSERT_OK(kiln_module_read_syms(ctx, cons, &cs));

	ASSERT_EQ(ps.n_exports, 1);
	x = kiln_module_syms_export(&ps, "kiln_provider_value");
	ASSERT_TRUE(x != NULL);
	ASSERT_TRUE(x->gpl);
	/* the CRC modpost put in __kcrctab_gpl is the one the consumer recorded */
	ASSERT_TRUE(x->has_crc);
	for (size_t i = 0; i < cs.n_imports; i++) {
		printk = printk || streq(cs.imports[i].name, "_printk");
		value = value || streq(cs.imports[i].name, "kiln_provider_value");
	}
	ASSERT_TRUE(printk && value);
	ASSERT_TRUE(cs.has_versions);
	ASSERT_EQ(cs.n_exports, 0);
	{
		const struct kiln_modversion *v;
		size_t n;
		bool found = false;

		v = kiln_module_versions(cons, &n);
		for (size_t i = 0; i < n; i++)
			if (streq(v[i].symbol, "kiln_provider_value")) {
				ASSERT_EQ(v[i].crc, x->crc);
				found = true;
			}
		ASSERT_TRUE(found);
	}
	kiln_module_syms_release(&ps);
	kiln_module_syms_release(&cs);
}

TEST(module_syms_hostile_symtab)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *path = NULL, *data = NULL;
	size_t len, step;

	ASSERT_TRUE(asprintf(&path, "%s/kiln_consumer.ko", need_test_modules()) > 0);
	ASSERT_OK(read_file_at(AT_FDCWD, path, KILN_MODULE_MAX_SIZE, &data, &len));
	/* bytes spread over the file set to 0xff, one at a time: reading may fail, never crash */
	step = len / 2000 + 1;
	for (size_t off = 0; off < len; off += step) {
		_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
		struct kiln_module_syms s = { 0 };
		char saved = data[off];

		data[off] = (char)0xff;
		if (kiln_module_open_mem(ctx, "x.ko", (const uint8_t *)data, len, &m) >= 0 &&
		    kiln_module_read_syms(ctx, m, &s) >= 0) {
			for (size_t i = 0; i < s.n_imports; i++)
				ASSERT_TRUE(strlen(s.imports[i].name) < len);
			kiln_module_syms_release(&s);
		}
		data[off] = saved;
	}
}

TAP_MAIN
