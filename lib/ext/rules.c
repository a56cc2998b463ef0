/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The content rules of Talos's extensions validator
 * (pkg/machinery/extensions/validate.go, validateContents), entry by entry:
 * the same checks in the same order, with Talos's messages.
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <kiln/ext.h>
#include <kiln/layer.h>

#include "go-quote.h"
#include "log.h"
#include "strbuf.h"

/*
 * Talos's AllowedPaths. Talos compares with strings.HasPrefix (its
 * filepath.Rel after it never fails for two absolute paths), so
 * "/usr/localfoo" passes as Talos lets it pass.
 */
static const char *const allowed_prefixes[] = {
	"/etc/cri/conf.d",
	"/usr/lib/firmware",
	"/usr/lib/modules",
	"/usr/lib/udev/rules.d",
	"/usr/local",
	/* the glibc loaders, for glibc dynamic binaries */
	"/usr/lib/ld-linux-x86-64.so.2",
	"/usr/lib/ld-linux-aarch64.so.1",
	/* ldconfig and its files, for the nvidia container toolkit */
	"/usr/bin/ldconfig",
	"/etc/ld.so.conf",
	"/etc/ld.so.cache",
	"/usr/bin/nvidia-modprobe",
	"/usr/bin/nvidia-pcc",
	"/usr/bin/nvidia-smi",
	"/usr/bin/nvidia-ctk",
	"/usr/bin/nvidia-cdi-hook",
	"/usr/bin/nvme",
	/* glvnd, egl and vulkan, for OpenGL and Vulkan */
	"/usr/share/glvnd",
	"/usr/share/egl",
	"/etc/vulkan",
};

static bool path_is_allowed(const char *path)
{
	for (size_t i = 0; i < ELEMENTSOF(allowed_prefixes); i++)
		if (strncmp(path, allowed_prefixes[i], strlen(allowed_prefixes[i])) == 0)
			return true;
	return false;
}

/* What Talos's walk sees as a regular file: a hard link is one once unpacked. */
static bool type_is_regular(char type)
{
	return type == KILN_TAR_REG || type == '\0' || type == '7' || type == KILN_TAR_LINK;
}

int kiln_ext_check_entry(struct kiln_ctx *ctx, const struct kiln_ext_entry *e)
{
	_cleanup_strbuf_ struct strbuf quoted = STRBUF_INIT;
	bool is_dir = e->type == KILN_TAR_DIR, is_symlink = e->type == KILN_TAR_SYMLINK;

	if (!e->path || e->path[0] != '/')
		return kiln_error(ctx, EINVAL, "content rules: path \"%s\" is not absolute",
				  strempty(e->path));

	/* Talos prints the path with Go's %q */
	if (strbuf_add_go_quoted(&quoted, e->path, strlen(e->path), SIZE_MAX) < 0)
		return kiln_error(ctx, ENOMEM, "out of memory");

	/*
	 * A symlink's own mode is 0777 on Linux and means nothing, so it is not
	 * world-writable. (Talos tests DirEntry.Type().Perm(), which holds no
	 * permission bits at all: its check never fires. kiln applies the rule
	 * Talos states.)
	 */
	if (!is_symlink && (e->mode & 0002))
		return kiln_error(ctx, EPERM, "world-writeable files are not allowed: %s",
				  quoted.buf);

	if (!is_dir && !is_symlink && !type_is_regular(e->type))
		return kiln_error(ctx, EPERM, "special files are not allowed: %s", quoted.buf);

	if (!is_dir && !path_is_allowed(e->path))
		return kiln_error(ctx, EPERM, "path %s is not allowed in extensions", quoted.buf);

	return 0;
}
