/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A kernel's boot image, opened to get at the kernel inside: an x86
 * bzImage (Documentation/arch/x86/boot.rst), an arm64 Image or Image.gz
 * (Documentation/arch/arm64/booting.rst), or a vmlinux ELF as it is.
 *
 * A bzImage is the real-mode setup, (setup_sects + 1) 512-byte sectors
 * with the boot protocol's header at 0x1f1, then the protected-mode code:
 * the decompressor, which holds the compressed vmlinux at payload_offset
 * (protocol 2.08+). kbuild appends the decompressed size as a
 * little-endian u32 to every payload (gzip's ISIZE is the same number),
 * which tells how much to allocate and checks the result.
 *
 * The decompressor is kiln's one (lib/util/compress.c), reading one
 * member: the size after the stream is not part of it.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>

#include <kiln/compress.h>
#include <kiln/module.h>

#include "fileio.h"
#include "log.h"

/* The boot protocol's header (offsets from the start of the file). */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_BOOT_FLAG 0x1fe
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_KERNEL_VERSION 0x20e
#define HDR_PAYLOAD_OFFSET 0x248
#define HDR_PAYLOAD_LENGTH 0x24c
#define HDR_END 0x250
/* payload_offset and payload_length came with protocol 2.08 (2.6.26) */
#define HDR_MIN_VERSION 0x0208

/* arm64's Image header: "ARM\x64" at 0x38 */
#define ARM64_MAGIC_OFFSET 0x38
#define ARM64_HEADER_LEN 0x40

/* A version line longer than this is not one (the kernel's is under 200 bytes). */
#define VERSION_MAX 512

struct kiln_kernel_image {
	const char *format;
	const char *compression;
	char *version;
	char *release;
	uint8_t *payload;
	size_t payload_len;
};

void kiln_kernel_image_free(struct kiln_kernel_image *img)
{
	if (!img)
		return;
	free(img->version);
	free(img->release);
	free(img->payload);
	free(img);
}

const char *kiln_kernel_image_format(const struct kiln_kernel_image *img)
{
	return img->format;
}

const char *kiln_kernel_image_compression(const struct kiln_kernel_image *img)
{
	return img->compression;
}

const char *kiln_kernel_image_version(const struct kiln_kernel_image *img)
{
	return img->version;
}

const char *kiln_kernel_image_release(const struct kiln_kernel_image *img)
{
	return img->release;
}

const uint8_t *kiln_kernel_image_payload(const struct kiln_kernel_image *img, size_t *ret_len)
{
	*ret_len = img->payload_len;
	return img->payload;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- the compressed kernel ---------------------------------------------- */

/* The compressions kbuild offers (CONFIG_KERNEL_*) that kiln does not decompress. */
static const struct {
	const char *name, *config;
	uint8_t magic[4];
	size_t len;
} unsupported[] = {
	{ "bzip2", "CONFIG_KERNEL_BZIP2", { 'B', 'Z', 'h' }, 3 },
	{ "lzma", "CONFIG_KERNEL_LZMA", { 0x5d, 0x00, 0x00 }, 3 },
	{ "lzo", "CONFIG_KERNEL_LZO", { 0x89, 'L', 'Z', 'O' }, 4 },
	/* lz4's legacy frame, which kbuild writes (lz4 -l) */
	{ "lz4", "CONFIG_KERNEL_LZ4", { 0x02, 0x21, 0x4c, 0x18 }, 4 },
};

struct mem_source {
	const uint8_t *p;
	size_t left;
};

static ssize_t mem_read(void *userdata, void *buf, size_t len)
{
	struct mem_source *m = userdata;
	size_t k = len < m->left ? len : m->left;

	memcpy(buf, m->p, k);
	m->p += k;
	m->left -= k;
	return (ssize_t)k;
}

/*
 * Decompress the first gzip member, xz stream or zstd frame of @data into
 * img->payload; @size_hint (0: none) is what kbuild says it decompresses to.
 */
static int decompress(struct kiln_ctx *ctx, const char *name, const uint8_t *data, size_t len,
		      size_t size_hint, struct kiln_kernel_image *img)
{
	_cleanup_(kiln_unzip_freep) struct kiln_unzip *u = NULL;
	struct mem_source src = { data, len };
	size_t alloc, out_len = 0;
	int r;

	for (size_t i = 0; i < ELEMENTSOF(unsupported); i++)
		if (len >= unsupported[i].len &&
		    memcmp(data, unsupported[i].magic, unsupported[i].len) == 0)
			return kiln_error(ctx, EOPNOTSUPP,
					  "'%s': the kernel is compressed with %s (%s), which kiln "
					  "does not decompress: gzip, xz and zstd are read",
					  name, unsupported[i].name, unsupported[i].config);
	r = kiln_unzip_new_member(ctx, mem_read, &src, &u);
	if (r == -EINVAL)
		return kiln_error(ctx, EBADMSG,
				  "'%s': the kernel in the image is not compressed with anything "
				  "known (first bytes %02x %02x %02x %02x)",
				  name, len > 0 ? data[0] : 0, len > 1 ? data[1] : 0,
				  len > 2 ? data[2] : 0, len > 3 ? data[3] : 0);
	if (r < 0)
		return r;
	img->compression = kiln_compression_name(kiln_unzip_format(u));

	/* one byte more than expected, so that the end is seen without a second round */
	alloc = size_hint && size_hint < KILN_KERNEL_IMAGE_MAX_PAYLOAD ? size_hint + 1 : 16u << 20;
	img->payload = malloc(alloc);
	if (!img->payload)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (out_len == alloc) {
			size_t more = alloc * 2 > KILN_KERNEL_IMAGE_MAX_PAYLOAD + 1
					  ? KILN_KERNEL_IMAGE_MAX_PAYLOAD + 1
					  : alloc * 2;
			uint8_t *p;

			if (more == alloc)
				return kiln_error(ctx, EFBIG,
						  "'%s': the kernel decompresses to more than %zu "
						  "MiB",
						  name, KILN_KERNEL_IMAGE_MAX_PAYLOAD >> 20);
			p = realloc(img->payload, more);
			if (!p)
				return -ENOMEM;
			img->payload = p;
			alloc = more;
		}
		n = kiln_unzip_read(u, img->payload + out_len, alloc - out_len);
		if (n < 0) {
			kiln_error_prefix(ctx, "'%s': the kernel in the image", name);
			return (int)n;
		}
		if (n == 0)
			break;
		out_len += (size_t)n;
	}
	img->payload_len = out_len;
	return 0;
}

/* ---- the formats -------------------------------------------------------- */

/* A version line: printable, the release (its first word) non-empty. */
static int set_version(struct kiln_kernel_image *img, const char *s, size_t len)
{
	size_t rlen;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
			return 0;
	rlen = strcspn(s, " ");
	if (rlen == 0 || rlen > len)
		return 0;
	img->version = strndup(s, len);
	img->release = strndup(s, rlen < len ? rlen : len);
	return img->version && img->release ? 0 : -ENOMEM;
}

/* The "Linux version " banner (init/version.c), for images whose header has no version. */
static int version_from_banner(struct kiln_kernel_image *img)
{
	static const char banner[] = "Linux version ";
	const uint8_t *p = img->payload, *end = p + img->payload_len;

	while ((p = memmem(p, (size_t)(end - p), banner, sizeof(banner) - 1))) {
		const uint8_t *s = p + sizeof(banner) - 1;
		const uint8_t *nl = memchr(
		    s, '\n', (size_t)(end - s) < VERSION_MAX ? (size_t)(end - s) : VERSION_MAX);
		int r;

		/* linux_banner ends with a newline; other mentions (a format string) do not */
		if (nl) {
			r = set_version(img, (const char *)s, (size_t)(nl - s));
			if (r < 0 || img->version)
				return r;
		}
		p = s;
	}
	return 0;
}

static int open_bzimage(struct kiln_ctx *ctx, const char *name, const uint8_t *data, size_t len,
			struct kiln_kernel_image *img)
{
	unsigned setup_sects = data[HDR_SETUP_SECTS] ? data[HDR_SETUP_SECTS] : 4;
	uint16_t version = le16(data + HDR_VERSION), kv = le16(data + HDR_KERNEL_VERSION);
	uint64_t pm_start = ((uint64_t)setup_sects + 1) * 512;
	uint32_t offset = le32(data + HDR_PAYLOAD_OFFSET), plen = le32(data + HDR_PAYLOAD_LENGTH);
	int r;

	img->format = "bzImage";
	if (version < HDR_MIN_VERSION)
		return kiln_error(ctx, EOPNOTSUPP,
				  "'%s': boot protocol %u.%02u has no payload fields (2.08+, "
				  "Linux 2.6.26)",
				  name, version >> 8, version & 0xff);
	if (pm_start >= len || offset > len - pm_start || plen > len - pm_start - offset)
		return kiln_error(ctx, EBADMSG,
				  "'%s': the compressed kernel (%u bytes at %u past the setup's "
				  "%" PRIu64 " bytes) lies outside the %zu-byte file: truncated or "
				  "not a bzImage",
				  name, plen, offset, pm_start, len);
	if (plen < 4)
		return kiln_error(ctx, EBADMSG, "'%s': the compressed kernel is empty", name);

	/* the kernel_version string is in the setup code (protocol 2.00+, offset from 0x200) */
	if (kv && (size_t)kv + 0x200 < pm_start) {
		const char *s = (const char *)data + kv + 0x200;
		size_t max =
		    pm_start - kv - 0x200 < VERSION_MAX ? pm_start - kv - 0x200 : VERSION_MAX;
		size_t slen = strnlen(s, max);

		if (slen < max) {
			r = set_version(img, s, slen);
			if (r < 0)
				return r;
		}
	}
	r = decompress(ctx, name, data + pm_start + offset, plen,
		       le32(data + pm_start + offset + plen - 4), img);
	if (r < 0)
		return r;
	if ((uint32_t)img->payload_len != le32(data + pm_start + offset + plen - 4))
		return kiln_error(
		    ctx, EBADMSG, "'%s': the kernel decompressed to %zu bytes, the image says %u",
		    name, img->payload_len, le32(data + pm_start + offset + plen - 4));
	return 0;
}

static bool is_arm64_image(const uint8_t *data, size_t len)
{
	return len >= ARM64_HEADER_LEN && memcmp(data + ARM64_MAGIC_OFFSET, "ARM\x64", 4) == 0;
}

static int open_raw(const char *format, const uint8_t *data, size_t len,
		    struct kiln_kernel_image *img)
{
	img->format = format;
	img->compression = "none";
	img->payload = malloc(len ? len : 1);
	if (!img->payload)
		return -ENOMEM;
	memcpy(img->payload, data, len);
	img->payload_len = len;
	return 0;
}

static int image_open(struct kiln_ctx *ctx, const char *name, const uint8_t *data, size_t len,
		      struct kiln_kernel_image *img)
{
	static const uint8_t gzip_magic[] = { 0x1f, 0x8b };
	int r;

	if (len >= HDR_END && memcmp(data + HDR_MAGIC, "HdrS", 4) == 0 &&
	    le16(data + HDR_BOOT_FLAG) == 0xaa55)
		return open_bzimage(ctx, name, data, len, img);
	if (len >= 4 && memcmp(data, "\177ELF", 4) == 0)
		return open_raw("vmlinux", data, len, img);
	if (is_arm64_image(data, len))
		return open_raw("arm64 Image", data, len, img);
	if (len >= 2 && memcmp(data, gzip_magic, 2) == 0) {
		/* Image.gz: arm64's compressed Image, nothing but gzip around it */
		r = decompress(ctx, name, data, len, 0, img);
		if (r < 0)
			return r;
		if (!is_arm64_image(img->payload, img->payload_len))
			return kiln_error(ctx, ENOEXEC,
					  "'%s': a gzip file, but not of an arm64 Image", name);
		img->format = "arm64 Image";
		return 0;
	}
	if (len >= HDR_MAGIC + 4 && memcmp(data + HDR_MAGIC, "HdrS", 4) == 0)
		return kiln_error(ctx, EBADMSG,
				  "'%s': an x86 boot header too short or without its boot flag "
				  "(0xaa55): truncated?",
				  name);
	return kiln_error(ctx, ENOEXEC,
			  "'%s' is not a kernel image: neither an x86 bzImage (no \"HdrS\" at "
			  "0x202), an arm64 Image (no \"ARM\\x64\" at 0x38), nor a vmlinux ELF",
			  name);
}

int kiln_kernel_image_open_mem(struct kiln_ctx *ctx, const char *name, const uint8_t *data,
			       size_t len, struct kiln_kernel_image **ret)
{
	_cleanup_(kiln_kernel_image_freep) struct kiln_kernel_image *img = calloc(1, sizeof(*img));
	int r;

	if (!img)
		return -ENOMEM;
	if (len > KILN_KERNEL_IMAGE_MAX_SIZE)
		return kiln_error(ctx, EFBIG, "'%s' is larger than %zu MiB: not a kernel image",
				  name, KILN_KERNEL_IMAGE_MAX_SIZE >> 20);
	r = image_open(ctx, name, data, len, img);
	if (r < 0)
		return r;
	if (!img->version) {
		r = version_from_banner(img);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(img);
	return 0;
}

int kiln_kernel_image_open(struct kiln_ctx *ctx, const char *path, struct kiln_kernel_image **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_file_at(AT_FDCWD, path, KILN_KERNEL_IMAGE_MAX_SIZE, &buf, &len);
	if (r == -EFBIG)
		return kiln_error(ctx, EFBIG, "'%s' is larger than %zu MiB: not a kernel image",
				  path, KILN_KERNEL_IMAGE_MAX_SIZE >> 20);
	if (r < 0)
		return kiln_error(ctx, r, "cannot read kernel image '%s': %s", path, strerror(-r));
	return kiln_kernel_image_open_mem(ctx, path, (const uint8_t *)buf, len, ret);
}
