#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kiln ext validate|info|new against the fixtures of tests/data/ext (one
# rule broken in each), extensions made here with what git cannot hold
# (modes, fifos, keys), and real signed modules checked against a kernel
# build tree: a copy of Debian's linux-headers with a signing key in certs/.
set -u
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/lib-keys.sh"
. "$(dirname "$0")/lib-kernel.sh"

: "${KILN:?}" "${SRCDIR:?}"
fx=$SRCDIR/tests/data/ext
w=$out/w
mkdir -p "$w"
export KILN_CACHE_DIR=$w/cache

ev() {
	"$KILN" ext validate "$@"
}

# ---- Talos's rules, with Talos's messages ----

check "a good extension is valid" ev "$fx/good" --talos-version v1.12.0
cp "$out/stdout" "$w/good.out"
check "and says what it holds" grep -q 'valid (kiln-test 1.0.0, .* files' "$w/good.out"
expect_fail "an unexpected file at the top" 1 'unexpected file "README.md"' ev "$fx/unexpected-file"
expect_fail "no manifest" 1 'extension manifest is missing' ev "$fx/no-manifest"
expect_fail "no rootfs" 1 'extension rootfs is missing' ev "$fx/no-rootfs"
expect_fail "another manifest version" 1 'unsupported manifest version: "v1alpha2"' \
	ev "$fx/bad-version"
expect_fail "a manifest without metadata.name" 1 'manifest.yaml.*name' ev "$fx/no-metadata-name"
expect_fail "a constraint that does not parse" 1 'error parsing Talos version constraint' \
	ev "$fx/bad-constraint" --talos-version v1.12.0
expect_fail "a constraint the Talos version does not satisfy" 1 \
	"version constraint >= v1.99.0 can't be satisfied with Talos version 1.12.0" \
	ev "$fx/unsatisfied" --talos-version v1.12.0
check "without --talos-version the constraint is not evaluated" ev "$fx/unsatisfied"
expect_fail "a path outside the allowed prefixes" 1 \
	'path "/usr/bin/tool" is not allowed in extensions' ev "$fx/not-allowed"

cp -a "$fx/good" "$w/writable"
chmod 0666 "$w/writable/rootfs/usr/lib/firmware/kiln/test-fw.bin"
expect_fail "a world-writable file" 1 'world-writeable files are not allowed' ev "$w/writable"
cp -a "$fx/good" "$w/fifo"
mkfifo "$w/fifo/rootfs/usr/local/fifo" 2>/dev/null || { mkdir -p "$w/fifo/rootfs/usr/local" && mkfifo "$w/fifo/rootfs/usr/local/fifo"; }
expect_fail "a special file" 1 'special files are not allowed' ev "$w/fifo"

# ---- kiln's deeper checks ----

expect_fail "a udev rule under /etc is refused, with where it belongs" 1 \
	'etc/udev/rules.d/51-kiln.rules.*/usr/lib/udev/rules.d/' ev "$fx/udev-under-etc"
expect_fail "udev rules that do not parse are refused with file:line" 1 \
	'51-kiln.rules:[0-9]+' ev "$fx/bad-udev"

cp -a "$fx/good" "$w/key"
mkdir -p "$w/key/rootfs/usr/local/etc"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$w/key/rootfs/usr/local/etc/driver.pem" 2>/dev/null
expect_fail "an extension carrying a private key is refused" 1 \
	'usr/local/etc/driver.pem: holds a PEM private key.*never ship' ev "$w/key"
cp -a "$fx/good" "$w/signing-key"
mkdir -p "$w/signing-key/rootfs/usr/lib/modules/x/build/certs"
echo "not even a key" >"$w/signing-key/rootfs/usr/lib/modules/x/build/certs/signing_key.pem"
expect_fail "a file called signing_key.pem is refused whatever it holds" 1 \
	'signing_key.pem' ev "$w/signing-key"

# ---- modules against a kernel ----

headers=$(kernel_headers)
mods=${KILN_TEST_MODULES:-}
if [ -z "$headers" ] || [ ! -f "$headers/Module.symvers" ] || [ -z "$mods" ] ||
	[ ! -f "$mods/kiln_fw.ko" ]; then
	not_ok "modules are checked against a kernel" "no linux-headers tree ('$headers') or no test" \
		"modules in KILN_TEST_MODULES='$mods': run scripts/install-deps.sh, and the test through meson"
else
	kb=$w/kbuild
	kernel_headers_copy "$headers" "$kb"
	kernel_key "$w/kernel.genkey" "$w/kernel.pem" "$w/kernel.x509" sha512 "CN = kiln ext test kernel key" -newkey rsa:2048
	kernel_key "$w/other.genkey" "$w/other.pem" "$w/other.x509" sha512 "CN = kiln ext test other key" -newkey rsa:2048
	mkdir -p "$kb/certs"
	cp "$w/kernel.x509" "$kb/certs/signing_key.x509"
	release=$(kernel_release "$kb")

	# mkext NAME KEY [RELEASE]: an extension with kiln_fw.ko signed by KEY, and its firmware
	mkext() {
		local d=$w/$1 rel=${3:-$release}
		cp -a "$fx/good" "$d"
		mkdir -p "$d/rootfs/usr/lib/modules/$rel/extras"
		cp "$mods/kiln_fw.ko" "$d/rootfs/usr/lib/modules/$rel/extras/"
		echo board >"$d/rootfs/usr/lib/firmware/kiln/board-1.bin"
		"$KILN" module sign --hash sha512 --key "$w/$2.pem" --cert "$w/$2.x509" \
			"$d/rootfs/usr/lib/modules/$rel/extras/kiln_fw.ko" >/dev/null
	}

	mkext mod-good kernel
	check "a module signed with the kernel's key, with its firmware, is valid" \
		ev "$w/mod-good" --kernel-build "$kb"
	cp "$out/stdout" "$w/mod-good.out"
	check "and was checked against the kernel" grep -q "1 modules for $release, 1 checked" "$w/mod-good.out"

	mkext mod-other-key other
	expect_fail "a module signed by another key is refused, naming the file" 1 \
		"usr/lib/modules/$release/extras/kiln_fw.ko: signature" ev "$w/mod-other-key" --kernel-build "$kb"

	mkext mod-other-release kernel 6.1.0-99-other
	expect_fail "modules for another kernel release are refused, with what to do" 1 \
		"modules are for kernel 6.1.0-99-other, but the target kernel is $release.*kernel-build" \
		ev "$w/mod-other-release" --kernel-build "$kb"

	mkext mod-no-fw kernel
	rm "$w/mod-no-fw/rootfs/usr/lib/firmware/kiln/test-fw.bin"
	expect_fail "a module missing its declared firmware is refused, naming the firmware" 1 \
		"kiln_fw.ko: firmware.*kiln/test-fw.bin" ev "$w/mod-no-fw" --kernel-build "$kb"
	mkdir -p "$w/base/usr/lib/firmware/kiln"
	echo fw >"$w/base/usr/lib/firmware/kiln/test-fw.bin"
	check "the same with the firmware in --base is valid" \
		ev "$w/mod-no-fw" --kernel-build "$kb" --base "$w/base"

	mkext mod-two-releases kernel
	mkdir -p "$w/mod-two-releases/rootfs/usr/lib/modules/6.1.0-99-other/extras"
	cp "$w/mod-two-releases/rootfs/usr/lib/modules/$release/extras/kiln_fw.ko" \
		"$w/mod-two-releases/rootfs/usr/lib/modules/6.1.0-99-other/extras/"
	expect_fail "modules for two releases are refused" 1 'modules for 2 kernel releases' \
		ev "$w/mod-two-releases"

	mkdir -p "$w/mod-outside/rootfs/usr/local/lib"
	cp -a "$fx/good/." "$w/mod-outside/"
	cp "$mods/kiln_plain.ko" "$w/mod-outside/rootfs/usr/local/lib/"
	expect_fail "a module outside /usr/lib/modules is refused" 1 'outside /usr/lib/modules' \
		ev "$w/mod-outside"

	# ---- the kernel as an image, as the kernel-build stage makes it: its tree at /src ----
	mkdir -p "$w/kbimg"
	cp -al "$kb" "$w/kbimg/src"
	check "import a kernel-build image" "$KILN" import "$w/kbimg" --tag kiln-test/kernel-build:1
	check "--kernel-build takes it as a reference" \
		ev "$w/mod-good" --kernel-build kiln-test/kernel-build:1
	expect_fail "and refuses a module signed by another key against it" 1 'kiln_fw.ko: signature' \
		ev "$w/mod-other-key" --kernel-build kiln-test/kernel-build:1

	# ---- images and tars: what ships ----
	check "import the good extension as an image" "$KILN" import "$w/mod-good" --tag kiln-test/ext:good
	check "an image validates as its directory did" \
		ev kiln-test/ext:good --kernel-build "$kb" --talos-version v1.15.0-alpha.0
	check "ext info shows its manifest" "$KILN" ext info kiln-test/ext:good
	check "with name, version and the module's release" \
		bash -c "\"$KILN\" ext info kiln-test/ext:good | grep -q '^modules: *1 for $release'"
	check "ext info --json" bash -c "\"$KILN\" ext info --json kiln-test/ext:good | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"manifest\"][\"name\"] == \"kiln-test\"'"
	tar -C "$w/mod-good" --owner=0 --group=0 -czf "$w/good.tar.gz" manifest.yaml rootfs
	check "a plain tar.gz validates" ev "$w/good.tar.gz" --kernel-build "$kb"
	tar -C "$w/mod-good" --owner=1000 --group=1000 -cf "$w/owned.tar" manifest.yaml rootfs
	expect_fail "a tar whose files are not root's is refused" 1 'owned by 1000:1000' \
		ev "$w/owned.tar"
	check "export the image as a docker-archive" \
		"$KILN" export kiln-test/ext:good -o "$w/good-docker.tar" --format docker-archive
	check "and that validates too" ev "$w/good-docker.tar" --kernel-build "$kb"
	check "--json reports valid with the module checked" bash -c \
		"\"$KILN\" ext validate --json kiln-test/ext:good --kernel-build '$kb' | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"valid\"] and d[\"modulesChecked\"] == 1, d'"
fi

# ---- ext new ----

check "ext new scaffolds an extension" "$KILN" ext new --dir "$w/tree/drivers/mydrv" mydrv
for f in pkg.yaml vars.yaml manifest.yaml.tmpl README.md; do
	check "ext new wrote $f" test -s "$w/tree/drivers/mydrv/$f"
done
expect_fail "ext new never touches an existing directory" 1 'exists' \
	"$KILN" ext new --dir "$w/tree/drivers/mydrv" mydrv
expect_fail "ext new refuses a bad name" 2 'not a package name' "$KILN" ext new 'My Driver'
cp "$SRCDIR/examples/extensions/Pkgfile" "$w/tree/Pkgfile"
mkdir -p "$w/tree/base"
printf 'name: base\nvariant: scratch\nfinalize:\n  - from: /\n    to: /\n' >"$w/tree/base/pkg.yaml"
check "the scaffold is a valid package in a tree" \
	"$KILN" -C "$w/tree" validate --build-arg PKGS_PREFIX=ghcr.io/siderolabs --build-arg PKGS=v1.12.0 --build-arg TAG=v1
check "its manifest renders and parses" bash -c \
	"\"$KILN\" -C '$w/tree' eval -t mydrv --build-arg TAG=v1 \"\$(cat '$w/tree/drivers/mydrv/manifest.yaml.tmpl')\" | grep -q 'name: mydrv'"

done_testing
