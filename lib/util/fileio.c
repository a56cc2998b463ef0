/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "strbuf.h"

int read_fd_all(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct stat st;
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
	*ret_buf = strbuf_detach(&sb, ret_len);
	return 0;
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

int atomic_file_open(const char *path, struct atomic_file *ret)
{
	struct atomic_file f = { .path = path, .fd = -1 };

	if (asprintf(&f.tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	f.fd = mkostemp(f.tmp, O_CLOEXEC);
	if (f.fd < 0) {
		int r = -errno;

		free(f.tmp);
		return r;
	}
	*ret = f;
	return 0;
}

int atomic_file_commit(struct atomic_file *f, unsigned mode)
{
	if (fchmod(f->fd, mode) < 0 || fsync(f->fd) < 0 || rename(f->tmp, f->path) < 0)
		return -errno;
	/* renamed into place: nothing left for atomic_file_release() to remove */
	free(f->tmp);
	f->tmp = NULL;
	return 0;
}

void atomic_file_release(struct atomic_file *f)
{
	if (f->tmp)
		unlink(f->tmp);
	free(f->tmp);
	f->tmp = NULL;
	closep(&f->fd);
}

int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	_cleanup_(atomic_file_release) struct atomic_file f = { .fd = -1 };
	int r;

	r = atomic_file_open(path, &f);
	if (r < 0)
		return r;
	r = write_all(f.fd, data, len);
	if (r < 0)
		return r;
	return atomic_file_commit(&f, mode);
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
