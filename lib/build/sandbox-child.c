/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The build sandbox's first process, and the command until its execve():
 * what sandbox_run() (sandbox.c) clones into new namespaces. That child
 * (pid 1 there) mounts /proc, /dev, /tmp, /run and the bind mounts on the
 * stage's root, switches to it with pivot_root() and starts the command,
 * then reaps until the command exits and exits with its status. A step
 * that fails is sent to the parent as a struct child_report, which
 * sandbox_describe_failure() here turns into a message.
 *
 * kiln is multi-threaded when this runs and the child is a copy of it taken
 * at an arbitrary moment (another thread may hold malloc's lock), so the
 * child only makes system calls: every string and table it needs is made
 * before clone(), and it starts the command with clone(CLONE_VM) rather
 * than fork(), whose atfork handlers take locks. Once the command is
 * started, pid 1 becomes the small init of sandbox-init.c, and only then
 * does the command exec.
 */
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fileio.h"
#include "log.h"
#include "sandbox.h"

/* pid 1's exit code when it failed and said why on the report pipe */
#define CHILD_EXIT_FAILED 125
/* the command's exit code when execve() failed */
#define CHILD_EXIT_EXEC 127

#define CAP_BIT(cap) (UINT64_C(1) << (cap))
/*
 * The command's capabilities, Docker's and containerd's default set: a build
 * as root may still chown, change its ids, make device nodes and so on in its
 * own tree, but not load modules, mount, trace, change the clock or reboot.
 */
#define COMMAND_CAPS                                                                             \
	(CAP_BIT(CAP_CHOWN) | CAP_BIT(CAP_DAC_OVERRIDE) | CAP_BIT(CAP_FSETID) |                  \
	 CAP_BIT(CAP_FOWNER) | CAP_BIT(CAP_MKNOD) | CAP_BIT(CAP_NET_RAW) | CAP_BIT(CAP_SETGID) | \
	 CAP_BIT(CAP_SETUID) | CAP_BIT(CAP_SETFCAP) | CAP_BIT(CAP_SETPCAP) |                     \
	 CAP_BIT(CAP_NET_BIND_SERVICE) | CAP_BIT(CAP_SYS_CHROOT) | CAP_BIT(CAP_KILL) |           \
	 CAP_BIT(CAP_AUDIT_WRITE))

/* Which step of the child failed; the parent turns it into a message. */
enum child_step {
	STEP_NONE,
	STEP_SETUP, /* pdeathsig, signals, descriptors */
	STEP_PRIVATE, /* making the copied mounts private */
	STEP_ROOT, /* opening the root; index: none */
	STEP_MOUNT_POINT, /* creating a mount point; index: child_args.mounts */
	STEP_MOUNT, /* mounting; index: child_args.mounts */
	STEP_DEV, /* populating /dev; index: dev_entries */
	STEP_PROC, /* guarding /proc; index: proc_guards */
	STEP_LOOPBACK,
	STEP_HOSTNAME,
	STEP_CWD,
	STEP_PIVOT,
	STEP_FORK, /* starting the command */
	STEP_STDIO, /* the command's stdin, stdout, stderr */
	STEP_CAPS, /* dropping the command's capabilities */
	STEP_SECCOMP, /* loading the system call filter (the command's, or pid 1's) */
	STEP_EXEC, /* found: argv[0] exists in the root */
	STEP_INIT, /* pid 1 becoming the sandbox's init */
};

/*
 * What /dev holds, made in this order on its fresh tmpfs: host devices bound
 * onto empty files (mknod is refused in a user namespace), filesystems on
 * directories, symbolic links.
 */
static const struct dev_entry {
	const char *name;
	const char *host;
	const char *fstype;
	const char *data;
	unsigned long flags;
	const char *link;
} dev_entries[] = {
	{ "null", .host = "/dev/null" },
	{ "zero", .host = "/dev/zero" },
	{ "full", .host = "/dev/full" },
	{ "random", .host = "/dev/random" },
	{ "urandom", .host = "/dev/urandom" },
	{ "tty", .host = "/dev/tty" },
	/* no gid=5: an unmapped gid makes devpts refuse the mount */
	{ "pts", .fstype = "devpts", .data = "newinstance,ptmxmode=0666,mode=0620",
	  .flags = MS_NOSUID | MS_NOEXEC },
	{ "shm", .fstype = "tmpfs", .data = "mode=1777,size=65536k",
	  .flags = MS_NOSUID | MS_NODEV | MS_NOEXEC },
	{ "ptmx", .link = "pts/ptmx" },
	{ "fd", .link = "/proc/self/fd" },
	{ "stdin", .link = "/proc/self/fd/0" },
	{ "stdout", .link = "/proc/self/fd/1" },
	{ "stderr", .link = "/proc/self/fd/2" },
};

/*
 * What of /proc runc's defaults keep from a container: files and directories
 * through which root changes the host are made read-only, those that show
 * the kernel's memory, keys and timers are covered by /dev/null (files) or
 * an empty read-only tmpfs (directories). Missing ones are skipped.
 */
static const struct proc_guard {
	const char *name;
	enum { PROC_READ_ONLY, PROC_HIDE_FILE, PROC_HIDE_DIR } how; /* unset: read-only */
} proc_guards[] = {
	{ "sys" },
	{ "sysrq-trigger" },
	{ "irq" },
	{ "bus" },
	{ "fs" },
	{ "kcore", PROC_HIDE_FILE },
	{ "keys", PROC_HIDE_FILE },
	{ "latency_stats", PROC_HIDE_FILE },
	{ "timer_list", PROC_HIDE_FILE },
	{ "timer_stats", PROC_HIDE_FILE },
	{ "sched_debug", PROC_HIDE_FILE },
	{ "acpi", PROC_HIDE_DIR },
	{ "asound", PROC_HIDE_DIR },
	{ "scsi", PROC_HIDE_DIR },
};

/* ---- the child: system calls only from here to sandbox_run() ---- */

static int child_fail(struct child_report *rep, enum child_step step, size_t index, int err)
{
	rep->step = step;
	rep->index = (int32_t)index;
	rep->err = err < 0 ? -err : err;
	return -rep->err;
}

/* Close every descriptor but those in @keep (at most 8; negative ones are ignored). */
static int close_fds_except(const int *keep, size_t n)
{
	int k[8];
	unsigned lo = 0;

	if (n > ELEMENTSOF(k))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		for (; j > 0 && k[j - 1] > keep[i]; j--)
			k[j] = k[j - 1];
		k[j] = keep[i];
	}
	for (size_t i = 0; i < n; i++) {
		if (k[i] < 0 || (unsigned)k[i] < lo)
			continue;
		if ((unsigned)k[i] > lo && close_range(lo, (unsigned)k[i] - 1, 0) < 0)
			return -errno;
		lo = (unsigned)k[i] + 1;
	}
	return close_range(lo, ~0U, 0) < 0 ? -errno : 0;
}

/* The parent's copy of the write end is gone only when the parent is. */
static bool parent_alive(int alive_fd)
{
	struct pollfd p = { .fd = alive_fd, .events = POLLIN };

	return poll(&p, 1, 0) == 0;
}

/* @path inside the root @rootfd as an O_PATH fd, resolved as if @rootfd were /. */
static int open_in_root(int rootfd, const char *path, int flags)
{
	return openat_in_root(rootfd, path, O_PATH | flags, 0);
}

/*
 * @rel inside the root @rootfd as an O_PATH fd, with what is missing made:
 * directories, and for the last component an empty file unless @dir. Every
 * prefix is resolved in the root, so no symbolic link in it leads outside.
 */
static int child_open_target(int rootfd, const char *rel, bool dir)
{
	char buf[PATH_MAX];
	size_t len;
	int cur = -1;

	rel += strspn(rel, "/");
	len = strlen(rel);
	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, rel, len + 1);
	if (!buf[0])
		return open_in_root(rootfd, ".", O_DIRECTORY);
	for (char *p = buf; *p;) {
		char *name = p, *next, save;
		bool last, want_dir;
		int fd;

		while (*p && *p != '/')
			p++;
		for (next = p; *next == '/'; next++)
			;
		last = !*next;
		want_dir = dir || !last;
		save = *p;
		*p = '\0';
		fd = open_in_root(rootfd, buf, want_dir ? O_DIRECTORY : 0);
		if (fd == -ENOENT) {
			int at = cur >= 0 ? cur : rootfd, made = 0;

			if (want_dir) {
				made = mkdirat(at, name, 0755);
			} else {
				made = openat(at, name,
					      O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
					      0644);
				if (made >= 0)
					made = close(made);
			}
			if (made < 0 && errno != EEXIST)
				fd = -errno;
			else
				fd = open_in_root(rootfd, buf, want_dir ? O_DIRECTORY : 0);
		}
		if (cur >= 0)
			close(cur);
		if (fd < 0)
			return fd;
		cur = fd;
		*p = save;
		p = next;
	}
	return cur;
}

static int child_populate_dev(int rootfd, const char *rel, struct child_report *rep)
{
	_cleanup_close_ int dev = child_open_target(rootfd, rel, true);

	if (dev < 0 || fchdir(dev) < 0)
		return child_fail(rep, STEP_DEV, ELEMENTSOF(dev_entries), dev < 0 ? dev : errno);
	for (size_t i = 0; i < ELEMENTSOF(dev_entries); i++) {
		const struct dev_entry *e = &dev_entries[i];
		int r = 0;

		if (e->host) {
			r = open(e->name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
			if (r >= 0)
				r = close(r);
			if (r >= 0)
				r = mount(e->host, e->name, NULL, MS_BIND, NULL);
		} else if (e->fstype) {
			r = mkdir(e->name, 0755);
			if (r >= 0)
				r = mount(e->fstype, e->name, e->fstype, e->flags, e->data);
		} else {
			r = symlink(e->link, e->name);
		}
		if (r < 0)
			return child_fail(rep, STEP_DEV, i, errno);
	}
	return 0;
}

/* @g relative to the current directory, /proc. */
static int child_guard_proc_entry(const struct proc_guard *g)
{
	unsigned long empty = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;

	switch (g->how) {
	case PROC_HIDE_DIR:
		return mount("tmpfs", g->name, "tmpfs", empty, "mode=0555") < 0 ? -errno : 0;
	case PROC_HIDE_FILE:
		return sandbox_bind_tree("/dev/null", AT_FDCWD, g->name, false);
	default:
		return sandbox_bind_tree(g->name, AT_FDCWD, g->name, true);
	}
}

/* Done while pid 1 still may mount; the command cannot undo it without CAP_SYS_ADMIN. */
static int child_guard_proc(int rootfd, const char *rel, struct child_report *rep)
{
	_cleanup_close_ int proc = open_in_root(rootfd, rel, O_DIRECTORY);

	if (proc < 0 || fchdir(proc) < 0)
		return child_fail(rep, STEP_PROC, ELEMENTSOF(proc_guards), proc < 0 ? proc : errno);
	for (size_t i = 0; i < ELEMENTSOF(proc_guards); i++) {
		int r = child_guard_proc_entry(&proc_guards[i]);

		/* ENOENT: not in this kernel (a missing /dev/null fails /dev's setup next) */
		if (r < 0 && r != -ENOENT)
			return child_fail(rep, STEP_PROC, i, r);
	}
	return 0;
}

static int child_mount_one(const struct child_args *a, int rootfd, size_t i,
			   struct child_report *rep)
{
	const struct child_mount *m = &a->mounts[i];
	_cleanup_close_ int target = child_open_target(rootfd, m->rel, m->dir);
	int r = 0;

	if (target < 0)
		return child_fail(rep, STEP_MOUNT_POINT, i, target);
	/* a read-only file (a secret) is copied: a bind mount names its host path */
	if (m->source && m->read_only && !m->dir)
		r = sandbox_bind_file_copy(m->source, target);
	else if (m->source)
		r = sandbox_bind_tree(m->source, target, "", m->read_only);
	else if (fchdir(target) < 0 || mount(m->fstype, ".", m->fstype, m->flags, m->data) < 0)
		r = -errno;
	if (r < 0)
		return child_fail(rep, STEP_MOUNT, i, r);
	if (m->dev)
		return child_populate_dev(rootfd, m->rel, rep);
	return m->proc ? child_guard_proc(rootfd, m->rel, rep) : 0;
}

static int loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static void reset_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	/* kiln's handlers must not run here; glibc's own signals just fail */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Everything pid 1 does before it starts the command. */
static int child_setup(const struct child_args *a, struct child_report *rep)
{
	int keep[] = { 0, 1, 2, a->alive_fd, a->report_fd, a->output_fd, a->init_fd };
	_cleanup_close_ int rootfd = -1, cwd = -1;
	int r;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return child_fail(rep, STEP_SETUP, 0, errno);
	reset_signals();
	/* descriptors of kiln's other threads, among them other sandboxes' pipes */
	r = close_fds_except(keep, ELEMENTSOF(keep));
	if (r < 0)
		return child_fail(rep, STEP_SETUP, 0, r);
	if (!parent_alive(a->alive_fd))
		_exit(CHILD_EXIT_FAILED);
	/* / was copied from kiln's namespace: nothing done here may reach it */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return child_fail(rep, STEP_PRIVATE, 0, errno);
	/* opened here, not before clone(): it must name this namespace's copy of the root */
	rootfd = open(a->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return child_fail(rep, STEP_ROOT, 0, errno);
	for (size_t i = 0; i < a->n_mounts; i++) {
		r = child_mount_one(a, rootfd, i, rep);
		if (r < 0)
			return r;
	}
	if (!a->network) {
		r = loopback_up();
		if (r < 0)
			return child_fail(rep, STEP_LOOPBACK, 0, r);
	}
	if (sethostname(a->hostname, strlen(a->hostname)) < 0)
		return child_fail(rep, STEP_HOSTNAME, 0, errno);
	cwd = child_open_target(rootfd, a->cwd, true);
	if (cwd < 0)
		return child_fail(rep, STEP_CWD, 0, cwd);
	if (fchdir(rootfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return child_fail(rep, STEP_PIVOT, 0, errno);
	if (fchdir(cwd) < 0)
		return child_fail(rep, STEP_CWD, 0, errno);
	return 0;
}

static void child_report(const struct child_args *a, const struct child_report *rep)
{
	/* the parent reads it after pid 1 is gone; nobody to tell if this fails */
	if (write(a->report_fd, rep, sizeof(*rep)) < 0)
		return;
}

/* Point @fd at the output, unless it is already (then only keep it across execve). */
static int dup_output(int output_fd, int fd)
{
	if (output_fd == fd)
		return fcntl(fd, F_SETFD, 0);
	return dup2(output_fd, fd);
}

/*
 * Leave the command COMMAND_CAPS at most, in every set and in whatever it
 * executes (the bounding set), and no way back to more: no ambient
 * capabilities, and no setuid or file capabilities honoured (no_new_privs).
 */
static int drop_capabilities(void)
{
	struct __user_cap_header_struct head = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	/* up to the kernel's last capability, past which it says EINVAL */
	for (unsigned long cap = 0; cap < 64; cap++) {
		int has = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (has < 0 && errno == EINVAL)
			break;
		if (has < 0)
			return -errno;
		if (has && !(COMMAND_CAPS & CAP_BIT(cap)) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -errno;
	}
	if (syscall(SYS_capget, &head, data) < 0)
		return -errno;
	/* what kiln itself lacks (in a container) it cannot give */
	for (size_t i = 0; i < ELEMENTSOF(data); i++) {
		uint32_t keep = (uint32_t)(COMMAND_CAPS >> (32 * i));

		data[i].permitted &= keep;
		data[i].effective = data[i].permitted;
		data[i].inheritable = data[i].permitted;
	}
	if (syscall(SYS_capset, &head, data) < 0)
		return -errno;
	/* kernels before 4.3 have no ambient capabilities */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

static int load_seccomp(const struct child_args *a)
{
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, a->seccomp);
}

/* What the command gets from pid 1. */
struct command_args {
	const struct child_args *a;
	int init_r; /* end of file once pid 1 has become the init */
	int init_w; /* the command's copy of the other end, closed first */
};

/* The command, from clone(CLONE_VM) until its execve(). */
static int command_main(void *arg)
{
	const struct command_args *c = arg;
	const struct child_args *a = c->a;
	struct child_report rep = { .step = STEP_STDIO };
	int keep[] = { 0, 1, 2, a->report_fd };
	struct stat st;
	char byte;
	int null, r;

	/*
	 * First, and touching no memory but its stack: wait until pid 1 is the
	 * init (or gone), so that no step sees kiln's copy as pid 1, and so that
	 * nothing runs in this shared memory alongside pid 1.
	 */
	close(c->init_w);
	while ((r = (int)read(c->init_r, &byte, 1)) < 0 && errno == EINTR)
		;
	close(c->init_r);
	/* dispositions are already the defaults, set by pid 1 */
	setsid();
	if (dup_output(a->output_fd, 1) < 0 || dup_output(a->output_fd, 2) < 0)
		goto fail;
	/* a /dev/null above 0 is closed with the rest below */
	null = open("/dev/null", O_RDONLY);
	if (null < 0 || (null != 0 && dup2(null, 0) < 0))
		goto fail;
	if (close_fds_except(keep, ELEMENTSOF(keep)) < 0)
		goto fail;
	rep.step = STEP_CAPS;
	r = drop_capabilities();
	if (r < 0) {
		errno = -r;
		goto fail;
	}
	/* no_new_privs is set: the filter needs no privilege, and stays across execve() */
	rep.step = STEP_SECCOMP;
	if (load_seccomp(a) < 0)
		goto fail;
	rep.step = STEP_EXEC;
	execve(a->argv[0], a->argv, a->envp);
fail:
	rep.err = errno;
	/* ENOENT is a missing argv[0] or a missing interpreter: tell which */
	rep.found = rep.step == STEP_EXEC && stat(a->argv[0], &st) == 0;
	child_report(a, &rep);
	_exit(CHILD_EXIT_EXEC);
}

/* @v in decimal, into @buf (at least 21 bytes): snprintf() is not async-signal-safe. */
static char *format_pid(char *buf, size_t size, pid_t v)
{
	char *p = buf + size;

	*--p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) > 0 && p > buf);
	return p;
}

/*
 * Pid 1 becomes sandbox-init.c's program (reaping until the command exits),
 * so that /proc/1 shows a fresh command line and environment and a memfd as
 * its executable, not kiln's: the command is already running then. Its
 * stdio is /dev/null; it runs under the steps' filter, with its capabilities
 * (so that the step can neither trace it nor read its /proc files).
 */
static _noreturn_ void child_become_init(const struct child_args *a, pid_t command)
{
	static char *const no_env[] = { NULL };
	struct child_report rep = { 0 };
	char pid[24];
	char *argv[] = { (char *)"init", format_pid(pid, sizeof(pid), command), NULL };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int err;

	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) {
		child_fail(&rep, STEP_INIT, 0, errno);
	} else if (load_seccomp(a) < 0) {
		child_fail(&rep, STEP_SECCOMP, 0, errno);
	} else {
		execveat(a->init_fd, "", argv, no_env, AT_EMPTY_PATH);
		err = errno;
		child_fail(&rep, STEP_INIT, 0, err);
	}
	child_report(a, &rep);
	_exit(CHILD_EXIT_FAILED);
}

/*
 * The command shares pid 1's memory (CLONE_VM: no copy of kiln's) but not
 * its descriptors. It starts by waiting for pid 1's execve(), which closes
 * the pipe's write end (close-on-exec) and leaves the memory to the command
 * alone; meanwhile pid 1 makes only system calls.
 */
static _noreturn_ void child_run_command(const struct child_args *a)
{
	struct child_report rep = { 0 };
	struct command_args c = { .a = a };
	int fds[2];
	pid_t command;

	if (!parent_alive(a->alive_fd))
		_exit(CHILD_EXIT_FAILED);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		child_fail(&rep, STEP_FORK, 0, errno);
		child_report(a, &rep);
		_exit(CHILD_EXIT_FAILED);
	}
	c.init_r = fds[0];
	c.init_w = fds[1];
	command = clone(command_main, a->command_stack, CLONE_VM | SIGCHLD, &c);
	if (command < 0) {
		child_fail(&rep, STEP_FORK, 0, errno);
		child_report(a, &rep);
		_exit(CHILD_EXIT_FAILED);
	}
	close(fds[0]);
	close(a->output_fd);
	/* orphans of the command are reparented to pid 1: the init reaps them along */
	child_become_init(a, command);
}

int sandbox_child_main(void *arg)
{
	const struct child_args *a = arg;
	struct child_report rep = { 0 };

	if (child_setup(a, &rep) < 0) {
		child_report(a, &rep);
		_exit(CHILD_EXIT_FAILED);
	}
	child_run_command(a);
}

/* ---- the child's report, described by the parent ---- */

static int describe_exec_failure(struct kiln_ctx *ctx, const struct sandbox_spec *spec,
				 const struct child_report *rep)
{
	const char *cmd = spec->argv[0];

	if (rep->err == ENOENT && !rep->found)
		return kiln_error(ctx, -ENOENT,
				  "cannot run %s in the stage's root %s: %s; the stage has no such "
				  "program (a stage without a shell cannot run shell steps)",
				  cmd, spec->root, strerror(ENOENT));
	if (rep->err == ENOENT)
		return kiln_error(ctx, -ENOENT,
				  "cannot run %s in the stage's root %s: it is there, but its "
				  "interpreter (its #! line, or its ELF loader and libraries) is "
				  "missing from the stage",
				  cmd, spec->root);
	return kiln_error(ctx, rep->err, "cannot run %s in the stage's root %s: %s%s", cmd,
			  spec->root, strerror(rep->err),
			  rep->err == EACCES ? " (not executable, or on a noexec mount)" : "");
}

int sandbox_describe_failure(struct kiln_ctx *ctx, const struct sandbox_spec *spec,
			     const struct child_mount *mounts, size_t n_mounts,
			     const struct child_report *rep)
{
	static const struct child_mount none = { .rel = "?", .fstype = "?" };
	const struct child_mount *m = (size_t)rep->index < n_mounts ? &mounts[rep->index] : &none;
	const char *why = strerror(rep->err);
	int err = rep->err;

	switch (rep->step) {
	case STEP_PRIVATE:
		return kiln_error(ctx, err, "cannot make the sandbox's mounts private: %s", why);
	case STEP_ROOT:
		return kiln_error(ctx, err,
				  "cannot open the stage's root \"%s\" in the sandbox: %s",
				  spec->root, why);
	case STEP_MOUNT_POINT:
		return kiln_error(
		    ctx, err, "cannot create the mount point /%s in the stage's root \"%s\": %s",
		    m->rel, spec->root, why);
	case STEP_MOUNT:
		if (m->source)
			return kiln_error(ctx, err, "cannot bind \"%s\" on /%s in the sandbox: %s",
					  m->source, m->rel, why);
		return kiln_error(ctx, err, "cannot mount %s on /%s in the sandbox: %s", m->fstype,
				  m->rel, why);
	case STEP_DEV:
		if (rep->index >= (int)ELEMENTSOF(dev_entries))
			return kiln_error(ctx, err, "cannot enter /dev in the sandbox: %s", why);
		return kiln_error(ctx, err, "cannot set up /dev/%s in the sandbox%s%s: %s",
				  dev_entries[rep->index].name,
				  dev_entries[rep->index].host ? " from the host's " : "",
				  strempty(dev_entries[rep->index].host), why);
	case STEP_PROC:
		if (rep->index >= (int)ELEMENTSOF(proc_guards))
			return kiln_error(ctx, err, "cannot enter /proc in the sandbox: %s", why);
		if (proc_guards[rep->index].how == PROC_READ_ONLY)
			return kiln_error(ctx, err,
					  "cannot make /proc/%s read-only in the sandbox: %s",
					  proc_guards[rep->index].name, why);
		return kiln_error(ctx, err, "cannot hide /proc/%s in the sandbox: %s",
				  proc_guards[rep->index].name, why);
	case STEP_LOOPBACK:
		return kiln_error(ctx, err, "cannot bring up the sandbox's loopback interface: %s",
				  why);
	case STEP_HOSTNAME:
		return kiln_error(ctx, err, "cannot set the sandbox's host name: %s", why);
	case STEP_CWD:
		return kiln_error(ctx, err,
				  "cannot make or enter the working directory %s in the stage's "
				  "root \"%s\": %s",
				  spec->cwd ? spec->cwd : "/", spec->root, why);
	case STEP_PIVOT:
		return kiln_error(ctx, err,
				  "cannot make \"%s\" the sandbox's root (pivot_root): %s; it must "
				  "be a mount point, such as the stage's overlay",
				  spec->root, why);
	case STEP_STDIO:
		return kiln_error(ctx, err,
				  "cannot connect the command's stdin, stdout and stderr: %s", why);
	case STEP_CAPS:
		return kiln_error(ctx, err,
				  "cannot drop the command's capabilities to the default set: %s%s",
				  why, err == EPERM ? " (kiln needs CAP_SETPCAP)" : "");
	case STEP_SECCOMP:
		return kiln_error(ctx, err, "cannot load the sandbox's system call filter: %s",
				  why);
	case STEP_EXEC:
		return describe_exec_failure(ctx, spec, rep);
	case STEP_FORK:
		return kiln_error(ctx, err, "cannot run the command in the sandbox: %s", why);
	case STEP_INIT:
		return kiln_error(ctx, err, "cannot start the sandbox's init (from a memfd): %s",
				  why);
	default:
		return kiln_error(ctx, err, "cannot start the sandbox's first process: %s", why);
	}
}
