/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/oci.h>
#include <kiln/registry.h>

#include "json.h"
#include "kiln.h"
#include "transfer-progress.h"

enum {
	OPT_PULL_PLATFORM = OPT_FIRST_TRANSFER_OPTION,
};

struct pull_args {
	struct transfer_args t;
	const char *platform;
};

static int help(void)
{
	printf(
	    "Usage: kiln pull [OPTIONS] REF\n"
	    "\n"
	    "Pull an image from a registry into kiln's store. REF is\n"
	    "[HOST[:PORT]/]REPO[:TAG][@sha256:DIGEST] with docker's rules (no host:\n"
	    "docker.io; no tag: latest); a digest wins over a tag, and the manifest\n"
	    "received must hash to it.\n"
	    "\n"
	    "An index (a multi-platform image) is followed to the manifest of the\n"
	    "platform asked for, the host's by default; the index and that manifest are\n"
	    "stored byte for byte as received, with the config and layers, which are\n"
	    "streamed into the store several at once, each verified against its digest\n"
	    "(a blob that does not match is an error and is not kept). Blobs already in\n"
	    "the store are not fetched again; an interrupted download is resumed with a\n"
	    "Range request. The store's ref HOST/REPO:TAG is set only when everything has\n"
	    "arrived. The full reference, HOST/REPO:TAG@sha256:..., is printed on\n"
	    "standard output.\n"
	    "\n"
	    "Transport and credentials are as for kiln push (see kiln push --help).\n"
	    "\n"
	    "Options:\n"
	    "      --platform P    os/arch[/variant], such as linux/arm64 (default: the host's)\n");
	cli_registry_help(22, false);
	fputs(TRANSFER_OPTIONS_HELP, stdout);
	printf("      --json          print the result as JSON\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit status: 0 pulled, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct pull_args *a = userdata;
	int r;

	if (transfer_option(&a->t, c, arg, &r))
		return r;
	switch (c) {
	case OPT_PULL_PLATFORM:
		a->platform = arg;
		return CLI_CONTINUE;
	default:
		return cli_usage("pull: run 'kiln pull --help' for usage");
	}
}

static void print_json(const struct kiln_pull_result *res)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	json_begin_object(&w);
	transfer_json_image(&w, res->reference, res->name, &res->desc);
	json_kv_string(&w, "manifest", res->manifest.digest.s);
	json_key(&w, "blobs");
	json_begin_object(&w);
	json_key(&w, "present");
	json_uint(&w, res->blobs_present);
	json_key(&w, "downloaded");
	json_uint(&w, res->blobs_downloaded);
	json_end_object(&w);
	json_key(&w, "bytesDownloaded");
	json_uint(&w, res->bytes_downloaded);
	json_end_object(&w);
	cli_write_strbuf(&sb);
}

int cmd_pull(int argc, char **argv)
{
	static const struct option options[] = {
		{ "platform", required_argument, NULL, OPT_PULL_PLATFORM },
		TRANSFER_OPTIONS,
		{},
	};
	struct pull_args a = { 0 };
	struct cli_options o = {
		.name = "pull",
		.no_tree = true,
		.help = help,
		.extra = options,
		.short_options = TRANSFER_SHORT_OPTIONS,
		.on_option = on_option,
		.userdata = &a,
		.registry = &a.t.registry,
	};
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_pull_result_release) struct kiln_pull_result res = { 0 };
	_cleanup_(kiln_ref_release) struct kiln_ref src = { 0 };
	_cleanup_(kiln_platform_release) struct kiln_platform platform = { 0 };
	struct tree_args t = { 0 };
	struct transfer_progress tp;
	int r;

	r = cli_parse_options(argc, argv, &o, &t);
	if (r != CLI_CONTINUE)
		return r;
	if (argc - optind != 1)
		return cli_usage("pull: expected one REF: run 'kiln pull --help'");
	r = kiln_ref_parse(cli_ctx, argv[optind], &src);
	if (r < 0)
		return cli_fail(r, "invalid reference '%s'", argv[optind]);
	if (a.platform) {
		r = kiln_platform_parse(cli_ctx, a.platform, &platform);
		if (r < 0)
			return cli_fail(r, "invalid --platform '%s'", a.platform);
	}
	r = cli_open_store("cannot open the store", &s);
	if (r != EXIT_OK)
		return r;

	transfer_progress_start(&tp, "pulling", &a.t);
	r = kiln_registry_pull(cli_ctx, s, &src, a.platform ? &platform : NULL, &a.t.registry.reg,
			       &res);
	if (r < 0)
		return cli_fail(r, "cannot pull '%s'", argv[optind]);
	if (!a.t.quiet)
		fprintf(stderr,
			"kiln: pulled %s: %u blobs downloaded (%.1f MiB), %u already there\n",
			res.name, res.blobs_downloaded, progress_mib(res.bytes_downloaded),
			res.blobs_present);
	if (t.json) {
		print_json(&res);
		return EXIT_OK;
	}
	printf("%s\n", res.reference);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_;
}
