/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Snapshots: the files a dependency contributes to a stage, unpacked once
 * and then mounted read-only as an overlay lower layer by every stage that
 * merges it, so that a kernel tree is unpacked once, not once per module
 * built against it. A snapshot is named by what it holds (the image's
 * manifest digest and the from -> to copy), is made in a working
 * directory and renamed into place whole: a snapshot that exists is
 * complete.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "build-internal.h"
#include "copy.h"
#include "fileio.h"
#include "log.h"

static int snapshot_make(struct kiln_ctx *ctx, struct build *b, const struct stage_input *in,
			 const char *path)
{
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	_cleanup_free_ char *work = NULL, *full = NULL, *part = NULL, *what = NULL;
	_cleanup_close_ int lock = -1;
	struct kiln_unpack_options uo = { .devices = geteuid() == 0 && !b->userns };
	bool whole = streq(in->from, "/") && streq(in->to, "/");
	const char *done;
	int r;

	r = workdir_new(ctx, b->work_dir, "snapshot", &work, &lock);
	if (r < 0)
		return r;
	full = path_join(work, "full");
	part = path_join(work, "part");
	if (!full || !part) {
		r = -ENOMEM;
		goto out;
	}
	if (mkdir(full, 0755) < 0 || mkdir(part, 0755) < 0) {
		r = kiln_error(ctx, errno, "cannot make \"%s\": %m", full);
		goto out;
	}
	r = kiln_store_load_image(ctx, b->store, in->digest.s, NULL, &img);
	if (r >= 0)
		r = kiln_unpack_image(ctx, b->store, img, full, &uo);
	if (r < 0)
		goto out;
	if (!whole) {
		_cleanup_close_ int src = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		_cleanup_close_ int dst = open(part, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (asprintf(&what, "dependency %s %s -> %s",
			     in->stage ? in->stage->pkg->name : in->image, in->from, in->to) < 0) {
			what = NULL;
			r = -ENOMEM;
			goto out;
		}
		if (src < 0 || dst < 0) {
			r = kiln_error(ctx, errno, "cannot open \"%s\": %m", work);
			goto out;
		}
		r = copy_in_root(ctx, what, src, in->from, dst, in->to);
		if (r < 0)
			goto out;
	}
	done = whole ? full : part;
	/* the directory is complete; an equal one made meanwhile by another stage is as good */
	if (rename(done, path) < 0 && errno != EEXIST && errno != ENOTEMPTY)
		r = kiln_error(ctx, errno, "cannot move snapshot into \"%s\": %m", path);
out:
	remove_tree_at(AT_FDCWD, work);
	return r;
}

int snapshot_get(struct kiln_ctx *ctx, struct build *b, const struct stage_input *in, char **ret)
{
	_cleanup_free_ char *text = NULL, *path = NULL;
	struct kiln_digest key;
	struct stat st;
	int r;

	if (asprintf(&text, "kiln-snapshot-v1\n%s\n%s\n%s\n", in->digest.s, in->from, in->to) < 0) {
		text = NULL;
		return -ENOMEM;
	}
	r = kiln_digest_of(ctx, text, strlen(text), &key);
	if (r < 0)
		return r;
	path = path_join(b->snapshot_dir, kiln_digest_hex(&key));
	if (!path)
		return -ENOMEM;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT)
			return kiln_error(ctx, errno, "cannot stat \"%s\": %m", path);
		if (mkdir(b->snapshot_dir, 0700) < 0 && errno != EEXIST)
			return kiln_error(ctx, errno, "cannot make \"%s\": %m", b->snapshot_dir);
		r = snapshot_make(ctx, b, in, path);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(path);
	return 0;
}
