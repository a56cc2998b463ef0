/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading a Linux initramfs the way init/initramfs.c unpacks it, without
 * unpacking it: the input is a sequence of segments with zero bytes
 * between them; a segment is either a plain newc archive, which must start
 * at a multiple of 4 bytes, or a compressed stream (gzip, zstd, xz) whose
 * decompressed data is one or more whole archives, again with zeros
 * between them. Installers prepend an uncompressed archive (early
 * microcode) and append compressed ones (Talos: extensions), so one input
 * often has all three kinds.
 *
 * A compressed segment is read through kiln's decompressor (kiln_unzip) in its
 * member mode, which stops at the end of the stream: the bytes it read
 * past it are handed back to the outer input (they are the tail of the
 * last chunk it was given, still in the outer buffer) and reading goes on
 * from there.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/image.h>

#include "cpio-format.h"
#include "fileio.h"
#include "log.h"

#define BUF_SIZE (64u << 10)
#define COPY_BUF (128u << 10)

/* Buffered input: the file, or the decompressed data of a segment. */
struct source {
	kiln_read_fn fn;
	void *userdata;
	uint8_t *buf;
	size_t pos, len;
	uint64_t base; /* the stream offset of buf[0] */
	bool eof;
};

struct kiln_initramfs_reader {
	struct kiln_ctx *ctx;
	struct source outer, inner;
	struct source *cur;
	struct kiln_unzip *unzip;
	enum kiln_compression compression;
	unsigned segment; /* counting from 1; 0 before the first */
	unsigned archive; /* counting from 1: hard links only join names of one archive */
	bool in_archive; /* after a header, before the trailer */
	uint64_t data_left; /* of the current entry */
	bool crc;
	uint32_t sum, want_sum;
	struct kiln_cpio_entry entry;
	char name[KILN_CPIO_NAME_MAX];
	char link[KILN_CPIO_NAME_MAX];
	int error;
	bool done;
};

/* ---- buffered input --------------------------------------------------------- */

static uint64_t src_offset(const struct source *s)
{
	return s->base + s->pos;
}

/* Read into the buffer after what it holds; sets eof at the end. */
static int src_read_more(struct source *s)
{
	ssize_t n;

	do
		n = s->fn(s->userdata, s->buf + s->len, BUF_SIZE - s->len);
	while (n == -EINTR);
	if (n < 0)
		return (int)n;
	if (n == 0)
		s->eof = true;
	s->len += (size_t)n;
	return 0;
}

/* Something in the buffer unless at the end: 1, or 0 at the end. */
static int src_fill(struct source *s)
{
	int r;

	if (s->pos < s->len)
		return 1;
	if (s->eof)
		return 0;
	s->base += s->len;
	s->pos = s->len = 0;
	r = src_read_more(s);
	if (r < 0)
		return r;
	return s->len > 0;
}

/* At least @want (<= BUF_SIZE) bytes contiguous at buf + pos, unless the input ends first. */
static int src_peek(struct source *s, size_t want)
{
	if (s->len - s->pos >= want)
		return 0;
	memmove(s->buf, s->buf + s->pos, s->len - s->pos);
	s->base += s->pos;
	s->len -= s->pos;
	s->pos = 0;
	while (!s->eof && s->len < want) {
		int r = src_read_more(s);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Up to @len bytes: the count, 0 at the end, or -errno. */
static ssize_t src_read(struct source *s, void *buf, size_t len)
{
	size_t k;
	int r;

	r = src_fill(s);
	if (r <= 0)
		return r;
	k = s->len - s->pos < len ? s->len - s->pos : len;
	memcpy(buf, s->buf + s->pos, k);
	s->pos += k;
	return (ssize_t)k;
}

/* The decompressor's input: never more than one buffer refill per call, see above. */
static ssize_t outer_feed(void *userdata, void *buf, size_t len)
{
	return src_read(userdata, buf, len);
}

static int source_init(struct source *s, kiln_read_fn fn, void *userdata)
{
	*s = (struct source){ .fn = fn, .userdata = userdata, .buf = malloc(BUF_SIZE) };
	return s->buf ? 0 : -ENOMEM;
}

/* ---- errors ------------------------------------------------------------------- */

_printf_(3, 4) static int fail(struct kiln_initramfs_reader *r, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->cur == &r->inner)
		r->error = kiln_error(
		    r->ctx, err, "initramfs segment %u (%s), data offset %" PRIu64 ": %s",
		    r->segment, kiln_compression_name(r->compression), src_offset(r->cur), msg);
	else
		r->error = kiln_error(r->ctx, err, "initramfs offset %" PRIu64 ": %s",
				      src_offset(r->cur), msg);
	return r->error;
}

/* A failed read: a decompressor's complaint about its data is on the context already. */
static int read_failed(struct kiln_initramfs_reader *r, int err)
{
	if (r->cur == &r->inner && (err == -EBADMSG || err == -EFBIG)) {
		kiln_error_prefix(r->ctx, "initramfs segment %u", r->segment);
		return r->error = err;
	}
	return fail(r, err, "read failed: %s", strerror(-err));
}

/* Exactly @len bytes of the current source, or "truncated". */
static int read_exact(struct kiln_initramfs_reader *r, void *buf, size_t len, const char *what)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = src_read(r->cur, (char *)buf + got, len - got);

		if (n < 0)
			return read_failed(r, (int)n);
		if (n == 0)
			return fail(r, EBADMSG, "truncated inside %s", what);
		got += (size_t)n;
	}
	return 0;
}

/* ---- the reader ------------------------------------------------------------- */

int kiln_initramfs_reader_new(struct kiln_ctx *ctx, kiln_read_fn in, void *userdata,
			      struct kiln_initramfs_reader **ret)
{
	_cleanup_(kiln_initramfs_reader_freep) struct kiln_initramfs_reader *r =
	    calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->ctx = ctx;
	if (source_init(&r->outer, in, userdata) < 0)
		return -ENOMEM;
	r->cur = &r->outer;
	*ret = TAKE_PTR(r);
	return 0;
}

void kiln_initramfs_reader_free(struct kiln_initramfs_reader *r)
{
	if (!r)
		return;
	kiln_unzip_free(r->unzip);
	free(r->outer.buf);
	free(r->inner.buf);
	free(r);
}

unsigned kiln_initramfs_reader_segment(const struct kiln_initramfs_reader *r)
{
	return r->segment;
}

enum kiln_compression kiln_initramfs_reader_compression(const struct kiln_initramfs_reader *r)
{
	return r->compression;
}

static int data_done(struct kiln_initramfs_reader *r)
{
	if (r->crc && r->sum != r->want_sum)
		return fail(r, EBADMSG,
			    "\"%s\": checksum %08" PRIx32 ", the header says %08" PRIx32, r->name,
			    r->sum, r->want_sum);
	return 0;
}

ssize_t kiln_initramfs_reader_read(void *userdata, void *buf, size_t len)
{
	struct kiln_initramfs_reader *r = userdata;
	ssize_t n;
	int e;

	if (r->error)
		return r->error;
	if (r->data_left == 0 || len == 0)
		return 0;
	if (len > r->data_left)
		len = (size_t)r->data_left;
	n = src_read(r->cur, buf, len);
	if (n < 0)
		return read_failed(r, (int)n);
	if (n == 0)
		return fail(r, EBADMSG, "truncated inside the data of \"%s\"", r->name);
	if (r->crc)
		for (ssize_t i = 0; i < n; i++)
			r->sum += ((const uint8_t *)buf)[i];
	r->data_left -= (uint64_t)n;
	if (r->data_left == 0 && (e = data_done(r)) < 0)
		return e;
	return n;
}

/* Skip what is left of the current entry's data and its padding. */
static int skip_data(struct kiln_initramfs_reader *r)
{
	uint8_t buf[4096];
	ssize_t n;

	while (r->data_left > 0) {
		n = kiln_initramfs_reader_read(r, buf, sizeof(buf));
		if (n < 0)
			return (int)n;
	}
	return read_exact(r, buf, cpio_pad4(src_offset(r->cur)), "padding");
}

static int parse_hex(struct kiln_initramfs_reader *r, const char *field, const char *what,
		     uint32_t *ret)
{
	uint32_t v = 0;

	for (int i = 0; i < CPIO_FIELD_LEN; i++) {
		char c = field[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return fail(r, EBADMSG, "cpio header: %s is not 8 hex digits", what);
		v = v << 4 | d;
	}
	*ret = v;
	return 0;
}

/* A header, its name and the padding after them; *@ret_trailer when it ends the archive. */
static int read_header(struct kiln_initramfs_reader *r, bool *ret_trailer)
{
	struct cpio_newc_header h;
	uint32_t v[13], namesize;
	bool trailer;
	int e;

	if (src_offset(r->cur) & 3)
		return fail(r, EBADMSG, "cpio header not at a multiple of 4 bytes");
	e = read_exact(r, &h, sizeof(h), "a cpio header");
	if (e < 0)
		return e;
	if (memcmp(h.magic, "070707", 6) == 0)
		return fail(r, EOPNOTSUPP, "an old (odc) cpio archive: only newc is supported");
	r->crc = memcmp(h.magic, CPIO_CRC_MAGIC, 6) == 0;
	if (!r->crc && memcmp(h.magic, CPIO_NEWC_MAGIC, 6) != 0)
		return fail(r, EBADMSG, "no cpio magic (070701)");
	for (size_t i = 0; i < ELEMENTSOF(v); i++) {
		static const char *const names[] = {
			"ino",	     "mode",	 "uid",	     "gid",	 "nlink",
			"mtime",     "filesize", "devmajor", "devminor", "rdevmajor",
			"rdevminor", "namesize", "check",
		};

		e = parse_hex(r,
			      (const char *)&h + offsetof(struct cpio_newc_header, ino) +
				  i * CPIO_FIELD_LEN,
			      names[i], &v[i]);
		if (e < 0)
			return e;
	}
	namesize = v[11];
	if (namesize < 2 || namesize > KILN_CPIO_NAME_MAX)
		return fail(r, EBADMSG, "cpio header: name size %" PRIu32 " not in [2, %d]",
			    namesize, KILN_CPIO_NAME_MAX);
	e = read_exact(r, r->name, namesize, "a cpio name");
	if (e < 0)
		return e;
	if (r->name[namesize - 1] != '\0' || strlen(r->name) != namesize - 1)
		return fail(r, EBADMSG, "cpio name not ended by its only NUL");
	e = read_exact(r, &h, cpio_pad4(src_offset(r->cur)), "padding");
	if (e < 0)
		return e;

	r->entry = (struct kiln_cpio_entry){
		.name = r->name,
		.ino = v[0],
		.mode = v[1],
		.uid = v[2],
		.gid = v[3],
		.nlink = v[4],
		.mtime = v[5],
		.size = v[6],
		.devmajor = v[7],
		.devminor = v[8],
		.rdevmajor = v[9],
		.rdevminor = v[10],
	};
	r->data_left = v[6];
	r->sum = 0;
	r->want_sum = v[12];
	trailer = streq(r->name, CPIO_TRAILER);
	if (!trailer && S_ISLNK(r->entry.mode)) {
		if (r->data_left == 0 || r->data_left >= KILN_CPIO_NAME_MAX)
			return fail(r, EBADMSG, "symlink \"%s\": target size %" PRIu64, r->name,
				    r->data_left);
		e = read_exact(r, r->link, (size_t)r->data_left, "a symlink target");
		if (e < 0)
			return e;
		for (size_t i = 0; i < r->data_left; i++)
			r->sum += (uint8_t)r->link[i];
		r->link[r->data_left] = '\0';
		if (strlen(r->link) != r->data_left)
			return fail(r, EBADMSG, "symlink \"%s\": target holds a NUL", r->name);
		r->data_left = 0;
		e = data_done(r);
		if (e < 0)
			return e;
		r->entry.linkname = r->link;
	}
	*ret_trailer = trailer;
	return 0;
}

/* What the kernel cannot or kiln does not decompress, by name. */
static const char *unsupported_compression(const uint8_t *p, size_t len)
{
	static const struct {
		const char *name;
		uint8_t magic[4];
		size_t len;
	} known[] = {
		{ "bzip2", { 'B', 'Z', 'h' }, 3 },
		{ "lzma", { 0x5d, 0x00, 0x00 }, 3 },
		{ "lz4", { 0x02, 0x21, 0x4c, 0x18 }, 4 },
		{ "lzo", { 0x89, 0x4c, 0x5a, 0x4f }, 4 },
	};

	for (size_t i = 0; i < ELEMENTSOF(known); i++)
		if (len >= known[i].len && memcmp(p, known[i].magic, known[i].len) == 0)
			return known[i].name;
	return NULL;
}

/* A compressed segment starts at the outer input. */
static int start_compressed(struct kiln_initramfs_reader *r)
{
	struct source *o = &r->outer;
	enum kiln_compression c;
	const char *other;
	int e;

	e = src_peek(o, 6);
	if (e < 0)
		return read_failed(r, e);
	c = kiln_compression_detect(o->buf + o->pos, o->len - o->pos);
	if (c != KILN_COMPRESSION_GZIP && c != KILN_COMPRESSION_ZSTD && c != KILN_COMPRESSION_XZ) {
		other = unsupported_compression(o->buf + o->pos, o->len - o->pos);
		if (other)
			return fail(r, EOPNOTSUPP,
				    "a %s-compressed segment: only gzip, zstd and xz are supported",
				    other);
		return fail(r, EBADMSG, "neither a cpio archive nor a compressed one (byte 0x%02x)",
			    o->buf[o->pos]);
	}
	e = kiln_unzip_new_member(r->ctx, outer_feed, o, &r->unzip);
	if (e < 0)
		return r->error = e;
	if (!r->inner.buf && !(r->inner.buf = malloc(BUF_SIZE)))
		return -ENOMEM;
	r->inner =
	    (struct source){ .fn = kiln_unzip_read, .userdata = r->unzip, .buf = r->inner.buf };
	r->compression = c;
	r->segment++;
	r->cur = &r->inner;
	return 0;
}

/* The decompressed data ended: hand back what the decompressor read past its stream. */
static int end_compressed(struct kiln_initramfs_reader *r)
{
	size_t extra = kiln_unzip_unconsumed(r->unzip);

	if (extra > r->outer.pos)
		return fail(r, EBADMSG, "compressed stream too short");
	r->outer.pos -= extra;
	kiln_unzip_free(r->unzip);
	r->unzip = NULL;
	r->cur = &r->outer;
	return 0;
}

/* Between archives: zeros, then another archive, a compressed segment, or the end. */
static int next_archive(struct kiln_initramfs_reader *r)
{
	for (;;) {
		struct source *s = r->cur;
		int e = src_fill(s);

		if (e < 0)
			return read_failed(r, e);
		if (e == 0) {
			if (s == &r->outer)
				return 0;
			e = end_compressed(r);
			if (e < 0)
				return e;
			continue;
		}
		while (s->pos < s->len && s->buf[s->pos] == 0)
			s->pos++;
		if (s->pos == s->len)
			continue;
		if (s->buf[s->pos] == '0') {
			if (s == &r->outer) {
				r->segment++;
				r->compression = KILN_COMPRESSION_NONE;
			}
			r->archive++;
			r->in_archive = true;
			return 1;
		}
		if (s == &r->inner)
			return fail(r, EBADMSG, "junk after a cpio archive");
		e = start_compressed(r);
		if (e < 0)
			return e;
	}
}

int kiln_initramfs_reader_next(struct kiln_initramfs_reader *r, const struct kiln_cpio_entry **ret)
{
	bool trailer;
	int e;

	if (r->error)
		return r->error;
	if (r->done)
		return 0;
	if (r->in_archive) {
		e = skip_data(r);
		if (e < 0)
			return e;
	}
	for (;;) {
		if (!r->in_archive) {
			e = next_archive(r);
			if (e < 0)
				return e;
			if (e == 0) {
				r->done = true;
				return 0;
			}
		}
		e = read_header(r, &trailer);
		if (e < 0)
			return e;
		if (!trailer) {
			*ret = &r->entry;
			return 1;
		}
		e = skip_data(r);
		if (e < 0)
			return e;
		r->in_archive = false;
	}
}

/* ---- extracting one file ----------------------------------------------------- */

static int copy_entry(struct kiln_ctx *ctx, struct kiln_initramfs_reader *r, int out_fd, char *buf)
{
	if (ftruncate(out_fd, 0) < 0 || lseek(out_fd, 0, SEEK_SET) < 0)
		return kiln_error(ctx, errno, "cannot rewrite the output file: %m");
	for (;;) {
		ssize_t n = kiln_initramfs_reader_read(r, buf, COPY_BUF);
		int e;

		if (n <= 0)
			return (int)n;
		e = write_all(out_fd, buf, (size_t)n);
		if (e < 0)
			return kiln_error(ctx, e, "cannot write the output file: %s", strerror(-e));
	}
}

int kiln_initramfs_extract(struct kiln_ctx *ctx, int fd, const char *name, int out_fd)
{
	_cleanup_(kiln_initramfs_reader_freep) struct kiln_initramfs_reader *r = NULL;
	_cleanup_free_ char *want = NULL, *buf = malloc(COPY_BUF);
	const struct kiln_cpio_entry *e;
	uint32_t mode = 0, ino = 0, major = 0, minor = 0;
	unsigned archive = 0;
	bool found = false;
	int n;

	if (!buf)
		return -ENOMEM;
	n = kiln_tar_path_clean(ctx, name, &want);
	if (n < 0)
		return n;
	if (!want[0])
		return kiln_error(ctx, EINVAL, "\"%s\" names the root directory, not a file", name);
	n = kiln_initramfs_reader_new(ctx, read_fd_fn, &fd, &r);
	if (n < 0)
		return n;
	while ((n = kiln_initramfs_reader_next(r, &e)) > 0) {
		_cleanup_free_ char *clean = NULL;
		int k = kiln_tar_path_clean(ctx, e->name, &clean);

		if (k < 0) {
			kiln_error_prefix(ctx, "initramfs segment %u", r->segment);
			return k;
		}
		if (streq(clean, want)) {
			found = true;
			mode = e->mode;
			ino = e->ino;
			major = e->devmajor;
			minor = e->devminor;
			archive = r->archive;
		} else if (!(found && S_ISREG(mode) && S_ISREG(e->mode) && e->nlink > 1 &&
			     e->size > 0 && e->ino == ino && e->devmajor == major &&
			     e->devminor == minor && r->archive == archive)) {
			continue; /* neither @name nor, with its data, another name of it */
		}
		if (S_ISREG(e->mode)) {
			k = copy_entry(ctx, r, out_fd, buf);
			if (k < 0)
				return k;
		}
	}
	if (n < 0)
		return n;
	if (!found)
		return kiln_error(ctx, ENOENT, "the initramfs has no \"%s\"", want);
	if (!S_ISREG(mode))
		return kiln_error(ctx, EINVAL,
				  "\"%s\" in the initramfs is not a regular file (mode 0%o)", want,
				  mode);
	return 0;
}
