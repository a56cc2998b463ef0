/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * .ko.xz and .ko.zst: the signature is inside the compressed payload, so
 * reading, verifying or signing a compressed module starts by decompressing
 * it, and signing ends by compressing it again the way modules_install does.
 */
#include <lzma.h>
#include <string.h>
#include <zstd.h>

#include <kiln/module.h>

#include "log.h"
#include "strbuf.h"

static const uint8_t xz_magic[] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
static const uint8_t zstd_magic[] = { 0x28, 0xb5, 0x2f, 0xfd };

enum kiln_compression kiln_compression_detect(const uint8_t *data, size_t len)
{
	if (len >= sizeof(xz_magic) && memcmp(data, xz_magic, sizeof(xz_magic)) == 0)
		return KILN_COMPRESSION_XZ;
	if (len >= sizeof(zstd_magic) && memcmp(data, zstd_magic, sizeof(zstd_magic)) == 0)
		return KILN_COMPRESSION_ZSTD;
	return KILN_COMPRESSION_NONE;
}

const char *kiln_compression_name(enum kiln_compression c)
{
	switch (c) {
	case KILN_COMPRESSION_XZ:
		return "xz";
	case KILN_COMPRESSION_ZSTD:
		return "zstd";
	default:
		return "none";
	}
}

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

static int xz_decompress(struct kiln_ctx *ctx, const uint8_t *data, size_t len, size_t max,
			 struct strbuf *out)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret lr;
	int r = 0;

	/* the memory limit bounds what a crafted header can make us allocate */
	if (lzma_stream_decoder(&s, 256u << 20, LZMA_CONCATENATED) != LZMA_OK)
		return -ENOMEM;
	s.next_in = data;
	s.avail_in = len;
	do {
		r = grow_output(out, max);
		if (r < 0)
			break;
		s.next_out = (uint8_t *)out->buf + out->len;
		s.avail_out = output_room(out, max);
		lr = lzma_code(&s, LZMA_FINISH);
		out->len = (size_t)((char *)s.next_out - out->buf);
		if (lr == LZMA_STREAM_END)
			break;
		if (lr != LZMA_OK && lr != LZMA_BUF_ERROR) {
			r = kiln_error(ctx, lr == LZMA_MEM_ERROR ? ENOMEM : EBADMSG,
				       "xz data is corrupt (liblzma error %d)", (int)lr);
			break;
		}
		if (lr == LZMA_BUF_ERROR && s.avail_in == 0) {
			r = kiln_error(ctx, EBADMSG, "xz data is truncated");
			break;
		}
	} while (1);
	lzma_end(&s);
	return r;
}

static int zstd_decompress(struct kiln_ctx *ctx, const uint8_t *data, size_t len, size_t max,
			   struct strbuf *out)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = { data, len, 0 };
	size_t zr = 1;
	int r = 0;

	if (!d)
		return -ENOMEM;
	while (in.pos < in.size || zr != 0) {
		ZSTD_outBuffer o;

		r = grow_output(out, max);
		if (r < 0)
			break;
		o = (ZSTD_outBuffer){ out->buf + out->len, output_room(out, max), 0 };
		zr = ZSTD_decompressStream(d, &o, &in);
		out->len += o.pos;
		if (ZSTD_isError(zr)) {
			r = kiln_error(ctx, EBADMSG, "zstd data is corrupt: %s", ZSTD_getErrorName(zr));
			break;
		}
		if (in.pos == in.size && zr != 0 && o.pos == 0) {
			r = kiln_error(ctx, EBADMSG, "zstd data is truncated");
			break;
		}
	}
	ZSTD_freeDCtx(d);
	return r;
}

int kiln_decompress(struct kiln_ctx *ctx, enum kiln_compression c, const uint8_t *data,
		    size_t len, size_t max, uint8_t **ret, size_t *ret_len)
{
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	int r;

	switch (c) {
	case KILN_COMPRESSION_XZ:
		r = xz_decompress(ctx, data, len, max, &out);
		break;
	case KILN_COMPRESSION_ZSTD:
		r = zstd_decompress(ctx, data, len, max, &out);
		break;
	default:
		r = strbuf_add(&out, data, len);
		break;
	}
	if (r == -EFBIG || (r >= 0 && out.len > max))
		return kiln_error(ctx, EFBIG, "decompressed data is larger than %zu MiB", max >> 20);
	if (r < 0)
		return r;
	*ret = (uint8_t *)strbuf_detach(&out, ret_len);
	return *ret ? 0 : -ENOMEM;
}

static int xz_compress(struct kiln_ctx *ctx, const uint8_t *data, size_t len, struct strbuf *out)
{
	lzma_options_lzma opt;
	lzma_filter filters[2];
	size_t pos = 0, bound = lzma_stream_buffer_bound(len);
	lzma_ret lr;
	int r;

	/* modules_install: xz --check=crc32 --lzma2=dict=1MiB */
	if (lzma_lzma_preset(&opt, LZMA_PRESET_DEFAULT))
		return -EINVAL;
	opt.dict_size = 1u << 20;
	filters[0] = (lzma_filter){ .id = LZMA_FILTER_LZMA2, .options = &opt };
	filters[1] = (lzma_filter){ .id = LZMA_VLI_UNKNOWN };
	r = strbuf_reserve(out, bound);
	if (r < 0)
		return r;
	lr = lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL, data, len,
				       (uint8_t *)out->buf, &pos, bound);
	if (lr != LZMA_OK)
		return kiln_error(ctx, lr == LZMA_MEM_ERROR ? ENOMEM : EIO,
				  "xz compression failed (liblzma error %d)", (int)lr);
	out->len = pos;
	return 0;
}

static int zstd_compress(struct kiln_ctx *ctx, const uint8_t *data, size_t len, struct strbuf *out)
{
	size_t bound = ZSTD_compressBound(len), n;
	int r;

	r = strbuf_reserve(out, bound);
	if (r < 0)
		return r;
	n = ZSTD_compress(out->buf, bound, data, len, ZSTD_CLEVEL_DEFAULT);
	if (ZSTD_isError(n))
		return kiln_error(ctx, EIO, "zstd compression failed: %s", ZSTD_getErrorName(n));
	out->len = n;
	return 0;
}

int kiln_compress(struct kiln_ctx *ctx, enum kiln_compression c, const uint8_t *data, size_t len,
		  uint8_t **ret, size_t *ret_len)
{
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	int r;

	switch (c) {
	case KILN_COMPRESSION_XZ:
		r = xz_compress(ctx, data, len, &out);
		break;
	case KILN_COMPRESSION_ZSTD:
		r = zstd_compress(ctx, data, len, &out);
		break;
	default:
		r = strbuf_add(&out, data, len);
		break;
	}
	if (r < 0)
		return r;
	*ret = (uint8_t *)strbuf_detach(&out, ret_len);
	return *ret ? 0 : -ENOMEM;
}
