/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * _out/images.json: what was pushed, keyed by name, so that the next step
 * of a build reads "host/repo:tag@sha256:..." from a file instead of a
 * person copying it out of a log. A JSON object rather than an array: a
 * re-push of a name replaces its entry, and readers look names up
 * directly (jq -r '.["127.0.0.1:5005/user/pkg:v1"].reference').
 */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "fileio.h"
#include "json-parse.h"
#include "json.h"
#include "log.h"
#include "registry-internal.h"

#define IMAGES_JSON "images.json"
#define IMAGES_JSON_MAX (16u << 20)

static int cmp_member(const void *a, const void *b)
{
	const struct json_member *x = *(const struct json_member *const *)a;
	const struct json_member *y = *(const struct json_member *const *)b;
	int c = memcmp(x->key, y->key, x->key_len < y->key_len ? x->key_len : y->key_len);

	return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static void unlockp(int *fd)
{
	if (*fd >= 0) {
		flock(*fd, LOCK_UN);
		close(*fd);
	}
}

int kiln_images_json_record(struct kiln_ctx *ctx, const char *dir, const char *name,
			    const char *reference, const struct kiln_descriptor *d)
{
	_cleanup_(unlockp) int dfd = -1;
	_cleanup_free_ char *path = path_join(dir, IMAGES_JSON), *text = NULL;
	_cleanup_free_ const struct json_member **members = NULL;
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct json_member ours = { .key = name, .key_len = strlen(name) };
	const struct json_value *root = NULL;
	struct json_writer w;
	size_t len = 0, n = 0;
	int r;

	if (!path)
		return -ENOMEM;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return kiln_error(ctx, errno, "cannot create %s: %m", dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return kiln_error(ctx, errno, "cannot open %s: %m", dir);
	/* two pushes finishing at once must not lose each other's entry */
	while (flock(dfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return kiln_error(ctx, errno, "cannot lock %s: %m", dir);

	r = read_file_at(dfd, IMAGES_JSON, IMAGES_JSON_MAX, &text, &len);
	if (r < 0 && r != -ENOENT)
		return kiln_error(ctx, r, "cannot read %s: %s", path, strerror(-r));
	if (r >= 0) {
		r = json_parse(ctx, path, text, len, &doc);
		if (r < 0)
			return r;
		root = json_doc_root(doc);
		if (root->type != JSON_OBJECT)
			return kiln_error(ctx, EBADMSG,
					  "%s is not a JSON object of images: fix or remove it",
					  path);
	}
	members = calloc((root ? root->obj.n : 0) + 1, sizeof(*members));
	if (!members)
		return -ENOMEM;
	for (size_t i = 0; root && i < root->obj.n; i++)
		if (!(root->obj.m[i].key_len == ours.key_len &&
		      memcmp(root->obj.m[i].key, name, ours.key_len) == 0))
			members[n++] = &root->obj.m[i];
	members[n++] = &ours;
	qsort(members, n, sizeof(*members), cmp_member);

	json_init(&w, &out);
	json_begin_object(&w);
	for (size_t i = 0; i < n; i++) {
		json_key_len(&w, members[i]->key, members[i]->key_len);
		if (members[i] != &ours) {
			/* another entry: written back as it was read */
			json_write_value(&w, members[i]->value);
			continue;
		}
		json_begin_object(&w);
		json_kv_string(&w, "reference", reference);
		json_kv_string(&w, "digest", d->digest.s);
		json_kv_string(&w, "mediaType", d->media_type);
		json_key(&w, "size");
		json_uint(&w, d->size);
		json_end_object(&w);
	}
	json_end_object(&w);
	if (w.error < 0)
		return -ENOMEM;
	r = write_file_atomic(path, out.buf, out.len, 0644);
	if (r < 0)
		return kiln_error(ctx, r, "cannot write %s: %s", path, strerror(-r));
	return 0;
}
