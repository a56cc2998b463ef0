/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The build sandbox's init: what pid 1 of a step's pid namespace becomes
 * once it has started the step's command (sandbox-child.c), so that pid 1
 * shows nothing of the host: no kiln command line (host paths, build
 * arguments), no kiln environment, and no host path as its executable (it
 * runs from a sealed memfd, which kiln fills with this program).
 *
 * Usage: init PID. Reaps every process of the sandbox until PID, the
 * command, exits, then exits with its code, or 128+N when signal N killed
 * it; the kernel then kills what is left in the namespace. A static program
 * of its own, with nothing of libkiln: it runs in the stage's root, whatever
 * that holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* when the command cannot be waited for: as sandbox-child.c's own failures */
#define INIT_EXIT_FAILED 125

int main(int argc, char **argv)
{
	char *end;
	long command;

	if (argc != 2)
		return INIT_EXIT_FAILED;
	errno = 0;
	command = strtol(argv[1], &end, 10);
	if (errno || *end || command <= 1)
		return INIT_EXIT_FAILED;
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, __WALL);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			_exit(INIT_EXIT_FAILED);
		if (pid == command && WIFEXITED(status))
			_exit(WEXITSTATUS(status));
		if (pid == command && WIFSIGNALED(status))
			_exit(128 + WTERMSIG(status));
	}
}
