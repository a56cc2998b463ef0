/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Compression, one implementation for everything kiln compresses or
 * decompresses: layers (gzip, zstd), initramfs segments (xz, zstd, gzip),
 * kernel images and modules (.ko.xz, .ko.zst). Streams first; the buffer
 * functions at the end are a thin layer over them for data already in
 * memory. Decompressing is hostile-input safe: decoder memory is capped,
 * and a stream that stops early or has garbage after it is an error.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <kiln/kiln.h>

/* libkiln's interface: exported even when the library is built with hidden visibility */
#pragma GCC visibility push(default)

/* ---- byte streams -------------------------------------------------------- */

/* Read up to @len bytes into @buf: the count, 0 at the end, or -errno. */
typedef ssize_t (*kiln_read_fn)(void *userdata, void *buf, size_t len);

/* Take all @len bytes: 0 or -errno. */
typedef int (*kiln_write_fn)(void *userdata, const void *buf, size_t len);

/* ---- formats ------------------------------------------------------------- */

enum kiln_compression {
	KILN_COMPRESSION_NONE, /* a plain tar, module, cpio... */
	KILN_COMPRESSION_GZIP,
	KILN_COMPRESSION_ZSTD,
	KILN_COMPRESSION_XZ, /* OCI has no layer media type for it */
	KILN_COMPRESSION_BZIP2, /* recognized, to be refused by name */
};

/* What @len bytes at the start of @data are compressed with, from their magic. */
enum kiln_compression kiln_compression_detect(const void *data, size_t len);

/* "none", "gzip", "zstd", "xz", "bzip2". */
const char *kiln_compression_name(enum kiln_compression c);

/* ---- streams ------------------------------------------------------------- */

/*
 * A compressor writing into @out. gzip is deterministic: no file name,
 * MTIME 0, OS 3 (Unix), as `gzip -n` writes it. zstd runs single-threaded,
 * with the content checksum, for the same reason. xz is written as the
 * kernel reads it in an initramfs: one single-threaded stream with a CRC32
 * check, preset @level with -e (`xz -C crc32 -0 -e`, as Talos compresses
 * its initramfs). @level 0 is the default (gzip 6, zstd 3, xz 0).
 */
struct kiln_zip;
int kiln_zip_new(struct kiln_ctx *ctx, enum kiln_compression c, int level, kiln_write_fn out,
		 void *userdata, struct kiln_zip **ret);
int kiln_zip_write(struct kiln_zip *z, const void *data, size_t len);
/* Flush and end the stream; the compressor can only be freed after. */
int kiln_zip_finish(struct kiln_zip *z);
void kiln_zip_free(struct kiln_zip *z);

/*
 * A decompressor reading from @in: the format is sniffed from the first
 * bytes (gzip, including multi-member; zstd; xz; anything else is passed
 * through as it is). bzip2 is -EOPNOTSUPP. Corrupt or truncated input is
 * -EBADMSG with the reason on @ctx ("xz data is truncated"). It reads @in
 * until its end: bytes after the compressed stream are an error, not
 * ignored.
 */
struct kiln_unzip;
int kiln_unzip_new(struct kiln_ctx *ctx, kiln_read_fn in, void *userdata, struct kiln_unzip **ret);
enum kiln_compression kiln_unzip_format(const struct kiln_unzip *z);

/*
 * As kiln_unzip_new(), for one compressed member with other data after it
 * (the segments of a Linux initramfs): the stream ends with the first gzip
 * member, zstd frame or xz stream, and whatever follows is left alone.
 * Input that is none of the three is -EINVAL.
 */
int kiln_unzip_new_member(struct kiln_ctx *ctx, kiln_read_fn in, void *userdata,
			  struct kiln_unzip **ret);

/*
 * Once a member reader has returned 0: how many of the bytes it took from
 * its input lie past the member's end. They are the last ones it took,
 * from its last call of the input function.
 */
size_t kiln_unzip_unconsumed(const struct kiln_unzip *z);
/* A kiln_read_fn: pass the kiln_unzip as userdata. */
ssize_t kiln_unzip_read(void *z, void *buf, size_t len);
void kiln_unzip_free(struct kiln_unzip *z);

static inline void kiln_zip_freep(struct kiln_zip **z)
{
	kiln_zip_free(*z);
}

static inline void kiln_unzip_freep(struct kiln_unzip **z)
{
	kiln_unzip_free(*z);
}

/* ---- buffers ------------------------------------------------------------- */

/*
 * Decompress @data (@len bytes, compressed with @c, as
 * kiln_compression_detect() tells) into a new buffer, as kiln_unzip reads
 * it without copying the input. The output is capped at @max bytes
 * (-EFBIG beyond); corrupt input is -EBADMSG with the reason on @ctx.
 */
int kiln_decompress(struct kiln_ctx *ctx, enum kiln_compression c, const uint8_t *data, size_t len,
		    size_t max, uint8_t **ret, size_t *ret_len);

/*
 * Compress as the kernel's modules_install does: xz with a CRC32 check and
 * a 1 MiB dictionary at the default preset, zstd at its default level,
 * gzip as `gzip -n`.
 */
int kiln_compress(struct kiln_ctx *ctx, enum kiln_compression c, const uint8_t *data, size_t len,
		  uint8_t **ret, size_t *ret_len);

#pragma GCC visibility pop
