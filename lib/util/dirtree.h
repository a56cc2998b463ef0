/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A directory tree listed for an archive writer (cpio, squashfs): every
 * entry below a root directory with its lstat(), in one sorted array, read
 * without ever following a symlink. The files' data is read later, each
 * file opened again and checked to be the inode that was listed, so a tree
 * that changes meanwhile is an error (-ESTALE), never a wrong archive.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <kiln/kiln.h>

/* Longer paths are refused: the kernel takes no longer path in one call. */
#define DIRTREE_PATH_MAX 4096

struct dirtree_entry {
	char *path; /* relative to the root: "a", "a/b"; no "./", no trailing '/' */
	const char *name; /* its last component (inside path) */
	struct stat st;
	char *target; /* symlinks: the link's text */
	size_t parent; /* the parent directory's index, or SIZE_MAX below the root */
	uint32_t n_subdirs; /* directories: how many of its entries are directories */
};

struct dirtree {
	struct dirtree_entry *e;
	size_t n, alloc;
	struct stat root; /* the root directory itself */
	uint32_t root_subdirs;
};

/*
 * List the tree under the directory @root (not @root itself, whose stat is
 * in ->root), sorted bytewise by path as `find . | LC_ALL=C sort` orders
 * it (a directory's entries are in name order among themselves). Only one
 * directory is open at a time. Returns 0 or -errno with the reason on @ctx.
 */
int dirtree_list(struct kiln_ctx *ctx, int root, struct dirtree *ret);

void dirtree_release(struct dirtree *t);

/* The entry whose path is @path, or NULL (a binary search). */
const struct dirtree_entry *dirtree_find(const struct dirtree *t, const char *path);

/*
 * Open the regular file @e for reading: *@ret_fd, checked to be the inode
 * listed. Its data may then be streamed with dirtree_read_file().
 */
int dirtree_open_file(struct kiln_ctx *ctx, int root, const struct dirtree_entry *e, int *ret_fd);

/*
 * Read exactly @size bytes from @fd (the file @path, for messages) in
 * chunks into @buf (@buf_size bytes), passing each to @fn; a file that
 * shrank or grew since @size was taken is -ESTALE with the reason on @ctx.
 */
int dirtree_read_file(struct kiln_ctx *ctx, const char *path, int fd, uint64_t size, void *buf,
		      size_t buf_size, int (*fn)(void *userdata, const void *data, size_t len),
		      void *userdata);
