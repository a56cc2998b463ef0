/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz `kiln import` of an image archive: the input is the archive file (a
 * docker-archive or an oci-archive, told by its members as the import
 * tells it), held in a memfd and imported into a store of its own under a
 * fresh temporary directory (in /dev/shm when there is one), which is
 * removed after every input so that no input sees another's blobs. An
 * import that succeeds leaves its image's manifest in the store; one that
 * fails says why. Nothing may crash, leak, or write outside the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kiln/layer.h>

#include "fileio.h"
#include "layer-internal.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Archives of layers are large; this is big enough for a few small layers. */
#define MAX_INPUT (4u << 20)

static char workdir[64];

static void remove_workdir(void)
{
	if (workdir[0])
		(void)remove_tree_at(AT_FDCWD, workdir);
}

/* The temporary directory that holds each input's store, made once. */
static const char *store_parent(void)
{
	if (!workdir[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

		snprintf(workdir, sizeof(workdir), "%s/kiln-fuzz-archive-XXXXXX", base);
		if (!mkdtemp(workdir)) {
			workdir[0] = '\0';
			return NULL;
		}
		atexit(remove_workdir);
	}
	return workdir;
}

/* The input as a file: the import reads members by offset. */
static int input_fd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("archive.tar", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < size;) {
		ssize_t n = write(fd, data + done, size - done);

		if (n <= 0) {
			close(fd);
			return -EIO;
		}
		done += (size_t)n;
	}
	return fd;
}

static void import(struct kiln_ctx *ctx, const char *dir, int fd)
{
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor d = { 0 };
	_cleanup_free_ char *name = NULL;
	int r;

	if (kiln_store_open(ctx, dir, &s) < 0)
		abort();
	r = archive_import_fd(ctx, s, fd, "archive.tar", KILN_ARCHIVE_AUTO, NULL, NULL, &d, &name);
	if (r < 0) {
		/* a failure must say why, or be out of memory */
		if (r != -ENOMEM && !kiln_ctx_error(ctx))
			abort();
		return;
	}
	/* what the name points to is in the store */
	if (!name || kiln_store_has_blob(s, &d.digest, NULL) <= 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -1;
	const char *parent;

	if (size > MAX_INPUT || kiln_ctx_new(&ctx) < 0)
		return 0;
	parent = store_parent();
	fd = input_fd(data, size);
	if (!parent || fd < 0)
		abort();
	dir = path_join(parent, "store");
	if (!dir)
		return 0;
	import(ctx, dir, fd);
	if (remove_tree_at(AT_FDCWD, dir) < 0)
		abort();
	return 0;
}
