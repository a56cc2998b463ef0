/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The symbols check: what the kernel's loader does with a module's symbols,
 * check_modstruct_version() (module_layout), simplify_symbols():
 * resolve_symbol() with check_version() (CRCs), the namespace and GPL-only
 * rules, and verify_exported_symbols() for its exports.
 */
#include <elf.h>
#include <inttypes.h>
#include <string.h>

#include <kiln/module.h>

#include "check-internal.h"
#include "strbuf.h"

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
const char *check_base_name(const char *path, size_t *ret_len)
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
bool check_module_provider(const struct mod_entry *mods, size_t n, const struct mod_entry *self,
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

bool check_find_provider(const struct check_state *st, const struct mod_entry *self,
			 const char *name, struct provider *ret)
{
	const struct kiln_symvers_entry *e = kiln_symvers_find(kiln_kernel_symvers(st->k), name);

	if (!(e && streq(e->module, "vmlinux")) &&
	    (check_module_provider(st->mods, st->n, self, name, true, ret) ||
	     check_module_provider(st->exporters, st->n_exporters, self, name, false, ret)))
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
	char *msg, *says;

	if (st->ki->modversions != 1 || !me->syms.has_versions)
		return;
	/* kernels that no longer export it no longer check it */
	e = kiln_symvers_find(kiln_kernel_symvers(st->k), "module_layout");
	if (!e || !streq(e->file, st->ki->symvers))
		return;
	v = find_version(me->m, "module_layout");
	if (!v) {
		msg = check_fmt(st, "no CRC for module_layout in __versions: the kernel warns, "
				    "and loads it");
		says = check_fmt(st, "%s: no symbol version for module_layout", me->name);
		check_finding(st, KILN_CHECK_WARN, "module_layout", msg, says, KILN_FIX_NONE, NULL);
		return;
	}
	if (v->crc == e->crc)
		return;
	msg = check_fmt(st,
			"module_layout CRC 0x%08" PRIx64 " differs from the kernel's 0x%08x: "
			"the module was built against a kernel whose struct module differs",
			v->crc, e->crc);
	says = check_fmt(st, "%s: disagrees about version of symbol module_layout", me->name);
	check_finding(st, KILN_CHECK_FAIL, "module_layout", msg, says, KILN_FIX_REBUILD,
		      st->ki->release);
}

/* x86's ignore_undef_symbol() in kernel/module/main.c */
static bool ignored_undef(uint16_t machine, const char *name)
{
	return (machine == EM_386 || machine == EM_X86_64) && streq(name, "_GLOBAL_OFFSET_TABLE_");
}

static void unknown_symbol(struct check_state *st, struct mod_entry *me, const char *name)
{
	char *msg, *says;

	msg = check_fmt(st, "%s is exported neither by the kernel (%s) nor by a module given", name,
			st->ki->symvers);
	says = check_fmt(st, "%s: Unknown symbol %s (err -2)", me->name, name);
	/* a CRC in __versions: it was exported where the module was built, not here */
	check_finding(st, KILN_CHECK_FAIL, name, msg, says,
		      find_version(me->m, name) ? KILN_FIX_GIVE_EXPORTER_OR_REBUILD
						: KILN_FIX_GIVE_EXPORTER,
		      name);
}

/* check_version() for one import the kernel has a CRC for. */
static void check_crc(struct check_state *st, struct mod_entry *me, const char *name,
		      const struct provider *p)
{
	const struct kiln_modversion *v = find_version(me->m, name);
	char *msg, *says;

	if (!v) {
		msg = check_fmt(
		    st, "no CRC for %s in __versions: the kernel warns once, and loads it", name);
		says = check_fmt(st, "%s: no symbol version for %s", me->name, name);
		check_finding(st, KILN_CHECK_WARN, name, msg, says, KILN_FIX_NONE, NULL);
		return;
	}
	if (v->crc == p->crc)
		return;
	msg = check_fmt(st, "CRC of %s is 0x%08" PRIx64 " in the module, 0x%08x in %s (%s)", name,
			v->crc, p->crc, p->where, p->owner);
	says = check_fmt(
	    st, "%s: disagrees about version of symbol %s\n%s: Unknown symbol %s (err -22)",
	    me->name, name, me->name, name);
	if (p->given)
		check_finding(st, KILN_CHECK_FAIL, name, msg, says, KILN_FIX_REBUILD_WITH_SYMVERS,
			      p->owner);
	else
		check_finding(st, KILN_CHECK_FAIL, name, msg, says, KILN_FIX_REBUILD,
			      st->ki->release);
}

/* verify_namespace_is_imported() */
static void check_namespace(struct check_state *st, struct mod_entry *me, const char *name,
			    const char *ns)
{
	bool allowed = st->ki->allow_missing_ns == 1;
	char *msg, *says;

	if (imports_ns(me->m, ns))
		return;
	msg = check_fmt(st, "%s is in namespace %s, which the module does not import", name, ns);
	if (allowed)
		says = check_fmt(st,
				 "%s: module uses symbol (%s) from namespace %s, "
				 "but does not import it.",
				 me->name, name, ns);
	else
		says = check_fmt(st,
				 "%s: module uses symbol (%s) from namespace %s, "
				 "but does not import it.\n%s: Unknown symbol %s (err -22)",
				 me->name, name, ns, me->name, name);
	check_finding(st, allowed ? KILN_CHECK_WARN : KILN_CHECK_FAIL, name, msg, says,
		      KILN_FIX_IMPORT_NS, ns);
}

/* resolve_symbol() on one import: found, GPL-only rule, CRC, namespace. */
static void check_import(struct check_state *st, struct mod_entry *me, const struct kiln_ksym *imp,
			 bool gpl_ok)
{
	const char *license = kiln_module_get(me->m, "license");
	char *msg, *says;
	struct provider p;
	bool found;

	found = check_find_provider(st, me, imp->name, &p);
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
		msg = check_fmt(st,
				"%s is EXPORT_SYMBOL_GPL, and the module's license \"%s\" is not "
				"GPL-compatible",
				imp->name, strempty(license));
		says = check_fmt(st, "%s: Unknown symbol %s (err -2)", me->name, imp->name);
		check_finding(st, KILN_CHECK_FAIL, imp->name, msg, says, KILN_FIX_GPL_LICENSE,
			      imp->name);
		return;
	}
	if (p.has_crc && st->ki->modversions == 1 && me->syms.has_versions) {
		check_crc(st, me, imp->name, &p);
	} else if (p.given && !p.has_crc && st->ki->modversions == 1) {
		msg =
		    check_fmt(st, "%s comes from %s, which records no CRC for it: any CRC accepted",
			      imp->name, p.where);
		check_finding(st, KILN_CHECK_NOTE, imp->name, msg, NULL, KILN_FIX_NONE, NULL);
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
	_cleanup_free_ char *module = check_fmt(st, "%.*s", (int)len, owner);
	char *msg, *says;

	msg = check_fmt(st,
			"exports %s, as the in-tree module %.*s does: it fails to load while "
			"that one is loaded",
			name, (int)len, owner);
	says = check_fmt(st, "%s: exports duplicate symbol %s (owned by %.*s)", me->name, name,
			 (int)len, owner);
	check_finding(st, KILN_CHECK_WARN, name, msg, says, KILN_FIX_RENAME_EXPORT, module);
}

/* verify_exported_symbols(): an export the kernel already has fails the load. */
static void check_exports(struct check_state *st, struct mod_entry *me)
{
	const struct kiln_symvers *sv = kiln_kernel_symvers(st->k);
	char *msg, *says;

	for (size_t i = 0; i < me->syms.n_exports; i++) {
		const char *name = me->syms.exports[i].name, *owner;
		const struct kiln_symvers_entry *e = kiln_symvers_find(sv, name);
		size_t len;

		if (!e && !st->ki->symvers && (owner = kiln_kernel_symbol_module(st->k, name))) {
			owner = check_base_name(owner, &len);
			if (!module_name_is(me->norm, owner, len))
				duplicate_export(st, me, name, owner, len);
			continue;
		}
		if (!e || !streq(e->file, st->ki->symvers))
			continue;
		if (streq(e->module, "vmlinux")) {
			msg = check_fmt(st, "exports %s, which the kernel itself exports", name);
			says = check_fmt(st, "%s: exports duplicate symbol %s (owned by kernel)",
					 me->name, name);
			check_finding(st, KILN_CHECK_FAIL, name, msg, says, KILN_FIX_RENAME_EXPORT,
				      NULL);
			continue;
		}
		owner = check_base_name(e->module, &len);
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
	_cleanup_free_ char *rest = more ? check_fmt(st, ", and %zu more", more) : NULL;
	char *msg;

	msg =
	    check_fmt(st,
		      "%zu symbol%s (%s%s) not checked: no Module.symvers; the kernel's modules "
		      "do not export %s, so vmlinux must (with the CRC the module was built "
		      "against) or the load fails with \"Unknown symbol\"",
		      st->n_unchecked, st->n_unchecked == 1 ? "" : "s", strbuf_str(&st->unchecked),
		      strempty(rest), st->n_unchecked == 1 ? "it" : "them");
	check_finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, KILN_FIX_GIVE_SYMVERS, NULL);
}

void check_symbols(struct check_state *st, struct mod_entry *me)
{
	bool gpl_ok = license_is_gpl_compatible(kiln_module_get(me->m, "license"));
	bool forced = st->ki->force_load == 1;
	const struct kiln_symvers_entry *layout;
	char *msg, *says;

	st->kind = KILN_CHECK_SYMBOLS;
	if (me->syms_error) {
		msg = check_fmt(st, "cannot read the module's symbol table: %s", me->syms_reason);
		says = me->syms_error == -ENOEXEC
			   ? check_fmt(st, "%s: module has no symbols (stripped?)", me->name)
			   : NULL;
		check_finding(st, KILN_CHECK_FAIL, NULL, msg, says, KILN_FIX_KEEP_SYMTAB, NULL);
		return;
	}
	if (!st->ki->symvers && !kiln_kernel_knows_module_exports(st->k)) {
		msg = check_fmt(st, "what the kernel exports is unknown: no Module.symvers, and no "
				    "modules.symbols in its modules directory");
		check_finding(st, KILN_CHECK_SKIPPED, NULL, msg, NULL, KILN_FIX_GIVE_SYMVERS, NULL);
		return;
	}
	layout = kiln_symvers_find(kiln_kernel_symvers(st->k), "module_layout");
	if (st->ki->modversions == 1 && !me->syms.has_versions && (layout || me->syms.n_imports)) {
		/* check_version() with no __versions at all: try_to_force_load() */
		msg =
		    check_fmt(st,
			      "the module has no symbol versions (__versions), and the kernel "
			      "checks them (CONFIG_MODVERSIONS)%s",
			      forced ? ": it takes it as a forced load, tainting itself (F)" : "");
		says = forced ? check_fmt(st, "%s: %s: kernel tainted.", me->name,
					  layout ? "module_layout" : me->syms.imports[0].name)
			      : check_fmt(st, SAYS_ENOEXEC);
		check_finding(st, forced ? KILN_CHECK_WARN : KILN_CHECK_FAIL, NULL, msg, says,
			      KILN_FIX_REBUILD, st->ki->release);
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
