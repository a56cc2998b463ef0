/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-squashfs: write the squashfs image of a tree with kiln's writer
 * (zstd, level 18, 128 KiB blocks, all-root, one worker per CPU unless
 * told), the way `kiln image installer` will, and print the wall time, so
 * that scripts/bench.sh can set it beside mksquashfs on the same tree.
 *
 *   bench-squashfs DIR IMAGE [--level N] [--jobs N] [--mtime SECONDS]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <kiln/image.h>

#include "macro.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	struct kiln_squashfs_options o = { 0 };
	_cleanup_close_ int fd = -1;
	struct stat st;
	double start;

	if (argc < 3) {
		fprintf(stderr,
			"usage: bench-squashfs DIR IMAGE [--level N] [--jobs N] [--mtime S]\n");
		return 2;
	}
	for (int i = 3; i + 1 < argc; i += 2) {
		long v = strtol(argv[i + 1], NULL, 10);

		if (streq(argv[i], "--level"))
			o.level = (int)v;
		else if (streq(argv[i], "--jobs"))
			o.jobs = (unsigned)v;
		else if (streq(argv[i], "--mtime"))
			o.mtime = v;
	}
	fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || kiln_ctx_new(&ctx) < 0) {
		perror(argv[1]);
		return 1;
	}
	start = now_s();
	if (kiln_squashfs_write_tree(ctx, fd, argv[2], &o) < 0) {
		fprintf(stderr, "bench-squashfs: %s\n", kiln_ctx_error(ctx));
		return 1;
	}
	if (stat(argv[2], &st) < 0) {
		perror(argv[2]);
		return 1;
	}
	printf("bench-squashfs: %s: %.2f s, %lld bytes\n", argv[1], now_s() - start,
	       (long long)st.st_size);
	return 0;
}
