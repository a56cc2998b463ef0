/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel boot images (lib/kmod/bzimage.c, kernel-certs.c): bzImages made
 * here around a vmlinux holding two certificates made by openssl, then
 * broken the ways a hostile or damaged file is (a short header, another
 * magic, offsets outside the file, a corrupt or mislabelled payload, every
 * truncation); arm64 Images; and Debian's own kernel from /boot, whose
 * built-in certificate must be the one that signed its modules.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kiln/layer.h>
#include <kiln/module.h>

#include "fileio.h"
#include "tap.h"
#include "helpers.h"

#define SETUP_LEN 1024 /* setup_sects = 1 */
#define PAYLOAD_OFFSET 0x40
#define VERSION_AT 0x300

struct certs {
	char *der[2];
	size_t len[2];
};

static struct certs certs;

/*
 * Two certificates, made once before the first test: one whose CN starts
 * with its O, one whose does not.
 */
__attribute__((constructor(200))) static void make_certs(void)
{
	static const char *const subjects[] = { "/O=kiln test/CN=kiln test signing key",
						"/O=Example Org/CN=module key" };
	_cleanup_free_ char *dir = NULL;

	dir = temp_dir();
	for (int i = 0; i < 2; i++) {
		run("cd '%s' && openssl req -new -x509 -nodes -newkey rsa:2048 -days 3650 -batch "
		    "-subj '%s' -addext subjectKeyIdentifier=hash -keyout k%d.pem -outform DER "
		    "-out c%d.der 2>/dev/null",
		    dir, subjects[i], i, i);
		_cleanup_free_ char *path = NULL;
		ASSERT_TRUE(asprintf(&path, "%s/c%d.der", dir, i) > 0);
		ASSERT_OK(read_file_at(AT_FDCWD, path, 1 << 20, &certs.der[i], &certs.len[i]));
	}
	run("rm -rf '%s'", dir);
}

/* A vmlinux: an ELF magic, junk that looks like DER, the certificates, the banner. */
static void make_vmlinux(struct strbuf *sb)
{
	static const uint8_t der_like[] = { 0x30, 0x82, 0x01, 0x00, 0x30, 0x82, 0x00, 0x10, 0x02 };

	ASSERT_OK(strbuf_add(sb, "\177ELF", 4));
	for (unsigned i = 0; i < 3000; i++)
		ASSERT_OK(strbuf_addch(sb, (char)(i * 7 % 251)));
	ASSERT_OK(strbuf_add(sb, der_like, sizeof(der_like)));
	ASSERT_OK(strbuf_add(sb, certs.der[0], certs.len[0]));
	ASSERT_OK(strbuf_add(sb, certs.der[1], certs.len[1]));
	ASSERT_OK(strbuf_add(sb, der_like, 6)); /* a cut-off candidate at the end of the list */
	ASSERT_OK(strbuf_adds(sb, "Linux version 9.9.9-banner (t@t) #1\n"));
	for (unsigned i = 0; i < 2000; i++)
		ASSERT_OK(strbuf_addch(sb, 0));
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* @data compressed with @c; kbuild's size after it unless gzip, whose ISIZE is it. */
static void compress_to(enum kiln_compression c, const struct strbuf *data, struct strbuf *out)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_zip_freep) struct kiln_zip *z = NULL;
	uint8_t size[4];

	ASSERT_OK(kiln_zip_new(ctx, c, 0, to_strbuf, out, &z));
	ASSERT_OK(kiln_zip_write(z, data->buf, data->len));
	ASSERT_OK(kiln_zip_finish(z));
	if (c != KILN_COMPRESSION_GZIP) {
		put_le32(size, (uint32_t)data->len);
		ASSERT_OK(strbuf_add(out, size, 4));
	}
}

/* A bzImage (protocol 2.15) around the compressed kernel @payload. */
static void make_bzimage(const struct strbuf *payload, struct strbuf *img)
{
	uint8_t *h;

	ASSERT_OK(strbuf_reserve(img, SETUP_LEN + PAYLOAD_OFFSET + payload->len));
	for (unsigned i = 0; i < SETUP_LEN + PAYLOAD_OFFSET; i++)
		ASSERT_OK(strbuf_addch(img, 0));
	ASSERT_OK(strbuf_add(img, payload->buf, payload->len));
	h = (uint8_t *)img->buf;
	h[0x1f1] = 1;
	put_le16(h + 0x1fe, 0xaa55);
	memcpy(h + 0x202, "HdrS", 4);
	put_le16(h + 0x206, 0x020f);
	put_le16(h + 0x20e, VERSION_AT - 0x200);
	strcpy((char *)h + VERSION_AT, "9.9.9-test (kiln@test) #1 SMP");
	put_le32(h + 0x248, PAYLOAD_OFFSET);
	put_le32(h + 0x24c, (uint32_t)payload->len);
}

static void make_image(enum kiln_compression c, struct strbuf *img)
{
	_cleanup_strbuf_ struct strbuf vmlinux = STRBUF_INIT, packed = STRBUF_INIT;

	make_vmlinux(&vmlinux);
	compress_to(c, &vmlinux, &packed);
	make_bzimage(&packed, img);
}

static int open_img(struct kiln_ctx *ctx, const struct strbuf *img, size_t len,
		    struct kiln_kernel_image **ret)
{
	kiln_ctx_clear_error(ctx);
	return kiln_kernel_image_open_mem(ctx, "test.img", (const uint8_t *)img->buf, len, ret);
}

static void expect_two_certs(struct kiln_ctx *ctx, const struct kiln_kernel_image *img)
{
	struct kiln_kernel_cert *c = NULL;
	_cleanup_free_ char *want = NULL;
	size_t n = 0;

	ASSERT_OK(kiln_kernel_image_certs(ctx, img, &c, &n));
	ASSERT_EQ(n, 2);
	ASSERT_EQ(c[0].der_len, certs.len[0]);
	ASSERT_TRUE(memcmp(c[0].der, certs.der[0], certs.len[0]) == 0);
	ASSERT_TRUE(memcmp(c[1].der, certs.der[1], certs.len[1]) == 0);
	ASSERT_STREQ(c[0].cn, "kiln test signing key");
	ASSERT_STREQ(c[0].o, "kiln test");
	ASSERT_EQ(strlen(c[0].skid), 40); /* sha1 of the key, as -addext ...=hash makes it */
	/* x509_fabricate_name(): the CN alone when it starts with the O, else "O: CN" */
	ASSERT_TRUE(asprintf(&want, "kiln test signing key: %s", c[0].skid) > 0);
	ASSERT_STREQ(c[0].description, want);
	free(want);
	ASSERT_TRUE(asprintf(&want, "Example Org: module key: %s", c[1].skid) > 0);
	ASSERT_STREQ(c[1].description, want);
	kiln_kernel_certs_free(c, n);
}

TEST(bzimage_gzip_and_zstd)
{
	static const enum kiln_compression cs[] = { KILN_COMPRESSION_GZIP, KILN_COMPRESSION_ZSTD };
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf vmlinux = STRBUF_INIT;

	make_vmlinux(&vmlinux);
	for (size_t i = 0; i < ELEMENTSOF(cs); i++) {
		_cleanup_(kiln_kernel_image_freep) struct kiln_kernel_image *img = NULL;
		_cleanup_strbuf_ struct strbuf file = STRBUF_INIT;
		const uint8_t *p;
		size_t len;

		make_image(cs[i], &file);
		ASSERT_OK(open_img(ctx, &file, file.len, &img));
		ASSERT_STREQ(kiln_kernel_image_format(img), "bzImage");
		ASSERT_STREQ(kiln_kernel_image_compression(img), kiln_compression_name(cs[i]));
		/* the header's version wins over the banner */
		ASSERT_STREQ(kiln_kernel_image_release(img), "9.9.9-test");
		ASSERT_STREQ(kiln_kernel_image_version(img), "9.9.9-test (kiln@test) #1 SMP");
		p = kiln_kernel_image_payload(img, &len);
		ASSERT_EQ(len, vmlinux.len);
		ASSERT_TRUE(memcmp(p, vmlinux.buf, len) == 0);
		expect_two_certs(ctx, img);
	}
}

TEST(bzimage_hostile_headers)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf file = STRBUF_INIT;
	struct kiln_kernel_image *img = NULL;
	uint8_t *h;

	make_image(KILN_COMPRESSION_GZIP, &file);
	h = (uint8_t *)file.buf;

	/* a header cut short: the magic is there, the payload fields are not */
	ASSERT_EQ(open_img(ctx, &file, 0x220, &img), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "truncated");
	/* no magic: not a kernel image */
	memcpy(h + 0x202, "HdrZ", 4);
	ASSERT_EQ(open_img(ctx, &file, file.len, &img), -ENOEXEC);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "not a kernel image");
	memcpy(h + 0x202, "HdrS", 4);
	/* a protocol without payload fields */
	put_le16(h + 0x206, 0x0206);
	ASSERT_EQ(open_img(ctx, &file, file.len, &img), -EOPNOTSUPP);
	put_le16(h + 0x206, 0x020f);
	/* the payload past the end of the file, by its offset, its length, or the setup */
	put_le32(h + 0x248, 0xfffffff0);
	ASSERT_EQ(open_img(ctx, &file, file.len, &img), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "outside");
	put_le32(h + 0x248, PAYLOAD_OFFSET);
	put_le32(h + 0x24c, (uint32_t)file.len);
	ASSERT_EQ(open_img(ctx, &file, file.len, &img), -EBADMSG);
	put_le32(h + 0x24c, (uint32_t)(file.len - SETUP_LEN - PAYLOAD_OFFSET));
	h[0x1f1] = 0xff;
	ASSERT_EQ(open_img(ctx, &file, file.len, &img), -EBADMSG);
	h[0x1f1] = 1;
	/* an empty payload */
	put_le32(h + 0x24c, 2);
	ASSERT_EQ(open_img(ctx, &file, file.len, &img), -EBADMSG);
	put_le32(h + 0x24c, (uint32_t)(file.len - SETUP_LEN - PAYLOAD_OFFSET));
	/* a kernel_version offset past the setup: no version from the header, the banner's */
	put_le16(h + 0x20e, 0xfff0);
	ASSERT_OK(open_img(ctx, &file, file.len, &img));
	ASSERT_STREQ(kiln_kernel_image_release(img), "9.9.9-banner");
	kiln_kernel_image_free(img);
	img = NULL;
	put_le16(h + 0x20e, VERSION_AT - 0x200);
	ASSERT_OK(open_img(ctx, &file, file.len, &img));
	kiln_kernel_image_free(img);
}

TEST(bzimage_hostile_payloads)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf file = STRBUF_INIT, zfile = STRBUF_INIT;
	struct kiln_kernel_image *img = NULL;
	uint8_t *payload;
	size_t plen;

	make_image(KILN_COMPRESSION_GZIP, &file);
	payload = (uint8_t *)file.buf + SETUP_LEN + PAYLOAD_OFFSET;
	plen = file.len - SETUP_LEN - PAYLOAD_OFFSET;

	/* corrupt deflate data in the middle */
	for (size_t i = plen / 2; i < plen / 2 + 16; i++)
		payload[i] ^= 0x5a;
	ASSERT_EQ(open_img(ctx, &file, file.len, &img), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "test.img");
	for (size_t i = plen / 2; i < plen / 2 + 16; i++)
		payload[i] ^= 0x5a;
	ASSERT_OK(open_img(ctx, &file, file.len, &img));
	kiln_kernel_image_free(img);
	img = NULL;

	/* compressions kiln does not read are named, not called corrupt */
	memcpy(payload, "\x5d\x00\x00\x00\x04", 5);
	ASSERT_EQ(open_img(ctx, &file, file.len, &img), -EOPNOTSUPP);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "lzma (CONFIG_KERNEL_LZMA)");
	memcpy(payload, "\x02\x21\x4c\x18", 4);
	ASSERT_EQ(open_img(ctx, &file, file.len, &img), -EOPNOTSUPP);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "lz4");
	memcpy(payload, "\x01\x02\x03\x04", 4);
	ASSERT_EQ(open_img(ctx, &file, file.len, &img), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "not compressed with anything known");

	/* zstd, with kbuild's size after the frame: a size that disagrees is corrupt */
	make_image(KILN_COMPRESSION_ZSTD, &zfile);
	ASSERT_OK(open_img(ctx, &zfile, zfile.len, &img));
	kiln_kernel_image_free(img);
	img = NULL;
	zfile.buf[zfile.len - 4] ^= 1;
	ASSERT_EQ(open_img(ctx, &zfile, zfile.len, &img), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "the image says");
}

TEST(bzimage_every_truncation)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf file = STRBUF_INIT;

	make_image(KILN_COMPRESSION_ZSTD, &file);
	/* a cut file is an error (with the reason) wherever it is cut, never a crash */
	for (size_t len = 0; len < file.len; len += len < 0x300 ? 1 : 13) {
		struct kiln_kernel_image *img = NULL;
		int r = open_img(ctx, &file, len, &img);

		if (r >= 0)
			TAP_FAIL("a %zu-byte cut of %zu opened", len, file.len);
		ASSERT_TRUE(r == -EBADMSG || r == -ENOEXEC);
		ASSERT_TRUE(kiln_ctx_error(ctx) != NULL);
	}
}

TEST(arm64_image)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf image = STRBUF_INIT, gz = STRBUF_INIT;
	struct kiln_kernel_image *img = NULL;

	/* the Image header: code0/code1, text_offset, ..., "ARM\x64" at 0x38 */
	for (unsigned i = 0; i < 0x40; i++)
		ASSERT_OK(strbuf_addch(&image, 0));
	memcpy(image.buf + 0x38, "ARM\x64", 4);
	make_vmlinux(&image);
	ASSERT_OK(open_img(ctx, &image, image.len, &img));
	ASSERT_STREQ(kiln_kernel_image_format(img), "arm64 Image");
	ASSERT_STREQ(kiln_kernel_image_compression(img), "none");
	ASSERT_STREQ(kiln_kernel_image_release(img), "9.9.9-banner");
	expect_two_certs(ctx, img);
	kiln_kernel_image_free(img);
	img = NULL;

	compress_to(KILN_COMPRESSION_GZIP, &image, &gz);
	ASSERT_OK(open_img(ctx, &gz, gz.len, &img));
	ASSERT_STREQ(kiln_kernel_image_format(img), "arm64 Image");
	ASSERT_STREQ(kiln_kernel_image_compression(img), "gzip");
	expect_two_certs(ctx, img);
	kiln_kernel_image_free(img);
	img = NULL;

	/* gzip around something else is not an Image.gz */
	memcpy(image.buf + 0x38, "ARM\x65", 4);
	strbuf_reset(&gz);
	compress_to(KILN_COMPRESSION_GZIP, &image, &gz);
	ASSERT_EQ(open_img(ctx, &gz, gz.len, &img), -ENOEXEC);
}

TEST(not_an_image)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	struct kiln_kernel_image *img = NULL;
	char *dir = temp_dir(), *path = cat(dir, "empty");

	run("touch '%s'", path);
	ASSERT_EQ(kiln_kernel_image_open(ctx, path, &img), -ENOEXEC);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), path);
	run("rm -rf '%s'", dir);
	ASSERT_EQ(kiln_kernel_image_open(ctx, path, &img), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "cannot read kernel image");
	free(path);
	free(dir);
}

/*
 * Debian's kernel, which install-deps installs (linux-image-amd64): the
 * newest /boot/vmlinuz-*, found, not named.
 */
static bool find_debian_kernel(char *path, size_t size, char *release, size_t rsize)
{
	DIR *d = opendir("/boot");
	struct dirent *e;
	char best[NAME_MAX + 1] = "";

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "vmlinuz-", 8) == 0 &&
		    (!best[0] || strverscmp(e->d_name, best) > 0))
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	if (!best[0])
		return false;
	snprintf(path, size, "/boot/%s", best);
	snprintf(release, rsize, "%s", best + 8);
	return true;
}

TEST(debian_kernel)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_kernel_image_freep) struct kiln_kernel_image *img = NULL;
	struct kiln_kernel_cert *c = NULL;
	char path[PATH_MAX], release[NAME_MAX + 1];
	struct timespec t0, t1, t2;
	size_t n = 0, len;

	if (!find_debian_kernel(path, sizeof(path), release, sizeof(release)))
		TAP_FAIL("no /boot/vmlinuz-*: run scripts/install-deps.sh (linux-image-amd64)");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_OK(kiln_kernel_image_open(ctx, path, &img));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT_OK(kiln_kernel_image_certs(ctx, img, &c, &n));
	clock_gettime(CLOCK_MONOTONIC, &t2);
	kiln_kernel_image_payload(img, &len);
	printf("# %s: %s, %zu MB decompressed in %.0f ms, %zu certificates found in %.0f ms\n",
	       path, kiln_kernel_image_compression(img), len >> 20,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6, n,
	       (double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6);
	ASSERT_STREQ(kiln_kernel_image_format(img), "bzImage");
	ASSERT_STREQ(kiln_kernel_image_release(img), release);
	ASSERT_TRUE(len > 10u << 20);
	/* Debian signs its modules with a key made at build time, and builds its certificate in */
	ASSERT_TRUE(n >= 1);
	for (size_t i = 0; i < n; i++) {
		printf("# '%s'\n", c[i].description);
		ASSERT_TRUE(c[i].skid != NULL);
		ASSERT_TRUE(strstr(c[i].description, c[i].skid) != NULL);
	}
	kiln_kernel_certs_free(c, n);
}

TAP_MAIN
