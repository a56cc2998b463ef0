/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The template engine: the subset of Go's text/template (with the sprig
 * functions bldr offers) that bldr package trees use. Rendering is textual.
 *
 * Supported: text with {{ actions }}; {{ .X }} (flat keys only; a missing key
 * prints "<no value>" and is false); {{ if P }}, {{ else if P }}, {{ else }},
 * {{ end }}; pipelines "a | f x y" where the piped value is the last
 * argument; string literals "..." with Go escapes and `raw` strings; integer
 * literals; the functions eq, ne, replace, trimPrefix, substr and
 * regexReplaceAll (Go RE2 syntax, ${1} in replacements).
 */

#include <stddef.h>

#include <kiln/kiln.h>

#include "srcmap.h"
#include "strmap.h"


/**
 * kiln_template_render() - render a template over a set of variables
 * @ctx: library context, for the error text
 * @file: the name errors are reported against ("pkgs/a/pkg.yaml")
 * @text: the template, @len bytes (need not be NUL-terminated)
 * @vars: the variables; a key missing here renders as "<no value>"
 * @ret_out: the rendered text, NUL-terminated, owned by the caller
 * @ret_len: its length (may be NULL)
 *
 * Errors (unknown function, unclosed action, a missing {{ end }}, wrong
 * argument count or type, a bad regular expression) are recorded on @ctx as
 * "@file:line:col: what", and -EINVAL is returned. Returns 0 on success.
 */
int kiln_template_render(struct kiln_ctx *ctx, const char *file, const char *text, size_t len,
			 const struct strmap *vars, char **ret_out, size_t *ret_len);

/*
 * kiln_template_render() that also fills @map (zero-initialized by the
 * caller, released with srcmap_release()) with where each byte of the output
 * came from. The map points into @text and *@ret_out, which must outlive it.
 */
int kiln_template_render_mapped(struct kiln_ctx *ctx, const char *file, const char *text,
				size_t len, const struct strmap *vars, char **ret_out,
				size_t *ret_len, struct srcmap *map);
