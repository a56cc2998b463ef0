/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln module check: will these modules load on that kernel? The kernel's
 * own checks (vermagic, symbol CRCs, signature), and what the probe and
 * modprobe need (firmware, dependencies), before anything ships.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/module.h>

#include "json.h"
#include "kiln.h"
#include "module-report.h"

enum {
	OPT_SYMVERS = OPT_FIRST_COMMAND_OPTION,
	OPT_VERMAGIC,
	OPT_SIG_ENFORCE,
	OPT_STRICT,
};

struct check_args {
	struct kiln_kernel_options kernel;
	const char **symvers;
	const char **firmware_roots;
	size_t n_firmware_roots;
	bool sig_enforce;
	bool strict;
};

static int help(void)
{
	printf("Usage: kiln module check --kernel-build DIR [OPTIONS] FILE|DIR...\n"
	       "       kiln module check --release R --symvers FILE [--cert CERT] [OPTIONS]\n"
	       "                         FILE|DIR...\n"
	       "       kiln module check --kernel-image FILE --kernel-modules DIR [OPTIONS]\n"
	       "                         FILE|DIR...\n"
	       "\n"
	       "Will it load? Checks each module as the kernel's loader would, and says\n"
	       "for every problem what the kernel would print and what to do:\n"
	       "\n"
	       "  vermagic   matches the kernel's (with symbol versions, the kernel ignores\n"
	       "             the release: only the flags must match)\n"
	       "  symbols    every symbol it uses is exported, with the CRC it was built\n"
	       "             against (Module.symvers), from an imported namespace, GPL-only\n"
	       "             symbols only for GPL modules; module_layout; no duplicate exports\n"
	       "  signature  verifies against the kernel's certificates (--cert, the build\n"
	       "             tree's, the ones built into --kernel-image: any of them)\n"
	       "  firmware   every firmware= file is under a --firmware-root, on the kernel's\n"
	       "             search path: {/lib,/usr/lib}/firmware/{updates/R/,updates/,R/,}\n"
	       "             NAME{,.zst,.xz}; globs (*, ?, [) match\n"
	       "  depends    every depends= module is given too, or part of the kernel\n"
	       "\n"
	       "Modules given together are checked as loaded together: each may use the\n"
	       "others' exports. Directories are searched for *.ko, *.ko.xz and *.ko.zst.\n"
	       "\n"
	       "Options:\n"
	       "  -k, --kernel-build DIR  the kernel's build tree or linux-headers tree: its\n"
	       "                          release, .config (the vermagic is derived from it\n"
	       "                          as include/linux/vermagic.h does), Module.symvers,\n"
	       "                          certs/signing_key.x509, modules.builtin\n"
	       "  -r, --release R         the kernel release (overrides the build tree's)\n"
	       "      --symvers FILE      Module.symvers; without --kernel-build the first is\n"
	       "                          the kernel's, others are external modules' (as\n"
	       "                          KBUILD_EXTRA_SYMBOLS); repeatable\n"
	       "  -c, --cert CERT         the kernel's module signing certificate, DER or PEM\n"
	       "      --vermagic STRING   the kernel's vermagic (overrides the derived one)\n"
	       "  -m, --modules-dir DIR   the kernel's /lib/modules/R (--kernel-modules is the\n"
	       "                          same): modules.builtin and modules.dep, the\n"
	       "                          vermagic of its modules (and the release) when\n"
	       "                          nothing else gives one; without Module.symvers,\n"
	       "                          modules.symbols and the exporting modules' CRCs\n"
	       "  -i, --kernel-image FILE the kernel's boot image (bzImage/vmlinuz, arm64\n"
	       "                          Image[.gz]): its release, and the certificates built\n"
	       "                          into it to verify signatures against ('kiln module\n"
	       "                          certs FILE' lists them)\n"
	       "  -f, --firmware-root DIR a tree (the extension, the image) to find firmware\n"
	       "                          in; repeatable\n"
	       "      --sig-enforce       the kernel will enforce signatures at run time\n"
	       "                          (module.sig_enforce=1, or lockdown under Secure Boot):\n"
	       "                          an unsigned module or an unknown key fails the load\n"
	       "      --strict            warnings and skipped checks fail too\n"
	       "      --json              print a JSON array, an object per module\n"
	       "  -h, --help              show this help\n"
	       "\n"
	       "Each module gets a line: \"ok\", \"loads, with warnings\", \"would not load\",\n"
	       "then its findings (fail, warn, skipped, note) with the kernel's words.\n"
	       "\n"
	       "A kernel kiln did not build (a Talos installer's vmlinuz and its modules):\n"
	       "--kernel-image and --modules-dir. Symbols exported by the kernel's modules\n"
	       "are checked against their own CRCs; those of vmlinux itself are listed as\n"
	       "not checked (skipped) unless Module.symvers is given too.\n"
	       "\n"
	       "Signatures: an unsigned module, or one signed by another key, loads on a\n"
	       "kernel that does not enforce signatures, tainting it (a warning); it fails\n"
	       "when the .config has CONFIG_MODULE_SIG_FORCE, with --sig-enforce, or when\n"
	       "there is no .config to tell. A corrupt signature always fails.\n"
	       "\n"
	       "Firmware: a missing firmware file is a warning, not a failure: the kernel\n"
	       "loads the module, and it is the driver's probe that fails later with\n"
	       "\"Direct firmware load for NAME failed with error -2\". Use --strict to\n"
	       "make it fail the check.\n"
	       "\n"
	       "Exit status: 0 when every module would load, 1 when any would not (or\n"
	       "could not be read; with --strict, when anything is not ok), 2 on usage\n"
	       "errors.\n");
	return EXIT_OK;
}

static int push(const char ***v, size_t *n, const char *arg)
{
	const char **p = realloc(*v, (*n + 1) * sizeof(*p));

	if (!p)
		return cli_fail(-ENOMEM, "module check");
	p[(*n)++] = arg;
	*v = p;
	return CLI_CONTINUE;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct check_args *a = userdata;

	switch (c) {
	case 'k':
		a->kernel.build_dir = arg;
		break;
	case 'r':
		a->kernel.release = arg;
		break;
	case 'c':
		a->kernel.cert = arg;
		break;
	case 'm':
		a->kernel.modules_dir = arg;
		break;
	case 'i':
		a->kernel.kernel_image = arg;
		break;
	case 'f':
		return push(&a->firmware_roots, &a->n_firmware_roots, arg);
	case OPT_SYMVERS:
		return push(&a->symvers, &a->kernel.n_symvers, arg);
	case OPT_VERMAGIC:
		a->kernel.vermagic = arg;
		break;
	case OPT_SIG_ENFORCE:
		a->sig_enforce = true;
		break;
	case OPT_STRICT:
		a->strict = true;
		break;
	default:
		return cli_usage("module check: run 'kiln module check --help' for usage");
	}
	return CLI_CONTINUE;
}

static const char *summary(enum kiln_check_status s)
{
	switch (s) {
	case KILN_CHECK_FAIL:
		return "would not load";
	case KILN_CHECK_WARN:
		return "loads, with warnings";
	case KILN_CHECK_SKIPPED:
		return "ok as far as checked (some checks skipped)";
	default:
		return "ok";
	}
}

static void write_text(struct strbuf *sb, const struct kiln_check_result *r)
{
	strbuf_addf(sb, "%s: %s\n", r->path, summary(r->status));
	cli_check_findings_text(sb, r, KILN_CHECK_OK, "  ", NULL, NULL);
}

static void write_json(struct json_writer *w, const struct kiln_check_result *r)
{
	json_begin_object(w);
	json_kv_string(w, "path", r->path);
	json_kv_string(w, "name", r->name);
	cli_check_json_members(w, r, NULL, NULL);
	json_end_object(w);
}

/* The modules, in operand order; NULL where one could not be read. */
struct opened {
	struct kiln_module **mods;
	char **errors; /* why, where mods[i] is NULL */
	size_t n;
	struct kiln_module **readable; /* the others, for kiln_module_check() */
	size_t n_readable;
};

static void opened_release(struct opened *o)
{
	for (size_t i = 0; i < o->n; i++) {
		kiln_module_free(o->mods[i]);
		free(o->errors[i]);
	}
	free(o->mods);
	free(o->errors);
	free(o->readable);
	*o = (struct opened){ 0 };
}

/* Open every module; one that cannot be read is reported here, and would not load. */
static int open_modules(char **paths, size_t n, struct opened *ret)
{
	struct opened o = {
		.mods = calloc(n ? n : 1, sizeof(*o.mods)),
		.errors = calloc(n ? n : 1, sizeof(*o.errors)),
		.readable = calloc(n ? n : 1, sizeof(*o.readable)),
		.n = n,
	};
	int r;

	if (!o.mods || !o.errors || !o.readable) {
		o.n = 0;
		opened_release(&o);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		r = kiln_module_open(cli_ctx, paths[i], &o.mods[i]);
		if (r >= 0) {
			o.readable[o.n_readable++] = o.mods[i];
			continue;
		}
		/* the library's message names the file already */
		if (kiln_ctx_error_for(cli_ctx, r))
			o.errors[i] = strdup(kiln_ctx_error_for(cli_ctx, r));
		else if (asprintf(&o.errors[i], "'%s': %s", paths[i], strerror(-r)) < 0)
			o.errors[i] = NULL;
		fprintf(stderr, "kiln: module check: %s\n", strempty(o.errors[i]));
		kiln_ctx_clear_error(cli_ctx);
		if (r == -ENOMEM || !o.errors[i]) {
			opened_release(&o);
			return -ENOMEM;
		}
	}
	*ret = o;
	return 0;
}

static void write_json_error(struct json_writer *w, const char *path, const char *error)
{
	json_begin_object(w);
	json_kv_string(w, "path", path);
	json_key(w, "loads");
	json_bool(w, false);
	json_kv_string(w, "status", "error");
	json_kv_string(w, "error", error);
	json_end_object(w);
}

static int check_usage(const struct check_args *a, int argc)
{
	const struct kiln_kernel_options *k = &a->kernel;

	if (!k->build_dir && !(k->release && k->n_symvers) &&
	    !(k->modules_dir && (k->release || k->kernel_image)))
		return cli_usage(
		    "module check: give the kernel: --kernel-build DIR, --release R "
		    "and --symvers FILE, or --kernel-image FILE and --modules-dir DIR: "
		    "run 'kiln module check --help'");
	if (optind >= argc)
		return cli_usage("module check: no module given: run 'kiln module check --help'");
	/* a root that is not there would make every firmware look missing: say so once */
	for (size_t i = 0; i < a->n_firmware_roots; i++) {
		struct stat st;

		if (stat(a->firmware_roots[i], &st) < 0) {
			fprintf(stderr, "kiln: module check: firmware root '%s': %m\n",
				a->firmware_roots[i]);
			return EXIT_FAILURE_;
		}
		if (!S_ISDIR(st.st_mode)) {
			fprintf(stderr,
				"kiln: module check: firmware root '%s' is not a directory\n",
				a->firmware_roots[i]);
			return EXIT_FAILURE_;
		}
	}
	return CLI_CONTINUE;
}

static int run_check(const struct check_args *a, bool json, char **paths, size_t n)
{
	_cleanup_(kiln_kernel_freep) struct kiln_kernel *k = NULL;
	_cleanup_(opened_release) struct opened o = { 0 };
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct kiln_check_options co = {
		.firmware_roots = a->firmware_roots,
		.n_firmware_roots = a->n_firmware_roots,
		.sig_enforce = a->sig_enforce,
	};
	struct kiln_check_result *results = NULL;
	size_t failed = 0, j = 0;
	struct json_writer w;
	int r;

	r = kiln_kernel_load(cli_ctx, &a->kernel, &k);
	if (r < 0)
		return cli_fail(r, "module check: cannot describe the kernel");
	r = open_modules(paths, n, &o);
	if (r < 0)
		return cli_fail(r, "module check");
	r = kiln_module_check(cli_ctx, k, o.readable, o.n_readable, &co, &results);
	if (r < 0)
		return cli_fail(r, "module check");

	if (json) {
		json_init(&w, &out);
		json_begin_array(&w);
	}
	for (size_t i = 0; i < n; i++) {
		const struct kiln_check_result *res = o.mods[i] ? &results[j++] : NULL;

		if (!res || !kiln_check_loads(res) || (a->strict && res->status != KILN_CHECK_OK))
			failed++;
		if (json && res)
			write_json(&w, res);
		else if (json)
			write_json_error(&w, paths[i], o.errors[i]);
		else if (res)
			write_text(&out, res);
	}
	if (json)
		json_end_array(&w); /* ends the line at the top level */
	kiln_check_results_free(results, o.n_readable);

	r = cli_write_strbuf(&out);
	if (r != EXIT_OK)
		return r;
	if (failed) {
		fprintf(stderr, "kiln: module check: %zu of %zu modules %s\n", failed, n,
			a->strict ? "are not ok" : "would not load");
		return EXIT_FAILURE_;
	}
	return EXIT_OK;
}

int cmd_module_check(int argc, char **argv)
{
	static const struct option options[] = {
		{ "kernel-build", required_argument, NULL, 'k' },
		{ "release", required_argument, NULL, 'r' },
		{ "symvers", required_argument, NULL, OPT_SYMVERS },
		{ "cert", required_argument, NULL, 'c' },
		{ "vermagic", required_argument, NULL, OPT_VERMAGIC },
		{ "modules-dir", required_argument, NULL, 'm' },
		{ "kernel-image", required_argument, NULL, 'i' },
		{ "kernel-modules", required_argument, NULL, 'm' },
		{ "firmware-root", required_argument, NULL, 'f' },
		{ "sig-enforce", no_argument, NULL, OPT_SIG_ENFORCE },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{},
	};
	struct check_args a = { 0 };
	struct cli_options o = {
		.name = "module check",
		.no_tree = true,
		.help = help,
		.extra = options,
		.short_options = "k:r:c:m:f:i:",
		.on_option = on_option,
		.userdata = &a,
	};
	struct tree_args t = { 0 };
	char **paths = NULL;
	size_t n = 0;
	int r;

	r = cli_parse_options(argc, argv, &o, &t);
	if (r == CLI_CONTINUE)
		r = check_usage(&a, argc);
	if (r != CLI_CONTINUE)
		goto out;
	a.kernel.symvers = a.symvers;
	r = kiln_module_collect(cli_ctx, argv + optind, (size_t)(argc - optind), &paths, &n);
	if (r < 0) {
		r = cli_fail(r, "module check");
		goto out;
	}
	if (n == 0) {
		fprintf(stderr,
			"kiln: module check: no module files (*.ko, *.ko.xz, *.ko.zst) found\n");
		r = EXIT_FAILURE_;
		goto out;
	}
	r = run_check(&a, t.json, paths, n);
out:
	kiln_strv_free(paths, n);
	tree_args_release(&t);
	free(a.symvers);
	free(a.firmware_roots);
	return r;
}
