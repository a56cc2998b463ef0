#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The build root of this tree: a Debian 12 rootfs made from Debian's packages
# by name, with what the kernel and its modules need, imported into kiln's
# store as TOOLS_PREFIX:TOOLS_REV (see ../Pkgfile):
#
#   build-root.sh KILN [REF]
#
# mmdebstrap writes a plain rootfs tar to its standard output and kiln
# imports it as it is (owners, modes and links kept). Apt reaches Debian's
# archive as this machine's apt does; no archive address is written here.
# With SOURCE_DATE_EPOCH set, mmdebstrap clamps the files' times to it.
set -euo pipefail

kiln=$1
here=$(cd "$(dirname "$0")" && pwd)
ref=${2:-$("$kiln" -C "$here/.." eval -t base '{{ .TOOLS_PREFIX }}:{{ .TOOLS_REV }}')}
series=$("$kiln" -C "$here/.." eval -t kernel-prepare '{{ .KERNEL_SERIES }}')

if ! command -v mmdebstrap >/dev/null; then
	echo "build-root.sh: mmdebstrap is missing: run scripts/install-deps.sh" >&2
	exit 1
fi

# the compiler and kbuild's tools, the openssl program that makes the kernel's
# signing key, kmod for depmod, the kernel's source and v4l2loopback's, and
# udev (systemd-udevd and its libraries) and squashfs-tools for the installer
# base (its userland and rootfs.sqsh)
packages="bc bison flex libelf-dev libssl-dev openssl kmod cpio python3 perl xz-utils patch"
packages="$packages linux-source-$series v4l2loopback-dkms udev squashfs-tools"

echo "build-root.sh: mmdebstrap --variant=buildd bookworm ($packages) | kiln import - --tag $ref" >&2
mmdebstrap --quiet --variant=buildd --include="$(echo "$packages" | tr ' ' ',')" bookworm - |
	"$kiln" import --compression zstd - --tag "$ref"
