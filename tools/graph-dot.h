/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The stage graph in graphviz's dot language, as `kiln graph` prints it and
 * the build report draws it.
 */

#include <kiln/spec.h>

#include "strbuf.h"

/* What a dependency is called on the graph: its stage, or its image. */
static inline const char *graph_dep_name(const struct kiln_dep *d)
{
	return d->stage ? d->stage : d->image;
}

/* Extra attributes of the node of stage @name ("class=\"built\", fillcolor=..."), or NULL. */
typedef const char *(*graph_node_attrs_fn)(void *userdata, const char *name);

/*
 * The graph of @pkgs (edges from a dependency to the package that uses it;
 * images are yellow boxes and runtime dependencies green and bold, as
 * 'bldr graph' draws them) appended to @sb; @attrs (may be NULL) adds to a
 * stage's node. Returns 0, or -ENOMEM with @sb incomplete.
 */
int graph_write_dot(struct strbuf *sb, const struct kiln_pkg **pkgs, size_t n,
		    graph_node_attrs_fn attrs, void *userdata);

/* @s as a dot quoted string ("a \"b\"") appended to @sb. */
void graph_dot_quoted(struct strbuf *sb, const char *s);
