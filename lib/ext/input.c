/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What `kiln ext validate` is pointed at, made into a directory to read
 * files from and, for a tar or an image, the flattened view that says what
 * ships (types, modes and owners as the tar headers have them, which an
 * unpack by an unprivileged user cannot keep).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/ext.h>
#include <kiln/layer.h>
#include <kiln/registry.h>

#include "fileio.h"
#include "log.h"

void kiln_ext_input_free(struct kiln_ext_input *in)
{
	if (!in)
		return;
	if (in->tmp)
		remove_tree_at(AT_FDCWD, in->tmp);
	kiln_fs_free(in->meta);
	free(in->tmp);
	free(in->dir);
	free(in->name);
	free(in);
}

static int make_tmp(struct kiln_ctx *ctx, struct kiln_ext_input *in)
{
	const char *base = getenv("TMPDIR");
	int r = make_temp_dir(base && *base ? base : "/tmp", "kiln-ext-", &in->tmp);

	if (r < 0)
		return kiln_error(ctx, r, "cannot make a temporary directory: %s", strerror(-r));
	in->dir = strdup(in->tmp);
	return in->dir ? 0 : -ENOMEM;
}

/* One pass over the tar file @path: into the view when @fs, else into the unpacker @u. */
static int tar_pass(struct kiln_ctx *ctx, const char *path, struct kiln_fs *fs,
		    struct kiln_unpacker *u)
{
	_cleanup_(kiln_unzip_freep) struct kiln_unzip *z = NULL;
	_cleanup_(kiln_tar_reader_freep) struct kiln_tar_reader *tr = NULL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return kiln_error(ctx, errno, "cannot open \"%s\": %m", path);
	r = kiln_unzip_new(ctx, read_fd_fn, &fd, &z);
	if (r >= 0)
		r = kiln_tar_reader_new(ctx, kiln_unzip_read, z, &tr);
	if (r >= 0)
		r = fs ? kiln_fs_apply(ctx, fs, 0, tr) : kiln_unpacker_apply(u, tr);
	if (r < 0)
		kiln_error_prefix(ctx, "\"%s\"", path);
	return r;
}

static bool is_image_archive(struct kiln_ctx *ctx, const struct kiln_fs *fs)
{
	const struct kiln_fs_node *n;

	if (kiln_fs_lookup(ctx, fs, "/rootfs", false, &n) >= 0)
		return false;
	kiln_ctx_clear_error(ctx);
	if (kiln_fs_lookup(ctx, fs, "/manifest.json", false, &n) >= 0 ||
	    kiln_fs_lookup(ctx, fs, "/oci-layout", false, &n) >= 0)
		return true;
	kiln_ctx_clear_error(ctx);
	return false;
}

static int open_image(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
		      const struct kiln_ext_input_options *o, struct kiln_ext_input *in)
{
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	struct kiln_unpack_options uo = { .devices = false };
	struct kiln_registry_options ro =
	    o->registry ? *o->registry : (struct kiln_registry_options){ 0 };
	int r;

	r = kiln_registry_load_image(ctx, s, ref, o->platform, o->pull ? &ro : NULL, &img);
	if (r < 0)
		return r;
	in->digest = img->manifest_desc.digest;
	if (o->metadata)
		r = kiln_fs_load_image(ctx, s, img, &in->meta);
	if (r >= 0)
		r = make_tmp(ctx, in);
	if (r >= 0)
		r = kiln_unpack_image(ctx, s, img, in->dir, &uo);
	if (r < 0)
		return r;
	in->kind = KILN_EXT_INPUT_IMAGE;
	in->name = strdup(ref);
	return in->name ? 0 : -ENOMEM;
}

int kiln_ext_input_open(struct kiln_ctx *ctx, struct kiln_store *s, const char *what,
			const struct kiln_ext_input_options *o, struct kiln_ext_input **ret)
{
	_cleanup_(kiln_ext_input_freep) struct kiln_ext_input *in = calloc(1, sizeof(*in));
	struct stat st;
	int r;

	if (!in)
		return -ENOMEM;
	if (stat(what, &st) == 0 && S_ISDIR(st.st_mode)) {
		in->kind = KILN_EXT_INPUT_DIR;
		in->dir = strdup(what);
		in->name = strdup(what);
		if (!in->dir || !in->name)
			return -ENOMEM;
	} else if (stat(what, &st) == 0 && S_ISREG(st.st_mode)) {
		_cleanup_(kiln_unpacker_freep) struct kiln_unpacker *u = NULL;
		_cleanup_close_ int dirfd = -1;
		struct kiln_unpack_options uo = { .devices = false };

		r = kiln_fs_new(&in->meta);
		if (r >= 0)
			r = tar_pass(ctx, what, in->meta, NULL);
		if (r < 0)
			return r;
		if (is_image_archive(ctx, in->meta)) {
			/* a docker- or oci-archive: the image inside it is the extension */
			struct kiln_descriptor d = { 0 };
			char *name = NULL;

			kiln_fs_free(TAKE_PTR(in->meta));
			r = kiln_archive_import(ctx, s, what, KILN_ARCHIVE_AUTO, NULL, o->platform,
						&d, &name);
			if (r < 0)
				return r;
			r = open_image(ctx, s, d.digest.s, o, in);
			kiln_descriptor_release(&d);
			free(in->name);
			in->name = name;
			in->kind = KILN_EXT_INPUT_ARCHIVE;
			if (r < 0)
				return r;
		} else {
			r = make_tmp(ctx, in);
			if (r < 0)
				return r;
			dirfd = open(in->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dirfd < 0)
				return kiln_error(ctx, errno, "cannot open \"%s\": %m", in->dir);
			r = kiln_unpacker_new(ctx, dirfd, &uo, &u);
			if (r >= 0)
				r = tar_pass(ctx, what, NULL, u);
			if (r >= 0)
				r = kiln_unpacker_finish(u);
			if (r < 0)
				return r;
			in->kind = KILN_EXT_INPUT_TAR;
			in->name = strdup(what);
			if (!in->name)
				return -ENOMEM;
		}
	} else {
		r = open_image(ctx, s, what, o, in);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(in);
	return 0;
}
