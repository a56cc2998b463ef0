/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What happened in a build, kept from the engine's events for the report
 * (build-report.c) and the trace: each stage's outcome, when it ran and in
 * which job slot, its steps, its modules' verdicts and, when it failed, the
 * end of its log.
 */

#include <stdbool.h>
#include <stddef.h>

#include <kiln/build.h>

#include "strbuf.h"

enum stage_outcome {
	OUTCOME_NONE, /* no event came: the build stopped before it */
	OUTCOME_BUILT,
	OUTCOME_CACHED,
	OUTCOME_PULLED,
	OUTCOME_FAILED,
	OUTCOME_SKIPPED,
	OUTCOME_RUNNING, /* started, not ended (yet) */
	OUTCOME_CANCELLED, /* stopped unfinished: another stage failed */
};

/* "built", "cached", "pulled", "failed", "skipped", "not reached", "running", "cancelled" */
const char *stage_outcome_name(enum stage_outcome o);

/* A step or phase of a stage: from its STEP event to the next, or to the stage's end. */
struct record_step {
	unsigned step; /* 0: a phase outside the steps */
	char *phase;
	char *instruction; /* its first line, or NULL */
	double start, end;
};

/* A kernel module of a stage's output, in the words of the build's summary. */
struct record_module {
	char *path;
	char *description; /* "signed by 'K' (sha512), vermagic ..., " */
	char *kernel; /* "kernel-build:v1 (/src), 6.12.1-kiln", or NULL when not checked */
	char *verdict; /* "will load", "would not load: ..." */
	bool loads, checked;
};

struct record_stage {
	char *name;
	enum stage_outcome outcome;
	double start, end; /* seconds after the build started */
	int slot; /* the job slot it ran in, from 0; -1: it ran in none */
	char *digest;
	struct record_step *steps;
	size_t n_steps;
	struct record_module *modules;
	size_t n_modules;
	/* the output is a system extension, valid: what its validation found */
	bool extension;
	char *ext_name, *ext_version;
	unsigned ext_files;
	char **ext_warnings; /* NULL-terminated */
	size_t n_ext_warnings;
	/* FAILED: */
	char *error, *log_tail, *log_path, *instruction, *phase;
	unsigned step;
};

struct build_record {
	double start; /* CLOCK_MONOTONIC seconds */
	double end;
	struct record_stage *stages;
	size_t n_stages, alloc;
	bool *busy; /* job slots in use */
	size_t n_slots;
	int error; /* -ENOMEM: something could not be kept, the record is incomplete */
};

/* Keep @ev, which came at @t (CLOCK_MONOTONIC seconds). */
void build_record_event(struct build_record *r, const struct kiln_build_event *ev, double t);

/*
 * The build ended at @t (CLOCK_MONOTONIC seconds): a stage still running
 * was cancelled then.
 */
void build_record_finish(struct build_record *r, double t);

/* The stage @name, or NULL when no event named it. */
const struct record_stage *build_record_find(const struct build_record *r, const char *name);

void build_record_release(struct build_record *r);

/*
 * The record as a Chrome trace (the trace event format Perfetto and
 * chrome://tracing open): a complete event a stage on its job slot's
 * thread, its steps nested in it; cache hits on a thread of their own.
 */
int build_record_trace(const struct build_record *r, struct strbuf *sb);
