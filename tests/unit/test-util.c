/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "fileio.h"
#include "hex.h"
#include "json-parse.h"
#include "json.h"
#include "log.h"
#include "strbuf.h"
#include "strmap.h"
#include "tap.h"

TEST(strbuf_grows_and_detaches)
{
	struct strbuf sb = STRBUF_INIT;
	char *s;
	size_t len;

	ASSERT_STREQ(strbuf_str(&sb), "");
	for (int i = 0; i < 1000; i++)
		ASSERT_OK(strbuf_addf(&sb, "%d,", i));
	ASSERT_EQ(sb.len, strlen(sb.buf));
	ASSERT_TRUE(strncmp(sb.buf, "0,1,2,", 6) == 0);
	s = strbuf_detach(&sb, &len);
	ASSERT_EQ(len, strlen(s));
	ASSERT_TRUE(sb.buf == NULL && sb.len == 0);
	free(s);

	/* an empty buffer still detaches as an allocated "" */
	s = strbuf_detach(&sb, NULL);
	ASSERT_STREQ(s, "");
	free(s);
}

TEST(strmap_set_get_overwrite)
{
	_cleanup_strmap_ struct strmap m = STRMAP_INIT;
	char key[32];

	ASSERT_TRUE(strmap_get(&m, "x") == NULL);
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "K%d", i);
		ASSERT_OK(strmap_set(&m, key, key));
	}
	ASSERT_EQ(m.n_entries, 500);
	ASSERT_STREQ(strmap_get(&m, "K321"), "K321");
	ASSERT_OK(strmap_set(&m, "K321", "new"));
	ASSERT_EQ(m.n_entries, 500);
	ASSERT_STREQ(strmap_get(&m, "K321"), "new");
	/* a key is not found by a prefix of it */
	ASSERT_TRUE(strmap_find(&m, "K32", 3) != NULL);
	ASSERT_TRUE(strmap_get(&m, "K") == NULL);
}

TEST(strmap_sorted_and_merge)
{
	_cleanup_strmap_ struct strmap a = STRMAP_INIT, b = STRMAP_INIT;
	_cleanup_free_ const struct strmap_entry **v = NULL;
	int n;

	ASSERT_OK(strmap_set(&a, "b", "1"));
	ASSERT_OK(strmap_set(&a, "a", "1"));
	ASSERT_OK(strmap_set(&b, "b", "2"));
	ASSERT_OK(strmap_set(&b, "c", "2"));
	ASSERT_OK(strmap_merge(&a, &b));
	n = strmap_sorted(&a, &v);
	ASSERT_EQ(n, 3);
	ASSERT_STREQ(v[0]->key, "a");
	ASSERT_STREQ(v[1]->key, "b");
	ASSERT_STREQ(v[1]->value, "2");
	ASSERT_STREQ(v[2]->key, "c");
}

TEST(json_escapes_and_nests)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	json_begin_object(&w);
	json_kv_string(&w, "s", "a\"b\\c\n\x01");
	json_kv_string(&w, "null", NULL);
	json_key(&w, "bad-utf8");
	json_string(&w, "\xff\xc3\xa9");
	json_key(&w, "list");
	json_begin_array(&w);
	json_int(&w, -5);
	json_bool(&w, true);
	json_end_array(&w);
	json_key(&w, "empty");
	json_begin_array(&w);
	json_end_array(&w);
	json_end_object(&w);
	ASSERT_STREQ(sb.buf, "{\n"
			     "  \"s\": \"a\\\"b\\\\c\\n\\u0001\",\n"
			     "  \"null\": null,\n"
			     "  \"bad-utf8\": \"\\ufffd\xc3\xa9\",\n"
			     "  \"list\": [\n"
			     "    -5,\n"
			     "    true\n"
			     "  ],\n"
			     "  \"empty\": []\n"
			     "}\n");
}

TEST(hex_encode_cases_and_separators)
{
	static const unsigned char b[] = { 0x00, 0x9f, 0xa5, 0xff };
	char out[12];

	ASSERT_EQ(hex_encoded_size(sizeof(b), ':'), sizeof(out));
	ASSERT_EQ(hex_encoded_size(sizeof(b), 0), 9);
	ASSERT_TRUE(hex_encode(out, b, sizeof(b), 0, false) == out + 8);
	ASSERT_STREQ(out, "009fa5ff");
	ASSERT_TRUE(hex_encode(out, b, sizeof(b), ':', true) == out + 11);
	ASSERT_STREQ(out, "00:9F:A5:FF");
	ASSERT_TRUE(hex_encode(out, b, 0, ':', true) == out);
	ASSERT_STREQ(out, "");
}

TEST(path_join_one_slash)
{
	_cleanup_free_ char *a = path_join("a/", "/b"), *b = path_join("/", "x"), *c = path_join("a", "b");

	ASSERT_STREQ(a, "a/b");
	ASSERT_STREQ(b, "/x");
	ASSERT_STREQ(c, "a/b");
}

TEST(atomic_write_and_capped_read)
{
	_cleanup_free_ char *dir = tap_temp_dir("test-util"), *path = NULL, *buf = NULL;
	size_t len;
	struct stat st;

	path = path_join(dir, "f");
	ASSERT_OK(write_file_atomic(path, "hello", 5, 0640));
	ASSERT_OK(stat(path, &st));
	ASSERT_EQ(st.st_mode & 0777, 0640);
	ASSERT_OK(read_file_at(AT_FDCWD, path, 5, &buf, &len));
	ASSERT_EQ(len, 5);
	ASSERT_STREQ(buf, "hello");
	ASSERT_EQ(read_file_at(AT_FDCWD, path, 4, &buf, &len), -EFBIG);
	ASSERT_EQ(read_file_at(AT_FDCWD, dir, 100, &buf, &len), -EISDIR);
	unlink(path);
	rmdir(dir);
}

/* What a killed writer leaves is hidden, and the next writer of the same path sweeps it. */
TEST(atomic_temporaries_are_hidden_and_swept)
{
	_cleanup_free_ char *dir = tap_temp_dir("test-util"), *path = NULL, *other = NULL;
	_cleanup_(atomic_file_release) struct atomic_file live = { .fd = -1 };
	_cleanup_(atomic_dir_release) struct atomic_dir d = { .fd = -1 };
	struct atomic_file dead = { .fd = -1 };
	const char *slash;
	struct stat st;

	path = path_join(dir, "out");
	other = path_join(dir, "other");
	/* a writer killed before its rename: its file is there, no lock on it */
	ASSERT_OK(atomic_file_open(path, &dead));
	slash = strrchr(dead.tmp, '/');
	ASSERT_TRUE(atomic_is_temp_name(slash + 1, "out"));
	ASSERT_TRUE(!atomic_is_temp_name(slash + 1, "ou"));
	ASSERT_TRUE(atomic_is_temp_name(slash + 1, NULL));
	ASSERT_TRUE(!atomic_is_temp_name("out", NULL));
	closep(&dead.fd);
	/* one being written, of another path, locked */
	ASSERT_OK(atomic_file_open(other, &live));
	ASSERT_OK(atomic_sweep(path));
	ASSERT_EQ(stat(dead.tmp, &st), -1);
	ASSERT_OK(stat(live.tmp, &st));
	/* a sweep of the whole directory leaves a locked one alone */
	ASSERT_OK(atomic_sweep_dir(dir));
	ASSERT_OK(stat(live.tmp, &st));
	/* a directory: locked while filled, swept once its writer is gone */
	ASSERT_OK(atomic_dir_open(path, &d));
	ASSERT_OK(atomic_sweep(path));
	ASSERT_OK(stat(d.tmp, &st));
	closep(&d.fd);
	ASSERT_OK(atomic_sweep(path));
	ASSERT_EQ(stat(d.tmp, &st), -1);
	free(dead.tmp);
	free(d.tmp);
	d.tmp = NULL;
	atomic_file_release(&live);
	rmdir(dir);
}

/* A mount point below the tree is never entered: what is mounted there stays whole. */
TEST(remove_tree_never_enters_a_mount)
{
	_cleanup_free_ char *dir = tap_temp_dir("test-util"), *tree = NULL, *mnt = NULL;
	_cleanup_free_ char *kept = NULL;
	struct stat st;

	tree = path_join(dir, "tree");
	mnt = path_join(tree, "mnt");
	kept = path_join(mnt, "kept");
	ASSERT_TRUE(tree && mnt && kept);
	/* this test's own process: its mounts go with it */
	if (unshare(CLONE_NEWNS) < 0)
		SKIP_TEST("needs root for a mount namespace");
	ASSERT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ? -errno : 0);
	ASSERT_OK(mkdir(tree, 0755));
	ASSERT_OK(mkdir(mnt, 0755));
	ASSERT_OK(mount("kiln-test", mnt, "tmpfs", 0, "size=1m") < 0 ? -errno : 0);
	ASSERT_OK(write_file_atomic(kept, "x", 1, 0644));
	ASSERT_EQ(remove_tree_at(AT_FDCWD, tree), -EXDEV);
	ASSERT_OK(stat(kept, &st));
	ASSERT_OK(umount2(mnt, MNT_DETACH));
	ASSERT_OK(remove_tree_at(AT_FDCWD, tree));
	ASSERT_EQ(stat(tree, &st), -1);
	rmdir(dir);
}

TEST(error_hint_lives_with_its_error)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	const char *subject = "x";

	ASSERT_OK(kiln_ctx_new(&ctx));
	ASSERT_EQ(kiln_ctx_error_hint(ctx, &subject), KILN_HINT_NONE);
	ASSERT_TRUE(subject == NULL);
	ASSERT_EQ(kiln_error_hint(ctx, KILN_HINT_IMAGE_MISSING, "a:1", ENOENT, "no %s", "a:1"),
		  -ENOENT);
	/* context added above keeps the advice */
	kiln_error_prefix(ctx, "package p");
	ASSERT_STREQ(kiln_ctx_error(ctx), "package p: no a:1");
	ASSERT_EQ(kiln_ctx_error_hint(ctx, &subject), KILN_HINT_IMAGE_MISSING);
	ASSERT_STREQ(subject, "a:1");
	/* the nearer cause's advice wins */
	kiln_error_add_hint(ctx, KILN_HINT_INSECURE, NULL);
	ASSERT_EQ(kiln_ctx_error_hint(ctx, NULL), KILN_HINT_IMAGE_MISSING);
	/* a new error has none of the old one's */
	ASSERT_EQ(kiln_error(ctx, EIO, "other"), -EIO);
	ASSERT_EQ(kiln_ctx_error_hint(ctx, &subject), KILN_HINT_NONE);
	kiln_error_add_hint(ctx, KILN_HINT_INSECURE, NULL);
	ASSERT_EQ(kiln_ctx_error_hint(ctx, &subject), KILN_HINT_INSECURE);
	ASSERT_TRUE(subject == NULL);
	kiln_ctx_clear_error(ctx);
	ASSERT_EQ(kiln_ctx_error_hint(ctx, NULL), KILN_HINT_NONE);
}

TEST(error_of_a_full_filesystem_says_make_room)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;

	ASSERT_OK(kiln_ctx_new(&ctx));
	ASSERT_EQ(kiln_error(ctx, ENOSPC, "cannot write /x"), -ENOSPC);
	ASSERT_EQ(kiln_ctx_error_hint(ctx, NULL), KILN_HINT_NO_SPACE);
	kiln_error_prefix(ctx, "pull");
	ASSERT_EQ(kiln_ctx_error_hint(ctx, NULL), KILN_HINT_NO_SPACE);
	ASSERT_EQ(kiln_error(ctx, -EDQUOT, "cannot write /y"), -EDQUOT);
	ASSERT_EQ(kiln_ctx_error_hint(ctx, NULL), KILN_HINT_NO_SPACE);
	ASSERT_EQ(kiln_error(ctx, EIO, "other"), -EIO);
	ASSERT_EQ(kiln_ctx_error_hint(ctx, NULL), KILN_HINT_NONE);
}

static const char *parse_error(const char *text)
{
	static char buf[256];
	struct kiln_ctx *ctx;
	struct json_doc *doc = NULL;

	if (kiln_ctx_new(&ctx) < 0)
		abort();
	if (json_parse(ctx, "test", text, strlen(text), &doc) == 0)
		snprintf(buf, sizeof(buf), "ok");
	else
		snprintf(buf, sizeof(buf), "%s", kiln_ctx_error(ctx));
	json_doc_free(doc);
	kiln_ctx_free(ctx);
	return buf;
}

TEST(json_parse_values)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	const char *text = "{\"schemaVersion\": 2, \"s\": \"a\\u00e9\\ud83d\\ude00\\n\\u0000z\",\n"
			   " \"layers\": [{\"size\": 18446744073709551615}, {\"size\": -1}, 1.5e3, true, null]}";
	const struct json_value *root, *layers;
	uint64_t n;

	ASSERT_OK(kiln_ctx_new(&ctx));
	ASSERT_OK(json_parse(ctx, "test", text, strlen(text), &doc));
	root = json_doc_root(doc);
	ASSERT_EQ(root->type, JSON_OBJECT);
	ASSERT_OK(json_get_u64(json_get(root, "schemaVersion"), &n));
	ASSERT_EQ(n, 2);
	ASSERT_EQ(json_get(root, "s")->str.len, 10);
	ASSERT_TRUE(memcmp(json_get_string(root, "s"), "a\xc3\xa9\xf0\x9f\x98\x80\n\0z", 10) == 0);
	layers = json_get(root, "layers");
	ASSERT_EQ(layers->arr.n, 5);
	ASSERT_OK(json_get_u64(json_get(layers->arr.v[0], "size"), &n));
	ASSERT_TRUE(n == UINT64_MAX);
	ASSERT_EQ(json_get_u64(json_get(layers->arr.v[1], "size"), &n), -ERANGE);
	ASSERT_EQ(json_get_u64(layers->arr.v[2], &n), -ERANGE);
	ASSERT_EQ(layers->arr.v[3]->type, JSON_TRUE);
	ASSERT_EQ(layers->arr.v[4]->type, JSON_NULL);
	ASSERT_TRUE(json_get(root, "missing") == NULL);
	ASSERT_TRUE(json_get_string(root, "schemaVersion") == NULL);
}

TEST(json_parse_rejects)
{
	char deep[200];

	ASSERT_STREQ(parse_error("{\"a\": 1,\n \"a\": 2}"),
		     "test is not valid JSON: line 2, column 5: duplicate key in object");
	ASSERT_CONTAINS(parse_error("{\"a\": 1} x"), "trailing characters");
	ASSERT_CONTAINS(parse_error("[1, 2"), "expected ',' or ']'");
	ASSERT_CONTAINS(parse_error("\"abc"), "unterminated string");
	ASSERT_CONTAINS(parse_error("\"a\tb\""), "control character");
	ASSERT_CONTAINS(parse_error("\"\xff\""), "not valid UTF-8");
	ASSERT_CONTAINS(parse_error("\"\\ud800\""), "surrogate");
	ASSERT_CONTAINS(parse_error("01"), "trailing characters");
	ASSERT_CONTAINS(parse_error("-"), "bad number");
	ASSERT_CONTAINS(parse_error("tru"), "unexpected character");
	ASSERT_CONTAINS(parse_error(""), "unexpected end of input");
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	ASSERT_CONTAINS(parse_error(deep), "nested too deeply");
	ASSERT_STREQ(parse_error("  {\"ok\": [[], {}, \"\", 0, -0.0e+1]}  "), "ok");
}

TAP_MAIN
