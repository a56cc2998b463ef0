/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln build --report FILE.html. Everything on the page that comes from the
 * tree, the logs or the store is escaped; the page loads nothing: its
 * styles are inline, the graph and the timeline are inline SVG, there is no
 * script.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build-html.h"
#include "fileio.h"
#include "graph-dot.h"
#include "kiln.h"
#include "log.h"
#include "process.h"

/* ---- HTML ----------------------------------------------------------------------- */

void report_esc(struct strbuf *sb, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			strbuf_adds(sb, "&amp;");
			break;
		case '<':
			strbuf_adds(sb, "&lt;");
			break;
		case '>':
			strbuf_adds(sb, "&gt;");
			break;
		case '"':
			strbuf_adds(sb, "&quot;");
			break;
		case '\'':
			strbuf_adds(sb, "&#39;");
			break;
		default:
			strbuf_addch(sb, *s);
		}
	}
}

/* <TAG class="CLASS">TEXT</TAG>, TEXT escaped; an empty CLASS is left out */
static void element(struct strbuf *sb, const char *tag, const char *class, const char *text)
{
	strbuf_addf(sb, "<%s", tag);
	if (class && *class)
		strbuf_addf(sb, " class=\"%s\"", class);
	strbuf_addch(sb, '>');
	report_esc(sb, text);
	strbuf_addf(sb, "</%s>", tag);
}

static void row_begin(struct strbuf *sb, const char *class, const char *stage)
{
	strbuf_adds(sb, "<tr");
	if (class)
		strbuf_addf(sb, " class=\"%s\"", class);
	if (stage) {
		strbuf_adds(sb, " data-stage=\"");
		report_esc(sb, stage);
		strbuf_addch(sb, '"');
	}
	strbuf_addch(sb, '>');
}

/* A row of the key/value table: <tr><th>KEY</th><td>VALUE</td></tr> */
static void kv(struct strbuf *sb, const char *key, const char *value, const char *class)
{
	row_begin(sb, NULL, NULL);
	element(sb, "th", NULL, key);
	element(sb, "td", class, value);
	strbuf_adds(sb, "</tr>\n");
}

static void human_size(char *buf, size_t size, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(*units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
}

void report_duration(char *buf, size_t size, double seconds)
{
	if (seconds < 60)
		snprintf(buf, size, "%.1f s", seconds);
	else
		snprintf(buf, size, "%dm %04.1fs", (int)(seconds / 60),
			 seconds - 60 * (int)(seconds / 60));
}

static const char STYLE[] =
    "body{font:14px/1.4 sans-serif;margin:1.5em 2em;color:#222;background:#fff}\n"
    "h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.6em 0 .5em;"
    "border-bottom:1px solid #ccc}\n"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;"
    "text-align:left;vertical-align:top}th{background:#f4f4f4}\n"
    "td.mono{word-break:break-all}\n"
    "code,pre,.mono{font-family:monospace;font-size:12px}pre{background:#f6f6f6;"
    "border:1px solid #ddd;padding:.6em;overflow:auto;max-height:40em}\n"
    ".ok{color:#1b6e1b}.bad{color:#b00020;font-weight:bold}.note{color:#666}\n"
    "td.verdict{min-width:9em}\n"
    ".legend span{display:inline-block;padding:1px 8px;margin-right:6px;border:1px solid #888}\n"
    ".built{background:#a6dba0}.cached{background:#a6c8f0}.pulled{background:#d3b5f0}\n"
    ".failed{background:#f4a3a3}.skipped{background:#ddd}.not-reached{background:#fff}\n"
    ".running,.cancelled{background:#fde29c}\n"
    ".chip{display:inline-block;padding:1px 8px;margin:2px;border:1px solid #888;"
    "border-radius:3px}\n"
    ".graph svg{max-width:100%;height:auto}\n"
    ".timeline text{font:11px sans-serif}.timeline .lane{font-weight:bold}\n"
    ".timeline .critical rect{stroke:#000;stroke-width:2.5}\n";

/* The fill of an outcome on the graph and the timeline, as in STYLE. */
const char *outcome_fill(enum stage_outcome o)
{
	switch (o) {
	case OUTCOME_BUILT:
		return "#a6dba0";
	case OUTCOME_CACHED:
		return "#a6c8f0";
	case OUTCOME_PULLED:
		return "#d3b5f0";
	case OUTCOME_FAILED:
		return "#f4a3a3";
	case OUTCOME_SKIPPED:
		return "#dddddd";
	case OUTCOME_RUNNING:
	case OUTCOME_CANCELLED:
		return "#fde29c";
	case OUTCOME_NONE:
		break;
	}
	return "#ffffff";
}

/* "not reached" as a class: "not-reached" */
const char *outcome_class(enum stage_outcome o)
{
	return o == OUTCOME_NONE ? "not-reached" : stage_outcome_name(o);
}

static enum stage_outcome outcome_of(const struct build_report *b, const char *stage)
{
	const struct record_stage *st = build_record_find(b->record, stage);

	return st ? st->outcome : OUTCOME_NONE;
}

static void legend(struct strbuf *sb)
{
	static const enum stage_outcome all[] = { OUTCOME_BUILT,   OUTCOME_CACHED,
						  OUTCOME_PULLED,  OUTCOME_FAILED,
						  OUTCOME_SKIPPED, OUTCOME_CANCELLED,
						  OUTCOME_NONE };

	strbuf_adds(sb, "<p class=\"legend\">");
	for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++)
		element(sb, "span", outcome_class(all[i]), stage_outcome_name(all[i]));
	strbuf_adds(sb, "</p>\n");
}

/* ---- the build: what was asked, and how it went ------------------------------------ */

char *shell_command_line(int argc, char *const *argv)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (i)
			strbuf_addch(&sb, ' ');
		if (*a && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
				    "_@%+=:,./-") == strlen(a)) {
			strbuf_adds(&sb, a);
			continue;
		}
		strbuf_addch(&sb, '\'');
		for (; *a; a++)
			strbuf_adds(&sb, *a == '\'' ? "'\\''" : (char[]){ *a, 0 });
		strbuf_addch(&sb, '\'');
	}
	return strbuf_detach(&sb, NULL);
}

static void joined(struct strbuf *sb, const char *const *v, size_t n, const char *none)
{
	if (n == 0)
		strbuf_adds(sb, none);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_adds(sb, ", ");
		strbuf_adds(sb, v[i]);
	}
}

static void section_build(struct strbuf *sb, const struct build_report *b)
{
	const struct kiln_build_stats *s = b->stats;
	_cleanup_strbuf_ struct strbuf v = STRBUF_INIT;
	char when[64], took[32], jobs[32];
	time_t t = time(NULL);
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
	report_duration(took, sizeof(took), b->record->end);
	strbuf_adds(sb, "<table id=\"build\">\n");
	if (b->error)
		kv(sb, "result", b->error, "bad");
	else
		kv(sb, "result", "built", "ok");
	strbuf_addf(&v, "%u stages: %u built, %u cached, %u failed, %u not built", s->stages,
		    s->built, s->cached, s->failed, s->skipped);
	kv(sb, "stages", strbuf_str(&v), NULL);
	kv(sb, "time", took, NULL);
	kv(sb, "report written", when, NULL);
	kv(sb, "command line", b->command_line, "mono");
	kv(sb, "kiln version", kiln_version(), NULL);
	kv(sb, "tree", b->root, "mono");
	kv(sb, "tree revision",
	   b->revision ?: "none: the tree is no git checkout (or git is not installed)",
	   b->revision ? "mono" : "note");
	strbuf_reset(&v);
	joined(&v, b->targets, b->n_targets, "");
	kv(sb, "targets", strbuf_str(&v), "mono");
	strbuf_reset(&v);
	joined(&v, (const char *const *)b->build_args, b->n_build_args, "none");
	kv(sb, "build arguments", strbuf_str(&v), "mono");
	kv(sb, "platform", b->platform ?: "the host's", NULL);
	if (b->jobs)
		snprintf(jobs, sizeof(jobs), "%u", b->jobs);
	kv(sb, "jobs", b->jobs ? jobs : "one per CPU", NULL);
	strbuf_adds(sb, "</table>\n");
}

/* ---- the stage graph: kiln graph's, through graphviz -------------------------------- */

struct node_attrs {
	const struct build_report *b;
	char buf[256];
};

static const char *node_attrs(void *userdata, const char *name)
{
	struct node_attrs *a = userdata;
	enum stage_outcome o = outcome_of(a->b, name);

	snprintf(a->buf, sizeof(a->buf), "class=\"stage %s\", style=filled, fillcolor=\"%s\"",
		 outcome_class(o), outcome_fill(o));
	return a->buf;
}

static int take_output(void *userdata, const void *data, size_t len)
{
	return strbuf_add(userdata, data, len);
}

/*
 * @dot rendered by `dot -Tsvg` into @svg, from its <svg> on. Returns 0;
 * -ENOENT when dot is not installed; -errno with the error on cli_ctx.
 */
static int render_svg(const struct strbuf *dot, struct strbuf *svg)
{
	const char *tmpdir = getenv("TMPDIR");
	_cleanup_free_ char *path = NULL, *err = NULL;
	struct run_options o = { .out = take_output, .userdata = svg, .timeout_ms = 60000 };
	int fd, status, r;
	const char *start;

	if (asprintf(&path, "%s/kiln-graph-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp") < 0) {
		path = NULL;
		return -ENOMEM;
	}
	fd = mkstemp(path);
	if (fd < 0)
		return kiln_error(cli_ctx, errno, "cannot make a temporary file %s: %m", path);
	r = write_all(fd, strbuf_str(dot), dot->len);
	close(fd);
	if (r >= 0)
		r = run_program_opts(cli_ctx,
				     (char *[]){ (char *)"dot", (char *)"-Tsvg", path, NULL }, &o,
				     &status, &err);
	unlink(path);
	if (r < 0)
		return r;
	if (status != 0)
		return kiln_error(cli_ctx, EIO, "dot -Tsvg failed (status %d): %s", status,
				  err ? err : "");
	start = strstr(strbuf_str(svg), "<svg");
	if (!start)
		return kiln_error(cli_ctx, EIO, "dot -Tsvg wrote no <svg>");
	memmove(svg->buf, start, strlen(start) + 1);
	svg->len = strlen(svg->buf);
	return 0;
}

static int section_graph(struct strbuf *sb, const struct build_report *b,
			 const struct kiln_pkg **pkgs, size_t n)
{
	_cleanup_strbuf_ struct strbuf dot = STRBUF_INIT, svg = STRBUF_INIT;
	struct node_attrs a = { .b = b };
	int r;

	r = n == 0 ? kiln_error(cli_ctx, EINVAL, "the targets name no stage of the tree")
		   : graph_write_dot(&dot, pkgs, n, node_attrs, &a);
	if (r >= 0)
		r = render_svg(&dot, &svg);
	if (r == -ENOMEM)
		return r;
	legend(sb);
	if (r < 0) {
		const char *why = r == -ENOENT ? "graphviz's dot is not installed (Debian: apt "
						 "install graphviz)"
					       : kiln_ctx_error_for(cli_ctx, r) ?: strerror(-r);

		fprintf(stderr, "kiln: warning: build: the report has no stage graph: %s\n", why);
		strbuf_adds(sb, "<p class=\"bad\" id=\"no-graph\">No stage graph: ");
		report_esc(sb, why);
		strbuf_adds(sb, ". The rest of the report is complete.</p>\n");
		kiln_ctx_clear_error(cli_ctx);
		return 0;
	}
	strbuf_adds(sb, "<div class=\"graph\" id=\"graph\">\n");
	strbuf_add(sb, svg.buf, svg.len);
	strbuf_adds(sb, "</div>\n");
	return 0;
}

/* ---- the stages, the images, the modules, the extensions, the failures ----------------- */

static void section_stages(struct strbuf *sb, const struct build_report *b,
			   const struct kiln_pkg **pkgs, size_t n)
{
	strbuf_adds(sb,
		    "<table id=\"stages\">\n<tr><th>stage</th><th>outcome</th><th>job "
		    "slot</th><th>started</th><th>took</th><th>steps</th><th>output</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		const struct record_stage *st = build_record_find(b->record, pkgs[i]->name);
		enum stage_outcome o = st ? st->outcome : OUTCOME_NONE;
		bool ran = st && st->slot >= 0;
		char buf[64];

		row_begin(sb, outcome_class(o), pkgs[i]->name);
		element(sb, "td", "mono", pkgs[i]->name);
		element(sb, "td", outcome_class(o), stage_outcome_name(o));
		snprintf(buf, sizeof(buf), "%d", ran ? st->slot + 1 : 0);
		element(sb, "td", NULL, ran ? buf : "");
		snprintf(buf, sizeof(buf), "%.1f s", st ? st->start : 0);
		element(sb, "td", NULL, st ? buf : "");
		report_duration(buf, sizeof(buf), st ? st->end - st->start : 0);
		element(sb, "td", NULL, ran ? buf : "");
		snprintf(buf, sizeof(buf), "%zu", st ? st->n_steps : 0);
		element(sb, "td", NULL, ran ? buf : "");
		element(sb, "td", "mono", st ? st->digest : NULL);
		strbuf_adds(sb, "</tr>\n");
	}
	strbuf_adds(sb, "</table>\n");
}

/* A target's image: its reference, digest, size (config and layers) and layers. */
static void image_row(struct strbuf *sb, const struct build_report *b,
		      const struct kiln_build_published *p)
{
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	char size[32] = "", layers[32] = "";
	int r;

	r = kiln_store_load_image(cli_ctx, b->store, p->reference, NULL, &img);
	if (r >= 0) {
		uint64_t bytes = img->manifest->config.size;

		for (size_t i = 0; i < img->manifest->n_layers; i++)
			bytes += img->manifest->layers[i].size;
		human_size(size, sizeof(size), bytes);
		snprintf(layers, sizeof(layers), "%zu", img->manifest->n_layers);
	}
	row_begin(sb, NULL, NULL);
	element(sb, "td", "mono", p->reference);
	element(sb, "td", "mono", p->desc.digest.s);
	if (r < 0) {
		strbuf_adds(sb, "<td colspan=\"2\" class=\"bad\">cannot read it: ");
		report_esc(sb, kiln_ctx_error_for(cli_ctx, r) ?: strerror(-r));
		strbuf_adds(sb, "</td>");
		kiln_ctx_clear_error(cli_ctx);
	} else {
		element(sb, "td", NULL, size);
		element(sb, "td", NULL, layers);
	}
	strbuf_adds(sb, "</tr>\n");
}

static void section_images(struct strbuf *sb, const struct build_report *b)
{
	if (!b->published) {
		strbuf_adds(sb, "<p class=\"note\" id=\"images\">None: the build failed before its "
				"targets were tagged.</p>\n");
		return;
	}
	strbuf_adds(sb, "<table id=\"images\">\n<tr><th>reference</th><th>digest</th>"
			"<th>size (config and layers, compressed)</th><th>layers</th></tr>\n");
	for (size_t i = 0; i < b->n_published; i++)
		image_row(sb, b, &b->published[i]);
	strbuf_adds(sb, "</table>\n");
}

/* The description without its trailing ", " */
static void description(struct strbuf *sb, const char *d)
{
	size_t len = strlen(d);
	_cleanup_free_ char *cut = NULL;

	while (len && (d[len - 1] == ' ' || d[len - 1] == ','))
		len--;
	cut = strndup(d, len);
	element(sb, "td", NULL, cut ? cut : d);
}

static void section_modules(struct strbuf *sb, const struct build_report *b)
{
	const struct build_record *r = b->record;
	size_t n = 0;

	for (size_t i = 0; i < r->n_stages; i++)
		n += r->stages[i].n_modules;
	if (n == 0) {
		strbuf_adds(sb, "<p class=\"note\" id=\"modules\">No stage output holds a kernel "
				"module.</p>\n");
		return;
	}
	strbuf_adds(sb, "<table id=\"modules\">\n<tr><th>stage</th><th>module</th><th>signature "
			"and vermagic</th><th>checked against (kernel, at, release)</th>"
			"<th>verdict</th></tr>\n");
	for (size_t i = 0; i < r->n_stages; i++)
		for (size_t j = 0; j < r->stages[i].n_modules; j++) {
			const struct record_module *m = &r->stages[i].modules[j];

			row_begin(sb, m->loads ? "module loads" : "module refused",
				  r->stages[i].name);
			element(sb, "td", "mono", r->stages[i].name);
			element(sb, "td", "mono", m->path);
			description(sb, m->description);
			element(sb, "td", m->checked ? "mono" : "note",
				m->checked ? m->kernel : "not checked");
			element(sb, "td", m->loads ? "verdict ok" : "verdict bad", m->verdict);
			strbuf_adds(sb, "</tr>\n");
		}
	strbuf_adds(sb, "</table>\n");
}

static void extension_row(struct strbuf *sb, const struct record_stage *st)
{
	char files[64];

	row_begin(sb, "extension valid", st->name);
	element(sb, "td", "mono", st->name);
	element(sb, "td", "mono", st->ext_name);
	element(sb, "td", "mono", st->ext_version);
	snprintf(files, sizeof(files), "%u", st->ext_files);
	element(sb, "td", NULL, files);
	element(sb, "td", "ok", st->n_ext_warnings ? "valid, with warnings" : "valid");
	strbuf_adds(sb, "<td>");
	for (size_t i = 0; i < st->n_ext_warnings; i++)
		element(sb, "div", "warning", st->ext_warnings[i]);
	strbuf_adds(sb, "</td></tr>\n");
}

static void section_extensions(struct strbuf *sb, const struct build_report *b)
{
	const struct build_record *r = b->record;
	size_t n = 0;

	strbuf_adds(
	    sb,
	    "<p class=\"note\">kiln build validates an output in the shape of a "
	    "system extension (manifest.yaml and rootfs/) before it stores it, with "
	    "Talos's rules and kiln's (its modules are in the table above); an error fails the stage. A cache hit shows what was found when "
	    "it was built.</p>\n<table id=\"extensions\">\n<tr><th>stage</th><th>name</th>"
	    "<th>version</th><th>files in rootfs/</th><th>result</th><th>warnings</th></tr>\n");
	for (size_t i = 0; i < r->n_stages; i++) {
		const struct record_stage *st = &r->stages[i];

		if (st->extension) {
			extension_row(sb, st);
			n++;
		} else if (st->outcome == OUTCOME_FAILED &&
			   streq(st->phase, "validate extension")) {
			row_begin(sb, "extension invalid", st->name);
			element(sb, "td", "mono", st->name);
			strbuf_adds(sb, "<td colspan=\"5\" class=\"bad\">invalid: ");
			report_esc(sb, st->error);
			strbuf_adds(sb, "</td></tr>\n");
			n++;
		}
	}
	if (n == 0)
		strbuf_adds(sb,
			    "<tr><td colspan=\"6\" class=\"note\">No stage's output is a system "
			    "extension.</td></tr>\n");
	strbuf_adds(sb, "</table>\n");
}

static void section_failures(struct strbuf *sb, const struct build_report *b)
{
	const struct build_record *r = b->record;

	for (size_t i = 0; i < r->n_stages; i++) {
		const struct record_stage *st = &r->stages[i];
		char where[96] = "";

		if (st->outcome != OUTCOME_FAILED)
			continue;
		if (st->step)
			snprintf(where, sizeof(where), " at step %u", st->step);
		strbuf_adds(sb, "<div class=\"failure\" data-stage=\"");
		report_esc(sb, st->name);
		strbuf_adds(sb, "\"><h3>");
		report_esc(sb, st->name);
		strbuf_addf(sb, " failed%s", where);
		if (st->phase) {
			strbuf_adds(sb, " (");
			report_esc(sb, st->phase);
			strbuf_adds(sb, ")");
		}
		strbuf_adds(sb, "</h3>\n<p class=\"bad\">");
		report_esc(sb, st->error);
		strbuf_adds(sb, "</p>\n");
		if (st->instruction) {
			strbuf_adds(sb, "<p>The instruction:</p><pre class=\"instruction\">");
			report_esc(sb, st->instruction);
			strbuf_adds(sb, "</pre>\n");
		}
		if (st->log_tail && *st->log_tail) {
			strbuf_adds(sb, "<p>The last lines of its log, <code>");
			report_esc(sb, st->log_path);
			strbuf_adds(sb, "</code>:</p><pre class=\"log-tail\">");
			report_esc(sb, st->log_tail);
			strbuf_adds(sb, "</pre>\n");
		}
		strbuf_adds(sb, "</div>\n");
	}
}

/* ---- the page ------------------------------------------------------------------ */

static int write_page(struct strbuf *sb, const struct build_report *b)
{
	_cleanup_free_ const struct kiln_pkg **pkgs = NULL;
	size_t n = 0;
	int r;

	/* the targets' stages; none when the targets are not in the tree (the error says so) */
	if (kiln_tree_resolve(cli_ctx, b->tree, b->targets, b->n_targets, &pkgs, &n) < 0) {
		kiln_ctx_clear_error(cli_ctx);
		pkgs = NULL;
		n = 0;
	}
	strbuf_adds(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
			"<title>kiln build: ");
	for (size_t i = 0; i < b->n_targets; i++) {
		report_esc(sb, b->targets[i]);
		strbuf_adds(sb, i + 1 < b->n_targets ? ", " : "");
	}
	strbuf_addf(sb, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>kiln build %s</h1>\n",
		    STYLE, b->error ? "failed" : "report");
	section_build(sb, b);
	if (b->error) {
		strbuf_adds(sb, "<h2 id=\"failure\">What failed</h2>\n");
		section_failures(sb, b);
	}
	strbuf_adds(sb, "<h2>Stage graph</h2>\n");
	r = section_graph(sb, b, pkgs, n);
	if (r < 0)
		return r;
	strbuf_adds(sb, "<h2>Timeline</h2>\n");
	r = report_timeline(sb, b, pkgs, n);
	if (r < 0)
		return r;
	strbuf_adds(sb, "<h2>Stages</h2>\n");
	section_stages(sb, b, pkgs, n);
	strbuf_adds(sb, "<h2>Images</h2>\n");
	section_images(sb, b);
	strbuf_adds(sb, "<h2>Kernel modules</h2>\n");
	section_modules(sb, b);
	strbuf_adds(sb, "<h2>System extensions</h2>\n");
	section_extensions(sb, b);
	strbuf_adds(sb, "<h2>Boot test</h2>\n<p class=\"note\" id=\"boot-test\">None ran: kiln "
			"build boots nothing. <code>kiln boot-test</code> boots an installer and "
			"prints its own table of modules, device nodes and firmware.</p>\n");
	strbuf_adds(sb, "</body>\n</html>\n");
	return strbuf_error(sb);
}

static int build_report_write(const struct build_report *b, const char *path)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r;

	if (b->record->error < 0)
		return kiln_error(cli_ctx, -b->record->error,
				  "out of memory keeping the build's events");
	r = write_page(&sb, b);
	if (r < 0)
		return r;
	r = write_file_atomic(path, sb.buf, sb.len, 0644);
	if (r < 0)
		return kiln_error(cli_ctx, -r, "cannot write '%s': %s", path, strerror(-r));
	return 0;
}

int build_report_files(const char *report, const char *trace, const struct build_report *rep)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r;

	if (trace) {
		r = build_record_trace(rep->record, &sb);
		if (r >= 0)
			r = rep->record->error;
		if (r >= 0)
			r = write_file_atomic(trace, sb.buf, sb.len, 0644);
		if (r < 0)
			return cli_fail(r, "build: --trace %s", trace);
	}
	if (report) {
		r = build_report_write(rep, report);
		if (r < 0)
			return cli_fail(r, "build: --report %s", report);
		if (rep->error)
			fprintf(stderr, "kiln: the report of the failed build is %s\n", report);
	}
	return EXIT_OK;
}
