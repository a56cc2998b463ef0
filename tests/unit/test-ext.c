/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Extension manifests and Talos version constraints: blang/semver's
 * ParseRange as Talos calls it, case by case, with Talos's messages.
 */
#include <errno.h>
#include <string.h>

#include <kiln/ext.h>

#include "strbuf.h"
#include "tap.h"

/* ---- version constraints ---- */

/* Every constraint is checked against each of these Talos versions. */
static const char *const talos_versions[] = {
	"v1.9.0", "v1.12.0", "v1.15.0-alpha.0", "v1.8.3", "v2.0.0",
};

/*
 * @results: one letter per Talos version above, Y when the constraint is
 * satisfied, N when not. @error: blang's error (Talos prefixes it), when
 * the constraint does not parse.
 */
struct constraint_case {
	const char *constraint;
	const char *results;
	const char *error;
};

/* Every distinct compatibility.talos.version of the siderolabs/extensions corpus. */
static const struct constraint_case corpus_cases[] = {
	{ ">= 1.9.0-alpha.0", "YYYNY", NULL },
	{ ">= v1.0.0", "YYYYY", NULL },
	{ ">= v1.1.0", "YYYYY", NULL },
	{ ">= v1.2.0", "YYYYY", NULL },
	{ ">= v1.4.0", "YYYYY", NULL },
	{ ">= v1.4.5", "YYYYY", NULL },
	{ ">= v1.5.0", "YYYYY", NULL },
	{ ">= v1.6.0", "YYYYY", NULL },
	{ ">= v1.7.0", "YYYYY", NULL },
	{ ">= v1.8.0", "YYYYY", NULL },
	{ ">= v1.9.0", "YYYNY", NULL },
	{ ">= v1.10.0", "NYYNY", NULL },
	{ ">= v1.11.0", "NYYNY", NULL },
	{ ">= v1.12.0", "NYYNY", NULL },
	{ ">= v1.13.0", "NNYNY", NULL },
};

static const struct constraint_case operator_cases[] = {
	{ "", "YYYYY", NULL }, /* no constraint */
	{ ">=v1.9.0", "YYYNY", NULL },
	{ ">=   v1.9.0", "YYYNY", NULL },
	{ "  >= v1.9.0  ", "YYYNY", NULL },
	{ "v1.9.0", "YNNNN", NULL },
	{ "=v1.12.0", "NYNNN", NULL },
	{ "== 1.12.0", "NYNNN", NULL },
	{ "!=v1.12.0", "YNYYY", NULL },
	{ "!v1.12.0", "YNYYY", NULL },
	/* a space after '!' splits: the lone "!" is dropped, leaving equality */
	{ "! v1.12.0", "NYNNN", NULL },
	{ "> v1.9.0", "NYYNY", NULL },
	{ "< v1.12.0", "YNNYN", NULL },
	{ "<= v1.12.0", "YYNYN", NULL },
	/* the prerelease of the Talos version is dropped before comparing */
	{ ">= 1.15.0-alpha.0", "NNYNY", NULL },
	{ "< 1.15.0", "YYNYN", NULL },
	{ "1.15.0", "NNYNN", NULL },
	{ ">= v1.15.0-alpha.1", "NNYNY", NULL },
	/* AND, OR */
	{ ">= v1.9.0 < v1.13.0", "YYNNN", NULL },
	{ ">= v1.9.0 !=v1.12.0", "YNYNY", NULL },
	{ "< v1.9.0 || >= v1.15.0", "NNYYY", NULL },
	{ "v1.9.0 || v1.12.0", "YYNNN", NULL },
	{ ">=1.0.0 <1.9.0 || >=1.12.0 <1.13.0 || >=2.0.0", "NYNYY", NULL },
	/* "1.0.0 - 2.0.0" is not a hyphen range: the "-" is dropped, two equalities remain */
	{ "1.0.0 - 2.0.0", "NNNNN", NULL },
	/* white space Go's TrimSpace knows (U+00A0) between comparator and version */
	{ ">=\xc2\xa0" "1.9.0", "YYYNY", NULL },
	/* "vv1" loses one v only: Talos's loop steps past the character it removed */
	{ "vv1.9.0", NULL,
	  "Could not parse Range \"v1.9.0\": Could not parse comparator \"v\" in \"v1.9.0\"" },
	{ "v1.9.0v", NULL,
	  "Could not parse Range \"1.9.0v\": Could not parse version \"1.9.0v\" in \"1.9.0v\": "
	  "Invalid character(s) found in patch number \"0v\"" },
};

static const struct constraint_case wildcard_cases[] = {
	{ "1.x", "YYYYN", NULL },
	{ "1.12.x", "NYNNN", NULL },
	{ "=1.12.x", "NYNNN", NULL },
	{ ">1.x", "NNNNY", NULL },
	{ ">=1.x", "YYYYY", NULL },
	{ "<1.x", "NNNNN", NULL },
	{ "<=1.x", "YYYYN", NULL },
	{ ">1.12.x", "NNYNY", NULL },
	{ ">= v1.12.x", "NYYNY", NULL },
	{ "<=1.12.x", "YYNYN", NULL },
	{ "<1.12.x", "YNNYN", NULL },
	/* blang turns "!=1.12.x" into "<1.12.0 >=1.13.0", an AND nothing satisfies */
	{ "!=1.12.x", "NNNNN", NULL },
	/* and "1.x.x" into ">=1.0.0 <1.1.0" */
	{ "1.x.x", "NNNNN", NULL },
	/* an unknown comparator before a wildcard is dropped: "~1.9.x" is "1.9.0" */
	{ "~1.9.x", "YNNNN", NULL },
	{ "1.x || >=2.0.x <2.2.x", "YYYYY", NULL },
};

static const struct constraint_case malformed_cases[] = {
	{ ">= 1.9", NULL,
	  "Could not parse Range \">=1.9\": Could not parse version \"1.9\" in \">=1.9\": No "
	  "Major.Minor.Patch elements found" },
	{ ">= v1.9", NULL,
	  "Could not parse Range \">=1.9\": Could not parse version \"1.9\" in \">=1.9\": No "
	  "Major.Minor.Patch elements found" },
	{ "latest", NULL, "Could not get version from string: \"latest\"" },
	{ "**", NULL, "Could not get version from string: \"**\"" },
	{ "xx", NULL, "Could not get version from string: \"xx\"" },
	/* white space only: no term at all */
	{ " ", NULL, "Last element in range is '||'" },
	/* a piece of one byte is dropped, so this is empty too */
	{ "*", NULL, "Last element in range is '||'" },
	{ "|| 1.9.0", NULL, "First element in range is '||'" },
	{ "1.9.0 ||", NULL, "Last element in range is '||'" },
	{ ">= v1.9.0 || || < v1.0.0", NULL,
	  "empty alternative between '||' and '||' (Talos would crash on it)" },
	{ ">>1.9.0", NULL,
	  "Could not parse Range \">>1.9.0\": Could not parse comparator \">>\" in \">>1.9.0\"" },
	{ "=> 1.9.0", NULL,
	  "Could not parse Range \"=>1.9.0\": Could not parse comparator \"=>\" in \"=>1.9.0\"" },
	{ "~1.9.0", NULL,
	  "Could not parse Range \"~1.9.0\": Could not parse comparator \"~\" in \"~1.9.0\"" },
	{ ">= V1.9.0", NULL,
	  "Could not parse Range \">=V1.9.0\": Could not parse comparator \">=V\" in "
	  "\">=V1.9.0\"" },
	{ ">= 01.9.0", NULL,
	  "Could not parse Range \">=01.9.0\": Could not parse version \"01.9.0\" in \">=01.9.0\": "
	  "Major number must not contain leading zeroes \"01\"" },
	{ ">= 1.09.0", NULL,
	  "Could not parse Range \">=1.09.0\": Could not parse version \"1.09.0\" in \">=1.09.0\": "
	  "Minor number must not contain leading zeroes \"09\"" },
	{ ">= v1.9.0-", NULL,
	  "Could not parse Range \">=1.9.0-\": Could not parse version \"1.9.0-\" in \">=1.9.0-\": "
	  "Prerelease is empty" },
	{ "1.9.0+", NULL,
	  "Could not parse Range \"1.9.0+\": Could not parse version \"1.9.0+\" in \"1.9.0+\": "
	  "Build meta data is empty" },
	{ "1.9.0-01", NULL,
	  "Could not parse Range \"1.9.0-01\": Could not parse version \"1.9.0-01\" in "
	  "\"1.9.0-01\": Numeric PreRelease version must not contain leading zeroes \"01\"" },
	{ "1.9.0-a_b", NULL,
	  "Could not parse Range \"1.9.0-a_b\": Could not parse version \"1.9.0-a_b\" in "
	  "\"1.9.0-a_b\": Invalid character(s) found in prerelease \"a_b\"" },
	{ "1.9.0+a.b!", NULL,
	  "Could not parse Range \"1.9.0+a.b!\": Could not parse version \"1.9.0+a.b!\" in "
	  "\"1.9.0+a.b!\": Invalid character(s) found in build meta data \"b!\"" },
	{ "1.9.0.1", NULL,
	  "Could not parse Range \"1.9.0.1\": Could not parse version \"1.9.0.1\" in \"1.9.0.1\": "
	  "Invalid character(s) found in patch number \"0.1\"" },
	{ "1..0", NULL,
	  "Could not parse Range \"1..0\": Could not parse version \"1..0\" in \"1..0\": "
	  "strconv.ParseUint: parsing \"\": invalid syntax" },
	{ ">= 1.99999999999999999999.0", NULL,
	  "Could not parse Range \">=1.99999999999999999999.0\": Could not parse version "
	  "\"1.99999999999999999999.0\" in \">=1.99999999999999999999.0\": strconv.ParseUint: "
	  "parsing \"99999999999999999999\": value out of range" },
	/* a tab is no separator: the rest of the term is read as the patch number */
	{ ">=1.9.0\t<2.0.0", NULL,
	  "Could not parse Range \">=1.9.0\\t<2.0.0\": Could not parse version \"1.9.0\\t<2.0.0\" "
	  "in \">=1.9.0\\t<2.0.0\": Invalid character(s) found in patch number \"0\\t<2.0.0\"" },
	/* an 'x' in a prerelease is taken for a wildcard (blang/semver issue #75) */
	{ "1.0.0-x", NULL, "Could not get version from string: \"<\"" },
	/* unicode.IsDigit ends the comparator at an Arabic-Indic one */
	{ ">=\xd9\xa1.9.0", NULL,
	  "Could not parse Range \">=\xd9\xa1.9.0\": Could not parse version \"\xd9\xa1.9.0\" in "
	  "\">=\xd9\xa1.9.0\": Invalid character(s) found in major number \"\xd9\xa1\"" },
	{ ">=1.9.0\x01", NULL,
	  "Could not parse Range \">=1.9.0\\x01\": Could not parse version \"1.9.0\\x01\" in "
	  "\">=1.9.0\\x01\": Invalid character(s) found in patch number \"0\\x01\"" },
	{ ">=1.9.0-\xff", NULL,
	  "Could not parse Range \">=1.9.0-\\xff\": Could not parse version \"1.9.0-\\xff\" in "
	  "\">=1.9.0-\\xff\": Invalid character(s) found in prerelease \"\\xff\"" },
};

/* The text of the last error of a check, or NULL when it passed. */
static int check(const char *constraint, const char *talos, struct strbuf *err)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	int r;

	strbuf_reset(err);
	if (kiln_ctx_new(&ctx) < 0)
		return -ENOMEM;
	r = kiln_ext_check_talos_version(ctx, constraint, talos);
	if (r < 0)
		strbuf_adds(err, kiln_ctx_error(ctx) ? kiln_ctx_error(ctx) : "(no message)");
	return r;
}

/* Run @cases; print each mismatch as a diagnostic and return how many there were. */
static unsigned run_cases(const struct constraint_case *cases, size_t n)
{
	_cleanup_strbuf_ struct strbuf err = STRBUF_INIT, want = STRBUF_INIT;
	unsigned bad = 0;

	for (size_t i = 0; i < n; i++) {
		const struct constraint_case *c = &cases[i];

		for (size_t j = 0; j < ELEMENTSOF(talos_versions); j++) {
			const char *talos = talos_versions[j];
			int r = check(c->constraint, talos, &err), want_r;

			strbuf_reset(&want);
			if (c->error) {
				want_r = -EINVAL;
				strbuf_addf(&want, "error parsing Talos version constraint: %s",
					    c->error);
			} else if (c->results[j] == 'Y') {
				want_r = 0;
			} else {
				want_r = -ERANGE;
				strbuf_addf(&want,
					    "version constraint %s can't be satisfied with Talos "
					    "version %s",
					    c->constraint, talos + 1);
			}
			if (r != want_r || strcmp(strbuf_str(&err), strbuf_str(&want)) != 0) {
				printf("# \"%s\" with %s: got %d \"%s\", want %d \"%s\"\n",
				       c->constraint, talos, r, strbuf_str(&err), want_r,
				       strbuf_str(&want));
				bad++;
			}
		}
	}
	return bad;
}

TEST(constraints_of_the_corpus)
{
	ASSERT_EQ(run_cases(corpus_cases, ELEMENTSOF(corpus_cases)), 0);
}

TEST(constraint_operators)
{
	ASSERT_EQ(run_cases(operator_cases, ELEMENTSOF(operator_cases)), 0);
}

TEST(constraint_wildcards)
{
	ASSERT_EQ(run_cases(wildcard_cases, ELEMENTSOF(wildcard_cases)), 0);
}

TEST(constraints_malformed)
{
	ASSERT_EQ(run_cases(malformed_cases, ELEMENTSOF(malformed_cases)), 0);
}

TEST(constraint_table_size)
{
	size_t n = ELEMENTSOF(corpus_cases) + ELEMENTSOF(operator_cases) +
		   ELEMENTSOF(wildcard_cases) + ELEMENTSOF(malformed_cases);

	printf("# %zu constraints x %zu Talos versions\n", n, ELEMENTSOF(talos_versions));
	ASSERT_TRUE(n >= 40);
}

TEST(constraint_hostile_length)
{
	_cleanup_strbuf_ struct strbuf c = STRBUF_INIT, err = STRBUF_INIT, want = STRBUF_INIT;

	/* hundreds of terms fit under the cap and parse */
	while (c.len < 4000)
		strbuf_adds(&c, c.len ? " 1.0.0" : ">=1.0.0");
	ASSERT_EQ(check(strbuf_str(&c), "v1.9.0", &err), -ERANGE);
	for (int i = 0; i < 200; i++)
		strbuf_adds(&c, " || 1.0.0");
	strbuf_addf(&want, "error parsing Talos version constraint: %zu bytes, more than 4096",
		    c.len);
	ASSERT_EQ(check(strbuf_str(&c), "v1.9.0", &err), -EINVAL);
	ASSERT_STREQ(strbuf_str(&err), strbuf_str(&want));
}

TEST(bad_talos_version)
{
	_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;

	ASSERT_EQ(check(">= v1.9.0", "v1.9", &err), -EINVAL);
	ASSERT_STREQ(strbuf_str(&err),
		     "Talos version: invalid version \"v1.9\": No Major.Minor.Patch elements "
		     "found");
	/* Talos parses its version even when there is no constraint */
	ASSERT_EQ(check("", "latest", &err), -EINVAL);
	ASSERT_EQ(check(NULL, "v1.9.0", &err), 0);
}

TEST(unsatisfied_message_keeps_control_characters_quoted)
{
	_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;

	/* the Talos message prints the constraint as written, but a newline must not split it */
	ASSERT_EQ(check("2.0.0 \n", "v1.9.0", &err), -ERANGE);
	ASSERT_STREQ(strbuf_str(&err),
		     "version constraint 2.0.0 \\n can't be satisfied with Talos version 1.9.0");
	ASSERT_EQ(check("v2.0.0 || >=v3.0.0", "v1.9.0", &err), -ERANGE);
	ASSERT_STREQ(strbuf_str(&err), "version constraint v2.0.0 || >=v3.0.0 can't be satisfied "
				       "with Talos version 1.9.0");
}

/* ---- versions and ranges directly ---- */

TEST(semver_parse)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	struct kiln_semver v;

	ASSERT_OK(kiln_ctx_new(&ctx));
	ASSERT_OK(kiln_semver_parse(ctx, "v1.15.0-alpha.0+build.7", &v));
	ASSERT_EQ(v.major, 1);
	ASSERT_EQ(v.minor, 15);
	ASSERT_EQ(v.patch, 0);
	ASSERT_STREQ(v.pre, "alpha.0");
	kiln_semver_release(&v);

	ASSERT_OK(kiln_semver_parse(ctx, "18446744073709551615.0.0", &v));
	ASSERT_TRUE(v.major == UINT64_MAX);
	ASSERT_TRUE(v.pre == NULL);
	kiln_semver_release(&v);

	ASSERT_EQ(kiln_semver_parse(ctx, "18446744073709551616.0.0", &v), -EINVAL);
	ASSERT_STREQ(kiln_ctx_error(ctx),
		     "invalid version \"18446744073709551616.0.0\": strconv.ParseUint: parsing "
		     "\"18446744073709551616\": value out of range");
	ASSERT_EQ(kiln_semver_parse(ctx, "", &v), -EINVAL);
	ASSERT_STREQ(kiln_ctx_error(ctx), "invalid version \"\": Version string empty");
	ASSERT_EQ(kiln_semver_parse(ctx, "vv1.0.0", &v), -EINVAL);
	ASSERT_EQ(kiln_semver_parse(ctx, " 1.0.0", &v), -EINVAL);
	ASSERT_EQ(kiln_semver_parse(ctx, "1.0", &v), -EINVAL);
}

TEST(semver_precedence)
{
	/* semver.org's example order, and blang's rules for identifiers */
	static const char *const order[] = {
		"1.0.0-0",     "1.0.0-1",      "1.0.0-2",     "1.0.0-10",     "1.0.0-alpha",
		"1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
		"1.0.0-rc.1",  "1.0.0",	       "1.0.1",	      "1.1.0",	      "2.0.0",
	};
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	struct kiln_semver v[ELEMENTSOF(order)], b;

	ASSERT_OK(kiln_ctx_new(&ctx));
	for (size_t i = 0; i < ELEMENTSOF(order); i++)
		ASSERT_OK(kiln_semver_parse(ctx, order[i], &v[i]));
	for (size_t i = 0; i < ELEMENTSOF(order); i++)
		for (size_t j = 0; j < ELEMENTSOF(order); j++) {
			int want = i < j ? -1 : i > j ? 1 : 0;

			if (kiln_semver_compare(&v[i], &v[j]) != want)
				TAP_FAIL("compare(%s, %s) != %d", order[i], order[j], want);
		}
	/* build metadata has no precedence */
	ASSERT_OK(kiln_semver_parse(ctx, "1.0.0+zzz", &b));
	ASSERT_EQ(kiln_semver_compare(&b, &v[11]), 0);
	for (size_t i = 0; i < ELEMENTSOF(order); i++)
		kiln_semver_release(&v[i]);
}

TEST(range_keeps_prereleases)
{
	/* the range API compares the version given, prerelease included */
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_(kiln_semver_range_freep) struct kiln_semver_range *r = NULL;
	struct kiln_semver v;

	ASSERT_OK(kiln_ctx_new(&ctx));
	ASSERT_OK(kiln_semver_range_parse(ctx, ">=1.15.0 || 1.15.0-alpha.0", &r));
	ASSERT_OK(kiln_semver_parse(ctx, "1.15.0-alpha.0", &v));
	ASSERT_TRUE(kiln_semver_range_match(r, &v));
	kiln_semver_release(&v);
	ASSERT_OK(kiln_semver_parse(ctx, "1.15.0-alpha.1", &v));
	ASSERT_FALSE(kiln_semver_range_match(r, &v));
	kiln_semver_release(&v);

	/* no "v" here: that is Talos's doing, not blang's */
	ASSERT_EQ(kiln_semver_range_parse(ctx, ">= v1.9.0", &r), -EINVAL);
	ASSERT_STREQ(kiln_ctx_error(ctx),
		     "invalid version range \">= v1.9.0\": Could not parse Range \">=v1.9.0\": "
		     "Could not parse comparator \">=v\" in \">=v1.9.0\"");
}

/* ---- manifest.yaml ---- */

static char err[4096];
static struct strbuf warnings;
static unsigned n_warnings;

static void capture_fn(void *userdata, enum kiln_log_level level, const char *msg)
{
	strbuf_adds(&warnings, msg);
	strbuf_addch(&warnings, '\n');
}

static int parse(const char *text, struct kiln_ext_manifest **ret)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	int r;

	err[0] = '\0';
	strbuf_release(&warnings);
	if (kiln_ctx_new(&ctx) < 0)
		return -ENOMEM;
	kiln_ctx_set_log_fn(ctx, capture_fn, NULL);
	r = kiln_ext_manifest_parse(ctx, "manifest.yaml", text, strlen(text), ret);
	n_warnings = kiln_ctx_warnings(ctx);
	if (r < 0)
		snprintf(err, sizeof(err), "%s", strempty(kiln_ctx_error(ctx)));
	return r;
}

static const char *parse_err(const char *text)
{
	struct kiln_ext_manifest *m = NULL;

	if (parse(text, &m) >= 0) {
		kiln_ext_manifest_free(m);
		return "(parsed without error)";
	}
	return err;
}

TEST(manifest_hailort)
{
	_cleanup_(kiln_ext_manifest_freep) struct kiln_ext_manifest *m = NULL;

	ASSERT_OK(parse("version: v1alpha1\n"
			"metadata:\n"
			"  name: hailort\n"
			"  version: \"4.24.0\"\n"
			"  author: hailo.ai team\n"
			"  description: |\n"
			"    [extra] Driver for HailoRT family of AI hardware.\n"
			"  compatibility:\n"
			"    talos:\n"
			"      version: \">= v1.9.0\"\n",
			&m));
	ASSERT_STREQ(m->version, "v1alpha1");
	ASSERT_STREQ(m->name, "hailort");
	ASSERT_STREQ(m->ext_version, "4.24.0");
	ASSERT_STREQ(m->author, "hailo.ai team");
	ASSERT_STREQ(m->description, "[extra] Driver for HailoRT family of AI hardware.\n");
	ASSERT_STREQ(m->talos_version, ">= v1.9.0");
	ASSERT_TRUE(m->extra_info == NULL);
	ASSERT_EQ(n_warnings, 0);
}

TEST(manifest_optional_fields)
{
	_cleanup_(kiln_ext_manifest_freep) struct kiln_ext_manifest *m = NULL, *m2 = NULL;

	/* no compatibility: no constraint; a number is its text, as in Go's yaml */
	ASSERT_OK(parse("version: v1alpha1\n"
			"metadata:\n"
			"  name: x\n"
			"  version: 1.10\n"
			"  author: a\n"
			"  description: d\n"
			"  extraInfo: more\n",
			&m));
	ASSERT_STREQ(m->ext_version, "1.10");
	ASSERT_TRUE(m->talos_version == NULL);
	ASSERT_STREQ(m->extra_info, "more");

	/* an empty or null constraint is none, as Talos reads it */
	ASSERT_OK(parse("version: v1alpha1\n"
			"metadata: {name: x, version: '1', author: a, description: d,\n"
			"  compatibility: {talos: {version: ''}}}\n",
			&m2));
	ASSERT_TRUE(m2->talos_version == NULL);
}

TEST(manifest_unknown_keys_warn)
{
	_cleanup_(kiln_ext_manifest_freep) struct kiln_ext_manifest *m = NULL;

	ASSERT_OK(parse("version: v1alpha1\n"
			"kind: Extension\n"
			"metadata:\n"
			"  name: x\n"
			"  version: '1'\n"
			"  author: a\n"
			"  description: d\n"
			"  licence: GPL\n"
			"  compatibility:\n"
			"    talos:\n"
			"      version: '>= v1.9.0'\n"
			"      max: v2\n",
			&m));
	ASSERT_EQ(n_warnings, 3);
	ASSERT_STREQ(strbuf_str(&warnings),
		     "manifest.yaml:2:1: unknown key \"kind\" in the manifest, ignoring\n"
		     "manifest.yaml:8:3: unknown key \"licence\" in metadata, ignoring\n"
		     "manifest.yaml:12:7: unknown key \"max\" in metadata.compatibility.talos, "
		     "ignoring\n");
}

TEST(manifest_errors)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{ "version: v1alpha2\nmetadata: {}\n",
		  "manifest.yaml:1:10: unsupported manifest version: \"v1alpha2\"" },
		{ "metadata:\n  name: x\n",
		  "manifest.yaml:1:1: unsupported manifest version: \"\"" },
		{ "version: \"v1\\talpha1\"\n",
		  "manifest.yaml:1:10: unsupported manifest version: \"v1\\talpha1\"" },
		{ "version: v1alpha1\n",
		  "manifest.yaml:1:1: metadata is missing; add a \"metadata\" mapping with name, "
		  "version, author and description" },
		{ "version: v1alpha1\nmetadata:\n  version: '1'\n  author: a\n  description: d\n",
		  "manifest.yaml:3:3: metadata.name is missing; add \"name: <the extension's "
		  "name>\" to metadata" },
		{ "version: v1alpha1\nmetadata:\n  name: x\n  author: a\n  description: d\n",
		  "manifest.yaml:3:3: metadata.version is missing; add \"version: <the "
		  "extension's version>\" to metadata" },
		{ "version: v1alpha1\nmetadata:\n  name: x\n  version: '1'\n  description: d\n",
		  "manifest.yaml:3:3: metadata.author is missing; add \"author: <who maintains "
		  "it>\" to metadata" },
		{ "version: v1alpha1\nmetadata:\n  name: x\n  version: '1'\n  author: a\n"
		  "  description:\n",
		  "manifest.yaml:3:3: metadata.description is missing; add \"description: <what "
		  "it adds to Talos>\" to metadata" },
		{ "version: v1alpha1\nmetadata:\n  name: [x]\n",
		  "manifest.yaml:3:9: \"metadata.name\" must be a string, got a list" },
		{ "version: v1alpha1\nmetadata: hailort\n",
		  "manifest.yaml:2:11: metadata must be a mapping, got a scalar" },
		{ "version: v1alpha1\nmetadata:\n  compatibility:\n    talos: '>= v1.9.0'\n",
		  "manifest.yaml:4:12: metadata.compatibility.talos must be a mapping, got a "
		  "scalar" },
		{ "- version: v1alpha1\n",
		  "manifest.yaml:1:1: the manifest must be a mapping, got a list" },
		{ "", "manifest.yaml: manifest is empty; write \"version: v1alpha1\" and a "
		      "\"metadata\" mapping" },
		{ "version: \"v1\\0\"\n",
		  "manifest.yaml:1:10: \"version\" contains a NUL character; remove the \\0 "
		  "escape" },
		{ "base: &b {name: x}\nversion: v1alpha1\nmetadata:\n  <<: *b\n",
		  "manifest.yaml:4:3: merge keys (<<) are not supported in metadata; write the "
		  "keys out" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		ASSERT_STREQ(parse_err(cases[i].text), cases[i].error);
}

TEST(manifest_yaml_errors_are_located)
{
	ASSERT_CONTAINS(parse_err("version: v1alpha1\nmetadata: [\n"), "manifest.yaml:");
	ASSERT_CONTAINS(parse_err("version: v1alpha1\nversion: v1alpha1\n"), "manifest.yaml:2:");
}

TEST(manifest_too_big)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	struct kiln_ext_manifest *m = NULL;

	ASSERT_OK(kiln_ctx_new(&ctx));
	ASSERT_EQ(kiln_ext_manifest_parse(ctx, "m.yaml", "", (1u << 20) + 1, &m), -EFBIG);
	ASSERT_TRUE(m == NULL);
}

TAP_MAIN
