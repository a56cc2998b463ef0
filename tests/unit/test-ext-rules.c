/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Extension content: Talos's content rules, the private key scan, the udev rules lint. */

#include <fcntl.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <kiln/ext.h>
#include <kiln/layer.h>

#include "fileio.h"
#include "keys.h"
#include "strbuf.h"
#include "tap.h"

/* ---- content rules ---- */

static const struct {
	const char *path;
	char type;
	uint32_t mode;
	const char *error; /* NULL: allowed */
} entries[] = {
	/* the allowed prefixes */
	{ "/usr/lib/modules/6.12.1-talos/extras/x.ko", KILN_TAR_REG, 0644, NULL },
	{ "/usr/local/bin/x", KILN_TAR_REG, 0755, NULL },
	{ "/usr/lib/firmware/a", KILN_TAR_REG, 0644, NULL },
	{ "/usr/lib/firmware/hailo/hailo8_fw.bin", KILN_TAR_REG, 0644, NULL },
	{ "/usr/lib/udev/rules.d/51.rules", KILN_TAR_REG, 0644, NULL },
	{ "/etc/cri/conf.d/x", KILN_TAR_REG, 0644, NULL },
	{ "/usr/lib/ld-linux-x86-64.so.2", KILN_TAR_REG, 0755, NULL },
	{ "/usr/bin/nvidia-smi", KILN_TAR_REG, 0755, NULL },
	{ "/usr/share/egl/x.json", KILN_TAR_REG, 0644, NULL },
	{ "/etc/vulkan/icd.d/x.json", KILN_TAR_REG, 0644, NULL },
	/* a plain string prefix, as Talos compares */
	{ "/usr/localfoo", KILN_TAR_REG, 0644, NULL },
	{ "/usr/local/lib/libx.so", KILN_TAR_SYMLINK, 0777, NULL },
	{ "/usr/local/lib/libx.so.1", KILN_TAR_LINK, 0644, NULL },
	/* directories anywhere */
	{ "/", KILN_TAR_DIR, 0755, NULL },
	{ "/etc", KILN_TAR_DIR, 0755, NULL },
	{ "/usr/bin", KILN_TAR_DIR, 0755, NULL },
	{ "/var/lib/x", KILN_TAR_DIR, 0700, NULL },
	{ "/etc/udev/rules.d", KILN_TAR_DIR, 0755, NULL },
	/* refused */
	{ "/etc/udev/rules.d/x.rules", KILN_TAR_REG, 0644,
	  "path \"/etc/udev/rules.d/x.rules\" is not allowed in extensions" },
	{ "/usr/bin/x", KILN_TAR_REG, 0755, "path \"/usr/bin/x\" is not allowed in extensions" },
	{ "/usr/bin/x", KILN_TAR_SYMLINK, 0777,
	  "path \"/usr/bin/x\" is not allowed in extensions" },
	{ "/boot/vmlinuz", KILN_TAR_REG, 0644,
	  "path \"/boot/vmlinuz\" is not allowed in extensions" },
	{ "/usr/local/bin/x", KILN_TAR_REG, 0666,
	  "world-writeable files are not allowed: \"/usr/local/bin/x\"" },
	{ "/usr/local/tmp", KILN_TAR_DIR, 01777,
	  "world-writeable files are not allowed: \"/usr/local/tmp\"" },
	{ "/usr/local/fifo", KILN_TAR_FIFO, 0644,
	  "special files are not allowed: \"/usr/local/fifo\"" },
	{ "/usr/local/null", KILN_TAR_CHAR, 0600,
	  "special files are not allowed: \"/usr/local/null\"" },
	{ "/usr/local/sda", KILN_TAR_BLOCK, 0600,
	  "special files are not allowed: \"/usr/local/sda\"" },
	/* Talos's order: world-writable, then special, then the prefix */
	{ "/usr/local/fifo", KILN_TAR_FIFO, 0666,
	  "world-writeable files are not allowed: \"/usr/local/fifo\"" },
	{ "/dev/null", KILN_TAR_CHAR, 0600, "special files are not allowed: \"/dev/null\"" },
	{ "/usr/bin/x", KILN_TAR_REG, 0646,
	  "world-writeable files are not allowed: \"/usr/bin/x\"" },
	/* Go's %q of a hostile name */
	{ "/usr/bin/a\"b\n\r\xff\xc2\xa0é", KILN_TAR_REG, 0644,
	  "path \"/usr/bin/a\\\"b\\n\\r\\xff\\u00a0é\" is not allowed in extensions" },
};

TEST(content_rules)
{
	for (size_t i = 0; i < ELEMENTSOF(entries); i++) {
		_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
		struct kiln_ext_entry e = {
			.path = entries[i].path,
			.type = entries[i].type,
			.mode = entries[i].mode,
		};
		int r;

		ASSERT_OK(kiln_ctx_new(&ctx));
		r = kiln_ext_check_entry(ctx, &e);
		if (!entries[i].error) {
			if (r != 0)
				TAP_FAIL("%s: %s", entries[i].path, kiln_ctx_error(ctx));
			continue;
		}
		if (r != -EPERM)
			TAP_FAIL("%s (%c %o): %d, not -EPERM", entries[i].path, entries[i].type,
				 entries[i].mode, r);
		ASSERT_STREQ(kiln_ctx_error(ctx), entries[i].error);
	}
}

TEST(content_rules_relative_path)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	struct kiln_ext_entry e = { .path = "usr/local/x", .type = KILN_TAR_REG, .mode = 0644 };

	ASSERT_OK(kiln_ctx_new(&ctx));
	ASSERT_EQ(kiln_ext_check_entry(ctx, &e), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "not absolute");
}

/* ---- private keys ---- */

static EVP_PKEY *rsa_key(void)
{
	static EVP_PKEY *key;

	if (!key)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return key;
}

static EVP_PKEY *ec_key(void)
{
	static EVP_PKEY *key;

	if (!key)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return key;
}

/* The contents of a memory BIO, copied into sb (which is reset first). */
static void take_bio(BIO *bio, struct strbuf *sb)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);

	strbuf_reset(sb);
	strbuf_add(sb, data, (size_t)len);
	BIO_free(bio);
}

enum key_form {
	PEM_PKCS8,
	PEM_TRADITIONAL,
	PEM_ENCRYPTED,
	DER_PKCS8,
	DER_TRADITIONAL,
	DER_ENCRYPTED,
	PEM_CERT,
	DER_CERT,
	PEM_PUBKEY,
	DER_PUBKEY,
};

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"kiln test", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	X509_sign(x, key, EVP_sha256());
	return x;
}

static int encode(EVP_PKEY *key, enum key_form form, struct strbuf *sb)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char pass[] = "kiln";
	X509 *x = NULL;
	int ok = 0;

	switch (form) {
	case PEM_PKCS8:
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
		break;
	case PEM_TRADITIONAL:
		ok = PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL);
		break;
	case PEM_ENCRYPTED:
		ok =
		    PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), pass, 4, NULL, NULL);
		break;
	case DER_PKCS8:
		ok = i2d_PKCS8PrivateKey_bio(bio, key, NULL, NULL, 0, NULL, NULL);
		break;
	case DER_TRADITIONAL:
		ok = i2d_PrivateKey_bio(bio, key);
		break;
	case DER_ENCRYPTED:
		ok = i2d_PKCS8PrivateKey_bio(bio, key, EVP_aes_256_cbc(), pass, 4, NULL, NULL);
		break;
	case PEM_CERT:
		x = self_signed(key);
		ok = PEM_write_bio_X509(bio, x);
		break;
	case DER_CERT:
		x = self_signed(key);
		ok = i2d_X509_bio(bio, x);
		break;
	case PEM_PUBKEY:
		ok = PEM_write_bio_PUBKEY(bio, key);
		break;
	case DER_PUBKEY:
		ok = i2d_PUBKEY_bio(bio, key);
		break;
	}
	X509_free(x);
	take_bio(bio, sb);
	return ok == 1 && sb->len > 0 ? 0 : -EIO;
}

static int scan(const char *name, const struct strbuf *sb, const char **what)
{
	*what = NULL;
	return kiln_ext_find_private_key(name, sb->buf, sb->len, what);
}

TEST(private_keys_found)
{
	static const struct {
		enum key_form form;
		bool ec;
		const char *what;
	} cases[] = {
		{ PEM_PKCS8, false, "PKCS#8" },	       { PEM_TRADITIONAL, false, "RSA" },
		{ PEM_TRADITIONAL, true, "EC" },       { PEM_PKCS8, true, "PKCS#8" },
		{ PEM_ENCRYPTED, false, "encrypted" }, { DER_PKCS8, false, "DER" },
		{ DER_TRADITIONAL, false, "DER" },     { DER_PKCS8, true, "DER" },
		{ DER_TRADITIONAL, true, "DER" },      { DER_ENCRYPTED, false, "encrypted DER" },
	};
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *what;

	ASSERT_TRUE(rsa_key() && ec_key());
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		ASSERT_OK(encode(cases[i].ec ? ec_key() : rsa_key(), cases[i].form, &sb));
		if (scan("key.bin", &sb, &what) != 1)
			TAP_FAIL("case %zu (form %d, ec %d) not found", i, cases[i].form,
				 cases[i].ec);
		ASSERT_CONTAINS(what, cases[i].what);
	}
}

TEST(private_keys_not_found)
{
	static const enum key_form forms[] = { PEM_CERT, DER_CERT, PEM_PUBKEY, DER_PUBKEY };
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *what;

	for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
		for (int ec = 0; ec < 2; ec++) {
			ASSERT_OK(encode(ec ? ec_key() : rsa_key(), forms[i], &sb));
			if (scan("cert.pem", &sb, &what) != 0)
				TAP_FAIL("form %d (ec %d) reported as %s", forms[i], ec, what);
		}
	}

	/* random bytes, also ones that start like DER */
	strbuf_reset(&sb);
	for (int i = 0; i < 8; i++) {
		unsigned char buf[4096];

		ASSERT_EQ(RAND_bytes(buf, sizeof(buf)), 1);
		if (i % 2)
			buf[0] = 0x30;
		strbuf_reset(&sb);
		strbuf_add(&sb, buf, sizeof(buf));
		ASSERT_EQ(scan("blob", &sb, &what), 0);
	}
	ASSERT_EQ(kiln_ext_find_private_key("empty", "", 0, &what), 0);
	ASSERT_EQ(kiln_ext_find_private_key("null", NULL, 0, &what), 0);
}

/* Something like a module: ELF, a parser's strings that name the markers, a signature. */
static void module_like(struct strbuf *sb)
{
	static const char rodata[] =
	    "\0-----BEGIN PRIVATE KEY-----\0-----BEGIN %sPRIVATE KEY-----\n"
	    "\0-----END PRIVATE KEY-----\0";
	unsigned char junk[8192];

	strbuf_reset(sb);
	strbuf_add(sb, "\177ELF\2\1\1\0", 8);
	RAND_bytes(junk, sizeof(junk));
	strbuf_add(sb, junk, sizeof(junk));
	strbuf_add(sb, rodata, sizeof(rodata));
	strbuf_add(sb, junk, sizeof(junk));
	strbuf_adds(sb, "~Module signature appended~\n");
}

TEST(private_keys_in_binaries)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT, key = STRBUF_INIT;
	const char *what;

	module_like(&sb);
	ASSERT_EQ(scan("hailo_pci.ko", &sb, &what), 0);

	/* a key appended to another file counts */
	ASSERT_OK(encode(rsa_key(), PEM_TRADITIONAL, &key));
	strbuf_add(&sb, key.buf, key.len);
	ASSERT_EQ(scan("hailo_pci.ko", &sb, &what), 1);
	ASSERT_CONTAINS(what, "RSA");

	/* fast on many MB: a key at the end of 32 MiB of firmware */
	strbuf_reset(&sb);
	ASSERT_OK(strbuf_reserve(&sb, 32u << 20));
	memset(sb.buf, 0, 32u << 20);
	sb.len = 32u << 20;
	ASSERT_EQ(scan("fw.bin", &sb, &what), 0);
	strbuf_add(&sb, key.buf, key.len);
	ASSERT_EQ(scan("fw.bin", &sb, &what), 1);
}

/*
 * The test keys that GnuTLS embeds to test itself are published, not
 * leaked: this machine's libgnutls.so.30 (apt needs it) holds ten, and
 * counts as holding none; a key of one's own added to it still counts,
 * as does a published key with one byte of its body changed.
 */
TEST(private_keys_published_passed_over)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT, key = STRBUF_INIT;
	_cleanup_free_ char *data = NULL;
	const char *what;
	glob_t g = { 0 };
	size_t len;
	char *begin, *line;

	ASSERT_EQ(glob("/usr/lib/*/libgnutls.so.30*", 0, NULL, &g), 0);
	ASSERT_OK(read_file_at(AT_FDCWD, g.gl_pathv[0], 64u << 20, &data, &len));
	tap_print_diag(g.gl_pathv[0]);
	globfree(&g);
	begin = memmem(data, len, "-----BEGIN RSA PRIVATE KEY-----", 31);
	ASSERT_TRUE(begin);
	strbuf_add(&sb, data, len);
	ASSERT_EQ(scan("libgnutls.so.30", &sb, &what), 0);

	ASSERT_OK(encode(rsa_key(), PEM_PKCS8, &key));
	strbuf_add(&sb, key.buf, key.len);
	ASSERT_EQ(scan("libgnutls.so.30", &sb, &what), 1);

	/* the first letter of the RSA key's second base64 line, made another */
	line = strchr(strchr(begin, '\n') + 1, '\n') + 1;
	*line = *line == 'A' ? 'B' : 'A';
	strbuf_reset(&sb);
	strbuf_add(&sb, data, len);
	ASSERT_EQ(scan("libgnutls.so.30", &sb, &what), 1);
	ASSERT_CONTAINS(what, "RSA");
}

TEST(private_keys_pem_shapes)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT, body = STRBUF_INIT;
	unsigned char raw[300];
	const char *what;
	BIO *b64, *mem;

	/* an OpenSSH key: only its armour is looked at */
	RAND_bytes(raw, sizeof(raw));
	mem = BIO_new(BIO_s_mem());
	b64 = BIO_push(BIO_new(BIO_f_base64()), mem);
	BIO_write(b64, raw, sizeof(raw));
	(void)BIO_flush(b64);
	BIO_pop(b64);
	BIO_free(b64);
	take_bio(mem, &body);
	strbuf_addf(&sb,
		    "-----BEGIN OPENSSH PRIVATE KEY-----\n%s-----END OPENSSH PRIVATE KEY-----\n",
		    strbuf_str(&body));
	ASSERT_EQ(scan("id_ed25519", &sb, &what), 1);
	ASSERT_CONTAINS(what, "OpenSSH");

	/* CRLF line ends */
	strbuf_reset(&sb);
	strbuf_addf(&sb, "-----BEGIN DSA PRIVATE KEY-----\r\nMIIBuwIBAAKBgQ==\r\n"
			 "-----END DSA PRIVATE KEY-----\r\n");
	ASSERT_EQ(scan("dsa", &sb, &what), 1);
	ASSERT_CONTAINS(what, "DSA");

	/* an armour with nothing in it, or a mismatched END, is not a key */
	strbuf_reset(&sb);
	strbuf_adds(&sb, "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n");
	ASSERT_EQ(scan("x", &sb, &what), 0);
	strbuf_reset(&sb);
	strbuf_adds(&sb, "-----BEGIN RSA PRIVATE KEY-----\nMIIBuwIBAAKBgQ==\n"
			 "-----END EC PRIVATE KEY-----\n");
	ASSERT_EQ(scan("x", &sb, &what), 0);
	strbuf_reset(&sb);
	strbuf_adds(&sb, "printf(\"-----BEGIN PRIVATE KEY-----\\n%s\\n\", key);\n");
	ASSERT_EQ(scan("x.c", &sb, &what), 0);
}

TEST(private_keys_signing_key_name)
{
	const char *what = NULL;

	ASSERT_EQ(kiln_ext_find_private_key("signing_key.pem", "junk", 4, &what), 1);
	ASSERT_CONTAINS(what, "signing_key.pem");
	ASSERT_EQ(kiln_ext_find_private_key("/usr/lib/modules/6.1/build/certs/signing_key.pem",
					    NULL, 0, &what),
		  1);
	ASSERT_EQ(kiln_ext_find_private_key("signing_key.pem.txt", "junk", 4, &what), 0);
	ASSERT_EQ(kiln_ext_find_private_key("signing_key.x509", "junk", 4, &what), 0);
}

/* ---- private keys in a stream (a tar entry's data) ---- */

struct mem_in {
	const struct strbuf *sb;
	size_t pos;
	bool fail;
};

/* Short reads of odd sizes, as a decompressor hands them out. */
static ssize_t mem_read(void *userdata, void *buf, size_t len)
{
	struct mem_in *m = userdata;
	size_t n = m->sb->len - m->pos;

	if (m->fail)
		return -EIO;
	n = n < len ? n : len;
	n = n < 77777 ? n : 77777;
	memcpy(buf, m->sb->buf + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

/* The streamed answer for @sb, which must be the whole file's; *@ret_read: bytes read. */
static int stream(const char *name, const struct strbuf *sb, struct ext_key_buffer *b,
		  size_t *ret_read)
{
	struct mem_in m = { .sb = sb };
	const char *what = NULL, *whole = NULL;
	int r, want;

	r = ext_read_private_key(name, sb->len, mem_read, &m, b, &what);
	want = kiln_ext_find_private_key(name, sb->buf, sb->len, &whole);
	if (r != want || (r > 0 && !streq(what, whole)))
		return -EPROTO;
	if (ret_read)
		*ret_read = m.pos;
	return r;
}

TEST(private_keys_streamed)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT, key = STRBUF_INIT, der = STRBUF_INIT;
	/* keys.c's windows: 8 MiB, each starting a little over 1 MiB before the last ends */
	const size_t big = 30u << 20, window = 8u << 20, step = window - (1u << 20) - 59;
	struct ext_key_buffer b = { 0 };
	struct mem_in failing = { .sb = &sb, .fail = true };
	const char *what;
	size_t n_read, at[64], n_at = 0;

	ASSERT_OK(encode(rsa_key(), PEM_PKCS8, &key));
	ASSERT_OK(strbuf_reserve(&sb, big));
	memset(sb.buf, 0, big);
	sb.len = big;
	ASSERT_EQ(stream("fw.bin", &sb, &b, NULL), 0);

	/* a key anywhere is found: across each window's end, at each one's start, at the end */
	at[n_at++] = 0;
	for (size_t j = 0; j < 3; j++) {
		at[n_at++] = j * step + window - key.len + 1;
		at[n_at++] = (j + 1) * step - 1;
		at[n_at++] = (j + 1) * step + 1;
	}
	at[n_at++] = big - key.len;
	for (size_t off = 12345; off + key.len < big && n_at < ELEMENTSOF(at); off += 1234567)
		at[n_at++] = off;
	for (size_t i = 0; i < n_at; i++) {
		memcpy(sb.buf + at[i], key.buf, key.len);
		if (stream("fw.bin", &sb, &b, &n_read) != 1)
			TAP_FAIL("a key at %zu of %zu bytes not found alike", at[i], big);
		/* reading stops at the window that holds it */
		ASSERT_TRUE(n_read <= at[i] + key.len + window);
		memset(sb.buf + at[i], 0, key.len);
	}

	/*
	 * the longest block the detector takes (a 31-letter label, the END line's end at 1 MiB
	 * from the BEGIN line's), across a window's end by one byte
	 */
	{
		_cleanup_strbuf_ struct strbuf block = STRBUF_INIT;
		const char *label = "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234 ";
		size_t body = (1u << 20) - 1 - strlen("-----END ") - strlen(label) -
			      strlen("PRIVATE KEY-----");

		strbuf_addf(&block, "-----BEGIN %sPRIVATE KEY-----\n", label);
		for (size_t i = 0; i < body; i++)
			strbuf_addch(&block, i % 65 == 64 || i == body - 1 ? '\n' : 'A');
		strbuf_addf(&block, "-----END %sPRIVATE KEY-----", label);
		ASSERT_EQ(stream("x", &block, &b, NULL), 1);
		for (size_t j = 0; j < 2; j++) {
			size_t off = j * step + window + 1 - block.len;

			memcpy(sb.buf + off, block.buf, block.len);
			ASSERT_EQ(stream("fw.bin", &sb, &b, NULL), 1);
			memset(sb.buf + off, 0, block.len);
		}
	}

	/* the name alone: nothing is read */
	ASSERT_EQ(stream("certs/signing_key.pem", &sb, &b, &n_read), 1);
	ASSERT_EQ(n_read, 0);

	/* DER only in a small file, as for a whole one: not at the start of a large one */
	ASSERT_OK(encode(rsa_key(), DER_PKCS8, &der));
	ASSERT_EQ(stream("key.der", &der, &b, NULL), 1);
	memcpy(sb.buf, der.buf, der.len);
	ASSERT_EQ(stream("key.der", &sb, &b, NULL), 0);

	/* the reader's error, and an empty file */
	ASSERT_EQ(ext_read_private_key("x", sb.len, mem_read, &failing, &b, &what), -EIO);
	sb.len = 0;
	ASSERT_EQ(stream("x", &sb, &b, NULL), 0);
	free(b.data);
}

/* ---- private keys in an image of the store (lib/ext/image-keys.c) ---- */

/* A one-layer image @ref of the directory @root/@dir holding the file @name. */
static int image_with(struct kiln_ctx *ctx, struct kiln_store *s, const char *root, const char *dir,
		      const char *ref, const char *name, const char *data,
		      struct kiln_descriptor *ret)
{
	_cleanup_free_ char *d = path_join(root, dir), *file = NULL;
	struct kiln_image_options o = { 0 };

	if (!d || mkdir(d, 0755) < 0 || !(file = path_join(d, name)))
		return -EIO;
	if (write_file_atomic(file, data, strlen(data), 0644) < 0)
		return -EIO;
	return kiln_image_from_dir(ctx, s, d, ref, &o, ret);
}

TEST(image_private_keys)
{
	_cleanup_free_ char *root = tap_temp_dir("test-keys");
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor keyed = { 0 }, clean = { 0 };
	_cleanup_strbuf_ struct strbuf key = STRBUF_INIT;
	_cleanup_free_ char *store = NULL;
	struct kiln_ext_key_report rep = { 0 };

	ASSERT_OK(kiln_ctx_new(&ctx));
	ASSERT_TRUE((store = path_join(root, "store")));
	ASSERT_OK(kiln_store_open(ctx, store, &s));
	ASSERT_OK(encode(ec_key(), PEM_TRADITIONAL, &key));
	ASSERT_OK(
	    image_with(ctx, s, root, "keyed", "kiln/keyed:1", "id.key", strbuf_str(&key), &keyed));
	ASSERT_OK(image_with(ctx, s, root, "clean", "kiln/clean:1", "hello", "hello\n", &clean));

	/* a key is found, and its layer read again each time */
	for (int i = 0; i < 2; i++) {
		ASSERT_OK(kiln_ext_find_image_private_keys(ctx, s, &keyed, &rep));
		ASSERT_EQ(rep.n_findings, 1);
		ASSERT_EQ(rep.n_layers, 1);
		ASSERT_EQ(rep.n_files, 1);
		ASSERT_STREQ(rep.findings[0].path, "id.key");
		ASSERT_CONTAINS(rep.findings[0].what, "EC private key");
		ASSERT_EQ(rep.findings[0].layer, 0);
		ASSERT_STREQ(rep.findings[0].manifest.s, keyed.digest.s);
		ASSERT_TRUE(!rep.findings[0].platform && !rep.findings[0].hidden);
		kiln_ext_key_report_release(&rep);
	}

	/* a layer found clean is not read again */
	ASSERT_OK(kiln_ext_find_image_private_keys(ctx, s, &clean, &rep));
	ASSERT_TRUE(rep.n_findings == 0 && rep.n_layers == 1 && rep.n_layers_clean == 0);
	ASSERT_OK(kiln_ext_find_image_private_keys(ctx, s, &clean, &rep));
	ASSERT_TRUE(rep.n_findings == 0 && rep.n_layers == 0 && rep.n_layers_clean == 1);
	kiln_ext_key_report_release(&rep);
	ASSERT_OK(remove_tree_at(AT_FDCWD, root));
}

/* ---- udev rules ---- */

static struct strbuf msgs;

static void capture_fn(void *userdata, enum kiln_log_level level, const char *msg)
{
	(void)userdata;
	if (level == KILN_LOG_WARNING) {
		strbuf_adds(&msgs, msg);
		strbuf_addch(&msgs, '\n');
	}
}

/* Lint @text as @file; the messages go to msgs (and the TAP log). */
static int lint(const char *file, const char *text, size_t len)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	int r;

	strbuf_reset(&msgs);
	if (kiln_ctx_new(&ctx) < 0)
		return -ENOMEM;
	kiln_ctx_set_log_fn(ctx, capture_fn, NULL);
	r = kiln_udev_lint(ctx, file, text, len);
	for (const char *m = strbuf_str(&msgs), *nl; r > 0 && (nl = strchr(m, '\n')); m = nl + 1)
		printf("# %.*s\n", (int)(nl - m), m);
	if (r >= 0 && (unsigned)r != kiln_ctx_warnings(ctx))
		return -EPROTO;
	return r;
}

static int lint_str(const char *text)
{
	return lint("t.rules", text, strlen(text));
}

static int lint_fixture(const char *name)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len;
	int r;

	if (asprintf(&path, "%s/ext/udev/%s", TEST_DATA, name) < 0)
		return -ENOMEM;
	r = read_file_at(AT_FDCWD, path, 1 << 20, &buf, &len);
	if (r < 0)
		return r;
	return lint(name, buf, len);
}

TEST(udev_good_fixtures)
{
	ASSERT_EQ(lint_fixture("good/51-hailo-udev.rules"), 0);
	ASSERT_EQ(lint_fixture("good/60-typical.rules"), 0);
}

/* Each bad fixture: one problem, where udevd would see it. */
TEST(udev_bad_fixtures)
{
	static const struct {
		const char *file;
		const char *message; /* starts with file:line:col: */
	} cases[] = {
		{ "bad/unknown-key.rules",
		  "bad/unknown-key.rules:2:19: unknown key \"SUBSYTEM\"; did you mean SUBSYSTEM?" },
		{ "bad/bad-operator.rules",
		  "bad/bad-operator.rules:1:7: KERNEL takes '==' or '!=', not '='" },
		{ "bad/missing-quote.rules",
		  "bad/missing-quote.rules:1:34: the value of MODE must be in double quotes: "
		  "MODE=\"0666\"" },
		{ "bad/unterminated-quote.rules",
		  "bad/unterminated-quote.rules:1:24: the value of RUN has no closing '\"'" },
		{ "bad/missing-comma.rules",
		  "bad/missing-comma.rules:1:18: missing ',' before MODE" },
		{ "bad/continuation-at-eof.rules",
		  "bad/continuation-at-eof.rules:2:16: the file ends after a '\\' line continuation" },
		{ "bad/missing-attribute.rules",
		  "bad/missing-attribute.rules:2:6: ATTRS needs an {attribute}: write "
		  "ATTRS{idVendor}==\"1e60\"" },
		{ "bad/operator-on-continued-line.rules",
		  "bad/operator-on-continued-line.rules:2:20: ATTRS takes '==' or '!=', not '='" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		int r = lint_fixture(cases[i].file);

		if (r != 1)
			TAP_FAIL("%s: %d problems, not 1", cases[i].file, r);
		if (strncmp(strbuf_str(&msgs), cases[i].message, strlen(cases[i].message)) != 0)
			TAP_FAIL("%s: got \"%s\", want \"%s\"", cases[i].file, strbuf_str(&msgs),
				 cases[i].message);
	}
}

TEST(udev_good_strings)
{
	static const char *const good[] = {
		"",
		"\n\n# only comments\n   # indented\n",
		"SUBSYSTEM==\"hailo_chardev\", MODE=\"0666\"",
		"SUBSYSTEM==\"hailo_chardev\",MODE=\"0666\"\r\n",
		"KERNEL == \"x\" , MODE = \"0600\"",
		("ACTION==\"add\", SUBSYSTEM==\"pci\", ATTR{vendor}==\"0x1e60\", "
		 "RUN+=\"/sbin/modprobe hailo_pci\""),
		"SUBSYSTEM==\"usb\", ENV{DEVTYPE}==\"usb_device\", IMPORT{program}=\"x %k\"\n",
		"KERNEL==\"x\", PROGRAM=\"/bin/id\", RESULT==\"0\", SYMLINK+=\"y\"",
		"KERNEL==\"x\", OWNER:=\"root\", GROUP=\"0\", MODE:=\"0600\", TAG-=\"seat\"",
		"KERNEL==\"x\", TEST{0644}==\"/dev/x\", OPTIONS+=\"link_priority=10\"",
		"KERNEL==\"x\", CONST{virt}==\"kvm\", SECLABEL{selinux}=\"s0\"",
		"KERNEL==\"x\", SYSCTL{net.core.rmem_max}=\"1\"",
		"KERNEL==\"x\", ENV{A}==ie\"\\t\", ENV{B}=e\"\\t\\\"\"",
		"GOTO=\"a\"\nLABEL=\"a\"",
		/* a GOTO finds the LABEL after it among others of the same name */
		"LABEL=\"a\"\nGOTO=\"b\"\nGOTO=\"a\"\nLABEL=\"b\"\nLABEL=\"c\"\nLABEL=\"a\"",
		"KERNEL==\"x\", \\\n\\\n  MODE=\"0600\"",
	};

	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		if (lint_str(good[i]) != 0)
			TAP_FAIL("good[%zu] \"%s\": %s", i, good[i], strbuf_str(&msgs));
}

TEST(udev_bad_strings)
{
	static const struct {
		const char *text;
		int n;
		const char *message;
		size_t len; /* 0: strlen(text) */
	} bad[] = {
		{ "MODE==\"0666\"", 1, "t.rules:1:5: MODE takes '=' or ':=', not '=='" },
		{ "SUBSYSTEM==\"x\", OWNER+=\"root\"", 1,
		  "t.rules:1:22: OWNER takes '=' or ':='; udevd reads '+=' as '='" },
		{ "subsystem==\"x\", MODE=\"0666\"", 1,
		  "t.rules:1:1: unknown key \"subsystem\"; did you mean SUBSYSTEM?" },
		{ "WAIT_FOR=\"x\", MODE=\"0666\"", 1, "t.rules:1:1: unknown key WAIT_FOR" },
		{ "KERNEL{x}==\"y\", MODE=\"0666\"", 1,
		  "t.rules:1:7: KERNEL takes no {attribute}: write KERNEL==\"sd*\"" },
		{ "ENV{}==\"1\", MODE=\"0666\"", 1, "t.rules:1:4: ENV needs an {attribute}" },
		{ "IMPORT{prog}=\"x\"", 1,
		  "t.rules:1:8: IMPORT{prog}: the attribute of IMPORT is file, program, builtin, db, "
		  "cmdline or parent" },
		{ "ATTRS{idVendor==\"1\", MODE=\"0666\"", 1,
		  "t.rules:1:6: ATTRS{: the attribute has no closing '}'" },
		{ "KERNEL\"x\", MODE=\"0666\"", 1, "t.rules:1:7: KERNEL: missing operator" },
		{ "KERNEL=~\"x\"", 1, "t.rules:1:7: KERNEL: '=~' is not a udev operator" },
		{ "MODE='0666', KERNEL==\"x\"", 1,
		  "t.rules:1:6: the value of MODE must be in double quotes: MODE=\"0666\"" },
		{ "KERNEL==\"x\", MODE=\"0666\" junk", 1,
		  "t.rules:1:26: \"junk\" is not a KEY==\"value\" pair" },
		{ "KERNEL==\"x\", MODE=i\"0666\"", 1,
		  "t.rules:1:19: MODE: the i\"\" prefix (case-insensitive) is only for '==' and '!='" },
		{ "TEST==i\"/x\", MODE=\"0666\"", 1,
		  "t.rules:1:7: TEST does not take the i\"\" prefix" },
		{ "KERNEL==\"x\", OPTIONS+=\"last_rule\"", 2,
		  "t.rules:1:24: unknown OPTIONS value \"last_rule\"" },
		{ "KERNEL==\"x\"\n", 1, "t.rules:1:1: the rule only matches and does nothing" },
		{ "KERNEL==\"x\", GOTO=\"nowhere\"\nLABEL=\"elsewhere\"\n", 1,
		  "t.rules:1:14: GOTO=\"nowhere\" has no LABEL=\"nowhere\" after it" },
		{ "LABEL=\"a\"\nKERNEL==\"x\", GOTO=\"a\"\n", 1,
		  "t.rules:2:14: GOTO=\"a\" has no LABEL=\"a\" after it" },
		{ "NAME=\"%k\"", 1, "t.rules:1:7: NAME=\"%k\" has no effect" },
		{ "KERNEL==\"x\", MODE=\"0666\" MODE=\"0660\" GROUP=\"video\"", 2,
		  "t.rules:1:26: missing ',' before MODE" },
		{ "KERNEL==\"x\", MODE=\"0666\"\\", 1,
		  "t.rules:1:25: the file ends after a '\\' line continuation" },
		{ "# c\nKERNEL==\"x\", \\\n# inside\n   MOD=\"1\"\n", 1,
		  "t.rules:4:4: unknown key \"MOD\"; did you mean MODE?" },
		{ "KERNEL==\"x\", MODE=\"06\0\"\n", 2, "t.rules:1:22: NUL byte", 24 },
		/* positions across empty continued lines, before and after them */
		{ "KERNEL==\"x\", \\\n\\\n\\\n  MOD=\"1\"\n", 1,
		  "t.rules:4:3: unknown key \"MOD\"; did you mean MODE?" },
		{ "MOD=\"1\", \\\n\\\n\\\nKERNEL==\"x\"\n", 1,
		  "t.rules:1:1: unknown key \"MOD\"; did you mean MODE?" },
		{ "LABEL=\"a\"\nGOTO=\"b\"\nGOTO=\"a\"\nLABEL=\"b\"\nLABEL=\"a\"\nGOTO=\"a\"\n", 1,
		  "t.rules:6:1: GOTO=\"a\" has no LABEL=\"a\" after it" },
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
		int r = lint("t.rules", bad[i].text, len);

		if (r != bad[i].n)
			TAP_FAIL("bad[%zu] \"%s\": %d problems, not %d", i, bad[i].text, r,
				 bad[i].n);
		if (strncmp(strbuf_str(&msgs), bad[i].message, strlen(bad[i].message)) != 0)
			TAP_FAIL("bad[%zu]: got \"%s\", want \"%s\"", i, strbuf_str(&msgs),
				 bad[i].message);
	}
}

TEST(udev_long_rule)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	strbuf_adds(&sb, "KERNEL==\"x\", \\\n");
	for (int i = 0; i < 2000; i++)
		strbuf_adds(&sb, "ENV{A}=\"1\", \\\n");
	strbuf_adds(&sb, "MODE=\"0600\"\n");
	ASSERT_EQ(lint("t.rules", sb.buf, sb.len), 1);
	ASSERT_CONTAINS(strbuf_str(&msgs), "t.rules:1:1: rule is");
}

TAP_MAIN
