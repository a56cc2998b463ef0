/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln export REF -o FILE: an image of the store as a docker-archive (what
 * docker load takes) or an oci-archive.
 */
#include <stdio.h>
#include <string.h>

#include <kiln/layer.h>

#include "kiln.h"

enum {
	OPT_EXPORT_PLATFORM = OPT_FIRST_COMMAND_OPTION,
	OPT_FORMAT,
};

struct export_args {
	const char *output;
	const char *platform;
	enum kiln_archive_format format;
};

static int help(void)
{
	printf("Usage: kiln export [OPTIONS] REF -o FILE\n"
	       "\n"
	       "Write an image of the local store to FILE, atomically (a temporary file\n"
	       "beside it, then a rename) and deterministically (the same image always\n"
	       "gives the same bytes: entries sorted, modes 0644/0755, owner 0, mtime 0).\n"
	       "Every blob is verified against its digest on the way out.\n"
	       "\n"
	       "docker-archive (the default) is what docker load takes, in the dual form\n"
	       "Docker 25 writes: manifest.json ([{Config, RepoTags, Layers}]) for docker,\n"
	       "and oci-layout, index.json and blobs/sha256/ for OCI readers (skopeo's\n"
	       "docker-archive: and oci: read it). Layers are written uncompressed, so each\n"
	       "is its own diff_id, as docker checks; when the store's layers are\n"
	       "compressed, the archive carries a manifest for the uncompressed ones (the\n"
	       "config, and so the image ID, is the same). One platform only.\n"
	       "\n"
	       "oci-archive is a tar of an OCI image layout holding REF under its full name\n"
	       "(annotations org.opencontainers.image.ref.name and io.containerd.image.name)\n"
	       "with every blob it reaches, as stored: with an index, all its platforms\n"
	       "present in the store, unless --platform picks one manifest.\n"
	       "\n"
	       "REF is a name in the store (alpine is docker.io/library/alpine:latest) or\n"
	       "the digest (sha256:...) of a manifest or index in it.\n"
	       "\n"
	       "Options:\n"
	       "  -o, --output FILE   where to write the archive (required)\n"
	       "      --format F      docker-archive (default) or oci-archive\n"
	       "      --platform P    os/arch[/variant]: the image to take from an index\n"
	       "                      (docker-archive default: this machine's)\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "The store is $KILN_CACHE_DIR/store, else $XDG_CACHE_HOME/kiln/store, else\n"
	       "~/.cache/kiln/store.\n"
	       "Exit status: 0 success, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct export_args *a = userdata;

	switch (c) {
	case 'o':
		a->output = arg;
		return CLI_CONTINUE;
	case OPT_EXPORT_PLATFORM:
		a->platform = arg;
		return CLI_CONTINUE;
	case OPT_FORMAT:
		if (streq(arg, "docker-archive"))
			a->format = KILN_ARCHIVE_DOCKER;
		else if (streq(arg, "oci-archive"))
			a->format = KILN_ARCHIVE_OCI;
		else
			return cli_usage("export: --format '%s': use docker-archive or oci-archive",
					 arg);
		return CLI_CONTINUE;
	default:
		return cli_usage("export: run 'kiln export --help' for usage");
	}
}

int cmd_export(int argc, char **argv)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "platform", required_argument, NULL, OPT_EXPORT_PLATFORM },
		{ 0 },
	};
	struct export_args a = { .format = KILN_ARCHIVE_DOCKER };
	struct cli_options o = {
		.name = "export",
		.no_tree = true,
		.help = help,
		.extra = options,
		.short_options = "o:",
		.on_option = on_option,
		.userdata = &a,
	};
	_cleanup_(kiln_platform_release) struct kiln_platform platform = { 0 };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	const char *ref;
	int r;

	r = cli_parse_plain(argc, argv, &o, NULL);
	if (r != CLI_CONTINUE)
		return r;
	if (optind != argc - 1)
		return cli_usage("export: expected one REF: run 'kiln export --help'");
	if (!a.output)
		return cli_usage("export: where to? -o FILE");
	ref = argv[optind];
	r = cli_parse_platform("export", a.platform, &platform);
	if (r == EXIT_OK)
		r = cli_open_store("export", &s);
	if (r != EXIT_OK)
		return r;
	r = kiln_archive_export(cli_ctx, s, ref, a.platform ? &platform : NULL, a.format, a.output);
	if (r < 0)
		return cli_fail(r, "export %s", ref);
	return EXIT_OK;
}
