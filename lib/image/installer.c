/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The installer, as Talos's imager makes it: the phases in order, the
 * base installer image's files, the kernel command line, and the outputs
 * (the kernel, the initramfs, the command line, or the installer image
 * in the store and as a docker-archive).
 *
 * The base is read through its flattened view, the files a container of
 * it would see, so a base of several layers is read as Talos reads it.
 * Everything made on the way lives in one scratch directory under kiln's
 * cache directory (beside the squashfs cache, so that a cached image is
 * hard-linked into the initramfs, not copied), removed at the end.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <kiln/image.h>
#include <kiln/layer.h>
#include <kiln/registry.h>

#include "fileio.h"
#include "installer-internal.h"
#include "log.h"
#include "strbuf.h"

#define DEFAULT_ARCH "amd64"
#define DEFAULT_OUT_DIR "_out"
#define VERSION_LABEL "org.opencontainers.image.version"
/* the base's version and cmdline files are a line or two */
#define SMALL_FILE_MAX (64u << 10)

static const char *const phase_names[KILN_INSTALLER_PHASE_MAX] = {
	[KILN_INSTALLER_PHASE_BASE] = "base",
	[KILN_INSTALLER_PHASE_EXTENSIONS] = "extensions",
	[KILN_INSTALLER_PHASE_MODULES] = "modules",
	[KILN_INSTALLER_PHASE_PREFLIGHT] = "preflight",
	[KILN_INSTALLER_PHASE_DEPMOD] = "depmod",
	[KILN_INSTALLER_PHASE_SQUASHFS] = "squashfs",
	[KILN_INSTALLER_PHASE_INITRAMFS] = "initramfs",
	[KILN_INSTALLER_PHASE_IMAGE] = "image",
	[KILN_INSTALLER_PHASE_EXPORT] = "export",
};

const char *kiln_installer_phase_name(enum kiln_installer_phase phase)
{
	return (unsigned)phase < KILN_INSTALLER_PHASE_MAX ? phase_names[phase] : "unknown";
}

double installer_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void installer_event(struct installer *in, struct kiln_installer_event *ev)
{
	ev->phase = in->phase;
	if (in->o->on_event)
		in->o->on_event(in->o->userdata, ev);
}

static void phase_start(struct installer *in, enum kiln_installer_phase phase)
{
	struct kiln_installer_event ev = { .kind = KILN_INSTALLER_PHASE_START };

	in->phase = phase;
	in->phase_start = installer_now();
	installer_event(in, &ev);
}

static void phase_done(struct installer *in)
{
	struct kiln_installer_event ev = { .kind = KILN_INSTALLER_PHASE_DONE };

	ev.seconds = installer_now() - in->phase_start;
	in->res->seconds[in->phase] += ev.seconds;
	installer_event(in, &ev);
}

void kiln_installer_result_release(struct kiln_installer_result *r)
{
	if (!r)
		return;
	free(r->path);
	free(r->name);
	kiln_descriptor_release(&r->manifest);
	free(r->talos_version);
	free(r->kernel_release);
	free(r->cmdline);
	*r = (struct kiln_installer_result){ 0 };
}

/* ---- the base --------------------------------------------------------------------------- */

int installer_fd_write(void *userdata, const void *data, size_t len)
{
	struct installer_fd *k = userdata;
	int r = write_all(k->fd, data, len);

	return r < 0 ? kiln_error(k->ctx, r, "cannot write \"%s\": %s", k->path, strerror(-r)) : 0;
}

static int strbuf_sink_write(void *userdata, const void *data, size_t len)
{
	struct strbuf *sb = userdata;

	if (sb->len + len > SMALL_FILE_MAX)
		return -EFBIG;
	return strbuf_add(sb, data, len);
}

/*
 * The regular file usr/install/<arch>/@file of the base: 1 with its node,
 * 0 when the base has none, or -errno.
 */
static int base_lookup(struct installer *in, const struct kiln_fs *fs, const char *file,
		       const struct kiln_fs_node **ret)
{
	_cleanup_free_ char *path = NULL;
	const struct kiln_fs_node *n;
	struct kiln_fs_stat st;
	int r;

	if (asprintf(&path, "/usr/install/%s/%s", in->arch, file) < 0)
		return -ENOMEM;
	r = kiln_fs_lookup(in->ctx, fs, path, true, &n);
	if (r == -ENOENT) {
		kiln_ctx_clear_error(in->ctx);
		return 0;
	}
	if (r < 0)
		return r;
	kiln_fs_node_stat(n, &st);
	if (st.type != KILN_TAR_REG)
		return kiln_error(in->ctx, EINVAL,
				  "%s in the base installer image \"%s\" is not a regular file",
				  path, in->o->base);
	*ret = n;
	return 1;
}

/* The base's usr/install/<arch>/@file into the new file @dest, which it must have. */
static int base_copy(struct installer *in, const struct kiln_fs *fs, const char *file,
		     const char *dest)
{
	_cleanup_close_ int fd = -1;
	const struct kiln_fs_node *n;
	struct installer_fd k;
	int r;

	r = base_lookup(in, fs, file, &n);
	if (r == 0)
		return kiln_error(in->ctx, ENOENT,
				  "the base installer image \"%s\" has no usr/install/%s/%s: is it "
				  "an installer base for %s?",
				  in->o->base, in->arch, file, in->arch);
	if (r < 0)
		return r;
	fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return kiln_error(in->ctx, errno, "cannot create \"%s\": %m", dest);
	k = (struct installer_fd){ in->ctx, fd, dest };
	return kiln_fs_cat(in->ctx, in->s, in->base, n, installer_fd_write, &k);
}

/* The first line of the base's usr/install/<arch>/@file, NULL when it has none or it is empty. */
static int base_first_line(struct installer *in, const struct kiln_fs *fs, const char *file,
			   char **ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const struct kiln_fs_node *n;
	char *line = NULL;
	size_t len;
	int r;

	r = base_lookup(in, fs, file, &n);
	if (r < 0)
		return r;
	if (r == 0) {
		*ret = NULL;
		return 0;
	}
	r = kiln_fs_cat(in->ctx, in->s, in->base, n, strbuf_sink_write, &sb);
	if (r == -EFBIG)
		return kiln_error(in->ctx, EFBIG, "usr/install/%s/%s of the base is over %u bytes",
				  in->arch, file, SMALL_FILE_MAX);
	if (r < 0)
		return r;
	len = strcspn(strbuf_str(&sb), "\n");
	while (len > 0 && strchr(" \t\r", sb.buf[len - 1]))
		len--;
	if (len > 0) {
		line = strndup(strbuf_str(&sb), len);
		if (!line)
			return -ENOMEM;
	}
	*ret = line;
	return 0;
}

/*
 * The base, pulled when missing: its kernel and initramfs into the scratch
 * directory (as the output needs them), its version and default arguments.
 */
static int load_base(struct installer *in, char **ret_cmdline)
{
	_cleanup_(kiln_fs_freep) struct kiln_fs *fs = NULL;
	struct kiln_registry_options ro =
	    in->o->registry ? *in->o->registry : (struct kiln_registry_options){ 0 };
	const struct kiln_image_config *c;
	const char *label;
	char *version = NULL;
	int r;

	r = kiln_registry_load_image(in->ctx, in->s, in->o->base, &in->platform,
				     in->o->pull ? &ro : NULL, &in->base);
	if (r >= 0)
		r = kiln_fs_load_image(in->ctx, in->s, in->base, &fs);
	if (r < 0) {
		kiln_error_prefix(in->ctx, "base installer image \"%s\"", in->o->base);
		return r;
	}
	/* the initramfs output has no kernel, but the preflight reads it */
	if (in->o->output != KILN_INSTALLER_OUT_CMDLINE) {
		in->base_kernel = path_join(in->work, "vmlinuz");
		r = in->base_kernel ? base_copy(in, fs, "vmlinuz", in->base_kernel) : -ENOMEM;
		if (r < 0)
			return r;
	}
	if (in->o->output == KILN_INSTALLER_OUT_INITRAMFS ||
	    in->o->output == KILN_INSTALLER_OUT_INSTALLER) {
		in->base_initramfs = path_join(in->work, "base-initramfs");
		r = in->base_initramfs ? base_copy(in, fs, "initramfs.xz", in->base_initramfs)
				       : -ENOMEM;
		if (r < 0)
			return r;
	}

	c = in->base->config;
	label = kiln_annotation_get(c->labels, c->n_labels, VERSION_LABEL);
	if (in->o->talos_version)
		version = strdup(in->o->talos_version);
	else if (label && *label)
		version = strdup(label);
	else {
		r = base_first_line(in, fs, "version", &version);
		if (r < 0)
			return r;
	}
	if ((in->o->talos_version || (label && *label)) && !version)
		return -ENOMEM;
	in->res->talos_version = version;
	return base_first_line(in, fs, "cmdline", ret_cmdline);
}

/* ---- the kernel command line ------------------------------------------------------------ */

/* Whether the argument @a ("key" or "key=value") has the key @key (@len bytes). */
static bool arg_has_key(const char *a, const char *key, size_t len)
{
	return strncmp(a, key, len) == 0 && (a[len] == '\0' || a[len] == '=');
}

/* The arguments of @line, split at blanks outside double quotes, appended to @v. */
static int args_split(const char *line, char ***v, size_t *n, size_t *alloc)
{
	for (const char *p = line; *p;) {
		const char *start;
		bool quoted = false;

		p += strspn(p, " \t\r\n");
		if (!*p)
			break;
		start = p;
		for (; *p && (quoted || !strchr(" \t\r\n", *p)); p++)
			quoted ^= *p == '"';
		if (GROW(*v, *alloc, *n + 1) < 0 ||
		    !((*v)[*n] = strndup(start, (size_t)(p - start))))
			return -ENOMEM;
		++*n;
	}
	return 0;
}

static void args_remove_key(char **v, size_t *n, const char *key, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < *n; i++) {
		if (arg_has_key(v[i], key, len))
			free(v[i]);
		else
			v[k++] = v[i];
	}
	*n = k;
}

/*
 * Add @a as procfs.Cmdline appends it: after the last argument with its
 * key (values of a key stay together), once.
 */
static int args_append(char ***v, size_t *n, size_t *alloc, const char *a)
{
	size_t len = strcspn(a, "="), at = *n;

	for (size_t i = 0; i < *n; i++) {
		if (streq((*v)[i], a))
			return 0;
		if (arg_has_key((*v)[i], a, len))
			at = i + 1;
	}
	if (GROW(*v, *alloc, *n + 1) < 0)
		return -ENOMEM;
	memmove(*v + at + 1, *v + at, (*n - at) * sizeof(**v));
	(*v)[at] = strdup(a);
	++*n;
	return (*v)[at] ? 0 : -ENOMEM;
}

/*
 * The base's arguments, module.sig_enforce=1 (Talos's default since 1.12),
 * then the extra ones: "-key" deletes key; the first console= or
 * talos.platform= replaces the ones before it, as Talos overwrites them.
 */
static int make_cmdline(struct installer *in, const char *base)
{
	static const char *const overwritten[] = { "console", "talos.platform" };
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	char **v = NULL;
	size_t n = 0, alloc = 0;
	bool replaced[ELEMENTSOF(overwritten)] = { false };
	int r;

	r = args_split(strempty(base), &v, &n, &alloc);
	if (r >= 0)
		r = args_append(&v, &n, &alloc, "module.sig_enforce=1");
	for (size_t i = 0; r >= 0 && i < in->o->n_extra_kernel_args; i++) {
		const char *a = in->o->extra_kernel_args[i];
		size_t len = strcspn(a, "=");

		if (a[0] == '-') {
			args_remove_key(v, &n, a + 1, strlen(a + 1));
			continue;
		}
		for (size_t j = 0; j < ELEMENTSOF(overwritten); j++)
			if (!replaced[j] && strlen(overwritten[j]) == len &&
			    arg_has_key(a, overwritten[j], len)) {
				args_remove_key(v, &n, a, len);
				replaced[j] = true;
			}
		r = args_append(&v, &n, &alloc, a);
	}
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = strbuf_addf(&sb, "%s%s", i ? " " : "", v[i]);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	if (r < 0)
		return r;
	in->res->cmdline = strbuf_detach(&sb, NULL);
	return in->res->cmdline ? 0 : -ENOMEM;
}

/* ---- outputs ---------------------------------------------------------------------------- */

/* OUT/@name, OUT made when missing. */
static int out_path(struct installer *in, const char *name)
{
	const char *dir = in->o->out_dir ? in->o->out_dir : DEFAULT_OUT_DIR;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return kiln_error(in->ctx, errno, "cannot make \"%s\": %m", dir);
	in->res->path = path_join(dir, name);
	return in->res->path ? 0 : -ENOMEM;
}

/* @src (a file of the scratch directory), or what @write writes, atomically as OUT/@name-ARCH@ext.
 */
static int out_file(struct installer *in, const char *name, const char *ext, const char *src,
		    int (*write)(struct installer *in, int fd))
{
	_cleanup_(atomic_file_release) struct atomic_file f = { .fd = -1 };
	_cleanup_free_ char *file = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (asprintf(&file, "%s-%s%s", name, in->arch, ext) < 0)
		return -ENOMEM;
	r = out_path(in, file);
	if (r < 0)
		return r;
	r = atomic_file_open(in->res->path, &f);
	if (r < 0)
		return kiln_error(in->ctx, r, "cannot create a file beside \"%s\": %s",
				  in->res->path, strerror(-r));
	if (write) {
		r = write(in, f.fd);
	} else {
		fd = open(src, O_RDONLY | O_CLOEXEC);
		r = fd < 0 ? -errno : copy_fd_data(fd, f.fd);
		if (r < 0)
			return kiln_error(in->ctx, r, "cannot copy \"%s\" to \"%s\": %s", src,
					  f.tmp, strerror(-r));
	}
	if (r >= 0)
		r = atomic_file_commit(&f, 0644);
	if (r < 0)
		return kiln_error(in->ctx, r, "cannot write \"%s\": %s", in->res->path,
				  strerror(-r));
	return 0;
}

static int write_cmdline(struct installer *in, int fd)
{
	/* as Talos writes it: the line alone, no newline */
	return write_all(fd, in->res->cmdline, strlen(in->res->cmdline));
}

/*
 * The artifacts layer's tree, WORK/artifacts/usr/install/<arch>/ with
 * vmlinuz and the new initramfs.xz: *@ret_fd on WORK/artifacts.
 */
static int make_artifacts(struct installer *in, int *ret_fd)
{
	const char *parts[] = { "artifacts", "usr", "install", in->arch };
	_cleanup_strbuf_ struct strbuf dir = STRBUF_INIT;
	_cleanup_close_ int root = -1, src = -1, kernel = -1, initramfs = -1;
	_cleanup_free_ char *kernel_path = NULL, *initramfs_path = NULL;
	int fd, r;

	r = strbuf_adds(&dir, in->work);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(parts); i++) {
		r = strbuf_addf(&dir, "/%s", parts[i]);
		/* the modes the layer records: 0755 whatever the umask */
		if (r >= 0 && (mkdir(dir.buf, 0755) < 0 || chmod(dir.buf, 0755) < 0))
			return kiln_error(in->ctx, errno, "cannot make \"%s\": %m", dir.buf);
	}
	kernel_path = r >= 0 ? path_join(dir.buf, "vmlinuz") : NULL;
	initramfs_path = r >= 0 ? path_join(dir.buf, "initramfs.xz") : NULL;
	if (!kernel_path || !initramfs_path)
		return -ENOMEM;
	kernel = open(kernel_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	initramfs = open(initramfs_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	src = open(in->base_kernel, O_RDONLY | O_CLOEXEC);
	if (kernel < 0 || initramfs < 0 || src < 0 || fchmod(kernel, 0644) < 0 ||
	    fchmod(initramfs, 0644) < 0)
		return kiln_error(in->ctx, errno, "cannot make the artifacts in \"%s\": %m",
				  dir.buf);
	r = copy_fd_data(src, kernel);
	if (r < 0)
		return kiln_error(in->ctx, r, "cannot copy the kernel to \"%s\": %s", kernel_path,
				  strerror(-r));
	r = installer_write_initramfs(in, initramfs);
	if (r < 0)
		return r;
	root = open(in->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = root >= 0 ? openat(root, "artifacts", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd < 0)
		return kiln_error(in->ctx, errno, "cannot open \"%s/artifacts\": %m", in->work);
	*ret_fd = fd;
	return 0;
}

/*
 * The installer: the base's layers (less the second of exactly two, as
 * Talos drops the installer-base's artifacts layer) and the artifacts
 * layer, stored and named; then its docker-archive.
 */
static int make_installer(struct installer *in)
{
	_cleanup_(kiln_ref_release) struct kiln_ref ref = { 0 };
	_cleanup_free_ char *tag = NULL, *file = NULL;
	_cleanup_close_ int artifacts = -1;
	size_t n_layers = in->base->manifest->n_layers;
	struct kiln_image_options io = {
		.created = in->o->source_date_epoch,
		/* what it holds is compressed already: gzip would cost seconds and save nothing */
		.layer = { .compression = KILN_COMPRESSION_NONE },
		.created_by = "kiln image installer",
	};
	int r;

	phase_start(in, KILN_INSTALLER_PHASE_INITRAMFS);
	r = installer_write_extensions_yaml(in);
	if (r >= 0)
		r = make_artifacts(in, &artifacts);
	if (r < 0)
		return r;
	phase_done(in);

	phase_start(in, KILN_INSTALLER_PHASE_IMAGE);
	if (in->o->tag)
		tag = strdup(in->o->tag);
	else if (asprintf(&tag, "kiln.local/installer:%s", in->arch) < 0)
		tag = NULL;
	if (!tag)
		return -ENOMEM;
	r = kiln_ref_parse(in->ctx, tag, &ref);
	if (r < 0) {
		kiln_error_prefix(in->ctx, "the installer's name");
		return r;
	}
	in->res->name = kiln_ref_name(&ref);
	if (!in->res->name)
		return -ENOMEM;
	r = kiln_image_append_dir(in->ctx, in->s, in->base, n_layers == 2 ? 1 : n_layers, artifacts,
				  in->res->name, &io, &in->res->manifest);
	if (r < 0)
		return r;
	phase_done(in);

	phase_start(in, KILN_INSTALLER_PHASE_EXPORT);
	if (asprintf(&file, "installer-%s.tar", in->arch) < 0)
		return -ENOMEM;
	r = out_path(in, file);
	if (r >= 0)
		r = kiln_archive_export(in->ctx, in->s, in->res->name, &in->platform,
					KILN_ARCHIVE_DOCKER, in->res->path);
	if (r < 0)
		return r;
	phase_done(in);
	return 0;
}

/* ---- the run ---------------------------------------------------------------------------- */

/* The extensions in the initramfs's staging directory, and the microcode beside it. */
static int compose(struct installer *in)
{
	int r;

	phase_start(in, KILN_INSTALLER_PHASE_EXTENSIONS);
	r = installer_load_extensions(in);
	if (r < 0)
		return r;
	phase_done(in);

	if (installer_has_modules(in)) {
		phase_start(in, KILN_INSTALLER_PHASE_MODULES);
		r = installer_extract_modules(in);
		if (r < 0)
			return r;
		phase_done(in);

		/* before anything is composed, on the base's own modules */
		if (!in->o->no_preflight) {
			phase_start(in, KILN_INSTALLER_PHASE_PREFLIGHT);
			r = installer_preflight(in);
			if (r < 0)
				return r;
			phase_done(in);
		}

		phase_start(in, KILN_INSTALLER_PHASE_DEPMOD);
		r = installer_merge_modules(in);
		if (r < 0)
			return r;
		phase_done(in);
	}

	phase_start(in, KILN_INSTALLER_PHASE_SQUASHFS);
	r = installer_squash_extensions(in);
	if (r < 0)
		return r;
	phase_done(in);
	return 0;
}

static int make_work_dirs(struct installer *in)
{
	_cleanup_free_ char *image = NULL, *tmp = NULL;
	const char *sub[] = { "initramfs", "ucode", "modules" };
	char **dst[] = { &in->staging, &in->ucode, &in->modules };
	int r;

	r = kiln_cache_dir(in->ctx, in->o->cache_dir, &in->cache);
	if (r < 0)
		return r;
	image = path_join(in->cache, "image");
	tmp = image ? path_join(image, "tmp") : NULL;
	if (!tmp)
		return -ENOMEM;
	if ((mkdir(in->cache, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(image, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(tmp, 0755) < 0 && errno != EEXIST))
		return kiln_error(in->ctx, errno, "cannot make \"%s\": %m", tmp);
	r = make_temp_dir(tmp, "run-", &in->work);
	if (r < 0)
		return kiln_error(in->ctx, r, "cannot make a directory in \"%s\": %s", tmp,
				  strerror(-r));
	for (size_t i = 0; i < ELEMENTSOF(sub); i++) {
		*dst[i] = path_join(in->work, sub[i]);
		if (!*dst[i])
			return -ENOMEM;
		/* the staging directory's mode is the initramfs root's, should it carry "." */
		if (mkdir(*dst[i], 0755) < 0 || chmod(*dst[i], 0755) < 0)
			return kiln_error(in->ctx, errno, "cannot make \"%s\": %m", *dst[i]);
	}
	return 0;
}

static void installer_release(struct installer *in)
{
	if (in->work)
		(void)remove_tree_at(AT_FDCWD, in->work);
	installer_exts_free(in->exts, in->n_exts);
	kiln_image_free(in->base);
	kiln_platform_release(&in->platform);
	free(in->base_initramfs);
	free(in->base_kernel);
	free(in->modules);
	free(in->staging);
	free(in->ucode);
	free(in->work);
	free(in->cache);
}

static int run(struct installer *in)
{
	_cleanup_free_ char *platform = NULL, *base_cmdline = NULL;
	int r;

	if (!streq(in->arch, "amd64") && !streq(in->arch, "arm64"))
		return kiln_error(in->ctx, EINVAL, "unknown architecture \"%s\": amd64 or arm64",
				  in->arch);
	if (!in->o->base)
		return kiln_error(in->ctx, EINVAL, "no base installer image given");
	if (asprintf(&platform, "linux/%s", in->arch) < 0)
		return -ENOMEM;
	r = kiln_platform_parse(in->ctx, platform, &in->platform);
	if (r >= 0)
		r = make_work_dirs(in);
	if (r < 0)
		return r;

	phase_start(in, KILN_INSTALLER_PHASE_BASE);
	r = load_base(in, &base_cmdline);
	if (r >= 0)
		r = make_cmdline(in, base_cmdline);
	if (r < 0)
		return r;
	phase_done(in);

	switch (in->o->output) {
	case KILN_INSTALLER_OUT_KERNEL:
		return out_file(in, "vmlinuz", "", in->base_kernel, NULL);
	case KILN_INSTALLER_OUT_CMDLINE:
		return out_file(in, "cmdline", "", NULL, write_cmdline);
	case KILN_INSTALLER_OUT_INITRAMFS:
		r = compose(in);
		if (r < 0)
			return r;
		phase_start(in, KILN_INSTALLER_PHASE_INITRAMFS);
		r = installer_write_extensions_yaml(in);
		if (r >= 0)
			r = out_file(in, "initramfs", ".xz", NULL, installer_write_initramfs);
		if (r >= 0)
			phase_done(in);
		return r;
	case KILN_INSTALLER_OUT_INSTALLER:
		r = compose(in);
		return r < 0 ? r : make_installer(in);
	}
	return kiln_error(in->ctx, EINVAL, "unknown output kind %d", (int)in->o->output);
}

int kiln_installer_build(struct kiln_ctx *ctx, struct kiln_store *s,
			 const struct kiln_installer_options *o, struct kiln_installer_result *ret)
{
	struct kiln_installer_result res = { 0 };
	struct installer in = {
		.ctx = ctx,
		.s = s,
		.o = o,
		.res = &res,
		.arch = o->arch ? o->arch : DEFAULT_ARCH,
	};
	int r;

	r = run(&in);
	installer_release(&in);
	if (r < 0) {
		kiln_installer_result_release(&res);
		return r;
	}
	*ret = res;
	return 0;
}
