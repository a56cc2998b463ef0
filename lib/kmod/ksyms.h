/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The symbols a module takes from the kernel (its undefined symbols) and
 * those it gives (its exports, with their CRCs), read from its ELF symbol
 * table for the pre-flight check. Internal to lib/kmod.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/module.h>

struct kiln_ksym {
	const char *name; /* points into the module's data */
	uint32_t crc; /* exports: the CRC modversions recorded, when has_crc */
	bool has_crc;
	bool weak; /* imports: an unresolved weak symbol is allowed */
	bool gpl; /* exports: EXPORT_SYMBOL_GPL */
};

struct kiln_module_syms {
	struct kiln_ksym *imports;
	size_t n_imports;
	struct kiln_ksym *exports; /* sorted by name */
	size_t n_exports;
	/* a __versions section, even an empty one: what the kernel's loader tests */
	bool has_versions;
	uint16_t machine; /* e_machine */
};

/*
 * Read the symbol table of @m. A module without one is -ENOEXEC; a corrupt
 * one -EBADMSG, with the reason on @ctx. The names point into @m's data,
 * which must outlive @ret.
 */
int kiln_module_read_syms(struct kiln_ctx *ctx, const struct kiln_module *m,
			  struct kiln_module_syms *ret);
void kiln_module_syms_release(struct kiln_module_syms *s);

/* The export @name of @s, or NULL. */
const struct kiln_ksym *kiln_module_syms_export(const struct kiln_module_syms *s,
						const char *name);
