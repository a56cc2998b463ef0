# SPDX-License-Identifier: LGPL-2.1-or-later
# Build-engine helpers for the integration scripts; sourced, not run.

# busybox_rootfs DIR: the base image of tests/data/build-tree, a directory
# with a static busybox and its applets (import it as kiln-test/busybox:1)
busybox_rootfs() {
	mkdir -p "$1/bin" "$1/usr/bin" "$1/sbin" "$1/tmp" "$1/etc"
	cp /bin/busybox "$1/bin/busybox"
	for app in $(/bin/busybox --list); do
		[ -e "$1/bin/$app" ] || ln -s busybox "$1/bin/$app"
	done
}

# build_engine_needs: a failure, not a skip, where kiln build cannot run
build_engine_needs() {
	if [ "$(id -u)" -ne 0 ] && ! unshare -U -r -m true 2>/dev/null; then
		bail_out "neither root nor user namespaces: kiln build cannot run here"
	fi
	[ -x /bin/busybox ] || bail_out "no /bin/busybox (busybox-static): run scripts/install-deps.sh"
}
