/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "graph-dot.h"
#include "strmap.h"

void graph_dot_quoted(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_addch(sb, '\\');
		strbuf_addch(sb, *s);
	}
	strbuf_addch(sb, '"');
}

int graph_write_dot(struct strbuf *sb, const struct kiln_pkg **pkgs, size_t n,
		    graph_node_attrs_fn attrs, void *userdata)
{
	struct strmap images = STRMAP_INIT;

	strbuf_adds(sb, "digraph kiln {\n\tnode [shape=ellipse];\n");
	for (size_t i = 0; i < n; i++) {
		const char *extra = attrs ? attrs(userdata, pkgs[i]->name) : NULL;

		strbuf_addch(sb, '\t');
		graph_dot_quoted(sb, pkgs[i]->name);
		if (extra)
			strbuf_addf(sb, " [%s]", extra);
		strbuf_adds(sb, ";\n");
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t d = 0; d < pkgs[i]->n_deps; d++) {
			const struct kiln_dep *dep = &pkgs[i]->deps[d];

			if (dep->image && !strmap_get(&images, dep->image)) {
				if (strmap_set(&images, dep->image, "") < 0)
					goto oom;
				strbuf_addch(sb, '\t');
				graph_dot_quoted(sb, dep->image);
				strbuf_adds(
				    sb, " [shape=box, style=filled, fillcolor=lemonchiffon];\n");
			}
			strbuf_addch(sb, '\t');
			graph_dot_quoted(sb, graph_dep_name(dep));
			strbuf_adds(sb, " -> ");
			graph_dot_quoted(sb, pkgs[i]->name);
			strbuf_adds(sb, dep->runtime ? " [color=green, style=bold];\n" : ";\n");
		}
	}
	strbuf_adds(sb, "}\n");
	strmap_release(&images);
	return strbuf_error(sb);
oom:
	strmap_release(&images);
	return -ENOMEM;
}
