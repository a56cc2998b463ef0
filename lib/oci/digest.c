/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sha256 digests as OCI writes them, and an incremental hasher over
 * OpenSSL's EVP (which picks the SHA-NI/AVX2 code paths at run time: layers
 * are gigabytes, and hashing is the floor of a push or a pull).
 */
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <kiln/oci.h>

#include "hex.h"
#include "log.h"
#include "strbuf.h"

/* Files are hashed a MiB at a time. */
#define HASH_BUFFER (1u << 20)

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool kiln_digest_is_valid(const char *s)
{
	if (!s || strncmp(s, KILN_DIGEST_PREFIX, 7) != 0)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!is_lower_hex(s[7 + i]))
			return false;
	return s[71] == '\0';
}

int kiln_digest_parse(struct kiln_ctx *ctx, const char *s, struct kiln_digest *ret)
{
	_cleanup_free_ char *q = NULL;
	const char *colon, *hex;
	size_t n;

	if (!s)
		return kiln_error(ctx, EINVAL, "missing digest");
	if (kiln_digest_is_valid(s)) {
		memcpy(ret->s, s, 72);
		return 0;
	}
	q = quote_for_message(s, strlen(s), 100);
	if (!q)
		return -ENOMEM;
	colon = strchr(s, ':');
	if (!colon || colon == s)
		return kiln_error(ctx, EINVAL,
				  "invalid digest \"%s\": expected sha256:<64 hex digits>", q);
	/* the grammar of image-spec: algorithm [+._-] components, then encoded */
	for (const char *p = s; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("+._-", *p)))
			return kiln_error(ctx, EINVAL,
					  "invalid digest \"%s\": bad character in the algorithm",
					  q);
	if ((size_t)(colon - s) != 6 || strncmp(s, "sha256", 6) != 0)
		return kiln_error(ctx, EOPNOTSUPP,
				  "unsupported digest \"%s\": kiln supports sha256 only", q);
	hex = colon + 1;
	n = strlen(hex);
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(hex[i]))
			return kiln_error(ctx, EINVAL,
					  "invalid digest \"%s\": the hex part must be lowercase "
					  "hexadecimal",
					  q);
	return kiln_error(ctx, EINVAL, "invalid digest \"%s\": %zu hex digits, sha256 has 64", q,
			  n);
}

static void to_hex(const unsigned char *md, struct kiln_digest *ret)
{
	memcpy(ret->s, KILN_DIGEST_PREFIX, 7);
	hex_encode(ret->s + 7, md, 32, 0, false);
}

void kiln_digest_of(const void *data, size_t len, struct kiln_digest *ret)
{
	unsigned char md[32];

	/* EVP_Digest() fails only when OpenSSL cannot allocate, which sha256 never needs */
	if (!EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL))
		abort();
	to_hex(md, ret);
}

int kiln_digest_of_fd(int fd, struct kiln_digest *ret)
{
	_cleanup_(kiln_hasher_freep) struct kiln_hasher *h = NULL;
	_cleanup_free_ char *buf = malloc(HASH_BUFFER);
	off_t off = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	r = kiln_hasher_new(&h);
	if (r < 0)
		return r;
	for (;;) {
		/* pread: the caller's file offset is left alone */
		ssize_t n = pread(fd, buf, HASH_BUFFER, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		kiln_hasher_update(h, buf, (size_t)n);
		off += n;
	}
	kiln_hasher_final(h, ret);
	return 0;
}

struct kiln_hasher {
	EVP_MD_CTX *md;
};

int kiln_hasher_new(struct kiln_hasher **ret)
{
	struct kiln_hasher *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->md = EVP_MD_CTX_new();
	if (!h->md || !EVP_DigestInit_ex(h->md, EVP_sha256(), NULL)) {
		kiln_hasher_free(h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

void kiln_hasher_update(struct kiln_hasher *h, const void *data, size_t len)
{
	if (!EVP_DigestUpdate(h->md, data, len))
		abort();
}

void kiln_hasher_final(struct kiln_hasher *h, struct kiln_digest *ret)
{
	unsigned char md[32];

	if (!EVP_DigestFinal_ex(h->md, md, NULL))
		abort();
	to_hex(md, ret);
}

void kiln_hasher_reset(struct kiln_hasher *h)
{
	if (!EVP_DigestInit_ex(h->md, EVP_sha256(), NULL))
		abort();
}

void kiln_hasher_free(struct kiln_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->md);
	free(h);
}
