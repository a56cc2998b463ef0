/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The YAML node tree, built from libyaml's event stream rather than its
 * document API: we see every node as it is opened, so depth, node count and
 * alias expansion are checked before anything is allocated for them, and a
 * hostile document is refused after a bounded amount of work.
 *
 * Aliases share the anchored node instead of copying it. Every node is owned
 * by the document (a flat list freed at the end), so a node reachable twice
 * is still freed once. What is counted against YAML_MAX_NODES is the tree as
 * a consumer walking it will see it, with every alias expanded.
 */
#include <string.h>
#include <yaml.h>

#include "log.h"
#include "strbuf.h"
#include "yaml-tree.h"

/*
 * Scalar bytes that aliases may add on top of the input: a consumer copies
 * the text of every scalar it walks, so one large anchored scalar aliased a
 * million times must be refused as surely as a million small nodes.
 */
#define YAML_MAX_ALIAS_BYTES (64u << 20)

/* In messages, quoted keys and values are cut to this many bytes. */
#define QUOTE_MAX 64

struct doc_priv {
	struct yaml_doc pub; /* first: yaml_doc_free() gets back to us from it */
	struct yaml_node **nodes; /* every node, shared or not, freed once */
	size_t n_nodes, alloc_nodes;
};

/*
 * A set of indices into some array of strings, hashed by the string.
 * Mapping keys and anchor names are attacker-controlled and can number in
 * the hundreds of thousands, so neither may be looked up by a linear scan.
 */
struct hash_slot {
	size_t hash;
	size_t idx1; /* index + 1; 0 for an empty slot */
};

struct hashset {
	struct hash_slot *slots;
	size_t n_slots; /* 0 or a power of two */
	size_t n;
};

struct anchor {
	char *name;
	size_t len;
	struct yaml_node *node;
	size_t weight; /* nodes in the subtree, aliases expanded */
	size_t bytes; /* scalar bytes in the subtree, aliases expanded */
	bool open; /* still being parsed: an alias to it would be a cycle */
};

struct frame {
	struct yaml_node *node;
	size_t alloc; /* room in node->seq.items or node->map.pairs */
	size_t start_count; /* counters when the node was opened */
	size_t start_bytes;
	size_t anchor1; /* index + 1 of the anchor this node defined, or 0 */
	struct hashset keys; /* mappings: the keys seen so far */
};

struct parse_state {
	struct kiln_ctx *ctx;
	const char *file;
	const char *buf;
	size_t len;
	struct doc_priv *doc;
	struct frame stack[YAML_MAX_DEPTH];
	size_t depth;
	struct anchor *anchors;
	size_t n_anchors, alloc_anchors;
	struct hashset anchor_set;
	size_t n_expanded; /* nodes so far, aliases expanded */
	size_t n_bytes; /* scalar bytes so far, aliases expanded */
	size_t alias_bytes; /* of which added by aliases */
	unsigned n_docs;
};

static size_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 29));
}

typedef bool (*hash_eq_fn)(const void *userdata, size_t idx, const char *s, size_t len);

/* The index stored for @s, or SIZE_MAX. */
static size_t hashset_find(const struct hashset *h, size_t hash, const char *s, size_t len,
			   hash_eq_fn eq, const void *userdata)
{
	if (!h->n_slots)
		return SIZE_MAX;
	for (size_t i = hash & (h->n_slots - 1);; i = (i + 1) & (h->n_slots - 1)) {
		const struct hash_slot *slot = &h->slots[i];

		if (!slot->idx1)
			return SIZE_MAX;
		if (slot->hash == hash && eq(userdata, slot->idx1 - 1, s, len))
			return slot->idx1 - 1;
	}
}

static void hashset_put(struct hash_slot *slots, size_t n_slots, size_t hash, size_t idx1)
{
	size_t i = hash & (n_slots - 1);

	while (slots[i].idx1)
		i = (i + 1) & (n_slots - 1);
	slots[i] = (struct hash_slot){ hash, idx1 };
}

/* Add @idx under @hash; the caller has checked that its string is not there yet. */
static int hashset_add(struct hashset *h, size_t hash, size_t idx)
{
	if ((h->n + 1) * 2 > h->n_slots) {
		size_t n = h->n_slots ? h->n_slots * 2 : 16;
		struct hash_slot *slots;

		if (n > SIZE_MAX / sizeof(*slots))
			return -ENOMEM;
		slots = calloc(n, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (size_t i = 0; i < h->n_slots; i++)
			if (h->slots[i].idx1)
				hashset_put(slots, n, h->slots[i].hash, h->slots[i].idx1);
		free(h->slots);
		h->slots = slots;
		h->n_slots = n;
	}
	hashset_put(h->slots, h->n_slots, hash, idx + 1);
	h->n++;
	return 0;
}

static void hashset_release(struct hashset *h)
{
	free(h->slots);
	*h = (struct hashset){ 0 };
}

static char *escape(const char *s, size_t len)
{
	return quote_for_message(s, len, QUOTE_MAX);
}

static int error_at_mark(struct parse_state *st, int err, const yaml_mark_t *mark, const char *fmt,
			 ...) _printf_(4, 5);

static int error_at_mark(struct parse_state *st, int err, const yaml_mark_t *mark, const char *fmt,
			 ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return kiln_error_at(st->ctx, err, st->file, (unsigned)mark->line + 1,
			     (unsigned)mark->column + 1, "%s", strbuf_str(&sb));
}

static void doc_priv_free(struct doc_priv *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_nodes; i++) {
		struct yaml_node *n = d->nodes[i];

		if (n->kind == YAML_SCALAR)
			free(n->scalar.text);
		else if (n->kind == YAML_SEQUENCE)
			free(n->seq.items);
		else
			free(n->map.pairs);
		free(n);
	}
	free(d->nodes);
	free(d->pub.file);
	free(d);
}

void yaml_doc_free(struct yaml_doc *doc)
{
	/* pub is the first member of every doc yaml_parse() hands out */
	doc_priv_free((struct doc_priv *)doc);
}

static void parse_state_release(struct parse_state *st)
{
	for (size_t i = 0; i < st->depth; i++)
		hashset_release(&st->stack[i].keys);
	for (size_t i = 0; i < st->n_anchors; i++)
		free(st->anchors[i].name);
	free(st->anchors);
	hashset_release(&st->anchor_set);
	doc_priv_free(st->doc);
}

static bool anchor_eq(const void *userdata, size_t idx, const char *s, size_t len)
{
	const struct parse_state *st = userdata;

	return st->anchors[idx].len == len && memcmp(st->anchors[idx].name, s, len) == 0;
}

static bool key_eq(const void *userdata, size_t idx, const char *s, size_t len)
{
	const struct yaml_node *map = userdata;
	const struct yaml_node *k = map->map.pairs[idx].key;

	return k->scalar.len == len && memcmp(k->scalar.text, s, len) == 0;
}

static int count_nodes(struct parse_state *st, size_t weight, size_t bytes, bool alias,
		       const yaml_mark_t *mark)
{
	if (weight > YAML_MAX_NODES - st->n_expanded)
		return error_at_mark(st, -EINVAL, mark,
				     "document has more than %d nodes%s; refusing to parse it",
				     YAML_MAX_NODES, alias ? " with its aliases expanded" : "");
	st->n_expanded += weight;
	if (alias) {
		if (bytes > YAML_MAX_ALIAS_BYTES - st->alias_bytes)
			return error_at_mark(st, -EINVAL, mark,
					     "aliases expand to more than %u MiB of text; refusing "
					     "to parse the document",
					     YAML_MAX_ALIAS_BYTES >> 20);
		st->alias_bytes += bytes;
	}
	st->n_bytes += bytes;
	return 0;
}

static int new_node(struct parse_state *st, enum yaml_kind kind, const yaml_mark_t *mark,
		    struct yaml_node **ret)
{
	struct yaml_node *n;
	int r;

	r = GROW(st->doc->nodes, st->doc->alloc_nodes, st->doc->n_nodes + 1);
	if (r < 0)
		return kiln_error(st->ctx, r, "out of memory parsing %s", st->file);
	n = calloc(1, sizeof(*n));
	if (!n)
		return kiln_error(st->ctx, -ENOMEM, "out of memory parsing %s", st->file);
	n->kind = kind;
	n->line = (unsigned)mark->line + 1;
	n->col = (unsigned)mark->column + 1;
	st->doc->nodes[st->doc->n_nodes++] = n;
	*ret = n;
	return 0;
}

/* Register anchor @name for @node; a later anchor of the same name replaces an earlier one. */
static int define_anchor(struct parse_state *st, const yaml_char_t *name, struct yaml_node *node,
			 bool open, size_t *ret_idx)
{
	size_t len = strlen((const char *)name), hash = hash_bytes((const char *)name, len), idx;
	struct anchor *a;
	int r;

	idx = hashset_find(&st->anchor_set, hash, (const char *)name, len, anchor_eq, st);
	if (idx == SIZE_MAX) {
		r = GROW(st->anchors, st->alloc_anchors, st->n_anchors + 1);
		if (r < 0)
			return kiln_error(st->ctx, r, "out of memory parsing %s", st->file);
		idx = st->n_anchors;
		a = &st->anchors[idx];
		*a = (struct anchor){ .len = len };
		a->name = strndup((const char *)name, len);
		if (!a->name)
			return kiln_error(st->ctx, -ENOMEM, "out of memory parsing %s", st->file);
		st->n_anchors++;
		r = hashset_add(&st->anchor_set, hash, idx);
		if (r < 0)
			return kiln_error(st->ctx, r, "out of memory parsing %s", st->file);
	}
	a = &st->anchors[idx];
	a->node = node;
	a->open = open;
	a->weight = 1;
	a->bytes = node->kind == YAML_SCALAR ? node->scalar.len : 0;
	*ret_idx = idx;
	return 0;
}

/*
 * Attach @n to the innermost open container, or make it the root. @n is a
 * mapping key when the innermost container is a mapping whose last pair has
 * no value yet.
 */
static int attach(struct parse_state *st, struct yaml_node *n, const yaml_mark_t *mark)
{
	struct frame *f;
	struct yaml_node *p;
	int r;

	if (st->depth == 0) {
		st->doc->pub.root = n;
		return 0;
	}
	f = &st->stack[st->depth - 1];
	p = f->node;
	if (p->kind == YAML_SEQUENCE) {
		r = GROW(p->seq.items, f->alloc, p->seq.n + 1);
		if (r < 0)
			return kiln_error(st->ctx, r, "out of memory parsing %s", st->file);
		p->seq.items[p->seq.n++] = n;
		return 0;
	}
	if (p->map.n > 0 && !p->map.pairs[p->map.n - 1].value) {
		p->map.pairs[p->map.n - 1].value = n;
		return 0;
	}

	/* a new key */
	if (n->kind != YAML_SCALAR)
		return error_at_mark(st, -EINVAL, mark,
				     "mapping keys must be scalars, got %s; quote the key",
				     yaml_kind_name(n->kind));

	size_t hash = hash_bytes(n->scalar.text, n->scalar.len);
	size_t dup = hashset_find(&f->keys, hash, n->scalar.text, n->scalar.len, key_eq, p);

	if (dup != SIZE_MAX) {
		_cleanup_free_ char *q = escape(n->scalar.text, n->scalar.len);

		return error_at_mark(st, -EINVAL, mark,
				     "mapping key \"%s\" already defined at line %u", strempty(q),
				     p->map.pairs[dup].key->line);
	}
	r = GROW(p->map.pairs, f->alloc, p->map.n + 1);
	if (r < 0)
		return kiln_error(st->ctx, r, "out of memory parsing %s", st->file);
	r = hashset_add(&f->keys, hash, p->map.n);
	if (r < 0)
		return kiln_error(st->ctx, r, "out of memory parsing %s", st->file);
	p->map.pairs[p->map.n++] = (struct yaml_pair){ n, NULL };
	return 0;
}

static int on_scalar(struct parse_state *st, yaml_event_t *ev)
{
	size_t len = ev->data.scalar.length;
	struct yaml_node *n;
	int r;

	r = count_nodes(st, 1, len, false, &ev->start_mark);
	if (r < 0)
		return r;
	r = new_node(st, YAML_SCALAR, &ev->start_mark, &n);
	if (r < 0)
		return r;
	n->scalar.text = malloc(len + 1);
	if (!n->scalar.text)
		return kiln_error(st->ctx, -ENOMEM, "out of memory parsing %s", st->file);
	memcpy(n->scalar.text, ev->data.scalar.value, len);
	n->scalar.text[len] = '\0';
	n->scalar.len = len;
	n->scalar.plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (ev->data.scalar.anchor) {
		size_t idx;

		r = define_anchor(st, ev->data.scalar.anchor, n, false, &idx);
		if (r < 0)
			return r;
	}
	return attach(st, n, &ev->start_mark);
}

static int on_alias(struct parse_state *st, yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t len = strlen(name);
	size_t idx = hashset_find(&st->anchor_set, hash_bytes(name, len), name, len, anchor_eq, st);
	const struct anchor *a;
	int r;

	if (idx == SIZE_MAX) {
		_cleanup_free_ char *q = escape(name, len);

		return error_at_mark(st, -EINVAL, &ev->start_mark,
				     "unknown anchor \"%s\" referenced; define it with &%s before "
				     "using it",
				     strempty(q), strempty(q));
	}
	a = &st->anchors[idx];
	if (a->open) {
		_cleanup_free_ char *q = escape(name, len);

		return error_at_mark(st, -EINVAL, &ev->start_mark,
				     "anchor \"%s\" value contains itself", strempty(q));
	}
	r = count_nodes(st, a->weight, a->bytes, true, &ev->start_mark);
	if (r < 0)
		return r;
	return attach(st, a->node, &ev->start_mark);
}

static int on_start(struct parse_state *st, yaml_event_t *ev, enum yaml_kind kind)
{
	const yaml_char_t *anchor = kind == YAML_SEQUENCE ? ev->data.sequence_start.anchor
							  : ev->data.mapping_start.anchor;
	struct yaml_node *n;
	struct frame *f;
	int r;

	if (st->depth >= YAML_MAX_DEPTH)
		return error_at_mark(st, -EINVAL, &ev->start_mark,
				     "nesting deeper than %d levels; refusing to parse the "
				     "document",
				     YAML_MAX_DEPTH);
	r = count_nodes(st, 1, 0, false, &ev->start_mark);
	if (r < 0)
		return r;
	r = new_node(st, kind, &ev->start_mark, &n);
	if (r < 0)
		return r;
	/* attach first: a key that is a container is refused before we descend into it */
	r = attach(st, n, &ev->start_mark);
	if (r < 0)
		return r;
	f = &st->stack[st->depth++];
	*f = (struct frame){ .node = n, .start_count = st->n_expanded - 1,
			     .start_bytes = st->n_bytes };
	if (anchor) {
		size_t idx;

		r = define_anchor(st, anchor, n, true, &idx);
		if (r < 0)
			return r;
		f->anchor1 = idx + 1;
	}
	return 0;
}

static int on_end(struct parse_state *st)
{
	struct frame *f;

	/* libyaml pairs every end with a start; anything else is its bug, not the input's */
	if (st->depth == 0)
		return kiln_error(st->ctx, -EINVAL, "%s: unbalanced YAML event stream", st->file);
	f = &st->stack[--st->depth];
	if (f->anchor1) {
		struct anchor *a = &st->anchors[f->anchor1 - 1];

		/* unless an anchor of the same name defined inside the node took it over */
		if (a->node == f->node) {
			a->open = false;
			a->weight = st->n_expanded - f->start_count;
			a->bytes = st->n_bytes - f->start_bytes;
		}
	}
	hashset_release(&f->keys);
	return 0;
}

/* The line and column (1-based, in characters) of byte @off of the input. */
static void offset_to_pos(const char *buf, size_t len, size_t off, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

/* The byte at 0-based @line, @column (in characters) of the input, or -1. */
static int byte_at(const char *buf, size_t len, size_t line, size_t column)
{
	size_t i = 0;

	for (; line > 0 && i < len; i++)
		if (buf[i] == '\n')
			line--;
	for (; i < len; i++) {
		if (buf[i] == '\n')
			return -1;
		if (((unsigned char)buf[i] & 0xc0) == 0x80)
			continue;
		if (column-- == 0)
			return (unsigned char)buf[i];
	}
	return -1;
}

static int parser_error(struct parse_state *st, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	const char *hint = "";
	unsigned line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return kiln_error(st->ctx, -ENOMEM, "out of memory parsing %s", st->file);
	case YAML_READER_ERROR:
		offset_to_pos(st->buf, st->len, p->problem_offset, &line, &col);
		if (p->problem_value >= 0)
			return kiln_error_at(st->ctx, -EINVAL, st->file, line, col,
					     "invalid YAML: %s (byte 0x%02x); the file must be "
					     "UTF-8 text",
					     problem, (unsigned)p->problem_value & 0xff);
		return kiln_error_at(st->ctx, -EINVAL, st->file, line, col,
				     "invalid YAML: %s; the file must be UTF-8 text", problem);
	default:
		break;
	}

	line = (unsigned)p->problem_mark.line + 1;
	col = (unsigned)p->problem_mark.column + 1;
	if (byte_at(st->buf, st->len, p->problem_mark.line, p->problem_mark.column) == '\t')
		hint = "; YAML indents with spaces, not tabs";
	if (p->context)
		return kiln_error_at(st->ctx, -EINVAL, st->file, line, col,
				     "invalid YAML: %s (%s that starts at %u:%u)%s", problem,
				     p->context, (unsigned)p->context_mark.line + 1,
				     (unsigned)p->context_mark.column + 1, hint);
	return kiln_error_at(st->ctx, -EINVAL, st->file, line, col, "invalid YAML: %s%s", problem,
			     hint);
}

static int on_event(struct parse_state *st, yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++st->n_docs > 1)
			return error_at_mark(st, -EINVAL, &ev->start_mark,
					     "more than one YAML document; a file holds exactly "
					     "one (remove the extra '---')");
		return 0;
	case YAML_SCALAR_EVENT:
		return on_scalar(st, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(st, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(st, ev, YAML_SEQUENCE);
	case YAML_MAPPING_START_EVENT:
		return on_start(st, ev, YAML_MAPPING);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(st);
	default:
		return 0;
	}
}

static void parser_freep(yaml_parser_t **p)
{
	if (*p)
		yaml_parser_delete(*p);
}

int yaml_parse(struct kiln_ctx *ctx, const char *file, const char *buf, size_t len,
	       struct yaml_doc **ret)
{
	_cleanup_(parse_state_release) struct parse_state st = {
		/* libyaml asserts on a NULL input, even an empty one */
		.ctx = ctx, .file = strempty(file), .buf = buf ? buf : "", .len = buf ? len : 0,
	};
	yaml_parser_t parser;
	_cleanup_(parser_freep) yaml_parser_t *p = NULL;
	struct yaml_node *root;
	int r;

	st.doc = calloc(1, sizeof(*st.doc));
	if (!st.doc)
		return kiln_error(ctx, -ENOMEM, "out of memory parsing %s", st.file);
	st.doc->pub.file = strdup(st.file);
	if (!st.doc->pub.file)
		return kiln_error(ctx, -ENOMEM, "out of memory parsing %s", st.file);
	if (!yaml_parser_initialize(&parser))
		return kiln_error(ctx, -ENOMEM, "out of memory parsing %s", st.file);
	p = &parser;
	yaml_parser_set_input_string(p, (const unsigned char *)st.buf, st.len);

	for (;;) {
		_cleanup_(yaml_event_delete) yaml_event_t ev = { 0 };

		if (!yaml_parser_parse(p, &ev))
			return parser_error(&st, p);
		if (ev.type == YAML_STREAM_END_EVENT)
			break;
		r = on_event(&st, &ev);
		if (r < 0)
			return r;
	}

	/* "---" alone, or a document of nothing but comments, is empty rather than a "" */
	root = st.doc->pub.root;
	if (root && root->kind == YAML_SCALAR && root->scalar.plain && root->scalar.len == 0)
		st.doc->pub.root = NULL;
	*ret = &TAKE_PTR(st.doc)->pub;
	return 0;
}

bool yaml_is_null(const struct yaml_node *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (!n || n->kind != YAML_SCALAR || !n->scalar.plain)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(nulls); i++)
		if (n->scalar.len == strlen(nulls[i]) &&
		    memcmp(n->scalar.text, nulls[i], n->scalar.len) == 0)
			return true;
	return false;
}

struct yaml_node *yaml_map_get(const struct yaml_node *map, const char *key)
{
	size_t len;

	if (!map || map->kind != YAML_MAPPING || !key)
		return NULL;
	len = strlen(key);
	for (size_t i = 0; i < map->map.n; i++) {
		const struct yaml_node *k = map->map.pairs[i].key;

		if (k->scalar.len == len && memcmp(k->scalar.text, key, len) == 0)
			return map->map.pairs[i].value;
	}
	return NULL;
}
