/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading a module file whole, as sign and verify do. Internal to lib/kmod. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <kiln/kiln.h>
#include <kiln/module.h>

#include "fileio.h"

/*
 * All of the module file @path, up to KILN_MODULE_MAX_SIZE, NUL-terminated.
 * The error on @ctx is worded for the caller to prefix with the file's name.
 */
int kmod_read_file(struct kiln_ctx *ctx, const char *path, char **ret, size_t *ret_len);

/*
 * A module signed, but not yet in place: kmod_sign_file_stage() is
 * kiln_module_sign_file() up to the signed file written beside the module
 * (and synced, if @sync), kmod_signed_rename() puts it in place, and
 * kmod_signed_release() removes it if it was not. A batch renames every
 * module or none (kiln_module_batch()), and syncs them all at once first.
 * @path must outlive *@ret.
 */
struct kmod_signed {
	struct atomic_file file; /* .path: the file replaced, @path or a symlink's target */
	char *resolved; /* that target, when @path is a symlink */
	dev_t dev; /* the file system it was written to */
};

int kmod_sign_file_stage(struct kiln_ctx *ctx, const struct kiln_signer *s, const char *path,
			 unsigned flags, bool sync, struct kiln_sign_info *ret_info,
			 struct kmod_signed *ret);
int kmod_signed_rename(struct kiln_ctx *ctx, struct kmod_signed *f);
void kmod_signed_release(struct kmod_signed *f);
