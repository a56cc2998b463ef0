/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The installer's initramfs: extensions.yaml, written as Talos writes it
 * (Go's yaml.v3 encoder: four-space indentation, sequences indented under
 * their key, literal blocks for text with newlines, quotes only where a
 * plain scalar would read as something else), and the initramfs itself:
 *
 *   [newc archive of kernel/x86/microcode/, uncompressed]
 *   the base's initramfs, byte for byte
 *   newc archive of *.sqsh, extensions.yaml, usr/lib/firmware/...,
 *   compressed as the base's is
 *
 * which the kernel unpacks one after the other (init/initramfs.c): early
 * microcode must come first and uncompressed, and the base is left as it
 * was built.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kiln/image.h>
#include <kiln/layer.h>

#include "fileio.h"
#include "installer-internal.h"
#include "log.h"
#include "strbuf.h"

/* ---- extensions.yaml ---------------------------------------------------------------------- */

static bool is_one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (streq(s, *list))
			return true;
	return false;
}

/*
 * Whether yaml.v3 would read the plain scalar @s as something other than
 * a string (null, a bool of YAML 1.1 or 1.2, a number, a timestamp): it
 * double-quotes those.
 */
static bool resolves_to_non_string(const char *s)
{
	static const char *const words[] = {
		"~",	 "null", "Null",  "NULL",  "true",  "True", "TRUE", "false", "False",
		"FALSE", "y",	 "Y",	  "yes",   "Yes",   "YES",  "n",    "N",     "no",
		"No",	 "NO",	 "on",	  "On",	   "ON",    "off",  "Off",  "OFF",   ".inf",
		".Inf",	 ".INF", "-.inf", "-.Inf", "+.inf", ".nan", ".NaN", ".NAN",  NULL,
	};
	const char *p = s;
	bool digits = false, dot = false, exp = false;

	if (is_one_of(s, words))
		return true;
	/* numbers: [-+]digits[.digits][e[-+]digits], 0x.., 0o.., and 2006-01-02 dates */
	if (*p == '-' || *p == '+')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b') && p[2])
		return strspn(p + 2, "0123456789abcdefABCDEF_") == strlen(p + 2);
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits = true;
		else if (*p == '.' && !dot && !exp)
			dot = true;
		else if ((*p == 'e' || *p == 'E') && digits && !exp) {
			exp = true;
			if (p[1] == '-' || p[1] == '+')
				p++;
		} else if (*p != '_')
			break;
	}
	if (!*p && digits)
		return true;
	return strlen(s) >= 10 && s[4] == '-' && s[7] == '-' && strspn(s, "0123456789") == 4 &&
	       strspn(s + 5, "0123456789") == 2 && strspn(s + 8, "0123456789") == 2 &&
	       (s[10] == '\0' || s[10] == 'T' || s[10] == 't' || s[10] == ' ');
}

/* Whether libyaml's emitter takes @s as a plain scalar in block context. */
static bool plain_allowed(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
		return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) &&
	    !(strchr("-?:", s[0]) && s[1] != '\0' && s[1] != ' '))
		return false;
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
		if (*p == ':' && (p[1] == ' ' || p[1] == '\0'))
			return false;
		if (*p == '#' && p > s && p[-1] == ' ')
			return false;
	}
	return true;
}

/* Whether every byte of @s can stand in single quotes (printable; tabs too). */
static bool printable(const char *s, bool newlines)
{
	for (const char *p = s; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t' && !(newlines && *p == '\n')) ||
		    *p == 0x7f)
			return false;
	return true;
}

static int add_double_quoted(struct strbuf *sb, const char *s)
{
	int r = strbuf_addch(sb, '"');

	for (const char *p = s; r >= 0 && *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\')
			r = strbuf_addf(sb, "\\%c", c);
		else if (c == '\n')
			r = strbuf_adds(sb, "\\n");
		else if (c == '\t')
			r = strbuf_adds(sb, "\\t");
		else if (c < 0x20 || c == 0x7f)
			r = strbuf_addf(sb, "\\x%02x", c);
		else
			r = strbuf_addch(sb, (char)c);
	}
	return r < 0 ? r : strbuf_addch(sb, '"');
}

/* Text with newlines as a literal block ("|", "|-" or "|+"), its lines at @indent. */
static int add_literal(struct strbuf *sb, const char *s, unsigned indent)
{
	size_t len = strlen(s), trailing = 0;
	int r;

	while (trailing < len && s[len - 1 - trailing] == '\n')
		trailing++;
	r = strbuf_adds(sb, trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+");
	for (const char *p = s; r >= 0 && *p;) {
		size_t n = strcspn(p, "\n");

		r = strbuf_addch(sb, '\n');
		if (r >= 0 && n)
			r = strbuf_addf(sb, "%*s%.*s", (int)indent, "", (int)n, p);
		p += n;
		p += *p == '\n';
	}
	return r;
}

/* "KEY: VALUE\n" at @indent, VALUE a string as yaml.v3 writes it. */
static int add_pair(struct strbuf *sb, unsigned indent, const char *key, const char *value)
{
	bool multiline = strchr(value, '\n') != NULL;
	int r = strbuf_addf(sb, "%*s%s: ", (int)indent, "", key);

	if (r < 0)
		return r;
	if (multiline && value[0] != ' ' && value[0] != '\n' && printable(value, true) &&
	    !strstr(value, " \n"))
		r = add_literal(sb, value, indent + 4);
	else if (!multiline && !resolves_to_non_string(value) && plain_allowed(value))
		r = strbuf_adds(sb, value);
	else if (!multiline && printable(value, false) && *value &&
		 !resolves_to_non_string(value)) {
		r = strbuf_addch(sb, '\'');
		for (const char *p = value; r >= 0 && *p; p++)
			r = *p == '\'' ? strbuf_adds(sb, "''") : strbuf_addch(sb, *p);
		if (r >= 0)
			r = strbuf_addch(sb, '\'');
	} else
		r = add_double_quoted(sb, value);
	return r < 0 ? r : strbuf_addch(sb, '\n');
}

int installer_write_extensions_yaml(struct installer *in)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *path = path_join(in->staging, "extensions.yaml");
	int r;

	if (!path)
		return -ENOMEM;
	if (in->n_exts == 0)
		return 0;
	r = strbuf_adds(&sb, "layers:\n");
	for (size_t i = 0; r >= 0 && i < in->n_exts; i++) {
		const struct kiln_ext_manifest *m = in->exts[i].manifest;

		r = strbuf_addf(&sb, "    - image: %s.sqsh\n      metadata:\n", in->exts[i].name);
		if (r >= 0)
			r = add_pair(&sb, 8, "name", m->name);
		if (r >= 0)
			r = add_pair(&sb, 8, "version", m->ext_version);
		if (r >= 0)
			r = add_pair(&sb, 8, "author", m->author);
		if (r >= 0)
			r = add_pair(&sb, 8, "description", m->description);
		if (r >= 0)
			r = strbuf_adds(&sb, "        compatibility:\n            talos:\n");
		if (r >= 0)
			r = add_pair(&sb, 16, "version", strempty(m->talos_version));
		if (r >= 0 && m->extra_info && *m->extra_info)
			r = add_pair(&sb, 8, "extraInfo", m->extra_info);
	}
	if (r < 0)
		return r;
	r = write_file_atomic(path, sb.buf, sb.len, 0644);
	if (r < 0)
		return kiln_error(in->ctx, r, "cannot write \"%s\": %s", path, strerror(-r));
	return 0;
}

/* ---- the initramfs ------------------------------------------------------------------------ */

static int zip_write(void *userdata, const void *data, size_t len)
{
	return kiln_zip_write(userdata, data, len);
}

/* The tree @dir as a newc archive (relative names, 0:0, every mtime SOURCE_DATE_EPOCH). */
static int write_archive(struct installer *in, const char *dir, kiln_write_fn out, void *userdata)
{
	_cleanup_(kiln_cpio_writer_freep) struct kiln_cpio_writer *w = NULL;
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const struct kiln_cpio_tree_options co = { .mtime = in->o->source_date_epoch };
	int r;

	if (fd < 0)
		return kiln_error(in->ctx, errno, "cannot open \"%s\": %m", dir);
	r = kiln_cpio_writer_new(out, userdata, &w);
	if (r >= 0)
		r = kiln_cpio_write_tree(in->ctx, fd, &co, w);
	if (r >= 0)
		r = kiln_cpio_writer_finish(in->ctx, w);
	return r;
}

/*
 * How to compress what is appended: as the base's initramfs is, which
 * its kernel reads (Talos: xz before 1.8, zstd since).
 */
static int base_compression(struct installer *in, int fd, enum kiln_compression *ret,
			    int *ret_level)
{
	uint8_t magic[6] = { 0 };
	ssize_t n = pread(fd, magic, sizeof(magic), 0);
	enum kiln_compression c;
	int level;

	if (n < 0)
		return kiln_error(in->ctx, errno, "cannot read \"%s\": %m", in->base_initramfs);
	c = kiln_compression_detect(magic, (size_t)n);
	if (c == KILN_COMPRESSION_XZ)
		level = 0; /* xz -C crc32 -0 -e */
	else if (c == KILN_COMPRESSION_ZSTD)
		level = 18;
	else if (c == KILN_COMPRESSION_GZIP)
		level = 9;
	else if (c == KILN_COMPRESSION_NONE && n >= 6 && memcmp(magic, "07070", 5) == 0)
		level = 0; /* a plain archive: so is what is appended */
	else
		return kiln_error(in->ctx, EOPNOTSUPP,
				  "the base's initramfs (usr/install/%s/initramfs.xz) is neither "
				  "xz, zstd, gzip nor a plain newc archive",
				  in->arch);
	*ret = c;
	*ret_level = level;
	return 0;
}

int installer_write_initramfs(struct installer *in, int fd)
{
	_cleanup_(kiln_zip_freep) struct kiln_zip *zip = NULL;
	_cleanup_close_ int base = open(in->base_initramfs, O_RDONLY | O_CLOEXEC);
	struct installer_fd k = { in->ctx, fd, "the initramfs" };
	enum kiln_compression c = KILN_COMPRESSION_NONE;
	int level = 0, r;
	off_t end;

	if (base < 0)
		return kiln_error(in->ctx, errno, "cannot open \"%s\": %m", in->base_initramfs);
	/* no extension: the base's initramfs as it is, as Talos skips the rebuild */
	if (in->n_exts == 0) {
		r = copy_fd_data(base, fd);
		return r < 0 ? kiln_error(in->ctx, r, "cannot copy \"%s\": %s", in->base_initramfs,
					  strerror(-r))
			     : 0;
	}
	r = base_compression(in, base, &c, &level);
	if (r < 0)
		return r;
	if (in->has_ucode) {
		r = write_archive(in, in->ucode, installer_fd_write, &k);
		if (r < 0)
			return r;
	}
	r = copy_fd_data(base, fd);
	if (r < 0)
		return kiln_error(in->ctx, r, "cannot copy \"%s\": %s", in->base_initramfs,
				  strerror(-r));
	/* a plain archive starts at a multiple of 4; zeros between archives are skipped */
	end = lseek(fd, 0, SEEK_CUR);
	if (c == KILN_COMPRESSION_NONE && end > 0 && end % 4) {
		static const char zeros[4];

		r = installer_fd_write(&k, zeros, (size_t)(4 - end % 4));
		if (r < 0)
			return r;
	}
	r = kiln_zip_new(in->ctx, c, level, installer_fd_write, &k, &zip);
	if (r >= 0)
		r = write_archive(in, in->staging, zip_write, zip);
	if (r >= 0)
		r = kiln_zip_finish(zip);
	return r;
}
