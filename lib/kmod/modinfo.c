/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What kmod's modinfo shows of a module beyond its .modinfo entries: the
 * parameters, parm= and parmtype= merged as its tools/modinfo.c merges
 * them, and what the signature trailer says (not whether it verifies).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/module.h>

#include "log.h"
#include "macro.h"

static int param_cmp(const void *a, const void *b)
{
	const struct kiln_module_param *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	if (c)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return (x->first > y->first) - (x->first < y->first);
}

static int param_newest_first(const void *a, const void *b)
{
	const struct kiln_module_param *x = a, *y = b;

	return (x->first < y->first) - (x->first > y->first);
}

static bool is_param_key(const char *key, bool *ret_is_type)
{
	*ret_is_type = streq(key, "parmtype");
	return *ret_is_type || streq(key, "parm");
}

/*
 * modinfo merges parm=NAME:DESC and parmtype=NAME:TYPE by NAME, the last
 * value of each winning, and lists the names newest first (it pushes each
 * new one on the front of a list). Sorted rather than searched, so that a
 * crafted module with a million parameters costs n log n.
 */
int kiln_module_params(const struct kiln_module *m, struct kiln_module_param **ret, size_t *ret_n,
		       size_t *ret_n_bad)
{
	const struct kiln_modinfo *mi;
	struct kiln_module_param *p;
	size_t n, k = 0, out = 0, bad = 0;
	bool is_type;

	mi = kiln_module_modinfo(m, &n);
	for (size_t i = 0; i < n; i++)
		k += is_param_key(mi[i].key, &is_type);
	if (k == 0) {
		*ret = NULL;
		*ret_n = 0;
		if (ret_n_bad)
			*ret_n_bad = 0;
		return 0;
	}
	p = calloc(k, sizeof(*p));
	if (!p)
		return -ENOMEM;
	k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *colon;

		if (!is_param_key(mi[i].key, &is_type))
			continue;
		colon = strchr(mi[i].value, ':');
		if (!colon) {
			bad++;
			continue;
		}
		p[k++] = (struct kiln_module_param){
			.name = mi[i].value,
			.name_len = (size_t)(colon - mi[i].value),
			.desc = is_type ? NULL : colon + 1,
			.type = is_type ? colon + 1 : NULL,
			.first = i,
		};
	}
	qsort(p, k, sizeof(*p), param_cmp);
	for (size_t i = 0, j; i < k; i = j) {
		struct kiln_module_param merged = p[i];

		for (j = i + 1; j < k && p[j].name_len == p[i].name_len &&
				memcmp(p[j].name, p[i].name, p[i].name_len) == 0;
		     j++) {
			if (p[j].desc)
				merged.desc = p[j].desc;
			if (p[j].type)
				merged.type = p[j].type;
		}
		p[out++] = merged;
	}
	qsort(p, out, sizeof(*p), param_newest_first);
	if (out == 0) {
		free(p);
		p = NULL;
	}
	*ret = p;
	*ret_n = out;
	if (ret_n_bad)
		*ret_n_bad = bad;
	return 0;
}

const char *kiln_modsig_state_name(enum kiln_modsig_state s)
{
	static const char *const names[] = {
		[KILN_MODSIG_UNSIGNED] = "unsigned",
		[KILN_MODSIG_SIGNED] = "signed",
		[KILN_MODSIG_MALFORMED] = "malformed",
	};

	return (unsigned)s < ELEMENTSOF(names) ? names[s] : "?";
}

int kiln_module_sig_describe(struct kiln_ctx *ctx, const struct kiln_module *m,
			     struct kiln_module_sig *ret)
{
	struct kiln_module_sig s = { .state = KILN_MODSIG_MALFORMED };
	const struct kiln_modsig *sig;
	const char *why = NULL;
	int r;

	r = kiln_module_signature(m, &sig);
	if (r == -ENODATA) {
		*ret = (struct kiln_module_sig){ .state = KILN_MODSIG_UNSIGNED };
		return 0;
	}
	if (r == 0) {
		r = kiln_modsig_describe(ctx, sig, &s.desc);
		if (r == -ENOMEM)
			return r;
		why = kiln_ctx_error(ctx);
	} else {
		why = kiln_module_signature_error(m);
	}
	if (r == 0) {
		*ret = (struct kiln_module_sig){ .state = KILN_MODSIG_SIGNED, .desc = s.desc };
		return 0;
	}
	/* a signature the kernel would refuse is a fact about the module, not an error */
	s.why = strdup(why ? why : strerror(-r));
	kiln_ctx_clear_error(ctx);
	if (!s.why)
		return -ENOMEM;
	*ret = s;
	return 0;
}

void kiln_module_sig_release(struct kiln_module_sig *s)
{
	if (s->state == KILN_MODSIG_SIGNED)
		kiln_modsig_desc_release(&s->desc);
	free(s->why);
	*s = (struct kiln_module_sig){ 0 };
}
