/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the signature trailer and the PKCS#7 inside it: the input is the
 * tail of a module. The trailer either splits into ranges inside the input
 * or is refused with a message; the DER either describes a signer or is
 * refused with a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/module.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	struct kiln_modsig_desc d;
	struct kiln_modsig sig;
	int r;

	if (kiln_ctx_new(&ctx) < 0)
		return 0;
	r = kiln_modsig_split(ctx, data, size, &sig);
	if (r == -ENODATA) {
		/* no magic: describe the whole input as if it were the DER */
		sig = (struct kiln_modsig){
			.p7 = data,
			.p7_len = size,
			.id_type = KILN_PKEY_ID_PKCS7,
		};
	} else if (r < 0) {
		if (!kiln_ctx_error(ctx))
			abort();
		return 0;
	} else if (sig.p7 < data || sig.body_len + sig.p7_len + KILN_MODSIG_INFO_LEN +
						   KILN_MODSIG_MAGIC_LEN != size) {
		abort();
	}
	r = kiln_modsig_describe(ctx, &sig, &d);
	if (r < 0) {
		if (!kiln_ctx_error(ctx))
			abort();
		return 0;
	}
	if (!d.sig_key || !d.hash_algo || (!d.signature && d.signature_len) ||
	    (d.by_skid && d.signer))
		abort();
	kiln_modsig_desc_release(&d);
	return 0;
}
