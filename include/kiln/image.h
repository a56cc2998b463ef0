/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The pieces of an installer image (the Talos imager's lower half): newc
 * cpio archives written deterministically, the kernel's initramfs (cpio
 * archives, each plain or compressed, one after another) read without
 * unpacking it, squashfs images written and read through libsquashfs, and
 * modules.dep and friends regenerated for a merged modules tree.
 *
 * Every input is hostile: cpio names, sizes and padding are checked,
 * truncation is an error, and nothing read from an archive or an image is
 * written outside the place it is extracted to.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <kiln/kiln.h>
#include <kiln/layer.h>
#include <kiln/module.h>
#include <kiln/oci.h>
#include <kiln/registry.h>

#pragma GCC visibility push(default)

/* ---- cpio, newc ("070701") (lib/image/cpio.c) ----------------------------- */

/* The longest name (with its NUL) and symlink target taken, as the kernel's PATH_MAX. */
#define KILN_CPIO_NAME_MAX 4096

/* One cpio entry, as written or as read. */
struct kiln_cpio_entry {
	const char *name; /* "a/b"; "." for a root directory; no trailing '/' */
	const char *linkname; /* symlinks: the target (it is the entry's data) */
	uint32_t mode; /* file type (S_IFMT) and permission bits (07777) */
	uint32_t uid, gid;
	uint32_t nlink; /* writing: 0 is 1 */
	int64_t mtime; /* seconds since the epoch, in [0, 2^32) */
	uint64_t size; /* regular files: data bytes, < 4 GiB; otherwise 0 */
	uint32_t rdevmajor, rdevminor; /* devices */
	uint32_t ino, devmajor, devminor; /* reading only: the writer numbers inodes itself */
};

/*
 * A newc writer, deterministic as `cpio -o -H newc --reproducible` is:
 * entries in the order they are added, inode numbers 0, 1, 2... in that
 * order, device numbers of the archive's file system 0, check fields 0;
 * the caller gives owners and times. kiln_cpio_writer_finish() writes the
 * TRAILER!!! entry and pads the archive with zeros to a multiple of 512
 * bytes, as GNU cpio does. Hard links are not written as such: each name
 * is a file of its own (nlink 1) with its data.
 */
struct kiln_cpio_writer;
int kiln_cpio_writer_new(kiln_write_fn out, void *userdata, struct kiln_cpio_writer **ret);

/*
 * Add an entry: a regular file's @e->size bytes of data must follow
 * (kiln_cpio_writer_write()); a symlink's data is @e->linkname. A name
 * that is empty, absolute, holds "..", or is longer than
 * KILN_CPIO_NAME_MAX - 1 is -EINVAL, as are an mtime or size newc cannot
 * hold.
 */
int kiln_cpio_writer_add(struct kiln_ctx *ctx, struct kiln_cpio_writer *w,
			 const struct kiln_cpio_entry *e);
int kiln_cpio_writer_write(struct kiln_cpio_writer *w, const void *data, size_t len);

/*
 * Add the regular file @e and copy its data from @fd (from its current
 * offset): exactly @e->size bytes, else -ESTALE ("shrank", "grew").
 */
int kiln_cpio_writer_add_fd(struct kiln_ctx *ctx, struct kiln_cpio_writer *w,
			    const struct kiln_cpio_entry *e, int fd);

/* Check the last entry got all its data, then write the trailer and the padding. */
int kiln_cpio_writer_finish(struct kiln_ctx *ctx, struct kiln_cpio_writer *w);
/* Bytes written so far. */
uint64_t kiln_cpio_writer_offset(const struct kiln_cpio_writer *w);
void kiln_cpio_writer_free(struct kiln_cpio_writer *w);

/* How a directory tree becomes cpio entries. */
struct kiln_cpio_tree_options {
	int64_t mtime; /* every entry's mtime (SOURCE_DATE_EPOCH) */
	uint32_t uid, gid; /* every entry's owner; 0:0 as `cpio -R +0:+0` */
	/*
	 * Start with the entry "." for the directory itself, as `find .` lists
	 * it. The kernel applies its mode to the root of the initramfs.
	 */
	bool dot;
};

/*
 * Append the tree under @dirfd to @w as `cd DIR; find . | LC_ALL=C sort |
 * cpio -o -H newc --reproducible -R +0:+0` writes it when every file's
 * mtime is @o->mtime: names relative ("a/b", no "./"), sorted bytewise by
 * path, modes kept, a directory's nlink 2 + its subdirectories, symlinks,
 * fifos, sockets and devices as entries. Symlinks are never followed, and
 * a tree that changes while it is read is -ESTALE, never a wrong archive.
 */
int kiln_cpio_write_tree(struct kiln_ctx *ctx, int dirfd, const struct kiln_cpio_tree_options *o,
			 struct kiln_cpio_writer *w);

/* ---- the initramfs: cpio archives, plain or compressed (lib/image/initramfs.c) ---- */

/*
 * A streaming reader for a Linux initramfs as the kernel unpacks it
 * (init/initramfs.c): one or more newc archives ("070701", or "070702"
 * whose checksums are verified), each either plain, starting at a multiple
 * of 4 bytes, or inside a gzip, zstd or xz stream (decompressed as it is
 * read, through kiln_unzip), with zero bytes between them. A
 * compressed stream holds whole archives. Input is hostile: headers are
 * checked field by field, names and link targets are capped at
 * KILN_CPIO_NAME_MAX, anything else where an archive should start is
 * -EBADMSG (lz4, lzo, bzip2 and legacy lzma: -EOPNOTSUPP), and input that
 * ends inside an archive is -EBADMSG ("truncated"). Errors name the
 * offset, and for a compressed segment its position (counting from 1) and
 * the offset in its decompressed data. Memory use is constant: names and
 * targets are capped, data streams through, decompressor memory is capped
 * as for layers; how far a segment expands only costs time.
 */
struct kiln_initramfs_reader;
int kiln_initramfs_reader_new(struct kiln_ctx *ctx, kiln_read_fn in, void *userdata,
			      struct kiln_initramfs_reader **ret);

/*
 * The next entry (the trailers are not entries), valid until the next
 * call: 1, or 0 at the end of the input. Unread data of the previous entry
 * is skipped. Names are as found; symlink targets are read into linkname.
 */
int kiln_initramfs_reader_next(struct kiln_initramfs_reader *r, const struct kiln_cpio_entry **ret);

/* The current entry's data: a kiln_read_fn (pass the reader as userdata). */
ssize_t kiln_initramfs_reader_read(void *r, void *buf, size_t len);

/* Which segment (counting from 1, as errors do) the current entry is in, and its compression. */
unsigned kiln_initramfs_reader_segment(const struct kiln_initramfs_reader *r);
enum kiln_compression kiln_initramfs_reader_compression(const struct kiln_initramfs_reader *r);
void kiln_initramfs_reader_free(struct kiln_initramfs_reader *r);

/*
 * Copy the data of the regular file @name ("rootfs.sqsh"; "./" prefixes
 * ignored on both sides) from the initramfs on @fd to @out_fd, a regular
 * file, without unpacking anything else. The whole input is read: when
 * the name occurs more than once the last one is taken, as the kernel
 * would leave it, and for a hard-linked file the data that comes with a
 * later name of the same inode. @name, and any entry name in the input,
 * that is absolute or holds ".." is -EINVAL; no such regular file is
 * -ENOENT.
 */
int kiln_initramfs_extract(struct kiln_ctx *ctx, int fd, const char *name, int out_fd);

/* ---- squashfs (lib/image/squashfs.c, squashfs-read.c) --------------------- */

#define KILN_SQUASHFS_LEVEL 18 /* zstd, as the Talos imager runs mksquashfs */
#define KILN_SQUASHFS_BLOCK_SIZE (128u << 10)

struct kiln_squashfs_options {
	int level; /* zstd level 1..22; 0: KILN_SQUASHFS_LEVEL */
	uint32_t block_size; /* a power of two, 4 KiB..1 MiB; 0: KILN_SQUASHFS_BLOCK_SIZE */
	int64_t mtime; /* the image's and every inode's mtime, in [0, 2^32) */
	unsigned jobs; /* compressor threads; 0: one per online CPU */
};

/*
 * Write the tree under @dirfd as the squashfs image @path: zstd, every
 * inode owned by 0:0 (as `mksquashfs -all-root`), every mtime @o->mtime,
 * no extended attributes, directory entries sorted, file data compressed
 * on @o->jobs threads through libsquashfs's block processor, with tail
 * ends packed into fragments and duplicate files stored once. The same
 * tree and options always give the same bytes, whatever the number of
 * threads. Hard links are separate files (their data stored once). The
 * image is written to a temporary file beside @path, then renamed over it.
 */
int kiln_squashfs_write_tree(struct kiln_ctx *ctx, int dirfd, const char *path,
			     const struct kiln_squashfs_options *o);

/* One inode of an image as listed. */
struct kiln_squashfs_entry {
	const char *path; /* "usr/lib/modules"; "" for the root */
	uint32_t mode; /* file type and permission bits */
	uint32_t uid, gid;
	int64_t mtime;
	uint64_t size; /* regular files */
	const char *target; /* symlinks */
	uint32_t rdev_major, rdev_minor; /* devices */
};

/*
 * Call @fn for @subtree ("" or NULL: the root) of the image @path and
 * everything under it, parents before children, entries of a directory in
 * the image's (sorted) order. The image is hostile: names must be plain
 * names (not ".", "..", nor holding '/'), a directory that contains
 * itself is -ELOOP, and depth and path length are capped. A nonzero return
 * from @fn stops the walk and is returned.
 */
int kiln_squashfs_list(struct kiln_ctx *ctx, const char *path, const char *subtree,
		       int (*fn)(void *userdata, const struct kiln_squashfs_entry *e),
		       void *userdata);

/*
 * Extract @subtree (as for kiln_squashfs_list()) of the image @path into
 * the existing directory @dest, under the same path: "usr/lib/modules"
 * lands in DEST/usr/lib/modules, as `unsquashfs -d DEST IMAGE
 * usr/lib/modules` puts it. Nothing is written outside @dest: every entry
 * is made relative to its parent's descriptor and no symlink, whether
 * found in @dest or extracted, is followed. Directories already there are
 * merged into; any other existing entry is -EEXIST. Modes and mtimes are
 * kept; owners only when running as root. Devices need CAP_MKNOD.
 */
int kiln_squashfs_extract(struct kiln_ctx *ctx, const char *path, const char *subtree,
			  const char *dest);

/* ---- modules.dep and friends (lib/image/depmod.c) ------------------------- */

struct kiln_depmod_options {
	const char *depmod; /* the program; NULL: "depmod" (from kmod), found in $PATH or sbin */
	const char *search; /* depmod.conf's search line; NULL: "extras built-in", as Talos */
};

/*
 * (Re)generate modules.dep, modules.dep.bin, modules.alias(.bin),
 * modules.symbols(.bin), modules.builtin.bin, modules.builtin.alias.bin,
 * modules.softdep and modules.devname in @modules_dir/@krel, where
 * @modules_dir is the directory holding the release (a tree's
 * usr/lib/modules), as the Talos imager does with `depmod --all --basedir
 * BASE --config CONF KREL`: kmod's depmod is run with a config of its own
 * (the host's /etc/depmod.d is not read), on a scratch base directory
 * whose lib/modules is @modules_dir, since depmod up to kmod 30 reads
 * BASE/lib/modules. Its warnings become warnings on @ctx.
 */
int kiln_depmod(struct kiln_ctx *ctx, const char *modules_dir, const char *krel,
		const struct kiln_depmod_options *o);

/* ---- the installer: the Talos imager (lib/image/installer*.c) -------------- */

/*
 * `kiln image installer`: a base installer image and system extensions
 * made into an installer image, as Talos's imager makes one
 * (reference/talos-extensions-and-imager.md, sections 3 and 4):
 *
 *  1. base: the image (pulled when missing) read as its flattened view:
 *     usr/install/<arch>/vmlinuz and usr/install/<arch>/initramfs.xz.
 *     Its Talos version, which constraints are checked against, is
 *     @talos_version when given, else its config's label
 *     "org.opencontainers.image.version", else the first line of its
 *     usr/install/<arch>/version; its default kernel arguments are its
 *     usr/install/<arch>/cmdline, when it has one.
 *  2. extensions: each pulled and unpacked into a directory named by its
 *     position ("0", "1", ...), taken in the string order of those names
 *     as Talos lists them ("10" before "2"), loaded as Talos loads one
 *     (manifest.yaml and rootfs/ only, the manifest) and its
 *     compatibility constraint checked against the base's version.
 *  3. modules, when an extension has usr/lib/modules: rootfs.sqsh taken
 *     out of the base's initramfs, its usr/lib/modules extracted (one
 *     release directory, else "invalid kernel modules path"); the
 *     preflight (every module of every extension checked against that
 *     kernel: kiln_module_check()); each extension's
 *     usr/lib/modules/<release> copied over it in list order (later wins,
 *     as the overlay at boot; one without that directory is Talos's
 *     "copying kernel modules ... failed"); depmod (search extras
 *     built-in); every top-level modules.* file moved into a synthetic
 *     extension "modules.dep" (version <release>, author "Talos
 *     Machinery"), last.
 *  4. per extension: the files of usr/lib/firmware/intel-ucode/ and
 *     amd-ucode/microcode_amd*.bin appended to
 *     kernel/x86/microcode/{GenuineIntel,AuthenticAMD}.bin, the rest of
 *     usr/lib/firmware moved to the initramfs, and rootfs/ made into
 *     <name>.sqsh (zstd 18, root-owned, every mtime @source_date_epoch).
 *     An image's squashfs is kept in <cache>/image/sqsh/<key>.sqsh, the
 *     key a hash of its manifest digest and the squashfs options, and
 *     taken from there when it is there: an unchanged extension is never
 *     squashed twice.
 *  5. extensions.yaml as Talos writes it (layers: image, metadata).
 *  6. the initramfs: a newc archive of kernel/ (microcode) uncompressed,
 *     when there is any; the base's initramfs, its bytes untouched; a
 *     newc archive of *.sqsh, extensions.yaml and usr/lib/firmware,
 *     compressed as the base's is (xz -C crc32 -0 -e, or zstd -18).
 *  7. the kernel command line: the base's arguments, module.sig_enforce=1,
 *     then @extra_kernel_args; "-ARG" deletes ARG.
 *  8. the installer: the base's config and layers (less the second when
 *     there are exactly two: a Talos installer-base keeps its artifacts
 *     there) and one layer of usr/install/<arch>/vmlinuz and initramfs.xz,
 *     stored, named, and written as a docker-archive.
 *
 * The same inputs give the same bytes: every mtime and "created" is
 * @source_date_epoch, and every writer on the way is deterministic.
 */

enum kiln_installer_output {
	KILN_INSTALLER_OUT_INSTALLER, /* OUT/installer-<arch>.tar, and the image in the store */
	KILN_INSTALLER_OUT_KERNEL, /* OUT/vmlinuz-<arch> */
	KILN_INSTALLER_OUT_INITRAMFS, /* OUT/initramfs-<arch>.xz */
	KILN_INSTALLER_OUT_CMDLINE, /* OUT/cmdline-<arch> */
};

enum kiln_installer_phase {
	KILN_INSTALLER_PHASE_BASE, /* the base: found or pulled, its files read */
	KILN_INSTALLER_PHASE_EXTENSIONS, /* found or pulled, unpacked, manifests checked */
	KILN_INSTALLER_PHASE_MODULES, /* the base's modules out of its initramfs */
	KILN_INSTALLER_PHASE_PREFLIGHT, /* the extensions' modules against the base's kernel */
	KILN_INSTALLER_PHASE_DEPMOD, /* modules merged, depmod, the modules.dep extension */
	KILN_INSTALLER_PHASE_SQUASHFS, /* microcode, firmware, a squashfs per extension */
	KILN_INSTALLER_PHASE_INITRAMFS, /* extensions.yaml, the archives, compression */
	KILN_INSTALLER_PHASE_IMAGE, /* the artifacts layer, config and manifest */
	KILN_INSTALLER_PHASE_EXPORT, /* the docker-archive */
	KILN_INSTALLER_PHASE_MAX,
};

/* "base", "extensions", "modules", ... */
const char *kiln_installer_phase_name(enum kiln_installer_phase phase);

enum kiln_installer_event_kind {
	KILN_INSTALLER_PHASE_START, /* @phase begins */
	KILN_INSTALLER_PHASE_DONE, /* @phase took @seconds */
	KILN_INSTALLER_EXTENSION, /* loaded: @image, @ref, @name, @version, @author */
	KILN_INSTALLER_SQUASHFS, /* @image written in @seconds, or taken from the cache (@cached) */
	KILN_INSTALLER_MODULE, /* preflight: @module (of extension @name) was judged: @check */
	KILN_INSTALLER_NOTE, /* @message, worth saying (what was not checked, and why) */
};

struct kiln_installer_event {
	enum kiln_installer_event_kind kind;
	enum kiln_installer_phase phase;
	double seconds;
	const char *image; /* "0.sqsh", "modules.dep.sqsh" */
	const char *ref; /* the extension as given */
	const char *name, *version, *author;
	bool cached;
	const char *module; /* its path in the extension: "usr/lib/modules/..." */
	const struct kiln_check_result *check;
	const char *message;
	enum kiln_hint hint; /* NOTE: what the caller could change about it (see kiln.h) */
};

struct kiln_installer_options {
	const char *base; /* the base installer image (a reference) */
	const char *const *extensions; /* images (or directories, or tars), in order */
	size_t n_extensions;
	const char *arch; /* "amd64" or "arm64"; NULL: "amd64" */
	const char *const *extra_kernel_args;
	size_t n_extra_kernel_args;
	enum kiln_installer_output output;
	const char *out_dir; /* where the output goes (created); NULL: "_out" */
	const char *tag; /* the installer's name in the store; NULL: kiln.local/installer:<arch> */
	const char *talos_version; /* NULL: the base's (see above) */
	/* skip the preflight: compose even with modules the base's kernel would refuse */
	bool no_preflight;
	/* the certificates the base's kernel trusts (DER or PEM files); none: not checked */
	const char *const *kernel_certs;
	size_t n_kernel_certs;
	bool pull; /* pull images missing from the store */
	const struct kiln_registry_options *registry; /* how; NULL: the defaults */
	int64_t source_date_epoch;
	const char *cache_dir; /* NULL: kiln_cache_dir() */
	/* called as the work goes; may be NULL */
	void (*on_event)(void *userdata, const struct kiln_installer_event *ev);
	void *userdata;
};

struct kiln_installer_result {
	char *path; /* the file written */
	char *name; /* the installer's name in the store (installer output) */
	struct kiln_descriptor manifest; /* the installer's manifest (installer output) */
	char *talos_version; /* the base's version, NULL when unknown */
	char *kernel_release; /* the base's, when modules were merged; else NULL */
	char *cmdline;
	unsigned n_extensions; /* the modules.dep extension included */
	unsigned n_squashed; /* squashfs images written */
	unsigned n_cached; /* squashfs images taken from the cache */
	unsigned n_modules_checked; /* by the preflight */
	double seconds[KILN_INSTALLER_PHASE_MAX]; /* wall time per phase */
};

void kiln_installer_result_release(struct kiln_installer_result *r);

/*
 * Make @o->output from @o->base and @o->extensions (images of @s) as
 * described above. The kernel and cmdline outputs need no extension: as
 * Talos's, they read only the base. Everything but the output is made in
 * a scratch directory under kiln's cache directory, removed at the end;
 * outputs are written atomically. A module the preflight finds the base's
 * kernel would refuse is -EKEYREJECTED (a signature) or -ENOEXEC (anything
 * else), with the kernel's words on @ctx; what to do about it is in the
 * findings (their fix) of the KILN_INSTALLER_MODULE event that judged it.
 */
int kiln_installer_build(struct kiln_ctx *ctx, struct kiln_store *s,
			 const struct kiln_installer_options *o, struct kiln_installer_result *ret);

static inline void kiln_cpio_writer_freep(struct kiln_cpio_writer **w)
{
	kiln_cpio_writer_free(*w);
}

static inline void kiln_initramfs_reader_freep(struct kiln_initramfs_reader **r)
{
	kiln_initramfs_reader_free(*r);
}

#pragma GCC visibility pop
