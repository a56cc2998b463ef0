/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The `sources` of a step: downloads kept in kiln's cache under their
 * sha512, verified against both hashes of pkg.yaml before they are kept,
 * then copied into a stage's build directory. Internal to lib/build.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <kiln/kiln.h>
#include <kiln/spec.h>

struct source_fetch_options {
	/*
	 * kiln's cache directory: a source is kept in <cache_dir>/sources/<sha512
	 * hex>, a download in progress in <cache_dir>/sources/tmp/.
	 */
	const char *cache_dir;
	/* verify the server's TLS certificate and name; kiln sets it unless --insecure */
	bool tls_verify;
	/*
	 * Called now and then (a few times a second at most, and once at the
	 * end of a download) with the bytes so far and in all (-1 when the
	 * server does not say), from the fetching thread; may be NULL.
	 */
	void (*progress)(void *userdata, const char *url, uint64_t done, int64_t total);
	void *userdata;
	/* set by another thread to stop a download (-ECANCELED); may be NULL */
	const atomic_bool *cancel;
};

/**
 * source_fetch() - make sure a source is in the cache, verified
 * @src: the source; its url is http://, https:// or file:///absolute/path
 * @ret_fd: an O_RDONLY|O_CLOEXEC fd on the cached file
 *
 * A file already cached under the sha512 was verified when it was stored:
 * it is used as it is (only an empty one is fetched again). Otherwise the
 * url is downloaded to a temporary file, following redirects, hashed with
 * sha256 and sha512 as it streams, and tried up to 3 times (with backoff,
 * honouring Retry-After) on a failed, refused or cut connection or a 408,
 * 429 or 5xx answer (lib/util/http.c's policy). Both hashes must match; a
 * mismatch names the url, the hash, and the expected and actual digests,
 * and nothing is cached. On success the file is fsynced and renamed into
 * place, so the final name only ever holds a verified file. Any other
 * scheme, an HTTP error status (named) and a transport failure are errors
 * naming the url.
 *
 * Thread-safe: two fetches of one source may race; both download, the
 * last rename wins and both return a good file.
 */
int source_fetch(struct kiln_ctx *ctx, const struct kiln_source *src,
		 const struct source_fetch_options *o, int *ret_fd);

/**
 * source_place() - copy a fetched source into a build directory
 * @fd: the file, as source_fetch() gave it (read with pread(): its offset is not moved)
 * @dirfd: the directory @destination is relative to (a stage's /tmp/build)
 * @destination: a relative path without ".." components
 *
 * Missing parent directories are made (0755); every component is resolved
 * with openat2(RESOLVE_IN_ROOT) from @dirfd, so a symlink in the build tree
 * cannot lead out of it. The file is written under a temporary name in its
 * directory and renamed over @destination, mode 0644. An absolute
 * @destination or one with ".." is an error naming it.
 */
int source_place(struct kiln_ctx *ctx, int fd, int dirfd, const char *destination);
