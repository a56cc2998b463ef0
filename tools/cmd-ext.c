/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln ext validate|info|new: Talos system extensions.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/ext.h>
#include <kiln/layer.h>
#include <kiln/module.h>
#include <kiln/oci.h>

#include "fileio.h"
#include "json.h"
#include "kiln.h"
#include "module-report.h"
#include "strbuf.h"

enum {
	OPT_TALOS_VERSION = OPT_FIRST_COMMAND_OPTION,
	OPT_KERNEL_BUILD,
	OPT_BASE,
	OPT_EXT_PLATFORM,
	OPT_DIR,
	OPT_CERT,
};

struct ext_args {
	const char *talos_version;
	const char *kernel_build;
	const char *base;
	const char *platform;
	const char *dir;
	const char *cert;
	struct cli_registry_args registry;
};

static void main_help(void)
{
	printf("Usage: kiln ext SUBCOMMAND [OPTIONS]\n"
	       "\n"
	       "Talos system extensions: images whose root holds manifest.yaml and rootfs/.\n"
	       "  validate   check one as Talos does, and deeper (modules, firmware, udev,\n"
	       "             owners, private keys)\n"
	       "  info       show an extension's manifest and what it carries\n"
	       "  new        scaffold an extension in the siderolabs/extensions layout\n"
	       "\n"
	       "Run 'kiln ext SUBCOMMAND --help' for its options.\n");
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct ext_args *a = userdata;

	switch (c) {
	case OPT_TALOS_VERSION:
		a->talos_version = arg;
		return CLI_CONTINUE;
	case OPT_KERNEL_BUILD:
		a->kernel_build = arg;
		return CLI_CONTINUE;
	case OPT_BASE:
		a->base = arg;
		return CLI_CONTINUE;
	case OPT_EXT_PLATFORM:
		a->platform = arg;
		return CLI_CONTINUE;
	case OPT_DIR:
		a->dir = arg;
		return CLI_CONTINUE;
	case OPT_CERT:
		a->cert = arg;
		return CLI_CONTINUE;
	default:
		return cli_usage("ext: run 'kiln ext --help' for usage");
	}
}

/* ---- validate ---------------------------------------------------------------------- */

static int validate_help(void)
{
	printf("Usage: kiln ext validate [OPTIONS] DIR|TAR|REF\n"
	       "\n"
	       "Validate a Talos system extension: a directory, a tar of one (plain, or a\n"
	       "docker-archive or oci-archive), or an image of the store (pulled when\n"
	       "missing). What Talos checks, with Talos's messages:\n"
	       "  - the root holds only manifest.yaml and rootfs/;\n"
	       "  - manifest.yaml is version v1alpha1 with its metadata;\n"
	       "  - with --talos-version, the manifest's compatibility constraint;\n"
	       "  - the extensions validator's content rules: allowed path prefixes, no\n"
	       "    world-writable files, no special files.\n"
	       "And what Talos only finds out at boot:\n"
	       "  - files owned by root; no private key material (PEM, DER, signing_key.pem);\n"
	       "  - udev rules in /usr/lib/udev/rules.d that parse;\n"
	       "  - kernel modules only under /usr/lib/modules/<one release>/, and with\n"
	       "    --kernel-build: that release is the kernel's, and each module passes\n"
	       "    'kiln module check' against it (signature with module.sig_enforce=1,\n"
	       "    vermagic, symbol CRCs), with every firmware it declares in the extension\n"
	       "    or in --base.\n"
	       "\n"
	       "Options:\n"
	       "      --talos-version V      check the constraint against Talos V (v1.12.0)\n"
	       "      --kernel-build DIR|REF the target kernel: a kernel build tree (or\n"
	       "                             linux-headers tree with certs/signing_key.x509),\n"
	       "                             or an image holding one at /src (kernel-build)\n"
	       "      --cert CERT            the kernel's module signing certificate, when the\n"
	       "                             tree has none in certs/signing_key.x509\n"
	       "      --base DIR|REF         the files the extension lands on, for firmware\n"
	       "      --platform P           the platform of images (default: the host's)\n");
	cli_registry_help(29, true);
	printf("      --json                 print the report as JSON\n"
	       "  -h, --help                 show this help\n"
	       "\n"
	       "Exit status: 0 valid (warnings allowed), 1 invalid or failure, 2 usage error.\n");
	return EXIT_OK;
}

static const struct option ext_options[] = {
	{ "talos-version", required_argument, NULL, OPT_TALOS_VERSION },
	{ "kernel-build", required_argument, NULL, OPT_KERNEL_BUILD },
	{ "base", required_argument, NULL, OPT_BASE },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "platform", required_argument, NULL, OPT_EXT_PLATFORM },
	{},
};

static void report_json(struct json_writer *w, const char *name, const struct kiln_ext_report *r)
{
	const struct kiln_ext_manifest *m = r->manifest;

	json_begin_object(w);
	json_kv_string(w, "extension", name);
	json_key(w, "valid");
	json_bool(w, r->n_errors == 0);
	json_key(w, "manifest");
	if (m) {
		json_begin_object(w);
		json_kv_string(w, "name", m->name);
		json_kv_string(w, "version", m->ext_version);
		json_kv_string(w, "author", m->author);
		json_kv_string(w, "description", m->description);
		json_key(w, "talosVersion");
		if (m->talos_version)
			json_string(w, m->talos_version);
		else
			json_null(w);
		json_end_object(w);
	} else {
		json_null(w);
	}
	json_key(w, "files");
	json_uint(w, r->n_files);
	json_key(w, "modules");
	json_uint(w, r->n_modules);
	json_key(w, "modulesChecked");
	json_uint(w, r->n_modules_checked);
	json_key(w, "modulesRelease");
	if (r->modules_release)
		json_string(w, r->modules_release);
	else
		json_null(w);
	json_key(w, "problems");
	json_begin_array(w);
	for (size_t i = 0; i < r->n_problems; i++) {
		_cleanup_free_ char *owned = NULL;
		const char *what_to_do = cli_fix_text(r->problems[i].fix, r->problems[i].fix_arg, &owned);

		json_begin_object(w);
		json_kv_string(w, "severity", r->problems[i].warning ? "warning" : "error");
		json_key(w, "path");
		if (r->problems[i].path)
			json_string(w, r->problems[i].path);
		else
			json_null(w);
		json_kv_string(w, "message", r->problems[i].message);
		if (what_to_do)
			json_kv_string(w, "advice", what_to_do);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

/*
 * What validate and info do after their options: take the one operand,
 * the platform, the store, and open the extension (*@io is kept for the
 * other images a command opens). EXIT_OK, or the exit code after printing.
 */
static int open_input(const char *cmd, int argc, char **argv, const struct ext_args *a,
		      struct kiln_platform *platform, struct kiln_ext_input_options *io,
		      struct kiln_store **ret_store, struct kiln_ext_input **ret)
{
	_cleanup_free_ char *what = NULL;
	int r;

	if (argc - optind != 1)
		return cli_usage("%s: expected one DIR, TAR or REF: run 'kiln %s --help'", cmd,
				 cmd);
	r = cli_parse_platform(cmd, a->platform, platform);
	if (r != EXIT_OK)
		return r;
	*io = (struct kiln_ext_input_options){ .platform = a->platform ? platform : NULL,
					       .pull = !a->registry.no_pull,
					       .registry = &a->registry.reg,
					       .metadata = true };
	if (asprintf(&what, "%s: cannot open the store", cmd) < 0)
		return cli_fail(-ENOMEM, "%s", cmd);
	r = cli_open_store(what, ret_store);
	if (r != EXIT_OK)
		return r;
	r = kiln_ext_input_open(cli_ctx, *ret_store, argv[optind], io, ret);
	if (r < 0)
		return cli_fail(r, "%s %s", cmd, argv[optind]);
	/* the kernel tree and the base are only read from */
	io->metadata = false;
	return EXIT_OK;
}

/* A kernel to check against: a build tree, or an image with one at /src (or at its root). */
static int load_kernel(struct kiln_store *s, const struct ext_args *a,
		       const struct kiln_ext_input_options *io, struct kiln_ext_input **ret_in,
		       struct kiln_kernel **ret)
{
	_cleanup_free_ char *tree = NULL;
	struct kiln_kernel_options ko = { .cert = a->cert };
	const char *sub = ".";
	int r;

	r = kiln_ext_input_open(cli_ctx, s, a->kernel_build, io, ret_in);
	if (r >= 0 && (*ret_in)->kind != KILN_EXT_INPUT_DIR)
		r = kiln_kernel_build_find(cli_ctx, (*ret_in)->dir, &sub);
	if (r < 0)
		return cli_fail(r, "ext validate: --kernel-build %s", a->kernel_build);
	/* without a tree in the image, its top is loaded: the error says what it lacks */
	tree = path_join((*ret_in)->dir, sub);
	if (!tree)
		return cli_fail(-ENOMEM, "ext validate");
	ko.build_dir = streq(sub, ".") ? (*ret_in)->dir : tree;
	r = kiln_kernel_load(cli_ctx, &ko, ret);
	if (r < 0)
		return cli_fail(r, "ext validate: --kernel-build %s", a->kernel_build);
	return EXIT_OK;
}

static int ext_validate(int argc, char **argv)
{
	struct ext_args a = { 0 };
	const struct cli_options o = {
		.name = "ext validate",
		.no_tree = true,
		.help = validate_help,
		.extra = ext_options,
		.on_option = on_option,
		.userdata = &a,
		.registry = &a.registry,
		.pulls = true,
	};
	_cleanup_(kiln_platform_release) struct kiln_platform platform = { 0 };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_ext_input_freep) struct kiln_ext_input *in = NULL, *kin = NULL, *base = NULL;
	_cleanup_(kiln_kernel_freep) struct kiln_kernel *kernel = NULL;
	_cleanup_(kiln_ext_report_freep) struct kiln_ext_report *rep = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct kiln_ext_input_options io = { 0 };
	struct kiln_ext_validate_options vo = { 0 };
	bool json;
	int r;

	r = cli_parse_plain(argc, argv, &o, &json);
	if (r != CLI_CONTINUE)
		return r;
	if (a.cert && !a.kernel_build)
		return cli_usage("ext validate: --cert goes with --kernel-build");
	r = open_input("ext validate", argc, argv, &a, &platform, &io, &s, &in);
	if (r != EXIT_OK)
		return r;
	if (a.kernel_build) {
		r = load_kernel(s, &a, &io, &kin, &kernel);
		if (r != EXIT_OK)
			return r;
	}
	if (a.base) {
		r = kiln_ext_input_open(cli_ctx, s, a.base, &io, &base);
		if (r < 0)
			return cli_fail(r, "ext validate: --base %s", a.base);
	}
	vo = (struct kiln_ext_validate_options){
		.talos_version = a.talos_version,
		.kernel = kernel,
		.base_root = base ? base->dir : NULL,
		.owners_advisory = in->kind == KILN_EXT_INPUT_DIR,
	};
	r = kiln_ext_validate_dir(cli_ctx, in->dir, in->meta, &vo, &rep);
	if (r < 0)
		return cli_fail(r, "ext validate %s", argv[optind]);

	if (json) {
		struct json_writer w;

		json_init(&w, &out);
		report_json(&w, in->name, rep);
		strbuf_addch(&out, '\n');
		r = cli_write_strbuf(&out);
		if (r != EXIT_OK)
			return r;
		return rep->n_errors ? EXIT_FAILURE_ : EXIT_OK;
	}
	for (size_t i = 0; i < rep->n_problems; i++) {
		const struct kiln_ext_problem *p = &rep->problems[i];
		_cleanup_free_ char *owned = NULL;
		const char *what_to_do = cli_fix_text(p->fix, p->fix_arg, &owned);

		/* Talos's messages name the path themselves */
		bool named = !p->path || strstr(p->message, p->path);

		fprintf(stderr, "kiln: %s%s%s%s: %s%s%s\n", p->warning ? "warning: " : "", in->name,
			named ? "" : ": ", named ? "" : p->path, p->message, what_to_do ? "; " : "",
			strempty(what_to_do));
	}
	strbuf_addf(&out, "%s: %s", in->name, rep->n_errors ? "invalid" : "valid");
	if (rep->manifest)
		strbuf_addf(&out, " (%s %s", rep->manifest->name, rep->manifest->ext_version);
	else
		strbuf_adds(&out, " (no manifest");
	strbuf_addf(&out, ", %u files, %u modules", rep->n_files, rep->n_modules);
	if (rep->modules_release)
		strbuf_addf(&out, " for %s", rep->modules_release);
	if (kernel)
		strbuf_addf(&out, ", %u checked against the kernel", rep->n_modules_checked);
	strbuf_addf(&out, "): %u errors, %u warnings\n", rep->n_errors, rep->n_warnings);
	r = cli_write_strbuf(&out);
	if (r != EXIT_OK)
		return r;
	return rep->n_errors ? EXIT_FAILURE_ : EXIT_OK;
}

/* ---- info ------------------------------------------------------------------------------ */

static int info_help(void)
{
	printf("Usage: kiln ext info [OPTIONS] DIR|TAR|REF\n"
	       "\n"
	       "Show an extension's manifest (name, version, author, description, the Talos\n"
	       "versions it supports) and what it carries: files, kernel modules and their\n"
	       "release, and how many problems 'kiln ext validate' finds without a kernel.\n"
	       "\n"
	       "Options:\n"
	       "      --platform P       the platform of images (default: the host's)\n");
	cli_registry_help(25, true);
	printf("      --json             print it as JSON\n"
	       "  -h, --help             show this help\n");
	return EXIT_OK;
}

static int ext_info(int argc, char **argv)
{
	struct ext_args a = { 0 };
	const struct cli_options o = {
		.name = "ext info",
		.no_tree = true,
		.help = info_help,
		.extra = ext_options + 4, /* --platform */
		.on_option = on_option,
		.userdata = &a,
		.registry = &a.registry,
		.pulls = true,
	};
	_cleanup_(kiln_platform_release) struct kiln_platform platform = { 0 };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_ext_input_freep) struct kiln_ext_input *in = NULL;
	_cleanup_(kiln_ext_report_freep) struct kiln_ext_report *rep = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct kiln_ext_input_options io = { 0 };
	struct kiln_ext_validate_options vo = { 0 };
	const struct kiln_ext_manifest *m;
	bool json;
	int r;

	r = cli_parse_plain(argc, argv, &o, &json);
	if (r != CLI_CONTINUE)
		return r;
	r = open_input("ext info", argc, argv, &a, &platform, &io, &s, &in);
	if (r != EXIT_OK)
		return r;
	vo.owners_advisory = in->kind == KILN_EXT_INPUT_DIR;
	r = kiln_ext_validate_dir(cli_ctx, in->dir, in->meta, &vo, &rep);
	if (r < 0)
		return cli_fail(r, "ext info %s", argv[optind]);
	if (json) {
		struct json_writer w;

		json_init(&w, &out);
		report_json(&w, in->name, rep);
		strbuf_addch(&out, '\n');
		return cli_write_strbuf(&out);
	}
	m = rep->manifest;
	if (!m)
		return cli_fail(-EINVAL,
				"ext info %s: it has no readable manifest.yaml ('kiln ext "
				"validate' says why)",
				in->name);
	strbuf_addf(&out, "name:          %s\n", m->name);
	strbuf_addf(&out, "version:       %s\n", m->ext_version);
	strbuf_addf(&out, "author:        %s\n", m->author);
	strbuf_addf(&out, "talos:         %s\n", m->talos_version ? m->talos_version : "(any)");
	strbuf_addf(&out, "files:         %u\n", rep->n_files);
	strbuf_addf(&out, "modules:       %u%s%s\n", rep->n_modules,
		    rep->modules_release ? " for " : "", strempty(rep->modules_release));
	strbuf_addf(&out, "problems:      %u errors, %u warnings%s\n", rep->n_errors,
		    rep->n_warnings, rep->n_problems ? " (kiln ext validate lists them)" : "");
	strbuf_addf(&out, "description:   %s", m->description);
	if (!*m->description || m->description[strlen(m->description) - 1] != '\n')
		strbuf_addch(&out, '\n');
	return cli_write_strbuf(&out);
}

/* ---- new ------------------------------------------------------------------------------- */

static int new_help(void)
{
	printf("Usage: kiln ext new [--dir DIR] NAME\n"
	       "\n"
	       "Scaffold extension NAME in the siderolabs/extensions layout: a directory\n"
	       "(NAME under the tree root, or DIR) with pkg.yaml (a scratch stage on 'base'\n"
	       "that copies the modules, firmware and udev rules of the NAME-pkg image into\n"
	       "/rootfs), vars.yaml (VERSION and TIER), manifest.yaml.tmpl and README.md.\n"
	       "kiln build validates the extension when it builds it. An existing\n"
	       "directory is never touched.\n"
	       "\n"
	       "Options:\n"
	       "      --dir DIR   where to make it\n"
	       "  -h, --help      show this help\n");
	return EXIT_OK;
}

static bool valid_name(const char *name)
{
	if (!*name || strlen(name) > 63 || name[0] == '-' || name[0] == '.')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == '.'))
			return false;
	return true;
}

static int write_scaffold(const char *dir, const char *name)
{
	_cleanup_free_ char *pkg = NULL, *vars = NULL, *manifest = NULL, *readme = NULL;
	struct {
		const char *file;
		char **text;
	} files[] = {
		{ "pkg.yaml", &pkg },
		{ "vars.yaml", &vars },
		{ "manifest.yaml.tmpl", &manifest },
		{ "README.md", &readme },
	};

	if (asprintf(
		&pkg,
		"name: %s\n"
		"variant: scratch\n"
		"shell: /bin/bash\n"
		"dependencies:\n"
		"  - stage: base\n"
		"  # The pkgs version for a particular release of Talos as defined in\n"
		"  # https://github.com/siderolabs/talos/blob/<talos version>/pkg/machinery/gendata/data/pkgs\n"
		"  - image: \"{{ .BUILD_ARG_PKGS_PREFIX }}/%s-pkg:{{ .BUILD_ARG_PKGS }}\"\n"
		"steps:\n"
		"  - install:\n"
		"      - |\n"
		"        mkdir -p /rootfs/usr/lib/modules/\n"
		"        cp -R /usr/lib/modules/* /rootfs/usr/lib/modules/\n"
		"      # firmware and udev rules, if the driver has them:\n"
		"      # - |\n"
		"      #   mkdir -p /rootfs/usr/lib/firmware/ /rootfs/usr/lib/udev/rules.d/\n"
		"      #   cp -R /usr/lib/firmware/%s/ /rootfs/usr/lib/firmware/\n"
		"      #   cp -R /usr/lib/udev/rules.d/* /rootfs/usr/lib/udev/rules.d/\n"
		"finalize:\n"
		"  - from: /rootfs\n"
		"    to: /rootfs\n"
		"  - from: /pkg/manifest.yaml\n"
		"    to: /\n",
		name, name, name) < 0 ||
	    asprintf(&vars, "VERSION: \"{{ .BUILD_ARG_TAG }}\"\nTIER: \"extra\"\n") < 0 ||
	    asprintf(&manifest,
		     "version: v1alpha1\n"
		     "metadata:\n"
		     "  name: %s\n"
		     "  version: \"{{ .VERSION }}\"\n"
		     "  author: TODO your name\n"
		     "  description: |\n"
		     "    [{{ .TIER }}] TODO what the driver is for.\n"
		     "  compatibility:\n"
		     "    talos:\n"
		     "      version: \">= v1.9.0\"\n",
		     name) < 0 ||
	    asprintf(
		&readme,
		"# %s extension\n"
		"\n"
		"## Installation\n"
		"\n"
		"See [Installing Extensions](https://github.com/siderolabs/extensions#installing-extensions).\n"
		"\n"
		"## Usage\n"
		"\n"
		"Load the module on the node with the machine configuration:\n"
		"\n"
		"```yaml\n"
		"machine:\n"
		"  kernel:\n"
		"    modules:\n"
		"      - name: %s\n"
		"```\n"
		"\n"
		"## Building\n"
		"\n"
		"    kiln build %s --build-arg PKGS_PREFIX=... --build-arg PKGS=... --build-arg TAG=...\n"
		"    kiln ext validate %s:TAG --kernel-build <kernel-build image> --talos-version v1.12.0\n",
		name, name, name, name) < 0)
		return cli_fail(-ENOMEM, "ext new");
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		_cleanup_free_ char *path = path_join(dir, files[i].file);
		int r;

		if (!path)
			return cli_fail(-ENOMEM, "ext new");
		r = write_file_atomic(path, *files[i].text, strlen(*files[i].text), 0644);
		if (r < 0)
			return cli_fail(r, "ext new: cannot write '%s'", path);
	}
	return EXIT_OK;
}

static int ext_new(int argc, char **argv)
{
	static const struct option options[] = {
		{ "dir", required_argument, NULL, OPT_DIR },
		{},
	};
	struct ext_args a = { 0 };
	const struct cli_options o = {
		.name = "ext new",
		.no_tree = true,
		.help = new_help,
		.extra = options,
		.on_option = on_option,
		.userdata = &a,
	};
	_cleanup_(atomic_dir_release) struct atomic_dir out = { .fd = -1 };
	_cleanup_free_ char *dir = NULL;
	const char *name;
	int r;

	r = cli_parse_plain(argc, argv, &o, NULL);
	if (r != CLI_CONTINUE)
		return r;
	if (argc - optind != 1)
		return cli_usage("ext new: expected one NAME: run 'kiln ext new --help'");
	name = argv[optind];
	if (!valid_name(name))
		return cli_usage("ext new: '%s' is not a package name (lowercase letters, digits, "
				 "'-', '_' and '.')",
				 name);
	dir = a.dir ? strdup(a.dir) : path_join(cli_root, name);
	if (!dir)
		return cli_fail(-ENOMEM, "ext new");
	if (access(dir, F_OK) == 0)
		return cli_fail(-EEXIST, "ext new: '%s' exists: choose another --dir", dir);
	/* the parents, as mkdir -p makes them */
	for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		r = mkdir(dir, 0755) < 0 && errno != EEXIST ? -errno : 0;
		*p = '/';
		if (r < 0)
			return cli_fail(r, "ext new: cannot make the parents of '%s'", dir);
	}
	/* made beside it and renamed: a half-written scaffold is never left under its name */
	r = atomic_dir_open(dir, &out);
	if (r < 0)
		return cli_fail(r, "ext new: cannot make a directory beside '%s'", dir);
	r = write_scaffold(out.tmp, name);
	if (r != EXIT_OK)
		return r;
	r = atomic_dir_commit(&out, 0755, false);
	if (r < 0)
		return cli_fail(r, "ext new: cannot move the scaffold to '%s'", dir);
	printf("%s\n", dir);
	fprintf(stderr,
		"kiln: made %s: edit manifest.yaml.tmpl (author, description) and pkg.yaml, then "
		"'kiln build %s'\n",
		dir, name);
	return EXIT_OK;
}

int cmd_ext(int argc, char **argv)
{
	static const struct cli_subcommand subcommands[] = {
		{ "validate", ext_validate },
		{ "info", ext_info },
		{ "new", ext_new },
	};

	return cli_run_subcommand("ext", argc, argv, subcommands, ELEMENTSOF(subcommands),
				  main_help);
}
