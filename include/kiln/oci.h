/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * OCI images: digests, references, the image model (descriptors, manifests,
 * indexes, configs) and the local store, an OCI image layout under kiln's
 * cache directory. Layers and archives are in kiln/layer.h, registries in
 * kiln/registry.h.
 *
 * JSON read from anywhere (the store included) is hostile input; blobs are
 * verified against their digest whenever they are read into memory.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>

#pragma GCC visibility push(default)

/* ---- media types ---- */

#define KILN_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define KILN_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define KILN_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define KILN_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define KILN_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define KILN_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define KILN_MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define KILN_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define KILN_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define KILN_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define KILN_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define KILN_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"

/* Annotations kiln writes on index.json entries (skopeo and containerd read them). */
#define KILN_ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
#define KILN_ANNOTATION_IMAGE_NAME "io.containerd.image.name"

/* ---- digests (lib/oci/digest.c) ---- */

/* "sha256:" and 64 lowercase hex digits; the only algorithm kiln writes or accepts. */
struct kiln_digest {
	char s[72];
};

#define KILN_DIGEST_PREFIX "sha256:"

/* True for a well-formed sha256 digest string. */
bool kiln_digest_is_valid(const char *s);

/*
 * Copy @s into @ret if well-formed; else -EINVAL with the reason on @ctx
 * (-EOPNOTSUPP for a well-formed digest of another algorithm, such as sha512).
 */
int kiln_digest_parse(struct kiln_ctx *ctx, const char *s, struct kiln_digest *ret);

/*
 * The sha256 digest of @len bytes at @data. Returns 0, or -EIO with
 * OpenSSL's reason on @ctx when OpenSSL fails.
 */
int kiln_digest_of(struct kiln_ctx *ctx, const void *data, size_t len, struct kiln_digest *ret);

/* The 64 hex digits (the blob's file name in a layout). */
static inline const char *kiln_digest_hex(const struct kiln_digest *d)
{
	return d->s + 7;
}

/*
 * The sha256 digest of all of @fd from offset 0 (its file offset is not
 * moved). Returns 0 or -errno with the reason on @ctx: for a failed read
 * only strerror(), for the caller to put its file name before with
 * kiln_error_prefix().
 */
int kiln_digest_of_fd(struct kiln_ctx *ctx, int fd, struct kiln_digest *ret);

/* What a kiln_hasher computes: sha256 names OCI content, sha512 also checks step sources. */
enum kiln_hash {
	KILN_HASH_SHA256,
	KILN_HASH_SHA512,
};

/* The hex digits of the longest hash (sha512), without the NUL. */
#define KILN_HASH_HEX_MAX 128

/*
 * An incremental hash over OpenSSL. Every function returns 0, or -errno
 * with the reason on @ctx (an OpenSSL failure is -EIO, naming it); a
 * hasher that failed is only good for kiln_hasher_reset() or freeing.
 */
struct kiln_hasher;
int kiln_hasher_new(struct kiln_ctx *ctx, enum kiln_hash hash, struct kiln_hasher **ret);
int kiln_hasher_update(struct kiln_ctx *ctx, struct kiln_hasher *h, const void *data, size_t len);
/*
 * Finish a sha256 hasher into @ret (-EINVAL for another hash); the hasher
 * may then be freed or reset with kiln_hasher_reset().
 */
int kiln_hasher_final(struct kiln_ctx *ctx, struct kiln_hasher *h, struct kiln_digest *ret);
/* Finish any hasher as lowercase hex digits in @ret, NUL-terminated. */
int kiln_hasher_final_hex(struct kiln_ctx *ctx, struct kiln_hasher *h,
			  char ret[static KILN_HASH_HEX_MAX + 1]);
/* Start again from nothing. */
int kiln_hasher_reset(struct kiln_ctx *ctx, struct kiln_hasher *h);
void kiln_hasher_free(struct kiln_hasher *h);

static inline void kiln_hasher_freep(struct kiln_hasher **h)
{
	kiln_hasher_free(*h);
}

/* ---- references (lib/oci/ref.c) ---- */

/*
 * [domain/]path[:tag][@digest] with docker's rules: the first component is a
 * domain if it has "." or ":", is "localhost", or has an uppercase letter;
 * otherwise the domain is docker.io and a single-component path gets
 * "library/". "index.docker.io" becomes "docker.io". Without tag or digest
 * the tag is "latest".
 */
struct kiln_ref {
	char *domain; /* "docker.io", "127.0.0.1:5005" */
	char *path; /* "library/alpine", "kiln/hailort-pkg" */
	char *tag; /* NULL when only a digest was given */
	char *digest; /* NULL unless "@sha256:..." was given */
};

/*
 * Parse @s; a malformed reference is -EINVAL naming what is wrong. A digest
 * and a tag may both be given ("name:tag@sha256:..."): both are kept, and
 * whoever resolves the reference uses the digest (as docker does).
 */
int kiln_ref_parse(struct kiln_ctx *ctx, const char *s, struct kiln_ref *ret);

/* "domain/path[:tag][@digest]", the full form kiln prints; NULL on -ENOMEM. */
char *kiln_ref_string(const struct kiln_ref *r);

/*
 * "domain/path:tag" (or "domain/path@digest" when no tag was given): the name
 * a store ref is kept under. NULL on -ENOMEM.
 */
char *kiln_ref_name(const struct kiln_ref *r);

/* "domain/path": the repository, without tag or digest. NULL on -ENOMEM. */
char *kiln_ref_repository(const struct kiln_ref *r);

void kiln_ref_release(struct kiln_ref *r);

/* ---- the image model (lib/oci/image.c) ---- */

struct kiln_platform {
	char *os; /* "linux" */
	char *architecture; /* "amd64", "arm64" */
	char *variant; /* "v8", or NULL */
	char *os_version; /* "os.version" (Windows builds), or NULL */
};

/*
 * "linux/amd64", "linux/arm64/v8"; the host's when @s is NULL. Common aliases
 * are normalized as containerd does (x86_64 -> amd64, aarch64 -> arm64).
 * Malformed is -EINVAL naming what is wrong.
 */
int kiln_platform_parse(struct kiln_ctx *ctx, const char *s, struct kiln_platform *ret);
void kiln_platform_release(struct kiln_platform *p);
int kiln_platform_copy(const struct kiln_platform *src, struct kiln_platform *dst);

/* "os/architecture[/variant]"; NULL on -ENOMEM. */
char *kiln_platform_string(const struct kiln_platform *p);

/*
 * Whether an image for @have runs as @want: os and architecture equal, and
 * the variants equal once defaults are filled in (arm64 is v8, arm is v7,
 * amd64 is v1). A @want without variant takes any variant.
 */
bool kiln_platform_matches(const struct kiln_platform *want, const struct kiln_platform *have);

struct kiln_annotation {
	char *key;
	char *value;
};

/*
 * A JSON member kiln does not model, kept for round trips: @json is its value
 * as compact JSON text (object keys inside it in their original order).
 */
struct kiln_json_field {
	char *key;
	char *json;
};

/*
 * Annotations (and labels) are serialized sorted by key whatever their order
 * in the array; parsing gives them sorted.
 */
struct kiln_descriptor {
	char *media_type;
	struct kiln_digest digest;
	uint64_t size;
	char *artifact_type; /* NULL when absent */
	struct kiln_platform *platform; /* index entries only; NULL when absent */
	struct kiln_annotation *annotations; /* sorted by key */
	size_t n_annotations;
	char **urls; /* "urls" (foreign layers), NULL when absent */
	size_t n_urls;
	char *data; /* "data": the content, base64, NULL when absent */
};

void kiln_descriptor_release(struct kiln_descriptor *d);
int kiln_descriptor_copy(const struct kiln_descriptor *src, struct kiln_descriptor *dst);

/* The value of annotation @key, or NULL. */
const char *kiln_annotation_get(const struct kiln_annotation *a, size_t n, const char *key);

/*
 * Set annotation @key to @value in the array *@a of *@n (replacing an old
 * value, keeping the array sorted); 0 or -ENOMEM.
 */
int kiln_annotation_set(struct kiln_annotation **a, size_t *n, const char *key, const char *value);

struct kiln_manifest {
	char *media_type; /* as in the JSON, or NULL when absent */
	char *artifact_type;
	struct kiln_descriptor config;
	struct kiln_descriptor *layers; /* base first */
	size_t n_layers;
	struct kiln_descriptor *subject; /* NULL when absent */
	struct kiln_annotation *annotations;
	size_t n_annotations;
};

struct kiln_index {
	char *media_type;
	char *artifact_type;
	struct kiln_descriptor *manifests;
	size_t n_manifests;
	struct kiln_descriptor *subject; /* NULL when absent */
	struct kiln_annotation *annotations;
	size_t n_annotations;
};

/* An entry of config.history. */
struct kiln_history {
	char *created; /* RFC 3339, or NULL */
	char *created_by;
	char *author;
	char *comment;
	bool empty_layer;
};

/*
 * The parts of an image config kiln reads and writes. Every other member is
 * kept in @extra (top level) and @config_extra (inside "config"), sorted by
 * key, and written back after the known ones: a config survives a round
 * trip without losing fields, though its bytes (and so its digest) may
 * change.
 */
struct kiln_image_config {
	char *architecture;
	char *os;
	char *variant;
	char *os_version; /* "os.version", or NULL */
	char *created; /* RFC 3339, or NULL */
	char *author;
	struct kiln_digest *diff_ids;
	size_t n_diff_ids;
	struct kiln_annotation *labels; /* config.Labels, sorted by key */
	size_t n_labels;
	char **env; /* config.Env */
	size_t n_env;
	char **cmd; /* config.Cmd */
	size_t n_cmd;
	char **entrypoint; /* config.Entrypoint */
	size_t n_entrypoint;
	char *user; /* config.User, or NULL */
	char *working_dir; /* config.WorkingDir, or NULL */
	struct kiln_history *history;
	size_t n_history;
	struct kiln_json_field *extra;
	size_t n_extra;
	struct kiln_json_field *config_extra;
	size_t n_config_extra;
};

/*
 * Parse a manifest, an index or a config. Malformed JSON, missing required
 * fields (schemaVersion 2, config, a digest or size of the wrong form) and
 * unknown media types where a known one is required are -EBADMSG with the
 * reason on @ctx.
 */
int kiln_manifest_parse(struct kiln_ctx *ctx, const char *json, size_t len,
			struct kiln_manifest **ret);
int kiln_index_parse(struct kiln_ctx *ctx, const char *json, size_t len, struct kiln_index **ret);
int kiln_image_config_parse(struct kiln_ctx *ctx, const char *json, size_t len,
			    struct kiln_image_config **ret);

/*
 * The entry of @idx for @want: the first whose platform matches, else the
 * only entry when it names no platform (an artifact list); NULL when none fits.
 */
const struct kiln_descriptor *kiln_index_find_platform(const struct kiln_index *idx,
						       const struct kiln_platform *want);

/* The platforms @idx names, "linux/amd64, linux/arm/v7" ("" for none), for messages; NULL on
 * -ENOMEM. */
char *kiln_index_platforms_string(const struct kiln_index *idx);

/* Serialize: compact JSON, fixed field order, so equal values give equal digests. */
int kiln_manifest_to_json(const struct kiln_manifest *m, char **ret, size_t *ret_len);
int kiln_index_to_json(const struct kiln_index *i, char **ret, size_t *ret_len);
int kiln_image_config_to_json(const struct kiln_image_config *c, char **ret, size_t *ret_len);

void kiln_manifest_free(struct kiln_manifest *m);
void kiln_index_free(struct kiln_index *i);
void kiln_image_config_free(struct kiln_image_config *c);

static inline void kiln_manifest_freep(struct kiln_manifest **m)
{
	kiln_manifest_free(*m);
}

static inline void kiln_index_freep(struct kiln_index **i)
{
	kiln_index_free(*i);
}

static inline void kiln_image_config_freep(struct kiln_image_config **c)
{
	kiln_image_config_free(*c);
}

/*
 * True for the media types of an index (OCI or Docker list) / of a manifest
 * (OCI or Docker v2). Parameters (";charset=...") are ignored.
 */
bool kiln_media_type_is_index(const char *mt);
bool kiln_media_type_is_manifest(const char *mt);

/*
 * Sizes kiln reads into memory at most: registries refuse manifests over
 * 4 MiB; configs with a long history can be larger.
 */
#define KILN_MANIFEST_MAX (4u << 20)
#define KILN_CONFIG_MAX (32u << 20)

/* ---- the store (lib/oci/store.c) ---- */

struct kiln_store;

/*
 * kiln's cache directory: @dir when not NULL, else $KILN_CACHE_DIR, else
 * $XDG_CACHE_HOME/kiln, else ~/.cache/kiln. Sets *@ret to a new string.
 * Returns 0, -ENOENT when there is no home to put it in, or -ENOMEM.
 */
int kiln_cache_dir(struct kiln_ctx *ctx, const char *dir, char **ret);

/*
 * Open (creating if needed) the OCI image layout at @dir; NULL for
 * <cache dir>/store. Concurrent kiln processes may share a store: blob
 * writes are atomic renames, index.json updates are serialized with a lock.
 * Besides the layout the store holds tmp/ (blobs being written),
 * index.json.lock and gc.lock; other tools ignore them. An open store holds
 * a shared lock that keeps gc (in any process) away until it is freed:
 * free stores when done with them.
 */
int kiln_store_open(struct kiln_ctx *ctx, const char *dir, struct kiln_store **ret);
void kiln_store_free(struct kiln_store *s);
const char *kiln_store_path(const struct kiln_store *s);

static inline void kiln_store_freep(struct kiln_store **s)
{
	kiln_store_free(*s);
}

/* 1 if the blob is present (its size in *@ret_size), 0 if not. */
int kiln_store_has_blob(struct kiln_store *s, const struct kiln_digest *d, uint64_t *ret_size);

/* An O_RDONLY|O_CLOEXEC fd on the blob, or -ENOENT. Not verified: readers hash as they go. */
int kiln_store_open_blob(struct kiln_store *s, const struct kiln_digest *d);

/*
 * Read a whole blob of at most @max bytes into memory, verifying its digest
 * (a mismatch is -EBADMSG: the store is corrupt, the blob is removed).
 */
int kiln_store_read_blob(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_digest *d,
			 size_t max, char **ret, size_t *ret_len);

/* Write @len bytes as a blob; *@ret gets its digest. */
int kiln_store_put_blob(struct kiln_ctx *ctx, struct kiln_store *s, const void *data, size_t len,
			struct kiln_digest *ret);

/*
 * A blob written as a stream: hashed as it is written into a temporary file
 * in the store, then either committed (verified against @expect if given,
 * fsync'ed, renamed into blobs/sha256/) or aborted (the temporary file is
 * removed). Freeing an uncommitted writer aborts it. kiln_blob_writer_write()
 * records its errors (a failed write, a failed hash) on the context the
 * writer was made with.
 */
struct kiln_blob_writer;
int kiln_blob_writer_new(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_blob_writer **ret);
int kiln_blob_writer_write(struct kiln_blob_writer *w, const void *data, size_t len);
uint64_t kiln_blob_writer_size(const struct kiln_blob_writer *w);
int kiln_blob_writer_commit(struct kiln_ctx *ctx, struct kiln_blob_writer *w,
			    const struct kiln_digest *expect, struct kiln_digest *ret);
void kiln_blob_writer_free(struct kiln_blob_writer *w);

static inline void kiln_blob_writer_freep(struct kiln_blob_writer **w)
{
	kiln_blob_writer_free(*w);
}

/*
 * Refs: names in index.json (annotation org.opencontainers.image.ref.name,
 * and io.containerd.image.name with the same value). @name is a full
 * reference name as kiln_ref_name() gives. Setting a ref moves it. @d must
 * be a manifest or an index whose blob is in the store with @d's size
 * (-ENOENT or -EINVAL otherwise): a ref never points at nothing. Its
 * annotations and platform are kept on the entry, with the two name
 * annotations set to @name.
 */
int kiln_store_set_ref(struct kiln_ctx *ctx, struct kiln_store *s, const char *name,
		       const struct kiln_descriptor *d);
/* -ENOENT (with a message naming @name) when there is no such ref. */
int kiln_store_get_ref(struct kiln_ctx *ctx, struct kiln_store *s, const char *name,
		       struct kiln_descriptor *ret);
int kiln_store_remove_ref(struct kiln_ctx *ctx, struct kiln_store *s, const char *name);

/* The ref names, sorted; free each and the array. Returns the count or -errno. */
int kiln_store_list_refs(struct kiln_ctx *ctx, struct kiln_store *s, char ***ret);

/* index.json as it is now (entries with and without names), parsed. */
int kiln_store_read_index(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_index **ret);

/*
 * What @ref names in the store: "sha256:<hex>" (a blob; its media type is
 * read from it), a name exactly as in index.json, or a reference that
 * kiln_ref_parse() normalizes to one ("alpine" is
 * "docker.io/library/alpine:latest"); a reference with a digest resolves by
 * the digest. -ENOENT with a message naming @ref when there is none.
 */
int kiln_store_resolve(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
		       struct kiln_descriptor *ret);

struct kiln_gc_stats {
	unsigned blobs_kept;
	unsigned blobs_removed;
	uint64_t bytes_removed;
};

struct kiln_gc_options {
	bool dry_run; /* count and report, remove nothing */
	/* called for each blob removed (or that would be), in digest order; may be NULL */
	void (*on_remove)(void *userdata, const struct kiln_digest *d, uint64_t size);
	void *userdata;
};

/*
 * Remove every blob no ref reaches (through indexes, manifests, configs and
 * layers), and temporary files that no live writer holds. Every entry of
 * index.json is a root, named or not. A store open in another process
 * (which may be between writing blobs and setting the ref) is -EBUSY: gc
 * never races a writer. A manifest or index that is reachable but cannot be
 * parsed stops gc before anything is removed.
 */
int kiln_store_gc(struct kiln_ctx *ctx, struct kiln_store *s, struct kiln_gc_stats *ret);
int kiln_store_gc_with(struct kiln_ctx *ctx, struct kiln_store *s,
		       const struct kiln_gc_options *opts, struct kiln_gc_stats *ret);

/* ---- checking the store (lib/oci/store-verify.c) ---- */

enum kiln_store_fault {
	KILN_STORE_FAULT_CORRUPT, /* a blob whose content does not hash to its name */
	KILN_STORE_FAULT_STRAY, /* a file in blobs/sha256/ that is not named by a digest */
	KILN_STORE_FAULT_MISSING, /* a blob that a manifest, index or ref names is absent */
	KILN_STORE_FAULT_SIZE, /* a blob whose size is not its descriptor's */
	KILN_STORE_FAULT_UNREADABLE, /* a manifest or index that does not parse */
	KILN_STORE_FAULT_REF, /* a ref whose image is incomplete (the blob is named in the message) */
	KILN_STORE_FAULT_LEFTOVER, /* a temporary file of a write that was killed: not a fault */
};

struct kiln_store_problem {
	enum kiln_store_fault kind;
	const char *subject; /* the blob's digest, the ref's name or the file's path */
	const char *message; /* what is wrong, in words */
	bool repaired; /* removed (with kiln_store_verify_options.repair) */
};

struct kiln_store_verify_options {
	bool repair; /* remove what is broken: bad blobs, refs to incomplete images, leftovers */
	/* called for each problem, in the order found; may be NULL */
	void (*on_problem)(void *userdata, const struct kiln_store_problem *p);
	void *userdata;
};

struct kiln_store_verify_stats {
	unsigned blobs; /* blobs rehashed */
	uint64_t bytes;
	unsigned refs; /* entries of index.json checked */
	unsigned problems; /* faults: every kind but KILN_STORE_FAULT_LEFTOVER */
	unsigned leftovers;
	unsigned repaired;
};

/*
 * Check the whole store: every blob rehashed (its name must be its
 * digest), every manifest's and index's references (config, layers, child
 * manifests present where an index names them all, sizes as the
 * descriptors say), every entry of index.json (stage cache entries
 * included) reaching a complete image. An index may hold only some of its
 * platforms (a pull stores one): its absent children are not faults. With
 * @o->repair, corrupt and stray blobs, refs to incomplete images and
 * leftovers are removed (gc then removes what they alone reached); as gc,
 * repair is -EBUSY while another handle has the store open. Returns
 * 0 when the check ran (faults are counted in @ret and passed to
 * @o->on_problem), -errno when it could not.
 */
int kiln_store_verify(struct kiln_ctx *ctx, struct kiln_store *s,
		      const struct kiln_store_verify_options *o, struct kiln_store_verify_stats *ret);

/*
 * An image in the store, resolved for one platform: the ref (or
 * "sha256:..." digest) is looked up as kiln_store_resolve() does, an index
 * is followed to the manifest of @platform (NULL: the host's; nested
 * indexes too), and manifest and config are read and parsed. A plain
 * manifest is taken whatever its platform when @platform is NULL, and must
 * match it otherwise. Errors name the ref; a platform missing from an index
 * lists those present (-ENOENT).
 */
struct kiln_image {
	struct kiln_descriptor manifest_desc;
	struct kiln_manifest *manifest;
	char *manifest_json; /* the manifest blob as stored */
	size_t manifest_len;
	struct kiln_descriptor index_desc; /* what the ref named, when that was an index */
	bool from_index;
	struct kiln_image_config *config;
	char *config_json; /* the config blob as stored */
	size_t config_len;
};

int kiln_store_load_image(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
			  const struct kiln_platform *platform, struct kiln_image **ret);
void kiln_image_free(struct kiln_image *img);

static inline void kiln_image_freep(struct kiln_image **img)
{
	kiln_image_free(*img);
}

#pragma GCC visibility pop
