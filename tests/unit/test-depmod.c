/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln_depmod() on a merged modules tree (a trimmed copy of the installed
 * kernel's modules, plus the test modules as an extension's extras/), laid
 * out as an image keeps it (usr/lib/modules), against what kmod's depmod
 * writes for the same tree laid out as it expects (lib/modules), file for
 * file, byte for byte.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/image.h>

#include "fileio.h"
#include "strv.h"
#include "tap.h"
#include "helpers.h"

/* a few directories with dependencies among them, and fast enough to copy */
static const char *const kernel_dirs[] = { "kernel/fs/fat", "kernel/fs/nls", "kernel/fs/isofs",
					   "kernel/lib", "kernel/crypto" };

/* The installed kernel release whose modules are there, or NULL. */
static char *installed_release(void)
{
	_cleanup_close_ int fd = open("/usr/lib/modules", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_(strv_freep) char **names = NULL;
	char *krel = NULL;

	if (fd < 0 || dir_names(fd, &names) < 0)
		return NULL;
	for (size_t i = 0; names[i] && !krel; i++) {
		char path[512];
		struct stat st;

		snprintf(path, sizeof(path), "/usr/lib/modules/%s/modules.builtin", names[i]);
		if (stat(path, &st) == 0)
			krel = strdup(names[i]);
	}
	return krel;
}

/* A merged tree at @dir/@sub/@krel: kernel directories, modules.builtin*, extras/. */
static void make_tree(const char *dir, const char *sub, const char *krel, const char *modules)
{
	run("mkdir -p %s/%s/%s/extras %s/%s/%s/kernel/drivers/misc", dir, sub, krel, dir, sub,
	    krel);
	for (size_t i = 0; i < ELEMENTSOF(kernel_dirs); i++)
		run("mkdir -p %s/%s/%s/%s && cp -a /usr/lib/modules/%s/%s/. %s/%s/%s/%s", dir, sub,
		    krel, kernel_dirs[i], krel, kernel_dirs[i], dir, sub, krel, kernel_dirs[i]);
	run("cp /usr/lib/modules/%s/modules.builtin /usr/lib/modules/%s/modules.builtin.modinfo "
	    "/usr/lib/modules/%s/modules.order %s/%s/%s/",
	    krel, krel, krel, dir, sub, krel);
	/* the extension's modules; kiln_plain also in kernel/, where extras/ must win */
	run("cp %s/kiln_plain.ko %s/kiln_fw.ko %s/kiln_provider.ko %s/kiln_consumer.ko "
	    "%s/%s/%s/extras/ && cp %s/kiln_plain.ko %s/%s/%s/kernel/drivers/misc/",
	    modules, modules, modules, modules, dir, sub, krel, modules, dir, sub, krel);
}

TEST(equals_depmod)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *krel = installed_release(), *mdir = NULL,
			    *dep = NULL;
	const char *modules = need_test_modules();
	struct kiln_depmod_options o = { 0 };
	size_t len;

	if (!krel)
		TAP_FAIL("no installed kernel modules in /usr/lib/modules: run "
			 "scripts/install-deps.sh (linux-image-amd64)");
	NEED_TOOL("depmod", "kmod");
	make_tree(dir, "image/usr/lib/modules", krel, modules);
	make_tree(dir, "ref/lib/modules", krel, modules);

	if (asprintf(&mdir, "%s/image/usr/lib/modules", dir) < 0)
		abort();
	ASSERT_OK(kiln_depmod(ctx, mdir, krel, &o));
	/* absolute: kmod 30's depmod crashes on a relative --config */
	run("cd %s && printf 'search extras built-in\\n' > conf && "
	    "PATH=$PATH:/usr/sbin:/sbin depmod --all --basedir %s/ref --config %s/conf %s",
	    dir, dir, dir, krel);
	/* the same set of files, each the same bytes */
	run("cd %s && (cd ref/lib/modules/%s && ls) > ref.ls && "
	    "(cd image/usr/lib/modules/%s && ls) > image.ls && diff ref.ls image.ls && "
	    "for f in $(cat ref.ls); do [ -d ref/lib/modules/%s/$f ] || "
	    "cmp ref/lib/modules/%s/$f image/usr/lib/modules/%s/$f || exit 1; done",
	    dir, krel, krel, krel, krel, krel);
	run("cd %s/image/usr/lib/modules/%s && for f in modules.dep modules.dep.bin modules.alias "
	    "modules.alias.bin modules.symbols modules.symbols.bin modules.builtin.bin "
	    "modules.builtin.alias.bin modules.devname modules.softdep; do [ -f $f ] || exit 1; done",
	    dir, krel);

	/* what the imager relies on: extension modules found, extras/ first */
	if (asprintf(&dep, "%s/%s/modules.dep", mdir, krel) < 0)
		abort();
	{
		_cleanup_free_ char *text = NULL;

		ASSERT_OK(read_file_at(AT_FDCWD, dep, 16 << 20, &text, &len));
		ASSERT_CONTAINS(text, "\nextras/kiln_consumer.ko: extras/kiln_provider.ko\n");
		ASSERT_CONTAINS(text, "\nextras/kiln_plain.ko:\n");
		ASSERT_TRUE(!strstr(text, "kernel/drivers/misc/kiln_plain.ko"));
		ASSERT_CONTAINS(text, "kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko");
	}
	/* no scratch directory left behind */
	run("[ -z \"$(find /tmp -maxdepth 1 -name 'kiln-depmod.*' -user $(id -u) -newer %s/conf)\" ]",
	    dir);
	run("rm -rf %s", dir);
}

TEST(refusals)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir();
	struct kiln_depmod_options o = { 0 };

	ASSERT_EQ(kiln_depmod(ctx, dir, "../x", &o), -EINVAL);
	ASSERT_EQ(kiln_depmod(ctx, dir, "", &o), -EINVAL);
	ASSERT_EQ(kiln_depmod(ctx, dir, "6.1.0-kiln", &o), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "6.1.0-kiln");
	run("mkdir %s/6.1.0-kiln", dir);
	o.depmod = "/nonexistent/depmod";
	ASSERT_EQ(kiln_depmod(ctx, dir, "6.1.0-kiln", &o), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "/nonexistent/depmod");
	/* a failing depmod: its last line of stderr in the error */
	o.depmod = "false";
	ASSERT_EQ(kiln_depmod(ctx, dir, "6.1.0-kiln", &o), -EIO);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "exit status 1");
	run("rm -rf %s", dir);
}

TAP_MAIN
