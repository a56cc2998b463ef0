/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Copying between two root filesystems as bldr's finalize and dependency
 * copies do (BuildKit's copy with "directory contents only" and "create
 * the destination path"), and as the installer merges extensions' modules
 * and firmware into one tree.
 */

#include <kiln/kiln.h>

/*
 * Copy @from, resolved in the tree @src_root as if it were "/", to @to in
 * @dst_root, likewise resolved. A directory's contents are merged into @to
 * (made if missing); a file goes to @to itself, or into it under its own
 * name when @to ends in "/" or is a directory already. What is copied
 * replaces what is there (later wins). Regular files, directories,
 * symlinks (as links), hard links (as links, within one copy), fifos and,
 * when the process may make them, devices; modes are kept, owners and
 * times are not (the layer writer sets them). Errors name @what (such as
 * "finalize /rootfs -> /") and the path.
 */
int copy_in_root(struct kiln_ctx *ctx, const char *what, int src_root, const char *from,
		 int dst_root, const char *to);
