/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small language helpers shared by every part of kiln: cleanup attributes,
 * ownership hand-over and overflow-checked arithmetic. Internal, never
 * installed.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _must_check_ __attribute__((warn_unused_result))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand over ownership of a pointer: returns it and leaves NULL behind. */
#define TAKE_PTR(p)                               \
	({                                        \
		__typeof__(p) *_pp = &(p);        \
		__typeof__(p) _tmp = *_pp;        \
		*_pp = NULL;                      \
		_tmp;                             \
	})

/* Hand over ownership of a file descriptor: returns it and leaves -1 behind. */
#define TAKE_FD(fd)                \
	({                         \
		int *_pfd = &(fd); \
		int _tmp = *_pfd;  \
		*_pfd = -1;        \
		_tmp;              \
	})

/* Define a cleanup function "foo_freep" for a destructor "foo_free". */
#define DEFINE_FREEP(type, func)                   \
	static inline void func##p(type **p)       \
	{                                          \
		if (*p)                            \
			func(*p);                  \
	}

static inline bool streq(const char *a, const char *b)
{
	return a && b && __builtin_strcmp(a, b) == 0;
}

static inline const char *strempty(const char *s)
{
	return s ? s : "";
}

/*
 * Grow an array of elements of size @size held in *@p with room for *@alloc
 * to hold at least @need. Returns 0 or -ENOMEM; *@p is untouched on failure.
 */
int kiln_grow(void **p, size_t *alloc, size_t need, size_t size);

#define GROW(p, alloc, need) kiln_grow((void **)&(p), &(alloc), (need), sizeof(*(p)))
