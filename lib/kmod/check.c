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
#include <elf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <kiln/module.h>

#include "ksyms.h"
#include "log.h"
#include "strbuf.h"
#include "strmap.h"

/* The kernel logs nothing for these; init_module() fails and insmod says why. */
#define SAYS_ENOEXEC "(nothing logged; init_module() fails with ENOEXEC: \"Exec format error\")"
#define SAYS_EBADMSG "(nothing logged; init_module() fails with EBADMSG: \"Bad message\")"

struct mod_entry {
	struct kiln_module *m;
	const char *path;
	char *name; /* as the kernel calls it in messages */
	char *norm; /* '-' as '_', for depends= */
	struct kiln_module_syms syms;
	int syms_error; /* 0, or why the symbol table could not be read */
	char *syms_reason;
};

struct check_state {
	struct kiln_ctx *ctx;
	const struct kiln_kernel *k;
	const struct kiln_kernel_info *ki;
	const struct kiln_check_options *o;
	struct kiln_verifier *verifier; /* NULL without a certificate */
	char *trusted; /* the certificates, for messages: "'signing_key.x509'" */
	struct mod_entry *mods;
	size_t n;
	/* without Module.symvers: the kernel's modules that export what the given ones use */
	struct mod_entry *exporters;
	size_t n_exporters;
	/* the imports of the module being checked that nothing known exports */
	struct strbuf unchecked;
	size_t n_unchecked;
	bool oom;
	/* the result being filled, and the check running */
	struct kiln_check_result *r;
	size_t alloc_findings;
	enum kiln_check_kind kind;
};

/* Where a symbol comes from when the module is loaded. */
struct provider {
	const char *owner; /* "vmlinux", a module's path or name */
	const char *where; /* for messages: the Module.symvers, or the given module's path */
	uint32_t crc;
	bool has_crc;
	bool gpl;
	const char *ns;
	bool given; /* exported by one of the modules given */
};

_printf_(2, 3) static char *fmt(struct check_state *st, const char *format, ...)
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

/*
 * Record a finding of the running check. Takes @message, @says (what the
 * kernel prints) and @advice (each may be NULL, @message only on -ENOMEM).
 */
static void finding(struct check_state *st, enum kiln_check_status status, const char *subject,
		    char *message, char *says, char *advice)
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
		.advice = advice,
	};
	if (subject) {
		f->subject = strdup(subject);
		if (!f->subject)
			goto oom;
	}
	r->n_findings++;
	return;
oom:
	free(message);
	free(says);
	free(advice);
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

static void check_vermagic(struct check_state *st, struct mod_entry *me)
{
	const char *mod = kiln_module_get(me->m, "vermagic"), *kern = st->ki->vermagic;
	/* same_magic() skips the release only on a CONFIG_MODVERSIONS kernel */
	bool has_crcs = me->syms.has_versions && st->ki->modversions == 1;
	bool forced = st->ki->force_load == 1;
	_cleanup_free_ char *diff = NULL;
	char *msg, *says, *advice;

	st->kind = KILN_CHECK_VERMAGIC;
	if (!kern) {
		msg = fmt(st, "the kernel's vermagic is unknown");
		advice =
		    fmt(st, "give a kernel build tree with its .config (--kernel-build), "
			    "the vermagic (--vermagic), or the kernel's /lib/modules/<release> "
			    "(--modules-dir)");
		finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, advice);
		return;
	}
	if (!mod) {
		/* check_modinfo(): allowed only as a forced load */
		msg = fmt(st, "the module has no vermagic");
		says = forced ? fmt(st, "%s: bad vermagic: kernel tainted.", me->name)
			      : fmt(st, SAYS_ENOEXEC);
		advice = fmt(st, "rebuild the module with kbuild against this kernel's tree");
		finding(st, forced ? KILN_CHECK_WARN : KILN_CHECK_FAIL, NULL, msg, says, advice);
		return;
	}
	if (kiln_vermagic_same(mod, kern, has_crcs)) {
		if (kiln_vermagic_same(mod, kern, false))
			return;
		msg = fmt(st,
			  "built for release %.*s, the kernel is %s: the kernel ignores "
			  "the release because the module has symbol versions "
			  "(CONFIG_MODVERSIONS); the symbol CRCs decide",
			  (int)strcspn(mod, " "), mod, st->ki->release);
		finding(st, KILN_CHECK_NOTE, NULL, msg, NULL, NULL);
		return;
	}
	diff = vermagic_diff(mod, kern);
	msg = fmt(st, "vermagic \"%s\" does not match the kernel's \"%s\" (%s)", mod, kern,
		  diff ? diff : "?");
	says = fmt(st, "%s: version magic '%s' should be '%s'", me->name, mod, kern);
	advice = fmt(st, "rebuild the module against this kernel's build tree (release %s)",
		     st->ki->release);
	finding(st, KILN_CHECK_FAIL, NULL, msg, says, advice);
}

/* ---- symbols ------------------------------------------------------------- */

/* include/linux/license.h */
static bool license_is_gpl_compatible(const char *l)
{
	static const char *const gpl[] = {
		"GPL",		"GPL v2",	"GPL and additional rights",
		"Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL",
	};

	for (size_t i = 0; l && i < ELEMENTSOF(gpl); i++)
		if (streq(l, gpl[i]))
			return true;
	return false;
}

static bool imports_ns(const struct kiln_module *m, const char *ns)
{
	const struct kiln_modinfo *mi;
	size_t n;

	mi = kiln_module_modinfo(m, &n);
	for (size_t i = 0; i < n; i++)
		if (streq(mi[i].key, "import_ns") && streq(mi[i].value, ns))
			return true;
	return false;
}

/* The last path component, without ".ko". */
static const char *base_name(const char *path, size_t *ret_len)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	*ret_len = strcspn(b, ".");
	return b;
}

/*
 * Who resolves @name for @self, in find_symbol()'s order: the kernel
 * itself, then modules; among those, a given module first (it may replace
 * an in-tree module of the same name), then the in-tree and external ones
 * of the Module.symvers files.
 */
static bool module_provider(const struct mod_entry *mods, size_t n, const struct mod_entry *self,
			    const char *name, bool given, struct provider *ret)
{
	for (size_t i = 0; i < n; i++) {
		const struct mod_entry *o = &mods[i];
		const struct kiln_ksym *x;

		if (o == self || o->syms_error)
			continue;
		x = kiln_module_syms_export(&o->syms, name);
		if (x) {
			*ret = (struct provider){
				.owner = o->name,
				.where = o->path,
				.crc = x->crc,
				.has_crc = x->has_crc,
				.gpl = x->gpl,
				.ns = "",
				.given = given,
			};
			return true;
		}
	}
	return false;
}

static bool find_provider(const struct check_state *st, const struct mod_entry *self,
			  const char *name, struct provider *ret)
{
	const struct kiln_symvers_entry *e = kiln_symvers_find(kiln_kernel_symvers(st->k), name);

	if (!(e && streq(e->module, "vmlinux")) &&
	    (module_provider(st->mods, st->n, self, name, true, ret) ||
	     module_provider(st->exporters, st->n_exporters, self, name, false, ret)))
		return true;
	if (!e)
		return false;
	*ret = (struct provider){
		.owner = e->module,
		.where = e->file,
		.crc = e->crc,
		/* a kernel built without CONFIG_MODVERSIONS writes 0x00000000 and checks nothing */
		.has_crc = st->ki->modversions == 1,
		.gpl = strncmp(e->export_type, "EXPORT_SYMBOL_GPL", 17) == 0,
		.ns = e->ns,
	};
	return true;
}

static const struct kiln_modversion *find_version(const struct kiln_module *m, const char *name)
{
	const struct kiln_modversion *v;
	size_t n;

	v = kiln_module_versions(m, &n);
	for (size_t i = 0; i < n; i++)
		if (streq(v[i].symbol, name))
			return &v[i];
	return NULL;
}

/* check_modstruct_version(): module_layout's CRC, checked before anything else. */
static void check_module_layout(struct check_state *st, struct mod_entry *me)
{
	const struct kiln_symvers_entry *e;
	const struct kiln_modversion *v;
	char *msg, *says, *advice;

	if (st->ki->modversions != 1 || !me->syms.has_versions)
		return;
	/* kernels that no longer export it no longer check it */
	e = kiln_symvers_find(kiln_kernel_symvers(st->k), "module_layout");
	if (!e || !streq(e->file, st->ki->symvers))
		return;
	v = find_version(me->m, "module_layout");
	if (!v) {
		msg = fmt(st, "no CRC for module_layout in __versions: the kernel warns, "
			      "and loads it");
		says = fmt(st, "%s: no symbol version for module_layout", me->name);
		finding(st, KILN_CHECK_WARN, "module_layout", msg, says, NULL);
		return;
	}
	if (v->crc == e->crc)
		return;
	msg = fmt(st,
		  "module_layout CRC 0x%08" PRIx64 " differs from the kernel's 0x%08x: "
		  "the module was built against a kernel whose struct module differs",
		  v->crc, e->crc);
	says = fmt(st, "%s: disagrees about version of symbol module_layout", me->name);
	advice = fmt(st, "rebuild the module against this kernel's build tree (release %s)",
		     st->ki->release);
	finding(st, KILN_CHECK_FAIL, "module_layout", msg, says, advice);
}

/* x86's ignore_undef_symbol() in kernel/module/main.c */
static bool ignored_undef(uint16_t machine, const char *name)
{
	return (machine == EM_386 || machine == EM_X86_64) && streq(name, "_GLOBAL_OFFSET_TABLE_");
}

static void unknown_symbol(struct check_state *st, struct mod_entry *me, const char *name)
{
	char *msg, *says, *advice;

	msg = fmt(st, "%s is exported neither by the kernel (%s) nor by a module given", name,
		  st->ki->symvers);
	says = fmt(st, "%s: Unknown symbol %s (err -2)", me->name, name);
	if (find_version(me->m, name))
		advice = fmt(st, "it was exported where the module was built (its CRC is in "
				 "__versions), not here: give the module that exports it (or its "
				 "Module.symvers with --symvers), or rebuild against this kernel's "
				 "tree");
	else
		advice = fmt(st, "it was undefined at build time too (modpost warned): give the "
				 "module that exports it, or its Module.symvers with --symvers");
	finding(st, KILN_CHECK_FAIL, name, msg, says, advice);
}

/* check_version() for one import the kernel has a CRC for. */
static void check_crc(struct check_state *st, struct mod_entry *me, const char *name,
		      const struct provider *p)
{
	const struct kiln_modversion *v = find_version(me->m, name);
	char *msg, *says, *advice;

	if (!v) {
		msg = fmt(st, "no CRC for %s in __versions: the kernel warns once, and loads it",
			  name);
		says = fmt(st, "%s: no symbol version for %s", me->name, name);
		finding(st, KILN_CHECK_WARN, name, msg, says, NULL);
		return;
	}
	if (v->crc == p->crc)
		return;
	msg = fmt(st, "CRC of %s is 0x%08" PRIx64 " in the module, 0x%08x in %s (%s)", name, v->crc,
		  p->crc, p->where, p->owner);
	says = fmt(st, "%s: disagrees about version of symbol %s\n%s: Unknown symbol %s (err -22)",
		   me->name, name, me->name, name);
	if (p->given)
		advice = fmt(st,
			     "rebuild the module against %s's Module.symvers "
			     "(KBUILD_EXTRA_SYMBOLS)",
			     p->owner);
	else
		advice = fmt(st,
			     "rebuild the module against this kernel's build tree (release %s): "
			     "its Module.symvers has the CRCs the kernel checks",
			     st->ki->release);
	finding(st, KILN_CHECK_FAIL, name, msg, says, advice);
}

/* verify_namespace_is_imported() */
static void check_namespace(struct check_state *st, struct mod_entry *me, const char *name,
			    const char *ns)
{
	bool allowed = st->ki->allow_missing_ns == 1;
	char *msg, *says, *advice;

	if (imports_ns(me->m, ns))
		return;
	msg = fmt(st, "%s is in namespace %s, which the module does not import", name, ns);
	if (allowed)
		says = fmt(st,
			   "%s: module uses symbol (%s) from namespace %s, "
			   "but does not import it.",
			   me->name, name, ns);
	else
		says = fmt(st,
			   "%s: module uses symbol (%s) from namespace %s, "
			   "but does not import it.\n%s: Unknown symbol %s (err -22)",
			   me->name, name, ns, me->name, name);
	advice = fmt(st, "add MODULE_IMPORT_NS(%s) to the module's source", ns);
	finding(st, allowed ? KILN_CHECK_WARN : KILN_CHECK_FAIL, name, msg, says, advice);
}

/* resolve_symbol() on one import: found, GPL-only rule, CRC, namespace. */
static void check_import(struct check_state *st, struct mod_entry *me, const struct kiln_ksym *imp,
			 bool gpl_ok)
{
	const char *license = kiln_module_get(me->m, "license");
	char *msg, *says, *advice;
	struct provider p;
	bool found;

	found = find_provider(st, me, imp->name, &p);
	/* find_symbol() skips GPL-only exports for a module that is not GPL-compatible */
	if (!found || (p.gpl && !gpl_ok)) {
		if (imp->weak || ignored_undef(me->syms.machine, imp->name))
			return;
		if (!found && !st->ki->symvers) {
			/* vmlinux's, or nobody's: without Module.symvers there is no telling */
			if (st->n_unchecked++ < 5)
				strbuf_addf(&st->unchecked, "%s%s", st->unchecked.len ? ", " : "",
					    imp->name);
			return;
		}
		if (!found) {
			unknown_symbol(st, me, imp->name);
			return;
		}
		msg = fmt(st,
			  "%s is EXPORT_SYMBOL_GPL, and the module's license \"%s\" is not "
			  "GPL-compatible",
			  imp->name, strempty(license));
		says = fmt(st, "%s: Unknown symbol %s (err -2)", me->name, imp->name);
		advice =
		    fmt(st, "use a GPL-compatible MODULE_LICENSE(), or stop using %s", imp->name);
		finding(st, KILN_CHECK_FAIL, imp->name, msg, says, advice);
		return;
	}
	if (p.has_crc && st->ki->modversions == 1 && me->syms.has_versions) {
		check_crc(st, me, imp->name, &p);
	} else if (p.given && !p.has_crc && st->ki->modversions == 1) {
		msg = fmt(st, "%s comes from %s, which records no CRC for it: any CRC accepted",
			  imp->name, p.where);
		finding(st, KILN_CHECK_NOTE, imp->name, msg, NULL, NULL);
	}
	if (p.ns[0])
		check_namespace(st, me, imp->name, p.ns);
}

/* Whether the @len bytes at @b name module @norm (normalized): '-' and '_' are one. */
static bool module_name_is(const char *norm, const char *b, size_t len)
{
	if (strlen(norm) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (norm[i] != (b[i] == '-' ? '_' : b[i]))
			return false;
	return true;
}

/* An export an in-tree module @owner (@len bytes) has too. */
static void duplicate_export(struct check_state *st, struct mod_entry *me, const char *name,
			     const char *owner, size_t len)
{
	char *msg, *says, *advice;

	msg = fmt(st,
		  "exports %s, as the in-tree module %.*s does: it fails to load while "
		  "that one is loaded",
		  name, (int)len, owner);
	says = fmt(st, "%s: exports duplicate symbol %s (owned by %.*s)", me->name, name, (int)len,
		   owner);
	advice = fmt(st, "rename the symbol, or blacklist %.*s", (int)len, owner);
	finding(st, KILN_CHECK_WARN, name, msg, says, advice);
}

/* verify_exported_symbols(): an export the kernel already has fails the load. */
static void check_exports(struct check_state *st, struct mod_entry *me)
{
	const struct kiln_symvers *sv = kiln_kernel_symvers(st->k);
	char *msg, *says, *advice;

	for (size_t i = 0; i < me->syms.n_exports; i++) {
		const char *name = me->syms.exports[i].name, *owner;
		const struct kiln_symvers_entry *e = kiln_symvers_find(sv, name);
		size_t len;

		if (!e && !st->ki->symvers && (owner = kiln_kernel_symbol_module(st->k, name))) {
			owner = base_name(owner, &len);
			if (!module_name_is(me->norm, owner, len))
				duplicate_export(st, me, name, owner, len);
			continue;
		}
		if (!e || !streq(e->file, st->ki->symvers))
			continue;
		if (streq(e->module, "vmlinux")) {
			msg = fmt(st, "exports %s, which the kernel itself exports", name);
			says = fmt(st, "%s: exports duplicate symbol %s (owned by kernel)",
				   me->name, name);
			advice = fmt(st, "rename the symbol, or stop exporting it");
			finding(st, KILN_CHECK_FAIL, name, msg, says, advice);
			continue;
		}
		owner = base_name(e->module, &len);
		/* a module of the same name replaces the in-tree one (updates/ wins) */
		if (module_name_is(me->norm, owner, len))
			continue;
		duplicate_export(st, me, name, owner, len);
	}
}

/*
 * Without Module.symvers, the imports that neither a given module nor one
 * of the kernel's modules exports: vmlinux's own, whose CRCs a boot image
 * does not list, or nobody's.
 */
static void unchecked_symbols(struct check_state *st)
{
	size_t more = st->n_unchecked > 5 ? st->n_unchecked - 5 : 0;
	_cleanup_free_ char *rest = more ? fmt(st, ", and %zu more", more) : NULL;
	char *msg, *advice;

	msg = fmt(st,
		  "%zu symbol%s (%s%s) not checked: no Module.symvers; the kernel's modules "
		  "do not export %s, so vmlinux must (with the CRC the module was built "
		  "against) or the load fails with \"Unknown symbol\"",
		  st->n_unchecked, st->n_unchecked == 1 ? "" : "s", strbuf_str(&st->unchecked),
		  strempty(rest), st->n_unchecked == 1 ? "it" : "them");
	advice =
	    fmt(st, "give the kernel's Module.symvers (--symvers) or build tree to check them");
	finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, advice);
}

static void check_symbols(struct check_state *st, struct mod_entry *me)
{
	bool gpl_ok = license_is_gpl_compatible(kiln_module_get(me->m, "license"));
	bool forced = st->ki->force_load == 1;
	const struct kiln_symvers_entry *layout;
	char *msg, *says, *advice;

	st->kind = KILN_CHECK_SYMBOLS;
	if (me->syms_error) {
		msg = fmt(st, "cannot read the module's symbol table: %s", me->syms_reason);
		says = me->syms_error == -ENOEXEC
			   ? fmt(st, "%s: module has no symbols (stripped?)", me->name)
			   : NULL;
		advice = fmt(st, "rebuild the module; strip it with --strip-debug only");
		finding(st, KILN_CHECK_FAIL, NULL, msg, says, advice);
		return;
	}
	if (!st->ki->symvers && !kiln_kernel_knows_module_exports(st->k)) {
		msg = fmt(st, "what the kernel exports is unknown: no Module.symvers, and no "
			      "modules.symbols in its modules directory");
		advice = fmt(st, "give the kernel's build tree, or its Module.symvers");
		finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, advice);
		return;
	}
	layout = kiln_symvers_find(kiln_kernel_symvers(st->k), "module_layout");
	if (st->ki->modversions == 1 && !me->syms.has_versions && (layout || me->syms.n_imports)) {
		/* check_version() with no __versions at all: try_to_force_load() */
		msg = fmt(st,
			  "the module has no symbol versions (__versions), and the kernel "
			  "checks them (CONFIG_MODVERSIONS)%s",
			  forced ? ": it takes it as a forced load, tainting itself (F)" : "");
		says = forced ? fmt(st, "%s: %s: kernel tainted.", me->name,
				    layout ? "module_layout" : me->syms.imports[0].name)
			      : fmt(st, SAYS_ENOEXEC);
		advice = fmt(st, "rebuild the module against this kernel's build tree");
		finding(st, forced ? KILN_CHECK_WARN : KILN_CHECK_FAIL, NULL, msg, says, advice);
	}
	check_module_layout(st, me);
	strbuf_reset(&st->unchecked);
	st->n_unchecked = 0;
	for (size_t i = 0; i < me->syms.n_imports; i++)
		check_import(st, me, &me->syms.imports[i], gpl_ok);
	check_exports(st, me);
	if (st->n_unchecked)
		unchecked_symbols(st);
}

/* ---- signature ----------------------------------------------------------- */

/*
 * module_sig_check() on a signature the kernel cannot use (ENODATA, ENOKEY,
 * ENOPKG): fatal when signatures are enforced, else a taint.
 */
static void soft_signature_failure(struct check_state *st, struct mod_entry *me, int kernel_error,
				   char *msg, char *advice)
{
	const struct kiln_kernel_info *ki = st->ki;
	const char *reason = kernel_error == -ENOKEY   ? "module with unavailable key"
			     : kernel_error == -ENOPKG ? "module with unsupported crypto"
						       : "unsigned module";
	/* no .config: whether the kernel enforces is unknown, so assume the strict answer */
	bool enforced = st->o->sig_enforce || ki->sig_force != 0;
	char *says, *m2;

	if (enforced) {
		says = fmt(st,
			   "Loading of %s is rejected\n(init_module() fails with EKEYREJECTED: "
			   "insmod prints \"Key was rejected by service\")",
			   reason);
		finding(st, KILN_CHECK_FAIL, NULL, msg, says, advice);
		return;
	}
	if (ki->lockdown_forced == 1) {
		says = fmt(st, "Lockdown: insmod: unsigned module loading is restricted; "
			       "see man kernel_lockdown.7");
		finding(st, KILN_CHECK_FAIL, NULL, msg, says, advice);
		return;
	}
	m2 = fmt(st,
		 "%s; it would load, tainting the kernel (E), but is rejected where "
		 "signatures are enforced (module.sig_enforce=1%s)",
		 strempty(msg),
		 ki->lockdown_secure_boot == 1 ? ", or lockdown under UEFI Secure Boot" : "");
	free(msg);
	says = fmt(st,
		   "%s: module verification failed: signature and/or required key missing - "
		   "tainting kernel",
		   me->name);
	finding(st, KILN_CHECK_WARN, NULL, m2, says, advice);
}

static char *sign_advice(struct check_state *st, bool replace)
{
	return fmt(st, "sign it with the kernel's key: kiln module sign%s --key KEY --cert %s FILE",
		   replace ? " --replace" : "", st->ki->cert ? st->ki->cert : "CERT");
}

/* Without the kernel's certificate: what the trailer alone tells. */
static void check_signature_without_cert(struct check_state *st, struct mod_entry *me)
{
	const struct kiln_modsig *sig;
	char *msg, *advice;
	int r;

	r = kiln_module_signature(me->m, &sig);
	if (r == -ENODATA) {
		soft_signature_failure(st, me, -ENODATA, fmt(st, "the module is not signed"),
				       sign_advice(st, false));
	} else if (r < 0) {
		/* mod_check_sig(): EBADMSG, fatal enforced or not */
		msg = fmt(st, "malformed signature trailer: %s",
			  strempty(kiln_module_signature_error(me->m)));
		finding(st, KILN_CHECK_FAIL, NULL, msg, fmt(st, SAYS_EBADMSG),
			sign_advice(st, true));
	} else if (st->ki->kernel_image) {
		msg = fmt(st,
			  "the module is signed, but the kernel image '%s' has no built-in "
			  "certificate to verify it against",
			  st->ki->kernel_image);
		advice = fmt(st, "give the kernel's signing certificate with --cert");
		finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, advice);
	} else {
		msg = fmt(st, "the module is signed, but there is no certificate to verify it "
			      "against");
		advice = fmt(st, "give the kernel's signing certificate with --cert, its boot "
				 "image with --kernel-image, or a build tree with "
				 "certs/signing_key.x509");
		finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, advice);
	}
}

static const char *errno_name(int e)
{
	switch (e) {
	case -EKEYREJECTED:
		return "EKEYREJECTED";
	case -EBADMSG:
		return "EBADMSG";
	case -EMSGSIZE:
		return "EMSGSIZE";
	case -EINVAL:
		return "EINVAL";
	default:
		return "an error";
	}
}

static void check_signature(struct check_state *st, struct mod_entry *me)
{
	struct kiln_verify_result vr = { 0 };
	const struct kiln_modsig_desc *d = &vr.desc;
	const uint8_t *data;
	char *msg, *says, *advice;
	size_t len;
	int r;

	st->kind = KILN_CHECK_SIGNATURE;
	if (st->ki->module_sig == 0) {
		msg = fmt(st, "the kernel does not check module signatures "
			      "(CONFIG_MODULE_SIG is off)");
		finding(st, KILN_CHECK_NOTE, NULL, msg, NULL, NULL);
		return;
	}
	if (!st->verifier) {
		check_signature_without_cert(st, me);
		return;
	}

	data = kiln_module_data(me->m, &len);
	r = kiln_verify_mem(st->ctx, st->verifier, data, len, &vr);
	if (r < 0) {
		st->oom = st->oom || r == -ENOMEM;
		msg = fmt(st, "cannot verify: %s", kiln_ctx_error(st->ctx) ?: strerror(-r));
		kiln_ctx_clear_error(st->ctx);
		finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, NULL);
		return;
	}
	switch (vr.verdict) {
	case KILN_VERIFY_OK:
		break;
	case KILN_VERIFY_UNSIGNED:
		soft_signature_failure(st, me, -ENODATA, fmt(st, "the module is not signed"),
				       sign_advice(st, false));
		break;
	case KILN_VERIFY_OTHER_KEY:
		msg = fmt(st, "signed by a key the kernel does not trust: \"%s\" (key %s), not %s",
			  vr.has_desc ? strempty(d->signer) : "unknown signer",
			  vr.has_desc ? strempty(d->sig_key) : "?", st->trusted);
		advice = fmt(st,
			     "re-sign it with the kernel's key (kiln module sign --replace "
			     "--key KEY --cert %s FILE), or enroll the signer's certificate in "
			     "the kernel's keyring (MOK)",
			     st->ki->cert ? st->ki->cert : "CERT");
		soft_signature_failure(st, me, -ENOKEY, msg, advice);
		break;
	case KILN_VERIFY_CORRUPT:
		if (vr.kernel_error == -ENOPKG) {
			msg = fmt(st,
				  "the signature uses an algorithm the kernel does not "
				  "support: %s",
				  strempty(vr.reason));
			soft_signature_failure(st, me, -ENOPKG, msg, sign_advice(st, true));
			break;
		}
		/* module_sig_check(): every other error is fatal, enforced or not */
		msg = fmt(st, "%s", vr.reason ? vr.reason : "corrupt signature");
		says = fmt(st, "(nothing logged; init_module() fails with %s: \"%s\")",
			   errno_name(vr.kernel_error),
			   strerror(vr.kernel_error < 0 ? -vr.kernel_error : EINVAL));
		finding(st, KILN_CHECK_FAIL, NULL, msg, says, sign_advice(st, true));
		break;
	}
	kiln_verify_result_release(&vr);
}

/* ---- firmware ------------------------------------------------------------ */

/* Is firmware @name under one of the roots? Roots that could not be searched are reported. */
static bool firmware_found(struct check_state *st, const char *name, struct strbuf *roots)
{
	for (size_t j = 0; j < st->o->n_firmware_roots; j++) {
		_cleanup_free_ char *path = NULL;
		const char *root = st->o->firmware_roots[j];
		int r = kiln_firmware_find(st->ctx, root, st->ki->release, name, &path);

		if (r > 0)
			return true;
		if (r < 0) {
			finding(st, KILN_CHECK_SKIPPED, name,
				fmt(st, "%s", strempty(kiln_ctx_error(st->ctx))), NULL, NULL);
			kiln_ctx_clear_error(st->ctx);
			return true; /* reported already */
		}
		strbuf_addf(roots, "%s\"%s\"", roots->len ? ", " : "", root);
	}
	return false;
}

static void check_firmware(struct check_state *st, struct mod_entry *me)
{
	const struct kiln_modinfo *mi;
	char *msg, *says, *advice;
	size_t n;

	st->kind = KILN_CHECK_FIRMWARE;
	mi = kiln_module_modinfo(me->m, &n);
	for (size_t i = 0; i < n; i++) {
		_cleanup_strbuf_ struct strbuf roots = STRBUF_INIT;
		const char *name = mi[i].value;
		bool glob = strpbrk(name, "*?[") != NULL;

		if (!streq(mi[i].key, "firmware") || firmware_found(st, name, &roots))
			continue;
		/* the module loads; it is the driver's probe that fails without it */
		if (st->o->n_firmware_roots)
			msg = fmt(st,
				  "%s on the kernel's firmware search path under %s: "
				  "the module loads, but its probe fails",
				  glob ? "no file matches the pattern" : "not found",
				  strbuf_str(&roots));
		else
			msg = fmt(st,
				  "%s: no --firmware-root given to look in; the module "
				  "loads, but its probe fails without it",
				  glob ? "no file matching the pattern found" : "not found");
		/* dev_warn(): the driver's and the device's names come first */
		says = fmt(st,
			   "<driver> <device>: Direct firmware load for %s%s%s "
			   "failed with error -2",
			   glob ? "<a name matching " : "", name, glob ? ">" : "");
		/* /usr/lib/firmware: the kernel finds it there through merged /usr, and it is
		 * the only firmware path a Talos extension may hold */
		advice = fmt(st, "add it to the extension under /usr/lib/firmware/, or give the "
				 "tree that has it as a firmware root (kiln module check "
				 "--firmware-root, kiln ext validate --base)");
		finding(st, KILN_CHECK_WARN, name, msg, says, advice);
	}
}

/* ---- depends ------------------------------------------------------------- */

static char *normalize(const char *s, size_t len)
{
	char *n = strndup(s, len);

	for (char *p = n; p && *p; p++)
		if (*p == '-')
			*p = '_';
	return n;
}

/* The imports nobody exports: what the kernel will name when the dependency is missing. */
static char *unresolved_lines(struct check_state *st, struct mod_entry *me)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct provider p;
	size_t shown = 0;

	for (size_t i = 0; i < me->syms.n_imports; i++) {
		const struct kiln_ksym *imp = &me->syms.imports[i];

		if (imp->weak || find_provider(st, me, imp->name, &p))
			continue;
		if (shown++ < 8)
			strbuf_addf(&sb, "%s%s: Unknown symbol %s (err -2)", sb.len ? "\n" : "",
				    me->name, imp->name);
	}
	if (shown > 8)
		strbuf_addf(&sb, "\n(and %zu more)", shown - 8);
	return shown ? strbuf_detach(&sb, NULL) : NULL;
}

static bool is_given(const struct check_state *st, const struct mod_entry *me, const char *dep)
{
	for (size_t i = 0; i < st->n; i++)
		if (&st->mods[i] != me && streq(st->mods[i].norm, dep))
			return true;
	return false;
}

static void check_depends(struct check_state *st, struct mod_entry *me)
{
	const char *deps = kiln_module_get(me->m, "depends"), *source;
	char *msg, *advice;

	st->kind = KILN_CHECK_DEPENDS;
	for (const char *p = deps; p && *p;) {
		size_t len = strcspn(p, ",");
		_cleanup_free_ char *dep = normalize(p, len);

		p += len + (p[len] == ',');
		if (!dep) {
			st->oom = true;
			return;
		}
		if (!dep[0] || is_given(st, me, dep))
			continue;
		source = kiln_kernel_module_source(st->k, dep);
		if (streq(source, "modules.builtin") || streq(source, "modules.dep") ||
		    streq(source, "Module.symvers"))
			continue;
		if (source) {
			msg = fmt(st,
				  "depends on %s, an external module listed in %s: "
				  "it must ship too",
				  dep, source);
			finding(st, KILN_CHECK_NOTE, dep, msg, NULL, NULL);
			continue;
		}
		msg = fmt(st, "depends on %s, which is neither given nor part of the kernel", dep);
		advice = fmt(st,
			     "give %s.ko too (it must ship in the same extension), or its "
			     "Module.symvers with --symvers",
			     dep);
		finding(st, KILN_CHECK_FAIL, dep, msg, unresolved_lines(st, me), advice);
	}
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

void kiln_check_result_release(struct kiln_check_result *r)
{
	for (size_t j = 0; j < r->n_findings; j++) {
		free(r->findings[j].subject);
		free(r->findings[j].message);
		free(r->findings[j].kernel_says);
		free(r->findings[j].advice);
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
		name = base_name(strempty(me->path), &len);
	else
		len = strlen(name);
	me->name = strndup(name, len);
	me->norm = normalize(name, len);
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
 * The certificates the kernel trusts: the certificate file, and those built
 * into its image. With none, *@ret stays NULL. *@ret_trusted names them.
 */
static int load_verifier(struct kiln_ctx *ctx, const struct kiln_kernel *k,
			 struct kiln_verifier **ret, char **ret_trusted)
{
	const struct kiln_kernel_info *ki = kiln_kernel_info(k);
	_cleanup_(kiln_verifier_freep) struct kiln_verifier *v = NULL;
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const struct kiln_kernel_cert *certs;
	size_t n;
	int r;

	certs = kiln_kernel_certs(k, &n);
	if (!ki->cert && !n)
		return 0;
	r = kiln_verifier_new(ctx, &v);
	if (r >= 0 && ki->cert) {
		r = kiln_verifier_add_cert_file(ctx, v, ki->cert);
		strbuf_addf(&sb, "'%s'", ki->cert);
	}
	if (n && r >= 0)
		strbuf_addf(&sb, "%s%s built into '%s' (", sb.len ? " nor " : "",
			    n == 1 ? "the certificate" : "the certificates", ki->kernel_image);
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = kiln_verifier_add_cert_der(ctx, v, certs[i].description, certs[i].der,
					       certs[i].der_len);
		strbuf_addf(&sb, "%s'%s'%s", i ? ", " : "", certs[i].description,
			    i + 1 == n ? ")" : "");
	}
	if (r < 0)
		return r;
	*ret_trusted = strbuf_detach(&sb, NULL);
	if (!*ret_trusted)
		return -ENOMEM;
	*ret = TAKE_PTR(v);
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
			    module_provider(st->mods, st->n, me, name, true, &p))
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
		r = load_verifier(ctx, k, &verifier, &st.trusted);
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
