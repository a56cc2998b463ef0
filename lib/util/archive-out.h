/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The output end of an archive writer (cpio; tar's has the same shape):
 * every byte goes to one function and is counted, the first failure
 * sticks, and the data an entry announced in its header must come in full
 * before the next entry starts.
 */

#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>

struct archive_out {
	int (*out)(void *userdata, const void *data, size_t len);
	void *userdata;
	uint64_t offset; /* bytes written */
	uint64_t data_left; /* what the current entry still owes */
	char *entry; /* the current entry's name, for messages */
	int error; /* the first failure: nothing is written after it */
};

/* Write @len bytes: 0, or the (sticky) -errno of the output function. */
int archive_out_write(struct archive_out *o, const void *data, size_t len);

/* Zeros up to the next multiple of @align (a power of two, at most 4096). */
int archive_out_pad(struct archive_out *o, unsigned align);

/* The entry @name starts (its header is written by the caller); @size bytes of data follow. */
int archive_out_begin(struct archive_out *o, const char *name, uint64_t size);

/* The current entry's data: -EINVAL past what it announced. */
int archive_out_data(struct archive_out *o, const void *data, size_t len);

/*
 * The current entry is over: -EINVAL naming it ("@format entry NAME") when
 * some of its data is missing; else padding to @align.
 */
int archive_out_end(struct kiln_ctx *ctx, struct archive_out *o, const char *format,
		    unsigned align);

void archive_out_release(struct archive_out *o);
