/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checking the store: every blob rehashed, then every entry of index.json
 * walked through its indexes and manifests to their configs and layers,
 * each blob present with the size its descriptor gives. A fault is passed
 * to the caller with the blob or ref it is about; with repair, what is
 * broken is removed: a blob whose content is not its name (no reader would
 * take it), and a ref whose image is incomplete (a build or pull then makes
 * it again instead of failing on it). Temporary files of writers that were
 * killed are leftovers, not faults: no reader sees them.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "log.h"
#include "store-internal.h"
#include "strmap.h"
#include "strv.h"

#define MAX_DEPTH 8

struct verify {
	struct kiln_ctx *ctx;
	struct kiln_store *s;
	const struct kiln_store_verify_options *o;
	struct kiln_store_verify_stats st;
	struct strmap hashed; /* hex -> its size in decimal, or "corrupt" (already reported) */
	struct strmap walked; /* hex of a manifest or index -> "ok" or "bad" */
	struct strmap broken; /* hex of an index.json entry whose image is incomplete -> "" */
	int err; /* -ENOMEM while reporting */
};

static void report(struct verify *v, enum kiln_store_fault kind, const char *subject,
		   bool repaired, const char *fmt, ...) _printf_(5, 6);

static void report(struct verify *v, enum kiln_store_fault kind, const char *subject,
		   bool repaired, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		msg = NULL;
		v->err = -ENOMEM;
		return;
	}
	if (kind == KILN_STORE_FAULT_LEFTOVER)
		v->st.leftovers++;
	else
		v->st.problems++;
	if (repaired)
		v->st.repaired++;
	if (v->o->on_problem)
		v->o->on_problem(v->o->userdata,
				 &(struct kiln_store_problem){ .kind = kind,
								.subject = subject,
								.message = msg,
								.repaired = repaired });
}

/* Remove blob @name, unless it is no longer the file @fd has open (a good copy replaced it). */
static bool remove_blob(struct verify *v, const char *name, int fd)
{
	struct stat a, b;

	if (!v->o->repair)
		return false;
	if (fd >= 0 && (fstat(fd, &a) < 0 ||
			fstatat(v->s->blobs_fd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
			a.st_ino != b.st_ino || a.st_dev != b.st_dev))
		return false;
	return unlinkat(v->s->blobs_fd, name, 0) == 0;
}

/* ---- every blob, rehashed ---- */

static int verify_blob(struct verify *v, const char *name)
{
	_cleanup_close_ int fd = -1;
	struct kiln_digest got;
	char digest_s[sizeof(got.s)];
	struct stat st;
	int r;

	if (!store_is_hex64(name)) {
		bool removed = remove_blob(v, name, -1);

		report(v, KILN_STORE_FAULT_STRAY, name, removed,
		       "blobs/sha256/%s: not named by a sha256 digest, so no reader finds it", name);
		return 0;
	}
	fd = openat(v->s->blobs_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return 0; /* removed meanwhile (found corrupt by a reader) */
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		bool removed = remove_blob(v, name, -1);

		report(v, KILN_STORE_FAULT_STRAY, name, removed,
		       "blobs/sha256/%s: not a regular file that can be read (%s)", name,
		       fd < 0 ? strerror(errno) : "a directory, link or device");
		return 0;
	}
	r = kiln_digest_of_fd(v->ctx, fd, &got);
	if (r < 0) {
		kiln_error_prefix(v->ctx, "cannot read %s/blobs/sha256/%s", v->s->path, name);
		return r;
	}
	v->st.blobs++;
	v->st.bytes += (uint64_t)st.st_size;
	if (!streq(kiln_digest_hex(&got), name)) {
		bool removed = remove_blob(v, name, fd);

		memcpy(digest_s, got.s, sizeof(digest_s));
		snprintf(got.s, sizeof(got.s), "%s%s", KILN_DIGEST_PREFIX, name);
		report(v, KILN_STORE_FAULT_CORRUPT, got.s, removed, "%s: its %jd bytes hash to %s",
		       got.s, (intmax_t)st.st_size, digest_s);
		return strmap_set(&v->hashed, name, "corrupt");
	}
	snprintf(digest_s, sizeof(digest_s), "%jd", (intmax_t)st.st_size);
	return strmap_set(&v->hashed, name, digest_s);
}

static int verify_blobs(struct verify *v)
{
	_cleanup_(strv_freep) char **names = NULL;
	int n, r = 0;

	n = store_list_blobs(v->ctx, v->s, &names);
	if (n < 0)
		return n;
	for (int i = 0; i < n && r >= 0 && v->err >= 0; i++)
		r = verify_blob(v, names[i]);
	return r < 0 ? r : v->err;
}

/* ---- every ref, through its manifests ---- */

static int walk(struct verify *v, const char *parent, const struct kiln_descriptor *d, int depth);

/* Whether @d is present, good and of its size; a fault is reported as named by @parent. */
static bool present(struct verify *v, const char *parent, const struct kiln_descriptor *d)
{
	const char *hashed = strmap_get(&v->hashed, kiln_digest_hex(&d->digest));

	if (hashed && !streq(hashed, "corrupt")) {
		uint64_t size = strtoull(hashed, NULL, 10);

		if (size == d->size)
			return true;
		report(v, KILN_STORE_FAULT_SIZE, d->digest.s, false, "%s: %ju bytes, but %s says %ju",
		       d->digest.s, (uintmax_t)size, parent, (uintmax_t)d->size);
		return false;
	}
	/* a corrupt one was reported when it was hashed */
	if (!hashed)
		report(v, KILN_STORE_FAULT_MISSING, d->digest.s, false,
		       "%s: not in the store, named by %s", d->digest.s, parent);
	return false;
}

static int walk_manifest(struct verify *v, const char *what, const char *json, size_t len,
			 int depth)
{
	_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
	int r, ok;

	r = kiln_manifest_parse(v->ctx, json, len, &m);
	if (r < 0)
		return r;
	ok = walk(v, what, &m->config, depth + 1);
	for (size_t i = 0; i < m->n_layers && ok >= 0; i++) {
		/* a foreign layer is fetched from its urls, never stored */
		if (m->layers[i].n_urls &&
		    !strmap_get(&v->hashed, kiln_digest_hex(&m->layers[i].digest)))
			continue;
		r = walk(v, what, &m->layers[i], depth + 1);
		ok = r < 0 ? r : ok & r;
	}
	return ok;
}

static int walk_index(struct verify *v, const char *what, const struct kiln_descriptor *self,
		      const char *json, size_t len, int depth)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	size_t here = 0;
	int r, ok = 1;

	r = kiln_index_parse(v->ctx, json, len, &idx);
	if (r < 0)
		return r;
	/* a pull keeps only its platform's manifest: the absent others are no fault */
	for (size_t i = 0; i < idx->n_manifests && ok >= 0; i++) {
		const char *hex = kiln_digest_hex(&idx->manifests[i].digest);

		if (!strmap_get(&v->hashed, hex))
			continue;
		here++;
		r = walk(v, what, &idx->manifests[i], depth + 1);
		ok = r < 0 ? r : ok & r;
	}
	if (ok >= 0 && here == 0 && idx->n_manifests > 0) {
		report(v, KILN_STORE_FAULT_MISSING, self->digest.s, false,
		       "%s: none of the %zu manifests it lists is in the store", what,
		       idx->n_manifests);
		ok = 0;
	}
	return ok;
}

/* 1 when @d and all it names are complete, 0 when not (each fault reported), -errno. */
static int walk(struct verify *v, const char *parent, const struct kiln_descriptor *d, int depth)
{
	bool is_index = kiln_media_type_is_index(d->media_type);
	const char *hex = kiln_digest_hex(&d->digest), *seen;
	_cleanup_free_ char *json = NULL, *what = NULL;
	size_t len;
	int r;

	if (!present(v, parent, d))
		return 0;
	if (!is_index && !kiln_media_type_is_manifest(d->media_type))
		return 1;
	seen = strmap_get(&v->walked, hex);
	if (seen)
		return streq(seen, "ok");
	if (depth > MAX_DEPTH)
		return kiln_error(v->ctx, ELOOP, "%s: indexes nested more than %d deep", parent,
				  MAX_DEPTH);
	if (asprintf(&what, "%s %s", is_index ? "index" : "manifest", d->digest.s) < 0) {
		what = NULL;
		return -ENOMEM;
	}
	r = read_file_at(v->s->blobs_fd, hex, KILN_MANIFEST_MAX, &json, &len);
	if (r == -ENOMEM)
		return r;
	if (r >= 0)
		r = is_index ? walk_index(v, what, d, json, len, depth)
			     : walk_manifest(v, what, json, len, depth);
	if (r == -ENOMEM || r == -ELOOP)
		return r;
	if (r < 0) {
		report(v, KILN_STORE_FAULT_UNREADABLE, d->digest.s, false, "%s (named by %s): %s",
		       what, parent, kiln_ctx_error(v->ctx) ?: strerror(-r));
		kiln_ctx_clear_error(v->ctx);
		r = 0;
	}
	if (strmap_set(&v->walked, hex, r ? "ok" : "bad") < 0)
		return -ENOMEM;
	return r;
}

static const char *entry_name(const struct kiln_descriptor *d)
{
	return kiln_annotation_get(d->annotations, d->n_annotations, KILN_ANNOTATION_REF_NAME);
}

static int verify_refs(struct verify *v, const struct kiln_index *idx)
{
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct kiln_descriptor *d = &idx->manifests[i];
		_cleanup_free_ char *what = NULL;
		const char *name = entry_name(d);
		int r;

		v->st.refs++;
		if (asprintf(&what, "ref %s", name ? name : "(unnamed)") < 0) {
			what = NULL;
			return -ENOMEM;
		}
		r = walk(v, what, d, 0);
		if (r < 0)
			return r;
		if (r == 0 && strmap_set(&v->broken, kiln_digest_hex(&d->digest), "") < 0)
			return -ENOMEM;
	}
	return v->err;
}

/* Report each broken entry, and with repair remove it from index.json. */
static int drop_broken_refs(struct verify *v)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_close_ int lock = -1;
	size_t kept = 0, n;
	int r;

	if (v->broken.n_entries == 0)
		return 0;
	r = store_lock_read_index(v->ctx, v->s, &lock, &idx);
	if (r < 0)
		return r;
	n = idx->n_manifests;
	for (size_t i = 0; i < n; i++) {
		struct kiln_descriptor *d = &idx->manifests[i];
		const char *name = entry_name(d);

		if (!strmap_get(&v->broken, kiln_digest_hex(&d->digest))) {
			idx->manifests[kept++] = *d;
			continue;
		}
		report(v, KILN_STORE_FAULT_REF, name ? name : d->digest.s, v->o->repair,
		       "%s: %s %s is incomplete (see above); pull, import or build it again",
		       name ? name : "(unnamed)",
		       kiln_media_type_is_index(d->media_type) ? "its index" : "its manifest",
		       d->digest.s);
		if (!v->o->repair)
			idx->manifests[kept++] = *d;
		else
			kiln_descriptor_release(d);
	}
	idx->n_manifests = kept;
	if (!v->o->repair || kept == n)
		return v->err;
	r = store_write_index(v->ctx, v->s, idx);
	return r < 0 ? r : v->err;
}

static bool on_leftover(void *userdata, const char *path)
{
	struct verify *v = userdata;

	report(v, KILN_STORE_FAULT_LEFTOVER, path, v->o->repair,
	       "%s: a temporary file of an interrupted write (no reader sees it)", path);
	return v->o->repair;
}

static int verify_leftovers(struct verify *v)
{
	_cleanup_close_ int lock = -1;
	int r;

	lock = store_lock_index(v->ctx, v->s);
	if (lock < 0)
		return lock;
	r = store_sweep_leftovers(v->s, on_leftover, v);
	if (r < 0)
		return kiln_error(v->ctx, r, "cannot list the temporary files of %s: %s",
				  v->s->path, strerror(-r));
	return v->err;
}

int kiln_store_verify(struct kiln_ctx *ctx, struct kiln_store *s,
		      const struct kiln_store_verify_options *o, struct kiln_store_verify_stats *ret)
{
	static const struct kiln_store_verify_options defaults = { 0 };
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	struct verify v = { .ctx = ctx, .s = s, .o = o ? o : &defaults };
	int r;

	/* a writer may be between its blobs and its ref: repair must not race it */
	if (v.o->repair) {
		r = store_take_whole(ctx, s, "run verify --repair");
		if (r < 0)
			return r;
	}
	/* the index first: a blob written after it is read is one no entry read here names */
	r = store_read_index(ctx, s, &idx);
	if (r >= 0)
		r = verify_blobs(&v);
	if (r >= 0)
		r = verify_refs(&v, idx);
	if (r >= 0)
		r = drop_broken_refs(&v);
	if (r >= 0)
		r = verify_leftovers(&v);
	strmap_release(&v.hashed);
	strmap_release(&v.walked);
	strmap_release(&v.broken);
	if (v.o->repair)
		store_release_whole(s);
	if (r < 0)
		return r;
	if (ret)
		*ret = v.st;
	return 0;
}
