/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where the kernel's firmware loader would find a MODULE_FIRMWARE() name,
 * looked up inside an image or extension tree instead of the running
 * system. The tree is someone else's root: its symlinks (lib -> usr/lib in
 * a merged-/usr tree, or an absolute one) must resolve as they will on the
 * target, so every path goes through openat2(RESOLVE_IN_ROOT), never
 * through the host's /.
 */
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/module.h>

#include "fileio.h"
#include "log.h"
#include "strbuf.h"

/* Bounds for hostile trees and names: a directory's entries, a name's length. */
#define DIR_ENTRIES_MAX 100000
#define NAME_MAX_LEN 4096

/* 1 if @path is a regular file in the tree (what kernel_read_file() takes), else 0. */
static int is_file(int rootfd, const char *path)
{
	_cleanup_close_ int fd = openat_in_root(rootfd, path, O_PATH, 0);
	struct stat st;

	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP || fd == -EACCES)
		return 0;
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISREG(st.st_mode);
}

_printf_(1, 2) static char *path_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static bool has_glob(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '*' || s[i] == '?' || s[i] == '[')
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strv_freep(char ***v)
{
	if (*v)
		for (char **p = *v; *p; p++)
			free(*p);
	free(*v);
}

/* The entries of @dir matching @pattern, sorted so that the first match is always the same. */
static int list_matches(int rootfd, const char *dir, const char *pattern, char ***ret)
{
	_cleanup_(strv_freep) char **v = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat_in_root(rootfd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT || fd == -ENOTDIR || fd == -EACCES) {
		*ret = NULL;
		return 0;
	}
	if (fd < 0)
		return fd;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (fnmatch(pattern, de->d_name, FNM_PERIOD) != 0)
			continue;
		if (n >= DIR_ENTRIES_MAX) {
			r = -E2BIG;
			break;
		}
		r = GROW(v, alloc, n + 2);
		if (r < 0)
			break;
		v[n] = strdup(de->d_name);
		if (!v[n]) {
			r = -ENOMEM;
			break;
		}
		v[++n] = NULL;
	}
	closedir(d);
	if (r < 0)
		return r;
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*ret = TAKE_PTR(v);
	return 0;
}

/*
 * Match the components of @name after @at (a '/'-separated name, @suffix
 * added to its last component) below @dir. 1 with the path in *@ret, 0 for none.
 */
static int match(int rootfd, const char *dir, const char *at, const char *suffix, char **ret)
{
	_cleanup_(strv_freep) char **names = NULL;
	_cleanup_free_ char *pattern = NULL, *path = NULL;
	const char *slash = strchr(at, '/');
	size_t len = slash ? (size_t)(slash - at) : strlen(at);
	int r;

	if (len == 0) /* "a//b": the kernel's path would not care either */
		return slash ? match(rootfd, dir, slash + 1, suffix, ret) : 0;
	pattern = path_printf("%.*s%s", (int)len, at, slash ? "" : suffix);
	if (!pattern)
		return -ENOMEM;
	if (!has_glob(at, len)) {
		path = path_printf("%s/%s", dir, pattern);
		if (!path)
			return -ENOMEM;
		if (slash)
			return match(rootfd, path, slash + 1, suffix, ret);
		r = is_file(rootfd, path);
		if (r > 0)
			*ret = TAKE_PTR(path);
		return r;
	}

	r = list_matches(rootfd, dir, pattern, &names);
	if (r < 0 || !names)
		return r;
	for (char **p = names; *p; p++) {
		free(path);
		path = path_printf("%s/%s", dir, *p);
		if (!path)
			return -ENOMEM;
		r = slash ? match(rootfd, path, slash + 1, suffix, ret) : is_file(rootfd, path);
		if (r < 0)
			return r;
		if (r > 0) {
			if (!slash)
				*ret = TAKE_PTR(path);
			return 1;
		}
	}
	return 0;
}

static void dirs_free(char *(*dirs)[8])
{
	for (size_t i = 0; i < 8; i++)
		free((*dirs)[i]);
}

/* The directories the kernel searches, in its order, under /lib and then /usr/lib. */
static int search_dirs(const char *release, char *ret[8])
{
	static const char *const bases[] = { "lib/firmware", "usr/lib/firmware" };
	_cleanup_(dirs_free) char *dirs[8] = { 0 };

	for (size_t b = 0; b < ELEMENTSOF(bases); b++) {
		dirs[b * 4] = path_printf("%s/updates/%s", bases[b], release);
		dirs[b * 4 + 1] = path_printf("%s/updates", bases[b]);
		dirs[b * 4 + 2] = path_printf("%s/%s", bases[b], release);
		dirs[b * 4 + 3] = strdup(bases[b]);
	}
	for (size_t i = 0; i < 8; i++)
		if (!dirs[i])
			return -ENOMEM;
	for (size_t i = 0; i < 8; i++)
		ret[i] = TAKE_PTR(dirs[i]);
	return 0;
}

int kiln_firmware_find(struct kiln_ctx *ctx, const char *root, const char *release,
		       const char *name, char **ret_path)
{
	/* firmware_loader/main.c: every directory with the plain name, then .zst, then .xz */
	static const char *const suffixes[] = { "", ".zst", ".xz" };
	_cleanup_(dirs_free) char *dirs[8] = { 0 };
	_cleanup_close_ int rootfd = -1;
	/* a leading '/' in a name only doubles the kernel's separator */
	const char *rel = name + strspn(name, "/");
	int r, e;

	if (!name[0] || strlen(name) > NAME_MAX_LEN)
		return kiln_error(ctx, EINVAL, "bad firmware name of %zu bytes", strlen(name));
	r = search_dirs(release, dirs);
	if (r < 0)
		return r;
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		e = errno;
		return kiln_error(ctx, e, "cannot open firmware root \"%s\": %s", root,
				  strerror(e));
	}
	for (size_t s = 0; s < ELEMENTSOF(suffixes); s++)
		for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
			r = match(rootfd, dirs[i], rel, suffixes[s], ret_path);
			if (r == -E2BIG)
				return kiln_error(ctx, r,
						  "\"%s/%s\": more than %d entries match \"%s\"",
						  root, dirs[i], DIR_ENTRIES_MAX, name);
			if (r < 0)
				return kiln_error(ctx, r,
						  "cannot look for firmware \"%s\" in \"%s\": %s",
						  name, root, strerror(-r));
			if (r > 0)
				return 1;
		}
	return 0;
}
