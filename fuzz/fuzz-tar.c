/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the layer reader as `kiln ls` uses it: the input is a layer blob
 * (gzip, zstd, xz or a plain tar, sniffed) read by the tar reader. Pass
 * one writes every entry back with the tar writer; then the input is
 * applied twice to an in-memory flattened view (as layers 0 and 1, so
 * that whiteouts and opaque markers meet content), which is walked and
 * searched, following symlinks. Every failure must leave a message;
 * nothing may crash, leak, or take unbounded memory or time.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/layer.h>

#include "macro.h"

/* Decompression bombs are the decompressor's business, not a crash: stop early. */
#define MAX_OUTPUT (64u << 20)
#define MAX_WALK 20000
#define MAX_LOOKUPS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct source {
	const uint8_t *data;
	size_t size, pos;
	struct kiln_unzip *uz;
	size_t total;
};

static ssize_t input_read(void *userdata, void *buf, size_t len)
{
	struct source *s = userdata;
	size_t k = s->size - s->pos < len ? s->size - s->pos : len;

	memcpy(buf, s->data + s->pos, k);
	s->pos += k;
	return (ssize_t)k;
}

static ssize_t capped_read(void *userdata, void *buf, size_t len)
{
	struct source *s = userdata;
	ssize_t n;

	if (s->total >= MAX_OUTPUT)
		return -EFBIG;
	n = kiln_unzip_read(s->uz, buf, len);
	if (n > 0)
		s->total += (size_t)n;
	return n;
}

static int discard(void *userdata, const void *buf, size_t len)
{
	return 0;
}

/* A failure must say why (or be out of memory, or our own cap). */
static void check_failure(struct kiln_ctx *ctx, int r)
{
	if (r < 0 && r != -ENOMEM && r != -EFBIG && !kiln_ctx_error(ctx))
		abort();
	kiln_ctx_clear_error(ctx);
}

/* A reader over the input: 0, or < 0 when even the decompressor refused it. */
static int open_reader(struct kiln_ctx *ctx, struct source *s, struct kiln_tar_reader **ret)
{
	int r;

	kiln_unzip_free(s->uz);
	s->uz = NULL;
	s->pos = s->total = 0;
	r = kiln_unzip_new(ctx, input_read, s, &s->uz);
	if (r < 0)
		return r;
	return kiln_tar_reader_new(ctx, capped_read, s, ret);
}

static void rewrite_entries(struct kiln_ctx *ctx, struct source *s)
{
	_cleanup_(kiln_tar_reader_freep) struct kiln_tar_reader *tr = NULL;
	_cleanup_(kiln_tar_writer_freep) struct kiln_tar_writer *tw = NULL;
	const struct kiln_tar_entry *e;
	int r;

	r = open_reader(ctx, s, &tr);
	if (r >= 0)
		r = kiln_tar_writer_new(discard, NULL, &tw);
	while (r >= 0 && (r = kiln_tar_reader_next(tr, &e)) > 0) {
		struct kiln_tar_entry copy = *e;
		char buf[4096];
		ssize_t n;

		/* the writer takes any entry it can represent, or says why not */
		copy.size = 0;
		check_failure(ctx, kiln_tar_writer_add(ctx, tw, &copy));
		/* read some of the data, leave the rest for next() to skip */
		n = kiln_tar_reader_read(tr, buf, sizeof(buf));
		if (n < 0)
			r = (int)n;
	}
	check_failure(ctx, r);
}

static void walk(struct kiln_ctx *ctx, const struct kiln_fs *fs)
{
	const struct kiln_fs_node *root, **queue = NULL;
	size_t head = 0, n = 0, alloc = 0;

	if (kiln_fs_lookup(ctx, fs, "/", true, &root) < 0 || GROW(queue, alloc, 1) < 0)
		abort();
	queue[n++] = root;
	while (head < n && n < MAX_WALK) {
		const struct kiln_fs_node *dir = queue[head++], **children = NULL;
		struct kiln_fs_stat st;
		int k;

		kiln_fs_node_stat(dir, &st);
		if (st.type != KILN_TAR_DIR)
			continue;
		k = kiln_fs_children(dir, &children);
		for (int i = 0; i < k; i++)
			if (GROW(queue, alloc, n + 1) >= 0)
				queue[n++] = children[i];
		free(children);
	}
	/* every kind of node, looked up again by its path, through its symlinks */
	for (size_t i = 0; i < n && i < MAX_LOOKUPS; i++) {
		char *path = kiln_fs_node_path(queue[i]);
		const struct kiln_fs_node *x;

		if (path) {
			check_failure(ctx, kiln_fs_lookup(ctx, fs, path, true, &x));
			check_failure(ctx, kiln_fs_lookup(ctx, fs, path, false, &x));
			if (kiln_fs_lookup(ctx, fs, path, false, &x) >= 0 && x != queue[i])
				abort();
		}
		free(path);
	}
	kiln_ctx_clear_error(ctx);
	free(queue);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(kiln_ctx_freep) struct kiln_ctx *ctx = NULL;
	_cleanup_(kiln_fs_freep) struct kiln_fs *fs = NULL;
	struct source s = { .data = data, .size = size };

	if (kiln_ctx_new(&ctx) < 0 || kiln_fs_new(&fs) < 0)
		return 0;
	rewrite_entries(ctx, &s);
	for (unsigned layer = 0; layer < 2; layer++) {
		_cleanup_(kiln_tar_reader_freep) struct kiln_tar_reader *tr = NULL;
		int r = open_reader(ctx, &s, &tr);

		if (r >= 0)
			r = kiln_fs_apply(ctx, fs, layer, tr);
		check_failure(ctx, r);
	}
	kiln_unzip_free(s.uz);
	walk(ctx, fs);
	return 0;
}
