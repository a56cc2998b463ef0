#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# boot-check.sh KERNEL_DIR MODULE_PKG_DIR...
#
# Boots a kernel with its module packages as Talos would, under QEMU, and
# checks that the modules load, their firmware is found and their device
# nodes get the modes their udev rules give. Not a meson test by itself:
# test-examples.sh runs it on the example kernel it builds, and by hand:
#
#   KILN=build/tools/kiln tests/integration/boot-check.sh \
#       /var/tmp/example-kernel/kernel /var/tmp/example-kernel/*-pkg
#
# KERNEL_DIR holds boot/vmlinuz and usr/lib/modules/<release>/ (the
# kernel package's files); each MODULE_PKG_DIR a package's usr/lib/...
# (or an extension: manifest.yaml and rootfs/usr/lib/...).
#
# The initramfs is made by hand, in the shape Talos's imager gives it:
#   segment 1 (xz): /init (kiln-init), /lib -> usr/lib, /dev/console, and
#     rootfs.sqsh: the kernel's modules, the host's systemd-udevd and
#     udevadm with their libraries, mount points;
#   segment 2 (xz): one squashfs per package (its usr/lib, as an
#     extension's rootfs/), modules.dep.sqsh (depmod over the merged
#     modules tree), extensions.yaml listing them with modules.dep.sqsh
#     last, and the packages' firmware moved to /usr/lib/firmware, as the
#     imager moves it.
# That and the kernel become an installer image (usr/install/amd64/
# vmlinuz and initramfs.xz) in a scratch store, and `kiln boot-test` boots
# it expecting kiln_demo and v4l2loopback to load, /dev/kiln_demo with mode
# 0666 (its udev rule) and /dev/video0. Then the same with kiln_demo
# signed by another key: refused, "Key was rejected by service", exit 1.
#
# Environment: KILN (required), KILN_INIT (default: init/kiln-init beside
# KILN's tools/), SRCDIR (for tap.sh and lib-keys.sh; default: this
# script's tree), BOOT_TIMEOUT (seconds, default 300).
set -u
# depmod lives in /usr/sbin, which a user's PATH may lack
PATH=$PATH:/usr/sbin:/sbin
here=$(cd "$(dirname "$0")" && pwd)
: "${SRCDIR:=$(cd "$here/../.." && pwd)}"
. "$here/tap.sh"
. "$here/lib-keys.sh"

: "${KILN:?KILN must name the kiln binary}"
KILN_INIT=${KILN_INIT:-$(dirname "$KILN")/../init/kiln-init}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-300}

if [ $# -lt 2 ]; then
	echo "usage: $0 KERNEL_DIR MODULE_PKG_DIR..." >&2
	exit 2
fi
kernel=$1
shift
for tool in qemu-system-x86_64 mksquashfs cpio xz depmod; do
	if ! command -v "$tool" >/dev/null; then
		echo "Bail out! $tool is missing: run scripts/install-deps.sh"
		exit 1
	fi
done
for f in /usr/bin/udevadm /lib/systemd/systemd-udevd "$KILN_INIT" "$kernel/boot/vmlinuz"; do
	if [ ! -e "$f" ]; then
		echo "Bail out! $f is missing"
		exit 1
	fi
done
release=$(ls "$kernel/usr/lib/modules")
if [ "$(echo "$release" | wc -l)" -ne 1 ]; then
	echo "Bail out! $kernel/usr/lib/modules must hold exactly one release"
	exit 1
fi

work=$(mktemp -d)
# shellcheck disable=SC2154 # $out is tap.sh's
trap 'rm -rf "$work" "$out"' EXIT
export KILN_CACHE_DIR=$work/cache
export SOURCE_DATE_EPOCH=0
now_ms() { date +%s%3N; }
# seconds since the millisecond time $1, as 1.234
since() {
	local ms=$(($(now_ms) - $1))
	printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}
squash() { mksquashfs "$1" "$2" -comp xz -all-root -noappend -no-progress -quiet >/dev/null; }

# The usr/ tree of a package: PKG/usr, or an extension's PKG/rootfs/usr.
pkg_root() {
	if [ -d "$1/rootfs/usr" ]; then echo "$1/rootfs"; else echo "$1"; fi
}

# rootfs.sqsh: what Talos's base image would hold, reduced to what the guest runs
make_rootfs() {
	local r=$work/rootfs lib
	mkdir -p "$r"/{dev,proc,sys,run,tmp,etc/udev,usr/bin,usr/sbin,usr/lib/systemd,usr/lib64} \
		"$r"/usr/lib/{firmware,udev/rules.d,modules}
	ln -s usr/lib "$r/lib"
	ln -s usr/lib64 "$r/lib64"
	ln -s usr/bin "$r/bin"
	ln -s usr/sbin "$r/sbin"
	cp -a "$kernel/usr/lib/modules/$release" "$r/usr/lib/modules/"
	cp /usr/bin/udevadm "$r/usr/bin/udevadm"
	# one binary, told apart by its name
	ln -s ../../bin/udevadm "$r/usr/lib/systemd/systemd-udevd"
	for lib in $(ldd /usr/bin/udevadm | grep -o '/[^ ]*'); do
		case $lib in
		/lib64/* | /usr/lib64/*) cp -L "$lib" "$r/usr/lib64/" ;;
		*)
			mkdir -p "$r/usr/lib/$(basename "$(dirname "$lib")")"
			cp -L "$lib" "$r/usr/lib/$(basename "$(dirname "$lib")")/"
			;;
		esac
	done
	[ -f /etc/udev/udev.conf ] && cp /etc/udev/udev.conf "$r/etc/udev/"
	: >"$r/etc/extensions.yaml"
	squash "$r" "$1"
}

# INITRAMFS_DIR: segment 2's files, from the packages (numbered as the imager numbers them)
make_extensions() {
	local dir=$1 merged=$work/merged i=0 p root name
	shift
	rm -rf "$merged" "$dir"
	mkdir -p "$merged/lib/modules" "$dir/usr/lib/firmware"
	cp -a "$kernel/usr/lib/modules/$release" "$merged/lib/modules/"
	echo "layers:" >"$dir/extensions.yaml"
	for p in "$@"; do
		root=$(pkg_root "$p")
		name=$(basename "$p")
		name=${name%-pkg}
		rm -rf "$work/ext"
		mkdir -p "$work/ext"
		cp -a "$root/usr" "$work/ext/"
		# the imager moves firmware to the initramfs
		if [ -d "$work/ext/usr/lib/firmware" ]; then
			cp -a "$work/ext/usr/lib/firmware/." "$dir/usr/lib/firmware/"
			rm -rf "$work/ext/usr/lib/firmware"
		fi
		if [ -d "$root/usr/lib/modules/$release" ]; then
			(cd "$root/usr/lib/modules/$release" && find . -name '*.ko*' -print0 |
				cpio -0 -pdm --quiet "$merged/lib/modules/$release")
		fi
		squash "$work/ext" "$dir/$(printf %03d $i).sqsh"
		cat >>"$dir/extensions.yaml" <<EOF
    - image: $(printf %03d $i).sqsh
      metadata:
        name: $name
        version: 1.0.0
        author: boot-check.sh
        description: "$name, from $p"
        compatibility:
            talos:
                version: '>= v1.0.0'
EOF
		i=$((i + 1))
	done
	# kmod 30's depmod -b reads BASE/lib/modules/<release>
	depmod -b "$merged" "$release" || return 1
	rm -rf "$work/moddep"
	mkdir -p "$work/moddep/usr/lib/modules/$release"
	cp "$merged/lib/modules/$release"/modules.* "$work/moddep/usr/lib/modules/$release/"
	squash "$work/moddep" "$dir/modules.dep.sqsh"
	cat >>"$dir/extensions.yaml" <<EOF
    - image: modules.dep.sqsh
      metadata:
        name: modules.dep
        version: $release
        author: Talos Machinery
        description: Combined modules.dep for all extensions
        compatibility:
            talos:
                version: '>= v1.0.0'
EOF
}

cpio_xz() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R +0:+0 --quiet) | xz --check=crc32 -T1; }

# INSTALLER_DIR EXT_DIR: vmlinuz and initramfs.xz (base segment, then the extensions')
make_installer() {
	local inst=$1/usr/install/amd64
	mkdir -p "$inst"
	cp "$kernel/boot/vmlinuz" "$inst/vmlinuz"
	{ cat "$work/base.cpio.xz"; cpio_xz "$2"; } >"$inst/initramfs.xz"
}

t0=$(now_ms)
base=$work/base
mkdir -p "$base/dev" "$base/usr/lib"
cp "$KILN_INIT" "$base/init"
ln -s usr/lib "$base/lib"
# without root, the kernel opens no console for /init; kiln-init then opens it itself
mknod -m 600 "$base/dev/console" c 5 1 2>/dev/null || true
make_rootfs "$base/rootfs.sqsh"
cpio_xz "$base" >"$work/base.cpio.xz"
check "extension squashfs images, modules.dep.sqsh and extensions.yaml are made" \
	make_extensions "$work/ext-good" "$@"
check "the installer image is made" make_installer "$work/installer-good" "$work/ext-good"
check "the installer is imported" \
	"$KILN" import "$work/installer-good" --tag boot-check/installer:good
echo "# initramfs and installer made in $(since "$t0") s ($(stat -c %s "$work/installer-good/usr/install/amd64/initramfs.xz") bytes)"

# ---- the modules load, with their firmware and device modes ----

boot() {
	"$KILN" boot-test "$1" --timeout "$BOOT_TIMEOUT" -o "$2" \
		--expect-module kiln_demo --expect-module v4l2loopback \
		--expect-dev /dev/kiln_demo:0666 --expect-dev /dev/video0
}

t0=$(now_ms)
boot boot-check/installer:good "$work/out-good" >"$work/good.out" 2>"$work/good.err"
status=$?
echo "# boot-test (good): $(since "$t0") s wall, extraction and QEMU"
sed 's/^/# /' "$work/good.out"
if [ $status -eq 0 ]; then
	ok "kiln_demo and v4l2loopback load; /dev/kiln_demo is 0666, /dev/video0 exists"
else
	not_ok "kiln_demo and v4l2loopback load; /dev/kiln_demo is 0666, /dev/video0 exists" \
		"exit $status" "$(cat "$work/good.err")" "$(tail -n 40 "$work/out-good/boot-test.log")"
fi
check "the console log is kept" test -s "$work/out-good/boot-test.log"
check "the kernel logged its certificate" grep -q "Loaded X.509 cert" "$work/out-good/boot-test.log"
check "kiln_demo found its firmware in the initramfs" \
	grep -q "kiln_demo: firmware kiln/demo.bin loaded" "$work/out-good/boot-test.log"
check "v4l2loopback's dependency (videodev) was loaded first" \
	grep -q '"name":"videodev".*"loaded":true' "$work/out-good/boot-test.log"

# ---- a module signed by another key is refused ----

demo=
for p in "$@"; do
	demo=$(find "$(pkg_root "$p")/usr/lib/modules" -name 'kiln_demo.ko*' 2>/dev/null | head -n 1)
	[ -n "$demo" ] && break
done
if [ -z "$demo" ]; then
	# the boot above expects kiln_demo to load: without it, that failed already
	not_ok "a module signed by another key is refused" "no kiln_demo.ko among the packages"
else
	pkgs=()
	for p in "$@"; do
		root=$(pkg_root "$p")
		if [ -n "$(find "$root/usr/lib/modules" -name 'kiln_demo.ko*' 2>/dev/null)" ]; then
			mkdir -p "$work/wrong"
			cp -a "$root/usr" "$work/wrong/"
			p=$work/wrong
		fi
		pkgs+=("$p")
	done
	kernel_key "$work/genkey" "$work/other.pem" "$work/other.x509" sha512 \
		"CN = boot-check: another key" -newkey rsa:2048
	check "kiln_demo is signed again with another key" \
		"$KILN" module sign --key "$work/other.pem" --replace "$work/wrong/usr/lib/modules"
	check "the wrong-key initramfs is made" make_extensions "$work/ext-wrong" "${pkgs[@]}"
	check "the wrong-key installer is made" \
		make_installer "$work/installer-wrong" "$work/ext-wrong"
	# an archive file this time: kiln boot-test takes those too
	check "the wrong-key installer is exported" sh -c "
		'$KILN' import '$work/installer-wrong' --tag boot-check/installer:wrong >/dev/null &&
		'$KILN' export boot-check/installer:wrong -o '$work/installer-wrong.tar'"
	t0=$(now_ms)
	boot "$work/installer-wrong.tar" "$work/out-wrong" >"$work/wrong.out" 2>"$work/wrong.err"
	status=$?
	echo "# boot-test (wrong key): $(since "$t0") s wall, import, extraction and QEMU"
	sed 's/^/# /' "$work/wrong.out"
	if [ $status -eq 1 ] && grep -q "kiln_demo.*Key was rejected by service" "$work/wrong.out"; then
		ok "kiln_demo signed by another key: refused, Key was rejected by service, exit 1"
	else
		not_ok "kiln_demo signed by another key: refused, Key was rejected by service, exit 1" \
			"exit $status" "$(cat "$work/wrong.err")" "$(tail -n 40 "$work/out-wrong/boot-test.log")"
	fi
	check "the kernel said why: a key it does not have" \
		grep -q "Loading of module with unavailable key is rejected" "$work/wrong.out"
	check "v4l2loopback still loads beside it" \
		grep -qE "PASS +module +v4l2loopback" "$work/wrong.out"
fi

done_testing
