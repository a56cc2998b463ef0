/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lib/kmod/sign.c, verify.c, collect.c and util/parallel.c: signing is
 * deterministic and thread-safe, every verdict is reachable through the API,
 * and hostile signatures (random, truncated, bit-flipped DER) give a verdict,
 * never a crash. Byte-for-byte agreement with sign-file is the integration
 * test's (test-module-sign.sh).
 */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/module.h>

#include "fileio.h"
#include "openssl-util.h"
#include "parallel.h"
#include "tap.h"

/* Made once, before the first test; the tests only read them. */
static char *dir;
static struct kiln_ctx *ctx;

/* A key and a self-signed certificate as the kernel makes them: NAME.pem (both), NAME.der. */
static int make_key(const char *name, const char *cn, bool ec, long serial)
{
	EVP_PKEY *k = ec ? EVP_EC_gen("P-384") : EVP_RSA_gen(2048);
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *e;
	X509_NAME *n;
	char path[256];
	FILE *f;
	int ok;

	if (!k || !x)
		return -ENOMEM;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_key_identifier, "hash");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	ok = X509_sign(x, k, EVP_sha256()) > 0;

	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	f = fopen(path, "we");
	ok = ok && f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) &&
	     PEM_write_X509(f, x);
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "%s/%s.der", dir, name);
	f = fopen(path, "we");
	ok = ok && f && i2d_X509_fp(f, x);
	if (f)
		fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	return ok ? 0 : -EIO;
}

static char *key_path(const char *name, const char *ext)
{
	char *s;

	if (asprintf(&s, "%s/%s.%s", dir, name, ext) < 0)
		abort();
	return s;
}

static struct kiln_signer *signer_for(const char *name, const char *hash)
{
	_cleanup_free_ char *pem = key_path(name, "pem"), *der = key_path(name, "der");
	struct kiln_signer_options o = { .key = pem, .cert = der, .hash = hash };
	struct kiln_signer *s = NULL;

	if (kiln_signer_new(ctx, &o, &s) < 0) {
		printf("# %s\n", kiln_ctx_error(ctx));
		return NULL;
	}
	return s;
}

static struct kiln_verifier *verifier_for(const char *name)
{
	_cleanup_free_ char *der = key_path(name, "der");
	struct kiln_verifier *v = NULL;

	if (kiln_verifier_new(ctx, &v) < 0 || kiln_verifier_add_cert_file(ctx, v, der) < 0)
		abort();
	return v;
}

/* A stand-in module: signing does not parse the ELF, only checks its magic. */
static uint8_t module[40000];

static void make_module(void)
{
	memcpy(module, "\177ELF", 4);
	for (size_t i = 4; i < sizeof(module); i++)
		module[i] = (uint8_t)(i * 2654435761u >> 13);
}

static struct kiln_signer *rsa_a, *rsa_b, *ecdsa;

__attribute__((constructor(200))) static void setup(void)
{
	dir = tap_temp_dir("test-sign");
	if (kiln_ctx_new(&ctx) < 0 || make_key("a", "kiln unit key A", false, 1) < 0 ||
	    make_key("b", "kiln unit key B", false, 2) < 0 ||
	    make_key("ec", "kiln unit key EC", true, 3) < 0)
		abort();
	make_module();
	rsa_a = signer_for("a", NULL);
	rsa_b = signer_for("b", "sha256");
	ecdsa = signer_for("ec", "sha384");
	if (!rsa_a || !rsa_b || !ecdsa)
		abort();
}

/* sign @s's module into a new buffer: module + trailer */
static uint8_t *signed_module(const struct kiln_signer *s, size_t *ret_len)
{
	uint8_t *out = NULL;

	if (kiln_module_sign_mem(ctx, s, module, sizeof(module), 0, &out, ret_len, NULL) < 0)
		return NULL;
	return out;
}

TEST(signer_defaults)
{
	ASSERT_STREQ(kiln_signer_hash(rsa_a), "sha512");
	ASSERT_STREQ(kiln_signer_name(rsa_a), "kiln unit key A");
	ASSERT_STREQ(kiln_signer_hash(rsa_b), "sha256");
}

TEST(rsa_signing_is_deterministic_and_laid_out_as_sign_file)
{
	_cleanup_free_ uint8_t *t1 = NULL, *t2 = NULL;
	size_t l1, l2;
	uint32_t sig_len;

	ASSERT_OK(kiln_signer_sign(ctx, rsa_a, module, sizeof(module), &t1, &l1));
	ASSERT_OK(kiln_signer_sign(ctx, rsa_a, module, sizeof(module), &t2, &l2));
	ASSERT_EQ(l1, l2);
	ASSERT_TRUE(memcmp(t1, t2, l1) == 0);
	ASSERT_TRUE(memcmp(t1 + l1 - KILN_MODSIG_MAGIC_LEN, KILN_MODSIG_MAGIC,
			   KILN_MODSIG_MAGIC_LEN) == 0);
	/* struct module_signature: 0, 0, PKCS7, 0, 0, pad, big-endian sig_len */
	const uint8_t *ms = t1 + l1 - KILN_MODSIG_MAGIC_LEN - KILN_MODSIG_INFO_LEN;
	ASSERT_EQ(ms[0] | ms[1] | ms[3] | ms[4] | ms[5] | ms[6] | ms[7], 0);
	ASSERT_EQ(ms[2], KILN_PKEY_ID_PKCS7);
	sig_len = (uint32_t)ms[8] << 24 | (uint32_t)ms[9] << 16 | (uint32_t)ms[10] << 8 | ms[11];
	ASSERT_EQ(sig_len, l1 - KILN_MODSIG_INFO_LEN - KILN_MODSIG_MAGIC_LEN);
	/* a DER SEQUENCE with a two-byte length, as sign-file's 2048-bit signatures */
	ASSERT_EQ(t1[0], 0x30);
}

TEST(sign_mem_refuses_signed_and_replaces)
{
	_cleanup_free_ uint8_t *once = NULL, *again = NULL, *replaced = NULL;
	struct kiln_sign_info info;
	size_t l1, l2, l3;

	once = signed_module(rsa_a, &l1);
	ASSERT_TRUE(once);
	ASSERT_EQ(kiln_module_sign_mem(ctx, rsa_a, once, l1, 0, &again, &l2, NULL), -EEXIST);
	/* the library says what is wrong; the option that replaces it is the CLI's */
	ASSERT_STREQ(kiln_ctx_error(ctx), "already signed");
	ASSERT_OK(kiln_module_sign_mem(ctx, rsa_a, once, l1, KILN_SIGN_REPLACE, &replaced, &l3,
				       &info));
	ASSERT_TRUE(info.replaced);
	ASSERT_EQ(info.compression, KILN_COMPRESSION_NONE);
	ASSERT_EQ(l3, l1);
	ASSERT_TRUE(memcmp(once, replaced, l1) == 0);
}

TEST(sign_mem_refuses_non_elf_and_bad_trailers)
{
	static const uint8_t text[] = "not a module at all";
	_cleanup_free_ uint8_t *out = NULL, *bad = NULL;
	size_t len, l;

	ASSERT_EQ(kiln_module_sign_mem(ctx, rsa_a, text, sizeof(text), 0, &out, &len, NULL),
		  -ENOEXEC);
	bad = signed_module(rsa_a, &l);
	ASSERT_TRUE(bad);
	bad[l - KILN_MODSIG_MAGIC_LEN - 1] ^= 0xff; /* sig_len's low byte */
	ASSERT_EQ(kiln_module_sign_mem(ctx, rsa_a, bad, l, KILN_SIGN_REPLACE, &out, &len, NULL),
		  -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "its signature is malformed");
}

TEST(compressed_modules_are_signed_inside)
{
	enum kiln_compression kinds[] = { KILN_COMPRESSION_XZ, KILN_COMPRESSION_ZSTD };
	_cleanup_free_ uint8_t *plain = NULL;
	size_t plain_len;

	plain = signed_module(rsa_a, &plain_len);
	ASSERT_TRUE(plain);
	for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
		_cleanup_free_ uint8_t *packed = NULL, *out = NULL, *unpacked = NULL;
		struct kiln_sign_info info;
		size_t packed_len, out_len, unpacked_len;

		ASSERT_OK(kiln_compress(ctx, kinds[k], module, sizeof(module), &packed,
					&packed_len));
		ASSERT_OK(kiln_module_sign_mem(ctx, rsa_a, packed, packed_len, 0, &out, &out_len,
					       &info));
		ASSERT_EQ(info.compression, kinds[k]);
		ASSERT_EQ(kiln_compression_detect(out, out_len), kinds[k]);
		ASSERT_OK(kiln_decompress(ctx, kinds[k], out, out_len, 1 << 20, &unpacked,
					  &unpacked_len));
		ASSERT_EQ(unpacked_len, plain_len);
		ASSERT_TRUE(memcmp(unpacked, plain, plain_len) == 0);
	}
}

struct thread_sign {
	uint8_t *trailer;
	size_t len;
};

static void *sign_in_thread(void *arg)
{
	struct thread_sign *t = arg;
	struct kiln_ctx *c;

	if (kiln_ctx_new(&c) < 0)
		return NULL;
	for (int i = 0; i < 4; i++) {
		free(t->trailer);
		t->trailer = NULL;
		if (kiln_signer_sign(c, rsa_a, module, sizeof(module), &t->trailer, &t->len) < 0)
			break;
	}
	kiln_ctx_free(c);
	return NULL;
}

TEST(one_signer_many_threads)
{
	struct thread_sign t[4] = { 0 };
	pthread_t th[4];

	for (int i = 0; i < 4; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, sign_in_thread, &t[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++) {
		ASSERT_TRUE(t[i].trailer);
		ASSERT_EQ(t[i].len, t[0].len);
		ASSERT_TRUE(memcmp(t[i].trailer, t[0].trailer, t[0].len) == 0);
	}
	for (int i = 0; i < 4; i++)
		free(t[i].trailer);
}

TEST(ecdsa_signs_and_verifies)
{
	_cleanup_(kiln_verifier_freep) struct kiln_verifier *v = verifier_for("ec");
	_cleanup_free_ uint8_t *m = NULL;
	struct kiln_verify_result res;
	size_t len;

	m = signed_module(ecdsa, &len);
	ASSERT_TRUE(m);
	ASSERT_OK(kiln_verify_mem(ctx, v, m, len, &res));
	ASSERT_EQ(res.verdict, KILN_VERIFY_OK);
	ASSERT_TRUE(res.has_desc);
	ASSERT_STREQ(res.desc.hash_algo, "sha384");
	kiln_verify_result_release(&res);
}

TEST(verify_verdicts)
{
	_cleanup_(kiln_verifier_freep) struct kiln_verifier *va = verifier_for("a");
	_cleanup_free_ uint8_t *m = NULL, *mb = NULL;
	struct kiln_verify_result res;
	size_t len, lb;

	m = signed_module(rsa_a, &len);
	mb = signed_module(rsa_b, &lb);
	ASSERT_TRUE(m && mb);

	ASSERT_OK(kiln_verify_mem(ctx, va, m, len, &res));
	ASSERT_EQ(res.verdict, KILN_VERIFY_OK);
	ASSERT_EQ(res.kernel_error, 0);
	ASSERT_STREQ(res.desc.signer, "kiln unit key A");
	ASSERT_STREQ(res.desc.sig_key, "01");
	ASSERT_STREQ(kiln_verify_verdict_name(res.verdict), "ok");
	kiln_verify_result_release(&res);

	ASSERT_OK(kiln_verify_mem(ctx, va, module, sizeof(module), &res));
	ASSERT_EQ(res.verdict, KILN_VERIFY_UNSIGNED);
	ASSERT_EQ(res.kernel_error, -ENODATA);
	kiln_verify_result_release(&res);

	ASSERT_OK(kiln_verify_mem(ctx, va, mb, lb, &res));
	ASSERT_EQ(res.verdict, KILN_VERIFY_OTHER_KEY);
	ASSERT_EQ(res.kernel_error, -ENOKEY);
	ASSERT_STREQ(res.desc.signer, "kiln unit key B");
	ASSERT_STREQ(res.desc.sig_key, "02");
	ASSERT_CONTAINS(res.reason, "kiln unit key B");
	kiln_verify_result_release(&res);

	m[100] ^= 1;
	ASSERT_OK(kiln_verify_mem(ctx, va, m, len, &res));
	ASSERT_EQ(res.verdict, KILN_VERIFY_CORRUPT);
	ASSERT_EQ(res.problem, KILN_VERIFY_PROBLEM_BAD_SIGNATURE);
	ASSERT_EQ(res.kernel_error, -EKEYREJECTED);
	ASSERT_STREQ(kiln_verify_problem_name(res.problem), "bad-signature");
	kiln_verify_result_release(&res);
	m[100] ^= 1;

	m[len - KILN_MODSIG_MAGIC_LEN - KILN_MODSIG_INFO_LEN] = 1; /* algo */
	ASSERT_OK(kiln_verify_mem(ctx, va, m, len, &res));
	ASSERT_EQ(res.verdict, KILN_VERIFY_CORRUPT);
	ASSERT_EQ(res.problem, KILN_VERIFY_PROBLEM_TRAILER);
	ASSERT_EQ(res.kernel_error, -EBADMSG);
	ASSERT_TRUE(kiln_ctx_error(ctx) == NULL);
	kiln_verify_result_release(&res);
}

/* xorshift: the same "random" bytes on every run */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* The module with @p7 (@p7_len bytes) put in as its signature, trailer and all. */
static size_t with_signature(uint8_t *buf, const uint8_t *p7, size_t p7_len)
{
	size_t n = 1000;

	memcpy(buf, module, n);
	memcpy(buf + n, p7, p7_len);
	n += p7_len;
	memset(buf + n, 0, KILN_MODSIG_INFO_LEN);
	buf[n + 2] = KILN_PKEY_ID_PKCS7;
	buf[n + 8] = (uint8_t)(p7_len >> 24);
	buf[n + 9] = (uint8_t)(p7_len >> 16);
	buf[n + 10] = (uint8_t)(p7_len >> 8);
	buf[n + 11] = (uint8_t)p7_len;
	n += KILN_MODSIG_INFO_LEN;
	memcpy(buf + n, KILN_MODSIG_MAGIC, KILN_MODSIG_MAGIC_LEN);
	return n + KILN_MODSIG_MAGIC_LEN;
}

static void expect_verdict(const struct kiln_verifier *v, const uint8_t *p7, size_t p7_len,
			   bool may_be_ok, unsigned *n_ok)
{
	static uint8_t buf[1000 + 4096 + 64];
	struct kiln_verify_result res;
	size_t len = with_signature(buf, p7, p7_len);
	int r = kiln_verify_mem(ctx, v, buf, len, &res);

	if (r < 0)
		TAP_FAIL("kiln_verify_mem() failed: %s", strerror(-r));
	if (res.verdict == KILN_VERIFY_OK)
		(*n_ok)++;
	if (res.verdict == KILN_VERIFY_OK && !may_be_ok)
		TAP_FAIL("a hostile signature verified");
	if (res.verdict != KILN_VERIFY_OK && !res.reason)
		TAP_FAIL("a verdict without a reason");
	kiln_verify_result_release(&res);
}

TEST(hostile_signatures_never_crash)
{
	_cleanup_(kiln_verifier_freep) struct kiln_verifier *v = verifier_for("a");
	_cleanup_free_ uint8_t *good = NULL;
	uint8_t p7[4096];
	size_t len, p7_len;
	unsigned n_ok = 0;

	ASSERT_OK(kiln_signer_sign(ctx, rsa_a, module, 1000, &good, &len));
	p7_len = len - KILN_MODSIG_INFO_LEN - KILN_MODSIG_MAGIC_LEN;
	ASSERT_TRUE(p7_len <= sizeof(p7));

	/* the good one is ok, every truncation of it is not */
	expect_verdict(v, good, p7_len, true, &n_ok);
	ASSERT_EQ(n_ok, 1);
	for (size_t cut = 1; cut < p7_len; cut++)
		expect_verdict(v, good, cut, false, &n_ok);
	/* every byte flipped in turn: some flips (an outer digestAlgorithms entry) still verify */
	for (size_t i = 0; i < p7_len; i++) {
		memcpy(p7, good, p7_len);
		p7[i] ^= (uint8_t)(1u << (rnd() % 8));
		expect_verdict(v, p7, p7_len, true, &n_ok);
	}
	/* random bytes, some behind a plausible SEQUENCE header */
	for (int round = 0; round < 2000; round++) {
		size_t n = 1 + rnd() % 1500;

		for (size_t i = 0; i < n; i++)
			p7[i] = (uint8_t)rnd();
		if (round % 2 && n > 4) {
			p7[0] = 0x30;
			p7[1] = 0x82;
			p7[2] = (uint8_t)((n - 4) >> 8);
			p7[3] = (uint8_t)(n - 4);
		}
		expect_verdict(v, p7, n, false, &n_ok);
	}
	printf("# %u of %zu bit flips still verified\n", n_ok - 1, p7_len);
}

TEST(signer_errors)
{
	_cleanup_free_ char *pem = key_path("a", "pem"), *der_b = key_path("b", "der");
	struct kiln_signer_options o = { .key = pem, .hash = "md5" };
	struct kiln_signer *s = NULL;

	ASSERT_EQ(kiln_signer_new(ctx, &o, &s), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "unknown hash 'md5'");
	o = (struct kiln_signer_options){ .key = pem, .cert = der_b };
	ASSERT_EQ(kiln_signer_new(ctx, &o, &s), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "is not the key of certificate");
	o = (struct kiln_signer_options){ .key = "/nonexistent/key.pem" };
	ASSERT_EQ(kiln_signer_new(ctx, &o, &s), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "cannot open key '/nonexistent/key.pem'");
	o = (struct kiln_signer_options){ .key = der_b };
	ASSERT_EQ(kiln_signer_new(ctx, &o, &s), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "holds no PEM private key");
}

TEST(certificate_bundles)
{
	_cleanup_(kiln_verifier_freep) struct kiln_verifier *v = NULL;
	_cleanup_free_ char *a = key_path("a", "pem"), *ec = key_path("ec", "pem");
	_cleanup_free_ char *both = key_path("both", "pem"), *cut = key_path("cut", "pem");
	_cleanup_free_ char *pa = NULL, *pec = NULL, *text = NULL;
	_cleanup_free_ uint8_t *mod = NULL;
	struct kiln_verify_result res = { 0 };
	size_t la, lec, n;

	/* a healthy OpenSSL holds every key algorithm its providers offer */
	ASSERT_OK(kiln_ssl_check_algorithms(ctx));

	ASSERT_OK(read_file_at(AT_FDCWD, a, 1 << 20, &pa, &la));
	ASSERT_OK(read_file_at(AT_FDCWD, ec, 1 << 20, &pec, &lec));
	ASSERT_TRUE(asprintf(&text, "%s%s", pa, pec) > 0);
	ASSERT_OK(write_file_atomic(both, text, strlen(text), 0644));
	ASSERT_OK(kiln_verifier_new(ctx, &v));
	ASSERT_OK(kiln_verifier_add_cert_file(ctx, v, both));
	mod = signed_module(ecdsa, &n);
	ASSERT_TRUE(mod);
	ASSERT_OK(kiln_verify_mem(ctx, v, mod, n, &res));
	ASSERT_EQ(res.verdict, KILN_VERIFY_OK);
	kiln_verify_result_release(&res);

	/* a certificate cut short after the first is an error, not a bundle of one */
	free(text);
	ASSERT_TRUE(asprintf(&text, "%s-----BEGIN CERTIFICATE-----\nMIIB\n"
				    "-----END CERTIFICATE-----\n",
			     pa) > 0);
	ASSERT_OK(write_file_atomic(cut, text, strlen(text), 0644));
	ASSERT_EQ(kiln_verifier_add_cert_file(ctx, v, cut), -EBADMSG);
	ASSERT_CONTAINS(kiln_ctx_error(ctx), "cannot read PEM certificate 2 of");
}

static int touch(const char *tree, const char *rel)
{
	_cleanup_free_ char *p = NULL;

	if (asprintf(&p, "%s/%s", tree, rel) < 0)
		return -ENOMEM;
	return write_file_atomic(p, "x", 1, 0644);
}

TEST(collect_walks_directories)
{
	_cleanup_free_ char *d = tap_temp_dir("test-sign"), *tree = path_join(d, "tree");
	_cleanup_free_ char *sub = NULL, *link = NULL, *a = NULL;
	char **paths = NULL;
	size_t n = 0;

	ASSERT_OK(mkdir(tree, 0755));
	ASSERT_TRUE(asprintf(&sub, "%s/sub", tree) > 0);
	ASSERT_TRUE(asprintf(&link, "%s/linked.ko", tree) > 0);
	ASSERT_TRUE(asprintf(&a, "%s/b.ko", tree) > 0);
	ASSERT_OK(mkdir(sub, 0755));
	ASSERT_OK(touch(tree, "b.ko"));
	ASSERT_OK(touch(tree, "a.ko.xz"));
	ASSERT_OK(touch(tree, "notes.txt"));
	ASSERT_OK(touch(tree, "c.ko.gz"));
	ASSERT_OK(touch(tree, "sub/d.ko.zst"));
	ASSERT_OK(symlink("b.ko", link));

	char *ops[] = { tree, a, (char *)"/nonexistent.ko" };
	ASSERT_OK(kiln_module_collect(ctx, ops, ELEMENTSOF(ops), &paths, &n));
	/* name order; the symlink and other names skipped; b.ko once; the missing one kept */
	ASSERT_EQ(n, 4);
	ASSERT_CONTAINS(paths[0], "/tree/a.ko.xz");
	ASSERT_CONTAINS(paths[1], "/tree/b.ko");
	ASSERT_CONTAINS(paths[2], "/tree/sub/d.ko.zst");
	ASSERT_STREQ(paths[3], "/nonexistent.ko");
	kiln_strv_free(paths, n);
}

static unsigned char seen[1000];
static size_t last_progress;

static void mark(size_t i, unsigned worker, void *userdata)
{
	__atomic_fetch_add(&seen[i], 1, __ATOMIC_RELAXED);
}

static void progress(size_t done, size_t n, void *userdata)
{
	last_progress = done;
}

TEST(parallel_for_runs_each_item_once)
{
	ASSERT_TRUE(kiln_parallel_for(ELEMENTSOF(seen), 4, mark, progress, NULL) >= 1);
	for (size_t i = 0; i < ELEMENTSOF(seen); i++)
		ASSERT_EQ(seen[i], 1);
	ASSERT_EQ(last_progress, ELEMENTSOF(seen));
	ASSERT_EQ(kiln_parallel_for(0, 4, mark, NULL, NULL), 1);
}

/* kiln_parallel_ordered(): each item once, handed back in order, never a window ahead */
static unsigned char started[1000];
static size_t handed_back, stop_at = SIZE_MAX;
static bool window_overrun;

/* on a worker thread: no ASSERT here, it would longjmp out of the thread */
static void start(size_t i, unsigned worker, void *userdata)
{
	/* every item before the window's start has been handed back */
	if (i >= __atomic_load_n(&handed_back, __ATOMIC_SEQ_CST) + 16)
		__atomic_store_n(&window_overrun, true, __ATOMIC_RELAXED);
	__atomic_fetch_add(&started[i], 1, __ATOMIC_RELAXED);
	if (i % 7 == 0)
		usleep(100); /* out of order: later items end first */
}

static int hand_back(size_t i, void *userdata)
{
	ASSERT_EQ(i, handed_back);
	ASSERT_EQ(__atomic_load_n(&started[i], __ATOMIC_RELAXED), 1);
	__atomic_fetch_add(&handed_back, 1, __ATOMIC_SEQ_CST);
	return i == stop_at ? -ECANCELED : 0;
}

TEST(parallel_ordered_hands_back_in_order)
{
	size_t n_started = 0;

	ASSERT_OK(
	    kiln_parallel_ordered(ELEMENTSOF(started), 4, 16, start, hand_back, progress, NULL));
	ASSERT_EQ(handed_back, ELEMENTSOF(started));
	ASSERT_EQ(last_progress, ELEMENTSOF(started));
	ASSERT_FALSE(window_overrun);

	/* stopped: no item starts after the one that stopped it, beyond those already running */
	memset(started, 0, sizeof(started));
	handed_back = 0;
	stop_at = 100;
	ASSERT_EQ(kiln_parallel_ordered(ELEMENTSOF(started), 4, 16, start, hand_back, NULL, NULL),
		  -ECANCELED);
	ASSERT_EQ(handed_back, 101);
	for (size_t i = 0; i < ELEMENTSOF(started); i++)
		n_started += started[i];
	ASSERT_TRUE(n_started <= 101 + 16);
	stop_at = SIZE_MAX;
	ASSERT_OK(kiln_parallel_ordered(0, 4, 16, start, hand_back, NULL, NULL));
}

/* What a batch handed back, item by item. */
struct batch_seen {
	size_t n, n_failed;
	int first_error;
	char *error;
	bool in_order;
	unsigned verified_ok;
};

static int note_item(struct kiln_module_batch_item *item, void *userdata)
{
	struct batch_seen *got = userdata;

	got->in_order = got->in_order && item->index == got->n;
	got->n++;
	if (item->r < 0 && got->n_failed++ == 0) {
		got->first_error = item->r;
		got->error = item->error ? strdup(item->error) : NULL;
	}
	got->verified_ok += item->r >= 0 && item->verify.verdict == KILN_VERIFY_OK;
	return 0;
}

TEST(batch_signs_and_verifies_each_file)
{
	_cleanup_(kiln_verifier_freep) struct kiln_verifier *v = verifier_for("a");
	_cleanup_free_ uint8_t *once = NULL;
	char *paths[40] = { 0 };
	struct batch_seen got = { .in_order = true };
	struct kiln_module_batch_options o = {
		.op = KILN_MODULE_BATCH_SIGN,
		.jobs = 3,
		.signer = rsa_a,
		.on_item = note_item,
		.userdata = &got,
	};
	size_t len;

	once = signed_module(rsa_a, &len);
	ASSERT_TRUE(once);
	for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
		ASSERT_TRUE(asprintf(&paths[i], "%s/batch-%02zu.ko", dir, i) > 0);
		/* one of them signed already */
		if (i == 17)
			ASSERT_OK(write_file_atomic(paths[i], once, len, 0644));
		else if (i != 39)
			ASSERT_OK(write_file_atomic(paths[i], module, sizeof(module), 0644));
	}
	/* and the last one missing */
	ASSERT_OK(kiln_module_batch(ctx, paths, ELEMENTSOF(paths), &o));
	ASSERT_TRUE(got.in_order);
	ASSERT_EQ(got.n, ELEMENTSOF(paths));
	ASSERT_EQ(got.n_failed, 2);
	ASSERT_EQ(got.first_error, -EEXIST);
	ASSERT_STREQ(got.error, "already signed");
	free(got.error);

	got = (struct batch_seen){ .in_order = true };
	o.op = KILN_MODULE_BATCH_VERIFY;
	o.verifier = v;
	ASSERT_OK(kiln_module_batch(ctx, paths, ELEMENTSOF(paths), &o));
	ASSERT_TRUE(got.in_order);
	ASSERT_EQ(got.verified_ok, ELEMENTSOF(paths) - 1);
	ASSERT_EQ(got.n_failed, 1);
	/* sign and verify say what failed; the caller names the file */
	ASSERT_CONTAINS(got.error, "cannot read it");
	free(got.error);

	/* an operation without what it needs is the caller's mistake */
	o.verifier = NULL;
	ASSERT_EQ(kiln_module_batch(ctx, paths, ELEMENTSOF(paths), &o), -EINVAL);
	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		free(paths[i]);
}

/* tap.h removes the directory */
__attribute__((destructor)) static void teardown(void)
{
	kiln_signer_free(rsa_a);
	kiln_signer_free(rsa_b);
	kiln_signer_free(ecdsa);
	kiln_ctx_free(ctx);
	free(dir);
}

TAP_MAIN
