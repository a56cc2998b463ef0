/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What layer.c, archive.c and archive-import.c share. Internal to lib/oci. */

#include <kiln/layer.h>

/*
 * The name the store keeps an image under (kiln_ref_name()), from any
 * spelling of a reference; one with a digest is -EINVAL: a name takes a tag.
 */
int layer_canonical_name(struct kiln_ctx *ctx, const char *ref, char **ret);

/*
 * Reading layer @lr failed with @r. A corrupt blob decompresses to garbage
 * that the tar reader reports first; when the blob itself is at fault
 * (its digest, or its compression), that is the error left on the
 * context instead. Returns @r, or the blob's error.
 */
int layer_reader_fail(struct kiln_ctx *ctx, struct kiln_layer_reader *lr, int r);

/* -EBADMSG, naming the image, unless its config has a diff_id for each layer. */
int layer_check_image(struct kiln_ctx *ctx, const struct kiln_image *img);

/*
 * Read the layers of @img in order, bottom first: @apply gets each one's
 * tar stream; a layer's digest and diff_id are checked after it. Errors
 * name the layer (its position, 1-based, and digest).
 */
int layer_apply_image(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *img,
		      int (*apply)(void *userdata, size_t i, struct kiln_tar_reader *tar),
		      void *userdata);

/* The OCI layout's marker file, as containerd requires it. */
#define OCI_LAYOUT_JSON "{\"imageLayoutVersion\":\"1.0.0\"}"

/*
 * Whether the symlink text @target, followed from a directory @depth levels
 * below an image's root, leaves the root: a relative target whose ".."
 * climbs above it at any point, or an absolute one that is the root itself
 * ("/", "//", "/.", "/usr/.."). Unpacking and the flattened view refuse
 * entries written through one alike (lib/oci/fs.c).
 */
bool layer_symlink_leaves_root(const char *target, size_t depth);
