/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Kernel modules: reading what a .ko says about itself (.modinfo, __versions,
 * the appended signature), signing it as the kernel's scripts/sign-file does,
 * verifying it as the kernel does, and checking before it ships that it
 * would load on a given kernel.
 *
 * Module files are hostile input: every length is checked against the file,
 * and a truncated or crafted file is an error, never a crash.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/compress.h>
#include <kiln/kiln.h>

#pragma GCC visibility push(default)

/* ---- the appended signature (lib/kmod/modsig.c) ------------------------- */

#define KILN_MODSIG_MAGIC "~Module signature appended~\n"
#define KILN_MODSIG_MAGIC_LEN 28
#define KILN_MODSIG_INFO_LEN 12 /* struct module_signature */
#define KILN_PKEY_ID_PKCS7 2

/* A module's signature trailer, split off its body. */
struct kiln_modsig {
	size_t body_len; /* bytes the signature covers: the module without its signature */
	const uint8_t *p7; /* the PKCS#7 (CMS) DER, pointing into the module data */
	size_t p7_len;
	/* struct module_signature, as found */
	uint8_t algo, hash, id_type, signer_len, key_id_len;
};

/*
 * Split the appended signature off @data. Returns 0 with *@ret filled,
 * -ENODATA when there is no signature (no magic at the end), or -EBADMSG
 * when the trailer is malformed (a length past the file, a non-zero field the
 * kernel refuses, an id_type other than PKCS#7), with the reason on @ctx.
 * The kernel's rules: sig_len must be below len - 12 - 28, all fields but
 * id_type and sig_len zero.
 */
int kiln_modsig_split(struct kiln_ctx *ctx, const uint8_t *data, size_t len,
		      struct kiln_modsig *ret);

/* What a signature says about its signer, in the words kmod's modinfo uses. */
struct kiln_modsig_desc {
	char *signer; /* as kmod: the issuer's CN, else its last entry; NULL for an empty issuer */
	char *sig_key; /* issuer serial number, uppercase colon hex ("7A:1B:..."); for a
			* signature identified by subjectKeyIdentifier, that key id */
	bool by_skid; /* identified by subjectKeyIdentifier (sign-file -k) */
	char *hash_algo; /* the digest's short name: "sha512" */
	uint8_t *signature; /* the raw signature value */
	size_t signature_len;
};

/*
 * Parse the PKCS#7 of @sig (lib/kmod/modsig-desc.c). Corrupt DER is
 * -EBADMSG with the reason on @ctx.
 */
int kiln_modsig_describe(struct kiln_ctx *ctx, const struct kiln_modsig *sig,
			 struct kiln_modsig_desc *ret);
void kiln_modsig_desc_release(struct kiln_modsig_desc *d);

/* ---- a module file (lib/kmod/elf.c, lib/kmod/module.c) ------------------ */

struct kiln_module;

struct kiln_modinfo {
	const char *key; /* "alias" */
	const char *value; /* "pci:v00008086d*" */
};

struct kiln_modversion {
	uint64_t crc;
	const char *symbol;
};

/* Modules larger than this are refused: no real one comes near it. */
#define KILN_MODULE_MAX_SIZE ((size_t)1 << 30)

/**
 * kiln_module_open() - read a module: .ko, .ko.xz or .ko.zst
 *
 * Reads the file, decompresses it (by its magic, not its name), parses the
 * ELF bounds-checked, and collects .modinfo, __versions and the signature
 * trailer. A file that is not a kernel module (no .modinfo section) is
 * -ENOEXEC; a truncated or corrupt one -EBADMSG; both with the reason on @ctx.
 */
int kiln_module_open(struct kiln_ctx *ctx, const char *path, struct kiln_module **ret);

/* The same over @len bytes of memory; @name is used in messages. */
int kiln_module_open_mem(struct kiln_ctx *ctx, const char *name, const uint8_t *data, size_t len,
			 struct kiln_module **ret);

void kiln_module_free(struct kiln_module *m);

static inline void kiln_module_freep(struct kiln_module **m)
{
	kiln_module_free(*m);
}

const char *kiln_module_path(const struct kiln_module *m);
enum kiln_compression kiln_module_compression(const struct kiln_module *m);

/* The decompressed module, signature included. */
const uint8_t *kiln_module_data(const struct kiln_module *m, size_t *ret_len);

/* The .modinfo entries in file order; a key may repeat (alias, firmware, parm). */
const struct kiln_modinfo *kiln_module_modinfo(const struct kiln_module *m, size_t *ret_n);

/* The first value of @key in .modinfo, or NULL. */
const char *kiln_module_get(const struct kiln_module *m, const char *key);

/* The __versions entries (symbol CRCs the module was built against). */
const struct kiln_modversion *kiln_module_versions(const struct kiln_module *m, size_t *ret_n);

/*
 * The signature trailer: 0 with *@ret set, -ENODATA when unsigned, -EBADMSG
 * when malformed (kiln_module_signature_error() says why).
 */
int kiln_module_signature(const struct kiln_module *m, const struct kiln_modsig **ret);
const char *kiln_module_signature_error(const struct kiln_module *m);

/* ---- what modinfo shows (lib/kmod/modinfo.c) ----------------------------- */

/* A module parameter: its parm= and parmtype= entries, merged as kmod's modinfo merges them. */
struct kiln_module_param {
	const char *name; /* into .modinfo: @name_len bytes, not NUL-terminated */
	size_t name_len;
	const char *desc; /* the last parm= of the name (what follows "NAME:"), or NULL */
	const char *type; /* the last parmtype= of the name, or NULL */
	size_t first; /* the .modinfo entry where the name first appears */
};

/*
 * The parameters of @m as modinfo lists them: parm=NAME:DESC and
 * parmtype=NAME:TYPE merged by NAME, the last value of each winning, the
 * newest name first. Entries without ':' are left out, as modinfo leaves
 * them, and counted in *@ret_n_bad (may be NULL). *@ret points into @m;
 * free() it (NULL when there are none). A crafted module with a million
 * parameters costs n log n.
 */
int kiln_module_params(const struct kiln_module *m, struct kiln_module_param **ret, size_t *ret_n,
		       size_t *ret_n_bad);

enum kiln_modsig_state {
	KILN_MODSIG_UNSIGNED,
	KILN_MODSIG_SIGNED, /* a well-formed trailer and PKCS#7; not verified (kiln_verify_*()) */
	KILN_MODSIG_MALFORMED, /* a trailer or a PKCS#7 that does not parse */
};

/* What a module's signature is, before anyone verifies it. */
struct kiln_module_sig {
	enum kiln_modsig_state state;
	char *why; /* MALFORMED: what is wrong with it */
	struct kiln_modsig_desc desc; /* SIGNED: who signed it, with which digest */
};

/*
 * Describe the signature of @m: unsigned, malformed and why, or signed and
 * by whom. A malformed signature is a fact about the module, not an error:
 * only -ENOMEM fails. Release *@ret with kiln_module_sig_release().
 */
int kiln_module_sig_describe(struct kiln_ctx *ctx, const struct kiln_module *m,
			     struct kiln_module_sig *ret);
void kiln_module_sig_release(struct kiln_module_sig *s);

/* "unsigned", "signed", "malformed". */
const char *kiln_modsig_state_name(enum kiln_modsig_state s);

/* ---- signing (lib/kmod/sign.c) ------------------------------------------- */

/*
 * A signing key, its certificate and a digest, loaded once and then used for
 * any number of modules from any number of threads at once: signing only
 * reads the signer.
 */
struct kiln_signer;

struct kiln_signer_options {
	/* a PEM file with the private key (it may hold the certificate too), or a "pkcs11:" URI */
	const char *key;
	/* the X.509 certificate, DER or PEM, by sign-file's rule; NULL: the PEM file @key */
	const char *cert;
	/* the digest: sha1, sha224, sha256, sha384, sha512, sha3-256, sha3-384, sha3-512;
	 * NULL means KILN_SIGN_DEFAULT_HASH */
	const char *hash;
	/* the key's passphrase or the token's PIN (sign-file: $KBUILD_SIGN_PIN); may be NULL */
	const char *pin;
	/* name the signer by subjectKeyIdentifier instead of issuer and serial (sign-file -k) */
	bool use_skid;
};

/* What Talos and the kernel's Kconfig default to. */
#define KILN_SIGN_DEFAULT_HASH "sha512"

/*
 * Load the key and certificate of @opts. Fails with -EINVAL for a hash the
 * kernel does not take or a key that does not match the certificate,
 * -EACCES for an encrypted key without (or with the wrong) passphrase,
 * -EOPNOTSUPP for a pkcs11: URI when OpenSSL's pkcs11 provider is missing;
 * the reason is on @ctx and never includes key material.
 */
int kiln_signer_new(struct kiln_ctx *ctx, const struct kiln_signer_options *opts,
		    struct kiln_signer **ret);
void kiln_signer_free(struct kiln_signer *s);

static inline void kiln_signer_freep(struct kiln_signer **s)
{
	kiln_signer_free(*s);
}

/* The digest's name, as given ("sha512"). */
const char *kiln_signer_hash(const struct kiln_signer *s);

/* The certificate subject's CN (or its whole subject when it has none), for messages. */
const char *kiln_signer_name(const struct kiln_signer *s);

/*
 * The trailer that signs @len bytes of @data, exactly as sign-file makes it:
 * the detached PKCS#7 (CMS) DER, struct module_signature, the magic. For an
 * RSA key the bytes are the same on every call (ECDSA signatures are not).
 */
int kiln_signer_sign(struct kiln_ctx *ctx, const struct kiln_signer *s, const uint8_t *data,
		     size_t len, uint8_t **ret, size_t *ret_len);

/* Sign a module that already has a signature: strip the old trailer(s) first. */
#define KILN_SIGN_REPLACE (1u << 0)

struct kiln_sign_info {
	enum kiln_compression compression; /* of the file, kept as it was */
	bool replaced; /* an old signature was stripped */
	size_t size; /* the new file's size */
};

/*
 * Sign the module file contents @data (.ko, or .ko.xz/.ko.zst, told by their
 * magic): decompress, sign, compress the same way. An already signed module
 * is -EEXIST unless @flags has KILN_SIGN_REPLACE (no other failure is
 * -EEXIST); a malformed trailer is -EBADMSG; data that is not ELF is
 * -ENOEXEC. @ret_info may be NULL.
 */
int kiln_module_sign_mem(struct kiln_ctx *ctx, const struct kiln_signer *s, const uint8_t *data,
			 size_t len, unsigned flags, uint8_t **ret, size_t *ret_len,
			 struct kiln_sign_info *ret_info);

/*
 * Sign the module file @path in place: kiln_module_sign_mem(), then an atomic
 * rewrite (temporary file in the same directory, fsync, rename) that keeps
 * the file's mode. A symlink is followed: the file it names is rewritten.
 */
int kiln_module_sign_file(struct kiln_ctx *ctx, const struct kiln_signer *s, const char *path,
			  unsigned flags, struct kiln_sign_info *ret_info);

/* ---- verifying (lib/kmod/verify.c) --------------------------------------- */

enum kiln_verify_verdict {
	KILN_VERIFY_OK, /* signed by one of the given certificates' keys, and the signature holds */
	KILN_VERIFY_UNSIGNED, /* no signature: the kernel taints, or refuses under sig_enforce */
	KILN_VERIFY_OTHER_KEY, /* signed, but by a key none of the certificates is for */
	KILN_VERIFY_CORRUPT, /* the kernel refuses to load it (problem says why) */
};

/* Why a signature is corrupt. */
enum kiln_verify_problem {
	KILN_VERIFY_PROBLEM_NONE,
	KILN_VERIFY_PROBLEM_TRAILER, /* struct module_signature or its lengths */
	KILN_VERIFY_PROBLEM_DER, /* the PKCS#7 does not parse */
	KILN_VERIFY_PROBLEM_FORMAT, /* parses, but not the detached signedData the kernel takes */
	KILN_VERIFY_PROBLEM_SIGNED_ATTRS, /* signed attributes: refused for modules */
	KILN_VERIFY_PROBLEM_UNSUPPORTED, /* a digest or key algorithm the kernel does not know */
	KILN_VERIFY_PROBLEM_BAD_SIGNATURE, /* the module's bytes do not match the signature */
};

struct kiln_verify_result {
	enum kiln_verify_verdict verdict;
	enum kiln_verify_problem problem;
	/* what the kernel's module loader gets: 0, -ENODATA, -ENOKEY, -EBADMSG, -EKEYREJECTED,
	 * -ENOPKG, -EMSGSIZE, -EINVAL; -ENODATA, -ENOKEY and -ENOPKG only taint the kernel
	 * unless signatures are enforced, the others always fail the load */
	int kernel_error;
	char *reason; /* one line for anything but OK: "the module's contents ..." */
	bool has_desc; /* desc is filled: the signature parsed */
	struct kiln_modsig_desc desc; /* who signed it: signer CN, key id, digest */
};

void kiln_verify_result_release(struct kiln_verify_result *r);

/* "ok", "unsigned", "other-key", "corrupt". */
const char *kiln_verify_verdict_name(enum kiln_verify_verdict v);

/* "bad-trailer", "bad-der", "bad-format", "signed-attributes", "unsupported-algorithm",
 * "bad-signature"; NULL for none. */
const char *kiln_verify_problem_name(enum kiln_verify_problem p);

/* The certificates a module may be signed by (the kernel's trusted keys); shared read-only. */
struct kiln_verifier;

int kiln_verifier_new(struct kiln_ctx *ctx, struct kiln_verifier **ret);
void kiln_verifier_free(struct kiln_verifier *v);

static inline void kiln_verifier_freep(struct kiln_verifier **v)
{
	kiln_verifier_free(*v);
}

/* Trust every certificate in @path: DER, or PEM with one or more. */
int kiln_verifier_add_cert_file(struct kiln_ctx *ctx, struct kiln_verifier *v, const char *path);

/*
 * Verify the decompressed module @data as the kernel does. The verdict is in
 * *@ret (release it); a negative return is an operational error (-ENOMEM),
 * never a verdict. Safe to call from several threads on one verifier.
 */
int kiln_verify_mem(struct kiln_ctx *ctx, const struct kiln_verifier *v, const uint8_t *data,
		    size_t len, struct kiln_verify_result *ret);

/* Read @path (.ko, .ko.xz, .ko.zst), decompress, kiln_verify_mem(). */
int kiln_verify_file(struct kiln_ctx *ctx, const struct kiln_verifier *v, const char *path,
		     struct kiln_verify_result *ret);

/*
 * Trust what a certificate given as DER bytes says (@name in messages): one
 * of a kernel's built-in certificates, kiln_kernel_image_certs().
 */
int kiln_verifier_add_cert_der(struct kiln_ctx *ctx, struct kiln_verifier *v, const char *name,
			       const uint8_t *der, size_t len);

/* ---- many modules at once (lib/kmod/batch.c) ----------------------------- */

enum kiln_module_batch_op {
	KILN_MODULE_BATCH_INFO, /* read each: kiln_module_open(), its parameters, its signature */
	/* sign each in place, as kiln_module_sign_file() does; all are renamed into place at
	 * the end, so that a run stopped by want of memory or disk space changes none */
	KILN_MODULE_BATCH_SIGN,
	KILN_MODULE_BATCH_VERIFY, /* verify each: kiln_verify_file() */
};

/* What one module of a batch gave. */
struct kiln_module_batch_item {
	size_t index; /* in the paths given */
	const char *path;
	int r; /* < 0: the operation failed (for VERIFY: the file could not be read) */
	/* why it failed, as the operation said it on its context (INFO's names the file,
	 * SIGN's and VERIFY's do not); NULL when it said nothing: strerror(-r) */
	char *error;
	/* INFO: the module (on_item may take it, leaving NULL), its parameters, its signature */
	struct kiln_module *module;
	struct kiln_module_param *params;
	size_t n_params;
	size_t n_bad_params;
	struct kiln_module_sig sig;
	/* SIGN */
	struct kiln_sign_info sign;
	/* VERIFY: the kernel's verdict */
	struct kiln_verify_result verify;
};

struct kiln_module_batch_options {
	enum kiln_module_batch_op op;
	unsigned jobs; /* threads, each with a context of its own; 0: one per online CPU */
	const struct kiln_signer *signer; /* SIGN */
	unsigned sign_flags; /* SIGN: KILN_SIGN_REPLACE */
	const struct kiln_verifier *verifier; /* VERIFY */
	/*
	 * Each item, on the calling thread, in the order of the paths, as soon
	 * as it and every one before it are done. What it holds is freed when
	 * on_item returns. A negative return stops the batch: no module starts
	 * after it, and kiln_module_batch() returns it.
	 */
	int (*on_item)(struct kiln_module_batch_item *item, void *userdata);
	/* How many are done, now and then and once at the end, on the calling thread; may be
	 * NULL. */
	void (*on_progress)(size_t done, size_t n, void *userdata);
	void *userdata;
};

/*
 * Do @o->op on the @n module files @paths, on @o->jobs threads. A module
 * that fails is an item with its error, never an error of the batch, but
 * for SIGN one that fails with -ENOMEM, -ENOSPC or -EDQUOT: nothing about
 * the module, that stops the run, no module is changed, and the batch
 * fails with that error (naming the module, on @ctx); on_item is then
 * never called. Few results are held at once, whatever @n is: for INFO,
 * two more than threads (each holds its module); for VERIFY, 16 a thread;
 * SIGN hands them on once all are signed (a few hundred bytes each).
 * Returns 0, what on_item stopped it with, or -errno (on @ctx) when the
 * batch could not run.
 */
int kiln_module_batch(struct kiln_ctx *ctx, char *const *paths, size_t n,
		      const struct kiln_module_batch_options *o);

/* ---- a kernel's boot image (lib/kmod/bzimage.c, lib/kmod/kernel-certs.c) ---- */

/*
 * A kernel as it boots: an x86 bzImage (the boot protocol's header, its
 * compressed vmlinux), an arm64 Image or Image.gz, or a vmlinux ELF. What
 * kiln reads from it is what the kernel was built with and nothing else
 * tells when the kernel was built elsewhere (a Talos installer-base gives
 * only usr/install/amd64/vmlinuz): its release and the certificates of its
 * built-in keyring, against which module signatures are checked.
 *
 * The image is hostile input: offsets and lengths are checked against the
 * file, the payload is decompressed with a cap, and a kernel compressed
 * with what kiln does not decompress (lzma, lzo, lz4, bzip2) is refused by
 * name (-EOPNOTSUPP) rather than taken for corrupt (-EBADMSG).
 */
struct kiln_kernel_image;

/* Boot images over this size are refused; bzImages are 5 to 20 MB. */
#define KILN_KERNEL_IMAGE_MAX_SIZE ((size_t)256 << 20)
/* Decompressed kernels over this size are refused; Debian's 6.1 vmlinux is 66 MB. */
#define KILN_KERNEL_IMAGE_MAX_PAYLOAD ((size_t)512 << 20)

/*
 * Read the boot image @path and decompress its kernel (gzip, xz or zstd).
 * Not a kernel image at all is -ENOEXEC; a header whose offsets point
 * outside the file, or a corrupt payload, -EBADMSG; an unsupported
 * compression -EOPNOTSUPP; each with the reason on @ctx.
 */
int kiln_kernel_image_open(struct kiln_ctx *ctx, const char *path, struct kiln_kernel_image **ret);

/* The same over @len bytes of memory; @name is used in messages. */
int kiln_kernel_image_open_mem(struct kiln_ctx *ctx, const char *name, const uint8_t *data,
			       size_t len, struct kiln_kernel_image **ret);

void kiln_kernel_image_free(struct kiln_kernel_image *img);

static inline void kiln_kernel_image_freep(struct kiln_kernel_image **img)
{
	kiln_kernel_image_free(*img);
}

/* "bzImage", "arm64 Image", "vmlinux". */
const char *kiln_kernel_image_format(const struct kiln_kernel_image *img);

/* What the kernel in the image was compressed with: "gzip", "xz", "zstd" or "none". */
const char *kiln_kernel_image_compression(const struct kiln_kernel_image *img);

/*
 * The kernel's version line, "6.12.118-kiln (kiln@kiln) #1 SMP ...": the
 * bzImage header's kernel_version string, else the "Linux version" banner
 * in the kernel. NULL when neither is there.
 */
const char *kiln_kernel_image_version(const struct kiln_kernel_image *img);

/* The release (uname -r), the version's first word; NULL when unknown. */
const char *kiln_kernel_image_release(const struct kiln_kernel_image *img);

/* The decompressed kernel (vmlinux: ELF for x86, raw for an arm64 Image). */
const uint8_t *kiln_kernel_image_payload(const struct kiln_kernel_image *img, size_t *ret_len);

/* One certificate a kernel has built in (its .builtin_trusted_keys). */
struct kiln_kernel_cert {
	uint8_t *der; /* the X.509 certificate */
	size_t der_len;
	size_t offset; /* where it is in the payload */
	char *cn; /* the subject's commonName; NULL when it has none */
	char *o; /* the subject's organizationName; NULL when it has none */
	char *skid; /* subjectKeyIdentifier, lowercase hex; NULL when it has none */
	/*
	 * What the kernel calls the key, as it logs "Loaded X.509 cert '%s'"
	 * at boot and /proc/keys lists it: the subject name as the kernel
	 * makes it ("O: CN", or the CN when it starts with the O), ": ", and
	 * the SKID in hex (the serial number when there is no SKID).
	 */
	char *description;
};

/*
 * The certificates built into the kernel: the system keyring's list
 * (system_certificate_list, concatenated DER). The payload is scanned for
 * DER certificates (a SEQUENCE with a two-byte length holding another),
 * each candidate parsed by OpenSSL and false ones skipped; certificates
 * shorter than 256 bytes or longer than 64 KiB are not found (no real
 * signing certificate is either). Every certificate found is taken as
 * trusted: a revocation list (CONFIG_SYSTEM_REVOCATION_KEYS) or the
 * wireless regulatory certificates of a built-in cfg80211, also DER in the
 * kernel, are not told apart from it. Zero certificates is not an error
 * (a kernel without CONFIG_MODULE_SIG has none). Free with
 * kiln_kernel_certs_free().
 */
int kiln_kernel_image_certs(struct kiln_ctx *ctx, const struct kiln_kernel_image *img,
			    struct kiln_kernel_cert **ret, size_t *ret_n);

void kiln_kernel_certs_free(struct kiln_kernel_cert *certs, size_t n);

/* ---- module files (lib/kmod/collect.c) ----------------------------------- */

/*
 * The module files @operands name: a directory is walked recursively for
 * *.ko, *.ko.xz and *.ko.zst (in name order, symlinks not followed); any
 * other operand is taken as it is, whatever its name, so that a missing
 * file is reported by whoever opens it. A file reached twice is listed once.
 * Free the result with kiln_strv_free().
 */
int kiln_module_collect(struct kiln_ctx *ctx, char *const *operands, size_t n, char ***ret,
			size_t *ret_n);

/* Free @n strings of @v, then @v. */
void kiln_strv_free(char **v, size_t n);

/* ---- will it load? the pre-flight check (lib/kmod/check.c and its helpers) ---- */

/*
 * Module.symvers (lib/kmod/symvers.c): what a kernel build exports, a line a
 * symbol, "0xCRC\tsymbol\tmodule\texport type[\tnamespace]" (5.4 to 5.9 put
 * the namespace third; both orders are read).
 */
struct kiln_symvers_entry {
	uint32_t crc;
	const char *symbol;
	const char *module; /* "vmlinux", or the exporting module's path without ".ko" */
	const char *export_type; /* "EXPORT_SYMBOL", "EXPORT_SYMBOL_GPL" */
	const char *ns; /* the symbol's namespace; "" for none */
	const char *file; /* the Module.symvers it came from, and its line */
	unsigned line;
};

struct kiln_symvers;

/* Module.symvers files over this size are refused (Debian's 6.1 one: 1.7 MB). */
#define KILN_SYMVERS_MAX_SIZE ((size_t)64 << 20)
/* Longer lines are refused: real ones stay under 200 bytes. */
#define KILN_SYMVERS_MAX_LINE 4096

int kiln_symvers_new(struct kiln_symvers **ret);
void kiln_symvers_free(struct kiln_symvers *s);

static inline void kiln_symvers_freep(struct kiln_symvers **s)
{
	kiln_symvers_free(*s);
}

/*
 * Add the lines of one Module.symvers: @len bytes of @text, @name in
 * messages. A symbol already present keeps its first entry (add the
 * kernel's file first, as modpost reads it first). A malformed line is
 * -EBADMSG with "@name:LINE: why" on @ctx, and leaves @s as it was.
 */
int kiln_symvers_add(struct kiln_ctx *ctx, struct kiln_symvers *s, const char *name,
		     const char *text, size_t len);
int kiln_symvers_add_file(struct kiln_ctx *ctx, struct kiln_symvers *s, const char *path);

/* The entry of @symbol, or NULL. */
const struct kiln_symvers_entry *kiln_symvers_find(const struct kiln_symvers *s,
						   const char *symbol);

/* Every entry, in the order added (repeated symbols included). */
const struct kiln_symvers_entry *kiln_symvers_entries(const struct kiln_symvers *s,
						      size_t *ret_n);

/*
 * The kernel's same_magic() (kernel/module/version.c): with @has_crcs (the
 * module has __versions and the kernel was built with CONFIG_MODVERSIONS)
 * the release, up to the first space, is not compared; else the whole string.
 */
bool kiln_vermagic_same(const char *module_magic, const char *kernel_magic, bool has_crcs);

/*
 * The vermagic a kernel stamps on its modules, derived from its .config
 * (@config_len bytes of @config) as include/linux/vermagic.h does: @release,
 * then "SMP ", "preempt " or "preempt_rt ", "mod_unload ", "modversions ",
 * the architecture's part and "RANDSTRUCT_" @randstruct_seed (the kernel's
 * include/generated/randstruct_hash.h; NULL when CONFIG_RANDSTRUCT is off).
 * An architecture whose part .config alone does not give (32-bit ARM, MIPS,
 * SuperH, IA-64) is -EOPNOTSUPP.
 */
int kiln_vermagic_from_config(struct kiln_ctx *ctx, const char *release, const char *config,
			      size_t config_len, const char *randstruct_seed, char **ret);

/* A kernel to check modules against (lib/kmod/kernel.c). */
struct kiln_kernel;

struct kiln_kernel_options {
	/*
	 * A kernel build tree, or a distribution's linux-headers tree: the
	 * release (include/generated/utsrelease.h), .config, Module.symvers,
	 * certs/signing_key.x509 and, in a full build, modules.builtin.
	 */
	const char *build_dir;
	const char *release; /* overrides the build tree's */
	const char *vermagic; /* overrides the one derived from .config */
	/*
	 * Module.symvers files. Without @build_dir the first is the kernel's;
	 * the others are external modules' (as KBUILD_EXTRA_SYMBOLS).
	 */
	const char *const *symvers;
	size_t n_symvers;
	const char *cert; /* the module signing certificate, DER or PEM */
	/*
	 * A /lib/modules/<release> tree: modules.builtin and modules.dep, the
	 * vermagic of one of its modules (and the release in it) when nothing
	 * else gives one, and modules.symbols: which of its modules exports
	 * what, whose CRCs are then read from that module's __kcrctab.
	 */
	const char *modules_dir;
	/*
	 * The kernel's boot image (kiln_kernel_image_open()): its release when
	 * neither @release nor @build_dir gives one (a different one is an
	 * error), and the certificates built into it, trusted as @cert is: a
	 * module verifies when any of them signed it. What vmlinux exports is
	 * not read from it: without Module.symvers the symbols a module takes
	 * from vmlinux itself are not checked.
	 */
	const char *kernel_image;
};

/* What is known of the kernel; a yes/no fact is -1 when unknown (no .config). */
struct kiln_kernel_info {
	const char *release;
	const char *vermagic; /* NULL when unknown */
	const char *vermagic_source; /* ".config", "options" (given as @vermagic), or the module
				      * it came from */
	const char *cert; /* path, or NULL */
	const char *kernel_image; /* path, or NULL */
	size_t n_image_certs; /* the certificates built into it: kiln_kernel_certs() */
	const char *symvers; /* the kernel's Module.symvers */
	size_t n_symbols; /* symbols in it and in the external ones */
	size_t n_modules; /* module names known: built in, modules.dep, Module.symvers */
	int modversions; /* CONFIG_MODVERSIONS */
	int module_sig; /* CONFIG_MODULE_SIG: signatures are checked at all */
	int sig_force; /* CONFIG_MODULE_SIG_FORCE */
	int lockdown_forced; /* CONFIG_LOCK_DOWN_KERNEL_FORCE_{INTEGRITY,CONFIDENTIALITY} */
	int lockdown_secure_boot; /* CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT */
	int force_load; /* CONFIG_MODULE_FORCE_LOAD */
	int allow_missing_ns; /* CONFIG_MODULE_ALLOW_MISSING_NAMESPACE_IMPORTS */
};

/*
 * Describe a kernel from a build tree, or from a release, Module.symvers and
 * certificate, or from its modules directory (and its release, its boot
 * image or both). The last is how a kernel kiln did not build is checked
 * against (a Talos installer-base): the image's certificates, the modules'
 * vermagic and exports; without Module.symvers what vmlinux itself exports
 * is unknown, and the check says those symbols were not checked. Missing
 * or malformed inputs are errors with the file named.
 */
int kiln_kernel_load(struct kiln_ctx *ctx, const struct kiln_kernel_options *o,
		     struct kiln_kernel **ret);

/*
 * The kernel build tree in @root (a dependency's files, an unpacked image):
 * @root/src, where siderolabs' kernel-build puts it, else @root itself. A
 * tree is what kiln_kernel_load() needs at least: Module.symvers and the
 * release (include/generated/utsrelease.h or include/config/kernel.release);
 * .config and certs/signing_key.x509 are read when present. Returns 1 with
 * "src" or "." in *@ret_subdir, 0 when neither is a tree, -errno (on @ctx)
 * when @root cannot be opened.
 */
int kiln_kernel_build_find(struct kiln_ctx *ctx, const char *root, const char **ret_subdir);

/*
 * The modules directory of the one kernel installed in @root (an image of
 * a kernel, as siderolabs' kernel package is): {usr/,}lib/modules/<release>/
 * with modules.dep and modules.builtin, as modules_install leaves it. Returns
 * 1 with "usr/lib/modules/<release>" in *@ret_subdir, 0 when there is none
 * (or more than one), -errno (on @ctx) when @root cannot be opened. With
 * kiln_kernel_options' @release and @modules_dir alone, it describes the
 * kernel well enough for the vermagic, signature presence, firmware and
 * depends checks; what the kernel exports is then unknown.
 */
int kiln_kernel_modules_find(struct kiln_ctx *ctx, const char *root, char **ret_subdir);

void kiln_kernel_free(struct kiln_kernel *k);

static inline void kiln_kernel_freep(struct kiln_kernel **k)
{
	kiln_kernel_free(*k);
}

const struct kiln_kernel_info *kiln_kernel_info(const struct kiln_kernel *k);
const struct kiln_symvers *kiln_kernel_symvers(const struct kiln_kernel *k);

/* The certificates built into the kernel image (kiln_kernel_options' @kernel_image). */
const struct kiln_kernel_cert *kiln_kernel_certs(const struct kiln_kernel *k, size_t *ret_n);

/*
 * The file of the kernel's module that exports @symbol, by the modules
 * directory's modules.symbols: "<modules_dir>/kernel/.../videodev.ko.xz";
 * NULL when none of its modules does (vmlinux itself may) or there is no
 * modules directory.
 */
const char *kiln_kernel_symbol_module(const struct kiln_kernel *k, const char *symbol);

/* Whether modules.symbols was read: kiln_kernel_symbol_module() knows the modules' exports. */
bool kiln_kernel_knows_module_exports(const struct kiln_kernel *k);

/*
 * Where the kernel has module @name ('-' and '_' alike): "modules.builtin",
 * "modules.dep", "Module.symvers", or the path of an external Module.symvers
 * that lists it; NULL when it does not.
 */
const char *kiln_kernel_module_source(const struct kiln_kernel *k, const char *name);

/*
 * Find firmware @name under @root (an image or extension tree) on the
 * kernel's search path for @release:
 * {/lib,/usr/lib}/firmware/{updates/@release/,updates/,@release/,}NAME{,.zst,.xz}
 * (the kernel itself only looks in /lib; /usr/lib works through merged-/usr).
 * A name with * ? or [ is an fnmatch() glob, as some MODULE_FIRMWARE() are.
 * Symlinks resolve inside @root. Returns 1 with the match (relative to
 * @root) in *@ret_path, 0 when there is none, or -errno (lib/kmod/firmware.c).
 */
int kiln_firmware_find(struct kiln_ctx *ctx, const char *root, const char *release,
		       const char *name, char **ret_path);

enum kiln_check_kind {
	KILN_CHECK_VERMAGIC,
	KILN_CHECK_SYMBOLS, /* __versions CRCs, unresolved symbols, namespaces, GPL-only */
	KILN_CHECK_SIGNATURE,
	KILN_CHECK_FIRMWARE,
	KILN_CHECK_DEPENDS,
	KILN_CHECK_KIND_MAX,
};

/* In increasing order of trouble. */
enum kiln_check_status {
	KILN_CHECK_OK,
	KILN_CHECK_NOTE, /* fine, but worth knowing (a finding only) */
	KILN_CHECK_SKIPPED, /* cannot be checked with what was given */
	KILN_CHECK_WARN, /* loads, but taints the kernel, or its probe will fail */
	KILN_CHECK_FAIL, /* the kernel refuses to load it */
};

/*
 * What to do about a finding, as a fact: the front end words it (with its
 * own commands and options), from the fix and its @fix_arg.
 */
enum kiln_check_fix {
	KILN_FIX_NONE,
	/* the module */
	KILN_FIX_SIGN, /* unsigned: sign it with the kernel's key; arg: the kernel's certificate */
	KILN_FIX_RESIGN, /* a signature the kernel cannot use: replace it with one by the
			  * kernel's key; arg: the kernel's certificate */
	KILN_FIX_RESIGN_OR_ENROLL, /* signed by a key the kernel does not trust: re-sign it, or
				    * enroll the signer's certificate (MOK); arg: the certificate */
	KILN_FIX_REBUILD, /* rebuild it against the kernel's build tree; arg: the release */
	KILN_FIX_REBUILD_WITH_SYMVERS, /* rebuild it against the Module.symvers of module arg
					* (KBUILD_EXTRA_SYMBOLS) */
	KILN_FIX_KEEP_SYMTAB, /* rebuild it, and strip no more than debug information */
	KILN_FIX_IMPORT_NS, /* add MODULE_IMPORT_NS(arg) to its source */
	KILN_FIX_GPL_LICENSE, /* a GPL-compatible MODULE_LICENSE(), or stop using symbol arg */
	KILN_FIX_RENAME_EXPORT, /* rename the export, or blacklist the in-tree module arg;
				 * arg NULL: the kernel itself exports it: stop exporting it */
	KILN_FIX_INSTALL, /* install it in lib/modules/arg/ (kiln_build_module's own finding) */
	/* what is around it */
	KILN_FIX_GIVE_EXPORTER, /* symbol arg was undefined at build time too: give the module
				 * that exports it, or its Module.symvers */
	KILN_FIX_GIVE_EXPORTER_OR_REBUILD, /* symbol arg was exported where the module was built
					    * (its CRC is in __versions): give its exporter or
					    * its Module.symvers, or rebuild against this kernel */
	KILN_FIX_GIVE_DEPENDENCY, /* give module arg too (it ships with this one), or its
				   * Module.symvers */
	KILN_FIX_ADD_FIRMWARE, /* ship firmware arg with the module (usr/lib/firmware/), or give
				* the tree that has it as a firmware root */
	/* what the check was not given */
	KILN_FIX_GIVE_VERMAGIC, /* the kernel's vermagic: its .config, the string, or the
				 * vermagic of its modules */
	KILN_FIX_GIVE_SYMVERS, /* what the kernel exports: its Module.symvers or build tree */
	KILN_FIX_GIVE_CERT, /* the kernel's signing certificate; arg: the kernel image that has
			     * none built in, or NULL when no image was given either */
	KILN_FIX_MAX,
};

struct kiln_check_finding {
	enum kiln_check_kind kind;
	enum kiln_check_status status;
	char *subject; /* the symbol, firmware or dependency; NULL for the module itself */
	char *message; /* what is wrong */
	char *kernel_says; /* what the kernel prints at load (or probe) time; may be NULL */
	enum kiln_check_fix fix; /* what to do about it; KILN_FIX_NONE: nothing to do */
	char *fix_arg; /* what the fix is about (see enum kiln_check_fix); may be NULL */
};

struct kiln_check_result {
	const char *path;
	char *name; /* the module's name, as the kernel calls it */
	enum kiln_check_status status; /* the worst of @checks */
	enum kiln_check_status checks[KILN_CHECK_KIND_MAX];
	struct kiln_check_finding *findings;
	size_t n_findings;
};

struct kiln_check_options {
	const char *const *firmware_roots; /* trees to find firmware in */
	size_t n_firmware_roots;
	/* the kernel enforces signatures at run time: module.sig_enforce=1, lockdown */
	bool sig_enforce;
};

/*
 * Check @n modules, loaded together, against @k: each may use the others'
 * exports and name them in depends=. Fills *@ret with @n results in the
 * same order (kiln_check_results_free() them). A module that cannot be
 * checked at all (a corrupt symbol table) is an error on @ctx.
 */
int kiln_module_check(struct kiln_ctx *ctx, const struct kiln_kernel *k,
		      struct kiln_module *const *mods, size_t n, const struct kiln_check_options *o,
		      struct kiln_check_result **ret);
void kiln_check_results_free(struct kiln_check_result *r, size_t n);
/* Free what one result holds (not @r itself, nor its path). */
void kiln_check_result_release(struct kiln_check_result *r);

/* The module would load (with or without warnings). */
static inline bool kiln_check_loads(const struct kiln_check_result *r)
{
	return r->status < KILN_CHECK_FAIL;
}

const char *kiln_check_kind_name(enum kiln_check_kind kind); /* "vermagic" */
const char *kiln_check_status_name(enum kiln_check_status status); /* "ok", "fail" */
/* "sign", "resign", "give-symvers", ...: a key for machines; NULL for KILN_FIX_NONE. */
const char *kiln_check_fix_name(enum kiln_check_fix fix);
/* The fix of that name; KILN_FIX_NONE for NULL or a name it does not know. */
enum kiln_check_fix kiln_check_fix_by_name(const char *name);

#pragma GCC visibility pop
