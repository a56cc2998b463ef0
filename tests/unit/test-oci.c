/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lib/oci: digests, references (docker's rules), the image model (parse,
 * serialize, rejections), and the compact JSON writer canonical documents
 * need. The store is in test-oci-store.c.
 */
#include <string.h>

#include <kiln/oci.h>

#include "json.h"
#include "strbuf.h"
#include "tap.h"
/* lib/oci's JSON readers, which are not on the include path */
#include "oci-json.h"

#define EMPTY_SHA "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIG_A "sha256:" HEX_A

static struct kiln_ctx *new_ctx(void)
{
	struct kiln_ctx *ctx = NULL;

	if (kiln_ctx_new(&ctx) < 0)
		abort();
	return ctx;
}

/* ---- digests ---- */

TEST(digest_of_and_hasher)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_hasher_freep) struct kiln_hasher *h = NULL;
	struct kiln_digest a, b;

	ASSERT_OK(kiln_digest_of(ctx, "", 0, &a));
	ASSERT_STREQ(a.s, EMPTY_SHA);
	ASSERT_STREQ(kiln_digest_hex(&a), &EMPTY_SHA[7]);
	ASSERT_OK(kiln_digest_of(ctx, "{}", 2, &a));
	ASSERT_STREQ(a.s,
		     "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");

	ASSERT_OK(kiln_hasher_new(ctx, KILN_HASH_SHA256, &h));
	ASSERT_OK(kiln_hasher_update(ctx, h, "{", 1));
	ASSERT_OK(kiln_hasher_update(ctx, h, "}", 1));
	ASSERT_OK(kiln_hasher_final(ctx, h, &b));
	ASSERT_STREQ(a.s, b.s);
	ASSERT_OK(kiln_hasher_reset(ctx, h));
	ASSERT_OK(kiln_hasher_final(ctx, h, &b));
	ASSERT_STREQ(b.s, EMPTY_SHA);
}

TEST(hasher_sha512)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_hasher_freep) struct kiln_hasher *h = NULL;
	char hex[KILN_HASH_HEX_MAX + 1];
	struct kiln_digest d;

	ASSERT_OK(kiln_hasher_new(ctx, KILN_HASH_SHA512, &h));
	ASSERT_OK(kiln_hasher_update(ctx, h, "a", 1));
	ASSERT_OK(kiln_hasher_update(ctx, h, "bc", 2));
	ASSERT_OK(kiln_hasher_final_hex(ctx, h, hex));
	ASSERT_STREQ(hex, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
			  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	/* an OCI digest is sha256: a sha512 hasher has none to give */
	ASSERT_OK(kiln_hasher_reset(ctx, h));
	ASSERT_EQ(kiln_hasher_final(ctx, h, &d), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "sha512");
}

TEST(digest_parse_rejects)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	struct kiln_digest d;

	ASSERT_TRUE(kiln_digest_is_valid(EMPTY_SHA));
	ASSERT_FALSE(kiln_digest_is_valid(NULL));
	ASSERT_FALSE(kiln_digest_is_valid(
		"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
	ASSERT_FALSE(kiln_digest_is_valid(EMPTY_SHA "0"));
	ASSERT_OK(kiln_digest_parse(ctx, EMPTY_SHA, &d));
	ASSERT_STREQ(d.s, EMPTY_SHA);

	ASSERT_EQ(kiln_digest_parse(ctx, "sha256:abc", &d), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "3 hex digits, sha256 has 64");
	ASSERT_EQ(kiln_digest_parse(ctx, "sha256:" HEX_A "A", &d), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "lowercase");
	ASSERT_EQ(kiln_digest_parse(ctx, "sha512:" HEX_A HEX_A, &d), -EOPNOTSUPP);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "sha256 only");
	ASSERT_EQ(kiln_digest_parse(ctx, HEX_A, &d), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "expected sha256:");
	ASSERT_EQ(kiln_digest_parse(ctx, "SHA256:" HEX_A, &d), -EINVAL);
	ASSERT_EQ(kiln_digest_parse(ctx, NULL, &d), -EINVAL);
}

/* ---- references ---- */

static const struct {
	const char *in, *domain, *path, *tag, *digest, *name;
} good_refs[] = {
	{ "alpine", "docker.io", "library/alpine", "latest", NULL,
	  "docker.io/library/alpine:latest" },
	{ "alpine:3.19", "docker.io", "library/alpine", "3.19", NULL, NULL },
	{ "library/alpine", "docker.io", "library/alpine", "latest", NULL, NULL },
	{ "docker.io/alpine", "docker.io", "library/alpine", "latest", NULL, NULL },
	{ "index.docker.io/alpine", "docker.io", "library/alpine", "latest", NULL, NULL },
	{ "index.docker.io/foo/bar:1", "docker.io", "foo/bar", "1", NULL,
	  "docker.io/foo/bar:1" },
	{ "foo/bar", "docker.io", "foo/bar", "latest", NULL, NULL },
	{ "foo/bar/baz", "docker.io", "foo/bar/baz", "latest", NULL, NULL },
	{ "localhost/foo", "localhost", "foo", "latest", NULL, "localhost/foo:latest" },
	{ "localhost:5000/foo/bar:v1", "localhost:5000", "foo/bar", "v1", NULL, NULL },
	{ "127.0.0.1:5005/user/hailort-pkg:TAG@" DIG_A, "127.0.0.1:5005", "user/hailort-pkg",
	  "TAG", DIG_A, "127.0.0.1:5005/user/hailort-pkg:TAG" },
	{ "alpine@" DIG_A, "docker.io", "library/alpine", NULL, DIG_A,
	  "docker.io/library/alpine@" DIG_A },
	{ "Foo/bar", "Foo", "bar", "latest", NULL, NULL },
	{ "example.com/a.b_c__d-e---f:x", "example.com", "a.b_c__d-e---f", "x", NULL, NULL },
	{ "[::1]:5000/foo", "[::1]:5000", "foo", "latest", NULL, NULL },
	{ "ghcr.io/siderolabs/kernel:v1.7.0", "ghcr.io", "siderolabs/kernel", "v1.7.0", NULL,
	  NULL },
	{ "foo:_Tag.1-x", "docker.io", "library/foo", "_Tag.1-x", NULL, NULL },
	{ "sha256:" HEX_A, "docker.io", "library/sha256", HEX_A, NULL, NULL },
};

TEST(ref_parse_docker_rules)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();

	for (size_t i = 0; i < ELEMENTSOF(good_refs); i++) {
		_cleanup_(kiln_ref_release) struct kiln_ref r = { 0 };
		_cleanup_free_ char *name = NULL, *full = NULL, *repo = NULL;

		if (kiln_ref_parse(ctx, good_refs[i].in, &r) < 0)
			TAP_FAIL("%s: %s", good_refs[i].in, kiln_ctx_error(ctx));
		ASSERT_STREQ(r.domain, good_refs[i].domain);
		ASSERT_STREQ(r.path, good_refs[i].path);
		ASSERT_TRUE((r.tag == NULL) == (good_refs[i].tag == NULL));
		if (r.tag)
			ASSERT_STREQ(r.tag, good_refs[i].tag);
		ASSERT_TRUE((r.digest == NULL) == (good_refs[i].digest == NULL));
		if (r.digest)
			ASSERT_STREQ(r.digest, good_refs[i].digest);
		name = kiln_ref_name(&r);
		if (good_refs[i].name)
			ASSERT_STREQ(name, good_refs[i].name);
		/* the full form parses back to itself */
		full = kiln_ref_string(&r);
		{
			_cleanup_(kiln_ref_release) struct kiln_ref again = { 0 };
			_cleanup_free_ char *full2 = NULL;

			ASSERT_OK(kiln_ref_parse(ctx, full, &again));
			full2 = kiln_ref_string(&again);
			ASSERT_STREQ(full, full2);
		}
		repo = kiln_ref_repository(&r);
		ASSERT_TRUE(strncmp(name, repo, strlen(repo)) == 0);
	}
}

static const struct {
	const char *in, *why;
} bad_refs[] = {
	{ "", "empty" },
	{ "Alpine", "must be lowercase" },
	{ "docker.io/Foo", "must be lowercase" },
	{ "foo:", "an empty tag" },
	{ "foo:-x", "a tag must start" },
	{ "foo:a+b", "a tag may only hold" },
	{ "foo@sha256:abc", "3 hex digits" },
	{ "foo@md5:" HEX_A, "sha256 only" },
	{ "foo@" DIG_A "@" DIG_A, "more than one '@'" },
	{ "foo//bar", "an empty path component" },
	{ "foo/bar/", "an empty path component" },
	{ "-foo", "must start with a lowercase letter or digit" },
	{ "foo..bar", "must be followed by a letter or digit" },
	{ "foo_", "must be followed by a letter or digit" },
	{ "foo___bar", "must be followed by a letter or digit" },
	{ HEX_A, "image ID" },
	{ "exa_mple.com/foo", "in the domain" },
	{ "example.com:/foo", "an empty port" },
	{ "example.com:abc/foo", "the port must be a number" },
	{ "-example.com/foo", "must not start with '-'" },
	{ "example-.com/foo", "must not end with '-'" },
	{ "example..com/foo", "an empty label" },
	{ "[::1/foo", "bracketed" },
	{ "foo bar", "may only hold" },
	{ ":tag", "no repository name" },
	{ "@" DIG_A, "no repository name before '@'" },
	{ "foo@", "expected sha256:" },
};

TEST(ref_parse_rejects)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_strbuf_ struct strbuf tag = STRBUF_INIT, name = STRBUF_INIT;
	struct kiln_ref r = { 0 };

	for (size_t i = 0; i < ELEMENTSOF(bad_refs); i++) {
		kiln_ctx_clear_error(ctx);
		if (kiln_ref_parse(ctx, bad_refs[i].in, &r) != -EINVAL)
			TAP_FAIL("\"%s\" was not refused", bad_refs[i].in);
		ASSERT_CONTAINS(kiln_ctx_error(ctx), "invalid reference");
		if (!strstr(kiln_ctx_error(ctx), bad_refs[i].why))
			TAP_FAIL("\"%s\": \"%s\" lacks \"%s\"", bad_refs[i].in,
				 kiln_ctx_error(ctx), bad_refs[i].why);
	}
	/* a tag of 128 characters is fine, 129 is not */
	strbuf_adds(&tag, "foo:");
	for (int i = 0; i < 128; i++)
		strbuf_addch(&tag, 'a');
	ASSERT_OK(kiln_ref_parse(ctx, tag.buf, &r));
	kiln_ref_release(&r);
	strbuf_addch(&tag, 'a');
	ASSERT_EQ(kiln_ref_parse(ctx, tag.buf, &r), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "at most 128");
	/* "docker.io/" + path: 255 characters in all is the most */
	strbuf_adds(&name, "docker.io/x/");
	while (name.len < 255)
		strbuf_addch(&name, 'a');
	ASSERT_OK(kiln_ref_parse(ctx, name.buf, &r));
	kiln_ref_release(&r);
	strbuf_addch(&name, 'a');
	ASSERT_EQ(kiln_ref_parse(ctx, name.buf, &r), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "longer than 255");
}

/* ---- the image model ---- */

#define DIG_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DIG_C "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* canonical: compact, image-spec order, annotations sorted */
static const char manifest_canon[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\","
	"\"config\":{\"mediaType\":\"" KILN_MT_OCI_CONFIG "\",\"digest\":\"" DIG_A "\",\"size\":7},"
	"\"layers\":[{\"mediaType\":\"" KILN_MT_OCI_LAYER_GZIP "\",\"digest\":\"" DIG_B "\","
	"\"size\":123456789012,\"annotations\":{\"a\":\"1\",\"b\":\"\xc3\xa9\\\"\"}},"
	"{\"mediaType\":\"" KILN_MT_OCI_LAYER "\",\"digest\":\"" DIG_C "\",\"size\":0,"
	"\"urls\":[\"https://x/y\"],\"data\":\"e30=\"}],"
	"\"subject\":{\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\",\"digest\":\"" DIG_C "\","
	"\"size\":3},"
	"\"annotations\":{\"org.opencontainers.image.source\":\"https://github.com/x\","
	"\"z\":\"last\"}}";

TEST(manifest_round_trip)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL, *m2 = NULL;
	_cleanup_free_ char *json = NULL, *json2 = NULL;
	/* the same manifest, pretty, keys shuffled, annotations unsorted */
	const char *in =
		"{\n  \"annotations\": {\"z\": \"last\", \"org.opencontainers.image.source\": "
		"\"https://github.com/x\"},\n  \"layers\": [\n"
		"    {\"size\": 123456789012, \"digest\": \"" DIG_B "\", \"annotations\": "
		"{\"b\": \"\\u00e9\\\"\", \"a\": \"1\"}, \"mediaType\": \"" KILN_MT_OCI_LAYER_GZIP
		"\"},\n    {\"data\": \"e30=\", \"urls\": [\"https://x/y\"], \"mediaType\": \""
		KILN_MT_OCI_LAYER "\", \"digest\": \"" DIG_C "\", \"size\": 0, \"unknown\": 1}],\n"
		"  \"config\": {\"mediaType\": \"" KILN_MT_OCI_CONFIG "\", \"size\": 7, "
		"\"digest\": \"" DIG_A "\"},\n  \"subject\": {\"mediaType\": \""
		KILN_MT_OCI_MANIFEST "\", \"digest\": \"" DIG_C "\", \"size\": 3},\n  \"mediaType\": \"" KILN_MT_OCI_MANIFEST "\",\n"
		"  \"schemaVersion\": 2\n}\n";
	size_t len;

	if (kiln_manifest_parse(ctx, in, strlen(in), &m) < 0)
		TAP_FAIL("%s", kiln_ctx_error(ctx));
	ASSERT_EQ(m->n_layers, 2);
	ASSERT_EQ(m->layers[0].size, 123456789012LL);
	ASSERT_STREQ(m->layers[0].annotations[0].key, "a");
	ASSERT_STREQ(m->layers[0].annotations[1].value, "\xc3\xa9\"");
	ASSERT_STREQ(m->config.digest.s, DIG_A);
	ASSERT_STREQ(m->subject->digest.s, DIG_C);
	ASSERT_STREQ(kiln_annotation_get(m->annotations, m->n_annotations, "z"), "last");
	ASSERT_OK(kiln_manifest_to_json(m, &json, &len));
	ASSERT_EQ(len, strlen(json));
	ASSERT_STREQ(json, manifest_canon);
	ASSERT_OK(kiln_manifest_parse(ctx, json, len, &m2));
	ASSERT_OK(kiln_manifest_to_json(m2, &json2, NULL));
	ASSERT_STREQ(json, json2);
}

TEST(manifest_docker_and_minimal)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL, *m2 = NULL;
	_cleanup_free_ char *json = NULL;
	const char *docker = "{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_DOCKER_MANIFEST
			     "\",\"config\":{\"mediaType\":\"" KILN_MT_DOCKER_CONFIG
			     "\",\"size\":1,\"digest\":\"" DIG_A "\"},\"layers\":[{\"mediaType\":\""
			     KILN_MT_DOCKER_LAYER_GZIP "\",\"size\":2,\"digest\":\"" DIG_B "\"}]}";
	/* no mediaType, no layers content: what 2.8 and skopeo accept */
	const char *bare = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" KILN_MT_OCI_EMPTY
			   "\",\"size\":2,\"digest\":\"" DIG_A "\"},\"layers\":[],"
			   "\"artifactType\":\"application/x.kiln\"}";

	ASSERT_OK(kiln_manifest_parse(ctx, docker, strlen(docker), &m));
	ASSERT_STREQ(m->media_type, KILN_MT_DOCKER_MANIFEST);
	ASSERT_OK(kiln_manifest_parse(ctx, bare, strlen(bare), &m2));
	ASSERT_TRUE(m2->media_type == NULL);
	ASSERT_EQ(m2->n_layers, 0);
	ASSERT_STREQ(m2->artifact_type, "application/x.kiln");
	ASSERT_OK(kiln_manifest_to_json(m2, &json, NULL));
	ASSERT_CONTAINS(json, "\"layers\":[]");
	ASSERT_TRUE(strstr(json, "mediaType\":\"application/vnd.oci.image.manifest") == NULL);
}

#define CFG "{\"mediaType\":\"" KILN_MT_OCI_CONFIG "\",\"digest\":\"" DIG_A "\",\"size\":7}"

static const struct {
	const char *json, *why;
	int err;
} bad_manifests[] = {
	{ "{", "not valid JSON", -EBADMSG },
	{ "[]", "expected a JSON object", -EBADMSG },
	{ "{\"config\":" CFG ",\"layers\":[]}", "schemaVersion: missing", -EBADMSG },
	{ "{\"schemaVersion\":1,\"config\":" CFG ",\"layers\":[]}", "must be 2", -EBADMSG },
	{ "{\"schemaVersion\":\"2\",\"config\":" CFG ",\"layers\":[]}", "must be 2", -EBADMSG },
	{ "{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_OCI_INDEX "\",\"manifests\":[]}",
	  "an index, not a manifest", -EBADMSG },
	{ "{\"schemaVersion\":2,\"manifests\":[]}", "an index, not a manifest", -EBADMSG },
	{ "{\"schemaVersion\":2,\"mediaType\":\"text/plain\",\"config\":" CFG ",\"layers\":[]}",
	  "not a manifest media type", -EBADMSG },
	{ "{\"schemaVersion\":2,\"layers\":[]}", "config: missing", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":" CFG "}", "layers: missing", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":{}}", "layers: expected an array",
	  -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":[],\"layers\":[]}", "config: expected a descriptor",
	  -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha256:12\","
	  "\"size\":1},\"layers\":[]}",
	  "config.digest: invalid digest", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"sha512:" HEX_A HEX_A
	  "\",\"size\":1},\"layers\":[]}",
	  "sha256 only", -EOPNOTSUPP },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
	  "\",\"size\":-1},\"layers\":[]}",
	  "config.size: must be a whole number", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
	  "\",\"size\":1.5},\"layers\":[]}",
	  "config.size: must be a whole number", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
	  "\",\"size\":9223372036854775808},\"layers\":[]}",
	  "config.size: must be a whole number", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
	  "\"},\"layers\":[]}",
	  "config.size: missing", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DIG_A "\",\"size\":1},\"layers\":[]}",
	  "config.mediaType: missing", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"nonsense\",\"digest\":\"" DIG_A
	  "\",\"size\":1},\"layers\":[]}",
	  "is not a media type", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\\u0000c\",\"digest\":\"" DIG_A
	  "\",\"size\":1},\"layers\":[]}",
	  "a NUL character", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[{\"mediaType\":\"a/b\",\"digest\":\""
	  DIG_A "\",\"size\":1,\"data\":\"!!\"}]}",
	  "layers[0]: data is not base64", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[1]}",
	  "layers[0]: expected a descriptor", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[],\"annotations\":{\"a\":1}}",
	  "annotations[\"a\"]: expected a string", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[],\"annotations\":[]}",
	  "annotations: expected an object", -EBADMSG },
	{ "{\"schemaVersion\":2,\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[]}", "duplicate",
	  -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[],\"subject\":1}",
	  "subject: expected a descriptor", -EBADMSG },
	{ "{\"schemaVersion\":2,\"config\":" CFG ",\"layers\":[],\"artifactType\":\"x\"}",
	  "artifactType is not a media type", -EBADMSG },
};

TEST(manifest_rejects)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();

	for (size_t i = 0; i < ELEMENTSOF(bad_manifests); i++) {
		struct kiln_manifest *m = NULL;
		int r;

		kiln_ctx_clear_error(ctx);
		r = kiln_manifest_parse(ctx, bad_manifests[i].json, strlen(bad_manifests[i].json),
					&m);
		if (r != bad_manifests[i].err)
			TAP_FAIL("case %zu: got %d (%s)", i, r, kiln_ctx_error(ctx));
		if (!strstr(kiln_ctx_error(ctx), bad_manifests[i].why))
			TAP_FAIL("case %zu: \"%s\" lacks \"%s\"", i, kiln_ctx_error(ctx),
				 bad_manifests[i].why);
		ASSERT_TRUE(m == NULL);
	}
}

static const char index_canon[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_OCI_INDEX "\",\"manifests\":["
	"{\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\",\"digest\":\"" DIG_A "\",\"size\":10,"
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	"{\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\",\"digest\":\"" DIG_B "\",\"size\":11,"
	"\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"},"
	"\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}],"
	"\"annotations\":{\"k\":\"v\"}}";

TEST(index_round_trip_and_rejects)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_free_ char *json = NULL;
	static const struct {
		const char *json, *why;
	} bad[] = {
		{ "{\"schemaVersion\":2,\"mediaType\":\"" KILN_MT_OCI_MANIFEST "\"}",
		  "a manifest, not an index" },
		{ "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}", "a manifest, not an index" },
		{ "{\"schemaVersion\":2}", "manifests: missing" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"a/b\",\"manifests\":[]}",
		  "not an index media type" },
		{ "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
		  "\",\"size\":1,\"platform\":{\"architecture\":\"amd64\"}}]}",
		  "manifests[0].platform.os: missing" },
		{ "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
		  "\",\"size\":1,\"platform\":\"linux\"}]}",
		  "manifests[0].platform: expected an object" },
		{ "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"" DIG_A
		  "\",\"size\":1,\"platform\":{\"architecture\":\"\",\"os\":\"linux\"}}]}",
		  "empty os or architecture" },
	};

	if (kiln_index_parse(ctx, index_canon, strlen(index_canon), &idx) < 0)
		TAP_FAIL("%s", kiln_ctx_error(ctx));
	ASSERT_EQ(idx->n_manifests, 2);
	ASSERT_STREQ(idx->manifests[1].platform->variant, "v8");
	ASSERT_OK(kiln_index_to_json(idx, &json, NULL));
	ASSERT_STREQ(json, index_canon);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct kiln_index *x = NULL;

		kiln_ctx_clear_error(ctx);
		if (kiln_index_parse(ctx, bad[i].json, strlen(bad[i].json), &x) != -EBADMSG)
			TAP_FAIL("case %zu not refused", i);
		if (!strstr(kiln_ctx_error(ctx), bad[i].why))
			TAP_FAIL("case %zu: \"%s\" lacks \"%s\"", i, kiln_ctx_error(ctx),
				 bad[i].why);
	}
}

TEST(config_keeps_unknown_fields)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_image_config_freep) struct kiln_image_config *c = NULL, *c2 = NULL;
	_cleanup_free_ char *json = NULL, *json2 = NULL;
	/* what docker writes, with members kiln does not model */
	const char *in =
		"{\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\","
		"\"os.features\":[\"x\"],\"docker_version\":\"24.0.5\","
		"\"container_config\":{\"Hostname\":\"\",\"Cmd\":null},"
		"\"config\":{\"Hostname\":\"h\",\"User\":\"0:0\",\"ExposedPorts\":{\"80/tcp\":{}},"
		"\"Env\":[\"PATH=/bin\",\"A=1\"],\"Cmd\":[\"/bin/sh\"],\"Entrypoint\":null,"
		"\"WorkingDir\":\"/w\",\"Labels\":{\"z\":\"1\",\"a\":\"2\"},"
		"\"StopSignal\":\"SIGTERM\","
		"\"Volumes\":null,\"Big\":1e400},"
		"\"created\":\"2024-01-02T03:04:05Z\",\"author\":\"kiln\","
		"\"history\":[{\"created\":\"2024-01-02T03:04:05Z\",\"created_by\":\"ADD x\"},"
		"{\"created_by\":\"ENV A=1\",\"empty_layer\":true,\"comment\":\"c\"}],"
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DIG_A "\",\"" DIG_B "\"]}}";

	if (kiln_image_config_parse(ctx, in, strlen(in), &c) < 0)
		TAP_FAIL("%s", kiln_ctx_error(ctx));
	ASSERT_STREQ(c->architecture, "arm64");
	ASSERT_STREQ(c->variant, "v8");
	ASSERT_EQ(c->n_diff_ids, 2);
	ASSERT_STREQ(c->diff_ids[1].s, DIG_B);
	ASSERT_EQ(c->n_env, 2);
	ASSERT_EQ(c->n_cmd, 1);
	ASSERT_EQ(c->n_entrypoint, 0);
	ASSERT_STREQ(c->user, "0:0");
	ASSERT_STREQ(c->working_dir, "/w");
	ASSERT_STREQ(c->labels[0].key, "a");
	ASSERT_EQ(c->n_history, 2);
	ASSERT_TRUE(c->history[1].empty_layer);
	ASSERT_EQ(c->n_extra, 3);
	ASSERT_STREQ(c->extra[0].key, "container_config");
	ASSERT_STREQ(c->extra[0].json, "{\"Hostname\":\"\",\"Cmd\":null}");
	ASSERT_EQ(c->n_config_extra, 5);
	ASSERT_OK(kiln_image_config_to_json(c, &json, NULL));
	ASSERT_STREQ(json,
		     "{\"created\":\"2024-01-02T03:04:05Z\",\"author\":\"kiln\","
		     "\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\","
		     "\"config\":{\"User\":\"0:0\",\"Env\":[\"PATH=/bin\",\"A=1\"],"
		     "\"Cmd\":[\"/bin/sh\"],\"WorkingDir\":\"/w\","
		     "\"Labels\":{\"a\":\"2\",\"z\":\"1\"},"
		     "\"Big\":1e400,\"ExposedPorts\":{\"80/tcp\":{}},\"Hostname\":\"h\","
		     "\"StopSignal\":\"SIGTERM\",\"Volumes\":null},"
		     "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DIG_A "\",\"" DIG_B "\"]},"
		     "\"history\":[{\"created\":\"2024-01-02T03:04:05Z\",\"created_by\":\"ADD x\"},"
		     "{\"created_by\":\"ENV A=1\",\"comment\":\"c\",\"empty_layer\":true}],"
		     "\"container_config\":{\"Hostname\":\"\",\"Cmd\":null},"
		     "\"docker_version\":\"24.0.5\",\"os.features\":[\"x\"]}");
	ASSERT_OK(kiln_image_config_parse(ctx, json, strlen(json), &c2));
	ASSERT_OK(kiln_image_config_to_json(c2, &json2, NULL));
	ASSERT_STREQ(json, json2);
}

TEST(config_rejects)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	static const struct {
		const char *json, *why;
	} bad[] = {
		{ "{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		  "architecture: missing" },
		{ "{\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		  "os: missing" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\"}", "rootfs: missing" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"x\","
		  "\"diff_ids\":[]}}",
		  "rootfs.type: must be \"layers\"" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}",
		  "rootfs.diff_ids: missing" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":[\"sha256:1\"]}}",
		  "rootfs.diff_ids[0]: invalid digest" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":[]},\"config\":{\"Env\":\"A=1\"}}",
		  "config.Env: expected an array of strings" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":[]},\"config\":{\"Labels\":{\"a\":true}}}",
		  "config.Labels[\"a\"]: expected a string" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":[]},\"history\":{}}",
		  "history: expected an array" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":[]},\"history\":[{\"empty_layer\":1}]}",
		  "history[0]: empty_layer must be a boolean" },
		{ "{}", "architecture: missing" },
		{ "\"x\"", "expected a JSON object" },
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct kiln_image_config *c = NULL;

		kiln_ctx_clear_error(ctx);
		if (kiln_image_config_parse(ctx, bad[i].json, strlen(bad[i].json), &c) != -EBADMSG)
			TAP_FAIL("case %zu not refused", i);
		if (!strstr(kiln_ctx_error(ctx), bad[i].why))
			TAP_FAIL("case %zu: \"%s\" lacks \"%s\"", i, kiln_ctx_error(ctx),
				 bad[i].why);
	}
}

TEST(platforms)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(kiln_platform_release) struct kiln_platform p = { 0 }, host = { 0 };
	_cleanup_free_ char *s = NULL;
	struct kiln_platform arm64 = { .os = "linux", .architecture = "arm64" };
	struct kiln_platform arm64v8 = { .os = "linux", .architecture = "arm64", .variant = "v8" };
	struct kiln_platform armv6 = { .os = "linux", .architecture = "arm", .variant = "v6" };
	struct kiln_platform arm = { .os = "linux", .architecture = "arm" };
	struct kiln_platform v7 = { .os = "linux", .architecture = "arm", .variant = "7" };

	ASSERT_OK(kiln_platform_parse(ctx, "linux/arm64/v8", &p));
	ASSERT_STREQ(p.os, "linux");
	ASSERT_STREQ(p.variant, "v8");
	s = kiln_platform_string(&p);
	ASSERT_STREQ(s, "linux/arm64/v8");
	kiln_platform_release(&p);
	ASSERT_OK(kiln_platform_parse(ctx, "linux/x86_64", &p));
	ASSERT_STREQ(p.architecture, "amd64");
	kiln_platform_release(&p);
	ASSERT_OK(kiln_platform_parse(ctx, "linux/armhf", &p));
	ASSERT_STREQ(p.architecture, "arm");
	ASSERT_STREQ(p.variant, "v7");
	kiln_platform_release(&p);
	ASSERT_OK(kiln_platform_parse(ctx, NULL, &host));
	ASSERT_STREQ(host.os, "linux");

	ASSERT_EQ(kiln_platform_parse(ctx, "linux", &p), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "expected os/architecture");
	ASSERT_EQ(kiln_platform_parse(ctx, "linux//amd64", &p), -EINVAL);
	ASSERT_EQ(kiln_platform_parse(ctx, "linux/amd64/v1/x", &p), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "more than three");
	ASSERT_EQ(kiln_platform_parse(ctx, "Linux/amd64", &p), -EINVAL);
	ASSERT_EQ(kiln_platform_parse(ctx, "", &p), -EINVAL);

	ASSERT_TRUE(kiln_platform_matches(&arm64, &arm64v8));
	ASSERT_TRUE(kiln_platform_matches(&arm64v8, &arm64));
	ASSERT_TRUE(kiln_platform_matches(&arm, &armv6));
	ASSERT_FALSE(kiln_platform_matches(&v7, &armv6));
	ASSERT_TRUE(kiln_platform_matches(&v7, &arm));
	ASSERT_FALSE(kiln_platform_matches(&arm64, &arm));
}

TEST(annotations_set_sorted)
{
	struct kiln_annotation *a = NULL;
	size_t n = 0;

	ASSERT_OK(kiln_annotation_set(&a, &n, "m", "1"));
	ASSERT_OK(kiln_annotation_set(&a, &n, "z", "2"));
	ASSERT_OK(kiln_annotation_set(&a, &n, "a", "3"));
	ASSERT_OK(kiln_annotation_set(&a, &n, "m", "4"));
	ASSERT_EQ(n, 3);
	ASSERT_STREQ(a[0].key, "a");
	ASSERT_STREQ(a[1].value, "4");
	ASSERT_STREQ(a[2].key, "z");
	ASSERT_STREQ(kiln_annotation_get(a, n, "z"), "2");
	ASSERT_TRUE(kiln_annotation_get(a, n, "q") == NULL);
	for (size_t i = 0; i < n; i++) {
		free(a[i].key);
		free(a[i].value);
	}
	free(a);
}

TEST(json_compact_writer)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT, pretty = STRBUF_INIT;
	struct json_writer w;

	json_init_compact(&w, &sb);
	json_begin_object(&w);
	json_kv_string(&w, "a", "x\"y");
	json_key(&w, "b");
	json_begin_array(&w);
	json_uint(&w, UINT64_MAX);
	json_raw(&w, "{\"k\":null}", 10);
	json_begin_object(&w);
	json_end_object(&w);
	json_end_array(&w);
	json_end_object(&w);
	ASSERT_EQ(w.error, 0);
	ASSERT_STREQ(sb.buf, "{\"a\":\"x\\\"y\",\"b\":[18446744073709551615,{\"k\":null},{}]}");

	/* pretty mode is unchanged */
	json_init(&w, &pretty);
	json_begin_object(&w);
	json_kv_string(&w, "a", "b");
	json_end_object(&w);
	ASSERT_STREQ(pretty.buf, "{\n  \"a\": \"b\"\n}\n");
}

/* ---- output parameters: written on success only ---- */

TEST(failed_reads_leave_ret_untouched)
{
	static const char doc[] = "{\"Env\":5,\"Labels\":[\"a\"],\"User\":7,\"Cmd\":[\"x\",1]}";
	static const char manifest[] = "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}";
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = new_ctx();
	_cleanup_(json_doc_freep) struct json_doc *d = NULL;
	const struct oci_parse p = { ctx, "test" };
	struct kiln_annotation sentinel_a[1], *a = sentinel_a;
	char *sentinel_v[1], **v = sentinel_v, sentinel_s[1], *str = sentinel_s;
	struct kiln_platform pl = { .os = sentinel_s };
	struct kiln_manifest *m = (struct kiln_manifest *)sentinel_v;
	size_t n = 42, n_a = 43;
	const struct json_value *root;

	ASSERT_OK(json_parse(ctx, "test", doc, strlen(doc), &d));
	root = json_doc_root(d);

	/* the wrong type, a bad member, a required one missing: a caller's values stay */
	ASSERT_EQ(oci_get_strings(&p, root, "config", "Env", &v, &n), -EBADMSG);
	ASSERT_EQ(oci_get_strings(&p, root, "config", "Cmd", &v, &n), -EBADMSG);
	ASSERT_TRUE(v == sentinel_v);
	ASSERT_EQ(n, 42);
	ASSERT_EQ(oci_get_annotations(&p, root, "config", "Labels", &a, &n_a), -EBADMSG);
	ASSERT_TRUE(a == sentinel_a);
	ASSERT_EQ(n_a, 43);
	ASSERT_EQ(oci_get_string(&p, root, "config", "User", false, &str), -EBADMSG);
	ASSERT_EQ(oci_get_string(&p, root, "config", "WorkingDir", true, &str), -EBADMSG);
	ASSERT_TRUE(str == sentinel_s);

	/* and absent ones are NULL and 0, a success */
	ASSERT_OK(oci_get_strings(&p, root, "config", "Entrypoint", &v, &n));
	ASSERT_TRUE(v == NULL);
	ASSERT_EQ(n, 0);

	/* the same through the public parsers */
	ASSERT_EQ(kiln_manifest_parse(ctx, manifest, strlen(manifest), &m), -EBADMSG);
	ASSERT_TRUE(m == (struct kiln_manifest *)sentinel_v);
	ASSERT_EQ(kiln_platform_parse(ctx, "linux", &pl), -EINVAL);
	ASSERT_TRUE(pl.os == sentinel_s);
}

TAP_MAIN
