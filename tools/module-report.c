/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Module verdicts in the commands' words: the findings of `kiln module
 * check`, and the modules `kiln build` made. The library says what is
 * wrong; what to do in a build is worded here, from the facts it gives:
 * the stage makes the module, so the fix is in the stage.
 */
#include <stdlib.h>
#include <string.h>

#include "kiln.h"
#include "module-report.h"

/* A stage with more modules than this (a kernel's) gets a count, and its problems listed. */
#define SUMMARY_MODULES_MAX 20

const char *cli_fix_text(enum kiln_check_fix fix, const char *arg, char **owned)
{
	const char *cert = arg ? arg : "CERT";
	int r = 0; /* a value out of the enum: nothing to say */

	*owned = NULL;
	switch (fix) {
	case KILN_FIX_NONE:
	case KILN_FIX_MAX:
		return NULL;
	case KILN_FIX_SIGN:
		r = asprintf(
		    owned,
		    "sign it with the kernel's key: kiln module sign --key KEY --cert %s FILE",
		    cert);
		break;
	case KILN_FIX_RESIGN:
		r = asprintf(owned,
			     "sign it with the kernel's key: kiln module sign --replace --key KEY "
			     "--cert %s FILE",
			     cert);
		break;
	case KILN_FIX_RESIGN_OR_ENROLL:
		r = asprintf(
		    owned,
		    "re-sign it with the kernel's key (kiln module sign --replace --key KEY "
		    "--cert %s FILE), or enroll the signer's certificate in the kernel's "
		    "keyring (MOK)",
		    cert);
		break;
	case KILN_FIX_REBUILD:
		if (!arg)
			return "rebuild the module against this kernel's build tree";
		r = asprintf(
		    owned, "rebuild the module against this kernel's build tree (release %s)", arg);
		break;
	case KILN_FIX_REBUILD_WITH_SYMVERS:
		r = asprintf(
		    owned, "rebuild the module against %s's Module.symvers (KBUILD_EXTRA_SYMBOLS)",
		    strempty(arg));
		break;
	case KILN_FIX_KEEP_SYMTAB:
		return "rebuild the module; strip it with --strip-debug only";
	case KILN_FIX_IMPORT_NS:
		r = asprintf(owned, "add MODULE_IMPORT_NS(%s) to the module's source",
			     strempty(arg));
		break;
	case KILN_FIX_GPL_LICENSE:
		r = asprintf(owned, "use a GPL-compatible MODULE_LICENSE(), or stop using %s",
			     strempty(arg));
		break;
	case KILN_FIX_RENAME_EXPORT:
		if (!arg)
			return "rename the symbol, or stop exporting it";
		r = asprintf(owned, "rename the symbol, or blacklist %s", arg);
		break;
	case KILN_FIX_INSTALL:
		r = asprintf(owned, "install it in usr/lib/modules/%s/", strempty(arg));
		break;
	case KILN_FIX_GIVE_EXPORTER:
		return "it was undefined at build time too (modpost warned): give the module that "
		       "exports it, or its Module.symvers with --symvers";
	case KILN_FIX_GIVE_EXPORTER_OR_REBUILD:
		return "it was exported where the module was built (its CRC is in __versions), not "
		       "here: give the module that exports it (or its Module.symvers with "
		       "--symvers), or rebuild against this kernel's tree";
	case KILN_FIX_GIVE_DEPENDENCY:
		r = asprintf(owned,
			     "give %s.ko too (it must ship in the same extension), or its "
			     "Module.symvers with --symvers",
			     strempty(arg));
		break;
	case KILN_FIX_ADD_FIRMWARE:
		/* /usr/lib/firmware: the kernel finds it there through merged /usr, and it is
		 * the only firmware path a Talos extension may hold */
		return "add it to the extension under /usr/lib/firmware/, or give the tree that "
		       "has it as a firmware root (kiln module check --firmware-root, kiln ext "
		       "validate --base)";
	case KILN_FIX_GIVE_VERMAGIC:
		return "give a kernel build tree with its .config (--kernel-build), the vermagic "
		       "(--vermagic), or the kernel's /lib/modules/<release> (--modules-dir)";
	case KILN_FIX_GIVE_SYMVERS:
		return "give the kernel's build tree (--kernel-build) or its Module.symvers "
		       "(--symvers) to check them";
	case KILN_FIX_GIVE_CERT:
		/* with a boot image that has none built in, only the certificate is left */
		if (arg)
			return "give the kernel's signing certificate with --cert";
		return "give the kernel's signing certificate with --cert, its boot image with "
		       "--kernel-image, or a build tree with certs/signing_key.x509";
	}
	if (r < 0)
		*owned = NULL;
	return *owned;
}

/* What to do about @f: @advice's words, else cli_fix_text()'s; *@owned is freed by the caller. */
static const char *advice_text(const struct kiln_check_finding *f, cli_advice_fn advice,
			     const void *userdata, char **owned)
{
	const char *what_to_do = advice ? advice(f, userdata, owned) : NULL;

	return what_to_do ? what_to_do : cli_fix_text(f->fix, f->fix_arg, owned);
}

/* @indent and @label before each line of @text. */
static void add_lines(struct strbuf *sb, const char *indent, const char *label, const char *text)
{
	while (*text) {
		size_t len = strcspn(text, "\n");

		strbuf_addf(sb, "%s%s%.*s\n", indent, label, (int)len, text);
		text += len + (text[len] == '\n');
	}
}

void cli_check_findings_text(struct strbuf *sb, const struct kiln_check_result *r,
			     enum kiln_check_status min, const char *indent, cli_advice_fn advice,
			     const void *userdata)
{
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct kiln_check_finding *f = &r->findings[i];
		_cleanup_free_ char *owned = NULL;
		const char *what_to_do;

		if (f->status < min)
			continue;
		what_to_do = advice_text(f, advice, userdata, &owned);
		strbuf_addf(sb, "%s%s: %s: ", indent, kiln_check_status_name(f->status),
			    kiln_check_kind_name(f->kind));
		if (f->subject)
			strbuf_addf(sb, "%s: ", f->subject);
		strbuf_addf(sb, "%s\n", f->message);
		if (f->kernel_says)
			add_lines(sb, indent, "    kernel: ", f->kernel_says);
		if (what_to_do)
			strbuf_addf(sb, "%s    to do: %s\n", indent, what_to_do);
	}
}

void cli_check_json_members(struct json_writer *w, const struct kiln_check_result *r,
			    cli_advice_fn advice, const void *userdata)
{
	json_key(w, "loads");
	json_bool(w, kiln_check_loads(r));
	json_kv_string(w, "status", kiln_check_status_name(r->status));
	json_key(w, "checks");
	json_begin_array(w);
	for (int k = 0; k < KILN_CHECK_KIND_MAX; k++) {
		json_begin_object(w);
		json_kv_string(w, "check", kiln_check_kind_name(k));
		json_kv_string(w, "status", kiln_check_status_name(r->checks[k]));
		json_key(w, "findings");
		json_begin_array(w);
		for (size_t i = 0; i < r->n_findings; i++) {
			const struct kiln_check_finding *f = &r->findings[i];
			_cleanup_free_ char *owned = NULL;

			if ((int)f->kind != k)
				continue;
			json_begin_object(w);
			json_kv_string(w, "status", kiln_check_status_name(f->status));
			json_kv_string(w, "subject", f->subject);
			json_kv_string(w, "message", f->message);
			json_key(w, "kernel_says");
			json_begin_array(w);
			for (const char *t = f->kernel_says; t && *t;) {
				size_t len = strcspn(t, "\n");

				json_string_len(w, t, len);
				t += len + (t[len] == '\n');
			}
			json_end_array(w);
			json_kv_string(w, "fix", kiln_check_fix_name(f->fix));
			json_kv_string(w, "fix_arg", f->fix_arg);
			json_kv_string(w, "advice", advice_text(f, advice, userdata, &owned));
			json_end_object(w);
		}
		json_end_array(w);
		json_end_object(w);
	}
	json_end_array(w);
}

/* ---- kiln build ------------------------------------------------------------------- */

/* The kernel tree's files as the stage sees them: "/src/certs", or "/certs" for one at the top. */
static const char *tree_base(const struct kiln_build_module *m)
{
	return streq(m->kernel_dir, "/") ? "" : m->kernel_dir;
}

/*
 * What to do in the stage that makes the module, where that differs from
 * what `kiln module check` would say: signing and firmware are the stage's.
 */
static const char *build_advice(const struct kiln_check_finding *f, const void *userdata,
				char **owned)
{
	const struct kiln_build_module *m = userdata;
	const char *tree = tree_base(m);
	int r = 0;

	switch (f->fix) {
	case KILN_FIX_SIGN:
	case KILN_FIX_RESIGN:
	case KILN_FIX_RESIGN_OR_ENROLL:
		if (!m->kernel_is_tree) {
			/* the modules directory has no certificate: whose key is unknown */
			r = asprintf(
			    owned, "sign it in the stage with the key %s's modules are signed with",
			    m->kernel);
			break;
		}
		r = asprintf(owned,
			     "sign it in the stage with the kernel's key, whose certificate is "
			     "%s/certs/signing_key.x509 of %s: kbuild's modules_install signs with "
			     "%s/certs/signing_key.pem when the kernel has CONFIG_MODULE_SIG_ALL; "
			     "else sign it in a step with %s/scripts/sign-file and the key given "
			     "as a build secret (--secret)",
			     tree, m->kernel, tree, tree);
		break;
	case KILN_FIX_ADD_FIRMWARE:
		return "a warning only: install the file under usr/lib/firmware/ in this stage "
		       "(rootfs/usr/lib/firmware/ for an extension), or ship the package that has "
		       "it with this one";
	case KILN_FIX_INSTALL:
		/* a modules directory: cli_fix_text()'s "install it in usr/lib/modules/R/" */
		if (!m->kernel_is_tree)
			return NULL;
		r = asprintf(
		    owned,
		    "build it against the kernel's tree and install it with kbuild: "
		    "make -C %s M=$PWD modules_install INSTALL_MOD_PATH=/rootfs/usr puts it "
		    "in usr/lib/modules/%s/",
		    m->kernel_dir, m->kernel_release);
		break;
	default:
		return NULL;
	}
	if (r < 0)
		*owned = NULL;
	return *owned;
}

/* The worst finding: what the verdict is about. */
static const struct kiln_check_finding *worst(const struct kiln_build_module *m)
{
	for (size_t i = 0; i < m->check.n_findings; i++)
		if (m->check.findings[i].status == m->check.status)
			return &m->check.findings[i];
	return NULL;
}

/* "will load", "would not load: signature: ...", "not checked: ..." */
void build_module_verdict(struct strbuf *sb, const struct kiln_build_module *m)
{
	const struct kiln_check_finding *f = worst(m);
	const char *words;
	size_t n_more = 0;

	if (!m->checked) {
		if (m->error)
			strbuf_addf(sb, "not a module kiln can read: %s", m->error);
		else
			strbuf_adds(sb, "not checked: no dependency holds a kernel build tree");
		return;
	}
	if (m->error) {
		strbuf_addf(sb, "would not load: %s", m->error);
		return;
	}
	switch (m->check.status) {
	case KILN_CHECK_FAIL:
		words = "would not load";
		break;
	case KILN_CHECK_WARN:
		words = "will load, with a warning";
		break;
	case KILN_CHECK_SKIPPED:
		words = "will load, as far as checked";
		break;
	default:
		strbuf_adds(sb, "will load");
		return;
	}
	strbuf_addf(sb, "%s: %s", words, f ? kiln_check_kind_name(f->kind) : "?");
	if (f && f->subject)
		strbuf_addf(sb, " %s", f->subject);
	if (f)
		strbuf_addf(sb, ": %s", f->message);
	for (size_t i = 0; i < m->check.n_findings; i++)
		n_more +=
		    m->check.findings[i].status >= KILN_CHECK_SKIPPED && &m->check.findings[i] != f;
	if (n_more)
		strbuf_addf(sb, " (and %zu more)", n_more);
}

/* "signed by 'NAME' (sha512), vermagic 6.1.0 SMP mod_unload, " */
void build_module_description(struct strbuf *sb, const struct kiln_build_module *m)
{
	if (m->error && !m->name)
		return;
	if (m->has_signature && m->signer)
		strbuf_addf(sb, "signed by '%s' (%s), ", m->signer, strempty(m->sig_hash));
	else if (m->has_signature)
		strbuf_adds(sb, "signed (the signature does not parse), ");
	else
		strbuf_adds(sb, "unsigned, ");
	if (m->vermagic) {
		/* kbuild ends it with a space */
		size_t len = strlen(m->vermagic);

		while (len && m->vermagic[len - 1] == ' ')
			len--;
		strbuf_addf(sb, "vermagic %.*s, ", (int)len, m->vermagic);
	} else {
		strbuf_adds(sb, "no vermagic, ");
	}
}

static void add_module_line(struct strbuf *sb, const char *stage, const struct kiln_build_module *m)
{
	strbuf_addf(sb, "  %s  %s  ", stage, m->path);
	build_module_description(sb, m);
	build_module_verdict(sb, m);
	strbuf_addch(sb, '\n');
}

/* Fine: it loads, and nothing about it is worth a line of its own in a long list. */
static bool unremarkable(const struct kiln_build_module *m)
{
	return !m->error && (!m->checked || m->check.status <= KILN_CHECK_NOTE);
}

int build_summary_add(struct build_summary *s, const char *stage, const struct kiln_build_module *m,
		      size_t n)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	size_t n_fine = 0, n_unchecked = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		n_fine += unremarkable(&m[i]) && m[i].checked;
		n_unchecked += unremarkable(&m[i]) && !m[i].checked;
	}
	if (n > SUMMARY_MODULES_MAX)
		strbuf_addf(&sb,
			    "  %s  %zu modules: %zu will load, %zu not checked, %zu listed "
			    "below\n",
			    stage, n, n_fine, n_unchecked, n - n_fine - n_unchecked);
	for (size_t i = 0; i < n; i++)
		if (n <= SUMMARY_MODULES_MAX || !unremarkable(&m[i]))
			add_module_line(&sb, stage, &m[i]);
	if (GROW(s->blocks, s->alloc, s->n + 1) < 0 ||
	    !(s->blocks[s->n] = strbuf_detach(&sb, NULL)))
		return -ENOMEM;
	s->n++;
	return 0;
}

static int cmp_block(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void build_summary_print(struct build_summary *s, FILE *f)
{
	if (s->n == 0)
		return;
	/* in stage order, not in the order they happened to end */
	qsort(s->blocks, s->n, sizeof(*s->blocks), cmp_block);
	fprintf(f, "kiln: kernel modules:\n");
	for (size_t i = 0; i < s->n; i++)
		fputs(s->blocks[i], f);
}

void build_summary_release(struct build_summary *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->blocks[i]);
	free(s->blocks);
	*s = (struct build_summary){ 0 };
}

size_t build_modules_print_refused(FILE *f, const struct kiln_build_module *m, size_t n)
{
	size_t printed = 0;

	for (size_t i = 0; i < n; i++) {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

		if (kiln_build_module_loads(&m[i]))
			continue;
		printed++;
		strbuf_addf(&sb, "kiln: %s would not load on kernel %s (%s of %s):\n", m[i].path,
			    m[i].kernel_release, m[i].kernel_dir, m[i].kernel);
		if (m[i].error)
			strbuf_addf(&sb, "  %s\n", m[i].error);
		cli_check_findings_text(&sb, &m[i].check, KILN_CHECK_WARN, "  ", build_advice,
					&m[i]);
		fputs(strbuf_str(&sb), f);
	}
	return printed;
}

void build_modules_json(struct json_writer *w, const struct kiln_build_module *m, size_t n)
{
	json_begin_array(w);
	for (size_t i = 0; i < n; i++) {
		json_begin_object(w);
		json_kv_string(w, "path", m[i].path);
		json_kv_string(w, "name", m[i].name);
		json_kv_string(w, "vermagic", m[i].vermagic);
		json_key(w, "signed");
		json_bool(w, m[i].has_signature);
		json_kv_string(w, "signer", m[i].signer);
		json_kv_string(w, "hash", m[i].sig_hash);
		json_kv_string(w, "installed_release", m[i].installed_release);
		json_kv_string(w, "error", m[i].error);
		json_key(w, "kernel");
		if (m[i].checked) {
			json_begin_object(w);
			json_kv_string(w, "dependency", m[i].kernel);
			json_kv_string(w, "dir", m[i].kernel_dir);
			json_kv_string(w, "release", m[i].kernel_release);
			json_key(w, "tree");
			json_bool(w, m[i].kernel_is_tree);
			json_end_object(w);
			cli_check_json_members(w, &m[i].check, build_advice, &m[i]);
		} else {
			json_null(w);
		}
		json_end_object(w);
	}
	json_end_array(w);
}
