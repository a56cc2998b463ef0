/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private key material in an extension's files. An extension is public: a
 * key in it (the kernel build's signing_key.pem most of all) is a leaked
 * key. PEM blocks are found anywhere in a file, fast enough for many MB of
 * firmware; DER is only tried on small files that start like one. A file
 * read from a stream (a layer's tar) is looked at in windows, so that a
 * huge one never sits in memory.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <kiln/ext.h>

#include "base64.h"
#include "hex.h"
#include "keys.h"
#include "macro.h"

#define PEM_TAIL "PRIVATE KEY-----"
#define PEM_BEGIN "-----BEGIN "
#define PEM_LABEL_MAX 32 /* "ENCRYPTED ", "OPENSSH ", "RSA ": short words */
#define PEM_BLOCK_MAX (1u << 20) /* how far the END line may be */
#define DER_MAX (64u * 1024)

/*
 * A file streamed in is looked at in windows of WINDOW bytes that overlap by
 * more than a PEM block can span ("-----BEGIN ", the label, the marker, then
 * at most PEM_BLOCK_MAX to the end of its END line): every block of the file
 * lies whole in some window. A window of a larger file is longer than
 * DER_MAX, so it never passes for a small DER file.
 */
#define WINDOW (8u << 20)
#define WINDOW_OVERLAP (strlen(PEM_BEGIN) + PEM_LABEL_MAX + strlen(PEM_TAIL) + PEM_BLOCK_MAX)
_Static_assert(PEM_BLOCK_MAX > DER_MAX, "a window could pass for a DER file");
_Static_assert(WINDOW > 2 * PEM_BLOCK_MAX, "windows would barely move");

static const struct {
	const char *label; /* what comes before "PRIVATE KEY" */
	const char *what;
} pem_kinds[] = {
	{ "", "a PEM private key (PKCS#8)" },
	{ "ENCRYPTED ", "an encrypted PEM private key (PKCS#8)" },
	{ "RSA ", "a PEM RSA private key" },
	{ "EC ", "a PEM EC private key" },
	{ "DSA ", "a PEM DSA private key" },
	{ "OPENSSH ", "an OpenSSH private key" },
};

static bool is_base64(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

static const unsigned char *next_line(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *nl = memchr(p, '\n', end - p);

	return nl ? nl + 1 : end;
}

/*
 * Private keys that their authors published as test data, by the SHA-256
 * of their DER: a file that holds one leaks no one's key. Libraries embed
 * theirs to test themselves at start, and a kernel source tree carries one,
 * so that without this list a build root (libgnutls.so) or an unpacked
 * kernel tree would count as holding a private key, could not be shared
 * through a registry cache, and an extension shipping GnuTLS would fail
 * validation. Only a key found here byte for byte is passed over.
 */
static const char *const published_keys[] = {
	/* GnuTLS's self-tests (lib/crypto-selftests-pk.c), in libgnutls.so.30: GOST */
	"87e288dc7dbc29a24241b596ec8c84f949d9f09f34fc0cf69242481fb2274770",
	"d245e52c341a76645e1b0e56c58dc964cd4f3ecaea64a9c6d6db9897d4948a8a",
	"0294b4406902e33bb02f89eaf4c691328790d7a9cd01b873d68edac994f310a1",
	/* ECDSA */
	"60c323abe4854b03743005874156ef6e0343bc9c05c09a2a43335cdda19342b3",
	"995b8d5b08ac126a74f39d812fc8cce270d026093d810f366de923bb0fe47f60",
	"09416ba3e0782523c56225fb168cd58cda7796e938db1b53f79b6abbaed2bbc7",
	"7e38af7715bbb425a6aa8060b7c0af60aeb81d39975c55e83edcb9eae7a5e9f8",
	"458022ddcb5598b39253bc027eb02c4f3dba00e2bdbaef239a35bc91c9bd4f3a",
	/* DSA, RSA */
	"09f1c1a4680df80b9e8e6e587d3a787de7402a919e366426ad807a1c0f8c98c1",
	"2859ff03b44c8f0e4f96604b8cced325ef4d01ca935422b2041d88d8809f8fa1",
	/* Linux, tools/testing/selftests/sgx/sign_key.pem */
	"739756e08012f17a899b05995ed88295c68e434b8680d7d8a1219347a07cb7b1",
};

static bool is_published_der(const void *der, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * 32 + 1];
	unsigned md_len = 0;

	if (!EVP_Digest(der, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
		ERR_clear_error();
		return false;
	}
	hex_encode(hex, md, md_len, '\0', false);
	for (size_t i = 0; i < ELEMENTSOF(published_keys); i++)
		if (streq(hex, published_keys[i]))
			return true;
	return false;
}

/*
 * The same for the body of a PEM block, from the end of its BEGIN line to
 * the start of its END line: its base64 lines decoded. A block with
 * headers (an encrypted one) or that does not decode is no published key.
 */
static bool is_published_pem(const unsigned char *p, const unsigned char *end)
{
	_cleanup_free_ char *b64 = malloc(end - p + 1), *der = NULL;
	size_t n = 0, der_len;

	if (!b64)
		return false; /* counted as a key: the safe side */
	for (; p < end; p++) {
		if (*p == ':')
			return false;
		if (is_base64(*p))
			b64[n++] = (char)*p;
	}
	b64[n] = '\0';
	return base64_decode(b64, &der, &der_len) >= 0 && is_published_der(der, der_len);
}

/*
 * Whether a real PEM block follows its BEGIN line (ending at @p): lines of
 * base64, RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") and blank lines up to
 * "-----END <label>PRIVATE KEY-----". A program that merely names the
 * marker in its strings has no such block after it. The start of the END
 * line, or NULL.
 */
static const unsigned char *pem_body_end(const unsigned char *p, const unsigned char *end,
					 const char *label, size_t label_len)
{
	const unsigned char *limit = end - p > PEM_BLOCK_MAX ? p + PEM_BLOCK_MAX : end;
	size_t n_base64 = 0;

	if (p >= limit || (*p != '\n' && *p != '\r'))
		return NULL;
	p = next_line(p, limit);
	while (p < limit) {
		const unsigned char *eol = next_line(p, limit), *q = p;
		size_t n = 0;

		if ((size_t)(limit - p) >= strlen("-----END ") && memcmp(p, "-----END ", 9) == 0) {
			q = p + 9;
			if (n_base64 >= 4 && (size_t)(limit - q) >= label_len + strlen(PEM_TAIL) &&
			    memcmp(q, label, label_len) == 0 &&
			    memcmp(q + label_len, PEM_TAIL, strlen(PEM_TAIL)) == 0)
				return p;
			return NULL;
		}
		if (memchr(p, ':', eol - p)) {
			/* a header line; its value may continue on indented lines */
		} else {
			for (; q < eol && *q != '\n' && *q != '\r'; q++) {
				if (!is_base64(*q))
					return NULL;
				n++;
			}
			n_base64 += n;
		}
		p = eol;
	}
	return NULL;
}

static bool is_label_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ';
}

/* The label of the "-----BEGIN <label>PRIVATE KEY-----" line @hit ends, or NULL. */
static const unsigned char *find_begin(const unsigned char *data, const unsigned char *hit)
{
	const size_t n = strlen(PEM_BEGIN);

	for (const unsigned char *label = hit;; label--) {
		if ((size_t)(label - data) >= n && memcmp(label - n, PEM_BEGIN, n) == 0)
			return label;
		if (label == data || hit - label >= PEM_LABEL_MAX || !is_label_char(label[-1]))
			return NULL;
	}
}

static const char *find_pem_key(const unsigned char *data, size_t len)
{
	const unsigned char *end = data + len, *p = data;

	while (p < end) {
		const unsigned char *hit = memmem(p, end - p, PEM_TAIL, strlen(PEM_TAIL));
		const unsigned char *label, *body_end;

		if (!hit)
			return NULL;
		p = hit + strlen(PEM_TAIL);

		label = find_begin(data, hit);
		if (!label)
			continue;

		body_end = pem_body_end(p, end, (const char *)label, hit - label);
		if (!body_end || is_published_pem(p, body_end))
			continue;
		for (size_t i = 0; i < ELEMENTSOF(pem_kinds); i++)
			if (strlen(pem_kinds[i].label) == (size_t)(hit - label) &&
			    memcmp(pem_kinds[i].label, label, hit - label) == 0)
				return pem_kinds[i].what;
		return "a PEM private key";
	}
	return NULL;
}

/* An EncryptedPrivateKeyInfo: encrypted with a password-based scheme. */
static bool is_encrypted_pkcs8(const unsigned char *data, size_t len)
{
	const unsigned char *p = data;
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *oid = NULL;
	X509_SIG *sig;
	bool found = false;

	sig = d2i_X509_SIG(NULL, &p, (long)len);
	if (!sig)
		return false;
	/* the whole file, so that a longer structure that starts alike does not count */
	if ((size_t)(p - data) == len) {
		X509_SIG_get0(sig, &alg, NULL);
		X509_ALGOR_get0(&oid, NULL, NULL, alg);
		switch (OBJ_obj2nid(oid)) {
		case NID_pbes2:
		case NID_pbeWithMD2AndDES_CBC:
		case NID_pbeWithMD5AndDES_CBC:
		case NID_pbeWithSHA1AndDES_CBC:
		case NID_pbe_WithSHA1And128BitRC4:
		case NID_pbe_WithSHA1And40BitRC4:
		case NID_pbe_WithSHA1And3_Key_TripleDES_CBC:
		case NID_pbe_WithSHA1And2_Key_TripleDES_CBC:
		case NID_pbe_WithSHA1And128BitRC2_CBC:
		case NID_pbe_WithSHA1And40BitRC2_CBC:
			found = true;
			break;
		default:
			break;
		}
	}
	X509_SIG_free(sig);
	return found;
}

static const char *find_der_key(const unsigned char *data, size_t len)
{
	const unsigned char *p = data;
	const char *what = NULL;
	EVP_PKEY *pkey;

	/* an ASN.1 SEQUENCE; a key file is small */
	if (len < 2 || len >= DER_MAX || data[0] != 0x30)
		return NULL;

	pkey = d2i_AutoPrivateKey(NULL, &p, (long)len);
	if (pkey && is_published_der(data, len)) {
		EVP_PKEY_free(pkey);
	} else if (pkey) {
		what = "a DER private key";
		EVP_PKEY_free(pkey);
	} else if (is_encrypted_pkcs8(data, len)) {
		what = "an encrypted DER private key (PKCS#8)";
	}
	/* failed attempts leave errors behind that are nobody's business */
	ERR_clear_error();
	return what;
}

int kiln_ext_find_private_key(const char *name, const void *data, size_t len, const char **ret_what)
{
	const char *base = name ? strrchr(name, '/') : NULL;
	const char *what;

	base = base ? base + 1 : name;
	if (base && streq(base, "signing_key.pem"))
		what = "the kernel build's module signing key (signing_key.pem)";
	else if (!data || len == 0)
		return 0;
	else if (!(what = find_pem_key(data, len)) && !(what = find_der_key(data, len)))
		return 0;

	if (ret_what)
		*ret_what = what;
	return 1;
}

/* Fill @len bytes of @buf from @in: the count, short only at the end of @in, or -errno. */
static ssize_t read_full(kiln_read_fn in, void *userdata, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = in(userdata, buf + got, len - got);

		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int ext_read_private_key(const char *name, uint64_t size, kiln_read_fn in, void *userdata,
			 struct ext_key_buffer *b, const char **ret_what)
{
	size_t len = size < WINDOW ? (size_t)size : WINDOW;
	uint64_t left;
	ssize_t n;

	/* the name alone may tell, and then the data need not be read */
	if (kiln_ext_find_private_key(name, NULL, 0, ret_what) > 0)
		return 1;
	if (size == 0)
		return 0;
	if (b->size < len) {
		void *p = realloc(b->data, len);

		if (!p)
			return -ENOMEM;
		b->data = p;
		b->size = len;
	}
	n = read_full(in, userdata, b->data, len);
	if (n < 0)
		return (int)n;
	/* a short entry is the tar reader's to report */
	left = size - (uint64_t)n;
	len = (size_t)n;
	for (;;) {
		size_t step;

		if (kiln_ext_find_private_key(NULL, b->data, len, ret_what) > 0)
			return 1;
		if (left == 0 || len < WINDOW)
			return 0;
		memmove(b->data, b->data + len - WINDOW_OVERLAP, WINDOW_OVERLAP);
		step = left < WINDOW - WINDOW_OVERLAP ? (size_t)left : WINDOW - WINDOW_OVERLAP;
		n = read_full(in, userdata, b->data + WINDOW_OVERLAP, step);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		left -= (uint64_t)n;
		len = WINDOW_OVERLAP + (size_t)n;
	}
}
