/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "macro.h"
#include "srcmap.h"

int srcmap_add(struct srcmap *m, size_t out, size_t src, bool literal)
{
	int r;

	if (m->truncated)
		return 0;
	if (m->n >= SRCMAP_MAX_SEGMENTS) {
		m->truncated = true;
		return 0;
	}
	r = GROW(m->segs, m->alloc, m->n + 1);
	if (r < 0)
		return r;
	m->segs[m->n++] = (struct srcmap_segment){ .out = out, .src = src, .literal = literal };
	return 0;
}

/* The byte offset of @line:@col in @text, or SIZE_MAX when it lies outside. */
static size_t offset_of(const char *text, size_t len, unsigned line, unsigned col)
{
	size_t off = 0;

	for (unsigned l = 1; l < line; l++) {
		const char *nl = memchr(text + off, '\n', len - off);

		if (!nl)
			return SIZE_MAX;
		off = (size_t)(nl - text) + 1;
	}
	if (col == 0 || col - 1 > len - off)
		return SIZE_MAX;
	return off + col - 1;
}

static void line_col_of(const char *text, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 1;
	size_t bol = 0;

	for (const char *p = text, *end = text + off; (p = memchr(p, '\n', (size_t)(end - p))); p++) {
		l++;
		bol = (size_t)(p - text) + 1;
	}
	*line = l;
	*col = (unsigned)(off - bol + 1);
}

void srcmap_locate(const struct srcmap *m, unsigned *line, unsigned *col)
{
	size_t off, lo = 0, hi, src;
	const struct srcmap_segment *s;

	if (m->truncated || !m->out || m->n == 0)
		return;
	off = offset_of(m->out, m->out_len, *line, *col ? *col : 1);
	if (off == SIZE_MAX)
		return;

	/* the last segment starting at or before off */
	hi = m->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->segs[mid].out <= off)
			lo = mid;
		else
			hi = mid;
	}
	s = &m->segs[lo];
	if (s->out > off)
		return;
	src = s->literal ? s->src + (off - s->out) : s->src;
	if (src > m->src_len)
		return;
	line_col_of(m->src, src, line, col);
}

void srcmap_release(struct srcmap *m)
{
	free(m->segs);
	m->segs = NULL;
	m->n = m->alloc = 0;
}
