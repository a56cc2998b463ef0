/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the installer's files share: the state of one run, its extensions,
 * and the steps each file does. installer.c runs the phases in order and
 * reads the base; installer-ext.c loads the extensions and makes their
 * squashfs images and the merged modules; installer-preflight.c checks
 * their modules against the base's kernel; installer-initramfs.c writes
 * extensions.yaml and the initramfs. Internal to lib/image.
 */

#include <kiln/ext.h>
#include <kiln/image.h>
#include <kiln/oci.h>

/* The synthetic extension of the merged modules.* files, last in the list. */
#define INSTALLER_MODULES_DEP "modules.dep"

struct installer_ext {
	char *name; /* "0", "1", ...; INSTALLER_MODULES_DEP: the squashfs is NAME.sqsh */
	const char *ref; /* as given; NULL for the modules.dep extension */
	struct kiln_ext_input *in; /* NULL for the modules.dep extension */
	char *rootfs; /* its rootfs/ */
	struct kiln_ext_manifest *manifest;
	bool has_modules; /* rootfs/usr/lib/modules is there */
};

struct installer {
	struct kiln_ctx *ctx;
	struct kiln_store *s;
	const struct kiln_installer_options *o;
	struct kiln_installer_result *res;
	const char *arch;
	struct kiln_platform platform;
	char *cache; /* kiln's cache directory */
	char *work; /* this run's scratch directory, removed at the end */

	struct kiln_image *base;
	char *base_initramfs; /* WORK/base-initramfs: the base's, as it is */
	char *base_kernel; /* WORK/vmlinuz */

	struct installer_ext *exts; /* in Talos's order; the modules.dep one last */
	size_t n_exts;
	char *modules; /* WORK/modules: holds usr/lib/modules/<release> */
	char *staging; /* WORK/initramfs: what the appended archive holds */
	char *ucode; /* WORK/ucode: kernel/x86/microcode/, the prepended archive */
	bool has_ucode;

	enum kiln_installer_phase phase;
	double phase_start;
};

/* A file written as a stream: a kiln_write_fn whose errors name @path. */
struct installer_fd {
	struct kiln_ctx *ctx;
	int fd;
	const char *path;
};

int installer_fd_write(void *userdata, const void *data, size_t len);

/* Tell the caller about @ev (its phase is the current one). */
void installer_event(struct installer *in, struct kiln_installer_event *ev);

/* Seconds on a monotonic clock. */
double installer_now(void);

/* ---- installer-ext.c ---- */

/*
 * Open every extension (pulled when missing), in Talos's order, load its
 * manifest and check its constraint against the base's version.
 */
int installer_load_extensions(struct installer *in);

/* Whether any extension has usr/lib/modules. */
bool installer_has_modules(const struct installer *in);

/*
 * rootfs.sqsh out of the base's initramfs, its usr/lib/modules extracted
 * into in->modules: the release (the one directory there) in
 * res->kernel_release.
 */
int installer_extract_modules(struct installer *in);

/*
 * Each extension's usr/lib/modules/<release> over the base's, depmod, and
 * the modules.dep extension made of the top-level modules.* files, last.
 */
int installer_merge_modules(struct installer *in);

/*
 * Per extension: its microcode into in->ucode, its firmware into
 * in->staging, and its squashfs image there (from the cache when it is
 * there).
 */
int installer_squash_extensions(struct installer *in);

void installer_exts_free(struct installer_ext *e, size_t n);

/* ---- installer-preflight.c ---- */

/*
 * Check every module of every extension against the base's kernel (the
 * release and modules extracted into in->modules, and the certificates
 * given): 0 when every one would load, else an error naming the first
 * that would not, in the kernel's words, with the fix.
 */
int installer_preflight(struct installer *in);

/* ---- installer-initramfs.c ---- */

/* Write in->staging/extensions.yaml as Talos writes it. */
int installer_write_extensions_yaml(struct installer *in);

/*
 * The new initramfs to @fd: the microcode archive, the base's bytes, the
 * archive of in->staging compressed as the base's initramfs is.
 */
int installer_write_initramfs(struct installer *in, int fd);
