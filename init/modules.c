/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln-init's kernel side: the kernel log (/dev/kmsg, one record per
 * read), modules loaded as modprobe loads them (modules.dep read here,
 * dependencies first, each with finit_module), and the device nodes.
 *
 * Each module's load is bracketed by reads of the log, so the lines the
 * kernel printed while refusing or initialising it ("Loading of module
 * with unavailable key is rejected", "Direct firmware load for ...
 * failed") are told with it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/module.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kiln-init.h"

#define MODS_MAX 64
#define MOD_NAME_MAX 64
#define MOD_PATH_MAX 256
#define MOD_LOG_MAX 16
#define LOG_LINE_MAX 240
#define CERTS_MAX 16
#define FIRMWARE_MAX 32
#define DEVS_MAX 512
#define DEV_PATH_MAX 96
#define DEPTH_MAX 16
#define MODULES_DEP_MAX (16u << 20)

struct mod {
	char name[MOD_NAME_MAX];
	char path[MOD_PATH_MAX]; /* as in modules.dep */
	bool requested, loaded, builtin, already, busy;
	int err; /* errno of the failure */
	char dependency[MOD_NAME_MAX]; /* the dependency whose failure stopped it */
	char log[MOD_LOG_MAX][LOG_LINE_MAX];
	unsigned n_log, log_dropped;
};

static struct mod mods[MODS_MAX];
static unsigned n_mods, mods_dropped;

static char certs[CERTS_MAX][LOG_LINE_MAX];
static unsigned n_certs;

static struct {
	char module[MOD_NAME_MAX];
	char line[LOG_LINE_MAX];
} firmware[FIRMWARE_MAX];
static unsigned n_firmware, firmware_dropped;

static int kmsg_fd = -1;
static struct mod *attributed; /* the module being loaded: log lines are its */

/* ---- the kernel log ------------------------------------------------------------ */

static void log_line(const char *line)
{
	const char *c = strstr(line, "Loaded X.509 cert '");

	if (c && n_certs < CERTS_MAX) {
		c += strlen("Loaded X.509 cert '");
		size_t n = strcspn(c, "'");

		copy_str(certs[n_certs], LOG_LINE_MAX, c);
		if (n < LOG_LINE_MAX)
			certs[n_certs][n] = '\0';
		n_certs++;
	}
	if (strcasestr(line, "firmware")) {
		if (n_firmware < FIRMWARE_MAX) {
			copy_str(firmware[n_firmware].module, MOD_NAME_MAX,
				 attributed ? attributed->name : "");
			copy_str(firmware[n_firmware++].line, LOG_LINE_MAX, line);
		} else {
			firmware_dropped++;
		}
	}
	if (attributed) {
		if (attributed->n_log < MOD_LOG_MAX)
			copy_str(attributed->log[attributed->n_log++], LOG_LINE_MAX, line);
		else
			attributed->log_dropped++;
	}
}

void kmsg_open(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd < 0) {
		fact_error("kmsg", "cannot open /dev/kmsg: %s", strerror(errno));
		return;
	}
	kmsg_drain();
}

void kmsg_drain(void)
{
	/* a record is "prio,seq,usec,flags;text\n" and " KEY=value" lines */
	static char rec[8192];

	if (kmsg_fd < 0)
		return;
	for (;;) {
		ssize_t n = read(kmsg_fd, rec, sizeof(rec) - 1);
		char *text;

		if (n < 0 && (errno == EINTR || errno == EPIPE))
			continue; /* EPIPE: records were overwritten before we read them */
		if (n <= 0)
			return; /* EAGAIN: all read */
		rec[n] = '\0';
		text = strchr(rec, ';');
		if (!text)
			continue;
		text++;
		text[strcspn(text, "\n")] = '\0';
		log_line(text);
	}
}

/* ---- modules.dep ------------------------------------------------------------------ */

static char release[65];
static char *dep_text; /* modules.dep, NUL-terminated; NULL when unreadable */

/* The module name of a path: its file name up to the first '.', '-' read as '_'. */
static void name_of_path(const char *path, size_t len, char *out)
{
	const char *base = path;
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			base = path + i + 1;
	for (; base < path + len && *base != '.' && n + 1 < MOD_NAME_MAX; base++)
		out[n++] = *base == '-' ? '_' : *base;
	out[n] = '\0';
}

static void read_modules_dep(void)
{
	struct utsname u;
	char path[160];
	struct stat st;
	ssize_t n, total = 0;
	int fd;

	if (uname(&u) < 0)
		return;
	copy_str(release, sizeof(release), u.release);
	snprintf(path, sizeof(path), "/usr/lib/modules/%s/modules.dep", release);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fact_error("modules", "cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	if (st.st_size > (off_t)MODULES_DEP_MAX) {
		fact_error("modules", "%s is over 16 MiB", path);
		close(fd);
		return;
	}
	dep_text = malloc((size_t)st.st_size + 1);
	if (!dep_text) {
		close(fd);
		fact_error("modules", "cannot read %s: out of memory", path);
		return;
	}
	while (total < st.st_size) {
		n = read(fd, dep_text + total, (size_t)(st.st_size - total));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	dep_text[total] = '\0';
	close(fd);
}

/* The line of modules.dep for @name: "path: dep dep...", or NULL. */
static const char *dep_line(const char *name)
{
	char n[MOD_NAME_MAX];

	for (const char *l = dep_text; l && *l; l += strcspn(l, "\n"), l += *l == '\n') {
		size_t colon = strcspn(l, ":\n");

		if (l[colon] != ':')
			continue;
		name_of_path(l, colon, n);
		if (strcmp(n, name) == 0)
			return l;
	}
	return NULL;
}

/* Is @name built into the kernel (modules.builtin) or already there (/sys/module)? */
static bool is_builtin(const char *name)
{
	char path[160], line[MOD_PATH_MAX], n[MOD_NAME_MAX];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/usr/lib/modules/%s/modules.builtin", release);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		name_of_path(line, strcspn(line, "\n"), n);
		found = strcmp(n, name) == 0;
	}
	fclose(f);
	return found;
}

static struct mod *find_mod(const char *name)
{
	for (unsigned i = 0; i < n_mods; i++)
		if (strcmp(mods[i].name, name) == 0)
			return &mods[i];
	return NULL;
}

static void insert(struct mod *m)
{
	char path[MOD_PATH_MAX + 96];
	size_t len = strlen(m->path);
	int flags = 0, fd;
	long r;

	if ((size_t)snprintf(path, sizeof(path), "%s%s%s%s",
			     m->path[0] == '/' ? "" : "/usr/lib/modules/",
			     m->path[0] == '/' ? "" : release, m->path[0] == '/' ? "" : "/",
			     m->path) >= sizeof(path)) {
		m->err = ENAMETOOLONG;
		return;
	}
	if ((len > 3 && strcmp(m->path + len - 3, ".xz") == 0) ||
	    (len > 4 && strcmp(m->path + len - 4, ".zst") == 0) ||
	    (len > 3 && strcmp(m->path + len - 3, ".gz") == 0))
		flags |= MODULE_INIT_COMPRESSED_FILE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		m->err = errno;
		return;
	}
	kmsg_drain();
	attributed = m;
	r = syscall(SYS_finit_module, fd, "", flags);
	m->err = r < 0 ? errno : 0;
	kmsg_drain();
	attributed = NULL;
	close(fd);
	if (m->err == EEXIST) {
		m->err = 0;
		m->already = true;
	}
	m->loaded = m->err == 0;
}

/* Load @name after its dependencies, as modprobe does. NULL when the table is full. */
static struct mod *load(const char *name, bool requested, unsigned depth)
{
	struct mod *m = find_mod(name);
	const char *line, *p;
	char sys[MOD_NAME_MAX + 16];

	if (m) {
		m->requested |= requested;
		if (m->busy && !m->err)
			m->err = ELOOP; /* a dependency cycle */
		return m;
	}
	if (n_mods == MODS_MAX) {
		mods_dropped++;
		return NULL;
	}
	m = &mods[n_mods++];
	copy_str(m->name, sizeof(m->name), name);
	m->requested = requested;
	if (depth > DEPTH_MAX) {
		m->err = ELOOP;
		return m;
	}
	line = dep_line(name);
	if (!line) {
		snprintf(sys, sizeof(sys), "/sys/module/%s", name);
		if (is_builtin(name))
			m->loaded = m->builtin = true;
		else if (access(sys, F_OK) == 0)
			m->loaded = m->already = true;
		else
			m->err = ENOENT;
		return m;
	}
	if (strcspn(line, ":") >= sizeof(m->path)) {
		m->err = ENAMETOOLONG;
		return m;
	}
	memcpy(m->path, line, strcspn(line, ":"));
	m->busy = true;
	for (p = line + strcspn(line, ":") + 1; *p && *p != '\n';) {
		char dep[MOD_NAME_MAX];
		struct mod *d;
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, " \t\n");
		if (n == 0)
			break;
		name_of_path(p, n, dep);
		p += n;
		d = load(dep, false, depth + 1);
		if (!d || !d->loaded) {
			m->err = d && d->err ? d->err : ENOMEM;
			copy_str(m->dependency, sizeof(m->dependency), dep);
			m->busy = false;
			return m;
		}
	}
	m->busy = false;
	if (!m->err)
		insert(m);
	return m;
}

void modules_load(const char *list)
{
	char name[MOD_NAME_MAX];

	if (!*list)
		return;
	read_modules_dep();
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ","), k = 0;

		for (size_t i = 0; i < n && k + 1 < sizeof(name); i++)
			name[k++] = p[i] == '-' ? '_' : p[i];
		name[k] = '\0';
		p += n + (p[n] == ',');
		if (k > 0)
			load(name, true, 0);
	}
	free(dep_text);
	dep_text = NULL;
}

/* ---- device nodes ------------------------------------------------------------------ */

static struct {
	char path[DEV_PATH_MAX];
	dev_t rdev;
} seen[DEVS_MAX];
static unsigned n_seen;
static bool snapshot_taken;

typedef void (*node_fn)(const char *path, const struct stat *st);

/* Every character and block device under @dir (not through symlinks, not in pts or shm). */
static void walk(const char *dir, unsigned depth, node_fn fn)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[DEV_PATH_MAX];
		struct stat st;

		if (e->d_name[0] == '.' || (depth == 0 && (strcmp(e->d_name, "pts") == 0 ||
							   strcmp(e->d_name, "shm") == 0)))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
			continue;
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 3)
			walk(path, depth + 1, fn);
		else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
			fn(path, &st);
	}
	closedir(d);
}

static void remember(const char *path, const struct stat *st)
{
	if (n_seen == DEVS_MAX)
		return;
	copy_str(seen[n_seen].path, DEV_PATH_MAX, path);
	seen[n_seen++].rdev = st->st_rdev;
}

void devices_snapshot(void)
{
	walk("/dev", 0, remember);
	snapshot_taken = true;
}

static void report_node(const char *path, const struct stat *st)
{
	char mode[8];
	bool is_new = true;

	for (unsigned i = 0; i < n_seen && is_new; i++)
		is_new = !(strcmp(seen[i].path, path) == 0 && seen[i].rdev == st->st_rdev);
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(st->st_mode & 07777));
	fact_begin("device");
	fact_str("path", path);
	fact_str("type", S_ISCHR(st->st_mode) ? "char" : "block");
	fact_str("mode", mode);
	fact_int("uid", st->st_uid);
	fact_int("gid", st->st_gid);
	fact_int("major", major(st->st_rdev));
	fact_int("minor", minor(st->st_rdev));
	if (snapshot_taken)
		fact_bool("new", is_new);
	fact_end();
}

void report_devices(void)
{
	walk("/dev", 0, report_node);
}

/* ---- the report --------------------------------------------------------------------- */

void report_certs(void)
{
	for (unsigned i = 0; i < n_certs; i++) {
		fact_begin("cert");
		fact_str("name", certs[i]);
		fact_end();
	}
}

void report_modules(void)
{
	for (unsigned i = 0; i < n_mods; i++) {
		struct mod *m = &mods[i];
		char path[MOD_NAME_MAX + 32], taint[32];

		fact_begin("module");
		fact_str("name", m->name);
		fact_bool("requested", m->requested);
		fact_bool("loaded", m->loaded);
		if (m->path[0])
			fact_str("path", m->path);
		if (m->builtin)
			fact_bool("builtin", true);
		if (m->already)
			fact_bool("already", true);
		if (!m->loaded) {
			fact_str("error", m->err == ENOENT && !m->dependency[0] && !m->path[0]
					      ? "not in modules.dep"
					      : strerror(m->err));
			fact_int("errno", m->err);
			if (m->dependency[0])
				fact_str("dependency", m->dependency);
		}
		if (m->loaded && !m->builtin &&
		    (size_t)snprintf(path, sizeof(path), "/sys/module/%s/taint", m->name) <
			sizeof(path)) {
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			ssize_t n = fd >= 0 ? read(fd, taint, sizeof(taint) - 1) : -1;

			if (fd >= 0)
				close(fd);
			if (n >= 0) {
				taint[n] = '\0';
				taint[strcspn(taint, "\n")] = '\0';
				fact_str("taint", taint);
			}
		}
		fact_array_begin("log");
		for (unsigned k = 0; k < m->n_log; k++)
			fact_array_str(m->log[k]);
		fact_array_end();
		if (m->log_dropped)
			fact_int("log_dropped", m->log_dropped);
		fact_end();
	}
	if (mods_dropped)
		fact_error("modules", "more than %d modules: %u left out", MODS_MAX, mods_dropped);
}

void report_firmware(void)
{
	for (unsigned i = 0; i < n_firmware; i++) {
		fact_begin("firmware");
		fact_str("module", firmware[i].module[0] ? firmware[i].module : NULL);
		fact_str("line", firmware[i].line);
		fact_end();
	}
	if (firmware_dropped)
		fact_error("firmware", "more than %d firmware lines: %u left out", FIRMWARE_MAX,
			   firmware_dropped);
}
