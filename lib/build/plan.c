/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A build as a CI engine runs it: the stages the targets need, each with
 * the stages it merges, so that a job per stage can wait for exactly
 * those. With keys, each stage whose inputs are all known gets its cache
 * key and is looked up in the registry caches the jobs share (the
 * planner's own store is no runner's); a hit gives the output digest the stages above it
 * need for their keys. A miss leaves every stage above it unkeyed: its
 * output, and so their keys, exist only once it has been built.
 */
#include <stdlib.h>
#include <string.h>

#include "build-internal.h"
#include "log.h"

void kiln_plan_stages_free(struct kiln_plan_stage *p, size_t n)
{
	if (!p)
		return;
	for (size_t i = 0; i < n; i++)
		free(p[i].deps);
	free(p);
}

static size_t stage_index(const struct build *b, const struct stage *st)
{
	return (size_t)(st - b->stages);
}

/* Key stage @st of @b when its inputs are known, and look it up: fills @p. */
static int key_stage(struct kiln_ctx *ctx, struct build *b, struct stage *st,
		     struct kiln_plan_stage *p)
{
	int r;

	for (size_t i = 0; i < st->n_inputs; i++) {
		struct stage *dep = st->inputs[i].stage;

		if (!dep)
			continue;
		if (!dep->cached)
			return 0;
		st->inputs[i].digest = dep->digest;
	}
	r = stage_list_files(ctx, b, st);
	if (r >= 0)
		r = stage_compute_key(ctx, b, st);
	if (r < 0)
		return r;
	p->keyed = true;
	memcpy(p->key, st->key, sizeof(p->key));
	/* its output is its one dependency's image: the dependents' jobs make it at no cost */
	if (stage_passes_through(st)) {
		st->digest = st->inputs[0].digest;
		r = 1;
	} else {
		r = cache_remote_lookup(ctx, b, st, &st->digest);
	}
	if (r < 0)
		return r;
	st->cached = p->cached = r > 0;
	p->digest = st->digest;
	return 0;
}

/* The plan's entry for stage @st: its name, dependencies and whether it is a target. */
static int fill_stage(const struct build *b, const struct stage *st, const char *const *targets,
		      size_t n_targets, struct kiln_plan_stage *p)
{
	p->name = st->pkg->name;
	for (size_t i = 0; i < n_targets; i++)
		if (streq(targets[i], p->name))
			p->target = true;
	p->deps = calloc(st->n_deps ? st->n_deps : 1, sizeof(*p->deps));
	if (!p->deps)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_deps; i++)
		p->deps[i] = stage_index(b, st->deps[i]);
	p->n_deps = st->n_deps;
	return 0;
}

static int plan_setup(struct build *b)
{
	int r = kiln_platform_parse(b->ctx, kiln_tree_platform(b->tree), &b->platform);

	if (r >= 0)
		r = build_hash_secrets(b);
	if (r >= 0)
		r = cache_remote_setup(b);
	return r;
}

int kiln_build_plan(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_tree *tree,
		    const char *const *targets, size_t n_targets, const struct kiln_plan_options *o,
		    struct kiln_plan_stage **ret, size_t *ret_n)
{
	static const struct kiln_build_options no_options = { 0 };
	struct build b = {
		.ctx = ctx,
		.store = s,
		.tree = tree,
		.o = o->build ? o->build : &no_options,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.log_lock = PTHREAD_MUTEX_INITIALIZER,
		.cache_mounts = CACHE_MOUNTS_INIT,
		.changed = PTHREAD_COND_INITIALIZER,
	};
	struct kiln_plan_stage *p = NULL;
	int r;

	r = o->keys ? plan_setup(&b) : 0;
	if (r >= 0)
		r = build_make_stages(&b, targets, n_targets, o->keys);
	if (r >= 0) {
		p = calloc(b.n_stages ? b.n_stages : 1, sizeof(*p));
		if (!p)
			r = -ENOMEM;
	}
	for (size_t i = 0; r >= 0 && i < b.n_stages; i++) {
		r = fill_stage(&b, &b.stages[i], targets, n_targets, &p[i]);
		if (r >= 0 && o->keys)
			r = key_stage(ctx, &b, &b.stages[i], &p[i]);
	}
	if (r >= 0) {
		*ret = p;
		*ret_n = b.n_stages;
	} else {
		kiln_plan_stages_free(p, b.n_stages);
	}
	build_release(&b);
	return r;
}
