#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# preflight-check.sh KERNEL_DIR MODULE.ko... [-- KILN-MODULE-CHECK-OPTION...]
#
# Check modules against a built kernel as kiln checks them against a base
# installer it did not build: by the kernel's boot image and its modules
# directory alone (kiln module check --kernel-image --kernel-modules), with
# signatures enforced as Talos enforces them. KERNEL_DIR is a kernel
# package's output, such as the example kernel's export:
#
#   KERNEL_DIR/boot/vmlinuz (or usr/install/<arch>/vmlinuz, boot/vmlinuz-*,
#   boot/bzImage, boot/Image[.gz])
#   KERNEL_DIR/usr/lib/modules/<release>/ (or lib/modules/<release>/)
#
# Prints the certificates found in the image, then the check; exits with the
# check's status (0: every module would load). Not registered in meson: the
# end-to-end test that builds a kernel calls it. $KILN names the kiln binary
# (default: kiln on $PATH).
set -u

kiln=${KILN:-kiln}
if [ $# -lt 2 ]; then
	echo "usage: $0 KERNEL_DIR MODULE.ko... [-- KILN-MODULE-CHECK-OPTION...]" >&2
	exit 2
fi
kdir=$1
shift
mods=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	mods+=("$1")
	shift
done
[ $# -gt 0 ] && shift

image=
for f in "$kdir"/boot/vmlinuz "$kdir"/usr/install/*/vmlinuz "$kdir"/boot/vmlinuz-* \
	"$kdir"/boot/bzImage "$kdir"/boot/Image "$kdir"/boot/Image.gz; do
	if [ -f "$f" ]; then
		image=$f
		break
	fi
done
if [ -z "$image" ]; then
	echo "$0: no kernel image (boot/vmlinuz, usr/install/*/vmlinuz, ...) under '$kdir'" >&2
	exit 2
fi

mdirs=()
for d in "$kdir"/usr/lib/modules/*/ "$kdir"/lib/modules/*/; do
	[ -f "$d/modules.dep" ] && mdirs+=("${d%/}")
done
if [ ${#mdirs[@]} -ne 1 ]; then
	echo "$0: want one modules directory (usr/lib/modules/<release>) under '$kdir'," \
		"found ${#mdirs[@]}" >&2
	exit 2
fi

"$kiln" module certs "$image" || exit 1
exec "$kiln" module check --sig-enforce --kernel-image "$image" --kernel-modules "${mdirs[0]}" \
	"$@" "${mods[@]}"
