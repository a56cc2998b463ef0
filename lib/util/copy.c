/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tree copies between root filesystems, for finalize, for dependencies
 * copied from one path to another, and for the installer's merged trees.
 * Every path the user gave is resolved inside its root; below that,
 * entries are opened one name at a time with O_NOFOLLOW, so a symlink in
 * the copied tree is copied, never followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "copy.h"
#include "fileio.h"
#include "log.h"
#include "strbuf.h"

/* A file of several links, copied once: its next links are links to the copy. */
struct copied_link {
	dev_t dev;
	ino_t ino;
	char *dest; /* the copy, relative to the copy's top destination directory */
};

struct copier {
	struct kiln_ctx *ctx;
	const char *what;
	struct strbuf
	    path; /* the entry being copied, relative to the copy's source, for messages */
	int top; /* the destination directory the copy started in */
	struct strbuf dest; /* the entry being written, relative to top */
	struct copied_link *links;
	size_t n_links, alloc_links;
	unsigned skipped_devices;
};

static void copier_release(struct copier *c)
{
	strbuf_release(&c->path);
	strbuf_release(&c->dest);
	for (size_t i = 0; i < c->n_links; i++)
		free(c->links[i].dest);
	free(c->links);
}

static const struct copied_link *copied_link_find(const struct copier *c, const struct stat *st)
{
	for (size_t i = 0; i < c->n_links; i++)
		if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino)
			return &c->links[i];
	return NULL;
}

static int copied_link_add(struct copier *c, const struct stat *st)
{
	struct copied_link *l;

	if (GROW(c->links, c->alloc_links, c->n_links + 1) < 0)
		return -ENOMEM;
	l = &c->links[c->n_links];
	*l = (struct copied_link){ .dev = st->st_dev, .ino = st->st_ino };
	l->dest = strdup(strbuf_str(&c->dest));
	if (!l->dest)
		return -ENOMEM;
	c->n_links++;
	return 0;
}

static int copy_failed(struct copier *c, int err, const char *doing)
{
	return kiln_error(c->ctx, err, "%s: cannot %s \"%s\": %s", c->what, doing,
			  strbuf_str(&c->path), strerror(err));
}

static int copy_dir_contents(struct copier *c, int sfd, int dfd);

/* The directory @sname of @sdir to @name in @ddir: made, or merged into; its mode set after. */
static int copy_dir(struct copier *c, int sdir, const char *sname, const struct stat *st, int ddir,
		    const char *name)
{
	_cleanup_close_ int s = -1, d = -1;
	int r;

	if (mkdirat(ddir, name, 0700) < 0 && errno != EEXIST)
		return copy_failed(c, errno, "make directory");
	s = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s < 0 || d < 0)
		return copy_failed(c, errno, "open directory");
	r = copy_dir_contents(c, s, d);
	if (r >= 0 && fchmod(d, st->st_mode & 07777) < 0)
		r = copy_failed(c, errno, "set the mode of");
	return r;
}

/* The regular file @sname of @sdir to @name in @ddir, or a link to its copy made already. */
static int copy_file(struct copier *c, int sdir, const char *sname, const struct stat *st, int ddir,
		     const char *name)
{
	_cleanup_close_ int s = -1, d = -1;
	const struct copied_link *l = st->st_nlink > 1 ? copied_link_find(c, st) : NULL;
	int r;

	/*
	 * Another link of a file copied already: a link to the copy. Every
	 * directory on the way from top was made or merged by this copy, so
	 * the path leads there; should linking fail, the bytes are copied.
	 */
	if (l && linkat(c->top, l->dest, ddir, name, 0) == 0)
		return 0;
	s = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (s < 0)
		return copy_failed(c, errno, "read");
	d = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (d < 0)
		return copy_failed(c, errno, "create");
	r = copy_fd_data(s, d);
	if (r < 0)
		r = copy_failed(c, -r, "copy");
	else if (fchmod(d, st->st_mode & 07777) < 0)
		r = copy_failed(c, errno, "set the mode of");
	else if (st->st_nlink > 1 && !l && copied_link_add(c, st) < 0)
		r = -ENOMEM;
	return r;
}

/* The symlink @sname of @sdir to @name in @ddir, as a link with the same target. */
static int copy_symlink(struct copier *c, int sdir, const char *sname, int ddir, const char *name)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);

	if (n < 0)
		return copy_failed(c, errno, "read symlink");
	target[n] = '\0';
	if (symlinkat(target, ddir, name) < 0)
		return copy_failed(c, errno, "make symlink");
	return 0;
}

/* The device @st to @name in @ddir; where devices may not be made, a warning (once). */
static int copy_device(struct copier *c, const struct stat *st, int ddir, const char *name)
{
	if (mknodat(ddir, name, st->st_mode, st->st_rdev) == 0)
		return 0;
	if (errno != EPERM)
		return copy_failed(c, errno, "make device");
	if (c->skipped_devices++ == 0)
		kiln_warn_at(c->ctx, NULL, 0, 0,
			     "%s: device \"%s\" not copied: making devices is not allowed here",
			     c->what, strbuf_str(&c->path));
	return 0;
}

/* Copy the entry @sname of @sdir (described by @st) to @name in @ddir. */
static int copy_entry(struct copier *c, int sdir, const char *sname, const struct stat *st,
		      int ddir, const char *name)
{
	size_t mark = c->path.len, dest_mark = c->dest.len;
	struct stat dst;
	int r = 0;

	if (mark > 0)
		strbuf_addch(&c->path, '/');
	strbuf_adds(&c->path, sname);
	if (dest_mark > 0)
		strbuf_addch(&c->dest, '/');
	strbuf_adds(&c->dest, name);

	/* later wins: anything in the way goes, but a directory merges into a directory */
	if (fstatat(ddir, name, &dst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !(S_ISDIR(st->st_mode) && S_ISDIR(dst.st_mode))) {
		r = remove_tree_at(ddir, name);
		if (r < 0) {
			r = copy_failed(c, -r, "replace");
			goto out;
		}
	}

	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		r = copy_dir(c, sdir, sname, st, ddir, name);
		break;
	case S_IFREG:
		r = copy_file(c, sdir, sname, st, ddir, name);
		break;
	case S_IFLNK:
		r = copy_symlink(c, sdir, sname, ddir, name);
		break;
	case S_IFIFO:
		if (mkfifoat(ddir, name, st->st_mode & 07777) < 0)
			r = copy_failed(c, errno, "make fifo");
		break;
	case S_IFCHR:
	case S_IFBLK:
		r = copy_device(c, st, ddir, name);
		break;
	default:
		kiln_warn_at(c->ctx, NULL, 0, 0, "%s: socket \"%s\" not copied", c->what,
			     strbuf_str(&c->path));
		break;
	}
out:
	c->path.len = mark;
	c->path.buf[mark] = '\0';
	c->dest.len = dest_mark;
	c->dest.buf[dest_mark] = '\0';
	return r;
}

static int copy_dir_contents(struct copier *c, int sfd, int dfd)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = dup(sfd);
	if (fd < 0)
		return copy_failed(c, errno, "read directory");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return copy_failed(c, errno, "read directory");
	}
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = copy_failed(c, errno, "stat");
			break;
		}
		r = copy_entry(c, sfd, de->d_name, &st, dfd, de->d_name);
	}
	if (r >= 0 && errno != 0)
		r = copy_failed(c, errno, "read directory");
	closedir(d);
	return r;
}

/* The last component of @path ("" for the root); trailing slashes do not count. */
static char *last_component(const char *path, char **ret_parent)
{
	size_t len = strlen(path), start;

	while (len > 0 && path[len - 1] == '/')
		len--;
	start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	*ret_parent = strndup(path, start);
	return strndup(path + start, len - start);
}

int copy_in_root(struct kiln_ctx *ctx, const char *what, int src_root, const char *from,
		 int dst_root, const char *to)
{
	_cleanup_(copier_release) struct copier c = { .ctx = ctx, .what = what, .top = -1 };
	_cleanup_free_ char *src_parent = NULL, *src_name = NULL;
	_cleanup_free_ char *dst_parent = NULL, *dst_name = NULL;
	_cleanup_close_ int src = -1, sdir = -1, ddir = -1;
	size_t to_len = strlen(to);
	struct stat st;
	int r;

	strbuf_adds(&c.path, from);
	src = openat_in_root(src_root, from, O_PATH, 0);
	if (src < 0)
		return kiln_error(ctx, -src, "%s: cannot find \"%s\" in the stage: %s", what, from,
				  strerror(-src));
	if (fstat(src, &st) < 0)
		return kiln_error(ctx, errno, "%s: cannot stat \"%s\": %m", what, from);

	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int s = openat_in_root(src_root, from, O_RDONLY | O_DIRECTORY, 0);

		if (s < 0)
			return kiln_error(ctx, -s, "%s: cannot open \"%s\": %s", what, from,
					  strerror(-s));
		r = open_dir_in_root(dst_root, to, true, &ddir);
		if (r < 0)
			return kiln_error(ctx, -r,
					  "%s: cannot make directory \"%s\" in the output: %s",
					  what, to, strerror(-r));
		strbuf_reset(&c.path);
		strbuf_adds(&c.path, from);
		c.top = ddir;
		return copy_dir_contents(&c, s, ddir);
	}

	/* a file: into @to when it is a directory, else as @to */
	src_name = last_component(from, &src_parent);
	if (!src_name || !src_parent)
		return -ENOMEM;
	r = open_dir_in_root(src_root, src_parent, false, &sdir);
	if (r < 0)
		return kiln_error(ctx, -r, "%s: cannot open \"%s\": %s", what, src_parent,
				  strerror(-r));
	if (fstatat(sdir, src_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return kiln_error(ctx, errno, "%s: cannot stat \"%s\": %m", what, from);
	if ((to_len > 0 && to[to_len - 1] == '/') ||
	    open_dir_in_root(dst_root, to, false, &ddir) >= 0) {
		if (ddir < 0) {
			r = open_dir_in_root(dst_root, to, true, &ddir);
			if (r < 0)
				return kiln_error(ctx, -r, "%s: cannot make directory \"%s\": %s",
						  what, to, strerror(-r));
		}
		dst_name = strdup(src_name);
	} else {
		dst_name = last_component(to, &dst_parent);
		if (!dst_name || !dst_parent)
			return -ENOMEM;
		r = open_dir_in_root(dst_root, dst_parent, true, &ddir);
		if (r < 0)
			return kiln_error(ctx, -r, "%s: cannot make directory \"%s\": %s", what,
					  dst_parent, strerror(-r));
	}
	if (!dst_name)
		return -ENOMEM;
	strbuf_reset(&c.path);
	strbuf_adds(&c.path, src_parent);
	if (c.path.len > 0 && c.path.buf[c.path.len - 1] == '/')
		c.path.buf[--c.path.len] = '\0';
	c.top = ddir;
	return copy_entry(&c, sdir, src_name, &st, ddir, dst_name);
}
