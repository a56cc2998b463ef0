/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Reading and writing the JSON of the image model (internal to lib/oci).
 * Readers take a json-parse.h tree of hostile input and check every field's
 * type; an error names the document and the field ("manifest:
 * layers[2].digest: ...") and is -EBADMSG.
 */

#include <kiln/oci.h>

#include "json-parse.h"
#include "json.h"
#include "log.h"

struct oci_parse {
	struct kiln_ctx *ctx;
	const char *what; /* "manifest", "index", "image config" */
};

/* Record "@what: @field: <message>" and return -EBADMSG. */
int oci_bad(const struct oci_parse *p, const char *field, const char *fmt, ...) _printf_(3, 4);

/*
 * Member @key of @obj as a new string in *@ret: absent (or null, when
 * @null_ok) leaves *@ret NULL unless @required; a non-string or one holding
 * NUL is an error. @field names @obj for messages ("" for the top level).
 */
int oci_get_string(const struct oci_parse *p, const struct json_value *obj, const char *field,
		   const char *key, bool required, char **ret);

/* An array of strings (null or absent: none). */
int oci_get_strings(const struct oci_parse *p, const struct json_value *obj, const char *field,
		    const char *key, char ***ret, size_t *ret_n);

/* An object of strings (null or absent: none), sorted by key. */
int oci_get_annotations(const struct oci_parse *p, const struct json_value *obj,
			const char *field, const char *key, struct kiln_annotation **ret,
			size_t *ret_n);

int oci_parse_descriptor(const struct oci_parse *p, const struct json_value *v, const char *field,
			 struct kiln_descriptor *ret);

/* Member "artifactType": absent, or a media type. */
int oci_get_artifact_type(const struct oci_parse *p, const struct json_value *obj,
			  const char *field, char **ret);

/* Member "schemaVersion" must be the number 2. */
int oci_check_schema_version(const struct oci_parse *p, const struct json_value *root);

/* @v as compact JSON text (keys in their order), for members kept verbatim. */
int oci_value_to_json(const struct json_value *v, char **ret);

void oci_write_annotations(struct json_writer *w, const char *key,
			   const struct kiln_annotation *a, size_t n);
void oci_write_strings(struct json_writer *w, const char *key, char *const *v, size_t n);
/* -EINVAL when @d lacks a media type or a valid digest. */
int oci_write_descriptor(struct json_writer *w, const struct kiln_descriptor *d);

/* Finish a compact document: hand over the bytes, or -ENOMEM if any write failed. */
int oci_json_finish(struct json_writer *w, struct strbuf *sb, char **ret, size_t *ret_len);

void oci_annotations_free(struct kiln_annotation *a, size_t n);
int oci_annotations_copy(const struct kiln_annotation *a, size_t n, struct kiln_annotation **ret);
void oci_strings_free(char **v, size_t n);
int oci_strings_copy(char *const *v, size_t n, char ***ret);

/* strdup() that maps NULL to NULL; false on -ENOMEM. */
bool oci_strdup(const char *s, char **ret);
