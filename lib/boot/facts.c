/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading kiln-init's facts out of a console log (the protocol is in
 * include/kiln/boot.h). The log is whatever the guest printed, so nothing
 * in it is trusted: a marked line must be one JSON object of a known shape
 * to count, strings are cut at KILN_BOOT_STRING_MAX, and each kind of fact
 * is capped.
 */
#include <string.h>

#include <kiln/boot.h>

#include "json-parse.h"
#include "log.h"

/* the longest string kept from a fact; longer ones are cut */
#define KILN_BOOT_STRING_MAX 4096

static int dup_capped(const char *s, size_t len, char **ret)
{
	char *copy;

	/* a decoded "\u0000" ends the string here */
	len = strnlen(s, len < KILN_BOOT_STRING_MAX ? len : KILN_BOOT_STRING_MAX);
	copy = strndup(s, len);
	if (!copy)
		return -ENOMEM;
	*ret = copy;
	return 0;
}

/* Member @key as a string: 0 (*@ret NULL when absent, null or not a string), -ENOMEM. */
static int get_str(const struct json_value *o, const char *key, char **ret)
{
	const struct json_value *v = json_get(o, key);

	*ret = NULL;
	if (!v || v->type != JSON_STRING)
		return 0;
	return dup_capped(v->str.s, v->str.len, ret);
}

/* Member @key as a bool: 1 true, 0 false, -1 absent or not a bool. */
static int get_bool(const struct json_value *o, const char *key)
{
	const struct json_value *v = json_get(o, key);

	if (!v || (v->type != JSON_TRUE && v->type != JSON_FALSE))
		return -1;
	return v->type == JSON_TRUE;
}

/* Member @key as an unsigned number: true when it is one. */
static bool get_u64(const struct json_value *o, const char *key, uint64_t *ret)
{
	const struct json_value *v = json_get(o, key);

	return v && json_get_u64(v, ret) == 0;
}

static int garbled(struct kiln_boot_result *r, const char *why)
{
	r->garbled++;
	if (r->garbled_first)
		return 0;
	r->garbled_first = strdup(why);
	return r->garbled_first ? 0 : -ENOMEM;
}

/*
 * Append @item to the array @arr of @n, or, over the cap (counted) or out
 * of memory, release it: 0 or -ENOMEM.
 */
#define APPEND(r, arr, n, item, release)                                       \
	({                                                                     \
		__typeof__(arr) _p = NULL;                                     \
		int _k = 0;                                                    \
		if ((n) >= KILN_BOOT_FACTS_MAX)                                \
			(r)->dropped++;                                        \
		else if (!(_p = reallocarray((arr), (n) + 1, sizeof(*(arr))))) \
			_k = -ENOMEM;                                          \
		if (_p) {                                                      \
			(arr) = _p;                                            \
			(arr)[(n)++] = (item);                                 \
		} else {                                                       \
			release(&(item));                                      \
		}                                                              \
		_k;                                                            \
	})

/*
 * Several string members at once: -ENOMEM, 1 when one of the first
 * @required is missing, else 0; what was read stays in *@ret[i] for the
 * caller to release either way.
 */
static int get_strs(const struct json_value *o, const char *const *keys, char **const *ret,
		    size_t n, size_t required)
{
	int missing = 0;

	for (size_t i = 0; i < n; i++) {
		if (get_str(o, keys[i], ret[i]) < 0)
			return -ENOMEM;
		if (i < required && !*ret[i])
			missing = 1;
	}
	return missing;
}

static void module_release(struct kiln_boot_module *m)
{
	free(m->name);
	free(m->path);
	free(m->error);
	free(m->dependency);
	free(m->taint);
	for (size_t i = 0; i < m->n_log; i++)
		free(m->log[i]);
	free(m->log);
}

static void device_release(struct kiln_boot_device *d)
{
	free(d->path);
}

static void firmware_release(struct kiln_boot_firmware *f)
{
	free(f->module);
	free(f->line);
}

static void error_release(struct kiln_boot_error *e)
{
	free(e->step);
	free(e->message);
}

static void extension_release(struct kiln_boot_extension *x)
{
	free(x->image);
	free(x->name);
	free(x->version);
}

static void cert_release(char **name)
{
	free(*name);
}

static int read_log(struct kiln_boot_module *m, const struct json_value *log)
{
	size_t n;

	if (!log || log->type != JSON_ARRAY)
		return 0;
	n = log->arr.n < KILN_BOOT_LOG_MAX ? log->arr.n : KILN_BOOT_LOG_MAX;
	m->log = calloc(n ? n : 1, sizeof(*m->log));
	if (!m->log)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct json_value *v = log->arr.v[i];

		if (v->type != JSON_STRING)
			continue;
		if (dup_capped(v->str.s, v->str.len, &m->log[m->n_log]) < 0)
			return -ENOMEM;
		m->n_log++;
	}
	return 0;
}

static int read_module(struct kiln_boot_result *r, const struct json_value *o)
{
	struct kiln_boot_module m = { 0 };
	int loaded = get_bool(o, "loaded"), k;
	uint64_t err = 0;

	k = get_strs(o, (const char *const[]){ "name", "path", "error", "dependency", "taint" },
		     (char **const[]){ &m.name, &m.path, &m.error, &m.dependency, &m.taint }, 5, 1);
	if (k > 0 || (k == 0 && loaded < 0)) {
		module_release(&m);
		return garbled(r, "a module fact without a name or \"loaded\"");
	}
	m.loaded = loaded;
	m.requested = get_bool(o, "requested") == 1;
	m.builtin = get_bool(o, "builtin") == 1;
	m.already = get_bool(o, "already") == 1;
	if (get_u64(o, "errno", &err) && err < 4096)
		m.err = (int)err;
	if (k == 0 && !m.loaded && !m.error)
		k = (m.error = strdup("failed (no reason given)")) ? 0 : -ENOMEM;
	if (k == 0)
		k = read_log(&m, json_get(o, "log"));
	if (k < 0) {
		module_release(&m);
		return k;
	}
	return APPEND(r, r->modules, r->n_modules, m, module_release);
}

static int read_device(struct kiln_boot_result *r, const struct json_value *o)
{
	const char *type = json_get_string(o, "type"), *mode = json_get_string(o, "mode");
	struct kiln_boot_device d = { 0 };
	uint64_t major = 0, minor = 0;
	char *end;
	unsigned long m;
	int k;

	if (!type || !mode || (!streq(type, "char") && !streq(type, "block")))
		return garbled(r, "a device fact without a type (char or block) or a mode");
	errno = 0;
	m = strtoul(mode, &end, 8);
	if (errno || end == mode || *end || m > 07777)
		return garbled(r, "a device fact whose mode is not octal permission bits");
	k = get_str(o, "path", &d.path);
	if (k < 0)
		return k;
	if (!d.path)
		return garbled(r, "a device fact without a path");
	d.block = streq(type, "block");
	d.mode = (uint32_t)m;
	(void)get_u64(o, "uid", &d.uid);
	(void)get_u64(o, "gid", &d.gid);
	if (get_u64(o, "major", &major) && major <= UINT32_MAX)
		d.major = (uint32_t)major;
	if (get_u64(o, "minor", &minor) && minor <= UINT32_MAX)
		d.minor = (uint32_t)minor;
	d.is_new = get_bool(o, "new") == 1;
	return APPEND(r, r->devices, r->n_devices, d, device_release);
}

static int read_firmware(struct kiln_boot_result *r, const struct json_value *o)
{
	struct kiln_boot_firmware f = { 0 };
	int k = get_strs(o, (const char *const[]){ "line", "module" },
			 (char **const[]){ &f.line, &f.module }, 2, 1);

	if (k != 0) {
		firmware_release(&f);
		return k < 0 ? k : garbled(r, "a firmware fact without a line");
	}
	return APPEND(r, r->firmware, r->n_firmware, f, firmware_release);
}

static int read_error(struct kiln_boot_result *r, const struct json_value *o)
{
	struct kiln_boot_error e = { 0 };
	int k = get_strs(o, (const char *const[]){ "step", "message" },
			 (char **const[]){ &e.step, &e.message }, 2, 2);

	if (k != 0) {
		error_release(&e);
		return k < 0 ? k : garbled(r, "an error fact without a step or a message");
	}
	return APPEND(r, r->errors, r->n_errors, e, error_release);
}

static int read_extension(struct kiln_boot_result *r, const struct json_value *o)
{
	struct kiln_boot_extension x = { 0 };
	int k = get_strs(o, (const char *const[]){ "image", "name", "version" },
			 (char **const[]){ &x.image, &x.name, &x.version }, 3, 1);

	if (k != 0) {
		extension_release(&x);
		return k < 0 ? k : garbled(r, "an extension fact without an image");
	}
	(void)get_u64(o, "index", &x.index);
	x.mounted = get_bool(o, "mounted") == 1;
	return APPEND(r, r->extensions, r->n_extensions, x, extension_release);
}

static int read_cert(struct kiln_boot_result *r, const struct json_value *o)
{
	char *name = NULL;
	int k = get_str(o, "name", &name);

	if (k < 0)
		return k;
	if (!name)
		return garbled(r, "a cert fact without a name");
	return APPEND(r, r->certs, r->n_certs, name, cert_release);
}

static int read_kernel(struct kiln_boot_result *r, const struct json_value *o)
{
	int enforce = get_bool(o, "sig_enforce");
	int k;

	free(r->release);
	free(r->cmdline);
	k = get_str(o, "release", &r->release);
	if (k >= 0)
		k = get_str(o, "cmdline", &r->cmdline);
	r->sig_enforce = enforce;
	r->have_tainted = get_u64(o, "tainted", &r->tainted);
	return k;
}

static int read_fact(struct kiln_ctx *ctx, struct kiln_boot_result *r, const char *json, size_t len)
{
	_cleanup_(json_doc_freep) struct json_doc *doc = NULL;
	const struct json_value *root;
	const char *kind;
	int k;

	k = json_parse(ctx, "fact", json, len, &doc);
	if (k == -ENOMEM)
		return k;
	if (k < 0) {
		k = garbled(r, strempty(kiln_ctx_error(ctx)));
		kiln_ctx_clear_error(ctx);
		return k;
	}
	root = json_doc_root(doc);
	kind = json_get_string(root, "kind");
	if (!kind)
		return garbled(r, "a fact that is not an object with a \"kind\"");
	if (streq(kind, "start"))
		r->started = true;
	else if (streq(kind, "done"))
		r->done = true;
	else if (streq(kind, "kernel"))
		return read_kernel(r, root);
	else if (streq(kind, "extension"))
		return read_extension(r, root);
	else if (streq(kind, "cert"))
		return read_cert(r, root);
	else if (streq(kind, "module"))
		return read_module(r, root);
	else if (streq(kind, "device"))
		return read_device(r, root);
	else if (streq(kind, "firmware"))
		return read_firmware(r, root);
	else if (streq(kind, "error"))
		return read_error(r, root);
	else
		r->unknown++;
	return 0;
}

int kiln_boot_parse_console(struct kiln_ctx *ctx, const char *text, size_t len,
			    struct kiln_boot_result *ret)
{
	_cleanup_(kiln_boot_result_release) struct kiln_boot_result r = { .sig_enforce = -1 };
	const size_t mlen = strlen(KILN_BOOT_FACT_MARKER);
	const char *p = text, *end = text + len;
	int k;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *m = memmem(p, (size_t)(eol - p), KILN_BOOT_FACT_MARKER, mlen);

		if (m && (size_t)(eol - p) > KILN_BOOT_LINE_MAX) {
			k = garbled(&r, "a line over the length limit");
		} else if (m) {
			const char *json = m + mlen, *stop = eol;

			/* "\r\n" from the tty, and any blanks the console added */
			while (stop > json &&
			       (stop[-1] == '\r' || stop[-1] == ' ' || stop[-1] == '\t'))
				stop--;
			k = read_fact(ctx, &r, json, (size_t)(stop - json));
		} else {
			k = 0;
		}
		if (k < 0)
			return k;
		p = nl ? nl + 1 : end;
	}
	*ret = r;
	memset(&r, 0, sizeof(r));
	return 0;
}

void kiln_boot_result_release(struct kiln_boot_result *r)
{
	free(r->release);
	free(r->cmdline);
	for (size_t i = 0; i < r->n_certs; i++)
		cert_release(&r->certs[i]);
	free(r->certs);
	for (size_t i = 0; i < r->n_extensions; i++)
		extension_release(&r->extensions[i]);
	free(r->extensions);
	for (size_t i = 0; i < r->n_modules; i++)
		module_release(&r->modules[i]);
	free(r->modules);
	for (size_t i = 0; i < r->n_devices; i++)
		device_release(&r->devices[i]);
	free(r->devices);
	for (size_t i = 0; i < r->n_firmware; i++)
		firmware_release(&r->firmware[i]);
	free(r->firmware);
	for (size_t i = 0; i < r->n_errors; i++)
		error_release(&r->errors[i]);
	free(r->errors);
	free(r->garbled_first);
	memset(r, 0, sizeof(*r));
	r->sig_enforce = -1;
}

/* Module names compare with '-' and '_' alike, as the kernel's do. */
static bool same_module(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
			return false;
	return *a == *b;
}

const struct kiln_boot_module *kiln_boot_result_module(const struct kiln_boot_result *r,
						       const char *name)
{
	for (size_t i = 0; i < r->n_modules; i++)
		if (same_module(r->modules[i].name, name))
			return &r->modules[i];
	return NULL;
}

const struct kiln_boot_device *kiln_boot_result_device(const struct kiln_boot_result *r,
						       const char *path)
{
	for (size_t i = 0; i < r->n_devices; i++)
		if (streq(r->devices[i].path, path))
			return &r->devices[i];
	return NULL;
}
