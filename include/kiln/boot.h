/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Boot tests: a kernel and initramfs booted under QEMU, and what the guest's
 * init (kiln-init, init/) reported about it.
 *
 * The protocol. kiln-init prints facts on the serial console, one per line:
 * the marker "KILN-FACT " and one JSON object whose "kind" says what it is:
 *
 *   start      {"protocol": 1}: init runs
 *   kernel     {"release", "sig_enforce": bool|null, "tainted", "cmdline"}
 *   extension  {"index", "image", "name", "version", "mounted": bool}: a layer
 *              of /extensions.yaml, in its order
 *   cert       {"name"}: a certificate the kernel logged as loaded
 *   module     {"name", "requested": bool, "loaded": bool, "path", "builtin",
 *              "already", "error" (strerror text), "errno", "dependency" (the
 *              dependency whose failure stopped it), "taint", "log": [kernel
 *              log lines printed while it loaded]}
 *   device     {"path", "type": "char"|"block", "mode": "0666", "uid", "gid",
 *              "major", "minor", "new": bool (absent before the modules loaded)}
 *   firmware   {"module" (loading then, or null), "line"}: a kernel log line
 *              about firmware
 *   error      {"step", "message"}: a step of init that failed
 *   done       {}: the last fact; init then powers off
 *
 * The console also holds the firmware's banners, ANSI escapes, the kernel's
 * own lines and whatever else the guest printed: the reader looks for the
 * marker anywhere in a line and takes the rest of it as JSON. Everything is
 * hostile: lines, facts and strings are capped, and a marked line that is
 * not a well-formed fact is counted, not trusted.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>

#pragma GCC visibility push(default)

#define KILN_BOOT_FACT_MARKER "KILN-FACT "

/* ---- running QEMU (lib/boot/qemu.c) ---------------------------------------- */

#define KILN_BOOT_DEFAULT_TIMEOUT 300
/* the console output kept; beyond it the rest is read and dropped */
#define KILN_BOOT_CONSOLE_MAX (16u << 20)

enum kiln_boot_accel {
	KILN_BOOT_ACCEL_AUTO, /* KVM when /dev/kvm can be opened read-write, else TCG */
	KILN_BOOT_ACCEL_KVM,
	KILN_BOOT_ACCEL_TCG,
};

struct kiln_boot_options {
	const char *kernel; /* a bzImage */
	const char *initrd;
	/* put on the command line as kiln.modules=a,b: what kiln-init loads */
	const char *const *modules;
	size_t n_modules;
	/* appended to the command line, each one argument */
	const char *const *extra_args;
	size_t n_extra_args;
	unsigned timeout_s; /* 0: KILN_BOOT_DEFAULT_TIMEOUT */
	unsigned memory_mib; /* 0: 512 */
	enum kiln_boot_accel accel;
	const char *qemu; /* NULL: qemu-system-x86_64 from $PATH */
	/* where the console output is written (atomically, when QEMU has ended); NULL: nowhere */
	const char *console_log;
};

struct kiln_boot_run {
	bool kvm; /* the accelerator used: KVM, else TCG */
	bool timed_out; /* QEMU was killed at the time limit */
	int status; /* QEMU's exit status, when it ended by itself */
	double seconds; /* wall time from QEMU's start to its end */
	char *cmdline; /* the kernel command line given */
	char *console; /* NUL-terminated, its first KILN_BOOT_CONSOLE_MAX bytes */
	size_t console_len;
	bool console_cut; /* more came than was kept */
	char *qemu_stderr;
};

/*
 * Boot @o->kernel and @o->initrd under qemu-system-x86_64 (q35, 1 CPU,
 * -nodefaults, the serial console on a pipe, -no-reboot, stdin /dev/null)
 * with "console=ttyS0 panic=-1 kiln.modules=... EXTRA" and wait for it to
 * power off, or kill it at the time limit. A guest that does not finish is
 * not an error of this call: *@ret says what happened. Errors: QEMU missing
 * or failing to start (its stderr in the message), bad options (a module
 * name that is not one, a command line over 2048 bytes), the log not
 * written. kiln_boot_run_release() frees *@ret.
 */
int kiln_boot_run(struct kiln_ctx *ctx, const struct kiln_boot_options *o,
		  struct kiln_boot_run *ret);
void kiln_boot_run_release(struct kiln_boot_run *r);

/* ---- reading the facts (lib/boot/facts.c) ---------------------------------- */

/* a console line longer than this is not read as a fact */
#define KILN_BOOT_LINE_MAX (64u << 10)
/* facts kept per kind; more are counted in dropped */
#define KILN_BOOT_FACTS_MAX 4096u
/* log lines kept per module */
#define KILN_BOOT_LOG_MAX 64u

struct kiln_boot_module {
	char *name;
	bool requested, loaded, builtin, already;
	char *path; /* in modules.dep; NULL for a built-in one */
	char *error; /* NULL when loaded */
	int err; /* its errno, 0 when loaded */
	char *dependency; /* the dependency whose failure stopped it, or NULL */
	char *taint; /* /sys/module/NAME/taint, or NULL */
	char **log;
	size_t n_log;
};

struct kiln_boot_device {
	char *path;
	bool block; /* else a character device */
	uint32_t mode; /* permission bits, 07777 */
	uint64_t uid, gid;
	uint32_t major, minor;
	bool is_new;
};

struct kiln_boot_firmware {
	char *module; /* NULL: not while a module loaded */
	char *line;
};

struct kiln_boot_extension {
	uint64_t index;
	char *image, *name, *version;
	bool mounted;
};

struct kiln_boot_error {
	char *step;
	char *message;
};

struct kiln_boot_result {
	bool started; /* a start fact came */
	bool done; /* a done fact came */
	char *release;
	int sig_enforce; /* 1, 0, or -1 when not reported */
	bool have_tainted;
	uint64_t tainted;
	char *cmdline;
	char **certs;
	size_t n_certs;
	struct kiln_boot_extension *extensions;
	size_t n_extensions;
	struct kiln_boot_module *modules;
	size_t n_modules;
	struct kiln_boot_device *devices;
	size_t n_devices;
	struct kiln_boot_firmware *firmware;
	size_t n_firmware;
	struct kiln_boot_error *errors;
	size_t n_errors;
	unsigned garbled; /* marked lines that were not a well-formed fact */
	char *garbled_first; /* why the first of them was not */
	unsigned unknown; /* facts of a kind this reader does not know */
	unsigned dropped; /* facts over KILN_BOOT_FACTS_MAX */
};

/*
 * Read the facts of a console log (@len bytes, any bytes). Lines end at
 * '\n' (a '\r' before it is dropped); the last one may be cut short.
 * Fails only out of memory; what the text holds is in *@ret, which
 * kiln_boot_result_release() frees.
 */
int kiln_boot_parse_console(struct kiln_ctx *ctx, const char *text, size_t len,
			    struct kiln_boot_result *ret);
void kiln_boot_result_release(struct kiln_boot_result *r);

/* The module @name ('-' and '_' alike), or NULL. */
const struct kiln_boot_module *kiln_boot_result_module(const struct kiln_boot_result *r,
						       const char *name);
/* The device at @path, or NULL. */
const struct kiln_boot_device *kiln_boot_result_device(const struct kiln_boot_result *r,
						       const char *path);

/* ---- judging a boot (lib/boot/check.c) --------------------------------------- */

struct kiln_boot_expect_dev {
	const char *path; /* /dev/... */
	int mode; /* permission bits, or -1: any */
};

struct kiln_boot_expect {
	const char *const *modules;
	size_t n_modules;
	const struct kiln_boot_expect_dev *devices;
	size_t n_devices;
};

enum kiln_boot_verdict {
	KILN_BOOT_PASS,
	KILN_BOOT_FAIL,
	KILN_BOOT_WARN, /* said, but not a failure */
};

struct kiln_boot_row {
	enum kiln_boot_verdict verdict;
	char *subject; /* "module kiln_demo", "device /dev/video0", "boot", "init" */
	char *detail;
};

struct kiln_boot_report {
	struct kiln_boot_row *rows;
	size_t n_rows;
	bool pass; /* no row failed */
};

/*
 * Judge a boot: did the guest finish (not timed out, init started and said
 * done, no init step failed), did each expected module load, is each
 * expected device there (with its mode), and did any other module fail
 * (also a failure). @run may be NULL (only the facts are judged). Fails
 * only out of memory.
 */
int kiln_boot_check(struct kiln_ctx *ctx, const struct kiln_boot_run *run,
		    const struct kiln_boot_result *res, const struct kiln_boot_expect *e,
		    struct kiln_boot_report *ret);
void kiln_boot_report_release(struct kiln_boot_report *r);

#pragma GCC visibility pop
