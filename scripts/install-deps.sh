#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Install every Debian package kiln and its tests need. Idempotent: packages
# already present are not fetched again, and apt-get update runs only when
# something is missing.
set -eu

PACKAGES="
	build-essential
	clang
	libclang-rt-14-dev
	meson
	ninja-build
	pkg-config
	libyaml-dev
	libpcre2-dev
	graphviz
	chromium
	python3
	hyperfine
	libssl-dev
	openssl
	liblzma-dev
	libzstd-dev
	xz-utils
	zstd
	kmod
	linux-headers-amd64
	linux-image-amd64
	libcurl4-openssl-dev
	zlib1g-dev
	docker-registry
	apache2-utils
	skopeo
	umoci
	busybox-static
	mmdebstrap
	libsquashfs-dev
	libseccomp-dev
	squashfs-tools
	cpio
	qemu-system-x86
	udev
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
