/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What squashfs.c (writing) and squashfs-read.c share: libsquashfs's file
 * interface over a descriptor, so that kiln opens, fsyncs and renames the
 * image itself, and its error codes as errno values with text. Internal
 * to lib/image.
 */

#include <sqfs/error.h>
#include <sqfs/io.h>

#include <kiln/kiln.h>

/*
 * A sqfs_file_t on @fd (not owned: the caller closes it after destroying
 * the file), @size bytes long so far. NULL when out of memory.
 */
sqfs_file_t *squashfs_file_new(int fd, uint64_t size, bool writable);

/*
 * Record 'squashfs "@image": @what: REASON' for the libsquashfs error @err
 * (an SQFS_ERROR value) on @ctx, with the errno of the file's last failed
 * read or write when that is what failed, and return it as -errno.
 */
int squashfs_fail(struct kiln_ctx *ctx, sqfs_file_t *file, int err, const char *image,
		  const char *what);

static inline void sqfs_destroyp(void *p)
{
	sqfs_destroy(*(void **)p);
}

static inline void sqfs_freep(void *p)
{
	sqfs_free(*(void **)p);
}
