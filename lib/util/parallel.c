/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "parallel.h"

/* How often the calling thread reports progress. */
#define PROGRESS_INTERVAL_NS 200000000L

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	size_t n, next, done;
	void (*fn)(size_t i, unsigned worker, void *userdata);
	void *userdata;
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

	for (;;) {
		size_t i;

		pthread_mutex_lock(&p->lock);
		i = p->next < p->n ? p->next++ : p->n;
		pthread_mutex_unlock(&p->lock);
		if (i == p->n)
			break;
		p->fn(i, w->id, p->userdata);
		pthread_mutex_lock(&p->lock);
		/* the caller wakes up on its own to report progress; only the end is signalled */
		if (++p->done == p->n)
			pthread_cond_signal(&p->changed);
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
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

unsigned kiln_parallel_for(size_t n, unsigned jobs,
			   void (*fn)(size_t i, unsigned worker, void *userdata),
			   void (*progress)(size_t done, size_t n, void *userdata), void *userdata)
{
	struct pool p = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.changed = PTHREAD_COND_INITIALIZER,
		.n = n,
		.fn = fn,
		.userdata = userdata,
	};
	_cleanup_free_ struct worker *workers = NULL;
	unsigned started = 0;

	if (jobs == 0)
		jobs = kiln_cpus_online();
	if (jobs > n)
		jobs = n ? (unsigned)n : 1;
	workers = calloc(jobs, sizeof(*workers));
	for (unsigned t = 0; workers && t < jobs; t++) {
		workers[t] = (struct worker){ .pool = &p, .id = t };
		if (pthread_create(&workers[t].thread, NULL, run_worker, &workers[t]) != 0)
			break;
		started++;
	}
	if (started == 0) {
		/* no thread to be had: do the work here, one item after another */
		struct worker self = { .pool = &p, .id = 0 };

		run_worker(&self);
	} else if (progress) {
		pthread_mutex_lock(&p.lock);
		while (p.done < p.n) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += PROGRESS_INTERVAL_NS;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p.changed, &p.lock, &ts);
			if (p.done < p.n) {
				size_t done = p.done;

				pthread_mutex_unlock(&p.lock);
				progress(done, p.n, userdata);
				pthread_mutex_lock(&p.lock);
			}
		}
		pthread_mutex_unlock(&p.lock);
	}
	for (unsigned t = 0; t < started; t++)
		pthread_join(workers[t].thread, NULL);
	if (progress)
		progress(n, n, userdata);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.changed);
	return started ? started : 1;
}
