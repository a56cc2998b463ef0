/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fileio.h"

#define TEMP_INFIX ".kiln-"
#include "strv.h"
#include "strbuf.h"

int read_fd_all(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct stat st;
	char *buf;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
		return -EFBIG;
	/* the file's size and one byte more, so that its end is seen without growing */
	r = strbuf_reserve(&sb, S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096);
	if (r < 0)
		return r;
	for (;;) {
		ssize_t n;

		if (sb.alloc - sb.len <= 1) {
			r = strbuf_reserve(&sb, 4096);
			if (r < 0)
				return r;
		}
		n = read(fd, sb.buf + sb.len, sb.alloc - sb.len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		sb.len += (size_t)n;
		/* the file may grow after fstat(), or be a pipe */
		if (sb.len > max)
			return -EFBIG;
	}
	sb.buf[sb.len] = '\0';
	buf = strbuf_detach(&sb, ret_len);
	if (!buf)
		return -ENOMEM;
	*ret_buf = buf;
	return 0;
}

ssize_t read_fd_fn(void *userdata, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(*(int *)userdata, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Keep the newer half of the lines, under the file's lock. */
static void cut_hint_lines(const char *path, int fd, size_t max)
{
	_cleanup_free_ char *text = NULL;
	const char *start;
	size_t len;

	if (flock(fd, LOCK_EX) < 0)
		return;
	if (read_file_at(AT_FDCWD, path, 2 * max, &text, &len) >= 0 && len > max) {
		start = memchr(text + len / 2, '\n', len - len / 2);
		if (start)
			(void)write_file_atomic(path, start + 1, len - (size_t)(start + 1 - text),
						0644);
	}
	flock(fd, LOCK_UN);
}

void append_hint_lines(const char *path, const char *text, size_t len, size_t max)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (len == 0)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, text, len) != (ssize_t)len)
		return;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size > max)
		cut_hint_lines(path, fd, max);
}

int read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	return read_fd_all(fd, max, ret_buf, ret_len);
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * "DIR/.NAME.kiln-XXXXXX" for @path "DIR/NAME": a hidden name beside it, so
 * that a writer killed before its rename leaves nothing a user sees, and one
 * atomic_sweep() knows for a leftover of @path.
 */
static char *temp_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	char *s;

	if (asprintf(&s, "%.*s.%s" TEMP_INFIX "XXXXXX", dir_len, path, path + dir_len) < 0)
		return NULL;
	return s;
}

#define TEMP_TRIES 8

int lock_new_temp(int fd)
{
	struct stat st;

	/* a sweeper holds it only while it removes it */
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	return st.st_nlink == 0 ? -ESTALE : 0;
}

int atomic_file_open(const char *path, struct atomic_file *ret)
{
	struct atomic_file f = { .path = path, .fd = -1 };
	int r = -ESTALE;

	for (int i = 0; i < TEMP_TRIES && r == -ESTALE; i++) {
		atomic_file_release(&f);
		f.tmp = temp_name(path);
		if (!f.tmp)
			return -ENOMEM;
		f.fd = mkostemp(f.tmp, O_CLOEXEC);
		/* held while it is written: atomic_sweep() leaves a locked file alone */
		r = f.fd < 0 ? -errno : lock_new_temp(f.fd);
		if (r == -ESTALE)
			free(TAKE_PTR(f.tmp)); /* gone already: nothing to remove */
	}
	if (r < 0) {
		atomic_file_release(&f);
		return r;
	}
	*ret = f;
	return 0;
}

/*
 * Mode, and data on disk; the fd (and so the lock) stays open. Without
 * @sync, the data is only sent on its way: the disk writes it while the
 * caller does other work, and the sync_fs_of() that follows finds little
 * left to wait for.
 */
static int atomic_file_sync(struct atomic_file *f, unsigned mode, bool sync)
{
	if (fchmod(f->fd, mode) < 0)
		return -errno;
	if (sync)
		return fsync(f->fd) < 0 ? -errno : 0;
	/* a hint: what it fails to start, the syncfs does */
	(void)sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
}

int atomic_file_stage(struct atomic_file *f, unsigned mode, bool sync, dev_t *ret_dev)
{
	struct stat st;
	int r = atomic_file_sync(f, mode, sync), fd;

	if (r >= 0 && ret_dev) {
		if (fstat(f->fd, &st) < 0)
			r = -errno;
		else
			*ret_dev = st.st_dev;
	}
	fd = TAKE_FD(f->fd);
	if (close(fd) < 0 && errno != EINTR && r >= 0)
		r = -errno;
	return r;
}

char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? strndup(path, (size_t)(slash - path) + 1) : strdup(".");
}

int sync_fs_of(const char *path)
{
	_cleanup_free_ char *dir = dir_of(path);
	_cleanup_close_ int fd = -1;

	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0)
		return -errno;
	return 0;
}

int atomic_file_rename(struct atomic_file *f)
{
	if (rename(f->tmp, f->path) < 0)
		return -errno;
	/* renamed into place: nothing left for atomic_file_release() to remove */
	free(f->tmp);
	f->tmp = NULL;
	return 0;
}

int atomic_file_commit(struct atomic_file *f, unsigned mode)
{
	/* locked until it has its name: atomic_sweep() in another process leaves it alone */
	int r = atomic_file_sync(f, mode, true);

	if (r >= 0)
		r = atomic_file_rename(f);
	closep(&f->fd);
	return r;
}

void atomic_file_release(struct atomic_file *f)
{
	if (f->tmp)
		unlink(f->tmp);
	free(f->tmp);
	f->tmp = NULL;
	closep(&f->fd);
}

int atomic_dir_open(const char *path, struct atomic_dir *ret)
{
	struct atomic_dir d = { .path = path, .fd = -1 };
	int r = -ESTALE;

	/* what a writer of @path that was killed left; a leftover is no reason to fail */
	(void)atomic_sweep(path);
	for (int i = 0; i < TEMP_TRIES && r == -ESTALE; i++) {
		atomic_dir_release(&d);
		d.tmp = temp_name(path);
		if (!d.tmp)
			return -ENOMEM;
		if (!mkdtemp(d.tmp)) {
			r = -errno;
			free(TAKE_PTR(d.tmp));
			return r;
		}
		d.fd = open(d.tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		r = d.fd < 0 ? -errno : lock_new_temp(d.fd);
		if (r == -ESTALE)
			free(TAKE_PTR(d.tmp));
	}
	if (r < 0) {
		atomic_dir_release(&d);
		return r;
	}
	*ret = d;
	return 0;
}

int atomic_dir_commit(struct atomic_dir *d, unsigned mode, bool replace)
{
	if (chmod(d->tmp, mode) < 0)
		return -errno;
	if (rename(d->tmp, d->path) < 0) {
		if (!replace || (errno != ENOTEMPTY && errno != EEXIST))
			return -errno;
		/* the old directory goes where the new one was, and then away */
		if (renameat2(AT_FDCWD, d->tmp, AT_FDCWD, d->path, RENAME_EXCHANGE) < 0)
			return -errno;
		(void)remove_tree_at(AT_FDCWD, d->tmp);
	}
	free(d->tmp);
	d->tmp = NULL;
	return 0;
}

void atomic_dir_release(struct atomic_dir *d)
{
	if (d->tmp)
		(void)remove_tree_at(AT_FDCWD, d->tmp);
	free(d->tmp);
	d->tmp = NULL;
	closep(&d->fd);
}

bool unlocked_at(int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	return fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;
}

bool atomic_is_temp_name(const char *name, const char *base)
{
	size_t len = strlen(name), infix = strlen(TEMP_INFIX);

	if (name[0] != '.' || len < 1 + infix + 6 ||
	    strncmp(name + len - 6 - infix, TEMP_INFIX, infix) != 0)
		return false;
	return !base || (len == 1 + strlen(base) + infix + 6 &&
			 strncmp(name + 1, base, strlen(base)) == 0);
}

int sweep_unlocked_at(int dirfd, bool (*want)(const char *name, const void *userdata),
		      const void *userdata)
{
	_cleanup_(strv_freep) char **names = NULL;
	int n = dir_names(dirfd, &names);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		_cleanup_close_ int fd = -1;

		if (want && !want(names[i], userdata))
			continue;
		fd = openat(dirfd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		/* removed with the lock held: its writer, if it has just made it, makes another */
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
			(void)remove_tree_at(dirfd, names[i]);
	}
	return 0;
}

static bool is_temp_of(const char *name, const void *base)
{
	return atomic_is_temp_name(name, base);
}

/* Remove the orphaned temporary names of @base (NULL: of any file) in @dir. */
static int sweep(const char *dir, const char *base)
{
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dirfd < 0)
		return errno == ENOENT ? 0 : -errno;
	return sweep_unlocked_at(dirfd, is_temp_of, base);
}

int atomic_sweep(const char *path)
{
	_cleanup_free_ char *dir = dir_of(path);
	const char *slash = strrchr(path, '/');

	if (!dir)
		return -ENOMEM;
	return sweep(dir, slash ? slash + 1 : path);
}

int atomic_sweep_dir(const char *dir)
{
	return sweep(dir, NULL);
}

int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	_cleanup_(atomic_file_release) struct atomic_file f = { .fd = -1 };
	int r;

	/* what a writer of @path that was killed left; a leftover is no reason to fail */
	(void)atomic_sweep(path);

	r = atomic_file_open(path, &f);
	if (r < 0)
		return r;
	r = write_all(f.fd, data, len);
	if (r < 0)
		return r;
	return atomic_file_commit(&f, mode);
}

int make_temp_dir(const char *dir, const char *prefix, char **ret)
{
	char *path;

	if (asprintf(&path, "%s/%sXXXXXX", dir, prefix) < 0)
		return -ENOMEM;
	if (!mkdtemp(path)) {
		int r = -errno;

		free(path);
		return r;
	}
	*ret = path;
	return 0;
}

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	char *s;

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (asprintf(&s, "%.*s%s%s", (int)la, a, la && a[la - 1] == '/' ? "" : "/", b) < 0)
		return NULL;
	return s;
}

/* remove_tree_at(), below a directory on @parent_dev (NULL: at the top) */
static int remove_tree_in(int at, const char *name, const dev_t *parent_dev)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(at, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	/* a mount point (its stat is the mounted root's): what is there is not ours */
	if (parent_dev && st.st_dev != *parent_dev)
		return -EXDEV;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && fchmodat(at, name, 0700, 0) == 0)
		fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while (r >= 0 && (de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			r = remove_tree_in(dirfd(d), de->d_name, &st.st_dev);
	closedir(d);
	if (r < 0)
		return r;
	return unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

int remove_tree_at(int at, const char *name)
{
	return remove_tree_in(at, name, NULL);
}

int open_resolved(int dirfd, const char *path, int flags, unsigned mode, uint64_t resolve)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = resolve,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, path[0] ? path : ".", &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : (int)fd;
}

int openat_in_root(int root, const char *path, int flags, unsigned mode)
{
	return open_resolved(root, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

int openat_beneath(int root, const char *path, int flags)
{
	return open_resolved(root, path, flags | O_NOFOLLOW, 0,
			     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

int open_dir_in_root(int root, const char *path, bool create, int *ret_fd)
{
	_cleanup_free_ char *prefix = malloc(strlen(path) + 2);
	_cleanup_close_ int fd = -1;
	const char *p = path;
	size_t len = 0;

	if (!prefix)
		return -ENOMEM;
	fd = openat_in_root(root, ".", O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	while (*p) {
		size_t n;
		int nfd;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		prefix[len++] = '/';
		memcpy(prefix + len, p, n);
		len += n;
		prefix[len] = '\0';
		nfd = openat_in_root(root, prefix, O_RDONLY | O_DIRECTORY, 0);
		if (nfd == -ENOENT && create) {
			_cleanup_free_ char *name = strndup(p, n);

			if (!name)
				return -ENOMEM;
			if (mkdirat(fd, name, 0755) < 0 && errno != EEXIST)
				return -errno;
			nfd = openat_in_root(root, prefix, O_RDONLY | O_DIRECTORY, 0);
		}
		if (nfd < 0)
			return nfd;
		close(fd);
		fd = nfd;
		p += n;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int copy_fd_data(int in, int out)
{
	char buf[128 * 1024];
	off_t off = 0;
	ssize_t n;

	for (;;) {
		n = copy_file_range(in, &off, out, NULL, SIZE_MAX >> 2, 0);
		if (n == 0)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
	}
	if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	/* no in-kernel copy between these files: through user space, from where it stopped */
	for (;;) {
		int r;

		n = pread(in, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		r = write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
		off += n;
	}
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dir_names(int dirfd, char ***ret)
{
	char **names = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	int fd = dup(dirfd), r = 0;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (kiln_grow((void **)&names, &alloc, n + 2, sizeof(*names)) < 0 ||
		    !(names[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		names[++n] = NULL;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	if (r < 0) {
		strv_free(names);
		return r;
	}
	if (n > 0)
		qsort(names, n, sizeof(*names), compare_names);
	else if (!(names = calloc(1, sizeof(*names))))
		return -ENOMEM;
	*ret = names;
	return (int)n;
}
