/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Layers and archives: deterministic tar streams made from a directory,
 * a tar reader for hostile input, compression as layers use it, the
 * flattened filesystem of an image (for ls and cat, in memory, metadata
 * only), unpacking into a directory that symlinks cannot lead out of, and
 * docker-archive / oci-archive export and import.
 *
 * Everything streams: a layer is never held in memory, whatever its size.
 * Tar input is hostile: header sizes are capped, numbers are checked, and
 * paths that are absolute or hold ".." are refused where they are applied.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <kiln/compress.h>
#include <kiln/kiln.h>
#include <kiln/oci.h>

#pragma GCC visibility push(default)

/* ---- compression (the formats and streams are in kiln/compress.h) ------- */

/* The OCI layer media type for @c; NULL for xz and bzip2. */
const char *kiln_layer_media_type(enum kiln_compression c);

/* ---- tar entries --------------------------------------------------------- */

enum kiln_tar_type {
	KILN_TAR_REG = '0',
	KILN_TAR_LINK = '1',
	KILN_TAR_SYMLINK = '2',
	KILN_TAR_CHAR = '3',
	KILN_TAR_BLOCK = '4',
	KILN_TAR_DIR = '5',
	KILN_TAR_FIFO = '6',
};

struct kiln_xattr {
	char *name; /* "user.foo", "security.capability" */
	void *value;
	size_t len;
};

struct kiln_tar_entry {
	char *path; /* as in the archive; NUL-free, never empty */
	char *linkname; /* hard and symbolic links; NULL otherwise */
	char type; /* a KILN_TAR_* value, or another typeflag as found */
	uint32_t mode; /* permission bits and setuid, setgid, sticky (07777) */
	uint64_t uid, gid;
	int64_t mtime; /* seconds since the epoch */
	uint64_t size; /* data bytes; 0 for types that carry none (links, dirs, devices) */
	uint32_t devmajor, devminor;
	struct kiln_xattr *xattrs; /* sorted by name */
	size_t n_xattrs;
};

/*
 * Paths longer than this are refused where they are applied (the flattened
 * view, unpacking): the kernel takes no longer path in one call, and it
 * bounds how deep a hostile layer can make a tree.
 */
#define KILN_TAR_PATH_MAX 4096

/*
 * An archive path as kiln applies it: "./" and empty components dropped,
 * the trailing "/" of a directory too; "" is the root. An absolute path, a
 * ".." component or a path over KILN_TAR_PATH_MAX is -EINVAL, with the
 * reason on @ctx.
 */
int kiln_tar_path_clean(struct kiln_ctx *ctx, const char *path, char **ret);

/* ---- writing tar streams (lib/oci/tar-write.c) ---------------------------- */

/*
 * A tar writer in the form Go's archive/tar writes: ustar headers, with a
 * PAX extended header ('x') before an entry only when ustar cannot hold it
 * (a path over 100 bytes that no '/' splits into prefix and name, a
 * linkname over 100 bytes, a size of 8 GiB or more, ids over 2097151,
 * extended attributes as SCHILY.xattr.NAME). uname and gname are empty.
 * The archive ends with the two zero blocks of the standard (1024 bytes)
 * and no padding to a 10240-byte record: Go's choice, not GNU tar's.
 */
struct kiln_tar_writer;
int kiln_tar_writer_new(kiln_write_fn out, void *userdata, struct kiln_tar_writer **ret);

/*
 * Start an entry; exactly @e->size bytes of data must follow for a regular
 * file (and none for other types). The mtime must be in [0, 8^11).
 */
int kiln_tar_writer_add(struct kiln_ctx *ctx, struct kiln_tar_writer *w,
			const struct kiln_tar_entry *e);
int kiln_tar_writer_write(struct kiln_tar_writer *w, const void *data, size_t len);
/* Check the last entry got all its data, pad it, and write the trailer. */
int kiln_tar_writer_finish(struct kiln_ctx *ctx, struct kiln_tar_writer *w);
/* Bytes written so far. */
uint64_t kiln_tar_writer_offset(const struct kiln_tar_writer *w);
void kiln_tar_writer_free(struct kiln_tar_writer *w);

/* How a directory tree becomes tar entries. */
struct kiln_tar_tree_options {
	int64_t mtime; /* every entry's mtime: SOURCE_DATE_EPOCH */
	uint32_t uid, gid; /* every entry's owner */
	/* record extended attributes, but never security.selinux or system.* (host state) */
	bool xattrs;
	/*
	 * NULL, or a relative path ("src", "usr/lib") under which the tree is
	 * written: its directories first (mode 0755), then every entry as
	 * PREFIX/NAME, as if the tree had been copied there.
	 */
	const char *prefix;
};

/*
 * Append the tree under @dirfd (not the directory itself) to @w: entries
 * sorted bytewise by their names as written (directories end in "/"), so
 * that parents come first; modes kept (07777), owners and times from @o;
 * a file seen again through another hard link is a link ('1') to the first
 * name; symlinks, fifos and devices as entries; sockets skipped with a
 * warning. Symlinks are never followed: every open is
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), and each file is checked
 * to be the inode listed, with the size it had when opened: a tree that
 * changes while it is read is an error (-ESTALE), never a wrong archive.
 */
int kiln_tar_write_tree(struct kiln_ctx *ctx, int dirfd, const struct kiln_tar_tree_options *o,
			struct kiln_tar_writer *w);

/* ---- reading tar streams (lib/oci/tar-read.c) ---------------------------- */

/* The cap on a PAX header's data and on a GNU long name or long linkname. */
#define KILN_TAR_META_MAX (1u << 20)

/*
 * A streaming reader for hostile tars: ustar, GNU (long names 'L' and 'K'),
 * PAX ('x': path, linkpath, size, uid, gid, mtime, SCHILY.xattr.*; global
 * 'g' headers are checked and then ignored, as Go's archive/tar, which the
 * container runtimes use, ignores them). Checksums are verified (signed or
 * unsigned, as Go accepts), numbers are octal or base-256 and checked for
 * overflow and sign, and a stream that ends anywhere but after the
 * end-of-archive blocks is -EBADMSG ("truncated"); only an empty stream is
 * an empty archive. Sparse files are -EOPNOTSUPP. Errors name the byte
 * offset in the uncompressed stream.
 */
struct kiln_tar_reader;
int kiln_tar_reader_new(struct kiln_ctx *ctx, kiln_read_fn in, void *userdata,
			struct kiln_tar_reader **ret);

/*
 * Skip @n bytes of input without reading them (an lseek on a file), for
 * readers that only list an archive; NULL (the default) reads and drops.
 */
typedef int (*kiln_skip_fn)(void *userdata, uint64_t n);
void kiln_tar_reader_set_skip(struct kiln_tar_reader *r, kiln_skip_fn skip);

/*
 * The next entry, valid until the next call: 1, or 0 at the end of the
 * archive. Unread data of the previous entry is skipped.
 */
int kiln_tar_reader_next(struct kiln_tar_reader *r, const struct kiln_tar_entry **ret);

/* Read the current entry's data: a kiln_read_fn (pass the reader as userdata). */
ssize_t kiln_tar_reader_read(void *r, void *buf, size_t len);

/* Where the current entry's data starts in the stream; the entry's number, counting from 0. */
uint64_t kiln_tar_reader_data_offset(const struct kiln_tar_reader *r);
uint64_t kiln_tar_reader_index(const struct kiln_tar_reader *r);
void kiln_tar_reader_free(struct kiln_tar_reader *r);

/* ---- layers in the store (lib/oci/layer.c) -------------------------------- */

struct kiln_layer_options {
	struct kiln_tar_tree_options tree;
	enum kiln_compression compression; /* none, gzip or zstd */
	int level; /* 0: the compressor's default */
};

/*
 * Make a layer blob from the tree under @dirfd: tar stream, compressor and
 * blob writer in one pass, in constant memory. *@ret gets the descriptor
 * (OCI layer media type, digest and size of the blob) and *@ret_diff_id the
 * sha256 of the uncompressed tar.
 */
int kiln_layer_from_dir(struct kiln_ctx *ctx, struct kiln_store *s, int dirfd,
			const struct kiln_layer_options *o, struct kiln_descriptor *ret,
			struct kiln_digest *ret_diff_id);

struct kiln_image_options {
	const struct kiln_platform *platform; /* NULL: the host's */
	int64_t created; /* SOURCE_DATE_EPOCH: "created" and every file's mtime */
	const struct kiln_annotation *labels; /* config.Labels */
	size_t n_labels;
	struct kiln_layer_options layer; /* layer.tree.mtime is taken from @created */
	const char *created_by; /* the history entry; NULL: "kiln import" */
};

/*
 * `kiln import DIR`: a one-layer image made from @dir: the layer, a config
 * (os, architecture and variant of the platform, rootfs diff_ids, created,
 * labels, one history entry) and an OCI manifest, stored and, when
 * @ref_name is given, tagged. *@ret gets the manifest's descriptor. The
 * same tree with the same options always gives the same digests.
 */
int kiln_image_from_dir(struct kiln_ctx *ctx, struct kiln_store *s, const char *dir,
			const char *ref_name, const struct kiln_image_options *o,
			struct kiln_descriptor *ret);

/* kiln_image_from_dir() for the tree under the directory @dirfd. */
int kiln_image_from_dirfd(struct kiln_ctx *ctx, struct kiln_store *s, int dirfd,
			  const char *ref_name, const struct kiln_image_options *o,
			  struct kiln_descriptor *ret);

/*
 * An image made of the first @n_layers layers of @base (as they are
 * stored) and one more, made from the tree under @dirfd as
 * kiln_image_from_dirfd() makes its layer (@o->layer; every mtime
 * @o->created): @base's config with everything it says kept (platform,
 * config, labels, other fields), but "created" set to @o->created,
 * rootfs.diff_ids those of the layers kept and the new one's, and the
 * history cut to the kept layers (dropped when it does not give one entry
 * a layer) with an entry for the new layer (@o->created_by); an OCI
 * manifest. Stored and, with @ref_name, named; *@ret gets the manifest's
 * descriptor. @o->platform and @o->labels are not used. The same base,
 * tree and options give the same digests.
 */
int kiln_image_append_dir(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *base,
			  size_t n_layers, int dirfd, const char *ref_name,
			  const struct kiln_image_options *o, struct kiln_descriptor *ret);

/*
 * A layer blob of the store, read as a tar: blob -> sha256 -> decompressor
 * (sniffed) -> sha256 (only when @diff_id is given) -> tar reader.
 * kiln_layer_reader_finish() reads what is left of the blob and checks its
 * digest and size against @layer, and the uncompressed stream against
 * @diff_id when given (-EBADMSG on a mismatch: the store or the image is
 * corrupt).
 */
struct kiln_layer_reader;
int kiln_layer_reader_open(struct kiln_ctx *ctx, struct kiln_store *s,
			   const struct kiln_descriptor *layer, const struct kiln_digest *diff_id,
			   struct kiln_layer_reader **ret);
struct kiln_tar_reader *kiln_layer_reader_tar(struct kiln_layer_reader *lr);
/* How the blob is compressed, as sniffed. */
enum kiln_compression kiln_layer_reader_format(const struct kiln_layer_reader *lr);
/* The uncompressed stream itself, for a caller that copies it rather than parsing it. */
ssize_t kiln_layer_reader_read_raw(void *lr, void *buf, size_t len);
/* Drain and verify; *@ret_size (may be NULL) gets the uncompressed size. */
int kiln_layer_reader_finish(struct kiln_layer_reader *lr, uint64_t *ret_size);
void kiln_layer_reader_free(struct kiln_layer_reader *lr);

/* Reads one layer's tar stream; 0 or -errno with the reason on the context. */
typedef int (*kiln_layer_fn)(void *userdata, struct kiln_tar_reader *tar);

/*
 * The layer blob @layer of the store, read as a tar: @fn gets the tar
 * stream, then what it left unread is read and the blob verified as
 * kiln_layer_reader_finish() does. When @fn fails on a blob that is itself
 * corrupt (its digest, or its compression), that is the error left on the
 * context: garbage decompressed from it is not what is wrong.
 */
int kiln_layer_read(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_descriptor *layer,
		    const struct kiln_digest *diff_id, kiln_layer_fn fn, void *userdata);

/* ---- the flattened filesystem (lib/oci/fs.c) ----------------------------- */

/*
 * The merged tree of an image's layers as a container would see it:
 * metadata only, in memory, whiteouts (".wh.NAME", ".wh..wh..opq")
 * applied, hard links resolved to what they link to. A path that goes
 * through a symlink is resolved as if the image were the root, as
 * unpacking does. Layer entries are refused on the same grounds as when
 * unpacking (absolute, "..", over KILN_TAR_PATH_MAX, a whiteout in a parent
 * path, a hard link to nothing or to a directory, unknown types, a way to
 * the entry or to a hard link's target through a symlink that leaves the
 * root). Looking a path up (kiln_fs_lookup()) follows every symlink inside
 * the image, those that leave the root too, as a container would.
 */
struct kiln_fs;
struct kiln_fs_node;

#define KILN_FS_MAX_NODES (2u << 20)

int kiln_fs_new(struct kiln_fs **ret);
void kiln_fs_free(struct kiln_fs *fs);

/* Apply one layer (@layer counts from 0, base first) read from @tr. */
int kiln_fs_apply(struct kiln_ctx *ctx, struct kiln_fs *fs, unsigned layer,
		  struct kiln_tar_reader *tr);

/* All of @img's layers, read from the store and verified (digest and diff_id). */
int kiln_fs_load_image(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *img,
		       struct kiln_fs **ret);

/*
 * The node at @path ("/etc/passwd", "etc", "/" or "" for the root; ".."
 * stops at the root). Symlinks are followed in every component, and in the
 * last one too when @follow. -ENOENT, -ENOTDIR or -ELOOP with the path on
 * @ctx.
 */
int kiln_fs_lookup(struct kiln_ctx *ctx, const struct kiln_fs *fs, const char *path, bool follow,
		   const struct kiln_fs_node **ret);

struct kiln_fs_stat {
	const char *name; /* "" for the root */
	char type; /* KILN_TAR_REG, _DIR, _SYMLINK, _CHAR, _BLOCK or _FIFO */
	uint32_t mode; /* 07777 */
	uint64_t uid, gid;
	uint64_t size;
	int64_t mtime;
	const char *linkname; /* symlinks */
	uint32_t devmajor, devminor;
	unsigned layer; /* the layer the data comes from (regular files) */
	bool implicit; /* a directory no entry named, made for its children */
};

void kiln_fs_node_stat(const struct kiln_fs_node *n, struct kiln_fs_stat *ret);

/* @n's path in the image, "/" for the root; NULL on -ENOMEM. */
char *kiln_fs_node_path(const struct kiln_fs_node *n);

/* A directory's children sorted by name: the count, or -errno; free() the array. */
int kiln_fs_children(const struct kiln_fs_node *dir, const struct kiln_fs_node ***ret);

/*
 * Stream the contents of the regular file @n to @out, from the layer that
 * holds them (the blob is read again; its digest was checked when @fs was
 * loaded).
 */
int kiln_fs_cat(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *img,
		const struct kiln_fs_node *n, kiln_write_fn out, void *userdata);

/* ---- unpacking (lib/oci/unpack.c) ---------------------------------------- */

struct kiln_unpack_options {
	/*
	 * Create character and block devices (needs CAP_MKNOD). Without it
	 * they are skipped, with one warning per layer naming the first and
	 * the count. Fifos are always created.
	 */
	bool devices;
};

/*
 * Apply layers in order to a directory. Every path is resolved with
 * openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from the directory, so
 * a symlink in the tree (which may point anywhere: it is only data) is
 * followed as if the directory were the root ("var/run -> /run" then
 * "var/run/x" writes DIR/run/x), and nothing outside it is ever written,
 * removed or linked to. An entry (a whiteout too) whose directory, or a
 * hard link whose target's directory, is reached through a symlink that
 * leaves the root is refused (-EINVAL, naming the entry, the symlink and
 * its target): a relative symlink whose ".." climbs above the root,
 * counted from the symlink's own directory ("up -> ../../.."), or an
 * absolute one to the root itself ("a -> /", "//", "/."). Regular files
 * are written to a temporary name and renamed into place. Owners are
 * applied when running as root (else files belong to the caller), modes
 * always, directory modes and times last, deepest first, so that a
 * read-only directory does not stop its own unpacking. Extended
 * attributes that cannot be set are warned about once per layer.
 */
struct kiln_unpacker;
int kiln_unpacker_new(struct kiln_ctx *ctx, int dirfd, const struct kiln_unpack_options *o,
		      struct kiln_unpacker **ret);
int kiln_unpacker_apply(struct kiln_unpacker *u, struct kiln_tar_reader *tr);
/* Set the directories' modes and times; call once after the last layer. */
int kiln_unpacker_finish(struct kiln_unpacker *u);
void kiln_unpacker_free(struct kiln_unpacker *u);

/* All of @img's layers into @dir (which must exist), verified as they are read. */
int kiln_unpack_image(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_image *img,
		      const char *dir, const struct kiln_unpack_options *o);

/*
 * Export @img's files to the directory @dir, whole or not at all: they are
 * unpacked (kiln_unpack_image()) into a temporary directory beside @dir,
 * which is renamed to @dir (mode 0755) once complete; a failure leaves
 * nothing. @dir must be absent or an empty directory (checked before
 * anything is read: -EEXIST, -ENOTEMPTY), unless @replace: then the
 * directory there is swapped out whole and removed.
 */
int kiln_unpack_image_to_dir(struct kiln_ctx *ctx, struct kiln_store *s,
			     const struct kiln_image *img, const char *dir,
			     const struct kiln_unpack_options *o, bool replace);

/* ---- archives (lib/oci/archive.c, lib/oci/archive-import.c) --------------- */

enum kiln_archive_format {
	/* import only: oci-archive if it has index.json and oci-layout, else docker-archive */
	KILN_ARCHIVE_AUTO,
	KILN_ARCHIVE_DOCKER,
	KILN_ARCHIVE_OCI,
	KILN_ARCHIVE_ROOTFS, /* import only (kiln_tar_input): the tar of a root filesystem */
};

/*
 * Write the image @ref of the store to @path, atomically (a temporary file
 * beside it, fsync, rename) and deterministically (entries sorted, mode
 * 0644/0755, owner 0, mtime 0).
 *
 * docker-archive: the dual form Docker 25 writes: oci-layout, index.json,
 * blobs/sha256/... and a manifest.json [{Config, RepoTags, Layers}] whose
 * layers are the uncompressed tars (their digests are the diff_ids), so
 * the manifest in the archive is a new one when the store's layers are
 * compressed. One platform: @platform, or the host's.
 *
 * oci-archive: a tar of an OCI image layout holding @ref (with everything
 * it reaches; with @platform, only that platform's manifest) under its
 * name, blobs as stored.
 *
 * Every blob is verified as it is copied.
 */
int kiln_archive_export(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
			const struct kiln_platform *platform, enum kiln_archive_format format,
			const char *path);

/*
 * Import the archive @path into the store and name it @ref_name (NULL: the
 * archive's own name, RepoTags[0] or the index entry's ref.name, parsed as
 * a reference). docker-archive: manifest.json's one image; layers are
 * stored as found (tar, gzip or zstd; xz is stored decompressed) and each
 * uncompressed layer must match the config's diff_id. oci-archive: the one
 * entry of index.json (or the one for @platform), with every blob it
 * reaches that the archive holds, digests verified, layers checked against
 * the diff_ids too. *@ret gets the descriptor the name points to, and
 * *@ret_name (may be NULL) the name.
 */
int kiln_archive_import(struct kiln_ctx *ctx, struct kiln_store *s, const char *path,
			enum kiln_archive_format format, const char *ref_name,
			const struct kiln_platform *platform, struct kiln_descriptor *ret,
			char **ret_name);

/* ---- importing a tar (lib/oci/tar-import.c) ------------------------------- */

/*
 * A tar to import, from a file or a stream such as standard input
 * (`kiln import FILE|-`): a docker-archive, an oci-archive, or neither: the
 * tar of a root filesystem (KILN_ARCHIVE_ROOTFS), as `docker import` takes.
 * The kind is told by the members as kiln_archive_import() tells it (a tar
 * with no manifest.json, and no index.json with oci-layout, is a rootfs),
 * or given as @format. gzip, zstd and xz input is decompressed (bzip2 is
 * -EOPNOTSUPP). @fd stays the caller's; @path names it in messages (NULL:
 * "standard input").
 *
 * An archive is read by offset (its members name each other in any order,
 * and docker save writes manifest.json last), so an input that is not a
 * plain tar file, a pipe or a compressed file, is first spooled,
 * decompressed, into an unnamed temporary file in the store's tmp/ (it
 * takes the tar's size in disk space, no memory, and disappears when
 * closed, whatever happens), its headers read on the way to tell the kind.
 * A rootfs tar given as one (@format KILN_ARCHIVE_ROOTFS) is never spooled:
 * it is read once, as it comes.
 */
struct kiln_tar_input;
int kiln_tar_input_open(struct kiln_ctx *ctx, struct kiln_store *s, int fd, const char *path,
			enum kiln_archive_format format, struct kiln_tar_input **ret);

/* What the input is: KILN_ARCHIVE_DOCKER, KILN_ARCHIVE_OCI or KILN_ARCHIVE_ROOTFS. */
enum kiln_archive_format kiln_tar_input_format(const struct kiln_tar_input *in);

/*
 * Import the input (once). An archive as kiln_archive_import() imports it,
 * @o->platform choosing the image. A rootfs tar becomes a one-layer image
 * named @ref_name (required), whose config is made as
 * kiln_image_from_dir() makes it (@o's platform, created, labels), and
 * whose layer holds the tar's entries as they are: paths, owners, modes,
 * mtimes, link targets, device numbers and extended attributes (PAX
 * SCHILY.xattr) as read, rewritten in the form kiln writes every tar
 * (kiln_tar_writer: what Go's archive/tar reads; user and group names,
 * atime, ctime and bytes after the archive's end are not kept), compressed
 * per @o->layer.compression. Every entry is first checked as a layer
 * entry is when it is applied (kiln_fs_apply(): no absolute path, no "..",
 * nothing through a symlink that leaves the root, hard links to entries
 * before them, known types): a refusal names the entry and the byte
 * offset of its header, and stores nothing. The same entries give the same
 * digests, whether read from a file or a pipe, compressed or not. *@ret
 * gets the manifest's descriptor, *@ret_name (may be NULL) the name.
 */
int kiln_tar_input_import(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_tar_input *in,
			  const char *ref_name, const struct kiln_image_options *o,
			  struct kiln_descriptor *ret, char **ret_name);
void kiln_tar_input_free(struct kiln_tar_input *in);

static inline void kiln_tar_input_freep(struct kiln_tar_input **in)
{
	kiln_tar_input_free(*in);
}

static inline void kiln_tar_writer_freep(struct kiln_tar_writer **w)
{
	kiln_tar_writer_free(*w);
}

static inline void kiln_tar_reader_freep(struct kiln_tar_reader **r)
{
	kiln_tar_reader_free(*r);
}

static inline void kiln_layer_reader_freep(struct kiln_layer_reader **r)
{
	kiln_layer_reader_free(*r);
}

static inline void kiln_fs_freep(struct kiln_fs **fs)
{
	kiln_fs_free(*fs);
}

static inline void kiln_unpacker_freep(struct kiln_unpacker **u)
{
	kiln_unpacker_free(*u);
}

#pragma GCC visibility pop
