/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What an instruction sees besides its root: /tmp/build, its step's
 * cachePaths and its secrets, each mounted into the sandbox so that
 * nothing of the host's paths shows in the step's /proc/self/mountinfo:
 * the build directory and each cachePaths directory are overlays of their
 * own ("/" as their root), a secret is copied onto a tmpfs by the sandbox.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The id of a cachePaths directory: its path, made a file name. */
static char *cache_path_dir(struct run *r, const char *path)
{
	_cleanup_free_ char *name = strdup(path);
	char *dir;

	if (!name)
		return NULL;
	for (char *p = name; *p; p++)
		if (*p == '/')
			*p = '_';
	if (mkdir(r->b->cache_paths_dir, 0700) < 0 && errno != EEXIST)
		return NULL;
	dir = path_join(r->b->cache_paths_dir, name);
	if (dir && mkdir(dir, 0755) < 0 && errno != EEXIST) {
		free(dir);
		return NULL;
	}
	return dir;
}

/*
 * The @i-th cachePaths directory of a step, @path in the sandbox, mounted
 * under the run's work directory in *@ret: an overlay of its own (an empty
 * lower layer, the cache directory as its upper one), as the build
 * directory is, so that the step's /proc/self/mountinfo shows "/" for it
 * where a bind mount of the directory showed its path in kiln's cache.
 * Files go straight to the cache directory: no lower layer holds anything
 * to copy up or hide. Instructions run one after another, so the i-th
 * cachePath of each has the same mount point and overlay work directory.
 * Two builds over one cache may mount the same directory at once (the
 * kernel logs that its upperdir is in use, and goes on: index is off).
 * With nothing below it, neither overlay copies up or whites out; a name
 * one adds while an instruction of the other runs may stay unseen by a
 * lookup of that instruction (overlayfs keeps the negative dentry), which
 * for a cache is a miss; a directory's listing is always the real one.
 */
static int cache_path_mount(struct run *r, const char *path, size_t i, char **ret)
{
	_cleanup_free_ char *dir = cache_path_dir(r, path);
	_cleanup_free_ char *empty = NULL, *target = NULL, *work = NULL;
	char name[sizeof("cache-18446744073709551615-work")];
	int err;

	if (!dir)
		return kiln_error(r->ctx, errno ? errno : ENOMEM,
				  "cannot make the cache directory for cachePaths \"%s\": %m",
				  path);
	err = run_make_dir(r, "cache-empty", &empty);
	snprintf(name, sizeof(name), "cache-%zu", i);
	if (err >= 0)
		err = run_make_dir(r, name, &target);
	snprintf(name, sizeof(name), "cache-%zu-work", i);
	if (err >= 0)
		err = run_make_dir(r, name, &work);
	if (err >= 0)
		err = sandbox_mount_overlay(r->ctx, target, (const char *const *)&empty, 1, dir,
					    work, r->b->userns);
	if (err < 0)
		return err;
	*ret = TAKE_PTR(target);
	return 0;
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

int step_mounts_open(struct run *r, const struct kiln_step *step, const char *build_dir,
		     struct step_mounts *m)
{
	size_t max = 1 + (step ? step->cache_paths.n + step->secrets.n : 0);

	*m = (struct step_mounts){ .v = calloc(max, sizeof(*m->v)),
				   .owned = calloc(max, sizeof(*m->owned)) };
	if (!m->v || !m->owned)
		return -ENOMEM;
	m->v[m->n++] = (struct sandbox_mount){ .source = build_dir, .target = BUILD_DIR };
	if (!step)
		return 0;
	for (size_t i = 0; i < step->cache_paths.n; i++) {
		int err = cache_path_mount(r, step->cache_paths.v[i], i, &m->owned[m->n]);

		if (err < 0)
			return err;
		m->v[m->n] = (struct sandbox_mount){ .source = m->owned[m->n],
						     .target = step->cache_paths.v[i] };
		m->n++;
		m->n_cache++;
	}
	return add_secrets(r, step, m);
}

int step_mounts_close(struct run *r, struct step_mounts *m)
{
	int ret = 0;

	/* owned[1 .. n_cache]: the cachePaths mounted; then the secrets' targets */
	for (size_t i = 1; i <= m->n_cache; i++) {
		int err = sandbox_umount(r->ctx, m->owned[i]);

		if (ret >= 0)
			ret = err;
	}
	for (size_t i = 0; m->owned && i < m->n; i++)
		free(m->owned[i]);
	free(m->owned);
	free(m->v);
	*m = (struct step_mounts){ 0 };
	return ret;
}
