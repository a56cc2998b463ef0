/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/*
 * Read the whole of @path (relative to @dirfd, AT_FDCWD for the working
 * directory) into a NUL-terminated buffer. A file larger than @max bytes
 * fails with -EFBIG without reading it all. Returns 0 or -errno.
 */
int read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len);

/*
 * All of @fd from its current offset, as read_file_at() reads a file: capped
 * at @max bytes (-EFBIG), NUL-terminated, -EISDIR for a directory.
 */
int read_fd_all(int fd, size_t max, char **ret_buf, size_t *ret_len);

/*
 * read(2) on the fd *(int *)@userdata, retried on EINTR: the count, 0 at the
 * end, or -errno (a kiln_read_fn, for a file streamed into a reader).
 */
ssize_t read_fd_fn(void *userdata, void *buf, size_t len);

/*
 * Append @len bytes of whole lines to @path, a record of hints that
 * several processes add to and that is never the truth (a lost or cut line
 * costs work again, never a wrong answer): one write(), so that concurrent
 * appenders interleave whole batches, not bytes; past @max bytes the file
 * is cut to its newer half, under a lock. Readers read at most 2 * @max.
 * Failures only lose hints: none are reported.
 */
void append_hint_lines(const char *path, const char *text, size_t len, size_t max);

/* Write all @len bytes to @fd, across short writes and EINTR. Returns 0 or -errno. */
int write_all(int fd, const void *data, size_t len);

/*
 * A file written in place of @path atomically, as a stream: a temporary file
 * in the same directory (write to @fd), then atomic_file_commit() sets its
 * mode, fsyncs it and renames it over @path. Releasing an uncommitted file
 * removes the temporary one, so @path is either wholly replaced or untouched.
 * The temporary file is hidden (.NAME.kiln-XXXXXX beside NAME) and locked
 * (flock) while its fd is open: what a killed writer leaves is out of
 * sight, and atomic_sweep() removes it.
 */
struct atomic_file {
	const char *path; /* not owned */
	char *tmp;
	int fd;
};

int atomic_file_open(const char *path, struct atomic_file *ret);
int atomic_file_commit(struct atomic_file *f, unsigned mode);
void atomic_file_release(struct atomic_file *f);

/*
 * atomic_file_commit() in two steps, for files that change together or not
 * at all: atomic_file_stage() sets the mode, fsyncs (if @sync) and closes
 * the temporary file, and atomic_file_rename() later puts it in place (or
 * atomic_file_release() removes it). A caller that stages many files
 * without @sync makes them durable at once before renaming any: it
 * gathers the file systems they lie on (*@ret_dev, if not NULL) and calls
 * sync_fs_of() on each.
 */
int atomic_file_stage(struct atomic_file *f, unsigned mode, bool sync, dev_t *ret_dev);
int atomic_file_rename(struct atomic_file *f);

/* The directory @path lies in, "DIR/" of "DIR/NAME" ("." for a bare NAME); NULL on ENOMEM. */
char *dir_of(const char *path);

/*
 * syncfs(2) the file system that holds @path (the directory it lies in):
 * every file written there on disk, and a write-back error that no one
 * has seen yet reported. 0 or -errno.
 */
int sync_fs_of(const char *path);

/*
 * A directory made in place of @path atomically: filled under a temporary
 * name beside it (atomic_dir_open(): @tmp, mode 0700), then
 * atomic_dir_commit() gives it @mode and renames it over @path, which must
 * be absent or an empty directory, unless @replace: then a directory there
 * is swapped out (RENAME_EXCHANGE) and removed. Releasing an uncommitted
 * one removes it, so @path is either whole or untouched.
 */
struct atomic_dir {
	const char *path; /* not owned */
	char *tmp; /* hidden and locked as atomic_file's; atomic_dir_open() sweeps first */
	int fd; /* holds the lock */
};

int atomic_dir_open(const char *path, struct atomic_dir *ret);
int atomic_dir_commit(struct atomic_dir *d, unsigned mode, bool replace);
void atomic_dir_release(struct atomic_dir *d);

/*
 * Remove what writers of @path (atomic_file, atomic_dir) that were killed
 * left beside it: its temporary names that no live writer holds. 0 or -errno.
 */
int atomic_sweep(const char *path);

/*
 * The same for every file in @dir. A file staged (atomic_file_stage()) is
 * no longer locked: another process's staged files would go too, unless
 * the caller knows none is there (a signing run holds the directories of
 * its modules, kiln_module_batch()).
 */
int atomic_sweep_dir(const char *dir);

/*
 * Lock a temporary file or directory just made, for as long as @fd stays
 * open, as every writer of a temporary name must: 0, or -ESTALE when a
 * sweeper took it for a leftover first (it was not locked yet) and
 * removed it: make another.
 */
int lock_new_temp(int fd);

/*
 * Remove each file or directory in @dirfd for which @want (NULL: each)
 * says yes and that no live writer holds (flock), holding its lock while
 * it goes: a writer that has made it and not locked it yet finds it gone
 * (lock_new_temp()) and makes another. 0 or -errno.
 */
int sweep_unlocked_at(int dirfd, bool (*want)(const char *name, const void *userdata),
		      const void *userdata);

/*
 * Whether @name in @dirfd (a file or directory, not followed) can be
 * flock()ed at once: no live writer holds it.
 */
bool unlocked_at(int dirfd, const char *name);

/* Whether @name is a temporary name of file @base (NULL: of any file). */
bool atomic_is_temp_name(const char *name, const char *base);

/*
 * Write @len bytes to @path atomically: a temporary file in the same
 * directory, fsync, rename. @path is either wholly replaced or untouched.
 */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

/*
 * Make a new directory @dir/@prefixXXXXXX (mode 0700, as mkdtemp(3)) and
 * return its path in *@ret. Returns 0 or -errno.
 */
int make_temp_dir(const char *dir, const char *prefix, char **ret);

/* Join two path pieces with exactly one '/'; NULL on -ENOMEM. */
char *path_join(const char *a, const char *b);

/*
 * Remove @name in @at and everything under it. Symlinks are removed, never
 * followed; a directory without search permission (overlayfs leaves its
 * work/work so) is given it first. A missing @name is not an error. A
 * mount point below @name (a directory on another file system) is never
 * entered: -EXDEV, and what is mounted there stays whole.
 */
int remove_tree_at(int at, const char *name);

/*
 * Open the directory @path below the directory @root as if @root were "/"
 * (a leading "/" in @path is allowed): every component is resolved with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so a symlink in the
 * tree, whatever it points to, cannot lead out of it. With @create,
 * missing directories are made (mode 0755). A ".." component is -EINVAL.
 * *@ret_fd gets an O_RDONLY|O_DIRECTORY|O_CLOEXEC descriptor.
 */
int open_dir_in_root(int root, const char *path, bool create, int *ret_fd);

/*
 * openat2(@dirfd, @path, @flags | O_CLOEXEC, @mode with O_CREAT, @resolve),
 * tried again for as long as it fails with EAGAIN (a rename or mount
 * elsewhere raced a RESOLVE_IN_ROOT or RESOLVE_BENEATH lookup, which the
 * kernel refuses to guess through). An empty @path is ".". Every openat2 of
 * the library goes through here. Returns the fd or -errno.
 */
int open_resolved(int dirfd, const char *path, int flags, unsigned mode, uint64_t resolve);

/* open_resolved() with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: @root is "/" for @path. */
int openat_in_root(int root, const char *path, int flags, unsigned mode);

/*
 * open_resolved() with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS and O_NOFOLLOW: @path below @root, with no symlink
 * followed on the way or at the end.
 */
int openat_beneath(int root, const char *path, int flags);

/*
 * Copy all of @in, from its start (whatever its offset), to @out at its
 * current offset: in the kernel (copy_file_range) where the two file
 * systems allow it, else through a buffer. Returns 0 or -errno.
 */
int copy_fd_data(int in, int out);

/*
 * The names in the directory @dirfd (its offset is not moved), "." and ".."
 * left out, sorted bytewise, as a NULL-terminated string vector (free with
 * strv_free()). Returns the count, or -errno.
 */
int dir_names(int dirfd, char ***ret);
