/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ext-manifest-check FILE: parse an extension manifest.yaml and check its
 * Talos version constraint against three Talos versions. Prints
 *
 *	name<TAB>version<TAB>constraint<TAB>result@v1.9.0<TAB>result@v1.12.0<TAB>
 *		result@v1.15.0-alpha.0
 *
 * on one line, where a result is "ok" or the error, and "(none)" stands
 * for an absent constraint. Exits 1, with the error on stderr, when the
 * manifest does not parse. A test helper for
 * tests/integration/test-ext-corpus.sh.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <kiln/ext.h>

#include "fileio.h"

static const char *const talos_versions[] = { "v1.9.0", "v1.12.0", "v1.15.0-alpha.0" };

static void print_warning(void *userdata, enum kiln_log_level level, const char *msg)
{
	fprintf(stderr, "%s\n", msg);
}

int main(int argc, char **argv)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_(kiln_ext_manifest_freep) struct kiln_ext_manifest *m = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MANIFEST\n", argv[0]);
		return 2;
	}
	if (kiln_ctx_new(&ctx) < 0)
		return 1;
	kiln_ctx_set_log_fn(ctx, print_warning, NULL);
	r = read_file_at(AT_FDCWD, argv[1], 1u << 20, &text, &len);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	r = kiln_ext_manifest_parse(ctx, argv[1], text, len, &m);
	if (r < 0) {
		fprintf(stderr, "%s\n", kiln_ctx_error(ctx) ? kiln_ctx_error(ctx) : strerror(-r));
		return 1;
	}
	printf("%s\t%s\t%s", m->name, m->ext_version,
	       m->talos_version ? m->talos_version : "(none)");
	for (size_t i = 0; i < ELEMENTSOF(talos_versions); i++) {
		kiln_ctx_clear_error(ctx);
		r = kiln_ext_check_talos_version(ctx, m->talos_version, talos_versions[i]);
		printf("\t%s", r >= 0		     ? "ok"
			       : kiln_ctx_error(ctx) ? kiln_ctx_error(ctx)
						     : strerror(-r));
	}
	printf("\n");
	return 0;
}
