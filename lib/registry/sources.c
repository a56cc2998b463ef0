/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where blobs are known to be: "<digest> <domain> <repository>" lines in
 * kiln-registry-sources next to the store's index.json, appended after
 * every push and pull. A push to another repository of the same registry
 * then mounts those blobs (POST ?mount=&from=) instead of sending them
 * again. The record is a hint, never the truth: a wrong or lost line costs
 * an upload, never correctness (the registry checks the mount), so it is
 * appended to (append_hint_lines()) rather than rewritten atomically, and a
 * damaged line is skipped.
 */
#include <fcntl.h>
#include <string.h>

#include "fileio.h"
#include "registry-internal.h"

#define SOURCES_FILE "kiln-registry-sources"
/* Past this the record is cut to its newer half: it stays small and fast to read. */
#define SOURCES_MAX (4u << 20)

struct source {
	struct kiln_digest digest;
	char *repo;
};

struct reg_sources {
	struct source *v;
	size_t n, alloc;
};

void reg_sources_free(struct reg_sources *src)
{
	if (!src)
		return;
	for (size_t i = 0; i < src->n; i++)
		free(src->v[i].repo);
	free(src->v);
	free(src);
}

static char *sources_path(struct kiln_store *s)
{
	return path_join(kiln_store_path(s), SOURCES_FILE);
}

/* One line, split in place: NULL fields when it is not "<digest> <domain> <repo>". */
static bool split_line(char *line, char **digest, char **domain, char **repo)
{
	char *sp1 = strchr(line, ' '), *sp2;

	if (!sp1)
		return false;
	sp2 = strchr(sp1 + 1, ' ');
	if (!sp2 || strchr(sp2 + 1, ' ') || sp2[1] == '\0')
		return false;
	*sp1 = *sp2 = '\0';
	*digest = line;
	*domain = sp1 + 1;
	*repo = sp2 + 1;
	return kiln_digest_is_valid(*digest);
}

int reg_sources_load(struct kiln_store *s, const char *domain, struct reg_sources **ret)
{
	_cleanup_(reg_sources_freep) struct reg_sources *src = calloc(1, sizeof(*src));
	_cleanup_free_ char *path = sources_path(s), *text = NULL;
	size_t len;
	char *line, *save = NULL;

	if (!src || !path)
		return -ENOMEM;
	/* over twice the cap means someone else wrote it: ignore it rather than read it all */
	if (read_file_at(AT_FDCWD, path, 2 * SOURCES_MAX, &text, &len) < 0) {
		*ret = TAKE_PTR(src);
		return 0;
	}
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *digest, *dom, *repo;

		if (!split_line(line, &digest, &dom, &repo) || !streq(dom, domain))
			continue;
		if (GROW(src->v, src->alloc, src->n + 1) < 0)
			return -ENOMEM;
		memcpy(src->v[src->n].digest.s, digest, sizeof(src->v[src->n].digest.s));
		src->v[src->n].repo = strdup(repo);
		if (!src->v[src->n].repo)
			return -ENOMEM;
		src->n++;
	}
	*ret = TAKE_PTR(src);
	return 0;
}

const char *reg_sources_find(const struct reg_sources *src, const struct kiln_digest *d,
			     const char *not_repo)
{
	/* newest first: the repository it was last seen in is the likeliest to still have it */
	for (size_t i = src ? src->n : 0; i > 0; i--)
		if (streq(src->v[i - 1].digest.s, d->s) && !streq(src->v[i - 1].repo, not_repo))
			return src->v[i - 1].repo;
	return NULL;
}

static bool known_in(const struct reg_sources *src, const struct kiln_digest *d, const char *repo)
{
	for (size_t i = 0; src && i < src->n; i++)
		if (streq(src->v[i].digest.s, d->s) && streq(src->v[i].repo, repo))
			return true;
	return false;
}

void reg_sources_add(struct kiln_store *s, const struct reg_sources *known, const char *domain,
		     const char *repo, const struct kiln_digest *const *digests, size_t n)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *path = sources_path(s);

	if (!path || n == 0 || strchr(domain, ' ') || strchr(repo, ' '))
		return;
	for (size_t i = 0; i < n; i++)
		if (!known_in(known, digests[i], repo) &&
		    strbuf_addf(&sb, "%s %s %s\n", digests[i]->s, domain, repo) < 0)
			return;
	append_hint_lines(path, sb.buf, sb.len, SOURCES_MAX);
}
