/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln-init: PID 1 of the boot-test initramfs.
 *
 * 1. mount /proc, /sys, devtmpfs /dev, tmpfs /run and /tmp;
 * 2. as Talos's init: loop-mount /rootfs.sqsh and each layer of
 *    /extensions.yaml read-only, and one read-only overlay of them on /root
 *    (later layers on top, the root image at the bottom), with the
 *    initramfs's /usr/lib/firmware merged into its /usr/lib/firmware;
 * 3. switch into /root (the mounts of step 1 moved along): udevd, udevadm,
 *    modules.dep, the modules and the kernel's firmware loader then all
 *    find what they need at their usual paths (PID 1 shares its fs_struct
 *    with the kernel's init task, whose root is where request_firmware()
 *    looks), exactly as on a booted Talos;
 * 4. systemd-udevd --daemon, trigger, settle;
 * 5. load kiln.modules= (dependencies first, finit_module) and settle again;
 * 6. print the facts and power off.
 *
 * Every failure of a step is a fact {"kind":"error","step":...} and the
 * next step still runs where it can; the end is always a power-off (or, if
 * that fails, exit: a panic, which QEMU's -no-reboot turns into its exit).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln-init.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- facts ------------------------------------------------------------------ */

#define FACT_LINE_MAX 8192
/* room kept for closing what is open ("]}" and the truncation mark) */
#define FACT_RESERVE 48

static struct {
	char buf[FACT_LINE_MAX];
	size_t len;
	bool comma, in_array, array_comma, truncated;
} fact;

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static size_t fact_room(void)
{
	return FACT_LINE_MAX - FACT_RESERVE - fact.len;
}

static void put(const char *s, size_t n)
{
	/* callers checked fact_room(); this only guards the buffer */
	if (n > FACT_LINE_MAX - fact.len)
		n = FACT_LINE_MAX - fact.len;
	memcpy(fact.buf + fact.len, s, n);
	fact.len += n;
}

/*
 * A JSON string. Bytes outside printable ASCII are escaped as \u00XX (the
 * byte read as Latin-1), so the line is always ASCII and valid JSON; a
 * value that does not fit is cut and ends in "...".
 */
static void put_string(const char *s)
{
	static const char hex[] = "0123456789abcdef";

	put("\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[6];
		size_t n;

		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			n = 2;
		} else if (c < 0x20 || c >= 0x7f) {
			memcpy(e, "\\u00", 4);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			n = 6;
		} else {
			e[0] = (char)c;
			n = 1;
		}
		if (n + 4 > fact_room()) {
			put("...", 3);
			fact.truncated = true;
			break;
		}
		put(e, n);
	}
	put("\"", 1);
}

/* A member's key; false (and the member left out) when the line is full. */
static bool put_key(const char *key)
{
	if (fact_room() < strlen(key) + 32) {
		fact.truncated = true;
		return false;
	}
	if (fact.comma)
		put(",", 1);
	fact.comma = true;
	put_string(key);
	put(":", 1);
	return true;
}

void fact_begin(const char *kind)
{
	fact.len = 0;
	fact.comma = fact.in_array = fact.truncated = false;
	put(KILN_FACT_MARKER "{", strlen(KILN_FACT_MARKER) + 1);
	fact_str("kind", kind);
}

void fact_str(const char *key, const char *value)
{
	if (!put_key(key))
		return;
	if (value)
		put_string(value);
	else
		put("null", 4);
}

void fact_int(const char *key, int64_t value)
{
	char num[24];

	if (put_key(key))
		put(num, (size_t)snprintf(num, sizeof(num), "%lld", (long long)value));
}

void fact_bool(const char *key, bool value)
{
	if (put_key(key))
		put(value ? "true" : "false", value ? 4 : 5);
}

void fact_array_begin(const char *key)
{
	if (!put_key(key))
		return;
	put("[", 1);
	fact.in_array = true;
	fact.array_comma = false;
}

void fact_array_str(const char *value)
{
	if (!fact.in_array)
		return;
	if (fact_room() < 16) {
		fact.truncated = true;
		return;
	}
	if (fact.array_comma)
		put(",", 1);
	fact.array_comma = true;
	put_string(value);
}

void fact_array_end(void)
{
	if (!fact.in_array)
		return;
	put("]", 1);
	fact.in_array = false;
}

void fact_end(void)
{
	fact_array_end();
	if (fact.truncated) {
		fact.comma = true;
		put(",\"truncated\":true", 17);
	}
	put("}\n", 2);
	write_all(STDOUT_FILENO, fact.buf, fact.len);
}

void fact_error(const char *step, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fact_begin("error");
	fact_str("step", step);
	fact_str("message", msg);
	fact_end();
}

/* ---- small helpers ---------------------------------------------------------- */

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Read a small file into @buf, NUL-terminated, trailing newline dropped; -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -errno;
	while ((size_t)total < size - 1) {
		n = read(fd, buf + total, size - 1 - (size_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	while (total > 0 && (buf[total - 1] == '\n' || buf[total - 1] == ' '))
		buf[--total] = '\0';
	return total;
}

static int write_small(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -errno : 0;
}

static int mount_at(const char *step, const char *src, const char *target, const char *type,
		    unsigned long flags, const char *data)
{
	if (!(flags & (MS_MOVE | MS_BIND)) || is_dir(src))
		(void)mkdir(target, 0755);
	if (mount(src, target, type, flags, data) < 0) {
		int e = errno;

		fact_error(step, "cannot mount %s on %s%s%s: %s", src, target, data ? " with " : "",
			   data ? data : "", strerror(e));
		return -e;
	}
	return 0;
}

/* ---- step 1: the kernel's file systems ----------------------------------- */

static void mount_basics(void)
{
	int fd;

	mount_at("mount", "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_at("mount", "sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_at("mount", "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	mount_at("mount", "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	mount_at("mount", "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");

	/* without /dev/console in the initramfs the kernel gave us no stdio */
	if (fcntl(STDOUT_FILENO, F_GETFD) < 0) {
		fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
	}
}

/* ---- step 2: /extensions.yaml --------------------------------------------- */

static char yaml[64 << 10];

static void read_extensions(void)
{
	struct stat st;
	ssize_t n;

	if (stat("/extensions.yaml", &st) < 0) {
		if (errno != ENOENT)
			fact_error("extensions", "cannot read /extensions.yaml: %s",
				   strerror(errno));
		return;
	}
	if (st.st_size >= (off_t)sizeof(yaml)) {
		fact_error("extensions", "/extensions.yaml is over %zu bytes", sizeof(yaml) - 1);
		return;
	}
	n = read_small("/extensions.yaml", yaml, sizeof(yaml));
	if (n < 0) {
		fact_error("extensions", "cannot read /extensions.yaml: %s", strerror((int)-n));
		return;
	}
	extensions_parse(yaml);
}

/* ---- step 2: squashfs images on loop devices, the overlay ---------------- */

/* Attach @file read-only to a free loop device and mount its squashfs on @dir. */
static int loop_mount(const char *file, const char *dir)
{
	struct loop_config cfg;
	char dev[32];
	int ctl, loopfd = -1, filefd, nr = -1, r = 0;

	filefd = open(file, O_RDONLY | O_CLOEXEC);
	if (filefd < 0) {
		r = -errno;
		fact_error("mount-layer", "cannot open %s: %s", file, strerror(-r));
		return r;
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		r = -errno;
		fact_error("mount-layer", "cannot open /dev/loop-control: %s", strerror(-r));
		close(filefd);
		return r;
	}
	/* another opener may take the free device first: try again then */
	for (int tries = 0; tries < 8; tries++) {
		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0) {
			r = -errno;
			break;
		}
		snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
		loopfd = open(dev, O_RDONLY | O_CLOEXEC);
		if (loopfd < 0) {
			r = -errno;
			break;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (unsigned)filefd;
		/* AUTOCLEAR: the device goes when its last user (the mount, or us) does */
		cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", file);
		if (ioctl(loopfd, LOOP_CONFIGURE, &cfg) == 0) {
			r = 0;
			break;
		}
		r = -errno;
		close(loopfd);
		loopfd = -1;
		if (r != -EBUSY)
			break;
	}
	close(ctl);
	close(filefd);
	if (r < 0) {
		fact_error("mount-layer", "cannot attach %s to a loop device: %s", file,
			   strerror(-r));
		return r;
	}
	r = mount_at("mount-layer", dev, dir, "squashfs", MS_RDONLY | MS_NODEV | MS_NOSUID, NULL);
	close(loopfd);
	return r;
}

/*
 * The firmware the kernel should see: the initramfs's /usr/lib/firmware
 * (where Talos's imager puts extensions' firmware) over the new root's.
 * When the root image has that directory, an overlay of the two is mounted
 * on it (the initramfs's on top); when it has none to mount on, the
 * initramfs's is bound on /run/kiln/firmware, which becomes
 * firmware_class.path.
 */
static void merge_firmware(void)
{
	static const char initramfs[] = "/usr/lib/firmware", root[] = "/root/usr/lib/firmware";

	if (!is_dir(initramfs))
		return;
	if (is_dir(root)) {
		mount_at("firmware", "overlay", root, "overlay", MS_RDONLY,
			 "lowerdir=/usr/lib/firmware:/root/usr/lib/firmware");
		return;
	}
	(void)mkdir("/run/kiln", 0755);
	if (mount_at("firmware", initramfs, "/run/kiln/firmware", NULL, MS_BIND | MS_RDONLY,
		     NULL) == 0 &&
	    write_small("/sys/module/firmware_class/parameters/path", "/run/kiln/firmware") < 0)
		fact_error("firmware", "cannot set firmware_class.path to /run/kiln/firmware: %s",
			   strerror(errno));
}

/* Mount the root image and the layers on /root; false when there is no root to switch to. */
static bool mount_root(void)
{
	char dir[32], lower[LAYERS_MAX * 24 + 32];
	size_t len = 0;
	unsigned n_mounted = 0;

	(void)mkdir("/layers", 0755);
	if (!is_file("/rootfs.sqsh")) {
		fact_error("rootfs", "/rootfs.sqsh is missing: staying in the initramfs");
		return false;
	}
	if (loop_mount("/rootfs.sqsh", "/layers/root") < 0)
		return false;
	read_extensions();

	memcpy(lower, "lowerdir=", 9);
	len = 9;
	/* leftmost is on top: the last layer of extensions.yaml first */
	for (unsigned i = n_layers; i-- > 0;) {
		char file[LAYER_NAME_MAX + 1];

		if (layers[i].too_long || !extensions_image_name_ok(layers[i].image)) {
			fact_error("extensions", "layer %u: \"%s%s\" is not a file name", i,
				   layers[i].image, layers[i].too_long ? "..." : "");
			continue;
		}
		snprintf(file, sizeof(file), "/%s", layers[i].image);
		snprintf(dir, sizeof(dir), "/layers/layer%u", i);
		if (loop_mount(file, dir) < 0)
			continue;
		layers[i].mounted = true;
		n_mounted++;
		len += (size_t)snprintf(lower + len, sizeof(lower) - len, "%s:", dir);
	}
	snprintf(lower + len, sizeof(lower) - len, "/layers/root");
	if (n_mounted == 0) {
		if (mount_at("overlay", "/layers/root", "/root", NULL, MS_BIND, NULL) < 0)
			return false;
	} else if (mount_at("overlay", "overlay", "/root", "overlay", MS_RDONLY, lower) < 0) {
		return false;
	}
	merge_firmware();
	/* as Talos: the list of extensions, for whoever reads it in the new root */
	if (is_file("/extensions.yaml") && is_file("/root/etc/extensions.yaml"))
		mount_at("overlay", "/extensions.yaml", "/root/etc/extensions.yaml", NULL, MS_BIND,
			 NULL);
	return true;
}

/* ---- step 3: switch root ------------------------------------------------------ */

static bool switch_root(void)
{
	static const char *const moved[] = { "/dev", "/proc", "/sys", "/run", "/tmp" };
	char target[32];

	/* the root image must have the mount points: the overlay is read-only */
	for (size_t i = 0; i < ELEMENTSOF(moved) - 1; i++) {
		snprintf(target, sizeof(target), "/root%s", moved[i]);
		if (!is_dir(target)) {
			fact_error("switch-root",
				   "the root image has no %s to mount on: staying in the initramfs",
				   moved[i]);
			return false;
		}
	}
	for (size_t i = 0; i < ELEMENTSOF(moved); i++) {
		snprintf(target, sizeof(target), "/root%s", moved[i]);
		if (!is_dir(target))
			continue; /* /tmp: optional */
		if (mount_at("switch-root", moved[i], target, NULL, MS_MOVE, NULL) < 0)
			return false;
	}
	if (chdir("/root") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0) {
		fact_error("switch-root", "cannot make /root the root: %s", strerror(errno));
		return false;
	}
	/* the kernel looks in /lib/firmware: Talos has /lib -> usr/lib; this needs no such link */
	if (is_dir("/usr/lib/firmware") && !is_dir("/run/kiln/firmware"))
		(void)write_small("/sys/module/firmware_class/parameters/path",
				  "/usr/lib/firmware");
	return true;
}

/* ---- step 4: udev ---------------------------------------------------------------- */

static const char *find_program(const char *const *candidates)
{
	for (; *candidates; candidates++)
		if (access(*candidates, X_OK) == 0)
			return *candidates;
	return NULL;
}

static const char *const udevd_paths[] = {
	"/usr/lib/systemd/systemd-udevd",
	"/lib/systemd/systemd-udevd",
	"/usr/sbin/udevd",
	"/sbin/udevd",
	"/usr/bin/udevd",
	NULL,
};

static const char *const udevadm_paths[] = {
	"/usr/bin/udevadm", "/bin/udevadm", "/usr/sbin/udevadm", "/sbin/udevadm", NULL,
};

static const char *udevadm;

/* Run @argv with the console as stdio and wait; 0, or -1 after an error fact. */
static int run(const char *step, char *const argv[])
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	int status;
	pid_t pid, w;

	pid = fork();
	if (pid < 0) {
		fact_error(step, "cannot fork for %s: %s", argv[0], strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execve(argv[0], argv, envp);
		_exit(127);
	}
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		fact_error(step, "cannot wait for %s: %s", argv[0], strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		fact_error(step, "%s %s exited with status %d%s", argv[0], argv[1] ? argv[1] : "",
			   WEXITSTATUS(status),
			   WEXITSTATUS(status) == 127 ? " (cannot run it: a library missing?)"
						      : "");
	else
		fact_error(step, "%s %s was killed by signal %d", argv[0], argv[1] ? argv[1] : "",
			   WTERMSIG(status));
	return -1;
}

static void udev_settle(void)
{
	if (udevadm)
		run("udev-settle", (char *[]){ (char *)udevadm, "settle", "--timeout=60", NULL });
}

static void udev_start(void)
{
	const char *udevd = find_program(udevd_paths);

	udevadm = find_program(udevadm_paths);
	if (!udevd || !udevadm) {
		fact_error("udev", "no %s in the root image: device modes come from devtmpfs alone",
			   udevd ? "udevadm" : "systemd-udevd");
		udevadm = NULL;
		return;
	}
	/* no user database here: a rule naming a group must not stall */
	if (run("udev", (char *[]){ (char *)udevd, "--daemon", "--resolve-names=never", NULL }) <
	    0) {
		udevadm = NULL;
		return;
	}
	run("udev-trigger",
	    (char *[]){ (char *)udevadm, "trigger", "--type=subsystems", "--action=add", NULL });
	run("udev-trigger",
	    (char *[]){ (char *)udevadm, "trigger", "--type=devices", "--action=add", NULL });
	udev_settle();
}

static void udev_stop(void)
{
	if (udevadm)
		run("udev", (char *[]){ (char *)udevadm, "control", "--exit", NULL });
}

/* ---- step 5: kiln.modules= ----------------------------------------------------- */

static char cmdline[4096];
static char module_list[4096];

/* Every kiln.modules= of the command line, joined with commas. */
static void read_module_list(void)
{
	static const char key[] = "kiln.modules=";
	size_t len = 0;

	if (read_small("/proc/cmdline", cmdline, sizeof(cmdline)) < 0) {
		fact_error("cmdline", "cannot read /proc/cmdline: %s", strerror(errno));
		return;
	}
	for (char *p = cmdline; (p = strstr(p, key));) {
		size_t n;

		if (p != cmdline && p[-1] != ' ') {
			p++;
			continue;
		}
		p += strlen(key);
		n = strcspn(p, " \t\n");
		if (len + n + 2 < sizeof(module_list)) {
			if (len)
				module_list[len++] = ',';
			memcpy(module_list + len, p, n);
			len += n;
			module_list[len] = '\0';
		}
		p += n;
	}
}

/* ---- step 6: the report ----------------------------------------------------------- */

static void report_kernel(void)
{
	struct utsname u;
	char buf[64];
	ssize_t n;

	fact_begin("kernel");
	fact_str("release", uname(&u) == 0 ? u.release : NULL);
	n = read_small("/sys/module/module/parameters/sig_enforce", buf, sizeof(buf));
	if (n > 0)
		fact_bool("sig_enforce", buf[0] == 'Y' || buf[0] == '1');
	else
		fact_str("sig_enforce", NULL);
	n = read_small("/proc/sys/kernel/tainted", buf, sizeof(buf));
	if (n > 0)
		fact_int("tainted", strtoll(buf, NULL, 10));
	fact_str("cmdline", cmdline);
	fact_end();
}

static void report_extensions(void)
{
	for (unsigned i = 0; i < n_layers; i++) {
		fact_begin("extension");
		fact_int("index", i);
		fact_str("image", layers[i].image);
		fact_str("name", layers[i].name[0] ? layers[i].name : NULL);
		fact_str("version", layers[i].version[0] ? layers[i].version : NULL);
		fact_bool("mounted", layers[i].mounted);
		fact_end();
	}
}

static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	fact_error("poweroff", "reboot(RB_POWER_OFF) failed: %s; exiting, the kernel panics",
		   strerror(errno));
	_exit(1);
}

int main(void)
{
	if (getpid() != 1) {
		fprintf(stderr,
			"kiln-init: not PID 1: this is the /init of a boot-test initramfs\n");
		return 1;
	}
	mount_basics();
	kmsg_open();
	fact_begin("start");
	fact_int("protocol", 1);
	fact_end();

	if (mount_root())
		switch_root();
	udev_start();
	devices_snapshot();
	read_module_list();
	modules_load(module_list);
	udev_settle();
	udev_stop();

	/* the facts must not be cut by kernel lines on the same console */
	(void)klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, NULL, 1);
	kmsg_drain();
	report_kernel();
	report_extensions();
	report_certs();
	report_modules();
	report_devices();
	report_firmware();
	fact_begin("done");
	fact_end();
	power_off();
	return 1;
}
