/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The certificates a kernel has built in: certs/system_certificates.S puts
 * the module signing certificate and CONFIG_SYSTEM_TRUSTED_KEYS, DER one
 * after the other, at system_certificate_list, which the kernel loads into
 * .builtin_trusted_keys at boot. A stripped kernel has no symbol to find
 * the list by, so the payload is scanned for what a certificate starts
 * with, and OpenSSL decides: SEQUENCE with a two-byte length (30 82 LL LL)
 * holding a tbsCertificate SEQUENCE (30 82 ...) that ends inside it. Code
 * and data that happen to look like that fail to parse, or parse to fewer
 * bytes than the outer length claims, and are skipped.
 *
 * Names are made as the kernel's x509_fabricate_name() makes them, from the
 * raw bytes of the last CN, O and emailAddress of the subject, so that the
 * description matches "Loaded X.509 cert '...'" in the kernel's log.
 */
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#include <kiln/module.h>

#include "hex.h"
#include "log.h"
#include "strbuf.h"

/* A kernel with more is not one: Debian's has 1, a distribution's a handful. */
#define CERTS_MAX 1024

void kiln_kernel_certs_free(struct kiln_kernel_cert *certs, size_t n)
{
	for (size_t i = 0; certs && i < n; i++) {
		free(certs[i].der);
		free(certs[i].cn);
		free(certs[i].o);
		free(certs[i].skid);
		free(certs[i].description);
	}
	free(certs);
}

static void x509p(X509 **x)
{
	X509_free(*x);
}

/* The raw value of the subject's last @nid, as the kernel's parser keeps the last one. */
static const ASN1_STRING *name_part(X509 *x, int nid)
{
	X509_NAME *name = X509_get_subject_name(x);
	int i = -1, last = -1;

	while ((i = X509_NAME_get_index_by_NID(name, nid, i)) >= 0)
		last = i;
	return last < 0 ? NULL : X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
}

static int add_str(struct strbuf *sb, const ASN1_STRING *s)
{
	return strbuf_add(sb, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
}

static char *dup_str(const ASN1_STRING *s)
{
	return s ? strndup((const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s))
		 : NULL;
}

/* x509_fabricate_name(): "O: CN", unless the CN starts with the O (or its first 7 bytes). */
static int fabricate_name(X509 *x, struct strbuf *sb)
{
	const ASN1_STRING *cn = name_part(x, NID_commonName),
			  *o = name_part(x, NID_organizationName);
	const ASN1_STRING *email = name_part(x, NID_pkcs9_emailAddress);
	int r = 0;

	if (cn && o) {
		int cl = ASN1_STRING_length(cn), ol = ASN1_STRING_length(o);
		const unsigned char *c = ASN1_STRING_get0_data(cn), *org = ASN1_STRING_get0_data(o);

		if ((cl >= ol && memcmp(c, org, (size_t)ol) == 0) ||
		    (cl >= 7 && ol >= 7 && memcmp(c, org, 7) == 0))
			return add_str(sb, cn);
		r = add_str(sb, o);
		if (r >= 0)
			r = strbuf_adds(sb, ": ");
		return r < 0 ? r : add_str(sb, cn);
	}
	if (cn)
		return add_str(sb, cn);
	if (o)
		return add_str(sb, o);
	return email ? add_str(sb, email) : 0;
}

static int add_hex(struct strbuf *sb, const unsigned char *p, size_t len)
{
	int r = strbuf_reserve(sb, hex_encoded_size(len, 0));

	if (r < 0)
		return r;
	sb->len = (size_t)(hex_encode(sb->buf + sb->len, p, len, 0, false) - sb->buf);
	return 0;
}

/* The serial number's DER content octets, as the kernel keeps them (a leading 00 included). */
static int add_serial_hex(struct strbuf *sb, X509 *x)
{
	_cleanup_free_ unsigned char *der = NULL;
	unsigned char *p = NULL;
	int n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &p);
	size_t hdr;

	if (n < 2)
		return -ENOMEM;
	der = malloc((size_t)n);
	if (!der) {
		OPENSSL_free(p);
		return -ENOMEM;
	}
	memcpy(der, p, (size_t)n);
	OPENSSL_free(p);
	/* tag, then a short length or 0x8N and N length bytes */
	hdr = der[1] & 0x80 ? 2 + (der[1] & 0x7f) : 2;
	return hdr > (size_t)n ? -EBADMSG : add_hex(sb, der + hdr, (size_t)n - hdr);
}

static int describe(X509 *x, struct kiln_kernel_cert *c)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const ASN1_OCTET_STRING *skid;
	int r;

	/* the extension cache (SKID) is filled on first use */
	X509_check_purpose(x, -1, 0);
	skid = X509_get0_subject_key_id(x);
	c->cn = dup_str(name_part(x, NID_commonName));
	c->o = dup_str(name_part(x, NID_organizationName));
	if (skid) {
		_cleanup_strbuf_ struct strbuf hex = STRBUF_INIT;

		r = add_hex(&hex, ASN1_STRING_get0_data(skid), (size_t)ASN1_STRING_length(skid));
		if (r < 0)
			return r;
		c->skid = strbuf_detach(&hex, NULL);
		if (!c->skid)
			return -ENOMEM;
	}
	r = fabricate_name(x, &sb);
	if (r >= 0)
		r = strbuf_adds(&sb, ": ");
	if (r >= 0)
		r = c->skid ? strbuf_adds(&sb, c->skid) : add_serial_hex(&sb, x);
	if (r < 0)
		return r;
	c->description = strbuf_detach(&sb, NULL);
	return c->description ? 0 : -ENOMEM;
}

/* The certificate at @p (@left bytes to the end), its length in *@ret_len; NULL when none. */
static X509 *parse_at(const uint8_t *p, size_t left, size_t *ret_len)
{
	size_t len, inner;
	const unsigned char *q = p;
	X509 *x;

	if (left < 8 || p[4] != 0x30 || p[5] != 0x82)
		return NULL;
	len = 4 + ((size_t)p[2] << 8 | p[3]);
	inner = 4 + ((size_t)p[6] << 8 | p[7]);
	if (len > left || inner + 4 > len)
		return NULL;
	x = d2i_X509(NULL, &q, (long)len);
	/* a certificate is exactly its outer SEQUENCE */
	if (x && (size_t)(q - p) != len) {
		X509_free(x);
		x = NULL;
	}
	*ret_len = len;
	return x;
}

static int add_cert(X509 *x, const uint8_t *der, size_t len, size_t offset,
		    struct kiln_kernel_cert *c)
{
	*c = (struct kiln_kernel_cert){ .der = malloc(len), .der_len = len, .offset = offset };
	if (!c->der)
		return -ENOMEM;
	memcpy(c->der, der, len);
	return describe(x, c);
}

int kiln_kernel_image_certs(struct kiln_ctx *ctx, const struct kiln_kernel_image *img,
			    struct kiln_kernel_cert **ret, size_t *ret_n)
{
	struct kiln_kernel_cert *certs = NULL;
	const uint8_t *data, *p, *end;
	size_t len, n = 0, alloc = 0;
	int r = 0;

	data = kiln_kernel_image_payload(img, &len);
	end = data + len;
	for (p = data; r >= 0 && end - p >= 8;) {
		_cleanup_(x509p) X509 *x = NULL;
		size_t clen;

		p = memmem(p, (size_t)(end - p), "\x30\x82", 2);
		if (!p)
			break;
		x = parse_at(p, (size_t)(end - p), &clen);
		if (!x) {
			p++;
			continue;
		}
		if (n == CERTS_MAX) {
			r = kiln_error(ctx, EBADMSG, "more than %d certificates in the kernel",
				       CERTS_MAX);
			break;
		}
		r = GROW(certs, alloc, n + 1);
		if (r >= 0) {
			n++;
			r = add_cert(x, p, clen, (size_t)(p - data), &certs[n - 1]);
		}
		/* certificates do not overlap: go on after this one */
		p += clen;
	}
	/* the candidates that did not parse left their reasons */
	ERR_clear_error();
	if (r < 0) {
		kiln_kernel_certs_free(certs, n);
		return r;
	}
	*ret = certs;
	*ret_n = n;
	return 0;
}
