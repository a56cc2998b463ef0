/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The build's events, kept with the time they came, for the report and the
 * trace. Events come serialized (the engine holds its lock, cmd-build.c its
 * own), so the record needs none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-record.h"
#include "json.h"
#include "module-report.h"
#include "strv.h"

const char *stage_outcome_name(enum stage_outcome o)
{
	switch (o) {
	case OUTCOME_BUILT:
		return "built";
	case OUTCOME_CACHED:
		return "cached";
	case OUTCOME_PULLED:
		return "pulled";
	case OUTCOME_FAILED:
		return "failed";
	case OUTCOME_SKIPPED:
		return "skipped";
	case OUTCOME_RUNNING:
		return "running";
	case OUTCOME_CANCELLED:
		return "cancelled";
	case OUTCOME_NONE:
		break;
	}
	return "not reached";
}

/* A copy of @s (NULL stays NULL); on failure the record is marked incomplete. */
static char *keep(struct build_record *r, const char *s)
{
	char *copy;

	if (!s)
		return NULL;
	copy = strdup(s);
	if (!copy)
		r->error = -ENOMEM;
	return copy;
}

static char *keep_first_line(struct build_record *r, const char *s)
{
	char *copy;

	if (!s)
		return NULL;
	copy = strndup(s, strcspn(s, "\n"));
	if (!copy)
		r->error = -ENOMEM;
	return copy;
}

const struct record_stage *build_record_find(const struct build_record *r, const char *name)
{
	for (size_t i = 0; i < r->n_stages; i++)
		if (streq(r->stages[i].name, name))
			return &r->stages[i];
	return NULL;
}

static struct record_stage *stage_get(struct build_record *r, const char *name, double t)
{
	struct record_stage *st = (struct record_stage *)build_record_find(r, name);

	if (st)
		return st;
	if (GROW(r->stages, r->alloc, r->n_stages + 1) < 0) {
		r->error = -ENOMEM;
		return NULL;
	}
	st = &r->stages[r->n_stages];
	*st = (struct record_stage){ .start = t, .end = t, .slot = -1 };
	st->name = keep(r, name);
	if (!st->name)
		return NULL;
	r->n_stages++;
	return st;
}

/* The lowest job slot free, taken; -1 when out of memory. */
static int slot_take(struct build_record *r)
{
	size_t i;
	bool *busy;

	for (i = 0; i < r->n_slots; i++)
		if (!r->busy[i])
			break;
	if (i == r->n_slots) {
		busy = reallocarray(r->busy, r->n_slots + 1, sizeof(*busy));
		if (!busy) {
			r->error = -ENOMEM;
			return -1;
		}
		r->busy = busy;
		r->n_slots++;
	}
	r->busy[i] = true;
	return (int)i;
}

static void step_close(struct record_stage *st, double t)
{
	if (st->n_steps > 0)
		st->steps[st->n_steps - 1].end = t;
}

static void step_add(struct build_record *r, struct record_stage *st,
		     const struct kiln_build_event *ev, double t)
{
	struct record_step *steps = reallocarray(st->steps, st->n_steps + 1, sizeof(*steps));

	if (!steps) {
		r->error = -ENOMEM;
		return;
	}
	st->steps = steps;
	step_close(st, t);
	steps[st->n_steps++] = (struct record_step){
		.step = ev->step,
		.phase = keep(r, ev->phase ?: "?"),
		.instruction = keep_first_line(r, ev->instruction),
		.start = t,
		.end = t,
	};
}

static void keep_module(struct build_record *r, struct record_module *k,
			const struct kiln_build_module *m)
{
	_cleanup_strbuf_ struct strbuf desc = STRBUF_INIT, verdict = STRBUF_INIT;

	build_module_description(&desc, m);
	build_module_verdict(&verdict, m);
	k->path = keep(r, m->path);
	k->loads = kiln_build_module_loads(m);
	k->checked = m->checked;
	k->description = strbuf_detach(&desc, NULL);
	k->verdict = strbuf_detach(&verdict, NULL);
	if (!k->description || !k->verdict)
		r->error = -ENOMEM;
	if (m->checked &&
	    asprintf(&k->kernel, "%s (%s), %s", m->kernel, m->kernel_dir, m->kernel_release) < 0) {
		k->kernel = NULL;
		r->error = -ENOMEM;
	}
}

static void keep_modules(struct build_record *r, struct record_stage *st,
			 const struct kiln_build_event *ev)
{
	if (ev->n_modules == 0 || st->n_modules > 0)
		return;
	st->modules = calloc(ev->n_modules, sizeof(*st->modules));
	if (!st->modules) {
		r->error = -ENOMEM;
		return;
	}
	st->n_modules = ev->n_modules;
	for (size_t i = 0; i < ev->n_modules; i++)
		keep_module(r, &st->modules[i], &ev->modules[i]);
}

static void keep_extension(struct build_record *r, struct record_stage *st,
			   const struct kiln_build_extension *e)
{
	if (!e || st->extension)
		return;
	st->extension = true;
	st->ext_name = keep(r, e->name);
	st->ext_version = keep(r, e->version);
	st->ext_files = e->n_files;
	st->ext_warnings = calloc(e->n_warnings + 1, sizeof(*st->ext_warnings));
	if (!st->ext_warnings) {
		r->error = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < e->n_warnings; i++)
		if ((st->ext_warnings[st->n_ext_warnings] = keep(r, e->warnings[i])))
			st->n_ext_warnings++;
}

/* The stage ran to its end at @t: its slot is free again. */
static void stage_end(struct build_record *r, struct record_stage *st, double t)
{
	st->end = t;
	step_close(st, t);
	if (st->slot >= 0)
		r->busy[st->slot] = false;
}

static void keep_failure(struct build_record *r, struct record_stage *st,
			 const struct kiln_build_event *ev, double t)
{
	if (st->outcome != OUTCOME_RUNNING)
		st->start = t - ev->seconds; /* it failed before it ran: its key, say */
	stage_end(r, st, t);
	st->outcome = OUTCOME_FAILED;
	st->error = keep(r, ev->error);
	st->log_tail = keep(r, ev->log_tail);
	st->log_path = keep(r, ev->log_path);
	st->instruction = keep(r, ev->instruction);
	st->phase = keep(r, ev->phase);
	st->step = ev->step;
}

void build_record_event(struct build_record *r, const struct kiln_build_event *ev, double t)
{
	struct record_stage *st;

	if (ev->kind == KILN_BUILD_FETCH || !ev->stage)
		return;
	t -= r->start;
	r->end = t;
	st = stage_get(r, ev->stage, t);
	if (!st)
		return;
	switch (ev->kind) {
	case KILN_BUILD_STAGE_CACHED:
	case KILN_BUILD_STAGE_PULLED:
		st->outcome = ev->kind == KILN_BUILD_STAGE_CACHED ? OUTCOME_CACHED : OUTCOME_PULLED;
		st->start = st->end = t;
		st->digest = keep(r, ev->digest);
		keep_modules(r, st, ev);
		keep_extension(r, st, ev->extension);
		break;
	case KILN_BUILD_STAGE_START:
		st->outcome = OUTCOME_RUNNING;
		st->start = t;
		st->slot = slot_take(r);
		break;
	case KILN_BUILD_STAGE_STEP:
		/* not before START: a stage waiting for another build to make it */
		if (st->outcome == OUTCOME_RUNNING)
			step_add(r, st, ev, t);
		break;
	case KILN_BUILD_STAGE_DONE:
		stage_end(r, st, t);
		st->outcome = OUTCOME_BUILT;
		st->digest = keep(r, ev->digest);
		keep_modules(r, st, ev);
		keep_extension(r, st, ev->extension);
		break;
	case KILN_BUILD_STAGE_FAILED:
		keep_failure(r, st, ev, t);
		keep_modules(r, st, ev);
		break;
	case KILN_BUILD_STAGE_SKIPPED:
		st->outcome = OUTCOME_SKIPPED;
		st->start = st->end = t;
		break;
	case KILN_BUILD_FETCH:
		break;
	}
}

void build_record_finish(struct build_record *r, double t)
{
	r->end = t - r->start;
	for (size_t i = 0; i < r->n_stages; i++)
		if (r->stages[i].outcome == OUTCOME_RUNNING) {
			stage_end(r, &r->stages[i], r->end);
			r->stages[i].outcome = OUTCOME_CANCELLED;
		}
}

static void stage_release(struct record_stage *st)
{
	for (size_t i = 0; i < st->n_steps; i++) {
		free(st->steps[i].phase);
		free(st->steps[i].instruction);
	}
	free(st->steps);
	for (size_t i = 0; i < st->n_modules; i++) {
		free(st->modules[i].path);
		free(st->modules[i].description);
		free(st->modules[i].kernel);
		free(st->modules[i].verdict);
	}
	free(st->modules);
	strv_free(st->ext_warnings);
	free(st->ext_name);
	free(st->ext_version);
	free(st->name);
	free(st->digest);
	free(st->error);
	free(st->log_tail);
	free(st->log_path);
	free(st->instruction);
	free(st->phase);
}

void build_record_release(struct build_record *r)
{
	for (size_t i = 0; i < r->n_stages; i++)
		stage_release(&r->stages[i]);
	free(r->stages);
	free(r->busy);
	r->stages = NULL;
	r->busy = NULL;
	r->n_stages = r->alloc = r->n_slots = 0;
}

/* ---- the trace ------------------------------------------------------------------ */

static int64_t usec(double seconds)
{
	return (int64_t)(seconds * 1e6 + 0.5); /* never negative */
}

static void trace_thread_name(struct json_writer *w, unsigned tid, const char *name)
{
	json_begin_object(w);
	json_kv_string(w, "name", "thread_name");
	json_kv_string(w, "ph", "M");
	json_key(w, "pid");
	json_uint(w, 1);
	json_key(w, "tid");
	json_uint(w, tid);
	json_key(w, "args");
	json_begin_object(w);
	json_kv_string(w, "name", name);
	json_end_object(w);
	json_end_object(w);
}

/* A complete event: begin the object; the caller adds "args" and ends it. */
static void trace_span(struct json_writer *w, const char *name, const char *cat, unsigned tid,
		       double start, double end)
{
	int64_t ts = usec(start);

	json_begin_object(w);
	json_kv_string(w, "name", name);
	json_kv_string(w, "cat", cat);
	json_kv_string(w, "ph", "X");
	json_key(w, "ts");
	json_int(w, ts);
	json_key(w, "dur");
	json_int(w, usec(end) - ts);
	json_key(w, "pid");
	json_uint(w, 1);
	json_key(w, "tid");
	json_uint(w, tid);
}

static void trace_steps(struct json_writer *w, const struct record_stage *st, unsigned tid)
{
	for (size_t i = 0; i < st->n_steps; i++) {
		const struct record_step *s = &st->steps[i];
		char name[160];

		if (s->step)
			snprintf(name, sizeof(name), "step %u %s", s->step, s->phase);
		else
			snprintf(name, sizeof(name), "%s", s->phase);
		trace_span(w, name, "step", tid, s->start, s->end);
		json_key(w, "args");
		json_begin_object(w);
		json_kv_string(w, "stage", st->name);
		json_kv_string(w, "instruction", s->instruction);
		json_end_object(w);
		json_end_object(w);
	}
}

int build_record_trace(const struct build_record *r, struct strbuf *sb)
{
	/* stages that ran are on their slot's thread (1..N); the rest on N+1 */
	unsigned other = (unsigned)r->n_slots + 1;
	struct json_writer w;
	char name[64];

	json_init(&w, sb);
	json_begin_object(&w);
	json_key(&w, "traceEvents");
	json_begin_array(&w);
	json_begin_object(&w);
	json_kv_string(&w, "name", "process_name");
	json_kv_string(&w, "ph", "M");
	json_key(&w, "pid");
	json_uint(&w, 1);
	json_key(&w, "args");
	json_begin_object(&w);
	json_kv_string(&w, "name", "kiln build");
	json_end_object(&w);
	json_end_object(&w);
	for (size_t i = 0; i < r->n_slots; i++) {
		snprintf(name, sizeof(name), "job slot %zu", i + 1);
		trace_thread_name(&w, (unsigned)i + 1, name);
	}
	trace_thread_name(&w, other, "cache hits and stages not run");
	for (size_t i = 0; i < r->n_stages; i++) {
		const struct record_stage *st = &r->stages[i];
		unsigned tid = st->slot >= 0 ? (unsigned)st->slot + 1 : other;

		trace_span(&w, st->name, "stage", tid, st->start, st->end);
		json_key(&w, "args");
		json_begin_object(&w);
		json_kv_string(&w, "outcome", stage_outcome_name(st->outcome));
		json_kv_string(&w, "digest", st->digest);
		json_kv_string(&w, "error", st->error);
		json_end_object(&w);
		json_end_object(&w);
		trace_steps(&w, st, tid);
	}
	json_end_array(&w);
	json_kv_string(&w, "displayTimeUnit", "ms");
	json_end_object(&w);
	strbuf_addch(sb, '\n');
	return json_error(&w) ?: strbuf_error(sb);
}
