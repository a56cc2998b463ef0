/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What every libcurl transfer of kiln shares: the library's one-time
 * global init, and the options that make a transfer kiln's (the registry
 * client and source downloads both use them).
 */

#include <stdbool.h>

#include <curl/curl.h>

#include <kiln/kiln.h>

/*
 * curl_global_init() once per process, whichever thread asks first, and
 * $KILN_HTTP_STALL_SECONDS read: 0, or -errno with the error on @ctx.
 */
int kiln_curl_global_init(struct kiln_ctx *ctx);

/*
 * Set on @curl (after curl_easy_init() or curl_easy_reset()): kiln's
 * user agent, the error buffer @errbuf (CURL_ERROR_SIZE bytes), no
 * signals (threads), http and https only (redirects too), a 30 s connect
 * timeout, a transfer that moves nothing for 60 s (or
 * $KILN_HTTP_STALL_SECONDS) counts as failed, a
 * 256 KiB receive buffer, and TLS verification unless @tls_verify is
 * false.
 */
void kiln_curl_set_defaults(CURL *curl, char *errbuf, bool tls_verify);
