/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Talos system extensions: an image whose flattened root holds only
 * manifest.yaml and rootfs/. kiln checks one as Talos does (the manifest,
 * the version constraint, the content rules of the extensions validator,
 * with Talos's own messages) and then deeper, where Talos only finds out at
 * boot: modules for the right kernel, signed by its key, with their
 * firmware; udev rules that parse; files owned by root; no private keys.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>
#include <kiln/module.h>
#include <kiln/oci.h>
#include <kiln/registry.h>

#pragma GCC visibility push(default)

/* ---- manifest.yaml (lib/ext/manifest.c) ---- */

struct kiln_ext_manifest {
	char *version; /* "v1alpha1", the only one there is */
	char *name;
	char *ext_version; /* metadata.version */
	char *author;
	char *description;
	char *talos_version; /* metadata.compatibility.talos.version; NULL when absent */
	char *extra_info; /* metadata.extraInfo; NULL when absent */
};

/*
 * Parse manifest.yaml (@len bytes of @text; @file names it in messages).
 * A version other than v1alpha1 is Talos's `unsupported manifest version:
 * "<v>"`; a missing metadata field or one of the wrong type is an error
 * naming file:line:col. Unknown keys are warnings.
 */
int kiln_ext_manifest_parse(struct kiln_ctx *ctx, const char *file, const char *text, size_t len,
			    struct kiln_ext_manifest **ret);
void kiln_ext_manifest_free(struct kiln_ext_manifest *m);

static inline void kiln_ext_manifest_freep(struct kiln_ext_manifest **m)
{
	kiln_ext_manifest_free(*m);
}

/* ---- version constraints (lib/ext/semver.c, semver-range.c) ---- */

/* A version as blang/semver parses it: MAJOR.MINOR.PATCH[-pre][+build]. */
struct kiln_semver {
	uint64_t major, minor, patch;
	char *pre; /* "alpha.0", NULL when none */
};

void kiln_semver_release(struct kiln_semver *v);

/* Parse "1.9.0" or "v1.9.0" (a leading v is dropped), strictly X.Y.Z[-pre][+build]. */
int kiln_semver_parse(struct kiln_ctx *ctx, const char *s, struct kiln_semver *ret);

/* <0, 0, >0 as semver orders @a and @b (prereleases before their release). */
int kiln_semver_compare(const struct kiln_semver *a, const struct kiln_semver *b);

/*
 * A range as blang/semver's ParseRange reads it: comparisons "<1.2.3",
 * "<=", ">", ">=", "=", "==", "!", "!=" or a bare version (equality), joined
 * by spaces (AND) and "||" (OR); "1.x", "1.2.x" wildcards.
 */
struct kiln_semver_range;
int kiln_semver_range_parse(struct kiln_ctx *ctx, const char *s, struct kiln_semver_range **ret);
bool kiln_semver_range_match(const struct kiln_semver_range *r, const struct kiln_semver *v);
void kiln_semver_range_free(struct kiln_semver_range *r);

static inline void kiln_semver_range_freep(struct kiln_semver_range **r)
{
	kiln_semver_range_free(*r);
}

/*
 * Talos's check of an extension's constraint against @talos_version: every
 * "v" before a digit is removed from @constraint, the Talos version is
 * compared as MAJOR.MINOR.PATCH with any prerelease dropped, an empty
 * constraint passes. Errors are Talos's: "error parsing Talos version
 * constraint: ..." (-EINVAL) and "version constraint <c> can't be
 * satisfied with Talos version <v>" (-ERANGE).
 */
int kiln_ext_check_talos_version(struct kiln_ctx *ctx, const char *constraint,
				 const char *talos_version);

/* ---- content rules (lib/ext/rules.c) ---- */

/* A file of an extension's rootfs, as a tar header or lstat() describes it. */
struct kiln_ext_entry {
	const char *path; /* absolute, inside rootfs: "/usr/lib/modules/6.1.0/x.ko" */
	char type; /* a KILN_TAR_* type of <kiln/layer.h> ('0' file, '5' dir, '2' symlink, ...) */
	uint32_t mode; /* 07777 */
	uint64_t uid, gid;
};

/*
 * Talos's extensions validator on one entry, in Talos's order and words:
 * `world-writeable files are not allowed: "<p>"` (a symlink's own mode
 * does not count), `special files are not allowed: "<p>"` (only
 * directories, regular files, hard links and symlinks), and for anything
 * but a directory `path "<p>" is not allowed in extensions` unless it
 * starts with one of the allowed prefixes (a plain string prefix, as in
 * Talos). 0, or -EPERM with that message on @ctx; each names the path
 * itself. A path that is not absolute is -EINVAL.
 */
int kiln_ext_check_entry(struct kiln_ctx *ctx, const struct kiln_ext_entry *e);

/*
 * Whether @len bytes of file @name hold private key material: a PEM
 * "PRIVATE KEY" block of any kind (PKCS#8, encrypted, RSA, EC, DSA,
 * OpenSSH), a DER private key OpenSSL can parse, or a file called
 * signing_key.pem (the kernel build's). Keys that their authors published
 * as test data (GnuTLS's self-test keys in libgnutls.so, Linux's SGX
 * selftest key), known byte for byte, are passed over. 1 with what it is
 * in *@ret_what ("a PEM private key"), or 0.
 */
int kiln_ext_find_private_key(const char *name, const void *data, size_t len,
			      const char **ret_what);

/*
 * Changes whenever kiln_ext_find_private_key() finds more or less: what
 * was remembered of an earlier scan (a layer found clean, a stage's output
 * refused by the registry cache) under another version is scanned again.
 */
#define KILN_EXT_KEY_SCAN_VERSION 2

/* ---- private keys in an image (lib/ext/image-keys.c) ---- */

/* A file of a layer that holds private key material. */
struct kiln_ext_key_finding {
	struct kiln_digest manifest; /* the manifest whose layer it is (the first, if shared) */
	char *platform; /* that manifest's platform in an index ("linux/arm64"); NULL otherwise */
	unsigned layer; /* the layer's position in the manifest, base first, from 0 */
	struct kiln_digest layer_digest;
	char *path; /* in the layer, without "./" or a leading "/": "src/certs/signing_key.pem" */
	const char *what; /* kiln_ext_find_private_key()'s words: "a PEM private key (PKCS#8)" */
	/* a later layer deletes or replaces it: not in the flattened view, in the blob still */
	bool hidden;
};

struct kiln_ext_key_report {
	struct kiln_ext_key_finding *findings; /* in manifest, layer and archive order */
	size_t n_findings;
	unsigned n_layers; /* layer blobs read, each once however many manifests share it */
	unsigned n_layers_clean; /* not read: found clean before (kiln-key-scan in the store) */
	uint64_t n_files; /* regular files looked at */
};

/* Free what @r holds and zero it; NULL is allowed. */
void kiln_ext_key_report_release(struct kiln_ext_key_report *r);

/*
 * Look for private keys (kiln_ext_find_private_key()) in what pushing @d
 * would send: every regular file of every layer of the manifest @d, or of
 * every manifest of the index @d that is in @s (nested indexes too; those
 * missing are already in the destination, or the push fails). Layers are
 * read from their blobs, not from the flattened view: a key deleted by a
 * whiteout in a later layer still ships in the blob of the layer that added
 * it. Each blob is streamed once through the tar reader and verified (digest
 * and size); files are read in bounded windows, and a file whose name tells
 * is not read. Layers that are not tars (an artifact's blobs) are looked at
 * as one file each, named by their "org.opencontainers.image.title"
 * annotation or their digest; foreign layers missing from @s are skipped, as
 * a push skips them. A layer found clean is remembered in @s (a layer is its
 * digest) and not read again by this version of the detector. Findings go
 * into *@ret; the return value is -errno only when the image could not be
 * read.
 */
int kiln_ext_find_image_private_keys(struct kiln_ctx *ctx, struct kiln_store *s,
				     const struct kiln_descriptor *d,
				     struct kiln_ext_key_report *ret);

/*
 * Lint a udev rules file as udevd reads it: comments and blank lines,
 * backslash continuations, then comma-separated KEY[{attr}]OP"value"
 * pairs with a known key, an operator the key takes (match keys == and
 * !=, assignment keys = += -= :=), and a quoted value. Each problem is
 * reported as a warning "file:line:col: ..." on @ctx; returns the number
 * of problems (0: clean), or -errno.
 */
int kiln_udev_lint(struct kiln_ctx *ctx, const char *file, const char *text, size_t len);

/* ---- validating an extension (lib/ext/validate.c) ---- */

struct kiln_fs;

struct kiln_ext_validate_options {
	/* check the manifest's constraint against this Talos version; NULL: not checked */
	const char *talos_version;
	/* the kernel the extension's modules must load into; NULL: module checks skipped */
	const struct kiln_kernel *kernel;
	/* a directory holding the files the extension lands on (the base installer's rootfs), where
	 * declared firmware may also be; NULL: none */
	const char *base_root;
	/* the modules' owners come from a directory: not what ships (import and build set 0:0) */
	bool owners_advisory;
	/*
	 * Only what Talos's imager checks when it loads an extension: the top
	 * level, the manifest and the constraint; rootfs/ is not walked.
	 */
	bool load_only;
};

struct kiln_ext_problem {
	/*
	 * Where: a path inside rootfs/ ("/usr/lib/modules/..."), as Talos's
	 * messages name them, or "/manifest.yaml", "/rootfs" or a top-level name;
	 * NULL for the whole extension
	 */
	char *path;
	char *message; /* what is wrong, and what to do (but for a module's finding) */
	/*
	 * A module's finding (kiln_module_check()): what to do about it, for
	 * the caller to word; KILN_FIX_NONE for every other problem.
	 */
	enum kiln_check_fix fix;
	char *fix_arg;
	bool warning; /* worth fixing, but the extension works */
};

struct kiln_ext_report {
	struct kiln_ext_manifest *manifest; /* NULL when it could not be read */
	struct kiln_ext_problem *problems;
	size_t n_problems;
	unsigned n_errors, n_warnings;
	unsigned n_files; /* entries under rootfs/ */
	unsigned n_modules; /* kernel modules found */
	unsigned n_modules_checked; /* checked against the kernel */
	char *modules_release; /* the one release under usr/lib/modules, or NULL */
};

void kiln_ext_report_free(struct kiln_ext_report *r);

static inline void kiln_ext_report_freep(struct kiln_ext_report **r)
{
	kiln_ext_report_free(*r);
}

/*
 * Validate the extension whose files are under @dir: its top level (only
 * manifest.yaml and rootfs/, Talos's load errors), the manifest and its
 * constraint, Talos's content rules on every entry, and kiln's own checks:
 * owners, private keys, udev rules (where they are and whether they parse)
 * and, with a kernel, the modules (one release, the kernel's; each passes
 * kiln_module_check() with the extension's and the base's firmware). Types,
 * modes and owners come from @meta (the image's flattened view, which holds
 * what ships) when given, else from the directory. Every problem found goes
 * into the report; the return value is -errno only when validation itself
 * could not run.
 */
int kiln_ext_validate_dir(struct kiln_ctx *ctx, const char *dir, const struct kiln_fs *meta,
			  const struct kiln_ext_validate_options *o, struct kiln_ext_report **ret);

/* ---- what to validate (lib/ext/input.c) ---- */

struct kiln_store;
struct kiln_platform;

enum kiln_ext_input_kind {
	KILN_EXT_INPUT_DIR,
	KILN_EXT_INPUT_TAR, /* a plain tar of manifest.yaml and rootfs/ (gzip, zstd, xz or none) */
	KILN_EXT_INPUT_ARCHIVE, /* a docker-archive or oci-archive, imported into the store */
	KILN_EXT_INPUT_IMAGE, /* an image of the store (pulled first when missing and asked to) */
};

struct kiln_ext_input {
	enum kiln_ext_input_kind kind;
	char *name; /* the directory, file or reference */
	char *dir; /* where the files are */
	struct kiln_fs *meta; /* a tar, or an image with metadata: the flattened view; else NULL */
	char *tmp; /* a temporary directory, removed with the input */
	struct kiln_digest digest; /* an image or archive: its manifest's digest; else zeros */
};

struct kiln_ext_input_options {
	const struct kiln_platform *platform; /* images: NULL for the host's */
	bool pull; /* an image missing from the store is pulled */
	const struct kiln_registry_options *registry; /* how; NULL: the defaults */
	/*
	 * Images: also load the flattened view (what ships: modes and owners),
	 * which reads every layer a second time; a kernel tree or a base whose
	 * files are only read needs none.
	 */
	bool metadata;
};

/*
 * @what as a directory when it is one, else as a tar or image archive file
 * when it is a file, else as an image reference.
 */
int kiln_ext_input_open(struct kiln_ctx *ctx, struct kiln_store *s, const char *what,
			const struct kiln_ext_input_options *o, struct kiln_ext_input **ret);
void kiln_ext_input_free(struct kiln_ext_input *in);

static inline void kiln_ext_input_freep(struct kiln_ext_input **in)
{
	kiln_ext_input_free(*in);
}

#pragma GCC visibility pop
