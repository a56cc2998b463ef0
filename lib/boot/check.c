/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Judging a boot against what was expected: one row per check, each saying
 * what it checked and what was seen, so that a failure needs no second
 * look at the console log to be understood.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <kiln/boot.h>

#include "log.h"
#include "strbuf.h"

static int add_row(struct kiln_boot_report *rep, enum kiln_boot_verdict v, const char *subject,
		   const char *fmt, ...) _printf_(4, 5);

static int add_row(struct kiln_boot_report *rep, enum kiln_boot_verdict v, const char *subject,
		   const char *fmt, ...)
{
	struct kiln_boot_row *rows;
	char *detail, *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&detail, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	s = strdup(subject);
	rows = s ? reallocarray(rep->rows, rep->n_rows + 1, sizeof(*rows)) : NULL;
	if (!rows) {
		free(detail);
		free(s);
		return -ENOMEM;
	}
	rep->rows = rows;
	rows[rep->n_rows++] = (struct kiln_boot_row){ v, s, detail };
	if (v == KILN_BOOT_FAIL)
		rep->pass = false;
	return 0;
}

/* "why: log line; log line" for a module that did not load. */
static char *module_failure(const struct kiln_boot_module *m)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r;

	r = strbuf_adds(&sb, strempty(m->error));
	if (r >= 0 && m->dependency)
		r = strbuf_addf(&sb, " (its dependency %s did not load)", m->dependency);
	for (size_t i = 0; r >= 0 && i < m->n_log; i++)
		r = strbuf_addf(&sb, "%s%s", i == 0 ? ": " : "; ", m->log[i]);
	return r < 0 ? NULL : strbuf_detach(&sb, NULL);
}

static bool is_expected(const struct kiln_boot_expect *e, const struct kiln_boot_result *res,
			const struct kiln_boot_module *m)
{
	for (size_t i = 0; i < e->n_modules; i++)
		if (kiln_boot_result_module(res, e->modules[i]) == m)
			return true;
	return false;
}

static int check_boot(struct kiln_boot_report *rep, const struct kiln_boot_run *run,
		      const struct kiln_boot_result *res)
{
	int r = 0;

	if (run && run->timed_out)
		r = add_row(rep, KILN_BOOT_FAIL, "boot", "timed out after %.0f s: %s", run->seconds,
			    !res->started ? "kiln-init never reported (is /init kiln-init?)"
			    : res->done	  ? "the guest reported but did not power off"
					  : "kiln-init started but never said done");
	else if (!res->started)
		r = add_row(rep, KILN_BOOT_FAIL, "boot",
			    "kiln-init never reported: no \"" KILN_BOOT_FACT_MARKER
			    "{\\\"kind\\\":\\\"start\\\"...}\" line (is /init kiln-init? did the "
			    "kernel panic? see the console log)");
	else if (!res->done)
		r = add_row(rep, KILN_BOOT_FAIL, "boot",
			    "kiln-init started but never said done (the guest stopped early: see "
			    "the console log)");
	else if (run)
		r = add_row(rep, KILN_BOOT_PASS, "boot", "powered off in %.1f s (%s), kernel %s%s",
			    run->seconds, run->kvm ? "KVM" : "TCG", strempty(res->release),
			    res->sig_enforce == 1   ? ", signatures enforced"
			    : res->sig_enforce == 0 ? ", signatures not enforced"
						    : "");
	for (size_t i = 0; r >= 0 && i < res->n_errors; i++)
		r = add_row(rep, KILN_BOOT_FAIL, "init", "step %s: %s", res->errors[i].step,
			    res->errors[i].message);
	if (r >= 0 && res->garbled)
		r = add_row(rep, KILN_BOOT_WARN, "facts",
			    "%u marked console line%s could not be read (the first: %s)",
			    res->garbled, res->garbled == 1 ? "" : "s", res->garbled_first);
	if (r >= 0 && res->dropped)
		r = add_row(rep, KILN_BOOT_WARN, "facts", "%u facts over the limit were dropped",
			    res->dropped);
	return r;
}

static int check_module(struct kiln_boot_report *rep, const struct kiln_boot_result *res,
			const struct kiln_boot_module *m, const char *name, bool expected)
{
	_cleanup_free_ char *subject = NULL, *why = NULL;

	if (asprintf(&subject, "module %s%s", m ? m->name : name,
		     expected ? "" : " (not expected)") < 0)
		return -ENOMEM;
	if (!m)
		return add_row(rep, KILN_BOOT_FAIL, subject, "not reported by the guest%s",
			       res->done ? " (was it in kiln.modules=?)"
					 : ", which did not finish");
	if (m->loaded)
		return add_row(rep, KILN_BOOT_PASS, subject, "%s%s%s%s",
			       m->builtin   ? "built in"
			       : m->already ? "already loaded"
					    : "loaded",
			       m->taint && *m->taint ? " (taint " : "", strempty(m->taint),
			       m->taint && *m->taint ? ")" : "");
	why = module_failure(m);
	if (!why)
		return -ENOMEM;
	return add_row(rep, KILN_BOOT_FAIL, subject, "%s", why);
}

static int check_device(struct kiln_boot_report *rep, const struct kiln_boot_result *res,
			const struct kiln_boot_expect_dev *e)
{
	const struct kiln_boot_device *d = kiln_boot_result_device(res, e->path);
	_cleanup_free_ char *subject = NULL;
	char expected[32] = "";
	bool mode_ok;

	if (asprintf(&subject, "device %s", e->path) < 0)
		return -ENOMEM;
	if (!d)
		return add_row(rep, KILN_BOOT_FAIL, subject, "missing");
	mode_ok = e->mode < 0 || (uint32_t)e->mode == d->mode;
	if (!mode_ok)
		snprintf(expected, sizeof(expected), " (expected %04o)", (unsigned)e->mode);
	return add_row(rep, mode_ok ? KILN_BOOT_PASS : KILN_BOOT_FAIL, subject,
		       "%s %u:%u, mode %04o%s, owner %" PRIu64 ":%" PRIu64,
		       d->block ? "block" : "char", d->major, d->minor, d->mode, expected, d->uid,
		       d->gid);
}

int kiln_boot_check(struct kiln_ctx *ctx, const struct kiln_boot_run *run,
		    const struct kiln_boot_result *res, const struct kiln_boot_expect *e,
		    struct kiln_boot_report *ret)
{
	_cleanup_(kiln_boot_report_release) struct kiln_boot_report rep = { .pass = true };
	int r;

	r = check_boot(&rep, run, res);
	for (size_t i = 0; r >= 0 && i < e->n_modules; i++)
		r = check_module(&rep, res, kiln_boot_result_module(res, e->modules[i]),
				 e->modules[i], true);
	for (size_t i = 0; r >= 0 && i < e->n_devices; i++)
		r = check_device(&rep, res, &e->devices[i]);
	/* a dependency of an expected module, or one that kiln.modules= named besides */
	for (size_t i = 0; r >= 0 && i < res->n_modules; i++)
		if (!res->modules[i].loaded && !is_expected(e, res, &res->modules[i]))
			r = check_module(&rep, res, &res->modules[i], res->modules[i].name, false);
	if (r < 0)
		return r;
	*ret = rep;
	memset(&rep, 0, sizeof(rep));
	return 0;
}

void kiln_boot_report_release(struct kiln_boot_report *r)
{
	for (size_t i = 0; i < r->n_rows; i++) {
		free(r->rows[i].subject);
		free(r->rows[i].detail);
	}
	free(r->rows);
	memset(r, 0, sizeof(*r));
}
