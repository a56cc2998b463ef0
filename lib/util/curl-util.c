/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "curl-util.h"
#include "log.h"

/* Big buffers: fewer syscalls and callbacks for layers and tarballs of hundreds of MiB. */
#define RECV_BUFFER_SIZE (256L << 10)
/*
 * A transfer that moves nothing for this long is stalled: it fails with
 * CURLE_OPERATION_TIMEDOUT, which its caller retries or resumes.
 * $KILN_HTTP_STALL_SECONDS says otherwise (the fault tests use 1).
 */
#define STALL_SECONDS 60L
#define STALL_SECONDS_MAX 3600L
#define STALL_ENV "KILN_HTTP_STALL_SECONDS"
#define CONNECT_TIMEOUT_SECONDS 30L

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result;
static long stall_seconds = STALL_SECONDS;
static bool stall_invalid;

static void global_init_once(void)
{
	const char *e = getenv(STALL_ENV);
	char *end;
	long s;

	global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!e || !*e)
		return;
	errno = 0;
	s = strtol(e, &end, 10);
	if (errno || *end || s < 1 || s > STALL_SECONDS_MAX)
		stall_invalid = true;
	else
		stall_seconds = s;
}

int kiln_curl_global_init(struct kiln_ctx *ctx)
{
	pthread_once(&global_once, global_init_once);
	if (global_result != CURLE_OK)
		return kiln_error(ctx, ENOMEM, "cannot initialize libcurl");
	if (stall_invalid)
		return kiln_error(ctx, EINVAL,
				  "%s='%s' is not a number of seconds from 1 to %ld: unset it for "
				  "the default of %ld",
				  STALL_ENV, getenv(STALL_ENV), STALL_SECONDS_MAX, STALL_SECONDS);
	return 0;
}

void kiln_curl_set_defaults(CURL *curl, char *errbuf, bool tls_verify)
{
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "kiln/" KILN_VERSION);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_SECONDS);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, stall_seconds);
	curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, RECV_BUFFER_SIZE);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, tls_verify ? 1L : 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, tls_verify ? 2L : 0L);
}
