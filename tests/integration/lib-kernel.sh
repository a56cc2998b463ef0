# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# Debian's kernel as the tests, the bench and scripts/build-test-modules.sh
# use it; sourced, not run. scripts/install-deps.sh installs it
# (linux-headers-amd64, linux-image-amd64): whatever release that is, found,
# never named, so that nothing breaks when Debian moves on. The unit tests
# find the headers the same way (tests/helpers.h).

# kernel_headers: Debian's linux-headers tree (the newest when there are
# several), else $KILN_HEADERS; nothing when there is none
kernel_headers() {
	if [ -n "${KILN_HEADERS:-}" ]; then
		echo "$KILN_HEADERS"
		return
	fi
	ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1
}

# kernel_sign_file HEADERS: the kernel's own scripts/sign-file, of the kbuild
# tree HEADERS links to (Debian's linux-kbuild-<version>), else $SIGN_FILE
kernel_sign_file() {
	echo "${SIGN_FILE:-$1/scripts/sign-file}"
}

# kernel_release TREE: the release a kernel build tree is for, as its modules'
# vermagic starts ("6.1.0-57-amd64"; include/config/kernel.release has
# Debian's upstream version instead)
kernel_release() {
	sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' "$1/include/generated/utsrelease.h"
}

# kernel_image: Debian's installed kernel image (the newest), /boot/vmlinuz-RELEASE
kernel_image() {
	ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1
}

# kernel_modules: that kernel's modules directory, /lib/modules/RELEASE
kernel_modules() {
	set -- "$(kernel_image)"
	[ -n "$1" ] && echo "/lib/modules/${1#/boot/vmlinuz-}"
}

# kernel_headers_copy HEADERS DIR: a copy of a headers tree; its relative
# symlinks (scripts, tools) would dangle in another place, so they point at
# their targets
kernel_headers_copy() {
	cp -a "$1" "$2" || return 1
	for l in "$2"/*; do
		if [ -L "$l" ]; then
			ln -sfn "$(readlink -f "$1/$(basename "$l")")" "$l" || return 1
		fi
	done
}
