/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Running a helper program on the host (depmod, say) and waiting for it:
 * kiln's one process runner outside the build sandbox, which starts its
 * commands in namespaces of their own (lib/build/sandbox.c).
 */

#include <stddef.h>

#include <kiln/kiln.h>

/* How much of a program's stderr is kept; the rest is read and dropped. */
#define RUN_STDERR_MAX (64u << 10)

/*
 * Run @argv[0] (a path, or a name looked up in $PATH and then in /usr/sbin
 * and /sbin, where Debian keeps tools such as depmod) with @argv and the
 * caller's environment, stdin and stdout on /dev/null, and wait for it.
 * *@ret_status gets its exit code 0..255, or 128+N when signal N killed it;
 * *@ret_stderr (may be NULL) what it wrote to stderr, NUL-terminated, its
 * first RUN_STDERR_MAX bytes. Safe in a threaded program (posix_spawn).
 * Returns 0 when the program ran, whatever its exit status; -errno with
 * the reason on @ctx when it could not be started (-ENOENT: not found).
 */
int run_program(struct kiln_ctx *ctx, char *const argv[], int *ret_status, char **ret_stderr);

/* Where a program's stdout goes, as it comes: 0, or -errno to stop taking it. */
typedef int (*run_output_fn)(void *userdata, const void *data, size_t len);

struct run_options {
	/* the program's stdout, read through a pipe; NULL: /dev/null */
	run_output_fn out;
	void *userdata;
	/* a wall-clock limit in milliseconds (0: none); past it the program is killed */
	unsigned timeout_ms;
};

/* *ret_status of a program killed because it ran past its time limit */
#define RUN_TIMED_OUT (-1)

/*
 * run_program() with @o (NULL: run_program()'s defaults): stdout given to
 * @o->out as it is read, and a time limit, past which the program gets
 * SIGKILL and *@ret_status is RUN_TIMED_OUT (the output up to then is
 * kept, and the call still returns 0). A failure of @o->out is returned
 * once the program has ended (its output is read to the end regardless).
 */
int run_program_opts(struct kiln_ctx *ctx, char *const argv[], const struct run_options *o,
		     int *ret_status, char **ret_stderr);
