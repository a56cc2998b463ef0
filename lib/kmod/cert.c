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
		return -ENOMEM;

	head = (const unsigned char *)buf;
	if (head[0] == 0x30 && head[1] >= 0x81 && head[1] <= 0x84) {
		x = d2i_X509_bio(b, NULL);
		if (!x)
			return kiln_ssl_error(ctx, EBADMSG,
					      "certificate '%s' is not valid DER X.509", path);
		if (!sk_X509_push(certs, x)) {
			X509_free(x);
			return -ENOMEM;
		}
	} else {
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
			if (!sk_X509_push(certs, x)) {
				X509_free(x);
				return -ENOMEM;
			}
			if (!all)
				break;
		}
		/* the end of the file is reported as "no start line": not an error after one */
		if (sk_X509_num(certs) == 0)
			return kiln_ssl_error(ctx, EBADMSG,
					      "'%s' holds no certificate (neither DER nor PEM)",
					      path);
		ERR_clear_error();
	}
	/*
	 * Fill each certificate's extension cache (SKID, key usage) now: it is
	 * written on first use, and the certificates are then shared by threads.
	 */
	for (int i = 0; i < sk_X509_num(certs); i++)
		X509_check_purpose(sk_X509_value(certs, i), -1, 0);
	*ret = TAKE_PTR(certs);
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

		n = ASN1_STRING_to_UTF8(&utf8, cn);
		if (n >= 0) {
			s = strndup((char *)utf8, (size_t)n);
			OPENSSL_free(utf8);
			return s;
		}
	}
	s = X509_NAME_oneline(name, NULL, 0);
	if (s) {
		char *copy = strdup(s);

		OPENSSL_free(s);
		return copy;
	}
	return NULL;
}
