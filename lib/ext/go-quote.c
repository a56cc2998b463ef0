/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Go's strconv.Quote, which fmt's %q uses for strings. Talos and blang/semver
 * quote hostile values with it, so kiln's copies of their messages must too.
 */
#include <errno.h>

#include "go-quote.h"
#include "utf8.h"

size_t go_decode_rune(const char *s, size_t len, uint32_t *ret_rune)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = utf8_sequence_len(u, len);
	uint32_t c;

	if (n == 0) {
		*ret_rune = 0xfffd;
		return 1;
	}
	if (n == 1)
		c = u[0];
	else if (n == 2)
		c = (uint32_t)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
	else if (n == 3)
		c = (uint32_t)(u[0] & 0x0f) << 12 | (uint32_t)(u[1] & 0x3f) << 6 | (u[2] & 0x3f);
	else
		c = (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3f) << 12 |
		    (uint32_t)(u[2] & 0x3f) << 6 | (u[3] & 0x3f);
	*ret_rune = c;
	return n;
}

/*
 * unicode.IsPrint for a rune past ASCII: letters, marks, numbers,
 * punctuation and symbols. What is left out here are the spaces, controls,
 * format characters, private use, noncharacters and the large unassigned
 * planes; a code point unassigned among assigned ones would need Go's
 * tables, and passes as printable.
 */
static bool go_is_print(uint32_t c)
{
	static const struct {
		uint32_t lo, hi;
	} not_print[] = {
		/* C1 controls and the no-break space, the soft hyphen */
		{ 0x80, 0xa0 },
		{ 0xad, 0xad },
		/* format characters (Cf) */
		{ 0x600, 0x605 },
		{ 0x61c, 0x61c },
		{ 0x6dd, 0x6dd },
		{ 0x70f, 0x70f },
		{ 0x890, 0x891 },
		{ 0x8e2, 0x8e2 },
		{ 0x180e, 0x180e },
		{ 0x110bd, 0x110bd },
		{ 0x110cd, 0x110cd },
		{ 0x13430, 0x1343f },
		{ 0x1bca0, 0x1bca3 },
		{ 0x1d173, 0x1d17a },
		/* spaces, separators and format characters of General Punctuation */
		{ 0x1680, 0x1680 },
		{ 0x2000, 0x200f },
		{ 0x2028, 0x202f },
		{ 0x205f, 0x206f },
		{ 0x3000, 0x3000 },
		/* surrogates, private use, noncharacters, the BOM, interlinear annotation */
		{ 0xd800, 0xf8ff },
		{ 0xfdd0, 0xfdef },
		{ 0xfeff, 0xfeff },
		{ 0xfff9, 0xfffb },
		/* the large unassigned areas past the CJK ideographs, tags */
		{ 0x2fa20, 0x2ffff },
		{ 0x323b0, 0xdffff },
		{ 0xe0000, 0xe00ff },
		{ 0xe01f0, 0x10ffff },
	};

	if ((c & 0xfffe) == 0xfffe)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(not_print); i++)
		if (c >= not_print[i].lo && c <= not_print[i].hi)
			return false;
	return true;
}

int strbuf_add_go_quoted(struct strbuf *sb, const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;
	int r = strbuf_addch(sb, '"');

	for (size_t i = 0; i < n && r >= 0;) {
		uint32_t c;
		size_t w = go_decode_rune(s + i, len - i, &c);

		if (c == 0xfffd && w == 1)
			r = strbuf_addf(sb, "\\x%02x", (unsigned char)s[i]);
		else if (c == '"' || c == '\\')
			r = strbuf_addf(sb, "\\%c", (char)c);
		else if (c >= 0x20 && c < 0x7f)
			r = strbuf_addch(sb, (char)c);
		else if (c >= 0x80 && go_is_print(c))
			r = strbuf_add(sb, s + i, w);
		else if (c == '\a')
			r = strbuf_adds(sb, "\\a");
		else if (c == '\b')
			r = strbuf_adds(sb, "\\b");
		else if (c == '\f')
			r = strbuf_adds(sb, "\\f");
		else if (c == '\n')
			r = strbuf_adds(sb, "\\n");
		else if (c == '\r')
			r = strbuf_adds(sb, "\\r");
		else if (c == '\t')
			r = strbuf_adds(sb, "\\t");
		else if (c == '\v')
			r = strbuf_adds(sb, "\\v");
		else if (c < 0x80)
			r = strbuf_addf(sb, "\\x%02x", (unsigned)c);
		else if (c < 0x10000)
			r = strbuf_addf(sb, "\\u%04x", (unsigned)c);
		else
			r = strbuf_addf(sb, "\\U%08x", (unsigned)c);
		i += w;
	}
	if (r >= 0)
		r = strbuf_addch(sb, '"');
	if (r >= 0 && n < len)
		r = strbuf_adds(sb, "...");
	return r < 0 ? -ENOMEM : 0;
}
