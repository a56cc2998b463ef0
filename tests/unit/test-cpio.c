/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cpio and the initramfs: the newc writer against GNU cpio byte for byte,
 * round trips through the reader, initramfs inputs made of plain, xz,
 * zstd and gzip segments as the real tools make them, extraction of one
 * file, and hostile input (truncation, bad headers, traversal names, junk
 * between segments, checksums).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <kiln/image.h>

#include "fileio.h"
#include "strbuf.h"
#include "tap.h"
#include "helpers.h"

#define EPOCH 1700000000

/* ---- helpers ------------------------------------------------------------------ */

/* One byte at a time: every boundary of the reader's buffers is crossed. */
static ssize_t mem_read_1(void *userdata, void *buf, size_t len)
{
	return mem_read(userdata, buf, len ? 1 : 0);
}

static char *read_all(const char *path, size_t *ret_len)
{
	char *buf = NULL;

	if (read_file_at(AT_FDCWD, path, 1u << 30, &buf, ret_len) < 0)
		TAP_FAIL("cannot read %s", path);
	return buf;
}

/* A tree with what an initramfs holds: nested directories, files large and empty, links. */
static void make_tree(const char *root)
{
	run("cd %s && mkdir -p t/kernel/x86/microcode t/a/b t/a-c t/empty && "
	    "printf 'intel' > t/kernel/x86/microcode/GenuineIntel.bin && "
	    "head -c 300000 /dev/urandom > t/a/big && : > t/a/zero && "
	    "printf 'x' > t/a-c/one && chmod 4750 t/a-c/one && chmod 0700 t/a/b && "
	    "ln -s ../a/big t/a/b/link && mkfifo t/a/fifo && "
	    "find t -exec touch -h -d @%d {} +",
	    root, EPOCH);
}

static void write_tree(struct kiln_ctx *ctx, const char *dir, bool dot, struct strbuf *out)
{
	_cleanup_(kiln_cpio_writer_freep) struct kiln_cpio_writer *w = NULL;
	struct kiln_cpio_tree_options o = { .mtime = EPOCH, .dot = dot };
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(kiln_cpio_writer_new(to_strbuf, out, &w));
	ASSERT_OK(kiln_cpio_write_tree(ctx, fd, &o, w));
	ASSERT_OK(kiln_cpio_writer_finish(ctx, w));
}

static void save(const char *path, const struct strbuf *sb)
{
	ASSERT_OK(write_file_atomic(path, sb->buf, sb->len, 0644));
}

/* Every entry of an initramfs in memory as "name mode size segment" lines. */
static int list(struct kiln_ctx *ctx, const char *data, size_t len, bool bytewise,
		struct strbuf *out)
{
	_cleanup_(kiln_initramfs_reader_freep) struct kiln_initramfs_reader *r = NULL;
	struct mem m = { data, len, 0 };
	const struct kiln_cpio_entry *e;
	int n;

	n = kiln_initramfs_reader_new(ctx, bytewise ? mem_read_1 : mem_read, &m, &r);
	if (n < 0)
		return n;
	while ((n = kiln_initramfs_reader_next(r, &e)) > 0)
		strbuf_addf(out, "%s %o %" PRIu64 " %u%s%s\n", e->name, e->mode, e->size,
			    kiln_initramfs_reader_segment(r), e->linkname ? " -> " : "",
			    e->linkname ? e->linkname : "");
	return n;
}

/* ---- the writer ----------------------------------------------------------------- */

TEST(tree_equals_gnu_cpio)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *gnu = NULL, *gnu2 = NULL, *t = NULL;
	_cleanup_strbuf_ struct strbuf ours = STRBUF_INIT, ours2 = STRBUF_INIT;
	size_t gnu_len, gnu2_len;

	NEED_TOOL("cpio", "cpio");
	make_tree(dir);
	/* --reproducible renumbers inodes and zeroes device numbers; mtimes are the files' */
	run("cd %s/t && find . | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible -R +0:+0 "
	    "> ../gnu.cpio",
	    dir);
	run("cd %s/t && find . -mindepth 1 | LC_ALL=C sort | "
	    "cpio --quiet -o -H newc --reproducible -R +0:+0 > ../gnu2.cpio",
	    dir);
	t = cat(dir, "t");
	write_tree(ctx, t, true, &ours);
	write_tree(ctx, t, false, &ours2);
	free(t);
	t = cat(dir, "gnu.cpio");
	gnu = read_all(t, &gnu_len);
	free(t);
	t = cat(dir, "gnu2.cpio");
	gnu2 = read_all(t, &gnu2_len);
	ASSERT_EQ(ours.len, gnu_len);
	ASSERT_TRUE(memcmp(ours.buf, gnu, gnu_len) == 0);
	ASSERT_EQ(ours2.len, gnu2_len);
	ASSERT_TRUE(memcmp(ours2.buf, gnu2, gnu2_len) == 0);
	run("rm -rf %s", dir);
}

TEST(gnu_cpio_reads_ours)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *t = NULL, *archive = NULL;
	_cleanup_strbuf_ struct strbuf ours = STRBUF_INIT;

	NEED_TOOL("cpio", "cpio");
	make_tree(dir);
	t = cat(dir, "t");
	archive = cat(dir, "ours.cpio");
	write_tree(ctx, t, false, &ours);
	save(archive, &ours);
	run("cd %s && cpio --quiet -it < ours.cpio > listing && "
	    "cd t && find . -mindepth 1 | sed 's,^\\./,,' | LC_ALL=C sort > ../want && "
	    "cmp ../listing ../want",
	    dir);
	run("cd %s && mkdir x && cd x && cpio --quiet -idm < ../ours.cpio && "
	    "cmp a/big ../t/a/big && [ \"$(readlink a/b/link)\" = ../a/big ] && "
	    "[ \"$(stat -c %%a a-c/one)\" = 4750 ] && [ -p a/fifo ] && "
	    "[ \"$(stat -c %%Y a/big)\" = %d ]",
	    dir, EPOCH);
	run("rm -rf %s", dir);
}

TEST(writer_round_trip)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_cpio_writer_freep) struct kiln_cpio_writer *w = NULL;
	_cleanup_(kiln_initramfs_reader_freep) struct kiln_initramfs_reader *r = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	const struct kiln_cpio_entry *e;
	struct mem m;
	char buf[16];
	struct kiln_cpio_entry dev = {
		.name = "dev", .mode = S_IFDIR | 0755, .nlink = 2, .mtime = 5
	};
	struct kiln_cpio_entry console = {
		.name = "dev/console", .mode = S_IFCHR | 0600, .rdevmajor = 5, .rdevminor = 1
	};
	struct kiln_cpio_entry init = { .name = "init",
					.mode = S_IFREG | 0755,
					.uid = 7,
					.gid = 8,
					.size = 5,
					.mtime = EPOCH };
	struct kiln_cpio_entry sbin = { .name = "sbin", .mode = S_IFLNK | 0777, .linkname = "bin" };

	ASSERT_OK(kiln_cpio_writer_new(to_strbuf, &out, &w));
	ASSERT_OK(kiln_cpio_writer_add(ctx, w, &dev));
	ASSERT_OK(kiln_cpio_writer_add(ctx, w, &console));
	ASSERT_OK(kiln_cpio_writer_add(ctx, w, &init));
	ASSERT_OK(kiln_cpio_writer_write(w, "he", 2));
	ASSERT_OK(kiln_cpio_writer_write(w, "llo", 3));
	ASSERT_OK(kiln_cpio_writer_add(ctx, w, &sbin));
	ASSERT_OK(kiln_cpio_writer_finish(ctx, w));
	ASSERT_EQ(out.len % 512, 0);
	ASSERT_EQ(kiln_cpio_writer_offset(w), out.len);

	m = (struct mem){ out.buf, out.len, 0 };
	ASSERT_OK(kiln_initramfs_reader_new(ctx, mem_read, &m, &r));
	ASSERT_EQ(kiln_initramfs_reader_next(r, &e), 1);
	ASSERT_STREQ(e->name, "dev");
	ASSERT_EQ(e->mode, S_IFDIR | 0755);
	ASSERT_EQ(e->nlink, 2);
	ASSERT_EQ(e->ino, 0);
	ASSERT_EQ(e->mtime, 5);
	ASSERT_EQ(kiln_initramfs_reader_next(r, &e), 1);
	ASSERT_STREQ(e->name, "dev/console");
	ASSERT_EQ(e->rdevmajor, 5);
	ASSERT_EQ(e->rdevminor, 1);
	ASSERT_EQ(e->ino, 1);
	ASSERT_EQ(kiln_initramfs_reader_next(r, &e), 1);
	ASSERT_STREQ(e->name, "init");
	ASSERT_EQ(e->uid, 7);
	ASSERT_EQ(e->gid, 8);
	ASSERT_EQ(e->size, 5);
	ASSERT_EQ(kiln_initramfs_reader_read(r, buf, sizeof(buf)), 5);
	ASSERT_TRUE(memcmp(buf, "hello", 5) == 0);
	ASSERT_EQ(kiln_initramfs_reader_read(r, buf, sizeof(buf)), 0);
	ASSERT_EQ(kiln_initramfs_reader_next(r, &e), 1);
	ASSERT_STREQ(e->name, "sbin");
	ASSERT_STREQ(e->linkname, "bin");
	ASSERT_EQ(kiln_initramfs_reader_next(r, &e), 0);
	ASSERT_EQ(kiln_initramfs_reader_next(r, &e), 0);
	ASSERT_EQ(kiln_initramfs_reader_segment(r), 1);
	ASSERT_EQ(kiln_initramfs_reader_compression(r), KILN_COMPRESSION_NONE);
}

TEST(writer_refuses)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_cpio_writer_freep) struct kiln_cpio_writer *w = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	static const char *const bad[] = { "", "/abs", "a/../b", "..", "./a", "a//b", "a/", "a/." };
	int fds[2];

	struct kiln_cpio_entry e = { .mode = S_IFREG | 0644 };

	ASSERT_OK(kiln_cpio_writer_new(to_strbuf, &out, &w));
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		e.name = bad[i];
		ASSERT_EQ(kiln_cpio_writer_add(ctx, w, &e), -EINVAL);
	}
	e = (struct kiln_cpio_entry){ .name = "big", .mode = S_IFREG, .size = UINT64_C(1) << 32 };
	ASSERT_EQ(kiln_cpio_writer_add(ctx, w, &e), -EFBIG);
	e = (struct kiln_cpio_entry){ .name = "old", .mode = S_IFREG, .mtime = -1 };
	ASSERT_EQ(kiln_cpio_writer_add(ctx, w, &e), -EINVAL);
	e = (struct kiln_cpio_entry){ .name = "l", .mode = S_IFLNK | 0777 };
	ASSERT_EQ(kiln_cpio_writer_add(ctx, w, &e), -EINVAL);
	/* data promised but not given */
	e = (struct kiln_cpio_entry){ .name = "f", .mode = S_IFREG | 0644, .size = 3 };
	ASSERT_OK(kiln_cpio_writer_add(ctx, w, &e));
	ASSERT_EQ(kiln_cpio_writer_write(w, "abcd", 4), -EINVAL);
	ASSERT_EQ(kiln_cpio_writer_finish(ctx, w), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "\"f\"");

	/* a file that is shorter than announced */
	kiln_cpio_writer_free(TAKE_PTR(w));
	ASSERT_OK(kiln_cpio_writer_new(to_strbuf, &out, &w));
	ASSERT_OK(pipe(fds));
	ASSERT_OK(write_all(fds[1], "ab", 2));
	close(fds[1]);
	e = (struct kiln_cpio_entry){ .name = "short", .mode = S_IFREG | 0644, .size = 3 };
	ASSERT_EQ(kiln_cpio_writer_add_fd(ctx, w, &e, fds[0]), -ESTALE);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "shrank");
	close(fds[0]);
}

/* ---- the initramfs reader ------------------------------------------------------- */

/* plain + xz + zstd + gzip, as an installer concatenates them, made by the real tools. */
TEST(concatenated_segments)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *data = NULL, *path = NULL, *big = NULL, *got = NULL,
			    *out = NULL;
	_cleanup_strbuf_ struct strbuf listing = STRBUF_INIT, listing1 = STRBUF_INIT;
	_cleanup_close_ int fd = -1, ofd = -1;
	size_t len, big_len, got_len;

	NEED_TOOL("cpio", "cpio");
	NEED_TOOL("xz", "xz-utils");
	NEED_TOOL("zstd", "zstd");
	NEED_TOOL("gzip", "gzip");
	make_tree(dir);
	run("cd %s/t && find kernel | LC_ALL=C sort | "
	    "cpio --quiet -o -H newc --reproducible -R +0:+0 > ../initramfs && "
	    "find a | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible -R +0:+0 | "
	    "xz --check=crc32 -0 >> ../initramfs && "
	    "find a-c | cpio --quiet -o -H newc -R +0:+0 | zstd -q -19 >> ../initramfs && "
	    /* zeros between segments, as padding */
	    "head -c 7 /dev/zero >> ../initramfs && "
	    "find empty | cpio --quiet -o -H newc -R +0:+0 | gzip -n >> ../initramfs",
	    dir);
	path = cat(dir, "initramfs");
	data = read_all(path, &len);
	ASSERT_OK(list(ctx, data, len, false, &listing));
	ASSERT_STREQ(strbuf_str(&listing), "kernel 40755 0 1\n"
					   "kernel/x86 40755 0 1\n"
					   "kernel/x86/microcode 40755 0 1\n"
					   "kernel/x86/microcode/GenuineIntel.bin 100644 5 1\n"
					   "a 40755 0 2\n"
					   "a/b 40700 0 2\n"
					   "a/b/link 120777 8 2 -> ../a/big\n"
					   "a/big 100644 300000 2\n"
					   "a/fifo 10644 0 2\n"
					   "a/zero 100644 0 2\n"
					   "a-c 40755 0 3\n"
					   "a-c/one 104750 1 3\n"
					   "empty 40755 0 4\n");
	/* the same, read a byte at a time */
	ASSERT_OK(list(ctx, data, len, true, &listing1));
	ASSERT_STREQ(strbuf_str(&listing1), strbuf_str(&listing));

	/* one file out of the xz segment, the rest not unpacked */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	out = cat(dir, "out");
	ofd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0 && ofd >= 0);
	ASSERT_OK(kiln_initramfs_extract(ctx, fd, "a/big", ofd));
	free(path);
	path = cat(dir, "t/a/big");
	big = read_all(path, &big_len);
	got = read_all(out, &got_len);
	ASSERT_EQ(got_len, big_len);
	ASSERT_TRUE(memcmp(got, big, big_len) == 0);
	ASSERT_OK(lseek(fd, 0, SEEK_SET));
	ASSERT_OK(kiln_initramfs_extract(ctx, fd, "./kernel/x86/microcode/GenuineIntel.bin", ofd));
	free(got);
	got = read_all(out, &got_len);
	ASSERT_EQ(got_len, 5);
	ASSERT_OK(lseek(fd, 0, SEEK_SET));
	ASSERT_EQ(kiln_initramfs_extract(ctx, fd, "missing", ofd), -ENOENT);
	ASSERT_OK(lseek(fd, 0, SEEK_SET));
	ASSERT_EQ(kiln_initramfs_extract(ctx, fd, "a/b", ofd), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "not a regular file");
	ASSERT_OK(lseek(fd, 0, SEEK_SET));
	ASSERT_EQ(kiln_initramfs_extract(ctx, fd, "../etc/passwd", ofd), -EINVAL);
	ASSERT_OK(lseek(fd, 0, SEEK_SET));
	ASSERT_EQ(kiln_initramfs_extract(ctx, fd, "/init", ofd), -EINVAL);
	run("rm -rf %s", dir);
}

/* Two archives with the same name, and hard links whose data comes with the last name. */
TEST(extract_last_and_hard_links)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *path = NULL, *out = NULL, *got = NULL;
	_cleanup_close_ int fd = -1, ofd = -1;
	size_t got_len;

	NEED_TOOL("cpio", "cpio");
	run("cd %s && mkdir one two && printf old > one/f && printf new > two/f && "
	    "printf linked > two/h1 && ln two/h1 two/h2 && "
	    "(cd one && echo f | cpio --quiet -o -H newc) > ar && "
	    "(cd two && printf 'f\\nh1\\nh2\\n' | cpio --quiet -o -H newc) >> ar",
	    dir);
	path = cat(dir, "ar");
	out = cat(dir, "out");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ofd = open(out, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0 && ofd >= 0);
	ASSERT_OK(kiln_initramfs_extract(ctx, fd, "f", ofd));
	got = read_all(out, &got_len);
	ASSERT_STREQ(got, "new");
	/* GNU cpio writes the data of a hard-linked file with its last name only */
	ASSERT_OK(lseek(fd, 0, SEEK_SET));
	ASSERT_OK(kiln_initramfs_extract(ctx, fd, "h1", ofd));
	free(got);
	got = read_all(out, &got_len);
	ASSERT_STREQ(got, "linked");
	run("rm -rf %s", dir);
}

/* A newc archive of one file "f" holding @data, with @magic. */
static void one_file(struct strbuf *sb, const char *magic, const char *name, const char *data,
		     uint32_t check)
{
	strbuf_addf(sb, "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X", magic, 1,
		    0100644, 0, 0, 1, 0, (unsigned)strlen(data), 0, 0, 0, 0, strlen(name) + 1,
		    check);
	strbuf_add(sb, name, strlen(name) + 1);
	while (sb->len % 4)
		strbuf_addch(sb, 0);
	strbuf_adds(sb, data);
	while (sb->len % 4)
		strbuf_addch(sb, 0);
	strbuf_addf(sb, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 0, 0, 0, 0, 1,
		    0, 0, 0, 0, 0, 0, 11, 0);
	strbuf_add(sb, "TRAILER!!!", 11);
	while (sb->len % 4)
		strbuf_addch(sb, 0);
}

static int list_mem(struct kiln_ctx *ctx, const struct strbuf *sb)
{
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;

	return list(ctx, sb->buf, sb->len, false, &out);
}

TEST(hostile_input)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf good = STRBUF_INIT, sb = STRBUF_INIT;

	one_file(&good, "070701", "f", "hello", 0);
	ASSERT_OK(list_mem(ctx, &good));

	/* cut anywhere inside: truncated, never a short success */
	for (size_t cut = 1; cut < good.len - 4; cut++) {
		_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
		int r = list(ctx, good.buf, cut, false, &out);

		if (r != -EBADMSG)
			TAP_FAIL("cut at %zu: %d", cut, r);
	}
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "truncated");

	/* bad magic, a bad hex digit, an odc archive */
	strbuf_add(&sb, good.buf, good.len);
	sb.buf[5] = '9';
	ASSERT_EQ(list_mem(ctx, &sb), -EBADMSG);
	memcpy(sb.buf, "070701", 6);
	sb.buf[20] = 'g';
	ASSERT_EQ(list_mem(ctx, &sb), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "mode");
	memcpy(sb.buf, "070707", 6);
	ASSERT_EQ(list_mem(ctx, &sb), -EOPNOTSUPP);

	/* a name size beyond the cap; a name without its NUL */
	strbuf_reset(&sb);
	one_file(&sb, "070701", "f", "hello", 0);
	memcpy(sb.buf + 94, "00100000", 8);
	ASSERT_EQ(list_mem(ctx, &sb), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "name size");
	strbuf_reset(&sb);
	one_file(&sb, "070701", "f", "hello", 0);
	sb.buf[111] = 'x';
	ASSERT_EQ(list_mem(ctx, &sb), -EBADMSG);

	/* checksums of 070702 are verified */
	strbuf_reset(&sb);
	one_file(&sb, "070702", "f", "hello", 'h' + 'e' + 'l' + 'l' + 'o');
	ASSERT_OK(list_mem(ctx, &sb));
	strbuf_reset(&sb);
	one_file(&sb, "070702", "f", "hello", 1);
	ASSERT_EQ(list_mem(ctx, &sb), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "checksum");

	/* an archive not at a multiple of 4 bytes; junk after an archive; lz4 */
	strbuf_reset(&sb);
	strbuf_addch(&sb, 0);
	strbuf_add(&sb, good.buf, good.len);
	ASSERT_EQ(list_mem(ctx, &sb), -EBADMSG);
	strbuf_reset(&sb);
	strbuf_add(&sb, good.buf, good.len);
	strbuf_adds(&sb, "junk");
	ASSERT_EQ(list_mem(ctx, &sb), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "neither a cpio archive nor a compressed one");
	strbuf_reset(&sb);
	strbuf_add(&sb, good.buf, good.len);
	strbuf_add(&sb, "\x02\x21\x4c\x18xxxx", 8);
	ASSERT_EQ(list_mem(ctx, &sb), -EOPNOTSUPP);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "lz4");
	/* zeros alone after an archive are padding */
	strbuf_reset(&sb);
	strbuf_add(&sb, good.buf, good.len);
	strbuf_add(&sb, "\0\0\0\0\0\0\0", 7);
	ASSERT_OK(list_mem(ctx, &sb));
}

TEST(hostile_compressed)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *path = NULL, *data = NULL;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT, out = STRBUF_INIT;
	size_t len;

	NEED_TOOL("xz", "xz-utils");
	/* junk after the archive inside the compressed stream */
	one_file(&sb, "070701", "f", "hello", 0);
	strbuf_adds(&sb, "junk");
	path = cat(dir, "raw");
	save(path, &sb);
	run("xz --check=crc32 -c %s/raw > %s/xz", dir, dir);
	free(path);
	path = cat(dir, "xz");
	data = read_all(path, &len);
	ASSERT_EQ(list(ctx, data, len, false, &out), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "segment 1 (xz)");
	/* a truncated compressed stream */
	ASSERT_EQ(list(ctx, data, len - 10, false, &out), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "initramfs segment 1");

	/* a traversal name is refused when extracting */
	strbuf_reset(&sb);
	one_file(&sb, "070701", "../evil", "x", 0);
	free(path);
	path = cat(dir, "evil");
	save(path, &sb);
	{
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		_cleanup_close_ int ofd = open(dir, O_TMPFILE | O_RDWR, 0600);

		ASSERT_TRUE(fd >= 0 && ofd >= 0);
		ASSERT_EQ(kiln_initramfs_extract(ctx, fd, "evil", ofd), -EINVAL);
		ASSERT_CONTAINS(kiln_ctx_error(ctx), "\"..\"");
	}
	run("rm -rf %s", dir);
}

TAP_MAIN
