/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln ls REF [PATH]: the files of an image's flattened filesystem (what
 * the seed workflow saw with podman image mount + ls), read from the
 * layers in the store without unpacking them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <kiln/layer.h>

#include "json.h"
#include "kiln.h"
#include "strbuf.h"

enum {
	OPT_LS_PLATFORM = OPT_FIRST_COMMAND_OPTION,
};

struct ls_args {
	const char *platform;
	bool long_format;
	bool recursive;
};

static int help(void)
{
	printf("Usage: kiln ls [OPTIONS] REF [PATH]\n"
	       "\n"
	       "List PATH (default /) in the filesystem an image's layers make together,\n"
	       "as a container sees it: whiteouts applied, hard links shown as the file\n"
	       "they link to, paths through symlinks resolved inside the image. The\n"
	       "layers are read from the store (and verified against their digests and\n"
	       "diff_ids); nothing is unpacked.\n"
	       "\n"
	       "A directory's entries are listed sorted by name; anything else is listed\n"
	       "itself. With -R, every entry below PATH is listed, depth first, as a path\n"
	       "relative to PATH. A symlink as PATH is followed, except with -l (as ls\n"
	       "does) unless PATH ends in '/'.\n"
	       "\n"
	       "REF is a name in the store (alpine is docker.io/library/alpine:latest) or\n"
	       "the digest (sha256:...) of a manifest or index in it.\n"
	       "\n"
	       "Options:\n"
	       "  -l, --long          mode (as ls shows it), uid, gid, size (major, minor for\n"
	       "                      devices), mtime (UTC), name, and -> target for symlinks\n"
	       "  -R, --recursive     list everything below PATH\n"
	       "      --platform P    os/arch[/variant]: the image to take from an index\n"
	       "                      (default: this machine's)\n"
	       "      --json          print a JSON array of {path, type (file, dir, symlink,\n"
	       "                      char, block, fifo), mode (\"0755\"), uid, gid, size,\n"
	       "                      mtime (seconds), target, devmajor, devminor}, path\n"
	       "                      absolute in the image\n"
	       "  -h, --help          show this help\n"
	       "\n"
	       "The store is $KILN_CACHE_DIR/store, else $XDG_CACHE_HOME/kiln/store, else\n"
	       "~/.cache/kiln/store.\n"
	       "Exit status: 0 success, 1 failure (no such REF or PATH, a corrupt or\n"
	       "hostile layer), 2 usage error.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct ls_args *a = userdata;

	switch (c) {
	case 'l':
		a->long_format = true;
		return CLI_CONTINUE;
	case 'R':
		a->recursive = true;
		return CLI_CONTINUE;
	case OPT_LS_PLATFORM:
		a->platform = arg;
		return CLI_CONTINUE;
	default:
		return cli_usage("ls: run 'kiln ls --help' for usage");
	}
}

static const char *type_name(char type)
{
	switch (type) {
	case KILN_TAR_DIR:
		return "dir";
	case KILN_TAR_SYMLINK:
		return "symlink";
	case KILN_TAR_CHAR:
		return "char";
	case KILN_TAR_BLOCK:
		return "block";
	case KILN_TAR_FIFO:
		return "fifo";
	default:
		return "file";
	}
}

/* "drwxr-xr-x", "-rwsr-xr-x", "drwxrwxrwt": as ls prints it. */
static void mode_string(const struct kiln_fs_stat *st, char out[11])
{
	static const char types[] = { [KILN_TAR_DIR - '0'] = 'd',
				      [KILN_TAR_SYMLINK - '0'] = 'l',
				      [KILN_TAR_CHAR - '0'] = 'c',
				      [KILN_TAR_BLOCK - '0'] = 'b',
				      [KILN_TAR_FIFO - '0'] = 'p' };
	static const char rwx[] = "rwxrwxrwx";
	unsigned t = (unsigned)(st->type - '0');

	out[0] = t < sizeof(types) && types[t] ? types[t] : '-';
	for (int i = 0; i < 9; i++)
		out[1 + i] = st->mode & (0400u >> i) ? rwx[i] : '-';
	if (st->mode & 04000)
		out[3] = out[3] == 'x' ? 's' : 'S';
	if (st->mode & 02000)
		out[6] = out[6] == 'x' ? 's' : 'S';
	if (st->mode & 01000)
		out[9] = out[9] == 'x' ? 't' : 'T';
	out[10] = '\0';
}

struct row {
	const struct kiln_fs_node *node;
	char *name; /* as printed */
};

struct rows {
	struct row *v;
	size_t n, alloc;
};

static void rows_release(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].name);
	free(r->v);
}

static int rows_add(struct rows *r, const struct kiln_fs_node *node, char *name)
{
	if (!name || GROW(r->v, r->alloc, r->n + 1) < 0) {
		free(name);
		return -ENOMEM;
	}
	r->v[r->n++] = (struct row){ node, name };
	return 0;
}

struct frame {
	const struct kiln_fs_node **children;
	size_t n, next;
	char *prefix; /* the relative path of the directory, "" for the top */
};

/* Everything below @top, depth first in name order: no recursion, as trees can be deep. */
static int collect_recursive(const struct kiln_fs_node *top, struct rows *rows)
{
	struct frame *stack = NULL;
	size_t depth = 0, alloc = 0;
	int r = 0, n;

	if (GROW(stack, alloc, 1) < 0)
		return -ENOMEM;
	n = kiln_fs_children(top, &stack[0].children);
	if (n < 0) {
		free(stack);
		return n;
	}
	stack[0].n = (size_t)n;
	stack[0].next = 0;
	stack[0].prefix = strdup("");
	depth = 1;
	if (!stack[0].prefix)
		r = -ENOMEM;
	while (r >= 0 && depth > 0) {
		struct frame *f = &stack[depth - 1];
		const struct kiln_fs_node *c;
		struct kiln_fs_stat st;
		char *path;

		if (f->next == f->n) {
			free(f->children);
			free(f->prefix);
			depth--;
			continue;
		}
		c = f->children[f->next++];
		kiln_fs_node_stat(c, &st);
		if (asprintf(&path, "%s%s%s", f->prefix, f->prefix[0] ? "/" : "", st.name) < 0)
			path = NULL;
		r = rows_add(rows, c, path);
		if (r < 0 || st.type != KILN_TAR_DIR)
			continue;
		if (GROW(stack, alloc, depth + 1) < 0) {
			r = -ENOMEM;
			continue;
		}
		f = &stack[depth];
		n = kiln_fs_children(c, &f->children);
		if (n < 0) {
			r = n;
			continue;
		}
		f->n = (size_t)n;
		f->next = 0;
		f->prefix = strdup(path);
		depth++;
		if (!f->prefix)
			r = -ENOMEM;
	}
	for (size_t i = 0; i < depth; i++) {
		free(stack[i].children);
		free(stack[i].prefix);
	}
	free(stack);
	return r;
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

static void format_long(struct strbuf *sb, const struct rows *rows)
{
	int w_uid = 1, w_gid = 1, w_size = 1;
	char buf[64];

	for (size_t i = 0; i < rows->n; i++) {
		struct kiln_fs_stat st;
		int n;

		kiln_fs_node_stat(rows->v[i].node, &st);
		w_uid = max_int(w_uid, snprintf(buf, sizeof(buf), "%" PRIu64, st.uid));
		w_gid = max_int(w_gid, snprintf(buf, sizeof(buf), "%" PRIu64, st.gid));
		if (st.type == KILN_TAR_CHAR || st.type == KILN_TAR_BLOCK)
			n = snprintf(buf, sizeof(buf), "%u, %u", st.devmajor, st.devminor);
		else
			n = snprintf(buf, sizeof(buf), "%" PRIu64, st.size);
		w_size = max_int(w_size, n);
	}
	for (size_t i = 0; i < rows->n; i++) {
		struct kiln_fs_stat st;
		char mode[11], when[32] = "?";
		time_t t;
		struct tm tm;

		kiln_fs_node_stat(rows->v[i].node, &st);
		mode_string(&st, mode);
		t = (time_t)st.mtime;
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
		if (st.type == KILN_TAR_CHAR || st.type == KILN_TAR_BLOCK)
			snprintf(buf, sizeof(buf), "%u, %u", st.devmajor, st.devminor);
		else
			snprintf(buf, sizeof(buf), "%" PRIu64, st.size);
		strbuf_addf(sb, "%s %*" PRIu64 " %*" PRIu64 " %*s %s %s", mode, w_uid, st.uid,
			    w_gid, st.gid, w_size, buf, when, rows->v[i].name);
		if (st.type == KILN_TAR_SYMLINK)
			strbuf_addf(sb, " -> %s", st.linkname);
		strbuf_addch(sb, '\n');
	}
}

static int format_json(struct strbuf *sb, const struct rows *rows)
{
	struct json_writer w;

	json_init(&w, sb);
	json_begin_array(&w);
	for (size_t i = 0; i < rows->n; i++) {
		_cleanup_free_ char *path = kiln_fs_node_path(rows->v[i].node);
		struct kiln_fs_stat st;
		char mode[8];

		if (!path)
			return -ENOMEM;
		kiln_fs_node_stat(rows->v[i].node, &st);
		snprintf(mode, sizeof(mode), "%04o", st.mode);
		json_begin_object(&w);
		json_kv_string(&w, "path", path);
		json_kv_string(&w, "type", type_name(st.type));
		json_kv_string(&w, "mode", mode);
		json_key(&w, "uid");
		json_uint(&w, st.uid);
		json_key(&w, "gid");
		json_uint(&w, st.gid);
		json_key(&w, "size");
		json_uint(&w, st.size);
		json_key(&w, "mtime");
		json_int(&w, st.mtime);
		if (st.type == KILN_TAR_SYMLINK)
			json_kv_string(&w, "target", st.linkname);
		if (st.type == KILN_TAR_CHAR || st.type == KILN_TAR_BLOCK) {
			json_key(&w, "devmajor");
			json_uint(&w, st.devmajor);
			json_key(&w, "devminor");
			json_uint(&w, st.devminor);
		}
		json_end_object(&w);
	}
	json_end_array(&w);
	strbuf_addch(sb, '\n');
	return w.error;
}

static int list(const struct ls_args *a, bool json, struct kiln_fs *fs, const char *path)
{
	_cleanup_(rows_release) struct rows rows = { 0 };
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const struct kiln_fs_node *n;
	struct kiln_fs_stat st;
	size_t len = strlen(path);
	bool follow = !a->long_format || (len > 0 && path[len - 1] == '/');
	int r;

	r = kiln_fs_lookup(cli_ctx, fs, path, follow, &n);
	if (r < 0)
		return r;
	kiln_fs_node_stat(n, &st);
	if (st.type != KILN_TAR_DIR) {
		r = rows_add(&rows, n, strdup(path));
	} else if (a->recursive) {
		r = collect_recursive(n, &rows);
	} else {
		_cleanup_free_ const struct kiln_fs_node **children = NULL;
		int k = kiln_fs_children(n, &children);

		r = k < 0 ? k : 0;
		for (int i = 0; r >= 0 && i < k; i++) {
			kiln_fs_node_stat(children[i], &st);
			r = rows_add(&rows, children[i], strdup(st.name));
		}
	}
	if (r < 0)
		return r;
	if (json) {
		r = format_json(&sb, &rows);
		if (r < 0)
			return r;
	} else if (a->long_format) {
		format_long(&sb, &rows);
	} else {
		for (size_t i = 0; i < rows.n; i++)
			strbuf_addf(&sb, "%s\n", rows.v[i].name);
	}
	if (rows.n && !sb.buf)
		return -ENOMEM;
	return cli_write_strbuf(&sb) == EXIT_OK ? 0 : -EIO;
}

int cmd_ls(int argc, char **argv)
{
	static const struct option options[] = {
		{ "long", no_argument, NULL, 'l' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "platform", required_argument, NULL, OPT_LS_PLATFORM },
		{ 0 },
	};
	struct ls_args a = { 0 };
	struct cli_options o = {
		.name = "ls",
		.no_tree = true,
		.help = help,
		.extra = options,
		.short_options = "lR",
		.on_option = on_option,
		.userdata = &a,
	};
	_cleanup_(kiln_platform_release) struct kiln_platform platform = { 0 };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	_cleanup_(kiln_fs_freep) struct kiln_fs *fs = NULL;
	const char *ref, *path;
	bool json;
	int r;

	r = cli_parse_plain(argc, argv, &o, &json);
	if (r != CLI_CONTINUE)
		return r;
	if (optind >= argc || argc - optind > 2)
		return cli_usage("ls: expected REF [PATH]: run 'kiln ls --help'");
	ref = argv[optind];
	path = optind + 1 < argc ? argv[optind + 1] : "/";
	r = cli_parse_platform("ls", a.platform, &platform);
	if (r == EXIT_OK)
		r = cli_open_image("ls", ref, a.platform ? &platform : NULL, &s, &img);
	if (r != EXIT_OK)
		return r;
	r = kiln_fs_load_image(cli_ctx, s, img, &fs);
	if (r < 0)
		return cli_fail(r, "ls %s", ref);
	r = list(&a, json, fs, path);
	if (r == -EIO)
		return EXIT_FAILURE_;
	if (r < 0)
		return cli_fail(r, "ls %s %s", ref, path);
	return EXIT_OK;
}
