/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln import FILE|DIR|-: an image into the store, from a directory (made
 * into one deterministic layer), or from a tar in a file or on standard
 * input: an archive (docker-archive or oci-archive) or the tar of a root
 * filesystem (made into one layer holding its entries), named with --tag.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	enum kiln_compression compression;
	bool compression_set;
	bool owner_set;
	uint32_t uid, gid;
	bool no_xattrs;
	struct kiln_annotation *labels;
	size_t n_labels;
	bool bad;
};

static int help(void)
{
	printf("Usage: kiln import [OPTIONS] FILE|DIR|- --tag REF\n"
	       "\n"
	       "Make an image in the local store from a directory, or from a tar in FILE or\n"
	       "on standard input (-).\n"
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
	       "A tar is one of three kinds, told apart by its members (or named with\n"
	       "--format):\n"
	       "  docker-archive  what docker save, skopeo's docker-archive: and 'kiln\n"
	       "                  export' write: it has manifest.json, which must list one\n"
	       "                  image; every layer must match the config's diff_id; layers\n"
	       "                  are stored as found (tar, gzip or zstd; xz decompressed)\n"
	       "  oci-archive     a tar of an OCI image layout (index.json and oci-layout):\n"
	       "                  the one image of its index.json, or the one for\n"
	       "                  --platform, every blob verified\n"
	       "  rootfs          any other tar: a root filesystem, as docker import takes\n"
	       "                  it (mmdebstrap ... - | kiln import - --tag REF). It becomes\n"
	       "                  a one-layer image whose layer holds the tar's entries as\n"
	       "                  they are: paths, owners, modes (setuid too), mtimes, hard\n"
	       "                  and symbolic links, fifos, devices and extended attributes\n"
	       "                  (PAX SCHILY.xattr); user and group names, atime and ctime\n"
	       "                  are not kept. Entries are written again in the tar form\n"
	       "                  kiln writes, so the same entries give the same digests.\n"
	       "                  Every entry is checked as a layer's are: an absolute path,\n"
	       "                  a \"..\" component, a way through a symlink that leaves the\n"
	       "                  root, a hard link to nothing or an unknown type is refused,\n"
	       "                  naming the entry and its byte offset, and nothing is\n"
	       "                  stored. The config is made as for a directory.\n"
	       "A tar may be gzip-, zstd- or xz-compressed. Archives are read by offset, so\n"
	       "standard input and compressed files are first copied, decompressed, to an\n"
	       "unnamed temporary file in the store (it takes the tar's size in disk space,\n"
	       "and is gone when kiln ends); with --format rootfs a tar is read once, as it\n"
	       "comes, without that copy.\n"
	       "\n"
	       "Options:\n"
	       "  -t, --tag REF          the name to give the image (for an archive, its own\n"
	       "                         name by default: RepoTags[0] or the index entry's\n"
	       "                         name)\n"
	       "      --platform P       a directory or rootfs: the image's platform,\n"
	       "                         os/arch[/variant] (default: this machine's); an\n"
	       "                         archive: the image to take from it\n"
	       "      --compression C    a directory or rootfs: the layer's compression, gzip\n"
	       "                         (default), zstd or none\n"
	       "      --label KEY=VALUE  a directory or rootfs: a config label (repeatable),\n"
	       "                         such as org.opencontainers.image.source=URL\n"
	       "      --owner UID:GID    a directory: the owner of every entry (default 0:0)\n"
	       "      --no-xattrs        a directory: leave extended attributes out\n"
	       "      --format F         a tar: docker-archive, oci-archive or rootfs, not\n"
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
			a->compression = KILN_COMPRESSION_GZIP;
		else if (streq(arg, "zstd"))
			a->compression = KILN_COMPRESSION_ZSTD;
		else if (streq(arg, "none"))
			a->compression = KILN_COMPRESSION_NONE;
		else
			return cli_usage("import: --compression '%s': use gzip, zstd or none", arg);
		a->compression_set = true;
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
		if (!streq(arg, "docker-archive") && !streq(arg, "oci-archive") &&
		    !streq(arg, "rootfs"))
			return cli_usage(
			    "import: --format '%s': use docker-archive, oci-archive or "
			    "rootfs",
			    arg);
		a->format = arg;
		return CLI_CONTINUE;
	default:
		return cli_usage("import: run 'kiln import --help' for usage");
	}
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
	return cli_write_strbuf(&sb);
}

/* "a docker-archive", "an oci-archive": what a tar turned out to be, for messages. */
static const char *kind_name(enum kiln_archive_format f)
{
	return f == KILN_ARCHIVE_DOCKER ? "a docker-archive" : "an oci-archive";
}

/* A tar from @src (a file, or "-": standard input): an archive or a root filesystem. */
static int import_tar(const struct import_args *a, struct kiln_store *s, const char *src,
		      const struct kiln_image_options *io, struct kiln_descriptor *ret,
		      char **ret_name)
{
	_cleanup_(kiln_tar_input_freep) struct kiln_tar_input *in = NULL;
	_cleanup_close_ int fd = -1;
	bool std_in = streq(src, "-");
	enum kiln_archive_format f = KILN_ARCHIVE_AUTO, kind;
	_cleanup_free_ char *where = NULL;
	int r;

	if (a->format)
		f = streq(a->format, "docker-archive") ? KILN_ARCHIVE_DOCKER
		    : streq(a->format, "oci-archive")  ? KILN_ARCHIVE_OCI
						       : KILN_ARCHIVE_ROOTFS;
	if (std_in)
		where = strdup("import from standard input");
	else if (asprintf(&where, "import '%s'", src) < 0)
		where = NULL;
	if (!where)
		return cli_fail(-ENOMEM, "import");
	if (std_in && isatty(STDIN_FILENO))
		return cli_usage("import: standard input is a terminal: pipe a tar into 'kiln "
				 "import -'");
	if (!std_in && (fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return cli_fail(-errno, "%s", where);
	r = kiln_tar_input_open(cli_ctx, s, std_in ? STDIN_FILENO : fd, std_in ? NULL : src, f,
				&in);
	if (r < 0)
		return cli_fail(r, "%s", where);
	kind = kiln_tar_input_format(in);
	if (kind != KILN_ARCHIVE_ROOTFS && (a->n_labels || a->compression_set))
		return cli_usage("import: --label and --compression are for a directory or a "
				 "rootfs tar, and %s is %s",
				 std_in ? "standard input" : src, kind_name(kind));
	if (kind == KILN_ARCHIVE_ROOTFS && !a->tag)
		return cli_usage("import: %s is a rootfs tar, which needs a name: --tag REF",
				 std_in ? "standard input" : src);
	r = kiln_tar_input_import(cli_ctx, s, in, a->tag, io, ret, ret_name);
	if (r < 0)
		return cli_fail(r, "%s", where);
	return EXIT_OK;
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
	struct import_args a = { .compression = KILN_COMPRESSION_GZIP };
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
	struct kiln_image_options io = { 0 };
	struct stat st;
	bool json, dir;
	int r;

	r = cli_parse_plain(argc, argv, &o, &json);
	if (r != CLI_CONTINUE)
		goto out;
	if (optind != argc - 1) {
		r = cli_usage("import: expected one FILE, DIR or -: run 'kiln import --help'");
		goto out;
	}
	io = (struct kiln_image_options){
		.platform = a.platform ? &platform : NULL,
		.labels = a.labels,
		.n_labels = a.n_labels,
		.layer = {
			.tree = { .uid = a.uid, .gid = a.gid, .xattrs = !a.no_xattrs },
			.compression = a.compression,
		},
	};
	src = argv[optind];
	r = cli_parse_platform("import", a.platform, &platform);
	if (r != EXIT_OK)
		goto out;
	if (!streq(src, "-") && stat(src, &st) < 0) {
		r = cli_fail(-errno, "import '%s'", src);
		goto out;
	}
	dir = !streq(src, "-") && S_ISDIR(st.st_mode);
	if (dir && !a.tag) {
		r = cli_usage("import: a directory needs a name: --tag REF");
		goto out;
	}
	if (dir && a.format) {
		r = cli_usage("import: --format is for tars, and '%s' is a directory", src);
		goto out;
	}
	if (!dir && (a.owner_set || a.no_xattrs)) {
		r = cli_usage("import: --owner and --no-xattrs are for directories, and '%s' is "
			      "not one: a tar's entries keep their owners and extended attributes",
			      src);
		goto out;
	}
	r = cli_source_date_epoch("import", &io.created);
	if (r != EXIT_OK)
		goto out;
	r = cli_open_store("import", &s);
	if (r != EXIT_OK)
		goto out;
	if (!dir) {
		r = import_tar(&a, s, src, &io, &d, &name);
		if (r != EXIT_OK)
			goto out;
	} else {
		r = kiln_image_from_dir(cli_ctx, s, src, a.tag, &io, &d);
		if (r >= 0) {
			_cleanup_(kiln_ref_release) struct kiln_ref ref = { 0 };

			r = kiln_ref_parse(cli_ctx, a.tag, &ref);
			if (r >= 0 && !(name = kiln_ref_name(&ref)))
				r = -ENOMEM;
		}
		if (r < 0) {
			r = cli_fail(r, "import '%s'", src);
			goto out;
		}
	}
	r = print_result(&d, name, json);
out:
	labels_free(&a);
	return r;
}
