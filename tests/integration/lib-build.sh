# SPDX-License-Identifier: LGPL-2.1-or-later
# Build-engine helpers for the integration scripts, after tap.sh (which has
# busybox_rootfs); sourced, not run.

# build_engine_needs: a failure, not a skip, where kiln build cannot run
build_engine_needs() {
	if [ "$(id -u)" -ne 0 ] && ! unshare -U -r -m true 2>/dev/null; then
		bail_out "neither root nor user namespaces: kiln build cannot run here"
	fi
	[ -x /bin/busybox ] || bail_out "no /bin/busybox (busybox-static): run scripts/install-deps.sh"
}
