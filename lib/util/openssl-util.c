/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include <openssl/err.h>

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

int kiln_ssl_error(struct kiln_ctx *ctx, int err, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (kiln_ssl_clear_error())
		return kiln_error(ctx, ENOMEM, "%s: out of memory", strbuf_str(&sb));
	/* OpenSSL's reason names what it disliked, never the bytes it read */
	if (reason)
		strbuf_addf(&sb, ": %s", reason);
	else if (e)
		strbuf_addf(&sb, ": OpenSSL error %lx", e);
	return kiln_error(ctx, err, "%s", strbuf_str(&sb));
}
