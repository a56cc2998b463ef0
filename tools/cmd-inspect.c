/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kiln inspect REF: what an image in the store is made of (what the seed
 * workflow learned from podman pull + podman inspect): manifest, config,
 * layers, and for an index its platforms.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <kiln/oci.h>

#include "json.h"
#include "kiln.h"
#include "strbuf.h"

enum {
	OPT_RAW = OPT_FIRST_COMMAND_OPTION,
	OPT_CONFIG,
	OPT_INSPECT_PLATFORM,
};

struct inspect_args {
	const char *platform;
	bool raw;
	bool config;
};

static int help(void)
{
	printf("Usage: kiln inspect [OPTIONS] REF\n"
	       "\n"
	       "Show an image in the local store: what REF names (a manifest, or an index\n"
	       "of several platforms), the platforms of an index, and for the chosen\n"
	       "platform the manifest, the config (os, architecture, variant, created,\n"
	       "labels, env, entrypoint, cmd) and the layers (media type, digest, size).\n"
	       "\n"
	       "REF is a name in the store, written as for docker (alpine is\n"
	       "docker.io/library/alpine:latest; a name with @sha256:... means that digest)\n"
	       "or exactly as 'kiln store ls' shows it, or the digest (sha256:...) of a\n"
	       "manifest or index in the store.\n"
	       "\n"
	       "Options:\n"
	       "      --platform P  the platform to show from an index: os/arch[/variant],\n"
	       "                    such as linux/arm64 (default: this machine's; an index\n"
	       "                    without it is shown with its platforms only). For a\n"
	       "                    single manifest, P must be the image's\n"
	       "      --raw         print the manifest or index REF names exactly as stored\n"
	       "                    (with --platform: that platform's manifest)\n"
	       "      --config      print the config blob exactly as stored\n"
	       "      --json        print one JSON object: name, digest, mediaType, size,\n"
	       "                    platforms (an index's: platform, digest, mediaType,\n"
	       "                    size), manifest {digest, mediaType, size, annotations},\n"
	       "                    platform, config {digest, size, os, architecture,\n"
	       "                    variant, created, labels, env, entrypoint, cmd}, layers\n"
	       "                    [{mediaType, digest, size}]\n"
	       "  -h, --help        show this help\n"
	       "\n"
	       "The store is $KILN_CACHE_DIR/store, else $XDG_CACHE_HOME/kiln/store, else\n"
	       "~/.cache/kiln/store.\n"
	       "Exit status: 0 success, 1 failure (REF not found, platform not in the index,\n"
	       "a corrupt blob), 2 usage error.\n");
	return EXIT_OK;
}

static int on_option(int c, const char *arg, void *userdata)
{
	struct inspect_args *a = userdata;

	switch (c) {
	case OPT_INSPECT_PLATFORM:
		a->platform = arg;
		return CLI_CONTINUE;
	case OPT_RAW:
		a->raw = true;
		return CLI_CONTINUE;
	case OPT_CONFIG:
		a->config = true;
		return CLI_CONTINUE;
	default:
		return cli_usage("inspect: run 'kiln inspect --help' for usage");
	}
}

/* What is shown: the blob REF names, its index if it is one, and the image for the platform. */
struct target {
	struct kiln_descriptor top;
	char *top_json; /* the blob REF names, as stored */
	size_t top_len;
	struct kiln_index *index; /* when REF names an index */
	struct kiln_image *image; /* NULL for an index without the (default) platform */
};

static void target_release(struct target *t)
{
	kiln_descriptor_release(&t->top);
	free(t->top_json);
	kiln_index_free(t->index);
	kiln_image_free(t->image);
}

/*
 * Everything inspect shows comes through here. It reads the local store; a
 * lookup elsewhere (a registry) would fill the same target when REF is not
 * found locally.
 */
static int load_target(struct kiln_store *s, const char *ref, const struct kiln_platform *platform,
		       struct target *t)
{
	int r;

	r = kiln_store_resolve(cli_ctx, s, ref, &t->top);
	if (r < 0)
		return r;
	r = kiln_store_read_blob(cli_ctx, s, &t->top.digest, KILN_MANIFEST_MAX, &t->top_json,
				 &t->top_len);
	if (r < 0)
		return r;
	if (kiln_media_type_is_index(t->top.media_type)) {
		r = kiln_index_parse(cli_ctx, t->top_json, t->top_len, &t->index);
		if (r < 0)
			return r;
	}
	r = kiln_store_load_image(cli_ctx, s, ref, platform, &t->image);
	/* without --platform, an index lacking this machine's is still worth showing */
	if (r == -ENOENT && t->index && !platform) {
		kiln_ctx_clear_error(cli_ctx);
		return 0;
	}
	return r;
}

static void human_size(char *buf, size_t size, uint64_t n)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", n);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, units[u]);
}

/* Text from an image (labels, env) is the image author's: no control characters reach the tty. */
static void add_safe(struct strbuf *out, const char *s)
{
	for (; s && *s; s++)
		strbuf_addch(out, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void text_strings(struct strbuf *out, const char *label, char *const *v, size_t n)
{
	if (!n)
		return;
	strbuf_addf(out, "%-12s", label);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addch(out, ' ');
		add_safe(out, v[i]);
	}
	strbuf_addch(out, '\n');
}

static void text_map(struct strbuf *out, const char *label, const struct kiln_annotation *a,
		     size_t n)
{
	if (!n)
		return;
	strbuf_adds(out, label);
	for (size_t i = 0; i < n; i++) {
		strbuf_adds(out, "  ");
		add_safe(out, a[i].key);
		strbuf_addch(out, '=');
		add_safe(out, a[i].value);
		strbuf_addch(out, '\n');
	}
}

/* The index entry load_image() took (two entries may share a manifest). */
static bool is_chosen(const struct kiln_descriptor *d, const struct kiln_image *img)
{
	const struct kiln_platform *a = d->platform, *b = img ? img->manifest_desc.platform : NULL;

	if (!img || !streq(d->digest.s, img->manifest_desc.digest.s))
		return false;
	if (!a || !b)
		return a == b;
	return streq(a->os, b->os) && streq(a->architecture, b->architecture) &&
	       streq(strempty(a->variant), strempty(b->variant));
}

static void write_text(struct strbuf *out, const char *ref, const struct target *t)
{
	const struct kiln_image *img = t->image;
	char size[32];

	strbuf_adds(out, "Name:       ");
	add_safe(out, ref);
	strbuf_addf(out, "\nDigest:     %s\n", t->top.digest.s);
	strbuf_adds(out, "Type:       ");
	add_safe(out, t->top.media_type);
	strbuf_addch(out, '\n');
	if (t->index) {
		strbuf_adds(out, "Platforms:\n");
		for (size_t i = 0; i < t->index->n_manifests; i++) {
			const struct kiln_descriptor *d = &t->index->manifests[i];
			_cleanup_free_ char *p = d->platform ? kiln_platform_string(d->platform)
							     : NULL;

			strbuf_adds(out, "  ");
			add_safe(out, p ? p : "(none)");
			strbuf_addf(out, "%*s %s%s\n", p && strlen(p) < 16 ? 16 - (int)strlen(p) : 0,
				    "", d->digest.s,
				    is_chosen(d, img) ? "  *" : "");
		}
	}
	if (!img) {
		strbuf_adds(out, "(this machine's platform is not in the index: choose one with "
				 "--platform)\n");
		return;
	}
	if (t->index)
		strbuf_addf(out, "Manifest:   %s\n", img->manifest_desc.digest.s);
	text_map(out, "Annotations:\n", img->manifest->annotations, img->manifest->n_annotations);
	strbuf_adds(out, "Platform:   ");
	add_safe(out, img->config->os);
	strbuf_addch(out, '/');
	add_safe(out, img->config->architecture);
	if (img->config->variant) {
		strbuf_addch(out, '/');
		add_safe(out, img->config->variant);
	}
	strbuf_addch(out, '\n');
	if (img->config->created) {
		strbuf_adds(out, "Created:    ");
		add_safe(out, img->config->created);
		strbuf_addch(out, '\n');
	}
	strbuf_addf(out, "Config:     %s (%zu bytes)\n", img->manifest->config.digest.s,
		    img->config_len);
	text_map(out, "Labels:\n", img->config->labels, img->config->n_labels);
	text_strings(out, "Env:", img->config->env, img->config->n_env);
	text_strings(out, "Entrypoint:", img->config->entrypoint, img->config->n_entrypoint);
	text_strings(out, "Cmd:", img->config->cmd, img->config->n_cmd);
	strbuf_addf(out, "Layers:     %zu\n", img->manifest->n_layers);
	for (size_t i = 0; i < img->manifest->n_layers; i++) {
		const struct kiln_descriptor *l = &img->manifest->layers[i];

		human_size(size, sizeof(size), l->size);
		strbuf_addf(out, "  %s  %10s  ", l->digest.s, size);
		add_safe(out, l->media_type);
		strbuf_addch(out, '\n');
	}
}

static void json_descriptor_fields(struct json_writer *w, const struct kiln_descriptor *d)
{
	json_kv_string(w, "digest", d->digest.s);
	json_kv_string(w, "mediaType", d->media_type);
	json_key(w, "size");
	json_uint(w, d->size);
}

static void json_strings(struct json_writer *w, const char *key, char *const *v, size_t n)
{
	json_key(w, key);
	json_begin_array(w);
	for (size_t i = 0; i < n; i++)
		json_string(w, v[i]);
	json_end_array(w);
}

static void json_map(struct json_writer *w, const char *key, const struct kiln_annotation *a,
		     size_t n)
{
	json_key(w, key);
	json_begin_object(w);
	for (size_t i = 0; i < n; i++)
		json_kv_string(w, a[i].key, a[i].value);
	json_end_object(w);
}

static void write_json(struct strbuf *out, const char *ref, const struct target *t)
{
	const struct kiln_image *img = t->image;
	struct json_writer w;

	json_init(&w, out);
	json_begin_object(&w);
	json_kv_string(&w, "name", ref);
	json_descriptor_fields(&w, &t->top);
	if (t->index) {
		json_key(&w, "platforms");
		json_begin_array(&w);
		for (size_t i = 0; i < t->index->n_manifests; i++) {
			const struct kiln_descriptor *d = &t->index->manifests[i];
			_cleanup_free_ char *p = d->platform ? kiln_platform_string(d->platform)
							     : NULL;

			json_begin_object(&w);
			json_kv_string(&w, "platform", p);
			json_descriptor_fields(&w, d);
			json_end_object(&w);
		}
		json_end_array(&w);
	}
	if (img) {
		const struct kiln_image_config *c = img->config;
		_cleanup_free_ char *p = NULL;
		struct kiln_platform pl = { .os = c->os, .architecture = c->architecture,
					    .variant = c->variant };

		json_key(&w, "manifest");
		json_begin_object(&w);
		json_descriptor_fields(&w, &img->manifest_desc);
		json_map(&w, "annotations", img->manifest->annotations,
			 img->manifest->n_annotations);
		json_end_object(&w);
		p = kiln_platform_string(&pl);
		json_kv_string(&w, "platform", p);
		json_key(&w, "config");
		json_begin_object(&w);
		json_kv_string(&w, "digest", img->manifest->config.digest.s);
		json_key(&w, "size");
		json_uint(&w, img->config_len);
		json_kv_string(&w, "os", c->os);
		json_kv_string(&w, "architecture", c->architecture);
		json_kv_string(&w, "variant", c->variant);
		json_kv_string(&w, "created", c->created);
		json_map(&w, "labels", c->labels, c->n_labels);
		json_strings(&w, "env", c->env, c->n_env);
		json_strings(&w, "entrypoint", c->entrypoint, c->n_entrypoint);
		json_strings(&w, "cmd", c->cmd, c->n_cmd);
		json_end_object(&w);
		json_key(&w, "layers");
		json_begin_array(&w);
		for (size_t i = 0; i < img->manifest->n_layers; i++) {
			json_begin_object(&w);
			json_kv_string(&w, "mediaType", img->manifest->layers[i].media_type);
			json_kv_string(&w, "digest", img->manifest->layers[i].digest.s);
			json_key(&w, "size");
			json_uint(&w, img->manifest->layers[i].size);
			json_end_object(&w);
		}
		json_end_array(&w);
	}
	json_end_object(&w);
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option options[] = {
		{ "platform", required_argument, NULL, OPT_INSPECT_PLATFORM },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "config", no_argument, NULL, OPT_CONFIG },
		{},
	};
	struct inspect_args a = { 0 };
	const struct cli_options o = {
		.name = "inspect",
		.no_tree = true,
		.help = help,
		.extra = options,
		.on_option = on_option,
		.userdata = &a,
	};
	_cleanup_(kiln_store_freep) struct kiln_store *s = NULL;
	_cleanup_(kiln_platform_release) struct kiln_platform platform = { 0 };
	_cleanup_(target_release) struct target t = { 0 };
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	const char *ref;
	bool json;
	int r;

	r = cli_parse_plain(argc, argv, &o, &json);
	if (r != CLI_CONTINUE)
		return r;
	if (argc - optind != 1)
		return cli_usage("inspect: expected one REF: run 'kiln inspect --help'");
	if (a.raw && a.config)
		return cli_usage("inspect: --raw and --config print different blobs: choose one");
	if ((a.raw || a.config) && json)
		return cli_usage("inspect: --json cannot be combined with --raw or --config");
	ref = argv[optind];
	if (a.platform) {
		r = kiln_platform_parse(cli_ctx, a.platform, &platform);
		if (r < 0) {
			cli_fail(r, "inspect");
			return EXIT_USAGE;
		}
	}
	r = cli_open_store("inspect", &s);
	if (r != EXIT_OK)
		return r;
	r = load_target(s, ref, a.platform ? &platform : NULL, &t);
	if (r < 0)
		return cli_fail(r, "inspect %s", ref);
	if (a.raw) {
		/* as stored, byte for byte: the digest is of these bytes */
		if (a.platform && t.image)
			return cli_write_stdout(t.image->manifest_json, t.image->manifest_len);
		return cli_write_stdout(t.top_json, t.top_len);
	}
	if (a.config) {
		if (!t.image)
			return cli_usage("inspect: %s is an index without this machine's platform: "
					 "choose one with --platform",
					 ref);
		return cli_write_stdout(t.image->config_json, t.image->config_len);
	}
	if (json)
		write_json(&out, ref, &t);
	else
		write_text(&out, ref, &t);
	return cli_write_strbuf(&out);
}
