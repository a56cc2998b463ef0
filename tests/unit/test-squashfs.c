/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * squashfs: kiln's images read back by squashfs-tools' unsquashfs (content,
 * modes, symlinks, owners 0:0, zstd), the same bytes from two writes and
 * from any number of threads, mksquashfs's images read by kiln (listing,
 * extracting a subtree), and hostile images made with libsquashfs itself
 * (a directory inside itself, names that are paths) and hostile
 * destinations (a symlink where a directory goes).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>

#include <kiln/image.h>

#include "fileio.h"
#include "strbuf.h"
#include "tap.h"
#include "helpers.h"

#define EPOCH 1700000000

/*
 * A tree with what a modules or firmware tree holds, and the cases that
 * matter to squashfs: empty, tail-end and multi-block files, duplicates,
 * a directory of many entries, symlinks, a fifo, odd modes.
 */
static void make_tree(const char *dir)
{
	run("cd %s && mkdir -p src/usr/lib/modules/6.1.0/kernel/fs src/usr/lib/firmware/intel "
	    "src/etc/private src/many && "
	    "head -c 1000000 /dev/urandom > src/usr/lib/modules/6.1.0/kernel/fs/rand.ko && "
	    "cp src/usr/lib/modules/6.1.0/kernel/fs/rand.ko src/usr/lib/firmware/intel/copy.bin && "
	    "yes kiln | head -c 700000 > src/usr/lib/modules/6.1.0/modules.order && "
	    ": > src/usr/lib/modules/6.1.0/empty && printf tail > src/etc/tail && "
	    "ln -s ../../firmware src/usr/lib/modules/6.1.0/fw && ln -s /etc/tail src/abs && "
	    "mkfifo src/etc/fifo && chmod 0700 src/etc/private && chmod 4755 src/etc/tail && "
	    "for i in $(seq 1 300); do printf $i > src/many/file-$i; done && "
	    "find src -exec touch -h -d @%d {} +",
	    dir, EPOCH);
}

static void write_image(struct kiln_ctx *ctx, const char *src, const char *img, unsigned jobs)
{
	_cleanup_close_ int fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct kiln_squashfs_options o = { .mtime = EPOCH, .jobs = jobs };
	int r;

	ASSERT_TRUE(fd >= 0);
	r = kiln_squashfs_write_tree(ctx, fd, img, &o);
	if (r < 0)
		TAP_FAIL("writing %s: %s", img, kiln_ctx_error(ctx));
}

/*
 * The trees @a and @b under @dir hold the same: content (diff), and every
 * entry's path, type, mode and symlink target (find). diff cannot compare fifos.
 */
static void same_tree(const char *dir, const char *a, const char *b)
{
	static const char *const sig = "find . -printf '%P %y %m %l\\n' | LC_ALL=C sort";

	run("cd %s && diff -r --no-dereference -x fifo %s %s && (cd %s && %s) > want && "
	    "(cd %s && %s) > got && diff want got",
	    dir, a, b, a, sig, b, sig);
}

TEST(unsquashfs_reads_ours)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *src = cat(dir, "src"), *img = cat(dir, "img");

	NEED_TOOL("unsquashfs", "squashfs-tools");
	make_tree(dir);
	write_image(ctx, src, img, 0);
	run("cd %s && unsquashfs -q -n -d out img >/dev/null", dir);
	/* unsquashfs sets a setuid bit only as root; the image's own is read with -lln */
	run("cd %s && unsquashfs -lln img etc/tail | "
	    "grep -q '^-rwsr-xr-x 0/0 .* squashfs-root/etc/tail$'",
	    dir);
	if (geteuid() != 0)
		run("chmod u+s %s/out/etc/tail", dir);
	same_tree(dir, "src", "out");
	/* every owner 0:0 (-lln: numeric), every mtime the one given */
	run("cd %s && unsquashfs -lln img | awk 'NR > 3 && $2 != \"0/0\" { bad = 1 } END { exit bad }'",
	    dir);
	run("cd %s && [ -z \"$(find out -newermt @%d -o ! -newermt @%d)\" ]", dir, EPOCH,
	    EPOCH - 1);
	run("cd %s && unsquashfs -s img > super && grep -q 'Compression zstd' super && "
	    "grep -q 'compression-level 18' super && grep -q 'Block size 131072' super && "
	    "grep -q 'Xattrs are not stored' super",
	    dir);
	run("rm -rf %s", dir);
}

TEST(deterministic)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *src = cat(dir, "src"), *a = cat(dir, "a"),
			    *b = cat(dir, "b"), *c = cat(dir, "c");

	make_tree(dir);
	write_image(ctx, src, a, 0);
	write_image(ctx, src, b, 0);
	write_image(ctx, src, c, 1);
	run("cmp %s %s && cmp %s %s", a, b, a, c);
	/* whole 4 KiB blocks */
	run("[ $(($(stat -c %%s %s) %% 4096)) -eq 0 ]", a);
	/* a second write replaces the image, leaving no temporary file */
	run("[ $(ls %s | wc -l) -eq 4 ]", dir);
	run("rm -rf %s", dir);
}

static int collect(void *userdata, const struct kiln_squashfs_entry *e)
{
	struct strbuf *sb = userdata;

	return strbuf_addf(sb, "%s %o %u/%u %lld %" PRIu64 "%s%s\n", e->path[0] ? e->path : ".",
			   e->mode, e->uid, e->gid, (long long)e->mtime,
			   S_ISREG(e->mode) ? e->size : 0, e->target ? " -> " : "",
			   e->target ? e->target : "");
}

/* What kiln_squashfs_list() should say of @paths under @root: lstat() with owner 0:0. */
static void expected_listing(const char *root, const char *paths, struct strbuf *out)
{
	_cleanup_free_ char *text = NULL;
	char *save = NULL;
	size_t len;

	ASSERT_OK(read_file_at(AT_FDCWD, paths, 1 << 20, &text, &len));
	for (char *p = strtok_r(text, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		_cleanup_free_ char *full = cat(root, p);
		char target[512] = "";
		struct stat st;

		ASSERT_OK(lstat(full, &st));
		if (S_ISLNK(st.st_mode))
			ASSERT_TRUE(readlink(full, target, sizeof(target) - 1) > 0);
		strbuf_addf(out, "%s %o 0/0 %d %llu%s%s\n", p, st.st_mode, EPOCH,
			    S_ISREG(st.st_mode) ? (unsigned long long)st.st_size : 0ULL,
			    target[0] ? " -> " : "", target);
	}
}

TEST(reads_mksquashfs)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *img = cat(dir, "img"), *dest = cat(dir, "dest"),
			    *src = cat(dir, "src"), *paths = cat(dir, "paths"),
			    *listing = cat(dir, "listing"), *sorted = NULL;
	_cleanup_strbuf_ struct strbuf got = STRBUF_INIT, want = STRBUF_INIT;
	size_t len;

	NEED_TOOL("mksquashfs", "squashfs-tools");
	make_tree(dir);
	run("cd %s && mksquashfs src img -comp zstd -Xcompression-level 18 -all-root -noappend "
	    "-no-progress -no-xattrs -quiet >/dev/null",
	    dir);
	ASSERT_OK(kiln_squashfs_list(ctx, img, "usr/lib", collect, &got));
	run("cd %s && find usr/lib | LC_ALL=C sort > %s", src, paths);
	expected_listing(src, paths, &want);
	/* kiln lists each directory's entries in order, parents first; find | sort by path */
	ASSERT_OK(write_file_atomic(listing, got.buf, got.len, 0644));
	run("LC_ALL=C sort -o %s %s", listing, listing);
	ASSERT_OK(read_file_at(AT_FDCWD, listing, 1 << 20, &sorted, &len));
	ASSERT_STREQ(sorted, strbuf_str(&want));
	/* parents first, entries of a directory in order */
	ASSERT_TRUE(strncmp(got.buf, "usr/lib 40755", 13) == 0);

	ASSERT_OK(mkdir(dest, 0755));
	ASSERT_OK(kiln_squashfs_extract(ctx, img, "usr/lib/modules", dest));
	same_tree(dir, "src/usr/lib/modules", "dest/usr/lib/modules");
	run("cd %s && [ ! -e dest/usr/lib/firmware ] && [ ! -e dest/etc ]", dir);
	run("[ \"$(stat -c %%Y %s/usr/lib/modules/6.1.0/modules.order)\" = %d ]", dest, EPOCH);
	/* a directory already there is merged into; a file already there is not replaced */
	ASSERT_OK(kiln_squashfs_extract(ctx, img, "etc/private", dest));
	ASSERT_OK(kiln_squashfs_extract(ctx, img, "etc", dest));
	ASSERT_EQ(kiln_squashfs_extract(ctx, img, "etc", dest), -EEXIST);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "\"etc/fifo\"");
	run("rm -rf %s", dir);
}

TEST(round_trip_and_refusals)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *src = cat(dir, "src"), *img = cat(dir, "img"),
			    *dest = cat(dir, "dest"), *outside = cat(dir, "outside"), *link = NULL;

	make_tree(dir);
	write_image(ctx, src, img, 0);
	ASSERT_OK(mkdir(dest, 0755));
	ASSERT_OK(kiln_squashfs_extract(ctx, img, NULL, dest));
	same_tree(dir, "src", "dest");

	ASSERT_EQ(kiln_squashfs_list(ctx, img, "usr/../etc", collect, NULL), -EINVAL);
	ASSERT_EQ(kiln_squashfs_list(ctx, img, "/nope", collect, NULL), -EINVAL);
	ASSERT_EQ(kiln_squashfs_list(ctx, img, "usr/nope", collect, NULL), -ENOENT);
	ASSERT_EQ(kiln_squashfs_list(ctx, img, "etc/tail/x", collect, NULL), -ENOTDIR);

	/* a symlink in the destination where a directory goes is not followed */
	run("rm -rf %s && mkdir %s %s", dest, dest, outside);
	link = cat(dest, "usr");
	ASSERT_OK(symlink(outside, link));
	ASSERT_EQ(kiln_squashfs_extract(ctx, img, "usr/lib", dest), -EEXIST);
	run("[ -z \"$(ls -A %s)\" ]", outside);

	/* not an image */
	ASSERT_EQ(kiln_squashfs_list(ctx, src, NULL, collect, NULL), -EINVAL);
	run("head -c 100 %s > %s/short", img, dir);
	free(link);
	link = cat(dir, "short");
	ASSERT_TRUE(kiln_squashfs_list(ctx, link, NULL, collect, NULL) < 0);
	run("rm -rf %s", dir);
}

/* Corrupt bytes anywhere in the tables: an error or a listing, never a crash. */
TEST(corrupt_tables)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *src = cat(dir, "src"), *img = cat(dir, "img"),
			    *bad = cat(dir, "bad"), *data = NULL;
	size_t len;

	make_tree(dir);
	write_image(ctx, src, img, 1);
	ASSERT_OK(read_file_at(AT_FDCWD, img, 64 << 20, &data, &len));
	srand(1);
	for (int round = 0; round < 200; round++) {
		_cleanup_strbuf_ struct strbuf sink = STRBUF_INIT;
		_cleanup_free_ char *copy = malloc(len);
		/* the tables are in the last 8 KiB or so */
		size_t at = len - 1 - (size_t)rand() % 12000;

		memcpy(copy, data, len);
		copy[at] ^= (char)(1 + rand() % 255);
		ASSERT_OK(write_file_atomic(bad, copy, len, 0644));
		(void)kiln_squashfs_list(ctx, bad, NULL, collect, &sink);
	}
	run("rm -rf %s", dir);
}

/* ---- hostile images, made with libsquashfs directly ----------------------------- */

/*
 * An image whose root holds one directory entry, @name, for a directory
 * that holds @self_loop ? an entry "again" for itself : nothing.
 */
static void craft(const char *path, const char *name, bool self_loop)
{
	sqfs_compressor_config_t cfg;
	sqfs_compressor_t *cmp = NULL;
	sqfs_super_t super;
	sqfs_file_t *file = sqfs_open_file(path, SQFS_FILE_OPEN_OVERWRITE);
	sqfs_meta_writer_t *im, *dm;
	sqfs_dir_writer_t *dw;
	sqfs_id_table_t *ids = sqfs_id_table_create(0);
	sqfs_frag_table_t *frags = sqfs_frag_table_create(0);
	sqfs_u64 block, ref_d = 0, ref_root = 0;
	sqfs_u32 off;

	ASSERT_TRUE(file && ids && frags);
	ASSERT_EQ(sqfs_compressor_config_init(&cfg, SQFS_COMP_ZSTD, 131072, 0), 0);
	ASSERT_EQ(sqfs_compressor_create(&cfg, &cmp), 0);
	ASSERT_EQ(sqfs_super_init(&super, 131072, 0, SQFS_COMP_ZSTD), 0);
	ASSERT_EQ(sqfs_super_write(&super, file), 0);
	im = sqfs_meta_writer_create(file, cmp, 0);
	dm = sqfs_meta_writer_create(file, cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
	dw = sqfs_dir_writer_create(dm, 0);
	ASSERT_TRUE(im && dm && dw);
	super.inode_table_start = file->get_size(file);

	for (int i = 0; i < 2; i++) {
		sqfs_inode_generic_t *inode;

		sqfs_meta_writer_get_position(im, &block, &off);
		if (i == 0)
			ref_d = block << 16 | off;
		else
			ref_root = block << 16 | off;
		ASSERT_EQ(sqfs_dir_writer_begin(dw, 0), 0);
		if (i == 0 && self_loop)
			ASSERT_EQ(sqfs_dir_writer_add_entry(dw, "again", 1, ref_d, S_IFDIR), 0);
		if (i == 1)
			ASSERT_EQ(sqfs_dir_writer_add_entry(dw, name, 1, ref_d, S_IFDIR), 0);
		ASSERT_EQ(sqfs_dir_writer_end(dw), 0);
		inode = sqfs_dir_writer_create_inode(dw, 0, 0xFFFFFFFF, i == 0 ? 2 : 3);
		ASSERT_TRUE(inode);
		inode->base.mode = S_IFDIR | 0755;
		inode->base.inode_number = (sqfs_u32)i + 1;
		ASSERT_EQ(sqfs_id_table_id_to_index(ids, 0, &inode->base.uid_idx), 0);
		inode->base.gid_idx = inode->base.uid_idx;
		ASSERT_EQ(sqfs_meta_writer_write_inode(im, inode), 0);
		sqfs_free(inode);
	}
	ASSERT_EQ(sqfs_meta_writer_flush(im), 0);
	ASSERT_EQ(sqfs_meta_writer_flush(dm), 0);
	super.inode_count = 2;
	super.root_inode_ref = ref_root;
	super.directory_table_start = file->get_size(file);
	ASSERT_EQ(sqfs_meta_write_write_to_file(dm), 0);
	ASSERT_EQ(sqfs_frag_table_write(frags, file, &super, cmp), 0);
	ASSERT_EQ(sqfs_id_table_write(ids, file, &super, cmp), 0);
	super.bytes_used = file->get_size(file);
	ASSERT_EQ(sqfs_super_write(&super, file), 0);
	sqfs_destroy(dw);
	sqfs_destroy(dm);
	sqfs_destroy(im);
	sqfs_destroy(frags);
	sqfs_destroy(ids);
	sqfs_destroy(cmp);
	sqfs_destroy(file);
}

TEST(hostile_images)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_free_ char *dir = temp_dir(), *img = cat(dir, "img"), *dest = cat(dir, "dest");
	_cleanup_strbuf_ struct strbuf sink = STRBUF_INIT;
	static const char *const bad_names[] = { "..", ".", "a/b", "../../etc" };

	craft(img, "d", false);
	ASSERT_OK(kiln_squashfs_list(ctx, img, NULL, collect, &sink));
	ASSERT_STREQ(strbuf_str(&sink), ". 40755 0/0 0 0\nd 40755 0/0 0 0\n");

	/* a directory inside itself */
	craft(img, "d", true);
	ASSERT_EQ(kiln_squashfs_list(ctx, img, NULL, collect, &sink), -ELOOP);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "d/again");
	ASSERT_OK(mkdir(dest, 0755));
	ASSERT_EQ(kiln_squashfs_extract(ctx, img, NULL, dest), -ELOOP);

	for (size_t i = 0; i < ELEMENTSOF(bad_names); i++) {
		craft(img, bad_names[i], false);
		ASSERT_EQ(kiln_squashfs_list(ctx, img, NULL, collect, &sink), -EBADMSG);
		ASSERT_EQ(kiln_squashfs_extract(ctx, img, NULL, dest), -EBADMSG);
		ASSERT_CONTAINS(kiln_ctx_error(ctx), "has an entry named");
	}
	run("[ \"$(ls -A %s)\" = d ] && [ -z \"$(ls -A %s/d)\" ]", dest, dest);
	run("rm -rf %s", dir);
}

TAP_MAIN
