/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Layers: the deterministic tar writer, the reader on hostile input, the
 * flattened view and unpacking (traversal, absolute paths, symlink and
 * hard link escapes, devices, whiteouts), compression, and layers and
 * images in a real store.
 */
#include <fcntl.h>
#include <lzma.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <kiln/layer.h>

#include "strbuf.h"
#include "tap.h"
#include "helpers.h"

/* ---- helpers ------------------------------------------------------------------ */

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		TAP_FAIL("cannot write %s", path);
}

static char *read_text(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* The tar of @dir, as kiln writes it. */
static int tar_of(struct kiln_ctx *ctx, const char *dir, const struct kiln_tar_tree_options *o,
		  struct strbuf *out)
{
	struct kiln_tar_writer *w = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = kiln_tar_writer_new(to_strbuf, out, &w);
	if (r >= 0)
		r = kiln_tar_write_tree(ctx, fd, o, w);
	if (r >= 0)
		r = kiln_tar_writer_finish(ctx, w);
	kiln_tar_writer_free(w);
	close(fd);
	return r;
}

/* ---- crafting raw tars (the writer refuses to make hostile ones) -------------------- */

struct raw_header {
	char name[100], mode[8], uid[8], gid[8], size[12], mtime[12], chksum[8], typeflag;
	char linkname[100], magic[6], version[2], uname[32], gname[32], devmajor[8], devminor[8];
	char prefix[155], pad[12];
};

_Static_assert(sizeof(struct raw_header) == 512, "a tar header is 512 bytes");

static void raw_checksum(struct raw_header *h)
{
	unsigned sum = 0;

	memset(h->chksum, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += ((unsigned char *)h)[i];
	snprintf(h->chksum, 8, "%06o", sum);
}

/* A valid ustar header; the caller may break it and call raw_checksum() again. */
static struct raw_header raw_entry(const char *name, char type, size_t size, const char *link)
{
	struct raw_header h = { 0 };

	memcpy(h.name, name, strnlen(name, sizeof(h.name)));
	snprintf(h.mode, 8, "%07o", type == '5' ? 0755 : 0644);
	snprintf(h.uid, 8, "%07o", 0);
	snprintf(h.gid, 8, "%07o", 0);
	snprintf(h.size, 12, "%011llo", (unsigned long long)size & 077777777777ull);
	snprintf(h.mtime, 12, "%011o", 0);
	h.typeflag = type;
	if (link)
		memcpy(h.linkname, link, strnlen(link, sizeof(h.linkname)));
	memcpy(h.magic, "ustar", 6);
	memcpy(h.version, "00", 2);
	raw_checksum(&h);
	return h;
}

static void raw_add(struct strbuf *sb, const struct raw_header *h, const void *data, size_t len)
{
	static const char zeros[512];

	strbuf_add(sb, h, sizeof(*h));
	if (len) {
		strbuf_add(sb, data, len);
		strbuf_add(sb, zeros, (512 - len % 512) % 512);
	}
}

static void raw_file(struct strbuf *sb, const char *name, char type, const char *data,
		     const char *link)
{
	struct raw_header h = raw_entry(name, type, data ? strlen(data) : 0, link);

	raw_add(sb, &h, data, data ? strlen(data) : 0);
}

static void strbufs_release(struct strbuf (*l)[2])
{
	strbuf_release(&(*l)[0]);
	strbuf_release(&(*l)[1]);
}

/* One PAX record, its length counted as the format wants. */
static void pax_record(struct strbuf *sb, const char *key, const char *value)
{
	size_t base = strlen(key) + strlen(value) + 3, len = base + 1;

	while (len != base + (size_t)snprintf(NULL, 0, "%zu", len))
		len = base + (size_t)snprintf(NULL, 0, "%zu", len);
	strbuf_addf(sb, "%zu %s=%s\n", len, key, value);
}

static void raw_end(struct strbuf *sb)
{
	static const char zeros[1024];

	strbuf_add(sb, zeros, sizeof(zeros));
}

/* Read every entry of @tar; the first error, or the count. */
static int read_all(struct kiln_ctx *ctx, const struct strbuf *tar)
{
	struct mem m = { tar->buf, tar->len, 0 };
	struct kiln_tar_reader *r = NULL;
	const struct kiln_tar_entry *e;
	int n = 0, k;

	if (kiln_tar_reader_new(ctx, mem_read, &m, &r) < 0)
		abort();
	while ((k = kiln_tar_reader_next(r, &e)) > 0)
		n++;
	kiln_tar_reader_free(r);
	return k < 0 ? k : n;
}

/* Apply the tars (layers, base first) to a new flattened view. */
static int flatten(struct kiln_ctx *ctx, struct strbuf *layers, size_t n, struct kiln_fs **ret)
{
	struct kiln_fs *fs = NULL;
	int r = kiln_fs_new(&fs);

	for (size_t i = 0; r >= 0 && i < n; i++) {
		struct mem m = { layers[i].buf, layers[i].len, 0 };
		struct kiln_tar_reader *tr = NULL;

		r = kiln_tar_reader_new(ctx, mem_read, &m, &tr);
		if (r >= 0)
			r = kiln_fs_apply(ctx, fs, (unsigned)i, tr);
		kiln_tar_reader_free(tr);
	}
	if (r < 0) {
		kiln_fs_free(fs);
		return r;
	}
	*ret = fs;
	return 0;
}

static int unpack(struct kiln_ctx *ctx, struct strbuf *layers, size_t n, const char *dir,
		  bool devices)
{
	struct kiln_unpack_options o = { .devices = devices };
	struct kiln_unpacker *u = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	r = kiln_unpacker_new(ctx, fd, &o, &u);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		struct mem m = { layers[i].buf, layers[i].len, 0 };
		struct kiln_tar_reader *tr = NULL;

		r = kiln_tar_reader_new(ctx, mem_read, &m, &tr);
		if (r >= 0)
			r = kiln_unpacker_apply(u, tr);
		kiln_tar_reader_free(tr);
	}
	if (r >= 0)
		r = kiln_unpacker_finish(u);
	kiln_unpacker_free(u);
	close(fd);
	return r;
}

static bool fs_has(struct kiln_ctx *ctx, const struct kiln_fs *fs, const char *path)
{
	const struct kiln_fs_node *n;
	int r = kiln_fs_lookup(ctx, fs, path, false, &n);

	kiln_ctx_clear_error(ctx);
	return r >= 0;
}

static bool exists(const char *dir, const char *path)
{
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, path);
	return lstat(p, &st) == 0;
}

/* ---- the writer -------------------------------------------------------------------- */

static void make_tree(const char *d, bool reverse)
{
	char long_dir[160], long_name[320];

	memset(long_dir, 'd', 120);
	long_dir[120] = '\0';
	memset(long_name, 'n', 200);
	long_name[200] = '\0';
	if (reverse) {
		run("mkdir -p %s/z %s/a/b %s/%s && touch %s/%s/%s", d, d, d, long_dir, d, long_dir,
		    long_name);
		run("echo two > %s/z/2 && echo one > %s/a/b/1 && ln %s/a/b/1 %s/z/hard", d, d, d,
		    d);
	} else {
		run("mkdir -p %s/a/b %s/z %s/%s && touch %s/%s/%s", d, d, d, long_dir, d, long_dir,
		    long_name);
		run("echo one > %s/a/b/1 && echo two > %s/z/2 && ln %s/a/b/1 %s/z/hard", d, d, d,
		    d);
	}
	run("ln -s ../a/b/1 %s/z/sym && mkfifo %s/z/fifo && chmod 4755 %s/z/2 && chmod 1777 %s/a",
	    d, d, d, d);
}

TEST(writer_is_deterministic_and_sorted)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *d1 = temp_dir(), *d2 = temp_dir();
	_cleanup_strbuf_ struct strbuf t1 = STRBUF_INIT, t2 = STRBUF_INIT;
	struct kiln_tar_tree_options o = { .mtime = 1700000000, .xattrs = true };
	struct mem m;
	struct kiln_tar_reader *r = NULL;
	const struct kiln_tar_entry *e;
	char last[512] = "";
	int k, n = 0;

	make_tree(d1, false);
	make_tree(d2, true);
	ASSERT_OK(tar_of(ctx, d1, &o, &t1));
	ASSERT_OK(tar_of(ctx, d2, &o, &t2));
	ASSERT_EQ(t1.len, t2.len);
	ASSERT_TRUE(memcmp(t1.buf, t2.buf, t1.len) == 0);
	/* Go's layout: blocks, and only the 1024-byte trailer at the end */
	ASSERT_EQ(t1.len % 512, 0);
	for (size_t i = t1.len - 1024; i < t1.len; i++)
		ASSERT_EQ(t1.buf[i], 0);
	ASSERT_TRUE(t1.buf[t1.len - 1025] != 0 || t1.buf[t1.len - 1536] != 0);

	m = (struct mem){ t1.buf, t1.len, 0 };
	ASSERT_OK(kiln_tar_reader_new(ctx, mem_read, &m, &r));
	while ((k = kiln_tar_reader_next(r, &e)) > 0) {
		ASSERT_TRUE(strcmp(last, e->path) < 0);
		snprintf(last, sizeof(last), "%s", e->path);
		ASSERT_EQ(e->uid, 0);
		ASSERT_EQ(e->mtime, 1700000000);
		if (streq(e->path, "z/hard")) {
			ASSERT_EQ(e->type, KILN_TAR_LINK);
			ASSERT_STREQ(e->linkname, "a/b/1");
		}
		if (streq(e->path, "z/2"))
			ASSERT_EQ(e->mode, 04755);
		if (streq(e->path, "a/"))
			ASSERT_EQ(e->mode, 01777);
		if (streq(e->path, "z/sym"))
			ASSERT_STREQ(e->linkname, "../a/b/1");
		if (streq(e->path, "z/fifo"))
			ASSERT_EQ(e->type, KILN_TAR_FIFO);
		if (strlen(e->path) > 256)
			ASSERT_EQ(strlen(e->path), 121 + 200);
		n++;
	}
	kiln_tar_reader_free(r);
	ASSERT_OK(k);
	ASSERT_EQ(n, 10);
	run("rm -rf %s %s", d1, d2);
}

TEST(writer_pax_only_where_needed)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;
	struct kiln_tar_writer *w = NULL;
	char name150[160], name300[320];
	struct kiln_xattr x = { (char *)"user.kiln", (char *)"v\0w", 3 };
	struct kiln_tar_entry e = { .type = KILN_TAR_REG, .mode = 0644 };
	struct mem m;
	struct kiln_tar_reader *r = NULL;
	const struct kiln_tar_entry *got;

	memset(name150, 'a', 150);
	name150[70] = '/';
	name150[150] = '\0';
	memset(name300, 'b', 300);
	name300[300] = '\0';
	ASSERT_OK(kiln_tar_writer_new(to_strbuf, &t, &w));
	e.path = name150; /* splits over prefix and name: plain ustar */
	ASSERT_OK(kiln_tar_writer_add(ctx, w, &e));
	ASSERT_EQ(t.buf[156], '0');
	e.path = name300; /* no '/' to split at: PAX path */
	ASSERT_OK(kiln_tar_writer_add(ctx, w, &e));
	ASSERT_EQ(t.buf[512 + 156], 'x');
	e.path = (char *)"big-ids";
	e.uid = 3000000;
	e.xattrs = &x;
	e.n_xattrs = 1;
	ASSERT_OK(kiln_tar_writer_add(ctx, w, &e));
	ASSERT_OK(kiln_tar_writer_finish(ctx, w));
	kiln_tar_writer_free(w);

	m = (struct mem){ t.buf, t.len, 0 };
	ASSERT_OK(kiln_tar_reader_new(ctx, mem_read, &m, &r));
	ASSERT_EQ(kiln_tar_reader_next(r, &got), 1);
	ASSERT_STREQ(got->path, name150);
	ASSERT_EQ(kiln_tar_reader_next(r, &got), 1);
	ASSERT_STREQ(got->path, name300);
	ASSERT_EQ(kiln_tar_reader_next(r, &got), 1);
	ASSERT_EQ(got->uid, 3000000);
	ASSERT_EQ(got->n_xattrs, 1);
	ASSERT_STREQ(got->xattrs[0].name, "user.kiln");
	ASSERT_EQ(got->xattrs[0].len, 3);
	ASSERT_TRUE(memcmp(got->xattrs[0].value, "v\0w", 3) == 0);
	ASSERT_EQ(kiln_tar_reader_next(r, &got), 0);
	kiln_tar_reader_free(r);
	/* GNU tar reads it the same way */
	{
		_cleanup_free_ char *d = temp_dir(), *tar = cat(d, "pax.tar");
		FILE *f = fopen(tar, "w");

		ASSERT_TRUE(f && fwrite(t.buf, 1, t.len, f) == t.len && fclose(f) == 0);
		run("tar -tf %s | grep -qx %s", tar, name300);
	}
}

TEST(writer_xattrs_from_files)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *d = temp_dir();
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;
	struct kiln_tar_tree_options o = { .xattrs = true };
	char path[512];

	snprintf(path, sizeof(path), "%s/f", d);
	write_text(path, "x");
	/* a property of the file system $TMPDIR is on (tmpfs before Linux 6.6), not a package */
	if (setxattr(path, "user.kiln", "42", 2, 0) < 0)
		SKIP_TEST("no user xattrs on the file system of $TMPDIR");
	ASSERT_OK(tar_of(ctx, d, &o, &t));
	ASSERT_TRUE(memmem(t.buf, t.len, "SCHILY.xattr.user.kiln=42\n", 26) != NULL);
	t.len = 0;
	o.xattrs = false;
	ASSERT_OK(tar_of(ctx, d, &o, &t));
	ASSERT_TRUE(memmem(t.buf, t.len, "SCHILY", 6) == NULL);
	run("rm -rf %s", d);
}

TEST(writer_devices)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *d = temp_dir();
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;
	struct kiln_tar_tree_options o = { 0 };
	char path[512];

	snprintf(path, sizeof(path), "%s/null", d);
	/* CAP_MKNOD, which no user namespace gives: only root can make the node to read */
	if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) < 0)
		SKIP_TEST("mknod needs root");
	ASSERT_OK(tar_of(ctx, d, &o, &t));
	ASSERT_EQ(t.buf[156], '3');
	ASSERT_TRUE(memcmp(t.buf + 329, "0000001", 7) == 0);
	ASSERT_TRUE(memcmp(t.buf + 337, "0000003", 7) == 0);
	run("rm -rf %s", d);
}

/* ---- the reader on hostile input ----------------------------------------------- */

TEST(reader_bad_checksum)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;
	struct raw_header h = raw_entry("f", '0', 0, NULL);

	h.name[0] = 'g';
	raw_add(&t, &h, NULL, 0);
	raw_end(&t);
	ASSERT_EQ(read_all(ctx, &t), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "checksum");
}

TEST(reader_truncated)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;
	size_t full;

	raw_file(&t, "f", '0', "hello", NULL);
	raw_end(&t);
	full = t.len;
	ASSERT_EQ(read_all(ctx, &t), 1);
	for (size_t cut = 1; cut < full - 1024; cut += 97) {
		t.len = cut;
		ASSERT_EQ(read_all(ctx, &t), -EBADMSG);
		ASSERT_CONTAINS(kiln_ctx_error(ctx), "truncated");
	}
	t.len = full - 1024; /* no end-of-archive blocks */
	ASSERT_EQ(read_all(ctx, &t), -EBADMSG);
	t.len = 0;
	ASSERT_EQ(read_all(ctx, &t), 0);
}

TEST(reader_bad_numbers)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;
	struct raw_header h = raw_entry("f", '0', 0, NULL);

	/* base-256, negative */
	memset(h.size, 0xff, sizeof(h.size));
	raw_checksum(&h);
	raw_add(&t, &h, NULL, 0);
	raw_end(&t);
	ASSERT_EQ(read_all(ctx, &t), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "negative");
	/* base-256, over 63 bits */
	t.len = 0;
	h = raw_entry("f", '0', 0, NULL);
	memset(h.size, 0xff, sizeof(h.size));
	h.size[0] = (char)0x80;
	raw_checksum(&h);
	raw_add(&t, &h, NULL, 0);
	raw_end(&t);
	ASSERT_EQ(read_all(ctx, &t), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "overflows");
	/* not octal */
	t.len = 0;
	h = raw_entry("f", '0', 0, NULL);
	memcpy(h.uid, "12 9   ", 7);
	raw_checksum(&h);
	raw_add(&t, &h, NULL, 0);
	raw_end(&t);
	ASSERT_EQ(read_all(ctx, &t), -EBADMSG);
	/* a size beyond the data: truncated, not a huge allocation */
	t.len = 0;
	h = raw_entry("f", '0', 0, NULL);
	memcpy(h.size, "77777777777", 11);
	raw_checksum(&h);
	raw_add(&t, &h, NULL, 0);
	raw_end(&t);
	ASSERT_EQ(read_all(ctx, &t), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "truncated");
}

TEST(reader_header_caps)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;
	struct raw_header h = raw_entry("PaxHeaders.0/f", 'x', (2u << 20), NULL);

	/* the cap is checked before anything is read or allocated */
	raw_add(&t, &h, NULL, 0);
	ASSERT_EQ(read_all(ctx, &t), -E2BIG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "PAX header");
	t.len = 0;
	h = raw_entry("././@LongLink", 'L', KILN_TAR_META_MAX + 1, NULL);
	raw_add(&t, &h, NULL, 0);
	ASSERT_EQ(read_all(ctx, &t), -E2BIG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "long name");
}

TEST(reader_gnu_and_pax_names)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;
	_cleanup_strbuf_ struct strbuf pax = STRBUF_INIT, global = STRBUF_INIT;
	struct mem m;
	struct kiln_tar_reader *r = NULL;
	const struct kiln_tar_entry *e;
	struct raw_header h;

	pax_record(&pax, "path", "from/pax/header/ok");
	pax_record(&pax, "SCHILY.xattr.a", "b");
	pax_record(&global, "path", "ignored/name");
	h = raw_entry("././@LongLink", 'L', 20, NULL);
	raw_add(&t, &h, "gnu/long/name/here/\0", 20);
	raw_file(&t, "short", '5', NULL, NULL);
	h = raw_entry("g", 'g', global.len, NULL);
	raw_add(&t, &h, global.buf, global.len);
	h = raw_entry("PaxHeaders.0/x", 'x', pax.len, NULL);
	raw_add(&t, &h, pax.buf, pax.len);
	raw_file(&t, "ustar-name", '0', "data", NULL);
	raw_end(&t);
	m = (struct mem){ t.buf, t.len, 0 };
	ASSERT_OK(kiln_tar_reader_new(ctx, mem_read, &m, &r));
	ASSERT_EQ(kiln_tar_reader_next(r, &e), 1);
	ASSERT_STREQ(e->path, "gnu/long/name/here/");
	ASSERT_EQ(e->type, KILN_TAR_DIR);
	ASSERT_EQ(kiln_tar_reader_next(r, &e), 1);
	ASSERT_STREQ(e->path, "from/pax/header/ok");
	ASSERT_EQ(e->size, 4);
	ASSERT_EQ(e->n_xattrs, 1);
	ASSERT_EQ(kiln_tar_reader_next(r, &e), 0);
	kiln_tar_reader_free(r);

	/* a record whose length runs past the header */
	t.len = 0;
	h = raw_entry("PaxHeaders.0/x", 'x', 12, NULL);
	raw_add(&t, &h, "99 path=ab\n\n", 12);
	raw_file(&t, "f", '0', NULL, NULL);
	raw_end(&t);
	ASSERT_EQ(read_all(ctx, &t), -EBADMSG);
	/* sparse files: refused by name */
	t.len = 0;
	h = raw_entry("PaxHeaders.0/x", 'x', 22, NULL);
	raw_add(&t, &h, "22 GNU.sparse.major=1\n", 22);
	raw_file(&t, "f", '0', NULL, NULL);
	raw_end(&t);
	ASSERT_EQ(read_all(ctx, &t), -EOPNOTSUPP);
}

/* ---- applying layers: refusals ---------------------------------------------------- */

static void expect_refused(const char *what, struct strbuf *layers, size_t n, const char *msg)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *top = temp_dir();
	struct kiln_fs *fs = NULL;
	char root[512];

	ASSERT_TRUE(flatten(ctx, layers, n, &fs) < 0);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), msg);
	kiln_ctx_clear_error(ctx);
	snprintf(root, sizeof(root), "%s/root", top);
	ASSERT_OK(mkdir(root, 0755));
	ASSERT_TRUE(unpack(ctx, layers, n, root, false) < 0);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), msg);
	/* nothing next to the root: the only thing in @top is it */
	run("test \"$(ls -A %s)\" = root", top);
	run("rm -rf %s", top);
	(void)what;
}

TEST(refuses_traversal_and_absolute_paths)
{
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;

	raw_file(&t, "../x", '0', "evil", NULL);
	raw_end(&t);
	expect_refused("traversal", &t, 1, "\"..\"");
	t.len = 0;
	raw_file(&t, "a/../../x", '0', "evil", NULL);
	raw_end(&t);
	expect_refused("traversal", &t, 1, "\"..\"");
	t.len = 0;
	raw_file(&t, "/etc/x", '0', "evil", NULL);
	raw_end(&t);
	expect_refused("absolute", &t, 1, "absolute");
	t.len = 0;
	raw_file(&t, "l", '1', NULL, "../outside");
	raw_end(&t);
	expect_refused("hard link out", &t, 1, "\"..\"");
	t.len = 0;
	raw_file(&t, "l", '1', NULL, "/etc/passwd");
	raw_end(&t);
	expect_refused("hard link absolute", &t, 1, "absolute");
	t.len = 0;
	raw_file(&t, ".wh.d/x", '0', "x", NULL);
	raw_end(&t);
	expect_refused("whiteout as a directory", &t, 1, "whiteout");
	t.len = 0;
	raw_file(&t, "d", '5', NULL, NULL);
	raw_file(&t, "l", '1', NULL, "d");
	raw_end(&t);
	expect_refused("hard link to a directory", &t, 1, "directory");
}

/* One layer: the symlink @link -> @target, then the entry @path (a file, or a hard link to @to). */
static void symlink_then(struct strbuf *t, const char *link, const char *target, const char *path,
			 const char *to)
{
	t->len = 0;
	raw_file(t, link, '2', NULL, target);
	raw_file(t, path, to ? '1' : '0', to ? NULL : "evil", to);
	raw_end(t);
}

TEST(symlinks_that_leave_the_root_are_refused)
{
	_cleanup_(strbufs_release) struct strbuf l[2] = { STRBUF_INIT, STRBUF_INIT };
	static const char *const roots[] = { "//", "/.", "/./", "/usr/..", "/../.." };

	symlink_then(&l[0], "a", "/", "a/etc/passwd", NULL);
	expect_refused("a -> /", l, 1,
		       "entry \"a/etc/passwd\" goes through symlink \"a\" -> \"/\" which leaves "
		       "the image root; refusing it");
	symlink_then(&l[0], "up", "../../..", "up/escaped", NULL);
	expect_refused("up -> ../../..", l, 1,
		       "entry \"up/escaped\" goes through symlink \"up\" -> \"../../..\" which "
		       "leaves the image root; refusing it");
	for (size_t i = 0; i < ELEMENTSOF(roots); i++) {
		symlink_then(&l[0], "a", roots[i], "a/x", NULL);
		expect_refused("the root spelled otherwise", l, 1, "which leaves the image root");
	}
	/* counted from the symlink's own directory: two levels down, three ".." climb out */
	symlink_then(&l[0], "d/e/up", "../../../etc", "d/e/up/x", NULL);
	expect_refused("climbing from deeper", l, 1, "symlink \"d/e/up\" -> \"../../../etc\"");
	/* climbing out and back in is still climbing out */
	symlink_then(&l[0], "up", "../etc", "up/x", NULL);
	expect_refused("out and back in", l, 1, "symlink \"up\" -> \"../etc\"");
	/* met in another symlink's target, and named where it really is */
	l[0].len = 0;
	raw_file(&l[0], "d/a", '2', NULL, "/");
	raw_file(&l[0], "x", '2', NULL, "d/a/etc");
	raw_file(&l[0], "x/passwd", '0', "evil", NULL);
	raw_end(&l[0]);
	expect_refused("nested", l, 1, "entry \"x/passwd\" goes through symlink \"d/a\" -> \"/\"");
	/* the symlink from a lower layer */
	symlink_then(&l[0], "a", "/", "ok", NULL);
	l[1].len = 0;
	raw_file(&l[1], "a/etc/passwd", '0', "evil", NULL);
	raw_end(&l[1]);
	expect_refused("a lower layer's symlink", l, 2, "symlink \"a\" -> \"/\"");
	/* a hard link's target, and a whiteout, go the same way */
	symlink_then(&l[0], "a", "/", "h", "a/etc/passwd");
	expect_refused("hard link", l, 1,
		       "hard link \"h\" to \"a/etc/passwd\" goes through symlink \"a\" -> \"/\" "
		       "which leaves the image root; refusing it");
	symlink_then(&l[0], "up", "../..", "up/.wh.etc", NULL);
	expect_refused("whiteout", l, 1, "entry \"up/.wh.etc\" goes through symlink \"up\"");
}

TEST(symlinks_that_stay_inside_are_followed)
{
	/* where each file of the second layer lands, and what it holds */
	static const struct {
		const char *path, *data;
	} landed[] = {
		{ "run/x", "run" }, /* var/run -> /run */
		{ "usr/lib/libc.so", "libc" }, /* lib -> usr/lib */
		{ "srv/y", "srv" }, /* d/e/top -> ../../srv */
		{ "z", "z" }, /* d/back -> .. */
		{ "opt/o", "o" }, /* old -> /../opt: "/.." is "/" */
		{ "h", "run" }, /* a hard link to var/run/x */
		{ "pw", "replaced, not followed" }, /* pw -> /etc/passwd */
	};
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(strbufs_release) struct strbuf l[2] = { STRBUF_INIT, STRBUF_INIT };
	_cleanup_free_ char *top = temp_dir();
	_cleanup_free_ char *passwd = strdup(read_text("/etc/passwd")), *found = NULL;
	const struct kiln_fs_node *n;
	struct kiln_fs *fs = NULL;
	struct stat before, after;
	char root[512], p[600];

	ASSERT_OK(stat("/etc/passwd", &before));
	/* absolute symlinks as Debian has them, and relative ones that stay inside */
	raw_file(&l[0], "opt/", '5', NULL, NULL);
	raw_file(&l[0], "run/", '5', NULL, NULL);
	raw_file(&l[0], "srv/", '5', NULL, NULL);
	raw_file(&l[0], "usr/lib/", '5', NULL, NULL);
	raw_file(&l[0], "var/run", '2', NULL, "/run");
	raw_file(&l[0], "lib", '2', NULL, "usr/lib");
	raw_file(&l[0], "d/e/top", '2', NULL, "../../srv");
	raw_file(&l[0], "d/back", '2', NULL, "..");
	raw_file(&l[0], "old", '2', NULL, "/../opt");
	raw_file(&l[0], "pw", '2', NULL, "/etc/passwd");
	/* symlinks that leave the root are only data while nothing goes through them */
	raw_file(&l[0], "a", '2', NULL, "/");
	raw_file(&l[0], "up", '2', NULL, "../../..");
	raw_file(&l[0], "etc/passwd", '0', "root:x:0:0::/:/bin/sh\n", NULL);
	raw_end(&l[0]);
	raw_file(&l[1], "var/run/x", '0', "run", NULL);
	raw_file(&l[1], "lib/libc.so", '0', "libc", NULL);
	raw_file(&l[1], "d/e/top/y", '0', "srv", NULL);
	raw_file(&l[1], "d/back/z", '0', "z", NULL);
	raw_file(&l[1], "old/o", '0', "o", NULL);
	raw_file(&l[1], "h", '1', NULL, "var/run/x");
	raw_file(&l[1], "pw", '0', "replaced, not followed", NULL);
	/* a hard link to a symlink that leaves the root links the symlink itself */
	raw_file(&l[1], "a-too", '1', NULL, "a");
	raw_end(&l[1]);

	snprintf(root, sizeof(root), "%s/root", top);
	ASSERT_OK(mkdir(root, 0755));
	ASSERT_OK(unpack(ctx, l, 2, root, false));
	ASSERT_OK(flatten(ctx, l, 2, &fs));
	for (size_t i = 0; i < ELEMENTSOF(landed); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, landed[i].path);
		ASSERT_STREQ(read_text(p), landed[i].data);
		snprintf(p, sizeof(p), "/%s", landed[i].path);
		ASSERT_TRUE(fs_has(ctx, fs, p));
	}
	snprintf(p, sizeof(p), "%s/a-too", root);
	ASSERT_OK(lstat(p, &after));
	ASSERT_TRUE(S_ISLNK(after.st_mode));
	run("test \"$(ls -A %s)\" = root", top);
	ASSERT_OK(stat("/etc/passwd", &after));
	ASSERT_EQ(before.st_nlink, after.st_nlink);
	ASSERT_EQ(before.st_mtime, after.st_mtime);
	ASSERT_STREQ(read_text("/etc/passwd"), passwd);

	/* looking paths up follows every symlink inside, those that leave the root too */
	ASSERT_TRUE(fs_has(ctx, fs, "/var/run/x"));
	ASSERT_TRUE(fs_has(ctx, fs, "/up/a/etc/passwd"));
	ASSERT_OK(kiln_fs_lookup(ctx, fs, "/a/etc/passwd", true, &n));
	found = kiln_fs_node_path(n);
	ASSERT_STREQ(found, "/etc/passwd");
	kiln_fs_free(fs);
	run("rm -rf %s", top);
}

TEST(dangling_symlink_parent_is_refused)
{
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;

	raw_file(&t, "s", '2', NULL, "missing/dir");
	raw_file(&t, "s/x", '0', "x", NULL);
	raw_end(&t);
	expect_refused("dangling", &t, 1, "");
}

TEST(devices)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf t = STRBUF_INIT;
	_cleanup_free_ char *d1 = temp_dir(), *d2 = temp_dir();
	struct raw_header h = raw_entry("dev/null", '3', 0, NULL);
	struct kiln_fs *fs = NULL;
	const struct kiln_fs_node *n;
	struct kiln_fs_stat st;
	struct stat s;
	char p[600];

	snprintf(h.devmajor, 8, "%07o", 1);
	snprintf(h.devminor, 8, "%07o", 3);
	raw_checksum(&h);
	raw_add(&t, &h, NULL, 0);
	raw_file(&t, "fifo", '6', NULL, NULL);
	raw_end(&t);
	ASSERT_OK(flatten(ctx, &t, 1, &fs));
	ASSERT_OK(kiln_fs_lookup(ctx, fs, "/dev/null", false, &n));
	kiln_fs_node_stat(n, &st);
	ASSERT_EQ(st.type, KILN_TAR_CHAR);
	ASSERT_EQ(st.devmajor, 1);
	ASSERT_EQ(st.devminor, 3);
	kiln_fs_free(fs);

	/* not asked for: skipped, with a warning */
	ASSERT_OK(unpack(ctx, &t, 1, d1, false));
	ASSERT_FALSE(exists(d1, "dev/null"));
	ASSERT_TRUE(exists(d1, "fifo"));
	ASSERT_TRUE(kiln_ctx_warnings(ctx) > 0);
	if (geteuid() == 0) {
		ASSERT_OK(unpack(ctx, &t, 1, d2, true));
		snprintf(p, sizeof(p), "%s/dev/null", d2);
		ASSERT_OK(lstat(p, &s));
		ASSERT_TRUE(S_ISCHR(s.st_mode));
		ASSERT_EQ(s.st_rdev, makedev(1, 3));
	}
	run("rm -rf %s %s", d1, d2);
}

TEST(whiteouts_and_opaque_dirs)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(strbufs_release) struct strbuf l[2] = { STRBUF_INIT, STRBUF_INIT };
	_cleanup_free_ char *d = temp_dir();
	struct kiln_fs *fs = NULL;

	raw_file(&l[0], "a/x", '0', "x", NULL);
	raw_file(&l[0], "a/y", '0', "y", NULL);
	raw_file(&l[0], "b/z", '0', "z", NULL);
	raw_file(&l[0], "o/old", '0', "old", NULL);
	raw_file(&l[0], "o/sub/deep", '0', "deep", NULL);
	raw_end(&l[0]);
	raw_file(&l[1], ".wh.b", '0', "", NULL);
	raw_file(&l[1], "a/.wh.x", '0', "", NULL);
	/* sorted before the marker: an entry of the same layer, which stays */
	raw_file(&l[1], "o/+early", '0', "early", NULL);
	raw_file(&l[1], "o/.wh..wh..opq", '0', "", NULL);
	raw_file(&l[1], "o/new", '0', "new", NULL);
	raw_file(&l[1], ".wh.nothing-there", '0', "", NULL);
	raw_end(&l[1]);

	ASSERT_OK(flatten(ctx, l, 2, &fs));
	ASSERT_FALSE(fs_has(ctx, fs, "/b"));
	ASSERT_FALSE(fs_has(ctx, fs, "/a/x"));
	ASSERT_TRUE(fs_has(ctx, fs, "/a/y"));
	ASSERT_FALSE(fs_has(ctx, fs, "/o/old"));
	ASSERT_FALSE(fs_has(ctx, fs, "/o/sub"));
	ASSERT_TRUE(fs_has(ctx, fs, "/o/new"));
	ASSERT_TRUE(fs_has(ctx, fs, "/o/+early"));
	ASSERT_FALSE(fs_has(ctx, fs, "/o/.wh..wh..opq"));
	kiln_fs_free(fs);

	ASSERT_OK(unpack(ctx, l, 2, d, false));
	ASSERT_FALSE(exists(d, "b"));
	ASSERT_FALSE(exists(d, "a/x"));
	ASSERT_TRUE(exists(d, "a/y"));
	ASSERT_FALSE(exists(d, "o/old"));
	ASSERT_FALSE(exists(d, "o/sub"));
	ASSERT_TRUE(exists(d, "o/new"));
	ASSERT_TRUE(exists(d, "o/+early"));
	ASSERT_FALSE(exists(d, "a/.wh.x"));
	run("rm -rf %s", d);
}

TEST(replacing_entries)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(strbufs_release) struct strbuf l[2] = { STRBUF_INIT, STRBUF_INIT };
	_cleanup_free_ char *d = temp_dir();
	struct raw_header h;
	struct stat st;
	char p[600];

	raw_file(&l[0], "dir-to-file/child", '0', "c", NULL);
	raw_file(&l[0], "file-to-dir", '0', "f", NULL);
	raw_file(&l[0], "link", '2', NULL, "target");
	h = raw_entry("ro/", '5', 0, NULL);
	snprintf(h.mode, 8, "%07o", 0555);
	raw_checksum(&h);
	raw_add(&l[0], &h, NULL, 0);
	raw_file(&l[0], "ro/inside", '0', "i", NULL);
	raw_end(&l[0]);
	raw_file(&l[1], "dir-to-file", '0', "now a file", NULL);
	raw_file(&l[1], "file-to-dir/x", '0', "x", NULL);
	raw_file(&l[1], "link", '0', "plain", NULL);
	raw_file(&l[1], "ro/more", '0', "m", NULL);
	raw_end(&l[1]);
	/* a file under what is a file now is refused by both */
	ASSERT_TRUE(unpack(ctx, l, 2, d, false) < 0);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "file-to-dir");
	/* a new directory: the read-only ro/ the first try made stays (tap.h removes it) */
	free(d);
	d = temp_dir();
	l[1].len = 0;
	raw_file(&l[1], "dir-to-file", '0', "now a file", NULL);
	raw_file(&l[1], "file-to-dir/", '5', NULL, NULL);
	raw_file(&l[1], "file-to-dir/x", '0', "x", NULL);
	raw_file(&l[1], "link", '0', "plain", NULL);
	raw_file(&l[1], "ro/more", '0', "m", NULL);
	raw_end(&l[1]);
	ASSERT_OK(unpack(ctx, l, 2, d, false));
	snprintf(p, sizeof(p), "%s/dir-to-file", d);
	ASSERT_STREQ(read_text(p), "now a file");
	ASSERT_TRUE(exists(d, "file-to-dir/x"));
	ASSERT_FALSE(exists(d, "target"));
	snprintf(p, sizeof(p), "%s/link", d);
	ASSERT_OK(lstat(p, &st));
	ASSERT_TRUE(S_ISREG(st.st_mode));
	snprintf(p, sizeof(p), "%s/ro", d);
	ASSERT_OK(lstat(p, &st));
	ASSERT_EQ(st.st_mode & 07777, 0555);
	ASSERT_TRUE(exists(d, "ro/more"));
	run("test -z \"$(find %s -name '.kiln-unpack-*')\"", d);
}

/* ---- compression ------------------------------------------------------------------- */

static int zip_all(struct kiln_ctx *ctx, enum kiln_compression c, const char *data, size_t len,
		   struct strbuf *out)
{
	struct kiln_zip *z = NULL;
	int r = kiln_zip_new(ctx, c, 0, to_strbuf, out, &z);

	if (r >= 0)
		r = kiln_zip_write(z, data, len);
	if (r >= 0)
		r = kiln_zip_finish(z);
	kiln_zip_free(z);
	return r;
}

static int unzip_all(struct kiln_ctx *ctx, const struct strbuf *in, struct strbuf *out)
{
	struct mem m = { in->buf, in->len, 0 };
	struct kiln_unzip *u = NULL;
	char buf[1000];
	ssize_t n = kiln_unzip_new(ctx, mem_read, &m, &u);

	while (n >= 0 && (n = kiln_unzip_read(u, buf, sizeof(buf))) > 0)
		strbuf_add(out, buf, (size_t)n);
	kiln_unzip_free(u);
	return (int)n;
}

TEST(compression_round_trips)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf data = STRBUF_INIT, z = STRBUF_INIT, z2 = STRBUF_INIT,
				       out = STRBUF_INIT;
	static const unsigned char gzip_head[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	uint8_t xz[4096];
	size_t xz_len = 0;

	for (int i = 0; i < 20000; i++)
		strbuf_addf(&data, "line %d\n", i * 7919 % 1000);
	ASSERT_OK(zip_all(ctx, KILN_COMPRESSION_GZIP, data.buf, data.len, &z));
	ASSERT_TRUE(memcmp(z.buf, gzip_head, sizeof(gzip_head)) == 0);
	ASSERT_OK(zip_all(ctx, KILN_COMPRESSION_GZIP, data.buf, data.len, &z2));
	ASSERT_TRUE(z.len == z2.len && memcmp(z.buf, z2.buf, z.len) == 0);
	/* two members, as pigz or cat a.gz b.gz make */
	strbuf_add(&z2, z.buf, z.len);
	ASSERT_OK(unzip_all(ctx, &z2, &out));
	ASSERT_EQ(out.len, 2 * data.len);
	/* truncated, and trailing garbage */
	out.len = 0;
	z2.len = z.len - 5;
	ASSERT_EQ(unzip_all(ctx, &z2, &out), -EBADMSG);
	z2.len = 0;
	strbuf_add(&z2, z.buf, z.len);
	strbuf_adds(&z2, "garbage");
	ASSERT_EQ(unzip_all(ctx, &z2, &out), -EBADMSG);

	z.len = out.len = 0;
	ASSERT_OK(zip_all(ctx, KILN_COMPRESSION_ZSTD, data.buf, data.len, &z));
	ASSERT_OK(unzip_all(ctx, &z, &out));
	ASSERT_TRUE(out.len == data.len && memcmp(out.buf, data.buf, data.len) == 0);
	out.len = 0;
	z.len -= 3;
	ASSERT_EQ(unzip_all(ctx, &z, &out), -EBADMSG);

	ASSERT_EQ(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, (const uint8_t *)"xz data", 7,
					  xz, &xz_len, sizeof(xz)),
		  LZMA_OK);
	z.len = out.len = 0;
	strbuf_add(&z, xz, xz_len);
	ASSERT_OK(unzip_all(ctx, &z, &out));
	ASSERT_STREQ(out.buf, "xz data");
	z.len = 0;
	strbuf_adds(&z, "BZh91AY&SY");
	ASSERT_EQ(unzip_all(ctx, &z, &out), -EOPNOTSUPP);

	/* xz as an initramfs takes it (`xz -C crc32 -0 -e`; test-image.sh compares the bytes) */
	z.len = z2.len = out.len = 0;
	ASSERT_OK(zip_all(ctx, KILN_COMPRESSION_XZ, data.buf, data.len, &z));
	ASSERT_OK(zip_all(ctx, KILN_COMPRESSION_XZ, data.buf, data.len, &z2));
	ASSERT_TRUE(z.len == z2.len && memcmp(z.buf, z2.buf, z.len) == 0);
	ASSERT_EQ(z.buf[7], 0x01); /* the stream flags' check: CRC32 */
	ASSERT_OK(unzip_all(ctx, &z, &out));
	ASSERT_TRUE(out.len == data.len && memcmp(out.buf, data.buf, data.len) == 0);
}

/* ---- layers and images in a store ---------------------------------------------------- */

static int sink_out(void *userdata, const void *data, size_t len)
{
	return strbuf_add(userdata, data, len);
}

TEST(images_from_directories)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *d = temp_dir(), *store_dir = temp_dir();
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct kiln_descriptor m1 = { 0 }, m2 = { 0 }, m3 = { 0 };
	struct kiln_annotation label = { (char *)"org.opencontainers.image.source",
					 (char *)"https://example.com/x" };
	struct kiln_image_options o = {
		.created = 1700000000,
		.labels = &label,
		.n_labels = 1,
		.layer = { .compression = KILN_COMPRESSION_GZIP },
	};
	struct kiln_fs *fs = NULL;
	const struct kiln_fs_node *n;

	make_tree(d, false);
	ASSERT_OK(kiln_store_open(ctx, store_dir, &s));
	ASSERT_OK(kiln_image_from_dir(ctx, s, d, "kiln/test:one", &o, &m1));
	ASSERT_OK(kiln_image_from_dir(ctx, s, d, "kiln/test:two", &o, &m2));
	ASSERT_STREQ(m1.digest.s, m2.digest.s);
	o.layer.compression = KILN_COMPRESSION_ZSTD;
	ASSERT_OK(kiln_image_from_dir(ctx, s, d, "kiln/test:zstd", &o, &m3));
	ASSERT_FALSE(streq(m1.digest.s, m3.digest.s));

	ASSERT_OK(kiln_store_load_image(ctx, s, "kiln/test:zstd", NULL, &img));
	ASSERT_STREQ(img->config->created, "2023-11-14T22:13:20Z");
	ASSERT_EQ(img->config->n_labels, 1);
	ASSERT_STREQ(img->manifest->layers[0].media_type, KILN_MT_OCI_LAYER_ZSTD);
	ASSERT_OK(kiln_fs_load_image(ctx, s, img, &fs));
	ASSERT_OK(kiln_fs_lookup(ctx, fs, "/z/sym", true, &n));
	ASSERT_OK(kiln_fs_cat(ctx, s, img, n, sink_out, &out));
	ASSERT_STREQ(out.buf, "one\n");
	out.len = 0;
	ASSERT_OK(kiln_fs_lookup(ctx, fs, "z/hard", true, &n));
	ASSERT_OK(kiln_fs_cat(ctx, s, img, n, sink_out, &out));
	ASSERT_STREQ(out.buf, "one\n");
	ASSERT_EQ(kiln_fs_lookup(ctx, fs, "/z/nope", true, &n), -ENOENT);
	kiln_fs_free(fs);

	kiln_descriptor_release(&m1);
	kiln_descriptor_release(&m2);
	kiln_descriptor_release(&m3);
	run("rm -rf %s %s", d, store_dir);
}

TAP_MAIN
