/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A bounds-checked reader for the ELF files kernel modules are: relocatable
 * objects, 32- or 64-bit, either byte order. It reads only what kiln needs,
 * the section header table and the sections' bytes, and never trusts an
 * offset or a size: kiln_elf_parse() checks the whole section header table
 * against the file once, so that every section it hands out lies inside the
 * buffer. Internal to lib/kmod.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/module.h>

struct kiln_elf {
	const uint8_t *data;
	size_t len; /* the ELF image: a module without its signature trailer */
	bool is_64;
	bool big_endian;
	uint16_t machine; /* e_machine, EM_X86_64 and so on */
	uint64_t shoff; /* the section header table: offset, entries, entry size */
	size_t shnum;
	size_t shentsize;
	const char *shstrtab; /* section names, NUL-terminated at shstrtab[shstrtab_len - 1] */
	size_t shstrtab_len;
};

struct kiln_elf_section {
	const char *name;
	uint32_t type; /* SHT_PROGBITS, ... */
	uint64_t flags;
	const uint8_t *data; /* NULL for SHT_NOBITS, which has no bytes in the file */
	size_t size;
};

/*
 * Check the ELF header and the section header table of @data (@len bytes,
 * the signature trailer already cut off: a section reaching into it would
 * be corrupt). Not ELF or not a relocatable object is -ENOEXEC, anything
 * truncated or inconsistent -EBADMSG, with the reason on @ctx. @ret points
 * into @data, which must outlive it.
 */
int kiln_elf_parse(struct kiln_ctx *ctx, const uint8_t *data, size_t len, struct kiln_elf *ret);

/* Section @i (0 < @i < shnum); everything in it was checked by kiln_elf_parse(). */
void kiln_elf_section_at(const struct kiln_elf *elf, size_t i, struct kiln_elf_section *ret);

/* The first section called @name, as the kernel and kmod take it; -ENOENT if none. */
int kiln_elf_find_section(const struct kiln_elf *elf, const char *name,
			  struct kiln_elf_section *ret);

/* Integers in the file's byte order; @p must have room for them. */
uint16_t kiln_elf_u16(const struct kiln_elf *elf, const uint8_t *p);
uint32_t kiln_elf_u32(const struct kiln_elf *elf, const uint8_t *p);
uint64_t kiln_elf_u64(const struct kiln_elf *elf, const uint8_t *p);

/*
 * The entries of a __versions section @s: struct modversion_info, 64 bytes
 * on 64-bit targets ({u64 crc; char name[56]}) and 64 on 32-bit ({u32 crc;
 * char name[60]}), the CRC in the target's byte order. A size that is not a
 * whole number of entries, or a name without its NUL, is -EBADMSG. The
 * symbol names point into the ELF data; free() the array.
 */
int kiln_elf_modversions(struct kiln_ctx *ctx, const struct kiln_elf *elf,
			 const struct kiln_elf_section *s, struct kiln_modversion **ret,
			 size_t *ret_n);
