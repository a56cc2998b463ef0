/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Registries: a distribution-spec 1.1 client (lib/registry) that pushes
 * images from the local store and pulls them into it.
 *
 * Transport: HTTPS with certificate verification; plain HTTP only for
 * loopback hosts (localhost, 127.0.0.0/8, ::1) or with @insecure, which
 * also turns verification off (https is tried first, then http).
 *
 * Auth: anonymous, Basic, or Bearer tokens fetched from the realm a
 * WWW-Authenticate challenge names (cached per realm, service and scopes;
 * insufficient_scope fetches a token for the scopes asked for).
 * Credentials come from the first auth file holding an entry for the
 * registry, in podman's order (see kiln_credentials_lookup()). Credentials
 * and tokens never appear in errors or logs.
 *
 * Blobs move in parallel, streamed (never a whole blob in memory); requests
 * without a body are retried on 429 (honouring Retry-After), 5xx and
 * connection resets with exponential backoff, uploads are resumed or
 * restarted, downloads resumed with Range.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>
#include <kiln/oci.h>

#pragma GCC visibility push(default)

/* ---- transfers ---- */

enum kiln_blob_action {
	KILN_BLOB_EXISTS, /* push: already in the destination repository */
	KILN_BLOB_MOUNTED, /* push: mounted from another repository of the registry */
	KILN_BLOB_UPLOADED,
	KILN_BLOB_PRESENT, /* pull: already in the store */
	KILN_BLOB_DOWNLOADED,
};

enum kiln_transfer_event_kind {
	KILN_TRANSFER_BLOB, /* a blob is done: @action, @digest, @size, @from */
	KILN_TRANSFER_MANIFEST, /* a manifest or index was stored or put: @digest, @size */
	KILN_TRANSFER_PROGRESS, /* a few times a second while blobs move */
	KILN_TRANSFER_NOTICE, /* @message: a retry, a resumed or restarted transfer */
};

struct kiln_transfer_event {
	enum kiln_transfer_event_kind kind;
	enum kiln_blob_action action;
	const struct kiln_digest *digest;
	uint64_t size;
	const char *from; /* KILN_BLOB_MOUNTED: the repository it came from */
	const char *message; /* NOTICE */
	/* PROGRESS (and filled in for the others): this run's totals */
	uint64_t bytes_done;
	uint64_t bytes_total; /* of the blobs that move, once known */
	unsigned blobs_done;
	unsigned blobs_total;
};

/* Called one event at a time, possibly from the library's worker threads. */
typedef void (*kiln_transfer_fn)(void *userdata, const struct kiln_transfer_event *ev);

struct kiln_registry_options {
	bool insecure; /* plain HTTP, or HTTPS without verification, for any host */
	const char *auth_file; /* only this file; NULL: the podman order */
	unsigned jobs; /* blobs moving at once; 0: 4 */
	kiln_transfer_fn on_event; /* may be NULL */
	void *userdata;
};

/* ---- push ---- */

struct kiln_push_result {
	char *reference; /* "host/repo:tag@sha256:...": what to put in a build file */
	char *name; /* "host/repo:tag" (or "host/repo@sha256:...") */
	struct kiln_descriptor desc; /* the manifest or index pushed */
	unsigned blobs_existing;
	unsigned blobs_mounted;
	unsigned blobs_uploaded;
	unsigned manifests_put; /* 0 when the tag already named this image */
	uint64_t bytes_uploaded;
};

void kiln_push_result_release(struct kiln_push_result *r);

/*
 * Push the image @src (a manifest or an index, in @s with every blob it
 * references; an index's child manifests that are not in @s must already
 * be in the destination) to @dest. Blobs first (HEAD, then a
 * cross-repository mount when kiln knows the blob from another repository
 * of the same registry, else an upload: monolithic up to 16 MiB, chunked
 * above), then child manifests by digest, and the tag last: a failed push
 * never moves the tag. Where each blob went is remembered in the store
 * (kiln-registry-sources) for later mounts. @dest without tag or digest
 * would have been given "latest" by kiln_ref_parse(); a @dest digest must
 * be @src's.
 */
int kiln_registry_push(struct kiln_ctx *ctx, struct kiln_store *s,
		       const struct kiln_descriptor *src, const struct kiln_ref *dest,
		       const struct kiln_registry_options *o, struct kiln_push_result *ret);

/* ---- pull ---- */

struct kiln_pull_result {
	char *reference; /* "host/repo:tag@sha256:..." of what was pulled */
	char *name; /* the store ref that was set */
	struct kiln_descriptor desc; /* the manifest or index, stored byte for byte */
	struct kiln_descriptor manifest; /* the platform's manifest (desc itself for a manifest) */
	unsigned blobs_present;
	unsigned blobs_downloaded;
	uint64_t bytes_downloaded;
};

void kiln_pull_result_release(struct kiln_pull_result *r);

/*
 * Pull @src into @s: resolve it to a manifest or index (a digest in @src
 * wins over its tag, and the bytes must hash to it), follow an index to
 * @platform's manifest (NULL: the host's), stream config and layers into
 * the store verifying each digest (a mismatch is -EBADMSG and the blob is
 * dropped), then store the manifest (and index) exactly as received and set
 * the ref kiln_ref_name(@src). Nothing is tagged unless every blob arrived.
 */
int kiln_registry_pull(struct kiln_ctx *ctx, struct kiln_store *s, const struct kiln_ref *src,
		       const struct kiln_platform *platform, const struct kiln_registry_options *o,
		       struct kiln_pull_result *ret);

/*
 * What @ref names in its registry, without fetching it: a HEAD of the
 * manifest (by @ref's digest, else its tag), the digest the registry
 * reports in *@ret. -ENOENT when the registry has no such manifest (or
 * repository); other failures (unreachable, refused) as a pull's.
 */
int kiln_registry_resolve(struct kiln_ctx *ctx, const struct kiln_ref *ref,
			  const struct kiln_registry_options *o, struct kiln_digest *ret);

/*
 * The manifest or index @ref names, as the registry holds it, and nothing
 * of what it refers to: its bytes in *@ret_json (free()), *@ret_len, and
 * their digest in *@ret_digest, checked against @ref's digest when it has
 * one and against the registry's Docker-Content-Digest. Nothing enters a
 * store. -ENOENT when the registry has no such manifest.
 */
int kiln_registry_get_manifest(struct kiln_ctx *ctx, const struct kiln_ref *ref,
			       const struct kiln_registry_options *o, char **ret_json,
			       size_t *ret_len, struct kiln_digest *ret_digest);

/*
 * Find it in the store, else pull it: the image @ref of @s for @platform,
 * as kiln_store_load_image() loads it; when the store has none (-ENOENT)
 * and @pull is not NULL, it is first pulled from its registry with those
 * options (kiln_registry_pull(), which names it in the store as @ref). A
 * failed pull is an error prefixed with "\"@ref\" is not in the store and
 * could not be pulled". With a NULL @pull, nothing is pulled.
 */
int kiln_registry_load_image(struct kiln_ctx *ctx, struct kiln_store *s, const char *ref,
			     const struct kiln_platform *platform,
			     const struct kiln_registry_options *pull, struct kiln_image **ret);

/* ---- _out/images.json ---- */

/*
 * Record a push in @dir/images.json (@dir is created if needed): a JSON
 * object keyed by the pushed name ("host/repo:tag"), each value
 * {"reference": "host/repo:tag@sha256:...", "digest", "mediaType", "size"};
 * keys sorted, other entries kept as they were. Updates are serialized with
 * a lock on @dir and written atomically. A file that is not such an object
 * is left alone: -EBADMSG naming it.
 */
int kiln_images_json_record(struct kiln_ctx *ctx, const char *dir, const char *name,
			    const char *reference, const struct kiln_descriptor *d);

/* ---- the parts, for tests and for tools such as a login command ---- */

/*
 * One WWW-Authenticate challenge. A header may hold several ("Basic
 * realm=x, Bearer realm=y,service=z"): the parse keeps the first Bearer
 * one, else the first Basic one. Parameter names are case-insensitive;
 * values may be tokens or quoted strings with escapes; a "scope" holding
 * several scopes separated by spaces is split.
 */
struct kiln_auth_challenge {
	char *scheme; /* "Bearer" or "Basic", as kiln spells them */
	char *realm;
	char *service;
	char *error; /* "insufficient_scope", "invalid_token", or NULL */
	char **scopes;
	size_t n_scopes;
};

/*
 * Parse @header (one WWW-Authenticate value). -EBADMSG for a malformed
 * header (an unterminated quoted string, a parameter without a name),
 * -EOPNOTSUPP when it offers neither Bearer nor Basic.
 */
int kiln_auth_challenge_parse(const char *header, struct kiln_auth_challenge *ret);
void kiln_auth_challenge_release(struct kiln_auth_challenge *c);

struct kiln_credentials {
	char *username;
	char *password; /* wiped when released */
	char *source; /* "FILE (key \"KEY\")", for messages */
};

/*
 * Find credentials for @domain and repository @path ("kiln/test"). The
 * files, first that holds an entry wins (even an entry that does not
 * decode): @auth_file alone when given; else $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json (or /run/containers/UID/),
 * ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json,
 * $DOCKER_CONFIG/config.json (or ~/.docker/config.json), ~/.dockercfg.
 * In a file, "domain/path", then each shorter namespace, then "domain"
 * match exactly; then keys with a scheme or a path ("https://host/v1/")
 * match by host. docker.io is index.docker.io there. "auth" is
 * base64("user:password"), padded. Credential helpers are not run.
 * Returns 1 and fills @ret when found, 0 when no file has an entry (and
 * @ret_searched, if not NULL, gets the files looked at, for messages),
 * -EINVAL for an entry that does not decode (naming file and key).
 */
int kiln_credentials_lookup(struct kiln_ctx *ctx, const char *auth_file, const char *domain,
			    const char *path, struct kiln_credentials *ret, char **ret_searched);
void kiln_credentials_release(struct kiln_credentials *c);

/* True for localhost, 127.0.0.0/8 and ::1 (with or without a port): plain HTTP is allowed. */
bool kiln_registry_host_is_local(const char *domain);

/* The host the API is at: "registry-1.docker.io" for docker.io, else @domain. */
const char *kiln_registry_api_host(const char *domain);

/*
 * Resolve @location (a Location header: absolute, absolute-path or
 * relative) against @base, the URL it answered; then append
 * "&@key=@value" (or "?..."), URL-encoded, when @key is not NULL.
 * -EINVAL for what is not an http(s) URL.
 */
int kiln_registry_url_resolve(const char *base, const char *location, const char *key,
			      const char *value, char **ret);

#pragma GCC visibility pop
