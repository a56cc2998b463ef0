/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The build steps' system call filter, in the spirit of Docker's default
 * seccomp profile: what a build never needs and what reaches past the
 * sandbox (the kernel's keyrings, BPF, perf, kexec and modules, file
 * handles, userfaultfd, io_uring, new namespaces, mounts, the clock, swap,
 * reboot, port I/O) fails with EPERM; clone3, whose flags are in memory where a
 * filter cannot read them, fails with ENOSYS, so that the C library falls
 * back to clone, whose flags it can.
 *
 * Made with libseccomp, which knows each architecture's numbering: the
 * filter has the same rules for the native ABI and its compatibility ones
 * (i386 and x32 on x86_64, arm on aarch64), and kills a process that
 * enters the kernel through any other. ptrace stays allowed, as in Docker
 * on Linux 4.8 and later (which runs the filter again after a tracer's
 * changes): strace, gdb and LeakSanitizer use it, and the kernel's own
 * checks keep it to the step's processes (pid 1 keeps capabilities the
 * step lacks, so it cannot be traced). A list of refusals rather than
 * Docker's list of what is allowed: a system call newer than libseccomp
 * 2.5 is let through, and the missing capabilities (no CAP_SYS_ADMIN, and
 * no user namespace to gain it in) are what stand in its way.
 *
 * The BPF program is made once, in
 * kiln (libseccomp allocates), and only loaded by the sandbox's processes
 * after clone(), where a system call is all they may make.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <seccomp.h>

#include "fileio.h"
#include "log.h"
#include "sandbox.h"

/* Refused outright with EPERM. */
static const int refused[] = {
	/* the kernel's keyrings are not namespaced */
	SCMP_SYS(add_key), SCMP_SYS(keyctl), SCMP_SYS(request_key),
	/* programs and counters in the kernel */
	SCMP_SYS(bpf), SCMP_SYS(perf_event_open), SCMP_SYS(lookup_dcookie),
	/* another kernel, modules */
	SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load), SCMP_SYS(init_module),
	SCMP_SYS(finit_module), SCMP_SYS(delete_module), SCMP_SYS(create_module),
	SCMP_SYS(query_module), SCMP_SYS(get_kernel_syms),
	/* file handles open any file of a mounted filesystem, past the root */
	SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at),
	/* page faults handled by the step: a way to stall the kernel at will */
	SCMP_SYS(userfaultfd),
	/* io_uring: refused by Docker since 25.0, the source of many kernel flaws */
	SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register),
	/* the sandbox set its mounts up before this filter: no more */
	SCMP_SYS(mount), SCMP_SYS(umount), SCMP_SYS(umount2), SCMP_SYS(pivot_root),
	SCMP_SYS(move_mount), SCMP_SYS(open_tree), SCMP_SYS(fsopen), SCMP_SYS(fsconfig),
	SCMP_SYS(fsmount), SCMP_SYS(fspick), SCMP_SYS(mount_setattr),
	/* other namespaces, and the host's names */
	SCMP_SYS(setns), SCMP_SYS(sethostname), SCMP_SYS(setdomainname),
	/* the machine */
	SCMP_SYS(reboot), SCMP_SYS(swapon), SCMP_SYS(swapoff), SCMP_SYS(acct),
	SCMP_SYS(syslog), SCMP_SYS(iopl), SCMP_SYS(ioperm), SCMP_SYS(vm86),
	SCMP_SYS(vm86old), SCMP_SYS(quotactl), SCMP_SYS(quotactl_fd), SCMP_SYS(nfsservctl),
	SCMP_SYS(vhangup), SCMP_SYS(uselib), SCMP_SYS(ustat), SCMP_SYS(sysfs),
	SCMP_SYS(_sysctl),
	/* the clock */
	SCMP_SYS(settimeofday), SCMP_SYS(stime), SCMP_SYS(clock_settime),
	SCMP_SYS(clock_settime64), SCMP_SYS(adjtimex), SCMP_SYS(clock_adjtime),
	SCMP_SYS(clock_adjtime64),
};

/* clone() and unshare() flags that make a namespace; CLONE_NEWTIME only for unshare() */
static const uint64_t new_namespace_flags[] = {
	CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID,   CLONE_NEWNET,
};
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/*
 * The personalities Docker allows: Linux, 32-bit Linux, their uname26
 * forms, and the query; in increasing order.
 */
static const uint32_t personalities[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

static struct {
	pthread_once_t once;
	struct sock_fprog prog;
	int r;
	char error[256];
} filter = { .once = PTHREAD_ONCE_INIT };

static int rule(scmp_filter_ctx sc, uint32_t action, int nr, unsigned n,
		const struct scmp_arg_cmp *cmp)
{
	int r = seccomp_rule_add_array(sc, action, nr, n, cmp);

	/* a system call none of the filter's architectures has */
	return r == -EDOM || r == -EFAULT ? 0 : r;
}

/*
 * EPERM for personality(@lo..@hi): libseccomp takes one comparison per
 * argument and rule, so the range goes as aligned power-of-two blocks, each
 * a masked comparison of the low 32 bits (the kernel reads an unsigned int).
 */
static int refuse_personalities(scmp_filter_ctx sc, uint64_t lo, uint64_t hi)
{
	while (lo <= hi) {
		uint64_t size = 1;
		struct scmp_arg_cmp in;
		int r;

		while (size < (UINT64_C(1) << 32) && lo % (2 * size) == 0 && lo + 2 * size - 1 <= hi)
			size *= 2;
		in = SCMP_A0_64(SCMP_CMP_MASKED_EQ, ~(size - 1) & UINT32_MAX, lo);
		r = rule(sc, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1, &in);
		if (r < 0)
			return r;
		lo += size;
	}
	return 0;
}

static int add_rules(scmp_filter_ctx sc)
{
	uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	int r = 0;

	for (size_t i = 0; i < ELEMENTSOF(refused) && r >= 0; i++)
		r = rule(sc, eperm, refused[i], 0, NULL);
	/* flags are clone()'s first argument on every architecture but s390 */
	for (size_t i = 0; i < ELEMENTSOF(new_namespace_flags) && r >= 0; i++) {
		uint64_t f = new_namespace_flags[i];
		struct scmp_arg_cmp has = SCMP_A0_64(SCMP_CMP_MASKED_EQ, f, f);

		r = rule(sc, eperm, SCMP_SYS(clone), 1, &has);
		if (r >= 0)
			r = rule(sc, eperm, SCMP_SYS(unshare), 1, &has);
	}
	if (r >= 0) {
		struct scmp_arg_cmp has = SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_NEWTIME,
						     CLONE_NEWTIME);

		r = rule(sc, eperm, SCMP_SYS(unshare), 1, &has);
	}
	if (r >= 0)
		r = rule(sc, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL);
	/* what lies between the allowed personalities */
	for (size_t i = 1; i < ELEMENTSOF(personalities) && r >= 0; i++)
		if (personalities[i] > personalities[i - 1] + 1)
			r = refuse_personalities(sc, (uint64_t)personalities[i - 1] + 1,
						 (uint64_t)personalities[i] - 1);
	return r;
}

/* The compatibility ABIs of the native one, which get the same rules. */
static int add_arches(scmp_filter_ctx sc)
{
	static const struct {
		uint32_t native, compat;
	} compat[] = {
		{ SCMP_ARCH_X86_64, SCMP_ARCH_X86 },
		{ SCMP_ARCH_X86_64, SCMP_ARCH_X32 },
		{ SCMP_ARCH_AARCH64, SCMP_ARCH_ARM },
	};
	uint32_t native = seccomp_arch_native();

	for (size_t i = 0; i < ELEMENTSOF(compat); i++) {
		int r;

		if (compat[i].native != native)
			continue;
		r = seccomp_arch_add(sc, compat[i].compat);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	return 0;
}

/* The filter as BPF, through a memfd: libseccomp 2.5 exports to a descriptor only. */
static int export_bpf(scmp_filter_ctx sc, struct sock_fprog *prog)
{
	_cleanup_close_ int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;

	if (fd < 0)
		return -errno;
	r = seccomp_export_bpf(sc, fd);
	if (r < 0)
		return r;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	r = read_fd_all(fd, 1 << 20, &data, &len);
	if (r < 0)
		return r;
	if (len == 0 || len % sizeof(struct sock_filter) || len / sizeof(struct sock_filter) > 4096)
		return -EINVAL;
	prog->len = (unsigned short)(len / sizeof(struct sock_filter));
	prog->filter = (struct sock_filter *)TAKE_PTR(data);
	return 0;
}

static void build_filter(void)
{
	scmp_filter_ctx sc = seccomp_init(SCMP_ACT_ALLOW);
	const char *what = "make";
	int r = -ENOMEM;

	if (sc) {
		what = "set up";
		r = seccomp_attr_set(sc, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
		if (r >= 0)
			r = add_arches(sc);
		/* a binary search over the system calls: every one a step makes is filtered */
		if (r >= 0)
			r = seccomp_attr_set(sc, SCMP_FLTATR_CTL_OPTIMIZE, 2);
		if (r >= 0) {
			what = "add a rule to";
			r = add_rules(sc);
		}
		if (r >= 0) {
			what = "export";
			r = export_bpf(sc, &filter.prog);
		}
		seccomp_release(sc);
	}
	filter.r = r < 0 ? r : 0;
	if (r < 0)
		snprintf(filter.error, sizeof(filter.error),
			 "cannot %s the build steps' seccomp filter (libseccomp %u.%u.%u): %s",
			 what, seccomp_version()->major, seccomp_version()->minor,
			 seccomp_version()->micro, strerror(-r));
}

int sandbox_seccomp_filter(struct kiln_ctx *ctx, const struct sock_fprog **ret)
{
	pthread_once(&filter.once, build_filter);
	if (filter.r < 0)
		return kiln_error(ctx, filter.r, "%s", filter.error);
	*ret = &filter.prog;
	return 0;
}
