/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The build sandbox. sandbox_run() clones a child into new namespaces; that
 * child (pid 1 there) mounts /proc, /dev, /tmp, /run and the bind mounts on
 * the stage's root, switches to it with pivot_root() and starts the command,
 * then reaps until the command exits and exits with its status.
 *
 * The command must not reach past the sandbox even as real root: it runs
 * with the capabilities container runtimes give by default (enough for
 * chown, setuid, mknod and the like in its own tree) and no way to gain
 * more, and what /proc offers to change the host is read-only or hidden.
 *
 * This file is the parent's side: it checks the spec, plans the mounts,
 * makes the pipes and stacks, clones and waits. The child, which makes
 * only system calls, is in sandbox-child.c; a failing step is sent to the
 * parent as a fixed struct on a pipe and described there.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fileio.h"
#include "log.h"
#include "sandbox.h"

/* how often sandbox_run() looks at the cancel flag */
#define CANCEL_POLL_MS 100
/* each of the two child stacks (pid 1 and the command until its execve) */
#define CHILD_STACK_SIZE (256 * 1024)

static const struct child_mount base_mounts[] = {
	{ .rel = "proc",
	  .fstype = "proc",
	  .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC,
	  .dir = true,
	  .proc = true },
	{ .rel = "dev",
	  .fstype = "tmpfs",
	  .data = "mode=0755,size=65536k",
	  .flags = MS_NOSUID | MS_NOEXEC,
	  .dir = true,
	  .dev = true },
	{ .rel = "tmp",
	  .fstype = "tmpfs",
	  .data = "mode=1777",
	  .flags = MS_NOSUID | MS_NODEV,
	  .dir = true },
	{ .rel = "run",
	  .fstype = "tmpfs",
	  .data = "mode=0755",
	  .flags = MS_NOSUID | MS_NODEV,
	  .dir = true },
};

/* sandbox-init.c's program, embedded by meson (scripts/embed-blob.py) */
extern const unsigned char sandbox_init_blob[] __attribute__((visibility("hidden")));
extern const size_t sandbox_init_blob_size __attribute__((visibility("hidden")));

/* ---- the parent ---- */

static int check_path(struct kiln_ctx *ctx, const char *what, const char *path)
{
	if (!path || path[0] != '/')
		return kiln_error(ctx, -EINVAL, "sandbox: %s \"%s\" is not an absolute path", what,
				  strempty(path));
	if (strlen(path) >= PATH_MAX)
		return kiln_error(ctx, -ENAMETOOLONG, "sandbox: %s \"%.64s...\" is too long", what,
				  path);
	return 0;
}

static int check_spec(struct kiln_ctx *ctx, const struct sandbox_spec *spec)
{
	struct statx stx;
	int r;

	r = check_path(ctx, "the root", spec->root);
	if (r >= 0)
		r = check_path(ctx, "the command", spec->argv ? spec->argv[0] : NULL);
	if (r >= 0 && spec->cwd)
		r = check_path(ctx, "the working directory", spec->cwd);
	if (r < 0)
		return r;
	if (spec->hostname && strlen(spec->hostname) > HOST_NAME_MAX)
		return kiln_error(ctx, -EINVAL, "sandbox: the host name \"%s\" is over %d bytes",
				  spec->hostname, HOST_NAME_MAX);
	if (spec->output_fd < 0 || fcntl(spec->output_fd, F_GETFD) < 0)
		return kiln_error(ctx, -EBADF, "sandbox: the output descriptor %d is not open",
				  spec->output_fd);
	if (statx(AT_FDCWD, spec->root, 0, STATX_TYPE, &stx) < 0) {
		int err = errno;

		return kiln_error(ctx, err, "cannot use \"%s\" as the stage's root: %s", spec->root,
				  strerror(err));
	}
	if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return kiln_error(ctx, -EINVAL,
				  "cannot use \"%s\" as the stage's root: it is not a mount point "
				  "(mount the stage's overlay there first)",
				  spec->root);
	return 0;
}

/* The mounts in the order the child makes them: kiln's own, then the spec's. */
static int plan_mounts(struct kiln_ctx *ctx, const struct sandbox_spec *spec,
		       struct child_mount **ret, size_t *ret_n)
{
	size_t n = ELEMENTSOF(base_mounts) + spec->n_mounts;
	_cleanup_free_ struct child_mount *m = calloc(n, sizeof(*m));

	if (!m)
		return kiln_error(ctx, -ENOMEM, "sandbox: out of memory");
	memcpy(m, base_mounts, sizeof(base_mounts));
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct sandbox_mount *sm = &spec->mounts[i];
		struct child_mount *cm = &m[ELEMENTSOF(base_mounts) + i];
		struct stat st;
		int r;

		r = check_path(ctx, "a bind mount's target", sm->target);
		if (r >= 0)
			r = check_path(ctx, "a bind mount's source", sm->source);
		if (r < 0)
			return r;
		if (stat(sm->source, &st) < 0) {
			int err = errno;

			return kiln_error(ctx, err, "cannot bind \"%s\" on %s in the sandbox: %s",
					  sm->source, sm->target, strerror(err));
		}
		cm->rel = sm->target + strspn(sm->target, "/");
		if (!cm->rel[0])
			return kiln_error(ctx, -EINVAL,
					  "cannot bind \"%s\" on / in the sandbox: the root is the "
					  "stage's",
					  sm->source);
		cm->source = sm->source;
		cm->dir = S_ISDIR(st.st_mode);
		cm->read_only = sm->read_only;
	}
	*ret = TAKE_PTR(m);
	*ret_n = n;
	return 0;
}

/* Move @fd above 2 (so that the command's dup2() onto 0..2 misses it); -1 on failure. */
static int fd_above_stdio(int fd)
{
	int moved;

	if (fd > 2)
		return fd;
	moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return moved;
}

/* A close-on-exec pipe whose ends are both above 2. */
static int make_pipe(int *ret_r, int *ret_w, int flags)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | flags) < 0)
		return -errno;
	fds[0] = fd_above_stdio(fds[0]);
	fds[1] = fd_above_stdio(fds[1]);
	if (fds[0] < 0 || fds[1] < 0) {
		int err = errno;

		closep(&fds[0]);
		closep(&fds[1]);
		return -err;
	}
	*ret_r = fds[0];
	*ret_w = fds[1];
	return 0;
}

static struct {
	pthread_once_t once;
	int fd;
	int err;
} init_memfd = { .once = PTHREAD_ONCE_INIT, .fd = -1 };

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

static void make_init_memfd(void)
{
	int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	_cleanup_close_ int fd = memfd_create("init", flags | MFD_EXEC);
	int r;

	/* MFD_EXEC: Linux 6.3's vm.memfd_noexec; older kernels refuse the flag */
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("init", flags);
	if (fd < 0) {
		init_memfd.err = errno;
		return;
	}
	r = write_all(fd, sandbox_init_blob, sandbox_init_blob_size);
	if (r >= 0 && (fchmod(fd, 0555) < 0 || fcntl(fd, F_ADD_SEALS, seals) < 0))
		r = -errno;
	fd = fd_above_stdio(TAKE_FD(fd));
	if (r < 0 || fd < 0) {
		init_memfd.err = r < 0 ? -r : errno;
		return;
	}
	init_memfd.fd = TAKE_FD(fd);
}

/* The sealed memfd that pid 1 of every sandbox executes, made once. */
static int get_init_fd(struct kiln_ctx *ctx)
{
	pthread_once(&init_memfd.once, make_init_memfd);
	if (init_memfd.fd < 0)
		return kiln_error(ctx, init_memfd.err,
				  "cannot put the sandbox's init in a memfd: %s",
				  strerror(init_memfd.err));
	return init_memfd.fd;
}

struct child_stacks {
	char *base;
	size_t size;
};

static void child_stacks_release(struct child_stacks *s)
{
	if (s->base)
		munmap(s->base, s->size);
}

/* Two stacks, each above a guard page: [guard][command][guard][pid 1]. */
static int child_stacks_alloc(struct child_stacks *s)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char *base;

	s->size = 2 * (page + CHILD_STACK_SIZE);
	base = mmap(NULL, s->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	s->base = base;
	if (mprotect(base + page, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE) < 0 ||
	    mprotect(base + 2 * page + CHILD_STACK_SIZE, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE) <
		0)
		return -errno;
	return 0;
}

static int clone_error(struct kiln_ctx *ctx, int err)
{
	const char *hint = "";

	if (err == EPERM)
		hint = "; kiln needs root, or sandbox_enter() to have made a user namespace";
	else if (err == ENOSPC || err == EUSERS)
		hint = "; a namespace limit is reached (see the sysctls user.max_*_namespaces)";
	return kiln_error(ctx, err, "cannot create the sandbox's namespaces: %s%s", strerror(err),
			  hint);
}

/* Wait for pid 1, killing it when @cancel becomes true. Returns 1 when cancelled. */
static int wait_child(struct kiln_ctx *ctx, const struct sandbox_spec *spec, pid_t pid, int pidfd,
		      int *ret_wstatus)
{
	bool cancelled = false;
	int r = 0;

	for (;;) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };
		int n;

		if (spec->cancel && atomic_load(spec->cancel)) {
			cancelled = true;
			pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
			break;
		}
		n = poll(&p, 1, spec->cancel ? CANCEL_POLL_MS : -1);
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR) {
			int err = errno;

			r = kiln_error(ctx, err, "cannot wait for the sandbox: %s", strerror(err));
			pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
			break;
		}
	}
	while (waitpid(pid, ret_wstatus, 0) < 0) {
		int err = errno;

		if (err != EINTR)
			return kiln_error(ctx, err, "cannot wait for the sandbox: %s",
					  strerror(err));
	}
	if (r < 0)
		return r;
	return cancelled;
}

int sandbox_run(struct kiln_ctx *ctx, const struct sandbox_spec *spec, int *ret_status)
{
	static char *const no_env[] = { NULL };
	int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP |
		    CLONE_PIDFD | SIGCHLD;
	_cleanup_free_ struct child_mount *mounts = NULL;
	_cleanup_(child_stacks_release) struct child_stacks stacks = { 0 };
	_cleanup_close_ int alive_r = -1, alive_w = -1, report_r = -1, report_w = -1, pidfd = -1;
	const struct sock_fprog *seccomp;
	struct child_report rep;
	struct child_args a;
	sigset_t all, saved;
	int r, err, wstatus, init_fd = -1;
	size_t n_mounts = 0;
	pid_t pid;

	r = check_spec(ctx, spec);
	if (r < 0)
		return r;
	r = plan_mounts(ctx, spec, &mounts, &n_mounts);
	if (r >= 0)
		r = sandbox_seccomp_filter(ctx, &seccomp);
	if (r >= 0)
		r = init_fd = get_init_fd(ctx);
	if (r < 0)
		return r;
	r = make_pipe(&alive_r, &alive_w, 0);
	if (r >= 0)
		r = make_pipe(&report_r, &report_w, O_NONBLOCK);
	if (r >= 0)
		r = child_stacks_alloc(&stacks);
	if (r < 0)
		return kiln_error(ctx, r, "cannot prepare the sandbox: %s", strerror(-r));

	a = (struct child_args){
		.root = spec->root,
		.mounts = mounts,
		.n_mounts = n_mounts,
		.cwd = spec->cwd ? spec->cwd : "/",
		.hostname = spec->hostname ? spec->hostname : "kiln",
		.network = spec->network,
		.argv = spec->argv,
		.envp = spec->envp ? spec->envp : no_env,
		.output_fd = spec->output_fd,
		.alive_fd = alive_r,
		.report_fd = report_w,
		.command_stack = stacks.base + stacks.size / 2,
		.seccomp = seccomp,
		.init_fd = init_fd,
	};
	if (!spec->network)
		flags |= CLONE_NEWNET;

	/* no handler of kiln's may run in the child before it resets them */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	pid = clone(sandbox_child_main, stacks.base + stacks.size, flags, &a, &pidfd);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (pid < 0)
		return clone_error(ctx, err);
	close(TAKE_FD(report_w));

	r = wait_child(ctx, spec, pid, pidfd, &wstatus);
	if (r < 0)
		return r;
	if (r > 0)
		return kiln_error(ctx, -ECANCELED, "the build step %s was cancelled",
				  spec->argv[0]);
	if (read(report_r, &rep, sizeof(rep)) == (ssize_t)sizeof(rep))
		return sandbox_describe_failure(ctx, spec, mounts, n_mounts, &rep);
	/* pid 1 exits with the command's code; a signal to pid 1 itself ended both */
	*ret_status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	return 0;
}
