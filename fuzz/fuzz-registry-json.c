/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the JSON bodies kiln reads from a registry that are not manifests
 * (those are fuzz-manifest's): the input is a body, read as a token
 * service's reply, as the error body of a failed request (each status
 * class), and as a manifest whose media type is sniffed; and, below all of
 * them, by the JSON reader itself, whose parse written back must parse to
 * the same bytes. Each refusal comes with a message; nothing may crash,
 * leak, or read past the body.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/oci.h>

#include "json-parse.h"
#include "json.h"
#include "fuzz.h"
#include "macro.h"
#include "registry-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failure must say why, or be out of memory. */
static void refused(struct kiln_ctx *ctx, int r)
{
	if (r >= 0 || (r != -ENOMEM && !kiln_ctx_error(ctx)))
		abort();
	kiln_ctx_clear_error(ctx);
}

/* A parsed document, written back compact, parses again and writes the same bytes. */
static void check_json(struct kiln_ctx *ctx, const char *s, size_t n)
{
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL, *again = NULL;
	_cleanup_strbuf_ struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	struct json_writer w;
	uint64_t u;
	int r;

	r = json_parse(ctx, "body", s, n, &doc);
	if (r < 0) {
		refused(ctx, r);
		return;
	}
	json_init_compact(&w, &a);
	json_write_value(&w, json_doc_root(doc));
	if (json_error(&w) < 0)
		return;
	if (json_parse(ctx, "written back", a.buf, a.len, &again) < 0)
		abort();
	json_init_compact(&w, &b);
	json_write_value(&w, json_doc_root(again));
	if (json_error(&w) < 0)
		return;
	if (a.len != b.len || memcmp(a.buf, b.buf, a.len) != 0)
		abort();
	/* a number is a count, or says why not; anything else is not a number */
	r = json_get_u64(json_doc_root(doc), &u);
	if (r < 0 && r != -ERANGE && r != -EINVAL)
		abort();
	if (r == -EINVAL && json_doc_root(doc)->type == JSON_NUMBER)
		abort();
}

static void check_token(struct kiln_ctx *ctx, const char *s, size_t n)
{
	_cleanup_free_ char *token = NULL;
	uint64_t lifetime = 0;
	int r;

	r = reg_token_reply_parse(ctx, "https://auth.example/token", s, n, &token, &lifetime);
	if (r < 0) {
		refused(ctx, r);
		return;
	}
	if (!token || !*token || lifetime < 60)
		abort();
}

/* An error body as reg_status_error() quotes it for each kind of status. */
static void check_error_body(struct kiln_ctx *ctx, const char *s, size_t n)
{
	static const long statuses[] = { 400, 401, 404, 429, 500 };
	struct reg_client c = { .domain = (char *)"registry.example" };
	struct reg_conn conn = { .c = &c, .ctx = ctx };

	for (size_t i = 0; i < ELEMENTSOF(statuses); i++) {
		struct http_response resp = { .status = statuses[i], .content_length = -1 };

		if (strbuf_add(&resp.body, s, n) < 0)
			return;
		refused(ctx, reg_status_error(&conn, "GET manifest latest", &resp));
		http_response_release(&resp);
	}
}

static void check_media_type(struct kiln_ctx *ctx, const char *s, size_t n)
{
	static const char *const fallbacks[] = {
		NULL, "application/json",
		"application/vnd.oci.image.manifest.v1+json; charset=utf-8"
	};

	for (size_t i = 0; i < ELEMENTSOF(fallbacks); i++) {
		_cleanup_free_ char *mt = NULL;
		int r = reg_manifest_media_type(ctx, s, n, fallbacks[i], &mt);

		if (r < 0)
			refused(ctx, r);
		else if (!mt ||
			 (!streq(mt, KILN_MT_OCI_MANIFEST) && !streq(mt, KILN_MT_OCI_INDEX) &&
			  !streq(mt, KILN_MT_DOCKER_MANIFEST) && !streq(mt, KILN_MT_DOCKER_LIST)))
			abort();
	}
}

/* Each reader of a body, on one context, which each leaves clear. */
static void (*const readers[])(struct kiln_ctx *ctx, const char *s, size_t n) = {
	check_json,
	check_token,
	check_error_body,
	check_media_type,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *body = fuzz_copy(data, size, 1u << 20);
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;

	if (body && kiln_ctx_new(&ctx) >= 0)
		for (size_t i = 0; i < ELEMENTSOF(readers); i++)
			readers[i](ctx, body, size);
	return 0;
}
