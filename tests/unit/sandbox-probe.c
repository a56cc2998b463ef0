/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Run inside a build step by test-sandbox.c: tries each system call the
 * sandbox's seccomp filter refuses, and some it must allow, and prints one
 * line per try, "NAME RESULT" (RESULT "ok" or the errno's name, such as
 * EPERM); then what the step sees of pid 1 ("pid1-cmdline ...",
 * "pid1-environ ...", "pid1-exe ...") and its mount table. Static, so that
 * it runs in a root with nothing else. Each call is made with arguments
 * that do nothing should it be let through (no module, no key, no reboot
 * command), and tried in a child process where it could change this one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/wait.h>

static void result(const char *name, long r)
{
	printf("%s %s\n", name, r < 0 ? strerrorname_np(errno) : "ok");
}

/* @name's result in a child: calls that succeed would change the caller. */
static void in_child(const char *name, long (*fn)(void))
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		long r = fn();

		_exit(r < 0 ? errno : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		printf("%s child-failed\n", name);
		return;
	}
	errno = WEXITSTATUS(status);
	result(name, errno ? -1 : 0);
}

static long try_unshare_user(void)
{
	return unshare(CLONE_NEWUSER);
}

static long try_unshare_net(void)
{
	return unshare(CLONE_NEWNET);
}

static long try_unshare_fs(void)
{
	return unshare(CLONE_FS | CLONE_FILES);
}

static long try_clone_user(void)
{
	long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);

	if (r == 0)
		_exit(0);
	return r < 0 ? r : waitpid((pid_t)r, NULL, 0) < 0 ? -1 : 0;
}

static long try_clone3(void)
{
	struct clone_args args = { .exit_signal = SIGCHLD };
	long r = syscall(SYS_clone3, &args, sizeof(args));

	if (r == 0)
		_exit(0);
	return r < 0 ? r : waitpid((pid_t)r, NULL, 0) < 0 ? -1 : 0;
}

static long try_ptrace_traceme(void)
{
	return ptrace(PTRACE_TRACEME, 0, NULL, NULL);
}

#if defined(__x86_64__)
/* unshare(CLONE_NEWUSER) through the i386 entry point (int 0x80, i386's number 310) */
static long try_i386_unshare_user(void)
{
	long r;

	__asm__ volatile("int $0x80" : "=a"(r) : "a"(310L), "b"((long)CLONE_NEWUSER) : "memory");
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* the same as an x32 system call (x86_64's number with bit 30) */
static long try_x32_unshare_user(void)
{
	return syscall(0x40000000L | SYS_unshare, CLONE_NEWUSER);
}
#endif

static void *thread_main(void *arg)
{
	return arg;
}

static void probe_refused(void)
{
	struct perf_event_attr pe = { .type = PERF_TYPE_SOFTWARE,
				      .size = sizeof(pe),
				      .config = PERF_COUNT_SW_CPU_CLOCK,
				      .disabled = 1 };
	union bpf_attr map = { .map_type = BPF_MAP_TYPE_ARRAY,
			       .key_size = 4,
			       .value_size = 4,
			       .max_entries = 1 };
	struct {
		unsigned bytes;
		int type;
		unsigned char h[128];
	} handle = { .bytes = 128 };
	struct timespec now;
	struct timex tx = { 0 };
	char uring[120] = { 0 }; /* struct io_uring_params */
	int mount_id;

	clock_gettime(CLOCK_REALTIME, &now);
	result("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
	result("add_key", syscall(SYS_add_key, "user", "kiln-probe", "x", 1, -2));
	result("request_key", syscall(SYS_request_key, "user", "kiln-probe", NULL, 0));
	result("bpf", syscall(SYS_bpf, BPF_MAP_CREATE, &map, sizeof(map)));
	result("perf_event_open", syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
	result("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
	result("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
	result("name_to_handle_at", syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &handle,
					    &mount_id, 0));
	result("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, &handle, O_RDONLY));
	result("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC));
	result("io_uring_setup", syscall(SYS_io_uring_setup, 1, &uring));
	in_child("unshare-user", try_unshare_user);
	in_child("unshare-net", try_unshare_net);
	in_child("clone-user", try_clone_user);
	in_child("clone3", try_clone3);
#if defined(__x86_64__)
	in_child("i386-unshare-user", try_i386_unshare_user);
	in_child("x32-unshare-user", try_x32_unshare_user);
#endif
	result("setns", syscall(SYS_setns, open("/proc/self/ns/uts", O_RDONLY), 0));
	result("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
	result("umount2", umount2("/proc", MNT_DETACH));
	result("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
	result("fsopen", syscall(SYS_fsopen, "tmpfs", 0));
	result("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/tmp", 1 /* OPEN_TREE_CLONE */));
	result("move_mount", syscall(SYS_move_mount, -1, "", -1, "", 0));
	result("mount_setattr", syscall(SYS_mount_setattr, -1, "", 0, NULL, 0));
	result("init_module", syscall(SYS_init_module, NULL, 0, ""));
	result("finit_module", syscall(SYS_finit_module, -1, "", 0));
	result("delete_module", syscall(SYS_delete_module, "kiln_probe_none", O_NONBLOCK));
	/* no command (0): let through, it would fail with EINVAL */
	result("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
	result("swapon", syscall(SYS_swapon, "/nonexistent", 0));
	result("swapoff", syscall(SYS_swapoff, "/nonexistent"));
	result("acct", syscall(SYS_acct, NULL));
	result("settimeofday", syscall(SYS_settimeofday, NULL, NULL));
	result("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, &now));
	result("adjtimex", syscall(SYS_adjtimex, &tx));
	result("syslog", syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0));
#if defined(__x86_64__)
	result("iopl", syscall(SYS_iopl, 0));
	result("ioperm", syscall(SYS_ioperm, 0x80, 1, 0));
#endif
	result("personality-addr-no-randomize", personality(ADDR_NO_RANDOMIZE));
	result("personality-read-implies-exec", personality(READ_IMPLIES_EXEC));
}

static void probe_allowed(void)
{
	char *argv[] = { "/bin/true", NULL }, *envp[] = { NULL };
	pthread_t t;
	pid_t pid;
	int status;

	result("personality-query", personality(0xffffffff));
	result("personality-linux", personality(PER_LINUX));
	in_child("ptrace-traceme", try_ptrace_traceme);
	in_child("unshare-fs", try_unshare_fs);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(7);
	result("fork", pid < 0 || waitpid(pid, &status, 0) != pid || WEXITSTATUS(status) != 7
			   ? -1
			   : 0);
	errno = pthread_create(&t, NULL, thread_main, NULL);
	result("pthread_create", errno ? -1 : pthread_join(t, NULL));
	errno = posix_spawn(&pid, argv[0], NULL, NULL, argv, envp);
	result("posix_spawn", errno || waitpid(pid, &status, 0) != pid || status ? -1 : 0);
}

/* @path's bytes with NULs as spaces, or the errno's name. */
static void show_file(const char *name, const char *path)
{
	char buf[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (n < 0) {
		printf("%s %s\n", name, strerrorname_np(errno));
	} else {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		printf("%s [%s]\n", name, buf);
	}
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	char exe[4096];
	ssize_t n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	probe_refused();
	probe_allowed();
	show_file("pid1-cmdline", "/proc/1/cmdline");
	show_file("pid1-environ", "/proc/1/environ");
	n = readlink("/proc/1/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		printf("pid1-exe %s\n", strerrorname_np(errno));
	else
		printf("pid1-exe [%.*s]\n", (int)n, exe);
	show_file("mountinfo", "/proc/self/mountinfo");
	show_file("mounts", "/proc/self/mounts");
	return 0;
}
