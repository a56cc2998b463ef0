/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What kiln push and kiln pull share: their transfer options (the registry
 * options are everyone's: struct cli_registry_args), the start of their
 * JSON result, and progress lines on stderr: one line per blob, retries as
 * they happen, and for transfers that last, the running total every two
 * seconds. Header-only: two commands share it, nothing else.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <kiln/registry.h>

#include "json.h"
#include "kiln.h"

enum {
	OPT_FIRST_TRANSFER_OPTION = OPT_FIRST_COMMAND_OPTION,
};

/* The long options push and pull share, for the start of their option tables */
/* clang-format off */
#define TRANSFER_OPTIONS						\
	{ "jobs", required_argument, NULL, 'j' },			\
	{ "quiet", no_argument, NULL, 'q' }
/* clang-format on */

#define TRANSFER_SHORT_OPTIONS "j:q"

/* Their help lines, descriptions at column 22 as cli_registry_help(22, false) has them. */
#define TRANSFER_OPTIONS_HELP                                           \
	"  -j, --jobs N        blobs transferred at once (default 4)\n" \
	"  -q, --quiet         no progress lines (retries are still reported)\n"

struct transfer_args {
	struct cli_registry_args registry; /* given to cli_options.registry */
	bool quiet;
};

/*
 * One of TRANSFER_OPTIONS: true with CLI_CONTINUE or an exit code in *@ret
 * when @c is one of them, false when it is not.
 */
static inline bool transfer_option(struct transfer_args *a, int c, const char *arg, int *ret)
{
	char *end;
	unsigned long n;

	*ret = CLI_CONTINUE;
	switch (c) {
	case 'j':
		n = strtoul(arg, &end, 10);
		if (!*arg || *end || n == 0 || n > 32)
			*ret = cli_usage("--jobs '%s': expected a number from 1 to 32", arg);
		else
			a->registry.reg.jobs = (unsigned)n;
		return true;
	case 'q':
		a->quiet = true;
		return true;
	default:
		return false;
	}
}

/* The fields a push's and a pull's JSON result begin with. */
static inline void transfer_json_image(struct json_writer *w, const char *reference,
				       const char *name, const struct kiln_descriptor *desc)
{
	json_kv_string(w, "reference", reference);
	json_kv_string(w, "name", name);
	json_kv_string(w, "digest", desc->digest.s);
	json_kv_string(w, "mediaType", desc->media_type);
	json_key(w, "size");
	json_uint(w, desc->size);
}

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

/* Progress of @a's transfer to stderr, as @verb ("pushing"). */
static inline void transfer_progress_start(struct transfer_progress *tp, const char *verb,
					   struct transfer_args *a)
{
	transfer_progress_init(tp, verb, a->quiet);
	a->registry.reg.on_event = transfer_progress_event;
	a->registry.reg.userdata = tp;
}
