/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <time.h>

#include <kiln/kiln.h>

#include "strmap.h"
#include "tap.h"
#include "template.h"

static struct kiln_ctx *ctx;
static struct strmap vars;

__attribute__((constructor)) static void setup(void)
{
	static const char *const kv[][2] = {
		{ "ARCH", "x86_64" },
		{ "VERSION", "v1.7.0" },
		{ "V", "1.2-3-4" },
		{ "REF", "0123456789abcdef" },
		{ "KVER", "6.12.3" },
		{ "EMPTY", "" },
		{ "FALSE", "false" },
	};

	if (kiln_ctx_new(&ctx) < 0)
		abort();
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (strmap_set(&vars, kv[i][0], kv[i][1]) < 0)
			abort();
}

/* Render @len bytes of @text over @m; NULL on error (then see kiln_ctx_error()). */
static char *render_len(const struct strmap *m, const char *text, size_t len, size_t *ret_len)
{
	char *out = NULL;

	kiln_ctx_clear_error(ctx);
	if (kiln_template_render(ctx, "t", text, len, m, &out, ret_len) < 0) {
		if (out)
			abort(); /* no partial output on error */
		return NULL;
	}
	return out;
}

static char *render(const char *text)
{
	return render_len(&vars, text, strlen(text), NULL);
}

#define ASSERT_RENDER(text, want)                                    \
	do {                                                         \
		char *_out = render(text);                           \
		if (!_out)                                           \
			TAP_FAIL("%s: %s", text, kiln_ctx_error(ctx)); \
		ASSERT_STREQ(_out, want);                            \
		free(_out);                                          \
	} while (0)

/* @want is the whole error text, "t:LINE:COL: message". */
#define ASSERT_FAILS(text, want)                                    \
	do {                                                        \
		char *_out = render(text);                          \
		if (_out)                                           \
			TAP_FAIL("%s rendered as \"%s\"", text, _out); \
		ASSERT_STREQ(kiln_ctx_error(ctx), want);            \
	} while (0)

TEST(text_is_copied_verbatim)
{
	static const char text[] = "a: b\0c\n}} { {x} }\n";
	size_t len;
	char *out = render_len(&vars, text, sizeof(text) - 1, &len);

	ASSERT_TRUE(out);
	ASSERT_EQ(len, sizeof(text) - 1);
	ASSERT_TRUE(memcmp(out, text, len) == 0);
	free(out);
	ASSERT_RENDER("", "");
	ASSERT_RENDER("}}", "}}");
	ASSERT_RENDER("{", "{");
}

TEST(variables)
{
	ASSERT_RENDER("arch: {{ .ARCH }}", "arch: x86_64");
	ASSERT_RENDER("{{.ARCH}}{{.VERSION}}", "x86_64v1.7.0");
	ASSERT_RENDER("{{\n\t.ARCH\n}}", "x86_64");
	ASSERT_RENDER("[{{ .EMPTY }}]", "[]");
	ASSERT_RENDER("{{ .MISSING }}", "<no value>");
	ASSERT_RENDER("{{ .arch }}", "<no value>"); /* keys are case-sensitive */

	char *out = render_len(NULL, "{{ .ARCH }}", 11, NULL);
	ASSERT_STREQ(out, "<no value>");
	free(out);
}

TEST(nul_bytes_around_actions)
{
	static const char text[] = "\0{{ .ARCH }}\0";
	size_t len;
	char *out = render_len(&vars, text, sizeof(text) - 1, &len);

	ASSERT_TRUE(out);
	ASSERT_EQ(len, 8);
	ASSERT_TRUE(memcmp(out, "\0x86_64\0", 8) == 0);
	free(out);
}

TEST(templates_in_yaml_comments_are_rendered)
{
	ASSERT_RENDER("# built for {{ .ARCH }}\nname: x # {{ .MISSING }}\n",
		      "# built for x86_64\nname: x # <no value>\n");
}

TEST(if_truthiness)
{
	ASSERT_RENDER("{{ if .ARCH }}y{{ end }}", "y");
	ASSERT_RENDER("{{ if .MISSING }}y{{ else }}n{{ end }}", "n");
	ASSERT_RENDER("{{ if .EMPTY }}y{{ else }}n{{ end }}", "n");
	ASSERT_RENDER("{{ if .FALSE }}y{{ else }}n{{ end }}", "y"); /* a non-empty string */
	ASSERT_RENDER("{{ if false }}y{{ else }}n{{ end }}", "n");
	ASSERT_RENDER("{{ if true }}y{{ else }}n{{ end }}", "y");
	ASSERT_RENDER("{{ if 0 }}y{{ else }}n{{ end }}", "n");
	ASSERT_RENDER("{{ if 7 }}y{{ else }}n{{ end }}", "y");
	ASSERT_RENDER("{{ if \"\" }}y{{ else }}n{{ end }}", "n");
	ASSERT_RENDER("{{ if eq .ARCH \"x86_64\" }}y{{ end }}", "y");
	ASSERT_RENDER("{{ if ne .ARCH \"x86_64\" }}y{{ end }}", "");
}

TEST(if_else_chain_from_the_corpus)
{
	static const char *tmpl = "ARCH: '{{ if eq .ARCH \"aarch64\"}}arm64{{ else if eq .ARCH "
				  "\"x86_64\" }}x86_64{{ else }}unsupported{{ end }}'";
	static const char *const cases[][2] = {
		{ "aarch64", "ARCH: 'arm64'" },
		{ "x86_64", "ARCH: 'x86_64'" },
		{ "riscv64", "ARCH: 'unsupported'" },
	};

	for (size_t i = 0; i < 3; i++) {
		struct strmap m = STRMAP_INIT;
		char *out;

		ASSERT_OK(strmap_set(&m, "ARCH", cases[i][0]));
		out = render_len(&m, tmpl, strlen(tmpl), NULL);
		ASSERT_STREQ(out, cases[i][1]);
		free(out);
		strmap_release(&m);
	}
	/* no ARCH at all: eq with a missing key is false, not an error */
	char *out = render_len(NULL, tmpl, strlen(tmpl), NULL);
	ASSERT_STREQ(out, "ARCH: 'unsupported'");
	free(out);
}

TEST(if_nested)
{
	ASSERT_RENDER("{{ if .ARCH }}a{{ if .MISSING }}b{{ else if .EMPTY }}c{{ else }}d"
		      "{{ if eq .ARCH \"x86_64\" }}e{{ end }}{{ end }}f{{ else }}g{{ end }}h",
		      "adefh");
	ASSERT_RENDER("{{ if .MISSING }}{{ if .ARCH }}a{{ else }}b{{ end }}{{ else }}c{{ end }}",
		      "c");
	/* only the first true branch of a chain runs */
	ASSERT_RENDER("{{ if .ARCH }}1{{ else if .ARCH }}2{{ else }}3{{ end }}", "1");
	ASSERT_RENDER("{{ if .EMPTY }}1{{ else if .MISSING }}2{{ else if .V }}3{{ else }}4{{ end }}",
		      "3");
}

TEST(if_nesting_cap)
{
	char *text = malloc(200 * 20);
	size_t n = 0;

	ASSERT_TRUE(text);
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(text + n, "{{if .ARCH}}");
	n += (size_t)sprintf(text + n, "x");
	for (int i = 0; i < 100; i++)
		n += (size_t)sprintf(text + n, "{{end}}");
	ASSERT_RENDER(text, "x");

	n = 0;
	for (int i = 0; i < 101; i++)
		n += (size_t)sprintf(text + n, "{{if .ARCH}}");
	for (int i = 0; i < 101; i++)
		n += (size_t)sprintf(text + n, "{{end}}");
	/* the 101st {{if}} starts at byte 1200, its keyword at 1203 */
	ASSERT_FAILS(text, "t:1:1203: {{if}} nested deeper than 100 levels");
	free(text);
}

TEST(eq_ne)
{
	ASSERT_RENDER("{{ eq .ARCH \"x86_64\" }}", "true");
	ASSERT_RENDER("{{ eq .ARCH \"aarch64\" }}", "false");
	ASSERT_RENDER("{{ ne .ARCH \"aarch64\" }}", "true");
	ASSERT_RENDER("{{ eq .ARCH \"a\" \"b\" \"x86_64\" }}", "true");
	ASSERT_RENDER("{{ eq .ARCH \"a\" \"b\" }}", "false");
	ASSERT_RENDER("{{ eq 7 7 }} {{ eq 7 8 }} {{ ne 0 1 }}", "true false true");
	ASSERT_RENDER("{{ eq true true }} {{ eq true false }}", "true false");
	ASSERT_RENDER("{{ eq .EMPTY \"\" }} {{ eq .ARCH `x86_64` }}", "true true");
	ASSERT_RENDER("{{ .ARCH | eq \"x86_64\" }}", "true");
	/* Go 1.18+: a missing key equals only another missing key */
	ASSERT_RENDER("{{ eq .MISSING \"x\" }}", "false");
	ASSERT_RENDER("{{ eq .MISSING \"\" }}", "false");
	ASSERT_RENDER("{{ ne .MISSING \"\" }}", "true");
	ASSERT_RENDER("{{ eq .MISSING .ALSO_MISSING }}", "true");
	ASSERT_RENDER("{{ eq .MISSING 1 }}", "false");
	ASSERT_RENDER("{{ if ne .BUILD_ARG_TEST_STAGE \"\" }}stage{{ end }}", "stage");
	ASSERT_FAILS("{{ eq \"1\" 1 }}",
		     "t:1:4: error calling eq: incompatible types for comparison: string and int");
	ASSERT_FAILS("{{ ne true \"true\" }}",
		     "t:1:4: error calling ne: incompatible types for comparison: bool and string");
	ASSERT_FAILS("{{ eq \"x\" }}", "t:1:4: error calling eq: missing argument for comparison");
	ASSERT_FAILS("{{ eq }}", "t:1:4: wrong number of args for eq: want at least 1 got 0");
	ASSERT_FAILS("{{ ne 1 }}", "t:1:4: wrong number of args for ne: want 2 got 1");
	ASSERT_FAILS("{{ ne 1 2 3 }}", "t:1:4: wrong number of args for ne: want 2 got 3");
}

TEST(pipes)
{
	ASSERT_RENDER("{{ .V | replace \"-\" \".\" }}", "1.2.3.4");
	ASSERT_RENDER("{{ .VERSION | trimPrefix \"v\" }}", "1.7.0");
	ASSERT_RENDER("{{ .VERSION | trimPrefix \"v\" | replace \".\" \"_\" }}", "1_7_0");
	ASSERT_RENDER("{{ \"a-b\" | replace \"-\" \"+\" | replace \"+\" \"=\" }}", "a=b");
	/* a trailing pipe passes the value through, as Go's parser allows */
	ASSERT_RENDER("{{ .ARCH | }}", "x86_64");
	/* the piped value is the LAST argument: here it becomes the replacement */
	ASSERT_RENDER("{{ .KVER | regexReplaceAll \"(\\\\d+)(.\\\\d+)(\\\\.\\\\d+)?$\" \"${1}\" }}",
		      "${1}");
	ASSERT_RENDER("{{ \"1.2\" | regexReplaceAll \"(\\\\d+)(.\\\\d+)(\\\\.\\\\d+)?$\" \"v9.8\" }}",
		      "v1.2");
	ASSERT_FAILS("{{ .X | \"a\" }}", "t:1:9: non executable command in pipeline stage 2");
	ASSERT_FAILS("{{ .X | 1 }}", "t:1:9: non executable command in pipeline stage 2");
	ASSERT_FAILS("{{ .ARCH | .V }}", "t:1:12: can't give argument to non-function .V");
	ASSERT_FAILS("{{ \"a\" \"b\" }}", "t:1:4: can't give argument to non-function \"a\"");
	ASSERT_FAILS("{{ .X | | .Y }}", "t:1:9: empty command");
	ASSERT_FAILS("{{ | .Y }}", "t:1:4: unexpected \"|\" in command");
	ASSERT_FAILS("{{ .ARCH | replace \"a\" }}",
		     "t:1:12: wrong number of args for replace: want 3 got 2");
}

TEST(replace)
{
	ASSERT_RENDER("{{ replace \"_\" \".\" \"1_2_3\" }}", "1.2.3");
	ASSERT_RENDER("{{ replace \"x\" \".\" \"abc\" }}", "abc");
	ASSERT_RENDER("{{ replace \"abc\" \"\" \"abcabcab\" }}", "ab");
	ASSERT_RENDER("{{ replace \"aa\" \"b\" \"aaaaa\" }}", "bba");
	/* Go: an empty OLD matches before every UTF-8 sequence and at the end */
	ASSERT_RENDER("{{ replace \"\" \"-\" \"ab\\u00e9\" }}", "-a-b-\u00e9-");
	ASSERT_RENDER("{{ replace \"\" \"-\" \"\" }}", "-");
	ASSERT_FAILS("{{ replace \"a\" \"b\" }}", "t:1:4: wrong number of args for replace: want 3 got 2");
	ASSERT_FAILS("{{ replace \"a\" \"b\" \"c\" \"d\" }}",
		     "t:1:4: wrong number of args for replace: want 3 got 4");
	ASSERT_FAILS("{{ replace 1 \"b\" \"c\" }}", "t:1:12: expected string; found 1");
	ASSERT_FAILS("{{ replace \"a\" true \"c\" }}", "t:1:16: expected string; found true");
	ASSERT_FAILS("{{ replace \"a\" \"b\" .MISSING }}", "t:1:20: invalid value; expected string");
	ASSERT_FAILS("{{ .MISSING | replace \"a\" \"b\" }}", "t:1:4: invalid value; expected string");
	ASSERT_FAILS("{{ 7 | replace \"a\" \"b\" }}",
		     "t:1:4: wrong type for value; expected string; got int");
	ASSERT_FAILS("{{ eq 1 1 | replace \"a\" \"b\" }}",
		     "t:1:4: wrong type for value; expected string; got bool");
	/* a function without arguments in operand position is a call */
	ASSERT_FAILS("{{ replace \"a\" \"b\" substr }}",
		     "t:1:20: wrong number of args for substr: want 3 got 0");
}

TEST(trim_prefix)
{
	ASSERT_RENDER("{{ trimPrefix \"v\" .VERSION }}", "1.7.0");
	ASSERT_RENDER("{{ trimPrefix \"x\" .VERSION }}", "v1.7.0");
	ASSERT_RENDER("{{ trimPrefix \"v1.7.0v\" .VERSION }}", "v1.7.0");
	ASSERT_RENDER("{{ trimPrefix \"\" .VERSION }}", "v1.7.0");
	ASSERT_RENDER("{{ trimPrefix \"v\" \"vv\" }}", "v");
	ASSERT_FAILS("{{ trimPrefix \"v\" }}",
		     "t:1:4: wrong number of args for trimPrefix: want 2 got 1");
}

TEST(substr)
{
	ASSERT_RENDER("{{ substr 0 7 .REF }}", "0123456");
	ASSERT_RENDER("{{ substr 0 7 \"abc\" }}", "abc");
	ASSERT_RENDER("{{ substr 2 -1 \"hello\" }}", "llo");
	ASSERT_RENDER("{{ substr -1 2 \"hello\" }}", "he");
	ASSERT_RENDER("{{ substr 3 100 \"hello\" }}", "lo");
	ASSERT_RENDER("{{ substr 2 2 \"hello\" }}", "");
	ASSERT_RENDER("{{ substr 5 -1 \"hello\" }}", "");
	ASSERT_RENDER("{{ .REF | substr 10 12 }}", "ab");
	ASSERT_FAILS("{{ substr 3 2 \"hello\" }}",
		     "t:1:4: error calling substr: runtime error: slice bounds out of range [3:2]");
	ASSERT_FAILS("{{ substr -1 9 \"hello\" }}", "t:1:4: error calling substr: runtime error: "
						    "slice bounds out of range [:9] with length 5");
	ASSERT_FAILS("{{ substr -1 -2 \"hello\" }}",
		     "t:1:4: error calling substr: runtime error: slice bounds out of range [:-2]");
	ASSERT_FAILS("{{ substr 9 -1 \"hello\" }}",
		     "t:1:4: error calling substr: runtime error: slice bounds out of range [9:5]");
	ASSERT_FAILS("{{ substr \"0\" 7 .REF }}", "t:1:11: expected integer; found \"0\"");
	ASSERT_FAILS("{{ substr .ARCH 7 .REF }}",
		     "t:1:11: wrong type for value; expected int; got string");
	ASSERT_FAILS("{{ substr .MISSING 7 .REF }}", "t:1:11: invalid value; expected int");
	ASSERT_FAILS("{{ substr 0 7 7 }}", "t:1:15: expected string; found 7");
}

/* "RE" as it is written in a template: a Go string, so \\d is the regex \d */
#define RRA "{{ regexReplaceAll "

TEST(regex_replace_all)
{
	/* the patterns real trees use */
	ASSERT_RENDER(RRA "\"(\\\\d+)(.\\\\d+)(\\\\.\\\\d+)?$\" .KVER \"${1}\" }}", "6");
	ASSERT_RENDER(RRA "\"(\\\\d+)(.\\\\d+)(\\\\.\\\\d+)?$\" \"10.2\" \"${1}${2}\" }}", "10.2");
	ASSERT_RENDER(RRA "\".\\\\d+$\" .KVER \"\" }}", "6.12");
	ASSERT_RENDER(RRA "\".\\\\d+\\\\.\\\\d+$\" .KVER \"\" }}", "6");
	ASSERT_RENDER(RRA "\"\\\\.0$\" \"1.0\" \"\" }}", "1");
	ASSERT_RENDER(RRA "\"\\\\.0$\" \"1.0.1\" \"\" }}", "1.0.1");
	/* ${1} without a group is empty */
	ASSERT_RENDER(RRA "\"\\\\.0$\" \"1.0\" \"x${1}y\" }}", "1xy");
	/* Go's ReplaceAllString: no replacement for an empty match right after a match */
	ASSERT_RENDER(RRA "\"a*\" \"baaac\" \"X\" }}", "XbXcX");
	ASSERT_RENDER(RRA "\"\" \"abc\" \"-\" }}", "-a-b-c-");
	ASSERT_RENDER(RRA "\"\" \"\\u00e9\" \"-\" }}", "-\u00e9-");
	ASSERT_RENDER(RRA "\"x*\" \"\" \"-\" }}", "-");
	/* the examples of Go's regexp documentation */
	ASSERT_RENDER(RRA "\"a(x*)b\" \"-ab-axxb-\" \"T\" }}", "-T-T-");
	ASSERT_RENDER(RRA "\"a(x*)b\" \"-ab-axxb-\" \"$1\" }}", "--xx-");
	ASSERT_RENDER(RRA "\"a(x*)b\" \"-ab-axxb-\" \"$1W\" }}", "---");
	ASSERT_RENDER(RRA "\"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }}", "-W-xxW-");
	ASSERT_RENDER(RRA "\"a(?P<x>x*)b\" \"-ab-axxb-\" \"${x}W\" }}", "-W-xxW-");
	ASSERT_RENDER(RRA "\"(?P<first>\\\\w+) (?P<second>\\\\w+)\" \"hello world\" "
			  "\"$second $first\" }}",
		      "world hello");
	/* $$, malformed references stay literal, unknown groups are empty */
	ASSERT_RENDER(RRA "\"(a)\" \"a\" \"$$1\" }}", "$1");
	ASSERT_RENDER(RRA "\"(a)\" \"a\" \"${1\" }}", "${1");
	ASSERT_RENDER(RRA "\"(a)\" \"a\" \"$\" }}", "$");
	ASSERT_RENDER(RRA "\"(a)\" \"a\" \"$-\" }}", "$-");
	ASSERT_RENDER(RRA "\"(a)\" \"a\" \"[$2][$01][$nope][${}]\" }}", "[][][][${}]");
	ASSERT_RENDER(RRA "\"(a)|(b)\" \"b\" \"[$1][$2]\" }}", "[][b]");
	/* RE2 semantics where PCRE2's defaults differ */
	ASSERT_RENDER(RRA "\"a$\" \"a\\n\" \"X\" }}", "a\n");       /* $ is the very end */
	ASSERT_RENDER(RRA "\"(?m)a$\" \"a\\nb\" \"X\" }}", "X\nb"); /* unless multi-line */
	ASSERT_RENDER(RRA "\"\\\\v\" \"\\v\\n\" \"X\" }}", "X\n");  /* \v is just VT */
	ASSERT_RENDER(RRA "\"\\\\101\" \"A\" \"X\" }}", "X");       /* octal, no backref */
	ASSERT_RENDER(RRA "\"[[.]\" \"a[.\" \"X\" }}", "aXX");
	ASSERT_RENDER(RRA "\".\" \"\\u00e9\" \"X\" }}", "X");       /* one rune */
	ASSERT_RENDER(RRA "`\\d+`" " \"a12b3\" \"#\" }}", "a#b#");
	ASSERT_RENDER(RRA "\"(?i)ABC\" \"xabcx\" \"-\" }}", "x-x");
	ASSERT_RENDER(RRA "\"a{2}\" \"aaaaa\" \"-\" }}", "--a");
	ASSERT_RENDER(RRA "\"a{,2}\" \"a{,2}\" \"-\" }}", "-"); /* a literal brace */
	ASSERT_RENDER(RRA "\"a+?\" \"aaa\" \"-\" }}", "---");
	/* Go's wording for RE2 syntax errors, and PCRE2's for the rest */
	ASSERT_FAILS(RRA "\"(\" \"a\" \"b\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: missing closing "
		     "parenthesis: `(`");
	ASSERT_FAILS(RRA "\"(a)\\\\1\" \"aa\" \"b\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: invalid escape "
		     "sequence: `\\1`");
	ASSERT_FAILS(RRA "\"a(?=b)\" \"ab\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: invalid or "
		     "unsupported Perl syntax: `(?=`");
	ASSERT_FAILS(RRA "\"a(?<!b)\" \"ab\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: invalid or "
		     "unsupported Perl syntax: `(?<`");
	ASSERT_FAILS(RRA "\"a*+\" \"a\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: invalid nested "
		     "repetition operator: `*+`");
	ASSERT_FAILS(RRA "\"**\" \"a\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: missing argument "
		     "to repetition operator: `*`");
	ASSERT_FAILS(RRA "\"a{1001}\" \"a\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: invalid repeat "
		     "count: `{1001}`");
	ASSERT_FAILS(RRA "\"\\\\K\" \"a\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: invalid escape "
		     "sequence: `\\K`");
	ASSERT_FAILS(RRA "\"(*CR)a\" \"a\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: missing argument "
		     "to repetition operator: `*`");
	ASSERT_FAILS(RRA "\"[a\" \"a\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: missing closing ]: "
		     "`[a`");
	ASSERT_FAILS(RRA "\"a\\\\\" \"a\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: trailing "
		     "backslash at end of expression: ``");
	ASSERT_FAILS(RRA "\"(?x)a\" \"a\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: error parsing regexp: invalid or "
		     "unsupported Perl syntax: `(?x`");
	ASSERT_FAILS(RRA "\"a\" \"a\" }}",
		     "t:1:4: wrong number of args for regexReplaceAll: want 3 got 2");
	/* a bad pattern in a branch not taken is never compiled, as in Go */
	ASSERT_RENDER("{{ if false }}" RRA "\"(\" \"a\" \"b\" }}{{ end }}ok", "ok");
}

TEST(regex_cost_is_bounded)
{
	/* quadratic for a backtracking engine, linear for RE2: must fail, not hang */
	size_t n = 200000, len;
	char *text = malloc(n + 64), *out;
	clock_t start = clock();

	ASSERT_TRUE(text);
	len = (size_t)sprintf(text, RRA "\"a|.*b\" \"");
	for (size_t i = 0; i < n; i++)
		text[len++] = i % 2 ? 'a' : 'c';
	len += (size_t)sprintf(text + len, "\" \"x\" }}");
	out = render_len(&vars, text, len, NULL);
	ASSERT_FALSE(out);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "regular expression too costly to match");
	ASSERT_TRUE(clock() - start < 20 * CLOCKS_PER_SEC);
	free(text);

	/* exponential backtracking */
	ASSERT_FAILS(RRA "\"(a|aa)*c\" \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabc\" \"\" }}",
		     "t:1:4: error calling regexReplaceAll: regular expression too costly to match "
		     "(kiln backtracks where Go does not)");
}

TEST(literals)
{
	ASSERT_RENDER("{{ \"a\\tb\\x41\\u00e9\\101\\\\\\\"\" }}", "a\tbA\u00e9A\\\"");
	ASSERT_RENDER("{{ \"\\U0001F600\\a\\b\\f\\n\\r\\v\" }}", "\U0001F600\a\b\f\n\r\v");
	ASSERT_RENDER("{{ `raw \\n \"x\"` }}", "raw \\n \"x\"");
	ASSERT_RENDER("{{ `a\r\nb` }}", "a\nb"); /* Go drops CR from raw strings */
	ASSERT_RENDER("{{ `}}` }}", "}}");
	ASSERT_RENDER("{{ \"}}\" }}", "}}");
	ASSERT_RENDER("{{ 42 }} {{ -7 }} {{ +3 }} {{ 0x1F }} {{ 010 }} {{ 0o17 }} {{ 0b101 }}",
		      "42 -7 3 31 8 15 5");
	ASSERT_RENDER("{{ 1_000 }} {{ 0x_ff }} {{ 0 }}", "1000 255 0");
	ASSERT_RENDER("{{ 9223372036854775807 }} {{ -9223372036854775808 }}",
		      "9223372036854775807 -9223372036854775808");
	ASSERT_RENDER("{{ true }} {{ false }}", "true false");
	ASSERT_FAILS("{{ 9223372036854775808 }}",
		     "t:1:4: integer overflow: \"9223372036854775808\"");
	ASSERT_FAILS("{{ 1x }}", "t:1:4: bad number syntax: \"1x\"");
	ASSERT_FAILS("{{ 1__0 }}", "t:1:4: illegal number syntax: \"1__0\"");
	ASSERT_FAILS("{{ 08 }}", "t:1:4: illegal number syntax: \"08\"");
	ASSERT_FAILS("{{ 0x }}", "t:1:4: illegal number syntax: \"0x\"");
	ASSERT_FAILS("{{ - }}", "t:1:4: illegal number syntax: \"-\"");
	ASSERT_FAILS("{{ 1.5 }}",
		     "t:1:4: floating-point and complex constants are not supported by kiln");
	ASSERT_FAILS("{{ 1e3 }}",
		     "t:1:4: floating-point and complex constants are not supported by kiln");
	ASSERT_FAILS("{{ \"abc }}", "t:1:4: unterminated quoted string");
	ASSERT_FAILS("{{ \"abc\n\" }}", "t:1:4: unterminated quoted string");
	ASSERT_FAILS("{{ `abc }}", "t:1:4: unterminated raw quoted string");
	ASSERT_FAILS("{{ \"a\\q\" }}", "t:1:6: invalid escape sequence in string literal");
	ASSERT_FAILS("{{ \"a\\'\" }}", "t:1:6: invalid escape sequence in string literal");
	ASSERT_FAILS("{{ \"\\x4\" }}", "t:1:5: invalid escape sequence in string literal");
	ASSERT_FAILS("{{ \"\\400\" }}", "t:1:5: invalid escape sequence in string literal");
	ASSERT_FAILS("{{ \"\\ud800\" }}", "t:1:5: invalid escape sequence in string literal");
}

TEST(trim_markers)
{
	ASSERT_RENDER("a  \n {{- .ARCH -}} \n\t b", "ax86_64b");
	ASSERT_RENDER("a {{- .ARCH }} b", "ax86_64 b");
	ASSERT_RENDER("a {{ .ARCH -}} b", "a x86_64b");
	ASSERT_RENDER("a\n{{- if .ARCH }}\nyes\n{{- end }}\nb", "a\nyes\nb");
	ASSERT_RENDER("x {{- if .MISSING -}} yes {{- else -}} no {{- end -}} y", "xnoy");
	ASSERT_RENDER("{{ 3 -}}  \n x", "3x");
	ASSERT_RENDER("x {{-3}}", "x -3"); /* "{{-3" is a number, not a trim marker */
	ASSERT_RENDER("a \n{{- /* c */ -}}\n b", "ab");
	ASSERT_RENDER(" {{- \"\" -}} ", "");
	ASSERT_FAILS("{{ .ARCH-}}", "t:1:9: bad character U+002D '-'");
}

TEST(comments)
{
	ASSERT_RENDER("a{{/* hi {{ .X }} */}}b", "ab");
	ASSERT_RENDER("a{{/* multi\nline */}}b{{ .ARCH }}", "abx86_64");
	ASSERT_RENDER("{{/**/}}", "");
	ASSERT_FAILS("{{/* x */ }}", "t:1:10: comment ends before closing delimiter");
	ASSERT_FAILS("\n  {{/* x", "t:2:3: unclosed comment");
	ASSERT_FAILS("{{ /* x */ }}", "t:1:4: unrecognized character in action: U+002F '/'");
}

TEST(error_positions)
{
	ASSERT_FAILS("{{ frob }}", "t:1:4: function \"frob\" not defined");
	ASSERT_FAILS("a\nb: {{ .X | frob 1 }}", "t:2:12: function \"frob\" not defined");
	ASSERT_FAILS("ab\n  {{ .X", "t:2:3: unclosed action");
	ASSERT_FAILS("{{", "t:1:1: unclosed action");
	ASSERT_FAILS("x: {{ .X ", "t:1:4: unclosed action");
	ASSERT_FAILS("x: {{ .X }", "t:1:10: unrecognized character in action: U+007D '}'");
	ASSERT_FAILS("{{ end }}", "t:1:4: unexpected {{end}}");
	ASSERT_FAILS("a\n\n {{else}}", "t:3:4: unexpected {{else}}");
	ASSERT_FAILS("{{ else if .X }}", "t:1:4: unexpected {{else}}");
	ASSERT_FAILS("{{ if .X }}\nabc", "t:2:4: unexpected EOF (the {{if}} at 1:4 has no {{end}})");
	ASSERT_FAILS("{{ if .X }}{{ else }}{{ else }}{{ end }}", "t:1:25: expected end; found {{else}}");
	ASSERT_FAILS("{{ if .X }}{{ end .X }}", "t:1:19: unexpected \".X\" in end");
	ASSERT_FAILS("{{ if .X }}{{ else .X }}{{ end }}", "t:1:20: unexpected \".X\" in else");
	ASSERT_FAILS("{{ }}", "t:1:4: missing value for command");
	ASSERT_FAILS("{{ if }}{{ end }}", "t:1:7: missing value for if");
	ASSERT_FAILS("{{ eq .X\"a\" }}", "t:1:9: bad character U+0022 '\"'");
	ASSERT_FAILS("{{ eq \"a\"\"b\" }}", "t:1:10: unexpected \"\"b\"\" in operand");
	ASSERT_FAILS("{{ eq .X if }}", "t:1:10: unexpected <if> in operand");
	ASSERT_FAILS("{{ # }}", "t:1:4: unrecognized character in action: U+0023 '#'");
	/* columns are bytes, after multi-byte text */
	ASSERT_FAILS("\u00e9\u00e9 {{ frob }}", "t:1:9: function \"frob\" not defined");
	/* syntax errors anywhere come first, even in branches not taken */
	ASSERT_FAILS("{{ if false }}{{ frob }}{{ end }}", "t:1:18: function \"frob\" not defined");
	ASSERT_FAILS("{{ replace \"a\" }}{{ frob }}", "t:1:21: function \"frob\" not defined");
	/* evaluation errors only where evaluated */
	ASSERT_RENDER("{{ if false }}{{ replace \"a\" }}{{ end }}ok", "ok");
	ASSERT_RENDER("{{ if .ARCH }}ok{{ else if replace }}{{ end }}", "ok");
}

TEST(unsupported_constructs)
{
	ASSERT_FAILS("{{ range .X }}{{ end }}", "t:1:4: {{range}} is not supported by kiln");
	ASSERT_FAILS("{{ with .X }}{{ end }}", "t:1:4: {{with}} is not supported by kiln");
	ASSERT_FAILS("{{ define \"x\" }}{{ end }}", "t:1:4: {{define}} is not supported by kiln");
	ASSERT_FAILS("{{ template \"x\" }}", "t:1:4: {{template}} is not supported by kiln");
	ASSERT_FAILS("{{ block \"x\" . }}{{ end }}", "t:1:4: {{block}} is not supported by kiln");
	ASSERT_FAILS("{{ $x := 1 }}", "t:1:4: variables ($x) are not supported by kiln");
	ASSERT_FAILS("{{ (.X) }}", "t:1:4: parenthesized pipelines are not supported by kiln");
	ASSERT_FAILS("{{ .X.Y }}",
		     "t:1:4: nested fields and field chains (.X.Y) are not supported by kiln");
	ASSERT_FAILS("{{ . }}", "t:1:4: {{.}} (the whole variable map) is not supported by kiln");
	ASSERT_FAILS("{{ printf \"%s\" .X }}", "t:1:4: function \"printf\" is not supported by kiln");
	ASSERT_FAILS("{{ if and .X .Y }}{{ end }}",
		     "t:1:7: function \"and\" is not supported by kiln");
	ASSERT_FAILS("{{ not .X }}", "t:1:4: function \"not\" is not supported by kiln");
	ASSERT_FAILS("{{ len .X }}", "t:1:4: function \"len\" is not supported by kiln");
	ASSERT_FAILS("{{ index .X 1 }}", "t:1:4: function \"index\" is not supported by kiln");
	ASSERT_FAILS("{{ 'a' }}", "t:1:4: character constants are not supported by kiln");
	ASSERT_FAILS("{{ nil }}", "t:1:4: {{nil}} is not supported by kiln");
	ASSERT_FAILS("{{ eq .X nil }}", "t:1:10: nil is not supported by kiln");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(large_input)
{
	size_t n = 100u << 20, len;
	char *text = malloc(n + 1), *out;
	double start;

	ASSERT_TRUE(text);
	/* 100 MB of YAML-ish text with an action every 64 KiB */
	for (size_t i = 0; i < n; i++)
		text[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
	for (size_t i = 65536; i + 16 < n; i += 65536)
		memcpy(text + i, "{{ .ARCH      }}", 16);
	start = now();
	out = render_len(&vars, text, n, &len);
	ASSERT_TRUE(out);
	ASSERT_EQ(len, n - (n / 65536 - 1) * 10);
	ASSERT_TRUE(now() - start < 20.0);
	free(out);

	/* an unclosed action at the very start, a huge string: linear, then an error */
	memcpy(text, "{{ \"", 4);
	memset(text + 4, 'x', n - 4);
	ASSERT_FALSE(render_len(&vars, text, n, NULL));
	ASSERT_STREQ(kiln_ctx_error(ctx), "t:1:4: unterminated quoted string");
	memcpy(text, "{{/*", 4);
	ASSERT_FALSE(render_len(&vars, text, n, NULL));
	ASSERT_STREQ(kiln_ctx_error(ctx), "t:1:1: unclosed comment");
	text[n - 1] = '\n';
	memcpy(text, "{{ if .ARCH }}", 14);
	ASSERT_FALSE(render_len(&vars, text, n, NULL));
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "unexpected EOF (the {{if}} at 1:4 has no {{end}})");

	/* 2 million small actions (the bounds are loose enough for sanitizer builds) */
	n = 20u << 20;
	for (size_t i = 0; i + 10 <= n; i += 10)
		memcpy(text + i, "{{.ARCH}}\n", 10);
	start = now();
	out = render_len(&vars, text, n / 10 * 10, &len);
	ASSERT_TRUE(out);
	ASSERT_EQ(len, n / 10 * 7);
	ASSERT_TRUE(now() - start < 20.0);
	free(out);
	free(text);
}

TEST(output_is_capped)
{
	/* 16 KiB inserted at each of 16385 places: over 256 MiB */
	size_t n = 16384;
	char *big = malloc(n + 1), *out;
	struct strmap m = STRMAP_INIT;

	ASSERT_TRUE(big);
	memset(big, 'x', n);
	big[n] = '\0';
	ASSERT_OK(strmap_set(&m, "BIG", big));
	out = render_len(&m, "{{ replace \"\" .BIG .BIG }}", 26, NULL);
	ASSERT_FALSE(out);
	ASSERT_STREQ(kiln_ctx_error(ctx), "t:1:4: error calling replace: result exceeds 256 MiB");
	strmap_release(&m);
	free(big);
}

TAP_MAIN
