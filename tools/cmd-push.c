/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/layer.h>
#include <kiln/oci.h>
#include <kiln/registry.h>

#include "json.h"
#include "kiln.h"
#include "transfer-progress.h"

/* Where push records what it pushed, relative to the working directory. */
#define OUT_DIR "_out"

enum {
	OPT_NO_RECORD = OPT_FIRST_TRANSFER_OPTION,
	OPT_ALLOW_PRIVATE_KEY,
};

struct push_args {
	struct transfer_args t;
	bool no_record;
	bool allow_private_key;
};

static int help(void)
{
	printf("Usage: kiln push [OPTIONS] REF|FILE DEST\n"
	       "\n"
	       "Push an image to a registry. REF names an image in kiln's store: a name as\n"
	       "'kiln store ls' shows it (short forms are normalized: alpine is\n"
	       "docker.io/library/alpine:latest) or sha256:DIGEST. FILE, when it is an\n"
	       "existing regular file, is a docker-archive or oci-archive: it is imported\n"
	       "into the store first, named as DEST. DEST is [HOST[:PORT]/]REPO[:TAG]\n"
	       "[@sha256:DIGEST] with docker's rules (no host: docker.io; no tag: latest).\n"
	       "\n"
	       "Blobs the repository has are skipped (HEAD); blobs kiln pushed to or pulled\n"
	       "from another repository of the same registry are mounted from there; the rest\n"
	       "are uploaded, several at once, streamed from the store: in one request up to\n"
	       "16 MiB, in 32 MiB chunks above (an interrupted chunk is resumed, or the\n"
	       "upload started again). Requests are retried on 408, 429, 5xx and dropped\n"
	       "connections. An index is pushed after its manifests, and the tag is set last:\n"
	       "a push that fails leaves the tag where it was.\n"
	       "\n"
	       "Nothing is sent when the image holds a private key: every regular file of\n"
	       "every layer (of every manifest of an index) is looked at first, in the layer\n"
	       "blobs themselves, since a key that a later layer deletes still ships in the\n"
	       "layer that added it. Keys are PEM private key blocks (PKCS#8, encrypted, RSA,\n"
	       "EC, DSA, OpenSSH), DER private keys and files named signing_key.pem. The\n"
	       "error names the layer and the file; --allow-private-key pushes anyway,\n"
	       "with a warning naming each. Layers found clean are remembered in the store\n"
	       "and not read again.\n"
	       "\n"
	       "On success the full reference, HOST/REPO:TAG@sha256:..., is printed on\n"
	       "standard output and recorded in " OUT_DIR "/images.json in the current\n"
	       "directory: a JSON object keyed by HOST/REPO:TAG, each entry holding\n"
	       "\"reference\", \"digest\", \"mediaType\" and \"size\".\n"
	       "\n"
	       "Registries are spoken to over HTTPS with certificate checks; plain HTTP only\n"
	       "for localhost, 127.0.0.0/8 and ::1, or with --insecure. Credentials come from\n"
	       "the first auth file with an entry for the registry: $REGISTRY_AUTH_FILE,\n"
	       "$XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json,\n"
	       "$DOCKER_CONFIG/config.json or ~/.docker/config.json, ~/.dockercfg (what\n"
	       "podman login and docker login write; credential helpers are not run).\n"
	       "\n"
	       "Options:\n");
	cli_registry_help(22, false);
	fputs(TRANSFER_OPTIONS_HELP, stdout);
	printf("      --no-record     do not write " OUT_DIR "/images.json\n"
	       "      --allow-private-key\n"
	       "                      push an image that holds private keys (warns)\n"
	       "      --json          print the result as JSON\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "Exit status: 0 pushed, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct push_args *a = userdata;
	int r;

	if (transfer_option(&a->t, c, arg, &r))
		return r;
	switch (c) {
	case OPT_NO_RECORD:
		a->no_record = true;
		return CLI_CONTINUE;
	case OPT_ALLOW_PRIVATE_KEY:
		a->allow_private_key = true;
		return CLI_CONTINUE;
	default:
		return cli_usage("push: run 'kiln push --help' for usage");
	}
}

static void print_json(const struct kiln_push_result *res)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	json_begin_object(&w);
	transfer_json_image(&w, res->reference, res->name, &res->desc);
	json_key(&w, "blobs");
	json_begin_object(&w);
	json_key(&w, "existing");
	json_uint(&w, res->blobs_existing);
	json_key(&w, "mounted");
	json_uint(&w, res->blobs_mounted);
	json_key(&w, "uploaded");
	json_uint(&w, res->blobs_uploaded);
	json_end_object(&w);
	json_key(&w, "bytesUploaded");
	json_uint(&w, res->bytes_uploaded);
	json_key(&w, "manifestsPut");
	json_uint(&w, res->manifests_put);
	json_end_object(&w);
	cli_write_strbuf(&sb);
}

static bool is_regular_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * The image to push: an archive (a regular file by that name), imported into
 * the store under the destination's name, or else an image of the store.
 */
static int resolve_source(struct kiln_store *s, const char *src, const char *dest_name,
			  struct kiln_descriptor *ret)
{
	int r;

	if (is_regular_file(src)) {
		r = kiln_archive_import(cli_ctx, s, src, KILN_ARCHIVE_AUTO, dest_name, NULL, ret,
					NULL);
		if (r < 0)
			return cli_fail(r, "cannot import '%s'", src);
		return EXIT_OK;
	}
	r = kiln_store_resolve(cli_ctx, s, src, ret);
	if (r < 0)
		return cli_fail(r, "cannot push '%s'", src);
	return EXIT_OK;
}

int cmd_push(int argc, char **argv)
{
	static const struct option options[] = {
		TRANSFER_OPTIONS,
		{ "no-record", no_argument, NULL, OPT_NO_RECORD },
		{ "allow-private-key", no_argument, NULL, OPT_ALLOW_PRIVATE_KEY },
		{},
	};
	struct push_args a = { 0 };
	struct cli_options o = {
		.name = "push",
		.no_tree = true,
		.help = help,
		.extra = options,
		.short_options = TRANSFER_SHORT_OPTIONS,
		.on_option = on_option,
		.userdata = &a,
		.registry = &a.t.registry,
	};
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor src = { 0 };
	_cleanup_(kiln_push_result_release) struct kiln_push_result res = { 0 };
	_cleanup_(kiln_ref_release) struct kiln_ref dest = { 0 };
	_cleanup_free_ char *dest_name = NULL;
	struct tree_args t = { 0 };
	struct transfer_progress tp;
	int r;

	r = cli_parse_options(argc, argv, &o, &t);
	if (r != CLI_CONTINUE)
		return r;
	if (argc - optind != 2)
		return cli_usage("push: expected REF|FILE and DEST: run 'kiln push --help'");
	r = kiln_ref_parse(cli_ctx, argv[optind + 1], &dest);
	if (r < 0)
		return cli_fail(r, "invalid destination '%s'", argv[optind + 1]);
	dest_name = kiln_ref_name(&dest);
	if (!dest_name)
		return cli_fail(-ENOMEM, "push");
	r = cli_open_store("cannot open the store", &s);
	if (r != EXIT_OK)
		return r;
	r = resolve_source(s, argv[optind], dest_name, &src);
	if (r != EXIT_OK)
		return r;
	r = cli_check_private_keys(s, &src, argv[optind], a.allow_private_key);
	if (r != EXIT_OK)
		return r;

	transfer_progress_start(&tp, "pushing", &a.t);
	r = kiln_registry_push(cli_ctx, s, &src, &dest, &a.t.registry.reg, &res);
	if (r < 0)
		return cli_fail(r, "cannot push '%s' to %s", argv[optind], dest_name);
	if (!a.t.quiet)
		fprintf(
		    stderr,
		    "kiln: pushed %s: %u blobs uploaded (%.1f MiB), %u mounted, %u already there\n",
		    res.name, res.blobs_uploaded, progress_mib(res.bytes_uploaded),
		    res.blobs_mounted, res.blobs_existing);
	if (t.json) {
		print_json(&res);
	} else {
		printf("%s\n", res.reference);
		fflush(stdout);
	}
	if (!a.no_record) {
		r = kiln_images_json_record(cli_ctx, OUT_DIR, res.name, res.reference, &res.desc);
		if (r < 0)
			return cli_fail(r,
					"pushed, but cannot record it in " OUT_DIR "/images.json");
	}
	return EXIT_OK;
}
