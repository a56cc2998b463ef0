/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The pieces of an installer image (the Talos imager's lower half): newc
 * cpio archives written deterministically, the kernel's initramfs (cpio
 * archives, each plain or compressed, one after another) read without
 * unpacking it, squashfs images written and read through libsquashfs, and
 * modules.dep and friends regenerated for a merged modules tree.
 *
 * Every input is hostile: cpio names, sizes and padding are checked,
 * truncation is an error, and nothing read from an archive or an image is
 * written outside the place it is extracted to.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <kiln/kiln.h>
#include <kiln/layer.h>

/* ---- cpio, newc ("070701") (lib/image/cpio.c) ----------------------------- */

/* The longest name (with its NUL) and symlink target taken, as the kernel's PATH_MAX. */
#define KILN_CPIO_NAME_MAX 4096

/* One cpio entry, as written or as read. */
struct kiln_cpio_entry {
	const char *name; /* "a/b"; "." for a root directory; no trailing '/' */
	const char *linkname; /* symlinks: the target (it is the entry's data) */
	uint32_t mode; /* file type (S_IFMT) and permission bits (07777) */
	uint32_t uid, gid;
	uint32_t nlink; /* writing: 0 is 1 */
	int64_t mtime; /* seconds since the epoch, in [0, 2^32) */
	uint64_t size; /* regular files: data bytes, < 4 GiB; otherwise 0 */
	uint32_t rdevmajor, rdevminor; /* devices */
	uint32_t ino, devmajor, devminor; /* reading only: the writer numbers inodes itself */
};

/*
 * A newc writer, deterministic as `cpio -o -H newc --reproducible` is:
 * entries in the order they are added, inode numbers 0, 1, 2... in that
 * order, device numbers of the archive's file system 0, check fields 0;
 * the caller gives owners and times. kiln_cpio_writer_finish() writes the
 * TRAILER!!! entry and pads the archive with zeros to a multiple of 512
 * bytes, as GNU cpio does. Hard links are not written as such: each name
 * is a file of its own (nlink 1) with its data.
 */
struct kiln_cpio_writer;
int kiln_cpio_writer_new(kiln_write_fn out, void *userdata, struct kiln_cpio_writer **ret);

/*
 * Add an entry: a regular file's @e->size bytes of data must follow
 * (kiln_cpio_writer_write()); a symlink's data is @e->linkname. A name
 * that is empty, absolute, holds "..", or is longer than
 * KILN_CPIO_NAME_MAX - 1 is -EINVAL, as are an mtime or size newc cannot
 * hold.
 */
int kiln_cpio_writer_add(struct kiln_ctx *ctx, struct kiln_cpio_writer *w,
			 const struct kiln_cpio_entry *e);
int kiln_cpio_writer_write(struct kiln_cpio_writer *w, const void *data, size_t len);

/*
 * Add the regular file @e and copy its data from @fd (from its current
 * offset): exactly @e->size bytes, else -ESTALE ("shrank", "grew").
 */
int kiln_cpio_writer_add_fd(struct kiln_ctx *ctx, struct kiln_cpio_writer *w,
			    const struct kiln_cpio_entry *e, int fd);

/* Check the last entry got all its data, then write the trailer and the padding. */
int kiln_cpio_writer_finish(struct kiln_ctx *ctx, struct kiln_cpio_writer *w);
/* Bytes written so far. */
uint64_t kiln_cpio_writer_offset(const struct kiln_cpio_writer *w);
void kiln_cpio_writer_free(struct kiln_cpio_writer *w);

/* How a directory tree becomes cpio entries. */
struct kiln_cpio_tree_options {
	int64_t mtime; /* every entry's mtime (SOURCE_DATE_EPOCH) */
	uint32_t uid, gid; /* every entry's owner; 0:0 as `cpio -R +0:+0` */
	/*
	 * Start with the entry "." for the directory itself, as `find .` lists
	 * it. The kernel applies its mode to the root of the initramfs.
	 */
	bool dot;
};

/*
 * Append the tree under @dirfd to @w as `cd DIR; find . | LC_ALL=C sort |
 * cpio -o -H newc --reproducible -R +0:+0` writes it when every file's
 * mtime is @o->mtime: names relative ("a/b", no "./"), sorted bytewise by
 * path, modes kept, a directory's nlink 2 + its subdirectories, symlinks,
 * fifos, sockets and devices as entries. Symlinks are never followed, and
 * a tree that changes while it is read is -ESTALE, never a wrong archive.
 */
int kiln_cpio_write_tree(struct kiln_ctx *ctx, int dirfd, const struct kiln_cpio_tree_options *o,
			 struct kiln_cpio_writer *w);

/* ---- the initramfs: cpio archives, plain or compressed (lib/image/initramfs.c) ---- */

/*
 * A streaming reader for a Linux initramfs as the kernel unpacks it
 * (init/initramfs.c): one or more newc archives ("070701", or "070702"
 * whose checksums are verified), each either plain, starting at a multiple
 * of 4 bytes, or inside a gzip, zstd or xz stream (decompressed as it is
 * read, through the layer decompressor), with zero bytes between them. A
 * compressed stream holds whole archives. Input is hostile: headers are
 * checked field by field, names and link targets are capped at
 * KILN_CPIO_NAME_MAX, anything else where an archive should start is
 * -EBADMSG (lz4, lzo, bzip2 and legacy lzma: -EOPNOTSUPP), and input that
 * ends inside an archive is -EBADMSG ("truncated"). Errors name the
 * offset, and for a compressed segment its position (counting from 1) and
 * the offset in its decompressed data. Memory use is constant: names and
 * targets are capped, data streams through, decompressor memory is capped
 * as for layers; how far a segment expands only costs time.
 */
struct kiln_initramfs_reader;
int kiln_initramfs_reader_new(struct kiln_ctx *ctx, kiln_read_fn in, void *userdata,
			      struct kiln_initramfs_reader **ret);

/*
 * The next entry (the trailers are not entries), valid until the next
 * call: 1, or 0 at the end of the input. Unread data of the previous entry
 * is skipped. Names are as found; symlink targets are read into linkname.
 */
int kiln_initramfs_reader_next(struct kiln_initramfs_reader *r, const struct kiln_cpio_entry **ret);

/* The current entry's data: a kiln_read_fn (pass the reader as userdata). */
ssize_t kiln_initramfs_reader_read(void *r, void *buf, size_t len);

/* Which segment (counting from 1, as errors do) the current entry is in, and its compression. */
unsigned kiln_initramfs_reader_segment(const struct kiln_initramfs_reader *r);
enum kiln_layer_compression
kiln_initramfs_reader_compression(const struct kiln_initramfs_reader *r);
void kiln_initramfs_reader_free(struct kiln_initramfs_reader *r);

/*
 * Copy the data of the regular file @name ("rootfs.sqsh"; "./" prefixes
 * ignored on both sides) from the initramfs on @fd to @out_fd, a regular
 * file, without unpacking anything else. The whole input is read: when
 * the name occurs more than once the last one is taken, as the kernel
 * would leave it, and for a hard-linked file the data that comes with a
 * later name of the same inode. @name, and any entry name in the input,
 * that is absolute or holds ".." is -EINVAL; no such regular file is
 * -ENOENT.
 */
int kiln_initramfs_extract(struct kiln_ctx *ctx, int fd, const char *name, int out_fd);

/* ---- squashfs (lib/image/squashfs.c, squashfs-read.c) --------------------- */

#define KILN_SQUASHFS_LEVEL 18 /* zstd, as the Talos imager runs mksquashfs */
#define KILN_SQUASHFS_BLOCK_SIZE (128u << 10)

struct kiln_squashfs_options {
	int level; /* zstd level 1..22; 0: KILN_SQUASHFS_LEVEL */
	uint32_t block_size; /* a power of two, 4 KiB..1 MiB; 0: KILN_SQUASHFS_BLOCK_SIZE */
	int64_t mtime; /* the image's and every inode's mtime, in [0, 2^32) */
	unsigned jobs; /* compressor threads; 0: one per online CPU */
};

/*
 * Write the tree under @dirfd as the squashfs image @path: zstd, every
 * inode owned by 0:0 (as `mksquashfs -all-root`), every mtime @o->mtime,
 * no extended attributes, directory entries sorted, file data compressed
 * on @o->jobs threads through libsquashfs's block processor, with tail
 * ends packed into fragments and duplicate files stored once. The same
 * tree and options always give the same bytes, whatever the number of
 * threads. Hard links are separate files (their data stored once). The
 * image is written to a temporary file beside @path, then renamed over it.
 */
int kiln_squashfs_write_tree(struct kiln_ctx *ctx, int dirfd, const char *path,
			     const struct kiln_squashfs_options *o);

/* One inode of an image as listed. */
struct kiln_squashfs_entry {
	const char *path; /* "usr/lib/modules"; "" for the root */
	uint32_t mode; /* file type and permission bits */
	uint32_t uid, gid;
	int64_t mtime;
	uint64_t size; /* regular files */
	const char *target; /* symlinks */
	uint32_t rdev_major, rdev_minor; /* devices */
};

/*
 * Call @fn for @subtree ("" or NULL: the root) of the image @path and
 * everything under it, parents before children, entries of a directory in
 * the image's (sorted) order. The image is hostile: names must be plain
 * names (not ".", "..", nor holding '/'), a directory that contains
 * itself is -ELOOP, and depth and path length are capped. A nonzero return
 * from @fn stops the walk and is returned.
 */
int kiln_squashfs_list(struct kiln_ctx *ctx, const char *path, const char *subtree,
		       int (*fn)(void *userdata, const struct kiln_squashfs_entry *e),
		       void *userdata);

/*
 * Extract @subtree (as for kiln_squashfs_list()) of the image @path into
 * the existing directory @dest, under the same path: "usr/lib/modules"
 * lands in DEST/usr/lib/modules, as `unsquashfs -d DEST IMAGE
 * usr/lib/modules` puts it. Nothing is written outside @dest: every entry
 * is made relative to its parent's descriptor and no symlink, whether
 * found in @dest or extracted, is followed. Directories already there are
 * merged into; any other existing entry is -EEXIST. Modes and mtimes are
 * kept; owners only when running as root. Devices need CAP_MKNOD.
 */
int kiln_squashfs_extract(struct kiln_ctx *ctx, const char *path, const char *subtree,
			  const char *dest);

/* ---- modules.dep and friends (lib/image/depmod.c) ------------------------- */

struct kiln_depmod_options {
	const char *depmod; /* the program; NULL: "depmod" (from kmod), found in $PATH or sbin */
	const char *search; /* depmod.conf's search line; NULL: "extras built-in", as Talos */
};

/*
 * (Re)generate modules.dep, modules.dep.bin, modules.alias(.bin),
 * modules.symbols(.bin), modules.builtin.bin, modules.builtin.alias.bin,
 * modules.softdep and modules.devname in @modules_dir/@krel, where
 * @modules_dir is the directory holding the release (a tree's
 * usr/lib/modules), as the Talos imager does with `depmod --all --basedir
 * BASE --config CONF KREL`: kmod's depmod is run with a config of its own
 * (the host's /etc/depmod.d is not read), on a scratch base directory
 * whose lib/modules is @modules_dir, since depmod up to kmod 30 reads
 * BASE/lib/modules. Its warnings become warnings on @ctx.
 */
int kiln_depmod(struct kiln_ctx *ctx, const char *modules_dir, const char *krel,
		const struct kiln_depmod_options *o);

static inline void kiln_cpio_writer_freep(struct kiln_cpio_writer **w)
{
	kiln_cpio_writer_free(*w);
}

static inline void kiln_initramfs_reader_freep(struct kiln_initramfs_reader **r)
{
	kiln_initramfs_reader_free(*r);
}
