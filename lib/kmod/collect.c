/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The files a module command works on, from its operands: files as named,
 * directories walked for the names modules_install gives modules.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/module.h>

#include "fileio.h"
#include "log.h"

/* Deeper than any /lib/modules tree; a bound against symlink-free but absurd nesting. */
#define COLLECT_MAX_DEPTH 64

struct file_id {
	dev_t dev;
	ino_t ino;
	size_t index;
	bool known;
};

struct collect {
	char **paths;
	struct file_id *ids;
	size_t n, alloc_paths, alloc_ids;
};

static void collect_release(struct collect *c)
{
	kiln_strv_free(c->paths, c->n);
	free(c->ids);
}

void kiln_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Takes @path over, even on failure. */
static int add(struct collect *c, char *path, const struct stat *st)
{
	if (GROW(c->paths, c->alloc_paths, c->n + 1) < 0 ||
	    GROW(c->ids, c->alloc_ids, c->n + 1) < 0) {
		free(path);
		return -ENOMEM;
	}
	c->ids[c->n] = (struct file_id){
		.dev = st ? st->st_dev : 0,
		.ino = st ? st->st_ino : 0,
		.index = c->n,
		.known = st != NULL,
	};
	c->paths[c->n++] = path;
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

static bool is_module_name(const char *name)
{
	return ends_with(name, ".ko") || ends_with(name, ".ko.xz") || ends_with(name, ".ko.zst");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static int walk(struct kiln_ctx *ctx, struct collect *c, const char *dir, unsigned depth)
{
	_cleanup_(closedirp) DIR *d = NULL;
	char **names = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	int r = 0;

	if (depth > COLLECT_MAX_DEPTH)
		return kiln_error(ctx, ELOOP, "'%s' is nested more than %d directories deep", dir,
				  COLLECT_MAX_DEPTH);
	d = opendir(dir);
	if (!d) {
		int err = errno;

		return kiln_error(ctx, err, "cannot read directory '%s': %s", dir, strerror(err));
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		/* most of a tree is neither: not kept, not stat()ed (kiln build walks outputs) */
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN &&
		    !(de->d_type == DT_REG && is_module_name(de->d_name)))
			continue;
		if (GROW(names, alloc, n + 1) < 0 || !(names[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			goto out;
		}
		n++;
		errno = 0;
	}
	if (errno) {
		int err = errno;

		r = kiln_error(ctx, err, "cannot read directory '%s': %s", dir, strerror(err));
		goto out;
	}
	/* name order: the same tree gives the same order, whatever readdir() does */
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct stat st;
		char *path;

		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone since readdir() */
		if (!S_ISDIR(st.st_mode) && !(S_ISREG(st.st_mode) && is_module_name(names[i])))
			continue;
		path = path_join(dir, names[i]);
		if (!path) {
			r = -ENOMEM;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			r = walk(ctx, c, path, depth + 1);
			free(path);
		} else {
			r = add(c, path, &st);
		}
	}
out:
	kiln_strv_free(names, n);
	return r;
}

static int cmp_id(const void *a, const void *b)
{
	const struct file_id *x = a, *y = b;

	if (x->known != y->known)
		return x->known ? -1 : 1;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Drop the later names of a file already listed, keeping the order otherwise. */
static void dedup(struct collect *c)
{
	size_t out = 0;

	if (c->n < 2)
		return;
	qsort(c->ids, c->n, sizeof(*c->ids), cmp_id);
	for (size_t i = 1; i < c->n; i++) {
		struct file_id *a = &c->ids[i - 1], *b = &c->ids[i];

		if (a->known && b->known && a->dev == b->dev && a->ino == b->ino) {
			free(c->paths[b->index]);
			c->paths[b->index] = NULL;
		}
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->paths[i])
			c->paths[out++] = c->paths[i];
	c->n = out;
}

int kiln_module_collect(struct kiln_ctx *ctx, char *const *operands, size_t n, char ***ret,
			size_t *ret_n)
{
	struct collect c = { 0 };
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		struct stat st;
		bool known = stat(operands[i], &st) == 0;
		char *copy;

		if (known && S_ISDIR(st.st_mode)) {
			r = walk(ctx, &c, operands[i], 0);
			continue;
		}
		copy = strdup(operands[i]);
		r = copy ? add(&c, copy, known ? &st : NULL) : -ENOMEM;
	}
	if (r < 0) {
		collect_release(&c);
		return r;
	}
	dedup(&c);
	free(c.ids);
	*ret = c.paths;
	*ret_n = c.n;
	return 0;
}
