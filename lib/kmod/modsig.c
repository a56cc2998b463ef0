/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The trailer the kernel's sign-file appends to a module:
 *
 *	[module][PKCS#7 DER, sig_len bytes][struct module_signature][magic]
 *
 * Parsed here with the checks of the kernel's mod_check_sig(), so that what
 * kiln calls well-formed is what the kernel would go on to verify.
 */
#include <arpa/inet.h>
#include <string.h>

#include <kiln/module.h>

#include "log.h"

/* The on-disk struct module_signature (include/linux/module_signature.h). */
struct module_signature {
	uint8_t algo; /* zero for PKCS#7 */
	uint8_t hash; /* zero for PKCS#7 */
	uint8_t id_type; /* PKEY_ID_PKCS7 */
	uint8_t signer_len; /* zero for PKCS#7 */
	uint8_t key_id_len; /* zero for PKCS#7 */
	uint8_t pad[3];
	uint32_t sig_len; /* big endian */
};

_Static_assert(sizeof(struct module_signature) == KILN_MODSIG_INFO_LEN,
	       "struct module_signature is 12 bytes on disk");

int kiln_modsig_split(struct kiln_ctx *ctx, const uint8_t *data, size_t len,
		      struct kiln_modsig *ret)
{
	struct module_signature ms;
	size_t sig_len, rest;

	if (len < KILN_MODSIG_MAGIC_LEN ||
	    memcmp(data + len - KILN_MODSIG_MAGIC_LEN, KILN_MODSIG_MAGIC, KILN_MODSIG_MAGIC_LEN) != 0)
		return -ENODATA;
	rest = len - KILN_MODSIG_MAGIC_LEN;
	if (rest <= sizeof(ms))
		return kiln_error(ctx, EBADMSG, "signature trailer is truncated: %zu bytes before the magic",
				  rest);
	memcpy(&ms, data + rest - sizeof(ms), sizeof(ms));
	rest -= sizeof(ms);
	sig_len = ntohl(ms.sig_len);

	if (ms.id_type != KILN_PKEY_ID_PKCS7)
		return kiln_error(ctx, EBADMSG,
				  "signature trailer has id_type %u; the kernel only takes PKCS#7 (%u)",
				  ms.id_type, KILN_PKEY_ID_PKCS7);
	if (ms.algo || ms.hash || ms.signer_len || ms.key_id_len || ms.pad[0] || ms.pad[1] ||
	    ms.pad[2])
		return kiln_error(ctx, EBADMSG,
				  "signature trailer has non-zero fields the kernel refuses for PKCS#7");
	/* the kernel: sig_len >= modlen (what is left once the struct is gone) is EBADMSG */
	if (sig_len == 0 || sig_len >= rest)
		return kiln_error(ctx, EBADMSG,
				  "signature trailer says %zu bytes of signature, but only %zu bytes precede it",
				  sig_len, rest);

	*ret = (struct kiln_modsig){
		.body_len = rest - sig_len,
		.p7 = data + rest - sig_len,
		.p7_len = sig_len,
		.algo = ms.algo,
		.hash = ms.hash,
		.id_type = ms.id_type,
		.signer_len = ms.signer_len,
		.key_id_len = ms.key_id_len,
	};
	return 0;
}
