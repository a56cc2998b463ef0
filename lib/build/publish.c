/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a build hands its user: each target named TARGET:TAG in the store
 * (by default the tag `git describe` gives the tree, as bldr's Makefiles
 * tag images), recorded in _out/images.json, and its files exported when
 * asked.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/build.h>
#include <kiln/layer.h>
#include <kiln/registry.h>

#include "fileio.h"
#include "log.h"
#include "process.h"
#include "strbuf.h"

/* More than any tag: the rest of a longer answer is not kept. */
#define DESCRIBE_MAX 256

static int take_output(void *userdata, const void *data, size_t len)
{
	struct strbuf *sb = userdata;

	if (sb->len >= DESCRIBE_MAX)
		return 0;
	return strbuf_add(sb, data, len < DESCRIBE_MAX - sb->len ? len : DESCRIBE_MAX - sb->len);
}

int kiln_build_describe(struct kiln_ctx *ctx, const char *root, char **ret)
{
	const char *argv[] = {
		"git", "-C", root, "describe", "--tags", "--always", "--dirty", NULL
	};
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	const struct run_options ro = { .out = take_output, .userdata = &out };
	size_t len;
	int status, r;
	char *s;

	*ret = NULL;
	r = run_program_opts(ctx, (char *const *)argv, &ro, &status, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || status != 0) {
		/* no git, or no git tree: the tag is not the tree's to give */
		kiln_ctx_clear_error(ctx);
		return 0;
	}
	len = strcspn(strbuf_str(&out), "\n");
	if (len == 0)
		return 0;
	s = strndup(strbuf_str(&out), len);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

void kiln_build_published_free(struct kiln_build_published *p, size_t n)
{
	if (!p)
		return;
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].reference);
		free(p[i].export_dir);
		kiln_descriptor_release(&p[i].desc);
	}
	free(p);
}

/* Tag @t TARGET:@tag in the store and record it in @out_dir/images.json. */
static int name_target(struct kiln_ctx *ctx, struct kiln_store *s,
		       const struct kiln_build_target *t, const char *tag, const char *out_dir,
		       struct kiln_build_published *p)
{
	_cleanup_(kiln_ref_release) struct kiln_ref ref = { 0 };
	_cleanup_free_ char *full = NULL;
	int r;

	if (asprintf(&p->name, "%s:%s", t->name, tag) < 0) {
		p->name = NULL;
		return -ENOMEM;
	}
	r = kiln_ref_parse(ctx, p->name, &ref);
	if (r < 0) {
		kiln_error_prefix(ctx, "cannot name the image of %s", t->name);
		return r;
	}
	full = kiln_ref_name(&ref);
	if (!full || asprintf(&p->reference, "%s@%s", p->name, t->digest.s) < 0) {
		p->reference = NULL;
		return -ENOMEM;
	}
	r = kiln_store_resolve(ctx, s, t->digest.s, &p->desc);
	if (r >= 0)
		r = kiln_store_set_ref(ctx, s, full, &p->desc);
	if (r < 0) {
		kiln_error_prefix(ctx, "cannot tag the image of %s as %s", t->name, p->name);
		return r;
	}
	r = kiln_images_json_record(ctx, out_dir, p->name, p->reference, &p->desc);
	if (r < 0)
		kiln_error_prefix(ctx, "cannot record %s in %s/images.json", p->name, out_dir);
	return r;
}

static int export_target(struct kiln_ctx *ctx, struct kiln_store *s,
			 const struct kiln_build_target *t, const char *dir)
{
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	/* device files where the process may make them */
	struct kiln_unpack_options uo = { .devices = geteuid() == 0 };
	int r;

	r = kiln_store_load_image(ctx, s, t->digest.s, NULL, &img);
	if (r >= 0)
		r = kiln_unpack_image_to_dir(ctx, s, img, dir, &uo, true);
	if (r < 0)
		kiln_error_prefix(ctx, "cannot export %s to \"%s\"", t->name, dir);
	return r;
}

int kiln_build_publish(struct kiln_ctx *ctx, struct kiln_store *s,
		       const struct kiln_build_target *t, size_t n,
		       const struct kiln_build_publish_options *o,
		       struct kiln_build_published **ret)
{
	struct kiln_build_published *p = calloc(n ? n : 1, sizeof(*p));
	const char *tag = o->tag ? o->tag : "latest";
	int r = 0;

	if (!p)
		return -ENOMEM;
	if (n > 1 && o->export_dir && mkdir(o->export_dir, 0755) < 0 && errno != EEXIST)
		r = kiln_error(ctx, errno, "cannot make the output directory \"%s\": %m",
			       o->export_dir);
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = name_target(ctx, s, &t[i], tag, o->out_dir, &p[i]);
		if (r < 0 || !o->export_dir)
			continue;
		p[i].export_dir =
		    n == 1 ? strdup(o->export_dir) : path_join(o->export_dir, t[i].name);
		r = p[i].export_dir ? export_target(ctx, s, &t[i], p[i].export_dir) : -ENOMEM;
	}
	if (r < 0) {
		kiln_build_published_free(p, n);
		return r;
	}
	*ret = p;
	return 0;
}
