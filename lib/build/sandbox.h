/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The build sandbox: one build instruction run as the pid 1 of fresh mount,
 * pid, uts, ipc, cgroup (and, without network, net) namespaces, on a stage's
 * overlay as its root. No external runtime: clone(), mounts and pivot_root()
 * done here. Internal to lib/build.
 *
 * Order of use: sandbox_enter() once at start-up, while the process is still
 * single-threaded; then, from any thread, sandbox_mount_overlay() for a
 * stage's root, sandbox_run() for each step, sandbox_umount() at the end.
 */

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/filter.h>

#include <kiln/kiln.h>

/*
 * Put kiln in its own mount namespace with / made recursively private, so
 * that the overlays kiln mounts are invisible to the host and vanish with
 * the process. When not root, first a user namespace that maps the caller's
 * uid and gid to 0 (one-line maps, setgroups denied). The result is checked
 * with a real (detached) mount, so that a namespace without capabilities
 * (AppArmor's restriction of unprivileged user namespaces) fails here.
 *
 * Must be called before any thread exists: a user namespace cannot be
 * entered by a multi-threaded process, and a mount namespace would apply to
 * the calling thread only. Later calls do nothing and return the first
 * result (and its message). *@ret_userns (may be NULL) tells whether a user
 * namespace was made: overlays then need "userxattr". Returns 0 or -errno.
 */
int sandbox_enter(struct kiln_ctx *ctx, bool *ret_userns);

/*
 * Mount an overlay at @target (an existing directory). @lowers[0] is the TOP
 * layer; at least one lower is required (-EINVAL otherwise). @upper and
 * @work both set give a writable overlay; both NULL a read-only one, which
 * for a single lower is a read-only recursive bind mount of it instead.
 * Layers are passed one "lowerdir+" each through fsopen()/fsconfig() (up to
 * 500 layers), else, on kernels without that, as one "lowerdir=a:b" mount(2)
 * option string (which must fit one page). Every layer is named to the
 * kernel as /proc/self/fd/N of an O_PATH descriptor, so that the options a
 * step reads in /proc/self/mountinfo name no host path (of any length).
 * A writable one has "index=off", whatever the kernel's default: kiln keeps
 * no hard link across copy-up, and mounts a cachePaths directory again as
 * the upper layer over another empty lower one at each use, which the
 * index would refuse (it ties an upper layer to its first lower one).
 * @userxattr adds "userxattr", required in a user namespace. The kernel's
 * own reason is part of the error message.
 * Returns 0 or -errno.
 */
int sandbox_mount_overlay(struct kiln_ctx *ctx, const char *target, const char *const *lowers,
			  size_t n_lowers, const char *upper, const char *work, bool userxattr);

/* Detach the mount at @target (umount2 MNT_DETACH). Returns 0 or -errno. */
int sandbox_umount(struct kiln_ctx *ctx, const char *target);

/* A bind mount into the sandbox. */
struct sandbox_mount {
	const char *source; /* absolute host path (in kiln's namespace): directory or file */
	/* absolute path inside the root, e.g. "/tmp/build", "/run/secrets/key" */
	const char *target;
	/*
	 * Recursively read-only. A read-only file (a secret) is a copy on a
	 * tmpfs of its own, not a bind mount, whose root field in
	 * /proc/self/mountinfo would name its host path.
	 */
	bool read_only;
};

/* What to run, and in what. */
struct sandbox_spec {
	/* absolute, a mount point in kiln's namespace (the stage's overlay); becomes / */
	const char *root;
	/* argv[0]: an absolute path inside the root, executed without PATH search */
	char *const *argv;
	/* the whole environment; nothing of kiln's own is passed; NULL: empty */
	char *const *envp;
	/* absolute, inside the root; made if missing (after the mounts); NULL: / */
	const char *cwd;
	const char *hostname; /* NULL: "kiln" */
	bool network; /* true: share kiln's network namespace; false: a new one with only lo, up */
	/*
	 * Bind mounts, made after /proc, /dev, /tmp and /run, in this order.
	 * Missing targets are created (directories, and an empty file as the
	 * last component when the source is not a directory), resolved inside
	 * the root: a symbolic link in the root cannot point them outside it.
	 */
	const struct sandbox_mount *mounts;
	size_t n_mounts;
	int output_fd; /* the command's stdout and stderr; stdin is /dev/null */
	/*
	 * May be NULL. When it becomes true (polled every 100 ms), the whole
	 * sandbox is killed and sandbox_run() returns -ECANCELED.
	 */
	const atomic_bool *cancel;
};

/*
 * Run @spec->argv in a new sandbox and wait for it. *@ret_status gets the
 * command's exit code 0..255, or 128+N when signal N killed it. The sandbox
 * ends when the command does: processes it left behind are killed. If kiln
 * dies, the sandbox dies with it, so the calling thread must be the one that
 * waits (it is: this call blocks).
 *
 * The command runs as root (kiln's uid 0, or the one of its user namespace)
 * with at most Docker's default capabilities (0xa80425fb: chown, setuid,
 * mknod and the like, but no CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_TIME...)
 * in all its sets and its bounding set, none ambient, and no_new_privs set.
 * As runc does, /proc/sys, sysrq-trigger, irq, bus and fs are read-only and
 * kcore, keys, timer_list and the like are empty, where the kernel has them.
 * Every process of the sandbox runs under sandbox_seccomp_filter()'s filter,
 * and pid 1 is a small init run from a memfd (sandbox-init.c), whose command
 * line, environment and executable name nothing of the host.
 *
 * Returns 0 when the command ran (whatever its exit status); -errno when the
 * sandbox could not be set up or the command could not be started, with
 * the step and the path on @ctx. A command missing from the root gives
 * -ENOENT with a message that says so. Not root: sandbox_enter() first.
 */
int sandbox_run(struct kiln_ctx *ctx, const struct sandbox_spec *spec, int *ret_status);

/*
 * The system call filter of every process of a sandbox (sandbox-seccomp.c):
 * made on the first call, the same program after. Returns 0 or -errno.
 */
int sandbox_seccomp_filter(struct kiln_ctx *ctx, const struct sock_fprog **ret);

/* ---- internal to sandbox-child.c and sandbox-mount.c ---- */

/*
 * Async-signal-safe: attach a recursive bind mount of @source at @tpath
 * relative to @tfd ("" for @tfd itself), read-only throughout when @ro. No
 * locked flag of the source has to be repeated. Returns 0 or -errno.
 */
int sandbox_bind_tree(const char *source, int tfd, const char *tpath, bool ro);

/*
 * Async-signal-safe: a read-only copy of the file @source on @tfd (a file),
 * from a tmpfs of its own, so that no mount's root field names the host
 * path (as a bind mount's does). Where the kernel cannot clone a detached
 * mount (before 6.15), @source itself is bound read-only. Returns 0 or -errno.
 */
int sandbox_bind_file_copy(const char *source, int tfd);

/* ---- internal to sandbox.c and sandbox-child.c ---- */

/* Which step of the child failed (sandbox-child.c's enum child_step), sent to the parent. */
struct child_report {
	int32_t step;
	int32_t err;
	int32_t index;
	int32_t found;
};
_Static_assert(sizeof(struct child_report) <= PIPE_BUF, "one atomic pipe write");

/* One mount in the root: a filesystem on a directory, or a bind mount. */
struct child_mount {
	const char *rel; /* inside the root, without the leading '/' */
	const char *source; /* bind mount of this host path, or NULL */
	const char *fstype; /* else a new filesystem of this type */
	const char *data;
	unsigned long flags;
	bool dir; /* the mount point is a directory (else a file) */
	bool read_only; /* bind mounts */
	bool dev; /* populate it as /dev */
	bool proc; /* guard it as /proc */
};

/* The plan the child follows, made before clone(). */
struct child_args {
	const char *root;
	const struct child_mount *mounts;
	size_t n_mounts;
	const char *cwd; /* absolute */
	const char *hostname;
	bool network;
	char *const *argv;
	char *const *envp;
	int output_fd;
	int alive_fd; /* read end of a pipe whose write end only the parent holds */
	int report_fd; /* write end of the report pipe */
	char *command_stack; /* top of the stack the command uses until its execve() */
	const struct sock_fprog *seccomp; /* loaded by pid 1 and the command */
	int init_fd; /* a memfd holding sandbox-init.c's program, which pid 1 becomes */
};

/* The child: clone()'s function, run as pid 1 of the sandbox with @arg a struct child_args. */
int sandbox_child_main(void *arg);

/* The error @rep reports, on @ctx, with the mounts (@mounts, @n_mounts) the child was given. */
int sandbox_describe_failure(struct kiln_ctx *ctx, const struct sandbox_spec *spec,
			     const struct child_mount *mounts, size_t n_mounts,
			     const struct child_report *rep);
