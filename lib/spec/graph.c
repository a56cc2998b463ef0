/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The stage graph: which packages a target needs, in an order that builds
 * every dependency before its dependents, and what each stage merges.
 */
#include <stdlib.h>
#include <string.h>

#include <kiln/spec.h>

#include "log.h"
#include "strbuf.h"

/* Far beyond any real tree (bldr's largest target is 46 stages deep at most). */
#define MAX_CHAIN 4096

enum mark {
	UNSEEN,
	ON_PATH,
	DONE,
};

struct resolver {
	struct kiln_ctx *ctx;
	const struct kiln_tree *tree;
	enum mark *marks;
	const struct kiln_pkg **path; /* the chain being followed, for cycle messages */
	size_t depth;
	const struct kiln_pkg **out;
	size_t n_out;
};

static size_t pkg_index(const struct kiln_tree *tree, const struct kiln_pkg *pkg)
{
	size_t lo = 0, hi = kiln_tree_n_pkgs(tree);

	/* packages are sorted by name and unique */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(pkg->name, kiln_tree_pkg(tree, mid)->name);

		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return SIZE_MAX;
}

static int cycle_error(struct resolver *r, const struct kiln_pkg *pkg)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	size_t start = 0;

	while (r->path[start] != pkg)
		start++;
	for (size_t i = start; i < r->depth; i++)
		strbuf_addf(&sb, "%s -> ", r->path[i]->name);
	strbuf_adds(&sb, pkg->name);
	return kiln_error(r->ctx, ELOOP, "circular dependency detected: %s", strbuf_str(&sb));
}

static int visit(struct resolver *r, const struct kiln_pkg *pkg)
{
	size_t i = pkg_index(r->tree, pkg);
	int k;

	if (r->marks[i] == DONE)
		return 0;
	if (r->marks[i] == ON_PATH)
		return cycle_error(r, pkg);
	if (r->depth >= MAX_CHAIN)
		return kiln_error(r->ctx, ELOOP, "dependency chain through \"%s\" is longer than %u",
				  pkg->name, MAX_CHAIN);

	r->marks[i] = ON_PATH;
	r->path[r->depth++] = pkg;
	for (size_t d = 0; d < pkg->n_deps; d++) {
		const struct kiln_dep *dep = &pkg->deps[d];
		const struct kiln_pkg *sub;

		if (!dep->stage)
			continue;
		sub = kiln_tree_find(r->tree, dep->stage);
		if (!sub)
			return kiln_error_at(r->ctx, ENOENT, pkg->file, dep->line, dep->col,
					     "package \"%s\" not defined, but \"%s\" depends on it",
					     dep->stage, pkg->name);
		k = visit(r, sub);
		if (k < 0)
			return k;
	}
	r->depth--;
	r->marks[i] = DONE;
	r->out[r->n_out++] = pkg;
	return 0;
}

int kiln_tree_resolve(struct kiln_ctx *ctx, const struct kiln_tree *tree,
		      const char *const *targets, size_t n_targets, const struct kiln_pkg ***ret,
		      size_t *ret_n)
{
	size_t n = kiln_tree_n_pkgs(tree);
	_cleanup_free_ enum mark *marks = calloc(n + 1, sizeof(*marks));
	_cleanup_free_ const struct kiln_pkg **path = calloc(n + 1, sizeof(*path));
	_cleanup_free_ const struct kiln_pkg **out = calloc(n + 1, sizeof(*out));
	struct resolver r;
	int k;

	if (!marks || !path || !out)
		return -ENOMEM;
	r = (struct resolver){
		.ctx = ctx, .tree = tree, .marks = marks, .path = path, .out = out,
	};
	for (size_t t = 0; t < n_targets; t++) {
		const struct kiln_pkg *pkg = kiln_tree_find(tree, targets[t]);

		if (!pkg)
			return kiln_error(ctx, ENOENT, "package \"%s\" not defined", targets[t]);
		k = visit(&r, pkg);
		if (k < 0)
			return k;
	}
	*ret = TAKE_PTR(out);
	*ret_n = r.n_out;
	return 0;
}

int kiln_tree_resolve_all(struct kiln_ctx *ctx, const struct kiln_tree *tree,
			  const struct kiln_pkg ***ret, size_t *ret_n)
{
	size_t n = kiln_tree_n_pkgs(tree);
	_cleanup_free_ const char **names = calloc(n + 1, sizeof(*names));

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		names[i] = kiln_tree_pkg(tree, i)->name;
	return kiln_tree_resolve(ctx, tree, names, n, ret, ret_n);
}

static bool same_dep(const struct kiln_dep *a, const struct kiln_dep *b)
{
	return streq(a->stage ? a->stage : a->image, b->stage ? b->stage : b->image) &&
	       streq(a->to, b->to);
}

struct dep_list {
	const struct kiln_dep **v;
	size_t n, alloc;
};

static int add_dep(struct dep_list *l, const struct kiln_dep *dep)
{
	int r;

	for (size_t i = 0; i < l->n; i++)
		if (same_dep(l->v[i], dep))
			return 0;
	r = GROW(l->v, l->alloc, l->n + 1);
	if (r < 0)
		return r;
	l->v[l->n++] = dep;
	return 1;
}

/* Append the runtime dependencies of stage @name, and theirs, after it. */
static int add_runtime_closure(struct kiln_ctx *ctx, const struct kiln_tree *tree,
			       const char *name, struct dep_list *l, unsigned depth)
{
	const struct kiln_pkg *pkg = kiln_tree_find(tree, name);
	int r;

	if (!pkg)
		return kiln_error(ctx, ENOENT, "package \"%s\" not defined", name);
	if (depth > MAX_CHAIN)
		return kiln_error(ctx, ELOOP, "runtime dependencies of \"%s\" form a cycle", name);
	for (size_t i = 0; i < pkg->n_deps; i++) {
		const struct kiln_dep *dep = &pkg->deps[i];

		if (!dep->runtime)
			continue;
		r = add_dep(l, dep);
		if (r < 0)
			return r;
		/* already present: its closure is already there too */
		if (r > 0 && dep->stage) {
			r = add_runtime_closure(ctx, tree, dep->stage, l, depth + 1);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int kiln_tree_effective_deps(struct kiln_ctx *ctx, const struct kiln_tree *tree,
			     const struct kiln_pkg *pkg, const struct kiln_dep ***ret,
			     size_t *ret_n)
{
	struct dep_list l = { 0 };
	int r;

	for (size_t i = 0; i < pkg->n_deps; i++) {
		const struct kiln_dep *dep = &pkg->deps[i];

		r = add_dep(&l, dep);
		if (r > 0 && dep->stage)
			r = add_runtime_closure(ctx, tree, dep->stage, &l, 0);
		if (r < 0) {
			free(l.v);
			return r;
		}
	}
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}
