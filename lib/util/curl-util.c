/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <pthread.h>

#include "curl-util.h"

/* Big buffers: fewer syscalls and callbacks for layers and tarballs of hundreds of MiB. */
#define RECV_BUFFER_SIZE (256L << 10)
/* A server that sends nothing for this long is gone: the transfer fails and may be retried. */
#define STALL_SECONDS 60L
#define CONNECT_TIMEOUT_SECONDS 30L

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_result;

static void global_init_once(void)
{
	global_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int kiln_curl_global_init(void)
{
	pthread_once(&global_once, global_init_once);
	return global_result == CURLE_OK ? 0 : -ENOMEM;
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
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
	curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, RECV_BUFFER_SIZE);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, tls_verify ? 1L : 0L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, tls_verify ? 2L : 0L);
}
