/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The store of lib/oci: blobs (put, read, verify, corruption), streaming
 * writers, refs (set, move, remove, list, resolve), gc, loading images, and
 * two processes updating refs at once; each test in a fresh temporary
 * directory.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <kiln/layer.h>
#include <kiln/oci.h>

#include "fileio.h"
#include "strbuf.h"
#include "tap.h"

#define EMPTY_SHA "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct kiln_ctx *new_ctx(void)
{
	struct kiln_ctx *ctx = NULL;

	if (kiln_ctx_new(&ctx) < 0)
		abort();
	return ctx;
}

/* ---- the store ---- */

/* An image of one layer @layer for @arch: layer, config and manifest blobs; its descriptor. */
static int make_image(struct kiln_ctx *ctx, struct kiln_store *s, const char *arch,
		      const char *layer, struct kiln_descriptor *ret)
{
	struct kiln_digest layer_d, config_d, manifest_d;
	_cleanup_free_ char *config = NULL, *manifest = NULL;
	size_t config_len, manifest_len;
	char *mt;
	int r;

	r = kiln_store_put_blob(ctx, s, layer, strlen(layer), &layer_d);
	if (r < 0)
		return r;
	if (asprintf(&config,
		     "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Labels\":"
		     "{\"org.opencontainers.image.source\":\"https://example.com/kiln\"}},"
		     "\"created\":\"2024-01-01T00:00:00Z\",\"rootfs\":{\"type\":\"layers\","
		     "\"diff_ids\":[\"%s\"]}}",
		     arch, layer_d.s) < 0)
		return -ENOMEM;
	config_len = strlen(config);
	r = kiln_store_put_blob(ctx, s, config, config_len, &config_d);
	if (r < 0)
		return r;
	if (asprintf(&manifest,
		     "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
		     "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\","
		     "\"digest\":\"%s\",\"size\":%zu}]}",
		     KILN_MT_OCI_MANIFEST, KILN_MT_OCI_CONFIG, config_d.s, config_len,
		     KILN_MT_OCI_LAYER, layer_d.s, strlen(layer)) < 0)
		return -ENOMEM;
	manifest_len = strlen(manifest);
	r = kiln_store_put_blob(ctx, s, manifest, manifest_len, &manifest_d);
	if (r < 0)
		return r;
	mt = strdup(KILN_MT_OCI_MANIFEST);
	if (!mt)
		return -ENOMEM;
	*ret = (struct kiln_descriptor){
		.media_type = mt,
		.digest = manifest_d,
		.size = manifest_len,
	};
	return 0;
}

static bool blob_file_exists(const char *store, const struct kiln_digest *d)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", store, kiln_digest_hex(d));
	return access(path, F_OK) == 0;
}

static size_t count_files(const char *dir)
{
	char cmd[512];
	FILE *f;
	size_t n = 0;
	int c;

	snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
	f = popen(cmd, "r");
	if (!f)
		return (size_t)-1;
	while ((c = fgetc(f)) != EOF)
		if (c == '\n')
			n++;
	pclose(f);
	return n;
}

TEST(store_layout_and_cache_dir)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_free_ char *layout = NULL, *index = NULL, *cache = NULL, *sub = NULL;
	_cleanup_free_ char *layout_path = NULL;
	size_t len;

	sub = path_join(dir, "a/b/store");
	ASSERT_OK(kiln_store_open(ctx, sub, &s));
	ASSERT_STREQ(kiln_store_path(s), sub);
	layout_path = path_join(sub, "oci-layout");
	ASSERT_OK(read_file_at(AT_FDCWD, layout_path, 100, &layout, &len));
	ASSERT_STREQ(layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
	{
		_cleanup_free_ char *p = path_join(sub, "index.json");

		ASSERT_OK(read_file_at(AT_FDCWD, p, 1000, &index, &len));
	}
	ASSERT_STREQ(index, "{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_OCI_INDEX
			    "\",\"manifests\":[]}");
	kiln_store_free(TAKE_PTR(s));

	/* another layout version is refused, not overwritten */
	{
		_cleanup_free_ char *p = path_join(sub, "oci-layout");

		ASSERT_OK(write_file_atomic(p, "{\"imageLayoutVersion\":\"2.0.0\"}", 30, 0644));
	}
	ASSERT_EQ(kiln_store_open(ctx, sub, &s), -EOPNOTSUPP);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "imageLayoutVersion");

	setenv("KILN_CACHE_DIR", "/x/y", 1);
	ASSERT_OK(kiln_cache_dir(ctx, NULL, &cache));
	ASSERT_STREQ(cache, "/x/y");
	free(cache);
	ASSERT_OK(kiln_cache_dir(ctx, "/given", &cache));
	ASSERT_STREQ(cache, "/given");
	free(cache);
	unsetenv("KILN_CACHE_DIR");
	setenv("XDG_CACHE_HOME", "/c", 1);
	ASSERT_OK(kiln_cache_dir(ctx, NULL, &cache));
	ASSERT_STREQ(cache, "/c/kiln");
	free(cache);
	setenv("XDG_CACHE_HOME", "relative", 1);
	setenv("HOME", "/home/k", 1);
	ASSERT_OK(kiln_cache_dir(ctx, NULL, &cache));
	ASSERT_STREQ(cache, "/home/k/.cache/kiln");
	/* NULL opens <cache>/store */
	setenv("KILN_CACHE_DIR", dir, 1);
	ASSERT_OK(kiln_store_open(ctx, NULL, &s));
	ASSERT_TRUE(strstr(kiln_store_path(s), "/store") != NULL);
	unsetenv("KILN_CACHE_DIR");
}

TEST(store_put_read_verify)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_free_ char *buf = NULL, *tmp = NULL;
	_cleanup_close_ int fd = -1;
	struct kiln_digest d, missing;
	uint64_t size = 0;
	size_t len;

	ASSERT_OK(kiln_store_open(ctx, dir, &s));
	ASSERT_OK(kiln_store_put_blob(ctx, s, "hello", 5, &d));
	ASSERT_EQ(kiln_store_has_blob(s, &d, &size), 1);
	ASSERT_EQ(size, 5);
	ASSERT_OK(kiln_store_read_blob(ctx, s, &d, 100, &buf, &len));
	ASSERT_EQ(len, 5);
	ASSERT_STREQ(buf, "hello");
	/* the same content again is a no-op */
	ASSERT_OK(kiln_store_put_blob(ctx, s, "hello", 5, &d));
	fd = kiln_store_open_blob(s, &d);
	ASSERT_OK(fd);
	free(TAKE_PTR(buf));
	ASSERT_EQ(kiln_store_read_blob(ctx, s, &d, 4, &buf, &len), -EFBIG);

	ASSERT_OK(kiln_digest_of(ctx, "nope", 4, &missing));
	ASSERT_EQ(kiln_store_has_blob(s, &missing, NULL), 0);
	ASSERT_EQ(kiln_store_open_blob(s, &missing), -ENOENT);
	ASSERT_EQ(kiln_store_read_blob(ctx, s, &missing, 100, &buf, &len), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "is not in the store");
	tmp = path_join(dir, "tmp");
	ASSERT_EQ(count_files(tmp), 0);
}

TEST(store_corrupt_blob_detected_and_removed)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_free_ char *buf = NULL, *path = NULL;
	struct kiln_digest d;
	size_t len;
	char rel[100];

	ASSERT_OK(kiln_store_open(ctx, dir, &s));
	ASSERT_OK(kiln_store_put_blob(ctx, s, "good content", 12, &d));
	snprintf(rel, sizeof(rel), "blobs/sha256/%s", kiln_digest_hex(&d));
	path = path_join(dir, rel);
	/* blobs are read-only; write_file_atomic replaces the file (as a bad disk or hand might) */
	ASSERT_OK(write_file_atomic(path, "evil content", 12, 0644));
	ASSERT_EQ(kiln_store_read_blob(ctx, s, &d, 100, &buf, &len), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "is corrupt");
	ASSERT_CONTAINS(kiln_ctx_error(ctx), d.s);
	ASSERT_FALSE(blob_file_exists(dir, &d));
	ASSERT_EQ(kiln_store_has_blob(s, &d, NULL), 0);
}

TEST(store_writer_commit_and_mismatch)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_free_ char *tmp = NULL;
	struct kiln_blob_writer *w = NULL;
	struct kiln_digest want, got, wrong;

	ASSERT_OK(kiln_store_open(ctx, dir, &s));
	tmp = path_join(dir, "tmp");
	ASSERT_OK(kiln_digest_of(ctx, "abcdef", 6, &want));

	ASSERT_OK(kiln_blob_writer_new(ctx, s, &w));
	ASSERT_EQ(count_files(tmp), 1);
	ASSERT_OK(kiln_blob_writer_write(w, "abc", 3));
	ASSERT_OK(kiln_blob_writer_write(w, "def", 3));
	ASSERT_EQ(kiln_blob_writer_size(w), 6);
	ASSERT_OK(kiln_blob_writer_commit(ctx, w, &want, &got));
	ASSERT_STREQ(got.s, want.s);
	ASSERT_EQ(kiln_blob_writer_commit(ctx, w, &want, &got), -EINVAL);
	kiln_blob_writer_free(w);
	ASSERT_TRUE(blob_file_exists(dir, &want));
	ASSERT_EQ(count_files(tmp), 0);

	/* a stream that is not what was expected never lands, under either name */
	ASSERT_OK(kiln_digest_of(ctx, "abcdeX", 6, &wrong));
	ASSERT_OK(kiln_blob_writer_new(ctx, s, &w));
	ASSERT_OK(kiln_blob_writer_write(w, "abcdeX", 6));
	ASSERT_EQ(kiln_blob_writer_commit(ctx, w, &want, &got), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "digest mismatch: expected");
	ASSERT_CONTAINS(kiln_ctx_error(ctx), wrong.s);
	kiln_blob_writer_free(w);
	ASSERT_FALSE(blob_file_exists(dir, &wrong));
	ASSERT_EQ(count_files(tmp), 0);

	/* freed without commit: aborted */
	ASSERT_OK(kiln_blob_writer_new(ctx, s, &w));
	ASSERT_OK(kiln_blob_writer_write(w, "partial", 7));
	kiln_blob_writer_free(w);
	ASSERT_EQ(count_files(tmp), 0);

	/* without an expected digest it lands under what it hashes to */
	ASSERT_OK(kiln_blob_writer_new(ctx, s, &w));
	ASSERT_OK(kiln_blob_writer_commit(ctx, w, NULL, &got));
	kiln_blob_writer_free(w);
	ASSERT_STREQ(got.s, EMPTY_SHA);
	ASSERT_TRUE(blob_file_exists(dir, &got));
}

TEST(store_refs_set_move_remove_list)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor a = { 0 }, b = { 0 }, got = { 0 };
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	struct kiln_descriptor bogus = { 0 };
	char **names = NULL;
	int n;

	ASSERT_OK(kiln_store_open(ctx, dir, &s));
	ASSERT_OK(make_image(ctx, s, "amd64", "layer a", &a));
	ASSERT_OK(make_image(ctx, s, "amd64", "layer b", &b));

	ASSERT_OK(kiln_store_set_ref(ctx, s, "docker.io/library/x:1", &a));
	ASSERT_OK(kiln_store_set_ref(ctx, s, "127.0.0.1:5005/kiln/test:v1", &a));
	ASSERT_OK(kiln_store_get_ref(ctx, s, "docker.io/library/x:1", &got));
	ASSERT_STREQ(got.digest.s, a.digest.s);
	ASSERT_STREQ(kiln_annotation_get(got.annotations, got.n_annotations,
					 KILN_ANNOTATION_REF_NAME),
		     "docker.io/library/x:1");
	ASSERT_STREQ(kiln_annotation_get(got.annotations, got.n_annotations,
					 KILN_ANNOTATION_IMAGE_NAME),
		     "docker.io/library/x:1");
	kiln_descriptor_release(&got);

	/* moving a ref */
	ASSERT_OK(kiln_store_set_ref(ctx, s, "docker.io/library/x:1", &b));
	ASSERT_OK(kiln_store_get_ref(ctx, s, "docker.io/library/x:1", &got));
	ASSERT_STREQ(got.digest.s, b.digest.s);
	kiln_descriptor_release(&got);
	ASSERT_OK(kiln_store_read_index(ctx, s, &idx));
	ASSERT_EQ(idx->n_manifests, 2);

	n = kiln_store_list_refs(ctx, s, &names);
	ASSERT_EQ(n, 2);
	ASSERT_STREQ(names[0], "127.0.0.1:5005/kiln/test:v1");
	ASSERT_STREQ(names[1], "docker.io/library/x:1");
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);

	/* resolving: exact, normalized, by digest, by name@digest */
	ASSERT_OK(kiln_store_resolve(ctx, s, "x:1", &got));
	ASSERT_STREQ(got.digest.s, b.digest.s);
	kiln_descriptor_release(&got);
	ASSERT_OK(kiln_store_resolve(ctx, s, a.digest.s, &got));
	ASSERT_STREQ(got.media_type, KILN_MT_OCI_MANIFEST);
	ASSERT_EQ(got.size, a.size);
	kiln_descriptor_release(&got);
	{
		_cleanup_free_ char *r = NULL;

		ASSERT_TRUE(asprintf(&r, "x:1@%s", a.digest.s) > 0);
		ASSERT_OK(kiln_store_resolve(ctx, s, r, &got));
		ASSERT_STREQ(got.digest.s, a.digest.s);
		kiln_descriptor_release(&got);
	}
	ASSERT_EQ(kiln_store_resolve(ctx, s, "x:2", &got), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "no image named x:2 (docker.io/library/x:2)");
	ASSERT_EQ(kiln_store_resolve(ctx, s, "Bad:x:y", &got), -EINVAL);

	/* refusals: a name not in full form, a blob that is not there, a layer */
	ASSERT_EQ(kiln_store_set_ref(ctx, s, "x:1", &a), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "would be \"docker.io/library/x:1\"");
	bogus = (struct kiln_descriptor){ .media_type = (char *)KILN_MT_OCI_MANIFEST, .size = 3 };
	ASSERT_OK(kiln_digest_of(ctx, "nope", 4, &bogus.digest));
	ASSERT_EQ(kiln_store_set_ref(ctx, s, "docker.io/library/x:2", &bogus), -ENOENT);
	bogus.digest = a.digest;
	ASSERT_EQ(kiln_store_set_ref(ctx, s, "docker.io/library/x:2", &bogus), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "the descriptor says 3 bytes");
	bogus.size = a.size;
	bogus.media_type = (char *)KILN_MT_OCI_LAYER;
	ASSERT_EQ(kiln_store_set_ref(ctx, s, "docker.io/library/x:2", &bogus), -EINVAL);

	ASSERT_OK(kiln_store_remove_ref(ctx, s, "docker.io/library/x:1"));
	ASSERT_EQ(kiln_store_get_ref(ctx, s, "docker.io/library/x:1", &got), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "docker.io/library/x:1");
	ASSERT_EQ(kiln_store_remove_ref(ctx, s, "docker.io/library/x:1"), -ENOENT);
	n = kiln_store_list_refs(ctx, s, &names);
	ASSERT_EQ(n, 1);
	free(names[0]);
	free(names);
}

TEST(store_gc_keeps_reachable)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor a = { 0 }, b = { 0 }, c = { 0 };
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor ix = { 0 };
	_cleanup_free_ char *index = NULL, *tmp = NULL;
	struct kiln_gc_stats st;
	struct kiln_digest junk, layer_b, layer_c;
	int stale;

	ASSERT_OK(kiln_store_open(ctx, dir, &s));
	ASSERT_OK(make_image(ctx, s, "amd64", "layer a", &a));
	ASSERT_OK(make_image(ctx, s, "arm64", "layer b", &b));
	ASSERT_OK(make_image(ctx, s, "amd64", "layer c", &c));
	ASSERT_OK(kiln_store_put_blob(ctx, s, "junk", 4, &junk));
	ASSERT_OK(kiln_digest_of(ctx, "layer b", 7, &layer_b));
	ASSERT_OK(kiln_digest_of(ctx, "layer c", 7, &layer_c));
	/* an index over a and b, tagged; c is tagged, then untagged */
	ASSERT_TRUE(asprintf(&index,
			     "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":["
			     "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%ju,"
			     "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
			     "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%ju,"
			     "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}",
			     KILN_MT_OCI_INDEX, KILN_MT_OCI_MANIFEST, a.digest.s, (uintmax_t)a.size,
			     KILN_MT_OCI_MANIFEST, b.digest.s, (uintmax_t)b.size) > 0);
	ASSERT_OK(kiln_store_put_blob(ctx, s, index, strlen(index), &ix.digest));
	ix.size = strlen(index);
	ix.media_type = strdup(KILN_MT_OCI_INDEX);
	ASSERT_OK(kiln_store_set_ref(ctx, s, "docker.io/library/multi:1", &ix));
	ASSERT_OK(kiln_store_set_ref(ctx, s, "docker.io/library/c:1", &c));
	ASSERT_OK(kiln_store_remove_ref(ctx, s, "docker.io/library/c:1"));
	/* a writer that died: its temporary file, locked by nobody */
	tmp = path_join(dir, "tmp/blob-1-dead");
	stale = open(tmp, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ASSERT_OK(stale);
	close(stale);

	/* dry run: counts, removes nothing */
	ASSERT_OK(kiln_store_gc_with(ctx, s, &(struct kiln_gc_options){ .dry_run = true }, &st));
	ASSERT_EQ(st.blobs_removed, 4); /* junk, c's manifest, config and layer */
	ASSERT_TRUE(blob_file_exists(dir, &junk));
	ASSERT_EQ(access(tmp, F_OK), 0);

	ASSERT_OK(kiln_store_gc(ctx, s, &st));
	ASSERT_EQ(st.blobs_removed, 4);
	ASSERT_EQ(st.blobs_kept, 7); /* index, 2 x (manifest, config, layer) */
	ASSERT_TRUE(st.bytes_removed > 4 + c.size + 7);
	ASSERT_FALSE(blob_file_exists(dir, &junk));
	ASSERT_FALSE(blob_file_exists(dir, &c.digest));
	ASSERT_FALSE(blob_file_exists(dir, &layer_c));
	ASSERT_TRUE(blob_file_exists(dir, &ix.digest));
	ASSERT_TRUE(blob_file_exists(dir, &b.digest));
	ASSERT_TRUE(blob_file_exists(dir, &layer_b));
	ASSERT_TRUE(access(tmp, F_OK) < 0);

	/* everything is still loadable */
	{
		_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
		_cleanup_(kiln_platform_release) struct kiln_platform arm = { 0 };

		ASSERT_OK(kiln_platform_parse(ctx, "linux/arm64", &arm));
		ASSERT_OK(kiln_store_load_image(ctx, s, "multi:1", &arm, &img));
		ASSERT_STREQ(img->manifest_desc.digest.s, b.digest.s);
		ASSERT_TRUE(img->from_index);
		ASSERT_STREQ(img->index_desc.digest.s, ix.digest.s);
		ASSERT_STREQ(img->config->architecture, "arm64");
		ASSERT_STREQ(img->manifest->layers[0].digest.s, layer_b.s);
	}
	/* a second gc finds nothing */
	ASSERT_OK(kiln_store_gc(ctx, s, &st));
	ASSERT_EQ(st.blobs_removed, 0);
}

TEST(store_gc_refuses_while_shared)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL, *other = NULL;
	struct kiln_gc_stats st;

	ASSERT_OK(kiln_store_open(ctx, dir, &s));
	ASSERT_OK(kiln_store_open(ctx, dir, &other));
	ASSERT_EQ(kiln_store_gc(ctx, s, &st), -EBUSY);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "in use");
	kiln_store_free(TAKE_PTR(other));
	/* the failed attempt kept this handle's lease; with the other gone, gc runs */
	ASSERT_OK(kiln_store_gc(ctx, s, &st));
}

TEST(store_gc_stops_on_unreadable_manifest)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor a = { 0 };
	struct kiln_descriptor weird = { .media_type = (char *)KILN_MT_OCI_MANIFEST };
	struct kiln_digest junk;
	struct kiln_gc_stats st;
	/* valid JSON with the right digest, but not a manifest kiln can read */
	const char *bad = "{\"schemaVersion\":3}";

	ASSERT_OK(kiln_store_open(ctx, dir, &s));
	ASSERT_OK(make_image(ctx, s, "amd64", "layer a", &a));
	ASSERT_OK(kiln_store_put_blob(ctx, s, "junk", 4, &junk));
	ASSERT_OK(kiln_store_put_blob(ctx, s, bad, strlen(bad), &weird.digest));
	weird.size = strlen(bad);
	ASSERT_OK(kiln_store_set_ref(ctx, s, "docker.io/library/weird:1", &weird));
	ASSERT_EQ(kiln_store_gc(ctx, s, &st), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "gc stopped, nothing was removed");
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "docker.io/library/weird:1");
	ASSERT_TRUE(blob_file_exists(dir, &junk));
}

TEST(store_concurrent_refs_from_two_processes)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor a = { 0 };
	char **names = NULL;
	pid_t pids[2];
	int n;

	ASSERT_OK(kiln_store_open(ctx, dir, &s));
	ASSERT_OK(make_image(ctx, s, "amd64", "layer a", &a));
	for (int p = 0; p < 2; p++) {
		pids[p] = fork();
		ASSERT_TRUE(pids[p] >= 0);
		if (pids[p] == 0) {
			struct kiln_ctx *cctx = new_ctx();
			struct kiln_store *cs = NULL;

			if (kiln_store_open(cctx, dir, &cs) < 0)
				_exit(1);
			for (int i = 0; i < 40; i++) {
				char name[64];

				snprintf(name, sizeof(name), "docker.io/library/p%d:%d", p, i);
				if (kiln_store_set_ref(cctx, cs, name, &a) < 0)
					_exit(2);
			}
			kiln_store_free(cs);
			kiln_ctx_free(cctx);
			_exit(0);
		}
	}
	for (int p = 0; p < 2; p++) {
		int status;

		ASSERT_EQ(waitpid(pids[p], &status, 0), pids[p]);
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	n = kiln_store_list_refs(ctx, s, &names);
	ASSERT_EQ(n, 80);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

TEST(store_load_image_errors)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor a = { 0 }, ix = { 0 };
	_cleanup_(kiln_platform_release) struct kiln_platform arm = { 0 }, amd = { 0 };
	_cleanup_free_ char *index = NULL;
	struct kiln_image *img = NULL;

	ASSERT_OK(kiln_store_open(ctx, dir, &s));
	ASSERT_OK(make_image(ctx, s, "amd64", "layer a", &a));
	ASSERT_OK(kiln_store_set_ref(ctx, s, "docker.io/library/a:1", &a));
	ASSERT_OK(kiln_platform_parse(ctx, "linux/arm64", &arm));
	ASSERT_OK(kiln_platform_parse(ctx, "linux/amd64", &amd));

	ASSERT_EQ(kiln_store_load_image(ctx, s, "nothere", NULL, &img), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "no image named nothere");
	/* a plain manifest: any platform when none is asked for, else it must match */
	ASSERT_OK(kiln_store_load_image(ctx, s, "a:1", NULL, &img));
	ASSERT_FALSE(img->from_index);
	ASSERT_EQ(img->config->n_labels, 1);
	kiln_image_free(TAKE_PTR(img));
	ASSERT_OK(kiln_store_load_image(ctx, s, a.digest.s, &amd, &img));
	kiln_image_free(TAKE_PTR(img));
	ASSERT_EQ(kiln_store_load_image(ctx, s, "a:1", &arm, &img), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "is an image for linux/amd64, not linux/arm64");

	ASSERT_TRUE(asprintf(&index,
			     "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\","
			     "\"digest\":\"%s\",\"size\":%ju,\"platform\":{\"architecture\":"
			     "\"amd64\",\"os\":\"linux\"}},{\"mediaType\":\"%s\",\"digest\":\"%s\","
			     "\"size\":%ju,\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\","
			     "\"variant\":\"v7\"}}]}",
			     KILN_MT_OCI_MANIFEST, a.digest.s, (uintmax_t)a.size,
			     KILN_MT_OCI_MANIFEST, a.digest.s, (uintmax_t)a.size) > 0);
	ASSERT_OK(kiln_store_put_blob(ctx, s, index, strlen(index), &ix.digest));
	ix.size = strlen(index);
	ix.media_type = strdup(KILN_MT_OCI_INDEX);
	ASSERT_OK(kiln_store_set_ref(ctx, s, "docker.io/library/m:1", &ix));
	ASSERT_EQ(kiln_store_load_image(ctx, s, "m:1", &arm, &img), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx),
			"m:1 has no image for linux/arm64 (it has: linux/amd64, linux/arm/v7)");
	/* by digest, an index is sniffed as one */
	ASSERT_OK(kiln_store_load_image(ctx, s, ix.digest.s, &amd, &img));
	ASSERT_TRUE(img->from_index);
	kiln_image_free(TAKE_PTR(img));

	/* a ref whose manifest was lost */
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, kiln_digest_hex(&a.digest));
		ASSERT_OK(unlink(path));
	}
	ASSERT_EQ(kiln_store_load_image(ctx, s, "a:1", NULL, &img), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "a:1: blob");
}

/* A failed call leaves the caller's *ret as it was: nothing half made, nothing freed. */
TEST(store_failures_leave_ret_untouched)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = tap_temp_dir("test-oci-store"),
			     *tree = tap_temp_dir("test-oci-store");
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_platform_release) struct kiln_platform amd = { 0 };
	_cleanup_free_ char *index = NULL;
	char sentinel[] = "sentinel";
	struct kiln_descriptor d = { .media_type = sentinel, .size = 42 };
	const struct kiln_image_options o = {
		.platform = &amd,
		.created = 1700000000,
		.layer = { .compression = KILN_COMPRESSION_NONE },
	};
	struct kiln_digest missing;

	ASSERT_OK(kiln_store_open(ctx, dir, &s));
	ASSERT_OK(kiln_platform_parse(ctx, "linux/amd64", &amd));
	ASSERT_OK(kiln_digest_parse(ctx, "sha256:" HEX_B, &missing));

	ASSERT_EQ(kiln_store_resolve(ctx, s, missing.s, &d), -ENOENT);
	ASSERT_EQ(kiln_store_get_ref(ctx, s, "docker.io/library/none:1", &d), -ENOENT);
	ASSERT_EQ(kiln_image_from_dir(ctx, s, tree, "example.com/x@sha256:" HEX_B, &o, &d),
		  -EINVAL);
	ASSERT_TRUE(d.media_type == sentinel);
	ASSERT_EQ(d.size, 42);

	/* the image is stored, but naming it fails: its descriptor was made, and must not leak */
	ASSERT_TRUE(asprintf(&index, "%s/index.json", dir) > 0);
	ASSERT_OK(write_file_atomic(index, "[", 1, 0644));
	ASSERT_EQ(kiln_image_from_dir(ctx, s, tree, "kiln/test:one", &o, &d), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "index.json");
	ASSERT_TRUE(d.media_type == sentinel);
	ASSERT_EQ(d.size, 42);
}

TAP_MAIN
