/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A stage's cache key: sha256 over a canonical text of everything the
 * stage reads. That is what it reads of its rendered definition (written
 * here field by field, not as any command prints a package), the files it
 * sees at /pkg, the output digest of every image it merges, the digests of
 * the secrets its steps mount (never their bytes), the builtin variables,
 * the platform and SOURCE_DATE_EPOCH. Two runs with equal keys would do
 * the same work, so a key found in the store is a stage that need not run.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "build-internal.h"
#include "fileio.h"
#include "log.h"
#include "strv.h"

/*
 * Bumped when the key's text changes, or what a stage does with the same
 * inputs. v3: the text is the key's own (v2 held `kiln dump --json`'s).
 */
#define STAGE_KEY_VERSION "kiln-stage-v3"

static void pkg_file_release(struct pkg_file *f)
{
	free(f->path);
}

static int add_file(struct stage *st, size_t *alloc, const char *path, char type, unsigned mode,
		    const struct kiln_digest *digest, const struct kiln_tmpl *tmpl)
{
	struct pkg_file *f;

	/* a rendered template takes the place of a file of its name */
	for (size_t i = 0; i < st->n_files; i++)
		if (streq(st->files[i].path, path)) {
			st->files[i].type = type;
			st->files[i].mode = mode;
			st->files[i].digest = *digest;
			st->files[i].tmpl = tmpl;
			return 0;
		}
	if (kiln_grow((void **)&st->files, alloc, st->n_files + 1, sizeof(*st->files)) < 0)
		return -ENOMEM;
	f = &st->files[st->n_files];
	*f = (struct pkg_file){ .type = type, .mode = mode, .digest = *digest, .tmpl = tmpl };
	f->path = strdup(path);
	if (!f->path)
		return -ENOMEM;
	st->n_files++;
	return 0;
}

/* bldr's context filter: dot files, pkg.yaml, vars.yaml and the top _out/ are not copied. */
static bool skipped(const char *name, bool top)
{
	size_t len = strlen(name);

	return name[0] == '.' || streq(name, "pkg.yaml") || streq(name, "vars.yaml") ||
	       (top && streq(name, "_out")) || (len > 5 && streq(name + len - 5, ".tmpl"));
}

static int walk(struct kiln_ctx *ctx, struct stage *st, size_t *alloc, int dirfd, const char *dir,
		const char *rel)
{
	_cleanup_(strv_freep) char **names = NULL;
	int r = dir_names(dirfd, &names);

	if (r < 0)
		return kiln_error(ctx, -r, "cannot read package directory \"%s/%s\": %s", dir, rel,
				  strerror(-r));
	r = 0;
	for (size_t i = 0; names[i] && r >= 0; i++) {
		if (skipped(names[i], !*rel))
			continue;
		_cleanup_free_ char *path = *rel ? path_join(rel, names[i]) : strdup(names[i]);
		struct kiln_digest digest;
		struct stat sb;

		if (!path) {
			r = -ENOMEM;
			break;
		}
		if (fstatat(dirfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			r = kiln_error(ctx, errno, "cannot stat \"%s/%s\": %m", dir, path);
			break;
		}
		if (S_ISDIR(sb.st_mode)) {
			_cleanup_close_ int sub = openat(
			    dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0) {
				r = kiln_error(ctx, errno, "cannot open \"%s/%s\": %m", dir, path);
				break;
			}
			r = kiln_digest_of(ctx, "", 0, &digest);
			if (r >= 0)
				r = add_file(st, alloc, path, KILN_TAR_DIR, sb.st_mode & 07777,
					     &digest, NULL);
			if (r >= 0)
				r = walk(ctx, st, alloc, sub, dir, path);
		} else if (S_ISREG(sb.st_mode)) {
			_cleanup_close_ int f =
			    openat(dirfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

			if (f < 0 || (r = kiln_digest_of_fd(ctx, f, &digest)) < 0) {
				r = kiln_error(ctx, f < 0 ? errno : -r, "cannot read \"%s/%s\": %s",
					       dir, path, strerror(f < 0 ? errno : -r));
				break;
			}
			r = add_file(st, alloc, path, KILN_TAR_REG, sb.st_mode & 07777, &digest,
				     NULL);
		} else if (S_ISLNK(sb.st_mode)) {
			char target[4096];
			ssize_t len = readlinkat(dirfd, names[i], target, sizeof(target));

			if (len < 0 || (size_t)len >= sizeof(target)) {
				r = kiln_error(ctx, len < 0 ? errno : ENAMETOOLONG,
					       "cannot read symlink \"%s/%s\"", dir, path);
				break;
			}
			r = kiln_digest_of(ctx, target, (size_t)len, &digest);
			if (r >= 0)
				r = add_file(st, alloc, path, KILN_TAR_SYMLINK, 0777, &digest,
					     NULL);
		} else {
			kiln_warn_at(
			    ctx, NULL, 0, 0,
			    "\"%s/%s\" is not a file, directory or symlink: not copied to /pkg",
			    dir, path);
		}
	}
	return r;
}

static int compare_files(const void *a, const void *b)
{
	return strcmp(((const struct pkg_file *)a)->path, ((const struct pkg_file *)b)->path);
}

int stage_list_files(struct kiln_ctx *ctx, struct build *b, struct stage *st)
{
	_cleanup_free_ char *dir = path_join(kiln_tree_root(b->tree), st->pkg->dir);
	_cleanup_close_ int fd = -1;
	const struct kiln_tmpl *tmpls;
	size_t alloc = 0, n_tmpls;
	int r;

	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kiln_error(ctx, errno, "cannot open package directory \"%s\": %m", dir);
	r = walk(ctx, st, &alloc, fd, dir, "");
	if (r < 0)
		return r;
	tmpls = kiln_tree_templates(b->tree, st->pkg, &n_tmpls);
	for (size_t i = 0; i < n_tmpls; i++) {
		struct kiln_digest digest;

		r = kiln_digest_of(ctx, tmpls[i].text, tmpls[i].len, &digest);
		if (r >= 0)
			r = add_file(st, &alloc, tmpls[i].path, KILN_TAR_REG, 0644, &digest,
				     &tmpls[i]);
		if (r < 0)
			return r;
	}
	if (st->n_files > 1)
		qsort(st->files, st->n_files, sizeof(*st->files), compare_files);
	return 0;
}

void stage_release_files(struct stage *st)
{
	for (size_t i = 0; i < st->n_files; i++)
		pkg_file_release(&st->files[i]);
	free(st->files);
	st->files = NULL;
	st->n_files = 0;
}

const char *const stage_builtin_env[] = {
	"BUILD",   "CFLAGS", "CXXFLAGS", "HOST", "LDFLAGS", "PATH",
	"SYSROOT", "TARGET", "VENDOR",	 "ARCH", NULL,
};

char *secret_entry_id(const char *entry, bool *ret_optional)
{
	size_t len = strlen(entry);
	bool optional = len > 0 && entry[len - 1] == '?';
	char *id = strndup(entry, optional ? len - 1 : len);

	if (id)
		*ret_optional = optional;
	return id;
}

bool secret_entry_is(const char *entry, const char *id)
{
	size_t len = strlen(id);

	return strncmp(entry, id, len) == 0 && (entry[len] == '\0' || streq(entry + len, "?"));
}

/* Whether some step of the stage mounts secret @id. */
static bool uses_secret(const struct kiln_pkg *pkg, const char *id)
{
	for (size_t i = 0; i < pkg->n_steps; i++)
		for (size_t j = 0; j < pkg->steps[i].secrets.n; j++)
			if (secret_entry_is(pkg->steps[i].secrets.v[j], id))
				return true;
	return false;
}

/*
 * The key's text: a line per item, "name value...". Strings are written as
 * <length>:<bytes> (NULL as "-"), so a value holding a newline or a space
 * cannot pose as another item, and lists start with their count, so no
 * item of one can pose as one of the next.
 */
struct key_text {
	struct strbuf sb;
	int r;
};

static void kt_str(struct key_text *t, const char *s)
{
	if (!s)
		t->r |= strbuf_adds(&t->sb, " -");
	else
		t->r |= strbuf_addf(&t->sb, " %zu:%s", strlen(s), s);
}

static void kt_line(struct key_text *t, const char *name, const char *const *values, size_t n)
{
	t->r |= strbuf_adds(&t->sb, name);
	for (size_t i = 0; i < n; i++)
		kt_str(t, values[i]);
	t->r |= strbuf_addch(&t->sb, '\n');
}

static void kt_strv(struct key_text *t, const char *name, const struct kiln_strv *v)
{
	t->r |= strbuf_addf(&t->sb, "%s %zu", name, v->n);
	for (size_t i = 0; i < v->n; i++)
		kt_str(t, v->v[i]);
	t->r |= strbuf_addch(&t->sb, '\n');
}

/*
 * What run_steps() reads of a step. A source's URL is left out: the bytes
 * are pinned by both hashes, so another mirror does the same work. So is
 * the step's sbom: metadata the stage never reads.
 */
static void kt_step(struct key_text *t, size_t index, const struct kiln_step *s)
{
	t->r |= strbuf_addf(&t->sb, "step %zu\n", index);
	for (size_t i = 0; i < s->n_sources; i++)
		kt_line(t, "source",
			(const char *const[]){ s->sources[i].destination, s->sources[i].sha256,
					       s->sources[i].sha512 },
			3);
	for (size_t i = 0; i < s->n_env; i++)
		kt_line(t, "env", (const char *const[]){ s->env[i].name, s->env[i].value }, 2);
	kt_strv(t, "cache-paths", &s->cache_paths);
	kt_strv(t, "secrets", &s->secrets);
	kt_line(t, "network", (const char *const[]){ kiln_network_name(s->network) }, 1);
	kt_strv(t, "prepare", &s->prepare);
	kt_strv(t, "build", &s->build);
	kt_strv(t, "install", &s->install);
	kt_strv(t, "test", &s->test);
}

int stage_key_text(const struct build *b, const struct stage *st, struct strbuf *ret)
{
	struct key_text t = { .sb = STRBUF_INIT };
	const struct kiln_pkg *pkg = st->pkg;

	t.r |= strbuf_addf(&t.sb, "%s\n", STAGE_KEY_VERSION);
	kt_line(&t, "platform", (const char *const[]){ kiln_tree_platform(b->tree) }, 1);
	t.r |= strbuf_addf(&t.sb, "epoch %lld\n", (long long)b->o->source_date_epoch);
	for (size_t i = 0; stage_builtin_env[i]; i++)
		kt_line(&t, "builtin",
			(const char *const[]){ stage_builtin_env[i],
					       kiln_tree_var(b->tree, pkg, stage_builtin_env[i]) },
			2);

	/*
	 * The definition: its name (PKG_NAME, the output's history), variant
	 * and apk packages, shell, steps and finalize. Not its directory or
	 * file (only named in messages), nor its dependencies as written: the
	 * inputs below are what they resolved to.
	 */
	kt_line(&t, "name", (const char *const[]){ pkg->name }, 1);
	kt_line(&t, "variant", (const char *const[]){ pkg->variant }, 1);
	kt_line(&t, "shell", (const char *const[]){ pkg->shell }, 1);
	kt_line(&t, "build-platform", (const char *const[]){ pkg->build_platform }, 1);
	kt_strv(&t, "apk", &pkg->install);
	for (size_t i = 0; i < pkg->n_steps; i++)
		kt_step(&t, i, &pkg->steps[i]);
	for (size_t i = 0; i < pkg->n_finalize; i++)
		kt_line(&t, "finalize",
			(const char *const[]){ pkg->finalize[i].from, pkg->finalize[i].to }, 2);

	for (size_t i = 0; i < st->n_files; i++) {
		const struct pkg_file *f = &st->files[i];

		t.r |= strbuf_addf(&t.sb, "file %c %04o %s", f->type, f->mode, f->digest.s);
		kt_str(&t, f->path);
		t.r |= strbuf_addch(&t.sb, '\n');
	}
	for (size_t i = 0; i < st->n_inputs; i++) {
		const struct stage_input *in = &st->inputs[i];

		t.r |= strbuf_addf(&t.sb, "input %s", in->digest.s);
		kt_str(&t, in->from);
		kt_str(&t, in->to);
		/* named in the module verdicts the cache keeps */
		kt_str(&t, in->stage ? in->stage->pkg->name : in->image);
		t.r |= strbuf_addch(&t.sb, '\n');
	}
	for (size_t i = 0; i < b->o->n_secrets; i++)
		if (uses_secret(pkg, b->o->secrets[i].id)) {
			t.r |= strbuf_adds(&t.sb, "secret");
			kt_str(&t, b->o->secrets[i].id);
			t.r |= strbuf_addf(&t.sb, " %s\n", b->secret_digests[i].s);
		}
	if (t.r < 0) {
		strbuf_release(&t.sb);
		return -ENOMEM;
	}
	*ret = t.sb;
	return 0;
}

int stage_compute_key(struct kiln_ctx *ctx, struct build *b, struct stage *st)
{
	_cleanup_(strbuf_release) struct strbuf text = STRBUF_INIT;
	struct kiln_digest d;
	int r;

	if (stage_key_text(b, st, &text) < 0)
		return -ENOMEM;
	r = kiln_digest_of(ctx, text.buf, text.len, &d);
	if (r < 0)
		return r;
	memcpy(st->key, kiln_digest_hex(&d), 64);
	st->key[64] = '\0';
	return 0;
}
