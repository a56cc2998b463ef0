/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unpacking layers into a directory that hostile layers cannot get out of.
 *
 * Every path goes through openat2(RESOLVE_IN_ROOT): symlinks already in the
 * tree are followed as the container would follow them, with the target
 * directory as "/", so "var/run -> /run" then "var/run/x" writes the tree's
 * own run/x and ".." stops at the top. Only the parent directory of an
 * entry is resolved that way; the entry's own name is then handled with
 * *at() calls that never follow it (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW), so
 * replacing a symlink replaces the symlink, not what it points to.
 *
 * On top of that, an entry whose way in goes through a symlink that leaves
 * the root ("a -> /", "up -> ../../..") is refused: see check_symlinks().
 * The refusal is a judgement on the layer; what keeps writes inside, even
 * against a tree that changes meanwhile, is still RESOLVE_IN_ROOT.
 *
 * Layers are applied as containerd applies them: a whiteout removes what
 * is there, an opaque marker removes what lower layers put in its
 * directory (entries of the same layer stay: they are remembered by inode,
 * which no symlink can alias), a directory over a directory keeps the
 * contents, anything else replaces what was there.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <kiln/layer.h>

#include "fileio.h"
#include "layer-internal.h"
#include "log.h"
#include "strbuf.h"

struct dir_fix {
	char *path; /* clean, relative */
	dev_t dev;
	ino_t ino;
	uint32_t mode;
	int64_t mtime;
	size_t depth;
	size_t seq;
};

struct inode_key {
	dev_t dev;
	ino_t ino;
};

/* A kind of warning given once per layer, with a count and the first path. */
struct warn_once {
	unsigned n;
	char *first;
	int err;
};

struct kiln_unpacker {
	struct kiln_ctx *ctx;
	int root;
	struct kiln_unpack_options o;
	bool owners; /* running as root: apply uid and gid */
	struct dir_fix *dirs;
	size_t n_dirs, alloc_dirs;
	struct inode_key *inodes; /* made or touched by the current layer */
	size_t n_inodes, alloc_inodes;
	bool inodes_sorted;
	unsigned tmp_counter;
	struct warn_once devices, xattrs, chowns;
	char *buf;
};

#define COPY_BUF (128u << 10)
#define MAX_SYMLINK_HOPS 40 /* the kernel's */

int kiln_unpacker_new(struct kiln_ctx *ctx, int dirfd, const struct kiln_unpack_options *o,
		      struct kiln_unpacker **ret)
{
	struct kiln_unpacker *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	u->ctx = ctx;
	u->o = *o;
	u->owners = geteuid() == 0;
	u->buf = malloc(COPY_BUF);
	u->root = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (!u->buf || u->root < 0) {
		int err = u->buf ? errno : ENOMEM;

		kiln_unpacker_free(u);
		return err == ENOMEM ? -ENOMEM : kiln_error(ctx, err, "cannot use the target: %m");
	}
	*ret = u;
	return 0;
}

static void warn_reset(struct warn_once *w)
{
	free(w->first);
	*w = (struct warn_once){ 0 };
}

void kiln_unpacker_free(struct kiln_unpacker *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->n_dirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	free(u->inodes);
	warn_reset(&u->devices);
	warn_reset(&u->xattrs);
	warn_reset(&u->chowns);
	free(u->buf);
	closep(&u->root);
	free(u);
}

static void warn_note(struct warn_once *w, const char *path, int err)
{
	if (w->n++ == 0) {
		w->first = strdup(path);
		w->err = err;
	}
}

static void warn_flush(struct kiln_unpacker *u)
{
	if (u->devices.n)
		kiln_warn_at(u->ctx, NULL, 0, 0,
			     "%u device files not created (the first \"%s\"): creating them needs "
			     "root and asking for devices",
			     u->devices.n, strempty(u->devices.first));
	if (u->xattrs.n)
		kiln_warn_at(u->ctx, NULL, 0, 0,
			     "%u extended attributes could not be set (the first on \"%s\": %s)",
			     u->xattrs.n, strempty(u->xattrs.first), strerror(u->xattrs.err));
	if (u->chowns.n)
		kiln_warn_at(u->ctx, NULL, 0, 0,
			     "%u owners could not be set (the first on \"%s\": %s)", u->chowns.n,
			     strempty(u->chowns.first), strerror(u->chowns.err));
	warn_reset(&u->devices);
	warn_reset(&u->xattrs);
	warn_reset(&u->chowns);
}

static int note_inode(struct kiln_unpacker *u, const struct stat *st)
{
	if (GROW(u->inodes, u->alloc_inodes, u->n_inodes + 1) < 0)
		return -ENOMEM;
	u->inodes[u->n_inodes++] = (struct inode_key){ st->st_dev, st->st_ino };
	u->inodes_sorted = false;
	return 0;
}

static int inode_cmp(const void *a, const void *b)
{
	const struct inode_key *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return (x->ino > y->ino) - (x->ino < y->ino);
}

static bool made_this_layer(struct kiln_unpacker *u, const struct stat *st)
{
	struct inode_key k = { st->st_dev, st->st_ino };

	if (!u->inodes_sorted && u->n_inodes) {
		qsort(u->inodes, u->n_inodes, sizeof(*u->inodes), inode_cmp);
		u->inodes_sorted = true;
	}
	return u->n_inodes && bsearch(&k, u->inodes, u->n_inodes, sizeof(k), inode_cmp);
}

/* ---- paths ------------------------------------------------------------------ */

static int open_in_root(struct kiln_unpacker *u, const char *path, int flags)
{
	return openat_in_root(u->root, path, flags, 0);
}

/*
 * The directory @path (clean, relative; "" is the root) as an O_PATH fd.
 * With @create, missing directories are made one component at a time, each
 * resolved again from the root, so a component that is a dangling symlink
 * makes mkdir fail rather than be followed somewhere new.
 */
static int open_dir(struct kiln_unpacker *u, const char *path, bool create, int *ret)
{
	_cleanup_free_ char *prefix = NULL;
	int fd;

	fd = open_in_root(u, path, O_PATH | O_DIRECTORY);
	if (fd >= 0 || fd != -ENOENT || !create) {
		if (fd < 0)
			return fd;
		*ret = fd;
		return 0;
	}
	prefix = strdup(path);
	if (!prefix)
		return -ENOMEM;
	for (char *end = prefix;;) {
		_cleanup_close_ int pfd = -1;
		char *slash = strchr(end, '/'), *name;
		struct stat st;

		if (slash)
			*slash = '\0';
		fd = open_in_root(u, prefix, O_PATH | O_DIRECTORY);
		if (fd == -ENOENT) {
			name = strrchr(prefix, '/');
			if (name)
				*name = '\0';
			pfd = open_in_root(u, name ? prefix : "", O_PATH | O_DIRECTORY);
			if (name)
				*name = '/';
			if (pfd < 0)
				return pfd;
			name = name ? name + 1 : prefix;
			/* EEXIST: the name is a symlink that leads nowhere, which mkdir won't
			 * follow */
			if (mkdirat(pfd, name, 0755) < 0)
				return errno == EEXIST ? -ENOENT : -errno;
			fd = open_in_root(u, prefix, O_PATH | O_DIRECTORY);
			if (fd >= 0 && (fstat(fd, &st) < 0 || note_inode(u, &st) < 0)) {
				close(fd);
				return -ENOMEM;
			}
		}
		if (fd < 0)
			return fd;
		if (!slash) {
			*ret = fd;
			return 0;
		}
		close(fd);
		*slash = '/';
		end = slash + 1;
	}
}


static int fail_entry(struct kiln_unpacker *u, int err, const char *path, const char *what)
{
	if (err == -ENOMEM)
		return err;
	return kiln_error(u->ctx, err, "entry \"%s\": %s: %s", path, what, strerror(-err));
}

/* ---- symlinks that leave the root ------------------------------------------------- */


/* The refusal: the entry (a hard link's target @link_to too), the symlink @sym and its target. */
static int refuse_symlink(struct kiln_ctx *ctx, const char *entry, const char *link_to,
			  const char *sym, const char *target)
{
	_cleanup_free_ char *q = quote_for_message(target, strlen(target), 200);

	if (!q)
		return -ENOMEM;
	if (link_to)
		return kiln_error(ctx, EINVAL,
				  "hard link \"%s\" to \"%s\" goes through symlink \"%s\" -> "
				  "\"%s\" which leaves the image root; refusing it",
				  entry, link_to, sym, q);
	return kiln_error(ctx, EINVAL,
			  "entry \"%s\" goes through symlink \"%s\" -> \"%s\" which leaves the "
			  "image root; refusing it",
			  entry, sym, q);
}

/* Replace *@fd by @next (closing the old one); -errno when @next is. */
static int move_to(int *fd, int next)
{
	if (next < 0)
		return -errno;
	close(*fd);
	*fd = next;
	return 0;
}

/*
 * Refuse the entry @entry (clean) if the way to its directory, or to the
 * directory of @link_to when it is a hard link (clean too), goes through a
 * symlink that leaves the root (layer_symlink_leaves_root()). The tree is read as
 * openat2(RESOLVE_IN_ROOT) would resolve that directory, one component at a
 * time and never following anything, so that every symlink on the way is
 * seen, those met in other symlinks' targets too. Where the kernel would
 * fail (a component missing or not a directory, too many symlinks) the
 * check stops and says nothing: open_dir() reports that.
 */
static int check_symlinks(struct kiln_unpacker *u, const char *entry, const char *link_to)
{
	const char *path = link_to ? link_to : entry, *slash = strrchr(path, '/');
	_cleanup_strbuf_ struct strbuf pending = STRBUF_INIT, where = STRBUF_INIT;
	_cleanup_close_ int fd = -1;
	char target[PATH_MAX];
	size_t pos = 0, depth = 0; /* @where: the path of @fd, @depth deep */
	unsigned hops = 0;

	if (!slash)
		return 0;
	if (strbuf_add(&pending, path, (size_t)(slash - path)) < 0)
		return -ENOMEM;
	/* most directories are reached through no symlink at all, which one call tells */
	fd = open_resolved(u->root, pending.buf, O_PATH | O_DIRECTORY, 0,
			   RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
	if (fd >= 0)
		return 0;
	fd = openat(u->root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail_entry(u, -errno, entry, "cannot open the directory unpacked into");
	while (pos < pending.len) {
		_cleanup_strbuf_ struct strbuf next = STRBUF_INIT;
		char *name = pending.buf + pos;
		size_t len = strcspn(name, "/");
		struct stat st;
		ssize_t n;
		int r;

		pos += len + (name[len] == '/');
		name[len] = '\0';
		if (len == 0 || streq(name, ".") || (streq(name, "..") && depth == 0))
			continue;
		if (streq(name, "..")) {
			if (move_to(&fd, openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
				return 0;
			where.len = --depth ? (size_t)(strrchr(where.buf, '/') - where.buf) : 0;
			where.buf[where.len] = '\0';
			continue;
		}
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		if (S_ISDIR(st.st_mode)) {
			if (move_to(&fd, openat(fd, name,
						O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
				return 0;
			if (depth++ > 0 && strbuf_addch(&where, '/') < 0)
				return -ENOMEM;
			if (strbuf_adds(&where, name) < 0)
				return -ENOMEM;
			continue;
		}
		if (!S_ISLNK(st.st_mode) || ++hops > MAX_SYMLINK_HOPS)
			return 0;
		n = readlinkat(fd, name, target, sizeof(target) - 1);
		if (n < 0)
			return 0;
		target[n] = '\0';
		if (layer_symlink_leaves_root(target, depth)) {
			const char *sep = depth ? "/" : "";
			_cleanup_free_ char *sym = NULL;

			if (asprintf(&sym, "%s%s%s", strbuf_str(&where), sep, name) < 0)
				return -ENOMEM;
			return refuse_symlink(u->ctx, entry, link_to, sym, target);
		}
		/* what is left of the path is now resolved from the symlink's target */
		if (strbuf_adds(&next, target) < 0 || strbuf_addch(&next, '/') < 0 ||
		    strbuf_adds(&next, pending.buf + pos) < 0)
			return -ENOMEM;
		strbuf_release(&pending);
		pending = next;
		next = (struct strbuf)STRBUF_INIT;
		pos = 0;
		if (target[0] == '/') {
			r = move_to(&fd, openat(u->root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
			if (r < 0)
				return fail_entry(u, r, entry,
						  "cannot open the directory unpacked into");
			depth = 0;
			strbuf_reset(&where);
		}
	}
	return 0;
}

/* ---- entries ------------------------------------------------------------------ */

static void set_owner(struct kiln_unpacker *u, int fd, const char *name, const char *path,
		      const struct kiln_tar_entry *e)
{
	int r;

	if (!u->owners)
		return;
	if (e->uid > UINT32_MAX - 1 || e->gid > UINT32_MAX - 1) {
		warn_note(&u->chowns, path, ERANGE);
		return;
	}
	r = name ? fchownat(fd, name, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW)
		 : fchown(fd, (uid_t)e->uid, (gid_t)e->gid);
	if (r < 0)
		warn_note(&u->chowns, path, errno);
}

static void set_xattrs(struct kiln_unpacker *u, int fd, const char *path,
		       const struct kiln_tar_entry *e)
{
	for (size_t i = 0; i < e->n_xattrs; i++)
		if (fsetxattr(fd, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].len, 0) < 0)
			warn_note(&u->xattrs, path, errno);
}

static int set_time_at(int dirfd, const char *name, int64_t mtime)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)mtime } };

	return utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int write_file(struct kiln_unpacker *u, int pfd, const char *base, const char *path,
		      const struct kiln_tar_entry *e, struct kiln_tar_reader *tr, bool replace_dir)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)e->mtime } };
	_cleanup_close_ int fd = -1;
	char tmp[64];
	struct stat st;
	int r = 0;

	for (;;) {
		snprintf(tmp, sizeof(tmp), ".kiln-unpack-%u", u->tmp_counter++);
		fd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST)
			return fail_entry(u, -errno, path, "cannot create a temporary file");
	}
	for (uint64_t left = e->size; left > 0 && r >= 0;) {
		ssize_t n =
		    kiln_tar_reader_read(tr, u->buf, left < COPY_BUF ? (size_t)left : COPY_BUF);

		if (n <= 0) {
			r = n < 0 ? (int)n : -EBADMSG;
			break;
		}
		for (ssize_t off = 0; off < n && r >= 0;) {
			ssize_t k = write(fd, u->buf + off, (size_t)(n - off));

			if (k < 0 && errno != EINTR)
				r = fail_entry(u, -errno, path, "cannot write");
			else if (k > 0)
				off += k;
		}
		left -= (uint64_t)n;
	}
	if (r >= 0) {
		set_owner(u, fd, NULL, path, e);
		/* after chown, which clears setuid and setgid */
		if (fchmod(fd, e->mode & 07777) < 0)
			r = fail_entry(u, -errno, path, "cannot set the mode");
	}
	if (r >= 0) {
		set_xattrs(u, fd, path, e);
		if (futimens(fd, ts) < 0 || fstat(fd, &st) < 0)
			r = fail_entry(u, -errno, path, "cannot set the time");
	}
	if (r >= 0 && replace_dir && (r = remove_tree_at(pfd, base)) < 0)
		r = fail_entry(u, r, path, "cannot remove the directory it replaces");
	if (r >= 0 && renameat(pfd, tmp, pfd, base) < 0)
		r = fail_entry(u, -errno, path, "cannot move into place");
	if (r < 0) {
		unlinkat(pfd, tmp, 0);
		return r;
	}
	return note_inode(u, &st);
}

static int make_dir(struct kiln_unpacker *u, int pfd, const char *base, const char *path,
		    const struct kiln_tar_entry *e, bool exists_as_dir)
{
	_cleanup_close_ int fd = -1;
	struct dir_fix *fix;
	struct stat st;
	int r;

	if (!exists_as_dir) {
		r = remove_tree_at(pfd, base);
		if (r < 0)
			return fail_entry(u, r, path, "cannot remove what it replaces");
		/* owner-writable until the end, so that the layer can fill it */
		if (mkdirat(pfd, base, 0700) < 0)
			return fail_entry(u, -errno, path, "cannot create the directory");
	}
	fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return fail_entry(u, -errno, path, "cannot open the directory");
	set_owner(u, fd, NULL, path, e);
	set_xattrs(u, fd, path, e);
	if (exists_as_dir && fchmod(fd, (st.st_mode & 07777) | 0700) < 0)
		return fail_entry(u, -errno, path, "cannot make the directory writable");
	if (GROW(u->dirs, u->alloc_dirs, u->n_dirs + 1) < 0)
		return -ENOMEM;
	fix = &u->dirs[u->n_dirs];
	*fix = (struct dir_fix){
		.path = strdup(path),
		.dev = st.st_dev,
		.ino = st.st_ino,
		.mode = e->mode & 07777,
		.mtime = e->mtime,
		.seq = u->n_dirs,
	};
	if (!fix->path)
		return -ENOMEM;
	for (const char *p = path; *p; p++)
		fix->depth += *p == '/';
	u->n_dirs++;
	return note_inode(u, &st);
}

static int make_link(struct kiln_unpacker *u, int pfd, const char *base, const char *path,
		     const struct kiln_tar_entry *e, const struct stat *existing)
{
	_cleanup_free_ char *target = NULL;
	_cleanup_close_ int tfd = -1;
	const char *tname, *slash;
	struct stat st;
	int r;

	r = kiln_tar_path_clean(u->ctx, e->linkname, &target);
	if (r < 0) {
		kiln_error_prefix(u->ctx, "hard link \"%s\"", path);
		return r;
	}
	r = check_symlinks(u, path, target);
	if (r < 0)
		return r;
	slash = strrchr(target, '/');
	tname = slash ? slash + 1 : target;
	if (slash)
		target[slash - target] = '\0';
	r = target[0] || slash ? open_dir(u, slash ? target : "", false, &tfd) : -ENOENT;
	if (r >= 0 && fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r == -ENOENT || r == -ENOTDIR)
		return kiln_error(u->ctx, ENOENT, "hard link \"%s\" to \"%s\": no such file", path,
				  e->linkname);
	if (r < 0)
		return fail_entry(u, r, path, "cannot find the link's target");
	if (S_ISDIR(st.st_mode))
		return kiln_error(u->ctx, EPERM, "hard link \"%s\" to the directory \"%s\"", path,
				  e->linkname);
	if (existing && existing->st_dev == st.st_dev && existing->st_ino == st.st_ino)
		return 0;
	if (existing && (r = remove_tree_at(pfd, base)) < 0)
		return fail_entry(u, r, path, "cannot remove what it replaces");
	/* flags 0: a link to the target itself, even if it is a symlink */
	if (linkat(tfd, tname, pfd, base, 0) < 0)
		return fail_entry(u, -errno, path, "cannot link");
	return note_inode(u, &st);
}

static int make_special(struct kiln_unpacker *u, int pfd, const char *base, const char *path,
			const struct kiln_tar_entry *e, bool exists)
{
	struct stat st;
	int r;

	if ((e->type == KILN_TAR_CHAR || e->type == KILN_TAR_BLOCK) && !u->o.devices) {
		warn_note(&u->devices, path, 0);
		return 0;
	}
	if (exists && (r = remove_tree_at(pfd, base)) < 0)
		return fail_entry(u, r, path, "cannot remove what it replaces");
	if (e->type == KILN_TAR_SYMLINK) {
		if (symlinkat(e->linkname, pfd, base) < 0)
			return fail_entry(u, -errno, path, "cannot create the symlink");
	} else {
		mode_t type = e->type == KILN_TAR_CHAR	  ? S_IFCHR
			      : e->type == KILN_TAR_BLOCK ? S_IFBLK
							  : S_IFIFO;

		if (mknodat(pfd, base, type | 0600, makedev(e->devmajor, e->devminor)) < 0)
			return fail_entry(u, -errno, path,
					  e->type == KILN_TAR_FIFO ? "cannot create the fifo"
								   : "cannot create the device");
	}
	set_owner(u, pfd, base, path, e);
	/* symlinks have no mode of their own; the others were made 0600 against umask */
	if (e->type != KILN_TAR_SYMLINK && fchmodat(pfd, base, e->mode & 07777, 0) < 0)
		return fail_entry(u, -errno, path, "cannot set the mode");
	r = set_time_at(pfd, base, e->mtime);
	if (r < 0)
		return fail_entry(u, r, path, "cannot set the time");
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail_entry(u, -errno, path, "cannot stat");
	return note_inode(u, &st);
}

/* ".wh..wh..opq" in @pfd: remove what lower layers put there. */
static int apply_opaque(struct kiln_unpacker *u, int pfd, const char *path)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail_entry(u, -errno, path, "cannot open the directory");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return fail_entry(u, -errno, path, "cannot read the directory");
	}
	while (r >= 0 && (de = readdir(d))) {
		struct stat st;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!made_this_layer(u, &st))
			r = remove_tree_at(dirfd(d), de->d_name);
	}
	closedir(d);
	return r < 0 ? fail_entry(u, r, path, "cannot clear the opaque directory") : 0;
}

static int apply_whiteout(struct kiln_unpacker *u, const char *parent, const char *base,
			  const char *path)
{
	_cleanup_close_ int pfd = -1;
	const char *name = base + 4;
	int r;

	if (strncmp(base, ".wh..wh.", 8) == 0 && !streq(base, ".wh..wh..opq"))
		return 0;
	if (!streq(base, ".wh..wh..opq") && (!name[0] || streq(name, ".") || streq(name, "..")))
		return kiln_error(u->ctx, EINVAL, "entry \"%s\": a whiteout of \"%s\"", path, name);
	r = open_dir(u, parent, false, &pfd);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r < 0)
		return fail_entry(u, r, path, "cannot open its directory");
	if (streq(base, ".wh..wh..opq"))
		return apply_opaque(u, pfd, path);
	r = remove_tree_at(pfd, name);
	return r < 0 ? fail_entry(u, r, path, "cannot remove what it hides") : 0;
}

static int apply_entry(struct kiln_unpacker *u, const struct kiln_tar_entry *e,
		       struct kiln_tar_reader *tr)
{
	_cleanup_free_ char *clean = NULL;
	_cleanup_close_ int pfd = -1;
	const char *base, *parent;
	char *slash;
	struct stat st;
	bool exists;
	int r;

	r = layer_entry_check(u->ctx, e, &clean, &base);
	if (r <= 0)
		return r;
	slash = base > clean ? clean + (base - 1 - clean) : NULL;
	r = check_symlinks(u, clean, NULL);
	if (r < 0)
		return r;
	if (slash)
		*slash = '\0';
	parent = slash ? clean : "";
	if (strncmp(base, ".wh.", 4) == 0)
		return apply_whiteout(u, parent, base, e->path);

	r = open_dir(u, parent, true, &pfd);
	if (r < 0) {
		if (slash)
			*slash = '/';
		return fail_entry(u, r, clean, "cannot open or create its directory");
	}
	if (slash)
		*slash = '/';
	exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (!exists && errno != ENOENT)
		return fail_entry(u, -errno, clean, "cannot stat");

	switch (e->type) {
	case KILN_TAR_REG:
		return write_file(u, pfd, base, clean, e, tr, exists && S_ISDIR(st.st_mode));
	case KILN_TAR_DIR:
		return make_dir(u, pfd, base, clean, e, exists && S_ISDIR(st.st_mode));
	case KILN_TAR_LINK:
		return make_link(u, pfd, base, clean, e, exists ? &st : NULL);
	default:
		return make_special(u, pfd, base, clean, e, exists);
	}
}

int kiln_unpacker_apply(struct kiln_unpacker *u, struct kiln_tar_reader *tr)
{
	const struct kiln_tar_entry *e;
	int r;

	u->n_inodes = 0;
	while ((r = kiln_tar_reader_next(tr, &e)) > 0) {
		r = apply_entry(u, e, tr);
		if (r < 0)
			break;
	}
	warn_flush(u);
	return r;
}

static int dir_fix_cmp(const void *a, const void *b)
{
	const struct dir_fix *x = a, *y = b;

	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

int kiln_unpacker_finish(struct kiln_unpacker *u)
{
	if (u->n_dirs)
		qsort(u->dirs, u->n_dirs, sizeof(*u->dirs), dir_fix_cmp);
	/* deepest first: a directory made read-only must not stop its children's fixing */
	for (size_t i = 0; i < u->n_dirs; i++) {
		const struct dir_fix *f = &u->dirs[i];
		struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT },
					  { .tv_sec = (time_t)f->mtime } };
		_cleanup_close_ int pfd = -1, fd = -1;
		char *slash = strrchr(f->path, '/');
		const char *base = slash ? slash + 1 : f->path;
		struct stat st;
		int r;

		if (slash)
			*slash = '\0';
		r = open_dir(u, slash ? f->path : "", false, &pfd);
		if (slash)
			*slash = '/';
		/* gone or replaced by a later layer: nothing to fix */
		if (r < 0)
			continue;
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino)
			continue;
		if (fchmod(fd, f->mode) < 0 || futimens(fd, ts) < 0)
			return kiln_error(u->ctx, errno,
					  "directory \"%s\": cannot set mode and time: %m",
					  f->path);
	}
	return 0;
}
