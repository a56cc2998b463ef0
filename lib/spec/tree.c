/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loading a package tree: discovery, the variable levels, rendering.
 *
 * The walk carries the variables down the directory tree: a vars.yaml is
 * rendered with what its ancestors set and adds to it for its directory and
 * everything below, so each file is read and rendered exactly once.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <kiln/spec.h>

#include "fileio.h"
#include "log.h"
#include "strbuf.h"
#include "srcmap.h"
#include "strmap.h"
#include "template.h"
#include "yaml-tree.h"

/* No real definition file comes near this; it bounds hostile input. */
#define MAX_DEFINITION_SIZE (16u << 20)
#define MAX_DIR_DEPTH 64

struct tree_pkg {
	struct kiln_pkg *pkg;
	struct strmap vars;
	struct kiln_tmpl *tmpls;
	size_t n_tmpls, alloc_tmpls;
};

struct kiln_tree {
	char *root;
	const char *platform;
	struct tree_pkg *pkgs; /* sorted by name once loaded */
	size_t n_pkgs, alloc_pkgs;
	struct kiln_tree_stats stats;
};

/* The loader's state during one walk. */
struct loader {
	struct kiln_ctx *ctx;
	struct kiln_tree *tree;
	bool keep_going;
	unsigned n_errors;
};

struct platform {
	const char *id;
	const char *arch;
	const char *cflags;
};

static const struct platform platforms[] = {
	{ "linux/amd64", "x86_64", "-O2 -g0 -march=x86-64-v2 -mtune=generic" },
	{ "linux/arm64", "aarch64", "-O2 -g0" },
};

static const struct platform *find_platform(const char *id)
{
	for (size_t i = 0; i < ELEMENTSOF(platforms); i++)
		if (streq(platforms[i].id, id))
			return &platforms[i];
	return NULL;
}

static const struct platform *host_platform(void)
{
	struct utsname u;

	if (uname(&u) == 0 && (streq(u.machine, "aarch64") || streq(u.machine, "arm64")))
		return &platforms[1];
	return &platforms[0];
}

/*
 * Levels 1 to 3 of bldr's variables: the defaults, the build machine's BUILD
 * and HOST, and the target's ARCH, TARGET and flags.
 */
static int set_builtins(struct strmap *vars, const struct platform *target,
			const struct platform *build)
{
	char triple[64];
	int r;

	const char *fixed[][2] = {
		{ "LDFLAGS", "-s" },
		{ "VENDOR", "talos" },
		{ "SYSROOT", "/talos" },
		{ "PATH", "/bin:/usr/bin:/sbin:/usr/sbin" },
		{ "ARCH", target->arch },
		{ "CFLAGS", target->cflags },
		{ "CXXFLAGS", target->cflags },
	};

	for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
		r = strmap_set(vars, fixed[i][0], fixed[i][1]);
		if (r < 0)
			return r;
	}
	snprintf(triple, sizeof(triple), "%s-linux-musl", build->arch);
	r = strmap_set(vars, "BUILD", triple);
	if (r >= 0)
		r = strmap_set(vars, "HOST", triple);
	if (r < 0)
		return r;
	snprintf(triple, sizeof(triple), "%s-talos-linux-musl", target->arch);
	return strmap_set(vars, "TARGET", triple);
}

static int set_build_args(struct kiln_ctx *ctx, struct strmap *vars, char *const *args, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(args[i], '=');
		_cleanup_free_ char *key = NULL;
		int r;

		if (!eq || eq == args[i])
			return kiln_error(ctx, EINVAL, "build argument '%s' is not KEY=VALUE", args[i]);
		if (asprintf(&key, "BUILD_ARG_%.*s", (int)(eq - args[i]), args[i]) < 0) {
			key = NULL;
			return -ENOMEM;
		}
		r = strmap_set(vars, key, eq + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The text of a scalar variable value; a YAML null gives "", as Go's decoder does. */
static int vars_from_mapping(struct kiln_ctx *ctx, const char *file, const struct yaml_node *map,
			     struct strmap *vars)
{
	if (!map)
		return 0;
	if (map->kind != YAML_MAPPING)
		return kiln_error_at(ctx, EINVAL, file, map->line, map->col,
				     "variables must be a mapping of names to values, not %s",
				     yaml_kind_name(map->kind));
	for (size_t i = 0; i < map->map.n; i++) {
		const struct yaml_node *v = map->map.pairs[i].value;
		int r;

		if (v->kind != YAML_SCALAR)
			return kiln_error_at(ctx, EINVAL, file, v->line, v->col,
					     "variable \"%s\" is %s; give it a single value",
					     map->map.pairs[i].key->scalar.text, yaml_kind_name(v->kind));
		if (yaml_is_null(v))
			r = strmap_set(vars, map->map.pairs[i].key->scalar.text, "");
		else
			r = strmap_set_len(vars, map->map.pairs[i].key->scalar.text, v->scalar.text,
					   v->scalar.len);
		if (r < 0)
			return r;
	}
	return 0;
}

static int load_pkgfile(struct kiln_ctx *ctx, int rootfd, struct strmap *vars)
{
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc = NULL;
	_cleanup_free_ char *buf = NULL;
	const struct yaml_node *format;
	size_t len;
	int r;

	r = read_file_at(rootfd, "Pkgfile", MAX_DEFINITION_SIZE, &buf, &len);
	if (r == -ENOENT)
		/* bldr skips a missing Pkgfile, and so do we */
		return 0;
	if (r < 0)
		return kiln_error(ctx, r, "cannot read 'Pkgfile': %s", strerror(-r));
	r = yaml_parse(ctx, "Pkgfile", buf, len, &doc);
	if (r < 0)
		return r;
	if (!doc->root || doc->root->kind != YAML_MAPPING)
		return kiln_error_at(ctx, EINVAL, "Pkgfile", doc->root ? doc->root->line : 1,
				     doc->root ? doc->root->col : 1,
				     "expected a mapping with \"format: v1alpha2\"");
	format = yaml_map_get(doc->root, "format");
	if (!format)
		return kiln_error_at(ctx, EINVAL, "Pkgfile", 1, 0,
				     "missing \"format\": add \"format: v1alpha2\"");
	if (format->kind != YAML_SCALAR || !streq(format->scalar.text, "v1alpha2"))
		return kiln_error_at(ctx, EINVAL, "Pkgfile", format->line, format->col,
				     "unsupported format \"%s\": kiln reads format v1alpha2",
				     format->kind == YAML_SCALAR ? format->scalar.text : "?");
	for (size_t i = 0; i < doc->root->map.n; i++) {
		const struct yaml_node *k = doc->root->map.pairs[i].key;
		const char *key = k->scalar.text;

		if (!streq(key, "format") && !streq(key, "vars") && !streq(key, "labels"))
			kiln_warn_at(ctx, "Pkgfile", k->line, k->col, "unknown key \"%s\", ignoring",
				     key);
	}
	return vars_from_mapping(ctx, "Pkgfile", yaml_map_get(doc->root, "vars"), vars);
}

/* Report an error of one file; with keep_going, log it and carry on. */
static int file_failed(struct loader *l, int r)
{
	if (r == -ENOMEM || !l->keep_going)
		return r;
	l->n_errors++;
	kiln_log(l->ctx, KILN_LOG_ERR, "%s", strempty(kiln_ctx_error(l->ctx)));
	kiln_ctx_clear_error(l->ctx);
	return 0;
}

/*
 * A definition file as read and rendered. Errors found in the rendered text
 * are reported at the place in the file the user wrote, through the map.
 */
struct rendered {
	char *src;
	char *text;
	size_t len;
	struct srcmap map;
};

static void rendered_release(struct rendered *r)
{
	srcmap_release(&r->map);
	free(r->text);
	free(r->src);
}

static void locate_in_template(void *userdata, unsigned *line, unsigned *col)
{
	srcmap_locate(userdata, line, col);
}

/* Read @name in @dirfd and render it; @file is its path from the root, for messages. */
static int read_rendered(struct kiln_ctx *ctx, int dirfd, const char *name, const char *file,
			 const struct strmap *vars, struct rendered *ret)
{
	size_t len;
	int r;

	r = read_file_at(dirfd, name, MAX_DEFINITION_SIZE, &ret->src, &len);
	if (r == -EFBIG)
		return kiln_error(ctx, r, "'%s' is larger than %u MiB, which no package file needs",
				  file, MAX_DEFINITION_SIZE >> 20);
	if (r < 0)
		return kiln_error(ctx, r, "cannot read '%s': %s", file, strerror(-r));
	return kiln_template_render_mapped(ctx, file, ret->src, len, vars, &ret->text, &ret->len,
					   &ret->map);
}

static int load_vars_yaml(struct kiln_ctx *ctx, int dirfd, const char *file, struct strmap *vars)
{
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc = NULL;
	_cleanup_(rendered_release) struct rendered rd = { 0 };
	_cleanup_strmap_ struct strmap add = STRMAP_INIT;
	int r;

	/* rendered with the ancestors' values only: a file cannot see its own */
	r = read_rendered(ctx, dirfd, "vars.yaml", file, vars, &rd);
	if (r < 0)
		return r;
	kiln_ctx_set_locator(ctx, file, locate_in_template, &rd.map);
	r = yaml_parse(ctx, file, rd.text, rd.len, &doc);
	if (r >= 0)
		r = vars_from_mapping(ctx, file, doc->root, &add);
	kiln_ctx_set_locator(ctx, NULL, NULL, NULL);
	if (r < 0)
		return r;
	return strmap_merge(vars, &add);
}

static int load_pkg_yaml(struct loader *l, int dirfd, const char *dir, const char *file,
			 const struct strmap *vars, struct tree_pkg **ret)
{
	struct kiln_tree *tree = l->tree;
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = NULL;
	_cleanup_(rendered_release) struct rendered rd = { 0 };
	struct tree_pkg *tp;
	int r;

	r = read_rendered(l->ctx, dirfd, "pkg.yaml", file, vars, &rd);
	if (r < 0)
		return r;
	kiln_ctx_set_locator(l->ctx, file, locate_in_template, &rd.map);
	r = kiln_pkg_parse(l->ctx, file, rd.text, rd.len, &pkg);
	kiln_ctx_set_locator(l->ctx, NULL, NULL, NULL);
	if (r < 0)
		return r;
	pkg->file = strdup(file);
	pkg->dir = strdup(dir);
	if (!pkg->file || !pkg->dir)
		return -ENOMEM;
	r = GROW(tree->pkgs, tree->alloc_pkgs, tree->n_pkgs + 1);
	if (r < 0)
		return r;
	tp = &tree->pkgs[tree->n_pkgs];
	*tp = (struct tree_pkg){ .vars = STRMAP_INIT };
	r = strmap_copy(&tp->vars, vars);
	if (r < 0)
		return r;
	tp->pkg = TAKE_PTR(pkg);
	tree->n_pkgs++;
	*ret = tp;
	return 0;
}

static int load_tmpl(struct loader *l, int dirfd, const char *name, const char *file,
		     struct tree_pkg *owner)
{
	_cleanup_(rendered_release) struct rendered rd = { 0 };
	_cleanup_free_ char *path = NULL, *file_copy = NULL;
	const char *rel;
	size_t dirlen;
	int r;

	if (!owner) {
		kiln_warn_at(l->ctx, file, 0, 0, "template belongs to no package, ignoring");
		return 0;
	}
	r = read_rendered(l->ctx, dirfd, name, file, &owner->vars, &rd);
	if (r < 0)
		return r;

	/* the path inside /pkg: relative to the package directory, suffix dropped */
	dirlen = streq(owner->pkg->dir, ".") ? 0 : strlen(owner->pkg->dir) + 1;
	rel = file + dirlen;
	path = strndup(rel, strlen(rel) - strlen(".tmpl"));
	file_copy = strdup(file);
	if (!path || !file_copy)
		return -ENOMEM;
	r = GROW(owner->tmpls, owner->alloc_tmpls, owner->n_tmpls + 1);
	if (r < 0)
		return r;
	owner->tmpls[owner->n_tmpls++] = (struct kiln_tmpl){
		.path = TAKE_PTR(path),
		.file = TAKE_PTR(file_copy),
		.text = TAKE_PTR(rd.text),
		.len = rd.len,
	};
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && streq(s + ls - lx, suffix);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct dir_listing {
	char **names;
	size_t n, alloc;
	bool has_vars, has_pkg;
};

static void dir_listing_release(struct dir_listing *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->names[i]);
	free(d->names);
}

/* The entries of @dirfd that the walk cares about, sorted, as bldr's walk sees them. */
static int list_dir(int dirfd, bool at_root, struct dir_listing *ret)
{
	DIR *d;
	struct dirent *de;
	int fd, r = 0;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((errno = 0, de = readdir(d))) {
		const char *n = de->d_name;
		char *copy;

		if (n[0] == '.' || (at_root && streq(n, "_out")))
			continue;
		if (streq(n, "vars.yaml"))
			ret->has_vars = true;
		else if (streq(n, "pkg.yaml"))
			ret->has_pkg = true;
		else if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN && !has_suffix(n, ".tmpl"))
			continue;
		copy = strdup(n);
		if (!copy || GROW(ret->names, ret->alloc, ret->n + 1) < 0) {
			free(copy);
			r = -ENOMEM;
			break;
		}
		ret->names[ret->n++] = copy;
	}
	if (!r && errno)
		r = -errno;
	closedir(d);
	if (r == 0 && ret->n > 1)
		qsort(ret->names, ret->n, sizeof(char *), cmp_name);
	return r;
}

static int walk(struct loader *l, int dirfd, const char *dir, const struct strmap *parent_vars,
		size_t owner_index, unsigned depth)
{
	_cleanup_(dir_listing_release) struct dir_listing ls = { 0 };
	_cleanup_strmap_ struct strmap vars = STRMAP_INIT;
	const struct strmap *cur = parent_vars;
	size_t owner = owner_index;
	int r;

	if (depth > MAX_DIR_DEPTH)
		return kiln_error(l->ctx, ELOOP, "'%s' is nested deeper than %u directories", dir,
				  MAX_DIR_DEPTH);
	r = list_dir(dirfd, depth == 0, &ls);
	if (r < 0)
		return kiln_error(l->ctx, r, "cannot list '%s': %s", dir, strerror(-r));

	if (ls.has_vars) {
		_cleanup_free_ char *file = path_join(dir, "vars.yaml");

		if (!file)
			return -ENOMEM;
		l->tree->stats.n_vars_yaml++;
		r = strmap_copy(&vars, parent_vars);
		if (r < 0)
			return r;
		r = load_vars_yaml(l->ctx, dirfd, streq(dir, ".") ? "vars.yaml" : file, &vars);
		/* a broken vars.yaml breaks everything below it: do not guess */
		if (r < 0)
			return file_failed(l, r);
		cur = &vars;
	}
	if (ls.has_pkg) {
		_cleanup_free_ char *file = path_join(dir, "pkg.yaml");
		struct tree_pkg *tp;

		if (!file)
			return -ENOMEM;
		l->tree->stats.n_pkg_yaml++;
		r = load_pkg_yaml(l, dirfd, dir, streq(dir, ".") ? "pkg.yaml" : file, cur, &tp);
		if (r < 0) {
			r = file_failed(l, r);
			if (r < 0)
				return r;
			owner = SIZE_MAX;
		} else {
			owner = (size_t)(tp - l->tree->pkgs);
		}
	}

	for (size_t i = 0; i < ls.n; i++) {
		const char *name = ls.names[i];
		_cleanup_free_ char *sub = NULL;
		_cleanup_close_ int subfd = -1;
		struct stat st;

		if (streq(name, "vars.yaml") || streq(name, "pkg.yaml"))
			continue;
		sub = streq(dir, ".") ? strdup(name) : path_join(dir, name);
		if (!sub)
			return -ENOMEM;
		/* directories behind symlinks are not followed: they could loop */
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			subfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (subfd < 0)
				return kiln_error(l->ctx, errno, "cannot open '%s': %m", sub);
			r = walk(l, subfd, sub, cur, owner, depth + 1);
			if (r < 0)
				return r;
		} else if (has_suffix(name, ".tmpl")) {
			l->tree->stats.n_tmpl++;
			r = load_tmpl(l, dirfd, name, sub,
				      owner == SIZE_MAX ? NULL : &l->tree->pkgs[owner]);
			if (r < 0) {
				r = file_failed(l, r);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

static int cmp_tree_pkg(const void *a, const void *b)
{
	const struct tree_pkg *x = a, *y = b;

	return strcmp(x->pkg->name, y->pkg->name);
}

static int cmp_tmpl(const void *a, const void *b)
{
	const struct kiln_tmpl *x = a, *y = b;

	return strcmp(x->path, y->path);
}

static int check_unique_names(struct loader *l)
{
	struct kiln_tree *tree = l->tree;

	for (size_t i = 1; i < tree->n_pkgs; i++) {
		const struct kiln_pkg *a = tree->pkgs[i - 1].pkg, *b = tree->pkgs[i].pkg;
		int r;

		if (!streq(a->name, b->name))
			continue;
		r = kiln_error(l->ctx, EEXIST,
			       "package \"%s\" is defined twice, in '%s' and in '%s': names must be unique across the tree",
			       a->name, a->file, b->file);
		r = file_failed(l, r);
		if (r < 0)
			return r;
	}
	return 0;
}

int kiln_tree_load(struct kiln_ctx *ctx, const char *root, const struct kiln_tree_options *opts,
		   struct kiln_tree **ret)
{
	static const struct kiln_tree_options defaults;
	_cleanup_(kiln_tree_freep) struct kiln_tree *tree = NULL;
	_cleanup_strmap_ struct strmap vars = STRMAP_INIT;
	_cleanup_close_ int rootfd = -1;
	const struct platform *target;
	struct loader l;
	int r;

	if (!opts)
		opts = &defaults;
	target = opts->platform ? find_platform(opts->platform) : host_platform();
	if (!target)
		return kiln_error(ctx, EINVAL,
				  "unknown platform '%s': use linux/amd64 or linux/arm64",
				  opts->platform);

	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return kiln_error(ctx, errno, "cannot open package tree '%s': %m", root);

	tree = calloc(1, sizeof(*tree));
	if (!tree)
		return -ENOMEM;
	tree->root = strdup(root);
	if (!tree->root)
		return -ENOMEM;
	tree->platform = target->id;

	/* lowest to highest: built-ins, build arguments, Pkgfile vars, then vars.yaml files */
	r = set_builtins(&vars, target, host_platform());
	if (r < 0)
		return r;
	r = set_build_args(ctx, &vars, opts->build_args, opts->n_build_args);
	if (r < 0)
		return r;
	r = load_pkgfile(ctx, rootfd, &vars);
	if (r < 0)
		return r;

	l = (struct loader){ .ctx = ctx, .tree = tree, .keep_going = opts->keep_going };
	r = walk(&l, rootfd, ".", &vars, SIZE_MAX, 0);
	if (r < 0)
		return r;

	if (tree->n_pkgs > 1)
		qsort(tree->pkgs, tree->n_pkgs, sizeof(*tree->pkgs), cmp_tree_pkg);
	for (size_t i = 0; i < tree->n_pkgs; i++)
		if (tree->pkgs[i].n_tmpls > 1)
			qsort(tree->pkgs[i].tmpls, tree->pkgs[i].n_tmpls, sizeof(struct kiln_tmpl),
			      cmp_tmpl);
	r = check_unique_names(&l);
	if (r < 0)
		return r;
	if (l.n_errors)
		return kiln_error(ctx, EINVAL, "%u error%s in package tree '%s'", l.n_errors,
				  l.n_errors == 1 ? "" : "s", root);

	*ret = TAKE_PTR(tree);
	return 0;
}

void kiln_tree_free(struct kiln_tree *tree)
{
	if (!tree)
		return;
	for (size_t i = 0; i < tree->n_pkgs; i++) {
		struct tree_pkg *tp = &tree->pkgs[i];

		kiln_pkg_free(tp->pkg);
		strmap_release(&tp->vars);
		for (size_t j = 0; j < tp->n_tmpls; j++) {
			free(tp->tmpls[j].path);
			free(tp->tmpls[j].file);
			free(tp->tmpls[j].text);
		}
		free(tp->tmpls);
	}
	free(tree->pkgs);
	free(tree->root);
	free(tree);
}

size_t kiln_tree_n_pkgs(const struct kiln_tree *tree)
{
	return tree->n_pkgs;
}

const struct kiln_pkg *kiln_tree_pkg(const struct kiln_tree *tree, size_t i)
{
	return i < tree->n_pkgs ? tree->pkgs[i].pkg : NULL;
}

static const struct tree_pkg *find_tree_pkg(const struct kiln_tree *tree, const char *name)
{
	size_t lo = 0, hi = tree->n_pkgs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, tree->pkgs[mid].pkg->name);

		if (c == 0)
			return &tree->pkgs[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct kiln_pkg *kiln_tree_find(const struct kiln_tree *tree, const char *name)
{
	const struct tree_pkg *tp = find_tree_pkg(tree, name);

	return tp ? tp->pkg : NULL;
}

const char *kiln_tree_var(const struct kiln_tree *tree, const struct kiln_pkg *pkg,
			  const char *key)
{
	const struct tree_pkg *tp = find_tree_pkg(tree, pkg->name);

	return tp ? strmap_get(&tp->vars, key) : NULL;
}

const struct kiln_tmpl *kiln_tree_templates(const struct kiln_tree *tree,
					    const struct kiln_pkg *pkg, size_t *ret_n)
{
	const struct tree_pkg *tp = find_tree_pkg(tree, pkg->name);

	*ret_n = tp ? tp->n_tmpls : 0;
	return tp ? tp->tmpls : NULL;
}

const char *kiln_tree_platform(const struct kiln_tree *tree)
{
	return tree->platform;
}

const char *kiln_tree_root(const struct kiln_tree *tree)
{
	return tree->root;
}

void kiln_tree_stats(const struct kiln_tree *tree, struct kiln_tree_stats *ret)
{
	*ret = tree->stats;
}

int kiln_tree_eval(struct kiln_ctx *ctx, const struct kiln_tree *tree, const char *target,
		   const char *text, char **ret)
{
	const struct tree_pkg *tp = find_tree_pkg(tree, target);

	if (!tp)
		return kiln_error(ctx, ENOENT, "package \"%s\" not defined in '%s'", target,
				  tree->root);
	return kiln_template_render(ctx, "<eval>", text, strlen(text), &tp->vars, ret, NULL);
}
