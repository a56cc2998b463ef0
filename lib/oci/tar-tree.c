/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A directory tree as a deterministic tar stream (kiln_tar_write_tree),
 * written through the stream writer of tar-write.c.
 *
 * A directory becomes a stream in two steps: list the whole tree (metadata
 * only), sort it, then write it. Sorting the names as written (directories
 * with their "/") makes the order a property of the tree, not of the
 * file system's readdir order, and puts every parent before its children.
 * Files are opened again for writing by name, with RESOLVE_NO_SYMLINKS, and
 * checked to be the inode that was listed: a tree that changes under the
 * writer is an error, never an archive that mixes two states.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <kiln/layer.h>

#include "fileio.h"
#include "log.h"
#include "strbuf.h"
#include "tar-format.h"

struct tree_item {
	char *name; /* as written: relative, directories end in '/' */
	struct stat st;
	char *target; /* symlinks */
	struct kiln_xattr *xattrs; /* directories: read while the directory is open */
	size_t n_xattrs;
	size_t link_to; /* the first name of this inode, or SIZE_MAX */
};

struct tree {
	struct tree_item *items;
	size_t n, alloc;
};

static void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->items[i].name);
		free(t->items[i].target);
		tar_xattrs_free(t->items[i].xattrs, t->items[i].n_xattrs);
	}
	free(t->items);
	*t = (struct tree){ 0 };
}

static int xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kiln_xattr *)a)->name, ((const struct kiln_xattr *)b)->name);
}

/* Host state, not content: labels differ per machine, ACLs are not portable. */
static bool xattr_is_recorded(const char *name)
{
	return !streq(name, "security.selinux") && strncmp(name, "system.", 7) != 0;
}

static int read_xattrs(struct kiln_ctx *ctx, int fd, const char *path, struct kiln_xattr **ret,
		       size_t *ret_n)
{
	_cleanup_free_ char *list = NULL;
	struct kiln_xattr *x = NULL;
	size_t n = 0, alloc = 0;
	ssize_t len;

	len = flistxattr(fd, NULL, 0);
	if (len < 0 && (errno == ENOTSUP || errno == ENOSYS))
		goto none;
	if (len < 0)
		return kiln_error(ctx, errno, "cannot list extended attributes of \"%s\": %m",
				  path);
	if (len == 0)
		goto none;
	list = malloc((size_t)len);
	if (!list)
		return -ENOMEM;
	len = flistxattr(fd, list, (size_t)len);
	if (len < 0)
		return kiln_error(ctx, errno == ERANGE ? ESTALE : errno,
				  "cannot list extended attributes of \"%s\": %m", path);
	for (const char *p = list; p < list + len; p += strlen(p) + 1) {
		ssize_t vlen;
		void *value;

		if (!xattr_is_recorded(p))
			continue;
		vlen = fgetxattr(fd, p, NULL, 0);
		if (vlen < 0 && errno == ENODATA)
			continue;
		value = vlen >= 0 ? malloc(vlen ? (size_t)vlen : 1) : NULL;
		if (vlen >= 0 && value)
			vlen = fgetxattr(fd, p, value, (size_t)vlen);
		if (vlen < 0 || !value || GROW(x, alloc, n + 1) < 0) {
			int err = vlen < 0 ? errno : ENOMEM;

			free(value);
			tar_xattrs_free(x, n);
			if (err == ENOMEM)
				return -ENOMEM;
			return kiln_error(ctx, err == ERANGE ? ESTALE : err,
					  "cannot read extended attribute %s of \"%s\": %s", p,
					  path, strerror(err));
		}
		x[n].name = strdup(p);
		x[n].value = value;
		x[n].len = (size_t)vlen;
		if (!x[n].name) {
			free(value);
			tar_xattrs_free(x, n);
			return -ENOMEM;
		}
		n++;
	}
	if (n)
		qsort(x, n, sizeof(*x), xattr_cmp);
	*ret = x;
	*ret_n = n;
	return 0;
none:
	*ret = NULL;
	*ret_n = 0;
	return 0;
}

static int changed(struct kiln_ctx *ctx, const char *path, const char *how)
{
	return kiln_error(ctx, ESTALE, "\"%s\" %s while the tree was being read", path, how);
}

static bool same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* "" for the root, else the directory's name without its trailing slash. */
static char *dir_path(const struct tree *t, size_t dir_item)
{
	const char *name;

	if (dir_item == SIZE_MAX)
		return strdup("");
	name = t->items[dir_item].name;
	return strndup(name, strlen(name) - 1);
}

/*
 * List one directory (@dir_item, or the root when SIZE_MAX) into @t and
 * return its subdirectories on @stack. Only one directory is open at a
 * time, so a deep tree cannot run out of file descriptors.
 */
static int list_dir(struct kiln_ctx *ctx, int root, const struct kiln_tar_tree_options *o,
		    struct tree *t, size_t dir_item, size_t **stack, size_t *n_stack,
		    size_t *stack_alloc)
{
	_cleanup_free_ char *path = dir_path(t, dir_item);
	_cleanup_close_ int fd = -1;
	struct stat st;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!path)
		return -ENOMEM;
	fd = openat_beneath(root, path, O_RDONLY | O_DIRECTORY);
	if (fd < 0 && (fd == -ELOOP || fd == -ENOTDIR || fd == -ENOENT || fd == -EXDEV))
		return changed(ctx, path, "changed");
	if (fd < 0)
		return kiln_error(ctx, fd, "cannot open directory \"%s\": %s", path, strerror(-fd));
	if (fstat(fd, &st) < 0)
		return kiln_error(ctx, errno, "cannot stat \"%s\": %m", path);
	if (dir_item != SIZE_MAX) {
		struct tree_item *it = &t->items[dir_item];

		if (!same_inode(&st, &it->st))
			return changed(ctx, path, "was replaced");
		if (o->xattrs) {
			r = read_xattrs(ctx, fd, path, &it->xattrs, &it->n_xattrs);
			if (r < 0)
				return r;
		}
	}
	d = fdopendir(fd);
	if (!d)
		return kiln_error(ctx, errno, "cannot read directory \"%s\": %m", path);
	fd = -1; /* the DIR owns it now */

	for (errno = 0; (de = readdir(d)); errno = 0) {
		struct tree_item it = { .link_to = SIZE_MAX };

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &it.st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = errno == ENOENT ? changed(ctx, de->d_name, "disappeared")
					    : kiln_error(ctx, errno, "cannot stat \"%s/%s\": %m",
							 path, de->d_name);
			break;
		}
		if (S_ISSOCK(it.st.st_mode)) {
			kiln_warn_at(ctx, NULL, 0, 0, "\"%s%s%s\": a socket, left out of the layer",
				     path, path[0] ? "/" : "", de->d_name);
			continue;
		}
		if (asprintf(&it.name, "%s%s%s%s", path, path[0] ? "/" : "", de->d_name,
			     S_ISDIR(it.st.st_mode) ? "/" : "") < 0) {
			r = -ENOMEM;
			break;
		}
		if (S_ISLNK(it.st.st_mode)) {
			char buf[KILN_TAR_PATH_MAX + 1];
			ssize_t n = readlinkat(dirfd(d), de->d_name, buf, sizeof(buf));

			if (n < 0 || (size_t)n >= sizeof(buf)) {
				r = n < 0
					? (errno == EINVAL
					       ? changed(ctx, it.name, "changed")
					       : kiln_error(ctx, errno,
							    "cannot read link \"%s\": %m", it.name))
					: kiln_error(ctx, ENAMETOOLONG,
						     "symlink \"%s\": target too long", it.name);
				free(it.name);
				break;
			}
			it.target = strndup(buf, (size_t)n);
			if (!it.target) {
				free(it.name);
				r = -ENOMEM;
				break;
			}
		}
		if (GROW(t->items, t->alloc, t->n + 1) < 0 ||
		    (S_ISDIR(it.st.st_mode) && GROW(*stack, *stack_alloc, *n_stack + 1) < 0)) {
			free(it.name);
			free(it.target);
			r = -ENOMEM;
			break;
		}
		if (S_ISDIR(it.st.st_mode))
			(*stack)[(*n_stack)++] = t->n;
		t->items[t->n++] = it;
	}
	if (r == 0 && errno != 0)
		r = kiln_error(ctx, errno, "cannot read directory \"%s\": %m", path);
	closedir(d);
	return r;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tree_item *)a)->name, ((const struct tree_item *)b)->name);
}

struct inode_ref {
	dev_t dev;
	ino_t ino;
	size_t index;
};

static int inode_ref_cmp(const void *a, const void *b)
{
	const struct inode_ref *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Every further name of an inode links to its first name in the sorted order. */
static int find_hard_links(struct tree *t)
{
	_cleanup_free_ struct inode_ref *refs = NULL;
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		if (!S_ISDIR(t->items[i].st.st_mode) && t->items[i].st.st_nlink > 1)
			n++;
	if (n < 2)
		return 0;
	refs = calloc(n, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < t->n; i++)
		if (!S_ISDIR(t->items[i].st.st_mode) && t->items[i].st.st_nlink > 1)
			refs[n++] =
			    (struct inode_ref){ t->items[i].st.st_dev, t->items[i].st.st_ino, i };
	qsort(refs, n, sizeof(*refs), inode_ref_cmp);
	for (size_t i = 1; i < n; i++)
		if (refs[i].dev == refs[i - 1].dev && refs[i].ino == refs[i - 1].ino)
			t->items[refs[i].index].link_to =
			    t->items[refs[i - 1].index].link_to != SIZE_MAX
				? t->items[refs[i - 1].index].link_to
				: refs[i - 1].index;
	return 0;
}

#define COPY_BUF (128u << 10)

/* A regular file: opened again, checked to be the inode listed, copied with the size it has. */
static int write_file(struct kiln_ctx *ctx, int root, const struct kiln_tar_tree_options *o,
		      struct kiln_tar_writer *w, struct tree_item *it, struct kiln_tar_entry *e,
		      char *buf)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	uint64_t left;
	int r;

	fd = openat_beneath(root, it->name, O_RDONLY | O_NOCTTY | O_NONBLOCK);
	if (fd == -ELOOP || fd == -ENOENT || fd == -ENOTDIR || fd == -EXDEV)
		return changed(ctx, it->name, "changed");
	if (fd < 0)
		return kiln_error(ctx, fd, "cannot open \"%s\": %s", it->name, strerror(-fd));
	if (fstat(fd, &st) < 0)
		return kiln_error(ctx, errno, "cannot stat \"%s\": %m", it->name);
	if (!S_ISREG(st.st_mode) || !same_inode(&st, &it->st))
		return changed(ctx, it->name, "was replaced");
	if (o->xattrs) {
		r = read_xattrs(ctx, fd, it->name, &it->xattrs, &it->n_xattrs);
		if (r < 0)
			return r;
		e->xattrs = it->xattrs;
		e->n_xattrs = it->n_xattrs;
	}
	e->mode = st.st_mode & 07777;
	e->size = (uint64_t)st.st_size;
	r = kiln_tar_writer_add(ctx, w, e);
	if (r < 0)
		return r;
	for (left = e->size; left > 0;) {
		ssize_t n = read(fd, buf, left < COPY_BUF ? (size_t)left : COPY_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kiln_error(ctx, errno, "cannot read \"%s\": %m", it->name);
		if (n == 0)
			return changed(ctx, it->name, "shrank");
		r = kiln_tar_writer_write(w, buf, (size_t)n);
		if (r < 0)
			return r;
		left -= (uint64_t)n;
	}
	/* the header is out: a file that grew meanwhile would be cut short */
	if (read(fd, buf, 1) > 0)
		return changed(ctx, it->name, "grew");
	return 0;
}

/* @name as the archive has it: under o->prefix when there is one. NULL when out of memory. */
static char *prefixed(const struct kiln_tar_tree_options *o, char *name, struct strbuf *buf)
{
	if (!o->prefix)
		return name;
	strbuf_reset(buf);
	if (strbuf_addf(buf, "%s/%s", o->prefix, name) < 0)
		return NULL;
	return buf->buf;
}

/* The directories of o->prefix, each an entry of its own, parents first. */
static int write_prefix_dirs(struct kiln_ctx *ctx, const struct kiln_tar_tree_options *o,
			     struct kiln_tar_writer *w)
{
	_cleanup_(strbuf_release) struct strbuf dir = { 0 };

	for (const char *p = o->prefix; p && *p;) {
		size_t len = strcspn(p, "/");
		struct kiln_tar_entry e = {
			.type = KILN_TAR_DIR,
			.mode = 0755,
			.uid = o->uid,
			.gid = o->gid,
			.mtime = o->mtime,
		};
		int r;

		if (strbuf_add(&dir, p, len) < 0 || strbuf_addch(&dir, '/') < 0)
			return -ENOMEM;
		e.path = dir.buf;
		r = kiln_tar_writer_add(ctx, w, &e);
		if (r < 0)
			return r;
		p += len;
		p += strspn(p, "/");
	}
	return 0;
}

int kiln_tar_write_tree(struct kiln_ctx *ctx, int dirfd, const struct kiln_tar_tree_options *o,
			struct kiln_tar_writer *w)
{
	_cleanup_(tree_release) struct tree t = { 0 };
	_cleanup_free_ size_t *stack = NULL;
	_cleanup_free_ char *buf = NULL;
	_cleanup_(strbuf_release) struct strbuf name = { 0 }, link = { 0 };
	size_t n_stack = 0, stack_alloc = 0;
	int r;

	r = list_dir(ctx, dirfd, o, &t, SIZE_MAX, &stack, &n_stack, &stack_alloc);
	while (r >= 0 && n_stack > 0) {
		size_t next = stack[--n_stack];

		r = list_dir(ctx, dirfd, o, &t, next, &stack, &n_stack, &stack_alloc);
	}
	if (r < 0)
		return r;
	if (t.n)
		qsort(t.items, t.n, sizeof(*t.items), item_cmp);
	r = find_hard_links(&t);
	if (r < 0)
		return r;
	buf = malloc(COPY_BUF);
	if (!buf)
		return -ENOMEM;
	r = write_prefix_dirs(ctx, o, w);
	if (r < 0)
		return r;

	for (size_t i = 0; i < t.n; i++) {
		struct tree_item *it = &t.items[i];
		struct kiln_tar_entry e = {
			.path = prefixed(o, it->name, &name),
			.mode = it->st.st_mode & 07777,
			.uid = o->uid,
			.gid = o->gid,
			.mtime = o->mtime,
		};

		if (!e.path)
			return -ENOMEM;
		if (it->link_to != SIZE_MAX) {
			e.type = KILN_TAR_LINK;
			e.linkname = prefixed(o, t.items[it->link_to].name, &link);
			if (!e.linkname)
				return -ENOMEM;
		} else if (S_ISREG(it->st.st_mode)) {
			e.type = KILN_TAR_REG;
			r = write_file(ctx, dirfd, o, w, it, &e, buf);
			if (r < 0)
				return r;
			continue;
		} else if (S_ISDIR(it->st.st_mode)) {
			e.type = KILN_TAR_DIR;
			e.xattrs = it->xattrs;
			e.n_xattrs = it->n_xattrs;
		} else if (S_ISLNK(it->st.st_mode)) {
			e.type = KILN_TAR_SYMLINK;
			e.linkname = it->target;
		} else if (S_ISFIFO(it->st.st_mode)) {
			e.type = KILN_TAR_FIFO;
		} else if (S_ISCHR(it->st.st_mode) || S_ISBLK(it->st.st_mode)) {
			e.type = S_ISCHR(it->st.st_mode) ? KILN_TAR_CHAR : KILN_TAR_BLOCK;
			e.devmajor = major(it->st.st_rdev);
			e.devminor = minor(it->st.st_rdev);
		} else {
			return kiln_error(ctx, EINVAL, "\"%s\": unknown file type 0%o", it->name,
					  it->st.st_mode & S_IFMT);
		}
		r = kiln_tar_writer_add(ctx, w, &e);
		if (r < 0)
			return r;
	}
	return 0;
}
