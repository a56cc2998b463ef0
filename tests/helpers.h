/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What unit tests keep writing again: a context, shell commands that must
 * succeed, the peer tools and the kernel pieces scripts/install-deps.sh
 * installs, the test modules, scratch directories, paths, and byte streams
 * in memory. Include after tap.h.
 */

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/kiln.h>

#include "macro.h"
#include "strbuf.h"

_unused_ static struct kiln_ctx *new_ctx(void)
{
	struct kiln_ctx *ctx = NULL;

	if (kiln_ctx_new(&ctx) < 0)
		abort();
	return ctx;
}

/* Run a shell command; the test fails unless it exits 0. */
_unused_ _printf_(1, 2) static void run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		TAP_FAIL("command failed: %s", cmd);
}

/* Whether @tool is in $PATH (or in sbin, where Debian keeps depmod). */
_unused_ static bool have(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "PATH=$PATH:/usr/sbin:/sbin command -v %s >/dev/null 2>&1",
		 tool);
	return system(cmd) == 0;
}

/*
 * Fail unless @tool is installed: what the tests use, scripts/install-deps.sh
 * installs (from Debian's @package), so missing is never a skip.
 */
#define NEED_TOOL(tool, package)                                                            \
	do {                                                                                \
		if (!have(tool))                                                            \
			TAP_FAIL("no %s: run scripts/install-deps.sh (%s)", tool, package); \
	} while (0)

/*
 * Debian's kernel headers, which scripts/install-deps.sh installs
 * (linux-headers-amd64): whatever release is there, the newest if several
 * are. Found, not named, so that the tests go on running when Debian moves
 * on (tests/integration/lib-kernel.sh finds them the same way); missing is
 * a failure. The test modules are built against them.
 */
struct debian_headers {
	char dir[PATH_MAX];
	char release[NAME_MAX + 1]; /* the directory's name without "linux-headers-" */
	char vermagic[NAME_MAX + 64]; /* Debian's amd64 flavour's, as its modules have it */
};

_unused_ static void need_debian_headers(struct debian_headers *ret)
{
	char best[NAME_MAX + 1] = "";
	struct dirent *e;
	DIR *d = opendir("/usr/src");

	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (strncmp(e->d_name, "linux-headers-", 14) == 0 && len > 20 &&
		    strcmp(e->d_name + len - 6, "-amd64") == 0 &&
		    (!best[0] || strverscmp(e->d_name, best) > 0))
			snprintf(best, sizeof(best), "%s", e->d_name);
	}
	if (d)
		closedir(d);
	if (!best[0])
		TAP_FAIL("no /usr/src/linux-headers-*-amd64: run scripts/install-deps.sh "
			 "(linux-headers-amd64)");
	snprintf(ret->dir, sizeof(ret->dir), "/usr/src/%s", best);
	snprintf(ret->release, sizeof(ret->release), "%s", best + 14);
	snprintf(ret->vermagic, sizeof(ret->vermagic), "%s SMP preempt mod_unload modversions ",
		 ret->release);
}

/*
 * The directory of the test modules tests/modules builds against those
 * headers, which meson test gives in $KILN_TEST_MODULES. Run by hand, the
 * test fails saying so: it cannot test what it does not have.
 */
_unused_ static const char *need_test_modules(void)
{
	const char *dir = getenv("KILN_TEST_MODULES");

	if (!dir || !dir[0])
		TAP_FAIL("KILN_TEST_MODULES is not set: run the test with meson test, which builds "
			 "the test modules (tests/modules) and says where");
	return dir;
}

/* A new directory $TMPDIR/kiln-PROGRAM.XXXXXX (see tap_temp_dir()). */
_unused_ static char *temp_dir(void)
{
	extern char *program_invocation_short_name;

	return tap_temp_dir(program_invocation_short_name);
}

/* "@a/@b", newly allocated. */
_unused_ static char *cat(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		abort();
	return s;
}

/* A kiln_write_fn appending to a strbuf. */
_unused_ static int to_strbuf(void *userdata, const void *data, size_t len)
{
	return strbuf_add(userdata, data, len);
}

/* A kiln_read_fn over bytes in memory. */
struct mem {
	const char *p;
	size_t len, pos;
};

_unused_ static ssize_t mem_read(void *userdata, void *buf, size_t len)
{
	struct mem *m = userdata;
	size_t k = m->len - m->pos < len ? m->len - m->pos : len;

	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}
