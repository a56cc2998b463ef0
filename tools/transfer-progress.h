/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Progress lines on stderr for kiln push and kiln pull: one line per blob,
 * retries as they happen, and for transfers that last, the running total
 * every two seconds. Header-only: two commands share it, nothing else.
 */

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include <kiln/registry.h>

#include "kiln.h"

#define PROGRESS_EVERY_NS 2000000000LL

struct transfer_progress {
	const char *verb; /* "pushing", "pulling" */
	bool quiet;
	int64_t start_ns;
	int64_t last_ns;
};

static inline int64_t progress_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void transfer_progress_init(struct transfer_progress *tp, const char *verb,
					  bool quiet)
{
	*tp = (struct transfer_progress){ .verb = verb, .quiet = quiet };
	tp->start_ns = tp->last_ns = progress_now_ns();
}

static inline double progress_mib(uint64_t bytes)
{
	return (double)bytes / (1024.0 * 1024.0);
}

/* "sha256:0123456789ab", enough to tell blobs apart in a log */
static inline void progress_short(const struct kiln_digest *d, char out[20])
{
	snprintf(out, 20, "%.19s", d->s);
}

/* A kiln_transfer_fn; the library calls it one event at a time. */
static inline void transfer_progress_event(void *userdata, const struct kiln_transfer_event *ev)
{
	struct transfer_progress *tp = userdata;
	static const char *const actions[] = {
		[KILN_BLOB_EXISTS] = "already there",  [KILN_BLOB_MOUNTED] = "mounted",
		[KILN_BLOB_UPLOADED] = "uploaded",     [KILN_BLOB_PRESENT] = "already in the store",
		[KILN_BLOB_DOWNLOADED] = "downloaded",
	};
	char d[20];
	int64_t now;

	if (ev->kind == KILN_TRANSFER_NOTICE) {
		/* retries are news even with --quiet: they explain a slow run */
		fprintf(stderr, "kiln: %s\n", ev->message);
		return;
	}
	if (tp->quiet)
		return;
	switch (ev->kind) {
	case KILN_TRANSFER_BLOB:
		progress_short(ev->digest, d);
		fprintf(stderr, "kiln: blob %s %s (%.1f MiB)%s%s\n", d, actions[ev->action],
			progress_mib(ev->size), ev->from ? " from " : "", ev->from ? ev->from : "");
		break;
	case KILN_TRANSFER_PROGRESS:
		now = progress_now_ns();
		if (now - tp->last_ns < PROGRESS_EVERY_NS)
			return;
		tp->last_ns = now;
		fprintf(stderr, "kiln: %s: %.1f of %.1f MiB, %u of %u blobs done, %.0f s\n",
			tp->verb, progress_mib(ev->bytes_done), progress_mib(ev->bytes_total),
			ev->blobs_done, ev->blobs_total, (double)(now - tp->start_ns) / 1e9);
		break;
	default:
		break;
	}
}
