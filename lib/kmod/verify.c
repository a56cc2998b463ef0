/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verifying a module's signature as the kernel does (kernel/module/signing.c,
 * crypto/asymmetric_keys/pkcs7_*.c), in the kernel's order, so that the
 * verdict is the one the module loader would reach:
 *
 *   trailer (mod_check_sig)             EBADMSG          corrupt
 *   ASN.1 parse, at most 64 KiB          EMSGSIZE/EBADMSG corrupt
 *   signedData, versions                 EINVAL/EBADMSG   corrupt
 *   digest and key algorithms            ENOPKG           corrupt (unsupported)
 *   detached content                     EINVAL           corrupt
 *   id-data, no signed attributes        EKEYREJECTED     corrupt
 *   a trusted key names the signer       ENOKEY           signed by another key
 *   the signature over the body holds    EKEYREJECTED     corrupt (bad signature)
 *
 * OpenSSL parses the CMS; the few facts it does not expose (the version
 * numbers and the form of the signer identifier) are read from its DER.
 */
#include <fcntl.h>
#include <limits.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <string.h>

#include <kiln/module.h>

#include "cert.h"
#include "log.h"
#include "module-file.h"
#include "strbuf.h"

/* The kernel's ASN.1 decoder refuses anything longer (asn1_ber_decoder()). */
#define KERNEL_ASN1_MAX 65535

/*
 * A trusted certificate, with what verifying needs of its key worked out
 * once: OpenSSL's answers (EVP_PKEY_is_a()) allocate, and one that fails
 * says "no" rather than "out of memory".
 */
struct trusted {
	X509 *cert;
	EVP_PKEY *key; /* the certificate's; NULL when OpenSSL cannot read it */
	const char *key_type; /* OpenSSL's name for it ("RSA", "EC"), or "unknown" */
	bool rsa, ec;
};

struct kiln_verifier {
	struct trusted *certs;
	size_t n, alloc;
};

int kiln_verifier_new(struct kiln_ctx *ctx, struct kiln_verifier **ret)
{
	struct kiln_verifier *v = calloc(1, sizeof(*v));

	if (!v)
		return kiln_error(ctx, ENOMEM, "out of memory");
	*ret = v;
	return 0;
}

void kiln_verifier_free(struct kiln_verifier *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		X509_free(v->certs[i].cert);
	free(v->certs);
	free(v);
}

/* Trust @x (prepared: kiln_x509_prepare()), taking it over, even on failure. */
static int add_trusted(struct kiln_ctx *ctx, struct kiln_verifier *v, X509 *x)
{
	struct trusted *t;

	if (GROW(v->certs, v->alloc, v->n + 1) < 0) {
		X509_free(x);
		return kiln_error(ctx, ENOMEM, "out of memory");
	}
	t = &v->certs[v->n++];
	*t = (struct trusted){ .cert = x, .key = X509_get0_pubkey(x), .key_type = "unknown" };
	if (t->key) {
		const char *type = EVP_PKEY_get0_type_name(t->key);

		t->key_type = type ? type : "unknown";
		t->rsa = streq(type, "RSA");
		t->ec = streq(type, "EC");
	}
	ERR_clear_error();
	return 0;
}

int kiln_verifier_add_cert_file(struct kiln_ctx *ctx, struct kiln_verifier *v, const char *path)
{
	_cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
	X509 *x;
	int r;

	r = kiln_x509_read(ctx, path, true, &certs);
	if (r < 0)
		return r;
	while ((x = sk_X509_shift(certs))) {
		r = add_trusted(ctx, v, x);
		if (r < 0)
			return r;
	}
	return 0;
}

int kiln_verifier_add_cert_der(struct kiln_ctx *ctx, struct kiln_verifier *v, const char *name,
			       const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;
	int r;

	ERR_clear_error();
	if (len > LONG_MAX || !(x = d2i_X509(NULL, &p, (long)len)))
		return kiln_ssl_error(ctx, EBADMSG, "cannot parse %s as DER X.509", name);
	/* what OpenSSL caches, filled now: verifying threads share the certificate */
	r = kiln_x509_prepare(ctx, x, name);
	if (r < 0) {
		X509_free(x);
		return r;
	}
	return add_trusted(ctx, v, x);
}

const char *kiln_verify_verdict_name(enum kiln_verify_verdict v)
{
	switch (v) {
	case KILN_VERIFY_OK:
		return "ok";
	case KILN_VERIFY_UNSIGNED:
		return "unsigned";
	case KILN_VERIFY_OTHER_KEY:
		return "other-key";
	default:
		return "corrupt";
	}
}

const char *kiln_verify_problem_name(enum kiln_verify_problem p)
{
	switch (p) {
	case KILN_VERIFY_PROBLEM_TRAILER:
		return "bad-trailer";
	case KILN_VERIFY_PROBLEM_DER:
		return "bad-der";
	case KILN_VERIFY_PROBLEM_FORMAT:
		return "bad-format";
	case KILN_VERIFY_PROBLEM_SIGNED_ATTRS:
		return "signed-attributes";
	case KILN_VERIFY_PROBLEM_UNSUPPORTED:
		return "unsupported-algorithm";
	case KILN_VERIFY_PROBLEM_BAD_SIGNATURE:
		return "bad-signature";
	default:
		return NULL;
	}
}

void kiln_verify_result_release(struct kiln_verify_result *r)
{
	free(r->reason);
	if (r->has_desc)
		kiln_modsig_desc_release(&r->desc);
	*r = (struct kiln_verify_result){ 0 };
}

/* Set the verdict with its reason; returns 0, or -ENOMEM. */
_printf_(5, 6) static int verdict(struct kiln_verify_result *res, enum kiln_verify_verdict v,
				  enum kiln_verify_problem p, int kernel_error, const char *fmt,
				  ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	free(res->reason);
	res->reason = strbuf_detach(&sb, NULL);
	if (!res->reason)
		return -ENOMEM;
	res->verdict = v;
	res->problem = p;
	res->kernel_error = kernel_error;
	return 0;
}

/* ---- the few DER facts OpenSSL keeps to itself --------------------------- */

struct der {
	const uint8_t *p;
	size_t len;
};

/* Take the next element off @in: its tag and contents. DER only: definite lengths. */
static bool der_next(struct der *in, uint8_t *ret_tag, struct der *ret_val)
{
	size_t hdr = 2, l;

	if (in->len < 2 || (in->p[0] & 0x1f) == 0x1f)
		return false;
	l = in->p[1];
	if (l & 0x80) {
		size_t n = l & 0x7f;

		if (n == 0 || n > sizeof(uint32_t) || n > in->len - 2)
			return false;
		l = 0;
		for (size_t i = 0; i < n; i++)
			l = l << 8 | in->p[2 + i];
		hdr += n;
	}
	if (l > in->len - hdr)
		return false;
	*ret_tag = in->p[0];
	*ret_val = (struct der){ in->p + hdr, l };
	in->p += hdr + l;
	in->len -= hdr + l;
	return true;
}

/* The next element, which must carry @tag. */
static bool der_expect(struct der *in, uint8_t tag, struct der *ret_val)
{
	uint8_t t;

	return der_next(in, &t, ret_val) && t == tag;
}

/* A small non-negative INTEGER (a version number). */
static bool der_small_int(struct der *in, long *ret)
{
	struct der v;
	long n = 0;

	if (!der_expect(in, 0x02, &v) || v.len == 0 || v.len > 3 || (v.p[0] & 0x80))
		return false;
	for (size_t i = 0; i < v.len; i++)
		n = n << 8 | v.p[i];
	*ret = n;
	return true;
}

/*
 * The kernel's pkcs7_note_signeddata_version() and
 * pkcs7_note_signerinfo_version(): SignedData v1 with v1 SignerInfos named
 * by issuer and serial (PKCS#7), or v3 with v3 SignerInfos named by
 * subjectKeyIdentifier (CMS). Returns 0 with the verdict left alone, 1
 * after setting a verdict, or -ENOMEM.
 */
static int check_versions(struct kiln_ctx *ctx, CMS_ContentInfo *cms,
			  struct kiln_verify_result *res)
{
	unsigned char *buf = NULL;
	struct der in, ci, sd, sis, si, skip;
	long sd_version, si_version;
	uint8_t tag;
	int len, r = 0;

	/* OpenSSL's re-encoding is DER even where the signer wrote BER */
	len = i2d_CMS_ContentInfo(cms, &buf);
	if (len <= 0)
		/* what OpenSSL parsed, it can write: nothing but memory can fail here */
		return kiln_ssl_oom(ctx, "cannot encode the parsed signature again");
	in = (struct der){ buf, (size_t)len };
	if (!der_expect(&in, 0x30, &ci) || !der_expect(&ci, 0x06, &skip) ||
	    !der_expect(&ci, 0xa0, &skip) || !der_expect(&skip, 0x30, &sd) ||
	    !der_small_int(&sd, &sd_version)) {
		r = verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_DER, -EBADMSG,
			    "the signature's SignedData cannot be read") ?: 1;
		goto out;
	}
	if (sd_version != 1 && sd_version != 3) {
		r = verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_FORMAT, -EINVAL,
			    "SignedData version %ld: the kernel takes 1 (PKCS#7) or 3 (CMS)",
			    sd_version) ?: 1;
		goto out;
	}
	/* digestAlgorithms, encapContentInfo, then [0] certificates and [1] crls if present */
	if (!der_expect(&sd, 0x31, &skip) || !der_expect(&sd, 0x30, &skip))
		goto bad;
	do {
		if (!der_next(&sd, &tag, &sis))
			goto bad;
	} while (tag == 0xa0 || tag == 0xa1);
	if (tag != 0x31)
		goto bad;

	while (sis.len) {
		bool by_skid;

		if (!der_expect(&sis, 0x30, &si) || !der_small_int(&si, &si_version) ||
		    !der_next(&si, &tag, &skip))
			goto bad;
		/* SignerIdentifier: issuerAndSerialNumber SEQUENCE, or [0] IMPLICIT OCTET STRING */
		by_skid = tag == 0x80;
		if (si_version == 1 && sd_version == 1 && !by_skid)
			continue;
		if (si_version == 3 && sd_version == 3 && by_skid)
			continue;
		if (si_version != 1 && si_version != 3)
			r = verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_FORMAT, -EINVAL,
				    "SignerInfo version %ld: the kernel takes 1 or 3",
				    si_version) ?: 1;
		else
			r = verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_FORMAT, -EBADMSG,
				    "SignerInfo version %ld in SignedData version %ld, naming its "
				    "signer by %s: the kernel wants v1/v1 by issuer and serial or "
				    "v3/v3 by subjectKeyIdentifier",
				    si_version, sd_version,
				    by_skid ? "subjectKeyIdentifier" : "issuer and serial") ?: 1;
		goto out;
	}
	goto out;
bad:
	r = verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_DER, -EBADMSG,
		    "the signature's SignedData cannot be read") ?: 1;
out:
	OPENSSL_free(buf);
	return r;
}

/* ---- the checks, in the kernel's order ---------------------------------- */

static bool nid_in(int nid, const int *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == nid)
			return true;
	return false;
}

/* An algorithm's name, or its OID; -ENOMEM when OpenSSL runs out of memory writing one. */
static int oid_text(const ASN1_OBJECT *obj, char *buf, int size)
{
	if (!obj) {
		snprintf(buf, (size_t)size, "(none)");
		return 0;
	}
	/* a parsed OID always has a text, unless memory runs out (BIGNUM arcs) */
	if (OBJ_obj2txt(buf, size, obj, 0) <= 0) {
		ERR_clear_error();
		return -ENOMEM;
	}
	return 0;
}

/*
 * pkcs7_sig_note_digest_algo() and pkcs7_sig_note_pkey_algo(): anything
 * else is ENOPKG. RSA is PKCS#1 v1.5 only (rsaEncryption): no PSS.
 */
static int check_algorithms(CMS_SignerInfo *si, struct kiln_verify_result *res)
{
	static const int digests[] = {
		NID_sha1,     NID_sha224,   NID_sha256,	  NID_sha384,
		NID_sha512,   NID_sha3_256, NID_sha3_384, NID_sha3_512,
	};
	static const int keys[] = {
		NID_rsaEncryption,	  NID_ecdsa_with_SHA1,	   NID_ecdsa_with_SHA224,
		NID_ecdsa_with_SHA256,	  NID_ecdsa_with_SHA384,   NID_ecdsa_with_SHA512,
		NID_ecdsa_with_SHA3_256, NID_ecdsa_with_SHA3_384, NID_ecdsa_with_SHA3_512,
	};
	X509_ALGOR *dig = NULL, *sig = NULL;
	const ASN1_OBJECT *obj = NULL;
	char name[128];
	int r;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	if (dig)
		X509_ALGOR_get0(&obj, NULL, NULL, dig);
	if (!obj || !nid_in(OBJ_obj2nid(obj), digests, ELEMENTSOF(digests))) {
		r = oid_text(obj, name, sizeof(name));
		if (r < 0)
			return r;
		r = verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_UNSUPPORTED, -ENOPKG,
			    "digest algorithm %s is not one the kernel takes", name);
		return r < 0 ? r : 1;
	}
	obj = NULL;
	if (sig)
		X509_ALGOR_get0(&obj, NULL, NULL, sig);
	if (!obj || !nid_in(OBJ_obj2nid(obj), keys, ELEMENTSOF(keys))) {
		r = oid_text(obj, name, sizeof(name));
		if (r < 0)
			return r;
		r = verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_UNSUPPORTED, -ENOPKG,
			    "signature algorithm %s is not one the kernel takes (RSA PKCS#1 v1.5 "
			    "or ECDSA)",
			    name);
		return r < 0 ? r : 1;
	}
	return 0;
}

static void cmsp(CMS_ContentInfo **c)
{
	CMS_ContentInfo_free(*c);
}

/* "signer \"X\", serial 1A:2B:..." for messages, from the signature's description. */
static void add_signer(struct strbuf *sb, const struct kiln_verify_result *res)
{
	if (!res->has_desc) {
		strbuf_adds(sb, "signer unknown");
		return;
	}
	strbuf_addf(sb, "signer \"%s\", %s %s", res->desc.signer ? res->desc.signer : "(no CN)",
		    res->desc.by_skid ? "key id" : "serial",
		    res->desc.sig_key ? res->desc.sig_key : "(none)");
}

static void pkey_ctxp(EVP_PKEY_CTX **c)
{
	EVP_PKEY_CTX_free(*c);
}

/*
 * The cryptographic check, as the kernel's public_key_verify_signature()
 * makes it: digest the body with the SignerInfo's digest algorithm (the
 * SignedData's own digestAlgorithms list plays no part, as in the kernel),
 * then check the signature value over that digest with the certificate's
 * key: PKCS#1 v1.5 with the DigestInfo for RSA, plain ECDSA. The digest
 * and key algorithms were checked to be ones the kernel and OpenSSL know,
 * and the key was read with the certificate: a failure on the way is
 * memory running out, never a verdict; only the signature itself may not
 * hold.
 */
static int verify_digest(struct kiln_ctx *ctx, CMS_SignerInfo *si, const struct trusted *t,
			 const uint8_t *body, size_t body_len, struct kiln_verify_result *res)
{
	_cleanup_(pkey_ctxp) EVP_PKEY_CTX *pctx = NULL;
	X509_ALGOR *dig = NULL, *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	ASN1_OCTET_STRING *value;
	unsigned char md_value[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	const EVP_MD *md;
	bool rsa_sig;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &alg);
	X509_ALGOR_get0(&obj, NULL, NULL, dig);
	ERR_clear_error();
	md = EVP_get_digestbyobj(obj);
	if (!md) {
		if (kiln_ssl_clear_error())
			return kiln_error(ctx, ENOMEM, "cannot look up the digest: out of memory");
		return verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_UNSUPPORTED, -ENOPKG,
			       "OpenSSL has no implementation of the signature's digest algorithm");
	}
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	rsa_sig = OBJ_obj2nid(obj) == NID_rsaEncryption;
	if (rsa_sig != t->rsa || (!t->rsa && !t->ec))
		return verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_BAD_SIGNATURE,
			       -EKEYREJECTED,
			       "bad signature: made with %s key, but the certificate's key is %s",
			       rsa_sig ? "an RSA" : "an ECDSA", t->key_type);

	if (EVP_Digest(body, body_len, md_value, &md_len, md, NULL) != 1)
		return kiln_ssl_oom(ctx, "cannot digest the module");
	value = CMS_SignerInfo_get0_signature(si);
	pctx = EVP_PKEY_CTX_new(t->key, NULL);
	if (!value || !pctx || EVP_PKEY_verify_init(pctx) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, md) <= 0 ||
	    (t->rsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0))
		return kiln_ssl_oom(ctx, "cannot set up the signature check");
	if (EVP_PKEY_verify(pctx, value->data, (size_t)value->length, md_value, md_len) != 1) {
		/* the one step that may say no: unless it ran out of memory, the answer is "no" */
		if (kiln_ssl_clear_error())
			return kiln_error(ctx, ENOMEM, "cannot check the signature: out of memory");
		return verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_BAD_SIGNATURE,
			       -EKEYREJECTED,
			       "bad signature: the module's contents are not what was signed");
	}
	res->verdict = KILN_VERIFY_OK;
	res->problem = KILN_VERIFY_PROBLEM_NONE;
	res->kernel_error = 0;
	return 0;
}

static int check_signature(struct kiln_ctx *ctx, const struct kiln_verifier *v,
			   const uint8_t *data, const struct kiln_modsig *sig,
			   struct kiln_verify_result *res)
{
	_cleanup_(cmsp) CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) *sis;
	CMS_SignerInfo *si;
	const struct trusted *t = NULL;
	ASN1_OCTET_STRING **content;
	const char *why = NULL;
	int n, r;

	if (sig->p7_len > KERNEL_ASN1_MAX)
		return verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_DER, -EMSGSIZE,
			       "the signature is %zu bytes; the kernel's ASN.1 decoder takes "
			       "at most %d",
			       sig->p7_len, KERNEL_ASN1_MAX);
	/* trailing bytes after the ContentInfo are ignored, as the kernel's decoder does */
	r = kmod_modsig_parse(ctx, sig, &cms, &why);
	if (r == -EBADMSG)
		return verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_DER, -EBADMSG,
			       "the signature is not valid DER PKCS#7%s%s", why ? ": " : "",
			       strempty(why));
	if (r < 0)
		return r;
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
		return verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_FORMAT, -EINVAL,
			       "the signature is PKCS#7 of another type than signedData");

	/* who signed it, for every verdict from here on; a signature that names nobody is told */
	r = kmod_modsig_describe_cms(ctx, cms, &res->desc);
	if (r == -ENOMEM)
		return r;
	res->has_desc = r >= 0;
	if (r < 0)
		kiln_ctx_clear_error(ctx);

	r = check_versions(ctx, cms, res);
	if (r != 0)
		return r < 0 ? r : 0;
	sis = CMS_get0_SignerInfos(cms);
	n = sis ? sk_CMS_SignerInfo_num(sis) : 0;
	for (int i = 0; i < n; i++) {
		r = check_algorithms(sk_CMS_SignerInfo_value(sis, i), res);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	/*
	 * The kernel takes the first trusted signer of several; sign-file writes
	 * exactly one, and kiln holds modules to that.
	 */
	if (n != 1)
		return verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_FORMAT,
			       n == 0 ? -ENOKEY : -EBADMSG,
			       "the signature has %d SignerInfos; a module's has exactly one", n);
	si = sk_CMS_SignerInfo_value(sis, 0);

	content = CMS_get0_content(cms);
	if (content && *content)
		return verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_FORMAT, -EINVAL,
			       "the signature embeds its content; a module's is detached");
	if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)
		return verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_FORMAT, -EKEYREJECTED,
			       "the signed content type is not id-data");
	/* an empty SET still counts: the kernel only asks whether the field is there */
	if (CMS_signed_get_attr_count(si) >= 0)
		return verdict(res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_SIGNED_ATTRS,
			       -EKEYREJECTED,
			       "the signature has signed attributes, which the kernel refuses for "
			       "modules (sign it without them, as sign-file does)");

	for (size_t i = 0; i < v->n && !t; i++)
		if (CMS_SignerInfo_cert_cmp(si, v->certs[i].cert) == 0)
			t = &v->certs[i];
	if (!t) {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

		add_signer(&sb, res);
		if (strbuf_error(&sb) < 0)
			return -ENOMEM;
		return verdict(res, KILN_VERIFY_OTHER_KEY, KILN_VERIFY_PROBLEM_NONE, -ENOKEY,
			       "signed by another key (%s)", strbuf_str(&sb));
	}

	return verify_digest(ctx, si, t, data, sig->body_len, res);
}

int kiln_verify_mem(struct kiln_ctx *ctx, const struct kiln_verifier *v, const uint8_t *data,
		    size_t len, struct kiln_verify_result *ret)
{
	struct kiln_verify_result res = { 0 };
	struct kiln_modsig sig;
	int r;

	r = kiln_modsig_split(ctx, data, len, &sig);
	if (r == -ENODATA)
		r = verdict(&res, KILN_VERIFY_UNSIGNED, KILN_VERIFY_PROBLEM_NONE, -ENODATA,
			    "no signature");
	else if (r == -EBADMSG) {
		/* the trailer's fault is a verdict, not an error of this call */
		r = verdict(&res, KILN_VERIFY_CORRUPT, KILN_VERIFY_PROBLEM_TRAILER, -EBADMSG, "%s",
			    strempty(kiln_ctx_error(ctx)));
		kiln_ctx_clear_error(ctx);
	} else if (r >= 0)
		r = check_signature(ctx, v, data, &sig, &res);
	if (r < 0) {
		kiln_verify_result_release(&res);
		/* a reason or a verdict that could not be written down */
		if (r == -ENOMEM && !kiln_ctx_error_for(ctx, r))
			kiln_error(ctx, ENOMEM, "out of memory");
		return r;
	}
	*ret = res;
	return 0;
}

int kiln_verify_file(struct kiln_ctx *ctx, const struct kiln_verifier *v, const char *path,
		     struct kiln_verify_result *ret)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ uint8_t *plain = NULL;
	enum kiln_compression c;
	size_t len, plain_len;
	int r;

	r = kmod_read_file(ctx, path, &data, &len);
	if (r < 0)
		return r;
	c = kiln_compression_detect((const uint8_t *)data, len);
	if (c == KILN_COMPRESSION_NONE)
		return kiln_verify_mem(ctx, v, (const uint8_t *)data, len, ret);
	r = kiln_decompress(ctx, c, (const uint8_t *)data, len, KILN_MODULE_MAX_SIZE, &plain,
			    &plain_len);
	if (r < 0)
		return r;
	return kiln_verify_mem(ctx, v, plain, plain_len, ret);
}
