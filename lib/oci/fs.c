/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The flattened filesystem of an image, in memory and metadata only: what
 * `kiln ls` lists and where `kiln cat` finds a file's bytes, without
 * unpacking anything to disk.
 *
 * Layers are applied the way unpack.c applies them to a directory, so that
 * both agree: whiteouts delete, opaque markers hide what lower layers put
 * in a directory, a path through a symlink is resolved as if the image
 * were the root, a directory missing from a layer is made for its
 * children, but never through a symlink whose target is missing (the
 * kernel's mkdir would find the symlink there and fail). An entry whose
 * way in goes through a symlink that leaves the root ("a -> /", "up ->
 * ../../..") is refused, as unpack.c refuses it; looking paths up for
 * ls and cat follows such symlinks inside, as the image's own root would.
 *
 * Nodes live in one hash table keyed by (parent, name), and each directory
 * keeps a list of its children. Trees made by hostile layers can be deep
 * (each entry may go through a symlink into a deeper directory), so
 * nothing here recurses over the depth of the tree.
 */
#include <string.h>

#include <kiln/layer.h>

#include "layer-internal.h"
#include "log.h"
#include "strbuf.h"
#include "tar-format.h"

#define MAX_SYMLINK_HOPS 40

struct kiln_fs_node {
	char *name;
	struct kiln_fs_node *parent;
	struct kiln_fs_node *first_child, *prev, *next;
	struct kiln_fs_node *hnext;
	size_t hash;
	char type;
	uint32_t mode;
	uint64_t uid, gid, size;
	int64_t mtime;
	char *linkname;
	uint32_t devmajor, devminor;
	unsigned layer; /* the layer that last wrote it */
	unsigned data_layer; /* regular files: where the bytes are */
	uint64_t data_entry;
	bool implicit;
};

struct kiln_fs {
	struct kiln_fs_node root;
	struct kiln_fs_node **buckets;
	size_t n_buckets; /* a power of two */
	size_t n_nodes;
};

static size_t node_hash(const struct kiln_fs_node *parent, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(uintptr_t)parent;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ull;
	}
	return (size_t)(h ^ (h >> 32));
}

int kiln_fs_new(struct kiln_fs **ret)
{
	struct kiln_fs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return -ENOMEM;
	fs->root.name = strdup("");
	fs->n_buckets = 1024;
	fs->buckets = calloc(fs->n_buckets, sizeof(*fs->buckets));
	if (!fs->root.name || !fs->buckets) {
		kiln_fs_free(fs);
		return -ENOMEM;
	}
	fs->root.type = KILN_TAR_DIR;
	fs->root.mode = 0755;
	fs->root.implicit = true;
	*ret = fs;
	return 0;
}

static struct kiln_fs_node *child_of(const struct kiln_fs *fs, const struct kiln_fs_node *dir,
				     const char *name, size_t len)
{
	size_t h = node_hash(dir, name, len);

	for (struct kiln_fs_node *n = fs->buckets[h & (fs->n_buckets - 1)]; n; n = n->hnext)
		if (n->hash == h && n->parent == dir && strncmp(n->name, name, len) == 0 &&
		    n->name[len] == '\0')
			return n;
	return NULL;
}

static int grow_table(struct kiln_fs *fs)
{
	size_t n = fs->n_buckets * 2;
	struct kiln_fs_node **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < fs->n_buckets; i++)
		for (struct kiln_fs_node *x = fs->buckets[i], *next; x; x = next) {
			next = x->hnext;
			x->hnext = b[x->hash & (n - 1)];
			b[x->hash & (n - 1)] = x;
		}
	free(fs->buckets);
	fs->buckets = b;
	fs->n_buckets = n;
	return 0;
}

static int insert_child(struct kiln_ctx *ctx, struct kiln_fs *fs, struct kiln_fs_node *dir,
			const char *name, size_t len, struct kiln_fs_node **ret)
{
	struct kiln_fs_node *n;
	size_t slot;

	if (fs->n_nodes >= KILN_FS_MAX_NODES)
		return kiln_error(ctx, E2BIG, "more than %u files in the image", KILN_FS_MAX_NODES);
	if (fs->n_nodes >= fs->n_buckets && grow_table(fs) < 0)
		return -ENOMEM;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->name = strndup(name, len);
	if (!n->name) {
		free(n);
		return -ENOMEM;
	}
	n->parent = dir;
	n->hash = node_hash(dir, name, len);
	slot = n->hash & (fs->n_buckets - 1);
	n->hnext = fs->buckets[slot];
	fs->buckets[slot] = n;
	n->next = dir->first_child;
	if (dir->first_child)
		dir->first_child->prev = n;
	dir->first_child = n;
	fs->n_nodes++;
	*ret = n;
	return 0;
}

static void unlink_node(struct kiln_fs *fs, struct kiln_fs_node *n)
{
	struct kiln_fs_node **pp = &fs->buckets[n->hash & (fs->n_buckets - 1)];

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	if (n->prev)
		n->prev->next = n->next;
	else
		n->parent->first_child = n->next;
	if (n->next)
		n->next->prev = n->prev;
	free(n->name);
	free(n->linkname);
	free(n);
	fs->n_nodes--;
}

/* Remove @top and everything below it, leaves first, without recursion. */
static void remove_tree(struct kiln_fs *fs, struct kiln_fs_node *top)
{
	struct kiln_fs_node *n = top;

	for (;;) {
		struct kiln_fs_node *parent;
		bool last;

		while (n->first_child)
			n = n->first_child;
		parent = n->parent;
		last = n == top;
		unlink_node(fs, n);
		if (last)
			return;
		n = parent;
	}
}

void kiln_fs_free(struct kiln_fs *fs)
{
	if (!fs)
		return;
	while (fs->root.first_child)
		remove_tree(fs, fs->root.first_child);
	free(fs->root.name);
	free(fs->buckets);
	free(fs);
}

/* ---- paths ------------------------------------------------------------------ */

struct walk {
	bool follow_last; /* follow a symlink in the last component */
	bool create; /* make missing directories (never in a symlink's target) */
	/*
	 * Applying this entry (clean; a hard link to @link_to, the path walked):
	 * refuse it when the walk goes through a symlink that leaves the root.
	 * NULL for lookups, which follow such symlinks inside.
	 */
	const char *entry, *link_to;
};

/*
 * Whether the symlink text @target, followed from a directory @depth levels
 * below the root, leaves the root, judged on the text alone (unpack.c
 * judges the same way, so that ls and unpack refuse the same layers): a
 * relative target whose ".." climbs above the root at any point, or an
 * absolute one that is the root itself ("/", "//", "/.", "/usr/.."). The
 * walk would keep either inside, the root being its own parent, but a
 * layer that writes through one means the host's root, which is what an
 * escape attempt looks like and no ordinary image needs. Other absolute
 * targets ("var/run -> /run") are common in real images and are followed
 * inside, as a container follows them.
 */
bool layer_symlink_leaves_root(const char *target, size_t depth)
{
	bool absolute = target[0] == '/';

	if (absolute)
		depth = 0;
	for (const char *p = target; *p;) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			/* "/.." is "/", as the kernel has it: for those only the end counts */
			if (depth == 0 && !absolute)
				return true;
			if (depth > 0)
				depth--;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		p += len + (p[len] == '/');
	}
	return absolute && depth == 0;
}

/* The refusal of w->entry for going through the symlink @sym, which is in @dir. */
static int refuse_symlink(struct kiln_ctx *ctx, const struct walk *w,
			  const struct kiln_fs_node *dir, const struct kiln_fs_node *sym)
{
	_cleanup_free_ char *where = kiln_fs_node_path(dir);
	_cleanup_free_ char *q = quote_for_message(sym->linkname, strlen(sym->linkname), 200);
	const char *slash = dir->parent ? "/" : "";

	if (!where || !q)
		return -ENOMEM;
	/* node paths start with "/"; entries and symlinks are named as in the layer */
	if (w->link_to)
		return kiln_error(ctx, EINVAL,
				  "hard link \"%s\" to \"%s\" goes through symlink \"%s%s%s\" -> "
				  "\"%s\" which leaves the image root; refusing it",
				  w->entry, w->link_to, where + 1, slash, sym->name, q);
	return kiln_error(ctx, EINVAL,
			  "entry \"%s\" goes through symlink \"%s%s%s\" -> \"%s\" which leaves the "
			  "image root; refusing it",
			  w->entry, where + 1, slash, sym->name, q);
}

static size_t node_depth(const struct kiln_fs_node *n)
{
	size_t depth = 0;

	for (; n->parent; n = n->parent)
		depth++;
	return depth;
}

/*
 * Resolve @path from the root as the kernel would with the image as the
 * root directory: "." and empty components skipped, ".." up (the root is
 * its own parent), symlinks followed (at most 40). Components that come
 * from @path itself may be created as implicit directories; those that
 * come from a symlink's target never are.
 */
static int walk(struct kiln_ctx *ctx, struct kiln_fs *fs, const char *path, const struct walk *w,
		unsigned layer, struct kiln_fs_node **ret)
{
	_cleanup_strbuf_ struct strbuf pending = STRBUF_INIT;
	struct kiln_fs_node *cur = &fs->root;
	size_t pos = 0, own_from = 0; /* pending[own_from..] is text of @path itself */
	unsigned hops = 0;
	int r;

	if (strbuf_adds(&pending, path) < 0)
		return -ENOMEM;
	for (;;) {
		struct kiln_fs_node *child;
		size_t start, len, next;
		bool last;

		while (pos < pending.len && pending.buf[pos] == '/')
			pos++;
		if (pos >= pending.len)
			break;
		start = pos;
		while (pos < pending.len && pending.buf[pos] != '/')
			pos++;
		len = pos - start;
		for (next = pos; next < pending.len && pending.buf[next] == '/'; next++)
			;
		last = next >= pending.len;
		if (cur->type != KILN_TAR_DIR)
			return kiln_error(ctx, ENOTDIR, "\"%s\": \"%.*s\" is not a directory", path,
					  (int)start, pending.buf);
		if (len == 1 && pending.buf[start] == '.')
			continue;
		if (len == 2 && pending.buf[start] == '.' && pending.buf[start + 1] == '.') {
			if (cur->parent)
				cur = cur->parent;
			continue;
		}
		child = child_of(fs, cur, pending.buf + start, len);
		if (!child && w->create && start >= own_from) {
			r = insert_child(ctx, fs, cur, pending.buf + start, len, &child);
			if (r < 0)
				return r;
			child->type = KILN_TAR_DIR;
			child->mode = 0755;
			child->implicit = true;
			child->layer = layer;
		}
		if (!child)
			return kiln_error(ctx, ENOENT, "\"%s\": no such file or directory", path);
		if (child->type == KILN_TAR_SYMLINK && (!last || w->follow_last)) {
			_cleanup_strbuf_ struct strbuf next_pending = STRBUF_INIT;

			if (++hops > MAX_SYMLINK_HOPS)
				return kiln_error(ctx, ELOOP, "\"%s\": too many levels of symlinks",
						  path);
			if (w->entry && layer_symlink_leaves_root(child->linkname, node_depth(cur)))
				return refuse_symlink(ctx, w, cur, child);
			if (strbuf_adds(&next_pending, child->linkname) < 0 ||
			    strbuf_addch(&next_pending, '/') < 0)
				return -ENOMEM;
			/* what is left of the path after the link is still the caller's text */
			if (pos < own_from)
				own_from = next_pending.len + (own_from - pos);
			else
				own_from = next_pending.len;
			if (strbuf_add(&next_pending, pending.buf + pos, pending.len - pos) < 0)
				return -ENOMEM;
			strbuf_release(&pending);
			pending = next_pending;
			next_pending = (struct strbuf)STRBUF_INIT;
			pos = 0;
			if (child->linkname[0] == '/')
				cur = &fs->root;
			continue;
		}
		cur = child;
	}
	*ret = cur;
	return 0;
}

int kiln_fs_lookup(struct kiln_ctx *ctx, const struct kiln_fs *fs, const char *path, bool follow,
		   const struct kiln_fs_node **ret)
{
	struct walk w = { .follow_last = follow };
	struct kiln_fs_node *n;
	int r;

	/* walk() takes a mutable fs for creating; it creates nothing here */
	r = walk(ctx, (struct kiln_fs *)fs, path, &w, 0, &n);
	if (r < 0)
		return r;
	*ret = n;
	return 0;
}

/* ---- applying a layer ----------------------------------------------------------- */

static void set_meta(struct kiln_fs_node *n, const struct kiln_fs_node *from)
{
	n->type = from->type;
	n->mode = from->mode;
	n->uid = from->uid;
	n->gid = from->gid;
	n->size = from->size;
	n->mtime = from->mtime;
	n->devmajor = from->devmajor;
	n->devminor = from->devminor;
	n->data_layer = from->data_layer;
	n->data_entry = from->data_entry;
}

/* ".wh..wh..opq": hide what lower layers put in @dir; this layer's entries stay. */
static void apply_opaque(struct kiln_fs *fs, struct kiln_fs_node *dir, unsigned layer)
{
	for (struct kiln_fs_node *c = dir->first_child, *next; c; c = next) {
		next = c->next;
		if (c->layer < layer)
			remove_tree(fs, c);
	}
}

/* @path: the entry, clean; @parent and @base: its directory and its name. */
static int apply_whiteout(struct kiln_ctx *ctx, struct kiln_fs *fs, const char *path,
			  const char *parent, const char *base, unsigned layer)
{
	struct walk w = { .follow_last = true, .entry = path };
	struct kiln_fs_node *dir, *victim;
	const char *name = base + 4;
	int r;

	/* a whiteout in a directory that is not there has nothing to hide */
	r = walk(ctx, fs, parent, &w, layer, &dir);
	if (r == -ENOENT || r == -ENOTDIR) {
		kiln_ctx_clear_error(ctx);
		return 0;
	}
	if (r < 0)
		return r;
	if (dir->type != KILN_TAR_DIR)
		return 0;
	if (streq(base, ".wh..wh..opq")) {
		apply_opaque(fs, dir, layer);
		return 0;
	}
	/* other ".wh..wh." names are aufs bookkeeping, which docker skips too */
	if (strncmp(base, ".wh..wh.", 8) == 0)
		return 0;
	if (!name[0] || streq(name, ".") || streq(name, ".."))
		return kiln_error(ctx, EINVAL, "entry \"%s\": a whiteout of \"%s\"", path, name);
	victim = child_of(fs, dir, name, strlen(name));
	if (victim)
		remove_tree(fs, victim);
	return 0;
}

/* The hard link's target, as it is now: resolved from the root, its last component not followed. */
static int link_target(struct kiln_ctx *ctx, struct kiln_fs *fs, const char *path,
		       const char *linkname, unsigned layer, struct kiln_fs_node **ret)
{
	_cleanup_free_ char *clean = NULL;
	struct walk w = { .follow_last = false, .entry = path };
	struct kiln_fs_node *n;
	int r;

	r = kiln_tar_path_clean(ctx, linkname, &clean);
	if (r < 0) {
		kiln_error_prefix(ctx, "hard link \"%s\"", path);
		return r;
	}
	w.link_to = clean;
	r = walk(ctx, fs, clean, &w, layer, &n);
	if (r == -ENOENT || r == -ENOTDIR || (r >= 0 && n == &fs->root))
		return kiln_error(ctx, ENOENT, "hard link \"%s\" to \"%s\": no such file", path,
				  linkname);
	if (r < 0)
		return r;
	if (n->type == KILN_TAR_DIR)
		return kiln_error(ctx, EPERM, "hard link \"%s\" to the directory \"%s\"", path,
				  linkname);
	*ret = n;
	return 0;
}

int layer_entry_check(struct kiln_ctx *ctx, const struct kiln_tar_entry *e, char **ret_clean,
		      const char **ret_base)
{
	_cleanup_free_ char *clean = NULL;
	const char *base, *slash;
	int r;

	r = kiln_tar_path_clean(ctx, e->path, &clean);
	if (r < 0)
		return r;
	if (!tar_type_is_known(e->type))
		return kiln_error(ctx, EOPNOTSUPP, "entry \"%s\": unsupported type '%c'", clean,
				  e->type);
	if (!clean[0]) {
		/* the root itself ("./"): it stays the directory it is */
		if (e->type != KILN_TAR_DIR)
			return kiln_error(ctx, EINVAL, "entry \"%s\": the root must be a directory",
					  e->path);
		return 0;
	}
	slash = strrchr(clean, '/');
	base = slash ? slash + 1 : clean;
	for (const char *p = clean; p < base; p = strchr(p, '/') + 1)
		if (strncmp(p, ".wh.", 4) == 0)
			return kiln_error(ctx, EINVAL,
					  "entry \"%s\": a whiteout used as a directory", clean);
	*ret_base = base;
	*ret_clean = TAKE_PTR(clean);
	return 1;
}

int layer_fs_apply_entry(struct kiln_ctx *ctx, struct kiln_fs *fs, unsigned layer, uint64_t index,
			 const struct kiln_tar_entry *e)
{
	_cleanup_free_ char *clean = NULL, *parent = NULL, *linkname = NULL;
	struct kiln_fs_node meta = { 0 }, *dir, *existing, *n;
	struct walk w = { .follow_last = true, .create = true };
	const char *base;
	int r;

	r = layer_entry_check(ctx, e, &clean, &base);
	if (r <= 0)
		return r;
	/* @clean stays whole: a refusal names the entry */
	parent = strndup(clean, base > clean ? (size_t)(base - 1 - clean) : 0);
	if (!parent)
		return -ENOMEM;
	if (strncmp(base, ".wh.", 4) == 0)
		return apply_whiteout(ctx, fs, clean, parent, base, layer);

	meta.type = e->type;
	meta.mode = e->mode & 07777;
	meta.uid = e->uid;
	meta.gid = e->gid;
	meta.mtime = e->mtime;
	meta.size = e->type == KILN_TAR_REG ? e->size : 0;
	meta.devmajor = e->devmajor;
	meta.devminor = e->devminor;
	meta.data_layer = layer;
	meta.data_entry = index;
	if (e->type == KILN_TAR_SYMLINK) {
		if (strlen(e->linkname) > KILN_TAR_PATH_MAX)
			return kiln_error(ctx, ENAMETOOLONG, "symlink \"%s\": target too long",
					  e->path);
		linkname = strdup(e->linkname);
		if (!linkname)
			return -ENOMEM;
	}

	/* @w creates missing parents; the new entry itself is made below */
	w.entry = clean;
	r = walk(ctx, fs, parent, &w, layer, &dir);
	if (r < 0)
		return r;
	if (dir->type != KILN_TAR_DIR)
		return kiln_error(ctx, ENOTDIR, "entry \"%s\": its parent is not a directory",
				  e->path);
	existing = child_of(fs, dir, base, strlen(base));

	if (e->type == KILN_TAR_LINK) {
		struct kiln_fs_node *target = NULL;

		r = link_target(ctx, fs, clean, e->linkname, layer, &target);
		if (r < 0)
			return r;
		if (target == existing)
			return 0;
		/* a link has what its target has; the target may go away just below */
		set_meta(&meta, target);
		if (target->linkname) {
			linkname = strdup(target->linkname);
			if (!linkname)
				return -ENOMEM;
		}
	}
	if (existing && existing->type == KILN_TAR_DIR && meta.type == KILN_TAR_DIR) {
		existing->mode = meta.mode;
		existing->uid = meta.uid;
		existing->gid = meta.gid;
		existing->mtime = meta.mtime;
		existing->implicit = false;
		existing->layer = layer;
		return 0;
	}
	if (existing)
		remove_tree(fs, existing);
	r = insert_child(ctx, fs, dir, base, strlen(base), &n);
	if (r < 0)
		return r;
	set_meta(n, &meta);
	n->linkname = TAKE_PTR(linkname);
	n->layer = layer;
	return 0;
}

int kiln_fs_apply(struct kiln_ctx *ctx, struct kiln_fs *fs, unsigned layer,
		  struct kiln_tar_reader *tr)
{
	const struct kiln_tar_entry *e;
	int r;

	while ((r = kiln_tar_reader_next(tr, &e)) > 0) {
		r = layer_fs_apply_entry(ctx, fs, layer, kiln_tar_reader_index(tr), e);
		if (r < 0)
			return r;
	}
	return r;
}

struct fs_load {
	struct kiln_ctx *ctx;
	struct kiln_fs *fs;
};

static int fs_apply_layer(void *userdata, size_t i, struct kiln_tar_reader *tar)
{
	struct fs_load *l = userdata;

	return kiln_fs_apply(l->ctx, l->fs, (unsigned)i, tar);
}

int kiln_fs_load_image(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *img,
		       struct kiln_fs **ret)
{
	_cleanup_(kiln_fs_freep) struct kiln_fs *fs = NULL;
	int r;

	r = kiln_fs_new(&fs);
	if (r < 0)
		return r;
	r = layer_apply_image(ctx, s, img, fs_apply_layer, &(struct fs_load){ ctx, fs });
	if (r < 0)
		return r;
	*ret = TAKE_PTR(fs);
	return 0;
}

/* ---- looking at nodes ----------------------------------------------------------- */

void kiln_fs_node_stat(const struct kiln_fs_node *n, struct kiln_fs_stat *ret)
{
	*ret = (struct kiln_fs_stat){
		.name = n->name,
		.type = n->type,
		.mode = n->mode,
		.uid = n->uid,
		.gid = n->gid,
		.size = n->size,
		.mtime = n->mtime,
		.linkname = n->linkname,
		.devmajor = n->devmajor,
		.devminor = n->devminor,
		.layer = n->data_layer,
		.implicit = n->implicit,
	};
}

char *kiln_fs_node_path(const struct kiln_fs_node *n)
{
	size_t len = 0;
	char *s, *p;

	if (!n->parent)
		return strdup("/");
	for (const struct kiln_fs_node *x = n; x->parent; x = x->parent)
		len += strlen(x->name) + 1;
	s = malloc(len + 1);
	if (!s)
		return NULL;
	p = s + len;
	*p = '\0';
	for (const struct kiln_fs_node *x = n; x->parent; x = x->parent) {
		size_t k = strlen(x->name);

		p -= k;
		memcpy(p, x->name, k);
		*--p = '/';
	}
	return s;
}

static int node_name_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct kiln_fs_node *const *)a)->name,
		      (*(const struct kiln_fs_node *const *)b)->name);
}

int kiln_fs_children(const struct kiln_fs_node *dir, const struct kiln_fs_node ***ret)
{
	const struct kiln_fs_node **v;
	size_t n = 0;

	for (const struct kiln_fs_node *c = dir->first_child; c; c = c->next)
		n++;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	n = 0;
	for (const struct kiln_fs_node *c = dir->first_child; c; c = c->next)
		v[n++] = c;
	qsort(v, n, sizeof(*v), node_name_cmp);
	*ret = v;
	return (int)n;
}

int kiln_fs_cat(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *img,
		const struct kiln_fs_node *n, kiln_write_fn out, void *userdata)
{
	_cleanup_(kiln_layer_reader_freep) struct kiln_layer_reader *lr = NULL;
	_cleanup_free_ char *path = kiln_fs_node_path(n);
	const struct kiln_tar_entry *e;
	struct kiln_tar_reader *tr;
	uint64_t left;
	char buf[65536];
	int r;

	if (!path)
		return -ENOMEM;
	if (n->type == KILN_TAR_DIR)
		return kiln_error(ctx, EISDIR, "\"%s\" is a directory", path);
	if (n->type != KILN_TAR_REG)
		return kiln_error(ctx, EINVAL, "\"%s\" is not a regular file", path);
	if (n->data_layer >= img->manifest->n_layers)
		return kiln_error(ctx, EINVAL, "\"%s\": not from this image", path);
	r = kiln_layer_reader_open(ctx, s, &img->manifest->layers[n->data_layer], NULL, &lr);
	if (r < 0)
		return r;
	tr = kiln_layer_reader_tar(lr);
	do {
		r = kiln_tar_reader_next(tr, &e);
		if (r < 0)
			return r;
		if (r == 0)
			return kiln_error(ctx, EBADMSG,
					  "\"%s\": the layer changed since it was read", path);
	} while (kiln_tar_reader_index(tr) < n->data_entry);
	if (e->size != n->size)
		return kiln_error(ctx, EBADMSG, "\"%s\": the layer changed since it was read",
				  path);
	for (left = n->size; left > 0;) {
		ssize_t k =
		    kiln_tar_reader_read(tr, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));

		if (k < 0)
			return (int)k;
		r = out(userdata, buf, (size_t)k);
		if (r < 0)
			return r;
		left -= (uint64_t)k;
	}
	return 0;
}
