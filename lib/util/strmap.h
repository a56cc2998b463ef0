/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A map from string to string that owns copies of both. Open addressing with
 * linear probing; keys are never removed, which is all the variable levels
 * of a package tree need. Zero-initialized (STRMAP_INIT) is an empty map.
 */

#include <stddef.h>

#include "macro.h"

struct strmap_entry {
	char *key;
	char *value;
	size_t value_len;
	size_t hash;
};

struct strmap {
	struct strmap_entry *slots;
	size_t n_slots; /* 0 or a power of two */
	size_t n_entries;
};

#define STRMAP_INIT { NULL, 0, 0 }

/* Set @key to @value (@value_len bytes, may hold NUL), replacing any old value. */
int strmap_set_len(struct strmap *m, const char *key, const char *value, size_t value_len);
int strmap_set(struct strmap *m, const char *key, const char *value);

/* The entry for @key, or NULL. */
const struct strmap_entry *strmap_find(const struct strmap *m, const char *key, size_t key_len);

/* The value of @key, or NULL. */
const char *strmap_get(const struct strmap *m, const char *key);

/* Copy every entry of @src into @dst, replacing values of equal keys. */
int strmap_merge(struct strmap *dst, const struct strmap *src);

/* A deep copy of @src into the empty map @dst. */
int strmap_copy(struct strmap *dst, const struct strmap *src);

/*
 * The entries sorted by key, as a newly allocated array of pointers into the
 * map (valid until it changes). Returns the count, or -ENOMEM.
 */
int strmap_sorted(const struct strmap *m, const struct strmap_entry ***ret);

void strmap_release(struct strmap *m);

#define _cleanup_strmap_ _cleanup_(strmap_release)
