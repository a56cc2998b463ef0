/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A kernel's .config, read as Kconfig reads it, and the vermagic the
 * kernel's include/linux/vermagic.h derives from it. Internal to lib/kmod.
 */

#include <stdbool.h>
#include <stddef.h>

#include <kiln/kiln.h>

#include "strmap.h"

/*
 * "CONFIG_FOO=value" lines into the empty map @ret (key "CONFIG_FOO"); "# ...
 * is not set" and anything else is skipped, as Kconfig itself does when it
 * reads one.
 */
int kconfig_parse(const char *text, size_t len, struct strmap *ret);

/* Whether @key is "y" in @cfg. */
bool kconfig_yes(const struct strmap *cfg, const char *key);

/* The vermagic of a kernel of @release built with @cfg (and @randstruct_seed, may be NULL). */
int vermagic_from_kconfig(struct kiln_ctx *ctx, const char *release, const struct strmap *cfg,
			  const char *randstruct_seed, char **ret);
