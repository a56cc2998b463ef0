/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strbuf.h"

struct kiln_ctx {
	kiln_log_fn log_fn;
	void *log_userdata;
	enum kiln_log_level log_level;
	unsigned n_warnings;
	char *error;
	int error_code; /* the negative errno @error was recorded with */
	enum kiln_hint hint; /* of @error */
	char *hint_subject;

	const char *locate_file;
	kiln_locate_fn locate;
	void *locate_userdata;
};

int kiln_ctx_new(struct kiln_ctx **ret)
{
	struct kiln_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	ctx->log_level = KILN_LOG_WARNING;
	*ret = ctx;
	return 0;
}

void kiln_ctx_free(struct kiln_ctx *ctx)
{
	if (!ctx)
		return;
	free(ctx->error);
	free(ctx->hint_subject);
	free(ctx);
}

void kiln_ctx_set_log_fn(struct kiln_ctx *ctx, kiln_log_fn fn, void *userdata)
{
	ctx->log_fn = fn;
	ctx->log_userdata = userdata;
}

void kiln_ctx_set_log_level(struct kiln_ctx *ctx, enum kiln_log_level level)
{
	ctx->log_level = level;
}

const char *kiln_ctx_error(const struct kiln_ctx *ctx)
{
	return ctx->error;
}

const char *kiln_ctx_error_for(const struct kiln_ctx *ctx, int r)
{
	return r < 0 && r == ctx->error_code ? ctx->error : NULL;
}

static void set_hint(struct kiln_ctx *ctx, enum kiln_hint hint, const char *subject)
{
	char *copy = subject ? strdup(subject) : NULL;

	/* out of memory: no advice is better than advice about something else */
	if (subject && !copy)
		hint = KILN_HINT_NONE;
	free(ctx->hint_subject);
	ctx->hint_subject = copy;
	ctx->hint = hint;
}

void kiln_ctx_clear_error(struct kiln_ctx *ctx)
{
	free(ctx->error);
	ctx->error = NULL;
	ctx->error_code = 0;
	set_hint(ctx, KILN_HINT_NONE, NULL);
}

enum kiln_hint kiln_ctx_error_hint(const struct kiln_ctx *ctx, const char **ret_subject)
{
	enum kiln_hint hint = ctx->error ? ctx->hint : KILN_HINT_NONE;

	if (ret_subject)
		*ret_subject = hint != KILN_HINT_NONE ? ctx->hint_subject : NULL;
	return hint;
}

unsigned kiln_ctx_warnings(const struct kiln_ctx *ctx)
{
	return ctx->n_warnings;
}

const char *kiln_version(void)
{
	return KILN_VERSION;
}

/*
 * Out of memory while describing an error: the old text goes, and the
 * code says what happened (kiln_ctx_error_for() then gives NULL).
 */
static void set_error(struct kiln_ctx *ctx, struct strbuf *sb, int code)
{
	free(ctx->error);
	ctx->error = strbuf_detach(sb, NULL);
	ctx->error_code = ctx->error ? code : -ENOMEM;
}

void kiln_ctx_set_locator(struct kiln_ctx *ctx, const char *file, kiln_locate_fn fn,
			  void *userdata)
{
	ctx->locate_file = file;
	ctx->locate = fn;
	ctx->locate_userdata = userdata;
}

static void add_location(const struct kiln_ctx *ctx, struct strbuf *sb, const char *file,
			 unsigned line, unsigned col)
{
	if (!file)
		return;
	if (line && ctx->locate && streq(file, ctx->locate_file))
		ctx->locate(ctx->locate_userdata, &line, &col);
	strbuf_adds(sb, file);
	if (line)
		strbuf_addf(sb, ":%u", line);
	if (line && col)
		strbuf_addf(sb, ":%u", col);
	strbuf_adds(sb, ": ");
}

_printf_(6, 0) static int record(struct kiln_ctx *ctx, int err, const char *file, unsigned line,
				 unsigned col, const char *fmt, va_list ap)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int code = err > 0 ? -err : (err ? err : -EINVAL);

	add_location(ctx, &sb, file, line, col);
	strbuf_vaddf(&sb, fmt, ap);
	set_error(ctx, &sb, code);
	/* a new error: the old one's advice is not its */
	set_hint(ctx, code == -ENOSPC || code == -EDQUOT ? KILN_HINT_NO_SPACE : KILN_HINT_NONE,
		 NULL);
	return code;
}

int kiln_error(struct kiln_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = record(ctx, err, NULL, 0, 0, fmt, ap);
	va_end(ap);
	return r;
}

int kiln_error_at(struct kiln_ctx *ctx, int err, const char *file, unsigned line, unsigned col,
		  const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = record(ctx, err, file, line, col, fmt, ap);
	va_end(ap);
	return r;
}

int kiln_error_hint(struct kiln_ctx *ctx, enum kiln_hint hint, const char *subject, int err,
		    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = record(ctx, err, NULL, 0, 0, fmt, ap);
	va_end(ap);
	set_hint(ctx, hint, subject);
	return r;
}

void kiln_error_add_hint(struct kiln_ctx *ctx, enum kiln_hint hint, const char *subject)
{
	if (ctx->hint == KILN_HINT_NONE)
		set_hint(ctx, hint, subject);
}

void kiln_error_prefix(struct kiln_ctx *ctx, const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strbuf_adds(&sb, ": ");
	strbuf_adds(&sb, strempty(ctx->error));
	set_error(ctx, &sb, ctx->error_code);
}

_printf_(6, 0) static void emit(struct kiln_ctx *ctx, enum kiln_log_level level, const char *file,
				unsigned line, unsigned col, const char *fmt, va_list ap)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

	if (level == KILN_LOG_WARNING)
		ctx->n_warnings++;
	if (!ctx->log_fn || level > ctx->log_level)
		return;
	add_location(ctx, &sb, file, line, col);
	strbuf_vaddf(&sb, fmt, ap);
	ctx->log_fn(ctx->log_userdata, level, strbuf_str(&sb));
}

void kiln_warn_at(struct kiln_ctx *ctx, const char *file, unsigned line, unsigned col,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(ctx, KILN_LOG_WARNING, file, line, col, fmt, ap);
	va_end(ap);
}

void kiln_log(struct kiln_ctx *ctx, enum kiln_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(ctx, level, NULL, 0, 0, fmt, ap);
	va_end(ap);
}
