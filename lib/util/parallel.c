/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
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

/*
 * Whether the caller has items to hand back and should do it now: half a
 * window of them (waking it for each costs more than a small item does),
 * or the workers would wait for it (the window is full, or there is
 * nothing left to start). The lock is held.
 */
static bool ready(const struct pool *p)
{
	return p->finished[p->delivered % p->window] &&
	       (p->done - p->delivered >= (p->window + 1) / 2 || p->next >= p->n ||
		p->next >= p->delivered + p->window);
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	size_t i = SIZE_MAX; /* the item this thread just did, if any */

	/* one lock an item: the one done is counted where the next is taken */
	pthread_mutex_lock(&p->lock);
	for (;;) {
		bool wake = false;

		if (i != SIZE_MAX) {
			p->done++;
			if (p->finished)
				p->finished[i % p->window] = true;
			/* the caller wakes up on its own to report progress; only what it waits
			 * for is signalled: the end, or items to hand back */
			wake = p->done == p->n || (p->finished && ready(p));
		}
		while (p->finished && !p->stop && p->next < p->n &&
		       p->next >= p->delivered + p->window) {
			if (wake)
				pthread_cond_signal(&p->changed);
			wake = false;
			pthread_cond_wait(&p->room, &p->lock);
		}
		i = p->stop || p->next >= p->n ? SIZE_MAX : p->next++;
		pthread_mutex_unlock(&p->lock);
		/* signalled unlocked, so that the caller does not wake up to a lock still held */
		if (wake)
			pthread_cond_signal(&p->changed);
		if (i == SIZE_MAX)
			return NULL;
		p->fn(i, w->id, p->userdata);
		pthread_mutex_lock(&p->lock);
	}
}

unsigned kiln_cpus_online(void)
{
	cpu_set_t set;
	long n;

	/* the CPUs this process may run on (taskset, a cgroup's cpuset), as nproc counts */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
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
		size_t first = p->delivered, k = 0;

		/* every item done from here on, handed back with the lock released */
		while (deliver && first + k < p->n && p->finished[(first + k) % p->window])
			p->finished[(first + k++) % p->window] = false;
		if (k) {
			pthread_mutex_unlock(&p->lock);
			for (size_t j = 0; j < k && r >= 0; j++)
				r = deliver(first + j, p->userdata);
			pthread_mutex_lock(&p->lock);
			p->delivered = first + k;
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
