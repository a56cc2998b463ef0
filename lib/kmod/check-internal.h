/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The pre-flight check's pieces (lib/kmod/check*.c): the state one run of
 * kiln_module_check() keeps, and the checks each file makes. Internal to
 * lib/kmod.
 *
 *   check.c            the run, its findings, and vermagic
 *   check-symbols.c    symbols: module_layout, imports (CRCs, namespaces,
 *                      GPL-only), exports
 *   check-signature.c  signature, and the certificates the kernel trusts
 *   check-depends.c    firmware and depends=: what the probe and modprobe need
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/module.h>

#include "ksyms.h"
#include "macro.h"
#include "strbuf.h"

/* The kernel logs nothing for these; init_module() fails and insmod says why. */
#define SAYS_ENOEXEC "(nothing logged; init_module() fails with ENOEXEC: \"Exec format error\")"
#define SAYS_EBADMSG "(nothing logged; init_module() fails with EBADMSG: \"Bad message\")"

struct mod_entry {
	struct kiln_module *m;
	const char *path;
	char *name; /* as the kernel calls it in messages */
	char *norm; /* '-' as '_', for depends= */
	struct kiln_module_syms syms;
	int syms_error; /* 0, or why the symbol table could not be read */
	char *syms_reason;
};

struct check_state {
	struct kiln_ctx *ctx;
	const struct kiln_kernel *k;
	const struct kiln_kernel_info *ki;
	const struct kiln_check_options *o;
	struct kiln_verifier *verifier; /* NULL without a certificate */
	char *trusted; /* the certificates, for messages: "'signing_key.x509'" */
	struct mod_entry *mods;
	size_t n;
	/* without Module.symvers: the kernel's modules that export what the given ones use */
	struct mod_entry *exporters;
	size_t n_exporters;
	/* the imports of the module being checked that nothing known exports */
	struct strbuf unchecked;
	size_t n_unchecked;
	bool oom;
	/* the result being filled, and the check running */
	struct kiln_check_result *r;
	size_t alloc_findings;
	enum kiln_check_kind kind;
};

/* Where a symbol comes from when the module is loaded. */
struct provider {
	const char *owner; /* "vmlinux", a module's path or name */
	const char *where; /* for messages: the Module.symvers, or the given module's path */
	uint32_t crc;
	bool has_crc;
	bool gpl;
	const char *ns;
	bool given; /* exported by one of the modules given */
};

/* A new string, or NULL with @st->oom set. */
_printf_(2, 3) char *check_fmt(struct check_state *st, const char *format, ...);

/*
 * Record a finding of the running check. Takes @message and @says (what
 * the kernel prints; NULL when nothing), @message being NULL only on
 * -ENOMEM; what to do is @fix, about @fix_arg (copied; may be NULL).
 */
void check_finding(struct check_state *st, enum kiln_check_status status, const char *subject,
		   char *message, char *says, enum kiln_check_fix fix, const char *fix_arg);

/* The last path component of @path, *@ret_len bytes long: without ".ko". */
const char *check_base_name(const char *path, size_t *ret_len);

/* @len bytes of @s with '-' as '_': how modprobe compares module names. */
char *check_normalize(const char *s, size_t len);

/*
 * Who of @mods (but @self) exports @name: 1 with *@ret (@given says
 * whether @mods are the modules given), 0 when none does.
 */
bool check_module_provider(const struct mod_entry *mods, size_t n, const struct mod_entry *self,
			   const char *name, bool given, struct provider *ret);

/* Who resolves @name for @self when it is loaded, in find_symbol()'s order. */
bool check_find_provider(const struct check_state *st, const struct mod_entry *self,
			 const char *name, struct provider *ret);

/*
 * The certificates the kernel trusts, as one verifier: the certificate file
 * and those built into its image. With none, *@ret stays NULL. *@ret_trusted
 * names them, for messages.
 */
int check_load_verifier(struct kiln_ctx *ctx, const struct kiln_kernel *k,
			struct kiln_verifier **ret, char **ret_trusted);

/* Each check on one module: its findings go to @st->r. */
void check_vermagic(struct check_state *st, struct mod_entry *me);
void check_symbols(struct check_state *st, struct mod_entry *me);
void check_signature(struct check_state *st, struct mod_entry *me);
void check_firmware(struct check_state *st, struct mod_entry *me);
void check_depends(struct check_state *st, struct mod_entry *me);
