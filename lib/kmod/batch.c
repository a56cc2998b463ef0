/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One operation on many module files, spread over threads: read them (what
 * kiln module info shows), sign them, verify them. Each thread has its own
 * context, as a context's last error belongs to one thread; the results
 * come back on the calling thread in the order of the paths, a window at a
 * time, so that ten thousand modules are never all held at once.
 *
 * Signing changes files, and changes all of them or none: each module is
 * signed into a file beside it, and only once every module is done are
 * they renamed into place. A module that fails for what it is (already
 * signed, not a module) is reported and the others are signed; one that
 * fails for want of memory or disk space stops the run, and the files
 * written are removed, so that no tree is left half signed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/resource.h>

#include <kiln/module.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "module-file.h"
#include "parallel.h"

/*
 * Results held at once: enough that no thread waits for the one handing
 * them back. A module read for INFO is held whole (a few hundred KB), and
 * with more of them alive than threads glibc gives the memory back and
 * faults it in again at every turn: a third more system time for module
 * info; with two more than threads it stays within a tenth of reading
 * and printing each on the same thread.
 * What VERIFY hands back is small. SIGN holds every module until all are
 * signed: a few hundred bytes and a file name each.
 */
#define WINDOW_INFO_EXTRA 2
#define WINDOW_PER_JOB 16

struct slot {
	struct kiln_module_batch_item item;
	struct kmod_signed staged; /* SIGN: the signed module, until it is renamed into place */
};

struct batch {
	const struct kiln_module_batch_options *o;
	char *const *paths;
	struct kiln_ctx **ctxs; /* one per thread */
	unsigned threads;
	struct slot *slots; /* item i in slot i % window */
	size_t window;
	size_t stopped_by; /* SIGN: the item whose failure stopped the run */
};

static void slot_release(struct slot *slot)
{
	struct kiln_module_batch_item *item = &slot->item;

	free(item->error);
	kiln_module_free(item->module);
	free(item->params);
	kiln_module_sig_release(&item->sig);
	kiln_verify_result_release(&item->verify);
	*item = (struct kiln_module_batch_item){ 0 };
	kmod_signed_release(&slot->staged);
}

/* Out of memory or disk space: nothing about the module, and the next would fail alike. */
static bool stops_signing(int r)
{
	return r == -ENOMEM || r == -ENOSPC || r == -EDQUOT;
}

/* The item's failure, in its own words if @ctx has any: recorded on it, cleared from @ctx. */
static void item_failed(struct kiln_ctx *ctx, struct kiln_module_batch_item *item, int r)
{
	const char *why = kiln_ctx_error_for(ctx, r);

	item->r = r;
	item->error = why ? strdup(why) : NULL;
	kiln_ctx_clear_error(ctx);
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
	struct slot *slot = &b->slots[i % b->window];
	struct kiln_module_batch_item *item = &slot->item;
	int r = 0;

	*item = (struct kiln_module_batch_item){ .index = i, .path = b->paths[i] };
	switch (b->o->op) {
	case KILN_MODULE_BATCH_INFO:
		r = info_one(ctx, item);
		break;
	case KILN_MODULE_BATCH_SIGN:
		r = kmod_sign_file_stage(ctx, b->o->signer, item->path, b->o->sign_flags, false,
					 &item->sign, &slot->staged);
		break;
	case KILN_MODULE_BATCH_VERIFY:
		r = kiln_verify_file(ctx, b->o->verifier, item->path, &item->verify);
		break;
	}
	item->r = r < 0 ? r : 0;
	if (r >= 0)
		return;
	/* a failed item holds only why: the message recorded with its error, if any */
	kiln_module_free(TAKE_PTR(item->module));
	item_failed(ctx, item, r);
}

static int deliver(size_t i, void *userdata)
{
	struct batch *b = userdata;
	struct slot *slot = &b->slots[i % b->window];
	int r;

	if (b->o->op == KILN_MODULE_BATCH_SIGN) {
		/* held until every module is signed: handed on by sign_commit() */
		if (stops_signing(slot->item.r)) {
			b->stopped_by = i;
			return slot->item.r;
		}
		return 0;
	}
	r = b->o->on_item(&slot->item, b->o->userdata);
	slot_release(slot);
	return r;
}

/* a file that could not be put in place is its item's failure, as any other */
static void rename_one(size_t i, unsigned worker, void *userdata)
{
	struct batch *b = userdata;
	struct slot *slot = &b->slots[i];
	int r;

	if (slot->item.r < 0)
		return;
	r = kmod_signed_rename(b->ctxs[worker], &slot->staged);
	if (r < 0)
		item_failed(b->ctxs[worker], &slot->item, r);
}

/*
 * The signed files on disk before any name points at one: a syncfs(2) of
 * each file system they were written to, once, where an fsync of each
 * file cost nearly as much as its signature (300 modules on ext4: 3.6 ms
 * a module beside 4.1 ms, 1.41 times the RSA floor in all; 1.22 with one
 * syncfs, 1.08 on tmpfs). A file system that reports a write-back error
 * here fails the run before any module is renamed.
 */
static int sign_sync(struct kiln_ctx *ctx, struct batch *b, size_t n)
{
	dev_t done[8];
	size_t n_done = 0;

	for (size_t i = 0; i < n; i++) {
		const struct kmod_signed *f = &b->slots[i].staged;
		bool seen = false;
		int r;

		if (b->slots[i].item.r < 0 || !f->file.tmp)
			continue;
		for (size_t d = 0; d < n_done && !seen; d++)
			seen = done[d] == f->dev;
		if (seen)
			continue;
		r = sync_fs_of(f->file.tmp);
		if (r < 0)
			return kiln_error(ctx, r,
					  "'%s': the signed modules could not be written to disk: "
					  "%s; no module was signed",
					  f->file.path, strerror(-r));
		/* more file systems than that: some are synced twice */
		if (n_done < ELEMENTSOF(done))
			done[n_done++] = f->dev;
	}
	return 0;
}

/*
 * Every module signed beside itself (the window holds them all): on disk
 * at once, then put in place, then each item handed on, in order. The
 * renames run on the threads too: each frees the blocks of the module it
 * replaces, which on a journalling file system can wait for the journal
 * as an fsync does: one after another, 300 of them took from 0.06 s to
 * 1.3 s on an ext4 shared with other writers, up to a quarter of the run.
 */
static int sign_commit(struct kiln_ctx *ctx, struct batch *b, size_t n)
{
	int r = sign_sync(ctx, b, n);

	if (r < 0)
		return r;
	kiln_parallel_for(n, b->threads, rename_one, NULL, b);
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = b->o->on_item(&b->slots[i].item, b->o->userdata);
		slot_release(&b->slots[i]);
	}
	return r < 0 ? r : 0;
}

/*
 * The modules' directories, held while a signing run lasts (a shared
 * flock on each): a signed file staged beside its module is closed, so no
 * longer locked itself, and another run's sweep would take it for a
 * leftover and remove it. A run sweeps a directory (what a killed run
 * left: signed files under hidden temporary names, never renamed) only
 * when no other run holds it; the next run finds the rest. Once per
 * directory in a row of paths, for at most half the descriptors the
 * process may open (a Debian kernel's modules lie in about 800
 * directories; the signing threads need descriptors too); a directory
 * past that, or that cannot be opened (its modules' own errors say why),
 * is neither held nor swept.
 */
struct held_dirs {
	int *fd;
	size_t n;
};

static void held_dirs_release(struct held_dirs *h)
{
	for (size_t i = 0; i < h->n; i++)
		close(h->fd[i]);
	free(h->fd);
	*h = (struct held_dirs){ 0 };
}

static int hold_dirs(char *const *paths, size_t n, struct held_dirs *h)
{
	const char *last = NULL;
	size_t last_len = 0, max = n;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 2 < max)
		max = rl.rlim_cur / 2;
	h->fd = calloc(n, sizeof(*h->fd));
	if (!h->fd)
		return -ENOMEM;
	for (size_t i = 0; i < n && h->n < max; i++) {
		const char *slash = strrchr(paths[i], '/');
		size_t len = slash ? (size_t)(slash - paths[i]) + 1 : 0;
		_cleanup_free_ char *dir = NULL;
		int fd;

		if (last && len == last_len && strncmp(paths[i], last, len) == 0)
			continue;
		last = paths[i];
		last_len = len;
		dir = dir_of(paths[i]);
		if (!dir)
			return -ENOMEM;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		h->fd[h->n++] = fd;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			(void)atomic_sweep_dir(dir);
		/* from exclusive, or after another run's sweep */
		while (flock(fd, LOCK_SH) < 0 && errno == EINTR)
			;
	}
	return 0;
}

static void progress(size_t done, size_t n, void *userdata)
{
	const struct batch *b = userdata;

	b->o->on_progress(done, n, b->o->userdata);
}

int kiln_module_batch(struct kiln_ctx *ctx, char *const *paths, size_t n,
		      const struct kiln_module_batch_options *o)
{
	_cleanup_(held_dirs_release) struct held_dirs held = { 0 };
	struct batch b = { .o = o, .paths = paths };
	unsigned jobs = o->jobs ? o->jobs : kiln_cpus_online();
	bool stopped = false;
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
	/*
	 * One thread a job, SIGN included: each reads, signs, writes and syncs
	 * its module in turn. More threads than cores, to sign while others
	 * wait for the disk, were slower on this 2-CPU VM, on disk and on
	 * tmpfs alike (300 modules: 0.91-1.10 s with four a job, 0.98-1.15 s
	 * with two, 0.82-0.86 s with one): a module handed from one thread
	 * to another waits for that thread to be woken, and the CPU idles.
	 */
	b.threads = jobs;
	switch (o->op) {
	case KILN_MODULE_BATCH_INFO:
		b.window = jobs + WINDOW_INFO_EXTRA;
		break;
	case KILN_MODULE_BATCH_SIGN:
		b.window = n;
		break;
	default:
		b.window = (size_t)jobs * WINDOW_PER_JOB;
		break;
	}
	if (b.window > n)
		b.window = n;
	b.stopped_by = n;
	b.ctxs = calloc(b.threads, sizeof(*b.ctxs));
	b.slots = calloc(b.window, sizeof(*b.slots));
	if (!b.ctxs || !b.slots)
		r = -ENOMEM;
	for (size_t i = 0; b.slots && i < b.window; i++)
		b.slots[i].staged.file.fd = -1;
	for (unsigned t = 0; t < b.threads && r >= 0; t++)
		r = kiln_ctx_new(&b.ctxs[t]);
	if (r >= 0 && o->op == KILN_MODULE_BATCH_SIGN)
		r = hold_dirs(paths, n, &held);
	if (r >= 0)
		r = kiln_parallel_ordered(n, b.threads, b.window, run_one, deliver,
					  o->on_progress ? progress : NULL, &b);
	if (r >= 0 && o->op == KILN_MODULE_BATCH_SIGN)
		r = sign_commit(ctx, &b, n);
	else if (r < 0 && b.stopped_by < n) {
		const struct kiln_module_batch_item *item = &b.slots[b.stopped_by].item;

		/* the module's own words, as it stopped the run */
		r = kiln_error(ctx, r, "'%s': %s; no module was signed", item->path,
			       item->error ? item->error : strerror(-r));
		stopped = true;
	}
	/* stopped: what ran after it was never handed back, and no signed file goes in place */
	for (size_t i = 0; b.slots && i < b.window; i++)
		slot_release(&b.slots[i]);
	for (unsigned t = 0; b.ctxs && t < b.threads; t++)
		kiln_ctx_free(b.ctxs[t]);
	free(b.slots);
	free(b.ctxs);
	if (r == -ENOMEM && !stopped)
		return kiln_error(ctx, ENOMEM, "module batch: out of memory");
	return r;
}
