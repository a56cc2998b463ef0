/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * kiln build --report: one self-contained HTML page (no script, no font, no
 * address outside it) of what a build did: the stage graph coloured by each
 * stage's outcome, the timeline of the job slots with the critical path, the
 * images, every kernel module's verdict, the extensions validated, and the
 * failing stage's last log lines.
 */

#include <kiln/build.h>
#include <kiln/oci.h>
#include <kiln/spec.h>

#include "build-record.h"

struct build_report {
	char *command_line; /* as typed, quoted for a shell */
	char *root; /* the tree */
	char *revision; /* `git describe` of the tree, NULL when it is no git checkout */
	const char *platform; /* --platform, NULL: the host's */
	char *const *build_args;
	size_t n_build_args;
	const char *const *targets;
	size_t n_targets;
	unsigned jobs; /* 0: one per CPU */
	const struct kiln_tree *tree;
	const struct build_record *record;
	const struct kiln_build_stats *stats;
	char *error; /* the build's error, NULL when it succeeded */
	struct kiln_store *store; /* where the images are */
	const struct kiln_build_published *published; /* NULL when the build failed */
	size_t n_published;
};

/*
 * --trace @trace (NULL: none) and --report @report (NULL: none) of the
 * build @rep describes, each written through a temporary file and a rename.
 * A stage graph needs graphviz's dot: without it the page says so in the
 * graph's place and a warning is printed. Returns an exit status, after
 * printing what failed.
 */
int build_report_files(const char *report, const char *trace, const struct build_report *rep);

/* @argc arguments of @argv as one line a shell would split back into them; NULL: -ENOMEM. */
char *shell_command_line(int argc, char *const *argv);
