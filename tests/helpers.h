/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What unit tests keep writing again: a context, shell commands that must
 * succeed, peer tools that may be missing, scratch directories, paths,
 * and byte streams in memory. Include after tap.h.
 */

#include <errno.h>
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
