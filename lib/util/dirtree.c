/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>

#include "dirtree.h"
#include "fileio.h"
#include "log.h"

void dirtree_release(struct dirtree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].path);
		free(t->e[i].target);
	}
	free(t->e);
	*t = (struct dirtree){ 0 };
}

static int tree_changed(struct kiln_ctx *ctx, const char *path, const char *how)
{
	return kiln_error(ctx, ESTALE, "\"%s\" %s while the tree was being read", path, how);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int add_entry(struct kiln_ctx *ctx, struct dirtree *t, int dfd, const char *dir,
		     const char *name)
{
	struct dirtree_entry e = { .parent = SIZE_MAX };

	if (asprintf(&e.path, "%s%s%s", dir, dir[0] ? "/" : "", name) < 0)
		return -ENOMEM;
	if (strlen(e.path) >= DIRTREE_PATH_MAX) {
		kiln_error(ctx, ENAMETOOLONG, "\"%s\": path longer than %d bytes", e.path,
			   DIRTREE_PATH_MAX - 1);
		free(e.path);
		return -ENAMETOOLONG;
	}
	if (fstatat(dfd, name, &e.st, AT_SYMLINK_NOFOLLOW) < 0) {
		int r = errno == ENOENT ? tree_changed(ctx, e.path, "disappeared")
					: kiln_error(ctx, errno, "cannot stat \"%s\": %m", e.path);

		free(e.path);
		return r;
	}
	if (S_ISLNK(e.st.st_mode)) {
		char buf[DIRTREE_PATH_MAX];
		ssize_t n = readlinkat(dfd, name, buf, sizeof(buf));
		int r = 0;

		if (n < 0)
			r = errno == EINVAL
				? tree_changed(ctx, e.path, "changed")
				: kiln_error(ctx, errno, "cannot read link \"%s\": %m", e.path);
		else if ((size_t)n >= sizeof(buf))
			r = kiln_error(ctx, ENAMETOOLONG, "symlink \"%s\": target too long",
				       e.path);
		else if (!(e.target = strndup(buf, (size_t)n)))
			r = -ENOMEM;
		if (r < 0) {
			free(e.path);
			return r;
		}
	}
	if (GROW(t->e, t->alloc, t->n + 1) < 0) {
		free(e.path);
		free(e.target);
		return -ENOMEM;
	}
	t->e[t->n++] = e;
	return 0;
}

/* Add the entries of the directory @dir ("" for the root, else entry @index). */
static int list_one(struct kiln_ctx *ctx, int root, struct dirtree *t, size_t index)
{
	_cleanup_free_ char *dir = strdup(index == SIZE_MAX ? "" : t->e[index].path);
	_cleanup_close_ int fd = -1;
	struct stat st;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	fd = openat_beneath(root, dir, O_RDONLY | O_DIRECTORY);
	if (fd == -ELOOP || fd == -ENOTDIR || fd == -ENOENT || fd == -EXDEV)
		return tree_changed(ctx, dir, "changed");
	if (fd < 0)
		return kiln_error(ctx, fd, "cannot open directory \"%s\": %s", dir[0] ? dir : ".",
				  strerror(-fd));
	if (fstat(fd, &st) < 0)
		return kiln_error(ctx, errno, "cannot stat \"%s\": %m", dir[0] ? dir : ".");
	if (index == SIZE_MAX)
		t->root = st;
	else if (!same_file(&st, &t->e[index].st))
		return tree_changed(ctx, dir, "was replaced");
	d = fdopendir(fd);
	if (!d)
		return kiln_error(ctx, errno, "cannot read directory \"%s\": %m", dir);
	fd = -1;
	for (errno = 0; (de = readdir(d)); errno = 0) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		r = add_entry(ctx, t, dirfd(d), dir, de->d_name);
		if (r < 0)
			break;
	}
	if (r == 0 && errno != 0)
		r = kiln_error(ctx, errno, "cannot read directory \"%s\": %m", dir);
	closedir(d);
	return r;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dirtree_entry *)a)->path,
		      ((const struct dirtree_entry *)b)->path);
}

const struct dirtree_entry *dirtree_find(const struct dirtree *t, const char *path)
{
	struct dirtree_entry key = { .path = (char *)path };

	return t->n ? bsearch(&key, t->e, t->n, sizeof(*t->e), entry_cmp) : NULL;
}

int dirtree_list(struct kiln_ctx *ctx, int root, struct dirtree *ret)
{
	_cleanup_(dirtree_release) struct dirtree t = { 0 };
	_cleanup_free_ size_t *stack = NULL;
	size_t n_stack = 0, stack_alloc = 0;
	int r;

	r = list_one(ctx, root, &t, SIZE_MAX);
	for (size_t seen = 0; r >= 0;) {
		/* the directories found since the last look go on the stack */
		for (; seen < t.n; seen++) {
			if (!S_ISDIR(t.e[seen].st.st_mode))
				continue;
			if (GROW(stack, stack_alloc, n_stack + 1) < 0)
				return -ENOMEM;
			stack[n_stack++] = seen;
		}
		if (n_stack == 0)
			break;
		r = list_one(ctx, root, &t, stack[--n_stack]);
	}
	if (r < 0)
		return r;
	if (t.n)
		qsort(t.e, t.n, sizeof(*t.e), entry_cmp);
	for (size_t i = 0; i < t.n; i++) {
		struct dirtree_entry *e = &t.e[i];
		const char *slash = strrchr(e->path, '/');
		bool is_dir = S_ISDIR(e->st.st_mode);

		e->name = slash ? slash + 1 : e->path;
		if (slash) {
			_cleanup_free_ char *dir = strndup(e->path, (size_t)(slash - e->path));
			const struct dirtree_entry *p;

			if (!dir)
				return -ENOMEM;
			p = dirtree_find(&t, dir);
			if (!p)
				return -EINVAL; /* listed from its parent: cannot happen */
			e->parent = (size_t)(p - t.e);
			t.e[e->parent].n_subdirs += is_dir;
		} else {
			t.root_subdirs += is_dir;
		}
	}
	*ret = t;
	t = (struct dirtree){ 0 };
	return 0;
}

int dirtree_open_file(struct kiln_ctx *ctx, int root, const struct dirtree_entry *e, int *ret_fd)
{
	_cleanup_close_ int fd = openat_beneath(root, e->path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	if (fd == -ELOOP || fd == -ENOENT || fd == -ENOTDIR || fd == -EXDEV)
		return tree_changed(ctx, e->path, "changed");
	if (fd < 0)
		return kiln_error(ctx, fd, "cannot open \"%s\": %s", e->path, strerror(-fd));
	if (fstat(fd, &st) < 0)
		return kiln_error(ctx, errno, "cannot stat \"%s\": %m", e->path);
	if (!S_ISREG(st.st_mode) || !same_file(&st, &e->st))
		return tree_changed(ctx, e->path, "was replaced");
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int dirtree_read_file(struct kiln_ctx *ctx, const char *path, int fd, uint64_t size, void *buf,
		      size_t buf_size, int (*fn)(void *userdata, const void *data, size_t len),
		      void *userdata)
{
	char extra;
	ssize_t n;
	int r;

	for (uint64_t left = size; left > 0; left -= (uint64_t)n) {
		n = read(fd, buf, left < buf_size ? (size_t)left : buf_size);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0)
			return kiln_error(ctx, errno, "cannot read \"%s\": %m", path);
		if (n == 0)
			return kiln_error(ctx, ESTALE, "\"%s\" shrank while it was being read",
					  path);
		r = fn(userdata, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	do
		n = read(fd, &extra, 1);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return kiln_error(ctx, ESTALE, "\"%s\" grew while it was being read", path);
	return 0;
}
