/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Signing modules as the kernel's scripts/sign-file does, byte for byte:
 * the same CMS calls with the same flags, so that an RSA signature (PKCS#1
 * v1.5, no signed attributes, hence no signing time) comes out identical.
 *
 * The key and certificate are loaded once into a signer that many threads
 * then share: OpenSSL 3 allows concurrent read-only use of an EVP_PKEY and
 * an X509, and every call builds its own CMS structure.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/module.h>

#include "cert.h"
#include "fileio.h"
#include "log.h"
#include "module-file.h"

struct kiln_signer {
	EVP_PKEY *key;
	X509 *cert;
	const EVP_MD *md;
	char *hash;
	char *name;
	bool use_skid;
	OSSL_PROVIDER *pkcs11;
};

/* The digests the kernel's PKCS#7 parser knows (6.12; SHA-3 since 6.7). */
static const char *const kernel_hashes[] = {
	"sha1", "sha224", "sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512",
};

#define KERNEL_HASHES "sha1, sha224, sha256, sha384, sha512, sha3-256, sha3-384 or sha3-512"

static const uint8_t elf_magic[] = { 0x7f, 'E', 'L', 'F' };

struct passphrase {
	const char *pin;
	bool asked;
};

/*
 * sign-file's pem_pw_cb(): hand out the passphrase once, so that a wrong one
 * fails rather than being retried, and never prompt on a terminal.
 */
static int passphrase_cb(char *buf, int size, int rwflag, void *userdata)
{
	struct passphrase *p = userdata;
	size_t len;

	p->asked = true;
	if (!p->pin)
		return -1;
	len = strlen(p->pin);
	if (len >= (size_t)size)
		return -1;
	memcpy(buf, p->pin, len + 1);
	p->pin = NULL;
	return (int)len;
}

static int key_error(struct kiln_ctx *ctx, const char *path, const struct passphrase *p,
		     bool had_pin)
{
	int r;

	if (p->asked && !had_pin) {
		ERR_clear_error();
		return kiln_error(ctx, EACCES,
				  "key '%s' is encrypted: put its passphrase in KBUILD_SIGN_PIN",
				  path);
	}
	if (p->asked)
		r = kiln_ssl_error(ctx, EACCES,
				   "cannot decrypt key '%s' with the passphrase given", path);
	else
		r = kiln_ssl_error(ctx, EINVAL, "'%s' holds no PEM private key", path);
	/* the key's fault only if OpenSSL has all it needs to read one */
	if (r != -ENOMEM && kiln_ssl_check_algorithms(ctx) < 0)
		return -ENOMEM;
	return r;
}

static void ui_methodp(UI_METHOD **m)
{
	if (*m)
		UI_destroy_method(*m);
}

/*
 * A "pkcs11:" URI, through OpenSSL 3's store API and the pkcs11 provider,
 * as sign-file does since 6.12: the first private key the URI yields.
 */
static int load_pkcs11_key(struct kiln_ctx *ctx, struct kiln_signer *s, const char *uri,
			   const char *pin)
{
	_cleanup_(ui_methodp) UI_METHOD *ui = NULL;
	struct passphrase p = { .pin = pin };
	OSSL_STORE_CTX *store;

	s->pkcs11 = OSSL_PROVIDER_try_load(NULL, "pkcs11", 1);
	if (!s->pkcs11) {
		ERR_clear_error();
		return kiln_error(ctx, EOPNOTSUPP,
				  "a pkcs11: key needs OpenSSL's pkcs11 provider, which is "
				  "not installed or not configured (Debian: apt install "
				  "pkcs11-provider); or give a PEM key file");
	}
	/* the token's PIN goes through the same callback as a PEM passphrase */
	ui = UI_UTIL_wrap_read_pem_callback(passphrase_cb, 0);
	if (!ui)
		return kiln_ssl_oom(ctx, "cannot ask for the PIN");
	store = OSSL_STORE_open(uri, ui, &p, NULL, NULL);
	if (!store)
		return kiln_ssl_error(ctx, ENOENT, "cannot open the pkcs11 key");
	/* bounded: a store that neither yields nor ends must not spin forever */
	for (unsigned i = 0; !s->key && !OSSL_STORE_eof(store) && i < 4096; i++) {
		OSSL_STORE_INFO *info = OSSL_STORE_load(store);

		if (!info)
			continue;
		if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
			s->key = OSSL_STORE_INFO_get1_PKEY(info);
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(store);
	if (!s->key)
		return kiln_ssl_error(ctx, p.asked ? EACCES : ENOENT,
				      "the pkcs11 URI yields no private key%s",
				      p.asked && !pin ? " (set its PIN in KBUILD_SIGN_PIN)" : "");
	ERR_clear_error();
	return 0;
}

static int load_pem_key(struct kiln_ctx *ctx, struct kiln_signer *s, const char *path,
			const char *pin)
{
	struct passphrase p = { .pin = pin };
	_cleanup_(biop) BIO *b = NULL;
	FILE *f;

	/* fopen() here, not BIO_new_file(), to get errno for the message */
	f = fopen(path, "rbe");
	if (!f) {
		int err = errno;

		return kiln_error(ctx, err, "cannot open key '%s': %s", path, strerror(err));
	}
	b = BIO_new_fp(f, BIO_CLOSE);
	if (!b) {
		fclose(f);
		return kiln_ssl_oom(ctx, "cannot read key '%s'", path);
	}
	s->key = PEM_read_bio_PrivateKey(b, NULL, passphrase_cb, &p);
	if (!s->key)
		return key_error(ctx, path, &p, pin != NULL);
	ERR_clear_error();
	return 0;
}

static int load_cert(struct kiln_ctx *ctx, struct kiln_signer *s, const char *path)
{
	_cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
	int r;

	r = kiln_x509_read(ctx, path, false, &certs);
	if (r < 0)
		return r;
	s->cert = sk_X509_shift(certs);
	/* read whole (kiln_x509_prepare()): a key missing now is one OpenSSL cannot read */
	if (!X509_get0_pubkey(s->cert))
		return kiln_ssl_error(ctx, EBADMSG,
				      "certificate '%s' has a public key OpenSSL cannot read", path);
	return 0;
}

/*
 * A step of signing failed, with a key and a certificate that loaded and
 * match: with the key in memory, only memory is left to run out (OpenSSL
 * 3.0 says "cms datafinal error" for a digest context it could not copy);
 * a token may fail for reasons of its own.
 */
static int sign_failed(struct kiln_ctx *ctx, const struct kiln_signer *s, const char *what)
{
	if (s->pkcs11)
		return kiln_ssl_error(ctx, EIO, "%s", what);
	return kiln_ssl_oom(ctx, "%s", what);
}

int kiln_signer_new(struct kiln_ctx *ctx, const struct kiln_signer_options *opts,
		    struct kiln_signer **ret)
{
	_cleanup_(kiln_signer_freep) struct kiln_signer *s = NULL;
	const char *hash = opts->hash ? opts->hash : KILN_SIGN_DEFAULT_HASH;
	bool pkcs11, known = false;
	int r;

	if (!opts->key)
		return kiln_error(ctx, EINVAL, "no signing key given");
	pkcs11 = strncmp(opts->key, "pkcs11:", 7) == 0;
	for (size_t i = 0; i < ELEMENTSOF(kernel_hashes); i++)
		known |= streq(hash, kernel_hashes[i]);
	if (!known)
		return kiln_error(ctx, EINVAL, "unknown hash '%s': the kernel takes %s", hash,
				  KERNEL_HASHES);
	if (pkcs11 && !opts->cert)
		return kiln_error(ctx, EINVAL, "a pkcs11: key needs the certificate as a file");

	s = calloc(1, sizeof(*s));
	if (!s)
		return kiln_error(ctx, ENOMEM, "out of memory");
	s->use_skid = opts->use_skid;
	s->hash = strdup(hash);
	if (!s->hash)
		return kiln_error(ctx, ENOMEM, "out of memory");
	ERR_clear_error();
	s->md = EVP_get_digestbyname(hash);
	if (!s->md)
		return kiln_ssl_error(ctx, EOPNOTSUPP, "OpenSSL has no digest '%s'", hash);

	r = pkcs11 ? load_pkcs11_key(ctx, s, opts->key, opts->pin)
		   : load_pem_key(ctx, s, opts->key, opts->pin);
	if (r < 0)
		return r;
	r = load_cert(ctx, s, opts->cert ? opts->cert : opts->key);
	if (r < 0)
		return r;

	/* CMS_add1_signer() would refuse each module; say it once, naming both files */
	ERR_clear_error();
	if (EVP_PKEY_eq(X509_get0_pubkey(s->cert), s->key) != 1) {
		/* unless comparing them ran out of memory, or OpenSSL lost an algorithm to it */
		if (kiln_ssl_clear_error())
			return kiln_error(ctx, ENOMEM,
					  "cannot compare the key with the certificate's: out of "
					  "memory");
		r = kiln_ssl_check_algorithms(ctx);
		if (r < 0)
			return r;
		return kiln_error(ctx, EINVAL, "the key '%s' is not the key of certificate '%s'",
				  pkcs11 ? "pkcs11:..." : opts->key,
				  opts->cert ? opts->cert : opts->key);
	}
	if (s->use_skid && !X509_get0_subject_key_id(s->cert))
		return kiln_error(ctx, EINVAL,
				  "certificate '%s' has no subjectKeyIdentifier to name the "
				  "signer by",
				  opts->cert ? opts->cert : opts->key);
	s->name = kiln_x509_subject_name(s->cert);
	if (!s->name)
		return kiln_error(ctx, ENOMEM, "out of memory");
	*ret = TAKE_PTR(s);
	return 0;
}

void kiln_signer_free(struct kiln_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	/* after the key: a pkcs11 key belongs to the provider */
	if (s->pkcs11)
		OSSL_PROVIDER_unload(s->pkcs11);
	free(s->hash);
	free(s->name);
	free(s);
}

const char *kiln_signer_hash(const struct kiln_signer *s)
{
	return s->hash;
}

const char *kiln_signer_name(const struct kiln_signer *s)
{
	return s->name;
}

static void cmsp(CMS_ContentInfo **c)
{
	CMS_ContentInfo_free(*c);
}

int kiln_signer_sign(struct kiln_ctx *ctx, const struct kiln_signer *s, const uint8_t *data,
		     size_t len, uint8_t **ret, size_t *ret_len)
{
	_cleanup_(cmsp) CMS_ContentInfo *cms = NULL;
	_cleanup_(biop) BIO *body = NULL;
	_cleanup_free_ uint8_t *out = NULL;
	unsigned flags = CMS_NOCERTS | CMS_BINARY | CMS_NOSMIMECAP | CMS_NOATTR;
	uint8_t *p;
	uint32_t be;
	int der_len;

	if (len > INT_MAX)
		return kiln_error(ctx, EFBIG, "a module of %zu bytes is too large to sign", len);
	ERR_clear_error();
	body = BIO_new_mem_buf(data, (int)len);
	if (!body)
		return sign_failed(ctx, s, "signing failed");

	/* sign-file's sequence, flag for flag */
	cms = CMS_sign(NULL, NULL, NULL, NULL,
		       CMS_NOCERTS | CMS_PARTIAL | CMS_BINARY | CMS_DETACHED | CMS_STREAM);
	if (!cms)
		return sign_failed(ctx, s, "CMS_sign() failed");
	/* the signer's key and certificate are only read: CMS_add1_signer() takes references */
	if (s->use_skid)
		flags |= CMS_USE_KEYID;
	if (!CMS_add1_signer(cms, s->cert, s->key, s->md, flags))
		return sign_failed(ctx, s, "cannot add the signer");
	if (CMS_final(cms, body, NULL, CMS_NOCERTS | CMS_BINARY) != 1)
		return sign_failed(ctx, s, "signing failed");

	der_len = i2d_CMS_ContentInfo(cms, NULL);
	if (der_len <= 0)
		return sign_failed(ctx, s, "cannot encode the signature");
	out = malloc((size_t)der_len + KILN_MODSIG_INFO_LEN + KILN_MODSIG_MAGIC_LEN);
	if (!out)
		return kiln_error(ctx, ENOMEM, "out of memory");
	p = out;
	if (i2d_CMS_ContentInfo(cms, &p) != der_len)
		return sign_failed(ctx, s, "cannot encode the signature");

	/* struct module_signature: all zero but id_type and the big-endian sig_len */
	memset(p, 0, KILN_MODSIG_INFO_LEN);
	p[2] = KILN_PKEY_ID_PKCS7;
	be = htonl((uint32_t)der_len);
	memcpy(p + 8, &be, sizeof(be));
	p += KILN_MODSIG_INFO_LEN;
	memcpy(p, KILN_MODSIG_MAGIC, KILN_MODSIG_MAGIC_LEN);

	*ret_len = (size_t)der_len + KILN_MODSIG_INFO_LEN + KILN_MODSIG_MAGIC_LEN;
	*ret = TAKE_PTR(out);
	return 0;
}

/*
 * Whether @p7 is exactly one DER SEQUENCE. Before stripping a signature,
 * this makes sure its trailer's length is the signature's: a wrong sig_len
 * that still fits the file would otherwise cut the module in the wrong place.
 */
static bool frames_one_sequence(const uint8_t *p7, size_t len)
{
	size_t hdr = 2, n, content;

	if (len < 2 || p7[0] != 0x30)
		return false;
	content = p7[1];
	if (content & 0x80) {
		n = content & 0x7f;
		if (n == 0 || n > 4 || len < 2 + n)
			return false;
		content = 0;
		for (size_t i = 0; i < n; i++)
			content = content << 8 | p7[2 + i];
		hdr += n;
	}
	return hdr + content == len;
}

/*
 * How many bytes of @data are the module without its signature(s). A module
 * signed twice over (sign-file appends without looking) has nested
 * trailers; replacing strips them all, down to the module itself.
 */
static int unsigned_length(struct kiln_ctx *ctx, const uint8_t *data, size_t len, unsigned flags,
			   size_t *ret_len, bool *ret_replaced)
{
	struct kiln_modsig sig;
	bool replaced = false;
	int r;

	for (;;) {
		r = kiln_modsig_split(ctx, data, len, &sig);
		if (r == -ENODATA)
			break;
		if (r == -EBADMSG) {
			kiln_error_prefix(ctx, "%s", replaced ? "its inner signature is malformed"
							      : "its signature is malformed");
			return r;
		}
		if (r < 0)
			return r;
		/* -EEXIST means this and nothing else: the caller says how to replace it */
		if (!(flags & KILN_SIGN_REPLACE))
			return kiln_error(ctx, EEXIST, "already signed");
		if (!frames_one_sequence(sig.p7, sig.p7_len))
			return kiln_error(ctx, EBADMSG,
					  "its signature is malformed: the trailer's %zu bytes "
					  "are not one DER SEQUENCE, so where the module ends is "
					  "unknown",
					  sig.p7_len);
		len = sig.body_len;
		replaced = true;
	}
	*ret_len = len;
	*ret_replaced = replaced;
	return 0;
}

int kiln_module_sign_mem(struct kiln_ctx *ctx, const struct kiln_signer *s, const uint8_t *data,
			 size_t len, unsigned flags, uint8_t **ret, size_t *ret_len,
			 struct kiln_sign_info *ret_info)
{
	enum kiln_compression c = kiln_compression_detect(data, len);
	_cleanup_free_ uint8_t *plain_buf = NULL, *trailer = NULL, *signed_buf = NULL;
	const uint8_t *plain = data;
	size_t plain_len = len, body_len = 0, trailer_len, signed_len;
	bool replaced = false;
	int r;

	if (c != KILN_COMPRESSION_NONE) {
		r = kiln_decompress(ctx, c, data, len, KILN_MODULE_MAX_SIZE, &plain_buf,
				    &plain_len);
		if (r < 0)
			return r;
		plain = plain_buf;
	}
	/* sign-file signs anything; a module is ELF, and anything else is a mistake */
	if (plain_len < sizeof(elf_magic) || memcmp(plain, elf_magic, sizeof(elf_magic)) != 0)
		return kiln_error(ctx, ENOEXEC, "not a kernel module (no ELF header%s%s)",
				  c == KILN_COMPRESSION_NONE ? "" : " once decompressed with ",
				  c == KILN_COMPRESSION_NONE ? "" : kiln_compression_name(c));
	r = unsigned_length(ctx, plain, plain_len, flags, &body_len, &replaced);
	if (r < 0)
		return r;
	r = kiln_signer_sign(ctx, s, plain, body_len, &trailer, &trailer_len);
	if (r < 0)
		return r;

	signed_len = body_len + trailer_len;
	signed_buf = malloc(signed_len);
	if (!signed_buf)
		return kiln_error(ctx, ENOMEM, "out of memory");
	memcpy(signed_buf, plain, body_len);
	memcpy(signed_buf + body_len, trailer, trailer_len);

	/* the signature goes inside the compressed payload, as modules_install puts it */
	if (c != KILN_COMPRESSION_NONE) {
		_cleanup_free_ uint8_t *packed = NULL;
		size_t packed_len;

		r = kiln_compress(ctx, c, signed_buf, signed_len, &packed, &packed_len);
		if (r < 0)
			return r;
		free(signed_buf);
		signed_buf = TAKE_PTR(packed);
		signed_len = packed_len;
	}
	if (ret_info)
		*ret_info = (struct kiln_sign_info){
			.compression = c,
			.replaced = replaced,
			.size = signed_len,
		};
	*ret_len = signed_len;
	*ret = TAKE_PTR(signed_buf);
	return 0;
}

/* errno is read before anything can change it */
static int errno_error(struct kiln_ctx *ctx, const char *what)
{
	int err = errno;

	return kiln_error(ctx, err, "%s: %s", what, strerror(err));
}

int kmod_sign_file_stage(struct kiln_ctx *ctx, const struct kiln_signer *s, const char *path,
			 unsigned flags, bool sync, struct kiln_sign_info *ret_info,
			 struct kmod_signed *ret)
{
	_cleanup_(atomic_file_release) struct atomic_file f = { .fd = -1 };
	_cleanup_free_ char *resolved = NULL, *data = NULL;
	_cleanup_free_ uint8_t *out = NULL;
	struct kiln_sign_info info;
	size_t len, out_len;
	struct stat st;
	dev_t dev;
	int r;

	if (lstat(path, &st) < 0)
		return errno_error(ctx, "cannot read it");
	if (S_ISLNK(st.st_mode)) {
		/* rewrite the file the link names; renaming over the link would replace it */
		resolved = realpath(path, NULL);
		if (!resolved)
			return errno_error(ctx, "cannot follow the symlink");
		path = resolved;
		if (stat(path, &st) < 0)
			return errno_error(ctx, "cannot read it");
	}
	if (!S_ISREG(st.st_mode))
		return kiln_error(ctx, S_ISDIR(st.st_mode) ? EISDIR : EINVAL, "not a regular file");

	r = kmod_read_file(ctx, path, &data, &len);
	if (r < 0)
		return r;
	r = kiln_module_sign_mem(ctx, s, (const uint8_t *)data, len, flags, &out, &out_len,
				 &info);
	if (r < 0)
		return r;
	r = atomic_file_open(path, &f);
	if (r >= 0)
		r = write_all(f.fd, out, out_len);
	if (r >= 0)
		r = atomic_file_stage(&f, st.st_mode & 07777, sync, &dev);
	if (r < 0)
		return kiln_error(ctx, r, "cannot write it: %s", strerror(-r));
	if (ret_info)
		*ret_info = info;
	/* f.path points at @path, or at resolved, which goes along */
	*ret = (struct kmod_signed){ .file = f, .resolved = TAKE_PTR(resolved), .dev = dev };
	f = (struct atomic_file){ .fd = -1 };
	return 0;
}

int kmod_signed_rename(struct kiln_ctx *ctx, struct kmod_signed *f)
{
	int r = atomic_file_rename(&f->file);

	if (r < 0)
		return kiln_error(ctx, r, "cannot write it: %s", strerror(-r));
	return 0;
}

void kmod_signed_release(struct kmod_signed *f)
{
	atomic_file_release(&f->file);
	free(f->resolved);
	*f = (struct kmod_signed){ .file.fd = -1 };
}

int kiln_module_sign_file(struct kiln_ctx *ctx, const struct kiln_signer *s, const char *path,
			  unsigned flags, struct kiln_sign_info *ret_info)
{
	_cleanup_(kmod_signed_release) struct kmod_signed f = { .file.fd = -1 };
	struct kiln_sign_info info;
	int r;

	r = kmod_sign_file_stage(ctx, s, path, flags, true, &info, &f);
	if (r >= 0)
		r = kmod_signed_rename(ctx, &f);
	if (r < 0)
		return r;
	if (ret_info)
		*ret_info = info;
	return 0;
}
