/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "strv.h"

void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

size_t strv_length(const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int strv_add_unique(char ***v, const char *s)
{
	size_t n = strv_length((const char *const *)*v);
	char **nv, *copy;

	for (size_t i = 0; i < n; i++)
		if (streq((*v)[i], s))
			return 0;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv) {
		free(copy);
		return -ENOMEM;
	}
	nv[n] = copy;
	nv[n + 1] = NULL;
	*v = nv;
	return 1;
}
