/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The build sandbox of lib/build: commands run on an overlay whose lower
 * layer is a root made of the host's static busybox. Exit codes, output,
 * environment, what is hidden (host files, host pids, the network), where
 * writes land, bind mounts, /dev, cancelling, kiln dying, and the overlay
 * mounts themselves; what a command running as root may still do (the
 * default capabilities) and what it may not (/proc's host controls; the
 * system call filter is test-sandbox-filter's).
 * Skipped when kiln cannot enter its namespaces here.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "sandbox-fixture.h"
#include "tap.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

TEST(enter_twice_is_a_no_op)
{
	bool userns;

	setup();
	userns = !fx.userns;
	ASSERT_OK(sandbox_enter(fx.ctx, &userns));
	ASSERT_EQ(userns, fx.userns);
	printf("# sandbox_enter: %s\n", fx.userns ? "user namespace" : "root");
}

TEST(exit_status_comes_back)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
	int status = -1;

	setup();
	a = sh("exit 3", &status);
	ASSERT_EQ(status, 3);
	b = sh("true", &status);
	ASSERT_EQ(status, 0);
	c = sh("kill -9 $$", &status);
	ASSERT_EQ(status, 128 + SIGKILL);
}

TEST(output_goes_to_output_fd_and_stdin_is_empty)
{
	_cleanup_free_ char *out = NULL;
	int status = -1;

	setup();
	out = sh("echo out; echo err >&2; cat; echo end", &status);
	ASSERT_EQ(status, 0);
	ASSERT_STREQ(out, "out\nerr\nend\n");
}

TEST(environment_is_exactly_envp)
{
	char *argv[] = { "/bin/env", NULL };
	char *envp[] = { "A=1", "B=two words", "PATH=/bin", NULL };
	struct sandbox_spec spec = { .argv = argv, .envp = envp };
	_cleanup_free_ char *out = NULL;
	int status = -1;

	setup();
	setenv("KILN_TEST_NOT_PASSED", "1", 1);
	ASSERT_OK(run_spec(&spec, &status, &out));
	ASSERT_EQ(status, 0);
	ASSERT_STREQ(out, "A=1\nB=two words\nPATH=/bin\n");
}

TEST(host_files_are_hidden)
{
	_cleanup_free_ char *out = NULL, *marker = NULL;
	char secret[33], script[512];
	unsigned char rnd[16];
	int status = -1, fd;

	setup();
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		abort();
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(secret + 2 * i, "%02x", rnd[i]);
	/* a host file outside the fixture, where the test's files are */
	if (asprintf(&marker, "%s/kiln-sandbox-marker-XXXXXX", getenv("TMPDIR") ?: "/tmp") < 0)
		abort();
	fd = mkstemp(marker);
	ASSERT_TRUE(fd >= 0);
	ASSERT_OK(write_all(fd, secret, strlen(secret)));
	close(fd);
	snprintf(script, sizeof(script), "cat %s; test -e %s && echo fixture-visible; ls /", marker,
		 fx.dir);
	out = sh(script, &status);
	unlink(marker);
	ASSERT_FALSE(strstr(out, secret));
	ASSERT_FALSE(strstr(out, "fixture-visible"));
	ASSERT_FALSE(strstr(out, "usr\n"));
}

TEST(only_the_sandboxs_pids_are_visible)
{
	char *argv[] = { "/bin/ls", "/proc", NULL };
	struct sandbox_spec spec = { .argv = argv };
	_cleanup_free_ char *out = NULL, *self = NULL;
	int status = -1, n_pids = 0;
	bool saw_init = false;

	setup();
	ASSERT_OK(run_spec(&spec, &status, &out));
	ASSERT_EQ(status, 0);
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		if (strspn(line, "0123456789") != strlen(line))
			continue;
		n_pids++;
		saw_init |= streq(line, "1");
		if (!streq(line, "1") && !streq(line, "2"))
			TAP_FAIL("a pid other than 1 and 2 in the sandbox: %s", line);
	}
	ASSERT_TRUE(saw_init);
	ASSERT_EQ(n_pids, 2);
	/* pid 1 is kiln's init; the command is its first child */
	self = sh("echo $$", &status);
	ASSERT_STREQ(self, "2\n");
}

/* A process accepting connections on 127.0.0.1:*@ret_port and answering "pong". */
static pid_t start_pong_server(int *ret_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 16) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) < 0)
		abort();
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			int c = accept(s, NULL, NULL);

			if (c >= 0 && write(c, "pong\n", 5) == 5)
				close(c);
		}
	}
	close(s);
	*ret_port = ntohs(sa.sin_port);
	return pid;
}

TEST(network_is_cut_unless_asked_for)
{
	_cleanup_free_ char *cut = NULL, *shared = NULL, *lo = NULL;
	struct sandbox_spec spec_cut = { 0 }, spec_shared = { .network = true };
	int status_cut = -1, status_shared = -1, status = -1, port;
	char script[64];
	pid_t server;

	setup();
	server = start_pong_server(&port);
	snprintf(script, sizeof(script), "nc 127.0.0.1 %d", port);
	cut = sh_spec(&spec_cut, script, &status_cut);
	shared = sh_spec(&spec_shared, script, &status_shared);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	ASSERT_TRUE(status_cut != 0);
	ASSERT_FALSE(strstr(cut, "pong"));
	ASSERT_EQ(status_shared, 0);
	ASSERT_STREQ(shared, "pong\n");
	/* the sandbox's own loopback is up */
	lo = sh("ifconfig lo", &status);
	ASSERT_EQ(status, 0);
	ASSERT_CONTAINS(lo, "UP");
	ASSERT_CONTAINS(lo, "127.0.0.1");
}

TEST(writes_land_in_the_upper_dir)
{
	_cleanup_free_ char *out = NULL, *data = NULL, *in_upper = NULL, *in_lower = NULL;
	int status = -1;

	setup();
	out = sh("echo data > /written.txt && mkdir -p /a/b && rm /bin/cat", &status);
	ASSERT_EQ(status, 0);
	in_upper = fx_path("upper/written.txt");
	ASSERT_OK(read_file_at(AT_FDCWD, in_upper, 64, &data, NULL));
	ASSERT_STREQ(data, "data\n");
	in_lower = fx_path("lower/written.txt");
	ASSERT_TRUE(access(in_lower, F_OK) < 0);
	free(in_lower);
	/* the removal is a whiteout in the upper, the lower keeps its file */
	in_lower = fx_path("lower/bin/cat");
	ASSERT_TRUE(access(in_lower, F_OK) == 0);
}

TEST(bind_mounts_and_working_dir)
{
	_cleanup_free_ char *rw = fx_path("rw"), *ro = fx_path("ro"), *key = fx_path("key");
	_cleanup_free_ char *rof = fx_path("ro/f"), *out = NULL, *built = NULL, *data = NULL;
	_cleanup_free_ char *rox = fx_path("ro/x"), *keydata = NULL;
	const struct sandbox_mount mounts[] = {
		{ .source = rw, .target = "/tmp/build" },
		{ .source = ro, .target = "/mnt/ro/deep", .read_only = true },
		{ .source = key, .target = "/run/secrets/key", .read_only = true },
	};
	struct sandbox_spec spec = { .mounts = mounts,
				     .n_mounts = ELEMENTSOF(mounts),
				     .cwd = "/tmp/build/sub" };
	int status = -1;

	setup();
	ASSERT_TRUE(mkdir(rw, 0755) == 0 && mkdir(ro, 0755) == 0);
	ASSERT_OK(write_file_atomic(rof, "ro-content\n", 11, 0644));
	ASSERT_OK(write_file_atomic(key, "s3cret\n", 7, 0600));
	out = sh_spec(&spec,
		      "pwd; cat /run/secrets/key /mnt/ro/deep/f; echo built > /tmp/build/out;"
		      "touch /mnt/ro/deep/x 2>/dev/null || echo ro-refused;"
		      "(echo more >> /run/secrets/key) 2>/dev/null || echo key-refused",
		      &status);
	ASSERT_EQ(status, 0);
	ASSERT_STREQ(out, "/tmp/build/sub\ns3cret\nro-content\nro-refused\nkey-refused\n");
	built = fx_path("rw/out");
	ASSERT_OK(read_file_at(AT_FDCWD, built, 64, &data, NULL));
	ASSERT_STREQ(data, "built\n");
	ASSERT_TRUE(access(rox, F_OK) < 0);
	ASSERT_OK(read_file_at(AT_FDCWD, key, 64, &keydata, NULL));
	ASSERT_STREQ(keydata, "s3cret\n");
}

TEST(mount_targets_are_resolved_inside_the_root)
{
	_cleanup_free_ char *src = fx_path("src"), *escaped = fx_path("escaped");
	_cleanup_free_ char *escaped_sub = fx_path("escaped/sub"), *out = NULL, *mk = NULL;
	const struct sandbox_mount mounts[] = { { .source = src, .target = "/esc/sub" } };
	struct sandbox_spec spec = { .mounts = mounts, .n_mounts = 1 };
	int status = -1;

	setup();
	ASSERT_TRUE(mkdir(src, 0755) == 0 && mkdir(escaped, 0755) == 0);
	/* followed from the host, the link leads out of the root to the fixture's "escaped" */
	mk = sh("mkdir /escaped && ln -s ../escaped /esc", &status);
	ASSERT_EQ(status, 0);
	out = sh_spec(&spec, "test -d /escaped/sub && echo inside", &status);
	ASSERT_STREQ(out, "inside\n");
	ASSERT_TRUE(access(escaped_sub, F_OK) < 0);
}

TEST(missing_command_is_told_apart)
{
	char *bash[] = { "/bin/bash", "-c", "true", NULL }, *script[] = { "/script", NULL };
	struct sandbox_spec spec = { .argv = bash };
	_cleanup_free_ char *out = NULL;
	int status = -1;

	setup();
	ASSERT_EQ(run_spec(&spec, &status, NULL), -ENOENT);
	printf("# %s\n", kiln_ctx_error(fx.ctx));
	ASSERT_CONTAINS(kiln_ctx_error(fx.ctx), "cannot run /bin/bash in the stage's root");
	ASSERT_CONTAINS(kiln_ctx_error(fx.ctx), "no such program");

	out = sh("printf '#!/bin/nope\\n' > /script && chmod +x /script", &status);
	ASSERT_EQ(status, 0);
	spec.argv = script;
	ASSERT_EQ(run_spec(&spec, &status, NULL), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(fx.ctx), "interpreter");
}

TEST(setup_failures_name_the_step_and_path)
{
	char *argv[] = { "/bin/true", NULL }, *rel[] = { "true", NULL };
	_cleanup_free_ char *src = fx_path("src2");
	const struct sandbox_mount under_file[] = { { .source = src, .target = "/bin/busybox/x" } };
	const struct sandbox_mount missing[] = { { .source = "/nonexistent-kiln",
						   .target = "/x" } };
	struct sandbox_spec spec = { .argv = argv, .mounts = under_file, .n_mounts = 1 };
	int status = -1;

	setup();
	ASSERT_TRUE(mkdir(src, 0755) == 0);
	ASSERT_EQ(run_spec(&spec, &status, NULL), -ENOTDIR);
	ASSERT_CONTAINS(kiln_ctx_error(fx.ctx), "mount point /bin/busybox/x");

	spec.mounts = missing;
	ASSERT_EQ(run_spec(&spec, &status, NULL), -ENOENT);
	ASSERT_CONTAINS(kiln_ctx_error(fx.ctx), "/nonexistent-kiln");

	spec = (struct sandbox_spec){ .argv = argv, .root = fx.lower };
	ASSERT_EQ(run_spec(&spec, &status, NULL), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(fx.ctx), "not a mount point");

	spec = (struct sandbox_spec){ .argv = rel };
	ASSERT_EQ(run_spec(&spec, &status, NULL), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(fx.ctx), "absolute");
}

static void *cancel_later(void *flag)
{
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	atomic_store((atomic_bool *)flag, true);
	return NULL;
}

TEST(cancel_kills_the_sandbox)
{
	char *argv[] = { "/bin/sh", "-c", "sleep 100 & sleep 100", NULL };
	atomic_bool cancel = false;
	struct sandbox_spec spec = { .argv = argv, .cancel = &cancel };
	pthread_t t;
	double start;
	int status = -1, r;

	setup();
	ASSERT_EQ(pthread_create(&t, NULL, cancel_later, &cancel), 0);
	start = now_ms();
	r = run_spec(&spec, &status, NULL);
	pthread_join(t, NULL);
	ASSERT_EQ(r, -ECANCELED);
	printf("# cancelled after %.0f ms\n", now_ms() - start);
	ASSERT_TRUE(now_ms() - start < 3000);
}

TEST(kiln_dying_takes_the_sandbox_down)
{
	char *argv[] = { "/bin/sh", "-c", "echo started; exec sleep 987", NULL };
	struct sandbox_spec spec = { .argv = argv, .envp = default_env };
	char buf[64];
	struct pollfd p;
	int fds[2], status;
	ssize_t n;
	pid_t kiln;

	setup();
	spec.root = fx.root;
	ASSERT_TRUE(pipe2(fds, O_CLOEXEC) == 0);
	kiln = fork();
	ASSERT_TRUE(kiln >= 0);
	if (kiln == 0) {
		/* a failed assertion below must not leave it behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		spec.output_fd = fds[1];
		_exit(sandbox_run(fx.ctx, &spec, &status) < 0 ? 1 : 0);
	}
	close(fds[1]);
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	ASSERT_EQ(poll(&p, 1, 10000), 1);
	n = read(fds[0], buf, sizeof(buf));
	ASSERT_EQ(n, 8);
	kill(kiln, SIGKILL);
	waitpid(kiln, NULL, 0);
	/* the sleep holds the pipe: end of file means it is gone */
	ASSERT_EQ(poll(&p, 1, 5000), 1);
	n = read(fds[0], buf, sizeof(buf));
	close(fds[0]);
	ASSERT_EQ(n, 0);
}

TEST(hostname_is_kiln)
{
	struct sandbox_spec spec = { .hostname = "stage-b" };
	_cleanup_free_ char *a = NULL, *b = NULL;
	int status = -1;

	setup();
	a = sh("hostname", &status);
	ASSERT_STREQ(a, "kiln\n");
	b = sh_spec(&spec, "hostname", &status);
	ASSERT_STREQ(b, "stage-b\n");
}

TEST(dev_works)
{
	_cleanup_free_ char *out = NULL;
	int status = -1;

	setup();
	out = sh("set -e\n"
		 "echo x > /dev/null\n"
		 "head -c 5 /dev/zero | wc -c\n"
		 "head -c 7 /dev/urandom | wc -c\n"
		 "if { echo x > /dev/full; } 2>/dev/null; then echo full-took-it; fi\n"
		 "exec 3<>/dev/ptmx\n"
		 "ls /dev/pts\n"
		 "readlink /dev/fd; readlink /dev/stdout\n"
		 "test -d /dev/shm && echo shm\n",
		 &status);
	ASSERT_EQ(status, 0);
	ASSERT_STREQ(out, "5\n7\n0\nptmx\n/proc/self/fd\n/proc/self/fd/1\nshm\n");
}

TEST(overlay_mounts)
{
	_cleanup_free_ char *l1 = fx_path("l1"), *l2 = fx_path("l2"), *mnt = fx_path("mnt");
	_cleanup_free_ char *f = fx_path("mnt/f"), *g = fx_path("mnt/g"), *new = fx_path("mnt/new");
	_cleanup_free_ char *top = NULL, *only = NULL, *deep = NULL, *deepf = NULL, *lf = NULL;
	const char *layers[] = { l1, l2 }, *missing[] = { "/nonexistent-layer", l2 };
	char seg[101];

	setup();
	ASSERT_TRUE(mkdir(l1, 0755) == 0 && mkdir(l2, 0755) == 0 && mkdir(mnt, 0755) == 0);
	lf = fx_path("l1/f");
	ASSERT_OK(write_file_atomic(lf, "top", 3, 0644));
	free(lf);
	lf = fx_path("l2/f");
	ASSERT_OK(write_file_atomic(lf, "bottom", 6, 0644));
	free(lf);
	lf = fx_path("l2/g");
	ASSERT_OK(write_file_atomic(lf, "only-bottom", 11, 0644));

	/* two lowers, no upper: read-only, the first layer on top */
	ASSERT_OK(sandbox_mount_overlay(fx.ctx, mnt, layers, 2, NULL, NULL, fx.userns));
	ASSERT_OK(read_file_at(AT_FDCWD, f, 64, &top, NULL));
	ASSERT_STREQ(top, "top");
	ASSERT_OK(read_file_at(AT_FDCWD, g, 64, &only, NULL));
	ASSERT_STREQ(only, "only-bottom");
	ASSERT_TRUE(open(new, O_CREAT | O_WRONLY | O_CLOEXEC, 0644) < 0 && errno == EROFS);
	ASSERT_OK(sandbox_umount(fx.ctx, mnt));

	/* one lower, no upper: a read-only bind mount */
	ASSERT_OK(sandbox_mount_overlay(fx.ctx, mnt, layers + 1, 1, NULL, NULL, fx.userns));
	ASSERT_TRUE(access(g, F_OK) == 0);
	ASSERT_TRUE(open(new, O_CREAT | O_WRONLY | O_CLOEXEC, 0644) < 0 && errno == EROFS);
	ASSERT_OK(sandbox_umount(fx.ctx, mnt));

	/* a layer path over 255 bytes goes to the kernel as a file descriptor */
	memset(seg, 'd', 100);
	seg[100] = '\0';
	deep = strdup(fx.dir);
	for (int i = 0; i < 3; i++) {
		char *sub;

		if (!deep || asprintf(&sub, "%s/%s", deep, seg) < 0)
			abort();
		free(deep);
		deep = sub;
		ASSERT_TRUE(mkdir(deep, 0755) == 0);
	}
	if (asprintf(&deepf, "%s/deep", deep) < 0)
		abort();
	ASSERT_TRUE(strlen(deep) > 255);
	ASSERT_OK(write_file_atomic(deepf, "", 0, 0644));
	layers[0] = deep;
	ASSERT_OK(sandbox_mount_overlay(fx.ctx, mnt, layers, 2, NULL, NULL, fx.userns));
	free(lf);
	lf = fx_path("mnt/deep");
	ASSERT_TRUE(access(lf, F_OK) == 0);
	ASSERT_OK(sandbox_umount(fx.ctx, mnt));

	/* errors name the target and the layer */
	ASSERT_EQ(sandbox_mount_overlay(fx.ctx, mnt, layers, 0, fx.upper, fx.work, fx.userns),
		  -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(fx.ctx), mnt);
	ASSERT_TRUE(sandbox_mount_overlay(fx.ctx, mnt, missing, 2, NULL, NULL, fx.userns) < 0);
	printf("# %s\n", kiln_ctx_error(fx.ctx));
	ASSERT_CONTAINS(kiln_ctx_error(fx.ctx), "/nonexistent-layer");
	ASSERT_EQ(sandbox_umount(fx.ctx, mnt), -EINVAL);
	ASSERT_CONTAINS(kiln_ctx_error(fx.ctx), mnt);
}

/* The value of "@key:" in /proc/self/status (of the test, outside the sandbox), in hex. */
static uint64_t own_status_hex(const char *key)
{
	_cleanup_free_ char *status = NULL;
	const char *line;

	if (read_file_at(AT_FDCWD, "/proc/self/status", 1 << 16, &status, NULL) < 0)
		abort();
	line = strstr(status, key);
	if (!line)
		abort();
	return strtoull(line + strlen(key) + 1, NULL, 16);
}

#define BIT(cap) (UINT64_C(1) << (cap))

TEST(command_has_only_the_default_capabilities)
{
	/* Docker's and containerd's default set, as far as kiln has it itself */
	uint64_t docker = BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FSETID) |
			  BIT(CAP_FOWNER) | BIT(CAP_MKNOD) | BIT(CAP_NET_RAW) | BIT(CAP_SETGID) |
			  BIT(CAP_SETUID) | BIT(CAP_SETFCAP) | BIT(CAP_SETPCAP) |
			  BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_SYS_CHROOT) | BIT(CAP_KILL) |
			  BIT(CAP_AUDIT_WRITE);
	uint64_t want = docker & own_status_hex("CapBnd");
	_cleanup_free_ char *out = NULL;
	char expect[256];
	int status = -1;

	setup();
	ASSERT_EQ(docker, 0xa80425fb);
	out = sh("grep -E '^(Cap|NoNewPrivs)' /proc/self/status", &status);
	ASSERT_EQ(status, 0);
	printf("# in the sandbox (%s):\n", fx.userns ? "user namespace" : "root");
	tap_print_diag(out);
	snprintf(expect, sizeof(expect),
		 "CapInh:\t%016" PRIx64 "\nCapPrm:\t%016" PRIx64 "\nCapEff:\t%016" PRIx64
		 "\nCapBnd:\t%016" PRIx64 "\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n",
		 want, want, want, want);
	ASSERT_STREQ(out, expect);
}

TEST(proc_cannot_change_the_host)
{
	/* runc's defaults; true: read-only, false: hidden (empty) */
	static const struct {
		const char *name;
		bool ro;
	} guarded[] = {
		{ "sys", true },	  { "sysrq-trigger", true },
		{ "irq", true },	  { "bus", true },
		{ "fs", true },		  { "kcore", false },
		{ "keys", false },	  { "timer_list", false },
		{ "sched_debug", false }, { "latency_stats", false },
		{ "timer_stats", false }, { "acpi", true },
		{ "asound", true },	  { "scsi", true },
	};
	_cleanup_free_ char *out = NULL, *host_name = NULL, *mounts = NULL;
	int status = -1;

	setup();
	ASSERT_OK(read_file_at(AT_FDCWD, "/proc/sys/kernel/hostname", 256, &host_name, NULL));
	/* "h" only prints sysrq's help to the kernel log, should the write go through */
	out = sh("(echo evil > /proc/sys/kernel/hostname) 2>/dev/null && echo hostname-written\n"
		 "hostname\n"
		 "(echo h > /proc/sysrq-trigger) 2>/dev/null && echo sysrq-written\n"
		 "(echo 1 > /proc/sys/vm/drop_caches) 2>/dev/null && echo sysctl-written\n"
		 "for f in kcore keys timer_list sched_debug; do\n"
		 "	test -e /proc/$f || continue\n"
		 "	n=$(head -c 16 /proc/$f | wc -c); test $n = 0 || echo $f-readable\n"
		 "done\n"
		 "test -e /proc/acpi && ls -A /proc/acpi\n"
		 "mount -t tmpfs none /mnt 2>/dev/null && echo mounted\n"
		 "hostname evil 2>/dev/null && echo hostname-set\n"
		 "true",
		 &status);
	ASSERT_EQ(status, 0);
	ASSERT_STREQ(out, "kiln\n");
	free(out);
	out = NULL;
	ASSERT_OK(read_file_at(AT_FDCWD, "/proc/sys/kernel/hostname", 256, &out, NULL));
	ASSERT_STREQ(out, host_name);

	/* each guard is a mount of its own, where this kernel has the file */
	mounts = sh("echo; cut -d' ' -f5,6 /proc/self/mountinfo", &status);
	for (size_t i = 0; i < ELEMENTSOF(guarded); i++) {
		char host[64], line[64];

		snprintf(host, sizeof(host), "/proc/%s", guarded[i].name);
		snprintf(line, sizeof(line), "\n/proc/%s %s", guarded[i].name,
			 guarded[i].ro ? "ro," : "");
		if (access(host, F_OK) < 0)
			printf("# %s: not in this kernel\n", host);
		else
			ASSERT_CONTAINS(mounts, line);
	}
}

TEST(root_powers_for_builds_remain)
{
	_cleanup_free_ char *out = NULL, *fifo = NULL, *owned = NULL;
	struct stat st;
	int status = -1;

	setup();
	out = sh("set -e\n"
		 "mkfifo /fifo && test -p /fifo && echo fifo\n"
		 "touch /owned && chmod 4755 /owned && stat -c %a /owned\n"
		 "chroot / true && echo chroot\n",
		 &status);
	ASSERT_EQ(status, 0);
	ASSERT_STREQ(out, "fifo\n4755\nchroot\n");
	fifo = fx_path("upper/fifo");
	ASSERT_TRUE(stat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
	free(out);
	if (fx.userns) {
		/* kiln's user namespace maps one id: chown to another, device nodes: refused */
		out = sh("chown 1000:1000 /owned 2>/dev/null || echo chown-refused\n"
			 "mknod /null c 1 3 2>/dev/null || echo mknod-refused\n",
			 &status);
		ASSERT_EQ(status, 0);
		ASSERT_STREQ(out, "chown-refused\nmknod-refused\n");
		return;
	}
	out = sh("set -e\n"
		 "chown 1000:1000 /owned && stat -c %u:%g /owned\n"
		 "mknod /null c 1 3 && stat -c %F:%t,%T /null\n"
		 "mkdir -p /etc; echo 'b:x:1000:1000::/:/bin/sh' > /etc/passwd\n"
		 "echo 'b:x:1000:' > /etc/group\n"
		 "su b -c 'id -u; id -g; grep CapEff /proc/self/status'\n",
		 &status);
	ASSERT_EQ(status, 0);
	ASSERT_STREQ(out, "1000:1000\ncharacter special file:1,3\n1000\n1000\n"
			  "CapEff:\t0000000000000000\n");
	owned = fx_path("upper/owned");
	ASSERT_TRUE(stat(owned, &st) == 0);
	ASSERT_EQ(st.st_uid, 1000);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

TEST(time_of_a_run)
{
	char *argv[] = { "/bin/true", NULL };
	double ms[200];
	int status = -1;

	setup();
	for (size_t i = 0; i < ELEMENTSOF(ms); i++) {
		struct sandbox_spec spec = { .argv = argv };
		double start = now_ms();

		ASSERT_OK(run_spec(&spec, &status, NULL));
		ms[i] = now_ms() - start;
		ASSERT_EQ(status, 0);
	}
	qsort(ms, ELEMENTSOF(ms), sizeof(ms[0]), cmp_double);
	printf("# sandbox_run /bin/true: median %.2f ms (p95 %.2f ms, %zu runs)\n",
	       ms[ELEMENTSOF(ms) / 2], ms[ELEMENTSOF(ms) * 95 / 100], ELEMENTSOF(ms));
}

TAP_MAIN
