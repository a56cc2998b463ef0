/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An LD_PRELOAD object that makes one allocation fail, for
 * test-alloc-faults.py: KILN_FAILMALLOC=N fails the Nth call of malloc,
 * calloc, realloc or posix_memalign/aligned_alloc in the process (counted
 * from its start, on every thread), once. KILN_FAILMALLOC_COUNT=FILE writes
 * the number of calls made to FILE when the process exits, so that the
 * driver knows the range of N worth trying. glibc routes its own
 * allocations (strdup, asprintf, stdio buffers) through these symbols, so
 * they fail too, as they would under real memory pressure.
 *
 * Children do not inherit it: LD_PRELOAD is dropped from the environment
 * as soon as the object is loaded.
 *
 * OpenSSL 3.0 sets itself up on first use, and an allocation that fails in
 * the middle of that is not reported: the default library context is left
 * without its lock, and a later call crashes on it. No caller can see or
 * undo that, so OpenSSL's setup runs here, before counting starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

static atomic_ulong calls;
static unsigned long fail_at;
static const char *count_file;

static void report(void)
{
	char buf[32];
	int fd, n;

	fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%lu\n", atomic_load(&calls));
	if (write(fd, buf, n) != n)
		n = 0;
	close(fd);
}

__attribute__((constructor)) static void setup(void)
{
	const char *s = getenv("KILN_FAILMALLOC");
	unsigned long n = s ? strtoul(s, NULL, 10) : 0;

	count_file = getenv("KILN_FAILMALLOC_COUNT");
	if (count_file)
		atexit(report);
	unsetenv("LD_PRELOAD");
	unsetenv("KILN_FAILMALLOC");
	OPENSSL_init_crypto(OPENSSL_INIT_ADD_ALL_CIPHERS | OPENSSL_INIT_ADD_ALL_DIGESTS |
				    OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
			    NULL);
	EVP_MD_free(EVP_MD_fetch(NULL, "SHA256", NULL));
	/* what glibc, OpenSSL and this setup allocated is not the program's */
	atomic_store(&calls, 0);
	fail_at = n;
}

static int should_fail(void)
{
	return atomic_fetch_add(&calls, 1) + 1 == fail_at;
}

void *malloc(size_t size)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_realloc(p, size);
}

int posix_memalign(void **ret, size_t align, size_t size)
{
	void *p;

	if (should_fail())
		return ENOMEM;
	p = __libc_memalign(align, size);
	if (!p)
		return ENOMEM;
	*ret = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t size)
{
	if (should_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __libc_memalign(align, size);
}
