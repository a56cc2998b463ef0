/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Registry caches (--cache-from, --cache-to): the stage cache shared
 * through any distribution-spec registry, so that runners reuse what
 * another built.
 *
 * A stage's entry is tag "kiln-<key>" of the cache repository (69
 * characters: a valid tag everywhere), naming an OCI image index:
 *   - the stage's output manifest, exactly the bytes of the local store (its
 *     digest is what the dependents' keys hold), with the build's platform
 *     and annotation dev.kiln.cache.role=output;
 *   - when the stage recorded module verdicts, an artifact manifest
 *     (artifactType and its one layer's type KILN_MT_MODULES_RECORD, the
 *     empty config) holding that record, dev.kiln.cache.role=modules;
 *   - annotations naming the layout (dev.kiln.cache.version), the stage and
 *     the key, checked on the way back.
 * Plain tags and an index, no referrers API: Debian's docker-registry 2.8,
 * Harbor, zot, GHCR and ECR all take it, and a docker or skopeo pull of the
 * tag gets the output image (the only entry with a platform).
 *
 * A pull goes through kiln_registry_pull(): every blob is digest-verified
 * before it enters the store, and the local cache entry (ref, then record)
 * is written only once all of it is in. Whatever is wrong with an entry or
 * a registry is a warning and a miss: the stage is built.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/ext.h>
#include <kiln/registry.h>

#include "build-internal.h"
#include "fileio.h"
#include "log.h"

#define CACHE_LAYOUT "kiln-stage-cache-v1"
#define ANN_VERSION "dev.kiln.cache.version"
#define ANN_STAGE "dev.kiln.cache.stage"
#define ANN_KEY "dev.kiln.cache.key"
#define ANN_ROLE "dev.kiln.cache.role"
#define KILN_MT_MODULES_RECORD "application/vnd.kiln.build-modules.v1+json"
#define EMPTY_JSON "{}"

/* ---- the repositories --------------------------------------------------------------- */

static int parse_repos(struct build *b, const char *const *names, size_t n, struct cache_repo **ret)
{
	struct cache_repo *v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	*ret = v;
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(names[i], '/');
		int r;

		v[i].name = names[i];
		if (strchr(names[i], '@') || strchr(slash ? slash : names[i], ':'))
			return kiln_error(b->ctx, EINVAL,
					  "registry cache \"%s\": give a repository "
					  "(host/path), without tag or digest: kiln tags each "
					  "stage's entry itself",
					  names[i]);
		r = kiln_ref_parse(b->ctx, names[i], &v[i].ref);
		if (r < 0) {
			kiln_error_prefix(b->ctx, "registry cache \"%s\"", names[i]);
			return r;
		}
	}
	return 0;
}

int cache_remote_setup(struct build *b)
{
	int r = parse_repos(b, b->o->cache_from, b->o->n_cache_from, &b->cache_from);

	if (r >= 0)
		r = parse_repos(b, b->o->cache_to, b->o->n_cache_to, &b->cache_to);
	return r;
}

static void repos_free(struct cache_repo *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		kiln_ref_release(&v[i].ref);
	free(v);
}

void cache_remote_release(struct build *b)
{
	repos_free(b->cache_from, b->o->n_cache_from);
	repos_free(b->cache_to, b->o->n_cache_to);
}

/* The registry options of the build, without its transfer callback. */
static struct kiln_registry_options registry_options(const struct build *b)
{
	struct kiln_registry_options ro =
	    b->o->registry ? *b->o->registry : (struct kiln_registry_options){ 0 };

	ro.on_event = NULL;
	ro.userdata = NULL;
	return ro;
}

/* The stage's entry in @repo: @tag gets "kiln-<key>". */
static struct kiln_ref entry_ref(const struct cache_repo *repo, const struct stage *st,
				 char tag[static sizeof(KILN_CACHE_TAG_PREFIX) + 64])
{
	snprintf(tag, sizeof(KILN_CACHE_TAG_PREFIX) + 64, KILN_CACHE_TAG_PREFIX "%s", st->key);
	return (struct kiln_ref){ .domain = repo->ref.domain, .path = repo->ref.path, .tag = tag };
}

/* Take the repositories of @v that are @repo's (by name) out of the build; true if any was in. */
static bool mark_down(struct cache_repo *v, size_t n, const struct cache_repo *repo)
{
	bool was_up = false;

	for (size_t i = 0; i < n; i++)
		if (streq(v[i].ref.domain, repo->ref.domain) &&
		    streq(v[i].ref.path, repo->ref.path))
			was_up |= !atomic_exchange(&v[i].down, true);
	return was_up;
}

/*
 * @repo cannot be used: it is not asked again in this build, as a
 * --cache-from or a --cache-to, and one warning says so.
 */
static void repo_down(struct kiln_ctx *ctx, struct build *b, const struct cache_repo *repo, int r)
{
	bool was_up = mark_down(b->cache_from, b->o->n_cache_from, repo);

	was_up |= mark_down(b->cache_to, b->o->n_cache_to, repo);
	if (was_up)
		kiln_log(ctx, KILN_LOG_WARNING,
			 "registry cache %s cannot be used: %s; going on without it", repo->name,
			 kiln_ctx_error(ctx) ?: strerror(-r));
	kiln_ctx_clear_error(ctx);
}

/*
 * Whether @repo has the stage's entry: 1 yes, 0 no, -ENOMEM; any other
 * failure takes @repo out of the build (repo_down()) and is a no.
 */
static int entry_exists(struct kiln_ctx *ctx, struct build *b, struct cache_repo *repo,
			const struct stage *st)
{
	char tag[sizeof(KILN_CACHE_TAG_PREFIX) + 64];
	struct kiln_ref ref = entry_ref(repo, st, tag);
	struct kiln_registry_options ro = registry_options(b);
	struct kiln_digest d;
	int r;

	if (atomic_load(&repo->down))
		return 0;
	r = kiln_registry_resolve(ctx, &ref, &ro, &d);
	if (r >= 0)
		return 1;
	if (r == -ENOMEM)
		return r;
	if (r == -ENOENT)
		kiln_ctx_clear_error(ctx);
	else
		repo_down(ctx, b, repo, r);
	return 0;
}

/* ---- fetching ---------------------------------------------------------------------- */

static const struct kiln_descriptor *find_role(const struct kiln_index *idx, const char *role)
{
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct kiln_descriptor *d = &idx->manifests[i];

		if (streq(kiln_annotation_get(d->annotations, d->n_annotations, ANN_ROLE), role))
			return d;
	}
	return NULL;
}

/* @json (@len bytes) is an index that is the stage's entry: its layout, stage and key. */
static int parse_entry(struct kiln_ctx *ctx, const struct stage *st, const char *json, size_t len,
		       struct kiln_index **ret)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	int r = kiln_index_parse(ctx, json, len, &idx);

	if (r < 0)
		return r;
	if (!streq(kiln_annotation_get(idx->annotations, idx->n_annotations, ANN_VERSION),
		   CACHE_LAYOUT))
		return kiln_error(ctx, EBADMSG, "its %s is not %s", ANN_VERSION, CACHE_LAYOUT);
	if (!streq(kiln_annotation_get(idx->annotations, idx->n_annotations, ANN_KEY), st->key) ||
	    !streq(kiln_annotation_get(idx->annotations, idx->n_annotations, ANN_STAGE),
		   st->pkg->name))
		return kiln_error(ctx, EBADMSG, "its annotations name another stage or key");
	*ret = TAKE_PTR(idx);
	return 0;
}

/* The index @d of the store is the stage's entry, its output the manifest @output. */
static int check_index(struct kiln_ctx *ctx, struct build *b, const struct stage *st,
		       const struct kiln_descriptor *d, const struct kiln_digest *output,
		       struct kiln_index **ret)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_free_ char *json = NULL;
	const struct kiln_descriptor *out;
	size_t len;
	int r;

	if (!kiln_media_type_is_index(d->media_type))
		return kiln_error(ctx, EBADMSG, "it is a %s, not an index", d->media_type);
	r = kiln_store_read_blob(ctx, b->store, &d->digest, KILN_MANIFEST_MAX, &json, &len);
	if (r >= 0)
		r = parse_entry(ctx, st, json, len, &idx);
	if (r < 0)
		return r;
	out = find_role(idx, "output");
	if (!out || !streq(out->digest.s, output->s))
		return kiln_error(ctx, EBADMSG, "its output entry is not the manifest pulled");
	*ret = TAKE_PTR(idx);
	return 0;
}

/*
 * The record of module verdicts @d (an artifact manifest) from @repo:
 * pulled, its layer verified and parsed into st->modules; its text in
 * *@ret_text for the local cache.
 */
static int fetch_record(struct kiln_ctx *ctx, struct build *b, struct stage *st,
			const struct cache_repo *repo, const struct kiln_descriptor *d,
			char **ret_text, size_t *ret_len, uint64_t *bytes)
{
	_cleanup_(kiln_pull_result_release) struct kiln_pull_result res = { 0 };
	_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
	_cleanup_free_ char *json = NULL, *text = NULL;
	struct kiln_ref ref = { .domain = repo->ref.domain,
				.path = repo->ref.path,
				.digest = (char *)d->digest.s };
	struct kiln_registry_options ro = registry_options(b);
	size_t len;
	int r;

	r = kiln_registry_pull(ctx, b->store, &ref, NULL, &ro, &res);
	if (r < 0)
		return r;
	(void)kiln_store_remove_ref(ctx, b->store, res.name);
	*bytes += res.bytes_downloaded;
	r = kiln_store_read_blob(ctx, b->store, &d->digest, KILN_MANIFEST_MAX, &json, &len);
	if (r >= 0)
		r = kiln_manifest_parse(ctx, json, len, &m);
	if (r < 0)
		return r;
	if (!streq(m->artifact_type, KILN_MT_MODULES_RECORD) || m->n_layers != 1 ||
	    !streq(m->layers[0].media_type, KILN_MT_MODULES_RECORD))
		return kiln_error(ctx, EBADMSG, "its modules entry is no record of verdicts");
	r = kiln_store_read_blob(ctx, b->store, &m->layers[0].digest, MODULES_RECORD_MAX, &text,
				 &len);
	if (r >= 0)
		r = build_modules_parse(ctx, "its record of module verdicts", text, len,
					&st->modules, &st->n_modules, &st->extension);
	if (r < 0)
		return r;
	*ret_text = TAKE_PTR(text);
	*ret_len = len;
	return 0;
}

/* <cache>/modules, where what the stage cache keeps beside its entries goes. */
static int make_modules_dir(struct kiln_ctx *ctx, const struct build *b)
{
	_cleanup_free_ char *dir = path_join(b->cache_dir, "modules");

	if (!dir)
		return -ENOMEM;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return kiln_error(ctx, errno, "cannot make \"%s\": %m", dir);
	return 0;
}

/* Keep the record @text in the local stage cache, as stage_record_modules() does. */
static int keep_record(struct kiln_ctx *ctx, struct build *b, const struct stage *st,
		       const char *text, size_t len)
{
	_cleanup_free_ char *path = stage_modules_record(b->cache_dir, st->key);
	int r;

	if (!path)
		return -ENOMEM;
	r = make_modules_dir(ctx, b);
	if (r < 0)
		return r;
	r = write_file_atomic(path, text, len, 0644);
	if (r < 0)
		return kiln_error(ctx, -r, "cannot write \"%s\": %s", path, strerror(-r));
	return 0;
}

/*
 * The entry pulled (@res: the index, its output manifest and blobs in the
 * store), checked; its record fetched; then the local cache entry.
 */
static int take_entry(struct kiln_ctx *ctx, struct build *b, struct stage *st,
		      const struct cache_repo *repo, const struct kiln_pull_result *res,
		      uint64_t *bytes)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_free_ char *ref = NULL, *text = NULL;
	const struct kiln_descriptor *rec;
	size_t len = 0;
	int r;

	r = check_index(ctx, b, st, &res->desc, &res->manifest.digest, &idx);
	if (r < 0)
		return r;
	rec = find_role(idx, "modules");
	if (rec) {
		r = fetch_record(ctx, b, st, repo, rec, &text, &len, bytes);
		if (r >= 0)
			r = keep_record(ctx, b, st, text, len);
		if (r < 0)
			return r;
	}
	if (asprintf(&ref, KILN_STAGE_REF_PREFIX "%s:%s", st->pkg->name, st->key) < 0) {
		ref = NULL;
		return -ENOMEM;
	}
	r = kiln_store_set_ref(ctx, b->store, ref, &res->manifest);
	if (r < 0)
		return r;
	st->digest = res->manifest.digest;
	st->size = res->manifest.size;
	return 0;
}

/* 1: pulled from @repo; 0: not there, or unusable (with a warning); -ENOMEM. */
static int fetch_from(struct kiln_ctx *ctx, struct build *b, struct stage *st,
		      struct cache_repo *repo, uint64_t *bytes)
{
	_cleanup_(kiln_pull_result_release) struct kiln_pull_result res = { 0 };
	char tag[sizeof(KILN_CACHE_TAG_PREFIX) + 64];
	struct kiln_ref ref = entry_ref(repo, st, tag);
	struct kiln_registry_options ro = registry_options(b);
	int r;

	r = entry_exists(ctx, b, repo, st);
	if (r <= 0)
		return r;
	*bytes = 0;
	r = kiln_registry_pull(ctx, b->store, &ref, &b->platform, &ro, &res);
	if (r >= 0) {
		/* the entry's tag is no name of the store's: the stage's ref is */
		(void)kiln_store_remove_ref(ctx, b->store, res.name);
		*bytes = res.bytes_downloaded;
		r = take_entry(ctx, b, st, repo, &res, bytes);
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		_cleanup_free_ char *record = stage_modules_record(b->cache_dir, st->key);

		/* a record kept before the entry failed belongs to no local entry */
		if (record)
			(void)unlink(record);
		st->unusable_in = repo;
		kiln_build_modules_free(st->modules, st->n_modules);
		st->modules = NULL;
		st->n_modules = 0;
		kiln_log(ctx, KILN_LOG_WARNING,
			 "stage %s: the registry cache's entry %s/%s:%s is unusable, so the stage "
			 "is built: %s",
			 st->pkg->name, repo->ref.domain, repo->ref.path, tag,
			 kiln_ctx_error(ctx) ?: strerror(-r));
		kiln_ctx_clear_error(ctx);
		return 0;
	}
	return 1;
}

int cache_remote_fetch(struct kiln_ctx *ctx, struct build *b, struct stage *st, uint64_t *ret_bytes)
{
	if (stage_passes_through(st))
		return 0;
	for (size_t i = 0; i < b->o->n_cache_from; i++) {
		int r = fetch_from(ctx, b, st, &b->cache_from[i], ret_bytes);

		if (r < 0)
			return r;
		if (r > 0) {
			st->pulled_from = &b->cache_from[i];
			return 1;
		}
	}
	return 0;
}

/* 1 and the output's digest in *@ret when @repo holds the stage's entry; 0 when not, or unusable. */
static int lookup_in(struct kiln_ctx *ctx, struct build *b, const struct stage *st,
		     struct cache_repo *repo, struct kiln_digest *ret)
{
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	_cleanup_free_ char *json = NULL;
	char tag[sizeof(KILN_CACHE_TAG_PREFIX) + 64];
	struct kiln_ref ref = entry_ref(repo, st, tag);
	struct kiln_registry_options ro = registry_options(b);
	const struct kiln_descriptor *out = NULL;
	struct kiln_digest d;
	size_t len;
	int r;

	if (atomic_load(&repo->down))
		return 0;
	r = kiln_registry_get_manifest(ctx, &ref, &ro, &json, &len, &d);
	if (r == -ENOENT) {
		kiln_ctx_clear_error(ctx);
		return 0;
	}
	if (r < 0 && r != -ENOMEM) {
		repo_down(ctx, b, repo, r);
		return 0;
	}
	if (r >= 0)
		r = parse_entry(ctx, st, json, len, &idx);
	if (r >= 0) {
		out = find_role(idx, "output");
		if (!out)
			r = kiln_error(ctx, EBADMSG, "it has no output entry");
	}
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		kiln_log(ctx, KILN_LOG_WARNING,
			 "stage %s: the registry cache's entry %s/%s:%s is unusable: %s",
			 st->pkg->name, repo->ref.domain, repo->ref.path, tag,
			 kiln_ctx_error(ctx) ?: strerror(-r));
		kiln_ctx_clear_error(ctx);
		return 0;
	}
	*ret = out->digest;
	return 1;
}

int cache_remote_lookup(struct kiln_ctx *ctx, struct build *b, const struct stage *st,
			struct kiln_digest *ret)
{
	for (size_t i = 0; i < b->o->n_cache_from; i++) {
		int r = lookup_in(ctx, b, st, &b->cache_from[i], ret);

		if (r != 0)
			return r;
	}
	return 0;
}

char *cache_remote_refusal(const char *cache_dir, const char *key)
{
	char *path;

	/* remembered for one version of the scan: another may find otherwise */
	if (asprintf(&path, "%s/modules/%s.private-key-%d", cache_dir, key,
		     KILN_EXT_KEY_SCAN_VERSION) < 0)
		return NULL;
	return path;
}

/* ---- pushing ------------------------------------------------------------------------ */

/* Put @len bytes of @data in the store; *@ret gets its descriptor, of media type @mt. */
static int put_blob(struct kiln_ctx *ctx, struct build *b, const char *mt, const void *data,
		    size_t len, struct kiln_descriptor *ret)
{
	int r = kiln_store_put_blob(ctx, b->store, data, len, &ret->digest);

	ret->media_type = (char *)mt;
	ret->size = len;
	return r;
}

/*
 * The artifact manifest holding the stage's record of module verdicts, in
 * the store: *@ret gets its index entry. 0 when the stage has no record.
 */
static int make_record(struct kiln_ctx *ctx, struct build *b, const struct stage *st,
		       struct kiln_descriptor *ret)
{
	_cleanup_free_ char *path = stage_modules_record(b->cache_dir, st->key);
	_cleanup_free_ char *text = NULL, *json = NULL;
	struct kiln_descriptor layer = { 0 };
	struct kiln_manifest m = { .media_type = (char *)KILN_MT_OCI_MANIFEST,
				   .artifact_type = (char *)KILN_MT_MODULES_RECORD,
				   .layers = &layer,
				   .n_layers = 1 };
	size_t len;
	int r;

	r = stage_read_modules_record(path, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return kiln_error(ctx, -r, "cannot read \"%s\": %s", path, strerror(-r));
	r = put_blob(ctx, b, KILN_MT_MODULES_RECORD, text, len, &layer);
	if (r >= 0)
		r = put_blob(ctx, b, KILN_MT_OCI_EMPTY, EMPTY_JSON, strlen(EMPTY_JSON), &m.config);
	if (r >= 0)
		r = kiln_manifest_to_json(&m, &json, &len);
	if (r >= 0)
		r = put_blob(ctx, b, KILN_MT_OCI_MANIFEST, json, len, ret);
	if (r < 0)
		return r;
	ret->artifact_type = (char *)KILN_MT_MODULES_RECORD;
	return 1;
}

/* The stage's entry (see the top of this file), in the store: *@ret gets the index. */
static int make_entry(struct kiln_ctx *ctx, struct build *b, const struct stage *st,
		      const struct kiln_descriptor *output, struct kiln_descriptor *ret)
{
	struct kiln_annotation role_out = { (char *)ANN_ROLE, (char *)"output" };
	struct kiln_annotation role_rec = { (char *)ANN_ROLE, (char *)"modules" };
	struct kiln_annotation top[] = {
		{ (char *)ANN_KEY, (char *)st->key },
		{ (char *)ANN_STAGE, (char *)st->pkg->name },
		{ (char *)ANN_VERSION, (char *)CACHE_LAYOUT },
	};
	struct kiln_descriptor entries[2] = { 0 };
	struct kiln_index idx = { .media_type = (char *)KILN_MT_OCI_INDEX,
				  .manifests = entries,
				  .n_manifests = 1,
				  .annotations = top,
				  .n_annotations = ELEMENTSOF(top) };
	_cleanup_free_ char *json = NULL;
	size_t len;
	int r;

	entries[0] = (struct kiln_descriptor){ .media_type = output->media_type,
					       .digest = output->digest,
					       .size = output->size,
					       .platform = &b->platform,
					       .annotations = &role_out,
					       .n_annotations = 1 };
	r = make_record(ctx, b, st, &entries[1]);
	if (r < 0)
		return r;
	if (r > 0) {
		entries[1].annotations = &role_rec;
		entries[1].n_annotations = 1;
		idx.n_manifests = 2;
	}
	r = kiln_index_to_json(&idx, &json, &len);
	if (r < 0)
		return r;
	return put_blob(ctx, b, KILN_MT_OCI_INDEX, json, len, ret);
}

/*
 * Whether the output may leave the machine: 1 when it holds no private
 * key; 0 when it does or cannot be read, with one warning naming the
 * stage and the first file. The push refusal of kiln push, as a warning:
 * the build itself is as good.
 */
static int may_share(struct kiln_ctx *ctx, struct build *b, const struct stage *st,
		     const struct kiln_descriptor *output)
{
	_cleanup_(kiln_ext_key_report_release) struct kiln_ext_key_report rep = { 0 };
	_cleanup_free_ char *path = NULL, *found = NULL;
	size_t len;
	int r;

	/* a refusal is remembered beside the entry: the output of a key never changes */
	path = cache_remote_refusal(b->cache_dir, st->key);
	if (!path)
		return -ENOMEM;
	if (read_file_at(AT_FDCWD, path, 4096, &found, &len) < 0) {
		r = kiln_ext_find_image_private_keys(ctx, b->store, output, &rep);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			kiln_log(ctx, KILN_LOG_WARNING,
				 "stage %s: not pushed to the registry cache: its output could "
				 "not be read for private keys: %s",
				 st->pkg->name, kiln_ctx_error(ctx) ?: strerror(-r));
			kiln_ctx_clear_error(ctx);
			return 0;
		}
		if (rep.n_findings == 0)
			return 1;
		if (asprintf(&found, "%s: %s%s", rep.findings[0].path, rep.findings[0].what,
			     rep.n_findings > 1 ? ", and more" : "") < 0) {
			found = NULL;
			return -ENOMEM;
		}
		if (make_modules_dir(ctx, b) >= 0)
			(void)write_file_atomic(path, found, strlen(found), 0644);
		kiln_ctx_clear_error(ctx);
	}
	kiln_log(ctx, KILN_LOG_WARNING,
		 "stage %s: not pushed to the registry cache: its output holds a private key "
		 "(%s); give the key as a --secret so that no output holds it",
		 st->pkg->name, found);
	return 0;
}

/* Push the entry @index to @repo; a failure is a warning. */
static void push_to(struct kiln_ctx *ctx, struct build *b, struct stage *st,
		    struct cache_repo *repo, const struct kiln_descriptor *index)
{
	_cleanup_(kiln_push_result_release) struct kiln_push_result res = { 0 };
	char tag[sizeof(KILN_CACHE_TAG_PREFIX) + 64];
	struct kiln_ref ref = entry_ref(repo, st, tag);
	struct kiln_registry_options ro = registry_options(b);
	int r;

	r = kiln_registry_push(ctx, b->store, index, &ref, &ro, &res);
	if (r >= 0) {
		/* the push names the entry in the store: the stage's ref is its name there */
		(void)kiln_store_remove_ref(ctx, b->store, res.name);
		kiln_ctx_clear_error(ctx);
		st->pushed = true;
		kiln_log(ctx, KILN_LOG_INFO, "stage %s: pushed to the registry cache as %s",
			 st->pkg->name, res.reference);
		return;
	}
	kiln_log(ctx, KILN_LOG_WARNING, "stage %s: cannot push it to the registry cache %s: %s",
		 st->pkg->name, repo->name, kiln_ctx_error(ctx) ?: strerror(-r));
	kiln_ctx_clear_error(ctx);
}

static bool same_repo(const struct cache_repo *a, const struct cache_repo *b)
{
	return a && streq(a->ref.domain, b->ref.domain) && streq(a->ref.path, b->ref.path);
}

void cache_remote_store(struct kiln_ctx *ctx, struct build *b, struct stage *st)
{
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	struct kiln_descriptor index = { 0 }; /* its strings are static */
	int shared = -1, r = 0;

	if (stage_passes_through(st))
		return;
	for (size_t i = 0; i < b->o->n_cache_to && r >= 0; i++) {
		struct cache_repo *repo = &b->cache_to[i];

		/* a hit in the same repository (the usual --cache-from R --cache-to R) */
		if (same_repo(st->pulled_from, repo))
			continue;
		/* an entry found unusable there is replaced; else one that is there stays */
		r = same_repo(st->unusable_in, repo) ? 0 : entry_exists(ctx, b, repo, st);
		if (r != 0 || atomic_load(&repo->down))
			continue;
		if (shared < 0) {
			r = kiln_store_load_image(ctx, b->store, st->digest.s, NULL, &img);
			if (r >= 0)
				r = shared = may_share(ctx, b, st, &img->manifest_desc);
			if (r > 0)
				r = make_entry(ctx, b, st, &img->manifest_desc, &index);
		}
		if (shared > 0 && r >= 0)
			push_to(ctx, b, st, repo, &index);
	}
	if (r < 0 && r != -ENOMEM) {
		kiln_log(ctx, KILN_LOG_WARNING, "stage %s: not pushed to the registry cache: %s",
			 st->pkg->name, kiln_ctx_error(ctx) ?: strerror(-r));
		kiln_ctx_clear_error(ctx);
	}
}
