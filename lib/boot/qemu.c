/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Booting a kernel under QEMU for a boot test: one machine (q35, 1 CPU, no
 * default devices: no NIC, so no iPXE to wait for), the serial console on
 * QEMU's stdout, read through kiln's one process runner with a time limit.
 * -no-reboot makes a guest's power-off, reboot or panic (panic=-1) end QEMU.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#include <kiln/boot.h>

#include "fileio.h"
#include "log.h"
#include "process.h"
#include "strbuf.h"

/* x86's COMMAND_LINE_SIZE, with its NUL */
#define CMDLINE_MAX 2048

/*
 * KVM works when /dev/kvm answers and the CPU has virtualisation: some
 * sandboxes offer a /dev/kvm that opens and answers while the CPU has
 * neither vmx nor svm, and a guest started on it never runs (seen on the
 * machine this was written on). errno is set when it does not.
 */
static bool kvm_usable(void)
{
	_cleanup_free_ char *cpuinfo = NULL;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), version;

	if (fd < 0)
		return false;
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (version != KVM_API_VERSION) {
		errno = ENODEV;
		return false;
	}
	if (read_file_at(AT_FDCWD, "/proc/cpuinfo", 16u << 20, &cpuinfo, NULL) < 0 ||
	    (!strstr(cpuinfo, " vmx") && !strstr(cpuinfo, " svm"))) {
		errno = ENXIO;
		return false;
	}
	return true;
}

static bool is_module_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static int make_cmdline(struct kiln_ctx *ctx, const struct kiln_boot_options *o, char **ret)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	int r;
	char *cmdline;

	r = strbuf_adds(&sb, "console=ttyS0 panic=-1");
	for (size_t i = 0; r >= 0 && i < o->n_modules; i++) {
		if (!is_module_name(o->modules[i]))
			return kiln_error(
			    ctx, EINVAL,
			    "\"%s\" is not a module name (letters, digits, '_' and '-')",
			    o->modules[i]);
		r = strbuf_adds(&sb, i == 0 ? " kiln.modules=" : ",");
		if (r >= 0)
			r = strbuf_adds(&sb, o->modules[i]);
	}
	for (size_t i = 0; r >= 0 && i < o->n_extra_args; i++) {
		const char *a = o->extra_args[i];

		if (!*a)
			return kiln_error(ctx, EINVAL, "an empty kernel argument");
		for (const char *p = a; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return kiln_error(
				    ctx, EINVAL, "kernel argument \"%s\" holds a control character",
				    a);
		r = strbuf_addch(&sb, ' ');
		if (r >= 0)
			r = strbuf_adds(&sb, a);
	}
	if (r < 0)
		return r;
	if (sb.len >= CMDLINE_MAX)
		return kiln_error(
		    ctx, E2BIG, "the kernel command line would be %zu bytes; x86 takes at most %d",
		    sb.len, CMDLINE_MAX - 1);
	cmdline = strbuf_detach(&sb, NULL);
	if (!cmdline)
		return -ENOMEM;
	*ret = cmdline;
	return 0;
}

struct console {
	struct strbuf *sb;
	bool cut;
};

static int take_console(void *userdata, const void *data, size_t len)
{
	struct console *c = userdata;
	size_t room = KILN_BOOT_CONSOLE_MAX - c->sb->len;

	if (len > room) {
		c->cut = true;
		len = room;
	}
	return len ? strbuf_add(c->sb, data, len) : 0;
}

static int check_readable(struct kiln_ctx *ctx, const char *what, const char *path)
{
	struct stat st;

	if (!path)
		return kiln_error(ctx, EINVAL, "no %s given", what);
	if (stat(path, &st) < 0)
		return kiln_error(ctx, errno, "cannot read the %s \"%s\": %m", what, path);
	if (!S_ISREG(st.st_mode))
		return kiln_error(ctx, EINVAL, "the %s \"%s\" is not a regular file", what, path);
	return 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int kiln_boot_run(struct kiln_ctx *ctx, const struct kiln_boot_options *o,
		  struct kiln_boot_run *ret)
{
	_cleanup_(kiln_boot_run_release) struct kiln_boot_run run = { 0 };
	_cleanup_strbuf_ struct strbuf console = STRBUF_INIT;
	struct console con = { .sb = &console };
	_cleanup_free_ char *mem = NULL;
	unsigned timeout = o->timeout_s ? o->timeout_s : KILN_BOOT_DEFAULT_TIMEOUT;
	const char *qemu = o->qemu ? o->qemu : "qemu-system-x86_64";
	struct run_options ro = { .out = take_console, .userdata = &con };
	struct timespec t0;
	int status, r;

	r = check_readable(ctx, "kernel", o->kernel);
	if (r >= 0)
		r = check_readable(ctx, "initramfs", o->initrd);
	if (r >= 0)
		r = make_cmdline(ctx, o, &run.cmdline);
	if (r < 0)
		return r;
	if (timeout > UINT32_MAX / 1000)
		return kiln_error(ctx, EINVAL, "a time limit of %u s is too long", timeout);
	ro.timeout_ms = timeout * 1000;
	switch (o->accel) {
	case KILN_BOOT_ACCEL_AUTO:
		run.kvm = kvm_usable();
		break;
	case KILN_BOOT_ACCEL_KVM:
		if (!kvm_usable()) {
			int e = errno;

			if (e == ENXIO)
				return kiln_error(ctx, e,
						  "KVM asked for, but the CPU shows no vmx or "
						  "svm in /proc/cpuinfo");
			if (e == ENODEV)
				return kiln_error(ctx, e,
						  "KVM asked for, but /dev/kvm does not "
						  "answer as KVM");
			return kiln_error(ctx, e,
					  "KVM asked for, but /dev/kvm cannot be opened: %s",
					  strerror(e));
		}
		run.kvm = true;
		break;
	case KILN_BOOT_ACCEL_TCG:
		break;
	}
	if (asprintf(&mem, "%uM", o->memory_mib ? o->memory_mib : 512) < 0)
		return -ENOMEM;

	/* TCG keeps QEMU's default CPU model; under KVM the host's */
	char *argv[] = {
		(char *)qemu,
		"-nodefaults",
		"-no-user-config",
		"-machine",
		run.kvm ? "q35,accel=kvm" : "q35,accel=tcg",
		"-smp",
		"1",
		"-m",
		mem,
		"-display",
		"none",
		"-serial",
		"stdio",
		"-no-reboot",
		"-kernel",
		(char *)o->kernel,
		"-initrd",
		(char *)o->initrd,
		"-append",
		run.cmdline,
		run.kvm ? "-cpu" : NULL,
		"host",
		NULL,
	};

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = run_program_opts(ctx, argv, &ro, &status, &run.qemu_stderr);
	run.seconds = seconds_since(&t0);
	if (r < 0)
		return r;
	run.timed_out = status == RUN_TIMED_OUT;
	run.status = run.timed_out ? 0 : status;
	run.console_cut = con.cut;
	run.console = strbuf_detach(&console, &run.console_len);
	if (!run.console)
		return -ENOMEM;
	if (o->console_log) {
		r = write_file_atomic(o->console_log, run.console, run.console_len, 0644);
		if (r < 0)
			return kiln_error(ctx, r, "cannot write the console log \"%s\": %s",
					  o->console_log, strerror(-r));
	}
	if (!run.timed_out && status != 0) {
		const char *err = run.qemu_stderr;

		return kiln_error(ctx, EIO, "%s exited with status %d%s%.*s%s%s%s", qemu, status,
				  err && *err ? ": " : "", (int)strcspn(err ? err : "", "\n"),
				  err ? err : "", o->console_log ? " (console log: " : "",
				  strempty(o->console_log), o->console_log ? ")" : "");
	}
	*ret = run;
	memset(&run, 0, sizeof(run));
	return 0;
}

void kiln_boot_run_release(struct kiln_boot_run *r)
{
	free(r->cmdline);
	free(r->console);
	free(r->qemu_stderr);
	memset(r, 0, sizeof(*r));
}
