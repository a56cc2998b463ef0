/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * run_program(): posix_spawn (a vfork-like clone in glibc, so safe while
 * other threads hold locks), every descriptor but the three standard ones
 * closed in the child, signals at their defaults, stderr (and stdout when
 * the caller takes it) read through pipes until the program closes them,
 * then waited for; with a time limit, a program past it is killed.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"
#include "process.h"
#include "strbuf.h"

extern char **environ;

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* @name in $PATH, then in the sbin directories a user's PATH often lacks. */
static int find_program(const char *name, char **ret)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = NULL;
	char *save = NULL, *copy;

	if (strchr(name, '/')) {
		copy = strdup(name);
		if (!copy)
			return -ENOMEM;
		*ret = copy;
		return 0;
	}
	if (asprintf(&dirs, "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin") < 0)
		return -ENOMEM;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *p;

		if (asprintf(&p, "%s/%s", d, name) < 0)
			return -ENOMEM;
		if (is_executable(p)) {
			*ret = p;
			return 0;
		}
		free(p);
	}
	return -ENOENT;
}

/* @out_fd: the program's stdout, -1 for /dev/null */
static int spawn(const char *path, char *const argv[], int out_fd, int err_fd, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	if (posix_spawn_file_actions_init(&fa) != 0)
		return -ENOMEM;
	if (posix_spawnattr_init(&attr) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -ENOMEM;
	}
	r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!r && out_fd < 0)
		r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	else if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	if (!r)
		r = posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	if (!r)
		r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (!r)
		r = posix_spawnattr_setsigmask(&attr, &none);
	if (!r)
		r = posix_spawnattr_setsigdefault(&attr, &all);
	if (!r)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (!r)
		r = posix_spawn(ret_pid, path, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

/*
 * Keep @n bytes of stderr while under RUN_STDERR_MAX; read to the end even
 * out of memory: the child must not block on a full pipe.
 */
static int keep_stderr(struct strbuf *sb, const char *buf, size_t n, int r)
{
	if (r == 0 && sb->len < RUN_STDERR_MAX) {
		size_t k = RUN_STDERR_MAX - sb->len;

		r = strbuf_add(sb, buf, n < k ? n : k);
	}
	return r;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct pipes {
	int out, err; /* -1 once at their end */
	int out_r, err_r; /* the first failure: reading, or of the caller's output function */
};

/*
 * Read stdout and stderr as they come until both end, or until @deadline
 * (ms, CLOCK_MONOTONIC; 0: none): false when it passed.
 */
static bool read_pipes(struct pipes *p, const struct run_options *o, struct strbuf *err,
		       int64_t deadline)
{
	char buf[16384];

	while (p->out >= 0 || p->err >= 0) {
		struct pollfd pfd[2] = { { .fd = p->out, .events = POLLIN },
					 { .fd = p->err, .events = POLLIN } };
		int wait_ms = -1, n;

		if (deadline) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return false;
			wait_ms = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		n = poll(pfd, 2, wait_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			p->err_r = p->err_r ?: -errno;
			return true;
		}
		for (int i = 0; i < 2; i++) {
			int *fd = i == 0 ? &p->out : &p->err;
			ssize_t k;

			if (*fd < 0 || !pfd[i].revents)
				continue;
			k = read(*fd, buf, sizeof(buf));
			if (k < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (k <= 0) {
				if (k < 0)
					p->err_r = p->err_r ?: -errno;
				close(*fd);
				*fd = -1;
			} else if (i == 0) {
				if (p->out_r == 0)
					p->out_r = o->out(o->userdata, buf, (size_t)k);
			} else {
				p->err_r = keep_stderr(err, buf, (size_t)k, p->err_r);
			}
		}
	}
	return true;
}

/* Wait for @pid until @deadline (0: for ever); false when it passed. */
static bool wait_until(pid_t pid, int64_t deadline, int *ret_status)
{
	for (;;) {
		pid_t w = waitpid(pid, ret_status, deadline ? WNOHANG : 0);

		if (w == pid)
			return true;
		if (w < 0 && errno != EINTR)
			return true; /* not our child any more: nothing to wait for */
		if (w == 0) {
			if (now_ms() >= deadline)
				return false;
			/* the program closed its output but runs on: rare, so a poll will do */
			nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
		}
	}
}

int run_program_opts(struct kiln_ctx *ctx, char *const argv[], const struct run_options *o,
		     int *ret_status, char **ret_stderr)
{
	static const struct run_options none = { 0 };
	_cleanup_free_ char *path = NULL;
	_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;
	struct pipes p = { .out = -1, .err = -1 };
	int errpipe[2], outpipe[2] = { -1, -1 }, status = 0, r;
	int64_t deadline = 0;
	bool timed_out;
	pid_t pid;

	if (!o)
		o = &none;
	r = find_program(argv[0], &path);
	if (r == -ENOENT)
		return kiln_error(ctx, r, "cannot run \"%s\": not in $PATH, /usr/sbin or /sbin",
				  argv[0]);
	if (r < 0)
		return r;
	if (pipe2(errpipe, O_CLOEXEC) < 0)
		return kiln_error(ctx, errno, "cannot run \"%s\": pipe: %m", argv[0]);
	if (o->out && pipe2(outpipe, O_CLOEXEC) < 0) {
		r = -errno;
		close(errpipe[0]);
		close(errpipe[1]);
		return kiln_error(ctx, r, "cannot run \"%s\": pipe: %s", argv[0], strerror(-r));
	}
	if (o->timeout_ms)
		deadline = now_ms() + o->timeout_ms;
	r = spawn(path, argv, outpipe[1], errpipe[1], &pid);
	close(errpipe[1]);
	if (outpipe[1] >= 0)
		close(outpipe[1]);
	p.err = errpipe[0];
	p.out = outpipe[0];
	if (r < 0) {
		close(p.err);
		if (p.out >= 0)
			close(p.out);
		return kiln_error(ctx, r, "cannot run \"%s\": %s", path, strerror(-r));
	}
	timed_out = !read_pipes(&p, o, &err, deadline) || !wait_until(pid, deadline, &status);
	if (timed_out) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		/* what it wrote before it was killed is still in the pipes */
		(void)read_pipes(&p, o, &err, now_ms() + 1000);
	}
	if (p.out >= 0)
		close(p.out);
	if (p.err >= 0)
		close(p.err);
	if (p.err_r < 0)
		return kiln_error(ctx, p.err_r, "cannot read the output of \"%s\": %s", path,
				  strerror(-p.err_r));
	if (p.out_r < 0)
		return p.out_r;
	if (ret_stderr) {
		char *s = strbuf_detach(&err, NULL);

		if (!s)
			return -ENOMEM;
		*ret_stderr = s;
	}
	if (timed_out)
		*ret_status = RUN_TIMED_OUT;
	else
		*ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

int run_program(struct kiln_ctx *ctx, char *const argv[], int *ret_status, char **ret_stderr)
{
	return run_program_opts(ctx, argv, NULL, ret_status, ret_stderr);
}
