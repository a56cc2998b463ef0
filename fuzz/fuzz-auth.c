/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz what a registry client reads from others: the first byte picks the
 * input's kind. Odd: a WWW-Authenticate header, from a registry. Even: an
 * auth file (auth.json, docker's config.json or the legacy .dockercfg),
 * written to a temporary file and searched for a few registries.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <kiln/registry.h>

#include "fileio.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_challenge(const char *s)
{
	struct kiln_auth_challenge c = { 0 };

	if (kiln_auth_challenge_parse(s, &c) < 0)
		return;
	/* a parse that succeeds gives one of the two schemes kiln speaks, and whole scopes */
	if (!streq(c.scheme, "Bearer") && !streq(c.scheme, "Basic"))
		abort();
	for (size_t i = 0; i < c.n_scopes; i++)
		if (!c.scopes[i][0] || strpbrk(c.scopes[i], " \t"))
			abort();
	kiln_auth_challenge_release(&c);
}

static void fuzz_auth_file(const uint8_t *data, size_t size)
{
	static const char *const lookups[][2] = {
		{ "reg.example:5000", "team/app" },
		{ "docker.io", "library/alpine" },
		{ "127.0.0.1:5005", NULL },
	};
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_free_ char *path = NULL;

	if (kiln_ctx_new(&ctx) < 0 || asprintf(&path, "/tmp/kiln-fuzz-auth-%d.json", getpid()) < 0)
		return;
	if (write_file_atomic(path, data, size, 0600) < 0)
		return;
	for (size_t i = 0; i < ELEMENTSOF(lookups); i++) {
		struct kiln_credentials cr = { 0 };
		char *searched = NULL;
		int r = kiln_credentials_lookup(ctx, path, lookups[i][0], lookups[i][1], &cr,
						&searched);

		/* a refusal always says why; credentials are whole */
		if (r < 0 && !kiln_ctx_error(ctx))
			abort();
		if (r > 0 && (!cr.username || !cr.password || !cr.source))
			abort();
		kiln_credentials_release(&cr);
		free(searched);
		kiln_ctx_clear_error(ctx);
	}
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *s = NULL;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		s = strndup((const char *)data + 1, size - 1);
		if (s)
			fuzz_challenge(s);
	} else {
		fuzz_auth_file(data + 1, size - 1);
	}
	return 0;
}
