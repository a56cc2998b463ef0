/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tree loader and the stage graph, on small trees written to a
 * temporary directory: discovery, the precedence of every variable level,
 * templates, names, resolution order, cycles and the runtime closure.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/spec.h>

#include "fileio.h"
#include "strbuf.h"
#include "tap.h"

static char *root;

/* Start a new tree holding only a Pkgfile with @pkgfile_vars under "vars:"; tap.h removes it. */
static void new_tree(const char *pkgfile)
{
	free(root);
	root = tap_temp_dir("test-tree");
	if (pkgfile) {
		_cleanup_free_ char *p = path_join(root, "Pkgfile");

		if (write_file_atomic(p, pkgfile, strlen(pkgfile), 0644) < 0)
			abort();
	}
}

static void put(const char *rel, const char *text)
{
	_cleanup_free_ char *p = path_join(root, rel);

	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	if (write_file_atomic(p, text, strlen(text), 0644) < 0)
		abort();
}

/* A minimal valid package @name in @dir; @extra is YAML added at the top level. */
static void put_pkg(const char *dir, const char *name, const char *extra)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *rel = path_join(dir, "pkg.yaml");

	strbuf_addf(&sb, "name: %s\nvariant: scratch\n%sfinalize:\n  - from: /\n    to: /\n", name,
		    extra ? extra : "");
	put(rel, sb.buf);
}

static struct kiln_ctx *ctx;

static int load(struct kiln_tree **t, const char *platform, char **args, size_t n_args)
{
	struct kiln_tree_options o = {
		.platform = platform, .build_args = args, .n_build_args = n_args,
	};

	kiln_ctx_free(ctx);
	if (kiln_ctx_new(&ctx) < 0)
		abort();
	return kiln_tree_load(ctx, root, &o, t);
}

static const char *var(const struct kiln_tree *t, const char *pkg, const char *key)
{
	return kiln_tree_var(t, kiln_tree_find(t, pkg), key);
}

TEST(builtins_per_platform)
{
	struct kiln_tree *t = NULL;

	new_tree("format: v1alpha2\n");
	put_pkg("a", "a", NULL);
	ASSERT_OK(load(&t, "linux/amd64", NULL, 0));
	ASSERT_STREQ(var(t, "a", "ARCH"), "x86_64");
	ASSERT_STREQ(var(t, "a", "TARGET"), "x86_64-talos-linux-musl");
	ASSERT_STREQ(var(t, "a", "CFLAGS"), "-O2 -g0 -march=x86-64-v2 -mtune=generic");
	ASSERT_STREQ(var(t, "a", "CXXFLAGS"), "-O2 -g0 -march=x86-64-v2 -mtune=generic");
	ASSERT_STREQ(var(t, "a", "LDFLAGS"), "-s");
	ASSERT_STREQ(var(t, "a", "VENDOR"), "talos");
	ASSERT_STREQ(var(t, "a", "SYSROOT"), "/talos");
	ASSERT_STREQ(var(t, "a", "PATH"), "/bin:/usr/bin:/sbin:/usr/sbin");
	ASSERT_CONTAINS(var(t, "a", "BUILD"), "-linux-musl");
	ASSERT_STREQ(var(t, "a", "HOST"), var(t, "a", "BUILD"));
	ASSERT_STREQ(kiln_tree_platform(t), "linux/amd64");
	kiln_tree_free(t);

	ASSERT_OK(load(&t, "linux/arm64", NULL, 0));
	ASSERT_STREQ(var(t, "a", "ARCH"), "aarch64");
	ASSERT_STREQ(var(t, "a", "TARGET"), "aarch64-talos-linux-musl");
	ASSERT_STREQ(var(t, "a", "CFLAGS"), "-O2 -g0");
	kiln_tree_free(t);

	ASSERT_EQ(load(&t, "linux/s390x", NULL, 0), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "unknown platform 'linux/s390x'");
}

/*
 * Each level overrides the one below: built-in < BUILD_ARG_* < Pkgfile vars
 * < root vars.yaml < deeper vars.yaml; and a vars.yaml sees its ancestors.
 */
TEST(variable_precedence)
{
	struct kiln_tree *t = NULL;
	char *args[] = { (char *)"X=from-arg", (char *)"ONLY=arg" };

	new_tree("format: v1alpha2\n"
		 "vars:\n"
		 "  ARCH: pkgfile-arch\n"
		 "  BUILD_ARG_X: from-pkgfile\n"
		 "  P: pkgfile\n"
		 "  Q: pkgfile\n"
		 "  R: pkgfile\n");
	put("vars.yaml", "Q: root\nR: root\nS: \"{{ .P }}+{{ .BUILD_ARG_ONLY }}\"\n");
	put("d/vars.yaml", "R: d\nT: \"{{ .R }}/{{ .S }}\"\n");
	put("d/e/vars.yaml", "U: \"{{ .T }}\"\n");
	put_pkg("d/e", "deep", NULL);
	put_pkg("d", "mid", NULL);
	put_pkg("f", "other", NULL);
	ASSERT_OK(load(&t, "linux/amd64", args, 2));

	/* Pkgfile vars beat the built-ins and the build arguments */
	ASSERT_STREQ(var(t, "mid", "ARCH"), "pkgfile-arch");
	ASSERT_STREQ(var(t, "mid", "BUILD_ARG_X"), "from-pkgfile");
	ASSERT_STREQ(var(t, "mid", "BUILD_ARG_ONLY"), "arg");
	ASSERT_STREQ(var(t, "mid", "P"), "pkgfile");
	/* root vars.yaml beats the Pkgfile, deeper beats root */
	ASSERT_STREQ(var(t, "mid", "Q"), "root");
	ASSERT_STREQ(var(t, "mid", "R"), "d");
	ASSERT_STREQ(var(t, "other", "R"), "root");
	/* each vars.yaml is rendered with its ancestors' values (R is still root's there) */
	ASSERT_STREQ(var(t, "mid", "S"), "pkgfile+arg");
	ASSERT_STREQ(var(t, "mid", "T"), "root/pkgfile+arg");
	ASSERT_STREQ(var(t, "deep", "U"), "root/pkgfile+arg");
	/* a sibling's vars.yaml does not leak */
	ASSERT_TRUE(var(t, "other", "T") == NULL);
	kiln_tree_free(t);
}

TEST(scalars_keep_their_text)
{
	struct kiln_tree *t = NULL;

	new_tree("format: v1alpha2\nvars:\n  F: 2.8\n  B: true\n  O: 0755\n  N:\n  Q: \"01\"\n");
	put_pkg("a", "a", NULL);
	ASSERT_OK(load(&t, "linux/amd64", NULL, 0));
	ASSERT_STREQ(var(t, "a", "F"), "2.8");
	ASSERT_STREQ(var(t, "a", "B"), "true");
	ASSERT_STREQ(var(t, "a", "O"), "0755");
	ASSERT_STREQ(var(t, "a", "N"), "");
	ASSERT_STREQ(var(t, "a", "Q"), "01");
	kiln_tree_free(t);
}

TEST(pkg_yaml_is_rendered_before_parsing)
{
	struct kiln_tree *t = NULL;
	const struct kiln_pkg *p;

	new_tree("format: v1alpha2\nvars:\n  V: 1.2.3\n");
	put("a/pkg.yaml", "name: a-{{ .V | replace \".\" \"-\" }}\n"
			  "variant: scratch\n"
			  "# {{ if eq .ARCH \"x86_64\" }} a comment, still a template\n"
			  "shell: /bin/bash\n"
			  "# {{ else }}\n"
			  "shell: /bin/sh\n"
			  "# {{ end }}\n"
			  "finalize:\n  - from: /\n    to: /\n");
	ASSERT_OK(load(&t, "linux/amd64", NULL, 0));
	p = kiln_tree_find(t, "a-1-2-3");
	ASSERT_TRUE(p != NULL);
	ASSERT_STREQ(p->shell, "/bin/bash");
	ASSERT_STREQ(p->file, "a/pkg.yaml");
	ASSERT_STREQ(p->dir, "a");
	kiln_tree_free(t);

	ASSERT_OK(load(&t, "linux/arm64", NULL, 0));
	ASSERT_STREQ(kiln_tree_find(t, "a-1-2-3")->shell, "/bin/sh");
	kiln_tree_free(t);
}

TEST(discovery_skips_dot_dirs_and_out)
{
	struct kiln_tree *t = NULL;
	struct kiln_tree_stats st;

	new_tree("format: v1alpha2\n");
	put_pkg("a", "a", NULL);
	put_pkg(".git/x", "hidden", NULL);
	put_pkg("_out/y", "output", NULL);
	put_pkg("b/.cache", "cache", NULL);
	put_pkg("b/_out", "not-root-out", NULL);
	ASSERT_OK(load(&t, NULL, NULL, 0));
	ASSERT_EQ(kiln_tree_n_pkgs(t), 2);
	ASSERT_TRUE(kiln_tree_find(t, "a") != NULL);
	ASSERT_TRUE(kiln_tree_find(t, "not-root-out") != NULL);
	kiln_tree_stats(t, &st);
	ASSERT_EQ(st.n_pkg_yaml, 2);
	kiln_tree_free(t);
}

TEST(templates_belong_to_the_nearest_package)
{
	struct kiln_tree *t = NULL;
	const struct kiln_tmpl *tm;
	size_t n;

	new_tree("format: v1alpha2\n");
	put("drivers/vars.yaml", "VERSION: \"9.{{ .ARCH }}\"\n");
	put_pkg("drivers/x", "x", NULL);
	put("drivers/x/manifest.yaml.tmpl", "version: {{ .VERSION }}\n");
	put("drivers/x/files/conf.tmpl", "{{ .TARGET }}");
	put_pkg("drivers/x/sub", "y", NULL);
	put("drivers/x/sub/z.tmpl", "z");
	ASSERT_OK(load(&t, "linux/amd64", NULL, 0));

	tm = kiln_tree_templates(t, kiln_tree_find(t, "x"), &n);
	ASSERT_EQ(n, 2);
	ASSERT_STREQ(tm[0].path, "files/conf");
	ASSERT_STREQ(tm[0].text, "x86_64-talos-linux-musl");
	ASSERT_STREQ(tm[1].path, "manifest.yaml");
	ASSERT_STREQ(tm[1].file, "drivers/x/manifest.yaml.tmpl");
	ASSERT_STREQ(tm[1].text, "version: 9.x86_64\n");
	tm = kiln_tree_templates(t, kiln_tree_find(t, "y"), &n);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(tm[0].path, "z");
	kiln_tree_free(t);
}

TEST(missing_pkgfile_is_allowed_bad_format_is_not)
{
	struct kiln_tree *t = NULL;

	new_tree(NULL);
	put_pkg("a", "a", NULL);
	ASSERT_OK(load(&t, NULL, NULL, 0));
	kiln_tree_free(t);

	new_tree("vars:\n  A: b\n");
	ASSERT_EQ(load(&t, NULL, NULL, 0), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "Pkgfile");
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "format: v1alpha2");

	new_tree("format: v1alpha3\n");
	ASSERT_EQ(load(&t, NULL, NULL, 0), -EINVAL);
	ASSERT_STREQ(kiln_ctx_error(ctx),
		     "Pkgfile:1:9: unsupported format \"v1alpha3\": kiln reads format v1alpha2");

	new_tree("format: v1alpha2\nvars:\n  A: [1, 2]\n");
	ASSERT_EQ(load(&t, NULL, NULL, 0), -EINVAL);
	ASSERT_STREQ(kiln_ctx_error(ctx),
		     "Pkgfile:3:6: variable \"A\" is a list; give it a single value");
}

TEST(bad_build_arg)
{
	struct kiln_tree *t = NULL;
	char *args[] = { (char *)"NOEQUALS" };

	new_tree("format: v1alpha2\n");
	ASSERT_EQ(load(&t, NULL, args, 1), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "'NOEQUALS' is not KEY=VALUE");
}

TEST(duplicate_names_name_both_files)
{
	struct kiln_tree *t = NULL;

	new_tree("format: v1alpha2\n");
	put_pkg("one", "same", NULL);
	put_pkg("two/deeper", "same", NULL);
	ASSERT_EQ(load(&t, NULL, NULL, 0), -EEXIST);
	ASSERT_STREQ(kiln_ctx_error(ctx),
		     "package \"same\" is defined twice, in 'one/pkg.yaml' and in "
		     "'two/deeper/pkg.yaml': names must be unique across the tree");
}

TEST(errors_name_the_file)
{
	struct kiln_tree *t = NULL;

	new_tree("format: v1alpha2\n");
	put("a/pkg.yaml", "name: a\nvariant: scratch\nshell: \"{{ .X \"\n");
	ASSERT_EQ(load(&t, NULL, NULL, 0), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "a/pkg.yaml:3:");

	new_tree("format: v1alpha2\n");
	put("a/vars.yaml", "A: [\n");
	put_pkg("a", "a", NULL);
	ASSERT_EQ(load(&t, NULL, NULL, 0), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "a/vars.yaml:");
}

/* Errors found in the rendered text point into the file as written. */
TEST(errors_point_into_the_template)
{
	struct kiln_tree *t = NULL;

	new_tree("format: v1alpha2\nvars:\n  V: bogus\n");
	put("a/pkg.yaml", "name: a\n"
			  "variant: scratch\n"
			  "{{ if eq .ARCH \"aarch64\" }}\n"
			  "shell: /bin/sh\n"
			  "install:\n"
			  "  - x\n"
			  "{{ end }}\n"
			  "steps:\n"
			  "  - build: make\n");
	ASSERT_EQ(load(&t, "linux/amd64", NULL, 0), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "a/pkg.yaml:9:12: ");

	/* a value printed by an action is located at the action */
	new_tree("format: v1alpha2\nvars:\n  V: bogus\n");
	put("a/pkg.yaml", "{{ if .NOPE }}\n\n\n{{ end }}name: a\nvariant: {{ .V }}\n");
	ASSERT_EQ(load(&t, "linux/amd64", NULL, 0), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "a/pkg.yaml:5:13: ");
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "bogus");

	/* and in vars.yaml too */
	new_tree("format: v1alpha2\n");
	put("vars.yaml", "{{ if .NOPE }}\nA: 1\n{{ end }}\nB: [\n");
	ASSERT_EQ(load(&t, "linux/amd64", NULL, 0), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "vars.yaml:");
	ASSERT_TRUE(strstr(kiln_ctx_error(ctx), "vars.yaml:4:") ||
		    strstr(kiln_ctx_error(ctx), "vars.yaml:5:"));
}

static const char *order_of(const char *const *targets, size_t n)
{
	static char buf[256];
	_cleanup_free_ const struct kiln_pkg **v = NULL;
	struct kiln_tree *t = NULL;
	size_t nv;

	buf[0] = '\0';
	if (load(&t, NULL, NULL, 0) < 0)
		return kiln_ctx_error(ctx);
	if (kiln_tree_resolve(ctx, t, targets, n, &v, &nv) < 0) {
		snprintf(buf, sizeof(buf), "%s", kiln_ctx_error(ctx));
	} else {
		for (size_t i = 0; i < nv; i++) {
			strncat(buf, v[i]->name, sizeof(buf) - strlen(buf) - 2);
			strcat(buf, " ");
		}
	}
	kiln_tree_free(t);
	return buf;
}

TEST(resolve_puts_dependencies_first)
{
	new_tree("format: v1alpha2\n");
	put_pkg("base", "base", NULL);
	put_pkg("kp", "kernel-prepare", "dependencies:\n  - stage: base\n");
	put_pkg("kb", "kernel-build", "dependencies:\n  - stage: kernel-prepare\n  - image: img:1\n");
	put_pkg("mod", "mod", "dependencies:\n  - stage: base\n  - stage: kernel-build\n");
	put_pkg("x", "unrelated", NULL);
	ASSERT_STREQ(order_of((const char *[]){ "mod" }, 1), "base kernel-prepare kernel-build mod ");
	ASSERT_STREQ(order_of((const char *[]){ "kernel-build", "base" }, 2),
		     "base kernel-prepare kernel-build ");
	ASSERT_STREQ(order_of((const char *[]){ "nope" }, 1), "package \"nope\" not defined");
}

TEST(resolve_reports_cycles_and_missing_stages)
{
	new_tree("format: v1alpha2\n");
	put_pkg("a", "a", "dependencies:\n  - stage: b\n");
	put_pkg("b", "b", "dependencies:\n  - stage: c\n");
	put_pkg("c", "c", "dependencies:\n  - stage: a\n");
	put_pkg("s", "self", "dependencies:\n  - stage: self\n");
	put_pkg("m", "m", "dependencies:\n  - stage: a\n  - stage: ghost\n");
	ASSERT_STREQ(order_of((const char *[]){ "a" }, 1),
		     "circular dependency detected: a -> b -> c -> a");
	ASSERT_STREQ(order_of((const char *[]){ "self" }, 1),
		     "circular dependency detected: self -> self");

	new_tree("format: v1alpha2\n");
	put_pkg("m", "m", "dependencies:\n  - stage: ghost\n");
	ASSERT_STREQ(order_of((const char *[]){ "m" }, 1),
		     "m/pkg.yaml:4:5: package \"ghost\" not defined, but \"m\" depends on it");
}

TEST(runtime_closure_follows_the_dependency)
{
	_cleanup_free_ const struct kiln_dep **deps = NULL;
	struct kiln_tree *t = NULL;
	size_t n;

	new_tree("format: v1alpha2\n");
	put_pkg("libc", "libc", NULL);
	put_pkg("zlib", "zlib", "dependencies:\n  - stage: libc\n    runtime: true\n");
	put_pkg("ssl", "openssl",
		"dependencies:\n  - stage: zlib\n    runtime: true\n  - image: tools:1\n");
	put_pkg("app", "app",
		"dependencies:\n  - stage: openssl\n  - stage: libc\n  - image: tools:1\n    to: /t\n");
	ASSERT_OK(load(&t, NULL, NULL, 0));
	ASSERT_OK(kiln_tree_effective_deps(ctx, t, kiln_tree_find(t, "app"), &deps, &n));
	/* openssl brings zlib, which brings libc; app's own libc is then a duplicate */
	ASSERT_EQ(n, 4);
	ASSERT_STREQ(deps[0]->stage, "openssl");
	ASSERT_STREQ(deps[1]->stage, "zlib");
	ASSERT_STREQ(deps[2]->stage, "libc");
	ASSERT_STREQ(deps[3]->image, "tools:1");
	ASSERT_STREQ(deps[3]->to, "/t");
	kiln_tree_free(t);
}

TEST(eval_sees_the_target_variables)
{
	struct kiln_tree *t = NULL;
	_cleanup_free_ char *out = NULL;

	new_tree("format: v1alpha2\n");
	put("x/vars.yaml", "VERSION: v1.2.3\n");
	put_pkg("x", "x", NULL);
	ASSERT_OK(load(&t, "linux/arm64", NULL, 0));
	ASSERT_OK(kiln_tree_eval(ctx, t, "x", "{{ .VERSION | trimPrefix \"v\" }}-{{ .ARCH }}", &out));
	ASSERT_STREQ(out, "1.2.3-aarch64");
	ASSERT_EQ(kiln_tree_eval(ctx, t, "y", "{{ .ARCH }}", &out), -ENOENT);
	kiln_tree_free(t);
}

TAP_MAIN
