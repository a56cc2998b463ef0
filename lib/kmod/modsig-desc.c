/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a module signature says about its signer, in exactly the words of
 * kmod's modinfo (libkmod-signature.c and kmod_module_get_info()), so that
 * `kiln module info` can be compared with modinfo field for field:
 *
 *   signer        the issuer's commonName as its raw bytes up to any NUL;
 *                 kmod walks the issuer's entries and stops at the first CN,
 *                 so a name without a CN gives its last entry's value
 *   sig_key       the issuer serial number's magnitude (BN_bn2bin) in colon hex
 *                 (modinfo wraps it, as the signature, every 20 bytes)
 *   sig_hashalgo  OBJ_obj2txt() of the digest algorithm: "sha256"
 *   signature     the raw signature value (encryptedDigest)
 *
 * kmod 30 parses with d2i_PKCS7 and shows nothing for a SignerInfo that
 * names its key by subjectKeyIdentifier (sign-file -k). The CMS parser
 * takes both forms; for the SKID one, sig_key is the key identifier and
 * there is no signer.
 */
#include <limits.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <kiln/module.h>

#include "cert.h"
#include "hex.h"
#include "log.h"

static void cms_freep(CMS_ContentInfo **p)
{
	CMS_ContentInfo_free(*p);
}

static void bn_freep(BIGNUM **p)
{
	BN_free(*p);
}

/* "01:12:DE:AD"; modinfo breaks it into lines of 20 bytes, which is for the printer to do. */
static char *hex_colon(const uint8_t *p, size_t len)
{
	char *s = malloc(hex_encoded_size(len, ':'));

	if (s)
		hex_encode(s, p, len, ':', true);
	return s;
}

/* kmod's x509_name_to_str(): the first CN, else the last entry, else nothing. */
static int signer_name(const X509_NAME *issuer, char **ret)
{
	const X509_NAME_ENTRY *e = NULL;
	const ASN1_STRING *d;
	const char *s;
	int n = X509_NAME_entry_count(issuer);

	*ret = NULL;
	for (int i = 0; i < n; i++) {
		e = X509_NAME_get_entry(issuer, i);
		if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) == NID_commonName)
			break;
	}
	if (!e)
		return 0;
	d = X509_NAME_ENTRY_get_data(e);
	s = (const char *)ASN1_STRING_get0_data(d);
	/* kmod takes strlen() of the raw bytes: a BMPString stops at its first NUL */
	*ret = strndup(s, strnlen(s, (size_t)ASN1_STRING_length(d)));
	return *ret ? 0 : -ENOMEM;
}

static int serial_hex(const ASN1_INTEGER *serial, char **ret)
{
	_cleanup_(bn_freep) BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	_cleanup_free_ uint8_t *bytes = NULL;
	int n;

	if (!bn)
		return -ENOMEM;
	n = BN_num_bytes(bn);
	bytes = malloc(n > 0 ? (size_t)n : 1);
	if (!bytes)
		return -ENOMEM;
	BN_bn2bin(bn, bytes);
	*ret = hex_colon(bytes, (size_t)n);
	return *ret ? 0 : -ENOMEM;
}

static int digest_name(const X509_ALGOR *alg, char **ret)
{
	const ASN1_OBJECT *obj;
	int n;

	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	/* the numeric form for an OID OpenSSL has no name for, as kmod prints it */
	n = OBJ_obj2txt(NULL, 0, obj, 0);
	if (n < 0)
		return kiln_ssl_clear_error() ? -ENOMEM : -EBADMSG;
	*ret = malloc((size_t)n + 1);
	if (!*ret)
		return -ENOMEM;
	/* what gave n characters gives them again, unless memory ran out (a long arc) */
	if (OBJ_obj2txt(*ret, n + 1, obj, 0) != n) {
		free(TAKE_PTR(*ret));
		ERR_clear_error();
		return -ENOMEM;
	}
	return 0;
}

void kiln_modsig_desc_release(struct kiln_modsig_desc *d)
{
	free(d->signer);
	free(d->sig_key);
	free(d->hash_algo);
	free(d->signature);
	*d = (struct kiln_modsig_desc){ 0 };
}

int kmod_modsig_describe_cms(struct kiln_ctx *ctx, CMS_ContentInfo *cms,
			     struct kiln_modsig_desc *ret)
{
	_cleanup_(kiln_modsig_desc_release) struct kiln_modsig_desc d = { 0 };
	STACK_OF(CMS_SignerInfo) *signers;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING *keyid = NULL, *value;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *serial = NULL;
	X509_ALGOR *digest = NULL;
	int r;

	signers = CMS_get0_SignerInfos(cms);
	if (!signers || sk_CMS_SignerInfo_num(signers) < 1) {
		ERR_clear_error();
		return kiln_error(ctx, EBADMSG,
				  "signature PKCS#7 is not signed data with a signer");
	}
	/* kmod and the kernel look at the first signer only */
	si = sk_CMS_SignerInfo_value(signers, 0);
	if (CMS_SignerInfo_get0_signer_id(si, &keyid, &issuer, &serial) != 1 ||
	    (!keyid && (!issuer || !serial))) {
		ERR_clear_error();
		return kiln_error(ctx, EBADMSG, "signature PKCS#7 names no signer key");
	}
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &digest, NULL);
	value = CMS_SignerInfo_get0_signature(si);
	if (!digest || !value)
		return kiln_error(ctx, EBADMSG,
				  "signature PKCS#7 has no digest algorithm or value");

	if (keyid) {
		d.by_skid = true;
		d.sig_key = hex_colon(ASN1_STRING_get0_data(keyid),
				      (size_t)ASN1_STRING_length(keyid));
		r = d.sig_key ? 0 : -ENOMEM;
	} else {
		r = signer_name(issuer, &d.signer);
		if (r >= 0)
			r = serial_hex(serial, &d.sig_key);
	}
	if (r >= 0)
		r = digest_name(digest, &d.hash_algo);
	if (r < 0) {
		ERR_clear_error();
		if (r == -ENOMEM)
			return kiln_error(ctx, ENOMEM, "out of memory");
		return kiln_error(ctx, r, "signature PKCS#7 has an unreadable digest algorithm");
	}
	d.signature_len = (size_t)ASN1_STRING_length(value);
	d.signature = malloc(d.signature_len ? d.signature_len : 1);
	if (!d.signature)
		return kiln_error(ctx, ENOMEM, "out of memory");
	if (d.signature_len)
		memcpy(d.signature, ASN1_STRING_get0_data(value), d.signature_len);

	*ret = d;
	d = (struct kiln_modsig_desc){ 0 };
	return 0;
}

int kmod_modsig_parse(struct kiln_ctx *ctx, const struct kiln_modsig *sig, CMS_ContentInfo **ret,
		      const char **ret_why)
{
	const unsigned char *p = sig->p7;
	CMS_ContentInfo *cms;
	unsigned long e;

	ERR_clear_error();
	if (sig->p7_len <= LONG_MAX && (cms = d2i_CMS_ContentInfo(NULL, &p, (long)sig->p7_len))) {
		*ret = cms;
		return 0;
	}
	e = ERR_peek_last_error();
	*ret_why = e ? ERR_reason_error_string(e) : NULL;
	/* "nested asn1 error" over a failed allocation is no fault of the signature */
	if (kiln_ssl_clear_error())
		return kiln_error(ctx, ENOMEM, "cannot parse the signature: out of memory");
	return -EBADMSG;
}

int kiln_modsig_describe(struct kiln_ctx *ctx, const struct kiln_modsig *sig,
			 struct kiln_modsig_desc *ret)
{
	_cleanup_(cms_freep) CMS_ContentInfo *cms = NULL;
	const char *why = NULL;
	int r;

	r = kmod_modsig_parse(ctx, sig, &cms, &why);
	if (r == -EBADMSG)
		return kiln_error(ctx, EBADMSG, "signature is not PKCS#7 DER: %s",
				  why ? why : "no reason given");
	if (r < 0)
		return r;
	return kmod_modsig_describe_cms(ctx, cms, ret);
}
