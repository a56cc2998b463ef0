/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Working directories of running stages and of snapshots being made. Each
 * holds a "lock" file that its maker keeps flock()ed; the lock goes with
 * the process, however it dies, so a directory whose lock can be taken is
 * a leftover and can go. Nothing in a working directory is ever the only
 * copy of anything: results leave it by rename (snapshots) or as store
 * blobs.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "build-internal.h"
#include "fileio.h"
#include "log.h"

#define LOCK_NAME "lock"
#define GUARD_NAME ".guard"

/*
 * Between its mkdtemp() and the flock() of its lock, a new working
 * directory looks like a leftover to another build's workdir_clean():
 * makers hold <work>/.guard shared for that moment, the cleaner holds it
 * exclusively while it looks. The lock lasts as long as *@ret_fd is open.
 */
static int guard(struct kiln_ctx *ctx, const char *work_dir, int op, int *ret_fd)
{
	_cleanup_free_ char *path = path_join(work_dir, GUARD_NAME);
	_cleanup_close_ int fd = -1;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return kiln_error(ctx, errno, "cannot open \"%s\": %m", path);
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return kiln_error(ctx, errno, "cannot lock \"%s\": %m", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int workdir_new(struct kiln_ctx *ctx, const char *work_dir, const char *name, char **ret_path,
		int *ret_lock_fd)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int dfd = -1, lock = -1, making = -1;
	int r;

	if (mkdir(work_dir, 0700) < 0 && errno != EEXIST)
		return kiln_error(ctx, errno, "cannot make \"%s\": %m", work_dir);
	r = guard(ctx, work_dir, LOCK_SH, &making);
	if (r < 0)
		return r;
	if (asprintf(&path, "%s/%s-XXXXXX", work_dir, name) < 0) {
		path = NULL;
		return -ENOMEM;
	}
	if (!mkdtemp(path))
		return kiln_error(ctx, errno, "cannot make a working directory in \"%s\": %m",
				  work_dir);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		lock = openat(dfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		remove_tree_at(AT_FDCWD, path);
		return kiln_error(ctx, err, "cannot lock working directory \"%s\": %s", path,
				  strerror(err));
	}
	*ret_path = TAKE_PTR(path);
	*ret_lock_fd = TAKE_FD(lock);
	return 0;
}

/* Bytes under @name in @at, as du counts them (blocks), without following symlinks. */
uint64_t disk_usage_at(int at, const char *name)
{
	struct stat st;
	struct dirent *de;
	uint64_t sum;
	DIR *d;
	int fd;

	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	sum = (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode))
		return sum;
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sum;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return sum;
	}
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			sum += disk_usage_at(dirfd(d), de->d_name);
	closedir(d);
	return sum;
}

int workdir_clean(struct kiln_ctx *ctx, const char *work_dir, bool dry_run, uint64_t *ret_bytes)
{
	_cleanup_close_ int fd = open(work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), looking = -1;
	uint64_t bytes = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (fd < 0) {
		if (errno == ENOENT)
			goto done;
		return kiln_error(ctx, errno, "cannot open \"%s\": %m", work_dir);
	}
	r = guard(ctx, work_dir, LOCK_EX, &looking);
	if (r < 0)
		return r;
	d = fdopendir(TAKE_FD(fd));
	if (!d)
		return -ENOMEM;
	while ((de = readdir(d))) {
		_cleanup_free_ char *lock_path = NULL;
		_cleanup_close_ int lock = -1;

		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&lock_path, "%s/" LOCK_NAME, de->d_name) < 0) {
			lock_path = NULL;
			r = -ENOMEM;
			break;
		}
		lock = openat(dirfd(d), lock_path, O_RDWR | O_CLOEXEC);
		/* no lock file: killed between mkdtemp and creating it */
		if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0)
			continue; /* in use */
		bytes += disk_usage_at(dirfd(d), de->d_name);
		if (dry_run)
			continue;
		r = remove_tree_at(dirfd(d), de->d_name);
		if (r < 0) {
			r = kiln_error(ctx, -r,
				       "cannot remove \"%s/%s\" left by an earlier build: %s",
				       work_dir, de->d_name, strerror(-r));
			break;
		}
	}
	closedir(d);
	if (r < 0)
		return r;
done:
	if (ret_bytes)
		*ret_bytes = bytes;
	return 0;
}

int cache_lock(struct kiln_ctx *ctx, const char *cache_dir, bool exclusive, int *ret_fd)
{
	_cleanup_free_ char *path = path_join(cache_dir, "build.lock");
	_cleanup_close_ int fd = -1;

	if (!path)
		return -ENOMEM;
	if (mkdir(cache_dir, 0700) < 0 && errno != EEXIST)
		return kiln_error(ctx, errno, "cannot make cache directory \"%s\": %m", cache_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return kiln_error(ctx, errno, "cannot open \"%s\": %m", path);
	if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return kiln_error(ctx, errno, "cannot lock \"%s\": %m", path);
		if (exclusive)
			return kiln_error(ctx, EBUSY,
					  "a build is running on the cache \"%s\": prune it when "
					  "the build is over",
					  cache_dir);
		/* a prune is running: wait for it */
		while (flock(fd, LOCK_SH) < 0)
			if (errno != EINTR)
				return kiln_error(ctx, errno, "cannot lock \"%s\": %m", path);
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int build_lock_wait(struct kiln_ctx *ctx, struct build *b, const char *path, const char *stage,
		    const char *waiting, int *ret_fd)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	const struct timespec poll = { .tv_nsec = 100 * 1000 * 1000 };
	bool said = false;

	if (fd < 0)
		return kiln_error(ctx, errno, "cannot open \"%s\": %m", path);
	/* polled, not blocking: a failure elsewhere in this build still stops the wait */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return kiln_error(ctx, errno, "cannot lock \"%s\": %m", path);
		if (atomic_load(&b->cancel))
			return -ECANCELED;
		if (!said)
			build_event(b, &(struct kiln_build_event){
					   .kind = KILN_BUILD_STAGE_STEP,
					   .stage = stage,
					   .phase = waiting,
				       });
		said = true;
		nanosleep(&poll, NULL);
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int stage_lock(struct kiln_ctx *ctx, struct build *b, const struct stage *st, int *ret_fd)
{
	_cleanup_free_ char *dir = path_join(b->cache_dir, STAGE_LOCKS_DIR), *path = NULL;

	if (!dir || asprintf(&path, "%s/%s.lock", dir, st->key) < 0)
		return -ENOMEM;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return kiln_error(ctx, errno, "cannot make \"%s\": %m", dir);
	return build_lock_wait(ctx, b, path, st->pkg->name,
			       "waiting: another kiln build is making this stage", ret_fd);
}
