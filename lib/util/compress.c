/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Compression as streams, for everything kiln compresses: gzip through
 * zlib, zstd, and xz (docker load takes xz layers, though OCI has no media
 * type for them; a Linux initramfs takes xz segments; modules are .ko.xz
 * and .ko.zst). Buffers already in memory (a module file) go through the
 * same streams, with the input read in place.
 *
 * Writing must give the same bytes for the same tar every time, because
 * the blob's digest is the layer's name: the gzip header is set explicitly
 * (no name, MTIME 0, OS 3) rather than left to zlib's build, and zstd and
 * xz run without worker threads, whose output depends on scheduling in
 * some versions (zstd) or on the number of threads (xz's block size).
 *
 * Reading is hostile: decoders' memory is capped (zstd's default 128 MiB
 * window limit, 256 MiB for xz), a stream that stops early is an error,
 * and so is anything after the compressed data other than another gzip
 * member or zstd frame. A member reader (kiln_unzip_new_member()) stops at
 * the end of the first member instead, for formats where other data
 * follows (the segments of a Linux initramfs).
 */
#include <lzma.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <kiln/compress.h>

#include "log.h"
#include "strbuf.h"

#define BUF_SIZE (64u << 10)
#define XZ_MEMLIMIT (256u << 20)

static const uint8_t gzip_magic[] = { 0x1f, 0x8b };
static const uint8_t zstd_magic[] = { 0x28, 0xb5, 0x2f, 0xfd };
static const uint8_t xz_magic[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
static const uint8_t bzip2_magic[] = { 'B', 'Z', 'h' };

#define SNIFF_LEN 6

enum kiln_compression kiln_compression_detect(const void *data, size_t len)
{
	if (len >= sizeof(gzip_magic) && memcmp(data, gzip_magic, sizeof(gzip_magic)) == 0)
		return KILN_COMPRESSION_GZIP;
	if (len >= sizeof(zstd_magic) && memcmp(data, zstd_magic, sizeof(zstd_magic)) == 0)
		return KILN_COMPRESSION_ZSTD;
	if (len >= sizeof(xz_magic) && memcmp(data, xz_magic, sizeof(xz_magic)) == 0)
		return KILN_COMPRESSION_XZ;
	if (len >= sizeof(bzip2_magic) && memcmp(data, bzip2_magic, sizeof(bzip2_magic)) == 0)
		return KILN_COMPRESSION_BZIP2;
	return KILN_COMPRESSION_NONE;
}

const char *kiln_compression_name(enum kiln_compression c)
{
	static const char *const names[] = { "none", "gzip", "zstd", "xz", "bzip2" };

	return (size_t)c < ELEMENTSOF(names) ? names[c] : "unknown";
}

/* ---- compressing ----------------------------------------------------------- */

struct kiln_zip {
	struct kiln_ctx *ctx;
	enum kiln_compression c;
	kiln_write_fn out;
	void *userdata;
	z_stream z;
	bool z_init;
	gz_header gzh;
	ZSTD_CCtx *zc;
	lzma_stream lz;
	bool lz_init;
	unsigned char *buf;
	bool finished;
};

/* How a stream is compressed: kiln_zip_new() and kiln_compress() each have theirs. */
struct zip_params {
	int level; /* as the compressor takes it: 0 is no default here */
	bool xz_extreme;
	uint32_t xz_dict_size; /* 0: the preset's */
	bool zstd_checksum;
	uint64_t size; /* all the input there will be, for zstd's frame header; 0: unknown */
};

static int zip_new(struct kiln_ctx *ctx, enum kiln_compression c, const struct zip_params *p,
		   kiln_write_fn out, void *userdata, struct kiln_zip **ret)
{
	_cleanup_(kiln_zip_freep) struct kiln_zip *z = calloc(1, sizeof(*z));

	if (!z)
		return -ENOMEM;
	z->ctx = ctx;
	z->c = c;
	z->out = out;
	z->userdata = userdata;
	switch (c) {
	case KILN_COMPRESSION_NONE:
		break;
	case KILN_COMPRESSION_GZIP:
		z->buf = malloc(BUF_SIZE);
		if (!z->buf)
			return -ENOMEM;
		/* windowBits 15 + 16: a gzip wrapper, not zlib's */
		if (deflateInit2(&z->z, p->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
		    Z_OK)
			return kiln_error(ctx, ENOMEM, "cannot start gzip compression: out of memory");
		z->z_init = true;
		/* what `gzip -n` writes: no name, no time, OS 3 (Unix); XFL follows the level */
		z->gzh = (gz_header){ .os = 3 };
		if (deflateSetHeader(&z->z, &z->gzh) != Z_OK)
			return kiln_error(ctx, EINVAL, "cannot set the gzip header");
		break;
	case KILN_COMPRESSION_ZSTD:
		z->buf = malloc(BUF_SIZE);
		z->zc = ZSTD_createCCtx();
		if (!z->buf || !z->zc)
			return -ENOMEM;
		if (ZSTD_isError(
			ZSTD_CCtx_setParameter(z->zc, ZSTD_c_compressionLevel, p->level)) ||
		    ZSTD_isError(
			ZSTD_CCtx_setParameter(z->zc, ZSTD_c_checksumFlag, p->zstd_checksum)) ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(z->zc, ZSTD_c_nbWorkers, 0)) ||
		    (p->size && ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(z->zc, p->size))))
			return kiln_error(ctx, EINVAL, "cannot set zstd level %d", p->level);
		break;
	case KILN_COMPRESSION_XZ: {
		lzma_options_lzma opt;
		lzma_filter filters[] = {
			{ .id = LZMA_FILTER_LZMA2, .options = &opt },
			{ .id = LZMA_VLI_UNKNOWN },
		};

		z->buf = malloc(BUF_SIZE);
		if (!z->buf)
			return -ENOMEM;
		/* as lzma_easy_encoder() sets it up, with the dictionary to choose */
		if (p->level < 0 || p->level > 9 ||
		    lzma_lzma_preset(&opt, (uint32_t)p->level |
					       (p->xz_extreme ? LZMA_PRESET_EXTREME : 0)))
			return kiln_error(ctx, EINVAL, "cannot set xz level %d", p->level);
		if (p->xz_dict_size)
			opt.dict_size = p->xz_dict_size;
		/* a CRC32 check, as the kernel's xz.rst asks of what its XZ decoder reads */
		z->lz = (lzma_stream)LZMA_STREAM_INIT;
		if (lzma_stream_encoder(&z->lz, filters, LZMA_CHECK_CRC32) != LZMA_OK)
			return kiln_error(ctx, ENOMEM, "cannot start xz compression: out of memory");
		z->lz_init = true;
		break;
	}
	default:
		return kiln_error(ctx, EOPNOTSUPP, "cannot compress with %s",
				  kiln_compression_name(c));
	}
	*ret = TAKE_PTR(z);
	return 0;
}

/* What level 0 stands for: gzip's and zstd's own defaults, xz -0. */
static int default_level(enum kiln_compression c)
{
	if (c == KILN_COMPRESSION_GZIP)
		return 6;
	return c == KILN_COMPRESSION_ZSTD ? ZSTD_CLEVEL_DEFAULT : 0;
}

int kiln_zip_new(struct kiln_ctx *ctx, enum kiln_compression c, int level, kiln_write_fn out,
		 void *userdata, struct kiln_zip **ret)
{
	struct zip_params p = {
		.level = level ? level : default_level(c),
		.xz_extreme = true,
		.zstd_checksum = true,
	};

	return zip_new(ctx, c, &p, out, userdata, ret);
}

void kiln_zip_free(struct kiln_zip *z)
{
	if (!z)
		return;
	if (z->z_init)
		deflateEnd(&z->z);
	ZSTD_freeCCtx(z->zc);
	if (z->lz_init)
		lzma_end(&z->lz);
	free(z->buf);
	free(z);
}

static int gzip_run(struct kiln_zip *z, const void *data, size_t len, int flush)
{
	int r;

	z->z.next_in = (Bytef *)data;
	z->z.avail_in = (uInt)len;
	do {
		int ret;

		z->z.next_out = z->buf;
		z->z.avail_out = BUF_SIZE;
		ret = deflate(&z->z, flush);
		if (ret == Z_STREAM_ERROR)
			return kiln_error(z->ctx, EINVAL, "gzip compression failed");
		if (z->z.avail_out < BUF_SIZE) {
			r = z->out(z->userdata, z->buf, BUF_SIZE - z->z.avail_out);
			if (r < 0)
				return r;
		}
		if (ret == Z_STREAM_END)
			return 0;
	} while (z->z.avail_in > 0 || z->z.avail_out == 0 || flush == Z_FINISH);
	return 0;
}

static int zstd_run(struct kiln_zip *z, const void *data, size_t len, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = { data, len, 0 };
	size_t left;
	int r;

	do {
		ZSTD_outBuffer out = { z->buf, BUF_SIZE, 0 };

		left = ZSTD_compressStream2(z->zc, &out, &in, end);
		/* the context's tables are allocated on the first call, not at its creation */
		if (ZSTD_isError(left) && ZSTD_getErrorCode(left) == ZSTD_error_memory_allocation)
			return kiln_error(z->ctx, ENOMEM, "zstd compression failed: out of memory");
		if (ZSTD_isError(left))
			return kiln_error(z->ctx, EINVAL, "zstd compression failed: %s",
					  ZSTD_getErrorName(left));
		if (out.pos) {
			r = z->out(z->userdata, z->buf, out.pos);
			if (r < 0)
				return r;
		}
	} while (in.pos < in.size || (end == ZSTD_e_end && left > 0));
	return 0;
}

static int xz_run(struct kiln_zip *z, const void *data, size_t len, lzma_action action)
{
	int r;

	z->lz.next_in = data;
	z->lz.avail_in = len;
	for (;;) {
		lzma_ret ret;

		z->lz.next_out = z->buf;
		z->lz.avail_out = BUF_SIZE;
		ret = lzma_code(&z->lz, action);
		if (ret == LZMA_MEM_ERROR)
			return kiln_error(z->ctx, ENOMEM, "xz compression failed: out of memory");
		if (ret != LZMA_OK && ret != LZMA_STREAM_END)
			return kiln_error(z->ctx, EINVAL,
					  "xz compression failed (liblzma error %d)", (int)ret);
		if (z->lz.avail_out < BUF_SIZE) {
			r = z->out(z->userdata, z->buf, BUF_SIZE - z->lz.avail_out);
			if (r < 0)
				return r;
		}
		if (ret == LZMA_STREAM_END || (action == LZMA_RUN && z->lz.avail_in == 0))
			return 0;
	}
}

int kiln_zip_write(struct kiln_zip *z, const void *data, size_t len)
{
	const char *p = data;
	int r;

	if (z->finished)
		return -EINVAL;
	switch (z->c) {
	case KILN_COMPRESSION_GZIP:
		/* avail_in is 32-bit */
		while (len > 0) {
			size_t k = len < (1u << 30) ? len : (1u << 30);

			r = gzip_run(z, p, k, Z_NO_FLUSH);
			if (r < 0)
				return r;
			p += k;
			len -= k;
		}
		return 0;
	case KILN_COMPRESSION_ZSTD:
		return len ? zstd_run(z, data, len, ZSTD_e_continue) : 0;
	case KILN_COMPRESSION_XZ:
		return len ? xz_run(z, data, len, LZMA_RUN) : 0;
	default:
		return len ? z->out(z->userdata, data, len) : 0;
	}
}

int kiln_zip_finish(struct kiln_zip *z)
{
	int r = 0;

	if (z->finished)
		return 0;
	if (z->c == KILN_COMPRESSION_GZIP)
		r = gzip_run(z, NULL, 0, Z_FINISH);
	else if (z->c == KILN_COMPRESSION_ZSTD)
		r = zstd_run(z, NULL, 0, ZSTD_e_end);
	else if (z->c == KILN_COMPRESSION_XZ)
		r = xz_run(z, NULL, 0, LZMA_FINISH);
	if (r >= 0)
		z->finished = true;
	return r;
}

/* ---- decompressing --------------------------------------------------------- */

struct kiln_unzip {
	struct kiln_ctx *ctx;
	kiln_read_fn in;
	void *userdata;
	enum kiln_compression c;
	unsigned char *ibuf; /* BUF_SIZE bytes, or the caller's whole input (@in_place) */
	size_t ipos, ilen;
	bool in_eof;
	bool in_place;
	z_stream z;
	bool z_init;
	ZSTD_DStream *zd;
	lzma_stream lz;
	bool lz_init;
	bool member_end; /* a gzip member or a zstd frame just ended */
	bool single; /* stop at the end of the first member */
	bool done;
	int error;
};

void kiln_unzip_free(struct kiln_unzip *u)
{
	if (!u)
		return;
	if (u->z_init)
		inflateEnd(&u->z);
	ZSTD_freeDStream(u->zd);
	if (u->lz_init)
		lzma_end(&u->lz);
	if (!u->in_place)
		free(u->ibuf);
	free(u);
}

enum kiln_compression kiln_unzip_format(const struct kiln_unzip *u)
{
	return u->c;
}

/* @fmt follows the format's name: "data is truncated" says "xz data is truncated". */
_printf_(3, 4) static int unzip_fail(struct kiln_unzip *u, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	u->error = kiln_error(u->ctx, err, "%s %s", kiln_compression_name(u->c), msg);
	return u->error;
}

/* More input into the empty buffer; sets in_eof at the end. */
static int fill(struct kiln_unzip *u)
{
	ssize_t n;

	if (u->in_eof || u->ipos < u->ilen)
		return 0;
	do {
		n = u->in(u->userdata, u->ibuf, BUF_SIZE);
	} while (n == -EINTR);
	if (n < 0) {
		u->error = (int)n;
		return (int)n;
	}
	u->ipos = 0;
	u->ilen = (size_t)n;
	if (n == 0)
		u->in_eof = true;
	return 0;
}

/* The input from @in: the start of it, for the format's magic. */
static int input_from_fn(struct kiln_unzip *u, kiln_read_fn in, void *userdata)
{
	u->in = in;
	u->userdata = userdata;
	u->ibuf = malloc(BUF_SIZE);
	if (!u->ibuf)
		return -ENOMEM;
	/* the magic may come in pieces from a pipe */
	while (u->ilen < SNIFF_LEN) {
		ssize_t n = in(userdata, u->ibuf + u->ilen, SNIFF_LEN - u->ilen);

		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0) {
			u->in_eof = true;
			break;
		}
		u->ilen += (size_t)n;
	}
	return 0;
}

/* The input is all of @data, read where it is: decoders take it in one piece. */
static void input_in_place(struct kiln_unzip *u, const void *data, size_t len)
{
	u->ibuf = (unsigned char *)data;
	u->ilen = len;
	u->in_eof = true;
	u->in_place = true;
}

/* A decompressor for the input @u has: its format sniffed and its decoder started. */
static int unzip_start(struct kiln_ctx *ctx, struct kiln_unzip *u, bool single)
{
	u->ctx = ctx;
	u->single = single;
	u->c = kiln_compression_detect(u->ibuf, u->ilen);
	switch (u->c) {
	case KILN_COMPRESSION_GZIP:
		/* 15 + 16: gzip only; a zlib or raw deflate stream is not a layer */
		if (inflateInit2(&u->z, 15 + 16) != Z_OK)
			return -ENOMEM;
		u->z_init = true;
		break;
	case KILN_COMPRESSION_ZSTD:
		u->zd = ZSTD_createDStream();
		if (!u->zd || ZSTD_isError(ZSTD_initDStream(u->zd)))
			return -ENOMEM;
		break;
	case KILN_COMPRESSION_XZ:
		u->lz = (lzma_stream)LZMA_STREAM_INIT;
		/* concatenated: further streams and stream padding are read as part of it */
		if (lzma_stream_decoder(&u->lz, XZ_MEMLIMIT, single ? 0 : LZMA_CONCATENATED) !=
		    LZMA_OK)
			return -ENOMEM;
		u->lz_init = true;
		break;
	case KILN_COMPRESSION_BZIP2:
		return kiln_error(ctx, EOPNOTSUPP, "bzip2 is not supported: use gzip, zstd or xz");
	default:
		if (single)
			return kiln_error(ctx, EINVAL, "not a gzip, zstd or xz stream");
		break;
	}
	return 0;
}

static int unzip_new(struct kiln_ctx *ctx, kiln_read_fn in, void *userdata, bool single,
		     struct kiln_unzip **ret)
{
	_cleanup_(kiln_unzip_freep) struct kiln_unzip *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return -ENOMEM;
	r = input_from_fn(u, in, userdata);
	if (r < 0)
		return r;
	r = unzip_start(ctx, u, single);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(u);
	return 0;
}

int kiln_unzip_new(struct kiln_ctx *ctx, kiln_read_fn in, void *userdata, struct kiln_unzip **ret)
{
	return unzip_new(ctx, in, userdata, false, ret);
}

int kiln_unzip_new_member(struct kiln_ctx *ctx, kiln_read_fn in, void *userdata,
			  struct kiln_unzip **ret)
{
	return unzip_new(ctx, in, userdata, true, ret);
}

size_t kiln_unzip_unconsumed(const struct kiln_unzip *u)
{
	return u->ilen - u->ipos;
}

static ssize_t read_plain(struct kiln_unzip *u, void *buf, size_t len)
{
	ssize_t n;

	if (u->ipos < u->ilen) {
		size_t k = u->ilen - u->ipos < len ? u->ilen - u->ipos : len;

		memcpy(buf, u->ibuf + u->ipos, k);
		u->ipos += k;
		return (ssize_t)k;
	}
	if (u->in_eof)
		return 0;
	do {
		n = u->in(u->userdata, buf, len);
	} while (n == -EINTR);
	if (n < 0)
		u->error = (int)n;
	return n;
}

static ssize_t read_gzip(struct kiln_unzip *u, void *buf, size_t len)
{
	if (len > (1u << 30))
		len = 1u << 30;
	for (;;) {
		size_t produced;
		int ret, r;

		/* the member is over: what follows is not ours to read */
		if (u->member_end && u->single) {
			u->done = true;
			return 0;
		}
		r = fill(u);
		if (r < 0)
			return r;
		if (u->member_end) {
			/* another member may follow (pigz, concatenated files); nothing else may */
			if (u->ipos == u->ilen) {
				u->done = true;
				return 0;
			}
			if (u->ibuf[u->ipos] != gzip_magic[0])
				return unzip_fail(u, EBADMSG, "data is followed by other data");
			inflateReset(&u->z);
			u->member_end = false;
		}
		if (u->ipos == u->ilen)
			return unzip_fail(u, EBADMSG, "data is truncated");
		u->z.next_in = u->ibuf + u->ipos;
		u->z.avail_in = (uInt)(u->ilen - u->ipos);
		u->z.next_out = buf;
		u->z.avail_out = (uInt)len;
		ret = inflate(&u->z, Z_NO_FLUSH);
		u->ipos = u->ilen - u->z.avail_in;
		produced = len - u->z.avail_out;
		if (ret == Z_STREAM_END)
			u->member_end = true;
		else if (ret == Z_MEM_ERROR)
			return unzip_fail(u, ENOMEM, "data cannot be decompressed: out of memory");
		else if (ret != Z_OK && ret != Z_BUF_ERROR)
			return unzip_fail(u, EBADMSG, "data is corrupt: %s",
					  u->z.msg ? u->z.msg : "inflate failed");
		if (produced > 0)
			return (ssize_t)produced;
	}
}

static ssize_t read_zstd(struct kiln_unzip *u, void *buf, size_t len)
{
	for (;;) {
		ZSTD_outBuffer out = { buf, len, 0 };
		ZSTD_inBuffer in;
		size_t ret;
		int r;

		/* the frame is over and flushed: what follows is not ours to read */
		if (u->member_end && u->single) {
			u->done = true;
			return 0;
		}
		r = fill(u);
		if (r < 0)
			return r;
		/* called even without input: output of a full buffer may still be pending */
		in = (ZSTD_inBuffer){ u->ibuf, u->ilen, u->ipos };
		ret = ZSTD_decompressStream(u->zd, &out, &in);
		if (ZSTD_isError(ret) && ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation)
			return unzip_fail(u, ENOMEM, "data cannot be decompressed: out of memory");
		if (ZSTD_isError(ret))
			return unzip_fail(u, EBADMSG, "data is corrupt: %s",
					  ZSTD_getErrorName(ret));
		/*
		 * 0: a frame ended and everything is flushed; another may follow.
		 * A call that did nothing (no input left) says nothing new: after
		 * a frame it hints at the next frame's header size.
		 */
		if (in.pos != u->ipos || out.pos > 0)
			u->member_end = ret == 0;
		u->ipos = in.pos;
		if (out.pos > 0)
			return (ssize_t)out.pos;
		if (u->ipos == u->ilen && u->in_eof) {
			if (!u->member_end)
				return unzip_fail(u, EBADMSG, "data is truncated");
			u->done = true;
			return 0;
		}
	}
}

static ssize_t read_xz(struct kiln_unzip *u, void *buf, size_t len)
{
	for (;;) {
		size_t produced;
		lzma_ret ret;
		int r;

		r = fill(u);
		if (r < 0)
			return r;
		u->lz.next_in = u->ibuf + u->ipos;
		u->lz.avail_in = u->ilen - u->ipos;
		u->lz.next_out = buf;
		u->lz.avail_out = len;
		ret = lzma_code(&u->lz, u->in_eof ? LZMA_FINISH : LZMA_RUN);
		u->ipos = u->ilen - u->lz.avail_in;
		produced = len - u->lz.avail_out;
		if (ret == LZMA_STREAM_END) {
			u->done = true;
			return (ssize_t)produced;
		}
		if (ret == LZMA_MEM_ERROR)
			return unzip_fail(u, ENOMEM, "data cannot be decompressed: out of memory");
		if (ret == LZMA_MEMLIMIT_ERROR)
			return unzip_fail(u, EFBIG, "data needs more than %u MiB to decompress",
					  XZ_MEMLIMIT >> 20);
		if (ret == LZMA_BUF_ERROR && u->in_eof)
			return unzip_fail(u, EBADMSG, "data is truncated");
		if (ret != LZMA_OK && ret != LZMA_BUF_ERROR)
			return unzip_fail(u, EBADMSG, "data is corrupt (liblzma error %d)",
					  (int)ret);
		if (produced > 0)
			return (ssize_t)produced;
	}
}

ssize_t kiln_unzip_read(void *userdata, void *buf, size_t len)
{
	struct kiln_unzip *u = userdata;

	if (u->error)
		return u->error;
	if (u->done || len == 0)
		return 0;
	switch (u->c) {
	case KILN_COMPRESSION_GZIP:
		return read_gzip(u, buf, len);
	case KILN_COMPRESSION_ZSTD:
		return read_zstd(u, buf, len);
	case KILN_COMPRESSION_XZ:
		return read_xz(u, buf, len);
	default:
		return read_plain(u, buf, len);
	}
}

/* ---- buffers --------------------------------------------------------------- */

/*
 * Make room in @sb for more output once what it has is used up, growing
 * by doubling. Only a full buffer grows: a stream of empty zstd frames
 * would otherwise double it each round and reserve @max from a few hundred
 * bytes of input (found by fuzz-modinfo).
 */
static int grow_output(struct strbuf *sb, size_t max)
{
	size_t chunk = sb->alloc > 65536 ? sb->alloc : 65536;

	if (sb->len > max)
		return -EFBIG;
	if (sb->alloc && sb->alloc - sb->len - 1 > 0)
		return 0;
	/* one byte past @max, so that output beyond it is seen */
	if (chunk > max + 1 - sb->len)
		chunk = max + 1 - sb->len;
	return strbuf_reserve(sb, chunk);
}

/* The room the decoder may fill: what is allocated, but never more than one byte past @max. */
static size_t output_room(const struct strbuf *sb, size_t max)
{
	size_t room = sb->alloc - sb->len - 1;

	return room < max + 1 - sb->len ? room : max + 1 - sb->len;
}

int kiln_decompress(struct kiln_ctx *ctx, enum kiln_compression c, const uint8_t *data, size_t len,
		    size_t max, uint8_t **ret, size_t *ret_len)
{
	_cleanup_(kiln_unzip_freep) struct kiln_unzip *u = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	int r = 0;
	uint8_t *out_buf;

	if (c == KILN_COMPRESSION_NONE) {
		r = strbuf_add(&out, data, len);
	} else if (kiln_compression_detect(data, len) != c) {
		return kiln_error(ctx, EBADMSG, "%s data does not start with its magic",
				  kiln_compression_name(c));
	} else {
		u = calloc(1, sizeof(*u));
		if (!u)
			return -ENOMEM;
		input_in_place(u, data, len);
		r = unzip_start(ctx, u, false);
		while (r >= 0) {
			ssize_t n;

			r = grow_output(&out, max);
			if (r < 0)
				break;
			n = kiln_unzip_read(u, out.buf + out.len, output_room(&out, max));
			if (n <= 0) {
				r = (int)n;
				break;
			}
			out.len += (size_t)n;
		}
	}
	if (r == -EFBIG || (r >= 0 && out.len > max))
		return kiln_error(ctx, EFBIG, "decompressed data is larger than %zu MiB",
				  max >> 20);
	if (r < 0)
		return r;
	out_buf = (uint8_t *)strbuf_detach(&out, ret_len);
	if (!out_buf)
		return -ENOMEM;
	*ret = out_buf;
	return 0;
}

static int add_to_strbuf(void *userdata, const void *data, size_t len)
{
	return strbuf_add(userdata, data, len);
}

int kiln_compress(struct kiln_ctx *ctx, enum kiln_compression c, const uint8_t *data, size_t len,
		  uint8_t **ret, size_t *ret_len)
{
	/* modules_install: xz --check=crc32 --lzma2=dict=1MiB, zstd, gzip -n */
	struct zip_params p = {
		.level = c == KILN_COMPRESSION_XZ ? (int)LZMA_PRESET_DEFAULT : default_level(c),
		.xz_dict_size = 1u << 20,
		.size = len,
	};
	_cleanup_(kiln_zip_freep) struct kiln_zip *z = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	int r;
	uint8_t *out_buf;

	r = zip_new(ctx, c, &p, add_to_strbuf, &out, &z);
	if (r >= 0)
		r = kiln_zip_write(z, data, len);
	if (r >= 0)
		r = kiln_zip_finish(z);
	if (r < 0)
		return r;
	out_buf = (uint8_t *)strbuf_detach(&out, ret_len);
	if (!out_buf)
		return -ENOMEM;
	*ret = out_buf;
	return 0;
}
