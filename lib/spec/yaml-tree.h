/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A YAML document as a tree of nodes that remember where they came from, built
 * on libyaml. Scalars keep their text as written (after unquoting): "2.8"
 * stays "2.8" and true stays "true", which is how bldr's vars decode.
 *
 * Hostile input is bounded: nesting depth, node count and alias expansion are
 * capped, and every failure is reported as "file:line:col: what".
 */

#include <stdbool.h>
#include <stddef.h>

#include <kiln/kiln.h>

#include "macro.h"

enum yaml_kind {
	YAML_SCALAR,
	YAML_SEQUENCE,
	YAML_MAPPING,
};

struct yaml_node;

struct yaml_pair {
	struct yaml_node *key; /* always a scalar */
	struct yaml_node *value;
};

struct yaml_node {
	enum yaml_kind kind;
	unsigned line, col; /* 1-based, where the node starts */
	union {
		struct {
			char *text; /* NUL-terminated, may also hold NULs */
			size_t len;
			bool plain; /* unquoted: "~", "null" and "" then mean null */
		} scalar;
		struct {
			struct yaml_node **items;
			size_t n;
		} seq;
		struct {
			struct yaml_pair *pairs;
			size_t n;
		} map;
	};
};

struct yaml_doc {
	char *file; /* for messages */
	struct yaml_node *root; /* NULL for an empty document */
};

/* Limits on hostile input; generous for any real package tree. */
#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 1000000

/*
 * Parse the single document in @buf (@len bytes). Duplicate mapping keys,
 * non-scalar keys, more than one document, and anything over the limits are
 * errors. Returns 0 or -EINVAL/-ENOMEM with the error on @ctx.
 */
int yaml_parse(struct kiln_ctx *ctx, const char *file, const char *buf, size_t len,
	       struct yaml_doc **ret);

void yaml_doc_free(struct yaml_doc *doc);
DEFINE_FREEP(struct yaml_doc, yaml_doc_free)

/* True for a plain null scalar: "", "~", "null", "Null", "NULL". */
bool yaml_is_null(const struct yaml_node *n);

/* The value of @key in mapping @map, or NULL. */
struct yaml_node *yaml_map_get(const struct yaml_node *map, const char *key);

static inline const char *yaml_kind_name(enum yaml_kind k)
{
	return k == YAML_SCALAR ? "a scalar" : k == YAML_SEQUENCE ? "a list" : "a mapping";
}
