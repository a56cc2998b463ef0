/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A lint of udev rules files, read the way systemd-udevd reads them
 * (src/udev/udev-rules.c: udev_rules_parse_file, parse_line, parse_token).
 * udevd drops a rule it cannot parse with one line in the journal, at boot,
 * on the machine; this says so at build time, with line and column, and
 * what to write instead. It is a lint, not a second udevd: values are not
 * checked beyond their quoting, nor users, groups or builtins resolved.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/ext.h>

#include "log.h"
#include "strbuf.h"

#define UDEV_LINE_SIZE 16384 /* udevd ignores a rule this long or longer */

enum {
	OP_MATCH = 1 << 0, /* == */
	OP_NOMATCH = 1 << 1, /* != */
	OP_ASSIGN = 1 << 2, /* = */
	OP_ADD = 1 << 3, /* += */
	OP_REMOVE = 1 << 4, /* -= */
	OP_ASSIGN_FINAL = 1 << 5, /* := */
};

#define OPS_MATCH (OP_MATCH | OP_NOMATCH)
#define OPS_ALL (OPS_MATCH | OP_ASSIGN | OP_ADD | OP_REMOVE | OP_ASSIGN_FINAL)

static const struct {
	unsigned op;
	const char *text;
} operators[] = {
	/* in the order udevd tries them */
	{ OP_MATCH, "==" },  { OP_NOMATCH, "!=" }, { OP_ADD, "+=" },
	{ OP_REMOVE, "-=" }, { OP_ASSIGN, "=" },   { OP_ASSIGN_FINAL, ":=" },
};

enum attr_rule {
	ATTR_NONE, /* KEY=="v" */
	ATTR_NEEDED, /* KEY{attr}=="v" */
	ATTR_OPTIONAL,
};

struct udev_key {
	const char *name;
	enum attr_rule attr;
	const char *const *attrs; /* the attributes it takes; NULL: any */
	unsigned ops; /* the operators it takes as written */
	unsigned ops_as_assign; /* taken with a warning, as '=' */
	bool no_case_prefix; /* refuses i"..." */
	const char *example;
};

static const char *const const_attrs[] = { "arch", "virt", NULL };
static const char *const import_attrs[] = { "file",    "program", "builtin", "db",
					    "cmdline", "parent",  NULL };
static const char *const run_attrs[] = { "program", "builtin", NULL };

/* parse_token() of udev-rules.c, key by key */
static const struct udev_key udev_keys[] = {
	{ "ACTION", ATTR_NONE, NULL, OPS_MATCH, 0, false, "ACTION==\"add\"" },
	{ "DEVPATH", ATTR_NONE, NULL, OPS_MATCH, 0, false, "DEVPATH==\"/devices/*\"" },
	{ "KERNEL", ATTR_NONE, NULL, OPS_MATCH, 0, false, "KERNEL==\"sd*\"" },
	{ "SYMLINK", ATTR_NONE, NULL, OPS_ALL, 0, false, "SYMLINK+=\"name\"" },
	{ "NAME", ATTR_NONE, NULL, OPS_MATCH | OP_ASSIGN | OP_ASSIGN_FINAL, OP_ADD, false,
	  "NAME=\"eth0\"" },
	{ "ENV", ATTR_NEEDED, NULL, OPS_MATCH | OP_ASSIGN | OP_ADD, OP_ASSIGN_FINAL, false,
	  "ENV{ID_FOO}=\"1\"" },
	{ "CONST", ATTR_NEEDED, const_attrs, OPS_MATCH, 0, false, "CONST{arch}==\"x86-64\"" },
	{ "TAG", ATTR_NONE, NULL, OPS_MATCH | OP_ASSIGN | OP_ADD | OP_REMOVE, OP_ASSIGN_FINAL,
	  false, "TAG+=\"uaccess\"" },
	{ "SUBSYSTEM", ATTR_NONE, NULL, OPS_MATCH, 0, false, "SUBSYSTEM==\"usb\"" },
	{ "DRIVER", ATTR_NONE, NULL, OPS_MATCH, 0, false, "DRIVER==\"hailo\"" },
	{ "ATTR", ATTR_NEEDED, NULL, OPS_MATCH | OP_ASSIGN, OP_ADD | OP_ASSIGN_FINAL, false,
	  "ATTR{power/control}=\"auto\"" },
	{ "SYSCTL", ATTR_NEEDED, NULL, OPS_MATCH | OP_ASSIGN, OP_ADD | OP_ASSIGN_FINAL, false,
	  "SYSCTL{net.ipv4.ip_forward}=\"1\"" },
	{ "KERNELS", ATTR_NONE, NULL, OPS_MATCH, 0, false, "KERNELS==\"0000:01:00.0\"" },
	{ "SUBSYSTEMS", ATTR_NONE, NULL, OPS_MATCH, 0, false, "SUBSYSTEMS==\"pci\"" },
	{ "DRIVERS", ATTR_NONE, NULL, OPS_MATCH, 0, false, "DRIVERS==\"usb\"" },
	{ "ATTRS", ATTR_NEEDED, NULL, OPS_MATCH, 0, false, "ATTRS{idVendor}==\"1e60\"" },
	{ "TAGS", ATTR_NONE, NULL, OPS_MATCH, 0, false, "TAGS==\"systemd\"" },
	{ "TEST", ATTR_OPTIONAL, NULL, OPS_MATCH, 0, true, "TEST{0644}==\"/dev/foo\"" },
	/* PROGRAM and IMPORT take an assignment as a match, without a word */
	{ "PROGRAM", ATTR_NONE, NULL, OPS_MATCH | OP_ASSIGN | OP_ADD | OP_ASSIGN_FINAL, 0, true,
	  "PROGRAM==\"/bin/true\"" },
	{ "IMPORT", ATTR_NEEDED, import_attrs, OPS_MATCH | OP_ASSIGN | OP_ADD | OP_ASSIGN_FINAL, 0,
	  true, "IMPORT{builtin}=\"path_id\"" },
	{ "RESULT", ATTR_NONE, NULL, OPS_MATCH, 0, false, "RESULT==\"1\"" },
	{ "OPTIONS", ATTR_NONE, NULL, OP_ASSIGN | OP_ADD | OP_ASSIGN_FINAL, 0, false,
	  "OPTIONS+=\"watch\"" },
	{ "OWNER", ATTR_NONE, NULL, OP_ASSIGN | OP_ASSIGN_FINAL, OP_ADD, false, "OWNER=\"root\"" },
	{ "GROUP", ATTR_NONE, NULL, OP_ASSIGN | OP_ASSIGN_FINAL, OP_ADD, false, "GROUP=\"video\"" },
	{ "MODE", ATTR_NONE, NULL, OP_ASSIGN | OP_ASSIGN_FINAL, OP_ADD, false, "MODE=\"0660\"" },
	{ "SECLABEL", ATTR_NEEDED, NULL, OP_ASSIGN | OP_ADD, OP_ASSIGN_FINAL, false,
	  "SECLABEL{selinux}=\"label\"" },
	{ "RUN", ATTR_OPTIONAL, run_attrs, OP_ASSIGN | OP_ADD | OP_ASSIGN_FINAL, 0, false,
	  "RUN+=\"/usr/bin/foo\"" },
	{ "GOTO", ATTR_NONE, NULL, OP_ASSIGN, 0, false, "GOTO=\"end\"" },
	{ "LABEL", ATTR_NONE, NULL, OP_ASSIGN, 0, false, "LABEL=\"end\"" },
};

/* udevd's OPTIONS values; one with "=" takes an argument */
static const char *const udev_options[] = {
	"dump",	   "string_escape=none", "string_escape=replace", "db_persist", "watch",
	"nowatch", "static_node=",	 "link_priority=",	  "log_level=",
};

/* Where a byte of the joined rule came from. */
struct segment {
	size_t off; /* in the joined rule */
	unsigned line, col;
};

struct label {
	char *name;
	unsigned rule; /* index of the rule, in file order */
};

struct lint {
	struct kiln_ctx *ctx;
	const char *file;
	unsigned problems;

	/* the rule being read: its text and where its pieces came from */
	struct strbuf rule;
	struct segment *segs;
	size_t n_segs, alloc_segs;
	unsigned n_rules;

	/* LABEL= of kept rules, and GOTO= to resolve against them at the end */
	struct label *labels, *gotos;
	size_t n_labels, alloc_labels, n_gotos, alloc_gotos;
	struct segment *goto_pos;
	size_t alloc_goto_pos;
};

_printf_(4, 5) static void problem(struct lint *l, unsigned line, unsigned col, const char *fmt,
				   ...)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	(void)strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	kiln_warn_at(l->ctx, l->file, line, col, "%s", sb.len ? strbuf_str(&sb) : fmt);
	l->problems++;
}

/*
 * The file position of byte @off of the joined rule: in the last segment
 * that starts at or before it. Segments are in rule order, and a rule may
 * have very many (each line continued with a backslash is one, even an
 * empty one), so it is searched.
 */
static struct segment position(const struct lint *l, size_t off)
{
	size_t lo = 1, hi = l->n_segs;

	/* the first segment past @off, at least the second */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->segs[mid].off > off)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (struct segment){ off, l->segs[lo - 1].line,
				 l->segs[lo - 1].col + (unsigned)(off - l->segs[lo - 1].off) };
}

#define problem_at(l, off, ...)                             \
	do {                                                \
		struct segment _s = position((l), (off));   \
		problem((l), _s.line, _s.col, __VA_ARGS__); \
	} while (0)

static const struct udev_key *find_key(const char *name, size_t len)
{
	for (size_t i = 0; i < ELEMENTSOF(udev_keys); i++)
		if (strlen(udev_keys[i].name) == len && memcmp(udev_keys[i].name, name, len) == 0)
			return &udev_keys[i];
	return NULL;
}

/* Edit distance of two short strings, case-insensitively; capped at 9. */
static unsigned distance(const char *a, size_t na, const char *b)
{
	unsigned row[16], nb = (unsigned)strlen(b);

	if (na > 15 || nb > 15)
		return 9;
	for (unsigned j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		unsigned diag = row[0], tmp;

		row[0] = (unsigned)i;
		for (unsigned j = 1; j <= nb; j++) {
			unsigned best = diag + (toupper((unsigned char)a[i - 1]) != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			diag = tmp;
		}
	}
	return row[nb];
}

/* The known key @name (@len bytes) was probably meant to be, or NULL. */
static const struct udev_key *closest_key(const char *name, size_t len)
{
	const struct udev_key *best = NULL;
	unsigned best_d = len <= 4 ? 1 : 2;

	for (size_t i = 0; i < ELEMENTSOF(udev_keys); i++) {
		unsigned d = distance(name, len, udev_keys[i].name);

		if (d <= best_d && (!best || d < best_d)) {
			best = &udev_keys[i];
			best_d = d;
		}
	}
	return best;
}

/* "'==' or '!='" for an operator mask. */
static void describe_ops(char *buf, size_t size, unsigned ops)
{
	static const unsigned order[] = { OP_MATCH, OP_NOMATCH, OP_ASSIGN,
					  OP_ADD,   OP_REMOVE,	OP_ASSIGN_FINAL };
	unsigned n = 0, total = (unsigned)__builtin_popcount(ops);
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ELEMENTSOF(order); i++) {
		const char *text = NULL;

		if (!(ops & order[i]))
			continue;
		for (size_t j = 0; j < ELEMENTSOF(operators); j++)
			if (operators[j].op == order[i])
				text = operators[j].text;
		n++;
		used += (size_t)snprintf(buf + used, size - used, "%s'%s'",
					 n == 1	      ? ""
					 : n == total ? " or "
						      : ", ",
					 text);
		if (used >= size)
			return;
	}
}

static const char *op_text(unsigned op)
{
	for (size_t i = 0; i < ELEMENTSOF(operators); i++)
		if (operators[i].op == op)
			return operators[i].text;
	return "?";
}

static bool in_list(const char *const *list, const char *s, size_t len)
{
	for (; *list; list++)
		if (strlen(*list) == len && memcmp(*list, s, len) == 0)
			return true;
	return false;
}

static bool is_octal_mode(const char *s, size_t len)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '7')
			return false;
		v = v * 8 + (unsigned long)(s[i] - '0');
	}
	return v <= 07777;
}

static bool is_known_option(const char *v, size_t len)
{
	for (size_t i = 0; i < ELEMENTSOF(udev_options); i++) {
		size_t n = strlen(udev_options[i]);

		if (udev_options[i][n - 1] == '=' ? len >= n && memcmp(v, udev_options[i], n) == 0
						  : len == n && memcmp(v, udev_options[i], n) == 0)
			return true;
	}
	return false;
}

static int add_label(struct label **list, size_t *n, size_t *alloc, const char *name, size_t len,
		     unsigned rule)
{
	char *copy = strndup(name, len);

	if (!copy || GROW(*list, *alloc, *n + 1) < 0) {
		free(copy);
		return -ENOMEM;
	}
	(*list)[(*n)++] = (struct label){ copy, rule };
	return 0;
}

/* One KEY{attr}OP"value" pair, already split; what udevd's parse_token() would refuse. */
struct pair {
	size_t key, key_len; /* offsets in the joined rule */
	size_t attr, attr_len;
	bool has_attr;
	size_t op_off;
	unsigned op;
	bool case_prefix; /* i"..." */
	size_t prefix; /* where e/i or the opening quote is */
	size_t value, value_len; /* inside the quotes */
};

/* Say that udevd does not know the key of @p, and which key was likely meant. */
static void unknown_key(struct lint *l, const struct pair *p)
{
	const char *key = l->rule.buf + p->key;
	int klen = (int)p->key_len;
	const struct udev_key *hint = closest_key(key, p->key_len);

	if (p->key_len == 0)
		problem_at(l, p->key, "missing key before '%s'", op_text(p->op));
	else if (p->key_len == 8 && memcmp(key, "WAIT_FOR", 8) == 0)
		problem_at(l, p->key,
			   "unknown key WAIT_FOR: udev no longer has it; udevd ignores this rule "
			   "(use TEST==\"...\" to test for a file)");
	else if (hint)
		problem_at(l, p->key, "unknown key \"%.*s\"; did you mean %s? (%s)", klen, key,
			   hint->name, hint->example);
	else
		problem_at(l, p->key, "unknown key \"%.*s\"; udevd ignores this rule", klen, key);
}

/* Check the {attribute} of @p against key @k; returns whether udevd accepts it. */
static bool check_attr(struct lint *l, const struct udev_key *k, const struct pair *p)
{
	const char *attr = l->rule.buf + p->attr;
	int alen = (int)p->attr_len;

	if (k->attr == ATTR_NONE && p->has_attr) {
		problem_at(l, p->attr - 1, "%s takes no {attribute}: write %s", k->name,
			   k->example);
		return false;
	}
	if (k->attr == ATTR_NEEDED && (!p->has_attr || p->attr_len == 0)) {
		problem_at(l, p->has_attr ? p->attr - 1 : p->key + p->key_len,
			   "%s needs an {attribute}: write %s", k->name, k->example);
		return false;
	}
	if (p->has_attr && k->attrs && !in_list(k->attrs, attr, p->attr_len)) {
		_cleanup_strbuf_ struct strbuf names = STRBUF_INIT;

		for (const char *const *a = k->attrs; *a; a++)
			strbuf_addf(&names, "%s%s", a == k->attrs ? "" : a[1] ? ", " : " or ", *a);
		problem_at(l, p->attr, "%s{%.*s}: the attribute of %s is %s", k->name, alen, attr,
			   k->name, strbuf_str(&names));
		return false;
	}
	if (streq(k->name, "TEST") && p->has_attr && p->attr_len > 0 &&
	    !is_octal_mode(attr, p->attr_len)) {
		problem_at(l, p->attr,
			   "TEST{%.*s}: the attribute of TEST is an octal file mode, "
			   "as in TEST{0644}",
			   alen, attr);
		return false;
	}
	return true;
}

/* Check the operator of @p and its i"" prefix against key @k; returns whether udevd takes them. */
static bool check_operator(struct lint *l, const struct udev_key *k, const struct pair *p)
{
	char ops[64];

	if (!(p->op & (k->ops | k->ops_as_assign))) {
		describe_ops(ops, sizeof(ops), k->ops);
		problem_at(l, p->op_off, "%s takes %s, not '%s'", k->name, ops, op_text(p->op));
		return false;
	}
	if (p->op & k->ops_as_assign) {
		describe_ops(ops, sizeof(ops), k->ops);
		problem_at(l, p->op_off, "%s takes %s; udevd reads '%s' as '='", k->name, ops,
			   op_text(p->op));
	}
	if (p->case_prefix && k->no_case_prefix) {
		problem_at(l, p->prefix, "%s does not take the i\"\" prefix (case-insensitive)",
			   k->name);
		return false;
	}
	return true;
}

/*
 * Check a pair against the key's rules; returns whether udevd keeps the
 * rule, and sets *@effect when the pair makes the rule do something.
 */
static bool check_pair(struct lint *l, const struct pair *p, bool *effect)
{
	const char *value = l->rule.buf + p->value;
	const struct udev_key *k = find_key(l->rule.buf + p->key, p->key_len);
	bool is_match = p->op & OPS_MATCH;

	if (!k) {
		unknown_key(l, p);
		return false;
	}

	if (p->case_prefix && !is_match) {
		problem_at(l, p->prefix,
			   "%s: the i\"\" prefix (case-insensitive) is only for '==' and '!='",
			   k->name);
		return false;
	}

	/* udevd checks the attribute first, then the operator */
	if (!check_attr(l, k, p) || !check_operator(l, k, p))
		return false;

	if (streq(k->name, "OPTIONS") && !is_known_option(value, p->value_len)) {
		problem_at(l, p->value,
			   "unknown OPTIONS value \"%.*s\"; udevd ignores it (known: "
			   "dump, string_escape=none|replace, db_persist, watch, nowatch, "
			   "static_node=, link_priority=, log_level=)",
			   (int)p->value_len, value);
		return true;
	}
	if (streq(k->name, "NAME") && !is_match &&
	    (p->value_len == 0 || (p->value_len == 2 && memcmp(value, "%k", 2) == 0))) {
		problem_at(l, p->value, "NAME=\"%.*s\" has no effect; udevd ignores this rule",
			   (int)p->value_len, value);
		return false;
	}

	if (!is_match || streq(k->name, "PROGRAM") || streq(k->name, "IMPORT"))
		*effect = true;
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Skip the blanks and commas at *@pos; returns how many commas there were. */
static size_t skip_separators(const struct lint *l, size_t *pos)
{
	const char *s = l->rule.buf;
	size_t n = l->rule.len, i = *pos, commas = 0;

	while (i < n && (is_space(s[i]) || s[i] == ',')) {
		if (s[i] == ',')
			commas++;
		i++;
	}
	*pos = i;
	return commas;
}

/*
 * The key of the pair at @p->key. It ends at a blank, '=', '{' or an
 * operator; and at a '"', which udevd would take into the key, to say what
 * is missing. Returns false when the rest of the rule is all key (said).
 */
static bool read_key(struct lint *l, struct pair *p)
{
	const char *s = l->rule.buf;
	size_t n = l->rule.len, i = p->key, j;

	for (j = i; j < n; j++)
		if (is_space(s[j]) || s[j] == '=' || s[j] == '{' || s[j] == '"' ||
		    (strchr("+-!:", s[j]) && j + 1 < n && s[j + 1] == '='))
			break;
	if (j >= n) {
		problem_at(l, i,
			   "\"%.*s\" is not a KEY==\"value\" pair; udevd ignores this "
			   "rule",
			   (int)(n - i), s + i);
		return false;
	}
	p->key_len = j - i;
	return true;
}

/* The {attribute} at *@pos, if there is one; false when it is not closed (said). */
static bool read_attr(struct lint *l, struct pair *p, size_t *pos)
{
	const char *s = l->rule.buf, *close;
	size_t n = l->rule.len, j = *pos;

	if (s[j] != '{')
		return true;
	close = memchr(s + j + 1, '}', n - j - 1);
	if (!close) {
		problem_at(l, j, "%.*s{: the attribute has no closing '}'", (int)p->key_len,
			   s + p->key);
		return false;
	}
	p->has_attr = true;
	p->attr = j + 1;
	p->attr_len = (size_t)(close - (s + j + 1));
	*pos = (size_t)(close - s) + 1;
	return true;
}

/* The operator after the blanks at *@pos, and the blanks after it; false when none (said). */
static bool read_operator(struct lint *l, struct pair *p, size_t *pos)
{
	const char *s = l->rule.buf;
	size_t n = l->rule.len, j = *pos;

	while (j < n && is_space(s[j]))
		j++;
	p->op_off = j;
	for (size_t o = 0; o < ELEMENTSOF(operators); o++)
		if (n - j >= strlen(operators[o].text) &&
		    memcmp(s + j, operators[o].text, strlen(operators[o].text)) == 0) {
			p->op = operators[o].op;
			break;
		}
	if (!p->op) {
		problem_at(l, j,
			   "%.*s: missing operator; write one of '==', '!=', '=', "
			   "'+=', '-=', ':=' before the value",
			   (int)p->key_len, s + p->key);
		return false;
	}
	j += p->op == OP_ASSIGN ? 1 : 2;
	while (j < n && is_space(s[j]))
		j++;
	*pos = j;
	return true;
}

/* Say that the value at @vstart is not in double quotes, and how it would be. */
static void unquoted_value(struct lint *l, const struct pair *p, size_t vstart)
{
	const char *s = l->rule.buf;
	size_t n = l->rule.len, v = vstart, end = vstart;

	while (end < n && !is_space(s[end]) && s[end] != ',')
		end++;
	/* 'single quotes' are not quotes to udevd */
	if (end - v >= 2 && s[v] == '\'' && s[end - 1] == '\'')
		v++, end--;
	problem_at(l, vstart,
		   "the value of %.*s must be in double quotes: "
		   "%.*s%.*s\"%.*s\"",
		   (int)p->key_len, s + p->key, (int)(p->op_off - p->key), s + p->key,
		   (int)(vstart - p->op_off), s + p->op_off, (int)(end - v), s + v);
}

/*
 * The value at *@pos, up to its closing quote, where *@pos is left. Returns
 * false when it is not a "quoted" string (said).
 */
static bool read_value(struct lint *l, struct pair *p, size_t *pos)
{
	const char *s = l->rule.buf;
	size_t n = l->rule.len, j = *pos, vstart;
	bool escaped = false;

	/* e"..." takes C escapes, i"..." matches case-insensitively; each once */
	vstart = p->prefix = j;
	for (; j < n && s[j] != '"' && j < vstart + 2; j++) {
		if (s[j] == 'e' && !escaped)
			escaped = true;
		else if (s[j] == 'i' && !p->case_prefix)
			p->case_prefix = true;
		else
			break;
	}
	if (j < n && s[j] == '~') {
		problem_at(l, p->op_off,
			   "%.*s: '=~' is not a udev operator; udev matches "
			   "shell globs with '==' (KERNEL==\"sd*\")",
			   (int)p->key_len, s + p->key);
		return false;
	}
	if (j >= n || s[j] != '"') {
		unquoted_value(l, p, vstart);
		return false;
	}
	p->value = ++j;
	for (; j < n && s[j] != '"'; j++)
		if (s[j] == '\\' && j + 1 < n && (escaped || s[j + 1] == '"'))
			j++;
	if (j >= n) {
		problem_at(l, p->value - 1, "the value of %.*s has no closing '\"'",
			   (int)p->key_len, s + p->key);
		return false;
	}
	p->value_len = j - p->value;
	*pos = j;
	return true;
}

/* What read_pair() found. */
enum pair_read {
	PAIR_NONE, /* the rule has no more pairs */
	PAIR_READ,
	PAIR_BROKEN, /* udevd cannot split what follows and ignores the rule (said) */
};

/*
 * Split the pair at *@pos as udevd does into @p (zeroed by the caller), and
 * move *@pos past it. @first: it is the rule's first.
 */
static enum pair_read read_pair(struct lint *l, size_t *pos, bool first, struct pair *p)
{
	const char *s = l->rule.buf;
	size_t commas = skip_separators(l, pos), j;

	if (*pos >= l->rule.len)
		return PAIR_NONE;
	p->key = *pos;
	if (!read_key(l, p))
		return PAIR_BROKEN;
	if (!first && commas == 0)
		problem_at(l, p->key, "missing ',' before %.*s: separate pairs with \", \"",
			   (int)p->key_len, s + p->key);
	j = p->key + p->key_len;
	if (!read_attr(l, p, &j) || !read_operator(l, p, &j) || !read_value(l, p, &j))
		return PAIR_BROKEN;
	*pos = j + 1;
	return PAIR_READ;
}

/* The LABEL and the first GOTO among the pairs of a rule that udevd accepts. */
struct rule_jumps {
	struct pair label, go_to;
	bool has_label, has_goto;
};

static void note_jump(const struct lint *l, const struct pair *p, struct rule_jumps *jumps)
{
	const char *key = l->rule.buf + p->key;

	if (p->key_len == 5 && memcmp(key, "LABEL", 5) == 0) {
		jumps->has_label = true;
		jumps->label = *p;
	} else if (p->key_len == 4 && memcmp(key, "GOTO", 4) == 0 && !jumps->has_goto) {
		jumps->has_goto = true;
		jumps->go_to = *p;
	}
}

/* Record the LABEL and GOTO of rule number @rule, which udevd keeps, for check_gotos(). */
static int keep_jumps(struct lint *l, const struct rule_jumps *jumps, unsigned rule)
{
	const char *s = l->rule.buf;
	const struct pair *label = &jumps->label, *go_to = &jumps->go_to;

	if (jumps->has_label && add_label(&l->labels, &l->n_labels, &l->alloc_labels,
					  s + label->value, label->value_len, rule) < 0)
		return -ENOMEM;
	if (jumps->has_goto) {
		if (add_label(&l->gotos, &l->n_gotos, &l->alloc_gotos, s + go_to->value,
			      go_to->value_len, rule) < 0 ||
		    GROW(l->goto_pos, l->alloc_goto_pos, l->n_gotos) < 0)
			return -ENOMEM;
		l->goto_pos[l->n_gotos - 1] = position(l, go_to->key);
	}
	return 0;
}

/* Lint one joined rule, as udevd's rule_add_line() reads it. */
static int lint_rule(struct lint *l)
{
	struct rule_jumps jumps = { 0 };
	size_t n = l->rule.len, i = 0;
	bool first = true, kept = true, effect = false;
	unsigned rule = l->n_rules++;

	if (n >= UDEV_LINE_SIZE) {
		problem_at(l, 0, "rule is %zu bytes long; udevd ignores rules of %d bytes or more",
			   n, UDEV_LINE_SIZE);
		return 0;
	}

	for (;;) {
		struct pair p = { 0 };
		enum pair_read got = read_pair(l, &i, first, &p);

		if (got == PAIR_NONE)
			break;
		if (got == PAIR_BROKEN)
			return 0;
		first = false;
		if (!check_pair(l, &p, &effect)) {
			kept = false;
			continue;
		}
		note_jump(l, &p, &jumps);
	}

	/* udevd drops a rule with any pair it refuses, its LABEL and GOTO with it */
	if (!kept || first)
		return 0;
	if (!effect) {
		problem_at(l, 0,
			   "the rule only matches and does nothing; udevd ignores it (add an "
			   "assignment such as MODE=\"0660\" or RUN+=\"...\")");
		return 0;
	}
	return keep_jumps(l, &jumps, rule);
}

static int label_cmp(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->rule > y->rule) - (x->rule < y->rule);
}

/* The rule of the last LABEL @name in @l's labels, sorted by label_cmp(); -1 if none. */
static long last_label(const struct lint *l, const char *name)
{
	size_t lo = 0, hi = l->n_labels;

	/* the first label named after @name */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(l->labels[mid].name, name) > 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo > 0 && streq(l->labels[lo - 1].name, name) ? (long)l->labels[lo - 1].rule : -1;
}

/*
 * A GOTO jumps forward to a LABEL in the same file, or nowhere. The labels
 * are sorted by name (and rule) first: a file may hold many of each, and
 * they are not used after this.
 */
static void check_gotos(struct lint *l)
{
	if (l->n_labels > 1)
		qsort(l->labels, l->n_labels, sizeof(*l->labels), label_cmp);
	for (size_t g = 0; g < l->n_gotos; g++) {
		if (last_label(l, l->gotos[g].name) <= (long)l->gotos[g].rule)
			problem(l, l->goto_pos[g].line, l->goto_pos[g].col,
				"GOTO=\"%s\" has no LABEL=\"%s\" after it in this file; udevd "
				"ignores the GOTO",
				l->gotos[g].name, l->gotos[g].name);
	}
}

static void lint_release(struct lint *l)
{
	for (size_t i = 0; i < l->n_labels; i++)
		free(l->labels[i].name);
	for (size_t i = 0; i < l->n_gotos; i++)
		free(l->gotos[i].name);
	free(l->labels);
	free(l->gotos);
	free(l->goto_pos);
	free(l->segs);
	strbuf_release(&l->rule);
}

int kiln_udev_lint(struct kiln_ctx *ctx, const char *file, const char *text, size_t len)
{
	_cleanup_(lint_release) struct lint l = { .ctx = ctx, .file = file };
	bool continued = false;
	unsigned line_nr = 0, cont_line = 0, cont_col = 0;
	size_t pos = 0;
	int r;

	while (pos < len) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - line) : len - pos, skip = 0;
		const char *nul = memchr(line, '\0', line_len);

		pos += line_len + (nl ? 1 : 0);
		line_nr++;
		if (nul) {
			problem(&l, line_nr, (unsigned)(nul - line) + 1,
				"NUL byte in a rules file; udevd reads it as the end of a line");
			line_len = (size_t)(nul - line);
		}
		if (line_len > 0 && line[line_len - 1] == '\r')
			line_len--;

		/* leading blanks go, also on continued lines */
		while (skip < line_len && is_space(line[skip]))
			skip++;
		/* a comment is skipped even in the middle of a continued rule */
		if (skip < line_len && line[skip] == '#')
			continue;

		if (!continued) {
			strbuf_reset(&l.rule);
			l.n_segs = 0;
		}
		if (GROW(l.segs, l.alloc_segs, l.n_segs + 1) < 0)
			return kiln_error(ctx, ENOMEM, "out of memory");
		l.segs[l.n_segs++] = (struct segment){ l.rule.len, line_nr, (unsigned)skip + 1 };
		if (strbuf_add(&l.rule, line + skip, line_len - skip) < 0)
			return kiln_error(ctx, ENOMEM, "out of memory");

		if (l.rule.len > 0 && l.rule.buf[l.rule.len - 1] == '\\') {
			l.rule.buf[--l.rule.len] = '\0';
			continued = true;
			cont_line = line_nr;
			cont_col = (unsigned)line_len;
			continue;
		}
		continued = false;
		if (l.rule.len == 0)
			continue;
		r = lint_rule(&l);
		if (r < 0)
			return kiln_error(ctx, r, "out of memory");
	}
	if (continued)
		problem(
		    &l, cont_line, cont_col,
		    "the file ends after a '\\' line continuation; udevd ignores the unfinished "
		    "rule (remove the '\\' or finish the rule)");
	check_gotos(&l);
	return (int)l.problems;
}
