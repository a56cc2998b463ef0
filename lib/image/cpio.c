/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writing newc cpio archives, the format of the Linux initramfs, byte for
 * byte as GNU cpio writes them with --reproducible (renumbered inodes,
 * device numbers 0) when given the same owners and times: a 110-byte ASCII
 * header, the name and its NUL padded to 4 bytes, the data padded to 4,
 * and at the end a TRAILER!!! entry and zeros up to a 512-byte block.
 *
 * Inode numbers follow the order of the entries rather than the source
 * file system, and hard links are not kept (each name carries its data):
 * the kernel links regular files with nlink > 1 by (inode, device), and an
 * archive should not depend on where its files were read from.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <kiln/image.h>

#include "archive-out.h"
#include "cpio-format.h"
#include "dirtree.h"
#include "log.h"

#define COPY_BUF (128u << 10)
/* GNU cpio writes whole blocks of its default size */
#define CPIO_BLOCK 512

struct kiln_cpio_writer {
	struct archive_out o;
	uint32_t next_ino;
	bool finished;
};

int kiln_cpio_writer_new(kiln_write_fn out, void *userdata, struct kiln_cpio_writer **ret)
{
	struct kiln_cpio_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->o = (struct archive_out){ .out = out, .userdata = userdata };
	*ret = w;
	return 0;
}

void kiln_cpio_writer_free(struct kiln_cpio_writer *w)
{
	if (!w)
		return;
	archive_out_release(&w->o);
	free(w);
}

uint64_t kiln_cpio_writer_offset(const struct kiln_cpio_writer *w)
{
	return w->o.offset;
}

static void put_hex(char *field, uint32_t v)
{
	static const char digits[] = "0123456789ABCDEF";

	for (int i = CPIO_FIELD_LEN - 1; i >= 0; i--, v >>= 4)
		field[i] = digits[v & 0xf];
}

static int write_header(struct kiln_cpio_writer *w, const char *name, uint32_t ino, uint32_t mode,
			uint32_t uid, uint32_t gid, uint32_t nlink, uint32_t mtime, uint32_t size,
			uint32_t rdevmajor, uint32_t rdevminor)
{
	struct cpio_newc_header h;
	size_t name_len = strlen(name) + 1;
	int r;

	memcpy(h.magic, CPIO_NEWC_MAGIC, sizeof(h.magic));
	put_hex(h.ino, ino);
	put_hex(h.mode, mode);
	put_hex(h.uid, uid);
	put_hex(h.gid, gid);
	put_hex(h.nlink, nlink);
	put_hex(h.mtime, mtime);
	put_hex(h.filesize, size);
	put_hex(h.devmajor, 0);
	put_hex(h.devminor, 0);
	put_hex(h.rdevmajor, rdevmajor);
	put_hex(h.rdevminor, rdevminor);
	put_hex(h.namesize, (uint32_t)name_len);
	put_hex(h.check, 0);
	r = archive_out_write(&w->o, &h, sizeof(h));
	if (r < 0)
		return r;
	r = archive_out_write(&w->o, name, name_len);
	if (r < 0)
		return r;
	return archive_out_pad(&w->o, 4);
}

/* "." alone, or relative components that are neither empty, "." nor "..". */
static bool name_is_clean(const char *name)
{
	if (streq(name, "."))
		return true;
	if (!name[0] || name[0] == '/')
		return false;
	for (const char *p = name; *p;) {
		size_t len = strcspn(p, "/");

		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += len;
		if (*p == '/' && !*++p)
			return false;
	}
	return true;
}

int kiln_cpio_writer_add(struct kiln_ctx *ctx, struct kiln_cpio_writer *w,
			 const struct kiln_cpio_entry *e)
{
	uint64_t size = 0;
	int r;

	if (w->finished)
		return kiln_error(ctx, EINVAL, "cpio archive already finished");
	r = archive_out_end(ctx, &w->o, "cpio", 4);
	if (r < 0)
		return r;
	if (!name_is_clean(e->name) || strlen(e->name) >= KILN_CPIO_NAME_MAX)
		return kiln_error(ctx, EINVAL, "cpio entry \"%s\": not a clean relative path",
				  e->name);
	if (e->mtime < 0 || e->mtime > UINT32_MAX)
		return kiln_error(ctx, EINVAL, "cpio entry \"%s\": mtime %" PRId64 " out of range",
				  e->name, e->mtime);
	switch (e->mode & S_IFMT) {
	case S_IFREG:
		size = e->size;
		if (size > UINT32_MAX)
			return kiln_error(ctx, EFBIG, "cpio entry \"%s\": 4 GiB or more", e->name);
		break;
	case S_IFLNK:
		if (!e->linkname || !e->linkname[0] || strlen(e->linkname) >= KILN_CPIO_NAME_MAX)
			return kiln_error(ctx, EINVAL, "cpio entry \"%s\": bad symlink target",
					  e->name);
		size = strlen(e->linkname);
		break;
	case S_IFDIR:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		return kiln_error(ctx, EINVAL, "cpio entry \"%s\": unknown file type 0%o", e->name,
				  e->mode & S_IFMT);
	}
	r = write_header(w, e->name, w->next_ino++, e->mode & (S_IFMT | 07777), e->uid, e->gid,
			 e->nlink ? e->nlink : 1, (uint32_t)e->mtime, (uint32_t)size, e->rdevmajor,
			 e->rdevminor);
	if (r < 0)
		return r;
	r = archive_out_begin(&w->o, e->name, size);
	if (r < 0)
		return r;
	return S_ISLNK(e->mode) ? archive_out_data(&w->o, e->linkname, size) : 0;
}

int kiln_cpio_writer_write(struct kiln_cpio_writer *w, const void *data, size_t len)
{
	return archive_out_data(&w->o, data, len);
}

static int write_chunk(void *userdata, const void *data, size_t len)
{
	return kiln_cpio_writer_write(userdata, data, len);
}

int kiln_cpio_writer_add_fd(struct kiln_ctx *ctx, struct kiln_cpio_writer *w,
			    const struct kiln_cpio_entry *e, int fd)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	if (!S_ISREG(e->mode))
		return kiln_error(ctx, EINVAL, "cpio entry \"%s\": not a regular file", e->name);
	r = kiln_cpio_writer_add(ctx, w, e);
	if (r < 0)
		return r;
	buf = malloc(COPY_BUF);
	if (!buf)
		return -ENOMEM;
	return dirtree_read_file(ctx, e->name, fd, e->size, buf, COPY_BUF, write_chunk, w);
}

int kiln_cpio_writer_finish(struct kiln_ctx *ctx, struct kiln_cpio_writer *w)
{
	int r;

	if (w->finished)
		return 0;
	r = archive_out_end(ctx, &w->o, "cpio", 4);
	if (r < 0)
		return r;
	/* GNU cpio's trailer: everything 0 but nlink */
	r = write_header(w, CPIO_TRAILER, 0, 0, 0, 0, 1, 0, 0, 0, 0);
	if (r < 0)
		return r;
	r = archive_out_pad(&w->o, CPIO_BLOCK);
	if (r < 0)
		return r;
	w->finished = true;
	return 0;
}

/* ---- a directory tree --------------------------------------------------------- */

int kiln_cpio_write_tree(struct kiln_ctx *ctx, int dirfd, const struct kiln_cpio_tree_options *o,
			 struct kiln_cpio_writer *w)
{
	_cleanup_(dirtree_release) struct dirtree t = { 0 };
	int r;

	r = dirtree_list(ctx, dirfd, &t);
	if (r < 0)
		return r;
	if (o->dot) {
		struct kiln_cpio_entry e = {
			.name = ".",
			.mode = S_IFDIR | (t.root.st_mode & 07777),
			.uid = o->uid,
			.gid = o->gid,
			.nlink = 2 + t.root_subdirs,
			.mtime = o->mtime,
		};

		r = kiln_cpio_writer_add(ctx, w, &e);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < t.n; i++) {
		const struct dirtree_entry *it = &t.e[i];
		struct kiln_cpio_entry e = {
			.name = it->path,
			.linkname = it->target,
			.mode = it->st.st_mode & (S_IFMT | 07777),
			.uid = o->uid,
			.gid = o->gid,
			.nlink = S_ISDIR(it->st.st_mode) ? 2 + it->n_subdirs : 1,
			.mtime = o->mtime,
		};

		if (S_ISCHR(it->st.st_mode) || S_ISBLK(it->st.st_mode)) {
			e.rdevmajor = major(it->st.st_rdev);
			e.rdevminor = minor(it->st.st_rdev);
		}
		if (S_ISREG(it->st.st_mode)) {
			_cleanup_close_ int fd = -1;
			struct stat st;

			r = dirtree_open_file(ctx, dirfd, it, &fd);
			if (r < 0)
				return r;
			if (fstat(fd, &st) < 0)
				return kiln_error(ctx, errno, "cannot stat \"%s\": %m", it->path);
			e.mode = st.st_mode & (S_IFMT | 07777);
			e.size = (uint64_t)st.st_size;
			r = kiln_cpio_writer_add_fd(ctx, w, &e, fd);
		} else {
			r = kiln_cpio_writer_add(ctx, w, &e);
		}
		if (r < 0)
			return r;
	}
	return 0;
}
