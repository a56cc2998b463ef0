/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private keys in an image about to leave the machine. A push sends blobs,
 * not the flattened view: a key that a later layer deletes still ships in
 * the blob of the layer that added it. So every layer of every manifest is
 * read as it is stored, once, through the tar reader, and each regular file
 * goes to the same detector the extension validator uses.
 *
 * Reading a layer costs what decompressing it costs (a second for 400 MB of
 * kernel modules), and a push of an unchanged image would pay it every
 * time; but a layer is its digest, so one found clean stays clean. Those are
 * remembered in kiln-key-scan beside the store's index.json, with the
 * detector's version, and not read again. Only a layer read whole without a
 * finding gets a line; a forged one would take a write to the store, which
 * could as well change what is pushed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <kiln/ext.h>
#include <kiln/layer.h>

#include "fileio.h"
#include "keys.h"
#include "log.h"
#include "strbuf.h"

/* indexes of indexes are legal; deeper than this is a loop or an attack */
#define INDEX_DEPTH_MAX 4

#define TITLE_ANNOTATION "org.opencontainers.image.title"

/* "<digest> clean <version>" lines, appended as append_hint_lines() does */
#define CLEAN_FILE "kiln-key-scan"
#define CLEAN_MAX (1u << 20)
/* "<digest> clean <KILN_EXT_KEY_SCAN_VERSION>": under another version, read again */
#define CLEAN_LINE "%s clean %d\n"

struct key_scan {
	struct kiln_ctx *ctx;
	struct kiln_store *s;
	struct kiln_ext_key_report *r;
	size_t alloc_findings;
	struct kiln_digest *seen; /* layer blobs read */
	size_t n_seen, alloc_seen;
	struct ext_key_buffer buf;
	char *clean; /* kiln-key-scan as it was, or NULL */
	size_t clean_len;
	struct strbuf found_clean; /* lines to add to it */
	/* the layer being read */
	const struct kiln_digest *manifest;
	const char *platform;
	unsigned layer;
	const struct kiln_digest *layer_digest;
};

void kiln_ext_key_report_release(struct kiln_ext_key_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_findings; i++) {
		free(r->findings[i].platform);
		free(r->findings[i].path);
	}
	free(r->findings);
	*r = (struct kiln_ext_key_report){ 0 };
}

static int add_finding(struct key_scan *k, const char *path, const char *what)
{
	struct kiln_ext_key_finding *f;

	if (GROW(k->r->findings, k->alloc_findings, k->r->n_findings + 1) < 0)
		return -ENOMEM;
	f = &k->r->findings[k->r->n_findings];
	*f = (struct kiln_ext_key_finding){
		.manifest = *k->manifest,
		.layer = k->layer,
		.layer_digest = *k->layer_digest,
		.what = what,
	};
	f->path = strdup(path);
	f->platform = k->platform ? strdup(k->platform) : NULL;
	if (!f->path || (k->platform && !f->platform)) {
		free(f->path);
		free(f->platform);
		return -ENOMEM;
	}
	k->r->n_findings++;
	return 0;
}

/* A kiln_layer_fn: every regular file of the layer, whiteouts (empty files) too. */
static int scan_tar(void *userdata, struct kiln_tar_reader *tr)
{
	struct key_scan *k = userdata;
	const struct kiln_tar_entry *e;
	int r;

	while ((r = kiln_tar_reader_next(tr, &e)) > 0) {
		_cleanup_free_ char *clean = NULL;
		const char *what, *path;

		if (e->type != KILN_TAR_REG)
			continue;
		k->r->n_files++;
		/* a path the unpacker would refuse still ships: name it as the archive does */
		r = kiln_tar_path_clean(k->ctx, e->path, &clean);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			kiln_ctx_clear_error(k->ctx);
		path = clean ? clean : e->path;
		r = ext_read_private_key(path, e->size, kiln_tar_reader_read, tr, &k->buf, &what);
		if (r > 0)
			r = add_finding(k, path, what);
		if (r < 0)
			return r;
	}
	return r;
}

/* A blob that is not a tar (an artifact's), looked at as one file. */
static int scan_blob(struct key_scan *k, const struct kiln_descriptor *d)
{
	const char *title = kiln_annotation_get(d->annotations, d->n_annotations, TITLE_ANNOTATION);
	_cleanup_close_ int fd = kiln_store_open_blob(k->s, &d->digest);
	const char *what;
	int r;

	if (fd < 0)
		return kiln_error(k->ctx, -fd, "cannot open blob %s: %s", d->digest.s,
				  strerror(-fd));
	k->r->n_files++;
	r = ext_read_private_key(title ? title : d->digest.s, d->size, read_fd_fn, &fd, &k->buf,
				 &what);
	if (r < 0)
		return kiln_error(k->ctx, -r, "cannot read blob %s: %s", d->digest.s, strerror(-r));
	return r > 0 ? add_finding(k, title ? title : d->digest.s, what) : 0;
}

/* Layer media types say "tar": OCI's (+gzip, +zstd, nondistributable), Docker's diff.tar. */
static bool is_tar_layer(const char *mt)
{
	return !mt || strstr(mt, ".tar");
}

/*
 * Which findings from @first on are hidden in the flattened view of manifest
 * @d: missing there, or with data from another layer. Only asked when there
 * are findings, so that a clean image is read once.
 */
static int mark_hidden(struct key_scan *k, const struct kiln_descriptor *d, size_t first)
{
	_cleanup_(kiln_image_freep) struct kiln_image *img = NULL;
	_cleanup_(kiln_fs_freep) struct kiln_fs *fs = NULL;
	int r;

	r = kiln_store_load_image(k->ctx, k->s, d->digest.s, NULL, &img);
	if (r >= 0)
		r = kiln_fs_load_image(k->ctx, k->s, img, &fs);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/* an artifact, or layers the view refuses: what shows there is not known */
		kiln_ctx_clear_error(k->ctx);
		return 0;
	}
	for (size_t i = first; i < k->r->n_findings; i++) {
		struct kiln_ext_key_finding *f = &k->r->findings[i];
		const struct kiln_fs_node *node;
		struct kiln_fs_stat st;

		r = kiln_fs_lookup(k->ctx, fs, f->path, false, &node);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			kiln_ctx_clear_error(k->ctx);
			f->hidden = true;
			continue;
		}
		kiln_fs_node_stat(node, &st);
		f->hidden = st.type != KILN_TAR_REG || st.layer != f->layer;
	}
	return 0;
}

/* Whether kiln-key-scan says layer @d was found clean by this version of the detector. */
static bool known_clean(const struct key_scan *k, const struct kiln_digest *d)
{
	char line[sizeof(d->s) + 32];
	const char *p = k->clean, *end;
	size_t n =
	    (size_t)snprintf(line, sizeof(line), CLEAN_LINE, d->s, KILN_EXT_KEY_SCAN_VERSION);

	if (!k->clean)
		return false;
	for (end = k->clean + k->clean_len; (p = memmem(p, (size_t)(end - p), line, n)); p++)
		if (p == k->clean || p[-1] == '\n')
			return true;
	return false;
}

static int seen_layer(struct key_scan *k, const struct kiln_digest *d)
{
	for (size_t i = 0; i < k->n_seen; i++)
		if (streq(k->seen[i].s, d->s))
			return 1;
	if (GROW(k->seen, k->alloc_seen, k->n_seen + 1) < 0)
		return -ENOMEM;
	k->seen[k->n_seen++] = *d;
	return 0;
}

/* The manifest (into *@ret_m) or index (*@ret_i) @d, read from the store and parsed. */
static int read_json(struct key_scan *k, const struct kiln_descriptor *d,
		     struct kiln_manifest **ret_m, struct kiln_index **ret_i)
{
	_cleanup_free_ char *json = NULL;
	size_t len;
	int r;

	r = kiln_store_read_blob(k->ctx, k->s, &d->digest, KILN_MANIFEST_MAX, &json, &len);
	if (r >= 0)
		r = ret_m ? kiln_manifest_parse(k->ctx, json, len, ret_m)
			  : kiln_index_parse(k->ctx, json, len, ret_i);
	if (r < 0)
		kiln_error_prefix(k->ctx, "%s %s", ret_m ? "manifest" : "index", d->digest.s);
	return r;
}

static int scan_manifest(struct key_scan *k, const struct kiln_descriptor *d, const char *platform)
{
	_cleanup_(kiln_manifest_freep) struct kiln_manifest *m = NULL;
	size_t first = k->r->n_findings;
	int r;

	r = read_json(k, d, &m, NULL);
	if (r < 0)
		return r;
	k->manifest = &d->digest;
	k->platform = platform;
	for (size_t i = 0; i < m->n_layers; i++) {
		const struct kiln_descriptor *l = &m->layers[i];
		size_t before = k->r->n_findings;

		r = kiln_store_has_blob(k->s, &l->digest, NULL);
		if (r < 0)
			return kiln_error(k->ctx, -r, "cannot look for layer %s in the store: %s",
					  l->digest.s, strerror(-r));
		if (r == 0 && l->n_urls > 0)
			continue; /* a foreign layer: fetched from its URLs, never pushed */
		r = seen_layer(k, &l->digest);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		if (known_clean(k, &l->digest)) {
			k->r->n_layers_clean++;
			continue;
		}
		k->layer = (unsigned)i;
		k->layer_digest = &l->digest;
		if (is_tar_layer(l->media_type))
			r = kiln_layer_read(k->ctx, k->s, l, NULL, scan_tar, k);
		else
			r = scan_blob(k, l);
		if (r < 0) {
			kiln_error_prefix(k->ctx, "layer %zu (%s)", i + 1, l->digest.s);
			return r;
		}
		k->r->n_layers++;
		if (k->r->n_findings == before &&
		    strbuf_addf(&k->found_clean, CLEAN_LINE, l->digest.s,
				KILN_EXT_KEY_SCAN_VERSION) < 0)
			return -ENOMEM;
	}
	return k->r->n_findings > first ? mark_hidden(k, d, first) : 0;
}

static int scan_image(struct key_scan *k, const struct kiln_descriptor *d, const char *platform,
		      unsigned depth)
{
	_cleanup_(kiln_descriptor_release) struct kiln_descriptor own = { 0 };
	_cleanup_(kiln_index_freep) struct kiln_index *idx = NULL;
	int r;

	if (!kiln_media_type_is_manifest(d->media_type) &&
	    !kiln_media_type_is_index(d->media_type)) {
		/* an index entry without a media type: the blob says what it is */
		r = kiln_store_resolve(k->ctx, k->s, d->digest.s, &own);
		if (r < 0)
			return r;
		d = &own;
	}
	if (kiln_media_type_is_manifest(d->media_type))
		return scan_manifest(k, d, platform);
	if (!kiln_media_type_is_index(d->media_type))
		return kiln_error(k->ctx, EINVAL,
				  "%s has media type %s, neither a manifest nor an index",
				  d->digest.s, strempty(d->media_type));
	if (depth >= INDEX_DEPTH_MAX)
		return kiln_error(k->ctx, ELOOP, "indexes nested more than %d deep at %s",
				  INDEX_DEPTH_MAX, d->digest.s);
	r = read_json(k, d, NULL, &idx);
	if (r < 0)
		return r;
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct kiln_descriptor *child = &idx->manifests[i];
		_cleanup_free_ char *p = NULL;

		/* not in the store: the push needs it in the destination already */
		r = kiln_store_has_blob(k->s, &child->digest, NULL);
		if (r <= 0) {
			if (r < 0)
				return r;
			continue;
		}
		if (child->platform && !(p = kiln_platform_string(child->platform)))
			return -ENOMEM;
		r = scan_image(k, child, p ? p : platform, depth + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

int kiln_ext_find_image_private_keys(struct kiln_ctx *ctx, struct kiln_store *s,
				     const struct kiln_descriptor *d,
				     struct kiln_ext_key_report *ret)
{
	_cleanup_(kiln_ext_key_report_release) struct kiln_ext_key_report report = { 0 };
	struct key_scan k = { .ctx = ctx, .s = s, .r = &report, .found_clean = STRBUF_INIT };
	_cleanup_free_ char *clean_path = path_join(kiln_store_path(s), CLEAN_FILE);
	int r;

	if (!clean_path)
		return -ENOMEM;
	/* absent, or over twice the cap (someone else's): nothing is known clean */
	if (read_file_at(AT_FDCWD, clean_path, 2 * CLEAN_MAX, &k.clean, &k.clean_len) < 0)
		k.clean = NULL;
	r = scan_image(&k, d, NULL, 0);
	if (r >= 0)
		append_hint_lines(clean_path, k.found_clean.buf, k.found_clean.len, CLEAN_MAX);
	strbuf_release(&k.found_clean);
	free(k.clean);
	free(k.seen);
	free(k.buf.data);
	if (r < 0)
		return r;
	*ret = report;
	report = (struct kiln_ext_key_report){ 0 };
	return 0;
}
