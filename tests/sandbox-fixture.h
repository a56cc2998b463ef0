/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The build sandbox's test fixture, for test-sandbox and test-sandbox-filter:
 * a root made of the host's static busybox under an overlay, entered once per
 * test process (each test runs in a process of its own, tap.h), and commands
 * run in it.
 */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"
#include "sandbox.h"
#include "tap.h"

#define BUSYBOX "/bin/busybox"

_unused_ static char *const default_env[] = { "PATH=/bin", "HOME=/root", NULL };

/* Each test's own: every test runs in a process of its own (tap.h). */
static struct {
	struct kiln_ctx *ctx;
	char *dir;
	char *lower, *upper, *work, *root;
	bool userns;
} fx;

static void setup(void);

/* @name in the fixture's directory; the fixture is made first. */
_unused_ static char *fx_path(const char *name)
{
	char *p;

	setup();
	p = path_join(fx.dir, name);
	if (!p)
		abort();
	return p;
}

/* @dir/bin/busybox, a copy of the host's, and a relative symbolic link to it for every applet. */
_unused_ static int make_busybox_root(const char *dir)
{
	_cleanup_free_ char *bin = path_join(dir, "bin"), *exe = path_join(dir, "bin/busybox");
	_cleanup_free_ char *data = NULL;
	char name[256];
	size_t len;
	FILE *list;
	int r;

	if (mkdir(dir, 0755) < 0 || mkdir(bin, 0755) < 0)
		return -errno;
	r = read_file_at(AT_FDCWD, BUSYBOX, 64 << 20, &data, &len);
	if (r < 0)
		return r;
	r = write_file_atomic(exe, data, len, 0755);
	if (r < 0)
		return r;
	list = popen(BUSYBOX " --list", "r");
	if (!list)
		return -errno;
	while (fgets(name, sizeof(name), list)) {
		_cleanup_free_ char *link = NULL;

		name[strcspn(name, "\n")] = '\0';
		link = path_join(bin, name);
		if (name[0] && !streq(name, "busybox") && symlink("busybox", link) < 0) {
			pclose(list);
			return -errno;
		}
	}
	return pclose(list) == 0 ? 0 : -EIO;
}

/*
 * Once in the test's process: enter the namespaces, make the busybox root and
 * mount its overlay, all under the test's $TMPDIR, which the harness removes.
 * Nothing is unmounted: the mount namespace ends with the process.
 */
_unused_ static void setup(void)
{
	static bool done;
	int r;

	if (done)
		return;
	done = true;
	if (kiln_ctx_new(&fx.ctx) < 0)
		abort();
	/* busybox-static and what the namespaces need are what kiln build needs: no skip */
	if (access(BUSYBOX, X_OK) < 0)
		TAP_FAIL("no %s to make a root of: run scripts/install-deps.sh", BUSYBOX);
	if (sandbox_enter(fx.ctx, &fx.userns) < 0)
		TAP_FAIL("cannot enter kiln's namespaces, so kiln build cannot run here: %s",
			 kiln_ctx_error(fx.ctx));
	fx.dir = tap_temp_dir("test-sandbox");
	fx.lower = fx_path("lower");
	fx.upper = fx_path("upper");
	fx.work = fx_path("work");
	fx.root = fx_path("root");
	r = make_busybox_root(fx.lower);
	if (r < 0)
		TAP_FAIL("cannot make the busybox root: %s", strerror(-r));
	if (mkdir(fx.upper, 0755) < 0 || mkdir(fx.work, 0755) < 0 || mkdir(fx.root, 0755) < 0)
		TAP_FAIL("cannot make the overlay's directories: %m");
	r = sandbox_mount_overlay(fx.ctx, fx.root, (const char *const *)&fx.lower, 1, fx.upper,
				  fx.work, fx.userns);
	if (r < 0)
		TAP_FAIL("cannot mount the overlay: %s (%s)", strerror(-r),
			 strempty(kiln_ctx_error(fx.ctx)));
}

/* Run @spec (root, environment and output filled in when unset); its output in *@ret_out. */
_unused_ static int run_spec(struct sandbox_spec *spec, int *ret_status, char **ret_out)
{
	int fd = memfd_create("sandbox-output", MFD_CLOEXEC);
	int r;

	if (fd < 0)
		abort();
	if (!spec->root)
		spec->root = fx.root;
	if (!spec->envp)
		spec->envp = default_env;
	spec->output_fd = fd;
	kiln_ctx_clear_error(fx.ctx);
	r = sandbox_run(fx.ctx, spec, ret_status);
	if (ret_out && (lseek(fd, 0, SEEK_SET) < 0 || read_fd_all(fd, 1 << 20, ret_out, NULL) < 0))
		abort();
	close(fd);
	return r;
}

/* The output of "sh -c @script", which must run; its exit status in *@ret_status. */
_unused_ static char *sh_spec(struct sandbox_spec *spec, const char *script, int *ret_status)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	char *out = NULL;
	int r;

	spec->argv = argv;
	r = run_spec(spec, ret_status, &out);
	if (r < 0)
		TAP_FAIL("sandbox_run(%s): %s: %s", script, strerror(-r), kiln_ctx_error(fx.ctx));
	return out;
}

_unused_ static char *sh(const char *script, int *ret_status)
{
	struct sandbox_spec spec = { 0 };

	return sh_spec(&spec, script, ret_status);
}
