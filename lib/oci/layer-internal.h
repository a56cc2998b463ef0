/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What layer.c, fs.c, archive.c, archive-import.c, archive-members.c and
 * tar-import.c share. Internal to lib/oci.
 */

#include <kiln/layer.h>

/*
 * The name the store keeps an image under (kiln_ref_name()), from any
 * spelling of a reference; one with a digest is -EINVAL: a name takes a tag.
 */
int layer_canonical_name(struct kiln_ctx *ctx, const char *ref, char **ret);

/* Writes a layer's entries into @w: 0, or -errno with the reason on the context. */
typedef int (*layer_fill_fn)(void *userdata, struct kiln_tar_writer *w);

/*
 * A layer blob made in one pass, in constant memory: the tar @fill writes
 * -> sha256 (*@ret_diff_id) -> compressor @c at @level -> the store.
 * *@ret gets the blob's descriptor. Nothing is stored when @fill fails.
 */
int layer_write(struct kiln_ctx *ctx, struct kiln_store *s, enum kiln_compression c, int level,
		layer_fill_fn fill, void *userdata, struct kiln_descriptor *ret,
		struct kiln_digest *ret_diff_id);

/*
 * A one-layer image whose layer is what @fill writes, made and named as
 * kiln_image_from_dirfd() makes it (o->layer.tree is not used).
 */
int layer_make_image(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref_name,
		     const struct kiln_image_options *o, layer_fill_fn fill, void *userdata,
		     struct kiln_descriptor *ret);

/*
 * What every applier of a layer (fs.c to the flattened filesystem,
 * unpack.c to a directory) asks of entry @e before it touches anything: a
 * clean path (kiln_tar_path_clean(), in *@ret_clean), a type that is
 * applied, the root only as a directory, and no whiteout used as a
 * directory. Returns 1 with *@ret_base at the last component of
 * *@ret_clean, 0 for the root itself (nothing to apply), or -errno with the
 * reason on @ctx.
 */
int layer_entry_check(struct kiln_ctx *ctx, const struct kiln_tar_entry *e, char **ret_clean,
		      const char **ret_base);

/*
 * Apply one entry (@index, counting from 0) of layer @layer to @fs, with
 * every check kiln_fs_apply() makes; a refusal names the entry.
 */
int layer_fs_apply_entry(struct kiln_ctx *ctx, struct kiln_fs *fs, unsigned layer, uint64_t index,
			 const struct kiln_tar_entry *e);

/*
 * The kind of archive whose top-level members include (or not) index.json,
 * oci-layout and manifest.json: an oci-archive has the first two, a
 * docker-archive the third (Docker 25 writes all three: it is read as an
 * oci-archive); a tar with none of them is KILN_ARCHIVE_ROOTFS.
 */
enum kiln_archive_format archive_kind(bool index_json, bool oci_layout, bool manifest_json);

/*
 * kiln_archive_import() of the plain tar on @fd (read by offset from 0;
 * @fd is not closed), named @what in messages. @format must not be
 * KILN_ARCHIVE_ROOTFS.
 */
int archive_import_fd(struct kiln_ctx *ctx, struct kiln_store *s, int fd, const char *what,
		      enum kiln_archive_format format, const char *ref_name,
		      const struct kiln_platform *platform, struct kiln_descriptor *ret,
		      char **ret_name);

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

/* ---- archive-members.c: an archive's members, read by name ---- */

/* A member of an archive: its name (clean), type, and where its data is. */
struct archive_member {
	char *name; /* clean */
	char type;
	char *linkname;
	uint64_t offset, size;
};

/* An archive listed by archive_open(); members are read by offset from @fd. */
struct archive {
	struct kiln_ctx *ctx;
	const char *path;
	int fd;
	struct archive_member *m;
	size_t n, alloc;
};

/*
 * List the members of the tar on @fd (from offset 0, on a descriptor of
 * its own): names, types, where their data is. The tar must not be
 * compressed. Errors name @path; archive_release() @a in any case.
 */
int archive_open(struct kiln_ctx *ctx, int fd, const char *path, struct archive *a);

void archive_release(struct archive *a);

/* The member @name (clean), the last of equal names as extraction would leave it; NULL if none. */
const struct archive_member *archive_member_named(const struct archive *a, const char *name);

/* The regular file @name is, following links between members within the archive. */
int archive_find_file(const struct archive *a, const char *name, const struct archive_member **ret);

/* A member's data, read by offset: archive_range_read() reads it as a kiln_read_fn. */
struct archive_range {
	struct archive *a;
	const char *name;
	uint64_t off, left;
};

ssize_t archive_range_read(void *userdata, void *buf, size_t len);

/* The regular file @name (of at most @max bytes) read whole, NUL-terminated: *@ret, *@ret_len. */
int archive_read_member(const struct archive *a, const char *name, size_t max, char **ret,
			size_t *ret_len);
