/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * libkiln: the library context.
 *
 * Every libkiln call that can fail takes a context. The library never prints
 * and never exits: it passes warnings to the context's log function and keeps
 * the full text of the last error on the context, for the caller to print
 * once.
 */

#include <stdarg.h>

/*
 * What the headers of include/kiln/ declare is libkiln's interface, and only
 * that is exported from libkiln.so (built with -fvisibility=hidden).
 */
#pragma GCC visibility push(default)

struct kiln_ctx;

enum kiln_log_level {
	KILN_LOG_ERR = 3,
	KILN_LOG_WARNING = 4,
	KILN_LOG_INFO = 6,
	KILN_LOG_DEBUG = 7,
};

/* @msg is one line without a trailing newline, such as "a/pkg.yaml:3:1: ...". */
typedef void (*kiln_log_fn)(void *userdata, enum kiln_log_level level, const char *msg);

/**
 * kiln_ctx_new() - create a library context
 * @ret: the new context
 *
 * The context starts with no log function: warnings are counted and dropped.
 * Returns 0 or -ENOMEM.
 */
int kiln_ctx_new(struct kiln_ctx **ret);

/** kiln_ctx_free() - free a context; NULL is allowed. */
void kiln_ctx_free(struct kiln_ctx *ctx);

/** kiln_ctx_set_log_fn() - route warnings and debug text to @fn. */
void kiln_ctx_set_log_fn(struct kiln_ctx *ctx, kiln_log_fn fn, void *userdata);

/** kiln_ctx_set_log_level() - drop messages less important than @level. */
void kiln_ctx_set_log_level(struct kiln_ctx *ctx, enum kiln_log_level level);

/**
 * kiln_ctx_error() - the text of the last error
 *
 * Returns the message recorded by the last failing call (for example
 * "pkgs/a/pkg.yaml:4:9: unknown function \"frob\""), or NULL if none was
 * recorded. Valid until the next call on @ctx.
 */
const char *kiln_ctx_error(const struct kiln_ctx *ctx);

/**
 * kiln_ctx_error_for() - the text of the error a failing call returned
 * @r: the negative errno the call returned
 *
 * Returns the last recorded message if it was recorded with @r, else NULL.
 * A failure that recorded nothing (an allocation that failed deep inside a
 * helper) is so never described by an older message of another failure; the
 * caller falls back to strerror(-@r).
 */
const char *kiln_ctx_error_for(const struct kiln_ctx *ctx, int r);

/*
 * What the caller could change to get past the last error: a fact in the
 * API's terms, recorded by the library with the error, for a front end to
 * word as its own advice (a command line names its flags). The library's
 * error text never names a front end's options.
 */
enum kiln_hint {
	KILN_HINT_NONE,
	/*
	 * kiln_registry_options.insecure would allow it: the registry's TLS
	 * certificate is not trusted, https cannot reach it (plain HTTP is only
	 * tried for loopback hosts), or credentials would go to a plain-HTTP
	 * token service.
	 */
	KILN_HINT_INSECURE,
	/* the image has no manifest for the platform asked for; the text lists those it has */
	KILN_HINT_PLATFORM,
	/* the image the subject names is not in the store: import it under that name, or pull it */
	KILN_HINT_IMAGE_MISSING,
	/* a build step uses the secret the subject names, which kiln_build_options.secrets lacks */
	KILN_HINT_SECRET,
	/* the installer's base has no Talos version; kiln_installer_options.talos_version */
	KILN_HINT_TALOS_VERSION,
	/* the installer's preflight refused a module; kiln_installer_options.no_preflight */
	KILN_HINT_NO_PREFLIGHT,
	/* no certificate of the base's kernel is known; kiln_installer_options.kernel_certs */
	KILN_HINT_KERNEL_CERT,
	/*
	 * a filesystem is full (ENOSPC, EDQUOT): the text names the path; room
	 * is made there, or the cache moved to a bigger one. Every error with
	 * that code has it.
	 */
	KILN_HINT_NO_SPACE,
};

/**
 * kiln_ctx_error_hint() - what could get past the last error
 * @ret_subject: may be NULL; gets what the hint is about (KILN_HINT_IMAGE_MISSING:
 *               the image reference; KILN_HINT_SECRET: the secret's id), or NULL;
 *               valid as long as kiln_ctx_error()'s text
 *
 * Returns KILN_HINT_NONE when the last error has none, or there is no error.
 * A hint recorded with an error is kept when callers add context to it, and
 * forgotten with it.
 */
enum kiln_hint kiln_ctx_error_hint(const struct kiln_ctx *ctx, const char **ret_subject);

/** kiln_ctx_clear_error() - forget the last error (and its hint). */
void kiln_ctx_clear_error(struct kiln_ctx *ctx);

/** kiln_ctx_warnings() - how many warnings have been reported so far. */
unsigned kiln_ctx_warnings(const struct kiln_ctx *ctx);

/** kiln_version() - the library version, "MAJOR.MINOR.PATCH". */
const char *kiln_version(void);

static inline void kiln_ctx_freep(struct kiln_ctx **ctx)
{
	kiln_ctx_free(*ctx);
}

#pragma GCC visibility pop
