/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `kiln import FILE|-`: a tar into the store, from a file or a stream. It
 * is a docker-archive or an oci-archive (archive-import.c does those), or
 * the tar of a root filesystem, which becomes a one-layer image.
 *
 * Telling them apart needs every member name (docker save writes
 * manifest.json last), and archives are then read by offset, so a pipe
 * (or a compressed file) is spooled, decompressed, to an unnamed file in
 * the store's tmp/ while its headers are read: one pass, disk rather than
 * memory, nothing to clean up after any failure. A rootfs tar said to be
 * one is streamed straight into its layer.
 *
 * A rootfs tar's entries are written again rather than copied: each is
 * first applied to an in-memory tree of metadata (fs.c), which refuses it
 * exactly as `kiln ls` and `kiln unpack` would refuse it in a layer, then
 * handed to the tar writer with its metadata and data as read. So the
 * layer holds what was checked, in the one form kiln writes tars, and
 * another tool reads from it what kiln read: no name given twice (a GNU
 * long name and a PAX path, which readers may choose between
 * differently), no GNU-only header, nothing after the archive's end.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <kiln/layer.h>

#include "fileio.h"
#include "layer-internal.h"
#include "log.h"
#include "store-internal.h"
#include "tar-format.h"

struct kiln_tar_input {
	char *path; /* "standard input" for a stream without one */
	char *what; /* for messages: "\"PATH\"" or "standard input" */
	int fd; /* the input, or the spool that holds it decompressed */
	bool by_offset; /* @fd is a plain tar read from offset 0; else a stream, read once */
	bool used;
	enum kiln_archive_format format;
};

void kiln_tar_input_free(struct kiln_tar_input *in)
{
	if (!in)
		return;
	closep(&in->fd);
	free(in->path);
	free(in->what);
	free(in);
}

enum kiln_archive_format kiln_tar_input_format(const struct kiln_tar_input *in)
{
	return in->format;
}

/* ---- reading the input ------------------------------------------------------------ */

struct source {
	struct kiln_ctx *ctx;
	int fd;
	bool by_offset;
	uint64_t off;
};

static ssize_t source_read(void *userdata, void *buf, size_t len)
{
	struct source *src = userdata;
	ssize_t n;

	do {
		n = src->by_offset ? pread(src->fd, buf, len, (off_t)src->off)
				   : read(src->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return kiln_error(src->ctx, errno, "cannot read: %m");
	src->off += (uint64_t)n;
	return n;
}

/* By offset, skipping is counting: a tar cut short is found by the read after. */
static int source_skip(void *userdata, uint64_t n)
{
	struct source *src = userdata;

	if (n > INT64_MAX - src->off)
		return kiln_error(src->ctx, EOVERFLOW, "cannot seek past byte %llu",
				  (unsigned long long)src->off);
	src->off += n;
	return 0;
}

/*
 * The kind of archive the tar read by @tr is, from its member names. A
 * name that is not clean cannot be an archive's member: it is passed
 * over here and refused by whichever import follows.
 */
static int detect_kind(struct kiln_ctx *ctx, struct kiln_tar_reader *tr,
		       enum kiln_archive_format *ret)
{
	bool index_json = false, oci_layout = false, manifest_json = false;
	const struct kiln_tar_entry *e;
	int r;

	while ((r = kiln_tar_reader_next(tr, &e)) > 0) {
		_cleanup_free_ char *name = NULL;

		r = kiln_tar_path_clean(ctx, e->path, &name);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			kiln_ctx_clear_error(ctx);
			continue;
		}
		index_json |= streq(name, "index.json");
		oci_layout |= streq(name, "oci-layout");
		manifest_json |= streq(name, "manifest.json");
	}
	if (r < 0)
		return r;
	*ret = archive_kind(index_json, oci_layout, manifest_json);
	return 0;
}

/* An unnamed file in the store's tmp/: it is gone when closed, however the import ends. */
static int open_spool(struct kiln_ctx *ctx, struct kiln_store *s)
{
	int fd = openat(s->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	/* file systems without O_TMPFILE (overlayfs before Linux 6.6): a name, unlinked at once */
	for (int tries = 0; fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR); tries++) {
		char name[48];
		uint64_t rnd;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = ((uint64_t)getpid() << 32) ^ (uint64_t)tries;
		snprintf(name, sizeof(name), "spool-%d-%016llx", (int)getpid(),
			 (unsigned long long)rnd);
		fd = openat(s->tmp_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			unlinkat(s->tmp_fd, name, 0);
			break;
		}
		if (errno == EEXIST && tries < 100)
			errno = EOPNOTSUPP;
	}
	if (fd < 0)
		return kiln_error(ctx, errno, "cannot create a temporary file in %s/%s: %m",
				  s->path, STORE_TMP_DIR);
	return fd;
}

/* Bytes out of the decompressor, copied into the spool on their way to the tar reader. */
struct tee {
	struct kiln_ctx *ctx;
	struct kiln_store *s;
	struct kiln_unzip *uz;
	int spool;
};

static ssize_t tee_read(void *userdata, void *buf, size_t len)
{
	struct tee *t = userdata;
	ssize_t n = kiln_unzip_read(t->uz, buf, len);
	int r;

	if (n > 0 && (r = write_all(t->spool, buf, (size_t)n)) < 0)
		return kiln_error(t->ctx, r,
				  "cannot keep the tar in %s/%s: %s (it needs the tar's size "
				  "in free space; or import the tar from a file)",
				  t->s->path, STORE_TMP_DIR, strerror(-r));
	return n;
}

/*
 * All of the input, decompressed, into a spool that becomes in->fd; its
 * kind told on the way unless given.
 */
static int spool(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_tar_input *in, int fd)
{
	_cleanup_(kiln_unzip_freep) struct kiln_unzip *uz = NULL;
	_cleanup_(kiln_tar_reader_freep) struct kiln_tar_reader *tr = NULL;
	struct source src = { ctx, fd, false, 0 };
	struct tee t = { ctx, s, NULL, -1 };
	char buf[65536];
	ssize_t n;
	int r;

	in->fd = t.spool = open_spool(ctx, s);
	if (in->fd < 0)
		return in->fd;
	r = kiln_unzip_new(ctx, source_read, &src, &uz);
	if (r < 0)
		return r;
	t.uz = uz;
	if (in->format == KILN_ARCHIVE_AUTO) {
		r = kiln_tar_reader_new(ctx, tee_read, &t, &tr);
		if (r < 0)
			return r;
		r = detect_kind(ctx, tr, &in->format);
		if (r < 0)
			return r;
	}
	/* what follows the tar's end, to the end of the input (and of the compressed stream) */
	while ((n = tee_read(&t, buf, sizeof(buf))) > 0)
		;
	return (int)n;
}

int kiln_tar_input_open(struct kiln_ctx *ctx, struct kiln_store *s, int fd, const char *path,
			enum kiln_archive_format format, struct kiln_tar_input **ret)
{
	_cleanup_(kiln_tar_input_freep) struct kiln_tar_input *in = NULL;
	unsigned char magic[6];
	struct stat st;
	int r;

	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->fd = -1;
	in->format = format;
	in->path = strdup(path ? path : "standard input");
	if (!in->path)
		return -ENOMEM;
	if (!path)
		in->what = strdup(in->path);
	else if (asprintf(&in->what, "\"%s\"", path) < 0)
		in->what = NULL;
	if (!in->what)
		return -ENOMEM;
	if (fstat(fd, &st) < 0)
		return kiln_error(ctx, errno, "cannot stat %s: %m", in->what);
	if (S_ISDIR(st.st_mode))
		return kiln_error(ctx, EISDIR, "%s is a directory, not a tar", in->what);
	/* a plain tar file read from its start can be read by offset as it is */
	if (S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) == 0) {
		ssize_t n = pread(fd, magic, sizeof(magic), 0);

		if (n < 0)
			return kiln_error(ctx, errno, "cannot read %s: %m", in->what);
		in->by_offset = kiln_compression_detect(magic, (size_t)n) == KILN_COMPRESSION_NONE;
	}
	if (in->by_offset || format == KILN_ARCHIVE_ROOTFS) {
		in->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (in->fd < 0)
			return kiln_error(ctx, errno, "cannot read %s: %m", in->what);
	}
	if (in->by_offset && format == KILN_ARCHIVE_AUTO) {
		_cleanup_(kiln_tar_reader_freep) struct kiln_tar_reader *tr = NULL;
		struct source src = { ctx, in->fd, true, 0 };

		r = kiln_tar_reader_new(ctx, source_read, &src, &tr);
		if (r < 0)
			return r;
		kiln_tar_reader_set_skip(tr, source_skip);
		r = detect_kind(ctx, tr, &in->format);
	} else if (in->fd < 0) {
		r = spool(ctx, s, in, fd);
		in->by_offset = true;
	} else {
		r = 0;
	}
	if (r < 0)
		return r;
	*ret = TAKE_PTR(in);
	return 0;
}

/* ---- a rootfs tar into a layer -------------------------------------------------- */

struct rootfs_fill {
	struct kiln_ctx *ctx;
	struct kiln_tar_input *in;
	struct kiln_unzip *uz;
	struct kiln_tar_reader *tr;
	struct kiln_fs *fs; /* what the layer holds so far, for checking the next entry */
	char buf[65536];
};

/* The entry at byte @at cannot be a layer's: say which, where, and what to do. */
static int refuse_entry(struct kiln_ctx *ctx, int r, uint64_t at)
{
	_cleanup_free_ char *why = NULL;

	if (r == -ENOMEM || !kiln_ctx_error(ctx))
		return r;
	why = strdup(kiln_ctx_error(ctx));
	if (!why)
		return -ENOMEM;
	return kiln_error(ctx, r,
			  "tar, at byte %llu: %s (an image layer cannot hold it: fix the entry or "
			  "leave it out of the tar)",
			  (unsigned long long)at, why);
}

static int copy_data(struct rootfs_fill *f, struct kiln_tar_writer *w, uint64_t size)
{
	while (size > 0) {
		size_t want = size < sizeof(f->buf) ? (size_t)size : sizeof(f->buf);
		ssize_t n = kiln_tar_reader_read(f->tr, f->buf, want);
		int r;

		if (n <= 0)
			return n < 0 ? (int)n : -EBADMSG;
		r = kiln_tar_writer_write(w, f->buf, (size_t)n);
		if (r < 0)
			return r;
		size -= (uint64_t)n;
	}
	return 0;
}

static int fill_rootfs(void *userdata, struct kiln_tar_writer *w)
{
	struct rootfs_fill *f = userdata;
	const struct kiln_tar_entry *e;
	uint64_t at = 0, n = 0; /* where the entry's first header block is */
	ssize_t k = 0;
	int r;

	while ((r = kiln_tar_reader_next(f->tr, &e)) > 0) {
		r = layer_fs_apply_entry(f->ctx, f->fs, 0, kiln_tar_reader_index(f->tr), e);
		if (r >= 0)
			r = kiln_tar_writer_add(f->ctx, w, e);
		if (r < 0)
			return refuse_entry(f->ctx, r, at);
		r = copy_data(f, w, e->size);
		if (r < 0)
			return r;
		at = kiln_tar_reader_data_offset(f->tr) + e->size + tar_padding(e->size);
		n++;
	}
	if (r < 0)
		return r;
	if (n == 0)
		return kiln_error(f->ctx, EINVAL, "%s holds no tar entries: nothing to import",
				  f->in->what);
	/* a stream is read to its end: its writer is not cut off, a compressed one is checked */
	while (!f->in->by_offset && (k = kiln_unzip_read(f->uz, f->buf, sizeof(f->buf))) > 0)
		;
	return (int)k;
}

static int import_rootfs(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_tar_input *in,
			 const char *name, const struct kiln_image_options *o,
			 struct kiln_descriptor *ret)
{
	_cleanup_(kiln_unzip_freep) struct kiln_unzip *uz = NULL;
	_cleanup_(kiln_tar_reader_freep) struct kiln_tar_reader *tr = NULL;
	_cleanup_(kiln_fs_freep) struct kiln_fs *fs = NULL;
	_cleanup_free_ struct rootfs_fill *f = NULL;
	struct source src = { ctx, in->fd, in->by_offset, 0 };
	int r;

	/* a plain tar passes through the decompressor as it is */
	if ((r = kiln_unzip_new(ctx, source_read, &src, &uz)) < 0 ||
	    (r = kiln_tar_reader_new(ctx, kiln_unzip_read, uz, &tr)) < 0 ||
	    (r = kiln_fs_new(&fs)) < 0)
		return r;
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	*f = (struct rootfs_fill){ .ctx = ctx, .in = in, .uz = uz, .tr = tr, .fs = fs };
	return layer_make_image(ctx, s, name, o, fill_rootfs, f, ret);
}

int kiln_tar_input_import(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_tar_input *in,
			  const char *ref_name, const struct kiln_image_options *o,
			  struct kiln_descriptor *ret, char **ret_name)
{
	_cleanup_free_ char *name = NULL;
	int r;

	if (in->used)
		return kiln_error(ctx, EINVAL, "%s was imported already", in->what);
	in->used = true;
	if (in->format != KILN_ARCHIVE_ROOTFS)
		return archive_import_fd(ctx, s, in->fd, in->path, in->format, ref_name,
					 o->platform, ret, ret_name);
	if (!ref_name)
		return kiln_error(ctx, EINVAL,
				  "%s is the tar of a root filesystem, which names no image: give "
				  "it a name",
				  in->what);
	r = layer_canonical_name(ctx, ref_name, &name);
	if (r < 0)
		return r;
	r = import_rootfs(ctx, s, in, name, o, ret);
	if (r < 0)
		return r;
	if (ret_name)
		*ret_name = TAKE_PTR(name);
	return 0;
}
