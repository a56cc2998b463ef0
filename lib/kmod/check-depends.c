/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a module needs beside itself: the firmware its probe will ask
 * request_firmware() for, and the modules modprobe loads first (depends=).
 */
#include <stdlib.h>
#include <string.h>

#include <kiln/module.h>

#include "check-internal.h"
#include "log.h"
#include "strbuf.h"

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
			check_finding(st, KILN_CHECK_SKIPPED, name,
				      check_fmt(st, "%s", strempty(kiln_ctx_error(st->ctx))), NULL,
				      KILN_FIX_NONE, NULL);
			kiln_ctx_clear_error(st->ctx);
			return true; /* reported already */
		}
		strbuf_addf(roots, "%s\"%s\"", roots->len ? ", " : "", root);
	}
	return false;
}

void check_firmware(struct check_state *st, struct mod_entry *me)
{
	const struct kiln_modinfo *mi;
	char *msg, *says;
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
			msg = check_fmt(st,
					"%s on the kernel's firmware search path under %s: "
					"the module loads, but its probe fails",
					glob ? "no file matches the pattern" : "not found",
					strbuf_str(&roots));
		else
			msg = check_fmt(st,
					"%s: no firmware root given to look in; the module "
					"loads, but its probe fails without it",
					glob ? "no file matching the pattern found" : "not found");
		/* dev_warn(): the driver's and the device's names come first */
		says = check_fmt(st,
				 "<driver> <device>: Direct firmware load for %s%s%s "
				 "failed with error -2",
				 glob ? "<a name matching " : "", name, glob ? ">" : "");
		check_finding(st, KILN_CHECK_WARN, name, msg, says, KILN_FIX_ADD_FIRMWARE, name);
	}
}

/* ---- depends ------------------------------------------------------------- */

char *check_normalize(const char *s, size_t len)
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

		if (imp->weak || check_find_provider(st, me, imp->name, &p))
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

void check_depends(struct check_state *st, struct mod_entry *me)
{
	const char *deps = kiln_module_get(me->m, "depends"), *source;
	char *msg;

	st->kind = KILN_CHECK_DEPENDS;
	for (const char *p = deps; p && *p;) {
		size_t len = strcspn(p, ",");
		_cleanup_free_ char *dep = check_normalize(p, len);

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
			msg = check_fmt(st,
					"depends on %s, an external module listed in %s: "
					"it must ship too",
					dep, source);
			check_finding(st, KILN_CHECK_NOTE, dep, msg, NULL, KILN_FIX_NONE, NULL);
			continue;
		}
		msg = check_fmt(st, "depends on %s, which is neither given nor part of the kernel",
				dep);
		check_finding(st, KILN_CHECK_FAIL, dep, msg, unresolved_lines(st, me),
			      KILN_FIX_GIVE_DEPENDENCY, dep);
	}
}
