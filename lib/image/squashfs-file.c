/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "log.h"
#include "squashfs-internal.h"

struct fd_file {
	sqfs_file_t base;
	int fd;
	uint64_t size;
	bool writable;
	int last_errno; /* of the last failed read or write */
};

static void fd_file_destroy(sqfs_object_t *obj)
{
	free(obj);
}

static int fd_file_read_at(sqfs_file_t *base, sqfs_u64 offset, void *buffer, size_t size)
{
	struct fd_file *f = (struct fd_file *)base;
	char *p = buffer;

	if (offset > f->size || size > f->size - offset)
		return SQFS_ERROR_OUT_OF_BOUNDS;
	while (size > 0) {
		ssize_t n = pread(f->fd, p, size, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			f->last_errno = n < 0 ? errno : EIO;
			return SQFS_ERROR_IO;
		}
		p += n;
		offset += (uint64_t)n;
		size -= (size_t)n;
	}
	return 0;
}

static int fd_file_write_at(sqfs_file_t *base, sqfs_u64 offset, const void *buffer, size_t size)
{
	struct fd_file *f = (struct fd_file *)base;
	const char *p = buffer;

	if (!f->writable)
		return SQFS_ERROR_IO;
	if (offset > INT64_MAX || size > INT64_MAX - offset)
		return SQFS_ERROR_OUT_OF_BOUNDS;
	while (size > 0) {
		ssize_t n = pwrite(f->fd, p, size, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			f->last_errno = errno;
			return SQFS_ERROR_IO;
		}
		p += n;
		offset += (uint64_t)n;
		size -= (size_t)n;
	}
	if (offset > f->size)
		f->size = offset;
	return 0;
}

static sqfs_u64 fd_file_get_size(const sqfs_file_t *base)
{
	return ((const struct fd_file *)base)->size;
}

static int fd_file_truncate(sqfs_file_t *base, sqfs_u64 size)
{
	struct fd_file *f = (struct fd_file *)base;

	if (!f->writable || size > INT64_MAX)
		return SQFS_ERROR_IO;
	if (ftruncate(f->fd, (off_t)size) < 0) {
		f->last_errno = errno;
		return SQFS_ERROR_IO;
	}
	f->size = size;
	return 0;
}

sqfs_file_t *squashfs_file_new(int fd, uint64_t size, bool writable)
{
	struct fd_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->base.base.destroy = fd_file_destroy;
	f->base.read_at = fd_file_read_at;
	f->base.write_at = fd_file_write_at;
	f->base.get_size = fd_file_get_size;
	f->base.truncate = fd_file_truncate;
	f->fd = fd;
	f->size = size;
	f->writable = writable;
	return &f->base;
}

int squashfs_fail(struct kiln_ctx *ctx, sqfs_file_t *file, int err, const char *image,
		  const char *what)
{
	static const struct {
		int sqfs, err;
		const char *text;
	} codes[] = {
		{ SQFS_ERROR_ALLOC, ENOMEM, "out of memory" },
		{ SQFS_ERROR_IO, EIO, "input/output error" },
		{ SQFS_ERROR_COMPRESSOR, EBADMSG, "compressor failure (corrupt data?)" },
		{ SQFS_ERROR_INTERNAL, EIO, "internal error in libsquashfs" },
		{ SQFS_ERROR_CORRUPTED, EBADMSG, "corrupt image" },
		{ SQFS_ERROR_UNSUPPORTED, EOPNOTSUPP, "unsupported feature" },
		{ SQFS_ERROR_OVERFLOW, EOVERFLOW, "numeric overflow" },
		{ SQFS_ERROR_OUT_OF_BOUNDS, EBADMSG,
		  "location out of bounds (corrupt or truncated image?)" },
		{ SFQS_ERROR_SUPER_MAGIC, EBADMSG, "not a squashfs image (no magic)" },
		{ SFQS_ERROR_SUPER_VERSION, EOPNOTSUPP, "unsupported squashfs version" },
		{ SQFS_ERROR_SUPER_BLOCK_SIZE, EBADMSG, "bad block size in the super block" },
		{ SQFS_ERROR_NOT_DIR, ENOTDIR, "not a directory" },
		{ SQFS_ERROR_NO_ENTRY, ENOENT, "no such entry" },
		{ SQFS_ERROR_LINK_LOOP, ELOOP, "hard link loop" },
		{ SQFS_ERROR_NOT_FILE, EINVAL, "not a regular file" },
		{ SQFS_ERROR_ARG_INVALID, EINVAL, "invalid argument" },
		{ SQFS_ERROR_SEQUENCE, EINVAL, "calls out of sequence" },
	};
	struct fd_file *f = (struct fd_file *)file;

	if (err == SQFS_ERROR_IO && f && f->last_errno)
		return kiln_error(ctx, f->last_errno, "squashfs \"%s\": %s: %s", image, what,
				  strerror(f->last_errno));
	for (size_t i = 0; i < ELEMENTSOF(codes); i++)
		if (codes[i].sqfs == err)
			return kiln_error(ctx, codes[i].err, "squashfs \"%s\": %s: %s", image, what,
					  codes[i].text);
	return kiln_error(ctx, EIO, "squashfs \"%s\": %s: libsquashfs error %d", image, what, err);
}
