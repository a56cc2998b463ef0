/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Where the bytes of a rendered template came from, so that an error found
 * in the rendered text (by the YAML parser, say) can name the line and
 * column of the template the user wrote. Text copied from the template maps
 * byte for byte; what an action printed maps to the operand that printed it.
 */

#include <stdbool.h>
#include <stddef.h>

struct srcmap_segment {
	size_t out; /* offset in the rendered text where the segment starts */
	size_t src; /* offset in the template */
	bool literal; /* copied text (maps byte for byte) or an action's output */
};

/* Hostile templates with millions of actions get no map past this many segments. */
#define SRCMAP_MAX_SEGMENTS ((size_t)1 << 20)

struct srcmap {
	const char *src; /* the template, not owned */
	size_t src_len;
	const char *out; /* the rendered text, not owned; set once rendering is done */
	size_t out_len;
	struct srcmap_segment *segs;
	size_t n, alloc;
	bool truncated;
};

/* Record that rendered offset @out came from template offset @src. Returns 0 or -ENOMEM. */
int srcmap_add(struct srcmap *m, size_t out, size_t src, bool literal);

/*
 * Turn @line:@col (1-based) of the rendered text into the template's, in
 * place. Leaves them alone when the map cannot tell (it was truncated, or the
 * position lies outside the text).
 */
void srcmap_locate(const struct srcmap *m, unsigned *line, unsigned *col);

void srcmap_release(struct srcmap *m);
