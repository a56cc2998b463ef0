/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The installer's extensions, as Talos's imager takes them: loaded in the
 * string order of their positions, their modules merged over the base's
 * and run through depmod, their microcode and firmware moved into the
 * initramfs, and each made into a squashfs image.
 *
 * A squashfs image depends only on what the extension's image holds and
 * on the options it is written with, so an image's squashfs is kept in
 * the cache under a key made of the two and never written twice. The
 * modules.dep extension is made anew each time: it is small, and it
 * depends on every extension together.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/image.h>

#include "copy.h"
#include "fileio.h"
#include "installer-internal.h"
#include "log.h"
#include "strbuf.h"
#include "strv.h"

#define MODULES_DIR "usr/lib/modules"
#define FIRMWARE_DIR "usr/lib/firmware"
#define MICROCODE_DIR "kernel/x86/microcode"
/* bump when what goes into an extension's squashfs changes: old cache entries are not used */
#define SQUASHFS_CACHE_VERSION 1

void installer_exts_free(struct installer_ext *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		kiln_ext_input_free(e[i].in);
		free(e[i].rootfs);
		kiln_ext_manifest_free(e[i].manifest);
	}
	free(e);
}

bool installer_has_modules(const struct installer *in)
{
	for (size_t i = 0; i < in->n_exts; i++)
		if (in->exts[i].has_modules)
			return true;
	return false;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- loading ------------------------------------------------------------------------------ */

static int cmp_names(const void *a, const void *b)
{
	const struct installer_ext *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* What Talos's extensions.Load checks: the top level and the manifest. */
static int load_one(struct installer *in, struct installer_ext *e)
{
	_cleanup_(kiln_ext_report_freep) struct kiln_ext_report *rep = NULL;
	_cleanup_free_ char *modules = NULL;
	const struct kiln_ext_validate_options vo = { .load_only = true };
	struct kiln_ext_input_options io = {
		.platform = &in->platform,
		.pull = in->o->pull,
		.registry = in->o->registry,
	};
	int r;

	r = kiln_ext_input_open(in->ctx, in->s, e->ref, &io, &e->in);
	if (r >= 0)
		r = kiln_ext_validate_dir(in->ctx, e->in->dir, NULL, &vo, &rep);
	if (r < 0) {
		kiln_error_prefix(in->ctx, "extension %s \"%s\"", e->name, e->ref);
		return r;
	}
	for (size_t i = 0; i < rep->n_problems; i++)
		if (!rep->problems[i].warning)
			return kiln_error(in->ctx, EINVAL,
					  "error loading extension %s (\"%s\"): %s", e->name,
					  e->ref, rep->problems[i].message);
	e->manifest = TAKE_PTR(rep->manifest);
	e->rootfs = path_join(e->in->dir, "rootfs");
	modules = path_join(e->in->dir, "rootfs/" MODULES_DIR);
	if (!e->rootfs || !modules)
		return -ENOMEM;
	e->has_modules = access(modules, F_OK) == 0;
	return 0;
}

/* What Talos's validateExtensions checks: the constraint, against the base's version. */
static int check_constraint(struct installer *in, const struct installer_ext *e)
{
	const char *constraint = strempty(e->manifest->talos_version);
	int r;

	if (!*constraint)
		return 0;
	if (!in->res->talos_version)
		return kiln_error_hint(in->ctx, KILN_HINT_TALOS_VERSION, NULL, EINVAL,
				       "error validating extension \"%s\": it needs Talos %s, and "
				       "the base's version is unknown (it has no label "
				       "org.opencontainers.image.version and no "
				       "usr/install/%s/version)",
				       e->manifest->name, constraint, in->arch);
	r = kiln_ext_check_talos_version(in->ctx, constraint, in->res->talos_version);
	if (r < 0)
		kiln_error_prefix(in->ctx, "error validating extension \"%s\"", e->manifest->name);
	return r;
}

int installer_load_extensions(struct installer *in)
{
	size_t n = in->o->n_extensions;
	int r;

	/* room for the modules.dep extension */
	in->exts = calloc(n + 1, sizeof(*in->exts));
	if (!in->exts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		in->exts[i].ref = in->o->extensions[i];
		if (asprintf(&in->exts[i].name, "%zu", i) < 0) {
			in->exts[i].name = NULL;
			return -ENOMEM;
		}
		in->n_exts++;
	}
	/* Talos reads the directories 0, 1, ... back sorted by name: 10 comes before 2 */
	qsort(in->exts, n, sizeof(*in->exts), cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct installer_ext *e = &in->exts[i];
		struct kiln_installer_event ev = { .kind = KILN_INSTALLER_EXTENSION };
		char image[64];

		r = load_one(in, e);
		if (r < 0)
			return r;
		snprintf(image, sizeof(image), "%s.sqsh", e->name);
		ev.image = image;
		ev.ref = e->ref;
		ev.name = e->manifest->name;
		ev.version = e->manifest->ext_version;
		ev.author = e->manifest->author;
		installer_event(in, &ev);
	}
	for (size_t i = 0; i < n; i++) {
		r = check_constraint(in, &in->exts[i]);
		if (r < 0)
			return r;
	}
	in->res->n_extensions = (unsigned)n;
	return 0;
}

/* ---- modules -------------------------------------------------------------------------------- */

int installer_extract_modules(struct installer *in)
{
	_cleanup_free_ char *sqsh = path_join(in->work, "rootfs.sqsh");
	_cleanup_free_ char *dir = path_join(in->modules, MODULES_DIR);
	_cleanup_(strv_freep) char **names = NULL;
	_cleanup_close_ int src = -1, out = -1, dfd = -1;
	char *release = NULL;
	int r, n;

	if (!sqsh || !dir)
		return -ENOMEM;
	src = open(in->base_initramfs, O_RDONLY | O_CLOEXEC);
	out = open(sqsh, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (src < 0 || out < 0)
		return kiln_error(in->ctx, errno, "cannot open \"%s\": %m",
				  src < 0 ? in->base_initramfs : sqsh);
	r = kiln_initramfs_extract(in->ctx, src, "rootfs.sqsh", out);
	if (r >= 0)
		r = kiln_squashfs_extract(in->ctx, sqsh, MODULES_DIR, in->modules);
	(void)unlink(sqsh);
	if (r < 0) {
		kiln_error_prefix(in->ctx, "the initramfs of the base installer image \"%s\"",
				  in->o->base);
		return r;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	n = dfd < 0 ? -errno : dir_names(dfd, &names);
	if (n < 0)
		return kiln_error(in->ctx, -n, "cannot read \"%s\": %s", dir, strerror(-n));
	for (int i = 0; i < n; i++) {
		struct stat st;

		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (release)
			return kiln_error(in->ctx, EINVAL,
					  "invalid kernel modules path: the base's rootfs.sqsh has "
					  "/usr/lib/modules/%s and /usr/lib/modules/%s, not one "
					  "release",
					  release, names[i]);
		release = names[i];
	}
	if (!release)
		return kiln_error(in->ctx, EINVAL,
				  "invalid kernel modules path: the base's rootfs.sqsh has no "
				  "release directory in /usr/lib/modules");
	in->res->kernel_release = strdup(release);
	return in->res->kernel_release ? 0 : -ENOMEM;
}

/* The release an extension's modules are for, for the message when it is not the base's. */
static char *other_release(const struct installer_ext *e)
{
	_cleanup_free_ char *dir = path_join(e->rootfs, MODULES_DIR);
	_cleanup_(strv_freep) char **names = NULL;
	_cleanup_close_ int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

	if (fd < 0 || dir_names(fd, &names) <= 0)
		return NULL;
	return strdup(names[0]);
}

/* The top-level modules.* files of the merged release, moved into the modules.dep extension. */
static int make_modules_dep(struct installer *in, int merged)
{
	const char *krel = in->res->kernel_release;
	_cleanup_free_ char *root = path_join(in->work, INSTALLER_MODULES_DEP);
	_cleanup_free_ char *rel = NULL;
	_cleanup_(strv_freep) char **names = NULL;
	_cleanup_close_ int dst = -1;
	struct installer_ext *e = &in->exts[in->n_exts];
	int r, n;

	if (!root || asprintf(&rel, "%s/%s", MODULES_DIR, krel) < 0)
		return -ENOMEM;
	/* the squashfs root's mode is the directory's: 0755, as Talos sets it */
	if (mkdir(root, 0755) < 0 || chmod(root, 0755) < 0)
		return kiln_error(in->ctx, errno, "cannot make \"%s\": %m", root);
	{
		_cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		r = rootfd < 0 ? -errno : open_dir_in_root(rootfd, rel, true, &dst);
	}
	if (r < 0)
		return kiln_error(in->ctx, -r, "cannot make \"%s/%s\": %s", root, rel,
				  strerror(-r));
	n = dir_names(merged, &names);
	if (n < 0)
		return kiln_error(in->ctx, -n, "cannot read the merged modules: %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		struct stat st;

		if (strncmp(names[i], "modules.", 8) != 0 ||
		    fstatat(merged, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
			continue;
		if (renameat(merged, names[i], dst, names[i]) < 0)
			return kiln_error(in->ctx, errno, "cannot move %s into \"%s/%s\": %m",
					  names[i], root, rel);
	}

	*e = (struct installer_ext){ .rootfs = TAKE_PTR(root) };
	in->n_exts++;
	e->name = strdup(INSTALLER_MODULES_DEP);
	e->manifest = calloc(1, sizeof(*e->manifest));
	if (!e->name || !e->manifest)
		return -ENOMEM;
	*e->manifest = (struct kiln_ext_manifest){
		.version = strdup("v1alpha1"),
		.name = strdup(INSTALLER_MODULES_DEP),
		.ext_version = strdup(krel),
		.author = strdup("Talos Machinery"),
		.description = strdup("Combined modules.dep for all extensions"),
	};
	if (!e->manifest->version || !e->manifest->name || !e->manifest->ext_version ||
	    !e->manifest->author || !e->manifest->description)
		return -ENOMEM;
	in->res->n_extensions++;
	return 0;
}

int installer_merge_modules(struct installer *in)
{
	const char *krel = in->res->kernel_release;
	_cleanup_free_ char *rel = NULL, *modules_dir = path_join(in->modules, MODULES_DIR);
	_cleanup_close_ int dst = open(in->modules, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
			    merged = -1;
	const struct kiln_depmod_options dopts = { .search = "extras built-in" };
	int r;

	if (!modules_dir || asprintf(&rel, "/%s/%s", MODULES_DIR, krel) < 0)
		return -ENOMEM;
	if (dst < 0)
		return kiln_error(in->ctx, errno, "cannot open \"%s\": %m", in->modules);
	/* in list order: a later extension's file wins, as its layer does at boot */
	for (size_t i = 0; i < in->n_exts; i++) {
		const struct installer_ext *e = &in->exts[i];
		_cleanup_free_ char *src = NULL, *what = NULL, *other = NULL;
		_cleanup_close_ int root = -1;

		if (!e->has_modules)
			continue;
		src = path_join(e->rootfs, rel);
		if (!src)
			return -ENOMEM;
		if (!is_dir(src)) {
			other = other_release(e);
			return kiln_error(in->ctx, ENOENT,
					  "copying kernel modules from \"%s\" failed: extension "
					  "\"%s\" has no %s%s%s%s, and the base's kernel is %s: "
					  "build its modules against the base's kernel-build",
					  e->ref, e->manifest->name, rel + 1,
					  other ? " (its modules are for " : "", strempty(other),
					  other ? ")" : "", krel);
		}
		if (asprintf(&what, "copying kernel modules from \"%s\"", e->ref) < 0)
			return -ENOMEM;
		root = open(e->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			return kiln_error(in->ctx, errno, "cannot open \"%s\": %m", e->rootfs);
		r = copy_in_root(in->ctx, what, root, rel, dst, rel);
		if (r < 0)
			return r;
	}
	r = kiln_depmod(in->ctx, modules_dir, krel, &dopts);
	if (r < 0)
		return r;
	merged = openat(dst, rel + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (merged < 0)
		return kiln_error(in->ctx, errno, "cannot open \"%s%s\": %m", in->modules, rel);
	return make_modules_dep(in, merged);
}

/* ---- microcode, firmware, squashfs ------------------------------------------------------ */

/*
 * Append the regular files of @rootfs/@dir whose names match @pattern,
 * in name order (Go's filepath.Glob), to in->ucode/@dst, and remove them:
 * early microcode, which the kernel takes only from an uncompressed
 * archive at the start of the initramfs.
 */
static int take_microcode(struct installer *in, const struct installer_ext *e, const char *dir,
			  const char *pattern, const char *dst)
{
	_cleanup_free_ char *src_dir = path_join(e->rootfs, dir);
	_cleanup_free_ char *out_path = path_join(in->ucode, dst);
	_cleanup_(strv_freep) char **names = NULL;
	_cleanup_close_ int sfd = -1, out = -1, ucode = -1, mdir = -1;
	int r, n;

	if (!src_dir || !out_path)
		return -ENOMEM;
	sfd = open(src_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return 0;
	n = dir_names(sfd, &names);
	if (n < 0)
		return kiln_error(in->ctx, -n, "cannot read \"%s\": %s", src_dir, strerror(-n));
	for (int i = 0; i < n; i++) {
		_cleanup_close_ int fd = -1;
		struct stat st;

		if (fnmatch(pattern, names[i], 0) != 0 ||
		    fstatat(sfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (out < 0) {
			ucode = open(in->ucode, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			r = ucode < 0 ? -errno
				      : open_dir_in_root(ucode, MICROCODE_DIR, true, &mdir);
			if (r < 0)
				return kiln_error(in->ctx, -r, "cannot make \"%s/%s\": %s",
						  in->ucode, MICROCODE_DIR, strerror(-r));
			/* appended to, as by an earlier extension; not O_APPEND: copy_file_range
			 * refuses it */
			out = openat(mdir, strrchr(dst, '/') + 1, O_WRONLY | O_CREAT | O_CLOEXEC,
				     0644);
			if (out < 0 || fchmod(out, 0644) < 0 || lseek(out, 0, SEEK_END) < 0)
				return kiln_error(in->ctx, errno, "cannot open \"%s\": %m",
						  out_path);
		}
		fd = openat(sfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		r = fd < 0 ? -errno : copy_fd_data(fd, out);
		if (r >= 0 && unlinkat(sfd, names[i], 0) < 0)
			r = -errno;
		if (r < 0)
			return kiln_error(in->ctx, r,
					  "cannot move microcode \"%s/%s\" into \"%s\": %s",
					  src_dir, names[i], out_path, strerror(-r));
		in->has_ucode = true;
	}
	return 0;
}

/* usr/lib/firmware of @e into the initramfs's staging directory (later wins), then gone. */
static int take_firmware(struct installer *in, const struct installer_ext *e, int rootfs)
{
	_cleanup_free_ char *what = NULL;
	_cleanup_close_ int staging = -1;
	struct stat st;
	int r;

	if (fstatat(rootfs, FIRMWARE_DIR, &st, 0) < 0)
		return 0;
	if (asprintf(&what, "moving the firmware of \"%s\" into the initramfs", e->ref) < 0)
		return -ENOMEM;
	staging = open(in->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (staging < 0)
		return kiln_error(in->ctx, errno, "cannot open \"%s\": %m", in->staging);
	r = copy_in_root(in->ctx, what, rootfs, "/" FIRMWARE_DIR, staging, "/" FIRMWARE_DIR);
	if (r < 0)
		return r;
	r = remove_tree_at(rootfs, FIRMWARE_DIR);
	if (r < 0)
		return kiln_error(in->ctx, r, "%s: cannot remove \"%s/%s\": %s", what, e->rootfs,
				  FIRMWARE_DIR, strerror(-r));
	return 0;
}

/*
 * What the modules.dep extension holds: the names and the digests of its
 * files, the modules.* files depmod wrote, flat in usr/lib/modules/RELEASE
 * (its manifest's metadata.version). Unchanged inputs give unchanged files, and so
 * an image that need not be squashed again.
 */
static int modules_dep_digest(struct installer *in, const struct installer_ext *e,
			      struct kiln_digest *ret)
{
	_cleanup_(strbuf_release) struct strbuf text = { 0 };
	_cleanup_(strv_freep) char **names = NULL;
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int dir = -1;
	int r;

	if (asprintf(&path, "%s/" MODULES_DIR "/%s", e->rootfs, e->manifest->ext_version) < 0) {
		path = NULL;
		return -ENOMEM;
	}
	dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return kiln_error(in->ctx, errno, "cannot open \"%s\": %m", path);
	r = dir_names(dir, &names);
	if (r < 0)
		return kiln_error(in->ctx, -r, "cannot list \"%s\": %s", path, strerror(-r));
	for (char **n = names; *n; n++) {
		_cleanup_close_ int fd = openat(dir, *n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct kiln_digest d;

		if (fd < 0)
			return kiln_error(in->ctx, errno, "cannot open \"%s/%s\": %m", path, *n);
		r = kiln_digest_of_fd(in->ctx, fd, &d);
		if (r < 0) {
			kiln_error_prefix(in->ctx, "cannot read \"%s/%s\"", path, *n);
			return r;
		}
		if (strbuf_addf(&text, "%s %s\n", d.s, *n) < 0)
			return -ENOMEM;
	}
	if (strbuf_addf(&text, "release %s\n", e->manifest->ext_version) < 0)
		return -ENOMEM;
	return kiln_digest_of(in->ctx, text.buf, text.len, ret);
}

/*
 * Where the squashfs of an extension is cached: a key of what it holds
 * (an image's manifest digest; the modules.dep extension's files), the
 * squashfs options and what kiln takes out of it first (the cache
 * version). NULL path for an extension given as a directory or a tar.
 */
static int cache_path(struct installer *in, const struct installer_ext *e,
		      const struct kiln_squashfs_options *so, char **ret)
{
	_cleanup_free_ char *text = NULL, *dir = NULL;
	struct kiln_digest key, content;
	char *path;
	int r;

	if (e->in) {
		if (!kiln_digest_is_valid(e->in->digest.s)) {
			*ret = NULL;
			return 0;
		}
		content = e->in->digest;
	} else {
		r = modules_dep_digest(in, e, &content);
		if (r < 0)
			return r;
	}
	if (asprintf(&text,
		     "kiln image installer squashfs %d\n%s %s\nzstd %d\nblock %" PRIu32
		     "\nmtime %" PRId64 "\n",
		     SQUASHFS_CACHE_VERSION, e->in ? "manifest" : "modules.dep", content.s,
		     so->level, so->block_size, so->mtime) < 0)
		return -ENOMEM;
	r = kiln_digest_of(in->ctx, text, strlen(text), &key);
	if (r < 0)
		return r;
	dir = path_join(in->cache, "image/sqsh");
	if (!dir)
		return -ENOMEM;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return kiln_error(in->ctx, errno, "cannot make \"%s\": %m", dir);
	if (asprintf(&path, "%s/%s.sqsh", dir, kiln_digest_hex(&key)) < 0)
		return -ENOMEM;
	*ret = path;
	return 0;
}

/* The cached image @src as @dst: a hard link (they share a file system), else a copy. */
static int link_cached(struct installer *in, const char *src, const char *dst)
{
	_cleanup_close_ int in_fd = -1, out_fd = -1;
	int r;

	if (link(src, dst) == 0)
		return 0;
	in_fd = open(src, O_RDONLY | O_CLOEXEC);
	out_fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	r = in_fd < 0 || out_fd < 0 ? -errno : copy_fd_data(in_fd, out_fd);
	if (r < 0)
		return kiln_error(in->ctx, r, "cannot copy \"%s\" to \"%s\": %s", src, dst,
				  strerror(-r));
	return 0;
}

static int squash(struct installer *in, const struct installer_ext *e, int rootfs)
{
	const struct kiln_squashfs_options so = {
		.level = KILN_SQUASHFS_LEVEL,
		.block_size = KILN_SQUASHFS_BLOCK_SIZE,
		.mtime = in->o->source_date_epoch,
	};
	struct kiln_installer_event ev = { .kind = KILN_INSTALLER_SQUASHFS };
	_cleanup_free_ char *cached = NULL, *dst = NULL, *image = NULL;
	double start = installer_now();
	int r;

	if (asprintf(&image, "%s.sqsh", e->name) < 0 || !(dst = path_join(in->staging, image)))
		return -ENOMEM;
	r = cache_path(in, e, &so, &cached);
	if (r < 0)
		return r;
	ev.cached = cached && access(cached, F_OK) == 0;
	if (!ev.cached) {
		r = kiln_squashfs_write_tree(in->ctx, rootfs, cached ? cached : dst, &so);
		if (r < 0) {
			kiln_error_prefix(in->ctx, "extension %s (\"%s\")", e->name,
					  e->ref ? e->ref : e->manifest->name);
			return r;
		}
	}
	if (cached) {
		r = link_cached(in, cached, dst);
		if (r < 0)
			return r;
	}
	if (ev.cached)
		in->res->n_cached++;
	else
		in->res->n_squashed++;
	ev.image = image;
	ev.ref = e->ref;
	ev.name = e->manifest->name;
	ev.seconds = installer_now() - start;
	installer_event(in, &ev);
	return 0;
}

int installer_squash_extensions(struct installer *in)
{
	static const struct {
		const char *dir, *pattern, *dst;
	} microcode[] = {
		{ FIRMWARE_DIR "/intel-ucode", "*", MICROCODE_DIR "/GenuineIntel.bin" },
		{ FIRMWARE_DIR "/amd-ucode", "microcode_amd*.bin",
		  MICROCODE_DIR "/AuthenticAMD.bin" },
	};
	int r;

	for (size_t i = 0; i < in->n_exts; i++) {
		const struct installer_ext *e = &in->exts[i];
		_cleanup_close_ int rootfs = open(e->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (rootfs < 0)
			return kiln_error(in->ctx, errno, "cannot open \"%s\": %m", e->rootfs);
		for (size_t j = 0; e->in && j < ELEMENTSOF(microcode); j++) {
			r = take_microcode(in, e, microcode[j].dir, microcode[j].pattern,
					   microcode[j].dst);
			if (r < 0)
				return r;
		}
		if (e->in) {
			r = take_firmware(in, e, rootfs);
			if (r < 0)
				return r;
		}
		r = squash(in, e, rootfs);
		if (r < 0)
			return r;
	}
	return 0;
}
