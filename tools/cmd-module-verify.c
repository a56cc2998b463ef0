/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln module verify: the kernel's verdict on each module's signature,
 * against the certificates the kernel would trust, before anything ships.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/module.h>

#include "json.h"
#include "kiln.h"

struct verify_args {
	const char **certs;
	size_t n_certs;
	unsigned jobs;
};

/* The lines (or the JSON array) being written, a module at a time, in operand order. */
struct verify_run {
	struct strbuf *out;
	struct json_writer *w; /* --json */
	size_t bad; /* modules not ok, or not read */
};

static int help(void)
{
	printf("Usage: kiln module verify --cert CERT [OPTIONS] FILE|DIR...\n"
	       "\n"
	       "Verify module signatures as the kernel does: the trailer, a detached\n"
	       "PKCS#7 signedData without signed attributes, digest and key algorithms\n"
	       "the kernel takes, the signer's key among the certificates given, and the\n"
	       "signature over the module. One line per module:\n"
	       "\n"
	       "  ok                    signed by a key of CERT, and the signature holds\n"
	       "  unsigned              no signature (the kernel taints, or refuses under\n"
	       "                        module.sig_enforce)\n"
	       "  signed by another key the signer named is none of CERT's keys\n"
	       "  corrupt: WHY          the kernel refuses to load it\n"
	       "\n"
	       "Directories are searched for *.ko, *.ko.xz and *.ko.zst.\n"
	       "\n"
	       "Options:\n"
	       "  -c, --cert CERT      a trusted certificate file, DER or PEM (a PEM file may\n"
	       "                       hold several); repeatable\n"
	       "  -j, --jobs N         verify on N threads (default: one per online CPU)\n"
	       "      --json           print a JSON array, an object per module\n"
	       "  -h, --help           show this help\n"
	       "\n"
	       "Exit status: 0 when every module is ok, 1 otherwise.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct verify_args *a = userdata;
	const char **v;
	char *end;
	unsigned long n;

	switch (c) {
	case 'c':
		v = realloc(a->certs, (a->n_certs + 1) * sizeof(*v));
		if (!v)
			return cli_fail(-ENOMEM, "module verify");
		v[a->n_certs++] = arg;
		a->certs = v;
		break;
	case 'j':
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || *end || end == arg || n == 0 || n > 1024)
			return cli_usage("module verify: --jobs '%s': expected a number from 1 "
					 "to 1024",
					 arg);
		a->jobs = (unsigned)n;
		break;
	default:
		return cli_usage("module verify: run 'kiln module verify --help' for usage");
	}
	return CLI_CONTINUE;
}

/* The kernel's name for the error its module loader would get. */
static const char *kernel_error_name(int e)
{
	switch (-e) {
	case 0:
		return NULL;
	case ENODATA:
		return "ENODATA";
	case ENOKEY:
		return "ENOKEY";
	case EBADMSG:
		return "EBADMSG";
	case EKEYREJECTED:
		return "EKEYREJECTED";
	case ENOPKG:
		return "ENOPKG";
	case EMSGSIZE:
		return "EMSGSIZE";
	case EINVAL:
		return "EINVAL";
	default:
		return "EIO";
	}
}

static void add_signer(struct strbuf *sb, const struct kiln_verify_result *res)
{
	const struct kiln_modsig_desc *d = &res->desc;

	if (!res->has_desc) {
		strbuf_adds(sb, "signer unknown");
		return;
	}
	strbuf_addf(sb, "signer \"%s\", %s %s", d->signer ? d->signer : "(no CN)",
		    d->by_skid ? "key id" : "serial", d->sig_key ? d->sig_key : "(none)");
	if (d->hash_algo)
		strbuf_addf(sb, ", %s", d->hash_algo);
}

static void write_line(struct strbuf *sb, const struct kiln_module_batch_item *item)
{
	const struct kiln_verify_result *res = &item->verify;

	strbuf_addf(sb, "%s: ", item->path);
	switch (res->verdict) {
	case KILN_VERIFY_OK:
		strbuf_adds(sb, "ok (");
		add_signer(sb, res);
		strbuf_adds(sb, ")");
		break;
	case KILN_VERIFY_UNSIGNED:
		strbuf_adds(sb, "unsigned");
		break;
	case KILN_VERIFY_OTHER_KEY:
		strbuf_adds(sb, "signed by another key (");
		add_signer(sb, res);
		strbuf_adds(sb, ")");
		break;
	default:
		strbuf_addf(sb, "corrupt: %s", strempty(res->reason));
		break;
	}
	strbuf_addch(sb, '\n');
}

static void write_json(struct json_writer *w, const struct kiln_module_batch_item *item)
{
	const struct kiln_verify_result *res = &item->verify;

	json_begin_object(w);
	json_kv_string(w, "path", item->path);
	if (item->r < 0) {
		json_kv_string(w, "verdict", "error");
		json_kv_string(w, "error", item->error ? item->error : strerror(-item->r));
		json_end_object(w);
		return;
	}
	json_kv_string(w, "verdict", kiln_verify_verdict_name(res->verdict));
	json_kv_string(w, "problem", kiln_verify_problem_name(res->problem));
	json_kv_string(w, "reason", res->verdict == KILN_VERIFY_OK ? NULL : res->reason);
	json_kv_string(w, "kernel_error", kernel_error_name(res->kernel_error));
	if (res->has_desc) {
		/* modinfo's names, as kiln module info --json uses them */
		json_kv_string(w, "signer", res->desc.signer);
		json_kv_string(w, "sig_key", res->desc.sig_key);
		json_kv_string(w, "sig_hashalgo", res->desc.hash_algo);
	}
	json_end_object(w);
}

/* One module's verdict, as it comes; a file that could not be read is said on stderr. */
static int write_verdict(struct kiln_module_batch_item *item, void *userdata)
{
	struct verify_run *run = userdata;

	if (item->r < 0 || item->verify.verdict != KILN_VERIFY_OK)
		run->bad++;
	if (item->r < 0)
		fprintf(stderr, "kiln: module verify: '%s': %s\n", item->path,
			item->error ? item->error : strerror(-item->r));
	if (run->w)
		write_json(run->w, item);
	else if (item->r >= 0)
		write_line(run->out, item);
	return 0;
}

static int load_verifier(const struct verify_args *a, struct kiln_verifier **ret)
{
	_cleanup_(kiln_verifier_freep) struct kiln_verifier *v = NULL;
	int r;

	r = kiln_verifier_new(cli_ctx, &v);
	if (r < 0)
		return cli_fail(r, "module verify");
	for (size_t i = 0; i < a->n_certs; i++) {
		r = kiln_verifier_add_cert_file(cli_ctx, v, a->certs[i]);
		if (r < 0)
			return cli_fail(r, "module verify");
	}
	*ret = TAKE_PTR(v);
	return EXIT_OK;
}

int cmd_module_verify(int argc, char **argv)
{
	static const struct option options[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "jobs", required_argument, NULL, 'j' },
		{},
	};
	struct verify_args a = { 0 };
	struct cli_options o = {
		.name = "module verify",
		.no_tree = true,
		.help = help,
		.extra = options,
		.short_options = "c:j:",
		.on_option = on_option,
		.userdata = &a,
	};
	_cleanup_(kiln_verifier_freep) struct kiln_verifier *verifier = NULL;
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	struct tree_args t = { 0 };
	struct json_writer w;
	struct verify_run run = { .out = &out };
	struct kiln_module_batch_options bo = {
		.op = KILN_MODULE_BATCH_VERIFY,
		.on_item = write_verdict,
		.userdata = &run,
	};
	char **paths = NULL;
	size_t n = 0;
	int r, ret = EXIT_FAILURE_;

	r = cli_parse_options(argc, argv, &o, &t);
	if (r != CLI_CONTINUE)
		goto out;
	r = EXIT_USAGE;
	if (a.n_certs == 0) {
		cli_usage("module verify: --cert CERT is required: run 'kiln module verify "
			  "--help'");
		goto out;
	}
	if (optind >= argc) {
		cli_usage("module verify: no module given: run 'kiln module verify --help'");
		goto out;
	}
	r = load_verifier(&a, &verifier);
	if (r != EXIT_OK)
		goto out;
	r = kiln_module_collect(cli_ctx, argv + optind, (size_t)(argc - optind), &paths, &n);
	if (r < 0) {
		r = cli_fail(r, "module verify");
		goto out;
	}
	r = EXIT_FAILURE_;
	if (n == 0) {
		fprintf(stderr,
			"kiln: module verify: no module files (*.ko, *.ko.xz, *.ko.zst) found\n");
		goto out;
	}

	if (t.json) {
		json_init(&w, &out);
		json_begin_array(&w);
		run.w = &w;
	}
	bo.jobs = a.jobs;
	bo.verifier = verifier;
	r = kiln_module_batch(cli_ctx, paths, n, &bo);
	if (r < 0) {
		r = cli_fail(r, "module verify");
		goto out;
	}
	if (t.json) {
		json_end_array(&w);
		strbuf_addch(&out, '\n');
	}
	/* an add that failed left a hole: no verdict is printed short */
	r = cli_write_strbuf(&out);
	if (r == EXIT_OK && run.bad)
		r = EXIT_FAILURE_;
out:
	ret = r;
	kiln_strv_free(paths, n);
	free(a.certs);
	tree_args_release(&t);
	return ret;
}
