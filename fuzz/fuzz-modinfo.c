/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the module reader: the input is a module file (ELF, or xz or zstd
 * data holding one, with or without a signature trailer). Whatever it is,
 * opening it either fails with a message or yields entries made of C
 * strings inside the module; a signature that splits is described too.
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
	_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
	const struct kiln_modversion *v;
	const struct kiln_modinfo *mi;
	const struct kiln_modsig *sig;
	struct kiln_modsig_desc d;
	const uint8_t *body;
	size_t n, len;

	if (kiln_ctx_new(&ctx) < 0)
		return 0;
	if (kiln_module_open_mem(ctx, "fuzz.ko", data, size, &m) < 0) {
		if (!kiln_ctx_error(ctx) || m)
			abort();
		return 0;
	}
	body = kiln_module_data(m, &len);
	mi = kiln_module_modinfo(m, &n);
	for (size_t i = 0; i < n; i++)
		/* every entry is a C string inside the module (strlen would trip ASan) */
		if (strlen(mi[i].key) + strlen(mi[i].value) >= len)
			abort();
	v = kiln_module_versions(m, &n);
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i].symbol) >= 64 || (const uint8_t *)v[i].symbol < body ||
		    (const uint8_t *)v[i].symbol >= body + len)
			abort();
	kiln_module_get(m, "vermagic");
	switch (kiln_module_signature(m, &sig)) {
	case 0:
		if (sig->body_len + sig->p7_len > len)
			abort();
		if (kiln_modsig_describe(ctx, sig, &d) == 0)
			kiln_modsig_desc_release(&d);
		break;
	case -EBADMSG:
		if (!kiln_module_signature_error(m))
			abort();
		break;
	}
	return 0;
}
