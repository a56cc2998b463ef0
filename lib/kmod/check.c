/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Will it load? The checks the kernel's module loader makes, made before the
 * module ships, each failure told in the words the kernel would print:
 *
 *   vermagic   check_modinfo() and same_magic()
 *   symbols    check_modstruct_version() (module_layout), simplify_symbols():
 *              resolve_symbol() with check_version() (CRCs), the namespace
 *              and GPL-only rules; verify_exported_symbols() for its exports
 *   signature  module_sig_check()
 *   firmware   what the probe will ask request_firmware() for
 *   depends    what modprobe loads first
 *
 * The kernel stops at the first error; this goes on, so that one run lists
 * everything there is to fix. Modules given together are taken as loaded
 * together: each may use the others' exports, as modprobe would load them
 * in dependency order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/module.h>

#include "check-internal.h"
#include "log.h"
#include "strmap.h"

char *check_fmt(struct check_state *st, const char *format, ...)
{
	va_list ap;
	char *s;

	va_start(ap, format);
	if (vasprintf(&s, format, ap) < 0) {
		s = NULL;
		st->oom = true;
	}
	va_end(ap);
	return s;
}

void check_finding(struct check_state *st, enum kiln_check_status status, const char *subject,
		   char *message, char *says, enum kiln_check_fix fix, const char *fix_arg)
{
	struct kiln_check_result *r = st->r;
	struct kiln_check_finding *f;
	enum kiln_check_status s = status == KILN_CHECK_NOTE ? KILN_CHECK_OK : status;

	if (s > r->checks[st->kind])
		r->checks[st->kind] = s;
	if (s > r->status)
		r->status = s;
	if (!message || GROW(r->findings, st->alloc_findings, r->n_findings + 1) < 0)
		goto oom;
	f = &r->findings[r->n_findings];
	*f = (struct kiln_check_finding){
		.kind = st->kind,
		.status = status,
		.message = message,
		.kernel_says = says,
		.fix = fix,
	};
	/* counted first: kiln_check_result_release() frees what it holds */
	r->n_findings++;
	if ((subject && !(f->subject = strdup(subject))) ||
	    (fix_arg && !(f->fix_arg = strdup(fix_arg))))
		st->oom = true;
	return;
oom:
	free(message);
	free(says);
	st->oom = true;
}

/* ---- vermagic ------------------------------------------------------------ */

/* Is @word (@len bytes) one of the space-separated words of @s? */
static bool has_word(const char *s, const char *word, size_t len)
{
	while (*(s += strspn(s, " "))) {
		size_t n = strcspn(s, " ");

		if (n == len && strncmp(s, word, len) == 0)
			return true;
		s += n;
	}
	return false;
}

/* The flags ("SMP", "preempt", ...) one vermagic has and the other lacks, for the message. */
static char *vermagic_diff(const char *mod, const char *kern)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *sides[2][2] = { { mod, kern }, { kern, mod } };
	size_t rm = strcspn(mod, " "), rk = strcspn(kern, " ");

	for (size_t i = 0; i < 2; i++) {
		const char *a = sides[i][0] + strcspn(sides[i][0], " ");

		while (*(a += strspn(a, " "))) {
			size_t len = strcspn(a, " ");
			const char *other = sides[i][1] + strcspn(sides[i][1], " ");

			if (!has_word(other, a, len))
				strbuf_addf(&sb, "%s%s has \"%.*s\"", sb.len ? "; " : "",
					    i ? "the kernel" : "the module", (int)len, a);
			a += len;
		}
	}
	if (rm != rk || strncmp(mod, kern, rm) != 0)
		strbuf_addf(&sb, "%sreleases differ: %.*s and %.*s", sb.len ? "; " : "", (int)rm,
			    mod, (int)rk, kern);
	return strbuf_detach(&sb, NULL);
}

void check_vermagic(struct check_state *st, struct mod_entry *me)
{
	const char *mod = kiln_module_get(me->m, "vermagic"), *kern = st->ki->vermagic;
	/* same_magic() skips the release only on a CONFIG_MODVERSIONS kernel */
	bool has_crcs = me->syms.has_versions && st->ki->modversions == 1;
	bool forced = st->ki->force_load == 1;
	_cleanup_free_ char *diff = NULL;
	char *msg, *says;

	st->kind = KILN_CHECK_VERMAGIC;
	if (!kern) {
		msg = check_fmt(st, "the kernel's vermagic is unknown");
		check_finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, KILN_FIX_GIVE_VERMAGIC,
			      NULL);
		return;
	}
	if (!mod) {
		/* check_modinfo(): allowed only as a forced load */
		msg = check_fmt(st, "the module has no vermagic");
		says = forced ? check_fmt(st, "%s: bad vermagic: kernel tainted.", me->name)
			      : check_fmt(st, SAYS_ENOEXEC);
		check_finding(st, forced ? KILN_CHECK_WARN : KILN_CHECK_FAIL, NULL, msg, says,
			      KILN_FIX_REBUILD, st->ki->release);
		return;
	}
	if (kiln_vermagic_same(mod, kern, has_crcs)) {
		if (kiln_vermagic_same(mod, kern, false))
			return;
		msg = check_fmt(st,
				"built for release %.*s, the kernel is %s: the kernel ignores "
				"the release because the module has symbol versions "
				"(CONFIG_MODVERSIONS); the symbol CRCs decide",
				(int)strcspn(mod, " "), mod, st->ki->release);
		check_finding(st, KILN_CHECK_NOTE, NULL, msg, NULL, KILN_FIX_NONE, NULL);
		return;
	}
	diff = vermagic_diff(mod, kern);
	msg = check_fmt(st, "vermagic \"%s\" does not match the kernel's \"%s\" (%s)", mod, kern,
			diff ? diff : "?");
	says = check_fmt(st, "%s: version magic '%s' should be '%s'", me->name, mod, kern);
	check_finding(st, KILN_CHECK_FAIL, NULL, msg, says, KILN_FIX_REBUILD, st->ki->release);
}

/* ---- putting it together ------------------------------------------------- */

const char *kiln_check_kind_name(enum kiln_check_kind kind)
{
	static const char *const names[] = {
		[KILN_CHECK_VERMAGIC] = "vermagic",   [KILN_CHECK_SYMBOLS] = "symbols",
		[KILN_CHECK_SIGNATURE] = "signature", [KILN_CHECK_FIRMWARE] = "firmware",
		[KILN_CHECK_DEPENDS] = "depends",
	};

	return (unsigned)kind < ELEMENTSOF(names) ? names[kind] : "?";
}

const char *kiln_check_status_name(enum kiln_check_status status)
{
	static const char *const names[] = {
		[KILN_CHECK_OK] = "ok",		  [KILN_CHECK_NOTE] = "note",
		[KILN_CHECK_SKIPPED] = "skipped", [KILN_CHECK_WARN] = "warn",
		[KILN_CHECK_FAIL] = "fail",
	};

	return (unsigned)status < ELEMENTSOF(names) ? names[status] : "?";
}

static const char *const fix_names[] = {
	[KILN_FIX_SIGN] = "sign",
	[KILN_FIX_RESIGN] = "resign",
	[KILN_FIX_RESIGN_OR_ENROLL] = "resign-or-enroll",
	[KILN_FIX_REBUILD] = "rebuild",
	[KILN_FIX_REBUILD_WITH_SYMVERS] = "rebuild-with-symvers",
	[KILN_FIX_KEEP_SYMTAB] = "keep-symtab",
	[KILN_FIX_IMPORT_NS] = "import-ns",
	[KILN_FIX_GPL_LICENSE] = "gpl-license",
	[KILN_FIX_RENAME_EXPORT] = "rename-export",
	[KILN_FIX_INSTALL] = "install",
	[KILN_FIX_GIVE_EXPORTER] = "give-exporter",
	[KILN_FIX_GIVE_EXPORTER_OR_REBUILD] = "give-exporter-or-rebuild",
	[KILN_FIX_GIVE_DEPENDENCY] = "give-dependency",
	[KILN_FIX_ADD_FIRMWARE] = "add-firmware",
	[KILN_FIX_GIVE_VERMAGIC] = "give-vermagic",
	[KILN_FIX_GIVE_SYMVERS] = "give-symvers",
	[KILN_FIX_GIVE_CERT] = "give-cert",
};
_Static_assert(ELEMENTSOF(fix_names) == KILN_FIX_MAX, "a fix without a name");

const char *kiln_check_fix_name(enum kiln_check_fix fix)
{
	return (unsigned)fix < ELEMENTSOF(fix_names) ? fix_names[fix] : NULL;
}

enum kiln_check_fix kiln_check_fix_by_name(const char *name)
{
	for (size_t i = 1; name && i < ELEMENTSOF(fix_names); i++)
		if (streq(fix_names[i], name))
			return (enum kiln_check_fix)i;
	return KILN_FIX_NONE;
}

void kiln_check_result_release(struct kiln_check_result *r)
{
	for (size_t j = 0; j < r->n_findings; j++) {
		free(r->findings[j].subject);
		free(r->findings[j].message);
		free(r->findings[j].kernel_says);
		free(r->findings[j].fix_arg);
	}
	free(r->findings);
	free(r->name);
	r->findings = NULL;
	r->n_findings = 0;
	r->name = NULL;
}

void kiln_check_results_free(struct kiln_check_result *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++)
		kiln_check_result_release(&r[i]);
	free(r);
}

static void mods_free(struct mod_entry *mods, size_t n)
{
	for (size_t i = 0; mods && i < n; i++) {
		free(mods[i].name);
		free(mods[i].norm);
		free(mods[i].syms_reason);
		kiln_module_syms_release(&mods[i].syms);
	}
	free(mods);
}

static int mod_entry_init(struct check_state *st, struct mod_entry *me, struct kiln_module *m)
{
	const char *name = kiln_module_get(m, "name");
	size_t len;

	me->m = m;
	me->path = kiln_module_path(m);
	/* the kernel's info->name: modinfo's name=, else the file's (modules before 4.x) */
	if (!name)
		name = check_base_name(strempty(me->path), &len);
	else
		len = strlen(name);
	me->name = strndup(name, len);
	me->norm = check_normalize(name, len);
	if (!me->name || !me->norm)
		return -ENOMEM;
	me->syms_error = kiln_module_read_syms(st->ctx, m, &me->syms);
	if (me->syms_error == -ENOMEM)
		return -ENOMEM;
	if (me->syms_error < 0) {
		/* reported as the module's failure, not as an error of the run */
		me->syms_reason = strdup(strempty(kiln_ctx_error(st->ctx)));
		kiln_ctx_clear_error(st->ctx);
		if (!me->syms_reason)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Without Module.symvers: open the kernel's modules that export what the
 * given modules use (modules.symbols says which), to check against their
 * __kcrctab. One that cannot be read counts as not exporting anything.
 */
static int load_exporters(struct check_state *st)
{
	_cleanup_strmap_ struct strmap seen = STRMAP_INIT;
	size_t alloc = 0;
	int r;

	for (size_t i = 0; i < st->n; i++) {
		const struct mod_entry *me = &st->mods[i];

		for (size_t j = 0; j < me->syms.n_imports; j++) {
			const char *name = me->syms.imports[j].name, *file;
			_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
			struct provider p;

			file = kiln_kernel_symbol_module(st->k, name);
			if (!file || strmap_get(&seen, file) ||
			    check_module_provider(st->mods, st->n, me, name, true, &p))
				continue;
			r = strmap_set(&seen, file, "");
			if (r < 0)
				return r;
			r = kiln_module_open(st->ctx, file, &m);
			if (r == -ENOMEM)
				return r;
			if (r < 0) {
				kiln_ctx_clear_error(st->ctx);
				continue;
			}
			r = GROW(st->exporters, alloc, st->n_exporters + 1);
			if (r < 0)
				return r;
			st->exporters[st->n_exporters] = (struct mod_entry){ 0 };
			r = mod_entry_init(st, &st->exporters[st->n_exporters++], TAKE_PTR(m));
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int kiln_module_check(struct kiln_ctx *ctx, const struct kiln_kernel *k,
		      struct kiln_module *const *mods, size_t n, const struct kiln_check_options *o,
		      struct kiln_check_result **ret)
{
	_cleanup_(kiln_verifier_freep) struct kiln_verifier *verifier = NULL;
	static const struct kiln_check_options no_options;
	struct check_state st = {
		.ctx = ctx,
		.k = k,
		.ki = kiln_kernel_info(k),
		.o = o ? o : &no_options,
	};
	struct kiln_check_result *results;
	int r;

	if (st.ki->module_sig != 0) {
		r = check_load_verifier(ctx, k, &verifier, &st.trusted);
		if (r < 0)
			return r;
		st.verifier = verifier;
	}
	st.mods = calloc(n ? n : 1, sizeof(*st.mods));
	results = calloc(n ? n : 1, sizeof(*results));
	r = st.mods && results ? 0 : -ENOMEM;
	st.n = r < 0 ? 0 : n;
	for (size_t i = 0; i < st.n && r >= 0; i++)
		r = mod_entry_init(&st, &st.mods[i], mods[i]);
	if (r >= 0 && !st.ki->symvers && kiln_kernel_knows_module_exports(k))
		r = load_exporters(&st);
	for (size_t i = 0; i < st.n && r >= 0 && !st.oom; i++) {
		struct mod_entry *me = &st.mods[i];

		st.r = &results[i];
		st.alloc_findings = 0;
		results[i].path = me->path;
		results[i].name = strdup(me->name);
		if (!results[i].name)
			break;
		check_vermagic(&st, me);
		check_symbols(&st, me);
		check_signature(&st, me);
		check_firmware(&st, me);
		check_depends(&st, me);
	}
	if (r >= 0 && (st.oom || (n && !results[n - 1].name)))
		r = -ENOMEM;
	mods_free(st.mods, st.n);
	for (size_t i = 0; i < st.n_exporters; i++)
		kiln_module_free(st.exporters[i].m);
	mods_free(st.exporters, st.n_exporters);
	strbuf_release(&st.unchecked);
	free(st.trusted);
	if (r < 0) {
		kiln_check_results_free(results, results ? n : 0);
		return r;
	}
	*ret = results;
	return 0;
}
