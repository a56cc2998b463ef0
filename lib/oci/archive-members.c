/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An archive's members, read by name for archive-import.c: the tar is
 * listed once, seeking past the data, and a member is then read by its
 * offset, following the links between members (skopeo writes
 * <id>/layer.tar as links) inside the archive, with a bound on hops.
 * Every member name goes through the same path checks as a layer entry.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/layer.h>

#include "layer-internal.h"
#include "log.h"
#include "strbuf.h"

#define MAX_MEMBERS (1u << 20)
#define MAX_LINK_HOPS 16

void archive_release(struct archive *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->m[i].name);
		free(a->m[i].linkname);
	}
	free(a->m);
	closep(&a->fd);
}

static ssize_t seq_read(void *userdata, void *buf, size_t len)
{
	struct archive *a = userdata;
	ssize_t n;

	do {
		n = read(a->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? kiln_error(a->ctx, errno, "cannot read \"%s\": %m", a->path) : n;
}

static int seq_skip(void *userdata, uint64_t n)
{
	struct archive *a = userdata;

	if (n > INT64_MAX || lseek(a->fd, (off_t)n, SEEK_CUR) < 0)
		return kiln_error(a->ctx, errno ? errno : EOVERFLOW, "cannot seek in \"%s\": %m",
				  a->path);
	return 0;
}

/* List the members of the tar on @fd (from offset 0): names, types, where their data is. */
int archive_open(struct kiln_ctx *ctx, int fd, const char *path, struct archive *a)
{
	_cleanup_(kiln_tar_reader_freep) struct kiln_tar_reader *tr = NULL;
	const struct kiln_tar_entry *e;
	enum kiln_compression c;
	unsigned char magic[6];
	struct stat st;
	ssize_t n;
	int r;

	*a = (struct archive){ .ctx = ctx, .path = path, .fd = -1 };
	/* a descriptor of its own (the archive closes it), read from the start */
	a->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (a->fd < 0)
		return kiln_error(ctx, errno, "cannot read \"%s\": %m", path);
	if (lseek(a->fd, 0, SEEK_SET) < 0)
		return kiln_error(ctx, errno, "cannot seek in \"%s\": %m", path);
	if (fstat(a->fd, &st) < 0)
		return kiln_error(ctx, errno, "cannot stat \"%s\": %m", path);
	if (!S_ISREG(st.st_mode))
		return kiln_error(ctx, EINVAL, "\"%s\" is not a file", path);
	n = pread(a->fd, magic, sizeof(magic), 0);
	if (n < 0)
		return kiln_error(ctx, errno, "cannot read \"%s\": %m", path);
	c = kiln_compression_detect(magic, (size_t)n);
	/* members are read by offset, which a compressed stream has none of */
	if (c != KILN_COMPRESSION_NONE)
		return kiln_error(ctx, EOPNOTSUPP, "\"%s\" is %s-compressed: decompress it first",
				  path, kiln_compression_name(c));
	r = kiln_tar_reader_new(ctx, seq_read, a, &tr);
	if (r < 0)
		return r;
	kiln_tar_reader_set_skip(tr, seq_skip);
	while ((r = kiln_tar_reader_next(tr, &e)) > 0) {
		_cleanup_free_ char *name = NULL, *link = NULL;

		r = kiln_tar_path_clean(ctx, e->path, &name);
		if (r < 0)
			break;
		if (e->linkname && !(link = strdup(e->linkname))) {
			r = -ENOMEM;
			break;
		}
		if (a->n >= MAX_MEMBERS) {
			r = kiln_error(ctx, E2BIG, "more than %u members", MAX_MEMBERS);
			break;
		}
		if (GROW(a->m, a->alloc, a->n + 1) < 0) {
			r = -ENOMEM;
			break;
		}
		a->m[a->n++] = (struct archive_member){
			.name = TAKE_PTR(name),
			.type = e->type,
			.linkname = TAKE_PTR(link),
			.offset = kiln_tar_reader_data_offset(tr),
			.size = e->size,
		};
	}
	if (r < 0)
		kiln_error_prefix(ctx, "\"%s\"", path);
	return r;
}

const struct archive_member *archive_member_named(const struct archive *a, const char *name)
{
	/* the last of equal names wins, as when the archive is extracted */
	for (size_t i = a->n; i-- > 0;)
		if (streq(a->m[i].name, name))
			return &a->m[i];
	return NULL;
}

/* @target of a symlink in @from's directory, kept inside the archive. */
static int join_link(const char *from, const char *target, char **ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *slash = strrchr(from, '/');
	char *path;

	if (target[0] != '/' && slash && strbuf_add(&sb, from, (size_t)(slash - from)) < 0)
		return -ENOMEM;
	for (const char *p = target; *p;) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *up;

			if (sb.len == 0)
				return -EXDEV;
			up = strrchr(sb.buf, '/');
			sb.len = up ? (size_t)(up - sb.buf) : 0;
			sb.buf[sb.len] = '\0';
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			if ((sb.len && strbuf_addch(&sb, '/') < 0) || strbuf_add(&sb, p, len) < 0)
				return -ENOMEM;
		}
		p = *end ? end + 1 : end;
	}
	path = strbuf_detach(&sb, NULL);
	if (!path)
		return -ENOMEM;
	*ret = path;
	return 0;
}

/* The regular file @name is, following links between members. */
int archive_find_file(const struct archive *a, const char *name, const struct archive_member **ret)
{
	_cleanup_free_ char *cur = NULL;
	int r;

	r = kiln_tar_path_clean(a->ctx, name, &cur);
	if (r < 0)
		return r;
	for (unsigned hops = 0; hops <= MAX_LINK_HOPS; hops++) {
		const struct archive_member *m = archive_member_named(a, cur);
		char *next = NULL;

		if (!m)
			return kiln_error(a->ctx, ENOENT, "\"%s\" has no member \"%s\"", a->path,
					  cur);
		if (m->type == KILN_TAR_REG) {
			*ret = m;
			return 0;
		}
		if (m->type == KILN_TAR_LINK)
			r = kiln_tar_path_clean(a->ctx, m->linkname, &next);
		else if (m->type == KILN_TAR_SYMLINK)
			r = join_link(cur, m->linkname, &next);
		else
			return kiln_error(a->ctx, EINVAL, "\"%s\": member \"%s\" is not a file",
					  a->path, cur);
		if (r == -EXDEV)
			return kiln_error(a->ctx, EXDEV,
					  "\"%s\": member \"%s\" links outside the "
					  "archive",
					  a->path, cur);
		if (r < 0)
			return r;
		free(cur);
		cur = next;
	}
	return kiln_error(a->ctx, ELOOP, "\"%s\": too many links from member \"%s\"", a->path,
			  name);
}

ssize_t archive_range_read(void *userdata, void *buf, size_t len)
{
	struct archive_range *rg = userdata;
	ssize_t n;

	if (rg->left == 0)
		return 0;
	if (len > rg->left)
		len = (size_t)rg->left;
	do {
		n = pread(rg->a->fd, buf, len, (off_t)rg->off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return kiln_error(rg->a->ctx, errno, "cannot read \"%s\": %m", rg->a->path);
	if (n == 0)
		return kiln_error(rg->a->ctx, EBADMSG, "\"%s\" is truncated inside member \"%s\"",
				  rg->a->path, rg->name);
	rg->off += (uint64_t)n;
	rg->left -= (uint64_t)n;
	return n;
}

int archive_read_member(const struct archive *a, const char *name, size_t max, char **ret,
			size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	const struct archive_member *m;
	struct archive_range rg;
	size_t got = 0;
	int r;

	r = archive_find_file(a, name, &m);
	if (r < 0)
		return r;
	if (m->size > max)
		return kiln_error(a->ctx, E2BIG,
				  "\"%s\": member \"%s\" is %llu bytes (at most %zu)", a->path,
				  name, (unsigned long long)m->size, max);
	buf = malloc((size_t)m->size + 1);
	if (!buf)
		return -ENOMEM;
	rg = (struct archive_range){ (struct archive *)a, m->name, m->offset, m->size };
	while (got < m->size) {
		ssize_t n = archive_range_read(&rg, buf + got, (size_t)m->size - got);

		if (n < 0)
			return (int)n;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = got;
	return 0;
}
