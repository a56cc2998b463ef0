/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln boot-test INSTALLER: boot an installer image's kernel and initramfs
 * under QEMU and judge what the guest's kiln-init reported: which modules
 * loaded, which device nodes appeared with which modes.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/boot.h>
#include <kiln/layer.h>
#include <kiln/oci.h>

#include "fileio.h"
#include "json.h"
#include "kiln.h"
#include "strbuf.h"

/* the name an installer archive file is imported under */
#define BOOT_TEST_IMPORT_NAME "localhost/kiln-boot-test:installer"
#define INSTALL_DIR "/usr/install/amd64"

enum {
	OPT_EXPECT_MODULE = OPT_FIRST_COMMAND_OPTION,
	OPT_EXPECT_DEV,
	OPT_EXTRA_KERNEL_ARG,
	OPT_TIMEOUT,
	OPT_ACCEL,
	OPT_QEMU,
};

struct boot_args {
	const char **modules;
	size_t n_modules;
	struct kiln_boot_expect_dev *devices;
	size_t n_devices;
	const char **extra;
	size_t n_extra;
	unsigned timeout;
	enum kiln_boot_accel accel;
	const char *qemu;
	const char *out_dir;
};

static void boot_args_release(struct boot_args *a)
{
	free(a->modules);
	for (size_t i = 0; i < a->n_devices; i++)
		free((char *)a->devices[i].path);
	free(a->devices);
	free(a->extra);
}

static int help(void)
{
	printf("Usage: kiln boot-test [OPTIONS] INSTALLER.tar|REF\n"
	       "\n"
	       "Boot an installer image under QEMU and check what its kernel loaded. The\n"
	       "kernel and initramfs are usr/install/amd64/vmlinuz and initramfs.xz of the\n"
	       "image's flattened filesystem (as 'kiln cat' reads them); a Talos installer\n"
	       "that carries only a UKI (vmlinuz.efi) is not taken. INSTALLER.tar is a\n"
	       "docker-archive or oci-archive file, imported into the store first as\n"
	       "" BOOT_TEST_IMPORT_NAME "; REF an image in the store (linux/amd64).\n"
	       "\n"
	       "The initramfs's /init must be kiln-init (built with kiln: init/kiln-init),\n"
	       "which mounts the extensions as Talos's init does, starts udevd, loads the\n"
	       "modules given with --expect-module (kiln.modules= on the kernel command\n"
	       "line) through modules.dep, dependencies first, and prints what it saw as\n"
	       "KILN-FACT lines on the serial console before it powers off.\n"
	       "\n"
	       "QEMU: qemu-system-x86_64 -machine q35, 1 CPU, 512 MiB, no default devices,\n"
	       "KVM when /dev/kvm answers and the CPU shows vmx or svm (else TCG),\n"
	       "-no-reboot, command line \"console=ttyS0 panic=-1 kiln.modules=...\n"
	       "EXTRA\". It is killed at the time limit.\n"
	       "\n"
	       "Options:\n"
	       "      --expect-module NAME  a module that must load (repeatable; also loaded)\n"
	       "      --expect-dev PATH[:MODE]\n"
	       "                            a device node that must exist after the modules\n"
	       "                            loaded and udev settled, with MODE (octal) when\n"
	       "                            given: /dev/kiln_demo:0666 (repeatable)\n"
	       "      --extra-kernel-arg ARG  appended to the kernel command line (repeatable)\n"
	       "      --timeout S           kill QEMU after S seconds (default %d)\n"
	       "      --accel A             auto (default), kvm or tcg\n"
	       "      --qemu PATH           the QEMU binary (default qemu-system-x86_64)\n"
	       "  -o, --output DIR          where boot-test.log, the console log, is kept\n"
	       "                            (default _out of the current directory)\n"
	       "      --json                print the checks as JSON\n"
	       "  -h, --help                show this help\n"
	       "\n"
	       "Prints one row per check: the boot itself (finished, or timed out, or\n"
	       "init never reported), each step of init that failed, each expected module\n"
	       "(loaded, or the kernel's error and log lines: \"Key was rejected by\n"
	       "service\" with \"Loading of module with unavailable key is rejected\"),\n"
	       "each expected device (present, mode), and every other module that failed\n"
	       "to load (a dependency, say), which fails the test too; then the\n"
	       "certificates the kernel loaded and its log lines about firmware.\n"
	       "Exit status: 0 every check passed, 1 a check failed, the boot timed out,\n"
	       "or the image or QEMU could not be used, 2 usage error.\n",
	       KILN_BOOT_DEFAULT_TIMEOUT);
	return EXIT_OK;
}

static int push(const char ***v, size_t *n, const char *s)
{
	const char **p = reallocarray(*v, *n + 1, sizeof(**v));

	if (!p)
		return cli_fail(-ENOMEM, "boot-test");
	p[(*n)++] = s;
	*v = p;
	return CLI_CONTINUE;
}

static int parse_dev(struct boot_args *a, const char *arg)
{
	struct kiln_boot_expect_dev d = { .mode = -1 };
	struct kiln_boot_expect_dev *p;
	const char *colon = strrchr(arg, ':');

	if (strncmp(arg, "/dev/", 5) != 0)
		return cli_usage("boot-test: --expect-dev %s: the path must start with /dev/", arg);
	if (!colon) {
		d.path = strdup(arg);
		if (!d.path)
			return cli_fail(-ENOMEM, "boot-test");
	} else {
		char *end;
		unsigned long m;

		errno = 0;
		m = strtoul(colon + 1, &end, 8);
		if (errno || end == colon + 1 || *end || m > 07777)
			return cli_usage(
			    "boot-test: --expect-dev %s: the mode must be octal, such as "
			    "0666",
			    arg);
		d.mode = (int)m;
		d.path = strndup(arg, (size_t)(colon - arg));
		if (!d.path)
			return cli_fail(-ENOMEM, "boot-test");
	}
	p = reallocarray(a->devices, a->n_devices + 1, sizeof(*p));
	if (!p) {
		free((char *)d.path);
		return cli_fail(-ENOMEM, "boot-test");
	}
	p[a->n_devices++] = d;
	a->devices = p;
	return CLI_CONTINUE;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct boot_args *a = userdata;
	char *end;
	unsigned long n;

	switch (c) {
	case OPT_EXPECT_MODULE:
		return push(&a->modules, &a->n_modules, arg);
	case OPT_EXPECT_DEV:
		return parse_dev(a, arg);
	case OPT_EXTRA_KERNEL_ARG:
		return push(&a->extra, &a->n_extra, arg);
	case OPT_TIMEOUT:
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || n == 0 || n > 86400)
			return cli_usage("boot-test: --timeout %s: seconds, 1 to 86400", arg);
		a->timeout = (unsigned)n;
		return CLI_CONTINUE;
	case OPT_ACCEL:
		if (streq(arg, "auto"))
			a->accel = KILN_BOOT_ACCEL_AUTO;
		else if (streq(arg, "kvm"))
			a->accel = KILN_BOOT_ACCEL_KVM;
		else if (streq(arg, "tcg"))
			a->accel = KILN_BOOT_ACCEL_TCG;
		else
			return cli_usage("boot-test: --accel %s: auto, kvm or tcg", arg);
		return CLI_CONTINUE;
	case OPT_QEMU:
		a->qemu = arg;
		return CLI_CONTINUE;
	case 'o':
		a->out_dir = arg;
		return CLI_CONTINUE;
	default:
		return cli_usage("boot-test: run 'kiln boot-test --help' for usage");
	}
}

struct fd_out {
	int fd;
};

static int to_fd(void *userdata, const void *data, size_t len)
{
	return write_all(((struct fd_out *)userdata)->fd, data, len);
}

/* Copy the image's file @path to @dest. */
static int extract(struct kiln_store *s, const struct kiln_image *img, const struct kiln_fs *fs,
		   const char *path, const char *dest)
{
	struct fd_out out = { -1 };
	const struct kiln_fs_node *n;
	struct kiln_fs_stat st;
	int r;

	r = kiln_fs_lookup(cli_ctx, fs, path, true, &n);
	if (r < 0)
		return r;
	kiln_fs_node_stat(n, &st);
	if (st.type != KILN_TAR_REG)
		return -EINVAL;
	out.fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out.fd < 0)
		return -errno;
	r = kiln_fs_cat(cli_ctx, s, img, n, to_fd, &out);
	if (close(out.fd) < 0 && r >= 0)
		r = -errno;
	return r;
}

/* The installer's kernel and initramfs into @dir: EXIT_OK, or EXIT_FAILURE_ after saying why. */
static int take_installer(const char *what, const char *dir)
{
	_cleanup_(kiln_platform_release) struct kiln_platform platform = { 0 };
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	_cleanup_(kiln_fs_freep) struct kiln_fs *fs = NULL;
	_cleanup_free_ char *kernel = path_join(dir, "vmlinuz");
	_cleanup_free_ char *initrd = path_join(dir, "initramfs.xz");
	_cleanup_free_ char *name = NULL;
	const char *ref = what;
	struct kiln_descriptor d = { 0 };
	struct stat st;
	int r;

	if (!kernel || !initrd)
		return cli_fail(-ENOMEM, "boot-test");
	r = kiln_platform_parse(cli_ctx, "linux/amd64", &platform);
	if (r < 0)
		return cli_fail(r, "boot-test");
	r = cli_open_store("boot-test", &s);
	if (r != EXIT_OK)
		return r;
	if (stat(what, &st) == 0 && S_ISREG(st.st_mode)) {
		r = kiln_archive_import(cli_ctx, s, what, KILN_ARCHIVE_AUTO, BOOT_TEST_IMPORT_NAME,
					&platform, &d, &name);
		if (r < 0)
			return cli_fail(r, "boot-test: cannot import \"%s\"", what);
		ref = name;
		kiln_descriptor_release(&d);
	}
	r = kiln_store_load_image(cli_ctx, s, ref, &platform, &img);
	if (r >= 0)
		r = kiln_fs_load_image(cli_ctx, s, img, &fs);
	if (r < 0)
		return cli_fail(r, "boot-test %s", what);
	r = extract(s, img, fs, INSTALL_DIR "/vmlinuz", kernel);
	if (r == -ENOENT || r == -EINVAL) {
		const struct kiln_fs_node *n;

		kiln_ctx_clear_error(cli_ctx);
		fprintf(stderr,
			"kiln: boot-test %s: the image has no regular file " INSTALL_DIR
			"/vmlinuz%s\n",
			what,
			kiln_fs_lookup(cli_ctx, fs, INSTALL_DIR "/vmlinuz.efi", true, &n) >= 0
			    ? " (it has vmlinuz.efi: a UKI, which boot-test does not take)"
			    : ": is it an installer image?");
		kiln_ctx_clear_error(cli_ctx);
		return EXIT_FAILURE_;
	}
	if (r >= 0)
		r = extract(s, img, fs, INSTALL_DIR "/initramfs.xz", initrd);
	if (r == -ENOENT || r == -EINVAL) {
		kiln_ctx_clear_error(cli_ctx);
		fprintf(stderr,
			"kiln: boot-test %s: the image has no regular file " INSTALL_DIR
			"/initramfs.xz\n",
			what);
		return EXIT_FAILURE_;
	}
	if (r < 0)
		return cli_fail(r, "boot-test %s: cannot copy its kernel and initramfs", what);
	return EXIT_OK;
}

static const char *verdict_name(enum kiln_boot_verdict v)
{
	return v == KILN_BOOT_PASS ? "PASS" : v == KILN_BOOT_FAIL ? "FAIL" : "WARN";
}

static int print_text(const struct kiln_boot_report *rep, const struct kiln_boot_result *res,
		      const char *log)
{
	size_t failed = 0, width = 5;

	for (size_t i = 0; i < rep->n_rows; i++) {
		size_t w = strlen(rep->rows[i].subject);

		if (w > width && w <= 40)
			width = w;
	}
	printf("%-6s %-*s  %s\n", "RESULT", (int)width, "CHECK", "DETAIL");
	for (size_t i = 0; i < rep->n_rows; i++) {
		const struct kiln_boot_row *row = &rep->rows[i];

		printf("%-6s %-*s  %s\n", verdict_name(row->verdict), (int)width, row->subject,
		       row->detail);
		failed += row->verdict == KILN_BOOT_FAIL;
	}
	for (size_t i = 0; i < res->n_certs; i++)
		printf("cert:     %s\n", res->certs[i]);
	for (size_t i = 0; i < res->n_firmware; i++)
		printf("firmware: %s%s%s%s\n", res->firmware[i].module ? "[" : "",
		       strempty(res->firmware[i].module), res->firmware[i].module ? "] " : "",
		       res->firmware[i].line);
	if (failed)
		printf("boot-test: FAIL: %zu of %zu checks failed; console log: %s\n", failed,
		       rep->n_rows, log);
	else
		printf("boot-test: PASS: %zu checks; console log: %s\n", rep->n_rows, log);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_;
}

static int print_json(const struct kiln_boot_report *rep, const struct kiln_boot_run *run,
		      const char *log)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	struct json_writer w;

	json_init(&w, &sb);
	json_begin_object(&w);
	json_key(&w, "pass");
	json_bool(&w, rep->pass);
	json_key(&w, "timedOut");
	json_bool(&w, run->timed_out);
	json_key(&w, "accel");
	json_string(&w, run->kvm ? "kvm" : "tcg");
	json_key(&w, "seconds");
	json_uint(&w, (uint64_t)(run->seconds + 0.5));
	json_kv_string(&w, "cmdline", run->cmdline);
	json_kv_string(&w, "log", log);
	json_key(&w, "checks");
	json_begin_array(&w);
	for (size_t i = 0; i < rep->n_rows; i++) {
		json_begin_object(&w);
		json_kv_string(&w, "result", verdict_name(rep->rows[i].verdict));
		json_kv_string(&w, "check", rep->rows[i].subject);
		json_kv_string(&w, "detail", rep->rows[i].detail);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_end_object(&w);
	if (w.error)
		return cli_fail(-ENOMEM, "boot-test");
	return cli_write_strbuf(&sb);
}

static int boot_and_judge(const struct boot_args *a, const char *dir, bool json)
{
	_cleanup_(kiln_boot_run_release) struct kiln_boot_run run = { 0 };
	_cleanup_(kiln_boot_result_release) struct kiln_boot_result res = { 0 };
	_cleanup_(kiln_boot_report_release) struct kiln_boot_report rep = { 0 };
	_cleanup_free_ char *kernel = path_join(dir, "vmlinuz");
	_cleanup_free_ char *initrd = path_join(dir, "initramfs.xz");
	_cleanup_free_ char *log = path_join(a->out_dir, "boot-test.log");
	struct kiln_boot_options o = {
		.kernel = kernel,
		.initrd = initrd,
		.modules = a->modules,
		.n_modules = a->n_modules,
		.extra_args = a->extra,
		.n_extra_args = a->n_extra,
		.timeout_s = a->timeout,
		.accel = a->accel,
		.qemu = a->qemu,
		.console_log = log,
	};
	struct kiln_boot_expect e = {
		.modules = a->modules,
		.n_modules = a->n_modules,
		.devices = a->devices,
		.n_devices = a->n_devices,
	};
	int r;

	if (!kernel || !initrd || !log)
		return cli_fail(-ENOMEM, "boot-test");
	if (mkdir(a->out_dir, 0755) < 0 && errno != EEXIST)
		return cli_fail(-errno, "boot-test: cannot make the output directory \"%s\"",
				a->out_dir);
	r = kiln_boot_run(cli_ctx, &o, &run);
	if (r < 0)
		return cli_fail(r, "boot-test: cannot boot");
	r = kiln_boot_parse_console(cli_ctx, run.console, run.console_len, &res);
	if (r >= 0)
		r = kiln_boot_check(cli_ctx, &run, &res, &e, &rep);
	if (r < 0)
		return cli_fail(r, "boot-test");
	r = json ? print_json(&rep, &run, log) : print_text(&rep, &res, log);
	if (r != EXIT_OK)
		return r;
	return rep.pass ? EXIT_OK : EXIT_FAILURE_;
}

int cmd_boot_test(int argc, char **argv)
{
	static const struct option options[] = {
		{ "expect-module", required_argument, NULL, OPT_EXPECT_MODULE },
		{ "expect-dev", required_argument, NULL, OPT_EXPECT_DEV },
		{ "extra-kernel-arg", required_argument, NULL, OPT_EXTRA_KERNEL_ARG },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "accel", required_argument, NULL, OPT_ACCEL },
		{ "qemu", required_argument, NULL, OPT_QEMU },
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	_cleanup_(boot_args_release) struct boot_args a = { .out_dir = "_out" };
	struct cli_options o = {
		.name = "boot-test",
		.no_tree = true,
		.help = help,
		.extra = options,
		.short_options = "o:",
		.on_option = on_option,
		.userdata = &a,
	};
	_cleanup_free_ char *tmpl = NULL;
	const char *tmpdir = getenv("TMPDIR");
	bool json = false;
	int r;

	r = cli_parse_plain(argc, argv, &o, &json);
	if (r != CLI_CONTINUE)
		return r;
	if (argc - optind != 1)
		return cli_usage(
		    "boot-test: expected one INSTALLER.tar or REF: run 'kiln boot-test "
		    "--help'");
	r = make_temp_dir(tmpdir && *tmpdir ? tmpdir : "/tmp", "kiln-boot-test.", &tmpl);
	if (r < 0)
		return cli_fail(r, "boot-test: cannot make a temporary directory in %s",
				tmpdir && *tmpdir ? tmpdir : "/tmp");
	r = take_installer(argv[optind], tmpl);
	if (r == EXIT_OK)
		r = boot_and_judge(&a, tmpl, json);
	(void)remove_tree_at(AT_FDCWD, tmpl);
	return r;
}
