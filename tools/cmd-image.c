/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln image installer: a base installer image and system extensions made
 * into an installer image, as Talos's imager makes one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/image.h>
#include <kiln/oci.h>
#include <kiln/registry.h>

#include "json.h"
#include "kiln.h"
#include "log.h"
#include "module-report.h"
#include "strbuf.h"

#define DEFAULT_OUT_DIR "_out"

enum {
	OPT_BASE = OPT_FIRST_COMMAND_OPTION,
	OPT_EXTENSION,
	OPT_ARCH,
	OPT_EXTRA_KERNEL_ARG,
	OPT_OUTPUT,
	OPT_PUSH,
	OPT_NO_PREFLIGHT,
	OPT_KERNEL_CERT,
	OPT_TAG,
	OPT_TALOS_VERSION,
	OPT_ALLOW_PRIVATE_KEY,
};

struct image_args {
	struct kiln_installer_options o;
	char **extensions, **extra, **certs;
	const char *push;
	bool allow_private_key;
	struct cli_registry_args registry;
};

/* What the progress lines count, and what to do about the first module refused. */
struct progress {
	unsigned modules, warnings, sigs_unchecked;
	char *refusal_fix;
};

static void image_args_release(struct image_args *a)
{
	free(a->extensions);
	free(a->extra);
	free(a->certs);
}

static void main_help(void)
{
	printf("Usage: kiln image SUBCOMMAND [OPTIONS]\n"
	       "\n"
	       "Boot images made from images of the store.\n"
	       "  installer   a base installer image and system extensions made into an\n"
	       "              installer image, as Talos's imager makes one\n"
	       "\n"
	       "Run 'kiln image SUBCOMMAND --help' for its options.\n");
}

static int installer_help(void)
{
	printf(
	    "Usage: kiln image installer --base-installer-image REF\n"
	    "                            [--system-extension-image REF]... [OPTIONS]\n"
	    "\n"
	    "Make an installer image as Talos's imager does: the base's kernel, and its\n"
	    "initramfs with the extensions appended, in an image on top of the base.\n"
	    "Images missing from the store are pulled.\n"
	    "\n"
	    "  - the base: usr/install/ARCH/vmlinuz and initramfs.xz of its files. Its\n"
	    "    Talos version is --talos-version, else its label\n"
	    "    org.opencontainers.image.version, else the first line of its\n"
	    "    usr/install/ARCH/version; its default kernel arguments are its\n"
	    "    usr/install/ARCH/cmdline, if it has one.\n"
	    "  - each extension: loaded (manifest.yaml and rootfs/ only), its name,\n"
	    "    version and author shown, its compatibility constraint checked against\n"
	    "    the base's version. They are taken in the string order of their\n"
	    "    positions, as Talos takes them: the 11th (10) before the 3rd (2).\n"
	    "  - modules: with any extension under usr/lib/modules, the base's modules\n"
	    "    are taken out of its rootfs.sqsh; the preflight checks every module of\n"
	    "    every extension against that kernel (vermagic, signature with\n"
	    "    module.sig_enforce=1, firmware, depends; symbols where known) and stops\n"
	    "    at one it would refuse; then each extension's usr/lib/modules/RELEASE\n"
	    "    is copied over the base's, depmod runs (search extras built-in), and\n"
	    "    the modules.* files become the extension modules.dep, last.\n"
	    "  - per extension: its microcode goes to an uncompressed archive at the\n"
	    "    start of the initramfs, its usr/lib/firmware into the initramfs, and\n"
	    "    its rootfs into N.sqsh (zstd 18, owned by root). An image's squashfs is\n"
	    "    cached (KILN_CACHE_DIR/image/sqsh/), keyed by its manifest digest.\n"
	    "  - the initramfs: [microcode] + the base's, byte for byte + a newc archive\n"
	    "    of the *.sqsh, extensions.yaml and usr/lib/firmware, compressed as the\n"
	    "    base's is (xz -C crc32 -0 -e, or zstd -18).\n"
	    "  - the kernel command line: the base's, module.sig_enforce=1, then\n"
	    "    --extra-kernel-arg (-ARG deletes ARG).\n"
	    "\n"
	    "Outputs (--output), written atomically to DIR:\n"
	    "  installer   installer-ARCH.tar, a docker-archive (docker load, skopeo copy\n"
	    "              docker-archive:..., kiln push take it); the image is also in\n"
	    "              the store, as --tag. Its layers: the base's (less the second\n"
	    "              when it has exactly two, Talos's artifacts layer) and one of\n"
	    "              usr/install/ARCH/vmlinuz and initramfs.xz.\n"
	    "  kernel      vmlinuz-ARCH (the base's; no extension is read)\n"
	    "  initramfs   initramfs-ARCH.xz\n"
	    "  cmdline     cmdline-ARCH (no extension is read)\n"
	    "Every mtime and the image's creation time are SOURCE_DATE_EPOCH (0 when\n"
	    "unset): the same inputs give the same bytes.\n"
	    "\n"
	    "Options:\n"
	    "      --base-installer-image REF   the base installer image\n"
	    "      --system-extension-image REF an extension (repeatable): an image, or a\n"
	    "                                   directory or tar of manifest.yaml and rootfs/\n"
	    "      --arch A                     amd64 (default) or arm64\n"
	    "      --extra-kernel-arg ARG       a kernel argument (repeatable)\n"
	    "  -o, --output-dir DIR             where the output goes (default " DEFAULT_OUT_DIR
	    ")\n"
	    "      --output KIND                installer (default), kernel, initramfs, cmdline\n"
	    "      --tag NAME                   the installer's name in the store (default\n"
	    "                                   kiln.local/installer:ARCH)\n"
	    "      --push REF                   push the installer to REF (refused when it\n"
	    "                                   holds a private key; DIR/images.json records it)\n"
	    "      --allow-private-key          push it anyway, with a warning\n"
	    "      --talos-version V            the base's Talos version (v1.12.0)\n"
	    "      --kernel-cert FILE           a certificate the base's kernel trusts, DER\n"
	    "                                   or PEM (repeatable); besides those built into\n"
	    "                                   its vmlinuz, where kiln can read them\n"
	    "      --no-preflight               do not check the modules against the kernel\n");
	cli_registry_help(35, true);
	printf("  -v, --verbose                    the time each phase took\n"
	       "      --json                       print the result as JSON\n"
	       "  -h, --help                       show this help\n"
	       "\n"
	       "Exit status: 0 made, 1 failure (a module the kernel would refuse too), 2 usage\n"
	       "error.\n");
	return EXIT_OK;
}

/* A repeatable option's argument, kept: CLI_CONTINUE, or the exit code. */
static int add_arg(char ***v, size_t *n, const char *arg)
{
	return cli_push_arg(v, n, arg) < 0 ? EXIT_FAILURE_ : CLI_CONTINUE;
}

static int on_option(int c, const char *arg, void *userdata)
{
	static const char *const kinds[] = {
		[KILN_INSTALLER_OUT_INSTALLER] = "installer",
		[KILN_INSTALLER_OUT_KERNEL] = "kernel",
		[KILN_INSTALLER_OUT_INITRAMFS] = "initramfs",
		[KILN_INSTALLER_OUT_CMDLINE] = "cmdline",
	};
	struct image_args *a = userdata;
	struct kiln_installer_options *o = &a->o;

	switch (c) {
	case OPT_BASE:
		o->base = arg;
		return CLI_CONTINUE;
	case OPT_EXTENSION:
		return add_arg(&a->extensions, &o->n_extensions, arg);
	case OPT_ARCH:
		if (!streq(arg, "amd64") && !streq(arg, "arm64"))
			return cli_usage("image installer: --arch '%s': amd64 or arm64", arg);
		o->arch = arg;
		return CLI_CONTINUE;
	case OPT_EXTRA_KERNEL_ARG:
		return add_arg(&a->extra, &o->n_extra_kernel_args, arg);
	case 'o':
		o->out_dir = arg;
		return CLI_CONTINUE;
	case OPT_OUTPUT:
		for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
			if (streq(arg, kinds[i])) {
				o->output = (enum kiln_installer_output)i;
				return CLI_CONTINUE;
			}
		return cli_usage("image installer: --output '%s': installer, kernel, initramfs or "
				 "cmdline",
				 arg);
	case OPT_PUSH:
		a->push = arg;
		return CLI_CONTINUE;
	case OPT_NO_PREFLIGHT:
		o->no_preflight = true;
		return CLI_CONTINUE;
	case OPT_KERNEL_CERT:
		return add_arg(&a->certs, &o->n_kernel_certs, arg);
	case OPT_TAG:
		o->tag = arg;
		return CLI_CONTINUE;
	case OPT_TALOS_VERSION:
		o->talos_version = arg;
		return CLI_CONTINUE;
	case OPT_ALLOW_PRIVATE_KEY:
		a->allow_private_key = true;
		return CLI_CONTINUE;
	case 'v':
		kiln_ctx_set_log_level(cli_ctx, KILN_LOG_DEBUG);
		return CLI_CONTINUE;
	default:
		return cli_usage("image installer: run 'kiln image installer --help' for usage");
	}
}

/*
 * What to do about the first failing finding of the first module refused:
 * the preflight's error says what is wrong with it, this what to do.
 */
static void note_refusal(struct progress *p, const struct kiln_installer_event *ev)
{
	const struct kiln_check_result *r = ev->check;

	for (size_t i = 0; i < r->n_findings && !p->refusal_fix; i++) {
		const struct kiln_check_finding *f = &r->findings[i];
		_cleanup_free_ char *owned = NULL;
		const char *what_to_do;

		if (f->status != KILN_CHECK_FAIL)
			continue;
		what_to_do = cli_fix_text(f->fix, f->fix_arg, &owned);
		/* a signature is fixed in the image as it is; anything else in its source */
		if (what_to_do && asprintf(&p->refusal_fix, "%s%s", what_to_do,
				     ev->name && f->kind != KILN_CHECK_SIGNATURE
					 ? ", then rebuild the extension"
					 : "") < 0)
			p->refusal_fix = NULL;
		return;
	}
}

/* A module's findings worth a line: what would taint or fail at probe. */
static void print_module(struct progress *p, const struct kiln_installer_event *ev)
{
	const struct kiln_check_result *r = ev->check;

	p->modules++;
	p->sigs_unchecked += r->checks[KILN_CHECK_SIGNATURE] == KILN_CHECK_SKIPPED;
	if (!kiln_check_loads(r) && !p->refusal_fix)
		note_refusal(p, ev);
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct kiln_check_finding *f = &r->findings[i];
		_cleanup_free_ char *owned = NULL;
		const char *what_to_do;

		if (f->status != KILN_CHECK_WARN)
			continue;
		p->warnings++;
		what_to_do = cli_fix_text(f->fix, f->fix_arg, &owned);
		fprintf(stderr, "kiln: warning: image: preflight: %s (%s): %s%s%s: %s%s%s\n",
			ev->module, strempty(ev->name), kiln_check_kind_name(f->kind),
			f->subject ? " " : "", strempty(f->subject), f->message, what_to_do ? "; " : "",
			strempty(what_to_do));
	}
}

static void on_event(void *userdata, const struct kiln_installer_event *ev)
{
	struct progress *p = userdata;
	const char *phase = kiln_installer_phase_name(ev->phase);

	switch (ev->kind) {
	case KILN_INSTALLER_PHASE_START:
		fprintf(stderr, "kiln: image: %s\n", phase);
		break;
	case KILN_INSTALLER_PHASE_DONE:
		if (ev->phase == KILN_INSTALLER_PHASE_PREFLIGHT)
			fprintf(stderr,
				"kiln: image: preflight: %u modules would load, %u warnings, %u "
				"signatures not checked\n",
				p->modules, p->warnings, p->sigs_unchecked);
		kiln_log(cli_ctx, KILN_LOG_DEBUG, "image: %s took %.3f s", phase, ev->seconds);
		break;
	case KILN_INSTALLER_EXTENSION:
		fprintf(stderr, "kiln: image: %s: %s %s by %s (%s)\n", ev->image, ev->name,
			ev->version, ev->author, ev->ref);
		break;
	case KILN_INSTALLER_SQUASHFS:
		if (ev->cached)
			fprintf(stderr, "kiln: image: %s (%s): cached, not squashed\n", ev->image,
				ev->name);
		else
			fprintf(stderr, "kiln: image: %s (%s): squashed in %.2f s\n", ev->image,
				ev->name, ev->seconds);
		break;
	case KILN_INSTALLER_MODULE:
		print_module(p, ev);
		break;
	case KILN_INSTALLER_NOTE:
		fprintf(stderr, "kiln: image: %s: %s", phase, ev->message);
		cli_print_advice(stderr, ev->hint, NULL);
		fputc('\n', stderr);
		break;
	}
}

static void print_json(const struct kiln_installer_result *res, const char *pushed)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	json_begin_object(&w);
	json_kv_string(&w, "path", res->path);
	if (res->name) {
		json_kv_string(&w, "name", res->name);
		json_kv_string(&w, "digest", res->manifest.digest.s);
	}
	if (pushed)
		json_kv_string(&w, "reference", pushed);
	json_key(&w, "talosVersion");
	if (res->talos_version)
		json_string(&w, res->talos_version);
	else
		json_null(&w);
	json_key(&w, "kernelRelease");
	if (res->kernel_release)
		json_string(&w, res->kernel_release);
	else
		json_null(&w);
	json_kv_string(&w, "cmdline", res->cmdline);
	json_key(&w, "extensions");
	json_uint(&w, res->n_extensions);
	json_key(&w, "squashed");
	json_uint(&w, res->n_squashed);
	json_key(&w, "cached");
	json_uint(&w, res->n_cached);
	json_key(&w, "modulesChecked");
	json_uint(&w, res->n_modules_checked);
	json_key(&w, "seconds");
	json_begin_object(&w);
	for (unsigned i = 0; i < KILN_INSTALLER_PHASE_MAX; i++) {
		char v[32];

		snprintf(v, sizeof(v), "%.3f", res->seconds[i]);
		json_key(&w, kiln_installer_phase_name((enum kiln_installer_phase)i));
		json_raw(&w, v, strlen(v));
	}
	json_end_object(&w);
	json_end_object(&w);
	strbuf_addch(&sb, '\n');
	cli_write_strbuf(&sb);
}

static int image_installer(int argc, char **argv)
{
	static const struct option options[] = {
		{ "base-installer-image", required_argument, NULL, OPT_BASE },
		{ "system-extension-image", required_argument, NULL, OPT_EXTENSION },
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "extra-kernel-arg", required_argument, NULL, OPT_EXTRA_KERNEL_ARG },
		{ "output-dir", required_argument, NULL, 'o' },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "push", required_argument, NULL, OPT_PUSH },
		{ "allow-private-key", no_argument, NULL, OPT_ALLOW_PRIVATE_KEY },
		{ "no-preflight", no_argument, NULL, OPT_NO_PREFLIGHT },
		{ "kernel-cert", required_argument, NULL, OPT_KERNEL_CERT },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "talos-version", required_argument, NULL, OPT_TALOS_VERSION },
		{ "verbose", no_argument, NULL, 'v' },
		{},
	};
	struct image_args a = { 0 };
	const struct cli_options co = {
		.name = "image installer",
		.no_tree = true,
		.help = installer_help,
		.extra = options,
		.short_options = "o:v",
		.on_option = on_option,
		.userdata = &a,
		.registry = &a.registry,
		.pulls = true,
	};
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_installer_result_release) struct kiln_installer_result res = { 0 };
	_cleanup_free_ char *pushed = NULL;
	struct progress progress = { 0 };
	const char *out_dir;
	bool json;
	int r;

	/* the installer's platform is linux/ARCH */
	cli_platform_option = "--arch";
	r = cli_parse_plain(argc, argv, &co, &json);
	if (r != CLI_CONTINUE)
		goto out;
	r = EXIT_USAGE;
	if (optind != argc)
		cli_usage("image installer: unexpected argument '%s': run 'kiln image installer "
			  "--help'",
			  argv[optind]);
	else if (!a.o.base)
		cli_usage("image installer: --base-installer-image REF is required");
	else if (a.push && a.o.output != KILN_INSTALLER_OUT_INSTALLER)
		cli_usage("image installer: --push goes with --output installer");
	else
		r = cli_source_date_epoch("image installer", &a.o.source_date_epoch);
	if (r != EXIT_OK)
		goto out;
	a.o.extensions = (const char *const *)a.extensions;
	a.o.extra_kernel_args = (const char *const *)a.extra;
	a.o.kernel_certs = (const char *const *)a.certs;
	a.o.pull = !a.registry.no_pull;
	a.o.registry = &a.registry.reg;
	a.o.on_event = on_event;
	a.o.userdata = &progress;
	out_dir = a.o.out_dir ? a.o.out_dir : DEFAULT_OUT_DIR;

	r = cli_open_store("image installer: cannot open the store", &s);
	if (r != EXIT_OK)
		goto out;
	r = kiln_installer_build(cli_ctx, s, &a.o, &res);
	if (r < 0) {
		r = cli_fail(r, "image installer");
		if (progress.refusal_fix)
			fprintf(stderr, "kiln: image installer: preflight: to fix it: %s\n",
				progress.refusal_fix);
		goto out;
	}
	for (unsigned i = 0; i < KILN_INSTALLER_PHASE_MAX; i++)
		if (res.seconds[i] > 0)
			kiln_log(cli_ctx, KILN_LOG_DEBUG, "image: time: %-10s %8.3f s",
				 kiln_installer_phase_name((enum kiln_installer_phase)i),
				 res.seconds[i]);
	if (res.name)
		fprintf(stderr,
			"kiln: image: %s is %s@%s (%u extensions: %u squashed, %u cached)\n",
			res.path, res.name, res.manifest.digest.s, res.n_extensions, res.n_squashed,
			res.n_cached);
	if (a.push) {
		r = cli_push_image(s, &res.manifest, res.name, a.push, &a.registry.reg,
				   a.allow_private_key, out_dir, &pushed);
		if (r != EXIT_OK)
			goto out;
	}
	if (json) {
		print_json(&res, pushed);
	} else {
		printf("%s\n", pushed ? pushed : res.path);
		fflush(stdout);
	}
	r = EXIT_OK;
out:
	free(progress.refusal_fix);
	image_args_release(&a);
	return r;
}

int cmd_image(int argc, char **argv)
{
	static const struct cli_subcommand subcommands[] = {
		{ "installer", image_installer },
	};

	return cli_run_subcommand("image", argc, argv, subcommands, ELEMENTSOF(subcommands),
				  main_help);
}
