/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A module's symbol table, as the kernel's loader walks it: every undefined
 * symbol must be resolved against the kernel and the modules loaded before
 * it (simplify_symbols()), and every export it brings (__ksymtab_<name>,
 * with its CRC at __crc_<name>) becomes resolvable for the modules after it.
 *
 * The CRC of an export sits in __kcrctab[_gpl] since 5.19 (modpost writes
 * SYMBOL_CRC() into the .mod.c) and __crc_<name> labels it; before that,
 * __crc_<name> was an absolute symbol whose value was the CRC. Both are read.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "elf-reader.h"
#include "ksyms.h"
#include "log.h"

#define KSYMTAB_PREFIX "__ksymtab_"
#define CRC_PREFIX "__crc_"
#define PREFIXED(name, prefix) \
	(strncmp(name, prefix, sizeof(prefix) - 1) == 0 && (name)[sizeof(prefix) - 1])

struct elf_sym {
	uint32_t name;
	uint8_t info;
	uint16_t shndx;
	uint64_t value;
};

static void read_sym(const struct kiln_elf *elf, const uint8_t *p, struct elf_sym *s)
{
	if (elf->is_64) {
		s->name = kiln_elf_u32(elf, p + offsetof(Elf64_Sym, st_name));
		s->info = p[offsetof(Elf64_Sym, st_info)];
		s->shndx = kiln_elf_u16(elf, p + offsetof(Elf64_Sym, st_shndx));
		s->value = kiln_elf_u64(elf, p + offsetof(Elf64_Sym, st_value));
	} else {
		s->name = kiln_elf_u32(elf, p + offsetof(Elf32_Sym, st_name));
		s->info = p[offsetof(Elf32_Sym, st_info)];
		s->shndx = kiln_elf_u16(elf, p + offsetof(Elf32_Sym, st_shndx));
		s->value = kiln_elf_u32(elf, p + offsetof(Elf32_Sym, st_value));
	}
}

/* The section a symbol is defined in, if it is an ordinary one. */
static bool sym_section(const struct kiln_elf *elf, uint16_t shndx, struct kiln_elf_section *ret)
{
	if (shndx == SHN_UNDEF || shndx >= SHN_LORESERVE || shndx >= elf->shnum)
		return false;
	kiln_elf_section_at(elf, shndx, ret);
	return true;
}

static int cmp_ksym(const void *a, const void *b)
{
	return strcmp(((const struct kiln_ksym *)a)->name, ((const struct kiln_ksym *)b)->name);
}

const struct kiln_ksym *kiln_module_syms_export(const struct kiln_module_syms *s,
						const char *name)
{
	struct kiln_ksym key = { .name = name };

	if (!s->n_exports)
		return NULL;
	return bsearch(&key, s->exports, s->n_exports, sizeof(key), cmp_ksym);
}

void kiln_module_syms_release(struct kiln_module_syms *s)
{
	free(s->imports);
	free(s->exports);
	*s = (struct kiln_module_syms){ 0 };
}

static int push(struct kiln_ksym **v, size_t *n, size_t *alloc, const struct kiln_ksym *k)
{
	int r = GROW(*v, *alloc, *n + 1);

	if (r < 0)
		return r;
	(*v)[(*n)++] = *k;
	return 0;
}

/* The CRC an export's __crc_ symbol gives, if it gives one. */
static bool crc_value(const struct kiln_elf *elf, const struct elf_sym *s, uint32_t *ret)
{
	struct kiln_elf_section sec;

	if (s->shndx == SHN_ABS) {
		*ret = (uint32_t)s->value;
		return true;
	}
	if (!sym_section(elf, s->shndx, &sec) || !sec.data || sec.size < 4 ||
	    s->value > sec.size - 4)
		return false;
	*ret = kiln_elf_u32(elf, sec.data + s->value);
	return true;
}

static int find_symtab(struct kiln_ctx *ctx, const struct kiln_elf *elf,
		       struct kiln_elf_section *symtab, struct kiln_elf_section *strtab)
{
	size_t entsize = elf->is_64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
	size_t i;

	for (i = 1; i < elf->shnum; i++) {
		kiln_elf_section_at(elf, i, symtab);
		if (symtab->type == SHT_SYMTAB)
			break;
	}
	/* the kernel's own words for it */
	if (i == elf->shnum)
		return kiln_error(ctx, ENOEXEC, "module has no symbols (stripped?)");
	if (!symtab->data || symtab->size % entsize)
		return kiln_error(ctx, EBADMSG,
				  "corrupt symbol table: %zu bytes is not a whole number of "
				  "%zu-byte symbols",
				  symtab->size, entsize);
	if (kiln_elf_find_section(elf, ".strtab", strtab) < 0 || !strtab->data)
		return kiln_error(ctx, EBADMSG, "corrupt ELF: a symbol table but no .strtab");
	return 0;
}

struct syms_builder {
	struct kiln_module_syms s;
	size_t alloc_imports, alloc_exports;
	struct kiln_ksym *crcs;
	size_t n_crcs, alloc_crcs;
};

static int add_sym(const struct kiln_elf *elf, struct syms_builder *b, const struct elf_sym *s,
		   const char *name)
{
	struct kiln_elf_section sec;
	struct kiln_ksym k = { .name = name };

	if (s->shndx == SHN_UNDEF) {
		/* the kernel resolves every named undefined symbol, whatever its binding */
		if (!name[0])
			return 0;
		k.weak = ELF64_ST_BIND(s->info) == STB_WEAK;
		return push(&b->s.imports, &b->s.n_imports, &b->alloc_imports, &k);
	}
	if (PREFIXED(name, KSYMTAB_PREFIX)) {
		/* only the entries in __ksymtab*, not some symbol that happens to be called so */
		if (!sym_section(elf, s->shndx, &sec) || strncmp(sec.name, "__ksymtab", 9) != 0)
			return 0;
		k.name = name + sizeof(KSYMTAB_PREFIX) - 1;
		k.gpl = strncmp(sec.name, "__ksymtab_gpl", 13) == 0;
		return push(&b->s.exports, &b->s.n_exports, &b->alloc_exports, &k);
	}
	if (PREFIXED(name, CRC_PREFIX)) {
		k.name = name + sizeof(CRC_PREFIX) - 1;
		k.has_crc = crc_value(elf, s, &k.crc);
		if (!k.has_crc)
			return 0;
		return push(&b->crcs, &b->n_crcs, &b->alloc_crcs, &k);
	}
	return 0;
}

int kiln_module_read_syms(struct kiln_ctx *ctx, const struct kiln_module *m,
			  struct kiln_module_syms *ret)
{
	struct syms_builder b = { 0 };
	struct kiln_elf_section symtab, strtab, versions;
	const struct kiln_modsig *sig;
	const uint8_t *data;
	struct kiln_elf elf;
	size_t len, entsize;
	int r;

	data = kiln_module_data(m, &len);
	if (kiln_module_signature(m, &sig) == 0)
		len = sig->body_len;
	r = kiln_elf_parse(ctx, data, len, &elf);
	if (r < 0)
		return r;
	r = find_symtab(ctx, &elf, &symtab, &strtab);
	if (r < 0)
		return r;
	entsize = elf.is_64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);

	/* symbol 0 is the null symbol, as the kernel skips it */
	for (size_t i = 1; i < symtab.size / entsize; i++) {
		struct elf_sym s;
		const char *name;

		read_sym(&elf, symtab.data + i * entsize, &s);
		if (s.name >= strtab.size ||
		    !memchr(strtab.data + s.name, '\0', strtab.size - s.name)) {
			r = kiln_error(ctx, EBADMSG,
				       "corrupt symbol table: the name of symbol %zu lies outside "
				       ".strtab",
				       i);
			goto fail;
		}
		name = (const char *)strtab.data + s.name;
		r = add_sym(&elf, &b, &s, name);
		if (r < 0)
			goto fail;
	}

	if (b.s.n_exports)
		qsort(b.s.exports, b.s.n_exports, sizeof(*b.s.exports), cmp_ksym);
	for (size_t i = 0; i < b.n_crcs; i++) {
		const struct kiln_ksym *x = kiln_module_syms_export(&b.s, b.crcs[i].name);
		struct kiln_ksym *e = x ? &b.s.exports[x - b.s.exports] : NULL;

		if (e) {
			e->crc = b.crcs[i].crc;
			e->has_crc = true;
		}
	}
	free(b.crcs);
	b.s.has_versions = kiln_elf_find_section(&elf, "__versions", &versions) == 0;
	b.s.machine = elf.machine;
	*ret = b.s;
	return 0;

fail:
	free(b.crcs);
	kiln_module_syms_release(&b.s);
	return r;
}
