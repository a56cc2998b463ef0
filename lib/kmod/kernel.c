/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel a module is checked against, described once: its release, the
 * vermagic it stamps on its modules, what it exports (Module.symvers), the
 * certificate it trusts, which modules it has, and the .config facts that
 * decide how the module loader treats a mismatch (CONFIG_MODVERSIONS,
 * CONFIG_MODULE_SIG_FORCE, ...).
 *
 * The vermagic of a build tree is derived from its .config, as the kernel's
 * include/linux/vermagic.h derives it, rather than taken from one of its
 * modules: a headers tree (Debian's linux-headers) has .config but no
 * modules. The release comes from include/generated/utsrelease.h, which is
 * what vermagic.h and uname -r use: Debian's include/config/kernel.release
 * holds the upstream version ("6.1.192") instead of "6.1.0-56-amd64".
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/module.h>

#include "fileio.h"
#include "kconfig.h"
#include "log.h"
#include "strbuf.h"
#include "strmap.h"
#include "strv.h"

/* .config, modules.dep and friends; Debian's biggest (modules.dep) is 300 KB. */
#define TEXT_FILE_MAX ((size_t)64 << 20)
/* __NEW_UTS_LEN */
#define RELEASE_MAX 64

struct kiln_kernel {
	struct kiln_kernel_info info;
	char *release;
	char *vermagic;
	char *vermagic_source;
	char *cert;
	char *symvers_path;
	struct kiln_symvers *symvers;
	struct strmap modules; /* normalized name -> where it was found */
	struct strmap module_files; /* normalized name -> its file, from modules.dep */
	struct strmap symbol_modules; /* symbol -> exporting module, from modules.symbols */
	bool has_module_symbols;
	char *image;
	struct kiln_kernel_cert *certs;
	size_t n_certs;
};

void kiln_kernel_free(struct kiln_kernel *k)
{
	if (!k)
		return;
	free(k->release);
	free(k->vermagic);
	free(k->vermagic_source);
	free(k->cert);
	free(k->symvers_path);
	kiln_symvers_free(k->symvers);
	strmap_release(&k->modules);
	strmap_release(&k->module_files);
	strmap_release(&k->symbol_modules);
	free(k->image);
	kiln_kernel_certs_free(k->certs, k->n_certs);
	free(k);
}

const struct kiln_kernel_info *kiln_kernel_info(const struct kiln_kernel *k)
{
	return &k->info;
}

const struct kiln_symvers *kiln_kernel_symvers(const struct kiln_kernel *k)
{
	return k->symvers;
}

const struct kiln_kernel_cert *kiln_kernel_certs(const struct kiln_kernel *k, size_t *ret_n)
{
	*ret_n = k->n_certs;
	return k->certs;
}

bool kiln_kernel_knows_module_exports(const struct kiln_kernel *k)
{
	return k->has_module_symbols;
}

/* Module names: the kernel (and modprobe) treat '-' and '_' alike. */
static char *module_name_normalize(const char *s, size_t len)
{
	char *n = strndup(s, len);

	for (char *p = n; p && *p; p++)
		if (*p == '-')
			*p = '_';
	return n;
}

const char *kiln_kernel_module_source(const struct kiln_kernel *k, const char *name)
{
	_cleanup_free_ char *n = module_name_normalize(name, strlen(name));

	return n ? strmap_get(&k->modules, n) : NULL;
}

const char *kiln_kernel_symbol_module(const struct kiln_kernel *k, const char *symbol)
{
	const char *name = strmap_get(&k->symbol_modules, symbol);
	_cleanup_free_ char *n = name ? module_name_normalize(name, strlen(name)) : NULL;

	return n ? strmap_get(&k->module_files, n) : NULL;
}

/* ---- the build tree ----------------------------------------------------- */

/* Read @path under @dirfd: 0, -ENOENT when missing, other errors recorded on @ctx. */
static int read_text(struct kiln_ctx *ctx, int dirfd, const char *dir, const char *path,
		     char **ret, size_t *ret_len)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = read_file_at(dirfd, path, TEXT_FILE_MAX, &text, &len);
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return kiln_error(ctx, r, "cannot read \"%s/%s\": %s", dir, path, strerror(-r));
	if (memchr(text, '\0', len))
		return kiln_error(ctx, EBADMSG, "\"%s/%s\": NUL byte in a text file", dir, path);
	*ret = TAKE_PTR(text);
	*ret_len = len;
	return 0;
}

static bool release_ok(const char *s, size_t len)
{
	if (len == 0 || len > RELEASE_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '/' || s[i] == '"' || s[i] == 0x7f)
			return false;
	return true;
}

/* #define UTS_RELEASE "6.1.0-56-amd64" */
static int read_release(struct kiln_ctx *ctx, int dirfd, const char *dir, char **ret)
{
	static const char def[] = "#define UTS_RELEASE \"";
	_cleanup_free_ char *text = NULL;
	const char *p, *q;
	char *release;
	size_t len;
	int r;

	r = read_text(ctx, dirfd, dir, "include/generated/utsrelease.h", &text, &len);
	if (r == 0) {
		p = strstr(text, def);
		if (!p || !(q = strchr(p + sizeof(def) - 1, '"')))
			return kiln_error(ctx, EBADMSG,
					  "\"%s/include/generated/utsrelease.h\" does not define "
					  "UTS_RELEASE",
					  dir);
		p += sizeof(def) - 1;
	} else if (r == -ENOENT) {
		/* a tree before "make prepare" has only this one */
		r = read_text(ctx, dirfd, dir, "include/config/kernel.release", &text, &len);
		if (r == -ENOENT)
			return kiln_error(ctx, r,
					  "\"%s\" has neither include/generated/utsrelease.h nor "
					  "include/config/kernel.release: not a prepared kernel "
					  "build tree",
					  dir);
		if (r < 0)
			return r;
		p = text;
		q = p + strcspn(p, "\n");
	} else {
		return r;
	}
	if (!release_ok(p, (size_t)(q - p)))
		return kiln_error(ctx, EBADMSG, "\"%s\": bad kernel release \"%.*s\"", dir,
				  (int)((size_t)(q - p) > 80 ? 80 : q - p), p);
	release = strndup(p, (size_t)(q - p));
	if (!release)
		return -ENOMEM;
	*ret = release;
	return 0;
}

/* #define RANDSTRUCT_HASHED_SEED "..." */
static int read_randstruct_seed(struct kiln_ctx *ctx, int dirfd, const char *dir, char **ret)
{
	static const char def[] = "#define RANDSTRUCT_HASHED_SEED \"";
	_cleanup_free_ char *text = NULL;
	const char *p, *q;
	char *seed = NULL;
	size_t len;
	int r;

	r = read_text(ctx, dirfd, dir, "include/generated/randstruct_hash.h", &text, &len);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r >= 0 && (p = strstr(text, def)) && (q = strchr(p + sizeof(def) - 1, '"'))) {
		p += sizeof(def) - 1;
		seed = strndup(p, (size_t)(q - p));
		if (!seed)
			return -ENOMEM;
	}
	*ret = seed;
	return 0;
}

static int tristate(const struct strmap *cfg, const char *key)
{
	return kconfig_yes(cfg, key) ? 1 : 0;
}

static int load_config(struct kiln_ctx *ctx, struct kiln_kernel *k, int dirfd, const char *dir,
		       const struct kiln_kernel_options *o)
{
	_cleanup_strmap_ struct strmap cfg = STRMAP_INIT;
	_cleanup_free_ char *text = NULL, *seed = NULL;
	size_t len;
	int r;

	r = read_text(ctx, dirfd, dir, ".config", &text, &len);
	if (r == -ENOENT)
		return 0; /* the facts stay unknown */
	if (r < 0)
		return r;
	r = kconfig_parse(text, len, &cfg);
	if (r < 0)
		return r;
	k->info.modversions = tristate(&cfg, "CONFIG_MODVERSIONS");
	k->info.module_sig = tristate(&cfg, "CONFIG_MODULE_SIG");
	k->info.sig_force = tristate(&cfg, "CONFIG_MODULE_SIG_FORCE");
	k->info.lockdown_forced =
		kconfig_yes(&cfg, "CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY") ||
		kconfig_yes(&cfg, "CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY");
	k->info.lockdown_secure_boot = tristate(&cfg, "CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT");
	k->info.force_load = tristate(&cfg, "CONFIG_MODULE_FORCE_LOAD");
	k->info.allow_missing_ns = tristate(&cfg, "CONFIG_MODULE_ALLOW_MISSING_NAMESPACE_IMPORTS");
	if (o->vermagic)
		return 0;
	r = read_randstruct_seed(ctx, dirfd, dir, &seed);
	if (r < 0)
		return r;
	r = vermagic_from_kconfig(ctx, k->release, &cfg, seed, &k->vermagic);
	if (r < 0) {
		kiln_error_prefix(ctx, "\"%s/.config\"", dir);
		return r;
	}
	k->vermagic_source = strdup(".config");
	return k->vermagic_source ? 0 : -ENOMEM;
}

/* ---- which modules the kernel has --------------------------------------- */

/* The module name of a path in modules.dep or modules.builtin: "kernel/a/b-c.ko.xz" is "b_c". */
static char *module_name_of_path(const char *p, size_t len)
{
	static const char *const exts[] = { ".ko.xz", ".ko.zst", ".ko.gz", ".ko" };
	const char *slash = memrchr(p, '/', len);

	if (slash) {
		len -= (size_t)(slash + 1 - p);
		p = slash + 1;
	}
	for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
		size_t n = strlen(exts[i]);

		if (len > n && memcmp(p + len - n, exts[i], n) == 0) {
			len -= n;
			break;
		}
	}
	return module_name_normalize(p, len);
}

static int add_module_path(struct kiln_kernel *k, const char *p, size_t len, const char *source)
{
	_cleanup_free_ char *n = module_name_of_path(p, len);

	if (!n)
		return -ENOMEM;
	if (!n[0] || strmap_get(&k->modules, n))
		return 0;
	return strmap_set(&k->modules, n, source);
}

/*
 * Remember where module @name's file is: "@dir/@path". A path that is
 * absolute or climbs out of the directory is not followed (the directory
 * may come from an image kiln did not make).
 */
static int add_module_file(struct kiln_kernel *k, const char *dir, const char *path, size_t len)
{
	_cleanup_free_ char *name = NULL, *file = NULL;

	if (!len || path[0] == '/' || memmem(path, len, "..", 2))
		return 0;
	name = module_name_of_path(path, len);
	if (asprintf(&file, "%s/%.*s", dir, (int)len, path) < 0)
		file = NULL;
	if (!name || !file)
		return -ENOMEM;
	return strmap_get(&k->module_files, name) ? 0 : strmap_set(&k->module_files, name, file);
}

/* modules.builtin: a path a line; modules.dep: "path: deps" a line. */
static int load_module_list(struct kiln_ctx *ctx, struct kiln_kernel *k, int dirfd, const char *dir,
			    const char *file)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = read_text(ctx, dirfd, dir, file, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *p = text, *end = text + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eol = nl ? nl : end;
		char *colon = memchr(p, ':', (size_t)(eol - p));

		r = add_module_path(k, p, (size_t)((colon ? colon : eol) - p), file);
		if (r >= 0 && colon && streq(file, "modules.dep"))
			r = add_module_file(k, dir, p, (size_t)(colon - p));
		if (r < 0)
			return r;
		p = eol + 1;
	}
	return 0;
}

/* modules.symbols: "alias symbol:NAME MODULE" a line, as depmod writes it. */
static int load_module_symbols(struct kiln_ctx *ctx, struct kiln_kernel *k, int dirfd,
			       const char *dir)
{
	static const char prefix[] = "alias symbol:";
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	r = read_text(ctx, dirfd, dir, "modules.symbols", &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *p = text, *end = text + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eol = nl ? nl : end, *sp;

		*eol = '\0';
		if (strncmp(p, prefix, sizeof(prefix) - 1) == 0 &&
		    (sp = strchr(p + sizeof(prefix) - 1, ' '))) {
			*sp = '\0';
			if (!strmap_get(&k->symbol_modules, p + sizeof(prefix) - 1)) {
				r = strmap_set(&k->symbol_modules, p + sizeof(prefix) - 1, sp + 1);
				if (r < 0)
					return r;
			}
		}
		p = eol + 1;
	}
	k->has_module_symbols = true;
	return 0;
}

/* In-tree modules that export symbols: the module column of the kernel's Module.symvers. */
static int load_symvers_modules(struct kiln_kernel *k)
{
	const struct kiln_symvers_entry *e;
	size_t n;
	int r;

	e = kiln_symvers_entries(k->symvers, &n);
	for (size_t i = 0; i < n; i++) {
		bool kernels = streq(e[i].file, k->symvers_path);

		if (streq(e[i].module, "vmlinux"))
			continue;
		r = add_module_path(k, e[i].module, strlen(e[i].module),
				    kernels ? "Module.symvers" : e[i].file);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The vermagic of the first module modules.dep lists: what that kernel's modules carry. */
static int vermagic_from_modules_dir(struct kiln_ctx *ctx, struct kiln_kernel *k, int dirfd,
				     const char *dir)
{
	_cleanup_(kiln_module_freep) struct kiln_module *m = NULL;
	_cleanup_free_ char *text = NULL, *path = NULL;
	const char *vm;
	size_t len;
	int r;

	r = read_text(ctx, dirfd, dir, "modules.dep", &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	len = strcspn(text, ":\n");
	if (!len)
		return 0;
	if (asprintf(&path, "%s/%.*s", dir, (int)len, text) < 0) {
		path = NULL;
		return -ENOMEM;
	}
	r = kiln_module_open(ctx, path, &m);
	if (r < 0)
		return r;
	vm = kiln_module_get(m, "vermagic");
	if (!vm)
		return 0;
	k->vermagic = strdup(vm);
	k->vermagic_source = TAKE_PTR(path);
	return k->vermagic ? 0 : -ENOMEM;
}

/* ---- putting it together ------------------------------------------------ */

static int open_dir(struct kiln_ctx *ctx, const char *dir, const char *what)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e = errno;

	if (fd < 0)
		return kiln_error(ctx, e, "cannot open %s \"%s\": %s", what, dir, strerror(e));
	return fd;
}

/* What kiln_kernel_load() cannot do without: Module.symvers and the release. */
static bool is_build_tree(int dirfd)
{
	return faccessat(dirfd, "Module.symvers", R_OK, 0) == 0 &&
	       (faccessat(dirfd, "include/generated/utsrelease.h", R_OK, 0) == 0 ||
		faccessat(dirfd, "include/config/kernel.release", R_OK, 0) == 0);
}

int kiln_kernel_build_find(struct kiln_ctx *ctx, const char *root, const char **ret_subdir)
{
	/* src first: an image with its tree there may hold other files at its top */
	static const char *const subdirs[] = { "src", "." };
	_cleanup_close_ int rootfd = open_dir(ctx, root, "directory");

	if (rootfd < 0)
		return rootfd;
	for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
		/* the tree's own directory is not followed out of @root */
		_cleanup_close_ int fd =
		    openat(rootfd, subdirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd >= 0 && is_build_tree(fd)) {
			*ret_subdir = subdirs[i];
			return 1;
		}
	}
	return 0;
}

/* A kernel's own modules directory: modules_install leaves both, depmod alone no modules.builtin. */
static bool is_kernel_modules_dir(int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd >= 0 && release_ok(name, strlen(name)) &&
	       faccessat(fd, "modules.dep", R_OK, 0) == 0 &&
	       faccessat(fd, "modules.builtin", R_OK, 0) == 0;
}

int kiln_kernel_modules_find(struct kiln_ctx *ctx, const char *root, char **ret_subdir)
{
	/* merged /usr first: lib/modules is the same directory through a symlink there */
	static const char *const bases[] = { "usr/lib/modules", "lib/modules" };
	_cleanup_close_ int rootfd = open_dir(ctx, root, "directory");

	if (rootfd < 0)
		return rootfd;
	for (size_t b = 0; b < ELEMENTSOF(bases); b++) {
		_cleanup_(strv_freep) char **names = NULL;
		_cleanup_close_ int fd = -1;
		const char *found = NULL;
		char *subdir;
		size_t n = 0;
		int r;

		r = open_dir_in_root(rootfd, bases[b], false, &fd);
		if (r < 0 || dir_names(fd, &names) < 0)
			continue;
		for (size_t i = 0; names[i]; i++)
			if (is_kernel_modules_dir(fd, names[i]) && n++ == 0)
				found = names[i];
		if (n == 0)
			continue;
		/* two kernels: which one the modules are for is not for kiln to guess */
		if (n > 1)
			return 0;
		if (asprintf(&subdir, "%s/%s", bases[b], found) < 0)
			return -ENOMEM;
		*ret_subdir = subdir;
		return 1;
	}
	return 0;
}

static int load_symvers(struct kiln_ctx *ctx, struct kiln_kernel *k,
			const struct kiln_kernel_options *o)
{
	size_t first_extra = 0;
	int r;

	r = kiln_symvers_new(&k->symvers);
	if (r < 0)
		return r;
	if (o->build_dir) {
		if (asprintf(&k->symvers_path, "%s/Module.symvers", o->build_dir) < 0) {
			k->symvers_path = NULL;
			return -ENOMEM;
		}
	} else if (o->n_symvers) {
		k->symvers_path = strdup(o->symvers[0]);
		if (!k->symvers_path)
			return -ENOMEM;
		first_extra = 1;
	} else if (o->modules_dir) {
		/* a kernel known by its modules alone: what it exports is unknown */
		return 0;
	} else {
		return kiln_error(ctx, EINVAL, "no Module.symvers: give a kernel build tree or "
					       "the kernel's Module.symvers");
	}
	r = kiln_symvers_add_file(ctx, k->symvers, k->symvers_path);
	if (r < 0)
		return r;
	for (size_t i = first_extra; i < o->n_symvers; i++) {
		r = kiln_symvers_add_file(ctx, k->symvers, o->symvers[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Without .config: CONFIG_MODVERSIONS shows in the vermagic, or in non-zero CRCs. */
static int guess_modversions(const struct kiln_kernel *k)
{
	const struct kiln_symvers_entry *e;
	size_t n;

	if (k->vermagic)
		return strstr(k->vermagic, " modversions ") != NULL;
	e = kiln_symvers_entries(k->symvers, &n);
	for (size_t i = 0; i < n; i++)
		if (e[i].crc && streq(e[i].file, k->symvers_path))
			return 1;
	return 0;
}

/* The boot image: its release (returned) and its certificates (kept). */
static int load_image(struct kiln_ctx *ctx, struct kiln_kernel *k, const char *path,
		      char **ret_release)
{
	_cleanup_(kiln_kernel_image_freep) struct kiln_kernel_image *img = NULL;
	const char *release;
	char *copy = NULL;
	int r;

	r = kiln_kernel_image_open(ctx, path, &img);
	if (r >= 0)
		r = kiln_kernel_image_certs(ctx, img, &k->certs, &k->n_certs);
	if (r < 0)
		return r;
	k->image = strdup(path);
	if (!k->image)
		return -ENOMEM;
	release = kiln_kernel_image_release(img);
	if (release && release_ok(release, strlen(release))) {
		copy = strdup(release);
		if (!copy)
			return -ENOMEM;
	}
	*ret_release = copy;
	return 0;
}

/*
 * The image, the modules and the release given must be of one kernel: a
 * modules directory of another kernel, or a --release that is not the
 * image's, would check against the wrong one.
 */
static int check_releases(struct kiln_ctx *ctx, const struct kiln_kernel *k,
			  const struct kiln_kernel_options *o, const char *image_release)
{
	size_t len;

	if (image_release && !streq(image_release, k->release))
		return kiln_error(ctx, EINVAL,
				  "the kernel image '%s' is release %s, not %s: give the image "
				  "and the release of one kernel",
				  o->kernel_image, image_release, k->release);
	if (!k->vermagic || o->vermagic || o->build_dir || !o->modules_dir || o->release)
		return 0;
	/* the vermagic is the one of a module of the modules directory */
	len = strcspn(k->vermagic, " ");
	if (strlen(k->release) != len || strncmp(k->vermagic, k->release, len) != 0)
		return kiln_error(ctx, EINVAL,
				  "the modules of '%s' are for release %.*s, the kernel is %s: "
				  "give the modules directory of that kernel",
				  o->modules_dir, (int)len, k->vermagic, k->release);
	return 0;
}

static int kernel_load(struct kiln_ctx *ctx, struct kiln_kernel *k,
		       const struct kiln_kernel_options *o)
{
	_cleanup_close_ int build_fd = -1, mods_fd = -1;
	_cleanup_free_ char *image_release = NULL;
	int r;

	if (o->build_dir) {
		build_fd = open_dir(ctx, o->build_dir, "kernel build tree");
		if (build_fd < 0)
			return build_fd;
	}
	if (o->modules_dir) {
		mods_fd = open_dir(ctx, o->modules_dir, "modules directory");
		if (mods_fd < 0)
			return mods_fd;
	}

	if (o->kernel_image) {
		r = load_image(ctx, k, o->kernel_image, &image_release);
		if (r < 0)
			return r;
	}
	if (o->vermagic) {
		k->vermagic = strdup(o->vermagic);
		k->vermagic_source = strdup("options");
		if (!k->vermagic || !k->vermagic_source)
			return -ENOMEM;
	} else if (o->modules_dir && !o->build_dir) {
		r = vermagic_from_modules_dir(ctx, k, mods_fd, o->modules_dir);
		if (r < 0)
			return r;
	}

	if (o->release) {
		if (!release_ok(o->release, strlen(o->release)))
			return kiln_error(ctx, EINVAL, "bad kernel release \"%s\"", o->release);
		k->release = strdup(o->release);
		if (!k->release)
			return -ENOMEM;
	} else if (o->build_dir) {
		r = read_release(ctx, build_fd, o->build_dir, &k->release);
		if (r < 0)
			return r;
	} else if (image_release) {
		k->release = TAKE_PTR(image_release);
	} else if (k->vermagic && !o->vermagic) {
		/* the release the kernel's own modules were built for */
		k->release = strndup(k->vermagic, strcspn(k->vermagic, " "));
		if (!k->release)
			return -ENOMEM;
	} else {
		return kiln_error(ctx, EINVAL,
				  "no kernel release: give a kernel build tree, the release, the "
				  "kernel image or its modules directory");
	}
	r = check_releases(ctx, k, o, image_release);
	if (r < 0)
		return r;

	if (o->build_dir) {
		r = load_config(ctx, k, build_fd, o->build_dir, o);
		if (r < 0)
			return r;
	}
	if (!k->vermagic && o->modules_dir) {
		r = vermagic_from_modules_dir(ctx, k, mods_fd, o->modules_dir);
		if (r < 0)
			return r;
	}

	r = load_symvers(ctx, k, o);
	if (r < 0)
		return r;
	if (k->info.modversions < 0)
		k->info.modversions = guess_modversions(k);

	if (o->cert) {
		k->cert = strdup(o->cert);
		if (!k->cert)
			return -ENOMEM;
	} else if (o->build_dir && faccessat(build_fd, "certs/signing_key.x509", R_OK, 0) == 0) {
		if (asprintf(&k->cert, "%s/certs/signing_key.x509", o->build_dir) < 0) {
			k->cert = NULL;
			return -ENOMEM;
		}
	}

	if (o->build_dir) {
		r = load_module_list(ctx, k, build_fd, o->build_dir, "modules.builtin");
		if (r < 0)
			return r;
	}
	if (o->modules_dir) {
		r = load_module_list(ctx, k, mods_fd, o->modules_dir, "modules.builtin");
		if (r >= 0)
			r = load_module_list(ctx, k, mods_fd, o->modules_dir, "modules.dep");
		if (r >= 0 && !o->build_dir && !o->n_symvers)
			r = load_module_symbols(ctx, k, mods_fd, o->modules_dir);
		if (r < 0)
			return r;
	}
	return load_symvers_modules(k);
}

int kiln_kernel_load(struct kiln_ctx *ctx, const struct kiln_kernel_options *o,
		     struct kiln_kernel **ret)
{
	_cleanup_(kiln_kernel_freep) struct kiln_kernel *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->info = (struct kiln_kernel_info){
		.modversions = -1,
		.module_sig = -1,
		.sig_force = -1,
		.lockdown_forced = -1,
		.lockdown_secure_boot = -1,
		.force_load = -1,
		.allow_missing_ns = -1,
	};
	r = kernel_load(ctx, k, o);
	if (r < 0)
		return r;
	k->info.release = k->release;
	k->info.vermagic = k->vermagic;
	k->info.vermagic_source = k->vermagic_source;
	k->info.cert = k->cert;
	k->info.kernel_image = k->image;
	k->info.n_image_certs = k->n_certs;
	k->info.symvers = k->symvers_path;
	kiln_symvers_entries(k->symvers, &k->info.n_symbols);
	k->info.n_modules = k->modules.n_entries;
	*ret = TAKE_PTR(k);
	return 0;
}
