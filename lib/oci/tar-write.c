/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Deterministic tar streams. The header layout follows Go's archive/tar,
 * which every container tool reads layers with: ustar where it fits, a PAX
 * header only for what ustar cannot say, and the 1024-byte trailer without
 * GNU tar's padding to a 10240-byte record. A directory tree is written
 * through it by tar-tree.c.
 */
#include <string.h>

#include <kiln/layer.h>

#include "log.h"
#include "strbuf.h"
#include "tar-format.h"

struct kiln_tar_writer {
	kiln_write_fn out;
	void *userdata;
	uint64_t offset;
	uint64_t data_left; /* data the current entry still owes */
	char *entry_path; /* for the message when it falls short */
	bool finished;
};

static const char zeros[1024];

int kiln_tar_writer_new(kiln_write_fn out, void *userdata, struct kiln_tar_writer **ret)
{
	struct kiln_tar_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->out = out;
	w->userdata = userdata;
	*ret = w;
	return 0;
}

void kiln_tar_writer_free(struct kiln_tar_writer *w)
{
	if (!w)
		return;
	free(w->entry_path);
	free(w);
}

uint64_t kiln_tar_writer_offset(const struct kiln_tar_writer *w)
{
	return w->offset;
}

static int emit(struct kiln_tar_writer *w, const void *data, size_t len)
{
	int r = w->out(w->userdata, data, len);

	if (r < 0)
		return r;
	w->offset += len;
	return 0;
}

/* End the current entry: all its data given, then the padding to a block. */
static int end_entry(struct kiln_ctx *ctx, struct kiln_tar_writer *w)
{
	if (w->data_left)
		return kiln_error(ctx, EINVAL, "tar entry \"%s\": %llu bytes of data missing",
				  strempty(w->entry_path), (unsigned long long)w->data_left);
	return emit(w, zeros, tar_padding(w->offset));
}

/* n - 1 octal digits, zero-padded, and a NUL: how Go and GNU tar write numbers. */
static void format_octal(char *field, size_t n, uint64_t v)
{
	field[n - 1] = '\0';
	for (size_t i = n - 1; i > 0; i--) {
		field[i - 1] = (char)('0' + (v & 7));
		v >>= 3;
	}
}

static void set_checksum(struct tar_header *h)
{
	const unsigned char *p = (const unsigned char *)h;
	unsigned sum = 0;

	memset(h->chksum, ' ', sizeof(h->chksum));
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += p[i];
	/* six digits, NUL, and the space left from the sum: "000000\0 " */
	format_octal(h->chksum, 7, sum);
}

static size_t n_digits(size_t n)
{
	size_t d = 1;

	while (n >= 10)
		n /= 10, d++;
	return d;
}

/* "%d key=value\n", where the count includes its own digits. */
static int pax_add(struct strbuf *sb, const char *key, const void *value, size_t value_len)
{
	size_t base = strlen(key) + value_len + 3, len = base;

	/* adding the digits may add a digit (9 + 1 is two): settle the fixed point */
	while (base + n_digits(len) != len)
		len = base + n_digits(len);
	if (strbuf_addf(sb, "%zu %s=", len, key) < 0 || strbuf_add(sb, value, value_len) < 0 ||
	    strbuf_addch(sb, '\n') < 0)
		return -ENOMEM;
	return 0;
}

static int pax_add_u64(struct strbuf *sb, const char *key, uint64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof(s), "%llu", (unsigned long long)v);

	return pax_add(sb, key, s, (size_t)n);
}

/*
 * Split @path over prefix (155) and name (100) at a '/', as ustar allows
 * for paths up to 256 bytes; false if no split fits. The same rule as Go's
 * splitUSTARPath, so that both write the same headers.
 */
static bool split_ustar(const char *path, size_t len, size_t *ret_prefix)
{
	size_t limit = len;

	if (len <= 100)
		return false;
	if (limit > 156)
		limit = 156;
	else if (path[limit - 1] == '/')
		limit--;
	for (size_t i = limit; i-- > 0;) {
		if (path[i] != '/')
			continue;
		if (i == 0 || len - i - 1 > 100 || len - i - 1 == 0 || i > 155)
			return false;
		*ret_prefix = i;
		return true;
	}
	return false;
}

/* The name of the PAX header before @name, as Go makes it: DIR/PaxHeaders.0/BASE, ASCII. */
static void pax_header_name(char field[100], const char *name)
{
	const char *slash = strrchr(name, '/');
	size_t dir_len = slash ? (size_t)(slash - name) + 1 : 0, n = 0;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	strbuf_add(&sb, name, dir_len);
	strbuf_adds(&sb, "PaxHeaders.0");
	if (name[dir_len]) {
		strbuf_addch(&sb, '/');
		strbuf_adds(&sb, name + dir_len);
	}
	for (const char *p = strbuf_str(&sb); *p && n < 100; p++)
		if ((unsigned char)*p < 0x80)
			field[n++] = *p;
	while (n > 0 && field[n - 1] == '/')
		field[--n] = '\0';
}

static int write_pax_header(struct kiln_tar_writer *w, const char *name, const struct strbuf *pax)
{
	struct tar_header h = { 0 };
	int r;

	pax_header_name(h.name, name);
	format_octal(h.mode, sizeof(h.mode), 0);
	format_octal(h.uid, sizeof(h.uid), 0);
	format_octal(h.gid, sizeof(h.gid), 0);
	format_octal(h.size, sizeof(h.size), pax->len);
	format_octal(h.mtime, sizeof(h.mtime), 0);
	h.typeflag = TAR_TYPE_PAX;
	memcpy(h.magic, TAR_MAGIC_USTAR, sizeof(h.magic));
	memcpy(h.version, "00", 2);
	format_octal(h.devmajor, sizeof(h.devmajor), 0);
	format_octal(h.devminor, sizeof(h.devminor), 0);
	set_checksum(&h);
	r = emit(w, &h, sizeof(h));
	if (r < 0)
		return r;
	r = emit(w, pax->buf, pax->len);
	if (r < 0)
		return r;
	return emit(w, zeros, tar_padding(pax->len));
}

/* An entry the header cannot say, refused before anything of it is written. */
static int check_entry(struct kiln_ctx *ctx, const struct kiln_tar_entry *e)
{
	struct tar_header h; /* the sizes of its fields */

	if (!e->path || !e->path[0])
		return kiln_error(ctx, EINVAL, "tar entry without a name");
	if (!tar_type_is_known(e->type))
		return kiln_error(ctx, EINVAL, "tar entry \"%s\": cannot write type '%c'", e->path,
				  e->type);
	if (e->mtime < 0 || (uint64_t)e->mtime > tar_octal_max(sizeof(h.mtime)))
		return kiln_error(ctx, ERANGE, "tar entry \"%s\": mtime %lld out of range", e->path,
				  (long long)e->mtime);
	if (e->devmajor > tar_octal_max(sizeof(h.devmajor)) ||
	    e->devminor > tar_octal_max(sizeof(h.devminor)))
		return kiln_error(ctx, ERANGE, "tar entry \"%s\": device number out of range",
				  e->path);
	return 0;
}

/* The entry's name as written, in *@ret (*@ret_len bytes): directories with their slash. */
static int entry_name(const struct kiln_tar_entry *e, char **ret, size_t *ret_len)
{
	size_t len = strlen(e->path);
	char *name;

	/* directories are named with their slash, as docker and Go write them */
	if (e->type == KILN_TAR_DIR && e->path[len - 1] != '/') {
		if (asprintf(&name, "%s/", e->path) < 0)
			return -ENOMEM;
		len++;
	} else {
		name = strdup(e->path);
		if (!name)
			return -ENOMEM;
	}
	*ret = name;
	*ret_len = len;
	return 0;
}

/* @name (@len bytes) in the header: whole, split over prefix and name, or cut and in @pax. */
static int put_name(struct tar_header *h, const char *name, size_t len, struct strbuf *pax)
{
	size_t prefix_len;

	if (len <= sizeof(h->name)) {
		memcpy(h->name, name, len);
	} else if (split_ustar(name, len, &prefix_len)) {
		memcpy(h->prefix, name, prefix_len);
		memcpy(h->name, name + prefix_len + 1, len - prefix_len - 1);
	} else {
		memcpy(h->name, name, sizeof(h->name));
		return pax_add(pax, "path", name, len);
	}
	return 0;
}

/* @linkname in the header: whole, or cut and in @pax. */
static int put_linkname(struct tar_header *h, const char *linkname, struct strbuf *pax)
{
	size_t llen = strlen(linkname);

	if (llen <= sizeof(h->linkname)) {
		memcpy(h->linkname, linkname, llen);
		return 0;
	}
	memcpy(h->linkname, linkname, sizeof(h->linkname));
	return pax_add(pax, "linkpath", linkname, llen);
}

/* In @pax: the size, uid and gid that their fields of @h cannot hold, and every xattr. */
static int pax_add_rest(struct strbuf *pax, const struct tar_header *h,
			const struct kiln_tar_entry *e, uint64_t size)
{
	int r;

	if (size > tar_octal_max(sizeof(h->size)) && (r = pax_add_u64(pax, "size", size)) < 0)
		return r;
	if (e->uid > tar_octal_max(sizeof(h->uid)) && (r = pax_add_u64(pax, "uid", e->uid)) < 0)
		return r;
	if (e->gid > tar_octal_max(sizeof(h->gid)) && (r = pax_add_u64(pax, "gid", e->gid)) < 0)
		return r;
	for (size_t i = 0; i < e->n_xattrs; i++) {
		_cleanup_free_ char *key = NULL;

		if (asprintf(&key, "SCHILY.xattr.%s", e->xattrs[i].name) < 0) {
			key = NULL;
			return -ENOMEM;
		}
		r = pax_add(pax, key, e->xattrs[i].value, e->xattrs[i].len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The header's fields but the names, and its checksum; what PAX holds is 0 here. */
static void fill_header(struct tar_header *h, const struct kiln_tar_entry *e, uint64_t size)
{
	format_octal(h->mode, sizeof(h->mode), e->mode & 07777);
	format_octal(h->uid, sizeof(h->uid), e->uid <= tar_octal_max(8) ? e->uid : 0);
	format_octal(h->gid, sizeof(h->gid), e->gid <= tar_octal_max(8) ? e->gid : 0);
	format_octal(h->size, sizeof(h->size), size <= tar_octal_max(12) ? size : 0);
	format_octal(h->mtime, sizeof(h->mtime), (uint64_t)e->mtime);
	h->typeflag = e->type;
	memcpy(h->magic, TAR_MAGIC_USTAR, sizeof(h->magic));
	memcpy(h->version, "00", 2);
	format_octal(h->devmajor, sizeof(h->devmajor), e->devmajor);
	format_octal(h->devminor, sizeof(h->devminor), e->devminor);
	set_checksum(h);
}

int kiln_tar_writer_add(struct kiln_ctx *ctx, struct kiln_tar_writer *w,
			const struct kiln_tar_entry *e)
{
	_cleanup_strbuf_ struct strbuf pax = STRBUF_INIT;
	_cleanup_free_ char *name = NULL;
	struct tar_header h = { 0 };
	uint64_t size = e->type == KILN_TAR_REG ? e->size : 0;
	size_t len;
	int r;

	if (w->finished)
		return kiln_error(ctx, EINVAL, "tar stream already finished");
	r = end_entry(ctx, w);
	if (r < 0)
		return r;
	r = check_entry(ctx, e);
	if (r >= 0)
		r = entry_name(e, &name, &len);
	if (r >= 0)
		r = put_name(&h, name, len, &pax);
	if (r >= 0 && e->linkname)
		r = put_linkname(&h, e->linkname, &pax);
	if (r >= 0)
		r = pax_add_rest(&pax, &h, e, size);
	if (r < 0)
		return r;
	if (pax.len > KILN_TAR_META_MAX)
		return kiln_error(ctx, E2BIG, "tar entry \"%s\": %zu bytes of PAX records", e->path,
				  pax.len);
	/*
	 * The records above were added in the order path, linkpath, size,
	 * uid, gid, SCHILY.xattr.* (sorted by the caller); readers do not
	 * care about the order, and it is fixed, which is what matters.
	 */
	if (pax.len > 0) {
		r = write_pax_header(w, name, &pax);
		if (r < 0)
			return r;
	}
	fill_header(&h, e, size);
	r = emit(w, &h, sizeof(h));
	if (r < 0)
		return r;
	w->data_left = size;
	free(w->entry_path);
	w->entry_path = TAKE_PTR(name);
	return 0;
}

int kiln_tar_writer_write(struct kiln_tar_writer *w, const void *data, size_t len)
{
	if (len > w->data_left)
		return -EFBIG;
	w->data_left -= len;
	return emit(w, data, len);
}

int kiln_tar_writer_finish(struct kiln_ctx *ctx, struct kiln_tar_writer *w)
{
	int r;

	if (w->finished)
		return 0;
	r = end_entry(ctx, w);
	if (r < 0)
		return r;
	r = emit(w, zeros, sizeof(zeros));
	if (r < 0)
		return r;
	w->finished = true;
	return 0;
}
