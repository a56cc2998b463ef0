/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include <openssl/core_dispatch.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "log.h"
#include "openssl-util.h"
#include "strbuf.h"

bool kiln_ssl_clear_error(void)
{
	bool oom = false;
	unsigned long e;

	/* the queue holds the failure and each caller that passed it up */
	while ((e = ERR_get_error()))
		if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
			oom = true;
	return oom;
}

int kiln_ssl_fail(struct kiln_ctx *ctx, int err, bool only_memory, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	va_list ap;
	bool oom;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	oom = kiln_ssl_clear_error();
	if (strbuf_error(&sb) < 0)
		return kiln_error(ctx, ENOMEM, "out of memory");
	if (oom || only_memory) {
		/* OpenSSL's own reason, when it gave one, as the clue it is */
		if (!oom && reason)
			return kiln_error(ctx, ENOMEM, "%s: out of memory (OpenSSL: %s)",
					  strbuf_str(&sb), reason);
		return kiln_error(ctx, ENOMEM, "%s: out of memory", strbuf_str(&sb));
	}
	/* OpenSSL's reason names what it disliked, never the bytes it read */
	if (reason)
		strbuf_addf(&sb, ": %s", reason);
	else if (e)
		strbuf_addf(&sb, ": OpenSSL error %lx", e);
	if (strbuf_error(&sb) < 0)
		return kiln_error(ctx, ENOMEM, "out of memory");
	return kiln_error(ctx, err, "%s", strbuf_str(&sb));
}

/* How many implementations of an operation the providers offer, or OpenSSL holds. */
struct algorithms {
	int operation;
	size_t n;
};

static void count_keymgmt(EVP_KEYMGMT *k, void *userdata)
{
	(void)k;
	((struct algorithms *)userdata)->n++;
}

static void count_decoder(OSSL_DECODER *d, void *userdata)
{
	(void)d;
	((struct algorithms *)userdata)->n++;
}

static int count_offered(OSSL_PROVIDER *p, void *userdata)
{
	struct algorithms *a = userdata;
	const OSSL_ALGORITHM *algs;
	int no_cache = 0;

	algs = OSSL_PROVIDER_query_operation(p, a->operation, &no_cache);
	/* what a provider offers anew each time may be held or not: its own business */
	for (const OSSL_ALGORITHM *alg = algs; !no_cache && alg && alg->algorithm_names; alg++)
		a->n++;
	OSSL_PROVIDER_unquery_operation(p, a->operation, algs);
	return 1;
}

static bool all_held(int operation, void (*do_all)(struct algorithms *held))
{
	struct algorithms held = { .operation = operation }, offered = { .operation = operation };

	do_all(&held);
	return OSSL_PROVIDER_do_all(NULL, count_offered, &offered) && held.n >= offered.n;
}

static void keymgmts_held(struct algorithms *held)
{
	EVP_KEYMGMT_do_all_provided(NULL, count_keymgmt, held);
}

static void decoders_held(struct algorithms *held)
{
	OSSL_DECODER_do_all_provided(NULL, count_decoder, held);
}

int kiln_ssl_check_algorithms(struct kiln_ctx *ctx)
{
	if (all_held(OSSL_OP_KEYMGMT, keymgmts_held) && all_held(OSSL_OP_DECODER, decoders_held))
		return 0;
	kiln_ssl_clear_error();
	return kiln_error(ctx, ENOMEM,
			  "out of memory: OpenSSL could not set up all of its key algorithms");
}
