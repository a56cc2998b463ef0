/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the version ranges (semver-range.c) use of the versions (semver.c).
 * Internal to lib/ext.
 */

#include <stddef.h>

#include <kiln/ext.h>

#include "strbuf.h"

/*
 * Append an error message formatted as Go would to @err: each %q quotes a C
 * string as Go's %q does, each %s copies one. Returns -EINVAL, or -ENOMEM.
 */
int semver_go_error(struct strbuf *err, const char *fmt, ...);

/* blang's Parse of the @len bytes at @s, no leading 'v'; its error text goes to @err. */
int semver_go_parse_version(const char *s, size_t len, struct kiln_semver *ret, struct strbuf *err);
