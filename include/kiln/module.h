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

#include <kiln/kiln.h>

/* ---- compression (lib/kmod/compress.c) --------------------------------- */

enum kiln_compression {
	KILN_COMPRESSION_NONE,
	KILN_COMPRESSION_XZ,
	KILN_COMPRESSION_ZSTD,
};

/* What @data is compressed with, from its magic bytes. */
enum kiln_compression kiln_compression_detect(const uint8_t *data, size_t len);

const char *kiln_compression_name(enum kiln_compression c);

/*
 * Decompress @data (@len bytes, compressed with @c) into a new buffer. The
 * output is capped at @max bytes (-EFBIG beyond); corrupt input is -EBADMSG
 * with the reason on @ctx.
 */
int kiln_decompress(struct kiln_ctx *ctx, enum kiln_compression c, const uint8_t *data,
		    size_t len, size_t max, uint8_t **ret, size_t *ret_len);

/*
 * Compress as the kernel's modules_install does: xz with a CRC32 check and a
 * 1 MiB dictionary, zstd at its default level.
 */
int kiln_compress(struct kiln_ctx *ctx, enum kiln_compression c, const uint8_t *data, size_t len,
		  uint8_t **ret, size_t *ret_len);

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
	char *signer; /* the issuer's CN; NULL when it has none */
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
