/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The build sandbox's system call filter and what a step reads of the host:
 * sandbox-probe.c, run inside a step, tries each system call the filter
 * refuses (and some a build needs) and reads pid 1's command line,
 * environment and executable and the mount table; each answer is asserted,
 * and no host path may appear. Then the host's own build tools (gcc, make,
 * perl, python, tar, xz, zstd) do real work under the filter.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "sandbox-fixture.h"
#include "tap.h"

/* The line of @out that starts with "@name ", without the name; NULL when there is none. */
static const char *probe_line(const char *out, const char *name, char *buf, size_t size)
{
	size_t len = strlen(name);

	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, name, len) == 0 && p[len] == ' ') {
			snprintf(buf, size, "%.*s", (int)strcspn(p + len + 1, "\n"), p + len + 1);
			return buf;
		}
	}
	return NULL;
}

/* What sandbox-probe prints for each call: the filter's answer, or what builds need. */
static const struct {
	const char *name;
	const char *want;
} probe_expect[] = {
	{ "keyctl", "EPERM" },
	{ "add_key", "EPERM" },
	{ "request_key", "EPERM" },
	{ "bpf", "EPERM" },
	{ "perf_event_open", "EPERM" },
	{ "kexec_load", "EPERM" },
	{ "kexec_file_load", "EPERM" },
	{ "name_to_handle_at", "EPERM" },
	{ "open_by_handle_at", "EPERM" },
	{ "userfaultfd", "EPERM" },
	{ "io_uring_setup", "EPERM" },
	{ "unshare-user", "EPERM" },
	{ "unshare-net", "EPERM" },
	{ "clone-user", "EPERM" },
	{ "clone3", "ENOSYS" },
	{ "i386-unshare-user", "EPERM" },
	/* this kernel may have no x32 at all (ENOSYS): the filter answers first */
	{ "x32-unshare-user", "EPERM" },
	{ "setns", "EPERM" },
	{ "mount", "EPERM" },
	{ "umount2", "EPERM" },
	{ "pivot_root", "EPERM" },
	{ "fsopen", "EPERM" },
	{ "open_tree", "EPERM" },
	{ "move_mount", "EPERM" },
	{ "mount_setattr", "EPERM" },
	{ "init_module", "EPERM" },
	{ "finit_module", "EPERM" },
	{ "delete_module", "EPERM" },
	{ "reboot", "EPERM" },
	{ "swapon", "EPERM" },
	{ "swapoff", "EPERM" },
	{ "acct", "EPERM" },
	{ "settimeofday", "EPERM" },
	{ "clock_settime", "EPERM" },
	{ "adjtimex", "EPERM" },
	{ "syslog", "EPERM" },
	{ "iopl", "EPERM" },
	{ "ioperm", "EPERM" },
	{ "personality-addr-no-randomize", "EPERM" },
	{ "personality-read-implies-exec", "EPERM" },
	/* what builds use */
	{ "personality-query", "ok" },
	{ "personality-linux", "ok" },
	{ "ptrace-traceme", "ok" },
	{ "unshare-fs", "ok" },
	{ "fork", "ok" },
	{ "pthread_create", "ok" },
	{ "posix_spawn", "ok" },
	/* pid 1 is the init from a memfd; the step may not read its environment */
	{ "pid1-cmdline", "[init 2 ]" },
	{ "pid1-environ", "EACCES" },
	{ "pid1-exe", "EACCES" },
};

/* Run sandbox-probe in a step, with a secret file; its output. */
static char *run_probe(int *ret_status)
{
	_cleanup_free_ char *secret = fx_path("probe-secret");
	const struct sandbox_mount mounts[] = {
		{ .source = SANDBOX_PROBE, .target = "/bin/probe", .read_only = true },
		{ .source = secret, .target = "/run/secrets/key", .read_only = true },
	};
	char *argv[] = { "/bin/probe", NULL };
	struct sandbox_spec spec = { .argv = argv, .mounts = mounts, .n_mounts = 2 };
	char *out = NULL;

	if (write_file_atomic(secret, "s3cret\n", 7, 0600) < 0)
		abort();
	if (run_spec(&spec, ret_status, &out) < 0)
		TAP_FAIL("cannot run the probe: %s", kiln_ctx_error(fx.ctx));
	return out;
}

TEST(the_filter_refuses_what_docker_refuses)
{
	_cleanup_free_ char *out = NULL;
	int status = -1;

	setup();
	out = run_probe(&status);
	ASSERT_EQ(status, 0);
	for (size_t i = 0; i < ELEMENTSOF(probe_expect); i++) {
		char buf[256];
		const char *got = probe_line(out, probe_expect[i].name, buf, sizeof(buf));

		if (!got)
			TAP_FAIL("the probe printed no line for %s:\n%s", probe_expect[i].name, out);
		if (!streq(got, probe_expect[i].want))
			TAP_FAIL("%s: %s, not %s", probe_expect[i].name, got, probe_expect[i].want);
	}
	printf("# %zu calls answered as designed\n", ELEMENTSOF(probe_expect));
}

TEST(a_step_reads_no_host_path)
{
	_cleanup_free_ char *out = NULL, *probe_dir = strdup(SANDBOX_PROBE);
	char buf[8192];
	int status = -1;

	setup();
	out = run_probe(&status);
	ASSERT_EQ(status, 0);
	ASSERT_TRUE(probe_dir && strrchr(probe_dir, '/'));
	*strrchr(probe_dir, '/') = '\0';
	/* the overlay's layers, the secret's source, the probe's build directory */
	if (strstr(out, fx.dir) || strstr(out, probe_dir))
		TAP_FAIL("a host path in what the step read:\n%s", out);
	ASSERT_TRUE(probe_line(out, "mountinfo", buf, sizeof(buf)));
	ASSERT_CONTAINS(out, " / / ");
	ASSERT_CONTAINS(out, "lowerdir");
	ASSERT_CONTAINS(out, " /run/secrets/key ");
	ASSERT_CONTAINS(out, " /bin/probe ");
	tap_print_diag(strstr(out, "pid1-cmdline"));
}

/* The host's root as a stage's lower layer: its tools, under the sandbox's filter. */
TEST(build_tools_run_under_the_filter)
{
	static const char *const tools[] = { "/usr/bin/gcc", "/usr/bin/make", "/usr/bin/perl",
					     "/usr/bin/python3", "/usr/bin/tar", "/usr/bin/xz",
					     "/usr/bin/zstd", "/bin/bash" };
	_cleanup_free_ char *upper = fx_path("host-upper"), *work = fx_path("host-work");
	_cleanup_free_ char *root = fx_path("host-root"), *out = NULL;
	const char *lower[] = { "/" };
	char *env[] = { "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/root", NULL };
	struct sandbox_spec spec = { .root = root, .envp = env, .cwd = "/tmp/w" };
	int status = -1;

	for (size_t i = 0; i < ELEMENTSOF(tools); i++)
		if (access(tools[i], X_OK) < 0)
			TAP_FAIL("no %s: run scripts/install-deps.sh", tools[i]);
	ASSERT_TRUE(mkdir(upper, 0755) == 0 && mkdir(work, 0755) == 0 && mkdir(root, 0755) == 0);
	ASSERT_OK(sandbox_mount_overlay(fx.ctx, root, lower, 1, upper, work, fx.userns));
	/* threads (clone3 refused: the C library falls back to clone), processes, pipes */
	out = sh_spec(&spec,
		      "set -e\n"
		      "printf '#include <pthread.h>\\nstatic void *f(void *x) { return x; }\\n"
		      "int main(void) { pthread_t t; return pthread_create(&t, 0, f, 0) || "
		      "pthread_join(t, 0); }\\n' > t.c\n"
		      "printf 'all: t\\nt: t.o\\n\\t$(CC) -pthread -o $@ $^\\n' > Makefile\n"
		      "make -s -j2 CC=gcc && ./t && echo gcc-make-ld\n"
		      "perl -e 'my $p = fork // die; if (!$p) { exit 3 } waitpid($p, 0); "
		      "print \"perl \", $? >> 8, \"\\n\"'\n"
		      "python3 -c 'import subprocess, threading, multiprocessing as m\n"
		      "t = threading.Thread(target=print, args=(\"python-thread\",)); t.start(); "
		      "t.join()\n"
		      "print(subprocess.run([\"true\"]).returncode, m.Pool(2).map(abs, [-1, -2]))'\n"
		      "head -c 4000000 /dev/urandom > data && tar cf data.tar data t.c\n"
		      "xz -T2 -k data.tar && zstd -q -T2 data.tar && mkdir x && tar xJf data.tar.xz -C x\n"
		      "zstd -dc data.tar.zst | cmp - data.tar && cmp x/data data && echo tar-xz-zstd\n",
		      &status);
	tap_print_diag(out);
	ASSERT_EQ(status, 0);
	ASSERT_STREQ(out, "gcc-make-ld\nperl 3\npython-thread\n0 [1, 2]\ntar-xz-zstd\n");
}

TAP_MAIN
