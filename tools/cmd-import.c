/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln import FILE|DIR: an image into the store, from a directory (made
 * into one deterministic layer) or from an archive (docker-archive or
 * oci-archive), named with --tag.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/layer.h>

#include "json.h"
#include "kiln.h"
#include "strbuf.h"

enum {
	OPT_IMPORT_PLATFORM = OPT_FIRST_COMMAND_OPTION,
	OPT_COMPRESSION,
	OPT_LABEL,
	OPT_OWNER,
	OPT_NO_XATTRS,
	OPT_FORMAT,
};

struct import_args {
	const char *tag;
	const char *platform;
	const char *format;
	enum kiln_layer_compression compression;
	bool owner_set;
	uint32_t uid, gid;
	bool no_xattrs;
	struct kiln_annotation *labels;
	size_t n_labels;
	bool bad;
};

static int help(void)
{
	printf("Usage: kiln import [OPTIONS] FILE|DIR --tag REF\n"
	       "\n"
	       "Make an image in the local store.\n"
	       "\n"
	       "A directory becomes a one-layer image. The layer is a deterministic tar of\n"
	       "the tree under DIR (DIR itself is not an entry): entries sorted bytewise,\n"
	       "parents first; modes kept (with setuid, setgid, sticky); every owner 0:0\n"
	       "(or --owner); every mtime SOURCE_DATE_EPOCH from the environment (0 when\n"
	       "unset); hard links, symlinks (never followed), fifos and devices as\n"
	       "entries; sockets left out with a warning; extended attributes kept, but\n"
	       "not security.selinux or system.*. The config has the platform, rootfs\n"
	       "diff_ids, the labels and created = SOURCE_DATE_EPOCH. Importing the same\n"
	       "tree with the same options again gives the same digests. A tree that\n"
	       "changes while it is read is an error.\n"
	       "\n"
	       "A file is an archive, told apart by its content: a docker-archive (what\n"
	       "docker save, skopeo's docker-archive: and 'kiln export' write; its\n"
	       "manifest.json must list one image, and every layer must match the\n"
	       "config's diff_id; layers are stored as found, tar, gzip or zstd, xz\n"
	       "decompressed) or an oci-archive (a tar of an OCI image layout; the one\n"
	       "image of its index.json, or the one for --platform, with every blob\n"
	       "verified). Compressed archives must be decompressed first.\n"
	       "\n"
	       "Options:\n"
	       "  -t, --tag REF          the name to give the image (for an archive, its own\n"
	       "                         name by default: RepoTags[0] or the index entry's\n"
	       "                         name)\n"
	       "      --platform P       a directory: the image's platform, os/arch[/variant]\n"
	       "                         (default: this machine's); an archive: the image to\n"
	       "                         take from it\n"
	       "      --compression C    a directory: gzip (default), zstd or none\n"
	       "      --label KEY=VALUE  a directory: a config label (repeatable), such as\n"
	       "                         org.opencontainers.image.source=URL\n"
	       "      --owner UID:GID    a directory: the owner of every entry (default 0:0)\n"
	       "      --no-xattrs        a directory: leave extended attributes out\n"
	       "      --format F         an archive: docker-archive or oci-archive, not\n"
	       "                         guessed\n"
	       "      --json             print {\"name\", \"digest\", \"mediaType\", \"size\"}\n"
	       "  -h, --help             show this help\n"
	       "\n"
	       "Prints NAME@DIGEST, the image's full name and its manifest's digest. The\n"
	       "store is $KILN_CACHE_DIR/store, else $XDG_CACHE_HOME/kiln/store, else\n"
	       "~/.cache/kiln/store.\n"
	       "Exit status: 0 success, 1 failure, 2 usage error.\n");
	return EXIT_OK;
}

static int parse_u32(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > UINT32_MAX - 1)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct import_args *a = userdata;

	switch (c) {
	case 't':
		a->tag = arg;
		return CLI_CONTINUE;
	case OPT_IMPORT_PLATFORM:
		a->platform = arg;
		return CLI_CONTINUE;
	case OPT_COMPRESSION:
		if (streq(arg, "gzip"))
			a->compression = KILN_LAYER_GZIP;
		else if (streq(arg, "zstd"))
			a->compression = KILN_LAYER_ZSTD;
		else if (streq(arg, "none"))
			a->compression = KILN_LAYER_TAR;
		else
			return cli_usage("import: --compression '%s': use gzip, zstd or none", arg);
		return CLI_CONTINUE;
	case OPT_LABEL: {
		const char *eq = strchr(arg, '=');
		_cleanup_free_ char *key = NULL;

		if (!eq || eq == arg)
			return cli_usage("import: --label '%s': expected KEY=VALUE", arg);
		key = strndup(arg, (size_t)(eq - arg));
		if (!key || kiln_annotation_set(&a->labels, &a->n_labels, key, eq + 1) < 0)
			return cli_fail(-ENOMEM, "import");
		return CLI_CONTINUE;
	}
	case OPT_OWNER: {
		_cleanup_free_ char *uid = strdup(arg);
		char *colon = uid ? strchr(uid, ':') : NULL;

		if (!colon)
			return cli_usage("import: --owner '%s': expected UID:GID", arg);
		*colon = '\0';
		if (parse_u32(uid, &a->uid) < 0 || parse_u32(colon + 1, &a->gid) < 0)
			return cli_usage("import: --owner '%s': expected numeric UID:GID", arg);
		a->owner_set = true;
		return CLI_CONTINUE;
	}
	case OPT_NO_XATTRS:
		a->no_xattrs = true;
		return CLI_CONTINUE;
	case OPT_FORMAT:
		if (!streq(arg, "docker-archive") && !streq(arg, "oci-archive"))
			return cli_usage("import: --format '%s': use docker-archive or oci-archive",
					 arg);
		a->format = arg;
		return CLI_CONTINUE;
	default:
		return cli_usage("import: run 'kiln import --help' for usage");
	}
}

/* SOURCE_DATE_EPOCH as reproducible-builds.org defines it: decimal seconds; 0 when unset. */
static int source_date_epoch(int64_t *ret)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	unsigned long long v;
	char *end;

	*ret = 0;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	/* a tar header holds 11 octal digits of seconds */
	if (errno || *end || s[0] == '-' || v >= (1ull << 33))
		return cli_usage("import: SOURCE_DATE_EPOCH='%s' is not a time in seconds "
				 "(0 to 8589934591)",
				 s);
	*ret = (int64_t)v;
	return 0;
}

static int print_result(const struct kiln_descriptor *d, const char *name, bool json)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	if (json) {
		struct json_writer w;

		json_init(&w, &sb);
		json_begin_object(&w);
		json_kv_string(&w, "name", name);
		json_kv_string(&w, "digest", d->digest.s);
		json_kv_string(&w, "mediaType", d->media_type);
		json_key(&w, "size");
		json_uint(&w, d->size);
		json_end_object(&w);
		strbuf_addch(&sb, '\n');
	} else {
		strbuf_addf(&sb, "%s@%s\n", name, d->digest.s);
	}
	if (!sb.buf)
		return cli_fail(-ENOMEM, "import");
	return cli_write_stdout(sb.buf, sb.len);
}

static void labels_free(struct import_args *a)
{
	for (size_t i = 0; i < a->n_labels; i++) {
		free(a->labels[i].key);
		free(a->labels[i].value);
	}
	free(a->labels);
}

int cmd_import(int argc, char **argv)
{
	static const struct option options[] = {
		{ "tag", required_argument, NULL, 't' },
		{ "platform", required_argument, NULL, OPT_IMPORT_PLATFORM },
		{ "compression", required_argument, NULL, OPT_COMPRESSION },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "owner", required_argument, NULL, OPT_OWNER },
		{ "no-xattrs", no_argument, NULL, OPT_NO_XATTRS },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ 0 },
	};
	struct import_args a = { .compression = KILN_LAYER_GZIP };
	struct cli_options o = {
		.name = "import",
		.no_tree = true,
		.help = help,
		.extra = options,
		.short_options = "t:",
		.on_option = on_option,
		.userdata = &a,
	};
	_cleanup_(kiln_platform_release) struct kiln_platform platform = { 0 };
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor d = { 0 };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_free_ char *name = NULL;
	const char *src;
	struct stat st;
	bool json;
	int r;

	r = cli_parse_plain(argc, argv, &o, &json);
	if (r != CLI_CONTINUE)
		goto out;
	if (optind != argc - 1) {
		r = cli_usage("import: expected one FILE or DIR: run 'kiln import --help'");
		goto out;
	}
	src = argv[optind];
	r = cli_parse_platform("import", a.platform, &platform);
	if (r != EXIT_OK)
		goto out;
	if (stat(src, &st) < 0) {
		r = cli_fail(-errno, "import '%s'", src);
		goto out;
	}
	if (S_ISDIR(st.st_mode) && !a.tag) {
		r = cli_usage("import: a directory needs a name: --tag REF");
		goto out;
	}
	if (S_ISDIR(st.st_mode) && a.format) {
		r = cli_usage("import: --format is for archives, and '%s' is a directory", src);
		goto out;
	}
	if (!S_ISDIR(st.st_mode) && (a.n_labels || a.owner_set || a.no_xattrs)) {
		r = cli_usage("import: --label, --owner and --no-xattrs are for directories, and "
			      "'%s' is an archive",
			      src);
		goto out;
	}
	r = cli_open_store("import", &s);
	if (r != EXIT_OK)
		goto out;
	if (S_ISDIR(st.st_mode)) {
		struct kiln_image_options io = {
			.platform = a.platform ? &platform : NULL,
			.labels = a.labels,
			.n_labels = a.n_labels,
			.layer = {
				.tree = { .uid = a.uid, .gid = a.gid, .xattrs = !a.no_xattrs },
				.compression = a.compression,
			},
		};

		r = source_date_epoch(&io.created);
		if (r != 0)
			goto out;
		r = kiln_image_from_dir(cli_ctx, s, src, a.tag, &io, &d);
		if (r >= 0) {
			_cleanup_(kiln_ref_release) struct kiln_ref ref = { 0 };

			r = kiln_ref_parse(cli_ctx, a.tag, &ref);
			if (r >= 0 && !(name = kiln_ref_name(&ref)))
				r = -ENOMEM;
		}
	} else {
		enum kiln_archive_format f = !a.format			      ? KILN_ARCHIVE_AUTO
					     : streq(a.format, "oci-archive") ? KILN_ARCHIVE_OCI
									      : KILN_ARCHIVE_DOCKER;

		r = kiln_archive_import(cli_ctx, s, src, f, a.tag, a.platform ? &platform : NULL,
					&d, &name);
	}
	if (r < 0) {
		r = cli_fail(r, "import '%s'", src);
		goto out;
	}
	r = print_result(&d, name, json);
out:
	labels_free(&a);
	return r;
}
