/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <kiln/spec.h>

#include "json.h"

/*
 * Write @pkg as one JSON object: name, variant, shell, dir, install,
 * dependencies, steps, finalize, buildPlatform, always in that order.
 */
void kiln_pkg_write_json(struct json_writer *w, const struct kiln_pkg *pkg);
