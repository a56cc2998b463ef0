/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/build.h>
#include <kiln/ext.h>
#include <kiln/oci.h>
#include <kiln/registry.h>

#include "kiln.h"

struct kiln_ctx *cli_ctx;
const char *cli_root = ".";
int cli_argc;
char **cli_argv;
const char *cli_platform_option = "--platform";

int cli_push_arg(char ***v, size_t *n, const char *arg)
{
	char **p = realloc(*v, (*n + 1) * sizeof(*p));

	if (!p) {
		cli_fail(-ENOMEM, "parsing options");
		return -ENOMEM;
	}
	p[(*n)++] = (char *)arg;
	*v = p;
	return 1;
}

/* One of the shared options: 1 if @c was one, 0 if not, -EINVAL after a usage error. */
static int tree_args_parse(struct tree_args *a, int c, const char *arg)
{
	switch (c) {
	case 'C':
		cli_root = arg;
		return 1;
	case OPT_PLATFORM:
		if (!streq(arg, "linux/amd64") && !streq(arg, "linux/arm64")) {
			cli_usage("unknown platform '%s': use linux/amd64 or linux/arm64", arg);
			return -EINVAL;
		}
		a->platform = arg;
		return 1;
	case OPT_BUILD_ARG:
		if (!strchr(arg, '=') || arg[0] == '=') {
			cli_usage("--build-arg '%s': expected KEY=VALUE", arg);
			return -EINVAL;
		}
		return cli_push_arg(&a->build_args, &a->n_build_args, arg);
	case 't':
		return cli_push_arg(&a->targets, &a->n_targets, arg);
	case OPT_JSON:
		a->json = true;
		return 1;
	default:
		return 0;
	}
}

static const struct option registry_options[] = {
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "authfile", required_argument, NULL, OPT_AUTHFILE },
	{ "no-pull", no_argument, NULL, OPT_NO_PULL }, /* last: only for commands that pull */
};

void cli_registry_help(int column, bool pulls)
{
	static const struct {
		const char *option, *what;
	} lines[ELEMENTSOF(registry_options)] = {
		{ "--insecure", "plain HTTP and unverified TLS for any registry" },
		{ "--authfile FILE", "take registry credentials from FILE only" },
		{ "--no-pull", "do not pull images missing from the store" },
	};

	for (size_t i = 0; i < ELEMENTSOF(lines) - !pulls; i++)
		printf("      %-*s%s\n", column - 6, lines[i].option, lines[i].what);
}

/* One of the registry options: true if @c was one. */
static bool registry_args_parse(struct cli_registry_args *r, int c, const char *arg)
{
	switch (c) {
	case OPT_INSECURE:
		r->reg.insecure = true;
		return true;
	case OPT_AUTHFILE:
		r->reg.auth_file = arg;
		return true;
	case OPT_NO_PULL:
		r->no_pull = true;
		return true;
	default:
		return false;
	}
}

int cli_parse_options(int argc, char **argv, const struct cli_options *o, struct tree_args *a)
{
	static const struct option tree_options[] = {
		{ "root", required_argument, NULL, 'C' },
		{ "target", required_argument, NULL, 't' },
		{ "platform", required_argument, NULL, OPT_PLATFORM },
		{ "build-arg", required_argument, NULL, OPT_BUILD_ARG },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
	};
	/* commands that read no tree share only these */
	static const struct option plain_options[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
	};
	const struct option *shared = o->no_tree ? plain_options : tree_options;
	size_t n = o->no_tree ? ELEMENTSOF(plain_options) : ELEMENTSOF(tree_options);
	_cleanup_free_ char *shorts = NULL;
	struct option options[ELEMENTSOF(tree_options) + ELEMENTSOF(registry_options) + 16] = { 0 };
	int c, r;

	memcpy(options, shared, n * sizeof(*shared));
	if (o->registry) {
		size_t k = ELEMENTSOF(registry_options) - !o->pulls;

		memcpy(options + n, registry_options, k * sizeof(*registry_options));
		n += k;
	}
	for (const struct option *e = o->extra; e && e->name; e++) {
		/* the last entry stays all-zero, as getopt_long() needs */
		assert(n < ELEMENTSOF(options) - 1);
		options[n++] = *e;
	}
	if (asprintf(&shorts, "h%s%s", o->no_tree ? "" : "C:t:", strempty(o->short_options)) < 0)
		return cli_fail(-ENOMEM, "parsing options");

	while ((c = getopt_long(argc, argv, shorts, options, NULL)) >= 0) {
		if (c == 'h')
			return o->help();
		if (c == '?' || c == ':')
			return cli_usage("%s: run 'kiln %s --help' for usage", o->name, o->name);
		r = o->no_tree && c != OPT_JSON ? 0 : tree_args_parse(a, c, optarg);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0 || (o->registry && registry_args_parse(o->registry, c, optarg)))
			continue;
		if (!o->on_option)
			return cli_usage("%s: run 'kiln %s --help' for usage", o->name, o->name);
		r = o->on_option(c, optarg, o->userdata);
		if (r != CLI_CONTINUE)
			return r;
	}
	return CLI_CONTINUE;
}

void tree_args_release(struct tree_args *a)
{
	free(a->build_args);
	free(a->targets);
	*a = (struct tree_args){ 0 };
}

int cli_load_tree(const struct tree_args *a, bool keep_going, struct kiln_tree **ret)
{
	struct kiln_tree_options opts = {
		.platform = a->platform,
		.build_args = a->build_args,
		.n_build_args = a->n_build_args,
		.keep_going = keep_going,
	};

	return kiln_tree_load(cli_ctx, cli_root, &opts, ret);
}

int cli_select_pkgs(const struct kiln_tree *tree, const struct tree_args *a,
		    bool skip_graph_ignore, const struct kiln_pkg ***ret, size_t *ret_n)
{
	const struct kiln_pkg **v;
	size_t n = 0;
	int r;

	if (a->n_targets) {
		r = kiln_tree_resolve(cli_ctx, tree, (const char *const *)a->targets, a->n_targets,
				      ret, ret_n);
		if (r < 0)
			return cli_fail(r, "cannot resolve targets");
		return EXIT_OK;
	}
	v = calloc(kiln_tree_n_pkgs(tree) + 1, sizeof(*v));
	if (!v)
		return cli_fail(-ENOMEM, "cannot list packages");
	for (size_t i = 0; i < kiln_tree_n_pkgs(tree); i++) {
		const struct kiln_pkg *pkg = kiln_tree_pkg(tree, i);

		if (skip_graph_ignore && streq(kiln_tree_var(tree, pkg, "GRAPH_IGNORE"), "true"))
			continue;
		v[n++] = pkg;
	}
	*ret = v;
	*ret_n = n;
	return EXIT_OK;
}

void cli_print_advice(FILE *f, enum kiln_hint hint, const char *subject)
{
	switch (hint) {
	case KILN_HINT_INSECURE:
		fputs("; for a registry you trust without TLS checks (a self-signed certificate, "
		      "plain HTTP), use --insecure",
		      f);
		break;
	case KILN_HINT_PLATFORM:
		fprintf(f, "; choose one with %s", cli_platform_option);
		break;
	case KILN_HINT_IMAGE_MISSING:
		if (subject)
			fprintf(f,
				"; pull it with `kiln pull %s` or import it with `kiln import DIR "
				"--tag %s`",
				subject, subject);
		break;
	case KILN_HINT_SECRET:
		if (subject)
			fprintf(f, "; pass --secret id=%s,src=PATH", subject);
		break;
	case KILN_HINT_TALOS_VERSION:
		fputs("; give it with --talos-version V", f);
		break;
	case KILN_HINT_NO_PREFLIGHT:
		fputs("; --no-preflight composes anyway", f);
		break;
	case KILN_HINT_KERNEL_CERT:
		fputs("; give them with --kernel-cert FILE", f);
		break;
	case KILN_HINT_NO_SPACE:
		fputs("; make room there (`kiln cache prune`, `kiln store gc` for the cache) or "
		      "set KILN_CACHE_DIR to a directory on a bigger filesystem, and run it again",
		      f);
		break;
	case KILN_HINT_NONE:
		break;
	}
}

int cli_fail(int r, const char *what, ...)
{
	const char *why = kiln_ctx_error_for(cli_ctx, r), *subject = NULL;
	/* the hint belongs to the recorded error: none when that is not this one */
	enum kiln_hint hint = why ? kiln_ctx_error_hint(cli_ctx, &subject) : KILN_HINT_NONE;
	va_list ap;

	fputs("kiln: ", stderr);
	va_start(ap, what);
	vfprintf(stderr, what, ap);
	va_end(ap);
	fprintf(stderr, ": %s", why ? why : strerror(r < 0 ? -r : r));
	cli_print_advice(stderr, hint, subject);
	fputc('\n', stderr);
	kiln_ctx_clear_error(cli_ctx);
	return EXIT_FAILURE_;
}

int cli_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("kiln: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int cli_write_stdout(const char *s, size_t len)
{
	if (fwrite(s, 1, len, stdout) != len || fflush(stdout) != 0) {
		fprintf(stderr, "kiln: cannot write to standard output: %m\n");
		return EXIT_FAILURE_;
	}
	return EXIT_OK;
}

int cli_write_strbuf(const struct strbuf *sb)
{
	/* an add that failed left a hole: print none of it */
	if (strbuf_error(sb) < 0)
		return cli_fail(strbuf_error(sb), "cannot make the output");
	return cli_write_stdout(strbuf_str(sb), sb->len);
}

int cli_parse_plain(int argc, char **argv, const struct cli_options *o, bool *ret_json)
{
	struct tree_args a = { 0 };
	int r;

	r = cli_parse_options(argc, argv, o, &a);
	if (ret_json)
		*ret_json = a.json;
	tree_args_release(&a);
	return r;
}

int cli_parse_platform(const char *cmd, const char *arg, struct kiln_platform *ret)
{
	int r;

	if (arg && (r = kiln_platform_parse(cli_ctx, arg, ret)) < 0) {
		cli_fail(r, "%s: --platform", cmd);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int cli_open_store(const char *what, struct kiln_store **ret)
{
	int r = kiln_store_open(cli_ctx, NULL, ret);

	return r < 0 ? cli_fail(r, "%s", what) : EXIT_OK;
}

int cli_open_image(const char *cmd, const char *ref, const struct kiln_platform *platform,
		   struct kiln_store **ret_store, struct kiln_image **ret_image)
{
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	int r;

	r = cli_open_store(cmd, &s);
	if (r != EXIT_OK)
		return r;
	r = kiln_store_load_image(cli_ctx, s, ref, platform, ret_image);
	if (r < 0)
		return cli_fail(r, "%s %s", cmd, ref);
	*ret_store = TAKE_PTR(s);
	return EXIT_OK;
}

int cli_run_subcommand(const char *cmd, int argc, char **argv, const struct cli_subcommand *subs,
		       size_t n, void (*help)(void))
{
	if (argc < 2) {
		help();
		return EXIT_USAGE;
	}
	if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
		help();
		return EXIT_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (streq(argv[1], subs[i].name)) {
			/* a fresh getopt scan over the subcommand's own arguments */
			optind = 0;
			return subs[i].run(argc - 1, argv + 1);
		}
	return cli_usage("%s: unknown subcommand '%s': run 'kiln %s --help'", cmd, argv[1], cmd);
}

/* Where a key is and what it is: "layer 1 (sha256:...) of linux/arm64: PATH holds WHAT". */
static void print_key_finding(const struct kiln_ext_key_finding *f)
{
	fprintf(stderr, "layer %u (%s)%s%s: %s holds %s", f->layer + 1, f->layer_digest.s,
		f->platform ? " of " : "", strempty(f->platform), f->path, f->what);
	if (f->hidden)
		fprintf(stderr, ", which a later layer deletes but this layer's blob still ships");
}

/* At most this many keys are named in warnings; the rest are counted. */
#define KEYS_WARNED_MAX 10

int cli_check_private_keys(struct kiln_store *s, const struct kiln_descriptor *d, const char *name,
			   bool allow)
{
	_cleanup_(kiln_ext_key_report_release) struct kiln_ext_key_report rep = { 0 };
	const struct kiln_ext_key_finding *f;
	size_t n;
	int r;

	r = kiln_ext_find_image_private_keys(cli_ctx, s, d, &rep);
	/* what kiln reads but does not support (a sparse file, bzip2) may be pushed unchecked */
	if (r < 0 && !allow)
		return cli_fail(r, "cannot push %s: cannot check it for private keys%s", name,
				r == -EOPNOTSUPP ? " (--allow-private-key pushes it unchecked)"
						 : "");
	if (r < 0) {
		fprintf(stderr,
			"kiln: warning: pushing %s unchecked (--allow-private-key): cannot "
			"check it for private keys: %s\n",
			name, kiln_ctx_error_for(cli_ctx, r) ?: strerror(-r));
		kiln_ctx_clear_error(cli_ctx);
		return EXIT_OK;
	}
	n = rep.n_findings;
	if (n == 0)
		return EXIT_OK;
	f = &rep.findings[0];
	if (!allow) {
		fprintf(stderr, "kiln: refusing to push %s: ", name);
		print_key_finding(f);
		if (n > 1)
			fprintf(stderr, ", and %zu more file%s hold%s private keys", n - 1,
				n > 2 ? "s" : "", n > 2 ? "" : "s");
		fprintf(stderr,
			"; private keys must never leave this machine: remove %s, or pass "
			"--allow-private-key\n",
			n > 1	    ? "them from the layers that add them"
			: f->hidden ? "it from the layer that adds it"
				    : "it from the image");
		return EXIT_FAILURE_;
	}
	for (size_t i = 0; i < n && i < KEYS_WARNED_MAX; i++) {
		fprintf(stderr, "kiln: warning: pushing %s with a private key: ", name);
		print_key_finding(&rep.findings[i]);
		fputc('\n', stderr);
	}
	if (n > KEYS_WARNED_MAX)
		fprintf(stderr, "kiln: warning: and %zu more files with private keys\n",
			n - KEYS_WARNED_MAX);
	return EXIT_OK;
}

int cli_push_image(struct kiln_store *s, const struct kiln_descriptor *d, const char *what,
		   const char *dest, const struct kiln_registry_options *ro, bool allow_private_key,
		   const char *out_dir, char **ret_reference)
{
	_cleanup_(kiln_push_result_release) struct kiln_push_result res = { 0 };
	_cleanup_(kiln_ref_release) struct kiln_ref ref = { 0 };
	int r;

	r = kiln_ref_parse(cli_ctx, dest, &ref);
	if (r < 0)
		return cli_fail(r, "cannot push %s", what);
	r = cli_check_private_keys(s, d, what, allow_private_key);
	if (r != EXIT_OK)
		return r;
	r = kiln_registry_push(cli_ctx, s, d, &ref, ro, &res);
	if (r < 0)
		return cli_fail(r, "cannot push %s to %s", what, dest);
	r = kiln_images_json_record(cli_ctx, out_dir, res.name, res.reference, &res.desc);
	if (r < 0)
		return cli_fail(r, "pushed, but cannot record it in %s/images.json", out_dir);
	if (ret_reference) {
		*ret_reference = strdup(res.reference);
		if (!*ret_reference)
			return cli_fail(-ENOMEM, "push");
	}
	return EXIT_OK;
}

int cli_source_date_epoch(const char *cmd, int64_t *ret)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	unsigned long long v;
	char *end;

	*ret = 0;
	if (!s || !*s)
		return EXIT_OK;
	errno = 0;
	v = strtoull(s, &end, 10);
	/* a tar header holds 11 octal digits of seconds */
	if (errno || *end || s[0] == '-' || v >= (1ull << 33))
		return cli_usage("%s: SOURCE_DATE_EPOCH='%s' is not a time in seconds "
				 "(0 to 8589934591)",
				 cmd, s);
	*ret = (int64_t)v;
	return EXIT_OK;
}

int cli_parse_secret(const char *cmd, struct cli_secrets *s, const char *arg)
{
	const char *id = NULL, *src = NULL;
	_cleanup_free_ char *copy = strdup(arg);
	char *save = NULL, **copies;
	const char **given;
	struct kiln_build_secret *v;

	if (!copy)
		return cli_fail(-ENOMEM, "%s", cmd);
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "id=", 3) == 0)
			id = tok + 3;
		else if (strncmp(tok, "src=", 4) == 0)
			src = tok + 4;
		else if (strncmp(tok, "source=", 7) == 0)
			src = tok + 7;
		else
			return cli_usage(
			    "%s: --secret '%s': unknown field '%s' (use id=ID,src=PATH)", cmd, arg,
			    tok);
	}
	if (!id || !*id || !src || !*src)
		return cli_usage("%s: --secret '%s': expected id=ID,src=PATH", cmd, arg);
	if (strchr(id, '/') || streq(id, ".") || streq(id, "..") || strlen(id) > 255)
		return cli_usage("%s: --secret '%s': the id names a file in /run/secrets", cmd,
				 arg);
	v = reallocarray(s->v, s->n + 1, sizeof(*s->v));
	if (v)
		s->v = v;
	copies = reallocarray(s->copies, s->n + 1, sizeof(*s->copies));
	if (copies)
		s->copies = copies;
	given = reallocarray(s->given, s->n + 1, sizeof(*s->given));
	if (given)
		s->given = given;
	if (!v || !copies || !given)
		return cli_fail(-ENOMEM, "%s", cmd);
	s->v[s->n] = (struct kiln_build_secret){ .id = id, .path = src };
	s->given[s->n] = arg;
	s->copies[s->n++] = TAKE_PTR(copy);
	return CLI_CONTINUE;
}

void cli_secrets_release(struct cli_secrets *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->copies[i]);
	free(s->copies);
	free(s->given);
	free(s->v);
}

int64_t cli_build_epoch(const struct tree_args *t)
{
	const char *v = getenv("SOURCE_DATE_EPOCH");

	for (size_t i = 0; i < t->n_build_args; i++)
		if (strncmp(t->build_args[i], "SOURCE_DATE_EPOCH=", 18) == 0)
			v = t->build_args[i] + 18;
	return v && *v ? strtoll(v, NULL, 10) : 0;
}

int cli_publish_option(const char *cmd, int c, const char *arg, struct cli_publish_args *a,
		       struct cli_secrets *secrets)
{
	switch (c) {
	case OPT_PUBLISH_SECRET:
		return cli_parse_secret(cmd, secrets, arg);
	case OPT_PUBLISH_TAG:
		a->tag = arg;
		return CLI_CONTINUE;
	case OPT_PUBLISH_PUSH:
		a->push = true;
		return CLI_CONTINUE;
	case OPT_PUBLISH_REGISTRY:
		a->registry = arg;
		return CLI_CONTINUE;
	case OPT_PUBLISH_USERNAME:
		a->username = arg;
		return CLI_CONTINUE;
	case OPT_PUBLISH_ALLOW_PRIVATE_KEY:
		a->allow_private_key = true;
		return CLI_CONTINUE;
	default:
		return 0;
	}
}

int cli_publish_check(const char *cmd, const struct cli_publish_args *a)
{
	if (a->push && (!a->registry || !a->username))
		return cli_usage("%s: --push needs --registry HOST and --username NAME", cmd);
	return CLI_CONTINUE;
}

int cli_parse_choice(const char *cmd, const char *option, const char *arg,
		     const char *const *names, int *ret)
{
	_cleanup_strbuf_ struct strbuf list = STRBUF_INIT;
	size_t n = 0;

	for (; names[n]; n++)
		if (streq(arg, names[n])) {
			*ret = (int)n;
			return CLI_CONTINUE;
		}
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&list, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
	return cli_usage("%s: %s: expected %s, not '%s'", cmd, option, strbuf_str(&list), arg);
}
