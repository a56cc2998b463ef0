/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One operation on many module files, spread over threads: read them (what
 * kiln module info shows), sign them, verify them. Each thread has its own
 * context, as a context's last error belongs to one thread; the results
 * come back on the calling thread in the order of the paths, a window at a
 * time, so that ten thousand modules are never all held at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/module.h>

#include "log.h"
#include "macro.h"
#include "parallel.h"

/*
 * Results held at once: enough that no thread waits for the one handing
 * them back. A module read for INFO is held whole (a few hundred KB), and
 * with more of them alive than threads glibc gives the memory back and
 * faults it in again at every turn: a third more system time for module
 * info; with two more than threads it stays within a tenth of reading
 * and printing each on the same thread.
 * What SIGN and VERIFY hand back is small.
 */
#define WINDOW_INFO_EXTRA 2
#define WINDOW_PER_JOB 16

struct batch {
	const struct kiln_module_batch_options *o;
	char *const *paths;
	struct kiln_ctx **ctxs; /* one per thread */
	struct kiln_module_batch_item *slots; /* item i in slot i % window */
	size_t window;
};

static void item_release(struct kiln_module_batch_item *item)
{
	free(item->error);
	kiln_module_free(item->module);
	free(item->params);
	kiln_module_sig_release(&item->sig);
	kiln_verify_result_release(&item->verify);
	*item = (struct kiln_module_batch_item){ 0 };
}

/* Read one module: the file, its parameters, its signature. */
static int info_one(struct kiln_ctx *ctx, struct kiln_module_batch_item *item)
{
	int r;

	r = kiln_module_open(ctx, item->path, &item->module);
	if (r < 0)
		return r;
	r = kiln_module_params(item->module, &item->params, &item->n_params, &item->n_bad_params);
	if (r < 0)
		return r;
	return kiln_module_sig_describe(ctx, item->module, &item->sig);
}

static void run_one(size_t i, unsigned worker, void *userdata)
{
	struct batch *b = userdata;
	struct kiln_ctx *ctx = b->ctxs[worker];
	struct kiln_module_batch_item *item = &b->slots[i % b->window];
	const char *why;
	int r = 0;

	*item = (struct kiln_module_batch_item){ .index = i, .path = b->paths[i] };
	switch (b->o->op) {
	case KILN_MODULE_BATCH_INFO:
		r = info_one(ctx, item);
		break;
	case KILN_MODULE_BATCH_SIGN:
		r = kiln_module_sign_file(ctx, b->o->signer, item->path, b->o->sign_flags,
					  &item->sign);
		break;
	case KILN_MODULE_BATCH_VERIFY:
		r = kiln_verify_file(ctx, b->o->verifier, item->path, &item->verify);
		break;
	}
	item->r = r < 0 ? r : 0;
	if (r >= 0)
		return;
	/* a failed item holds only why */
	kiln_module_free(TAKE_PTR(item->module));
	why = kiln_ctx_error(ctx);
	item->error = why ? strdup(why) : NULL;
	kiln_ctx_clear_error(ctx);
}

static int deliver(size_t i, void *userdata)
{
	struct batch *b = userdata;
	struct kiln_module_batch_item *item = &b->slots[i % b->window];
	int r;

	r = b->o->on_item(item, b->o->userdata);
	item_release(item);
	return r;
}

static void progress(size_t done, size_t n, void *userdata)
{
	const struct batch *b = userdata;

	b->o->on_progress(done, n, b->o->userdata);
}

int kiln_module_batch(struct kiln_ctx *ctx, char *const *paths, size_t n,
		      const struct kiln_module_batch_options *o)
{
	struct batch b = { .o = o, .paths = paths };
	unsigned jobs = o->jobs ? o->jobs : kiln_cpus_online();
	int r = 0;

	if (!o->on_item || (o->op == KILN_MODULE_BATCH_SIGN && !o->signer) ||
	    (o->op == KILN_MODULE_BATCH_VERIFY && !o->verifier))
		return kiln_error(ctx, EINVAL,
				  "module batch: the options lack what the operation "
				  "needs (on_item, a signer, a verifier)");
	if (n == 0)
		return 0;
	if (jobs > n)
		jobs = (unsigned)n;
	b.window = o->op == KILN_MODULE_BATCH_INFO ? jobs + WINDOW_INFO_EXTRA
						   : (size_t)jobs * WINDOW_PER_JOB;
	if (b.window > n)
		b.window = n;
	b.ctxs = calloc(jobs, sizeof(*b.ctxs));
	b.slots = calloc(b.window, sizeof(*b.slots));
	if (!b.ctxs || !b.slots)
		r = -ENOMEM;
	for (unsigned t = 0; t < jobs && r >= 0; t++)
		r = kiln_ctx_new(&b.ctxs[t]);
	if (r >= 0)
		r = kiln_parallel_ordered(n, jobs, b.window, run_one, deliver,
					  o->on_progress ? progress : NULL, &b);
	/* stopped by on_item: what ran after it was never handed back */
	for (size_t i = 0; b.slots && i < b.window; i++)
		item_release(&b.slots[i]);
	for (unsigned t = 0; b.ctxs && t < jobs; t++)
		kiln_ctx_free(b.ctxs[t]);
	free(b.slots);
	free(b.ctxs);
	if (r == -ENOMEM)
		return kiln_error(ctx, ENOMEM, "module batch: out of memory");
	return r;
}
