/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A TAP harness for unit tests. Write
 *
 *	TEST(name) { ASSERT_EQ(1 + 1, 2); }
 *
 * and end the file with TAP_MAIN. Each TEST is one TAP line; a failed
 * assertion prints file:line and the values as a diagnostic and ends that
 * test (not the binary). SKIP_TEST("why") marks it skipped. Exit status 77
 * when every test skipped, so meson counts the binary as skipped.
 */

#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tap_test {
	const char *name;
	void (*fn)(void);
};

#define TAP_MAX_TESTS 512

static struct tap_test tap_tests[TAP_MAX_TESTS];
static unsigned tap_n_tests;
static jmp_buf tap_jmp;
static int tap_state; /* 0 running, 1 failed, 2 skipped */
static const char *tap_skip_reason;

#define TEST(n)                                                                   \
	static void test_##n(void);                                               \
	__attribute__((constructor)) static void tap_register_##n(void)           \
	{                                                                         \
		if (tap_n_tests < TAP_MAX_TESTS)                                  \
			tap_tests[tap_n_tests++] = (struct tap_test){ #n, test_##n }; \
	}                                                                         \
	static void test_##n(void)

#define TAP_FAIL(...)                                                   \
	do {                                                            \
		printf("# %s:%d: ", __FILE__, __LINE__);                \
		printf(__VA_ARGS__);                                    \
		printf("\n");                                           \
		tap_state = 1;                                          \
		longjmp(tap_jmp, 1);                                    \
	} while (0)

#define SKIP_TEST(why)                     \
	do {                               \
		tap_skip_reason = (why);   \
		tap_state = 2;             \
		longjmp(tap_jmp, 1);       \
	} while (0)

#define ASSERT_TRUE(x)                                          \
	do {                                                    \
		if (!(x))                                       \
			TAP_FAIL("assertion failed: %s", #x);   \
	} while (0)

#define ASSERT_FALSE(x) ASSERT_TRUE(!(x))

#define ASSERT_EQ(a, b)                                                                     \
	do {                                                                                \
		intmax_t _a = (intmax_t)(a), _b = (intmax_t)(b);                            \
		if (_a != _b)                                                               \
			TAP_FAIL("%s == %s: %jd != %jd", #a, #b, _a, _b);                   \
	} while (0)

#define ASSERT_OK(x)                                                                        \
	do {                                                                                \
		intmax_t _r = (intmax_t)(x);                                                \
		if (_r < 0)                                                                 \
			TAP_FAIL("%s failed: %s", #x, strerror((int)-_r));                  \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                  \
	do {                                                                                \
		const char *_a = (a), *_b = (b);                                            \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                      \
			TAP_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)",  \
				 _b ? _b : "(null)");                                       \
	} while (0)

/* @hay contains @needle */
#define ASSERT_CONTAINS(hay, needle)                                                        \
	do {                                                                                \
		const char *_h = (hay), *_n = (needle);                                     \
		if (!_h || !strstr(_h, _n))                                                 \
			TAP_FAIL("\"%s\" does not contain \"%s\"", _h ? _h : "(null)", _n); \
	} while (0)

/* Kept apart from tap_main() so that longjmp() clobbers no local of the loop. */
static int tap_run(unsigned i)
{
	tap_state = 0;
	if (setjmp(tap_jmp) == 0)
		tap_tests[i].fn();
	return tap_state;
}

static inline int tap_main(void)
{
	unsigned failed = 0, skipped = 0;

	printf("1..%u\n", tap_n_tests);
	for (unsigned i = 0; i < tap_n_tests; i++) {
		int state = tap_run(i);

		if (state == 2) {
			printf("ok %u - %s # SKIP %s\n", i + 1, tap_tests[i].name,
			       tap_skip_reason ? tap_skip_reason : "");
			skipped++;
		} else if (state == 1) {
			printf("not ok %u - %s\n", i + 1, tap_tests[i].name);
			failed++;
		} else {
			printf("ok %u - %s\n", i + 1, tap_tests[i].name);
		}
		fflush(stdout);
	}
	if (failed)
		return 1;
	return tap_n_tests && skipped == tap_n_tests ? 77 : 0;
}

#define TAP_MAIN            \
	int main(void)      \
	{                   \
		return tap_main(); \
	}
