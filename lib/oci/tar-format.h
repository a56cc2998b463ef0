/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The tar header block as POSIX ustar lays it out (GNU tar's variant puts
 * other fields in the prefix area; kiln reads it but never writes it).
 * Internal to lib/oci.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <kiln/layer.h>

#define TAR_BLOCK 512

/*
 * The entry types kiln writes and applies: files, hard links, symlinks,
 * devices, directories and fifos (the rest are refused where applied).
 */
static inline bool tar_type_is_known(char t)
{
	return t == KILN_TAR_REG || t == KILN_TAR_LINK || t == KILN_TAR_SYMLINK ||
	       t == KILN_TAR_CHAR || t == KILN_TAR_BLOCK || t == KILN_TAR_DIR || t == KILN_TAR_FIFO;
}

/* Free @n extended attributes (names and values) and their array. */
static inline void tar_xattrs_free(struct kiln_xattr *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(x[i].name);
		free(x[i].value);
	}
	free(x);
}

struct tar_header {
	char name[100];
	char mode[8];
	char uid[8];
	char gid[8];
	char size[12];
	char mtime[12];
	char chksum[8];
	char typeflag;
	char linkname[100];
	char magic[6];
	char version[2];
	char uname[32];
	char gname[32];
	char devmajor[8];
	char devminor[8];
	char prefix[155];
	char pad[12];
};

_Static_assert(sizeof(struct tar_header) == TAR_BLOCK, "a tar header is one 512-byte block");

#define TAR_MAGIC_USTAR "ustar\0" /* with version "00": POSIX */
#define TAR_MAGIC_GNU "ustar  \0" /* magic and version together: GNU */

/* Types that only the reader sees. */
#define TAR_TYPE_REGA '\0' /* old regular file */
#define TAR_TYPE_CONT '7' /* contiguous file: a regular file */
#define TAR_TYPE_PAX 'x'
#define TAR_TYPE_PAX_GLOBAL 'g'
#define TAR_TYPE_GNU_LONGNAME 'L'
#define TAR_TYPE_GNU_LONGLINK 'K'
#define TAR_TYPE_GNU_SPARSE 'S'

/* The largest value an octal field of @n bytes holds (n - 1 digits and a NUL). */
static inline uint64_t tar_octal_max(size_t n)
{
	return (UINT64_C(1) << (3 * (n - 1))) - 1;
}

/* Bytes of padding after @size bytes of data. */
static inline uint64_t tar_padding(uint64_t size)
{
	return (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
}
