/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln cat REF PATH: a file of an image, streamed from the layer that
 * holds it, without unpacking anything.
 */
#include <stdio.h>
#include <string.h>

#include <kiln/layer.h>

#include "kiln.h"

enum {
	OPT_CAT_PLATFORM = OPT_FIRST_COMMAND_OPTION,
};

static int help(void)
{
	printf("Usage: kiln cat [OPTIONS] REF PATH\n"
	       "\n"
	       "Print the file PATH of an image to standard output, as a container would\n"
	       "see it: from the top-most layer that has it, after whiteouts, following\n"
	       "symlinks (inside the image) and hard links. The layers are read from the\n"
	       "store and verified first; the file's bytes are then streamed from its\n"
	       "layer, never held in memory. Nothing is unpacked.\n"
	       "\n"
	       "REF is a name in the store (alpine is docker.io/library/alpine:latest) or\n"
	       "the digest (sha256:...) of a manifest or index in it.\n"
	       "\n"
	       "Options:\n"
	       "      --platform P    os/arch[/variant]: the image to take from an index\n"
	       "                      (default: this machine's)\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "The store is $KILN_CACHE_DIR/store, else $XDG_CACHE_HOME/kiln/store, else\n"
	       "~/.cache/kiln/store.\n"
	       "Exit status: 0 success, 1 failure (no such REF or PATH, PATH is not a\n"
	       "regular file, a corrupt or hostile layer), 2 usage error.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	const char **platform = userdata;

	if (c != OPT_CAT_PLATFORM)
		return cli_usage("cat: run 'kiln cat --help' for usage");
	*platform = arg;
	return CLI_CONTINUE;
}

static int to_stdout(void *userdata, const void *data, size_t len)
{
	bool *failed = userdata;

	if (fwrite(data, 1, len, stdout) != len) {
		*failed = true;
		return -EIO;
	}
	return 0;
}

int cmd_cat(int argc, char **argv)
{
	static const struct option options[] = {
		{ "platform", required_argument, NULL, OPT_CAT_PLATFORM },
		{ 0 },
	};
	const char *platform_arg = NULL;
	struct cli_options o = {
		.name = "cat",
		.no_tree = true,
		.help = help,
		.extra = options,
		.on_option = on_option,
		.userdata = &platform_arg,
	};
	_cleanup_(kiln_platform_release) struct kiln_platform platform = { 0 };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	_cleanup_(kiln_fs_freep) struct kiln_fs *fs = NULL;
	const struct kiln_fs_node *n;
	const char *ref, *path;
	bool failed = false;
	int r;

	r = cli_parse_plain(argc, argv, &o, NULL);
	if (r != CLI_CONTINUE)
		return r;
	if (argc - optind != 2)
		return cli_usage("cat: expected REF PATH: run 'kiln cat --help'");
	ref = argv[optind];
	path = argv[optind + 1];
	r = cli_parse_platform("cat", platform_arg, &platform);
	if (r == EXIT_OK)
		r = cli_open_image("cat", ref, platform_arg ? &platform : NULL, &s, &img);
	if (r != EXIT_OK)
		return r;
	r = kiln_fs_load_image(cli_ctx, s, img, &fs);
	if (r < 0)
		return cli_fail(r, "cat %s", ref);
	r = kiln_fs_lookup(cli_ctx, fs, path, true, &n);
	if (r >= 0)
		r = kiln_fs_cat(cli_ctx, s, img, n, to_stdout, &failed);
	if (failed || fflush(stdout) != 0) {
		fprintf(stderr, "kiln: cannot write to standard output: %m\n");
		return EXIT_FAILURE_;
	}
	if (r < 0)
		return cli_fail(r, "cat %s %s", ref, path);
	return EXIT_OK;
}
