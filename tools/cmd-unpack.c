/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln unpack REF DIR: an image's filesystem into a directory, made in a
 * temporary directory beside DIR and renamed into place, so that DIR is
 * either the whole image or not there.
 */
#include <stdio.h>

#include <kiln/layer.h>

#include "kiln.h"

enum {
	OPT_UNPACK_PLATFORM = OPT_FIRST_COMMAND_OPTION,
	OPT_DEVICES,
};

struct unpack_args {
	const char *platform;
	bool devices;
};

static int help(void)
{
	printf("Usage: kiln unpack [OPTIONS] REF DIR\n"
	       "\n"
	       "Unpack an image's layers, in order, into DIR, which must not exist or be\n"
	       "empty. The image is unpacked into a temporary directory beside DIR and\n"
	       "renamed to DIR when it is complete: a failed unpack leaves nothing.\n"
	       "\n"
	       "Layers are hostile input. An entry with an absolute path or a \"..\"\n"
	       "component is refused. Every path is resolved inside DIR as if DIR were\n"
	       "the root (openat2 RESOLVE_IN_ROOT): a symlink in the image may point\n"
	       "anywhere, but what is written through it stays in DIR; a hard link can\n"
	       "only link to a file in DIR. Whiteouts (.wh.NAME) and opaque directories\n"
	       "(.wh..wh..opq) are applied. Each layer is verified against its digest and\n"
	       "diff_id. Files are written under a temporary name and renamed.\n"
	       "\n"
	       "Owners are applied when kiln runs as root; otherwise every file belongs\n"
	       "to the caller. Modes (setuid included) are applied. Character and block\n"
	       "devices are skipped with a warning unless --devices is given (which needs\n"
	       "root); fifos are created. Extended attributes that cannot be set are\n"
	       "reported as warnings.\n"
	       "\n"
	       "REF is a name in the store (alpine is docker.io/library/alpine:latest) or\n"
	       "the digest (sha256:...) of a manifest or index in it.\n"
	       "\n"
	       "Options:\n"
	       "      --devices       create device files (needs root)\n"
	       "      --platform P    os/arch[/variant]: the image to take from an index\n"
	       "                      (default: this machine's)\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "The store is $KILN_CACHE_DIR/store, else $XDG_CACHE_HOME/kiln/store, else\n"
	       "~/.cache/kiln/store.\n"
	       "Exit status: 0 success, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct unpack_args *a = userdata;

	switch (c) {
	case OPT_UNPACK_PLATFORM:
		a->platform = arg;
		return CLI_CONTINUE;
	case OPT_DEVICES:
		a->devices = true;
		return CLI_CONTINUE;
	default:
		return cli_usage("unpack: run 'kiln unpack --help' for usage");
	}
}

int cmd_unpack(int argc, char **argv)
{
	static const struct option options[] = {
		{ "platform", required_argument, NULL, OPT_UNPACK_PLATFORM },
		{ "devices", no_argument, NULL, OPT_DEVICES },
		{ 0 },
	};
	struct unpack_args a = { 0 };
	struct cli_options o = {
		.name = "unpack",
		.no_tree = true,
		.help = help,
		.extra = options,
		.on_option = on_option,
		.userdata = &a,
	};
	_cleanup_(kiln_platform_release) struct kiln_platform platform = { 0 };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	struct kiln_unpack_options uo = { 0 };
	const char *ref, *dir;
	int r;

	r = cli_parse_plain(argc, argv, &o, NULL);
	if (r != CLI_CONTINUE)
		return r;
	if (argc - optind != 2)
		return cli_usage("unpack: expected REF DIR: run 'kiln unpack --help'");
	ref = argv[optind];
	dir = argv[optind + 1];
	r = cli_parse_platform("unpack", a.platform, &platform);
	if (r != EXIT_OK)
		return r;
	r = cli_open_image("unpack", ref, a.platform ? &platform : NULL, &s, &img);
	if (r != EXIT_OK)
		return r;
	uo.devices = a.devices;
	r = kiln_unpack_image_to_dir(cli_ctx, s, img, dir, &uo, false);
	if (r < 0)
		return cli_fail(r, "unpack %s into '%s'", ref, dir);
	return EXIT_OK;
}
