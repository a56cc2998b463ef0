/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A TAP harness for unit tests. Write
 *
 *	TEST(name) { ASSERT_EQ(1 + 1, 2); }
 *
 * and end the file with TAP_MAIN. Each TEST is one TAP line and runs in a
 * child process of its own (as kmod's testsuite does): a failed assertion
 * prints file:line and the values as a diagnostic and ends that child, so
 * whatever the test held (fds, memory, processes it started, the
 * environment it changed) goes with it and the next test starts from the
 * state the binary had before any test ran. A test killed by a signal is
 * "not ok" with the signal's name. SKIP_TEST("why") marks it skipped. Exit
 * status 77 when every test skipped, so meson counts the binary as skipped.
 *
 * Scratch space: the binary's constructors run with $TMPDIR set to a new
 * directory under the caller's $TMPDIR (else /tmp), and each test with
 * $TMPDIR set to a directory of its own inside that one. Both are removed
 * when their test or the binary ends, passed or failed (KILN_TEST_KEEP=1
 * keeps a failed test's). Tests make their temporary files under $TMPDIR.
 *
 * State set up once for every test (a key, a server) is made in a
 * constructor, before the first fork; one test's changes are never seen by
 * the next. Arguments name the tests to run, all when none.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define TAP_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TAP_LSAN 1
#endif
#endif
#ifdef TAP_LSAN
#include <sanitizer/lsan_interface.h>
#endif

struct tap_test {
	const char *name;
	void (*fn)(void);
};

static struct tap_test *tap_tests;
static size_t tap_n_tests, tap_n_alloc;
static bool tap_in_test; /* in a test's child, not in the parent running them */
static char *tap_skip_reason; /* shared with the children: MAP_SHARED */
#define TAP_SKIP_REASON_MAX 1024

#define TAP_EXIT_FAIL 1
#define TAP_EXIT_SKIP 77

static void tap_register(const char *name, void (*fn)(void))
{
	if (tap_n_tests == tap_n_alloc) {
		size_t n = tap_n_alloc ? 2 * tap_n_alloc : 64;
		struct tap_test *t = realloc(tap_tests, n * sizeof(*t));

		if (!t)
			abort();
		tap_tests = t;
		tap_n_alloc = n;
	}
	tap_tests[tap_n_tests++] = (struct tap_test){ name, fn };
}

/* Constructors run in the order of the definitions, so TAP lines are in file order. */
#define TEST(n)                                                         \
	static void test_##n(void);                                     \
	__attribute__((constructor)) static void tap_register_##n(void) \
	{                                                               \
		tap_register(#n, test_##n);                             \
	}                                                               \
	static void test_##n(void)

/*
 * The end of a failed test: its child exits. Outside a test (a constructor
 * making what every test uses) the whole binary bails out.
 */
__attribute__((noreturn, unused)) static void tap_fail_exit(void)
{
	if (!tap_in_test) {
		printf("Bail out! set-up failed\n");
		fflush(stdout);
		exit(1);
	}
	fflush(stdout);
	fflush(stderr);
	_exit(TAP_EXIT_FAIL);
}

#define TAP_FAIL(...)                                    \
	do {                                             \
		printf("# %s:%d: ", __FILE__, __LINE__); \
		printf(__VA_ARGS__);                     \
		printf("\n");                            \
		tap_fail_exit();                         \
	} while (0)

__attribute__((noreturn, unused)) static void tap_skip(const char *why)
{
	if (!tap_in_test) {
		printf("Bail out! SKIP_TEST outside a test: %s\n", why);
		fflush(stdout);
		exit(1);
	}
	snprintf(tap_skip_reason, TAP_SKIP_REASON_MAX, "%s", why ? why : "");
	fflush(stdout);
	fflush(stderr);
	_exit(TAP_EXIT_SKIP);
}

#define SKIP_TEST(why) tap_skip(why)

#define ASSERT_TRUE(x)                                        \
	do {                                                  \
		if (!(x))                                     \
			TAP_FAIL("assertion failed: %s", #x); \
	} while (0)

#define ASSERT_FALSE(x) ASSERT_TRUE(!(x))

#define ASSERT_EQ(a, b)                                                   \
	do {                                                              \
		intmax_t _a = (intmax_t)(a), _b = (intmax_t)(b);          \
		if (_a != _b)                                             \
			TAP_FAIL("%s == %s: %jd != %jd", #a, #b, _a, _b); \
	} while (0)

#define ASSERT_OK(x)                                                       \
	do {                                                               \
		intmax_t _r = (intmax_t)(x);                               \
		if (_r < 0)                                                \
			TAP_FAIL("%s failed: %s", #x, strerror((int)-_r)); \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                 \
	do {                                                                               \
		const char *_a = (a), *_b = (b);                                           \
		if (!_a || !_b || strcmp(_a, _b) != 0)                                     \
			TAP_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", \
				 _b ? _b : "(null)");                                      \
	} while (0)

/* @hay contains @needle */
#define ASSERT_CONTAINS(hay, needle)                                                        \
	do {                                                                                \
		const char *_h = (hay), *_n = (needle);                                     \
		if (!_h || !strstr(_h, _n))                                                 \
			TAP_FAIL("\"%s\" does not contain \"%s\"", _h ? _h : "(null)", _n); \
	} while (0)

/* Print @text as TAP diagnostics, a "#   " line for each of its lines. */
__attribute__((unused)) static void tap_print_diag(const char *text)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");

		printf("#   %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

/*
 * Remove @name under @dfd and all it holds, making directories writable
 * first (a test may leave one read-only); nothing on another file system
 * (@dev) is entered. Whatever cannot be removed stays.
 */
static void tap_rm_rf_at(int dfd, const char *name, dev_t dev)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlinkat(dfd, name, 0);
		return;
	}
	if (st.st_dev != dev)
		return;
	if ((st.st_mode & 0700) != 0700)
		fchmodat(dfd, name, (st.st_mode & 07777) | 0700, 0);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			tap_rm_rf_at(dirfd(d), e->d_name, dev);
	closedir(d);
	unlinkat(dfd, name, AT_REMOVEDIR);
}

static void tap_rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	tap_rm_rf_at(AT_FDCWD, path, st.st_dev);
	if (access(path, F_OK) == 0)
		printf("# could not remove %s\n", path);
}

/*
 * A new directory $TMPDIR/kiln-@name.XXXXXX (/tmp without $TMPDIR), newly
 * allocated. In a test, $TMPDIR is the test's own directory, so whatever is
 * made there goes when the test ends.
 */
__attribute__((unused)) static char *tap_temp_dir(const char *name)
{
	const char *tmp = getenv("TMPDIR");
	char *d;

	if (!tmp || tmp[0] != '/')
		tmp = "/tmp";
	if (asprintf(&d, "%s/kiln-%s.XXXXXX", tmp, name) < 0)
		abort();
	if (!mkdtemp(d)) {
		printf("# cannot make %s: %m\n", d);
		abort();
	}
	return d;
}

static char *tap_dir; /* the binary's scratch directory */

static void tap_remove_dir(void)
{
	/* a test's child never gets here (it _exit()s), but a process it forked might */
	if (!tap_in_test && tap_dir)
		tap_rm_rf(tap_dir);
}

/* First of all constructors: the binary's scratch directory, its $TMPDIR from now on. */
__attribute__((constructor(101))) static void tap_make_dir(void)
{
	extern char *program_invocation_short_name;

#ifdef TAP_LSAN
	/*
	 * What the constructors allocate for every test is not a leak of any one
	 * test, whose child checks for leaks when it ends (tap_run()).
	 */
	__lsan_disable();
#endif
	tap_dir = tap_temp_dir(program_invocation_short_name);
	setenv("TMPDIR", tap_dir, 1);
	atexit(tap_remove_dir);
}

/* Run test @i in a child, in a process group and $TMPDIR of its own; how it ended. */
static int tap_run(size_t i, bool *ret_kept)
{
	const char *name = tap_tests[i].name;
	char dir[4096];
	siginfo_t si = { 0 };
	pid_t pid;

	*ret_kept = false;
	snprintf(dir, sizeof(dir), "%s/%s", tap_dir, name);
	if (mkdir(dir, 0700) < 0) {
		printf("# %s: cannot make %s: %m\n", name, dir);
		return TAP_EXIT_FAIL;
	}
	tap_skip_reason[0] = '\0';
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		printf("# %s: fork: %m\n", name);
		return TAP_EXIT_FAIL;
	}
	if (pid == 0) {
		tap_in_test = true;
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("TMPDIR", dir, 1);
		tap_tests[i].fn();
#ifdef TAP_LSAN
		if (__lsan_do_recoverable_leak_check()) {
			printf("# %s: leaks memory (LeakSanitizer's report is on stderr)\n", name);
			tap_fail_exit();
		}
#endif
		fflush(stdout);
		fflush(stderr);
		_exit(0);
	}
	setpgid(pid, pid); /* either of the two calls may come first */
	/* Wait without reaping, so that the group's id is not reused before it is ended. */
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0)
		if (errno != EINTR) {
			printf("# %s: waitid: %m\n", name);
			return TAP_EXIT_FAIL;
		}
	kill(-pid, SIGKILL); /* what the test started and left running */
	waitpid(pid, NULL, 0);

	if (si.si_code == CLD_EXITED && si.si_status == TAP_EXIT_SKIP) {
		tap_rm_rf(dir);
		return TAP_EXIT_SKIP;
	}
	if (si.si_code == CLD_EXITED && si.si_status == 0) {
		tap_rm_rf(dir);
		return 0;
	}
	if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
		printf("# %s: killed by SIG%s (%s)\n", name, sigabbrev_np(si.si_status) ?: "?",
		       strsignal(si.si_status));
	else if (si.si_status != TAP_EXIT_FAIL)
		printf("# %s: exited with status %d\n", name, si.si_status);
	if (getenv("KILN_TEST_KEEP")) {
		printf("# %s: its $TMPDIR is kept: %s\n", name, dir);
		*ret_kept = true;
	} else {
		tap_rm_rf(dir);
	}
	return TAP_EXIT_FAIL;
}

static bool tap_selected(const char *name, int argc, char **argv)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return false;
}

static int tap_main(int argc, char **argv)
{
	size_t failed = 0, skipped = 0, run = 0, n = 0;
	bool kept = false;

	for (int i = 1; i < argc; i++) {
		bool known = false;

		for (size_t t = 0; t < tap_n_tests && !known; t++)
			known = strcmp(tap_tests[t].name, argv[i]) == 0;
		if (!known) {
			fprintf(stderr, "%s: no test named \"%s\"\n", argv[0], argv[i]);
			return 2;
		}
	}
	tap_skip_reason = mmap(NULL, TAP_SKIP_REASON_MAX, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tap_skip_reason == MAP_FAILED) {
		printf("Bail out! mmap: %m\n");
		return 1;
	}
#ifdef TAP_LSAN
	__lsan_enable(); /* see tap_make_dir() */
#endif
	for (size_t i = 0; i < tap_n_tests; i++)
		n += tap_selected(tap_tests[i].name, argc, argv);
	printf("1..%zu\n", n);

	for (size_t i = 0; i < tap_n_tests; i++) {
		bool k;
		int r;

		if (!tap_selected(tap_tests[i].name, argc, argv))
			continue;
		r = tap_run(i, &k);
		kept |= k;
		run++;
		if (r == TAP_EXIT_SKIP) {
			printf("ok %zu - %s # SKIP %s\n", run, tap_tests[i].name, tap_skip_reason);
			skipped++;
		} else if (r != 0) {
			printf("not ok %zu - %s\n", run, tap_tests[i].name);
			failed++;
		} else {
			printf("ok %zu - %s\n", run, tap_tests[i].name);
		}
		fflush(stdout);
	}
	if (kept)
		tap_dir = NULL; /* the failed tests' directories are in it */
	if (failed)
		return 1;
	return n && skipped == n ? 77 : 0;
}

#define TAP_MAIN                             \
	int main(int argc, char **argv)      \
	{                                    \
		return tap_main(argc, argv); \
	}
