/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ELF, as much of it as a kernel module needs read: the header, the section
 * header table and the section names. Modules come from anywhere (a build
 * tree, a registry, a fuzzer), so every number read from the file is checked
 * with overflow-safe arithmetic before it is used as an offset.
 *
 * The checks follow the kernel's elf_validity_check(): a module whose
 * sections do not all lie inside the file would not load, so reporting it
 * as corrupt here is what the user needs to hear.
 */
#include <elf.h>
#include <inttypes.h>
#include <string.h>

#include "elf-reader.h"
#include "log.h"

uint16_t kiln_elf_u16(const struct kiln_elf *elf, const uint8_t *p)
{
	if (elf->big_endian)
		return (uint16_t)(p[0] << 8 | p[1]);
	return (uint16_t)(p[1] << 8 | p[0]);
}

uint32_t kiln_elf_u32(const struct kiln_elf *elf, const uint8_t *p)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < 4; i++)
		v = v << 8 | p[elf->big_endian ? i : 3 - i];
	return v;
}

uint64_t kiln_elf_u64(const struct kiln_elf *elf, const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v = v << 8 | p[elf->big_endian ? i : 7 - i];
	return v;
}

/* A field of an Elf32 or Elf64 struct at @base: the offsets differ, the names do not. */
#define ELF_FIELD(elf, base, type, field)                                                          \
	((elf)->is_64 ? elf_read(elf, (base) + offsetof(Elf64_##type, field),                      \
				 sizeof(((Elf64_##type *)0)->field))                               \
		      : elf_read(elf, (base) + offsetof(Elf32_##type, field),                      \
				 sizeof(((Elf32_##type *)0)->field)))

/* Only called on ranges kiln_elf_parse() has already checked. */
static uint64_t elf_read(const struct kiln_elf *elf, const uint8_t *p, size_t size)
{
	switch (size) {
	case 2:
		return kiln_elf_u16(elf, p);
	case 4:
		return kiln_elf_u32(elf, p);
	default:
		return kiln_elf_u64(elf, p);
	}
}

/* Is [@off, @off + @size) inside @len bytes? Without overflowing. */
static bool range_ok(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static const char *elf_type_name(uint16_t type)
{
	switch (type) {
	case ET_NONE:
		return "no file type";
	case ET_EXEC:
		return "an executable";
	case ET_DYN:
		return "a shared object or PIE executable";
	case ET_CORE:
		return "a core dump";
	default:
		return "an unknown file type";
	}
}

/* The header fields, with their checks; leaves the section name table to the caller. */
static int parse_header(struct kiln_ctx *ctx, struct kiln_elf *elf, size_t *ret_shstrndx)
{
	const uint8_t *d = elf->data;
	size_t ehdr_size, shdr_size, shstrndx;
	uint16_t type, shnum;

	if (elf->len < SELFMAG || memcmp(d, ELFMAG, SELFMAG) != 0)
		return kiln_error(ctx, ENOEXEC, "not a kernel module: not an ELF file");
	if (elf->len < EI_NIDENT)
		return kiln_error(ctx, EBADMSG, "truncated: %zu bytes, shorter than an ELF header",
				  elf->len);
	switch (d[EI_CLASS]) {
	case ELFCLASS32:
		elf->is_64 = false;
		break;
	case ELFCLASS64:
		elf->is_64 = true;
		break;
	default:
		return kiln_error(ctx, EBADMSG,
				  "corrupt ELF header: class byte %u is neither 32- nor 64-bit",
				  d[EI_CLASS]);
	}
	switch (d[EI_DATA]) {
	case ELFDATA2LSB:
		elf->big_endian = false;
		break;
	case ELFDATA2MSB:
		elf->big_endian = true;
		break;
	default:
		return kiln_error(ctx, EBADMSG,
				  "corrupt ELF header: data byte %u is neither little- nor big-endian",
				  d[EI_DATA]);
	}
	if (d[EI_VERSION] != EV_CURRENT)
		return kiln_error(ctx, EBADMSG, "corrupt ELF header: version %u, expected %u",
				  d[EI_VERSION], EV_CURRENT);

	ehdr_size = elf->is_64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	shdr_size = elf->is_64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	if (elf->len < ehdr_size)
		return kiln_error(ctx, EBADMSG, "truncated: %zu bytes, an ELF%d header needs %zu",
				  elf->len, elf->is_64 ? 64 : 32, ehdr_size);

	type = (uint16_t)ELF_FIELD(elf, d, Ehdr, e_type);
	if (type != ET_REL)
		return kiln_error(ctx, ENOEXEC,
				  "not a kernel module: ELF type %u is %s, not a relocatable object",
				  type, elf_type_name(type));
	elf->machine = (uint16_t)ELF_FIELD(elf, d, Ehdr, e_machine);
	elf->shoff = ELF_FIELD(elf, d, Ehdr, e_shoff);
	elf->shentsize = (size_t)ELF_FIELD(elf, d, Ehdr, e_shentsize);
	shnum = (uint16_t)ELF_FIELD(elf, d, Ehdr, e_shnum);
	shstrndx = (size_t)ELF_FIELD(elf, d, Ehdr, e_shstrndx);

	if (elf->shoff == 0)
		return kiln_error(ctx, EBADMSG, "corrupt ELF header: no section header table");
	/* the kernel's rule too: any other entry size means a different layout */
	if (elf->shentsize != shdr_size)
		return kiln_error(ctx, EBADMSG,
				  "corrupt ELF header: section headers of %zu bytes, expected %zu",
				  elf->shentsize, shdr_size);
	if (!range_ok(elf->shoff, shdr_size, elf->len))
		return kiln_error(ctx, EBADMSG,
				  "truncated: the section header table at offset %" PRIu64
				  " lies past the end of the file (%zu bytes)",
				  elf->shoff, elf->len);
	elf->shnum = shnum;
	/*
	 * Extended numbering (gABI): with 0xff00 sections or more, e_shnum is 0
	 * and the count is in section 0's sh_size; e_shstrndx SHN_XINDEX means
	 * the index is in its sh_link. Section 0 was range-checked just above.
	 */
	if (shnum == 0) {
		uint64_t n = ELF_FIELD(elf, d + elf->shoff, Shdr, sh_size);

		if (n > SIZE_MAX)
			return kiln_error(ctx, EBADMSG, "corrupt ELF: %" PRIu64 " sections", n);
		elf->shnum = (size_t)n;
	}
	if (shstrndx == SHN_XINDEX)
		shstrndx = (size_t)ELF_FIELD(elf, d + elf->shoff, Shdr, sh_link);
	if (elf->shnum == 0)
		return kiln_error(ctx, EBADMSG, "corrupt ELF: the section header table is empty");
	if (elf->shnum > (elf->len - elf->shoff) / shdr_size)
		return kiln_error(ctx, EBADMSG,
				  "truncated: the section header table (offset %" PRIu64
				  ", %zu entries of %zu bytes) ends past the end of the file"
				  " (%zu bytes)",
				  elf->shoff, elf->shnum, shdr_size, elf->len);
	if (shstrndx == SHN_UNDEF || shstrndx >= elf->shnum)
		return kiln_error(ctx, EBADMSG,
				  "corrupt ELF header: section name table %zu, but %zu sections",
				  shstrndx, elf->shnum);
	*ret_shstrndx = shstrndx;
	return 0;
}

int kiln_elf_parse(struct kiln_ctx *ctx, const uint8_t *data, size_t len, struct kiln_elf *ret)
{
	struct kiln_elf elf = { .data = data, .len = len };
	const uint8_t *sh;
	size_t shstrndx = 0;
	uint64_t off, size;
	int r;

	r = parse_header(ctx, &elf, &shstrndx);
	if (r < 0)
		return r;

	/* every section's bytes inside the file, checked once so lookups need not */
	for (size_t i = 1; i < elf.shnum; i++) {
		sh = data + elf.shoff + i * elf.shentsize;
		if (ELF_FIELD(&elf, sh, Shdr, sh_type) == SHT_NOBITS)
			continue;
		off = ELF_FIELD(&elf, sh, Shdr, sh_offset);
		size = ELF_FIELD(&elf, sh, Shdr, sh_size);
		if (!range_ok(off, size, len))
			return kiln_error(ctx, EBADMSG,
					  "truncated: section %zu (offset %" PRIu64 ", %" PRIu64
					  " bytes) ends past the end of the file (%zu bytes)",
					  i, off, size, len);
	}

	sh = data + elf.shoff + shstrndx * elf.shentsize;
	if (ELF_FIELD(&elf, sh, Shdr, sh_type) == SHT_NOBITS)
		return kiln_error(ctx, EBADMSG, "corrupt ELF: the section name table has no data");
	off = ELF_FIELD(&elf, sh, Shdr, sh_offset);
	size = ELF_FIELD(&elf, sh, Shdr, sh_size);
	/* ending in NUL makes every name inside it a C string, whatever its offset */
	if (size == 0 || data[off + size - 1] != '\0')
		return kiln_error(ctx, EBADMSG,
				  "corrupt ELF: the section name table does not end in a NUL byte");
	elf.shstrtab = (const char *)data + off;
	elf.shstrtab_len = (size_t)size;

	*ret = elf;
	return 0;
}

void kiln_elf_section_at(const struct kiln_elf *elf, size_t i, struct kiln_elf_section *ret)
{
	const uint8_t *sh = elf->data + elf->shoff + i * elf->shentsize;
	uint64_t name = ELF_FIELD(elf, sh, Shdr, sh_name);

	*ret = (struct kiln_elf_section){
		/* a name offset out of the table is no name rather than an error */
		.name = name < elf->shstrtab_len ? elf->shstrtab + name : "",
		.type = (uint32_t)ELF_FIELD(elf, sh, Shdr, sh_type),
		.flags = ELF_FIELD(elf, sh, Shdr, sh_flags),
		.size = (size_t)ELF_FIELD(elf, sh, Shdr, sh_size),
	};
	if (ret->type == SHT_NOBITS)
		ret->size = 0;
	else
		ret->data = elf->data + ELF_FIELD(elf, sh, Shdr, sh_offset);
}

int kiln_elf_find_section(const struct kiln_elf *elf, const char *name,
			  struct kiln_elf_section *ret)
{
	for (size_t i = 1; i < elf->shnum; i++) {
		const uint8_t *sh = elf->data + elf->shoff + i * elf->shentsize;
		uint64_t off = ELF_FIELD(elf, sh, Shdr, sh_name);

		/* compare before decoding the rest: a module has dozens of sections */
		if (off < elf->shstrtab_len && streq(elf->shstrtab + off, name)) {
			kiln_elf_section_at(elf, i, ret);
			return 0;
		}
	}
	return -ENOENT;
}

int kiln_elf_modversions(struct kiln_ctx *ctx, const struct kiln_elf *elf,
			 const struct kiln_elf_section *s, struct kiln_modversion **ret,
			 size_t *ret_n)
{
	/* struct modversion_info: unsigned long crc; char name[64 - sizeof(unsigned long)] */
	const size_t entry = 64, crc_size = elf->is_64 ? 8 : 4;
	struct kiln_modversion *v;
	size_t n;

	if (s->type == SHT_NOBITS)
		return kiln_error(ctx, EBADMSG, "corrupt __versions section: it has no data");
	if (s->size % entry != 0)
		return kiln_error(ctx, EBADMSG,
				  "corrupt __versions section: %zu bytes, not whole %zu-byte entries",
				  s->size, entry);
	n = s->size / entry;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *e = s->data + i * entry;
		const char *name = (const char *)e + crc_size;

		if (!memchr(name, '\0', entry - crc_size)) {
			free(v);
			return kiln_error(ctx, EBADMSG,
					  "corrupt __versions section: entry %zu's name has no NUL",
					  i);
		}
		/*
		 * powerpc64 ELFv1 names functions ".foo"; the kernel's
		 * dedotify_versions() strips the dot before comparing, as kmod does.
		 */
		if (name[0] == '.')
			name++;
		v[i] = (struct kiln_modversion){
			.crc = crc_size == 8 ? kiln_elf_u64(elf, e) : kiln_elf_u32(elf, e),
			.symbol = name,
		};
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
