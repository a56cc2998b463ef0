/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The installer's preflight: before anything is composed, every module of
 * every extension is checked against the kernel the installer boots, the
 * way `kiln module check` checks one (vermagic, symbols where they are
 * known, the signature with module.sig_enforce=1, firmware, depends).
 * Talos's imager checks none of this; the node finds out at boot, where
 * the kernel refuses the module ("Key was rejected by service").
 *
 * What is known of the base's kernel: its release and its own modules
 * (modules.dep, modules.builtin, the vermagic of one of them), taken out
 * of the base's rootfs.sqsh before the extensions' modules are merged in;
 * the certificates built into its vmlinuz, as lib/kmod reads them from a
 * boot image; and those given with --kernel-cert. Without any, signatures
 * are reported as not checked, never as good.
 */
#include <stdlib.h>
#include <string.h>

#include <kiln/image.h>
#include <kiln/module.h>

#include "fileio.h"
#include "installer-internal.h"
#include "log.h"
#include "strbuf.h"

struct preflight {
	char **files; /* the modules, every extension's, in list order */
	size_t n_files;
	struct kiln_module **mods;
	size_t n_mods;
	const struct installer_ext **owner; /* the extension of each module */
	struct kiln_check_result *best; /* per module: the best verdict over the certificates */
	const char **roots; /* where firmware is looked for: every extension's rootfs */
	size_t n_roots;
};

static void preflight_release(struct preflight *p)
{
	if (p->best)
		kiln_check_results_free(p->best, p->n_mods);
	for (size_t i = 0; i < p->n_mods; i++)
		kiln_module_free(p->mods[i]);
	free(p->mods);
	free(p->owner);
	free(p->roots);
	kiln_strv_free(p->files, p->n_files);
}

/* The modules of every extension that has some, opened; each with its extension. */
static int collect(struct installer *in, struct preflight *p)
{
	_cleanup_free_ char **dirs = calloc(in->n_exts + 1, sizeof(*dirs));
	size_t n_dirs = 0;
	int r = 0;

	p->roots = calloc(in->n_exts + 1, sizeof(*p->roots));
	if (!dirs || !p->roots)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_exts; i++) {
		p->roots[p->n_roots++] = in->exts[i].rootfs;
		if (in->exts[i].has_modules &&
		    !(dirs[n_dirs++] = path_join(in->exts[i].rootfs, "usr/lib/modules")))
			r = -ENOMEM;
	}
	if (r >= 0)
		r = kiln_module_collect(in->ctx, dirs, n_dirs, &p->files, &p->n_files);
	for (size_t i = 0; i < n_dirs; i++)
		free(dirs[i]);
	if (r < 0)
		return r;
	p->mods = calloc(p->n_files + 1, sizeof(*p->mods));
	p->owner = calloc(p->n_files + 1, sizeof(*p->owner));
	if (!p->mods || !p->owner)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_files; i++) {
		const struct installer_ext *e = NULL;

		for (size_t j = 0; j < in->n_exts && !e; j++) {
			size_t len = strlen(in->exts[j].rootfs);

			if (strncmp(p->files[i], in->exts[j].rootfs, len) == 0 &&
			    p->files[i][len] == '/')
				e = &in->exts[j];
		}
		r = kiln_module_open(in->ctx, p->files[i], &p->mods[p->n_mods]);
		if (r < 0) {
			kiln_error_prefix(in->ctx, "preflight: extension \"%s\" (\"%s\")",
					  e ? e->manifest->name : "?", e ? e->ref : "?");
			return r;
		}
		p->owner[p->n_mods++] = e;
	}
	return 0;
}

/*
 * @text with newlines made spaces, and the scratch copy of the base's
 * kernel named as the base has it; NULL on -ENOMEM.
 */
static char *one_line(const struct installer *in, const char *text)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *kernel = in->base_kernel;
	size_t len = kernel ? strlen(kernel) : 0;

	for (const char *p = text; *p;) {
		int r;

		if (len && strncmp(p, kernel, len) == 0) {
			r = strbuf_addf(&sb, "usr/install/%s/vmlinuz", in->arch);
			p += len;
		} else {
			r = strbuf_addch(&sb, *p == '\n' ? ' ' : *p);
			p++;
		}
		if (r < 0)
			return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

/*
 * The base's kernel, as far as is known: its release and its own modules,
 * extracted from its rootfs.sqsh; the certificate @cert (NULL: none); and
 * its boot image, from which lib/kmod reads the certificates built into it
 * (*@use_image: when that image cannot be read, it is said once and left
 * out from then on).
 */
static int load_kernel(struct installer *in, const char *cert, bool *use_image,
		       struct kiln_kernel **ret)
{
	_cleanup_free_ char *modules_dir = NULL;
	struct kiln_kernel_options ko = {
		.release = in->res->kernel_release,
		.cert = cert,
		.kernel_image = *use_image ? in->base_kernel : NULL,
	};
	int r;

	if (asprintf(&modules_dir, "%s/usr/lib/modules/%s", in->modules, in->res->kernel_release) <
	    0)
		return -ENOMEM;
	ko.modules_dir = modules_dir;
	r = kiln_kernel_load(in->ctx, &ko, ret);
	if (r < 0 && r != -ENOMEM && ko.kernel_image) {
		_cleanup_free_ char *msg = NULL;
		struct kiln_installer_event ev = { .kind = KILN_INSTALLER_NOTE };

		_cleanup_free_ char *why = one_line(in, kiln_ctx_error(in->ctx) ?: strerror(-r));

		if (!why || asprintf(&msg,
				     "the base's usr/install/%s/vmlinuz is not used: %s; the "
				     "certificates built into it are not known",
				     in->arch, why) < 0)
			return -ENOMEM;
		ev.message = msg;
		installer_event(in, &ev);
		kiln_ctx_clear_error(in->ctx);
		*use_image = false;
		ko.kernel_image = NULL;
		r = kiln_kernel_load(in->ctx, &ko, ret);
	}
	if (r < 0)
		kiln_error_prefix(in->ctx, "preflight: the base's kernel %s",
				  in->res->kernel_release);
	return r;
}

/*
 * Check the modules against @k, keeping for each module the best verdict
 * so far: the kernel trusts every certificate of its keyring, so a module
 * that one of them verifies loads.
 */
static int check_with(struct installer *in, struct preflight *p, const struct kiln_kernel *k)
{
	struct kiln_check_result *res = NULL;
	const struct kiln_check_options co = {
		.firmware_roots = p->roots,
		.n_firmware_roots = p->n_roots,
		.sig_enforce = true, /* the installer's command line has module.sig_enforce=1 */
	};
	int r;

	r = kiln_module_check(in->ctx, k, p->mods, p->n_mods, &co, &res);
	if (r < 0) {
		kiln_error_prefix(in->ctx, "preflight");
		return r;
	}
	if (!p->best) {
		p->best = res;
		return 0;
	}
	for (size_t i = 0; i < p->n_mods; i++)
		if (res[i].status < p->best[i].status) {
			struct kiln_check_result t = p->best[i];

			p->best[i] = res[i];
			res[i] = t;
		}
	kiln_check_results_free(res, p->n_mods);
	return 0;
}

/* "usr/lib/modules/..." of module @i, as it is in its extension. */
static const char *module_path(const struct preflight *p, size_t i)
{
	const char *path = p->files[i];

	return p->owner[i] ? path + strlen(p->owner[i]->rootfs) + 1 : path;
}

/* The first failing finding of @r, in the words for one line. */
static int refusal(struct installer *in, const struct preflight *p, size_t i, unsigned n_refused)
{
	const struct kiln_check_result *r = &p->best[i];
	const struct installer_ext *e = p->owner[i];
	const struct kiln_check_finding *f = NULL;
	_cleanup_free_ char *msg = NULL, *says = NULL;

	for (size_t j = 0; j < r->n_findings && !f; j++)
		if (r->findings[j].status == KILN_CHECK_FAIL)
			f = &r->findings[j];
	if (!f)
		return kiln_error(in->ctx, ENOEXEC, "preflight: %s would not load",
				  module_path(p, i));
	msg = one_line(in, f->message);
	says = one_line(in, strempty(f->kernel_says));
	if (!msg || !says)
		return -ENOMEM;
	/* what to do is the finding's fix, which the caller words: it saw the module's event */
	return kiln_error_hint(
	    in->ctx, KILN_HINT_NO_PREFLIGHT, NULL,
	    f->kind == KILN_CHECK_SIGNATURE ? EKEYREJECTED : ENOEXEC,
	    "preflight: the base's kernel %s would refuse %s of extension \"%s\" "
	    "(\"%s\"): %s%s%s: %s%s%s (%u module%s refused in all)",
	    in->res->kernel_release, module_path(p, i), e ? e->manifest->name : "?",
	    e ? e->ref : "?", kiln_check_kind_name(f->kind), f->subject ? " " : "",
	    strempty(f->subject), msg, *says ? "; the kernel says: " : "", says, n_refused,
	    n_refused == 1 ? "" : "s");
}

int installer_preflight(struct installer *in)
{
	_cleanup_(preflight_release) struct preflight p = { 0 };
	size_t first = SIZE_MAX;
	unsigned n_refused = 0;
	bool use_image = in->base_kernel != NULL;
	int r;

	r = collect(in, &p);
	if (r < 0)
		return r;
	if (p.n_mods == 0)
		return 0;
	/* one pass a certificate given (at least one pass), the image's own in each */
	for (size_t i = 0; r >= 0 && (i == 0 || i < in->o->n_kernel_certs); i++) {
		_cleanup_(kiln_kernel_freep) struct kiln_kernel *k = NULL;
		const char *cert = i < in->o->n_kernel_certs ? in->o->kernel_certs[i] : NULL;

		r = load_kernel(in, cert, &use_image, &k);
		if (r >= 0 && i == 0 && !cert && kiln_kernel_info(k)->n_image_certs == 0) {
			struct kiln_installer_event ev = {
				.kind = KILN_INSTALLER_NOTE,
				.message = "module signatures not checked: no certificate of the "
					   "base's kernel is known (none built into its vmlinuz "
					   "that kiln could read, and none given)",
				.hint = KILN_HINT_KERNEL_CERT,
			};

			installer_event(in, &ev);
		}
		if (r >= 0)
			r = check_with(in, &p, k);
	}
	if (r < 0)
		return r;
	in->res->n_modules_checked = (unsigned)p.n_mods;
	for (size_t i = 0; i < p.n_mods; i++) {
		struct kiln_installer_event ev = {
			.kind = KILN_INSTALLER_MODULE,
			.module = module_path(&p, i),
			.ref = p.owner[i] ? p.owner[i]->ref : NULL,
			.name = p.owner[i] ? p.owner[i]->manifest->name : NULL,
			.check = &p.best[i],
		};

		installer_event(in, &ev);
		if (kiln_check_loads(&p.best[i]))
			continue;
		if (first == SIZE_MAX)
			first = i;
		n_refused++;
	}
	return n_refused ? refusal(in, &p, first, n_refused) : 0;
}
