/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln module certs: the certificates a kernel trusts for module signatures,
 * read out of its boot image. The trust side of module verify and check: its
 * PEM output is what they take as --cert.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/module.h>
#include <kiln/oci.h>

#include "base64.h"
#include "json.h"
#include "kiln.h"

enum {
	OPT_PEM = OPT_FIRST_COMMAND_OPTION,
};

static int help(void)
{
	printf("Usage: kiln module certs [--pem|--json] IMAGE...\n"
	       "\n"
	       "The certificates built into a kernel (its .builtin_trusted_keys: the module\n"
	       "signing certificate and CONFIG_SYSTEM_TRUSTED_KEYS), read out of its boot\n"
	       "image: an x86 bzImage (vmlinuz), an arm64 Image or Image.gz, or a vmlinux.\n"
	       "The kernel inside is decompressed (gzip, xz, zstd) and searched for DER\n"
	       "certificates. For each: the name the kernel gives the key (its boot log's\n"
	       "\"Loaded X.509 cert '...'\"), the subject's CN and O, the subjectKeyIdentifier\n"
	       "and the sha256 of the DER (openssl x509 -fingerprint -sha256).\n"
	       "\n"
	       "Options:\n"
	       "      --pem    print the certificates as PEM, for 'kiln module verify --cert'\n"
	       "               and openssl\n"
	       "      --json   print a JSON array, an object per image\n"
	       "  -h, --help   show this help\n"
	       "\n"
	       "Every certificate found is listed: a kernel's revocation list\n"
	       "(CONFIG_SYSTEM_REVOCATION_KEYS) is not told apart. 'kiln module check\n"
	       "--kernel-image IMAGE' checks signatures against these certificates.\n"
	       "\n"
	       "Exit status: 0 when every image was read (with or without certificates),\n"
	       "1 otherwise, 2 on usage errors.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	bool *pem = userdata;

	(void)arg;
	if (c != OPT_PEM)
		return cli_usage("module certs: run 'kiln module certs --help' for usage");
	*pem = true;
	return CLI_CONTINUE;
}

static void write_pem(struct strbuf *out, const struct kiln_kernel_cert *c)
{
	_cleanup_free_ char *b64 = base64_encode(c->der, c->der_len);
	size_t len = b64 ? strlen(b64) : 0;

	strbuf_addf(out, "# %s\n-----BEGIN CERTIFICATE-----\n", c->description);
	for (size_t i = 0; i < len; i += 64)
		strbuf_addf(out, "%.*s\n", (int)(len - i < 64 ? len - i : 64), b64 + i);
	strbuf_adds(out, "-----END CERTIFICATE-----\n");
}

static int write_text(struct strbuf *out, const char *path, const struct kiln_kernel_image *img,
		      const struct kiln_kernel_cert *certs, size_t n)
{
	strbuf_addf(out, "%s: %s (%s), release %s: %zu certificate%s\n", path,
		    kiln_kernel_image_format(img), kiln_kernel_image_compression(img),
		    kiln_kernel_image_release(img) ?: "unknown", n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		struct kiln_digest d;
		int r = kiln_digest_of(cli_ctx, certs[i].der, certs[i].der_len, &d);

		if (r < 0)
			return r;
		strbuf_addf(out,
			    "  '%s'\n"
			    "    CN      %s\n"
			    "    O       %s\n"
			    "    SKID    %s\n"
			    "    sha256  %s\n",
			    certs[i].description, certs[i].cn ?: "-", certs[i].o ?: "-",
			    certs[i].skid ?: "- (the kernel names it by its serial number)",
			    kiln_digest_hex(&d));
	}
	return 0;
}

static int write_json(struct json_writer *w, const char *path, const struct kiln_kernel_image *img,
		      const struct kiln_kernel_cert *certs, size_t n)
{
	json_begin_object(w);
	json_kv_string(w, "path", path);
	json_kv_string(w, "format", kiln_kernel_image_format(img));
	json_kv_string(w, "compression", kiln_kernel_image_compression(img));
	json_key(w, "release");
	if (kiln_kernel_image_release(img))
		json_string(w, kiln_kernel_image_release(img));
	else
		json_null(w);
	json_key(w, "certificates");
	json_begin_array(w);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *b64 = base64_encode(certs[i].der, certs[i].der_len);
		struct kiln_digest d;
		int r = kiln_digest_of(cli_ctx, certs[i].der, certs[i].der_len, &d);

		if (r < 0)
			return r;
		json_begin_object(w);
		json_kv_string(w, "description", certs[i].description);
		json_key(w, "cn");
		certs[i].cn ? json_string(w, certs[i].cn) : json_null(w);
		json_key(w, "o");
		certs[i].o ? json_string(w, certs[i].o) : json_null(w);
		json_key(w, "skid");
		certs[i].skid ? json_string(w, certs[i].skid) : json_null(w);
		json_kv_string(w, "sha256", kiln_digest_hex(&d));
		json_key(w, "offset");
		json_uint(w, certs[i].offset);
		json_kv_string(w, "der", b64 ?: "");
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
	return 0;
}

/* One image into @out; EXIT_OK, or EXIT_FAILURE_ after saying why. */
static int show_image(const char *path, bool pem, struct json_writer *w, struct strbuf *out)
{
	_cleanup_(kiln_kernel_image_freep) struct kiln_kernel_image *img = NULL;
	struct kiln_kernel_cert *certs = NULL;
	size_t n = 0;
	int r;

	r = kiln_kernel_image_open(cli_ctx, path, &img);
	if (r >= 0)
		r = kiln_kernel_image_certs(cli_ctx, img, &certs, &n);
	if (r < 0)
		return cli_fail(r, "module certs");
	if (w)
		r = write_json(w, path, img, certs, n);
	else if (pem)
		for (size_t i = 0; i < n; i++)
			write_pem(out, &certs[i]);
	else
		r = write_text(out, path, img, certs, n);
	kiln_kernel_certs_free(certs, n);
	return r < 0 ? cli_fail(r, "module certs") : EXIT_OK;
}

int cmd_module_certs(int argc, char **argv)
{
	bool pem = false, json = false;
	static const struct option options[] = {
		{ "pem", no_argument, NULL, OPT_PEM },
		{},
	};
	struct cli_options o = {
		.name = "module certs",
		.no_tree = true,
		.help = help,
		.extra = options,
		.on_option = on_option,
		.userdata = &pem,
	};
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct json_writer w;
	int r, ret = EXIT_OK;

	r = cli_parse_plain(argc, argv, &o, &json);
	if (r != CLI_CONTINUE)
		return r;
	if (optind >= argc)
		return cli_usage("module certs: no kernel image given: run 'kiln module certs "
				 "--help'");
	if (pem && json)
		return cli_usage("module certs: --pem and --json do not go together");
	if (json) {
		json_init(&w, &out);
		json_begin_array(&w);
	}
	for (int i = optind; i < argc; i++)
		if (show_image(argv[i], pem, json ? &w : NULL, &out) != EXIT_OK)
			ret = EXIT_FAILURE_;
	if (json)
		json_end_array(&w);
	r = cli_write_strbuf(&out);
	return r != EXIT_OK ? r : ret;
}
