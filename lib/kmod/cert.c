/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "cert.h"
#include "fileio.h"
#include "log.h"

/* The file may be the signing key's PEM, holding the private key too (text: strlen covers it). */
static void cleanse_freep(char **buf)
{
	if (*buf)
		OPENSSL_cleanse(*buf, strlen(*buf));
	free(*buf);
}

static void x509_freep(X509 **x)
{
	X509_free(*x);
}

/* The end of a PEM file: OpenSSL's "no start line", and nothing else on its queue. */
static bool pem_at_end(void)
{
	unsigned long e = ERR_peek_last_error();

	return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

int kiln_x509_read(struct kiln_ctx *ctx, const char *path, bool all, STACK_OF(X509) **ret)
{
	_cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
	_cleanup_(biop) BIO *b = NULL;
	_cleanup_(cleanse_freep) char *buf = NULL;
	const unsigned char *head;
	size_t len;
	X509 *x;
	int r;

	r = read_file_at(AT_FDCWD, path, KILN_CERT_FILE_MAX, &buf, &len);
	if (r < 0)
		return kiln_error(ctx, r, "cannot read certificate '%s': %s", path, strerror(-r));
	if (len < 2)
		return kiln_error(ctx, EBADMSG, "certificate '%s' is empty or truncated", path);
	ERR_clear_error();
	b = BIO_new_mem_buf(buf, (int)len);
	certs = sk_X509_new_null();
	if (!b || !certs)
		return kiln_ssl_oom(ctx, "cannot read certificate '%s'", path);

	head = (const unsigned char *)buf;
	if (head[0] == 0x30 && head[1] >= 0x81 && head[1] <= 0x84) {
		x = d2i_X509_bio(b, NULL);
		if (!x)
			return kiln_ssl_error(ctx, EBADMSG,
					      "cannot parse certificate '%s' as DER X.509", path);
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			return kiln_ssl_oom(ctx, "cannot read certificate '%s'", path);
		}
	} else {
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
			if (!sk_X509_push(certs, x)) {
				X509_free(x);
				return kiln_ssl_oom(ctx, "cannot read certificate '%s'", path);
			}
			if (!all)
				break;
		}
		if (sk_X509_num(certs) == 0)
			return kiln_ssl_error(ctx, EBADMSG,
					      "cannot read a certificate from '%s' (neither DER nor "
					      "PEM)",
					      path);
		/* the end of the file is "no start line"; anything else cut the reading short */
		if (!x && !pem_at_end())
			return kiln_ssl_error(ctx, EBADMSG,
					      "cannot read PEM certificate %d of '%s'",
					      sk_X509_num(certs) + 1, path);
		ERR_clear_error();
	}
	for (int i = 0; i < sk_X509_num(certs); i++) {
		r = kiln_x509_prepare(ctx, sk_X509_value(certs, i), path);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(certs);
	return 0;
}

/*
 * What OpenSSL cached of @x and could have cut short: a flag for an
 * extension it could not decode, one for a SHA-1 fingerprint it could not
 * compute, and NO_KEY for a public key it could not decode.
 */
#define NO_KEY (UINT32_C(1) << 31)

static uint32_t cache_flaws(X509 *x)
{
	uint32_t flaws;

	X509_check_purpose(x, -1, 0);
	flaws = X509_get_extension_flags(x) & (EXFLAG_INVALID | EXFLAG_NO_FINGERPRINT);
	if (!X509_get0_pubkey(x))
		flaws |= NO_KEY;
	return flaws;
}

int kiln_x509_prepare(struct kiln_ctx *ctx, X509 *x, const char *name)
{
	_cleanup_(x509_freep) X509 *copy = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	uint32_t flaws;
	int len, r;

	ERR_clear_error();
	flaws = cache_flaws(x);
	if (!flaws)
		return 0;
	/* the same bytes parsed again: a flaw that comes and goes is memory that ran out */
	len = i2d_X509(x, &der);
	if (len <= 0)
		return kiln_ssl_oom(ctx, "cannot read certificate '%s'", name);
	p = der;
	copy = d2i_X509(NULL, &p, len);
	OPENSSL_free(der);
	if (!copy)
		return kiln_ssl_oom(ctx, "cannot read certificate '%s'", name);
	if (cache_flaws(copy) != flaws)
		return kiln_ssl_oom(ctx, "cannot read certificate '%s'", name);
	/* the same twice: the certificate is so, unless OpenSSL lost an algorithm for good */
	if (flaws & NO_KEY) {
		r = kiln_ssl_check_algorithms(ctx);
		if (r < 0)
			return r;
	}
	ERR_clear_error();
	return 0;
}

char *kiln_x509_subject_name(X509 *x)
{
	X509_NAME *name = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	char *s;
	int n;

	if (i >= 0) {
		const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));

		ERR_clear_error();
		n = ASN1_STRING_to_UTF8(&utf8, cn);
		if (n >= 0) {
			s = strndup((char *)utf8, (size_t)n);
			OPENSSL_free(utf8);
			return s;
		}
		/* a CN that does not convert gives the whole subject; memory that ran out, nothing */
		if (kiln_ssl_clear_error())
			return NULL;
	}
	s = X509_NAME_oneline(name, NULL, 0);
	if (s) {
		char *copy = strdup(s);

		OPENSSL_free(s);
		return copy;
	}
	return NULL;
}
