/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the initramfs reader as the installer composition uses it: the
 * input is a whole initramfs (plain and gzip, zstd or xz segments, zeros
 * between them). Every entry is listed and part of its data read; then
 * one file is extracted by name. Every failure must leave a message;
 * nothing may crash or leak.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/image.h>

#include "fileio.h"
#include "macro.h"

#define MAX_ENTRIES 10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failure must say why (or be out of memory). */
static void check_failure(struct kiln_ctx *ctx, int r)
{
	if (r < 0 && r != -ENOMEM && !kiln_ctx_error(ctx))
		abort();
	kiln_ctx_clear_error(ctx);
}

/* The name of the first regular file, to extract it by name afterwards. */
static char *list(struct kiln_ctx *ctx, int fd)
{
	_cleanup_(kiln_initramfs_reader_freep) struct kiln_initramfs_reader *r = NULL;
	const struct kiln_cpio_entry *e;
	char *first = NULL;
	unsigned n = 0;
	int k;

	k = kiln_initramfs_reader_new(ctx, read_fd_fn, &fd, &r);
	while (k >= 0 && n++ < MAX_ENTRIES && (k = kiln_initramfs_reader_next(r, &e)) > 0) {
		char buf[1024];
		ssize_t got;

		if (!e->name[0] || strlen(e->name) >= KILN_CPIO_NAME_MAX)
			abort();
		if (S_ISREG(e->mode) && !first)
			first = strdup(e->name);
		/* read some of the data, leave the rest for next() to skip */
		got = kiln_initramfs_reader_read(r, buf, sizeof(buf));
		if (got < 0)
			k = (int)got;
	}
	check_failure(ctx, k);
	return first;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_free_ char *first = NULL;
	_cleanup_close_ int in = -1, out = -1;

	if (kiln_ctx_new(&ctx) < 0)
		return 0;
	in = memfd_create("initramfs", MFD_CLOEXEC);
	out = memfd_create("out", MFD_CLOEXEC);
	if (in < 0 || out < 0 || write_all(in, data, size) < 0 || lseek(in, 0, SEEK_SET) < 0)
		return 0;
	first = list(ctx, in);
	if (lseek(in, 0, SEEK_SET) < 0)
		return 0;
	check_failure(ctx, kiln_initramfs_extract(ctx, in, first ? first : "rootfs.sqsh", out));
	return 0;
}
