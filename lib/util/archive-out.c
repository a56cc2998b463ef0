/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <string.h>

#include "archive-out.h"
#include "log.h"

#define PAD_MAX 4096

int archive_out_write(struct archive_out *o, const void *data, size_t len)
{
	int r;

	if (o->error)
		return o->error;
	if (len == 0)
		return 0;
	r = o->out(o->userdata, data, len);
	if (r < 0)
		return o->error = r;
	o->offset += len;
	return 0;
}

int archive_out_pad(struct archive_out *o, unsigned align)
{
	static const char zeros[PAD_MAX];

	return archive_out_write(o, zeros, (align - o->offset % align) % align);
}

int archive_out_begin(struct archive_out *o, const char *name, uint64_t size)
{
	char *copy = strdup(name);

	if (!copy)
		return -ENOMEM;
	free(o->entry);
	o->entry = copy;
	o->data_left = size;
	return 0;
}

int archive_out_data(struct archive_out *o, const void *data, size_t len)
{
	if (len > o->data_left)
		return -EINVAL;
	o->data_left -= len;
	return archive_out_write(o, data, len);
}

int archive_out_end(struct kiln_ctx *ctx, struct archive_out *o, const char *format, unsigned align)
{
	if (o->data_left)
		return kiln_error(ctx, EINVAL, "%s entry \"%s\": %" PRIu64 " bytes of data missing",
				  format, strempty(o->entry), o->data_left);
	return archive_out_pad(o, align);
}

void archive_out_release(struct archive_out *o)
{
	free(o->entry);
	o->entry = NULL;
}
