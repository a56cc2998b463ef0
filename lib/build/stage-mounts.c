/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What an instruction sees besides its root: /tmp/build, its step's
 * cachePaths and its secrets, each mounted into the sandbox so that
 * nothing of the host's paths shows in the step's /proc/self/mountinfo:
 * the build directory and each cachePaths directory are overlays of their
 * own ("/" as their root), a secret is copied onto a tmpfs by the sandbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "build-internal.h"
#include "fileio.h"
#include "log.h"
#include "sandbox.h"

static const char *secret_path(struct run *r, const char *id)
{
	for (size_t i = 0; i < r->b->o->n_secrets; i++)
		if (streq(r->b->o->secrets[i].id, id))
			return r->b->o->secrets[i].path;
	return NULL;
}

/*
 * cachePaths. Each directory (<cache>/cachepaths/NAME) reaches a step
 * through one overlay of the build's (an empty lower layer, the directory
 * as its upper one), mounted while any of the build's instructions uses it
 * and bound into each of their sandboxes: "/" in a step's mountinfo, where
 * a bind mount of the directory showed its path in kiln's cache. Files go
 * straight to the directory, as nothing below holds anything to copy up
 * or hide. One overlay, not one an instruction, because file locks
 * (flock, fcntl) are an overlay inode's: the steps of one build that run
 * at once lock each other out as tools such as Go's module cache expect,
 * where two overlays of one directory would not (and their writes to one
 * file race: ESTALE, as the kernel warns when it mounts the second). For
 * the same reason two builds never use one directory at once: the build
 * whose instructions use it holds <cache>/cachepaths/.NAME.lock, and
 * another waits (and says so) until none of them does.
 */
struct cache_mount {
	pthread_mutex_t lock; /* users, and mounting and unmounting */
	char *name; /* NAME */
	char *slot; /* the name of its mount point in the build's working directory */
	int lock_fd; /* .NAME.lock, held while users > 0 */
	unsigned users;
};

/* A cachePaths directory's name: its path in the sandbox, made a file name. */
static char *cache_path_name(const char *path)
{
	char *name = strdup(path);

	for (char *p = name; p && *p; p++)
		if (*p == '/')
			*p = '_';
	return name;
}

/* The build's entry for @name, made at its first use; NULL when out of memory. */
static struct cache_mount *cache_mount_get(struct build *b, const char *name)
{
	struct cache_mounts *m = &b->cache_mounts;
	struct cache_mount *c = NULL;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n && !c; i++)
		if (streq(m->v[i]->name, name))
			c = m->v[i];
	if (!c && kiln_grow((void **)&m->v, &m->alloc, m->n + 1, sizeof(*m->v)) >= 0 &&
	    (c = calloc(1, sizeof(*c)))) {
		pthread_mutex_init(&c->lock, NULL);
		c->lock_fd = -1;
		c->name = strdup(name);
		if (asprintf(&c->slot, "%zu", m->n) < 0)
			c->slot = NULL;
		if (!c->name || !c->slot) {
			free(c->name);
			free(c->slot);
			free(c);
			c = NULL;
		} else {
			m->v[m->n++] = c;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return c;
}

/* The build's working directory for its cachePaths mounts, made at the first. */
static int cache_mounts_work(struct run *r, const char **ret)
{
	struct cache_mounts *m = &r->b->cache_mounts;
	int err = 0;

	pthread_mutex_lock(&m->lock);
	if (!m->work)
		err = workdir_new(r->ctx, r->b->work_dir, "cachepaths", &m->work, &m->work_lock);
	*ret = m->work;
	pthread_mutex_unlock(&m->lock);
	return err;
}

/* .NAME.lock, taken for the build; another build waiting for it says so. */
static int cache_mount_lock(struct run *r, struct cache_mount *c, const char *path)
{
	_cleanup_free_ char *file = NULL, *waiting = NULL;

	if (asprintf(&file, "%s/.%s.lock", r->b->cache_paths_dir, c->name) < 0 ||
	    asprintf(&waiting, "waiting: another kiln build is using cachePaths %s", path) < 0)
		return -ENOMEM;
	return build_lock_wait(r->ctx, r->b, file, r->st->pkg->name, waiting, &c->lock_fd);
}

/*
 * The overlay of @path's directory, mounted unless it is: its entry in
 * *@ret_c, for cache_mount_release(), and its mount point in *@ret.
 */
static int cache_mount_acquire(struct run *r, const char *path, struct cache_mount **ret_c,
			       char **ret)
{
	_cleanup_free_ char *name = cache_path_name(path), *dir = NULL;
	_cleanup_free_ char *target = NULL, *upper_work = NULL, *empty = NULL;
	struct cache_mount *c;
	const char *work;
	int err;

	if (!name || !(c = cache_mount_get(r->b, name)))
		return -ENOMEM;
	dir = path_join(r->b->cache_paths_dir, name);
	if (!dir)
		return -ENOMEM;
	err = cache_mounts_work(r, &work);
	if (err < 0)
		return err;
	target = path_join(work, c->slot);
	empty = path_join(work, "empty");
	if (!target || !empty || asprintf(&upper_work, "%s-work", target) < 0)
		return -ENOMEM;

	pthread_mutex_lock(&c->lock);
	if (c->users == 0) {
		const char *const dirs[] = { r->b->cache_paths_dir, dir, empty, target,
					     upper_work };

		for (size_t i = 0; i < ELEMENTSOF(dirs) && err >= 0; i++)
			if (mkdir(dirs[i], 0755) < 0 && errno != EEXIST)
				err = kiln_error(r->ctx, errno, "cannot make \"%s\": %m", dirs[i]);
		if (err >= 0)
			err = cache_mount_lock(r, c, path);
		if (err >= 0)
			err = sandbox_mount_overlay(r->ctx, target, (const char *const *)&empty, 1,
						    dir, upper_work, r->b->userns);
		if (err < 0) {
			closep(&c->lock_fd);
			c->lock_fd = -1;
		}
	}
	if (err >= 0)
		c->users++;
	pthread_mutex_unlock(&c->lock);
	if (err < 0)
		return err;
	*ret_c = c;
	*ret = TAKE_PTR(target);
	return 0;
}

/* One use of @c's overlay (at @target) over: the last unmounts it and lets other builds in. */
static int cache_mount_release(struct run *r, struct cache_mount *c, const char *target)
{
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (c->users > 0 && --c->users == 0) {
		err = sandbox_umount(r->ctx, target);
		closep(&c->lock_fd);
		c->lock_fd = -1;
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

void cache_mounts_release(struct cache_mounts *m)
{
	for (size_t i = 0; i < m->n; i++) {
		/* unused by now, as every instruction released what it took; else never removed */
		if (m->work && m->v[i]->users > 0) {
			_cleanup_free_ char *target = path_join(m->work, m->v[i]->slot);

			if (target)
				(void)umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW);
		}
		closep(&m->v[i]->lock_fd);
		pthread_mutex_destroy(&m->v[i]->lock);
		free(m->v[i]->name);
		free(m->v[i]->slot);
		free(m->v[i]);
	}
	free(m->v);
	if (m->work)
		(void)remove_tree_at(AT_FDCWD, m->work);
	free(m->work);
	closep(&m->work_lock);
	pthread_mutex_destroy(&m->lock);
}

/* Whether a secret id names a file in /run/secrets, and nothing beyond it. */
static bool secret_id_is_valid(const char *id)
{
	return *id && !strchr(id, '/') && !streq(id, ".") && !streq(id, "..") &&
	       strlen(id) <= NAME_MAX;
}

static int add_secrets(struct run *r, const struct kiln_step *step, struct step_mounts *m)
{
	for (size_t i = 0; i < step->secrets.n; i++) {
		_cleanup_free_ char *id = NULL;
		bool optional;
		const char *src;

		id = secret_entry_id(step->secrets.v[i], &optional);
		if (!id)
			return -ENOMEM;
		if (!secret_id_is_valid(id))
			return kiln_error_at(
			    r->ctx, EINVAL, r->st->pkg->file, step->line, step->col,
			    "secret id \"%s\" must name a file in /run/secrets", id);
		src = secret_path(r, id);
		if (!src && optional)
			continue; /* "ID?": the file is absent, and the step decides */
		if (!src) {
			kiln_error_at(r->ctx, EINVAL, r->st->pkg->file, step->line, step->col,
				      "step %u uses secret \"%s\", which was not given", r->step,
				      id);
			kiln_error_add_hint(r->ctx, KILN_HINT_SECRET, id);
			return -EINVAL;
		}
		if (asprintf(&m->owned[m->n], "/run/secrets/%s", id) < 0) {
			m->owned[m->n] = NULL;
			return -ENOMEM;
		}
		m->v[m->n] = (struct sandbox_mount){ .source = src,
						     .target = m->owned[m->n],
						     .read_only = true };
		m->n++;
	}
	return 0;
}

/* Paths in the order of their cachePaths directories' names ('/' made '_'). */
static int cache_name_cmp(const void *a, const void *b)
{
	const unsigned char *x = *(const unsigned char *const *)a;
	const unsigned char *y = *(const unsigned char *const *)b;

	for (;; x++, y++) {
		int cx = *x == '/' ? '_' : *x, cy = *y == '/' ? '_' : *y;

		if (cx != cy || !cx)
			return cx - cy;
	}
}

int step_mounts_open(struct run *r, const struct kiln_step *step, const char *build_dir,
		     struct step_mounts *m)
{
	size_t max = 1 + (step ? step->cache_paths.n + step->secrets.n : 0);
	_cleanup_free_ char **order = NULL;

	*m = (struct step_mounts){ .v = calloc(max, sizeof(*m->v)),
				   .owned = calloc(max, sizeof(*m->owned)),
				   .cache = calloc(max, sizeof(*m->cache)) };
	if (!m->v || !m->owned || !m->cache)
		return -ENOMEM;
	m->v[m->n++] = (struct sandbox_mount){ .source = build_dir, .target = BUILD_DIR };
	if (!step)
		return 0;
	/*
	 * In the order of their names, in which every build takes their locks,
	 * so that two builds never wait for each other in a circle; a
	 * directory's name sorts before those of the directories in it, which
	 * are mounted after it.
	 */
	order = malloc(step->cache_paths.n * sizeof(*order) + 1);
	if (!order)
		return -ENOMEM;
	memcpy(order, step->cache_paths.v, step->cache_paths.n * sizeof(*order));
	qsort(order, step->cache_paths.n, sizeof(*order), cache_name_cmp);
	for (size_t i = 0; i < step->cache_paths.n; i++) {
		int err = cache_mount_acquire(r, order[i], &m->cache[m->n], &m->owned[m->n]);

		if (err < 0)
			return err;
		m->v[m->n] = (struct sandbox_mount){ .source = m->owned[m->n], .target = order[i] };
		m->n++;
		m->n_cache++;
	}
	return add_secrets(r, step, m);
}

int step_mounts_close(struct run *r, struct step_mounts *m)
{
	int ret = 0;

	/* owned[1 .. n_cache]: the cachePaths' overlays taken; then the secrets' targets */
	for (size_t i = 1; i <= m->n_cache; i++) {
		int err = cache_mount_release(r, m->cache[i], m->owned[i]);

		if (ret >= 0)
			ret = err;
	}
	for (size_t i = 0; m->owned && i < m->n; i++)
		free(m->owned[i]);
	free(m->owned);
	free(m->cache);
	free(m->v);
	*m = (struct step_mounts){ 0 };
	return ret;
}
