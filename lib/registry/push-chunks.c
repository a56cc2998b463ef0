/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A blob too big for one PUT goes in PATCH chunks to its upload session,
 * each checked against the Range the registry answers; an interrupted
 * chunk resumes where the registry's upload status says it holds the
 * bytes, and a lost session starts the upload over (push.c).
 */
#include <string.h>

#include "log.h"
#include "registry-internal.h"

/* 8, 16 and 32 MiB chunks measured: 32 as fast as one PUT, smaller ones slower */
#define CHUNK_SIZE (32u << 20)

/* An upload session's new Location, @sent, resolved against the old one in *@location. */
static int follow_location(char **location, const char *sent)
{
	char *loc;
	int r;

	r = kiln_registry_url_resolve(*location, sent, NULL, NULL, &loc);
	if (r < 0)
		return r;
	free(*location);
	*location = loc;
	return 0;
}

/*
 * How many bytes an upload session holds, from its Range header ("0-N").
 * distribution says "0-0" for an empty session as for one of 1 byte: it is
 * taken as empty, and a 1-byte session then refuses the chunk from 0 and
 * the upload starts over.
 */
static int session_size(const char *range, uint64_t *ret)
{
	unsigned long long a, z;

	if (!range || sscanf(range, "%llu-%llu", &a, &z) != 2 || a != 0)
		return -ESTALE;
	*ret = z == 0 ? 0 : (uint64_t)z + 1;
	return 0;
}

/* Upload status (GET <location>): where to go on from, or -errno if the session is gone. */
static int upload_status(struct reg_transfer *t, struct reg_conn *conn, char **location,
			 uint64_t *offset)
{
	_cleanup_(http_response_release) struct http_response resp = { .content_length = -1 };
	const char *scopes[] = { t->scope, NULL };
	int r;

	r = reg_call(conn,
		     &(struct reg_call){ .what = "upload status",
					 .method = "GET",
					 .url = *location,
					 .scopes = scopes,
					 .max_body = 65536,
					 .retry = true,
					 .cancel = &t->w.failed },
		     &resp);
	if (r < 0)
		return r;
	if (resp.status != 204 || session_size(resp.range, offset) < 0)
		return -ESTALE;
	if (resp.location && follow_location(location, resp.location) < 0)
		return -ESTALE;
	return 0;
}

/*
 * After a chunk's 202: 0 when the session holds all sent so far, 1 with
 * *@offset moved back when the registry took a chunk cut short on the way
 * as whole (its Range says so), -errno when it keeps happening.
 */
static int chunk_arrived(struct reg_conn *conn, struct reg_blob *b,
			 const struct http_response *resp, uint64_t *offset, uint64_t len,
			 unsigned *failures)
{
	uint64_t held;

	if (session_size(resp->range, &held) < 0 || held == *offset + len)
		return 0;
	if (held > *offset + len || ++*failures >= REG_UPLOAD_ATTEMPTS)
		return kiln_error(conn->ctx, EIO,
				  "upload of blob %s: the registry holds %ju bytes after %ju were "
				  "sent",
				  b->digest.s, (uintmax_t)held, (uintmax_t)(*offset + len));
	reg_notice(conn,
		   "upload of blob %s: the registry got %ju of the %ju bytes sent; "
		   "resuming there",
		   b->digest.s, (uintmax_t)held, (uintmax_t)(*offset + len));
	*offset = held;
	atomic_store(&b->moved, held);
	return 1;
}

int reg_send_chunks(struct reg_transfer *t, struct reg_conn *conn, struct reg_blob *b, int fd,
		    char **location)
{
	const char *scopes[] = { t->scope, NULL };
	uint64_t offset = 0;
	unsigned failures = 0;
	char why[CURL_ERROR_SIZE + 64];
	int r;

	while (offset < b->size) {
		_cleanup_(http_response_release) struct http_response resp = { .content_length =
										   -1 };
		uint64_t len = b->size - offset < CHUNK_SIZE ? b->size - offset : CHUNK_SIZE;
		char range[64];
		const char *headers[] = { range, NULL };
		uint64_t before = atomic_load(&b->moved);

		snprintf(range, sizeof(range), "Content-Range: %ju-%ju", (uintmax_t)offset,
			 (uintmax_t)(offset + len - 1));
		r = reg_call(conn,
			     &(struct reg_call){ .what = "upload chunk",
						 .method = "PATCH",
						 .url = *location,
						 .scopes = scopes,
						 .headers = headers,
						 .body_kind = HTTP_BODY_FD,
						 .body_fd = fd,
						 .body_offset = offset,
						 .body_fd_len = len,
						 .content_type = "application/octet-stream",
						 .max_body = 65536,
						 .progress = &b->moved,
						 .cancel = &t->w.failed },
			     &resp);
		if (r == 0 && resp.status == 202) {
			/* the newest Location holds the session's state; without one, the old stays
			 */
			if (resp.location && follow_location(location, resp.location) < 0)
				return kiln_error(conn->ctx, EPROTO,
						  "upload of blob %s: unusable Location",
						  b->digest.s);
			r = chunk_arrived(conn, b, &resp, &offset, len, &failures);
			if (r < 0)
				return r;
			if (r == 0)
				offset += len;
			continue;
		}
		/*
		 * libcurl sends a request again by itself when a reused
		 * connection dies; if the first try reached the registry, the
		 * second finds its session cancelled (404): start over.
		 */
		if (r == 0 && resp.status == 404) {
			reg_notice(conn, "upload of blob %s lost its session; starting it again",
				   b->digest.s);
			atomic_store(&b->moved, 0);
			return 1;
		}
		if (r == -ECANCELED || (!http_is_transient(r, &resp, false) && r != -EAGAIN))
			return r < 0 ? r : reg_status_error(conn, "upload chunk", &resp);
		if (++failures >= REG_UPLOAD_ATTEMPTS)
			return r < 0 ? r : reg_status_error(conn, "upload chunk", &resp);
		kiln_ctx_clear_error(conn->ctx);
		if (resp.status)
			snprintf(why, sizeof(why), "%s answered %ld", t->c->domain, resp.status);
		else
			snprintf(why, sizeof(why), "%s",
				 resp.curl_error[0] ? resp.curl_error : strerror(-r));
		atomic_store(&b->moved, before);
		r = http_sleep_ms(http_backoff_ms(failures - 1, resp.retry_after), &t->w.failed);
		if (r < 0)
			return r;
		/* 2.8 cancels a session asked about with a stale offset: then start over */
		r = upload_status(t, conn, location, &offset);
		if (r == -ECANCELED)
			return r;
		if (r < 0 || offset > b->size) {
			kiln_ctx_clear_error(conn->ctx);
			reg_notice(conn, "upload of blob %s interrupted; starting it again",
				   b->digest.s);
			atomic_store(&b->moved, 0);
			return 1;
		}
		reg_notice(conn, "upload of blob %s interrupted (%s); resuming at %ju", b->digest.s,
			   why, (uintmax_t)offset);
		atomic_store(&b->moved, offset);
	}
	return 0;
}
