/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The report's timeline: an SVG lane per job slot, a bar per stage that ran
 * in it from its start to its end, the critical path outlined; the stages
 * that ran in no slot (cache hits, stages not built) listed under it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "build-html.h"

static double max_d(double a, double b)
{
	return a > b ? a : b;
}

#define TL_WIDTH 1100
#define TL_LABEL 80
#define TL_LANE 26
#define TL_AXIS 24

/*
 * The critical path: from the stage that ended last, back through the
 * dependency it waited for last, as long as that one ran. @critical gets a
 * flag per stage of the record.
 */
static void critical_path(const struct build_report *b, bool *critical)
{
	const struct build_record *r = b->record;
	const struct record_stage *cur = NULL;

	for (size_t i = 0; i < r->n_stages; i++)
		if (r->stages[i].slot >= 0 && r->stages[i].outcome != OUTCOME_CANCELLED &&
		    (!cur || r->stages[i].end > cur->end))
			cur = &r->stages[i];
	while (cur) {
		const struct kiln_pkg *pkg = kiln_tree_find(b->tree, cur->name);
		const struct record_stage *next = NULL;

		critical[cur - r->stages] = true;
		for (size_t d = 0; pkg && d < pkg->n_deps; d++) {
			const struct record_stage *dep;

			if (!pkg->deps[d].stage)
				continue;
			dep = build_record_find(r, pkg->deps[d].stage);
			if (dep && dep->slot >= 0 && dep->end <= cur->start + 0.01 &&
			    (!next || dep->end > next->end))
				next = dep;
		}
		cur = next;
	}
}

/* A tick every 1, 2 or 5 times a power of ten: about eight of them over @total seconds. */
static double tick_step(double total)
{
	double step = 1;

	while (step > total / 8)
		step /= 10;
	while (step * 10 <= total / 8)
		step *= 10;

	if (total / step > 40)
		return step * 5;
	if (total / step > 16)
		return step * 2;
	return step;
}

static void timeline_axis(struct strbuf *sb, double total, double scale, int y)
{
	double step = tick_step(total);

	for (double t = 0; t <= total + step / 1000; t += step) {
		double x = TL_LABEL + t * scale;

		strbuf_addf(sb,
			    "<line x1=\"%.1f\" y1=\"0\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
			    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g s</text>\n",
			    x, x, y, x, y + 14, t);
	}
}

static void timeline_bar(struct strbuf *sb, const struct record_stage *st, size_t i, bool critical,
			 double scale)
{
	double x = TL_LABEL + st->start * scale;
	double w = max_d((st->end - st->start) * scale, 2);
	int y = st->slot * TL_LANE + 3;
	char took[32];

	report_duration(took, sizeof(took), st->end - st->start);
	strbuf_addf(sb, "<g class=\"bar %s%s\" data-stage=\"", outcome_class(st->outcome),
		    critical ? " critical" : "");
	report_esc(sb, st->name);
	strbuf_addf(sb, "\" data-seconds=\"%.3f\"><title>", st->end - st->start);
	report_esc(sb, st->name);
	strbuf_addf(sb, ": %s in %s, from %.1f s to %.1f s, job slot %d%s</title>\n",
		    stage_outcome_name(st->outcome), took, st->start, st->end, st->slot + 1,
		    critical ? " (on the critical path)" : "");
	strbuf_addf(sb,
		    "<clipPath id=\"clip%zu\"><rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
		    "height=\"%d\"/></clipPath>"
		    "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" "
		    "stroke=\"#555\"/>",
		    i, x, y, w, TL_LANE - 6, x, y, w, TL_LANE - 6, outcome_fill(st->outcome));
	strbuf_addf(sb, "<text x=\"%.1f\" y=\"%d\" clip-path=\"url(#clip%zu)\">", x + 3,
		    y + TL_LANE - 11, i);
	report_esc(sb, st->name);
	strbuf_addf(sb, " %s</text></g>\n", took);
}

/* The stages that ran in no slot: cache hits, stages not built, and those never reached. */
static void timeline_chips(struct strbuf *sb, const struct build_report *b,
			   const struct kiln_pkg **pkgs, size_t n)
{
	size_t shown = 0;

	strbuf_adds(sb, "<p id=\"not-run\">Not run in a job slot: ");
	for (size_t i = 0; i < n; i++) {
		const struct record_stage *st = build_record_find(b->record, pkgs[i]->name);
		enum stage_outcome o = st ? st->outcome : OUTCOME_NONE;

		if (st && st->slot >= 0)
			continue;
		strbuf_addf(sb, "<span class=\"chip %s\" data-stage=\"", outcome_class(o));
		report_esc(sb, pkgs[i]->name);
		strbuf_adds(sb, "\" title=\"");
		report_esc(sb, stage_outcome_name(o));
		strbuf_adds(sb, "\">");
		report_esc(sb, pkgs[i]->name);
		strbuf_addf(sb, " (%s)</span>", stage_outcome_name(o));
		shown++;
	}
	if (!shown)
		strbuf_adds(sb, "none: every stage ran.");
	strbuf_adds(sb, "</p>\n");
}

int report_timeline(struct strbuf *sb, const struct build_report *b, const struct kiln_pkg **pkgs,
		    size_t n)
{
	const struct build_record *r = b->record;
	_cleanup_free_ bool *critical = calloc(r->n_stages + 1, sizeof(*critical));
	double total = 0, scale;
	int height = (int)r->n_slots * TL_LANE;

	if (!critical)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_stages; i++)
		total = max_d(total, r->stages[i].end);
	total = max_d(total, 0.1);
	scale = (TL_WIDTH - TL_LABEL - 20) / total;
	critical_path(b, critical);
	strbuf_adds(sb, "<div class=\"timeline\" id=\"timeline\">\n");
	if (r->n_slots) {
		strbuf_addf(
		    sb,
		    "<p>Each bar is a stage, from its start to its end, in the job slot it "
		    "ran in; the bars outlined in black are the critical path: the chain of "
		    "stages each of which waited for the one before.</p>\n"
		    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%%\" "
		    "style=\"max-width:%dpx\" viewBox=\"0 0 %d %d\">\n",
		    TL_WIDTH, TL_WIDTH, height + TL_AXIS);
		timeline_axis(sb, total, scale, height);
		for (size_t i = 0; i < r->n_slots; i++)
			strbuf_addf(sb, "<text class=\"lane\" x=\"4\" y=\"%zu\">slot %zu</text>\n",
				    i * TL_LANE + TL_LANE - 8, i + 1);
		for (size_t i = 0; i < r->n_stages; i++)
			if (r->stages[i].slot >= 0)
				timeline_bar(sb, &r->stages[i], i, critical[i], scale);
		strbuf_adds(sb, "</svg>\n");
	}
	timeline_chips(sb, b, pkgs, n);
	strbuf_adds(sb, "</div>\n");
	return 0;
}
