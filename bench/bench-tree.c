/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-tree: load, render and graph a whole package tree, many times, and
 * print the time of one round (min and median). A round is what every kiln
 * command pays before it does anything: discovery, every vars.yaml and
 * pkg.yaml rendered and parsed, every template rendered, and the stage graph
 * of every package resolved.
 *
 *   bench-tree ROOT [ROUNDS] [--build-arg K=V]...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kiln/spec.h>

#include "macro.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int one_round(struct kiln_ctx *ctx, const char *root, const struct kiln_tree_options *o,
		     size_t *ret_stages)
{
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	_cleanup_free_ const struct kiln_pkg **order = NULL;
	size_t n, n_order, stages = 0;
	int r;

	r = kiln_tree_load(ctx, root, o, &tree);
	if (r < 0)
		return r;
	n = kiln_tree_n_pkgs(tree);
	/* the graph of every target, one at a time, as `kiln graph -t` would draw it */
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ const struct kiln_pkg **one = NULL;
		const char *name = kiln_tree_pkg(tree, i)->name;
		size_t n_one;

		r = kiln_tree_resolve(ctx, tree, &name, 1, &one, &n_one);
		if (r < 0)
			return r;
		stages += n_one;
	}
	r = kiln_tree_resolve_all(ctx, tree, &order, &n_order);
	if (r < 0)
		return r;
	*ret_stages = stages;
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	struct kiln_tree_options o = { .platform = "linux/amd64" };
	_cleanup_free_ double *t = NULL;
	int rounds = 50;
	size_t stages = 0;
	char **args;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-tree ROOT [ROUNDS] [--build-arg K=V]...\n");
		return 2;
	}
	args = calloc((size_t)argc, sizeof(*args));
	if (!args)
		return 1;
	for (int i = 2; i < argc; i++) {
		if (streq(argv[i], "--build-arg") && i + 1 < argc)
			args[o.n_build_args++] = argv[++i];
		else
			rounds = (int)strtol(argv[i], NULL, 10) > 0 ? (int)strtol(argv[i], NULL, 10) : rounds;
	}
	o.build_args = args;
	t = calloc((size_t)rounds, sizeof(*t));
	if (!t || kiln_ctx_new(&ctx) < 0)
		return 1;

	for (int i = 0; i < rounds; i++) {
		double start = now_ms();
		int r = one_round(ctx, argv[1], &o, &stages);

		if (r < 0) {
			fprintf(stderr, "bench-tree: %s\n", kiln_ctx_error(ctx));
			return 1;
		}
		t[i] = now_ms() - start;
	}
	qsort(t, (size_t)rounds, sizeof(*t), cmp_double);
	printf("bench-tree: %s: %d rounds, %zu stages resolved a round: min %.2f ms, median %.2f ms\n",
	       argv[1], rounds, stages, t[0], t[rounds / 2]);
	free(args);
	return 0;
}
