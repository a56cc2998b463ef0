/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The newc cpio header, as the kernel's Documentation/driver-api/
 * early-userspace/buffer-format.rst describes it: ASCII, each number 8 hex
 * digits. Shared by the writer (cpio.c) and the reader (initramfs.c).
 */

#include <stdint.h>

#define CPIO_NEWC_MAGIC "070701"
#define CPIO_CRC_MAGIC "070702" /* newc with a checksum of the data */
#define CPIO_TRAILER "TRAILER!!!"
#define CPIO_FIELD_LEN 8

struct cpio_newc_header {
	char magic[6];
	char ino[CPIO_FIELD_LEN];
	char mode[CPIO_FIELD_LEN];
	char uid[CPIO_FIELD_LEN];
	char gid[CPIO_FIELD_LEN];
	char nlink[CPIO_FIELD_LEN];
	char mtime[CPIO_FIELD_LEN];
	char filesize[CPIO_FIELD_LEN];
	char devmajor[CPIO_FIELD_LEN];
	char devminor[CPIO_FIELD_LEN];
	char rdevmajor[CPIO_FIELD_LEN];
	char rdevminor[CPIO_FIELD_LEN];
	char namesize[CPIO_FIELD_LEN];
	char check[CPIO_FIELD_LEN];
};

_Static_assert(sizeof(struct cpio_newc_header) == 110, "newc header size");

/* Bytes of padding after @offset up to the next multiple of 4. */
static inline unsigned cpio_pad4(uint64_t offset)
{
	return (unsigned)((4 - (offset & 3)) & 3);
}
