/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln-init: reading /extensions.yaml, the list of system extension
 * layers Talos's imager writes into the initramfs. Apart from the rest of
 * init so that tests can feed it text (tests/unit/test-init.c).
 */
#include <stdio.h>
#include <string.h>

#include "kiln-init.h"

struct layer layers[LAYERS_MAX];
unsigned n_layers;

/*
 * The YAML read here is what Talos's imager (and kiln's) writes:
 *
 *   layers:
 *       - image: 000.sqsh
 *         metadata:
 *           name: kiln-demo
 *           version: 1.0.0
 *           ...
 *
 * or the same in flow style ({image: "0.sqsh", metadata: {name: ...}}). It
 * is read as a stream of scalars, keys being scalars followed by ':': each
 * "image" key starts a layer, and the first "name" and "version" keys after
 * it are its metadata (Go writes them before compatibility.talos.version).
 * Quoted scalars, comments and block scalars (| and >, whose text is
 * skipped) are understood; anchors, tags and multi-document files are not
 * part of that shape.
 */
static const char *yaml_scalar(const char *p, char *out, size_t size)
{
	size_t n = 0;

	if (*p == '"' || *p == '\'') {
		char q = *p++;

		for (; *p; p++) {
			char c = *p;

			if (c == q && q == '\'' && p[1] == '\'')
				p++; /* '' is a quote in a single-quoted scalar */
			else if (c == q)
				break;
			else if (q == '"' && c == '\\' && p[1])
				c = *++p; /* \" and \\; other escapes are not in file names */
			if (n + 1 < size)
				out[n++] = c;
		}
		if (*p == q)
			p++;
	} else {
		for (; *p && !strchr(",{}[]\r\n", *p); p++) {
			if (*p == ':' && (!p[1] || strchr(" \t\r\n,", p[1])))
				break;
			if (*p == '#' && n > 0 && out[n - 1] == ' ')
				break;
			if (n + 1 < size)
				out[n++] = *p;
		}
		while (n > 0 && out[n - 1] == ' ')
			n--;
	}
	out[n] = '\0';
	return p;
}

static const char *skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

bool extensions_image_name_ok(const char *s)
{
	if (!*s || *s == '.' || strlen(s) >= LAYER_NAME_MAX - 1)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    *s))
			return false;
	return true;
}

static void yaml_value(const char *key, const char *value)
{
	struct layer *l = n_layers ? &layers[n_layers - 1] : NULL;

	if (strcmp(key, "image") == 0) {
		if (n_layers == LAYERS_MAX) {
			fact_error("extensions",
				   "more than %d layers: \"%s\" and later are left out", LAYERS_MAX,
				   value);
			return;
		}
		l = &layers[n_layers++];
		memset(l, 0, sizeof(*l));
		l->too_long = !copy_str(l->image, sizeof(l->image), value);
	} else if (l && strcmp(key, "name") == 0 && !l->name[0]) {
		copy_str(l->name, sizeof(l->name), value);
	} else if (l && strcmp(key, "version") == 0 && !l->version[0]) {
		copy_str(l->version, sizeof(l->version), value);
	}
}

void extensions_parse(const char *p)
{
	const char *line = p;
	char key[LAYER_NAME_MAX], value[256];

	while (*p) {
		unsigned indent;

		p = skip_blank(p);
		if (*p == '\n') {
			line = ++p;
			continue;
		}
		if (*p == '#') {
			p += strcspn(p, "\n");
			continue;
		}
		if (strchr("{}[],", *p) || (*p == '-' && (p[1] == ' ' || p[1] == '\n'))) {
			p++;
			continue;
		}
		indent = (unsigned)(p - line);
		p = skip_blank(yaml_scalar(p, key, sizeof(key)));
		if (*p != ':')
			continue; /* a scalar that is not a key: a list item or a value */
		p = skip_blank(p + 1);
		if (*p == '|' || *p == '>') {
			/* a block scalar: its lines are those indented deeper than the key */
			for (;;) {
				const char *q;

				p += strcspn(p, "\n");
				if (!*p)
					break;
				line = ++p;
				q = skip_blank(p);
				if (*q != '\n' && (unsigned)(q - p) <= indent)
					break;
			}
			continue;
		}
		if (!*p || strchr("\n#{[", *p))
			continue; /* a mapping or a list follows */
		p = yaml_scalar(p, value, sizeof(value));
		yaml_value(key, value);
	}
}
