/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln module sign: sign-file for many modules in one process. The key is
 * loaded once and the files are spread over the cores; what sign-file's
 * loop spends per module on exec and OpenSSL setup is spent once here.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kiln/module.h>

#include "json.h"
#include "kiln.h"

struct sign_args {
	struct kiln_signer_options signer;
	unsigned flags;
	unsigned jobs;
};

struct sign_result {
	int r;
	char *error;
	struct kiln_sign_info info;
};

struct sign_run {
	const struct kiln_signer *signer;
	char **paths;
	struct sign_result *results;
	bool show_progress;
};

enum {
	OPT_HASH = OPT_FIRST_COMMAND_OPTION,
	OPT_REPLACE,
	OPT_SKID,
};

static int help(void)
{
	printf("Usage: kiln module sign --key KEY --cert CERT [OPTIONS] FILE|DIR...\n"
	       "\n"
	       "Sign kernel modules as the kernel's scripts/sign-file does: the same\n"
	       "appended PKCS#7 signature, byte for byte for RSA keys. Directories are\n"
	       "searched for *.ko, *.ko.xz and *.ko.zst; compressed modules are\n"
	       "decompressed, signed and compressed again. Each file is rewritten\n"
	       "atomically and keeps its mode. All files are signed in this one process,\n"
	       "spread over the CPUs.\n"
	       "\n"
	       "Options:\n"
	       "  -k, --key KEY        the private key: a PEM file (its passphrase from\n"
	       "                       $KBUILD_SIGN_PIN), or a pkcs11: URI (PIN from\n"
	       "                       $KBUILD_SIGN_PIN) when OpenSSL's pkcs11 provider is there\n"
	       "  -c, --cert CERT      the X.509 certificate, DER or PEM (default: the key\n"
	       "                       file, when it holds the certificate too)\n"
	       "      --hash HASH      sha512 (the default, as Talos and the kernel's Kconfig),\n"
	       "                       sha384, sha256, sha224, sha1, sha3-256, sha3-384, sha3-512\n"
	       "      --replace        sign modules that are already signed, replacing the\n"
	       "                       signature (without it they are refused)\n"
	       "      --skid           name the signer by subjectKeyIdentifier (sign-file -k)\n"
	       "  -j, --jobs N         sign on N threads (default: one per online CPU)\n"
	       "      --json           print a JSON summary\n"
	       "  -h, --help           show this help\n"
	       "\n"
	       "Exit status: 0 when every module was signed, 1 when any failed.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct sign_args *a = userdata;
	char *end;
	unsigned long n;

	switch (c) {
	case 'k':
		a->signer.key = arg;
		break;
	case 'c':
		a->signer.cert = arg;
		break;
	case OPT_HASH:
		a->signer.hash = arg;
		break;
	case OPT_REPLACE:
		a->flags |= KILN_SIGN_REPLACE;
		break;
	case OPT_SKID:
		a->signer.use_skid = true;
		break;
	case 'j':
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || *end || end == arg || n == 0 || n > 1024)
			return cli_usage(
				"module sign: --jobs '%s': expected a number from 1 to 1024", arg);
		a->jobs = (unsigned)n;
		break;
	default:
		return cli_usage("module sign: run 'kiln module sign --help' for usage");
	}
	return CLI_CONTINUE;
}

/* Keep what the summary needs of each module; the errors are printed once all are done. */
static int keep_result(struct kiln_module_batch_item *item, void *userdata)
{
	struct sign_run *run = userdata;
	struct sign_result *res = &run->results[item->index];
	const char *why = item->error;

	res->r = item->r;
	res->info = item->sign;
	if (res->r >= 0)
		return 0;
	/* the library says it is signed; how to sign it again is this command's */
	if (res->r == -EEXIST) {
		if (asprintf(&res->error, "%s; use --replace to sign it again",
			     why ? why : "already signed") < 0)
			res->error = NULL;
	} else {
		res->error = strdup(why ? why : strerror(-res->r));
	}
	return 0;
}

static void show_progress(size_t done, size_t n, void *userdata)
{
	struct sign_run *run = userdata;

	if (!run->show_progress)
		return;
	if (done < n)
		fprintf(stderr, "\rkiln: module sign: %zu/%zu", done, n);
	else
		fputs("\r\033[K", stderr);
}

static int print_summary(const struct sign_run *run, size_t n, size_t failed, bool json)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	if (!json) {
		if (failed)
			strbuf_addf(&sb,
				    "signed %zu of %zu modules (%s, signer \"%s\"); %zu failed\n",
				    n - failed, n, kiln_signer_hash(run->signer),
				    kiln_signer_name(run->signer), failed);
		else
			strbuf_addf(&sb, "signed %zu module%s (%s, signer \"%s\")\n", n,
				    n == 1 ? "" : "s", kiln_signer_hash(run->signer),
				    kiln_signer_name(run->signer));
		return cli_write_strbuf(&sb);
	}
	json_init(&w, &sb);
	json_begin_object(&w);
	json_kv_string(&w, "hash", kiln_signer_hash(run->signer));
	json_kv_string(&w, "signer", kiln_signer_name(run->signer));
	json_key(&w, "signed");
	json_int(&w, (int64_t)(n - failed));
	json_key(&w, "failed");
	json_int(&w, (int64_t)failed);
	json_key(&w, "modules");
	json_begin_array(&w);
	for (size_t i = 0; i < n; i++) {
		const struct sign_result *res = &run->results[i];

		json_begin_object(&w);
		json_kv_string(&w, "path", run->paths[i]);
		json_key(&w, "signed");
		json_bool(&w, res->r >= 0);
		if (res->r >= 0) {
			json_kv_string(&w, "compression",
				       kiln_compression_name(res->info.compression));
			json_key(&w, "replaced");
			json_bool(&w, res->info.replaced);
			json_key(&w, "size");
			json_int(&w, (int64_t)res->info.size);
		} else {
			json_kv_string(&w, "error", res->error);
		}
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	strbuf_addch(&sb, '\n');
	return cli_write_strbuf(&sb);
}

int cmd_module_sign(int argc, char **argv)
{
	static const struct option options[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "hash", required_argument, NULL, OPT_HASH },
		{ "replace", no_argument, NULL, OPT_REPLACE },
		{ "skid", no_argument, NULL, OPT_SKID },
		{ "jobs", required_argument, NULL, 'j' },
		{},
	};
	struct sign_args a = { 0 };
	struct cli_options o = {
		.name = "module sign",
		.no_tree = true,
		.help = help,
		.extra = options,
		.short_options = "k:c:j:",
		.on_option = on_option,
		.userdata = &a,
	};
	_cleanup_(kiln_signer_freep) struct kiln_signer *signer = NULL;
	struct tree_args t = { 0 };
	struct sign_run run = { 0 };
	struct kiln_module_batch_options bo = {
		.op = KILN_MODULE_BATCH_SIGN,
		.on_item = keep_result,
		.on_progress = show_progress,
		.userdata = &run,
	};
	char **paths = NULL;
	size_t n = 0, failed = 0;
	int r, ret = EXIT_FAILURE_;

	r = cli_parse_options(argc, argv, &o, &t);
	if (r != CLI_CONTINUE)
		return r;
	if (!a.signer.key)
		return cli_usage(
			"module sign: --key KEY is required: run 'kiln module sign --help'");
	if (optind >= argc)
		return cli_usage("module sign: no module given: run 'kiln module sign --help'");
	a.signer.pin = getenv("KBUILD_SIGN_PIN");

	r = kiln_module_collect(cli_ctx, argv + optind, (size_t)(argc - optind), &paths, &n);
	if (r < 0)
		return cli_fail(r, "module sign");
	if (n == 0) {
		fprintf(stderr,
			"kiln: module sign: no module files (*.ko, *.ko.xz, *.ko.zst) found\n");
		goto out;
	}
	r = kiln_signer_new(cli_ctx, &a.signer, &signer);
	if (r < 0) {
		cli_fail(r, "module sign");
		goto out;
	}

	run = (struct sign_run){
		.signer = signer,
		.paths = paths,
		.results = calloc(n, sizeof(*run.results)),
		.show_progress = !t.json && isatty(STDERR_FILENO),
	};
	if (!run.results) {
		cli_fail(-ENOMEM, "module sign");
		goto out;
	}
	bo.jobs = a.jobs;
	bo.signer = signer;
	bo.sign_flags = a.flags;
	r = kiln_module_batch(cli_ctx, paths, n, &bo);
	if (r < 0) {
		cli_fail(r, "module sign");
		goto out;
	}

	/* in the operands' order, whatever order the threads finished in */
	for (size_t i = 0; i < n; i++)
		if (run.results[i].r < 0) {
			fprintf(stderr, "kiln: module sign: '%s': %s\n", paths[i],
				run.results[i].error ? run.results[i].error
						    : strerror(-run.results[i].r));
			failed++;
		}
	ret = print_summary(&run, n, failed, t.json);
	if (ret == EXIT_OK && failed)
		ret = EXIT_FAILURE_;
out:
	if (run.results)
		for (size_t i = 0; i < n; i++)
			free(run.results[i].error);
	free(run.results);
	kiln_strv_free(paths, n);
	tree_args_release(&t);
	return ret;
}
