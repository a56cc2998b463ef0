/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * kiln-init: the /init of the boot-test initramfs. It does what Talos's
 * init does with system extensions (loop-mount the squashfs layers, one
 * read-only overlay, firmware, switch into it, udev), loads the modules
 * named by kiln.modules= on the kernel command line, and reports what it
 * saw as facts: one JSON object per console line after the marker
 * KILN_FACT_MARKER. lib/boot/ reads them; include/kiln/boot.h lists them.
 *
 * PID 1 runs alone and briefly, so state lives in fixed-size static
 * tables: what does not fit is counted as dropped, never grown.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KILN_FACT_MARKER "KILN-FACT "

/* Copy @src to @dst (@size bytes), cut to fit; true when all of it fit. */
static inline bool copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size);
	bool fits = n < size;

	if (!fits)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return fits;
}

/* ---- facts (kiln-init.c): one line each, written with one write() ---- */

void fact_begin(const char *kind);
void fact_str(const char *key, const char *value); /* NULL writes null */
void fact_int(const char *key, int64_t value);
void fact_bool(const char *key, bool value);
void fact_array_begin(const char *key);
void fact_array_str(const char *value);
void fact_array_end(void);
void fact_end(void);

/* {"kind":"error","step":STEP,"message":...}, printed at once. */
void fact_error(const char *step, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- /extensions.yaml (extensions.c) ---- */

#define LAYERS_MAX 32
#define LAYER_NAME_MAX 64

struct layer {
	char image[LAYER_NAME_MAX]; /* a file at the initramfs's root */
	char name[LAYER_NAME_MAX]; /* metadata.name */
	char version[LAYER_NAME_MAX]; /* metadata.version */
	bool too_long; /* the image name was cut */
	bool mounted;
};

/* The layers read, in the file's order (later ones win). */
extern struct layer layers[LAYERS_MAX];
extern unsigned n_layers;

/* Read the layers of extensions.yaml's text into layers[] (errors are facts). */
void extensions_parse(const char *text);

/* Is @s a plain file name, as an image in the initramfs's root has? */
bool extensions_image_name_ok(const char *s);

/* ---- the kernel log, modules and devices (modules.c) ---- */

/* Open /dev/kmsg (non-blocking) and read what the kernel logged so far. */
void kmsg_open(void);

/* Read the records logged since the last call; certificates and firmware lines are kept. */
void kmsg_drain(void);

/* Load each module of the comma-separated @list (kiln.modules=) with its dependencies. */
void modules_load(const char *list);

/* Remember the device nodes under /dev, to tell new ones apart later. */
void devices_snapshot(void);

/* Print the facts: certificates, modules, devices, firmware lines. */
void report_certs(void);
void report_modules(void);
void report_devices(void);
void report_firmware(void);
