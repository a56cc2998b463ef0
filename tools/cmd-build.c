/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln build: run a tree's stages, print each target's image reference,
 * record it in _out/images.json, and optionally export or push it.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <kiln/build.h>
#include <kiln/oci.h>
#include <kiln/registry.h>

#include "fileio.h"
#include "json.h"
#include "kiln.h"
#include "build-report.h"
#include "module-report.h"
#include "strbuf.h"

enum {
	OPT_NO_CACHE = OPT_FIRST_COMMAND_OPTION,
	OPT_KEEP_GOING,
	OPT_PROGRESS,
	OPT_REPORT,
	OPT_TRACE,
	OPT_CACHE_FROM,
	OPT_CACHE_TO,
};

enum progress_mode {
	PROGRESS_AUTO,
	PROGRESS_TTY,
	PROGRESS_PLAIN,
	PROGRESS_QUIET,
};

struct build_args {
	unsigned jobs;
	bool no_cache, keep_going;
	struct cli_publish_args publish;
	struct cli_registry_args transport; /* --insecure, --authfile, --no-pull */
	struct cli_secrets secrets;
	enum progress_mode progress;
	const char *output;
	const char *report; /* --report FILE.html */
	const char *trace; /* --trace FILE.json */
	/* registry caches: --cache-from and --cache-to, else the environment's lists */
	char **cache_from, **cache_to;
	size_t n_cache_from, n_cache_to;
	char *env_cache_from, *env_cache_to; /* those lists, cut at whitespace */
};

static int help(void)
{
	printf("Usage: kiln build [OPTIONS] TARGET...\n"
	       "\n"
	       "Build packages of the tree, with their dependencies, in namespace sandboxes:\n"
	       "no Docker, no daemon. Each stage's root is its dependencies merged in order\n"
	       "(stage outputs and images from the store), its package directory at /pkg\n"
	       "(*.tmpl rendered), and its steps run as '<shell> -c \"set -eou pipefail\n"
	       "...\"' in /tmp/build with only bldr's variables in the environment and no\n"
	       "network unless the step says 'network: default' or 'host' (kiln then shares\n"
	       "the host's network). Sources are downloaded once and checked against both\n"
	       "hashes before anything runs. Finalize's copies become the stage's image.\n"
	       "\n"
	       "A stage whose inputs (definition, /pkg files, dependencies' digests, source\n"
	       "hashes, platform, secrets' digests) are unchanged is taken from the cache\n"
	       "and not run. Each target's image is tagged TARGET:TAG in the store, printed\n"
	       "as TARGET:TAG@sha256:..., and recorded in _out/images.json of the tree.\n"
	       "Stage logs are kept in _out/logs/STAGE.log.\n"
	       "\n"
	       "Kernel modules (*.ko, *.ko.xz, *.ko.zst) in a stage's output are checked as\n"
	       "'kiln module check' checks them, signatures enforced as on Talos, against\n"
	       "the kernel build tree of the nearest dependency that holds one (at its\n"
	       "/src, as kernel-build has it, or at its top), else against a kernel\n"
	       "image's /usr/lib/modules/RELEASE: one that would not load fails the stage.\n"
	       "Missing firmware is a warning. The summary lists each module with its\n"
	       "signer, vermagic and verdict; --json gives them per target.\n"
	       "\n"
	       "Options:\n" TREE_OPTIONS_HELP
	       "  -j, --jobs N           stages run at once (default: the number of CPUs)\n"
	       "      --no-cache         run every stage, even when it is in the cache\n"
	       "      --keep-going       after a failure, build what does not depend on it\n"
	       "      --secret id=ID,src=PATH\n"
	       "                         a file mounted read-only at /run/secrets/ID into the\n"
	       "                         steps that list ID under 'secrets:' (kiln's extension\n"
	       "                         of the format); only its sha256 enters the cache key\n"
	       "      --progress MODE    tty (a live line per running stage), plain\n"
	       "                         (timestamped lines) or quiet; default: tty on a\n"
	       "                         terminal, else plain\n"
	       "  -o, --output DIR       export the target's files to DIR, replacing what\n"
	       "                         it held (with several targets, to DIR/TARGET)\n"
	       "      --tag TAG          the tag of the targets' images (default: 'git\n"
	       "                         describe --tags --always --dirty' of the tree, else\n"
	       "                         latest)\n"
	       "      --push             push each target to REGISTRY/USERNAME/TARGET:TAG\n"
	       "      --registry HOST    the registry to push to (with --push)\n"
	       "      --username NAME    the namespace in the registry (with --push)\n"
	       "      --allow-private-key\n"
	       "                         push a target whose image holds a private key (with\n"
	       "                         --push; without it the push is refused, naming the\n"
	       "                         layer and the file: see kiln push --help)\n"
	       "      --cache-from REPO  a registry cache (a repository, no tag) to look each\n"
	       "                         stage up in after a local cache miss, in the order\n"
	       "                         given (repeatable; default: $KILN_CACHE_FROM, a\n"
	       "                         list separated by spaces); a hit is pulled, every\n"
	       "                         blob verified, instead of building the stage\n"
	       "      --cache-to REPO    push each stage built, found or pulled to REPO as tag\n"
	       "                         kiln-<cache key> when REPO lacks it (repeatable;\n"
	       "                         default: $KILN_CACHE_TO); never a stage whose output\n"
	       "                         holds a private key\n"
	       "      --report FILE      write a report of the build to FILE, one HTML page\n"
	       "                         (the stage graph, the timeline, images, modules),\n"
	       "                         also when the build fails\n"
	       "      --trace FILE       write the build's stages and steps to FILE in the\n"
	       "                         Chrome trace event format (Perfetto opens it)\n");
	cli_registry_help(25, true);
	printf("\n"
	       "Registries are reached as kiln push reaches them (see kiln push --help), to\n"
	       "pull image dependencies the store lacks, to push and for the registry\n"
	       "caches. --insecure also lets sources be downloaded without checking TLS\n"
	       "certificates. A registry cache that cannot be reached, or an entry that is\n"
	       "damaged, is a warning and a miss: the stage is built.\n"
	       "\n"
	       "SOURCE_DATE_EPOCH (outputs' mtimes and the images' creation time) is\n"
	       "--build-arg SOURCE_DATE_EPOCH=N, else the SOURCE_DATE_EPOCH environment\n"
	       "variable, else 0.\n"
	       "\n"
	       "Exit status: 0 built, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

static void build_args_release(struct build_args *a)
{
	cli_secrets_release(&a->secrets);
	free(a->cache_from);
	free(a->cache_to);
	free(a->env_cache_from);
	free(a->env_cache_to);
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct build_args *a = userdata;
	char *end;

	switch (c) {
	case 'j': {
		unsigned long n = strtoul(arg, &end, 10);

		if (*end || n == 0 || n > 1024)
			return cli_usage(
			    "build: --jobs: expected a number from 1 to 1024, not '%s'", arg);
		a->jobs = (unsigned)n;
		return CLI_CONTINUE;
	}
	case OPT_NO_CACHE:
		a->no_cache = true;
		return CLI_CONTINUE;
	case OPT_KEEP_GOING:
		a->keep_going = true;
		return CLI_CONTINUE;
	case OPT_PROGRESS: {
		static const char *const modes[] = { "tty", "plain", "quiet", NULL };
		int i = -1, r = cli_parse_choice("build", "--progress", arg, modes, &i);

		/* PROGRESS_AUTO comes first: a mode is its index plus one */
		a->progress = (enum progress_mode)(i + 1);
		return r;
	}
	case 'o':
		a->output = arg;
		return CLI_CONTINUE;
	case OPT_REPORT:
		a->report = arg;
		return CLI_CONTINUE;
	case OPT_TRACE:
		a->trace = arg;
		return CLI_CONTINUE;
	case OPT_CACHE_FROM:
		return cli_push_arg(&a->cache_from, &a->n_cache_from, arg) < 0 ? EXIT_FAILURE
									       : CLI_CONTINUE;
	case OPT_CACHE_TO:
		return cli_push_arg(&a->cache_to, &a->n_cache_to, arg) < 0 ? EXIT_FAILURE
									   : CLI_CONTINUE;
	default: {
		int r = cli_publish_option("build", c, arg, &a->publish, &a->secrets);

		return r ? r : cli_usage("build: run 'kiln build --help' for usage");
	}
	}
}

/* ---- progress ------------------------------------------------------------------ */

#define MAX_LIVE 64

struct live {
	char stage[128];
	char what[160];
	double start;
};

struct progress {
	enum progress_mode mode;
	pthread_mutex_t lock;
	double start;
	struct live live[MAX_LIVE];
	size_t n_live;
	size_t drawn; /* live lines on the screen now */
	bool stop;
	pthread_t ticker;
	bool ticking;
	struct build_summary *modules; /* of the stages built or found */
	struct build_record *record; /* for --report and --trace; NULL without them */
	bool cache_used; /* --cache-from or --cache-to was given */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void erase_live(struct progress *p)
{
	for (; p->drawn > 0; p->drawn--)
		fputs("\033[1A\033[2K", stderr);
}

/* The terminal's width: a live line must not wrap, or erasing it would erase too little. */
static int terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

static void draw_live(struct progress *p)
{
	int width = terminal_width();
	double t = now();

	for (size_t i = 0; i < p->n_live; i++) {
		char line[512];

		snprintf(line, sizeof(line), "  %-24s %6.1fs  %s", p->live[i].stage,
			 t - p->live[i].start, p->live[i].what);
		fprintf(stderr, "\033[2K%.*s\n", width - 1, line);
	}
	p->drawn = p->n_live;
	fflush(stderr);
}

/* A permanent line: above the live ones on a terminal, timestamped otherwise. */
static void say(struct progress *p, const char *fmt, ...) _printf_(2, 3);
static void say(struct progress *p, const char *fmt, ...)
{
	va_list ap;

	if (p->mode == PROGRESS_TTY)
		erase_live(p);
	else
		fprintf(stderr, "[%7.1fs] ", now() - p->start);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (p->mode == PROGRESS_TTY)
		draw_live(p);
	fflush(stderr);
}

static struct live *find_live(struct progress *p, const char *stage, bool add)
{
	for (size_t i = 0; i < p->n_live; i++)
		if (streq(p->live[i].stage, stage))
			return &p->live[i];
	if (!add || p->n_live == MAX_LIVE)
		return NULL;
	struct live *l = &p->live[p->n_live++];
	snprintf(l->stage, sizeof(l->stage), "%s", stage);
	l->what[0] = '\0';
	l->start = now();
	return l;
}

static void drop_live(struct progress *p, const char *stage)
{
	struct live *l = find_live(p, stage, false);

	if (l) {
		*l = p->live[--p->n_live];
	}
}

/* The first line of an instruction, for a progress line. */
static void first_line(char *buf, size_t size, const char *text)
{
	size_t n = strcspn(text, "\n");

	snprintf(buf, size, "%.*s%s", (int)n, text, text[n] ? " ..." : "");
}

static void on_event(void *userdata, const struct kiln_build_event *ev)
{
	struct progress *p = userdata;
	char line[160] = "";

	pthread_mutex_lock(&p->lock);
	if (p->record)
		build_record_event(p->record, ev, now());
	switch (ev->kind) {
	case KILN_BUILD_STAGE_CACHED:
		if (p->mode != PROGRESS_QUIET)
			say(p, "%s: cached %s", ev->stage, ev->digest);
		(void)build_summary_add(p->modules, ev->stage, ev->modules, ev->n_modules);
		break;
	case KILN_BUILD_STAGE_PULLED:
		/* a stage that waited for another build to make it had a line of its own */
		drop_live(p, ev->stage);
		if (p->mode != PROGRESS_QUIET)
			say(p, "%s: pulled from %s in %.1fs (%.1f MB), %s", ev->stage, ev->url,
			    ev->seconds, (double)ev->done / 1e6, ev->digest);
		(void)build_summary_add(p->modules, ev->stage, ev->modules, ev->n_modules);
		break;
	case KILN_BUILD_STAGE_START:
		if (p->mode == PROGRESS_TTY)
			find_live(p, ev->stage, true);
		else if (p->mode == PROGRESS_PLAIN)
			say(p, "%s: started", ev->stage);
		break;
	case KILN_BUILD_STAGE_STEP: {
		struct live *l;

		if (ev->instruction)
			first_line(line, sizeof(line), ev->instruction);
		if (p->mode == PROGRESS_PLAIN) {
			if (ev->step)
				say(p, "%s: step %u %s: %s", ev->stage, ev->step, ev->phase, line);
			else
				say(p, "%s: %s%s%s", ev->stage, ev->phase, *line ? " " : "", line);
		} else if (p->mode == PROGRESS_TTY && (l = find_live(p, ev->stage, true))) {
			int n;

			/* a longer line is cut: it is drawn cut to the terminal's width anyway */
			if (ev->step)
				n = snprintf(l->what, sizeof(l->what), "step %u %s: %s", ev->step,
					     ev->phase, line);
			else
				n = snprintf(l->what, sizeof(l->what), "%s %s", ev->phase, line);
			(void)n;
			erase_live(p);
			draw_live(p);
		}
		break;
	}
	case KILN_BUILD_STAGE_DONE:
		drop_live(p, ev->stage);
		if (p->mode != PROGRESS_QUIET)
			say(p, "%s: built in %.1fs, %s", ev->stage, ev->seconds, ev->digest);
		(void)build_summary_add(p->modules, ev->stage, ev->modules, ev->n_modules);
		break;
	case KILN_BUILD_STAGE_FAILED:
		drop_live(p, ev->stage);
		if (p->mode == PROGRESS_TTY)
			erase_live(p);
		fprintf(stderr, "kiln: stage %s failed", ev->stage);
		if (ev->step)
			fprintf(stderr, " at step %u", ev->step);
		if (ev->phase)
			fprintf(stderr, " (%s)", ev->phase);
		fprintf(stderr, ": %s\n", ev->error);
		if (ev->instruction)
			fprintf(stderr, "kiln: the instruction was:\n%s\n", ev->instruction);
		/* refused modules: their findings say more than the end of the log */
		if (build_modules_print_refused(stderr, ev->modules, ev->n_modules) == 0 &&
		    ev->log_tail && *ev->log_tail)
			fprintf(stderr, "kiln: the end of %s:\n%s\n", ev->log_path, ev->log_tail);
		else if (ev->log_path)
			fprintf(stderr, "kiln: the full log is %s\n", ev->log_path);
		if (p->mode == PROGRESS_TTY)
			draw_live(p);
		break;
	case KILN_BUILD_STAGE_SKIPPED:
		drop_live(p, ev->stage);
		if (p->mode != PROGRESS_QUIET)
			say(p, "%s: not built: a stage it needs failed", ev->stage);
		break;
	case KILN_BUILD_FETCH:
		break;
	}
	pthread_mutex_unlock(&p->lock);
}

static void *tick(void *userdata)
{
	struct progress *p = userdata;

	for (;;) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 500 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		pthread_mutex_lock(&p->lock);
		if (p->stop) {
			erase_live(p);
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		erase_live(p);
		draw_live(p);
		pthread_mutex_unlock(&p->lock);
	}
}

/* Start reporting: the mode @mode (auto: tty on a terminal), the clock, the ticker on a tty. */
static void progress_start(struct progress *p, enum progress_mode mode)
{
	p->mode = mode;
	if (p->mode == PROGRESS_AUTO)
		p->mode = isatty(STDERR_FILENO) ? PROGRESS_TTY : PROGRESS_PLAIN;
	p->start = now();
	if (p->record)
		p->record->start = p->start;
	if (p->mode == PROGRESS_TTY)
		p->ticking = pthread_create(&p->ticker, NULL, tick, p) == 0;
}

static void progress_stop(struct progress *p)
{
	if (!p->ticking)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->ticker, NULL);
}

/*
 * The end of the build on stderr: how many stages failed, or were built and
 * cached, and the modules' summary. Returns the exit status for @r.
 */
static int report_build(const struct progress *p, int r, const struct kiln_build_stats *stats)
{
	if (r < 0) {
		if (p->mode != PROGRESS_QUIET)
			build_summary_print(p->modules, stderr);
		if (stats->failed + stats->skipped > 0)
			fprintf(stderr, "kiln: build: %u of %u stages failed, %u not built\n",
				stats->failed, stats->stages, stats->skipped);
		return cli_fail(r, "build");
	}
	if (p->mode != PROGRESS_QUIET) {
		fprintf(stderr, "kiln: %u stages: %u built, %u cached", stats->stages, stats->built,
			stats->cached);
		/* the registry caches' counts only where they were used: the line stays as it was
		 */
		if (p->cache_used)
			fprintf(stderr, ", %u pulled, %u pushed", stats->pulled, stats->pushed);
		fprintf(stderr, " (%.1fs)\n", now() - p->start);
		build_summary_print(p->modules, stderr);
	}
	return EXIT_OK;
}

/* ---- pushing ---------------------------------------------------------------------- */

/* Push target @p to REGISTRY/USERNAME/TARGET:TAG; *@ret_reference: that @sha256:... */
static int push_target(struct kiln_store *s, const struct build_args *a,
		       const struct kiln_build_published *p, const char *out_dir,
		       char **ret_reference)
{
	_cleanup_free_ char *dest = NULL;

	if (asprintf(&dest, "%s/%s/%s", a->publish.registry, a->publish.username, p->name) < 0)
		return cli_fail(-ENOMEM, "build");
	return cli_push_image(s, &p->desc, p->name, dest, &a->transport.reg,
			      a->publish.allow_private_key, out_dir, ret_reference);
}

/* The targets: those of -t, then the operands; NULL when out of memory. */
static const char **list_targets(const struct tree_args *t, int argc, char **argv, size_t n)
{
	const char **targets = calloc(n, sizeof(*targets));

	if (!targets)
		return NULL;
	for (size_t i = 0; i < t->n_targets; i++)
		targets[i] = t->targets[i];
	for (int i = optind; i < argc; i++)
		targets[t->n_targets + (size_t)(i - optind)] = argv[i];
	return targets;
}

/*
 * The tree's _out (made) and _out/logs, and the tag: --tag, else what
 * `git describe` says of the tree, else "latest". Returns an exit status.
 */
static int prepare_out(const struct build_args *a, char **ret_out_dir, char **ret_log_dir,
		       char **ret_tag)
{
	_cleanup_free_ char *out_dir = path_join(cli_root, "_out");
	_cleanup_free_ char *log_dir = path_join(cli_root, "_out/logs");
	_cleanup_free_ char *tag = NULL;

	/* before the build: its logs in the tree would make it -dirty */
	if (a->publish.tag)
		tag = strdup(a->publish.tag);
	else if (kiln_build_describe(cli_ctx, cli_root, &tag) >= 0 && !tag)
		tag = strdup("latest");
	if (!out_dir || !log_dir || !tag)
		return cli_fail(-ENOMEM, "build");
	if (mkdir(out_dir, 0755) < 0 && errno != EEXIST)
		return cli_fail(-errno, "build: cannot make '%s'", out_dir);
	*ret_out_dir = TAKE_PTR(out_dir);
	*ret_log_dir = TAKE_PTR(log_dir);
	*ret_tag = TAKE_PTR(tag);
	return EXIT_OK;
}

/* What kiln_build() is asked to do, and to tell @p. */
static struct kiln_build_options run_options(const struct build_args *a, const struct tree_args *t,
					     const char *log_dir, struct progress *p)
{
	return (struct kiln_build_options){
		.jobs = a->jobs,
		.no_cache = a->no_cache,
		.keep_going = a->keep_going,
		.source_date_epoch = cli_build_epoch(t),
		.secrets = a->secrets.v,
		.n_secrets = a->secrets.n,
		.log_dir = log_dir,
		.pull = !a->transport.no_pull,
		.registry = &a->transport.reg,
		.cache_from = (const char *const *)a->cache_from,
		.n_cache_from = a->n_cache_from,
		.cache_to = (const char *const *)a->cache_to,
		.n_cache_to = a->n_cache_to,
		.on_event = on_event,
		.userdata = p,
	};
}

/*
 * Each target, pushed with --push, on stdout: its reference (or where it
 * was pushed), or with --json (@json) all of them as a JSON array.
 */
static int print_targets(struct kiln_store *s, const struct build_args *a, bool json,
			 const struct kiln_build_target *built,
			 const struct kiln_build_published *published, size_t n_targets,
			 const char *out_dir)
{
	_cleanup_strbuf_ struct strbuf text = STRBUF_INIT;
	struct json_writer w;
	int ret = EXIT_OK;

	json_init(&w, &text);
	json_begin_array(&w);
	for (size_t i = 0; i < n_targets && ret == EXIT_OK; i++) {
		_cleanup_free_ char *pushed = NULL;

		if (a->publish.push)
			ret = push_target(s, a, &published[i], out_dir, &pushed);
		if (ret != EXIT_OK)
			break;
		if (json) {
			json_begin_object(&w);
			json_kv_string(&w, "name", built[i].name);
			json_kv_string(&w, "reference", published[i].reference);
			json_kv_string(&w, "digest", built[i].digest.s);
			json_key(&w, "cached");
			json_bool(&w, built[i].cached);
			json_key(&w, "pulled");
			json_bool(&w, built[i].pulled);
			if (pushed)
				json_kv_string(&w, "pushed", pushed);
			json_key(&w, "modules");
			build_modules_json(&w, built[i].modules, built[i].n_modules);
			json_end_object(&w);
		} else {
			printf("%s\n", pushed ? pushed : published[i].reference);
		}
	}
	json_end_array(&w);
	if (ret == EXIT_OK && json) {
		strbuf_addch(&text, '\n');
		ret = cli_write_strbuf(&text);
	}
	return ret;
}

/* What the report says of the build, besides its record: what was asked and where. */
static int report_prepare(const struct build_args *a, const struct tree_args *t,
			  const char *const *targets, size_t n_targets, struct build_report *ret)
{
	if (!ret->command_line)
		return cli_fail(-ENOMEM, "build");
	ret->root = realpath(cli_root, NULL);
	if (!ret->root)
		return cli_fail(-errno, "build: cannot resolve the tree '%s'", cli_root);
	if (a->report && kiln_build_describe(cli_ctx, cli_root, &ret->revision) < 0)
		return cli_fail(-ENOMEM, "build");
	ret->platform = t->platform;
	ret->build_args = t->build_args;
	ret->n_build_args = t->n_build_args;
	ret->targets = targets;
	ret->n_targets = n_targets;
	ret->jobs = a->jobs;
	return EXIT_OK;
}

static void report_release(struct build_report *rep)
{
	free(rep->command_line);
	free(rep->root);
	free(rep->revision);
	free(rep->error);
}

/*
 * Without --cache-from (--cache-to), the list in $KILN_CACHE_FROM
 * ($KILN_CACHE_TO): repositories separated by whitespace, as a CI
 * runner's environment sets them for every job.
 */
static int list_from_env(const char *name, char **copy, char ***v, size_t *n)
{
	const char *env = getenv(name);
	char *save = NULL;

	if (*n > 0 || !env)
		return 0;
	*copy = strdup(env);
	if (!*copy) {
		cli_fail(-ENOMEM, "build");
		return -ENOMEM;
	}
	for (char *tok = strtok_r(*copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
		if (cli_push_arg(v, n, tok) < 0)
			return -ENOMEM;
	return 0;
}

static int caches_from_env(struct build_args *a)
{
	int r =
	    list_from_env("KILN_CACHE_FROM", &a->env_cache_from, &a->cache_from, &a->n_cache_from);

	if (r >= 0)
		r = list_from_env("KILN_CACHE_TO", &a->env_cache_to, &a->cache_to, &a->n_cache_to);
	return r;
}

static const struct option build_options[] = {
	{ "jobs", required_argument, NULL, 'j' },
	{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
	{ "keep-going", no_argument, NULL, OPT_KEEP_GOING },
	{ "progress", required_argument, NULL, OPT_PROGRESS },
	{ "output", required_argument, NULL, 'o' },
	CLI_PUBLISH_OPTIONS,
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "cache-from", required_argument, NULL, OPT_CACHE_FROM },
	{ "cache-to", required_argument, NULL, OPT_CACHE_TO },
	{},
};

int cmd_build(int argc, char **argv)
{
	_cleanup_(build_args_release) struct build_args a = { 0 };
	struct cli_options o = {
		.name = "build",
		.help = help,
		.extra = build_options,
		.short_options = "j:o:",
		.on_option = on_option,
		.userdata = &a,
		.registry = &a.transport,
		.pulls = true,
	};
	_cleanup_(tree_args_release) struct tree_args t = { 0 };
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_free_ char *tag = NULL, *out_dir = NULL, *log_dir = NULL;
	_cleanup_free_ const char **targets = NULL;
	struct kiln_build_target *built = NULL;
	struct kiln_build_published *published = NULL;
	struct kiln_build_publish_options po = { 0 };
	struct kiln_build_options bo;
	struct kiln_build_stats stats = { 0 };
	_cleanup_(build_summary_release) struct build_summary modules = { 0 };
	_cleanup_(build_record_release) struct build_record record = { 0 };
	_cleanup_(report_release) struct build_report rep = { .record = &record };
	struct progress p = { .lock = PTHREAD_MUTEX_INITIALIZER, .modules = &modules };
	size_t n_targets;
	int r, ret;

	/* as typed: parsing the options reorders them */
	rep.command_line = shell_command_line(cli_argc, cli_argv);
	r = cli_parse_options(argc, argv, &o, &t);
	if (r != CLI_CONTINUE)
		return r;
	n_targets = t.n_targets + (size_t)(argc - optind);
	if (n_targets == 0)
		return cli_usage("build: expected at least one TARGET: run 'kiln build --help'");
	r = cli_publish_check("build", &a.publish);
	if (r != CLI_CONTINUE)
		return r;
	targets = list_targets(&t, argc, argv, n_targets);
	if (!targets)
		return cli_fail(-ENOMEM, "build");
	if (caches_from_env(&a) < 0)
		return EXIT_FAILURE;
	p.cache_used = a.n_cache_from + a.n_cache_to > 0;

	/* before any thread exists: the sandbox's namespaces are entered once, by the process */
	r = kiln_build_prepare(cli_ctx);
	if (r < 0)
		return cli_fail(r, "build: cannot set up the sandbox");

	r = cli_load_tree(&t, false, &tree);
	if (r < 0)
		return cli_fail(r, "build: cannot load the tree");
	r = cli_open_store("build: cannot open the store", &s);
	if (r != EXIT_OK)
		return r;
	r = prepare_out(&a, &out_dir, &log_dir, &tag);
	if (r == EXIT_OK && (a.report || a.trace)) {
		p.record = &record;
		r = report_prepare(&a, &t, targets, n_targets, &rep);
	}
	if (r != EXIT_OK)
		return r;

	progress_start(&p, a.progress);
	bo = run_options(&a, &t, log_dir, &p);
	r = kiln_build(cli_ctx, s, tree, targets, n_targets, &bo, &built, &stats);
	progress_stop(&p);
	if (p.record)
		build_record_finish(p.record, now());
	rep.tree = tree;
	rep.stats = &stats;
	rep.store = s;
	if (r < 0 && p.record &&
	    !(rep.error = strdup(kiln_ctx_error_for(cli_ctx, r) ?: strerror(-r))))
		return cli_fail(-ENOMEM, "build");
	ret = report_build(&p, r, &stats);
	if (ret != EXIT_OK) {
		(void)build_report_files(a.report, a.trace, &rep);
		return ret;
	}

	po = (struct kiln_build_publish_options){
		.tag = tag,
		.out_dir = out_dir,
		.export_dir = a.output,
	};
	r = kiln_build_publish(cli_ctx, s, built, n_targets, &po, &published);
	if (r < 0) {
		kiln_build_targets_free(built, n_targets);
		return cli_fail(r, "build");
	}
	rep.published = published;
	rep.n_published = n_targets;
	ret = build_report_files(a.report, a.trace, &rep);
	if (ret == EXIT_OK)
		ret = print_targets(s, &a, t.json, built, published, n_targets, out_dir);
	kiln_build_published_free(published, n_targets);
	fflush(stdout);
	kiln_build_targets_free(built, n_targets);
	return ret;
}
