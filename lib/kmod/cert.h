/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * OpenSSL pieces shared by signing and verifying (internal to lib/kmod):
 * certificates read by sign-file's rule (OpenSSL's reason in errors: openssl-util.h).
 */

#include <openssl/cms.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <kiln/kiln.h>
#include <kiln/module.h>

#include "macro.h"
#include "openssl-util.h"

/*
 * Read the certificates of @path. As sign-file decides: DER when the file
 * starts with 30 81..84 (a SEQUENCE with a long length), else PEM. With
 * @all, every PEM certificate in the file; else only the first. The file
 * may hold other PEM blocks (a private key): they are skipped. Each is
 * kiln_x509_prepare()d.
 */
int kiln_x509_read(struct kiln_ctx *ctx, const char *path, bool all, STACK_OF(X509) **ret);

/*
 * Have OpenSSL decode what it caches of @x on first use (its extensions,
 * its public key), so that threads may then share it, and make sure none
 * of it was lost to an allocation that failed: OpenSSL keeps such a
 * failure as the certificate's, for good and without a word (a
 * subjectKeyIdentifier that "is not there", a key it "cannot decode").
 * -ENOMEM then, recorded; an extension or key that is malformed in @x
 * itself is left as OpenSSL has it. @name is the certificate's, for
 * messages.
 */
int kiln_x509_prepare(struct kiln_ctx *ctx, X509 *x, const char *name);

/* The subject's CN, or the whole one-line subject when it has no CN; NULL on -ENOMEM. */
char *kiln_x509_subject_name(X509 *x);

/*
 * Parse the PKCS#7 DER of @sig (bytes after it are ignored): 0 with *@ret;
 * -EBADMSG for DER that does not parse, with OpenSSL's reason in *@ret_why
 * (NULL when it gave none), for the caller to word; -ENOMEM, recorded, when
 * an allocation failed on the way ("nested asn1 error" is then no fault of
 * the signature).
 */
int kmod_modsig_parse(struct kiln_ctx *ctx, const struct kiln_modsig *sig, CMS_ContentInfo **ret,
		      const char **ret_why);

/*
 * kiln_modsig_describe() of a signature OpenSSL has parsed: -ENOMEM, or
 * -EBADMSG for one that names no signer, with the reason on @ctx.
 */
int kmod_modsig_describe_cms(struct kiln_ctx *ctx, CMS_ContentInfo *cms,
			     struct kiln_modsig_desc *ret);

/* Certificate files are small; a bundle of a few hundred fits easily. */
#define KILN_CERT_FILE_MAX ((size_t)16 << 20)

static inline void biop(BIO **b)
{
	BIO_free(*b);
}

static inline void x509_stack_freep(STACK_OF(X509) **s)
{
	if (*s)
		sk_X509_pop_free(*s, X509_free);
}
