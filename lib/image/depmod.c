/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * modules.dep and friends, made by kmod's own depmod: its binary indexes
 * (modules.*.bin) are what the kernel's userspace reads, and kmod is the
 * one implementation of them. depmod up to kmod 30 (Debian 12) reads
 * BASE/lib/modules/KREL, while an image keeps its modules in
 * usr/lib/modules; so depmod runs on a scratch base directory whose
 * lib/modules is a symlink to the modules directory given, with a config
 * file of its own, so that neither the host's depmod.d nor its module
 * directory have a say.
 */
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/image.h>

#include "fileio.h"
#include "log.h"
#include "process.h"

/* Talos's /etc/modules.d/10-extra-modules.conf */
#define DEFAULT_SEARCH "extras built-in"

static bool release_is_name(const char *krel)
{
	return krel[0] && !strchr(krel, '/') && !streq(krel, ".") && !streq(krel, "..");
}

/* depmod's stderr, a warning a line; its "depmod: " prefixes kept, so they name their source. */
static void forward_warnings(struct kiln_ctx *ctx, const char *text)
{
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");

		if (len)
			kiln_warn_at(ctx, NULL, 0, 0, "%.*s", (int)len, p);
		p += len;
		p += *p == '\n';
	}
}

/* The last line of @text, for an error message. */
static void last_line(const char *text, const char **ret, int *ret_len)
{
	size_t len = strlen(text);

	while (len && text[len - 1] == '\n')
		len--;
	*ret = text;
	for (size_t i = len; i > 0; i--)
		if (text[i - 1] == '\n') {
			*ret = text + i;
			break;
		}
	*ret_len = (int)(len - (size_t)(*ret - text));
}

/* BASE/lib/modules -> @modules_dir, and BASE/depmod.conf. */
static int make_base(struct kiln_ctx *ctx, const char *base, const char *modules_dir,
		     const char *search)
{
	_cleanup_free_ char *lib = path_join(base, "lib"), *link = path_join(base, "lib/modules"),
			    *conf = path_join(base, "depmod.conf"), *text = NULL;
	int r;

	if (!lib || !link || !conf || asprintf(&text, "search %s\n", search) < 0)
		return -ENOMEM;
	if (mkdir(lib, 0755) < 0)
		return kiln_error(ctx, errno, "cannot make \"%s\": %m", lib);
	if (symlink(modules_dir, link) < 0)
		return kiln_error(ctx, errno, "cannot make \"%s\": %m", link);
	r = write_file_atomic(conf, text, strlen(text), 0644);
	if (r < 0)
		return kiln_error(ctx, r, "cannot write \"%s\": %s", conf, strerror(-r));
	return 0;
}

int kiln_depmod(struct kiln_ctx *ctx, const char *modules_dir, const char *krel,
		const struct kiln_depmod_options *o)
{
	_cleanup_free_ char *abs = NULL, *tmpdir = NULL, *base = NULL, *conf = NULL, *err = NULL,
			    *rel = NULL;
	const char *search = o->search ? o->search : DEFAULT_SEARCH;
	const char *tmp = getenv("TMPDIR");
	struct stat st;
	int status, r;

	if (!release_is_name(krel))
		return kiln_error(ctx, EINVAL, "\"%s\" is not a kernel release", krel);
	if (strchr(search, '\n'))
		return kiln_error(ctx, EINVAL, "depmod search line holds a newline");
	abs = realpath(modules_dir, NULL);
	if (!abs)
		return kiln_error(ctx, errno, "cannot resolve \"%s\": %m", modules_dir);
	rel = path_join(abs, krel);
	if (!rel)
		return -ENOMEM;
	if (stat(rel, &st) < 0)
		return kiln_error(ctx, errno, "cannot find the modules of %s: \"%s\": %m", krel,
				  rel);
	if (!S_ISDIR(st.st_mode))
		return kiln_error(ctx, ENOTDIR, "\"%s\" is not a directory", rel);
	/* absolute, for the paths given to depmod: kmod 30's crashes on a relative --config */
	tmpdir = realpath(tmp && tmp[0] ? tmp : "/tmp", NULL);
	if (!tmpdir)
		return kiln_error(ctx, errno, "cannot resolve the temporary directory \"%s\": %m",
				  tmp && tmp[0] ? tmp : "/tmp");
	r = make_temp_dir(tmpdir, "kiln-depmod.", &base);
	if (r < 0)
		return kiln_error(ctx, -r, "cannot make a directory in \"%s\": %s", tmpdir,
				  strerror(-r));
	conf = path_join(base, "depmod.conf");
	r = conf ? make_base(ctx, base, abs, search) : -ENOMEM;
	if (r >= 0) {
		char *argv[] = {
			(char *)(o->depmod ? o->depmod : "depmod"),
			(char *)"--all",
			(char *)"--basedir",
			base,
			(char *)"--config",
			conf,
			(char *)krel,
			NULL,
		};

		r = run_program(ctx, argv, &status, &err);
	}
	/* the symlink is removed, never followed */
	(void)remove_tree_at(AT_FDCWD, base);
	if (r < 0)
		return r;
	if (status != 0) {
		const char *line;
		int len;

		last_line(err, &line, &len);
		return kiln_error(ctx, EIO, "depmod for \"%s\" failed (exit status %d)%s%.*s", rel,
				  status, len ? ": " : "", len, line);
	}
	forward_warnings(ctx, err);
	return 0;
}
