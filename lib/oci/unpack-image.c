/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unpacking a whole image: its layers, checked and in order, through one
 * unpacker (unpack.c) into a directory; or into a new one beside the
 * target, which takes the target's place once every layer is in.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/layer.h>

#include "fileio.h"
#include "layer-internal.h"
#include "log.h"

static int unpack_layer(void *userdata, size_t i, struct kiln_tar_reader *tar)
{
	(void)i;
	return kiln_unpacker_apply(userdata, tar);
}

int kiln_unpack_image(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *img,
		      const char *dir, const struct kiln_unpack_options *o)
{
	_cleanup_(kiln_unpacker_freep) struct kiln_unpacker *u = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	/* before the directory is touched, though layer_apply_image() checks too */
	r = layer_check_image(ctx, img);
	if (r < 0)
		return r;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kiln_error(ctx, errno, "cannot open directory \"%s\": %m", dir);
	r = kiln_unpacker_new(ctx, fd, o, &u);
	if (r < 0)
		return r;
	r = layer_apply_image(ctx, s, img, unpack_layer, u);
	if (r < 0)
		return r;
	return kiln_unpacker_finish(u);
}

/* 0 if @dir can be taken by a rename: absent, or an empty directory. */
static int check_empty_dir(struct kiln_ctx *ctx, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool empty = true;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP) && lstat(dir, &st) == 0)
		return kiln_error(ctx, EEXIST, "\"%s\" exists and is not a directory", dir);
	if (fd < 0)
		return kiln_error(ctx, errno, "cannot open \"%s\": %m", dir);
	d = fdopendir(fd);
	if (!d) {
		int r = -errno;

		close(fd);
		return kiln_error(ctx, r, "cannot read \"%s\": %s", dir, strerror(-r));
	}
	while (empty && (e = readdir(d)))
		empty = streq(e->d_name, ".") || streq(e->d_name, "..");
	closedir(d);
	return empty ? 0 : kiln_error(ctx, ENOTEMPTY, "\"%s\" is not empty", dir);
}

int kiln_unpack_image_to_dir(struct kiln_ctx *ctx, struct kiln_store *s,
			     const struct kiln_image *img, const char *dir,
			     const struct kiln_unpack_options *o, bool replace)
{
	_cleanup_(atomic_dir_release) struct atomic_dir out = { .fd = -1 };
	_cleanup_free_ char *path = strdup(dir);
	size_t len;
	int r;

	if (!path)
		return -ENOMEM;
	/* "DIR/" would put the temporary directory inside DIR */
	for (len = strlen(path); len > 1 && path[len - 1] == '/'; len--)
		path[len - 1] = '\0';
	if (!replace) {
		r = check_empty_dir(ctx, path);
		if (r < 0)
			return r;
	}
	r = atomic_dir_open(path, &out);
	if (r < 0)
		return kiln_error(ctx, r, "cannot make a directory beside \"%s\": %s", path,
				  strerror(-r));
	r = kiln_unpack_image(ctx, s, img, out.tmp, o);
	if (r < 0)
		return r;
	r = atomic_dir_commit(&out, 0755, replace);
	if (r < 0)
		return kiln_error(ctx, r, "cannot move the files to \"%s\": %s", path,
				  strerror(-r));
	return 0;
}
