# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=sh
# The inputs of `kiln image installer` in the tests and the bench; sourced,
# not run.

# image_ext DIR NAME CONSTRAINT: an extension with manifest.yaml and an empty rootfs/
image_ext() {
	mkdir -p "$1/rootfs"
	cat >"$1/manifest.yaml" <<EOF
version: v1alpha1
metadata:
  name: $2
  version: 1.0.0
  author: Kiln Tests
  description: |
    The $2 test extension.
  compatibility:
    talos:
      version: "$3"
EOF
}

# image_inputs KILN MODULES RELEASE [BASE_MODULES]: in the working directory,
# a small base installer and two extensions as directories, with the test
# modules (built for RELEASE) of MODULES:
#   key.pem, cert.der    a throwaway signing key (RSA-2048, to be quick)
#   rootfs/, rootfs.sqsh the base's root: kiln_provider.ko (and, with
#                        BASE_MODULES, a copy of that modules tree) and its
#                        modules.* as modules_install and depmod leave them
#   base-initramfs.xz    an xz'd newc archive of /init and rootfs.sqsh
#   base/                usr/install/amd64/{vmlinuz,initramfs.xz,cmdline}: the
#                        host's /boot/vmlinuz-RELEASE (else another, else noise)
#   demo/, fw/           kiln-demo (kiln_plain, kiln_consumer, firmware, Intel
#                        microcode, a udev rule) and kiln-fw (kiln_fw, firmware,
#                        AMD microcode); their modules signed with key.pem
image_inputs() {
	ii_kiln=$1 ii_mods=$2 ii_krel=$3 ii_base_modules=${4:-}
	ii_mdir=rootfs/usr/lib/modules/$ii_krel

	openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 \
		-subj "/CN=kiln image test" -newkey rsa:2048 -outform PEM -out key.pem \
		-keyout key.pem 2>/dev/null &&
		openssl x509 -in key.pem -outform DER -out cert.der || return 1

	mkdir -p "$ii_mdir/kernel/drivers/kiln" rootfs/etc
	if [ -n "$ii_base_modules" ]; then
		cp -a "$ii_base_modules/." "$ii_mdir/"
		rm -f "$ii_mdir/build" "$ii_mdir/source"
	fi
	cp "$ii_mods/kiln_provider.ko" "$ii_mdir/kernel/drivers/kiln/"
	echo kernel/drivers/kiln/kiln_provider.ko >>"$ii_mdir/modules.order"
	touch "$ii_mdir/modules.builtin" "$ii_mdir/modules.builtin.modinfo"
	echo kiln >rootfs/etc/hostname
	depmod -b rootfs/usr "$ii_krel" || return 1
	mksquashfs rootfs rootfs.sqsh -all-root -noappend -comp zstd -quiet >/dev/null || return 1
	mkdir -p initrd
	cp rootfs.sqsh initrd/
	printf '#!/bin/sh\n' >initrd/init
	chmod 755 initrd/init
	(cd initrd && find . | LC_ALL=C sort | cpio -o -H newc -R +0:+0 --reproducible --quiet |
		xz -C crc32 -T1 >../base-initramfs.xz) || return 1

	mkdir -p base/usr/install/amd64 base/usr/bin
	ii_vmlinuz=$(ls /boot/vmlinuz-"$ii_krel" 2>/dev/null ||
		ls /boot/vmlinuz-* 2>/dev/null | head -n 1)
	if [ -n "$ii_vmlinuz" ] && [ -r "$ii_vmlinuz" ]; then
		cp "$ii_vmlinuz" base/usr/install/amd64/vmlinuz
	else
		head -c 65536 /dev/urandom >base/usr/install/amd64/vmlinuz
	fi
	cp base-initramfs.xz base/usr/install/amd64/initramfs.xz
	echo "console=ttyS0 talos.platform=metal" >base/usr/install/amd64/cmdline
	printf '#!/bin/sh\n' >base/usr/bin/installer
	chmod 755 base/usr/bin/installer

	image_ext demo kiln-demo ">= v1.9.0"
	mkdir -p demo/rootfs/usr/lib/modules/"$ii_krel"/extras demo/rootfs/usr/lib/firmware/kiln \
		demo/rootfs/usr/lib/firmware/intel-ucode demo/rootfs/usr/lib/udev/rules.d
	cp "$ii_mods/kiln_plain.ko" "$ii_mods/kiln_consumer.ko" \
		demo/rootfs/usr/lib/modules/"$ii_krel"/extras/
	echo test-fw >demo/rootfs/usr/lib/firmware/kiln/test-fw.bin
	echo INTEL-A >demo/rootfs/usr/lib/firmware/intel-ucode/06-8e-09
	echo INTEL-B >demo/rootfs/usr/lib/firmware/intel-ucode/06-9e-0a
	echo 'KERNEL=="kiln_demo", MODE="0666"' >demo/rootfs/usr/lib/udev/rules.d/51-kiln.rules
	image_ext fw kiln-fw ">= v1.9.0 < v2.0.0"
	mkdir -p fw/rootfs/usr/lib/modules/"$ii_krel"/extras fw/rootfs/usr/lib/firmware/kiln \
		fw/rootfs/usr/lib/firmware/amd-ucode
	cp "$ii_mods/kiln_fw.ko" fw/rootfs/usr/lib/modules/"$ii_krel"/extras/
	echo board >fw/rootfs/usr/lib/firmware/kiln/board-a.bin
	echo AMD-1 >fw/rootfs/usr/lib/firmware/amd-ucode/microcode_amd_fam17h.bin
	echo not-microcode >fw/rootfs/usr/lib/firmware/amd-ucode/README
	"$ii_kiln" module sign --key key.pem --cert cert.der demo/rootfs fw/rootfs >/dev/null
}
