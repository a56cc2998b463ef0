/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Replay driver for the fuzz harnesses when they are not linked with
 * libFuzzer: feeds every file named on the command line (directories are
 * walked one level deep) to LLVMFuzzerTestOneInput, so that `meson test`
 * replays the corpora. Prints one TAP line per input.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned n_inputs;

static int run_one(const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_file_at(AT_FDCWD, path, 256u << 20, &buf, &len);
	if (r < 0) {
		printf("not ok %u - %s: %s\n", ++n_inputs, path, strerror(-r));
		return r;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	printf("ok %u - %s\n", ++n_inputs, path);
	return 0;
}


static int run_path(const char *path)
{
	struct dirent **names = NULL;
	struct stat st;
	int n, r = 0;

	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return run_one(path);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0)
		return run_one(path);
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			_cleanup_free_ char *p = path_join(path, names[i]->d_name);

			if (!p || run_one(p) < 0)
				r = -1;
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int main(int argc, char **argv)
{
	int r = 0;

	for (int i = 1; i < argc; i++)
		if (run_path(argv[i]) < 0)
			r = 1;
	printf("1..%u\n", n_inputs);
	return r;
}
