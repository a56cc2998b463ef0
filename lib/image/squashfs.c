/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writing a squashfs image from a directory tree with libsquashfs (from
 * squashfs-tools-ng), laid out as its gensquashfs lays one out:
 *
 *   super block, compressor options, file data and fragment blocks (from
 *   the block processor), inode table, directory table, fragment table,
 *   id table; then the super block again, and zeros to 4 KiB.
 *
 * Inodes are numbered so that a directory's entries come right before the
 * directory itself, deepest first, the root last: every directory's
 * listing can then be written when its inode is, with its entries' inode
 * references already known, and a listing's inode numbers are close
 * together, so it needs few headers.
 *
 * The result depends only on the tree and the options: entries in
 * bytewise order, files fed to the block processor in path order (it
 * writes blocks in the order they were submitted, whichever worker
 * compressed them), one owner (0:0) and one mtime for everything, no
 * extended attributes, no export table.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <sqfs/block.h>
#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>

#include <kiln/image.h>

#include "dirtree.h"
#include "fileio.h"
#include "log.h"
#include "parallel.h"
#include "squashfs-internal.h"

#define READ_BUF (128u << 10)
/* what mksquashfs and gensquashfs pad an image to: loop devices want whole 4 KiB blocks */
#define DEVBLK_SIZE 4096
/* blocks queued for the workers, per worker */
#define BACKLOG_PER_JOB 10
/* the kernel's SQUASHFS_NAME_LEN */
#define NAME_MAX_LEN 256

struct node {
	const struct dirtree_entry *e; /* NULL for the root */
	size_t first_child, next_sibling; /* indexes in the node array, SIZE_MAX for none */
	sqfs_inode_generic_t *inode; /* regular files: made and updated by the block processor */
	uint32_t inode_num;
	uint64_t inode_ref;
};

struct writer {
	struct kiln_ctx *ctx;
	const char *path;
	int root_fd;
	struct dirtree tree;
	struct node *nodes; /* one per tree entry, then the root */
	size_t n_nodes;
	size_t *order; /* nodes in inode number order */
	size_t n_order;
	uint32_t mtime;

	sqfs_file_t *file;
	sqfs_super_t super;
	sqfs_compressor_t *cmp, *uncmp;
	sqfs_block_writer_t *blkwr;
	sqfs_frag_table_t *fragtbl;
	sqfs_block_processor_t *proc;
	sqfs_id_table_t *idtbl;
	sqfs_meta_writer_t *im, *dm;
	sqfs_dir_writer_t *dirwr;
};

static void writer_release(struct writer *w)
{
	/* the block processor first: its workers use the compressor and the writers */
	sqfs_destroy(w->proc);
	sqfs_destroy(w->dirwr);
	sqfs_destroy(w->dm);
	sqfs_destroy(w->im);
	sqfs_destroy(w->idtbl);
	sqfs_destroy(w->fragtbl);
	sqfs_destroy(w->blkwr);
	sqfs_destroy(w->uncmp);
	sqfs_destroy(w->cmp);
	sqfs_destroy(w->file);
	for (size_t i = 0; i < w->n_nodes; i++)
		sqfs_free(w->nodes[i].inode);
	free(w->nodes);
	free(w->order);
	dirtree_release(&w->tree);
}

static int fail(struct writer *w, int err, const char *what)
{
	return squashfs_fail(w->ctx, w->file, err, w->path, what);
}

/* ---- the tree ------------------------------------------------------------------ */

static size_t root_index(const struct writer *w)
{
	return w->n_nodes - 1;
}

static int build_nodes(struct writer *w)
{
	const struct dirtree *t = &w->tree;

	w->n_nodes = t->n + 1;
	w->nodes = calloc(w->n_nodes, sizeof(*w->nodes));
	w->order = calloc(w->n_nodes, sizeof(*w->order));
	if (!w->nodes || !w->order)
		return -ENOMEM;
	for (size_t i = 0; i < w->n_nodes; i++)
		w->nodes[i] = (struct node){ .e = i < t->n ? &t->e[i] : NULL,
					     .first_child = SIZE_MAX,
					     .next_sibling = SIZE_MAX };
	/* backwards, each put in front: every list ends up in name order */
	for (size_t i = t->n; i-- > 0;) {
		size_t parent = t->e[i].parent == SIZE_MAX ? root_index(w) : t->e[i].parent;

		if (strlen(t->e[i].name) > NAME_MAX_LEN)
			return kiln_error(w->ctx, ENAMETOOLONG,
					  "\"%s\": a squashfs name is at most %d bytes",
					  t->e[i].path, NAME_MAX_LEN);
		w->nodes[i].next_sibling = w->nodes[parent].first_child;
		w->nodes[parent].first_child = i;
	}
	return 0;
}

static bool node_is_dir(const struct writer *w, size_t i)
{
	return i == root_index(w) || S_ISDIR(w->nodes[i].e->st.st_mode);
}

/* Subdirectories' entries first, deepest first; then @dir's own entries in order. */
static void number_entries(struct writer *w, size_t dir)
{
	for (size_t c = w->nodes[dir].first_child; c != SIZE_MAX; c = w->nodes[c].next_sibling)
		if (node_is_dir(w, c))
			number_entries(w, c);
	for (size_t c = w->nodes[dir].first_child; c != SIZE_MAX; c = w->nodes[c].next_sibling)
		w->order[w->n_order++] = c;
}

static void number_inodes(struct writer *w)
{
	number_entries(w, root_index(w));
	w->order[w->n_order++] = root_index(w);
	for (size_t i = 0; i < w->n_order; i++)
		w->nodes[w->order[i]].inode_num = (uint32_t)i + 1;
}

/* ---- setting up libsquashfs ---------------------------------------------------- */

static int setup(struct writer *w, int fd, const struct kiln_squashfs_options *o)
{
	sqfs_compressor_config_t cfg;
	sqfs_block_processor_desc_t desc = { .size = sizeof(desc) };
	uint32_t block_size = o->block_size ? o->block_size : KILN_SQUASHFS_BLOCK_SIZE;
	unsigned jobs = o->jobs ? o->jobs : kiln_cpus_online();
	int r;

	w->file = squashfs_file_new(fd, 0, true);
	if (!w->file)
		return -ENOMEM;
	r = sqfs_super_init(&w->super, block_size, w->mtime, SQFS_COMP_ZSTD);
	if (r)
		return fail(w, r, "block size");
	r = sqfs_compressor_config_init(&cfg, SQFS_COMP_ZSTD, block_size, 0);
	if (r)
		return fail(w, r, "compressor settings");
	cfg.level = (sqfs_u32)(o->level ? o->level : KILN_SQUASHFS_LEVEL);
	r = sqfs_compressor_create(&cfg, &w->cmp);
	if (r)
		return fail(w, r, "zstd compressor");
	cfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
	r = sqfs_compressor_create(&cfg, &w->uncmp);
	if (r)
		return fail(w, r, "zstd decompressor");
	r = sqfs_super_write(&w->super, w->file);
	if (r)
		return fail(w, r, "writing the super block");
	r = w->cmp->write_options(w->cmp, w->file);
	if (r < 0)
		return fail(w, r, "writing the compressor options");
	if (r > 0)
		w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;
	w->super.flags |= SQFS_FLAG_NO_XATTRS;

	w->blkwr = sqfs_block_writer_create(w->file, DEVBLK_SIZE, 0);
	w->fragtbl = sqfs_frag_table_create(0);
	w->idtbl = sqfs_id_table_create(0);
	w->im = sqfs_meta_writer_create(w->file, w->cmp, 0);
	w->dm = sqfs_meta_writer_create(w->file, w->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY);
	w->dirwr = w->dm ? sqfs_dir_writer_create(w->dm, 0) : NULL;
	if (!w->blkwr || !w->fragtbl || !w->idtbl || !w->im || !w->dm || !w->dirwr)
		return -ENOMEM;

	desc.max_block_size = block_size;
	desc.num_workers = jobs;
	desc.max_backlog = jobs * BACKLOG_PER_JOB;
	desc.cmp = w->cmp;
	desc.wr = w->blkwr;
	desc.tbl = w->fragtbl;
	/* fragments that hash alike are compared byte for byte before one is dropped */
	desc.file = w->file;
	desc.uncmp = w->uncmp;
	r = sqfs_block_processor_create_ex(&desc, &w->proc);
	if (r)
		return fail(w, r, "starting the block processor");
	return 0;
}

/* ---- file data ----------------------------------------------------------------- */

struct append {
	struct writer *w;
	const char *path;
};

static int append_chunk(void *userdata, const void *data, size_t len)
{
	struct append *a = userdata;
	int r = sqfs_block_processor_append(a->w->proc, data, len);

	if (r) {
		_cleanup_free_ char *what = NULL;

		if (asprintf(&what, "compressing \"%s\"", a->path) < 0)
			return -ENOMEM;
		return fail(a->w, r, what);
	}
	return 0;
}

static int write_data(struct writer *w)
{
	_cleanup_free_ char *buf = malloc(READ_BUF);
	int r;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < w->tree.n; i++) {
		const struct dirtree_entry *e = &w->tree.e[i];
		struct append a = { w, e->path };
		_cleanup_close_ int fd = -1;
		struct stat st;

		if (!S_ISREG(e->st.st_mode))
			continue;
		r = dirtree_open_file(w->ctx, w->root_fd, e, &fd);
		if (r < 0)
			return r;
		if (fstat(fd, &st) < 0)
			return kiln_error(w->ctx, errno, "cannot stat \"%s\": %m", e->path);
		r = sqfs_block_processor_begin_file(w->proc, &w->nodes[i].inode, NULL, 0);
		if (r)
			return fail(w, r, "starting a file");
		r = dirtree_read_file(w->ctx, e->path, fd, (uint64_t)st.st_size, buf, READ_BUF,
				      append_chunk, &a);
		if (r < 0)
			return r;
		r = sqfs_block_processor_end_file(w->proc);
		if (r)
			return fail(w, r, "ending a file");
	}
	r = sqfs_block_processor_finish(w->proc);
	if (r)
		return fail(w, r, "compressing file data");
	return 0;
}

/* ---- inodes and directories ------------------------------------------------------ */

/* Linux's encoding of a device number in 32 bits, which squashfs stores. */
static uint32_t encode_dev(dev_t dev)
{
	uint32_t ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
}

static int dir_inode(struct writer *w, size_t i, sqfs_inode_generic_t **ret)
{
	const struct node *n = &w->nodes[i];
	sqfs_inode_generic_t *inode;
	uint32_t subdirs = 0, parent;
	int r;

	r = sqfs_dir_writer_begin(w->dirwr, 0);
	for (size_t c = n->first_child; !r && c != SIZE_MAX; c = w->nodes[c].next_sibling) {
		const struct node *cn = &w->nodes[c];

		subdirs += S_ISDIR(cn->e->st.st_mode);
		r = sqfs_dir_writer_add_entry(w->dirwr, cn->e->name, cn->inode_num, cn->inode_ref,
					      (sqfs_u16)cn->e->st.st_mode);
	}
	if (!r)
		r = sqfs_dir_writer_end(w->dirwr);
	if (r)
		return fail(w, r, n->e ? n->e->path : "the root directory");
	/* as mksquashfs: the root's parent is one past the last inode */
	if (!n->e)
		parent = (uint32_t)w->n_order + 1;
	else if (n->e->parent == SIZE_MAX)
		parent = w->nodes[root_index(w)].inode_num;
	else
		parent = w->nodes[n->e->parent].inode_num;
	inode = sqfs_dir_writer_create_inode(w->dirwr, 0, 0xFFFFFFFF, parent);
	if (!inode)
		return -ENOMEM;
	if (inode->base.type == SQFS_INODE_DIR)
		inode->data.dir.nlink = 2 + subdirs;
	else
		inode->data.dir_ext.nlink = 2 + subdirs;
	*ret = inode;
	return 0;
}

static int other_inode(struct writer *w, const struct dirtree_entry *e, sqfs_inode_generic_t **ret)
{
	size_t extra = e->target ? strlen(e->target) : 0;
	sqfs_inode_generic_t *inode = calloc(1, sizeof(*inode) + extra);

	if (!inode)
		return -ENOMEM;
	switch (e->st.st_mode & S_IFMT) {
	case S_IFLNK:
		inode->base.type = SQFS_INODE_SLINK;
		inode->data.slink.nlink = 1;
		inode->data.slink.target_size = (sqfs_u32)extra;
		inode->payload_bytes_available = inode->payload_bytes_used = (sqfs_u32)extra;
		memcpy(inode->extra, e->target, extra);
		break;
	case S_IFCHR:
	case S_IFBLK:
		inode->base.type = S_ISCHR(e->st.st_mode) ? SQFS_INODE_CDEV : SQFS_INODE_BDEV;
		inode->data.dev.nlink = 1;
		inode->data.dev.devno = encode_dev(e->st.st_rdev);
		break;
	case S_IFIFO:
	case S_IFSOCK:
		inode->base.type = S_ISFIFO(e->st.st_mode) ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
		inode->data.ipc.nlink = 1;
		break;
	default:
		free(inode);
		return kiln_error(w->ctx, EINVAL, "\"%s\": unknown file type 0%o", e->path,
				  e->st.st_mode & S_IFMT);
	}
	*ret = inode;
	return 0;
}

static int write_inode(struct writer *w, size_t i)
{
	struct node *n = &w->nodes[i];
	sqfs_inode_generic_t *inode = NULL;
	sqfs_u64 block;
	sqfs_u32 offset;
	int r;

	if (node_is_dir(w, i)) {
		r = dir_inode(w, i, &inode);
	} else if (S_ISREG(n->e->st.st_mode)) {
		inode = TAKE_PTR(n->inode);
		if (inode->base.type == SQFS_INODE_EXT_FILE)
			inode->data.file_ext.nlink = 1;
		r = 0;
	} else {
		r = other_inode(w, n->e, &inode);
	}
	if (r < 0)
		return r;
	inode->base.mode = (sqfs_u16)(n->e ? n->e->st.st_mode & (S_IFMT | 07777)
					   : S_IFDIR | (w->tree.root.st_mode & 07777));
	inode->base.mod_time = w->mtime;
	inode->base.inode_number = n->inode_num;
	r = sqfs_inode_set_xattr_index(inode, 0xFFFFFFFF);
	if (!r)
		r = sqfs_id_table_id_to_index(w->idtbl, 0, &inode->base.uid_idx);
	if (!r)
		r = sqfs_id_table_id_to_index(w->idtbl, 0, &inode->base.gid_idx);
	if (!r) {
		sqfs_meta_writer_get_position(w->im, &block, &offset);
		n->inode_ref = block << 16 | offset;
		r = sqfs_meta_writer_write_inode(w->im, inode);
	}
	sqfs_free(inode);
	if (r)
		return fail(w, r, n->e ? n->e->path : "the root directory");
	return 0;
}

static int write_tables(struct writer *w)
{
	int r;

	w->super.inode_count = (sqfs_u32)w->n_order;
	w->super.inode_table_start = w->file->get_size(w->file);
	for (size_t i = 0; i < w->n_order; i++) {
		r = write_inode(w, w->order[i]);
		if (r < 0)
			return r;
	}
	r = sqfs_meta_writer_flush(w->im);
	if (!r)
		r = sqfs_meta_writer_flush(w->dm);
	if (r)
		return fail(w, r, "writing the inode table");
	w->super.root_inode_ref = w->nodes[root_index(w)].inode_ref;
	w->super.directory_table_start = w->file->get_size(w->file);
	r = sqfs_meta_write_write_to_file(w->dm);
	if (r)
		return fail(w, r, "writing the directory table");
	r = sqfs_frag_table_write(w->fragtbl, w->file, &w->super, w->cmp);
	if (r)
		return fail(w, r, "writing the fragment table");
	r = sqfs_id_table_write(w->idtbl, w->file, &w->super, w->cmp);
	if (r)
		return fail(w, r, "writing the id table");
	w->super.bytes_used = w->file->get_size(w->file);
	r = sqfs_super_write(&w->super, w->file);
	if (r)
		return fail(w, r, "writing the super block");
	if (w->super.bytes_used % DEVBLK_SIZE) {
		static const char zeros[DEVBLK_SIZE];

		r = w->file->write_at(w->file, w->super.bytes_used, zeros,
				      DEVBLK_SIZE - w->super.bytes_used % DEVBLK_SIZE);
		if (r)
			return fail(w, r, "padding the image");
	}
	return 0;
}

int kiln_squashfs_write_tree(struct kiln_ctx *ctx, int dirfd, const char *path,
			     const struct kiln_squashfs_options *o)
{
	_cleanup_(writer_release) struct writer w = { .ctx = ctx, .path = path, .root_fd = dirfd };
	_cleanup_(atomic_file_release) struct atomic_file f = { .fd = -1 };
	uint32_t bs = o->block_size;
	int r;

	if (o->mtime < 0 || o->mtime > UINT32_MAX)
		return kiln_error(ctx, EINVAL, "squashfs mtime %lld out of range",
				  (long long)o->mtime);
	if (o->level < 0 || o->level > 22)
		return kiln_error(ctx, EINVAL, "zstd level %d not in 1..22", o->level);
	if (bs && (bs < 4096 || bs > (1u << 20) || (bs & (bs - 1))))
		return kiln_error(ctx, EINVAL,
				  "squashfs block size %u is not a power of two in 4 KiB..1 MiB",
				  bs);
	w.mtime = (uint32_t)o->mtime;
	r = dirtree_list(ctx, dirfd, &w.tree);
	if (r < 0)
		return r;
	r = build_nodes(&w);
	if (r < 0)
		return r;
	number_inodes(&w);

	r = atomic_file_open(path, &f);
	if (r < 0)
		return kiln_error(ctx, r, "cannot create a temporary file beside \"%s\": %s", path,
				  strerror(-r));
	r = setup(&w, f.fd, o);
	if (r < 0)
		return r;
	r = write_data(&w);
	if (r < 0)
		return r;
	r = write_tables(&w);
	if (r < 0)
		return r;
	r = atomic_file_commit(&f, 0644);
	if (r < 0)
		return kiln_error(ctx, r, "cannot write \"%s\": %s", path, strerror(-r));
	return 0;
}
