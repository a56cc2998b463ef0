/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading modules: the real ones tests/modules builds (KILN_TEST_MODULES),
 * handcrafted ELF files of every class and byte order, compressed copies,
 * appended signatures made here with OpenSSL, and hostile variants of all
 * of them (truncated, bytes flipped) that must fail cleanly.
 */
#include <elf.h>
#include <fcntl.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <kiln/module.h>

#include "fileio.h"
#include "strbuf.h"
#include "tap.h"
#include "helpers.h"

static const char *const test_modules[] = { "kiln_plain", "kiln_fw", "kiln_provider",
					    "kiln_consumer" };

/* A built test module. */
static void load_test_module(const char *name, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *path = NULL;

	ASSERT_TRUE(asprintf(&path, "%s/%s.ko", need_test_modules(), name) > 0);
	ASSERT_OK(read_file_at(AT_FDCWD, path, KILN_MODULE_MAX_SIZE, ret, ret_len));
}

/* Opening must fail, cleanly, with a message naming the input. */
static void assert_fails(struct kiln_ctx *ctx, const uint8_t *data, size_t len)
{
	struct kiln_module *m = NULL;
	int r;

	kiln_ctx_clear_error(ctx);
	r = kiln_module_open_mem(ctx, "bad.ko", data, len, &m);
	if (r >= 0)
		TAP_FAIL("%zu bytes opened as a module", len);
	ASSERT_TRUE(r == -EBADMSG || r == -ENOEXEC);
	ASSERT_TRUE(m == NULL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "'bad.ko': ");
}

TEST(real_modules_parse)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	struct debian_headers h;

	need_debian_headers(&h); /* the modules are built against them */
	for (size_t i = 0; i < ELEMENTSOF(test_modules); i++) {
		_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
		_cleanup_free_ char *data = NULL;
		const struct kiln_modversion *v;
		const struct kiln_modsig *sig;
		bool has_layout = false;
		size_t len, n;

		load_test_module(test_modules[i], &data, &len);
		ASSERT_OK(kiln_module_open_mem(ctx, test_modules[i], (uint8_t *)data, len, &m));
		ASSERT_STREQ(kiln_module_get(m, "name"), test_modules[i]);
		ASSERT_STREQ(kiln_module_get(m, "vermagic"), h.vermagic);
		ASSERT_STREQ(kiln_module_get(m, "license"), "GPL");
		ASSERT_EQ(kiln_module_compression(m), KILN_COMPRESSION_NONE);
		ASSERT_EQ(kiln_module_signature(m, &sig), -ENODATA);
		ASSERT_TRUE(kiln_module_signature_error(m) == NULL);
		v = kiln_module_versions(m, &n);
		ASSERT_TRUE(n >= 1);
		for (size_t j = 0; j < n; j++)
			if (streq(v[j].symbol, "module_layout"))
				has_layout = true;
		ASSERT_TRUE(has_layout);
	}
}

TEST(real_module_fields)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_module_freep) struct kiln_module *fw = NULL, *consumer = NULL;
	_cleanup_free_ char *fw_data = NULL, *consumer_data = NULL;
	const struct kiln_modversion *v;
	const struct kiln_modinfo *mi;
	size_t len, n, n_fw = 0;
	bool uses_provider = false;

	load_test_module("kiln_fw", &fw_data, &len);
	ASSERT_OK(kiln_module_open_mem(ctx, "kiln_fw.ko", (uint8_t *)fw_data, len, &fw));
	mi = kiln_module_modinfo(fw, &n);
	for (size_t i = 0; i < n; i++)
		if (streq(mi[i].key, "firmware"))
			n_fw++;
	ASSERT_EQ(n_fw, 2);
	ASSERT_STREQ(kiln_module_get(fw, "depends"), "");

	load_test_module("kiln_consumer", &consumer_data, &len);
	ASSERT_OK(kiln_module_open_mem(ctx, "c.ko", (uint8_t *)consumer_data, len, &consumer));
	ASSERT_STREQ(kiln_module_get(consumer, "depends"), "kiln_provider");
	v = kiln_module_versions(consumer, &n);
	for (size_t i = 0; i < n; i++)
		if (streq(v[i].symbol, "kiln_provider_value"))
			uses_provider = true;
	ASSERT_TRUE(uses_provider);
	ASSERT_TRUE(kiln_module_get(consumer, "no-such-key") == NULL);
}

TEST(open_by_path)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
	const char *dir = need_test_modules();
	_cleanup_free_ char *path = NULL;
	struct kiln_module *none = NULL;

	ASSERT_TRUE(asprintf(&path, "%s/kiln_plain.ko", dir) > 0);
	ASSERT_OK(kiln_module_open(ctx, path, &m));
	ASSERT_STREQ(kiln_module_path(m), path);
	ASSERT_STREQ(kiln_module_get(m, "parmtype"), "level:int");

	ASSERT_EQ(kiln_module_open(ctx, "/nonexistent/x.ko", &none), -ENOENT);
	ASSERT_STREQ(kiln_ctx_error(ctx), "'/nonexistent/x.ko': No such file or directory");
	ASSERT_EQ(kiln_module_open(ctx, dir, &none), -EISDIR);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "is a directory");
	ASSERT_EQ(kiln_module_open(ctx, "/dev/null", &none), -ENOEXEC);
	ASSERT_STREQ(kiln_ctx_error(ctx), "'/dev/null': not a kernel module: not an ELF file");
}

TEST(truncated_modules_fail_cleanly)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();

	for (size_t i = 0; i < ELEMENTSOF(test_modules); i++) {
		_cleanup_free_ char *data = NULL;
		size_t len;

		load_test_module(test_modules[i], &data, &len);
		for (size_t k = 0; k < 64; k++)
			assert_fails(ctx, (uint8_t *)data, len * k / 64);
		/* the section header table is last: one byte short is already corrupt */
		assert_fails(ctx, (uint8_t *)data, len - 1);
		ASSERT_CONTAINS(kiln_ctx_error(ctx), "truncated");
	}
}

/* Every byte of the ELF header and section header table, flipped three ways. */
TEST(flipped_header_bytes_never_crash)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	_cleanup_free_ char *data = NULL;
	size_t len, shoff, shsize, opened = 0, failed = 0;
	Elf64_Ehdr eh;

	load_test_module("kiln_plain", &data, &len);
	memcpy(&eh, data, sizeof(eh));
	shoff = eh.e_shoff;
	shsize = (size_t)eh.e_shnum * eh.e_shentsize;
	ASSERT_TRUE(shoff + shsize <= len);
	for (size_t off = 0; off < shoff + shsize; off++) {
		if (off == sizeof(eh))
			off = shoff; /* from the header straight to the table */
		for (size_t k = 0; k < ELEMENTSOF(masks); k++) {
			struct kiln_module *m = NULL;

			data[off] ^= (char)masks[k];
			kiln_ctx_clear_error(ctx);
			if (kiln_module_open_mem(ctx, "flip.ko", (uint8_t *)data, len, &m) < 0) {
				ASSERT_TRUE(kiln_ctx_error(ctx) != NULL);
				failed++;
			} else {
				size_t n;
				const struct kiln_modinfo *mi = kiln_module_modinfo(m, &n);

				/* whatever was read is made of C strings */
				for (size_t j = 0; j < n; j++)
					ASSERT_TRUE(strlen(mi[j].key) + strlen(mi[j].value) < len);
				kiln_module_free(m);
				opened++;
			}
			data[off] ^= (char)masks[k];
		}
	}
	/* both happen: most flips land in fields the reader does not need */
	ASSERT_TRUE(opened > 0 && failed > 0);
}

/* ---- handcrafted ELF ---------------------------------------------------- */

static void put(uint8_t *p, uint64_t v, size_t n, bool be)
{
	for (size_t i = 0; i < n; i++)
		p[be ? n - 1 - i : i] = (uint8_t)(v >> (8 * i));
}

#define PUT(buf, base, is64, type, field, v, be)                                                  \
	((is64) ? put((buf) + (base) + offsetof(Elf64_##type, field), (v),                        \
		      sizeof(((Elf64_##type *)0)->field), (be))                                    \
		: put((buf) + (base) + offsetof(Elf32_##type, field), (v),                        \
		      sizeof(((Elf32_##type *)0)->field), (be)))

/*
 * A relocatable ELF with .modinfo, __versions (unless @versions is NULL)
 * and .shstrtab: the least a module reader has to cope with. Returns the
 * length written to @out (4 KiB is enough).
 */
static size_t build_elf(uint8_t *out, bool is64, bool be, const void *modinfo, size_t modinfo_len,
			const void *versions, size_t versions_len)
{
	static const char names[] = "\0.modinfo\0__versions\0.shstrtab";
	size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t shsize = is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	size_t off = ehsize, shoff, n = 4;
	struct {
		uint32_t name, type;
		size_t off, size;
	} s[4] = { { 0 } };

	memset(out, 0, 4096);
	memcpy(out, ELFMAG, SELFMAG);
	out[EI_CLASS] = is64 ? ELFCLASS64 : ELFCLASS32;
	out[EI_DATA] = be ? ELFDATA2MSB : ELFDATA2LSB;
	out[EI_VERSION] = EV_CURRENT;
	memcpy(out + off, modinfo, modinfo_len);
	s[1] = (typeof(s[1])){ 1, SHT_PROGBITS, off, modinfo_len };
	off = (off + modinfo_len + 7) & ~(size_t)7;
	if (versions) {
		memcpy(out + off, versions, versions_len);
		s[2] = (typeof(s[2])){ 10, SHT_PROGBITS, off, versions_len };
		off += versions_len;
	} else {
		/* an unnamed empty section keeps the table the same shape */
		s[2] = (typeof(s[2])){ 0, SHT_PROGBITS, off, 0 };
	}
	memcpy(out + off, names, sizeof(names));
	s[3] = (typeof(s[3])){ 21, SHT_STRTAB, off, sizeof(names) };
	off += sizeof(names);
	shoff = (off + 7) & ~(size_t)7;

	PUT(out, 0, is64, Ehdr, e_type, ET_REL, be);
	PUT(out, 0, is64, Ehdr, e_machine, is64 ? EM_AARCH64 : EM_ARM, be);
	PUT(out, 0, is64, Ehdr, e_version, EV_CURRENT, be);
	PUT(out, 0, is64, Ehdr, e_shoff, shoff, be);
	PUT(out, 0, is64, Ehdr, e_ehsize, ehsize, be);
	PUT(out, 0, is64, Ehdr, e_shentsize, shsize, be);
	PUT(out, 0, is64, Ehdr, e_shnum, n, be);
	PUT(out, 0, is64, Ehdr, e_shstrndx, 3, be);
	for (size_t i = 1; i < n; i++) {
		size_t base = shoff + i * shsize;

		PUT(out, base, is64, Shdr, sh_name, s[i].name, be);
		PUT(out, base, is64, Shdr, sh_type, s[i].type, be);
		PUT(out, base, is64, Shdr, sh_offset, s[i].off, be);
		PUT(out, base, is64, Shdr, sh_size, s[i].size, be);
	}
	return shoff + n * shsize;
}

/* __versions entries for @is64: {crc; name} in 64 bytes, the CRC in the target's order. */
static size_t build_versions(uint8_t *out, bool is64, bool be, const uint64_t *crcs,
			     const char *const *names, size_t n)
{
	size_t crc_size = is64 ? 8 : 4;

	memset(out, 0, n * 64);
	for (size_t i = 0; i < n; i++) {
		put(out + i * 64, crcs[i], crc_size, be);
		strcpy((char *)out + i * 64 + crc_size, names[i]);
	}
	return n * 64;
}

/* Padding, an entry without '=', the last one unterminated: as kmod splits them. */
static const char modinfo_sample[] = "\0\0license=GPL\0\0\0\0alias=a\0noval\0depends=\0alias=b=c";

TEST(handcrafted_every_class_and_byte_order)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	static const uint64_t crcs[] = { 0x12345678, 0x9abcdef0 };
	static const char *const syms[] = { "module_layout", ".dotted_function" };

	for (int k = 0; k < 4; k++) {
		_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
		bool is64 = k & 1, be = k & 2;
		uint8_t elf[4096], versions[128];
		const struct kiln_modversion *v;
		const struct kiln_modinfo *mi;
		size_t len, vlen, n;

		vlen = build_versions(versions, is64, be, crcs, syms, 2);
		/* without the final NUL of the literal: the last entry is unterminated */
		len = build_elf(elf, is64, be, modinfo_sample, sizeof(modinfo_sample) - 1, versions,
				vlen);
		ASSERT_OK(kiln_module_open_mem(ctx, "hand.ko", elf, len, &m));
		mi = kiln_module_modinfo(m, &n);
		ASSERT_EQ(n, 5);
		ASSERT_STREQ(mi[0].key, "license");
		ASSERT_STREQ(mi[0].value, "GPL");
		ASSERT_STREQ(mi[1].key, "alias");
		ASSERT_STREQ(mi[1].value, "a");
		ASSERT_STREQ(mi[2].key, "noval");
		ASSERT_STREQ(mi[2].value, "");
		ASSERT_STREQ(mi[3].key, "depends");
		ASSERT_STREQ(mi[3].value, "");
		ASSERT_STREQ(mi[4].key, "alias");
		ASSERT_STREQ(mi[4].value, "b=c");
		v = kiln_module_versions(m, &n);
		ASSERT_EQ(n, 2);
		ASSERT_EQ(v[0].crc, 0x12345678);
		ASSERT_STREQ(v[0].symbol, "module_layout");
		ASSERT_EQ(v[1].crc, 0x9abcdef0);
		ASSERT_STREQ(v[1].symbol, "dotted_function");
	}
}

TEST(modinfo_edge_cases)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	static const struct {
		const char *data;
		size_t len;
		size_t n;
	} cases[] = {
		{ "", 0, 0 },
		{ "\0\0\0", 3, 0 },
		/* kmod: after the padding, a lone byte is no entry */
		{ "\0\0x", 3, 0 },
		{ "\0\0xy", 4, 1 },
		{ "a=1\0b=2\0", 8, 2 },
		{ "=\0", 2, 1 },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
		uint8_t elf[4096];
		size_t len = build_elf(elf, true, false, cases[i].data, cases[i].len, NULL, 0), n;

		ASSERT_OK(kiln_module_open_mem(ctx, "edge.ko", elf, len, &m));
		kiln_module_modinfo(m, &n);
		ASSERT_EQ(n, cases[i].n);
		kiln_module_versions(m, &n);
		ASSERT_EQ(n, 0);
	}
}

TEST(handcrafted_corruptions)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	static const uint64_t crcs[] = { 1 };
	static const char *const syms[] = { "x" };
	uint8_t elf[4096], versions[64];
	size_t len, vlen, shoff;

	vlen = build_versions(versions, true, false, crcs, syms, 1);
	len = build_elf(elf, true, false, "a=b", 4, versions, vlen);
	shoff = (size_t)((Elf64_Ehdr *)elf)->e_shoff;

	/* a __versions size that is not whole entries */
	put(elf + shoff + 2 * sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_size), 63, 8, false);
	assert_fails(ctx, elf, len);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "not whole 64-byte entries");
	put(elf + shoff + 2 * sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_size), 64, 8, false);

	/* a symbol name without its NUL */
	memset(elf + ((sizeof(Elf64_Ehdr) + 4 + 7) & ~7u) + 8, 'x', 56);
	assert_fails(ctx, elf, len);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "has no NUL");

	/* a section offset that wraps around */
	len = build_elf(elf, true, false, "a=b", 4, NULL, 0);
	put(elf + shoff + 1 * sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_offset), UINT64_MAX - 1,
	    8, false);
	assert_fails(ctx, elf, len);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "ends past the end of the file");

	/* a section count that makes the table wrap */
	len = build_elf(elf, false, true, "a=b", 4, NULL, 0);
	put(elf + offsetof(Elf32_Ehdr, e_shnum), 0xffff, 2, true);
	assert_fails(ctx, elf, len);

	/* no .modinfo at all: not a module, rather than a corrupt one */
	len = build_elf(elf, true, false, "a=b", 4, NULL, 0);
	elf[sizeof(Elf64_Ehdr) + 8 + 2] = 'X'; /* ".modinfo" in .shstrtab becomes ".Xodinfo" */
	{
		struct kiln_module *m = NULL;

		ASSERT_EQ(kiln_module_open_mem(ctx, "x.ko", elf, len, &m), -ENOEXEC);
		ASSERT_STREQ(kiln_ctx_error(ctx),
			     "'x.ko': not a kernel module: no .modinfo section");
	}

	/* an executable is no module */
	len = build_elf(elf, true, false, "a=b", 4, NULL, 0);
	put(elf + offsetof(Elf64_Ehdr, e_type), ET_EXEC, 2, false);
	assert_fails(ctx, elf, len);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "not a kernel module");
}

TEST(compressed_copies_read_the_same)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	static const enum kiln_compression kinds[] = { KILN_COMPRESSION_XZ, KILN_COMPRESSION_ZSTD };
	_cleanup_(kiln_module_freep) struct kiln_module *plain = NULL;
	_cleanup_free_ char *data = NULL;
	const struct kiln_modinfo *a;
	const struct kiln_modversion *va;
	size_t len, na, nva;

	load_test_module("kiln_consumer", &data, &len);
	ASSERT_OK(kiln_module_open_mem(ctx, "c.ko", (uint8_t *)data, len, &plain));
	a = kiln_module_modinfo(plain, &na);
	va = kiln_module_versions(plain, &nva);
	for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
		_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
		_cleanup_free_ uint8_t *z = NULL;
		const struct kiln_modinfo *b;
		const struct kiln_modversion *vb;
		const uint8_t *d;
		size_t zlen, nb, nvb, dlen;

		ASSERT_OK(kiln_compress(ctx, kinds[k], (uint8_t *)data, len, &z, &zlen));
		ASSERT_TRUE(zlen < len);
		ASSERT_OK(kiln_module_open_mem(ctx, "c.ko.z", z, zlen, &m));
		ASSERT_EQ(kiln_module_compression(m), kinds[k]);
		d = kiln_module_data(m, &dlen);
		ASSERT_EQ(dlen, len);
		ASSERT_TRUE(memcmp(d, data, len) == 0);
		b = kiln_module_modinfo(m, &nb);
		ASSERT_EQ(nb, na);
		for (size_t i = 0; i < na; i++) {
			ASSERT_STREQ(a[i].key, b[i].key);
			ASSERT_STREQ(a[i].value, b[i].value);
		}
		vb = kiln_module_versions(m, &nvb);
		ASSERT_EQ(nvb, nva);
		for (size_t i = 0; i < nva; i++) {
			ASSERT_EQ(va[i].crc, vb[i].crc);
			ASSERT_STREQ(va[i].symbol, vb[i].symbol);
		}
		/* a truncated stream is corrupt, not a short module */
		{
			struct kiln_module *bad = NULL;

			ASSERT_EQ(kiln_module_open_mem(ctx, "t.ko.z", z, zlen / 2, &bad), -EBADMSG);
			ASSERT_CONTAINS(kiln_ctx_error(ctx), "'t.ko.z': ");
		}
	}
}

/* Empty zstd frames by the thousand: nothing out, and nothing reserved for it. */
TEST(empty_zstd_frames_are_cheap)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	static const uint8_t frame[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x01, 0x00, 0x00 };
	_cleanup_free_ uint8_t *in = malloc(1000 * sizeof(frame)), *out = NULL;
	struct kiln_module *m = NULL;
	size_t len;

	ASSERT_TRUE(in != NULL);
	for (size_t i = 0; i < 1000; i++)
		memcpy(in + i * sizeof(frame), frame, sizeof(frame));
	ASSERT_OK(kiln_decompress(ctx, KILN_COMPRESSION_ZSTD, in, 1000 * sizeof(frame),
				  KILN_MODULE_MAX_SIZE, &out, &len));
	ASSERT_EQ(len, 0);
	ASSERT_EQ(kiln_module_open_mem(ctx, "empty.ko.zst", in, 1000 * sizeof(frame), &m),
		  -ENOEXEC);
}

/* ---- signatures --------------------------------------------------------- */

struct test_signer {
	EVP_PKEY *key;
	X509 *cert;
};

static void test_signer_free(struct test_signer *s)
{
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
}

/* A self-signed RSA certificate issued to @name (e.g. "CN=kiln test"), serial @serial. */
static void test_signer_new(struct test_signer *s, const char *field, const char *value,
			    uint64_t serial)
{
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	s->key = EVP_RSA_gen(2048);
	s->cert = X509_new();
	if (!s->key || !s->cert)
		TAP_FAIL("cannot make a key");
	X509_set_version(s->cert, 2);
	ASN1_INTEGER_set_uint64(X509_get_serialNumber(s->cert), serial);
	name = X509_get_subject_name(s->cert);
	X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC, (const unsigned char *)value, -1, -1,
				   0);
	X509_set_issuer_name(s->cert, name);
	X509_gmtime_adj(X509_getm_notBefore(s->cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(s->cert), 3600);
	X509_set_pubkey(s->cert, s->key);
	X509V3_set_ctx(&v3, s->cert, s->cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
	X509_add_ext(s->cert, ext, -1);
	X509_EXTENSION_free(ext);
	if (!X509_sign(s->cert, s->key, EVP_sha256()))
		TAP_FAIL("cannot sign the certificate");
}

/* @data signed the way scripts/sign-file signs: detached, no certificates, no attributes. */
static void sign_module(const struct test_signer *s, const char *md, bool skid, const void *data,
			size_t len, struct strbuf *out)
{
	unsigned flags = CMS_NOCERTS | CMS_BINARY | CMS_NOSMIMECAP | CMS_NOATTR;
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL,
					CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_DETACHED |
						CMS_STREAM);
	unsigned char *der = NULL;
	uint8_t info[KILN_MODSIG_INFO_LEN] = { 0 };
	int n;

	if (!bio || !cms ||
	    !CMS_add1_signer(cms, s->cert, s->key, EVP_get_digestbyname(md),
			     flags | (skid ? CMS_USE_KEYID : 0)) ||
	    !CMS_final(cms, bio, NULL, CMS_NOCERTS | CMS_BINARY))
		TAP_FAIL("CMS signing failed");
	n = i2d_CMS_ContentInfo(cms, &der);
	ASSERT_TRUE(n > 0);
	info[2] = KILN_PKEY_ID_PKCS7;
	put(info + 8, (uint64_t)n, 4, true);
	strbuf_add(out, data, len);
	strbuf_add(out, der, (size_t)n);
	strbuf_add(out, info, sizeof(info));
	strbuf_add(out, KILN_MODSIG_MAGIC, KILN_MODSIG_MAGIC_LEN);
	OPENSSL_free(der);
	CMS_ContentInfo_free(cms);
	BIO_free(bio);
}

static void open_and_describe(struct kiln_ctx *ctx, const struct strbuf *signed_module,
			      size_t body_len, struct kiln_modsig_desc *ret)
{
	_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
	const struct kiln_modsig *sig;
	size_t n;

	ASSERT_OK(kiln_module_open_mem(ctx, "s.ko", (uint8_t *)signed_module->buf,
				       signed_module->len, &m));
	ASSERT_OK(kiln_module_signature(m, &sig));
	ASSERT_EQ(sig->body_len, body_len);
	ASSERT_TRUE(kiln_module_signature_error(m) == NULL);
	kiln_module_modinfo(m, &n);
	ASSERT_TRUE(n > 0);
	ASSERT_OK(kiln_modsig_describe(ctx, sig, ret));
}

TEST(signatures_described_as_kmod_does)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_(test_signer_free) struct test_signer s = { 0 }, org = { 0 };
	struct kiln_modsig_desc d = { 0 };
	const ASN1_OCTET_STRING *skid;
	_cleanup_free_ char *skid_hex = NULL;
	uint8_t elf[4096];
	size_t len = build_elf(elf, true, false, "name=signed", 12, NULL, 0);

	test_signer_new(&s, "CN", "kiln test signer", 0x0102030405ULL);
	sign_module(&s, "sha512", false, elf, len, &sb);
	open_and_describe(ctx, &sb, len, &d);
	ASSERT_STREQ(d.signer, "kiln test signer");
	ASSERT_STREQ(d.sig_key, "01:02:03:04:05");
	ASSERT_FALSE(d.by_skid);
	ASSERT_STREQ(d.hash_algo, "sha512");
	ASSERT_EQ(d.signature_len, 256); /* RSA-2048 */
	kiln_modsig_desc_release(&d);

	/* sign-file -k: the key named by subjectKeyIdentifier, no issuer to name */
	strbuf_reset(&sb);
	sign_module(&s, "sha256", true, elf, len, &sb);
	open_and_describe(ctx, &sb, len, &d);
	ASSERT_TRUE(d.by_skid);
	ASSERT_TRUE(d.signer == NULL);
	skid = X509_get0_subject_key_id(s.cert);
	ASSERT_TRUE(skid && ASN1_STRING_length(skid) == 20);
	skid_hex = OPENSSL_buf2hexstr(ASN1_STRING_get0_data(skid), ASN1_STRING_length(skid));
	ASSERT_STREQ(d.sig_key, skid_hex);
	ASSERT_STREQ(d.hash_algo, "sha256");
	kiln_modsig_desc_release(&d);

	/* no CN in the issuer: kmod shows its last entry instead */
	test_signer_new(&org, "O", "Kiln Org", 0x80);
	strbuf_reset(&sb);
	sign_module(&org, "sha256", false, elf, len, &sb);
	open_and_describe(ctx, &sb, len, &d);
	ASSERT_STREQ(d.signer, "Kiln Org");
	ASSERT_STREQ(d.sig_key, "80"); /* the magnitude, without DER's sign byte */
	kiln_modsig_desc_release(&d);
}

/* The state of @data's signature; @why the reason a malformed one gives. */
static enum kiln_modsig_state sig_state(struct kiln_ctx *ctx, const void *data, size_t len,
					const char *why)
{
	_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
	_cleanup_(kiln_module_sig_release) struct kiln_module_sig s = { 0 };

	ASSERT_OK(kiln_module_open_mem(ctx, "s.ko", data, len, &m));
	ASSERT_OK(kiln_module_sig_describe(ctx, m, &s));
	/* a malformed signature is the module's fact, not an error on the context */
	ASSERT_TRUE(kiln_ctx_error(ctx) == NULL);
	if (s.state == KILN_MODSIG_MALFORMED)
		ASSERT_CONTAINS(s.why, why);
	if (s.state == KILN_MODSIG_SIGNED)
		ASSERT_STREQ(s.desc.signer, "kiln sig state");
	return s.state;
}

TEST(signature_trailer_problems)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct kiln_modsig_desc d = { 0 };
	uint8_t elf[4096];
	size_t len = build_elf(elf, false, true, "name=x", 7, NULL, 0);
	uint8_t info[KILN_MODSIG_INFO_LEN] = { 0 };

	/* a trailer that claims more bytes than there are: malformed, but the module reads */
	info[2] = KILN_PKEY_ID_PKCS7;
	put(info + 8, 1u << 30, 4, true);
	strbuf_add(&sb, elf, len);
	strbuf_add(&sb, info, sizeof(info));
	strbuf_add(&sb, KILN_MODSIG_MAGIC, KILN_MODSIG_MAGIC_LEN);
	{
		_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
		const struct kiln_modsig *sig;

		ASSERT_OK(kiln_module_open_mem(ctx, "t.ko", (uint8_t *)sb.buf, sb.len, &m));
		ASSERT_EQ(kiln_module_signature(m, &sig), -EBADMSG);
		ASSERT_CONTAINS(kiln_module_signature_error(m), "bytes of signature");
		ASSERT_STREQ(kiln_module_get(m, "name"), "x");
		ASSERT_TRUE(kiln_ctx_error(ctx) == NULL);
	}
	ASSERT_EQ(sig_state(ctx, sb.buf, sb.len, "bytes of signature"), KILN_MODSIG_MALFORMED);

	/* a well-formed trailer around bytes that are not DER */
	strbuf_reset(&sb);
	strbuf_add(&sb, elf, len);
	strbuf_add(&sb, "\x30\x82\xff\xff garbage", 12);
	put(info + 8, 12, 4, true);
	strbuf_add(&sb, info, sizeof(info));
	strbuf_add(&sb, KILN_MODSIG_MAGIC, KILN_MODSIG_MAGIC_LEN);
	{
		_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
		const struct kiln_modsig *sig;

		ASSERT_OK(kiln_module_open_mem(ctx, "g.ko", (uint8_t *)sb.buf, sb.len, &m));
		ASSERT_OK(kiln_module_signature(m, &sig));
		ASSERT_EQ(kiln_modsig_describe(ctx, sig, &d), -EBADMSG);
		ASSERT_CONTAINS(kiln_ctx_error(ctx), "signature is not PKCS#7 DER");
		ASSERT_TRUE(d.signer == NULL && d.sig_key == NULL);
	}
	ASSERT_EQ(sig_state(ctx, sb.buf, sb.len, "not PKCS#7 DER"), KILN_MODSIG_MALFORMED);
}

/* ---- what modinfo shows --------------------------------------------------- */

TEST(params_merged_as_modinfo_merges_them)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	static const char mi[] = "parm=a:first\0parmtype=a:int\0parm=b:bee\0parm=a:second\0"
				 "parm=nocolon\0parmtype=c:bool\0name=p\0";
	_cleanup_(kiln_module_freep) struct kiln_module *m = NULL, *none = NULL;
	_cleanup_free_ struct kiln_module_param *p = NULL, *q = NULL;
	uint8_t elf[4096], elf2[4096];
	size_t len = build_elf(elf, true, false, mi, sizeof(mi), NULL, 0), n, bad;

	ASSERT_OK(kiln_module_open_mem(ctx, "p.ko", elf, len, &m));
	ASSERT_OK(kiln_module_params(m, &p, &n, &bad));
	/* the newest name first: c, b, a; the last value of each kind wins */
	ASSERT_EQ(n, 3);
	ASSERT_EQ(bad, 1);
	ASSERT_TRUE(p[0].name_len == 1 && p[0].name[0] == 'c');
	ASSERT_TRUE(p[0].desc == NULL);
	ASSERT_STREQ(p[0].type, "bool");
	ASSERT_TRUE(p[1].name_len == 1 && p[1].name[0] == 'b');
	ASSERT_STREQ(p[1].desc, "bee");
	ASSERT_TRUE(p[1].type == NULL);
	ASSERT_TRUE(p[2].name_len == 1 && p[2].name[0] == 'a');
	ASSERT_STREQ(p[2].desc, "second");
	ASSERT_STREQ(p[2].type, "int");
	ASSERT_EQ(p[2].first, 0);

	len = build_elf(elf2, true, false, "name=q", 7, NULL, 0);
	ASSERT_OK(kiln_module_open_mem(ctx, "q.ko", elf2, len, &none));
	ASSERT_OK(kiln_module_params(none, &q, &n, NULL));
	ASSERT_TRUE(q == NULL && n == 0);
}

TEST(signature_state_unsigned_and_signed)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_(test_signer_free) struct test_signer s = { 0 };
	uint8_t elf[4096];
	size_t len = build_elf(elf, true, false, "name=st", 8, NULL, 0);

	ASSERT_EQ(sig_state(ctx, elf, len, NULL), KILN_MODSIG_UNSIGNED);
	ASSERT_STREQ(kiln_modsig_state_name(KILN_MODSIG_UNSIGNED), "unsigned");
	test_signer_new(&s, "CN", "kiln sig state", 7);
	sign_module(&s, "sha256", false, elf, len, &sb);
	ASSERT_EQ(sig_state(ctx, sb.buf, sb.len, NULL), KILN_MODSIG_SIGNED);
	/* malformed ones: signature_trailer_problems */
}

/* What an INFO batch handed back. */
struct info_seen {
	size_t n;
	bool in_order;
	char *names[8];
	int last_r;
	char *last_error;
	size_t stop_after;
};

static int note_info(struct kiln_module_batch_item *item, void *userdata)
{
	struct info_seen *got = userdata;

	got->in_order = got->in_order && item->index == got->n;
	if (item->r >= 0 && got->n < ELEMENTSOF(got->names))
		got->names[got->n] = strdup(strempty(kiln_module_get(item->module, "name")));
	got->last_r = item->r;
	free(got->last_error);
	got->last_error = item->error ? strdup(item->error) : NULL;
	return ++got->n == got->stop_after ? -ECANCELED : 0;
}

static void info_seen_release(struct info_seen *got)
{
	for (size_t i = 0; i < ELEMENTSOF(got->names); i++)
		free(got->names[i]);
	free(got->last_error);
}

TEST(batch_reads_modules_in_order)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(info_seen_release) struct info_seen got = { .in_order = true };
	const char *dir = getenv("KILN_TEST_MODULES");
	char *paths[ELEMENTSOF(test_modules) + 1] = { 0 };
	struct kiln_module_batch_options o = {
		.op = KILN_MODULE_BATCH_INFO,
		.jobs = 2,
		.on_item = note_info,
		.userdata = &got,
	};

	if (!dir)
		SKIP_TEST("KILN_TEST_MODULES is not set");
	for (size_t i = 0; i < ELEMENTSOF(test_modules); i++)
		ASSERT_TRUE(asprintf(&paths[i], "%s/%s.ko", dir, test_modules[i]) > 0);
	paths[ELEMENTSOF(test_modules)] = strdup("/nonexistent/missing.ko");
	ASSERT_OK(kiln_module_batch(ctx, paths, ELEMENTSOF(paths), &o));
	ASSERT_TRUE(got.in_order);
	ASSERT_EQ(got.n, ELEMENTSOF(paths));
	for (size_t i = 0; i < ELEMENTSOF(test_modules); i++)
		ASSERT_STREQ(got.names[i], test_modules[i]);
	/* one that cannot be read is an item with its reason, not a failed batch */
	ASSERT_EQ(got.last_r, -ENOENT);
	ASSERT_CONTAINS(got.last_error, "/nonexistent/missing.ko");

	/* on_item stops it, and its error is the batch's */
	info_seen_release(&got);
	got = (struct info_seen){ .in_order = true, .stop_after = 2 };
	ASSERT_EQ(kiln_module_batch(ctx, paths, ELEMENTSOF(paths), &o), -ECANCELED);
	ASSERT_EQ(got.n, 2);
	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		free(paths[i]);
}

TAP_MAIN
