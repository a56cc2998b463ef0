/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The build sandbox's mounts on kiln's side: entering kiln's own namespaces
 * (sandbox_enter), a stage's overlay (sandbox_mount_overlay) and its removal
 * (sandbox_umount); and sandbox_bind_tree, the bind mount both these and the
 * sandbox's first process (in sandbox.c) make.
 */
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "fileio.h"
#include "log.h"
#include "sandbox.h"
#include "strbuf.h"

/* ---- entering kiln's namespaces ---- */

static struct {
	bool done;
	bool userns;
	int r;
	char error[512];
} enter_state;

static int write_id_map(struct kiln_ctx *ctx, const char *file, const char *text)
{
	_cleanup_close_ int fd = open(file, O_WRONLY | O_CLOEXEC);
	int r;

	/* kernels before 3.19 have no setgroups file and need no "deny" */
	if (fd < 0 && errno == ENOENT && streq(file, "/proc/self/setgroups"))
		return 0;
	r = fd < 0 ? -errno : write_all(fd, text, strlen(text));
	if (r < 0)
		return kiln_error(ctx, r,
				  "cannot write \"%.*s\" to %s in kiln's new user namespace: %s",
				  (int)strcspn(text, "\n"), text, file, strerror(-r));
	return 0;
}

static int enter_userns(struct kiln_ctx *ctx)
{
	unsigned uid = geteuid(), gid = getegid();
	char map[64];
	int r;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
		int err = errno;

		if (err == EINVAL)
			return kiln_error(ctx, err,
					  "cannot create a user namespace: %s; sandbox_enter() "
					  "must run before kiln starts any thread",
					  strerror(err));
		return kiln_error(ctx, err,
				  "cannot create a user namespace as uid %u: %s; unprivileged user "
				  "namespaces are disabled or exhausted here (see the sysctls "
				  "user.max_user_namespaces, kernel.unprivileged_userns_clone and "
				  "kernel.apparmor_restrict_unprivileged_userns), or run kiln as "
				  "root",
				  uid, strerror(err));
	}
	r = write_id_map(ctx, "/proc/self/setgroups", "deny\n");
	if (r < 0)
		return r;
	snprintf(map, sizeof(map), "0 %u 1\n", uid);
	r = write_id_map(ctx, "/proc/self/uid_map", map);
	if (r < 0)
		return r;
	snprintf(map, sizeof(map), "0 %u 1\n", gid);
	return write_id_map(ctx, "/proc/self/gid_map", map);
}

static int mount_denied(struct kiln_ctx *ctx, int err, bool userns, const char *what)
{
	if (userns)
		return kiln_error(ctx, err,
				  "cannot %s in kiln's user namespace: %s; the namespace was made "
				  "without the right to mount, as "
				  "kernel.apparmor_restrict_unprivileged_userns=1 does: allow user "
				  "namespaces for kiln (an AppArmor profile with \"userns,\"), or "
				  "run kiln as root",
				  what, strerror(err));
	return kiln_error(ctx, err,
			  "cannot %s in kiln's mount namespace: %s; as root, kiln needs "
			  "CAP_SYS_ADMIN (in a container: a privileged one)",
			  what, strerror(err));
}

/* A real mount, made and dropped without being attached anywhere. */
static int probe_mount(struct kiln_ctx *ctx, bool userns)
{
	_cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	_cleanup_close_ int mnt = -1;

	if (fs < 0 && errno == ENOSYS)
		return 0; /* before Linux 5.2: making / private above was the test */
	if (fs >= 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		return mount_denied(ctx, errno, userns, "mount a tmpfs");
	return 0;
}

static int enter_namespaces(struct kiln_ctx *ctx, bool userns)
{
	int r;

	if (userns) {
		r = enter_userns(ctx);
		if (r < 0)
			return r;
	} else if (unshare(CLONE_NEWNS) < 0) {
		return mount_denied(ctx, errno, false, "create a mount namespace");
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return mount_denied(ctx, errno, userns, "make / private");
	return probe_mount(ctx, userns);
}

int sandbox_enter(struct kiln_ctx *ctx, bool *ret_userns)
{
	if (!enter_state.done) {
		enter_state.userns = geteuid() != 0;
		enter_state.r = enter_namespaces(ctx, enter_state.userns);
		if (enter_state.r < 0)
			snprintf(enter_state.error, sizeof(enter_state.error), "%s",
				 strempty(kiln_ctx_error(ctx)));
		enter_state.done = true;
	}
	if (enter_state.r < 0)
		return kiln_error(ctx, enter_state.r, "%s", enter_state.error);
	if (ret_userns)
		*ret_userns = enter_state.userns;
	return 0;
}

/* ---- mounts made by kiln (in its own namespace) ---- */

/* Made detached and set read-only before it is attached, so that it is never writable. */
int sandbox_bind_tree(const char *source, int tfd, const char *tpath, bool ro)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	_cleanup_close_ int tree = -1;

	tree = open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return -errno;
	if (ro && mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return -errno;
	if (move_mount(tree, "", tfd, tpath,
		       MOVE_MOUNT_F_EMPTY_PATH | (tpath[0] ? 0 : MOVE_MOUNT_T_EMPTY_PATH)) < 0)
		return -errno;
	return 0;
}

/* @src's bytes into @dst, with read() and write() only. */
static int copy_bytes(int src, int dst)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(src, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(dst, buf + done, (size_t)(n - done));

			if (w < 0 && errno != EINTR)
				return -errno;
			if (w > 0)
				done += w;
		}
	}
}

/* A tmpfs holding "f", a copy of @source: the mount, detached and read-only; -errno on failure. */
static int file_on_tmpfs(const char *source)
{
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
	_cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	_cleanup_close_ int mnt = -1, src = -1, dst = -1;
	struct stat st;
	int r;

	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	src = open(source, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (mnt < 0 || src < 0 || fstat(src, &st) < 0)
		return -errno;
	dst = openat(mnt, "f", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, st.st_mode & 07777);
	if (dst < 0)
		return -errno;
	r = copy_bytes(src, dst);
	if (r < 0)
		return r;
	/* a file open for writing keeps a mount from becoming read-only (EBUSY) */
	closep(&dst);
	if (mount_setattr(mnt, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return -errno;
	return TAKE_FD(mnt);
}

int sandbox_bind_file_copy(const char *source, int tfd)
{
	_cleanup_close_ int mnt = file_on_tmpfs(source), tree = -1;

	if (mnt < 0)
		return mnt;
	tree = open_tree(mnt, "f", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	/* kernels before 6.15 clone no detached mount: bind the file itself */
	if (tree < 0 && errno == EINVAL)
		return sandbox_bind_tree(source, tfd, "", true);
	if (tree < 0)
		return -errno;
	if (move_mount(tree, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

/* The messages the kernel queued on an fs context ("e overlay: ..."), joined by "; ". */
static void fs_messages(int fs, struct strbuf *sb)
{
	char line[1024];
	ssize_t n;

	while ((n = read(fs, line, sizeof(line) - 1)) > 0) {
		const char *text = line;

		line[n] = '\0';
		line[strcspn(line, "\n")] = '\0';
		if (n > 2 && line[1] == ' ')
			text += 2;
		if (sb->len)
			strbuf_adds(sb, "; ");
		strbuf_adds(sb, text);
	}
}

static int overlay_error(struct kiln_ctx *ctx, int err, const char *target, const char *what,
			 const char *path, const struct strbuf *kmsg)
{
	_cleanup_strbuf_ struct strbuf why = STRBUF_INIT;

	if (what)
		strbuf_addf(&why, "%s \"%s\": ", what, path);
	strbuf_adds(&why, strerror(-err));
	if (kmsg->len)
		strbuf_addf(&why, " (kernel: %s)", strbuf_str(kmsg));
	else if (!what)
		strbuf_adds(&why, " (the kernel log, dmesg, says why)");
	return kiln_error(ctx, err, "cannot mount the overlay on \"%s\": %s", target,
			  strbuf_str(&why));
}

/* As overlay_error(), with what the kernel said on the fs context @fs (-1: nothing). */
static int overlay_fail(struct kiln_ctx *ctx, int err, const char *target, int fs, const char *what,
			const char *path)
{
	_cleanup_strbuf_ struct strbuf kmsg = STRBUF_INIT;

	if (fs >= 0)
		fs_messages(fs, &kmsg);
	return overlay_error(ctx, err, target, what, path, &kmsg);
}

/*
 * Layers go to the kernel as "/proc/self/fd/N" of an O_PATH descriptor,
 * never as their paths: overlayfs shows the names it was given in
 * /proc/PID/mountinfo and /proc/PID/mounts, which a build step reads, and
 * kiln's cache paths are the host's. The kernel follows the link when it
 * takes the name (fsconfig) or mounts (mount(2)); the descriptor may go
 * after that. The names are short whatever the paths' length.
 */
#define LAYER_NAME_MAX sizeof("/proc/self/fd/-2147483648")

static int open_layer(const char *path, char name[LAYER_NAME_MAX])
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(name, LAYER_NAME_MAX, "/proc/self/fd/%d", fd);
	return fd;
}

static int overlay_set_path(int fs, const char *key, const char *path)
{
	char name[LAYER_NAME_MAX];
	_cleanup_close_ int fd = open_layer(path, name);

	if (fd < 0)
		return fd;
	return fsconfig(fs, FSCONFIG_SET_STRING, key, name, 0) < 0 ? -errno : 0;
}

static bool kernel_at_least(unsigned want_major, unsigned want_minor)
{
	struct utsname u;
	unsigned major, minor;

	/* an unreadable version: try the new interface and let the kernel say */
	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return true;
	return major > want_major || (major == want_major && minor >= want_minor);
}

/* 1: this kernel has no "lowerdir+", use mount(2); 0: mounted; <0: failed (said on @ctx) */
static int overlay_mount_fsconfig(struct kiln_ctx *ctx, const char *target,
				  const char *const *lowers, size_t n_lowers, const char *upper,
				  const char *work, bool userxattr)
{
	_cleanup_close_ int fs = -1, mnt = -1;
	int r;

	if (!kernel_at_least(6, 8))
		return 1;
	fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0 && errno == ENOSYS)
		return 1;
	if (fs < 0) {
		int err = errno;

		return kiln_error(
		    ctx, err, "cannot mount the overlay on \"%s\": %s%s", target, strerror(err),
		    err == ENODEV ? " (this kernel has no overlayfs: modprobe overlay)" : "");
	}
	for (size_t i = 0; i < n_lowers; i++) {
		r = overlay_set_path(fs, "lowerdir+", lowers[i]);
		if (r == -EINVAL && i == 0) {
			_cleanup_strbuf_ struct strbuf kmsg = STRBUF_INIT;

			fs_messages(fs, &kmsg);
			if (strstr(strbuf_str(&kmsg), "nknown parameter"))
				return 1;
			return overlay_error(ctx, r, target, "lower layer", lowers[i], &kmsg);
		}
		if (r < 0)
			return overlay_fail(ctx, r, target, fs, "lower layer", lowers[i]);
	}
	if (upper) {
		r = overlay_set_path(fs, "upperdir", upper);
		if (r < 0)
			return overlay_fail(ctx, r, target, fs, "upper directory", upper);
		r = overlay_set_path(fs, "workdir", work);
		if (r < 0)
			return overlay_fail(ctx, r, target, fs, "work directory", work);
		if (fsconfig(fs, FSCONFIG_SET_STRING, "index", "off", 0) < 0)
			return overlay_fail(ctx, -errno, target, fs, NULL, NULL);
	}
	if (userxattr && fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
		return overlay_fail(ctx, -errno, target, fs, NULL, NULL);
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return overlay_fail(ctx, -errno, target, fs, NULL, NULL);
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		return overlay_fail(ctx, -errno, target, fs, NULL, NULL);
	if (move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		int err = errno;

		return kiln_error(ctx, err, "cannot attach the overlay at \"%s\": %s", target,
				  strerror(err));
	}
	return 0;
}

/* The open layers of a mount(2) call, closed after it. */
struct layer_fds {
	int *fd;
	size_t n;
};

static void layer_fds_release(struct layer_fds *l)
{
	for (size_t i = 0; i < l->n; i++)
		close(l->fd[i]);
	free(l->fd);
}

/* @prefix and the name of @path's descriptor to @opts; 1: @path cannot be opened (-errno in *@err) */
static int add_layer(struct strbuf *opts, struct layer_fds *l, const char *prefix, const char *path,
		     int *err)
{
	char name[LAYER_NAME_MAX];
	int fd = open_layer(path, name);

	if (fd < 0) {
		*err = fd;
		return 1;
	}
	l->fd[l->n++] = fd;
	return strbuf_adds(opts, prefix) < 0 || strbuf_adds(opts, name) < 0 ? -ENOMEM : 0;
}

static int overlay_mount_legacy(struct kiln_ctx *ctx, const char *target, const char *const *lowers,
				size_t n_lowers, const char *upper, const char *work,
				bool userxattr)
{
	_cleanup_strbuf_ struct strbuf opts = STRBUF_INIT;
	_cleanup_(layer_fds_release) struct layer_fds l = { calloc(n_lowers + 2, sizeof(int)), 0 };
	long page = sysconf(_SC_PAGESIZE);
	const char *bad = NULL, *what = "lower layer";
	int r = l.fd ? 0 : -ENOMEM, err = 0;

	for (size_t i = 0; i < n_lowers && r == 0; i++) {
		r = add_layer(&opts, &l, i ? ":" : "lowerdir=", lowers[i], &err);
		bad = lowers[i];
	}
	if (upper && r == 0) {
		r = add_layer(&opts, &l, ",upperdir=", upper, &err);
		bad = upper, what = "upper directory";
	}
	if (upper && r == 0) {
		r = add_layer(&opts, &l, ",workdir=", work, &err);
		bad = work, what = "work directory";
	}
	if (r > 0)
		return overlay_fail(ctx, err, target, -1, what, bad);
	if (upper && r >= 0)
		r = strbuf_adds(&opts, ",index=off");
	if (userxattr && r >= 0)
		r = strbuf_adds(&opts, ",userxattr");
	if (r < 0)
		return kiln_error(ctx, r, "cannot mount the overlay on \"%s\": out of memory",
				  target);
	/* mount(2) copies one page of options and cuts the rest silently */
	if (page > 0 && opts.len >= (size_t)page)
		return kiln_error(ctx, -E2BIG,
				  "cannot mount the overlay on \"%s\": %zu lower layers make %zu "
				  "bytes of mount options, over this kernel's limit of %ld (Linux "
				  "6.8 takes up to 500 layers)",
				  target, n_lowers, opts.len, page - 1);
	if (mount("overlay", target, "overlay", upper ? 0 : MS_RDONLY, opts.buf) < 0)
		return overlay_fail(ctx, -errno, target, -1, NULL, NULL);
	return 0;
}

int sandbox_mount_overlay(struct kiln_ctx *ctx, const char *target, const char *const *lowers,
			  size_t n_lowers, const char *upper, const char *work, bool userxattr)
{
	int r;

	if (n_lowers == 0)
		return kiln_error(ctx, -EINVAL,
				  "cannot mount the overlay on \"%s\": no lower layer given (pass "
				  "an empty directory for an empty stage)",
				  target);
	if (!upper != !work)
		return kiln_error(ctx, -EINVAL,
				  "cannot mount the overlay on \"%s\": an upper directory needs a "
				  "work directory and the other way round",
				  target);
	if (!upper && n_lowers == 1) {
		r = sandbox_bind_tree(lowers[0], AT_FDCWD, target, true);
		if (r < 0)
			return kiln_error(ctx, r, "cannot bind \"%s\" read-only on \"%s\": %s",
					  lowers[0], target, strerror(-r));
		return 0;
	}
	r = overlay_mount_fsconfig(ctx, target, lowers, n_lowers, upper, work, userxattr);
	if (r <= 0)
		return r;
	return overlay_mount_legacy(ctx, target, lowers, n_lowers, upper, work, userxattr);
}

int sandbox_umount(struct kiln_ctx *ctx, const char *target)
{
	if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
		int err = errno;

		return kiln_error(ctx, err, "cannot unmount \"%s\": %s", target, strerror(err));
	}
	return 0;
}
