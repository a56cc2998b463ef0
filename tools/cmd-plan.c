/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln plan: the build of some targets as a pipeline of the CI engine the
 * user runs, a job per stage, each waiting for the stages it merges and
 * running `kiln build -t STAGE` with the registry cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/build.h>

#include "kiln.h"
#include "strbuf.h"
#include "utf8.h"

enum {
	OPT_FORMAT = OPT_FIRST_COMMAND_OPTION,
	OPT_CACHE,
	OPT_SKIP_CACHED,
	OPT_RUNNER,
	OPT_IMAGE,
	OPT_KILN,
};

enum format {
	FORMAT_NONE,
	FORMAT_GITLAB,
	FORMAT_GITHUB,
	FORMAT_ARGO,
};

struct plan_args {
	enum format format;
	const char *cache;
	bool skip_cached;
	struct cli_secrets secrets;
	struct cli_publish_args publish;
	const char *runner, *image;
	const char *kiln;
	struct cli_registry_args transport;
};

static int help(void)
{
	printf("Usage: kiln plan --format FORMAT [OPTIONS] TARGET...\n"
	       "\n"
	       "Print a pipeline for a CI engine that builds the targets: one job per stage\n"
	       "the targets need, each waiting (the engine's own needs:, or an Argo DAG's\n"
	       "dependencies) for the stages it merges, and running\n"
	       "\n"
	       "  kiln -C DIR build --progress plain [--platform P] [--build-arg K=V]...\n"
	       "       [--secret ...]... [--cache-from REPO --cache-to REPO] -t STAGE\n"
	       "\n"
	       "so that, with a registry cache shared by the runners, a job takes what\n"
	       "its stage merges from the cache and builds its stage alone. The jobs of\n"
	       "the targets also get --tag and --push, --registry, --username, and push\n"
	       "their images. A job per stage, not per group of stages: a stage is the\n"
	       "cache's unit, and a job of its own lets independent stages run on\n"
	       "different runners at once.\n"
	       "\n"
	       "Formats:\n"
	       "  gitlab   a .gitlab-ci.yml: a job \"build:STAGE\" per stage, with needs:\n"
	       "           ([] for the first ones) and, with --runner, tags:\n"
	       "  github   a GitHub Actions workflow (on push and workflow_dispatch): a job\n"
	       "           per stage with needs:, running on --runner (default\n"
	       "           self-hosted), that checks the repository out first\n"
	       "  argo     an Argo Workflows Workflow: a DAG task per stage, each a\n"
	       "           container of --image (required: an image holding kiln and the\n"
	       "           tree, at DIR from its working directory), privileged, as kiln's\n"
	       "           sandbox needs\n"
	       "GitHub and Argo job names are \"build-\" and the stage's name with every\n"
	       "character but letters, digits and '-' made '-' (and a number added where\n"
	       "two would be the same); the stage's own name is the job's display name.\n"
	       "Strings are quoted for YAML and, in a script, for the shell; \"${{\" is\n"
	       "written as an expression GitHub turns back into it. Argo has no way to\n"
	       "write \"{{\" that it does not read as a template tag: an argument holding\n"
	       "it is an error with --format argo.\n"
	       "\n"
	       "Options:\n"
	       "  -C, --root DIR         the package tree (default: the current directory)\n"
	       "  -t, --target NAME      a target (repeatable; or as operands)\n"
	       "      --platform P       linux/amd64 or linux/arm64, passed to the jobs\n"
	       "                         (default: none passed; each job builds for its\n"
	       "                         runner's, the keys here are this host's)\n"
	       "      --build-arg K=V    set template variable BUILD_ARG_K (repeatable);\n"
	       "                         passed to the jobs\n"
	       "  -h, --help             show this help\n"
	       "      --format FORMAT    gitlab, github or argo (required)\n"
	       "      --cache REPO       the registry repository the jobs share as their\n"
	       "                         stage cache (--cache-from and --cache-to)\n"
	       "      --skip-cached      leave out the stages whose entry is in the registry\n"
	       "                         cache REPO already (their keys computed here as\n"
	       "                         the jobs' kiln build will: from the tree, the\n"
	       "                         build args, secrets, platform, SOURCE_DATE_EPOCH\n"
	       "                         and the image dependencies, pulled when missing);\n"
	       "                         a stage that merges one not cached has no key yet\n"
	       "                         and keeps its job; one that passes its dependency's\n"
	       "                         image through counts as cached; a target's job is\n"
	       "                         always kept (it takes its stage from the cache,\n"
	       "                         and pushes with --push)\n"
	       "      --secret id=ID,src=PATH\n"
	       "                         passed to every job as written (PATH is the\n"
	       "                         runners'); with --skip-cached its sha256 is read\n"
	       "                         here too, for the keys\n"
	       "      --tag TAG          passed to the targets' jobs\n"
	       "      --push             the targets' jobs push to REGISTRY/USERNAME/TARGET:TAG\n"
	       "      --registry HOST    (with --push)\n"
	       "      --username NAME    (with --push)\n"
	       "      --allow-private-key\n"
	       "                         passed with --push (see kiln build --help)\n"
	       "      --runner LABEL     gitlab: a runner tag; github: runs-on\n"
	       "      --image REF        argo: the jobs' container image\n"
	       "      --kiln PATH        the command the jobs run (default: kiln)\n");
	cli_registry_help(25, true);
	printf("\n"
	       "--insecure and --no-pull are passed to the jobs; --authfile is not (it\n"
	       "names a file here). -C DIR is passed as given: a path from the job's\n"
	       "working directory (the checkout). SOURCE_DATE_EPOCH enters the cache keys:\n"
	       "give it as --build-arg (passed on) or set it alike in the jobs' environment.\n"
	       "\n"
	       "Exit status: 0 printed, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct plan_args *a = userdata;

	switch (c) {
	case OPT_FORMAT: {
		static const char *const formats[] = { "gitlab", "github", "argo", NULL };
		int i = -1, r = cli_parse_choice("plan", "--format", arg, formats, &i);

		/* FORMAT_NONE comes first: a format is its index plus one */
		a->format = (enum format)(i + 1);
		return r;
	}
	case OPT_CACHE:
		a->cache = arg;
		return CLI_CONTINUE;
	case OPT_SKIP_CACHED:
		a->skip_cached = true;
		return CLI_CONTINUE;
	case OPT_RUNNER:
		a->runner = arg;
		return CLI_CONTINUE;
	case OPT_IMAGE:
		a->image = arg;
		return CLI_CONTINUE;
	case OPT_KILN:
		a->kiln = arg;
		return CLI_CONTINUE;
	default: {
		int r = cli_publish_option("plan", c, arg, &a->publish, &a->secrets);

		return r ? r : cli_usage("plan: run 'kiln plan --help' for usage");
	}
	}
}

/* ---- the job's command ------------------------------------------------------------ */

struct argv_builder {
	const char **v;
	size_t n;
};

static void add(struct argv_builder *b, const char *s)
{
	b->v[b->n++] = s;
}

static void add2(struct argv_builder *b, const char *opt, const char *value)
{
	add(b, opt);
	add(b, value);
}

/* The arguments of stage @st's job, in *@ret (its strings are borrowed); NULL-ended. */
static int job_argv(const struct plan_args *a, const struct tree_args *t,
		    const struct kiln_plan_stage *st, const char ***ret)
{
	struct argv_builder b = {
		.v = calloc(32 + 2 * (t->n_build_args + a->secrets.n), sizeof(char *)),
	};

	if (!b.v)
		return -ENOMEM;
	add(&b, a->kiln ? a->kiln : "kiln");
	add2(&b, "-C", cli_root);
	add(&b, "build");
	add2(&b, "--progress", "plain");
	if (t->platform)
		add2(&b, "--platform", t->platform);
	for (size_t i = 0; i < t->n_build_args; i++)
		add2(&b, "--build-arg", t->build_args[i]);
	for (size_t i = 0; i < a->secrets.n; i++)
		add2(&b, "--secret", a->secrets.given[i]);
	if (a->cache) {
		add2(&b, "--cache-from", a->cache);
		add2(&b, "--cache-to", a->cache);
	}
	if (a->transport.reg.insecure)
		add(&b, "--insecure");
	if (a->transport.no_pull)
		add(&b, "--no-pull");
	if (st->target && a->publish.tag)
		add2(&b, "--tag", a->publish.tag);
	if (st->target && a->publish.push) {
		add(&b, "--push");
		add2(&b, "--registry", a->publish.registry);
		add2(&b, "--username", a->publish.username);
		if (a->publish.allow_private_key)
			add(&b, "--allow-private-key");
	}
	add2(&b, "-t", st->name);
	*ret = b.v;
	return 0;
}

/* @s as one shell word: as it is when it holds nothing the shell reads, else in '...'. */
static void shell_word(struct strbuf *sb, const char *s)
{
	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			    "_@%+=:,./-") == strlen(s)) {
		strbuf_adds(sb, s);
		return;
	}
	strbuf_addch(sb, '\'');
	for (; *s; s++)
		if (*s == '\'')
			strbuf_adds(sb, "'\\''");
		else
			strbuf_addch(sb, *s);
	strbuf_addch(sb, '\'');
}

/* ---- YAML ----------------------------------------------------------------------- */

/*
 * The UTF-8 character at @s (checked by text_check()) into a YAML scalar:
 * as it is, or escaped where YAML would not keep it as it is: C1 controls,
 * the line breaks NEL, U+2028 and U+2029 (folded in a quoted scalar), a BOM,
 * U+FFFE and U+FFFF. Returns its length.
 */
static size_t yaml_utf8(struct strbuf *sb, const unsigned char *s)
{
	size_t len = utf8_sequence_len(s, strlen((const char *)s));
	uint32_t c = len == 2	? (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f)
		     : len == 3 ? (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 |
				      (s[2] & 0x3f)
				: 0;

	if ((c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 || c == 0xfeff || c >= 0xfffe)
		strbuf_addf(sb, "\\u%04x", c);
	else
		strbuf_add(sb, s, len ? len : 1);
	return len ? len : 1;
}

/*
 * @s as a double-quoted YAML scalar; for GitHub (@github), each "${{" as
 * an expression that gives it back, or GitHub would evaluate what follows.
 */
static void yaml_str(struct strbuf *sb, const char *s, bool github)
{
	strbuf_addch(sb, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (github && strncmp(s, "${{", 3) == 0) {
			strbuf_adds(sb, "${{ '${{' }}");
			s += 2;
		} else if (c == '"' || c == '\\') {
			strbuf_addch(sb, '\\');
			strbuf_addch(sb, (char)c);
		} else if (c == '\n') {
			strbuf_adds(sb, "\\n");
		} else if (c == '\t') {
			strbuf_adds(sb, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			strbuf_addf(sb, "\\x%02x", c);
		} else if (c < 0x80) {
			strbuf_addch(sb, (char)c);
		} else {
			s += yaml_utf8(sb, (const unsigned char *)s) - 1;
		}
	}
	strbuf_addch(sb, '"');
}

/* The job's command as one shell line, as a YAML scalar. */
static void yaml_command(struct strbuf *sb, const char *const *argv, bool github)
{
	_cleanup_strbuf_ struct strbuf line = STRBUF_INIT;

	for (size_t i = 0; argv[i]; i++) {
		if (i)
			strbuf_addch(&line, ' ');
		shell_word(&line, argv[i]);
	}
	if (strbuf_error(&line) < 0)
		sb->error = strbuf_error(&line);
	else
		yaml_str(sb, strbuf_str(&line), github);
}

/* ---- job names ------------------------------------------------------------------ */

#define JOB_PREFIX "build-"
#define MAX_JOB_NAME 100

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

static bool taken(char *const *ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] && streq(ids[i], id))
			return true;
	return false;
}

/*
 * The job name of stage @i, for GitHub (a job id) and Argo (a task name):
 * JOB_PREFIX and the name, every other character made '-', cut to
 * MAX_JOB_NAME; when that changed the name or is taken, "-N" is added for
 * the first N >= 2 that makes it unique among @ids.
 */
static char *job_id(char *const *ids, size_t n, const char *name)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	bool changed = false;
	size_t base;

	strbuf_adds(&sb, JOB_PREFIX);
	for (const char *p = name; *p; p++) {
		if (sb.len >= MAX_JOB_NAME) {
			changed = true;
			break;
		}
		changed |= !name_char(*p);
		strbuf_addch(&sb, name_char(*p) ? *p : '-');
	}
	base = sb.len;
	for (unsigned k = 2; (changed || taken(ids, n, strbuf_str(&sb))) && !strbuf_error(&sb);
	     k++) {
		sb.len = base;
		strbuf_addf(&sb, "-%u", k);
		changed = false;
	}
	return strbuf_detach(&sb, NULL);
}

/* Names for the stages' jobs: those that need no change first, so that they keep theirs. */
static int job_ids(const struct kiln_plan_stage *st, size_t n, char ***ret)
{
	char **ids = calloc(n + 1, sizeof(*ids));

	if (!ids)
		return -ENOMEM;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			bool plain =
			    strspn(st[i].name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
					       "rstuvwxyz0123456789-") == strlen(st[i].name);

			if (ids[i] || plain != (pass == 0))
				continue;
			ids[i] = job_id(ids, n, st[i].name);
			if (!ids[i]) {
				for (size_t j = 0; j < n; j++)
					free(ids[j]);
				free(ids);
				return -ENOMEM;
			}
		}
	*ret = ids;
	return 0;
}

/* ---- the pipelines ---------------------------------------------------------------- */

struct plan {
	const struct plan_args *a;
	const struct tree_args *t;
	const struct kiln_plan_stage *st;
	size_t n;
	bool *keep; /* the stages that get a job */
	char **ids; /* job names for GitHub and Argo */
	const char ***argv; /* each kept stage's job command */
};

/* A YAML flow list of the jobs stage @i needs (those that are kept). */
static void yaml_needs(struct strbuf *sb, const struct plan *p, size_t i, bool github)
{
	const struct kiln_plan_stage *st = &p->st[i];
	bool first = true;

	strbuf_addch(sb, '[');
	for (size_t d = 0; d < st->n_deps; d++) {
		if (!p->keep[st->deps[d]])
			continue;
		strbuf_adds(sb, first ? "" : ", ");
		first = false;
		yaml_str(sb, p->ids[st->deps[d]], github);
	}
	strbuf_addch(sb, ']');
}

/* Whether stage @i needs a job of the plan (GitHub and Argo write no empty list). */
static bool needs_any(const struct plan *p, size_t i)
{
	for (size_t d = 0; d < p->st[i].n_deps; d++)
		if (p->keep[p->st[i].deps[d]])
			return true;
	return false;
}

static void write_header(struct strbuf *sb, const struct plan *p)
{
	size_t jobs = 0;

	for (size_t i = 0; i < p->n; i++)
		jobs += p->keep[i];
	strbuf_addf(sb, "# Written by kiln plan: %zu jobs for %zu stages.\n", jobs, p->n);
}

static void write_gitlab(struct strbuf *sb, const struct plan *p)
{
	write_header(sb, p);
	for (size_t i = 0; i < p->n; i++) {
		if (!p->keep[i])
			continue;
		strbuf_addch(sb, '\n');
		yaml_str(sb, p->ids[i], false);
		strbuf_adds(sb, ":\n  needs: ");
		yaml_needs(sb, p, i, false);
		if (p->a->runner) {
			strbuf_adds(sb, "\n  tags: [");
			yaml_str(sb, p->a->runner, false);
			strbuf_addch(sb, ']');
		}
		strbuf_adds(sb, "\n  script:\n    - ");
		yaml_command(sb, p->argv[i], false);
		strbuf_addch(sb, '\n');
	}
}

static void write_github(struct strbuf *sb, const struct plan *p)
{
	write_header(sb, p);
	strbuf_adds(sb, "name: kiln build\n\"on\":\n  push:\n  workflow_dispatch:\njobs:\n");
	for (size_t i = 0; i < p->n; i++) {
		if (!p->keep[i])
			continue;
		strbuf_addf(sb, "  %s:\n    name: ", p->ids[i]);
		yaml_str(sb, p->st[i].name, true);
		strbuf_adds(sb, "\n    runs-on: ");
		yaml_str(sb, p->a->runner ? p->a->runner : "self-hosted", true);
		if (needs_any(p, i)) {
			strbuf_adds(sb, "\n    needs: ");
			yaml_needs(sb, p, i, true);
		}
		strbuf_adds(sb, "\n    steps:\n      - uses: actions/checkout@v4\n      - run: ");
		yaml_command(sb, p->argv[i], true);
		strbuf_addch(sb, '\n');
	}
}

/* YAML holds text: a string that is not UTF-8 cannot be written. */
static int text_check(const char *s)
{
	for (size_t i = 0, n = strlen(s); i < n;) {
		size_t len = utf8_sequence_len((const unsigned char *)s + i, n - i);
		_cleanup_free_ char *q = NULL;

		if (len) {
			i += len;
			continue;
		}
		q = quote_for_message(s, n, 200);
		if (!q)
			return cli_fail(-ENOMEM, "plan");
		return cli_usage("plan: \"%s\" is not UTF-8 text, which a pipeline's YAML cannot "
				 "hold",
				 q);
	}
	return EXIT_OK;
}

/* Every string of the pipeline is text. */
static int plan_check_text(const struct plan *p)
{
	const char *const extra[] = { p->a->runner, p->a->image };
	int r = EXIT_OK;

	for (size_t i = 0; i < ELEMENTSOF(extra) && r == EXIT_OK; i++)
		if (extra[i])
			r = text_check(extra[i]);
	for (size_t i = 0; i < p->n && r == EXIT_OK; i++)
		for (size_t j = 0; p->keep[i] && p->argv[i][j] && r == EXIT_OK; j++)
			r = text_check(p->argv[i][j]);
	return r;
}

/* Argo reads "{{" anywhere as a template tag, and has no way to write it otherwise. */
static int argo_check(const struct plan *p)
{
	if (strstr(p->a->image, "{{"))
		return cli_usage("plan: --image '%s' holds \"{{\", which Argo reads as a "
				 "template tag",
				 p->a->image);
	for (size_t i = 0; i < p->n; i++)
		for (size_t j = 0; p->keep[i] && p->argv[i][j]; j++)
			if (strstr(p->argv[i][j], "{{"))
				return cli_usage("plan: '%s' holds \"{{\", which Argo reads as a "
						 "template tag: --format argo cannot pass it",
						 p->argv[i][j]);
	return EXIT_OK;
}

static void write_argo(struct strbuf *sb, const struct plan *p)
{
	write_header(sb, p);
	strbuf_adds(sb, "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n"
			"  generateName: kiln-build-\nspec:\n  entrypoint: kiln-build\n"
			"  templates:\n    - name: kiln-build\n      dag:\n        tasks:\n");
	for (size_t i = 0; i < p->n; i++) {
		if (!p->keep[i])
			continue;
		strbuf_addf(sb, "          - name: %s\n            template: %s\n", p->ids[i],
			    p->ids[i]);
		if (needs_any(p, i)) {
			strbuf_adds(sb, "            dependencies: ");
			yaml_needs(sb, p, i, false);
			strbuf_addch(sb, '\n');
		}
	}
	for (size_t i = 0; i < p->n; i++) {
		if (!p->keep[i])
			continue;
		strbuf_addf(sb,
			    "    - name: %s\n      container:\n        name: main\n"
			    "        image: ",
			    p->ids[i]);
		yaml_str(sb, p->a->image, false);
		strbuf_adds(sb, "\n        command:\n");
		for (size_t j = 0; p->argv[i][j]; j++) {
			strbuf_adds(sb, "          - ");
			yaml_str(sb, p->argv[i][j], false);
			strbuf_addch(sb, '\n');
		}
		strbuf_adds(sb, "        securityContext:\n          privileged: true\n");
	}
}

/* ---- the command ------------------------------------------------------------------ */

static void plan_release(struct plan *p)
{
	for (size_t i = 0; p->ids && i < p->n; i++)
		free(p->ids[i]);
	free(p->ids);
	for (size_t i = 0; p->argv && i < p->n; i++)
		free(p->argv[i]);
	free(p->argv);
	free(p->keep);
}

/* GitLab's job names: "build:" and the stage's name, which YAML quoting keeps as it is. */
static int gitlab_ids(const struct kiln_plan_stage *st, size_t n, char ***ret)
{
	char **ids = calloc(n + 1, sizeof(*ids));

	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (asprintf(&ids[i], "build:%s", st[i].name) < 0) {
			while (i-- > 0)
				free(ids[i]);
			free(ids);
			return -ENOMEM;
		}
	*ret = ids;
	return 0;
}

/* Which stages get a job, their names and commands. */
static int plan_jobs(struct plan *p)
{
	int r;

	p->keep = calloc(p->n + 1, sizeof(*p->keep));
	p->argv = calloc(p->n + 1, sizeof(*p->argv));
	if (!p->keep || !p->argv)
		return -ENOMEM;
	r = p->a->format == FORMAT_GITLAB ? gitlab_ids(p->st, p->n, &p->ids)
					  : job_ids(p->st, p->n, &p->ids);
	for (size_t i = 0; r >= 0 && i < p->n; i++) {
		p->keep[i] = !p->a->skip_cached || !p->st[i].cached || p->st[i].target;
		r = job_argv(p->a, p->t, &p->st[i], &p->argv[i]);
	}
	return r;
}

static int print_plan(const struct plan *p)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r = plan_check_text(p);

	if (r != EXIT_OK)
		return r;
	switch (p->a->format) {
	case FORMAT_GITLAB:
		write_gitlab(&sb, p);
		break;
	case FORMAT_GITHUB:
		write_github(&sb, p);
		break;
	default:
		if (argo_check(p) != EXIT_OK)
			return EXIT_USAGE;
		write_argo(&sb, p);
		break;
	}
	return cli_write_strbuf(&sb);
}

static int check_args(const struct plan_args *a, const struct tree_args *t, size_t n_targets)
{
	if (a->format == FORMAT_NONE)
		return cli_usage("plan: --format gitlab, github or argo is required");
	if (n_targets == 0)
		return cli_usage("plan: expected at least one TARGET: run 'kiln plan --help'");
	if (t->json)
		return cli_usage("plan: --json: the plan is the engine's YAML; use kiln graph "
				 "--format json for the graph");
	if (cli_publish_check("plan", &a->publish) != CLI_CONTINUE)
		return EXIT_USAGE;
	if (a->skip_cached && !a->cache)
		return cli_usage(
		    "plan: --skip-cached needs --cache REPO, the cache the jobs share");
	if (a->format == FORMAT_ARGO && !a->image)
		return cli_usage(
		    "plan: --format argo needs --image REF, the jobs' container image");
	return CLI_CONTINUE;
}

static const struct option plan_options[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "skip-cached", no_argument, NULL, OPT_SKIP_CACHED },
	CLI_PUBLISH_OPTIONS,
	{ "runner", required_argument, NULL, OPT_RUNNER },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "kiln", required_argument, NULL, OPT_KILN },
	{},
};

static void plan_args_release(struct plan_args *a)
{
	cli_secrets_release(&a->secrets);
}

int cmd_plan(int argc, char **argv)
{
	_cleanup_(plan_args_release) struct plan_args a = { 0 };
	struct cli_options o = {
		.name = "plan",
		.help = help,
		.extra = plan_options,
		.on_option = on_option,
		.userdata = &a,
		.registry = &a.transport,
		.pulls = true,
	};
	_cleanup_(tree_args_release) struct tree_args t = { 0 };
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(plan_release) struct plan p = { .a = &a, .t = &t };
	struct kiln_build_options bo;
	struct kiln_plan_options po = { .build = &bo };
	struct kiln_plan_stage *stages = NULL;
	size_t n_stages = 0;
	int r;

	r = cli_parse_options(argc, argv, &o, &t);
	if (r != CLI_CONTINUE)
		return r;
	for (int i = optind; i < argc; i++)
		if (cli_push_arg(&t.targets, &t.n_targets, argv[i]) < 0)
			return EXIT_FAILURE_;
	r = check_args(&a, &t, t.n_targets);
	if (r != CLI_CONTINUE)
		return r;
	r = cli_load_tree(&t, false, &tree);
	if (r < 0)
		return cli_fail(r, "plan: cannot load the tree");
	bo = (struct kiln_build_options){
		.cache_from = &a.cache,
		.n_cache_from = a.cache ? 1 : 0,
		.source_date_epoch = cli_build_epoch(&t),
		.secrets = a.secrets.v,
		.n_secrets = a.secrets.n,
		.pull = !a.transport.no_pull,
		.registry = &a.transport.reg,
	};
	po.keys = a.skip_cached;
	if (po.keys) {
		r = cli_open_store("plan: cannot open the store", &s);
		if (r != EXIT_OK)
			return r;
	}
	r = kiln_build_plan(cli_ctx, s, tree, (const char *const *)t.targets, t.n_targets, &po,
			    &stages, &n_stages);
	if (r < 0)
		return cli_fail(r, "plan");
	p.st = stages;
	p.n = n_stages;
	r = plan_jobs(&p);
	if (r >= 0)
		r = print_plan(&p);
	else
		r = cli_fail(r, "plan");
	kiln_plan_stages_free(stages, n_stages);
	return r;
}
