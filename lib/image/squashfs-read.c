/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading squashfs images with libsquashfs: listing a subtree, and
 * extracting it into a directory.
 *
 * The image is hostile. libsquashfs decodes its tables; kiln checks what
 * it makes of them: every name must be one plain path component, every
 * inode number within the super block's count, and no directory may be
 * reached twice (a loop, or a directory shared to multiply a walk), which
 * a bitmap of directory inode numbers catches. Extraction creates each
 * entry relative to its parent's descriptor with O_EXCL / O_NOFOLLOW, so
 * neither a symlink it has just made nor one already in the destination
 * is ever followed.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir.h>
#include <sqfs/dir_reader.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/super.h>

#include <kiln/image.h>

#include "log.h"
#include "squashfs-internal.h"
#include "strbuf.h"

/* deep enough for any real tree; extraction keeps one descriptor open per level */
#define MAX_DEPTH 256
#define COPY_BUF (128u << 10)

struct image {
	struct kiln_ctx *ctx;
	const char *path;
	int fd;
	sqfs_file_t *file;
	sqfs_super_t super;
	sqfs_compressor_t *cmp;
	sqfs_id_table_t *idtbl;
	sqfs_dir_reader_t *dr;
	sqfs_data_reader_t *data;
	uint8_t *seen_dirs; /* a bit per inode number */
};

static void image_release(struct image *img)
{
	sqfs_destroy(img->data);
	sqfs_destroy(img->dr);
	sqfs_destroy(img->idtbl);
	sqfs_destroy(img->cmp);
	sqfs_destroy(img->file);
	free(img->seen_dirs);
	closep(&img->fd);
}

static int image_fail(struct image *img, int err, const char *what)
{
	return squashfs_fail(img->ctx, img->file, err, img->path, what);
}

static int image_open(struct kiln_ctx *ctx, const char *path, struct image *img)
{
	sqfs_compressor_config_t cfg;
	struct stat st;
	int r;

	*img = (struct image){ .ctx = ctx, .path = path, .fd = -1 };
	img->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (img->fd < 0)
		return kiln_error(ctx, errno, "cannot open \"%s\": %m", path);
	if (fstat(img->fd, &st) < 0)
		return kiln_error(ctx, errno, "cannot stat \"%s\": %m", path);
	if (!S_ISREG(st.st_mode))
		return kiln_error(ctx, EINVAL, "\"%s\" is not a regular file", path);
	img->file = squashfs_file_new(img->fd, (uint64_t)st.st_size, false);
	if (!img->file)
		return -ENOMEM;
	r = sqfs_super_read(&img->super, img->file);
	if (r)
		return image_fail(img, r, "super block");
	r = sqfs_compressor_config_init(&cfg, img->super.compression_id, img->super.block_size,
					SQFS_COMP_FLAG_UNCOMPRESS);
	if (!r)
		r = sqfs_compressor_create(&cfg, &img->cmp);
	if (r)
		return image_fail(img, r, "compressor");
	if (img->super.flags & SQFS_FLAG_COMPRESSOR_OPTIONS) {
		r = img->cmp->read_options(img->cmp, img->file);
		if (r)
			return image_fail(img, r, "compressor options");
	}
	img->idtbl = sqfs_id_table_create(0);
	img->dr = sqfs_dir_reader_create(&img->super, img->cmp, img->file, 0);
	img->data = sqfs_data_reader_create(img->file, img->super.block_size, img->cmp, 0);
	img->seen_dirs = calloc((size_t)img->super.inode_count / 8 + 1, 1);
	if (!img->idtbl || !img->dr || !img->data || !img->seen_dirs)
		return -ENOMEM;
	r = sqfs_id_table_read(img->idtbl, img->file, &img->super, img->cmp);
	if (r)
		return image_fail(img, r, "id table");
	r = sqfs_data_reader_load_fragment_table(img->data, &img->super);
	if (r)
		return image_fail(img, r, "fragment table");
	return 0;
}

/* ---- the walk ------------------------------------------------------------------ */

struct visit {
	/* before a directory's entries; @on_path: an ancestor of the subtree, not in it */
	int (*node)(void *userdata, struct image *img, const char *path, const char *name,
		    const sqfs_inode_generic_t *inode, unsigned depth, bool on_path);
	/* after a directory's entries (may be NULL) */
	int (*leave)(void *userdata, struct image *img, const sqfs_inode_generic_t *inode,
		     unsigned depth);
	void *userdata;
	char **components; /* the subtree's path, split */
	unsigned n_components;
	bool found; /* the subtree was reached */
};

struct child {
	char *name;
	sqfs_inode_generic_t *inode;
};

static void children_free(struct child *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		sqfs_free(c[i].inode);
	}
	free(c);
}

/* The file type comes from the inode type: the mode's type bits are not to be trusted. */
static mode_t inode_mode(const sqfs_inode_generic_t *inode)
{
	static const mode_t types[] = {
		[SQFS_INODE_DIR] = S_IFDIR,	 [SQFS_INODE_FILE] = S_IFREG,
		[SQFS_INODE_SLINK] = S_IFLNK,	 [SQFS_INODE_BDEV] = S_IFBLK,
		[SQFS_INODE_CDEV] = S_IFCHR,	 [SQFS_INODE_FIFO] = S_IFIFO,
		[SQFS_INODE_SOCKET] = S_IFSOCK,	 [SQFS_INODE_EXT_DIR] = S_IFDIR,
		[SQFS_INODE_EXT_FILE] = S_IFREG, [SQFS_INODE_EXT_SLINK] = S_IFLNK,
		[SQFS_INODE_EXT_BDEV] = S_IFBLK, [SQFS_INODE_EXT_CDEV] = S_IFCHR,
		[SQFS_INODE_EXT_FIFO] = S_IFIFO, [SQFS_INODE_EXT_SOCKET] = S_IFSOCK,
	};
	unsigned t = inode->base.type;

	return (t < ELEMENTSOF(types) ? types[t] : 0) | (inode->base.mode & 07777);
}

static bool is_dir(const sqfs_inode_generic_t *inode)
{
	return S_ISDIR(inode_mode(inode));
}

static int name_check(struct image *img, const char *dir, const sqfs_dir_entry_t *ent, char **ret)
{
	size_t len = (size_t)ent->size + 1;
	const char *name = (const char *)ent->name;
	char *copy;

	if (memchr(name, '\0', len) || memchr(name, '/', len) || (len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.')) {
		_cleanup_free_ char *q = quote_for_message(name, len, 100);

		return kiln_error(img->ctx, EBADMSG,
				  "squashfs \"%s\": directory \"%s\" has an entry named \"%s\"",
				  img->path, dir, q ? q : "?");
	}
	copy = strndup(name, len);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

/* The entries of the directory @inode, read before any is visited: the reader has one position. */
static int read_dir(struct image *img, const char *path, const sqfs_inode_generic_t *inode,
		    struct child **ret, size_t *ret_n)
{
	struct child *c = NULL;
	size_t n = 0, alloc = 0;
	int r;

	r = sqfs_dir_reader_open_dir(img->dr, inode, SQFS_DIR_OPEN_NO_DOT_ENTRIES);
	if (r)
		return image_fail(img, r, path[0] ? path : "/");
	for (;;) {
		_cleanup_(sqfs_freep) sqfs_dir_entry_t *ent = NULL;
		struct child ch = { 0 };

		r = sqfs_dir_reader_read(img->dr, &ent);
		if (r > 0)
			break;
		if (r == 0)
			r = sqfs_dir_reader_get_inode(img->dr, &ch.inode);
		if (r) {
			r = image_fail(img, r, path[0] ? path : "/");
			break;
		}
		r = name_check(img, path[0] ? path : "/", ent, &ch.name);
		if (r >= 0 && GROW(c, alloc, n + 1) < 0)
			r = -ENOMEM;
		if (r < 0) {
			free(ch.name);
			sqfs_free(ch.inode);
			break;
		}
		c[n++] = ch;
	}
	if (r < 0) {
		children_free(c, n);
		return r;
	}
	*ret = c;
	*ret_n = n;
	return 0;
}

static int mark_dir(struct image *img, const char *path, const sqfs_inode_generic_t *inode)
{
	uint32_t ino = inode->base.inode_number;

	if (ino == 0 || ino > img->super.inode_count)
		return kiln_error(img->ctx, EBADMSG,
				  "squashfs \"%s\": \"%s\" has inode number %u of %u", img->path,
				  path, ino, img->super.inode_count);
	if (img->seen_dirs[ino / 8] & (1u << (ino % 8)))
		return kiln_error(img->ctx, ELOOP,
				  "squashfs \"%s\": directory \"%s\" is reached twice (a loop?)",
				  img->path, path);
	img->seen_dirs[ino / 8] |= (uint8_t)(1u << (ino % 8));
	return 0;
}

static int walk(struct image *img, struct visit *v, struct strbuf *path, const char *name,
		const sqfs_inode_generic_t *inode, unsigned depth)
{
	const char *want = depth < v->n_components ? v->components[depth] : NULL;
	bool on_path = want != NULL;
	struct child *c = NULL;
	size_t n = 0, len = path->len;
	int r;

	if (depth > MAX_DEPTH)
		return kiln_error(img->ctx, ELOOP,
				  "squashfs \"%s\": \"%s\" is deeper than %d levels", img->path,
				  strbuf_str(path), MAX_DEPTH);
	if (on_path && !is_dir(inode))
		return kiln_error(img->ctx, ENOTDIR, "squashfs \"%s\": \"%s\" is not a directory",
				  img->path, strbuf_str(path));
	if (is_dir(inode)) {
		r = mark_dir(img, strbuf_str(path), inode);
		if (r < 0)
			return r;
	}
	if (!on_path)
		v->found = true;
	r = v->node(v->userdata, img, strbuf_str(path), name, inode, depth, on_path);
	if (r != 0 || !is_dir(inode))
		return r;
	r = read_dir(img, strbuf_str(path), inode, &c, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (want && !streq(c[i].name, want))
			continue;
		if ((len && strbuf_addch(path, '/') < 0) || strbuf_adds(path, c[i].name) < 0) {
			r = -ENOMEM;
			break;
		}
		if (path->len >= KILN_TAR_PATH_MAX)
			r = kiln_error(img->ctx, ENAMETOOLONG,
				       "squashfs \"%s\": a path is longer than %d bytes", img->path,
				       KILN_TAR_PATH_MAX - 1);
		else
			r = walk(img, v, path, c[i].name, c[i].inode, depth + 1);
		path->len = len;
		if (path->buf)
			path->buf[len] = '\0';
		if (want)
			break;
	}
	children_free(c, n);
	if (r == 0 && v->leave)
		r = v->leave(v->userdata, img, inode, depth);
	return r;
}

/* Walk @subtree of the image: -ENOENT when it has none. */
static int walk_image(struct image *img, const char *subtree, const struct visit *v_in)
{
	_cleanup_(sqfs_freep) sqfs_inode_generic_t *root = NULL;
	_cleanup_free_ char *clean = NULL;
	_cleanup_strbuf_ struct strbuf path = STRBUF_INIT;
	_cleanup_free_ char **components = NULL;
	struct visit v = *v_in;
	size_t n = 0;
	int r;

	r = kiln_tar_path_clean(img->ctx, subtree ? subtree : "", &clean);
	if (r < 0)
		return r;
	components = calloc(strlen(clean) / 2 + 1, sizeof(*components));
	if (!components)
		return -ENOMEM;
	for (char *p = clean, *save = NULL; (p = strtok_r(p, "/", &save)); p = NULL)
		components[n++] = p;
	v.components = components;
	v.n_components = (unsigned)n;
	r = sqfs_dir_reader_get_root_inode(img->dr, &root);
	if (r)
		return image_fail(img, r, "root inode");
	if (!is_dir(root))
		return kiln_error(img->ctx, EBADMSG, "squashfs \"%s\": the root is not a directory",
				  img->path);
	r = walk(img, &v, &path, "", root, 0);
	if (r != 0)
		return r;
	if (!v.found)
		return kiln_error(img->ctx, ENOENT, "squashfs \"%s\" has no \"%s\"", img->path,
				  subtree);
	return 0;
}

/* ---- listing ---------------------------------------------------------------------- */

static int inode_owner(struct image *img, const sqfs_inode_generic_t *inode, uint32_t *uid,
		       uint32_t *gid)
{
	int r = sqfs_id_table_index_to_id(img->idtbl, inode->base.uid_idx, uid);

	if (!r)
		r = sqfs_id_table_index_to_id(img->idtbl, inode->base.gid_idx, gid);
	return r ? image_fail(img, r, "owner id") : 0;
}

/* The entry as the public struct says; @target points into @inode. */
static int describe(struct image *img, const char *path, const sqfs_inode_generic_t *inode,
		    struct kiln_squashfs_entry *e)
{
	uint64_t size = 0;
	int r;

	*e = (struct kiln_squashfs_entry){
		.path = path,
		.mode = inode_mode(inode),
		.mtime = inode->base.mod_time,
	};
	r = inode_owner(img, inode, &e->uid, &e->gid);
	if (r < 0)
		return r;
	switch (inode->base.type) {
	case SQFS_INODE_FILE:
	case SQFS_INODE_EXT_FILE:
		sqfs_inode_get_file_size(inode, &size);
		e->size = size;
		break;
	case SQFS_INODE_SLINK:
	case SQFS_INODE_EXT_SLINK:
		e->target = (const char *)inode->extra;
		break;
	case SQFS_INODE_BDEV:
	case SQFS_INODE_CDEV:
	case SQFS_INODE_EXT_BDEV:
	case SQFS_INODE_EXT_CDEV: {
		uint32_t d = inode->base.type >= SQFS_INODE_EXT_DIR ? inode->data.dev_ext.devno
								    : inode->data.dev.devno;

		e->rdev_major = (d & 0xfff00) >> 8;
		e->rdev_minor = (d & 0xff) | ((d >> 12) & 0xfff00);
		break;
	}
	default:
		break;
	}
	return 0;
}

struct lister {
	int (*fn)(void *userdata, const struct kiln_squashfs_entry *e);
	void *userdata;
};

static int list_node(void *userdata, struct image *img, const char *path, const char *name,
		     const sqfs_inode_generic_t *inode, unsigned depth, bool on_path)
{
	struct lister *l = userdata;
	_cleanup_free_ char *target = NULL;
	struct kiln_squashfs_entry e;
	int r;

	if (on_path)
		return 0;
	r = describe(img, path, inode, &e);
	if (r < 0)
		return r;
	if (e.target) {
		/* the inode's copy has no NUL of its own */
		target = strndup(e.target, inode->data.slink.target_size);
		if (!target)
			return -ENOMEM;
		e.target = target;
	}
	return l->fn(l->userdata, &e);
}

int kiln_squashfs_list(struct kiln_ctx *ctx, const char *path, const char *subtree,
		       int (*fn)(void *userdata, const struct kiln_squashfs_entry *e),
		       void *userdata)
{
	_cleanup_(image_release) struct image img = { .fd = -1 };
	struct lister l = { fn, userdata };
	struct visit v = { .node = list_node, .userdata = &l };
	int r;

	r = image_open(ctx, path, &img);
	if (r < 0)
		return r;
	return walk_image(&img, subtree, &v);
}

/* ---- extracting ----------------------------------------------------------------- */

struct extractor {
	int fds[MAX_DEPTH + 2]; /* the directory being filled at each depth */
	bool as_root;
	char *buf;
};

static int ex_error(struct image *img, int err, const char *path, const char *what)
{
	return kiln_error(img->ctx, err, "cannot %s \"%s\" from \"%s\": %s", what, path, img->path,
			  strerror(err));
}

static int copy_data(struct image *img, struct extractor *x, const char *path,
		     const sqfs_inode_generic_t *inode, int fd)
{
	uint64_t size = 0;

	sqfs_inode_get_file_size(inode, &size);
	for (uint64_t off = 0; off < size;) {
		sqfs_u32 k = size - off < COPY_BUF ? (sqfs_u32)(size - off) : COPY_BUF;
		sqfs_s32 n = sqfs_data_reader_read(img->data, inode, off, x->buf, k);
		const char *p = x->buf;

		if (n < 0)
			return image_fail(img, n, path);
		if (n == 0)
			return kiln_error(img->ctx, EBADMSG, "squashfs \"%s\": \"%s\" is truncated",
					  img->path, path);
		for (sqfs_s32 left = n; left > 0;) {
			ssize_t w = write(fd, p, (size_t)left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return ex_error(img, errno, path, "write");
			p += w;
			left -= (sqfs_s32)w;
		}
		off += (uint64_t)n;
	}
	return 0;
}

/* Owner (as root), mode, mtime of something made at @fd, or at @name in @dfd for the rest. */
static int apply_meta(struct image *img, struct extractor *x, const char *path,
		      const sqfs_inode_generic_t *inode, int fd, int dfd, const char *name)
{
	struct timespec ts[2] = { { .tv_sec = inode->base.mod_time },
				  { .tv_sec = inode->base.mod_time } };
	bool link = S_ISLNK(inode_mode(inode));
	mode_t mode = inode->base.mode & 07777;
	uint32_t uid, gid;
	int r;

	if (x->as_root) {
		r = inode_owner(img, inode, &uid, &gid);
		if (r < 0)
			return r;
		r = fd >= 0 ? fchown(fd, uid, gid)
			    : fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			return ex_error(img, errno, path, "set the owner of");
	}
	/* after chown, which clears setuid and setgid */
	if (!link && (fd >= 0 ? fchmod(fd, mode) : fchmodat(dfd, name, mode, 0)) < 0)
		return ex_error(img, errno, path, "set the mode of");
	r = fd >= 0 ? futimens(fd, ts) : utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		return ex_error(img, errno, path, "set the time of");
	return 0;
}

/* A directory to fill: made (or found, if it is one), opened without following a symlink. */
static int open_subdir(struct image *img, int dfd, const char *path, const char *name, int *ret)
{
	int fd;

	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return ex_error(img, errno, path, "make directory");
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ex_error(img, errno == ENOTDIR || errno == ELOOP ? EEXIST : errno, path,
				"make directory");
	*ret = fd;
	return 0;
}

static int extract_node(void *userdata, struct image *img, const char *path, const char *name,
			const sqfs_inode_generic_t *inode, unsigned depth, bool on_path)
{
	struct extractor *x = userdata;
	int dfd = depth ? x->fds[depth - 1] : -1;
	mode_t type = inode_mode(inode) & S_IFMT;
	_cleanup_close_ int fd = -1;
	int r;

	if (depth == 0)
		return 0; /* the destination itself: left as it is */
	switch (type) {
	case S_IFDIR:
		/* mode and time once its entries are in: it may be read-only */
		return open_subdir(img, dfd, path, name, &x->fds[depth]);
	case S_IFREG:
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return ex_error(img, errno, path, "create");
		r = copy_data(img, x, path, inode, fd);
		if (r < 0)
			return r;
		return apply_meta(img, x, path, inode, fd, -1, NULL);
	case S_IFLNK: {
		_cleanup_free_ char *target =
		    strndup((const char *)inode->extra, inode->data.slink.target_size);

		if (!target)
			return -ENOMEM;
		if (symlinkat(target, dfd, name) < 0)
			return ex_error(img, errno, path, "make symlink");
		return apply_meta(img, x, path, inode, -1, dfd, name);
	}
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK: {
		struct kiln_squashfs_entry e;

		r = describe(img, path, inode, &e);
		if (r < 0)
			return r;
		if (mknodat(dfd, name, type | 0600, makedev(e.rdev_major, e.rdev_minor)) < 0)
			return ex_error(img, errno, path, "make");
		return apply_meta(img, x, path, inode, -1, dfd, name);
	}
	default:
		return kiln_error(img->ctx, EBADMSG, "squashfs \"%s\": \"%s\" has file type 0%o",
				  img->path, path, type);
	}
}

static int extract_leave(void *userdata, struct image *img, const sqfs_inode_generic_t *inode,
			 unsigned depth)
{
	struct extractor *x = userdata;
	int r;

	if (depth == 0)
		return 0;
	r = apply_meta(img, x, "a directory", inode, x->fds[depth], -1, NULL);
	closep(&x->fds[depth]);
	return r;
}

int kiln_squashfs_extract(struct kiln_ctx *ctx, const char *path, const char *subtree,
			  const char *dest)
{
	_cleanup_(image_release) struct image img = { .fd = -1 };
	_cleanup_free_ char *buf = malloc(COPY_BUF);
	struct extractor x = { .as_root = geteuid() == 0, .buf = buf };
	struct visit v = { .node = extract_node, .leave = extract_leave, .userdata = &x };
	int r;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(x.fds); i++)
		x.fds[i] = -1;
	r = image_open(ctx, path, &img);
	if (r < 0)
		return r;
	x.fds[0] = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.fds[0] < 0)
		return kiln_error(ctx, errno, "cannot open directory \"%s\": %m", dest);
	r = walk_image(&img, subtree, &v);
	for (size_t i = 0; i < ELEMENTSOF(x.fds); i++)
		closep(&x.fds[i]);
	return r;
}
