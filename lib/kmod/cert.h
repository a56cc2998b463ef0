/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * OpenSSL pieces shared by signing and verifying (internal to lib/kmod):
 * certificates read by sign-file's rule (OpenSSL's reason in errors: openssl-util.h).
 */

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <kiln/kiln.h>

#include "macro.h"
#include "openssl-util.h"

/*
 * Read the certificates of @path. As sign-file decides: DER when the file
 * starts with 30 81..84 (a SEQUENCE with a long length), else PEM. With
 * @all, every PEM certificate in the file; else only the first. The file
 * may hold other PEM blocks (a private key): they are skipped.
 */
int kiln_x509_read(struct kiln_ctx *ctx, const char *path, bool all, STACK_OF(X509) **ret);

/* The subject's CN, or the whole one-line subject when it has no CN; NULL on -ENOMEM. */
char *kiln_x509_subject_name(X509 *x);

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
