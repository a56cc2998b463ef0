/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <time.h>

#include "strbuf.h"
#include "tap.h"
#include "yaml-tree.h"

/* Parse @text (a C string) as "t.yaml"; on failure the error text is in err. */
static char err[4096];

static int parse(const char *text, size_t len, struct yaml_doc **ret)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	int r;

	err[0] = '\0';
	if (kiln_ctx_new(&ctx) < 0)
		return -ENOMEM;
	r = yaml_parse(ctx, "t.yaml", text, len, ret);
	if (r < 0)
		snprintf(err, sizeof(err), "%s", strempty(kiln_ctx_error(ctx)));
	return r;
}

static struct yaml_doc *parse_ok(const char *text)
{
	struct yaml_doc *doc = NULL;
	int r = parse(text, strlen(text), &doc);

	if (r < 0)
		printf("# unexpected error: %s\n", err);
	return r < 0 ? NULL : doc;
}

static const char *parse_err(const char *text, size_t len)
{
	struct yaml_doc *doc = NULL;

	if (parse(text, len, &doc) >= 0) {
		yaml_doc_free(doc);
		return NULL;
	}
	return err;
}

#define PARSE_ERR(s) parse_err(s, sizeof(s) - 1)

static const char *text_of(const struct yaml_node *n)
{
	return n && n->kind == YAML_SCALAR ? n->scalar.text : NULL;
}

TEST(positions)
{
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc = parse_ok("a: 1\n"
								"b:\n"
								"  - x\n"
								"  -   y: z\n"
								"c: [p, {q: r}]\n");
	struct yaml_node *b, *c, *m;

	ASSERT_TRUE(doc);
	ASSERT_STREQ(doc->file, "t.yaml");
	ASSERT_EQ(doc->root->kind, YAML_MAPPING);
	ASSERT_EQ(doc->root->line, 1);
	ASSERT_EQ(doc->root->col, 1);
	ASSERT_EQ(doc->root->map.n, 3);
	ASSERT_EQ(yaml_map_get(doc->root, "a")->col, 4);
	b = yaml_map_get(doc->root, "b");
	ASSERT_EQ(b->kind, YAML_SEQUENCE);
	ASSERT_EQ(b->line, 3);
	ASSERT_EQ(b->col, 3);
	ASSERT_EQ(b->seq.n, 2);
	ASSERT_EQ(b->seq.items[0]->line, 3);
	ASSERT_EQ(b->seq.items[0]->col, 5);
	m = b->seq.items[1];
	ASSERT_EQ(m->kind, YAML_MAPPING);
	ASSERT_EQ(m->line, 4);
	ASSERT_EQ(m->col, 7);
	ASSERT_EQ(m->map.pairs[0].key->col, 7);
	ASSERT_EQ(m->map.pairs[0].value->col, 10);
	ASSERT_STREQ(text_of(yaml_map_get(m, "y")), "z");
	c = yaml_map_get(doc->root, "c");
	ASSERT_EQ(c->line, 5);
	ASSERT_EQ(c->col, 4);
	ASSERT_EQ(c->seq.items[1]->col, 8);
	ASSERT_STREQ(text_of(yaml_map_get(c->seq.items[1], "q")), "r");
	ASSERT_EQ(yaml_map_get(c->seq.items[1], "q")->col, 12);
}

TEST(positions_crlf_and_utf8)
{
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc = parse_ok("a: 1\r\n\"é\": ü\r\nb: 2\r\n");

	ASSERT_TRUE(doc);
	ASSERT_EQ(yaml_map_get(doc->root, "é")->line, 2);
	/* columns count characters, as editors do */
	ASSERT_EQ(yaml_map_get(doc->root, "é")->col, 6);
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "é")), "ü");
	ASSERT_EQ(yaml_map_get(doc->root, "b")->line, 3);
}

TEST(scalars_keep_text)
{
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc =
		parse_ok("v: 2.8\nb: true\nm: 0755\no: 0o17\nh: 0x1F\ne: 1e3\ny: yes\n"
			 "t: !!str 12\nneg: -0\nver: 1.10\n");

	ASSERT_TRUE(doc);
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "v")), "2.8");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "b")), "true");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "m")), "0755");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "o")), "0o17");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "h")), "0x1F");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "e")), "1e3");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "y")), "yes");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "t")), "12");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "neg")), "-0");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "ver")), "1.10");
	ASSERT_TRUE(yaml_map_get(doc->root, "v")->scalar.plain);
	ASSERT_EQ(yaml_map_get(doc->root, "v")->scalar.len, 3);
}

TEST(quoted_and_plain)
{
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc =
		parse_ok("d: \"a\\tb\\u00e9\"\ns: 'it''s'\np: plain text\nn: \"null\"\nz: "
			 "\"a\\0b\"\n");
	struct yaml_node *z;

	ASSERT_TRUE(doc);
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "d")), "a\tb\xc3\xa9");
	ASSERT_FALSE(yaml_map_get(doc->root, "d")->scalar.plain);
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "s")), "it's");
	ASSERT_FALSE(yaml_map_get(doc->root, "s")->scalar.plain);
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "p")), "plain text");
	ASSERT_TRUE(yaml_map_get(doc->root, "p")->scalar.plain);
	ASSERT_FALSE(yaml_is_null(yaml_map_get(doc->root, "n")));
	/* an escaped NUL is kept, with the length telling the whole */
	z = yaml_map_get(doc->root, "z");
	ASSERT_EQ(z->scalar.len, 3);
	ASSERT_EQ(memcmp(z->scalar.text, "a\0b", 4), 0);
}

TEST(null_forms)
{
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc =
		parse_ok("a:\nb: ~\nc: null\nd: Null\ne: NULL\nf: \"\"\ng: ''\nh: nil\ni: nULL\n"
			 "j: \"~\"\nk: [~, ]\n");
	struct yaml_node *k;

	ASSERT_TRUE(doc);
	ASSERT_TRUE(yaml_is_null(yaml_map_get(doc->root, "a")));
	ASSERT_TRUE(yaml_is_null(yaml_map_get(doc->root, "b")));
	ASSERT_TRUE(yaml_is_null(yaml_map_get(doc->root, "c")));
	ASSERT_TRUE(yaml_is_null(yaml_map_get(doc->root, "d")));
	ASSERT_TRUE(yaml_is_null(yaml_map_get(doc->root, "e")));
	ASSERT_FALSE(yaml_is_null(yaml_map_get(doc->root, "f")));
	ASSERT_FALSE(yaml_is_null(yaml_map_get(doc->root, "g")));
	ASSERT_FALSE(yaml_is_null(yaml_map_get(doc->root, "h")));
	ASSERT_FALSE(yaml_is_null(yaml_map_get(doc->root, "i")));
	ASSERT_FALSE(yaml_is_null(yaml_map_get(doc->root, "j")));
	k = yaml_map_get(doc->root, "k");
	ASSERT_EQ(k->seq.n, 1);
	ASSERT_TRUE(yaml_is_null(k->seq.items[0]));
	ASSERT_FALSE(yaml_is_null(k));
	ASSERT_FALSE(yaml_is_null(NULL));
}

TEST(block_scalars)
{
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc = parse_ok("lit: |\n"
								"  make \\\n"
								"    -j4\n"
								"  make install\n"
								"fold: >\n"
								"  one\n"
								"  two\n"
								"\n"
								"  three\n"
								"strip: |-\n"
								"  x\n"
								"keep: |+\n"
								"  y\n"
								"\n"
								"end: 1\n");

	ASSERT_TRUE(doc);
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "lit")), "make \\\n  -j4\nmake install\n");
	ASSERT_FALSE(yaml_map_get(doc->root, "lit")->scalar.plain);
	ASSERT_EQ(yaml_map_get(doc->root, "lit")->line, 1);
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "fold")), "one two\nthree\n");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "strip")), "x");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "keep")), "y\n\n");
	ASSERT_EQ(yaml_map_get(doc->root, "end")->line, 15);
}

TEST(map_get)
{
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc = parse_ok("a: 1\nl: [a]\n");

	ASSERT_TRUE(doc);
	ASSERT_TRUE(yaml_map_get(doc->root, "zz") == NULL);
	ASSERT_TRUE(yaml_map_get(doc->root, "") == NULL);
	ASSERT_TRUE(yaml_map_get(yaml_map_get(doc->root, "l"), "a") == NULL);
	ASSERT_TRUE(yaml_map_get(NULL, "a") == NULL);
	ASSERT_STREQ(yaml_kind_name(YAML_SEQUENCE), "a list");
}

TEST(duplicate_keys)
{
	ASSERT_STREQ(PARSE_ERR("name: a\nx: 1\nname: b\n"),
		     "t.yaml:3:1: mapping key \"name\" already defined at line 1");
	/* quoting does not make a different key */
	ASSERT_STREQ(PARSE_ERR("steps:\n  - env:\n      A: 1\n      \"A\": 2\n"),
		     "t.yaml:4:7: mapping key \"A\" already defined at line 3");
	ASSERT_STREQ(PARSE_ERR("{a: 1, a: 2}"),
		     "t.yaml:1:8: mapping key \"a\" already defined at line 1");
	/* the same key in different mappings is fine */
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc = parse_ok("a: {k: 1}\nb: {k: 2}\n");
	ASSERT_TRUE(doc);
}

TEST(duplicate_keys_many)
{
	/* enough keys that a quadratic check would show; the last one repeats the first */
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	const char *e;

	for (int i = 0; i < 200000; i++)
		ASSERT_OK(strbuf_addf(&sb, "k%d: %d\n", i, i));
	ASSERT_OK(strbuf_adds(&sb, "k0: again\n"));
	e = parse_err(sb.buf, sb.len);
	ASSERT_STREQ(e, "t.yaml:200001:1: mapping key \"k0\" already defined at line 1");
}

TEST(non_scalar_keys)
{
	ASSERT_STREQ(PARSE_ERR("? [a, b]\n: c\n"),
		     "t.yaml:1:3: mapping keys must be scalars, got a list; quote the key");
	ASSERT_STREQ(PARSE_ERR("x:\n  {a: 1}: 2\n"),
		     "t.yaml:2:3: mapping keys must be scalars, got a mapping; quote the key");
	ASSERT_STREQ(PARSE_ERR("a: &m {k: v}\n*m : 1\n"),
		     "t.yaml:2:1: mapping keys must be scalars, got a mapping; quote the key");
}

static char *nested(int depth, const char *open, const char *close)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	for (int i = 0; i < depth; i++)
		strbuf_adds(&sb, open);
	for (int i = 0; i < depth; i++)
		strbuf_adds(&sb, close);
	return strbuf_detach(&sb, NULL);
}

TEST(depth_cap)
{
	_cleanup_free_ char *ok = nested(YAML_MAX_DEPTH, "[", "]");
	_cleanup_free_ char *deep = nested(YAML_MAX_DEPTH + 1, "[", "]");
	_cleanup_free_ char *deep_map = nested(YAML_MAX_DEPTH + 1, "{a: ", "}");
	struct yaml_doc *doc = NULL;
	const char *e;

	ASSERT_OK(parse(ok, strlen(ok), &doc));
	yaml_doc_free(doc);
	e = parse_err(deep, strlen(deep));
	ASSERT_STREQ(e,
		     "t.yaml:1:65: nesting deeper than 64 levels; refusing to parse the document");
	e = parse_err(deep_map, strlen(deep_map));
	ASSERT_CONTAINS(e, "nesting deeper than 64 levels");
}

TEST(depth_cap_block)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	for (int i = 0; i < 100; i++) {
		for (int j = 0; j < i; j++)
			strbuf_adds(&sb, " ");
		strbuf_addf(&sb, "k%d:\n", i);
	}
	ASSERT_STREQ(parse_err(sb.buf, sb.len),
		     "t.yaml:65:65: nesting deeper than 64 levels; refusing to parse the document");
}

TEST(aliases_share)
{
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc =
		parse_ok("base: &b {k: v, l: [1, 2]}\ncopy: *b\ns: &s text\nt: *s\nl: [*s, *b]\n");
	struct yaml_node *l;

	ASSERT_TRUE(doc);
	ASSERT_TRUE(yaml_map_get(doc->root, "copy") == yaml_map_get(doc->root, "base"));
	ASSERT_STREQ(text_of(yaml_map_get(yaml_map_get(doc->root, "copy"), "k")), "v");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "t")), "text");
	l = yaml_map_get(doc->root, "l");
	ASSERT_EQ(l->seq.n, 2);
	ASSERT_TRUE(l->seq.items[1] == yaml_map_get(doc->root, "base"));
}

TEST(aliases_redefined)
{
	/* an alias refers to the most recent anchor of its name */
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc =
		parse_ok("a: &x one\nb: *x\nc: &x [&x two, *x]\nd: *x\n");

	ASSERT_TRUE(doc);
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "b")), "one");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "c")->seq.items[1]), "two");
	ASSERT_STREQ(text_of(yaml_map_get(doc->root, "d")), "two");
}

TEST(alias_errors)
{
	ASSERT_STREQ(PARSE_ERR("a: *nope\n"),
		     "t.yaml:1:4: unknown anchor \"nope\" referenced; define it with &nope before "
		     "using it");
	ASSERT_STREQ(PARSE_ERR("a: &x [1, *x]\n"),
		     "t.yaml:1:11: anchor \"x\" value contains itself");
	ASSERT_CONTAINS(PARSE_ERR("a: &x {b: {c: *x}}\n"), "anchor \"x\" value contains itself");
}

TEST(alias_bomb)
{
	static const char bomb[] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
				   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
				   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
				   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
				   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
				   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
				   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
				   "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
				   "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	const char *e = PARSE_ERR(bomb);

	ASSERT_TRUE(e);
	/* refused at the first alias that goes over, on the line of "f" */
	ASSERT_CONTAINS(e, "t.yaml:6:");
	ASSERT_CONTAINS(e, "document has more than 1000000 nodes with its aliases expanded");
}

TEST(alias_bomb_bytes)
{
	/* few nodes, but each alias brings 1 MiB of text along */
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	ASSERT_OK(strbuf_adds(&sb, "a: &a \""));
	for (int i = 0; i < (1 << 20); i++)
		ASSERT_OK(strbuf_addch(&sb, 'x'));
	ASSERT_OK(strbuf_adds(&sb, "\"\nb: ["));
	for (int i = 0; i < 100; i++)
		ASSERT_OK(strbuf_adds(&sb, "*a, "));
	ASSERT_OK(strbuf_adds(&sb, "]\n"));
	ASSERT_CONTAINS(parse_err(sb.buf, sb.len), "aliases expand to more than 64 MiB of text");
}

TEST(node_limit)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	for (int i = 0; i < YAML_MAX_NODES; i++)
		ASSERT_OK(strbuf_adds(&sb, "- x\n"));
	/* the list itself is a node too */
	ASSERT_STREQ(parse_err(sb.buf, sb.len),
		     "t.yaml:1000000:3: document has more than 1000000 nodes; refusing to "
		     "parse it");
}

TEST(documents)
{
	struct yaml_doc *doc = NULL;

	ASSERT_STREQ(PARSE_ERR("a: 1\n---\nb: 2\n"),
		     "t.yaml:2:1: more than one YAML document; a file holds exactly one (remove "
		     "the extra '---')");
	ASSERT_CONTAINS(PARSE_ERR("--- a\n--- b\n"), "t.yaml:2:1: more than one YAML document");
	doc = parse_ok("---\na: 1\n...\n");
	ASSERT_TRUE(doc);
	ASSERT_EQ(doc->root->line, 2);
	yaml_doc_free(doc);
	doc = parse_ok("%YAML 1.1\n---\na: 1\n");
	ASSERT_TRUE(doc);
	yaml_doc_free(doc);
}

TEST(empty_documents)
{
	static const char *const empties[] = {
		"", "\n\n", "# only a comment\n", "---\n", "--- \n...\n",
	};
	struct yaml_doc *doc;

	for (size_t i = 0; i < ELEMENTSOF(empties); i++) {
		doc = parse_ok(empties[i]);
		ASSERT_TRUE(doc);
		ASSERT_TRUE(doc->root == NULL);
		yaml_doc_free(doc);
	}
	/* an explicit null is a node, not an empty document */
	doc = parse_ok("~\n");
	ASSERT_TRUE(doc && doc->root);
	ASSERT_TRUE(yaml_is_null(doc->root));
	yaml_doc_free(doc);
	ASSERT_OK(parse(NULL, 0, &doc));
	ASSERT_TRUE(doc->root == NULL);
	yaml_doc_free(doc);
	doc = parse_ok("\"\"\n");
	ASSERT_TRUE(doc && doc->root);
	yaml_doc_free(doc);
	yaml_doc_free(NULL);
}

TEST(malformed_tab_indentation)
{
	ASSERT_STREQ(PARSE_ERR("name: a\nsteps:\n\t- build: x\n"),
		     "t.yaml:3:1: invalid YAML: found character that cannot start any token "
		     "(while scanning for the next token that starts at 3:1); YAML indents with "
		     "spaces, not tabs");
}

TEST(malformed_unclosed_quote)
{
	ASSERT_STREQ(PARSE_ERR("a: \"abc\nb: 1\n"),
		     "t.yaml:3:1: invalid YAML: found unexpected end of stream (while scanning a "
		     "quoted scalar that starts at 1:4)");
}

TEST(malformed_other)
{
	ASSERT_STREQ(PARSE_ERR("a: b: c\n"),
		     "t.yaml:1:5: invalid YAML: mapping values are not allowed in this context");
	ASSERT_CONTAINS(PARSE_ERR("a: [1, 2\n"), "t.yaml:2:1: invalid YAML: did not find expected");
	ASSERT_CONTAINS(PARSE_ERR("a:\n  - x\n - y\n"), "t.yaml:3:2: invalid YAML:");
	ASSERT_CONTAINS(PARSE_ERR("a: !<tag\n"), "invalid YAML");
}

TEST(hostile_bytes)
{
	ASSERT_STREQ(PARSE_ERR("a: b\0c\n"),
		     "t.yaml:1:5: invalid YAML: control characters are not allowed (byte 0x00); "
		     "the file must be UTF-8 text");
	ASSERT_STREQ(PARSE_ERR("a: 1\nb: \xff\n"),
		     "t.yaml:2:4: invalid YAML: invalid leading UTF-8 octet (byte 0xff); the file "
		     "must be UTF-8 text");
	ASSERT_CONTAINS(PARSE_ERR("a: \xc3"), "invalid YAML: incomplete UTF-8 octet sequence");
	/* a UTF-16 byte order mark switches libyaml's decoder; it must cope with odd lengths */
	ASSERT_CONTAINS(PARSE_ERR("\xff\xfe" "a\0:"), "incomplete UTF-16 character");
	ASSERT_CONTAINS(PARSE_ERR("\xfe\xff\0a\0"), "incomplete UTF-16 character");
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BIG (100u << 20)

TEST(huge_inputs_bounded)
{
	_cleanup_free_ char *buf = malloc(BIG);
	struct yaml_doc *doc = NULL;
	double t0;

	ASSERT_TRUE(buf);

	/* one 100 MB scalar is valid, and parsed */
	memcpy(buf, "a: ", 3);
	memset(buf + 3, 'x', BIG - 4);
	buf[BIG - 1] = '\n';
	t0 = now();
	ASSERT_OK(parse(buf, BIG, &doc));
	ASSERT_EQ(yaml_map_get(doc->root, "a")->scalar.len, BIG - 4);
	yaml_doc_free(doc);
	printf("# 100 MB scalar: %.2f s\n", now() - t0);
	ASSERT_TRUE(now() - t0 < 60);

	/* 100 MB of list items stop at the node limit, long before the end */
	for (size_t i = 0; i + 4 <= BIG; i += 4)
		memcpy(buf + i, "- x\n", 4);
	t0 = now();
	ASSERT_CONTAINS(parse_err(buf, BIG), "document has more than 1000000 nodes");
	printf("# 100 MB of items: %.2f s\n", now() - t0);
	ASSERT_TRUE(now() - t0 < 30);

	/* 100 MB of '[' stop at the depth limit */
	memset(buf, '[', BIG);
	t0 = now();
	ASSERT_CONTAINS(parse_err(buf, BIG), "nesting deeper than 64 levels");
	printf("# 100 MB of '[': %.2f s\n", now() - t0);
	ASSERT_TRUE(now() - t0 < 30);

	/* 100 MB of NUL bytes: refused at the first */
	memset(buf, 0, BIG);
	t0 = now();
	ASSERT_CONTAINS(parse_err(buf, BIG), "t.yaml:1:1: invalid YAML: control characters");
	ASSERT_TRUE(now() - t0 < 30);
}

TAP_MAIN
