/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Module.symvers: the CRC, owner, export type and namespace of every symbol a
 * kernel build exports, as modpost writes it and reads it back for
 * KBUILD_EXTRA_SYMBOLS. The pre-flight check compares a module's __versions
 * with it, so a symbol's entry must be found fast (Debian's 6.1 file has
 * 24,683 lines) and a hostile file must be refused with its line number,
 * never trusted.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>

#include <kiln/module.h>

#include "fileio.h"
#include "log.h"
#include "strbuf.h"

/* Symbols are at most KSYM_NAME_LEN (512 since 6.1) long; leave room, but bound it. */
#define SYMBOL_MAX 1024
#define ENTRIES_MAX ((size_t)1 << 22)

struct symvers_file {
	char *name;
	char *text; /* the file, its fields NUL-terminated in place */
};

struct kiln_symvers {
	struct kiln_symvers_entry *entries;
	size_t n_entries, alloc_entries;
	uint32_t *index; /* entry number + 1; 0 is an empty slot */
	size_t n_slots; /* 0 or a power of two */
	struct symvers_file *files;
	size_t n_files, alloc_files;
};

static size_t hash_symbol(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return (size_t)h;
}

/* The slot of @symbol: where it is, or the empty slot where it would go. */
static uint32_t *find_slot(const struct kiln_symvers *s, const char *symbol)
{
	size_t mask = s->n_slots - 1;

	for (size_t i = hash_symbol(symbol) & mask;; i = (i + 1) & mask) {
		uint32_t *slot = &s->index[i];

		if (!*slot || streq(s->entries[*slot - 1].symbol, symbol))
			return slot;
	}
}

static int rebuild_index(struct kiln_symvers *s, size_t n_slots)
{
	uint32_t *index = calloc(n_slots, sizeof(*index));

	if (!index)
		return -ENOMEM;
	free(s->index);
	s->index = index;
	s->n_slots = n_slots;
	for (size_t i = 0; i < s->n_entries; i++) {
		uint32_t *slot = find_slot(s, s->entries[i].symbol);

		/* a symbol seen twice keeps its first entry */
		if (!*slot)
			*slot = (uint32_t)(i + 1);
	}
	return 0;
}

int kiln_symvers_new(struct kiln_symvers **ret)
{
	struct kiln_symvers *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

void kiln_symvers_free(struct kiln_symvers *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_files; i++) {
		free(s->files[i].name);
		free(s->files[i].text);
	}
	free(s->files);
	free(s->entries);
	free(s->index);
	free(s);
}

const struct kiln_symvers_entry *kiln_symvers_find(const struct kiln_symvers *s,
						   const char *symbol)
{
	uint32_t *slot;

	if (!s || !s->n_slots)
		return NULL;
	slot = find_slot(s, symbol);
	return *slot ? &s->entries[*slot - 1] : NULL;
}

const struct kiln_symvers_entry *kiln_symvers_entries(const struct kiln_symvers *s,
						      size_t *ret_n)
{
	*ret_n = s ? s->n_entries : 0;
	return s ? s->entries : NULL;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int parse_crc(const char *s, uint32_t *ret)
{
	size_t n = 0;
	uint32_t v = 0;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -EINVAL;
	for (s += 2; *s; s++, n++) {
		if (!is_hex(*s) || n == 8)
			return -EINVAL;
		v = v << 4 | (uint32_t)(*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
	}
	if (n == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Printable, no blanks: what a symbol, module path or namespace can be. */
static bool is_word(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool is_export_type(const char *s)
{
	return strncmp(s, "EXPORT_", 7) == 0 && s[7] && is_word(s);
}

_printf_(5, 6) static int bad_line(struct kiln_ctx *ctx, const char *name, unsigned line,
				   const char *field, const char *fmt, ...)
{
	_cleanup_free_ char *q = NULL;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (field) {
		q = quote_for_message(field, strlen(field), 64);
		return kiln_error_at(ctx, EBADMSG, name, line, 0, "%s \"%s\"", strbuf_str(&sb),
				     q ? q : "");
	}
	return kiln_error_at(ctx, EBADMSG, name, line, 0, "%s", strbuf_str(&sb));
}

/* One line, split in place into @f (at most 5 fields); fills @e or says why not. */
static int parse_line(struct kiln_ctx *ctx, const char *name, unsigned line, char *p,
		      struct kiln_symvers_entry *e)
{
	char *f[5];
	size_t n = 0;

	for (;;) {
		char *tab = strchr(p, '\t');

		if (n == ELEMENTSOF(f))
			return bad_line(ctx, name, line, NULL,
					"more than 5 tab-separated fields; expected: 0xCRC, "
					"symbol, module, export type, namespace");
		f[n++] = p;
		if (!tab)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	if (n < 4)
		return bad_line(ctx, name, line, NULL,
				"%zu tab-separated fields; expected at least 4: 0xCRC, symbol, "
				"module, export type",
				n);

	*e = (struct kiln_symvers_entry){ .symbol = f[1], .file = name, .line = line, .ns = "" };
	if (parse_crc(f[0], &e->crc) < 0)
		return bad_line(ctx, name, line, f[0],
				"bad CRC: expected 0x and 1 to 8 hexadecimal digits, got");
	if (is_export_type(f[3])) {
		/* since 5.10: crc, symbol, module, export type[, namespace] */
		e->module = f[2];
		e->export_type = f[3];
		if (n == 5)
			e->ns = f[4];
	} else if (n == 5 && is_export_type(f[4])) {
		/* 5.4 to 5.9: crc, symbol, namespace, module, export type */
		e->ns = f[2];
		e->module = f[3];
		e->export_type = f[4];
	} else {
		return bad_line(ctx, name, line, f[3],
				"no export type (EXPORT_SYMBOL, EXPORT_SYMBOL_GPL) where one "
				"belongs:");
	}
	if (!f[1][0])
		return bad_line(ctx, name, line, NULL, "empty symbol name");
	if (strlen(f[1]) > SYMBOL_MAX)
		return bad_line(ctx, name, line, NULL, "symbol name longer than %d bytes",
				SYMBOL_MAX);
	if (!is_word(f[1]))
		return bad_line(ctx, name, line, f[1], "blank or control character in symbol name");
	if (!e->module[0] || !is_word(e->module))
		return bad_line(ctx, name, line, e->module, "bad module name");
	if (!is_word(e->ns))
		return bad_line(ctx, name, line, e->ns, "bad namespace");
	return 0;
}

static int add_entry(struct kiln_symvers *s, const struct kiln_symvers_entry *e)
{
	uint32_t *slot;
	int r;

	if (s->n_entries >= ENTRIES_MAX)
		return -E2BIG;
	/* keep the load factor under 1/2 */
	if ((s->n_entries + 1) * 2 > s->n_slots) {
		r = rebuild_index(s, s->n_slots ? s->n_slots * 2 : 1024);
		if (r < 0)
			return r;
	}
	r = GROW(s->entries, s->alloc_entries, s->n_entries + 1);
	if (r < 0)
		return r;
	s->entries[s->n_entries++] = *e;
	slot = find_slot(s, e->symbol);
	if (!*slot)
		*slot = (uint32_t)s->n_entries;
	return 0;
}

int kiln_symvers_add(struct kiln_ctx *ctx, struct kiln_symvers *s, const char *name,
		     const char *text, size_t len)
{
	_cleanup_free_ char *copy = NULL, *name_copy = NULL;
	size_t old_n = s->n_entries;
	unsigned line = 0;
	char *p, *end, *next;
	int r;

	if (len > KILN_SYMVERS_MAX_SIZE)
		return kiln_error(ctx, EFBIG,
				  "%s: %zu bytes; Module.symvers files over %zu bytes are refused",
				  name, len, KILN_SYMVERS_MAX_SIZE);
	r = GROW(s->files, s->alloc_files, s->n_files + 1);
	if (r < 0)
		return r;
	copy = malloc(len + 1);
	name_copy = strdup(name);
	if (!copy || !name_copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (memchr(copy, '\0', len))
		return kiln_error(ctx, EBADMSG, "%s: NUL byte in a text file: not a Module.symvers",
				  name);

	for (p = copy, end = copy + len; p < end; p = next) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		struct kiln_symvers_entry e;
		size_t n;

		/* parse_line() cuts the line at its tabs: find the next one first */
		next = nl ? nl + 1 : end;
		if (nl)
			*nl = '\0';
		n = strlen(p);
		line++;
		if (n > KILN_SYMVERS_MAX_LINE) {
			r = kiln_error_at(ctx, EBADMSG, name, line, 0,
					  "line of %zu bytes; Module.symvers lines are at most %d",
					  n, KILN_SYMVERS_MAX_LINE);
			goto fail;
		}
		if (n && p[n - 1] == '\r')
			p[--n] = '\0';
		if (!n)
			continue;
		r = parse_line(ctx, name_copy, line, p, &e);
		if (r < 0)
			goto fail;
		r = add_entry(s, &e);
		if (r == -E2BIG)
			r = kiln_error_at(ctx, E2BIG, name, line, 0, "more than %zu symbols",
					  ENTRIES_MAX);
		if (r < 0)
			goto fail;
	}
	s->files[s->n_files++] = (struct symvers_file){ TAKE_PTR(name_copy), TAKE_PTR(copy) };
	return 0;

fail:
	/*
	 * Leave @s as it was. Entries are placed in order (rebuild_index() too),
	 * so no older entry's probe sequence runs through a slot of this file's:
	 * emptying those slots leaves every older lookup intact.
	 */
	for (size_t i = 0; i < s->n_slots; i++)
		if (s->index[i] > old_n)
			s->index[i] = 0;
	s->n_entries = old_n;
	return r;
}

int kiln_symvers_add_file(struct kiln_ctx *ctx, struct kiln_symvers *s, const char *path)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = read_file_at(AT_FDCWD, path, KILN_SYMVERS_MAX_SIZE, &text, &len);
	if (r == -EFBIG)
		return kiln_error(ctx, r, "cannot read \"%s\": larger than %zu bytes", path,
				  KILN_SYMVERS_MAX_SIZE);
	if (r < 0)
		return kiln_error(ctx, r, "cannot read \"%s\": %s", path, strerror(-r));
	return kiln_symvers_add(ctx, s, path, text, len);
}
