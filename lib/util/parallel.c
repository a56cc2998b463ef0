/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "parallel.h"

/* How often the calling thread reports progress. */
#define PROGRESS_INTERVAL_NS 200000000L

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t
	    changed; /* the caller waits on it: the end, or the item it hands back next */
	pthread_cond_t room; /* workers wait on it: the window is full */
	size_t n, next, done;
	void (*fn)(size_t i, unsigned worker, void *userdata);
	void *userdata;
	/* ordered: items [delivered, delivered + window) may run; finished[i % window] when done */
	size_t window, delivered;
	bool *finished;
	bool stop;
};

struct worker {
	struct pool *pool;
	unsigned id;
	pthread_t thread;
};

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		size_t i;

		while (p->finished && !p->stop && p->next < p->n &&
		       p->next >= p->delivered + p->window)
			pthread_cond_wait(&p->room, &p->lock);
		if (p->stop || p->next >= p->n)
			break;
		i = p->next++;
		pthread_mutex_unlock(&p->lock);
		p->fn(i, w->id, p->userdata);
		pthread_mutex_lock(&p->lock);
		p->done++;
		if (p->finished)
			p->finished[i % p->window] = true;
		/* the caller wakes up on its own to report progress; only what it waits for is
		 * signalled: the end, or the item it hands back next */
		if (p->done == p->n || (p->finished && i == p->delivered))
			pthread_cond_signal(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

unsigned kiln_cpus_online(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

/* Wait on @p->changed, up to the progress interval; the lock is held. */
static void wait_a_while(struct pool *p)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += PROGRESS_INTERVAL_NS;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&p->changed, &p->lock, &ts);
}

/*
 * The calling thread while the workers run: hand the items back in order
 * (when @deliver) and report progress, until all are done or @deliver
 * stops it. Returns what @deliver returned last (0 without it).
 */
static int supervise(struct pool *p, int (*deliver)(size_t i, void *userdata),
		     void (*progress)(size_t done, size_t n, void *userdata))
{
	struct timespec last, now;
	int r = 0;

	clock_gettime(CLOCK_MONOTONIC, &last);
	pthread_mutex_lock(&p->lock);
	while (deliver ? p->delivered < p->n : p->done < p->n) {
		size_t i = p->delivered;

		if (deliver && p->finished[i % p->window]) {
			p->finished[i % p->window] = false;
			pthread_mutex_unlock(&p->lock);
			r = deliver(i, p->userdata);
			pthread_mutex_lock(&p->lock);
			p->delivered++;
			p->stop = r < 0;
			pthread_cond_broadcast(&p->room);
			if (r < 0)
				break;
			continue;
		}
		wait_a_while(p);
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* woken for an item to hand back, or at the interval: report at the interval */
		if (progress && p->done < p->n &&
		    (now.tv_sec - last.tv_sec) * 1000000000L + (now.tv_nsec - last.tv_nsec) >=
			PROGRESS_INTERVAL_NS) {
			size_t done = p->done;

			last = now;
			pthread_mutex_unlock(&p->lock);
			progress(done, p->n, p->userdata);
			pthread_mutex_lock(&p->lock);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}

/* No thread to be had: do the work here, one item after another. */
static int run_here(struct pool *p, int (*deliver)(size_t i, void *userdata))
{
	for (size_t i = 0; i < p->n; i++) {
		int r;

		p->fn(i, 0, p->userdata);
		p->done++;
		r = deliver ? deliver(i, p->userdata) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

static int run_pool(size_t n, unsigned jobs, size_t window,
		    void (*fn)(size_t i, unsigned worker, void *userdata),
		    int (*deliver)(size_t i, void *userdata),
		    void (*progress)(size_t done, size_t n, void *userdata), void *userdata,
		    unsigned *ret_threads)
{
	struct pool p = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.changed = PTHREAD_COND_INITIALIZER,
		.room = PTHREAD_COND_INITIALIZER,
		.n = n,
		.fn = fn,
		.userdata = userdata,
		.window = window ? window : 1,
	};
	_cleanup_free_ struct worker *workers = NULL;
	_cleanup_free_ bool *finished = NULL;
	unsigned started = 0;
	int r;

	if (jobs == 0)
		jobs = kiln_cpus_online();
	if (jobs > n)
		jobs = n ? (unsigned)n : 1;
	workers = calloc(jobs, sizeof(*workers));
	if (deliver) {
		finished = calloc(p.window, sizeof(*finished));
		p.finished = finished;
	}
	for (unsigned t = 0; workers && (finished || !deliver) && t < jobs; t++) {
		workers[t] = (struct worker){ .pool = &p, .id = t };
		if (pthread_create(&workers[t].thread, NULL, run_worker, &workers[t]) != 0)
			break;
		started++;
	}
	r = started ? supervise(&p, deliver, progress) : run_here(&p, deliver);
	for (unsigned t = 0; t < started; t++)
		pthread_join(workers[t].thread, NULL);
	if (progress)
		progress(p.done, n, userdata);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.changed);
	pthread_cond_destroy(&p.room);
	*ret_threads = started ? started : 1;
	return r;
}

unsigned kiln_parallel_for(size_t n, unsigned jobs,
			   void (*fn)(size_t i, unsigned worker, void *userdata),
			   void (*progress)(size_t done, size_t n, void *userdata), void *userdata)
{
	unsigned threads;

	(void)run_pool(n, jobs, 0, fn, NULL, progress, userdata, &threads);
	return threads;
}

int kiln_parallel_ordered(size_t n, unsigned jobs, size_t window,
			  void (*fn)(size_t i, unsigned worker, void *userdata),
			  int (*deliver)(size_t i, void *userdata),
			  void (*progress)(size_t done, size_t n, void *userdata), void *userdata)
{
	unsigned threads;

	return run_pool(n, jobs, window, fn, deliver, progress, userdata, &threads);
}
