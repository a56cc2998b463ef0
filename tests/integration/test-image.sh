#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kiln image installer, as Talos's imager: a small base installer made by
# hand (a kernel, and an xz'd newc initramfs holding a rootfs.sqsh with
# real modules from tests/modules under usr/lib/modules/<release>), two
# extensions with signed modules, firmware and microcode (lib-image.sh);
# the result taken apart with cpio, xz, unsquashfs and depmod, and read by
# skopeo; a second run squashes nothing and gives the same bytes; the
# other outputs; Talos's refusals and the preflight's; a zstd base; Talos's
# order of eleven extensions; --push, and pulling into an empty store,
# against Debian's docker-registry when it is installed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
. "$here/lib-image.sh"

: "${KILN:?}" "${KILN_TEST_MODULES:?}"
need cpio xz zstd mksquashfs unsquashfs depmod modinfo openssl python3 skopeo docker-registry
PATH=$PATH:/usr/sbin:/sbin
mods=$KILN_TEST_MODULES
krel=$(modinfo -F vermagic "$mods/kiln_plain.ko" 2>/dev/null | cut -d' ' -f1)
[ -n "$krel" ] || bail_out "no test modules in KILN_TEST_MODULES='$mods': run through meson test"
w=$out/w
mkdir -p "$w"
cd "$w" || exit 1
export KILN_CACHE_DIR=$w/cache SOURCE_DATE_EPOCH=1700000000
base_ref=localhost/kiln-test/installer-base:v1.12.0

# ---- the inputs -------------------------------------------------------------------------

check "the inputs are made" image_inputs "$KILN" "$mods" "$krel"
check "the base installer is imported, with its Talos version as a label" \
	"$KILN" import base --tag "$base_ref" --label org.opencontainers.image.version=v1.12.0
check "the extensions are imported" \
	sh -c "'$KILN' import demo --tag localhost/kiln-test/kiln-demo:1 &&
		'$KILN' import fw --tag localhost/kiln-test/kiln-fw:1"

# image ARGS...: kiln image installer on the base, into out/
image() {
	"$KILN" image installer --base-installer-image "$base_ref" -o out "$@"
}
exts=(--system-extension-image localhost/kiln-test/kiln-demo:1
	--system-extension-image localhost/kiln-test/kiln-fw:1)

# ---- the installer ----------------------------------------------------------------------

expect_out "an installer is made" 0 'out/installer-amd64.tar' image "${exts[@]}" \
	--kernel-cert cert.der
cp "$out/stderr" run1.err
check "each extension is listed with name, version and author, in order" \
	grep -Pzq '0\.sqsh: kiln-demo 1\.0\.0 by Kiln Tests.*\n.*1\.sqsh: kiln-fw 1\.0\.0 by Kiln Tests' run1.err
check "every module passed the preflight" grep -q 'preflight: 3 modules would load' run1.err
check "each phase is reported" sh -c 'for p in base extensions modules preflight depmod squashfs initramfs image export; do grep -qx "kiln: image: $p" run1.err || exit 1; done'
check "the first run squashes both extensions" \
	sh -c "grep -c 'sqsh (kiln-[a-z]*): squashed in' run1.err | grep -qx 2"
cp out/installer-amd64.tar run1.tar

# the artifacts layer's files, out of the docker-archive itself
python3 - out/installer-amd64.tar <<'EOF' >layer.txt
import io, json, sys, tarfile
t = tarfile.open(sys.argv[1])
m = json.load(t.extractfile("manifest.json"))[0]
print(" ".join(m["RepoTags"]), len(m["Layers"]))
layer = tarfile.open(fileobj=io.BytesIO(t.extractfile(m["Layers"][-1]).read()))
for e in layer.getmembers():
    print(e.name, oct(e.mode), e.uid, e.gid, e.mtime)
    if e.isfile():
        open(e.name.replace("/", "_"), "wb").write(layer.extractfile(e).read())
EOF
check "the archive names the image and has the base's layer and the artifacts layer" \
	grep -qx 'kiln.local/installer:amd64 2' layer.txt
check "the artifacts layer holds vmlinuz and initramfs.xz, 0:0, at SOURCE_DATE_EPOCH" \
	sh -c "grep -qx 'usr/install/amd64/vmlinuz 0o644 0 0 1700000000' layer.txt &&
		grep -qx 'usr/install/amd64/initramfs.xz 0o644 0 0 1700000000' layer.txt"
check "the kernel is the base's" cmp usr_install_amd64_vmlinuz base/usr/install/amd64/vmlinuz
img=usr_install_amd64_initramfs.xz

# the new initramfs: microcode archive + the base's bytes + an xz'd archive
python3 - "$img" base-initramfs.xz <<'EOF' >split.txt
import sys
d = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
at = d.find(b)
open("ucode.cpio", "wb").write(d[:at])
open("tail.xz", "wb").write(d[at + len(b):])
print(at, at % 512, d[at:at + len(b)] == b)
EOF
check "the base's initramfs is in it untouched, after a whole microcode archive" \
	sh -c "read at pad same <split.txt && [ \$at -gt 0 ] && [ \$pad = 0 ] && [ \$same = True ]"
check "the microcode archive comes first, uncompressed" \
	sh -c "cpio -it --quiet <ucode.cpio | tr '\n' ' ' | grep -qx 'kernel kernel/x86 kernel/x86/microcode kernel/x86/microcode/AuthenticAMD.bin kernel/x86/microcode/GenuineIntel.bin '"
mkdir -p ucode && (cd ucode && cpio -id --quiet <../ucode.cpio)
check "the Intel microcode is the extension's files, concatenated in name order" \
	sh -c "printf 'INTEL-A\nINTEL-B\n' | cmp - ucode/kernel/x86/microcode/GenuineIntel.bin"
check "the AMD microcode is microcode_amd*.bin only" \
	sh -c "printf 'AMD-1\n' | cmp - ucode/kernel/x86/microcode/AuthenticAMD.bin"
check "what is appended is one xz stream with a CRC32 check (xz -C crc32)" \
	sh -c "xz -t tail.xz && xz -lvv tail.xz | grep -q 'Check: *CRC32'"
xz -dc tail.xz >tail.cpio
check "byte for byte what xz -C crc32 -0 -e -T1 makes of the archive" \
	sh -c "xz -C crc32 -0 -e -T1 <tail.cpio | cmp - tail.xz"
python3 - tail.cpio <<'EOF' >tail.txt
import sys
d = open(sys.argv[1], "rb").read()
o = 0
while True:
    h = d[o:o + 110]
    assert h[:6] == b"070701", h[:6]
    f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
    mode, uid, gid, mtime, size, nsize = f[1], f[2], f[3], f[5], f[6], f[11]
    name = d[o + 110:o + 110 + nsize - 1].decode()
    o = (o + 110 + nsize + 3) & ~3
    if name == "TRAILER!!!":
        break
    print(name, uid, gid, mtime)
    o = (o + size + 3) & ~3
EOF
check "the appended archive holds the squashfs images, extensions.yaml and the firmware" \
	sh -c "cut -d' ' -f1 tail.txt | tr '\n' ' ' | grep -qx '0.sqsh 1.sqsh extensions.yaml modules.dep.sqsh usr usr/lib usr/lib/firmware usr/lib/firmware/amd-ucode usr/lib/firmware/amd-ucode/README usr/lib/firmware/intel-ucode usr/lib/firmware/kiln usr/lib/firmware/kiln/board-a.bin usr/lib/firmware/kiln/test-fw.bin '"
check "relative names, owned by 0:0, every mtime SOURCE_DATE_EPOCH" \
	sh -c "! grep -v ' 0 0 1700000000\$' tail.txt && ! grep '^/\|^\./' tail.txt"
mkdir -p tail && (cd tail && cpio -id --quiet <../tail.cpio)
check "extensions.yaml lists the layers in order, modules.dep last" \
	sh -c "grep 'image:' tail/extensions.yaml | tr -s ' ' | tr '\n' '|' | grep -qx ' - image: 0.sqsh| - image: 1.sqsh| - image: modules.dep.sqsh|'"
cat >want.yaml <<EOF
layers:
    - image: 0.sqsh
      metadata:
        name: kiln-demo
        version: 1.0.0
        author: Kiln Tests
        description: |
            The kiln-demo test extension.
        compatibility:
            talos:
                version: '>= v1.9.0'
    - image: 1.sqsh
      metadata:
        name: kiln-fw
        version: 1.0.0
        author: Kiln Tests
        description: |
            The kiln-fw test extension.
        compatibility:
            talos:
                version: '>= v1.9.0 < v2.0.0'
    - image: modules.dep.sqsh
      metadata:
        name: modules.dep
        version: $krel
        author: Talos Machinery
        description: Combined modules.dep for all extensions
        compatibility:
            talos:
                version: ""
EOF
check "extensions.yaml is what Talos's imager writes" diff want.yaml tail/extensions.yaml
check "an extension's squashfs holds its rootfs, owned by root, without its firmware" \
	sh -c "unsquashfs -lln tail/0.sqsh >sq0.txt &&
		grep -q 'extras/kiln_plain.ko\$' sq0.txt && grep -q 'rules.d/51-kiln.rules\$' sq0.txt &&
		! grep -q firmware sq0.txt && ! grep -v ' 0/0 ' sq0.txt | grep -q ."
check "the squashfs images are zstd" sh -c "unsquashfs -s tail/1.sqsh | grep -q 'Compression zstd'"
check "the modules.dep extension holds only the release's modules.* files" \
	sh -c "unsquashfs -lln tail/modules.dep.sqsh | awk '{print \$6}' | grep -v '^squashfs-root\(/usr\(/lib\(/modules\(/$krel\)\?\)\?\)\?\)\?\$' | grep -v '/modules\.[a-z.]*\$' | grep -q . && exit 1 || exit 0"

# the same merge by hand: the base's modules, the extensions' over them, depmod -b
mkdir -p merged/usr/lib/modules
cp -a "rootfs/usr/lib/modules/$krel" merged/usr/lib/modules/
rm -f merged/usr/lib/modules/"$krel"/modules.*[!r]*.bin merged/usr/lib/modules/"$krel"/modules.dep
cp -a demo/rootfs/usr/lib/modules/"$krel"/. fw/rootfs/usr/lib/modules/"$krel"/. merged/usr/lib/modules/"$krel"/
echo "search extras built-in" >depmod.conf
# an absolute --config: kmod 30's depmod crashes on a relative one
depmod -b merged/usr -C "$w/depmod.conf" "$krel" 2>/dev/null
for f in modules.dep modules.alias modules.symbols modules.softdep; do
	check "$f is what depmod -b makes of the merged tree" \
		sh -c "unsquashfs -cat tail/modules.dep.sqsh usr/lib/modules/$krel/$f | cmp - merged/usr/lib/modules/$krel/$f"
done
check "modules.dep has the extensions' modules and the base's" \
	sh -c "unsquashfs -cat tail/modules.dep.sqsh usr/lib/modules/$krel/modules.dep | grep -qx 'extras/kiln_consumer.ko: kernel/drivers/kiln/kiln_provider.ko'"

# ---- again: nothing squashed, the same bytes --------------------------------------------

stat -c '%n %y' cache/image/sqsh/*.sqsh >cache1.txt
expect_out "the same inputs again" 0 'out/installer-amd64.tar' image "${exts[@]}" \
	--kernel-cert cert.der
cp "$out/stderr" run2.err
check "the second run squashes nothing: both extensions and modules.dep come from the cache" \
	sh -c "grep -q '0.sqsh (kiln-demo): cached, not squashed' run2.err &&
		grep -q '1.sqsh (kiln-fw): cached, not squashed' run2.err &&
		grep -q 'modules.dep.sqsh (modules.dep): cached, not squashed' run2.err &&
		! grep -q 'squashed in' run2.err"
check "the cached images were not rewritten (their mtimes)" \
	sh -c "stat -c '%n %y' cache/image/sqsh/*.sqsh | cmp - cache1.txt"
check "two runs give byte-identical installer tars" cmp run1.tar out/installer-amd64.tar
check "kiln cache du counts the cached squashfs images" sh -c '
	"$1" cache du --json | python3 -c "import json, sys; assert json.load(sys.stdin)[\"squashfs\"][\"count\"] == 3"' \
	- "$KILN"
check "kiln cache prune removes them" sh -c '
	"$1" cache prune | grep -q . && ! ls cache/image/sqsh/*.sqsh 2>/dev/null' - "$KILN"
expect_out "after the prune, the same inputs again" 0 'out/installer-amd64.tar' image "${exts[@]}" \
	--kernel-cert cert.der
cp "$out/stderr" run3.err
check "... squash all three again, to the same bytes" sh -c "
	grep -c 'sqsh ([a-z.-]*): squashed in' run3.err | grep -qx 3 && cmp run1.tar out/installer-amd64.tar"
check "skopeo copies the docker-archive into an OCI layout" \
	skopeo copy --quiet docker-archive:out/installer-amd64.tar oci:oci-copy:x

# ---- the other outputs ------------------------------------------------------------------

expect_out "--output kernel" 0 'out/vmlinuz-amd64' image --output kernel
check "is the base's kernel" cmp out/vmlinuz-amd64 base/usr/install/amd64/vmlinuz
expect_out "--output initramfs" 0 'out/initramfs-amd64.xz' image "${exts[@]}" \
	--kernel-cert cert.der --output initramfs
check "is the installer's initramfs" cmp out/initramfs-amd64.xz "$img"
expect_out "--output cmdline" 0 'out/cmdline-amd64' image --output cmdline \
	--extra-kernel-arg -console --extra-kernel-arg foo=bar --extra-kernel-arg foo=baz
check "is the base's arguments, module.sig_enforce=1, the extra ones (-ARG deletes)" \
	sh -c "printf 'talos.platform=metal module.sig_enforce=1 foo=bar foo=baz' | cmp - out/cmdline-amd64"

mkdir -p none
expect_out "without extensions" 0 'none/initramfs-amd64.xz' "$KILN" image installer \
	--base-installer-image "$base_ref" -o none --output initramfs
check "the initramfs is the base's, untouched, as Talos skips the rebuild" \
	cmp none/initramfs-amd64.xz base-initramfs.xz

# ---- refusals ---------------------------------------------------------------------------

cp -a demo too-new
sed -i 's/>= v1.9.0/>= v1.99.0/' too-new/manifest.yaml
"$KILN" import too-new --tag localhost/kiln-test/too-new:1 >/dev/null
expect_fail "a constraint the base's version does not satisfy is refused, in Talos's words" 1 \
	"error validating extension \"kiln-demo\": version constraint >= v1.99.0 can't be satisfied with Talos version 1.12.0" \
	image --system-extension-image localhost/kiln-test/too-new:1 --output initramfs

cp -a demo unsigned
cp "$mods/kiln_plain.ko" unsigned/rootfs/usr/lib/modules/"$krel"/extras/
"$KILN" import unsigned --tag localhost/kiln-test/unsigned:1 >/dev/null
expect_fail "the preflight refuses an unsigned module, in the kernel's words" 1 \
	"preflight: the base's kernel $krel would refuse usr/lib/modules/$krel/extras/kiln_plain.ko of extension \"kiln-demo\".*Key was rejected by service" \
	image --system-extension-image localhost/kiln-test/unsigned:1 --kernel-cert cert.der \
	--output initramfs
cp "$out/stderr" unsigned.err
check "... and the command says what to do, with the certificate given" grep -q \
	"^kiln: image installer: preflight: to fix it: sign it with the kernel's key: kiln module sign --key KEY --cert cert.der FILE$" \
	unsigned.err
expect_out "--no-preflight composes it anyway" 0 'out/initramfs-amd64.xz' \
	image --system-extension-image localhost/kiln-test/unsigned:1 --no-preflight \
	--output initramfs

cp -a demo other-release
mv other-release/rootfs/usr/lib/modules/"$krel" other-release/rootfs/usr/lib/modules/9.9.9-other
"$KILN" import other-release --tag localhost/kiln-test/other-release:1 >/dev/null
expect_fail "modules for another release: Talos's copy error, naming both releases" 1 \
	"copying kernel modules from \"localhost/kiln-test/other-release:1\" failed.*for 9.9.9-other.*kernel is $krel" \
	image --system-extension-image localhost/kiln-test/other-release:1 --no-preflight \
	--output initramfs

mkdir -p zbase
cp -a base/. zbase/
xz -dc base-initramfs.xz | zstd -q -19 >zbase/usr/install/amd64/initramfs.xz
"$KILN" import zbase --tag localhost/kiln-test/zstd-base:1 >/dev/null
expect_out "a base whose initramfs is zstd (Talos 1.8 and later)" 0 'out/initramfs-amd64.xz' \
	"$KILN" image installer --base-installer-image localhost/kiln-test/zstd-base:1 \
	-o out --talos-version v1.12.0 --system-extension-image localhost/kiln-test/kiln-fw:1 \
	--kernel-cert cert.der --output initramfs
python3 - out/initramfs-amd64.xz zbase/usr/install/amd64/initramfs.xz >ztail.txt <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
b = open(sys.argv[2], "rb").read()
at = d.find(b)
open("ztail.zst", "wb").write(d[at + len(b):])
print(at > 0)
PY
check "gets its archive appended as zstd, as the base's" \
	sh -c "grep -qx True ztail.txt && zstd -t -q ztail.zst &&
		zstd -dc ztail.zst | cpio -it --quiet | grep -qx extensions.yaml"

mkdir -p noise
cp -a base/. noise/
head -c 65536 /dev/urandom >noise/usr/install/amd64/vmlinuz
"$KILN" import noise --tag localhost/kiln-test/noise-base:1 >/dev/null
expect_out "a base whose kernel image cannot be read" 0 'out/initramfs-amd64.xz' \
	"$KILN" image installer --base-installer-image localhost/kiln-test/noise-base:1 -o out \
	--talos-version v1.12.0 --system-extension-image localhost/kiln-test/kiln-demo:1 \
	--output initramfs
cp "$out/stderr" noise.err
check "says so, and that signatures were not checked rather than passing them" \
	sh -c "grep -q 'usr/install/amd64/vmlinuz is not used' noise.err &&
		grep -q 'module signatures not checked: no certificate' noise.err &&
		grep -q '2 modules would load, 0 warnings, 2 signatures not checked' noise.err"

# ---- Talos's order: by the string order of the positions --------------------------------

order=()
for i in 0 1 2 3 4 5 6 7 8 9 10; do
	image_ext "n$i" "ext-$i" ""
	mkdir -p "n$i/rootfs/usr/local/share"
	echo "$i" >"n$i/rootfs/usr/local/share/n"
	order+=(--system-extension-image "$w/n$i")
done
expect_out "eleven extensions (directories)" 0 'out/initramfs-amd64.xz' image "${order[@]}" \
	--output initramfs
cp "$out/stderr" order.err
check "are taken in the string order of their positions: 10 before 2" \
	sh -c "grep -o 'sqsh: ext-[0-9]*' order.err | tr '\n' ' ' | grep -qx 'sqsh: ext-0 sqsh: ext-1 sqsh: ext-10 sqsh: ext-2 sqsh: ext-3 sqsh: ext-4 sqsh: ext-5 sqsh: ext-6 sqsh: ext-7 sqsh: ext-8 sqsh: ext-9 '"

# ---- --push: through kiln's push, which refuses private keys ---------------------------

. "$here/lib-registry.sh"
tmp=$w
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$out"' EXIT
port=$(free_port)
R=127.0.0.1:$port
start_registry reg "$port"
expect_out "--push pushes the installer and prints its reference" 0 \
	"^$R/kiln/installer:v1@sha256:[0-9a-f]{64}\$" \
	image "${exts[@]}" --kernel-cert cert.der --push "$R/kiln/installer:v1"
check "the registry serves it" skopeo inspect --tls-verify=false "docker://$R/kiln/installer:v1"
check "out/images.json records the push" grep -q "\"$R/kiln/installer:v1\"" out/images.json
check "the base and the extensions are pushed to the registry" \
	sh -c "'$KILN' push -q --no-record $base_ref $R/kiln/installer-base:v1.12.0 &&
		'$KILN' push -q --no-record localhost/kiln-test/kiln-demo:1 $R/kiln/kiln-demo:1 &&
		'$KILN' push -q --no-record localhost/kiln-test/kiln-fw:1 $R/kiln/kiln-fw:1"
expect_out "with an empty store, the base and the extensions are pulled" 0 \
	'pulled/installer-amd64.tar' env KILN_CACHE_DIR="$w/cache2" "$KILN" image installer \
	--base-installer-image "$R/kiln/installer-base:v1.12.0" -o pulled \
	--system-extension-image "$R/kiln/kiln-demo:1" \
	--system-extension-image "$R/kiln/kiln-fw:1" --kernel-cert cert.der
check "and the installer is the same, byte for byte" cmp pulled/installer-amd64.tar run1.tar
mkdir -p keyed
cp -a base/. keyed/
mkdir -p keyed/etc
cp key.pem keyed/etc/signing_key.pem
"$KILN" import keyed --tag localhost/kiln-test/keyed-base:1 >/dev/null
expect_fail "--push refuses an installer that holds a private key" 1 \
	"refusing to push kiln.local/installer:amd64: .*etc/signing_key.pem" \
	"$KILN" image installer --base-installer-image localhost/kiln-test/keyed-base:1 \
	-o out --talos-version v1.12.0 --push "$R/kiln/keyed:v1"

done_testing
