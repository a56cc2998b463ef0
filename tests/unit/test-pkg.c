/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include <kiln/spec.h>

#include "strbuf.h"
#include "tap.h"

#define SHA256 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA512 SHA256 SHA256

/* Every message the log function got, one per line, and the count of warnings. */
struct capture {
	struct strbuf text;
	unsigned n;
};

static void capture_fn(void *userdata, enum kiln_log_level level, const char *msg)
{
	struct capture *c = userdata;

	if (level == KILN_LOG_WARNING)
		c->n++;
	strbuf_adds(&c->text, msg);
	strbuf_addch(&c->text, '\n');
}

static char err[4096];
static struct capture cap;
static unsigned n_warnings;

/* Parse @text as "pkg.yaml", capturing warnings in cap; the error text goes to err. */
static int parse(const char *text, struct kiln_pkg **ret)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	int r;

	err[0] = '\0';
	strbuf_release(&cap.text);
	cap.n = 0;
	if (kiln_ctx_new(&ctx) < 0)
		return -ENOMEM;
	kiln_ctx_set_log_fn(ctx, capture_fn, &cap);
	r = kiln_pkg_parse(ctx, "pkg.yaml", text, strlen(text), ret);
	n_warnings = kiln_ctx_warnings(ctx);
	if (r < 0)
		snprintf(err, sizeof(err), "%s", strempty(kiln_ctx_error(ctx)));
	return r;
}

static struct kiln_pkg *parse_ok(const char *text)
{
	struct kiln_pkg *pkg = NULL;

	if (parse(text, &pkg) < 0) {
		printf("# unexpected error: %s\n", err);
		return NULL;
	}
	return pkg;
}

static const char *parse_err(const char *text)
{
	struct kiln_pkg *pkg = NULL;

	if (parse(text, &pkg) >= 0) {
		kiln_pkg_free(pkg);
		return "(parsed without error)";
	}
	return err;
}

TEST(full_package)
{
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = parse_ok(
		"name: hailort\n"
		"variant: scratch\n"
		"shell: /bin/bash\n"
		"install:\n"
		"  - build-base\n"
		"  - bash\n"
		"dependencies:\n"
		"  - stage: base\n"
		"  - image: \"ghcr.io/siderolabs/tools:v1.0\"\n"
		"    from: /toolchain\n"
		"    to: /opt/toolchain\n"
		"    platform: linux/amd64\n"
		"    runtime: true\n"
		"  - stage: kernel-build\n"
		"    runtime: false\n"
		"steps:\n"
		"  - sources:\n"
		"      - url: https://example.com/hailort-4.20.tar.gz\n"
		"        destination: hailort.tar.gz\n"
		"        sha256: " SHA256 "\n"
		"        sha512: " SHA512 "\n"
		"    env:\n"
		"      ZED: last\n"
		"      ARCH: x86_64\n"
		"      VERSION: 2.8\n"
		"      EMPTY:\n"
		"    cachePaths:\n"
		"      - /root/.cache\n"
		"    prepare:\n"
		"      - tar xf hailort.tar.gz\n"
		"    build:\n"
		"      - |\n"
		"        make -j4 \\\n"
		"          KERNEL_DIR=/src\n"
		"    install:\n"
		"      - make install\n"
		"    test:\n"
		"      - fhs-validator /rootfs\n"
		"    network: default\n"
		"    sbom:\n"
		"      outputPath: /rootfs/usr/share/spdx/hailort.spdx.json\n"
		"      name: hailort\n"
		"      version: 4.20\n"
		"      cpes:\n"
		"        - cpe:2.3:a:hailo:hailort:4.20.0:*:*:*:*:*:*:*\n"
		"      purl: pkg:github/hailo-ai/hailort@v4.20.0\n"
		"      licenses:\n"
		"        - GPL-2.0-only\n"
		"        - MIT\n"
		"  - network: host\n"
		"    build:\n"
		"      - echo second\n"
		"finalize:\n"
		"  - from: /rootfs\n"
		"    to: /rootfs\n"
		"  - from: /pkg/manifest.yaml\n"
		"    to: /\n"
		"buildPlatform: linux/amd64\n");
	const struct kiln_step *s;

	ASSERT_TRUE(pkg);
	ASSERT_EQ(n_warnings, 0);
	ASSERT_STREQ(pkg->name, "hailort");
	ASSERT_STREQ(pkg->variant, "scratch");
	ASSERT_STREQ(pkg->shell, "/bin/bash");
	ASSERT_EQ(pkg->install.n, 2);
	ASSERT_STREQ(pkg->install.v[0], "build-base");
	ASSERT_STREQ(pkg->install.v[1], "bash");
	ASSERT_TRUE(pkg->install.v[2] == NULL);

	ASSERT_EQ(pkg->n_deps, 3);
	ASSERT_STREQ(pkg->deps[0].stage, "base");
	ASSERT_TRUE(pkg->deps[0].image == NULL);
	ASSERT_STREQ(pkg->deps[0].from, "/");
	ASSERT_STREQ(pkg->deps[0].to, "/");
	ASSERT_TRUE(pkg->deps[0].platform == NULL);
	ASSERT_FALSE(pkg->deps[0].runtime);
	ASSERT_EQ(pkg->deps[0].line, 8);
	ASSERT_EQ(pkg->deps[0].col, 5);
	ASSERT_STREQ(pkg->deps[1].image, "ghcr.io/siderolabs/tools:v1.0");
	ASSERT_TRUE(pkg->deps[1].stage == NULL);
	ASSERT_STREQ(pkg->deps[1].from, "/toolchain");
	ASSERT_STREQ(pkg->deps[1].to, "/opt/toolchain");
	ASSERT_STREQ(pkg->deps[1].platform, "linux/amd64");
	ASSERT_TRUE(pkg->deps[1].runtime);
	ASSERT_STREQ(pkg->deps[2].stage, "kernel-build");
	ASSERT_FALSE(pkg->deps[2].runtime);

	ASSERT_EQ(pkg->n_steps, 2);
	s = &pkg->steps[0];
	ASSERT_EQ(s->line, 17);
	ASSERT_EQ(s->col, 5);
	ASSERT_EQ(s->n_sources, 1);
	ASSERT_STREQ(s->sources[0].url, "https://example.com/hailort-4.20.tar.gz");
	ASSERT_STREQ(s->sources[0].destination, "hailort.tar.gz");
	ASSERT_STREQ(s->sources[0].sha256, SHA256);
	ASSERT_STREQ(s->sources[0].sha512, SHA512);
	ASSERT_EQ(s->sources[0].line, 18);
	ASSERT_EQ(s->sources[0].col, 9);
	ASSERT_EQ(s->n_env, 4);
	ASSERT_STREQ(s->env[0].name, "ARCH");
	ASSERT_STREQ(s->env[0].value, "x86_64");
	ASSERT_STREQ(s->env[1].name, "EMPTY");
	ASSERT_STREQ(s->env[1].value, "");
	ASSERT_STREQ(s->env[2].name, "VERSION");
	ASSERT_STREQ(s->env[2].value, "2.8");
	ASSERT_STREQ(s->env[3].name, "ZED");
	ASSERT_EQ(s->cache_paths.n, 1);
	ASSERT_STREQ(s->cache_paths.v[0], "/root/.cache");
	ASSERT_EQ(s->prepare.n, 1);
	ASSERT_STREQ(s->build.v[0], "make -j4 \\\n  KERNEL_DIR=/src\n");
	ASSERT_STREQ(s->install.v[0], "make install");
	ASSERT_STREQ(s->test.v[0], "fhs-validator /rootfs");
	ASSERT_EQ(s->network, KILN_NETWORK_DEFAULT);
	ASSERT_TRUE(s->sbom);
	ASSERT_STREQ(s->sbom->output_path, "/rootfs/usr/share/spdx/hailort.spdx.json");
	ASSERT_STREQ(s->sbom->name, "hailort");
	ASSERT_STREQ(s->sbom->version, "4.20");
	ASSERT_EQ(s->sbom->cpes.n, 1);
	ASSERT_STREQ(s->sbom->purl, "pkg:github/hailo-ai/hailort@v4.20.0");
	ASSERT_EQ(s->sbom->licenses.n, 2);
	ASSERT_STREQ(s->sbom->licenses.v[1], "MIT");

	s = &pkg->steps[1];
	ASSERT_EQ(s->network, KILN_NETWORK_HOST);
	ASSERT_EQ(s->n_sources, 0);
	ASSERT_EQ(s->n_env, 0);
	ASSERT_TRUE(s->sbom == NULL);
	ASSERT_STREQ(s->build.v[0], "echo second");

	ASSERT_EQ(pkg->n_finalize, 2);
	ASSERT_STREQ(pkg->finalize[0].from, "/rootfs");
	ASSERT_STREQ(pkg->finalize[0].to, "/rootfs");
	ASSERT_STREQ(pkg->finalize[1].from, "/pkg/manifest.yaml");
	ASSERT_STREQ(pkg->build_platform, "linux/amd64");
	ASSERT_TRUE(pkg->file == NULL);
	ASSERT_TRUE(pkg->dir == NULL);
}

TEST(defaults)
{
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = parse_ok("name: a\n"
								 "variant: alpine\n"
								 "dependencies:\n"
								 "  - image: x\n"
								 "    from: \"\"\n"
								 "steps:\n"
								 "  - build: [make]\n"
								 "finalize:\n"
								 "  - {from: /rootfs, to: /}\n");

	ASSERT_TRUE(pkg);
	ASSERT_STREQ(pkg->shell, "/bin/sh");
	ASSERT_STREQ(pkg->deps[0].from, "/");
	ASSERT_STREQ(pkg->deps[0].to, "/");
	ASSERT_FALSE(pkg->deps[0].runtime);
	ASSERT_EQ(pkg->steps[0].network, KILN_NETWORK_NONE);
	ASSERT_EQ(pkg->install.n, 0);
	ASSERT_TRUE(pkg->build_platform == NULL);
	ASSERT_STREQ(kiln_network_name(KILN_NETWORK_NONE), "none");
	ASSERT_STREQ(kiln_network_name(KILN_NETWORK_DEFAULT), "default");
	ASSERT_STREQ(kiln_network_name(KILN_NETWORK_HOST), "host");
}

TEST(null_means_absent)
{
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = parse_ok("name: a\n"
								 "variant: scratch\n"
								 "shell: ~\n"
								 "install:\n"
								 "dependencies: null\n"
								 "steps:\n"
								 "finalize:\n"
								 "buildPlatform:\n");

	ASSERT_TRUE(pkg);
	ASSERT_STREQ(pkg->shell, "/bin/sh");
	ASSERT_EQ(pkg->n_deps, 0);
	ASSERT_EQ(pkg->n_steps, 0);
	ASSERT_EQ(pkg->n_finalize, 0);
	ASSERT_TRUE(pkg->build_platform == NULL);
}

TEST(deps_and_finalize_without_steps)
{
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = parse_ok("name: a\n"
								 "variant: scratch\n"
								 "dependencies: [{stage: b}]\n"
								 "finalize: [{from: /, to: /}]\n");

	ASSERT_TRUE(pkg);
	ASSERT_EQ(pkg->n_deps, 1);
}

TEST(env_sorted)
{
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = parse_ok("name: a\n"
								 "variant: scratch\n"
								 "steps:\n"
								 "  - env:\n"
								 "      b: 2\n"
								 "      PATH: /bin\n"
								 "      a: 1\n"
								 "      CGO_ENABLED: 0\n"
								 "      _X: \"0755\"\n"
								 "finalize: [{from: /, to: /}]\n");
	const struct kiln_env *e;

	ASSERT_TRUE(pkg);
	e = pkg->steps[0].env;
	ASSERT_EQ(pkg->steps[0].n_env, 5);
	ASSERT_STREQ(e[0].name, "CGO_ENABLED");
	ASSERT_STREQ(e[0].value, "0");
	ASSERT_STREQ(e[1].name, "PATH");
	ASSERT_STREQ(e[2].name, "_X");
	ASSERT_STREQ(e[2].value, "0755");
	ASSERT_STREQ(e[3].name, "a");
	ASSERT_STREQ(e[4].name, "b");
}

TEST(unknown_keys_warn)
{
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = parse_ok("name: a\n"
								 "variant: scratch\n"
								 "nmae: typo\n"
								 "dependencies:\n"
								 "  - stage: b\n"
								 "    runtme: true\n"
								 "steps:\n"
								 "  - biuld: [make]\n"
								 "    sources:\n"
								 "      - url: https://x/y\n"
								 "        destination: y\n"
								 "        sha256: " SHA256 "\n"
								 "        sha512: " SHA512 "\n"
								 "        md5: abc\n"
								 "    sbom: {outputPath: /a, "
								 "cpe: x}\n"
								 "finalize:\n"
								 "  - {from: /, to: /, mode: "
								 "0755}\n");

	ASSERT_TRUE(pkg);
	ASSERT_EQ(n_warnings, 6);
	ASSERT_EQ(cap.n, 6);
	ASSERT_STREQ(strbuf_str(&cap.text),
		     "pkg.yaml:3:1: unknown key \"nmae\" in package, ignoring\n"
		     "pkg.yaml:6:5: unknown key \"runtme\" in dependency, ignoring\n"
		     "pkg.yaml:8:5: unknown key \"biuld\" in step, ignoring\n"
		     "pkg.yaml:14:9: unknown key \"md5\" in source, ignoring\n"
		     "pkg.yaml:15:28: unknown key \"cpe\" in sbom, ignoring\n"
		     "pkg.yaml:17:22: unknown key \"mode\" in finalize entry, ignoring\n");
	/* the dependency is still read, without the misspelt field */
	ASSERT_FALSE(pkg->deps[0].runtime);
	ASSERT_EQ(pkg->steps[0].build.n, 0);
}

TEST(unknown_key_escaped)
{
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg =
		parse_ok("name: a\nvariant: scratch\n\"we\\\"ird\\n\\0\": 1\n");

	ASSERT_TRUE(pkg);
	ASSERT_EQ(n_warnings, 1);
	ASSERT_STREQ(strbuf_str(&cap.text),
		     "pkg.yaml:3:1: unknown key \"we\\\"ird\\n\\x00\" in package, ignoring\n");
}

TEST(warnings_counted_without_log_fn)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = NULL;
	static const char text[] = "name: a\nvariant: scratch\nx: 1\ny: 2\n";

	ASSERT_OK(kiln_ctx_new(&ctx));
	ASSERT_OK(kiln_pkg_parse(ctx, "p.yaml", text, sizeof(text) - 1, &pkg));
	ASSERT_EQ(kiln_ctx_warnings(ctx), 2);
}

TEST(error_missing_name)
{
	ASSERT_STREQ(parse_err("variant: scratch\nfinalize: [{from: /, to: /}]\n"),
		     "pkg.yaml:1:1: package name can't be empty; set \"name\" to a name unique "
		     "in the tree");
	ASSERT_STREQ(parse_err("variant: scratch\nname: \"\"\n"),
		     "pkg.yaml:2:7: package name can't be empty; set \"name\" to a name unique "
		     "in the tree");
	ASSERT_CONTAINS(parse_err("variant: scratch\nname:\n"), "pkg.yaml:1:1: package name can't");
}

TEST(error_missing_variant)
{
	ASSERT_STREQ(parse_err("name: a\nsteps: []\n"),
		     "pkg.yaml:1:1: variant is required; set \"variant\" to scratch, or to alpine "
		     "for a build that uses Alpine's packages");
	ASSERT_CONTAINS(parse_err("name: a\nvariant:\n"), "pkg.yaml:1:1: variant is required");
}

TEST(error_bad_variant)
{
	ASSERT_STREQ(parse_err("name: a\nvariant: debian\n"),
		     "pkg.yaml:2:10: unknown variant \"debian\"; use alpine or scratch");
	ASSERT_STREQ(parse_err("name: a\nvariant: \"\"\n"),
		     "pkg.yaml:2:10: unknown variant \"\"; use alpine or scratch");
	ASSERT_STREQ(parse_err("name: a\nvariant: Alpine\n"),
		     "pkg.yaml:2:10: unknown variant \"Alpine\"; use alpine or scratch");
}

TEST(error_dep_both_stage_and_image)
{
	ASSERT_STREQ(parse_err("name: a\n"
			       "variant: scratch\n"
			       "dependencies:\n"
			       "  - stage: base\n"
			       "  - stage: b\n"
			       "    image: ghcr.io/x/y:v1\n"),
		     "pkg.yaml:5:5: dependency can't have both image & stage set: "
		     "\"ghcr.io/x/y:v1\", \"b\"; keep one of them");
}

TEST(error_dep_neither_stage_nor_image)
{
	static const char *const want = "pkg.yaml:4:5: either image or stage should be set for "
					 "the dependency; add \"stage: <package name>\" or "
					 "\"image: <reference>\"";

	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\ndependencies:\n  - from: /a\n    to: "
			       "/b\n"),
		     want);
	/* empty strings count as unset, as in bldr */
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\ndependencies:\n  - stage: \"\"\n"),
		     want);
	ASSERT_CONTAINS(parse_err("name: a\nvariant: scratch\ndependencies:\n  -\n"),
			"either image or stage should be set");
}

static const char *source_err(const char *source)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	strbuf_adds(&sb, "name: a\nvariant: scratch\nsteps:\n  - sources:\n");
	strbuf_adds(&sb, source);
	strbuf_adds(&sb, "finalize: [{from: /, to: /}]\n");
	return parse_err(sb.buf);
}

TEST(error_source_missing_sha512)
{
	ASSERT_STREQ(source_err("      - url: https://example.com/a.tar.gz\n"
				"        destination: a.tar.gz\n"
				"        sha256: " SHA256 "\n"),
		     "pkg.yaml:5:9: source \"https://example.com/a.tar.gz\": source.sha512 can't "
		     "be empty; add the sha512 of the file (128 hex digits)");
	ASSERT_STREQ(source_err("      - url: https://example.com/a.tar.gz\n"
				"        destination: a.tar.gz\n"
				"        sha256: " SHA256 "\n"
				"        sha512: \"\"\n"),
		     "pkg.yaml:8:17: source \"https://example.com/a.tar.gz\": source.sha512 "
		     "can't be empty; add the sha512 of the file (128 hex digits)");
}

TEST(error_source_missing_sha256)
{
	ASSERT_CONTAINS(source_err("      - url: https://e/a\n"
				   "        destination: a\n"
				   "        sha512: " SHA512 "\n"),
			"pkg.yaml:5:9: source \"https://e/a\": source.sha256 can't be empty");
}

TEST(error_source_missing_url_and_destination)
{
	ASSERT_STREQ(source_err("      - destination: a\n"
				"        sha256: " SHA256 "\n"
				"        sha512: " SHA512 "\n"),
		     "pkg.yaml:5:9: source.url can't be empty; add the URL to download");
	ASSERT_STREQ(source_err("      - url: https://e/a\n"
				"        sha256: " SHA256 "\n"
				"        sha512: " SHA512 "\n"),
		     "pkg.yaml:5:9: source \"https://e/a\": source.destination can't be empty; "
		     "add the file name to save it as");
}

TEST(error_source_bad_url)
{
	ASSERT_STREQ(source_err("      - url: \"https://e/a\\tb\"\n"
				"        destination: a\n"
				"        sha256: " SHA256 "\n"
				"        sha512: " SHA512 "\n"),
		     "pkg.yaml:5:14: error parsing source.url \"https://e/a\\tb\": invalid "
		     "control character in URL");
	ASSERT_CONTAINS(source_err("      - url: https://e/a%zz\n"
				   "        destination: a\n"
				   "        sha256: " SHA256 "\n"
				   "        sha512: " SHA512 "\n"),
			"invalid URL escape");
}

TEST(error_sha256_wrong_length)
{
	ASSERT_STREQ(source_err("      - url: https://example.com/a.tar.gz\n"
				"        destination: a.tar.gz\n"
				"        sha256: "
				"123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
				"        sha512: " SHA512 "\n"),
		     "pkg.yaml:7:17: source \"https://example.com/a.tar.gz\" has a sha256 of 63 "
		     "characters, want 64 hex digits");
	ASSERT_STREQ(source_err("      - url: https://e/a\n"
				"        destination: a\n"
				"        sha256: " SHA256 "\n"
				"        sha512: " SHA256 "\n"),
		     "pkg.yaml:8:17: source \"https://e/a\" has a sha512 of 64 characters, want "
		     "128 hex digits");
}

TEST(error_hash_not_hex)
{
	ASSERT_STREQ(source_err("      - url: https://e/a\n"
				"        destination: a\n"
				"        sha256: "
				"0123g56789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
				"        sha512: " SHA512 "\n"),
		     "pkg.yaml:7:17: source \"https://e/a\" has a sha256 with 'g' at character 5, "
		     "want 64 lowercase hex digits (0-9, a-f)");
	ASSERT_CONTAINS(source_err("      - url: https://e/a\n"
				   "        destination: a\n"
				   "        sha256: " SHA256 "\n"
				   "        sha512: " SHA256 "0123456789ABCDEF0123456789abcdef"
				   "0123456789abcdef0123456789abcdef\n"),
			"has a sha512 with 'A' at character 75");
}

TEST(error_steps_without_finalize)
{
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nsteps:\n  - build: [make]\n"),
		     "pkg.yaml:4:3: finalize steps are missing, this is going to lead to empty "
		     "build; add \"finalize\" with the directories to keep, such as {from: "
		     "/rootfs, to: /}");
	ASSERT_CONTAINS(parse_err("name: a\nvariant: scratch\nsteps: [{}]\nfinalize: []\n"),
			"finalize steps are missing");
}

TEST(error_finalize_incomplete)
{
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nfinalize:\n  - to: /\n"),
		     "pkg.yaml:4:5: finalize.from can't be empty; set it to the directory to "
		     "copy out of the build, such as /rootfs");
	ASSERT_CONTAINS(parse_err("name: a\nvariant: scratch\nfinalize:\n  - from: /rootfs\n"),
			"pkg.yaml:4:5: finalize.to can't be empty");
}

TEST(error_bad_network)
{
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nsteps:\n  - network: bridge\n"
			       "finalize: [{from: /, to: /}]\n"),
		     "pkg.yaml:4:14: unknown networkmode \"bridge\"; use none, default or host");
	ASSERT_CONTAINS(parse_err("name: a\nvariant: scratch\nsteps:\n  - network: [host]\n"
				  "finalize: [{from: /, to: /}]\n"),
			"pkg.yaml:4:14: \"network\" must be a string, got a list");
}

TEST(error_wrong_kinds)
{
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nsteps:\n  build: [make]\n"),
		     "pkg.yaml:4:3: \"steps\" must be a list, got a mapping");
	ASSERT_STREQ(parse_err("name: [a]\nvariant: scratch\n"),
		     "pkg.yaml:1:7: \"name\" must be a string, got a list");
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\ninstall: bash\n"),
		     "pkg.yaml:3:10: \"install\" must be a list of strings, got a scalar");
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\ninstall: [bash, {x: y}]\n"),
		     "pkg.yaml:3:17: items of \"install\" must be strings, got a mapping");
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\ndependencies:\n  - stage\n"),
		     "pkg.yaml:4:5: dependency must be a mapping, got a scalar");
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nsteps:\n  - env: [A=1]\n"),
		     "pkg.yaml:4:10: \"env\" must be a mapping of names to values, got a list");
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nsteps:\n  - env: {A: [1]}\n"),
		     "pkg.yaml:4:14: \"A\" must be a string, got a list");
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nsteps:\n  - sbom: [x]\n"),
		     "pkg.yaml:4:11: sbom must be a mapping, got a list");
	ASSERT_STREQ(parse_err("- name: a\n"),
		     "pkg.yaml:1:1: a package definition must be a mapping, got a list");
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nfinalize: {from: /, to: /}\n"),
		     "pkg.yaml:3:11: \"finalize\" must be a list, got a mapping");
}

TEST(error_instructions_single_string)
{
	/* bldr's Instructions is a []string: yaml.v3 refuses a lone string, so do we */
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nsteps:\n  - build: make\n"
			       "finalize: [{from: /, to: /}]\n"),
		     "pkg.yaml:4:12: \"build\" must be a list of strings, got a scalar");
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nsteps:\n  - test: [make, ~]\n"
			       "finalize: [{from: /, to: /}]\n"),
		     "pkg.yaml:4:18: item 2 of \"test\" is empty; remove it or quote it");
}

TEST(error_bad_bool)
{
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\ndependencies:\n  - stage: b\n"
			       "    runtime: \"true\"\n"),
		     "pkg.yaml:5:14: \"runtime\" must be true or false (unquoted), got \"true\"");
	ASSERT_CONTAINS(parse_err("name: a\nvariant: scratch\ndependencies:\n  - stage: b\n"
				  "    runtime: 1\n"),
			"\"runtime\" must be true or false (unquoted), got \"1\"");
	ASSERT_CONTAINS(parse_err("name: a\nvariant: scratch\ndependencies:\n  - stage: b\n"
				  "    runtime: {}\n"),
			"\"runtime\" must be true or false, got a mapping");
	/* yaml.v3 decodes the YAML 1.1 spellings into a Go bool, so bldr takes them */
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg = parse_ok(
		"name: a\nvariant: scratch\ndependencies:\n"
		"  - {stage: b, runtime: TRUE}\n  - {stage: c, runtime: yes}\n"
		"  - {stage: d, runtime: off}\n  - {stage: e, runtime: true}\n");
	ASSERT_TRUE(pkg);
	ASSERT_TRUE(pkg->deps[0].runtime);
	ASSERT_TRUE(pkg->deps[1].runtime);
	ASSERT_FALSE(pkg->deps[2].runtime);
	ASSERT_TRUE(pkg->deps[3].runtime);
}

TEST(error_nul_in_value)
{
	ASSERT_STREQ(parse_err("name: \"a\\0b\"\nvariant: scratch\n"),
		     "pkg.yaml:1:7: \"name\" contains a NUL character; remove the \\0 escape");
	ASSERT_STREQ(parse_err("name: a\nvariant: scratch\nsteps:\n  - env: {\"A=B\": 1}\n"),
		     "pkg.yaml:4:11: env name \"A=B\" is not a valid variable name; it must be "
		     "non-empty, without '=' or NUL");
}

TEST(error_empty_document)
{
	ASSERT_STREQ(parse_err(""),
		     "pkg.yaml: empty package definition; a pkg.yaml needs at least \"name\" and "
		     "\"variant\"");
	ASSERT_CONTAINS(parse_err("# all commented out\n"), "empty package definition");
	ASSERT_CONTAINS(parse_err("~\n"), "empty package definition");
	ASSERT_CONTAINS(parse_err("---\n"), "empty package definition");
}

TEST(error_from_yaml)
{
	ASSERT_STREQ(parse_err("name: a\nname: b\n"),
		     "pkg.yaml:2:1: mapping key \"name\" already defined at line 1");
	ASSERT_CONTAINS(parse_err("name: a\n\tvariant: scratch\n"), "pkg.yaml:2:1: invalid YAML");
	ASSERT_CONTAINS(parse_err("name: a\n---\nname: b\n"), "more than one YAML document");
}

TEST(error_merge_key)
{
	ASSERT_STREQ(parse_err("base: &b {stage: b}\nname: a\nvariant: scratch\n"
			       "dependencies:\n  - <<: *b\n    to: /x\n"),
		     "pkg.yaml:5:5: merge keys (<<) are not supported in dependency; write the "
		     "keys out");
}

TEST(aliases_in_package)
{
	/* shared nodes are read twice, and freed once */
	_cleanup_(kiln_pkg_freep) struct kiln_pkg *pkg =
		parse_ok("name: a\n"
			 "variant: scratch\n"
			 "steps:\n"
			 "  - &s {env: {A: 1}, build: [make]}\n"
			 "  - *s\n"
			 "finalize: [{from: /, to: /}]\n");

	ASSERT_TRUE(pkg);
	ASSERT_EQ(pkg->n_steps, 2);
	ASSERT_STREQ(pkg->steps[1].env[0].value, "1");
	ASSERT_TRUE(pkg->steps[0].build.v[0] != pkg->steps[1].build.v[0]);
}

/*
 * What a caller's _cleanup_(kiln_pkg_freep) relies on: a failed parse writes
 * nothing to *ret (outputs only on success), so the caller's NULL stays NULL,
 * and kiln_pkg_free() takes NULL as free() does. A crash there is "not ok":
 * the test runs in a process of its own (tap.h).
 */
TEST(free_null)
{
	struct kiln_pkg *sentinel = (struct kiln_pkg *)&cap, *pkg = sentinel;

	ASSERT_EQ(parse("name: a\n", &pkg), -EINVAL);
	ASSERT_CONTAINS(err, "variant");
	ASSERT_TRUE(pkg == sentinel);
	pkg = NULL;
	ASSERT_EQ(parse("name: a\nvariant: [\n", &pkg), -EINVAL);
	ASSERT_TRUE(pkg == NULL);
	kiln_pkg_free(pkg);
	kiln_pkg_freep(&pkg);
}

TAP_MAIN
