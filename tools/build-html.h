/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the parts of the build report (build-report.c, build-timeline.c) share. */

#include "build-record.h"
#include "build-report.h"
#include "strbuf.h"

/* @s (NULL: nothing) as HTML text or attribute value: & < > " ' escaped. */
void report_esc(struct strbuf *sb, const char *s);

/* "12.3 s", "4m 05.2s" */
void report_duration(char *buf, size_t size, double seconds);

/* An outcome's fill on the graph and the timeline, and its class ("not-reached"). */
const char *outcome_fill(enum stage_outcome o);
const char *outcome_class(enum stage_outcome o);

/* The timeline of @b's @n stages @pkgs: 0, or -ENOMEM. */
int report_timeline(struct strbuf *sb, const struct build_report *b, const struct kiln_pkg **pkgs,
		    size_t n);
