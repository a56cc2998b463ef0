/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Module verdicts as the commands print them: `kiln module check`'s results,
 * and the modules `kiln build` made, with what to do when one would not load.
 */

#include <stdio.h>

#include <kiln/build.h>
#include <kiln/module.h>

#include "json.h"
#include "strbuf.h"

/*
 * What to do about a finding whose fix is @fix, about @arg, in the words of
 * kiln's commands (the library gives the fact, never the words); NULL for
 * KILN_FIX_NONE. When the text is made, it is *@owned, for the caller to free.
 */
const char *cli_fix_text(enum kiln_check_fix fix, const char *arg, char **owned);

/* What to do about a finding, in a command's own words; NULL: cli_fix_text()'s. */
typedef const char *(*cli_advice_fn)(const struct kiln_check_finding *f, const void *userdata,
				     char **owned);

/*
 * The findings of @r from @min up, a line each with what the kernel says
 * and what to do, indented by @indent.
 */
void cli_check_findings_text(struct strbuf *sb, const struct kiln_check_result *r,
			     enum kiln_check_status min, const char *indent, cli_advice_fn advice,
			     const void *userdata);

/*
 * The verdict of @r as members of an open JSON object: "loads", "status",
 * "checks" (each finding with its "fix", "fix_arg" and, worded, "advice").
 */
void cli_check_json_members(struct json_writer *w, const struct kiln_check_result *r,
			    cli_advice_fn advice, const void *userdata);

/* The modules a build made, a line each, collected as stages end and printed at the end. */
struct build_summary {
	char **blocks; /* a stage's lines each */
	size_t n, alloc;
};

/* Add the lines of @stage's @n modules (none: nothing). */
int build_summary_add(struct build_summary *s, const char *stage, const struct kiln_build_module *m,
		      size_t n);
void build_summary_print(struct build_summary *s, FILE *f);
void build_summary_release(struct build_summary *s);

/* Each module of @m that would not load, why, and what to do; returns how many. */
size_t build_modules_print_refused(FILE *f, const struct kiln_build_module *m, size_t n);

/* @n modules as a JSON array. */
void build_modules_json(struct json_writer *w, const struct kiln_build_module *m, size_t n);

/* "signed by 'NAME' (sha512), vermagic 6.1.0 SMP mod_unload, " (with the trailing ", ") */
void build_module_description(struct strbuf *sb, const struct kiln_build_module *m);

/* "will load", "would not load: signature: ...", "not checked: ..." */
void build_module_verdict(struct strbuf *sb, const struct kiln_build_module *m);
