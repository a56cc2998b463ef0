/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A streaming tar reader for hostile input. It reads what Go's archive/tar
 * reads (the container runtimes unpack layers with it), and the same way
 * wherever the formats leave a choice, so that kiln never sees a different
 * file list than docker or containerd would: PAX records override GNU long
 * names, which override ustar fields; global PAX headers are ignored;
 * header-only types (links, directories, devices) carry no data whatever
 * their size field says; an old-style regular file whose name ends in "/"
 * is a directory.
 *
 * Everything read is bounded before memory is taken for it: PAX headers
 * and GNU long names at KILN_TAR_META_MAX, numbers checked for form,
 * overflow and sign. An error is sticky: after one, every call fails.
 */
#include <string.h>

#include <kiln/layer.h>

#include "log.h"
#include "strbuf.h"
#include "tar-format.h"

struct pax_state {
	char *path;
	char *linkpath;
	bool has_size, has_uid, has_gid, has_mtime;
	uint64_t size, uid, gid;
	int64_t mtime;
	struct kiln_xattr *xattrs;
	size_t n_xattrs, alloc_xattrs;
};

struct kiln_tar_reader {
	struct kiln_ctx *ctx;
	kiln_read_fn in;
	void *userdata;
	kiln_skip_fn skip;
	uint64_t offset; /* bytes consumed from the stream */
	uint64_t data_left; /* of the current entry */
	uint64_t pad_left;
	uint64_t data_offset;
	uint64_t n_entries;
	struct kiln_tar_entry entry;
	char *long_name; /* GNU 'L', for the next entry */
	char *long_link; /* GNU 'K' */
	struct pax_state pax; /* 'x', for the next entry */
	bool has_meta; /* any of the three above is pending */
	int error;
	bool done;
	char scratch[16384];
};

static void pax_release(struct pax_state *p)
{
	free(p->path);
	free(p->linkpath);
	tar_xattrs_free(p->xattrs, p->n_xattrs);
	*p = (struct pax_state){ 0 };
}

static void entry_release(struct kiln_tar_entry *e)
{
	free(e->path);
	free(e->linkname);
	tar_xattrs_free(e->xattrs, e->n_xattrs);
	*e = (struct kiln_tar_entry){ 0 };
}

int kiln_tar_reader_new(struct kiln_ctx *ctx, kiln_read_fn in, void *userdata,
			struct kiln_tar_reader **ret)
{
	struct kiln_tar_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->ctx = ctx;
	r->in = in;
	r->userdata = userdata;
	*ret = r;
	return 0;
}

void kiln_tar_reader_set_skip(struct kiln_tar_reader *r, kiln_skip_fn skip)
{
	r->skip = skip;
}

void kiln_tar_reader_free(struct kiln_tar_reader *r)
{
	if (!r)
		return;
	entry_release(&r->entry);
	free(r->long_name);
	free(r->long_link);
	pax_release(&r->pax);
	free(r);
}

uint64_t kiln_tar_reader_data_offset(const struct kiln_tar_reader *r)
{
	return r->data_offset;
}

uint64_t kiln_tar_reader_index(const struct kiln_tar_reader *r)
{
	return r->n_entries ? r->n_entries - 1 : 0;
}

_printf_(3, 4) static int fail(struct kiln_tar_reader *r, int err, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	r->error = kiln_error(r->ctx, err, "tar, at byte %llu: %s", (unsigned long long)r->offset,
			      strbuf_str(&sb));
	return r->error;
}

/* The input failed: keep its message, make the error sticky. */
static int fail_input(struct kiln_tar_reader *r, int err)
{
	if (!kiln_ctx_error(r->ctx))
		kiln_error(r->ctx, err, "reading tar stream: %s", strerror(-err));
	r->error = err;
	return err;
}

/* Read up to @len bytes; fewer only at the end of the stream. */
static ssize_t read_full(struct kiln_tar_reader *r, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = r->in(r->userdata, (char *)buf + got, len - got);

		if (n < 0)
			return fail_input(r, (int)n);
		if (n == 0)
			break;
		got += (size_t)n;
		r->offset += (uint64_t)n;
	}
	return (ssize_t)got;
}

static int read_exact(struct kiln_tar_reader *r, void *buf, size_t len, const char *what)
{
	ssize_t n = read_full(r, buf, len);

	if (n < 0)
		return (int)n;
	if ((size_t)n < len)
		return fail(r, EBADMSG, "truncated archive: the stream ends inside %s", what);
	return 0;
}

static int skip_bytes(struct kiln_tar_reader *r, uint64_t n, const char *what)
{
	int ret;

	if (n == 0)
		return 0;
	if (r->skip) {
		ret = r->skip(r->userdata, n);
		if (ret < 0)
			return fail_input(r, ret);
		r->offset += n;
		return 0;
	}
	while (n > 0) {
		size_t k = n < sizeof(r->scratch) ? (size_t)n : sizeof(r->scratch);

		ret = read_exact(r, r->scratch, k, what);
		if (ret < 0)
			return ret;
		n -= k;
	}
	return 0;
}

/* ---- fields ---------------------------------------------------------------- */

/* Octal, as Go reads it: spaces and NULs trimmed at both ends, then digits only. */
static int parse_octal(const char *field, size_t n, int64_t *ret)
{
	size_t start = 0, end = n;
	uint64_t v = 0;

	while (start < end && (field[start] == ' ' || field[start] == '\0'))
		start++;
	while (end > start && (field[end - 1] == ' ' || field[end - 1] == '\0'))
		end--;
	for (size_t i = start; i < end; i++) {
		if (field[i] < '0' || field[i] > '7')
			return -EBADMSG;
		if (v >> 60)
			return -ERANGE;
		v = v << 3 | (uint64_t)(field[i] - '0');
	}
	if (v > INT64_MAX)
		return -ERANGE;
	*ret = (int64_t)v;
	return 0;
}

/* Octal, or base-256 (GNU and star): the high bit of the first byte set, the next one the sign. */
static int parse_numeric(const char *field, size_t n, int64_t *ret)
{
	const unsigned char *b = (const unsigned char *)field;
	unsigned char inv;
	uint64_t v = 0;

	if (!(b[0] & 0x80))
		return parse_octal(field, n, ret);
	inv = (b[0] & 0x40) ? 0xff : 0x00;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = b[i] ^ inv;

		if (i == 0)
			c &= 0x7f;
		if (v >> 56)
			return -ERANGE;
		v = v << 8 | c;
	}
	if (v >> 63)
		return -ERANGE;
	*ret = inv ? ~(int64_t)v : (int64_t)v;
	return 0;
}

static int field_u64(struct kiln_tar_reader *r, const char *field, size_t n, const char *what,
		     uint64_t *ret)
{
	int64_t v;
	int e = parse_numeric(field, n, &v);

	if (e == -ERANGE)
		return fail(r, EBADMSG, "header field %s overflows", what);
	if (e < 0)
		return fail(r, EBADMSG, "header field %s is not a number", what);
	if (v < 0)
		return fail(r, EBADMSG, "header field %s is negative", what);
	*ret = (uint64_t)v;
	return 0;
}

static bool is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static int verify_checksum(struct kiln_tar_reader *r, const struct tar_header *h)
{
	const unsigned char *u = (const unsigned char *)h;
	const signed char *s = (const signed char *)h;
	int64_t want, usum = 0, ssum = 0;

	if (parse_octal(h->chksum, sizeof(h->chksum), &want) < 0)
		return fail(r, EBADMSG,
			    "header checksum field is not a number: not a tar archive?");
	for (size_t i = 0; i < TAR_BLOCK; i++) {
		bool in_field = i >= offsetof(struct tar_header, chksum) &&
				i < offsetof(struct tar_header, chksum) + sizeof(h->chksum);

		usum += in_field ? ' ' : u[i];
		ssum += in_field ? ' ' : s[i];
	}
	/* some old tars summed signed chars; Go accepts both */
	if (want != usum && want != ssum)
		return fail(r, EBADMSG, "header checksum mismatch (%lld, computed %lld)",
			    (long long)want, (long long)usum);
	return 0;
}

/* A NUL-terminated field of at most @n bytes as a new string. */
static char *field_string(const char *field, size_t n)
{
	const char *nul = memchr(field, '\0', n);

	return strndup(field, nul ? (size_t)(nul - field) : n);
}

/* ---- PAX ------------------------------------------------------------------- */

static int pax_decimal(const char *v, size_t len, bool allow_fraction, bool allow_sign,
		       int64_t *ret)
{
	bool neg = false;
	uint64_t x = 0;
	size_t i = 0;

	if (allow_sign && len > 0 && v[0] == '-')
		neg = true, i++;
	if (i == len)
		return -EBADMSG;
	for (; i < len; i++) {
		if (v[i] == '.' && allow_fraction) {
			for (size_t j = i + 1; j < len; j++)
				if (v[j] < '0' || v[j] > '9')
					return -EBADMSG;
			break;
		}
		if (v[i] < '0' || v[i] > '9')
			return -EBADMSG;
		if (x > (UINT64_C(1) << 63) / 10)
			return -ERANGE;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > INT64_MAX)
		return -ERANGE;
	*ret = neg ? -(int64_t)x : (int64_t)x;
	return 0;
}

static int pax_set_xattr(struct pax_state *p, const char *name, const char *value, size_t len)
{
	char *n, *v;

	for (size_t i = 0; i < p->n_xattrs; i++)
		if (streq(p->xattrs[i].name, name)) {
			v = malloc(len ? len : 1);
			if (!v)
				return -ENOMEM;
			memcpy(v, value, len);
			free(p->xattrs[i].value);
			p->xattrs[i].value = v;
			p->xattrs[i].len = len;
			return 0;
		}
	if (GROW(p->xattrs, p->alloc_xattrs, p->n_xattrs + 1) < 0)
		return -ENOMEM;
	n = strdup(name);
	v = malloc(len ? len : 1);
	if (!n || !v) {
		free(n);
		free(v);
		return -ENOMEM;
	}
	memcpy(v, value, len);
	p->xattrs[p->n_xattrs++] = (struct kiln_xattr){ n, v, len };
	return 0;
}

static int pax_apply(struct kiln_tar_reader *r, struct pax_state *p, const char *key,
		     const char *value, size_t len)
{
	bool unset = len == 0;
	int64_t v;
	int e;

	if (strncmp(key, "GNU.sparse.", 11) == 0)
		return fail(r, EOPNOTSUPP, "sparse files are not supported");
	if (strncmp(key, "SCHILY.xattr.", 13) == 0) {
		if (!key[13])
			return fail(r, EBADMSG, "PAX record SCHILY.xattr. without a name");
		return pax_set_xattr(p, key + 13, value, len) < 0 ? -ENOMEM : 0;
	}
	if (streq(key, "path") || streq(key, "linkpath")) {
		char **dst = key[0] == 'p' ? &p->path : &p->linkpath;

		if (memchr(value, '\0', len))
			return fail(r, EBADMSG, "PAX %s holds a NUL byte", key);
		free(*dst);
		*dst = unset ? NULL : strndup(value, len);
		return unset || *dst ? 0 : -ENOMEM;
	}
	if (streq(key, "size") || streq(key, "uid") || streq(key, "gid")) {
		bool *has = key[0] == 's'   ? &p->has_size
			    : key[0] == 'u' ? &p->has_uid
					    : &p->has_gid;
		uint64_t *dst = key[0] == 's' ? &p->size : key[0] == 'u' ? &p->uid : &p->gid;

		*has = false;
		if (unset)
			return 0;
		e = pax_decimal(value, len, false, false, &v);
		if (e < 0)
			return fail(r, EBADMSG, "PAX %s is not a number%s", key,
				    e == -ERANGE ? " that fits in 63 bits" : "");
		*has = true;
		*dst = (uint64_t)v;
		return 0;
	}
	if (streq(key, "mtime")) {
		p->has_mtime = false;
		if (unset)
			return 0;
		if (pax_decimal(value, len, true, true, &v) < 0)
			return fail(r, EBADMSG, "PAX mtime is not a time");
		p->has_mtime = true;
		p->mtime = v;
		return 0;
	}
	/* atime, ctime, uname, gname, comment, charset, vendor keys: nothing kiln uses */
	return 0;
}

/* Records "LEN KEY=VALUE\n", LEN counting the whole record; all of @len must be records. */
static int pax_parse(struct kiln_tar_reader *r, const char *data, size_t len, struct pax_state *p)
{
	while (len > 0) {
		_cleanup_free_ char *key = NULL;
		const char *eq;
		size_t i = 0, n = 0;
		int e;

		while (i < len && data[i] >= '0' && data[i] <= '9') {
			n = n * 10 + (size_t)(data[i] - '0');
			if (n > len)
				return fail(r, EBADMSG, "PAX record longer than its header");
			i++;
		}
		if (i == 0 || i >= len || data[i] != ' ' || n < i + 4)
			return fail(r, EBADMSG, "malformed PAX record");
		if (data[n - 1] != '\n')
			return fail(r, EBADMSG, "PAX record not ended by a newline");
		eq = memchr(data + i + 1, '=', n - i - 2);
		if (!eq || eq == data + i + 1)
			return fail(r, EBADMSG, "PAX record without a key");
		if (memchr(data + i + 1, '\0', (size_t)(eq - data) - i - 1))
			return fail(r, EBADMSG, "PAX key holds a NUL byte");
		key = strndup(data + i + 1, (size_t)(eq - data) - i - 1);
		if (!key)
			return -ENOMEM;
		e = pax_apply(r, p, key, eq + 1, (size_t)(data + n - 1 - (eq + 1)));
		if (e < 0)
			return e;
		data += n;
		len -= n;
	}
	return 0;
}

/* The data of a metadata header ('x', 'g', 'L', 'K'), capped, padding consumed. */
static int read_meta(struct kiln_tar_reader *r, const struct tar_header *h, const char *what,
		     char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	uint64_t size;
	int e;

	e = field_u64(r, h->size, sizeof(h->size), "size", &size);
	if (e < 0)
		return e;
	if (size > KILN_TAR_META_MAX)
		return fail(r, E2BIG, "%s of %llu bytes (at most %u)", what,
			    (unsigned long long)size, KILN_TAR_META_MAX);
	buf = malloc((size_t)size + 1);
	if (!buf)
		return -ENOMEM;
	e = read_exact(r, buf, (size_t)size, what);
	if (e < 0)
		return e;
	buf[size] = '\0';
	e = skip_bytes(r, tar_padding(size), what);
	if (e < 0)
		return e;
	*ret_len = (size_t)size;
	*ret = TAKE_PTR(buf);
	return 0;
}

/* Entries whose size field says nothing of data: all known types but regular files. */
static bool is_header_only(char type)
{
	return type != KILN_TAR_REG && tar_type_is_known(type);
}

/* ---- entries --------------------------------------------------------------- */

static int xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct kiln_xattr *)a)->name, ((const struct kiln_xattr *)b)->name);
}

static int make_entry(struct kiln_tar_reader *r, const struct tar_header *h)
{
	struct kiln_tar_entry *e = &r->entry;
	bool posix = memcmp(h->magic, TAR_MAGIC_USTAR, 6) == 0;
	bool gnu = memcmp(h->magic, TAR_MAGIC_GNU, 8) == 0;
	uint64_t size, mode;
	int64_t mtime;
	int err;

	if (r->pax.path)
		e->path = TAKE_PTR(r->pax.path);
	else if (r->long_name)
		e->path = TAKE_PTR(r->long_name);
	else if (posix && h->prefix[0]) {
		_cleanup_free_ char *prefix = field_string(h->prefix, sizeof(h->prefix));
		_cleanup_free_ char *name = field_string(h->name, sizeof(h->name));

		if (!prefix || !name || asprintf(&e->path, "%s/%s", prefix, name) < 0)
			e->path = NULL;
		if (!e->path)
			return -ENOMEM;
	} else {
		e->path = field_string(h->name, sizeof(h->name));
	}
	if (!e->path)
		return -ENOMEM;
	if (!e->path[0])
		return fail(r, EBADMSG, "entry without a name");

	e->type = h->typeflag;
	if (e->type == TAR_TYPE_REGA)
		e->type = e->path[strlen(e->path) - 1] == '/' ? KILN_TAR_DIR : KILN_TAR_REG;
	else if (e->type == TAR_TYPE_CONT)
		e->type = KILN_TAR_REG;

	if (r->pax.linkpath)
		e->linkname = TAKE_PTR(r->pax.linkpath);
	else if (r->long_link)
		e->linkname = TAKE_PTR(r->long_link);
	else if (h->linkname[0])
		e->linkname = field_string(h->linkname, sizeof(h->linkname));
	if (h->linkname[0] && !e->linkname)
		return -ENOMEM;
	if ((e->type == KILN_TAR_LINK || e->type == KILN_TAR_SYMLINK) &&
	    (!e->linkname || !e->linkname[0]))
		return fail(r, EBADMSG, "link \"%s\" without a target", e->path);

	if ((err = field_u64(r, h->mode, sizeof(h->mode), "mode", &mode)) < 0 ||
	    (err = field_u64(r, h->uid, sizeof(h->uid), "uid", &e->uid)) < 0 ||
	    (err = field_u64(r, h->gid, sizeof(h->gid), "gid", &e->gid)) < 0 ||
	    (err = field_u64(r, h->size, sizeof(h->size), "size", &size)) < 0)
		return err;
	if (parse_numeric(h->mtime, sizeof(h->mtime), &mtime) < 0)
		return fail(r, EBADMSG, "header field mtime is not a number");
	e->mode = (uint32_t)(mode & 07777);
	e->mtime = mtime;
	if (r->pax.has_uid)
		e->uid = r->pax.uid;
	if (r->pax.has_gid)
		e->gid = r->pax.gid;
	if (r->pax.has_mtime)
		e->mtime = r->pax.mtime;
	if (r->pax.has_size)
		size = r->pax.size;
	if (e->type == KILN_TAR_CHAR || e->type == KILN_TAR_BLOCK) {
		uint64_t major = 0, minor = 0;

		if ((posix || gnu) &&
		    ((err = field_u64(r, h->devmajor, sizeof(h->devmajor), "devmajor", &major)) <
			 0 ||
		     (err = field_u64(r, h->devminor, sizeof(h->devminor), "devminor", &minor)) <
			 0))
			return err;
		if (major > UINT32_MAX || minor > UINT32_MAX)
			return fail(r, EBADMSG, "device number of \"%s\" out of range", e->path);
		e->devmajor = (uint32_t)major;
		e->devminor = (uint32_t)minor;
	}
	/* as Go: these types carry no data, whatever the size field says */
	e->size = is_header_only(e->type) ? 0 : size;
	e->xattrs = TAKE_PTR(r->pax.xattrs);
	e->n_xattrs = r->pax.n_xattrs;
	r->pax.n_xattrs = r->pax.alloc_xattrs = 0;
	if (e->n_xattrs > 1)
		qsort(e->xattrs, e->n_xattrs, sizeof(*e->xattrs), xattr_cmp);
	pax_release(&r->pax);
	free(r->long_name);
	free(r->long_link);
	r->long_name = r->long_link = NULL;
	r->has_meta = false;

	r->data_left = e->size;
	r->pad_left = tar_padding(e->size);
	r->data_offset = r->offset;
	r->n_entries++;
	return 1;
}

/* After a zero block: a second one (or the end of the stream) ends the archive. */
static int end_of_archive(struct kiln_tar_reader *r)
{
	char block[TAR_BLOCK];
	ssize_t n;

	n = read_full(r, block, sizeof(block));
	if (n < 0)
		return (int)n;
	if (n > 0 && (n < TAR_BLOCK || !is_zero(block, TAR_BLOCK)))
		return fail(r, EBADMSG, "a zero block inside the archive");
	if (r->has_meta)
		return fail(r, EBADMSG, "the archive ends after an extended header");
	r->done = true;
	return 0;
}

int kiln_tar_reader_next(struct kiln_tar_reader *r, const struct kiln_tar_entry **ret)
{
	struct tar_header h;
	int e;

	if (r->error)
		return r->error;
	if (r->done)
		return 0;
	e = skip_bytes(r, r->data_left, "file data");
	r->data_left = 0;
	if (e >= 0)
		e = skip_bytes(r, r->pad_left, "padding");
	r->pad_left = 0;
	if (e < 0)
		return e;
	entry_release(&r->entry);

	for (;;) {
		_cleanup_free_ char *data = NULL;
		ssize_t n;
		size_t len;

		n = read_full(r, &h, sizeof(h));
		if (n < 0)
			return (int)n;
		if (n == 0 && r->offset == 0) {
			/* an empty stream: an empty archive, as Go reads it */
			r->done = true;
			return 0;
		}
		if (n == 0)
			return fail(r, EBADMSG, "truncated archive: no end-of-archive blocks");
		if (n < TAR_BLOCK)
			return fail(r, EBADMSG,
				    "truncated archive: the stream ends inside a header");
		if (is_zero(&h, sizeof(h)))
			return end_of_archive(r);
		e = verify_checksum(r, &h);
		if (e < 0)
			return e;

		switch (h.typeflag) {
		case TAR_TYPE_PAX:
		case TAR_TYPE_PAX_GLOBAL:
			e = read_meta(r, &h, "a PAX header", &data, &len);
			if (e < 0)
				return e;
			if (h.typeflag == TAR_TYPE_PAX) {
				e = pax_parse(r, data, len, &r->pax);
				r->has_meta = true;
			} else {
				/* checked, then ignored: Go's archive/tar does not apply them */
				struct pax_state global = { 0 };

				e = pax_parse(r, data, len, &global);
				pax_release(&global);
			}
			if (e < 0)
				return e;
			continue;
		case TAR_TYPE_GNU_LONGNAME:
		case TAR_TYPE_GNU_LONGLINK:
			e = read_meta(r, &h, "a GNU long name", &data, &len);
			if (e < 0)
				return e;
			if (!data[0])
				return fail(r, EBADMSG, "empty GNU long name");
			/* up to the first NUL, as GNU tar writes it */
			if (h.typeflag == TAR_TYPE_GNU_LONGNAME) {
				free(r->long_name);
				r->long_name = TAKE_PTR(data);
			} else {
				free(r->long_link);
				r->long_link = TAKE_PTR(data);
			}
			r->has_meta = true;
			continue;
		case TAR_TYPE_GNU_SPARSE:
			return fail(r, EOPNOTSUPP, "sparse files are not supported");
		default:
			e = make_entry(r, &h);
			if (e < 0) {
				r->error = e;
				return e;
			}
			*ret = &r->entry;
			return 1;
		}
	}
}

ssize_t kiln_tar_reader_read(void *userdata, void *buf, size_t len)
{
	struct kiln_tar_reader *r = userdata;
	ssize_t n;

	if (r->error)
		return r->error;
	if (r->data_left == 0 || len == 0)
		return 0;
	if (len > r->data_left)
		len = (size_t)r->data_left;
	do {
		n = r->in(r->userdata, buf, len);
	} while (n == -EINTR);
	if (n < 0)
		return fail_input(r, (int)n);
	if (n == 0)
		return fail(r, EBADMSG,
			    "truncated archive: the stream ends inside the data of \"%s\"",
			    r->entry.path);
	r->offset += (uint64_t)n;
	r->data_left -= (uint64_t)n;
	return n;
}

/* ---- paths ----------------------------------------------------------------- */

int kiln_tar_path_clean(struct kiln_ctx *ctx, const char *path, char **ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *q = NULL;
	const char *p = path, *why = NULL;
	int err = EINVAL;
	char *clean;

	if (path[0] == '/')
		why = "an absolute path";
	while (!why && *p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			why = "a \"..\" component";
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			if ((sb.len && strbuf_addch(&sb, '/') < 0) || strbuf_add(&sb, p, len) < 0)
				return -ENOMEM;
			if (sb.len > KILN_TAR_PATH_MAX) {
				why = "longer than 4096 bytes";
				err = ENAMETOOLONG;
			}
		}
		p += len;
		if (*p == '/')
			p++;
	}
	if (why) {
		q = quote_for_message(path, strlen(path), 200);
		if (!q)
			return -ENOMEM;
		return kiln_error(ctx, err, "entry \"%s\": %s", q, why);
	}
	clean = strbuf_detach(&sb, NULL);
	if (!clean)
		return -ENOMEM;
	*ret = clean;
	return 0;
}
