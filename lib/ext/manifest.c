/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An extension's manifest.yaml, as Talos loads it
 * (pkg/machinery/extensions/load.go and metadata.go):
 *
 *	version: v1alpha1
 *	metadata:
 *	  name: hailort
 *	  version: "4.24.0"
 *	  author: hailo.ai team
 *	  description: ...
 *	  compatibility:
 *	    talos:
 *	      version: ">= v1.9.0"
 *	  extraInfo: ...            (optional)
 *
 * Talos decodes with yaml into Go structs, so any scalar becomes its text,
 * a null is an absent field and unknown keys are dropped; then it refuses a
 * version other than v1alpha1. We do the same from the node tree, warn
 * about the unknown keys, and also refuse what Talos would only show as
 * blanks: a manifest without name, version, author or description.
 */
#include <string.h>

#include <kiln/ext.h>

#include "go-quote.h"
#include "log.h"
#include "strbuf.h"
#include "yaml-tree.h"

/* Real manifests are a few hundred bytes. */
#define MANIFEST_MAX (1u << 20)
/* Quoted values in messages are cut to this many bytes. */
#define QUOTE_MAX 96

struct manifest_parser {
	struct kiln_ctx *ctx;
	const char *file;
	struct kiln_ext_manifest *m;
};

/*
 * One key of a mapping of the manifest: a string stored at @offset in
 * struct kiln_ext_manifest, or (@sub set) a mapping read by the table @sub.
 */
struct manifest_key {
	const char *key;
	const char *path; /* for messages: "metadata.compatibility" */
	size_t offset;
	const struct manifest_key *sub;
	size_t n_sub;
};

#define STRING_KEY(k, p, member) { k, p, offsetof(struct kiln_ext_manifest, member), NULL, 0 }
#define MAPPING_KEY(k, p, table) { k, p, 0, table, ELEMENTSOF(table) }

static const struct manifest_key talos_keys[] = {
	STRING_KEY("version", "metadata.compatibility.talos.version", talos_version),
};

static const struct manifest_key compatibility_keys[] = {
	MAPPING_KEY("talos", "metadata.compatibility.talos", talos_keys),
};

static const struct manifest_key metadata_keys[] = {
	STRING_KEY("name", "metadata.name", name),
	STRING_KEY("version", "metadata.version", ext_version),
	STRING_KEY("author", "metadata.author", author),
	STRING_KEY("description", "metadata.description", description),
	MAPPING_KEY("compatibility", "metadata.compatibility", compatibility_keys),
	STRING_KEY("extraInfo", "metadata.extraInfo", extra_info),
};

static const struct manifest_key root_keys[] = {
	STRING_KEY("version", "version", version),
	MAPPING_KEY("metadata", "metadata", metadata_keys),
};

void kiln_ext_manifest_free(struct kiln_ext_manifest *m)
{
	if (!m)
		return;
	free(m->version);
	free(m->name);
	free(m->ext_version);
	free(m->author);
	free(m->description);
	free(m->talos_version);
	free(m->extra_info);
	free(m);
}

static int string_value(struct manifest_parser *mp, const struct yaml_node *n, const char *path,
			char **ret)
{
	char *s;

	if (n->kind != YAML_SCALAR)
		return kiln_error_at(mp->ctx, EINVAL, mp->file, n->line, n->col,
				     "\"%s\" must be a string, got %s", path,
				     yaml_kind_name(n->kind));
	if (memchr(n->scalar.text, '\0', n->scalar.len))
		return kiln_error_at(mp->ctx, EINVAL, mp->file, n->line, n->col,
				     "\"%s\" contains a NUL character; remove the \\0 escape",
				     path);
	/* "" is Go's zero value: the same as absent */
	if (n->scalar.len == 0)
		return 0;
	s = strdup(n->scalar.text);
	if (!s)
		return kiln_error(mp->ctx, ENOMEM, "out of memory parsing %s", mp->file);
	*ret = s;
	return 0;
}

/*
 * Read mapping @n (@what in messages) by @keys. The schema is four levels
 * deep and fixed, so the recursion is too.
 */
static int read_keys(struct manifest_parser *mp, const struct yaml_node *n, const char *what,
		     const struct manifest_key *keys, size_t n_keys)
{
	if (n->kind != YAML_MAPPING)
		return kiln_error_at(mp->ctx, EINVAL, mp->file, n->line, n->col,
				     "%s must be a mapping, got %s", what, yaml_kind_name(n->kind));

	for (size_t i = 0; i < n->map.n; i++) {
		const struct yaml_node *key = n->map.pairs[i].key, *value = n->map.pairs[i].value;
		const struct manifest_key *k = NULL;
		int r;

		for (size_t j = 0; j < n_keys && !k; j++)
			if (key->scalar.len == strlen(keys[j].key) &&
			    memcmp(key->scalar.text, keys[j].key, key->scalar.len) == 0)
				k = &keys[j];
		if (!k && key->scalar.plain && streq(key->scalar.text, "<<"))
			return kiln_error_at(mp->ctx, EINVAL, mp->file, key->line, key->col,
					     "merge keys (<<) are not supported in %s; write the "
					     "keys out",
					     what);
		if (!k) {
			_cleanup_free_ char *q =
				quote_for_message(key->scalar.text, key->scalar.len, QUOTE_MAX);

			kiln_warn_at(mp->ctx, mp->file, key->line, key->col,
				     "unknown key \"%s\" in %s, ignoring", strempty(q), what);
			continue;
		}
		if (yaml_is_null(value))
			continue;
		if (k->sub)
			r = read_keys(mp, value, k->path, k->sub, k->n_sub);
		else
			r = string_value(mp, value, k->path, (char **)((char *)mp->m + k->offset));
		if (r < 0)
			return r;
	}
	return 0;
}

/* A required metadata field that is absent, null or "". */
static int missing(struct manifest_parser *mp, const struct yaml_node *at, const char *key,
		   const char *example)
{
	return kiln_error_at(mp->ctx, EINVAL, mp->file, at->line, at->col,
			     "metadata.%s is missing; add \"%s: %s\" to metadata", key, key,
			     example);
}

static int check_manifest(struct manifest_parser *mp, const struct yaml_node *root)
{
	const struct kiln_ext_manifest *m = mp->m;
	const struct yaml_node *version = yaml_map_get(root, "version");
	const struct yaml_node *metadata = yaml_map_get(root, "metadata");

	/* Talos's check, with Talos's words */
	if (!streq(m->version, "v1alpha1")) {
		const struct yaml_node *at = version ? version : root;
		_cleanup_strbuf_ struct strbuf q = STRBUF_INIT;

		if (strbuf_add_go_quoted(&q, strempty(m->version), strlen(strempty(m->version)),
					 QUOTE_MAX) < 0)
			return kiln_error(mp->ctx, ENOMEM, "out of memory parsing %s", mp->file);
		return kiln_error_at(mp->ctx, EINVAL, mp->file, at->line, at->col,
				     "unsupported manifest version: %s", strbuf_str(&q));
	}

	if (!metadata || yaml_is_null(metadata))
		return kiln_error_at(mp->ctx, EINVAL, mp->file, root->line, root->col,
				     "metadata is missing; add a \"metadata\" mapping with name, "
				     "version, author and description");
	if (!m->name)
		return missing(mp, metadata, "name", "<the extension's name>");
	if (!m->ext_version)
		return missing(mp, metadata, "version", "<the extension's version>");
	if (!m->author)
		return missing(mp, metadata, "author", "<who maintains it>");
	if (!m->description)
		return missing(mp, metadata, "description", "<what it adds to Talos>");
	return 0;
}

int kiln_ext_manifest_parse(struct kiln_ctx *ctx, const char *file, const char *text, size_t len,
			    struct kiln_ext_manifest **ret)
{
	_cleanup_(kiln_ext_manifest_freep) struct kiln_ext_manifest *m = NULL;
	_cleanup_(yaml_doc_freep) struct yaml_doc *doc = NULL;
	struct manifest_parser mp = { ctx, file, NULL };
	int r;

	if (len > MANIFEST_MAX)
		return kiln_error_at(ctx, EFBIG, file, 0, 0,
				     "manifest of %zu bytes, more than %u; is this a "
				     "manifest.yaml?",
				     len, MANIFEST_MAX);
	r = yaml_parse(ctx, file, text, len, &doc);
	if (r < 0)
		return r;
	if (!doc->root || yaml_is_null(doc->root))
		return kiln_error_at(ctx, EINVAL, file, 0, 0,
				     "manifest is empty; write \"version: v1alpha1\" and a "
				     "\"metadata\" mapping");

	m = calloc(1, sizeof(*m));
	if (!m)
		return kiln_error(ctx, ENOMEM, "out of memory parsing %s", file);
	mp.m = m;
	r = read_keys(&mp, doc->root, "the manifest", root_keys, ELEMENTSOF(root_keys));
	if (r < 0)
		return r;
	r = check_manifest(&mp, doc->root);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}
