/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sha256 digests as OCI writes them, and an incremental sha256 or sha512
 * (step sources are checked with both) over OpenSSL's EVP, which picks the
 * SHA-NI/AVX2 code paths at run time: layers are gigabytes, and hashing is
 * the floor of a push or a pull. OpenSSL failing is an error like any
 * other, reported on the context.
 */
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <kiln/oci.h>

#include "hex.h"
#include "log.h"
#include "openssl-util.h"
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

struct kiln_hasher {
	enum kiln_hash hash;
	EVP_MD_CTX *md;
};

static const EVP_MD *hash_md(enum kiln_hash hash)
{
	return hash == KILN_HASH_SHA512 ? EVP_sha512() : EVP_sha256();
}

static const char *hash_name(enum kiln_hash hash)
{
	return hash == KILN_HASH_SHA512 ? "sha512" : "sha256";
}

/*
 * OpenSSL's @call failed for @hash. Its built-in digests have nothing to
 * fail on but memory, whatever reason it gives ("initialization error").
 */
static int hash_failed(struct kiln_ctx *ctx, enum kiln_hash hash, const char *call)
{
	kiln_ssl_clear_error();
	return kiln_error(ctx, ENOMEM, "%s: OpenSSL's %s failed: out of memory", hash_name(hash),
			  call);
}

int kiln_digest_of(struct kiln_ctx *ctx, const void *data, size_t len, struct kiln_digest *ret)
{
	unsigned char md[32];

	if (!EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL))
		return hash_failed(ctx, KILN_HASH_SHA256, "EVP_Digest");
	memcpy(ret->s, KILN_DIGEST_PREFIX, 7);
	hex_encode(ret->s + 7, md, sizeof(md), 0, false);
	return 0;
}

int kiln_digest_of_fd(struct kiln_ctx *ctx, int fd, struct kiln_digest *ret)
{
	_cleanup_(kiln_hasher_freep) struct kiln_hasher *h = NULL;
	_cleanup_free_ char *buf = malloc(HASH_BUFFER);
	off_t off = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	r = kiln_hasher_new(ctx, KILN_HASH_SHA256, &h);
	if (r < 0)
		return r;
	for (;;) {
		/* pread: the caller's file offset is left alone */
		ssize_t n = pread(fd, buf, HASH_BUFFER, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kiln_error(ctx, errno, "%m");
		if (n == 0)
			break;
		r = kiln_hasher_update(ctx, h, buf, (size_t)n);
		if (r < 0)
			return r;
		off += n;
	}
	return kiln_hasher_final(ctx, h, ret);
}

int kiln_hasher_new(struct kiln_ctx *ctx, enum kiln_hash hash, struct kiln_hasher **ret)
{
	_cleanup_(kiln_hasher_freep) struct kiln_hasher *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->hash = hash;
	h->md = EVP_MD_CTX_new();
	if (!h->md)
		return -ENOMEM;
	if (!EVP_DigestInit_ex(h->md, hash_md(hash), NULL))
		return hash_failed(ctx, hash, "EVP_DigestInit_ex");
	*ret = TAKE_PTR(h);
	return 0;
}

int kiln_hasher_update(struct kiln_ctx *ctx, struct kiln_hasher *h, const void *data, size_t len)
{
	if (!EVP_DigestUpdate(h->md, data, len))
		return hash_failed(ctx, h->hash, "EVP_DigestUpdate");
	return 0;
}

int kiln_hasher_final_hex(struct kiln_ctx *ctx, struct kiln_hasher *h,
			  char ret[static KILN_HASH_HEX_MAX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (!EVP_DigestFinal_ex(h->md, md, &len))
		return hash_failed(ctx, h->hash, "EVP_DigestFinal_ex");
	hex_encode(ret, md, len, 0, false);
	return 0;
}

int kiln_hasher_final(struct kiln_ctx *ctx, struct kiln_hasher *h, struct kiln_digest *ret)
{
	char hex[KILN_HASH_HEX_MAX + 1];
	int r;

	if (h->hash != KILN_HASH_SHA256)
		return kiln_error(ctx, EINVAL, "a %s hash is no OCI digest", hash_name(h->hash));
	r = kiln_hasher_final_hex(ctx, h, hex);
	if (r < 0)
		return r;
	memcpy(ret->s, KILN_DIGEST_PREFIX, 7);
	memcpy(ret->s + 7, hex, 65);
	return 0;
}

int kiln_hasher_reset(struct kiln_ctx *ctx, struct kiln_hasher *h)
{
	if (!EVP_DigestInit_ex(h->md, hash_md(h->hash), NULL))
		return hash_failed(ctx, h->hash, "EVP_DigestInit_ex");
	return 0;
}

void kiln_hasher_free(struct kiln_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->md);
	free(h);
}
