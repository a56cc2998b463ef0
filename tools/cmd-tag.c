/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kiln tag SRC DEST: another name in the store for an image already there. */
#include <stdio.h>
#include <string.h>

#include <kiln/oci.h>

#include "kiln.h"

static int help(void)
{
	printf("Usage: kiln tag SRC DEST\n"
	       "\n"
	       "Name the image SRC also DEST in the local store (an existing DEST is moved).\n"
	       "SRC is a name in the store, written as for docker (alpine is\n"
	       "docker.io/library/alpine:latest) or exactly as 'kiln store ls' shows it, or\n"
	       "a digest (sha256:...) of a manifest or index in the store. DEST is a\n"
	       "reference with a tag ([HOST[:PORT]/]REPO[:TAG], docker's rules; the tag is\n"
	       "latest when left out). Prints DEST in full, with the digest it now names:\n"
	       "  127.0.0.1:5005/kiln/test:v1@sha256:...\n"
	       "\n"
	       "Options:\n"
	       "  -h, --help   show this help\n"
	       "\n"
	       "The store is $KILN_CACHE_DIR/store, else $XDG_CACHE_HOME/kiln/store, else\n"
	       "~/.cache/kiln/store.\n"
	       "Exit status: 0 success, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

int cmd_tag(int argc, char **argv)
{
	const struct cli_options o = { .name = "tag", .no_tree = true, .help = help };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor d = { 0 };
	_cleanup_(kiln_ref_release) struct kiln_ref dest = { 0 };
	_cleanup_free_ char *name = NULL;
	int r;

	r = cli_parse_plain(argc, argv, &o, NULL);
	if (r != CLI_CONTINUE)
		return r;
	if (argc - optind != 2)
		return cli_usage("tag: expected SRC and DEST: run 'kiln tag --help'");
	r = kiln_ref_parse(cli_ctx, argv[optind + 1], &dest);
	if (r < 0)
		return cli_fail(r, "tag");
	if (dest.digest)
		return cli_usage("tag: DEST '%s' has a digest: a name takes a tag, the digest is "
				 "SRC's",
				 argv[optind + 1]);
	name = kiln_ref_name(&dest);
	if (!name)
		return cli_fail(-ENOMEM, "tag");
	r = cli_open_store("tag", &s);
	if (r != EXIT_OK)
		return r;
	r = kiln_store_resolve(cli_ctx, s, argv[optind], &d);
	if (r < 0)
		return cli_fail(r, "tag");
	r = kiln_store_set_ref(cli_ctx, s, name, &d);
	if (r < 0)
		return cli_fail(r, "tag");
	printf("%s@%s\n", name, d.digest.s);
	return cli_write_stdout("", 0);
}
