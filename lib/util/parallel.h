/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A small thread pool for independent items (signing many modules, pushing
 * blobs). For commands that never clone(): a sandboxed build forks from a
 * single thread.
 */

#include <stddef.h>

/*
 * Call @fn(i, worker, @userdata) for every i in [0, @n) on up to @jobs threads
 * (0: one per online CPU), each i exactly once; @worker in [0, jobs) says
 * which thread runs it, for per-thread state. While it runs, @progress (may
 * be NULL) is called now and then from the calling thread, and once at the
 * end, with how many items are done. If no thread can be started, the items
 * run on the calling thread. Returns how many threads were used.
 */
unsigned kiln_parallel_for(size_t n, unsigned jobs,
			   void (*fn)(size_t i, unsigned worker, void *userdata),
			   void (*progress)(size_t done, size_t n, void *userdata), void *userdata);

/*
 * kiln_parallel_for(), with each item handed back in order on the calling
 * thread: @deliver(i, @userdata) for i = 0, 1, ... as soon as item i (and
 * every one before it) is done. At most @window items run or wait to be
 * handed back at once, so that their results can live in @window slots
 * (slot i % @window). A negative return from @deliver stops the run: no
 * item starts after it, and kiln_parallel_ordered() returns it once the
 * items running have ended (their results, never handed back, are the
 * caller's to release). Returns 0 when every item was handed back.
 */
int kiln_parallel_ordered(size_t n, unsigned jobs, size_t window,
			  void (*fn)(size_t i, unsigned worker, void *userdata),
			  int (*deliver)(size_t i, void *userdata),
			  void (*progress)(size_t done, size_t n, void *userdata), void *userdata);

/* The number of CPUs this process may run on (its affinity mask), at least 1. */
unsigned kiln_cpus_online(void);
