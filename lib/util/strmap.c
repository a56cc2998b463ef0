/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

/* FNV-1a: short keys, no adversary to speak of (the keys come from the tree). */
static size_t hash_key(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	return (size_t)h;
}

static struct strmap_entry *lookup(const struct strmap *m, const char *key, size_t key_len,
				   size_t hash)
{
	size_t mask, i;

	if (!m->n_slots)
		return NULL;
	mask = m->n_slots - 1;
	for (i = hash & mask;; i = (i + 1) & mask) {
		struct strmap_entry *e = &m->slots[i];

		if (!e->key)
			return e;
		if (e->hash == hash && strncmp(e->key, key, key_len) == 0 && e->key[key_len] == '\0')
			return e;
	}
}

static int rehash(struct strmap *m, size_t n_slots)
{
	struct strmap_entry *slots = calloc(n_slots, sizeof(*slots));
	struct strmap old = *m;

	if (!slots)
		return -ENOMEM;
	m->slots = slots;
	m->n_slots = n_slots;
	for (size_t i = 0; i < old.n_slots; i++) {
		struct strmap_entry *e = &old.slots[i];

		if (e->key)
			*lookup(m, e->key, strlen(e->key), e->hash) = *e;
	}
	free(old.slots);
	return 0;
}

int strmap_set_len(struct strmap *m, const char *key, const char *value, size_t value_len)
{
	size_t key_len = strlen(key), hash = hash_key(key, key_len);
	struct strmap_entry *e;
	char *v;
	int r;

	/* keep the load factor under 1/2 */
	if ((m->n_entries + 1) * 2 > m->n_slots) {
		r = rehash(m, m->n_slots ? m->n_slots * 2 : 16);
		if (r < 0)
			return r;
	}
	v = malloc(value_len + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, value, value_len);
	v[value_len] = '\0';

	e = lookup(m, key, key_len, hash);
	if (!e->key) {
		e->key = strdup(key);
		if (!e->key) {
			free(v);
			return -ENOMEM;
		}
		e->hash = hash;
		m->n_entries++;
	}
	free(e->value);
	e->value = v;
	e->value_len = value_len;
	return 0;
}

int strmap_set(struct strmap *m, const char *key, const char *value)
{
	return strmap_set_len(m, key, value, strlen(value));
}

const struct strmap_entry *strmap_find(const struct strmap *m, const char *key, size_t key_len)
{
	struct strmap_entry *e = lookup(m, key, key_len, hash_key(key, key_len));

	return e && e->key ? e : NULL;
}

const char *strmap_get(const struct strmap *m, const char *key)
{
	const struct strmap_entry *e = strmap_find(m, key, strlen(key));

	return e ? e->value : NULL;
}

int strmap_merge(struct strmap *dst, const struct strmap *src)
{
	for (size_t i = 0; i < src->n_slots; i++) {
		const struct strmap_entry *e = &src->slots[i];
		int r;

		if (!e->key)
			continue;
		r = strmap_set_len(dst, e->key, e->value, e->value_len);
		if (r < 0)
			return r;
	}
	return 0;
}

int strmap_copy(struct strmap *dst, const struct strmap *src)
{
	int r = strmap_merge(dst, src);

	if (r < 0)
		strmap_release(dst);
	return r;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct strmap_entry *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

int strmap_sorted(const struct strmap *m, const struct strmap_entry ***ret)
{
	const struct strmap_entry **v = malloc((m->n_entries + 1) * sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_slots; i++)
		if (m->slots[i].key)
			v[n++] = &m->slots[i];
	qsort(v, n, sizeof(*v), cmp_entry);
	*ret = v;
	return (int)n;
}

void strmap_release(struct strmap *m)
{
	for (size_t i = 0; i < m->n_slots; i++) {
		free(m->slots[i].key);
		free(m->slots[i].value);
	}
	free(m->slots);
	*m = (struct strmap)STRMAP_INIT;
}
