#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The main job's first half, end to end, as `make demo` runs it: a Debian
# build root from Debian's packages, a real Linux 6.12 kernel built once by
# kiln build with its generated signing key, the kiln-demo and v4l2loopback
# modules built and signed against it, the extensions made from the pushed
# module packages, validated against the kernel. Then what the user changes:
# one edited driver rebuilds only itself; a module signed by another key or
# built for another kernel fails its stage; the user's own key signs
# everything and is nowhere in what kiln keeps or pushes. The demo composes
# the installer from installer-base and the extensions and boots it.
#
# The kernel is built twice (the generated key, then the user's): this test
# is the long one of `make test` (about 25 minutes on 2 cores).
set -u
. "$(dirname "$0")/tap.sh"

: "${KILN:?}" "${SRCDIR:?}"
. "$SRCDIR/tests/integration/lib-registry.sh"

work=$(mktemp -d)
tmp=$work # for lib-registry.sh
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$work" "$out"
}
trap cleanup EXIT

for tool in mmdebstrap docker-registry openssl zstd; do
	if ! command -v "$tool" >/dev/null; then
		echo "Bail out! $tool is missing: run scripts/install-deps.sh"
		exit 1
	fi
done

port=$(free_port)
registry=127.0.0.1:$port
start_registry registry "$port" || {
	echo "Bail out! docker-registry did not start"
	exit 1
}
export KILN_CACHE_DIR=$work/cache
export KILN_DEMO_OUT=$work/out
export KILN_DEMO_REGISTRY=$registry
export SOURCE_DATE_EPOCH=0
tag=v0.1.0
export KILN_DEMO_TAG=$tag

# the trees are copies, so that the test can edit them; the demo script runs
# from a copy of the source tree's scripts and examples
src=$work/src
mkdir -p "$src"
cp -r "$SRCDIR/scripts" "$SRCDIR/examples" "$src/"
rm -rf "$src/examples/pkgs/_out" "$src/examples/extensions/_out"
pkgs=$src/examples/pkgs
exts=$src/examples/extensions
build_pkgs() {
	"$KILN" -C "$pkgs" build --progress plain --tag "$tag" "$@"
}
build_exts() {
	"$KILN" -C "$exts" build --progress plain --tag "$tag" \
		--build-arg "PKGS_PREFIX=$registry/kiln" --build-arg "PKGS=$tag" "$@"
}

# ---- make demo, first run ----

t0=$(date +%s)
check "the demo runs from zero: build root, kernel, modules, extensions, pushes, validation" \
	"$src/scripts/demo.sh" "$KILN"
t1=$(date +%s)
cp "$out/stdout" "$work/demo-first.out"
cp "$out/stderr" "$work/demo-first.err"
echo "# first demo run: $((t1 - t0)) s"

# what the registry holds, pulled into a store of its own: never an older
# copy the build's store may have
pulled() {
	local ref=$1
	shift
	KILN_CACHE_DIR=$work/view "$KILN" pull --quiet "$ref" >/dev/null &&
		KILN_CACHE_DIR=$work/view "$KILN" "$@"
}

release=$("$KILN" cat "kernel-build:$tag" /src/include/config/kernel.release 2>/dev/null)
check "kernel-build is Linux 6.12 with the tree's -kiln suffix" \
	bash -c "[[ '$release' =~ ^6\.12\.[0-9]+-kiln$ ]]"
ko=/rootfs/usr/lib/modules/$release/kernel/drivers/misc/kiln_demo.ko
pulled "$registry/kiln/kiln-demo:$tag" ls -R "$registry/kiln/kiln-demo:$tag" /rootfs/usr/lib/modules \
	>"$work/ls-modules" 2>&1
check "the pushed kiln-demo extension holds the module where the seed looks for it" \
	grep -q "kernel/drivers/misc/kiln_demo.ko" "$work/ls-modules"
check "... its firmware" pulled "$registry/kiln/kiln-demo:$tag" \
	ls "$registry/kiln/kiln-demo:$tag" /rootfs/usr/lib/firmware/kiln/demo.bin
check "... its udev rule" pulled "$registry/kiln/kiln-demo:$tag" \
	ls "$registry/kiln/kiln-demo:$tag" /rootfs/usr/lib/udev/rules.d/51-kiln-demo.rules
"$KILN" cat "kernel-build:$tag" /src/certs/signing_key.x509 >"$work/kernel.x509"
pulled "$registry/kiln/kiln-demo:$tag" cat "$registry/kiln/kiln-demo:$tag" "$ko" >"$work/kiln_demo.ko"
check "kiln module verify with kernel-build's certificate passes on it" \
	"$KILN" module verify --cert "$work/kernel.x509" "$work/kiln_demo.ko"
check "v4l2loopback's extension holds its module" \
	pulled "$registry/kiln/v4l2loopback:$tag" ls "$registry/kiln/v4l2loopback:$tag" \
	"/rootfs/usr/lib/modules/$release/kernel/drivers/media/v4l2loopback.ko"
check "the kernel package is laid out as Talos's: boot/vmlinuz" \
	pulled "$registry/kiln/kernel:$tag" ls "$registry/kiln/kernel:$tag" /boot/vmlinuz
pulled "$registry/kiln/kernel:$tag" cat "$registry/kiln/kernel:$tag" \
	"/usr/lib/modules/$release/kernel/drivers/media/v4l2-core/videodev.ko" >"$work/videodev.ko"
check "... and its in-tree module videodev, signed" \
	"$KILN" module verify --cert "$work/kernel.x509" "$work/videodev.ko"
check "the summary lists every module with its verdict" \
	grep -qE 'kiln_demo\.ko.*(will load|loads)' "$work/demo-first.out"

# ---- the installer the demo composed and booted ----

check "the demo's installer booted: both modules loaded, their devices appeared" \
	bash -c "cat '$work/demo-first.out' '$work/demo-first.err' | grep -qE 'PASS +device /dev/kiln_demo'"
check "skopeo takes the installer" skopeo copy --quiet \
	"docker-archive:$KILN_DEMO_OUT/installer-amd64.tar" "oci:$work/installer-oci:installer"
check "composing it again gives the same bytes" \
	"$KILN" image installer --base-installer-image "$registry/kiln/installer-base:$tag" \
	--system-extension-image "$registry/kiln/kiln-demo:$tag" \
	--system-extension-image "$registry/kiln/v4l2loopback:$tag" -o "$work/installer-again"
check "... byte for byte" cmp "$KILN_DEMO_OUT/installer-amd64.tar" \
	"$work/installer-again/installer-amd64.tar"

# ---- the imager refuses what the kernel would refuse ----

# the kiln-demo extension as a directory, its module re-signed with another
# key; and one that also carries a module of Debian's own kernel
pulled "$registry/kiln/kiln-demo:$tag" unpack "$registry/kiln/kiln-demo:$tag" "$work/ext-other-key" \
	>/dev/null
openssl req -new -nodes -utf8 -sha512 -days 36500 -batch -x509 \
	-config "$pkgs/kernel/build/certs/x509.genkey" -subj "/O=kiln test/CN=Another key" \
	-outform PEM -out "$work/other.pem" -keyout "$work/other.pem" 2>/dev/null
"$KILN" module sign --replace --key "$work/other.pem" --cert "$work/other.pem" \
	"$work/ext-other-key$ko" >/dev/null
pulled "$registry/kiln/kiln-demo:$tag" unpack "$registry/kiln/kiln-demo:$tag" "$work/ext-other-kernel" \
	>/dev/null
debian_ko=$(find /usr/lib/modules/*/kernel/drivers/net -name dummy.ko | head -n 1)
cp "$debian_ko" "$(dirname "$work/ext-other-kernel$ko")/"
compose() {
	local out=$1
	shift
	"$KILN" image installer --base-installer-image "$registry/kiln/installer-base:$tag" \
		--system-extension-image "$registry/kiln/v4l2loopback:$tag" -o "$out" "$@"
}
expect_fail "the imager refuses a module signed by another key, with the kernel's words" 1 \
	'kiln_demo\.ko.*signed by a key the kernel does not trust.*Key was rejected by service' \
	compose "$work/refused-key" --system-extension-image "$work/ext-other-key"
check "with --no-preflight it composes" \
	compose "$work/unchecked" --no-preflight --system-extension-image "$work/ext-other-key"
"$KILN" boot-test "$work/unchecked/installer-amd64.tar" -o "$work/unchecked" \
	--expect-module kiln_demo --expect-module v4l2loopback >"$work/unchecked.out" 2>&1
status=$?
check "... and in a VM the kernel refuses it: Key was rejected by service, boot-test fails" \
	bash -c "[ $status = 1 ] && grep -qE 'FAIL +module kiln_demo +Key was rejected by service' \
		'$work/unchecked.out'"
expect_fail "the imager refuses a module built for another kernel (Debian's), naming both" 1 \
	"dummy\.ko.*vermagic.*$release" \
	compose "$work/refused-kernel" --system-extension-image "$work/ext-other-kernel"

# ---- the modules load on the kernel, in a VM ----

# boot_pushed NAME: boot the pushed kernel with the pushed module packages
# (boot-check.sh: an initramfs in the imager's shape, kiln-init, kiln
# boot-test), expecting both modules to load with signatures enforced
boot_pushed() {
	local d=$work/boot-$1
	rm -rf "$d"
	mkdir -p "$d"
	for pkg in kernel kiln-demo-pkg v4l2loopback-pkg; do
		pulled "$registry/kiln/$pkg:$tag" unpack "$registry/kiln/$pkg:$tag" "$d/$pkg" >/dev/null ||
			return 1
	done
	"$SRCDIR/tests/integration/boot-check.sh" "$d/kernel" "$d/kiln-demo-pkg" \
		"$d/v4l2loopback-pkg" >"$work/boot-$1.tap" 2>&1
	local status=$?
	grep -E '^(not ok|# )' "$work/boot-$1.tap" >&2
	return $status
}
check "in a VM, signatures enforced: both modules load, /dev/kiln_demo is 0666 by its udev rule, /dev/video0 exists; one signed by another key is refused" \
	boot_pushed generated

# ---- make demo, second run: all cache hits ----

t0=$(date +%s)
check "a second demo run succeeds" "$src/scripts/demo.sh" "$KILN"
t1=$(date +%s)
echo "# second demo run: $((t1 - t0)) s"
cat "$out/stdout" "$out/stderr" | grep -E '[0-9]+ stages?: ' >"$work/second.counts"
check "... and builds nothing: every stage of both trees is a cache hit" \
	bash -c "[ \$(grep -c ' 0 built' '$work/second.counts') = \$(wc -l <'$work/second.counts') ] &&
		[ \$(wc -l <'$work/second.counts') -ge 3 ]"

# ---- the generated key ----

expect_fail "pushing kernel-build, which holds the generated key, is refused" 1 \
	'signing_key\.pem' "$KILN" push "kernel-build:$tag" "$registry/kiln/kernel-build:$tag"
"$KILN" cat "kernel-build:$tag" /src/certs/signing_key.pem >"$work/generated.pem"
check "the generated key is in kernel-build's cached output only" \
	python3 "$SRCDIR/tests/integration/find-key.py" --only-in-blobs-of "kernel-build:$tag" \
	"$work/generated.pem" "$KILN_CACHE_DIR/store" "$work/registry/data" \
	"$pkgs/_out" "$exts/_out" "$KILN_DEMO_OUT"

# ---- one edited driver ----

sed -i 's/kiln_demo: loaded, /kiln_demo: loaded (edited), /' "$pkgs/kiln-demo/src/kiln_demo.c"
t0=$(date +%s)
check "after editing kiln_demo.c, the pkgs tree rebuilds and pushes" \
	build_pkgs --push --registry "$registry" --username kiln kernel kiln-demo-pkg v4l2loopback-pkg
t1=$(date +%s)
cp "$out/stderr" "$work/edit-pkgs.err"
check "... kiln-demo-pkg only: kernel-build, kernel and v4l2loopback-pkg are cache hits" \
	bash -c "grep -q 'kernel-build: cached' '$work/edit-pkgs.err' &&
		grep -q 'kernel: cached' '$work/edit-pkgs.err' &&
		grep -q 'v4l2loopback-pkg: cached' '$work/edit-pkgs.err' &&
		grep -qE 'kiln-demo-pkg: built' '$work/edit-pkgs.err'"
check "the extensions tree rebuilds" build_exts --push --registry "$registry" --username kiln \
	kiln-demo v4l2loopback
t2=$(date +%s)
cp "$out/stderr" "$work/edit-exts.err"
check "... the kiln-demo extension only: v4l2loopback is a cache hit" \
	bash -c "grep -q 'v4l2loopback: cached' '$work/edit-exts.err' &&
		grep -qE 'kiln-demo: built' '$work/edit-exts.err'"
echo "# edit turnaround: pkgs $((t1 - t0)) s, extensions $((t2 - t1)) s"
check "the new module is in the pushed extension" \
	bash -c "KILN_CACHE_DIR='$work/view' '$KILN' pull --quiet '$registry/kiln/kiln-demo:$tag' >/dev/null &&
		KILN_CACHE_DIR='$work/view' '$KILN' cat '$registry/kiln/kiln-demo:$tag' '$ko' |
		grep -qa 'loaded (edited)'"

# ---- modules the kernel would refuse fail their stage ----

for bad in wrong-key other-kernel; do
	cp -r "$SRCDIR/tests/data/examples-bad/$bad" "$pkgs/$bad"
	cp -r "$pkgs/kiln-demo/src" "$pkgs/$bad/src"
	cp "$pkgs/kernel/build/certs/x509.genkey" "$pkgs/$bad/x509.genkey"
done
expect_fail "a module signed with another key fails its stage, naming the module and the key" 1 \
	'kiln_demo\.ko.*(not trust|another key|unavailable key)' build_pkgs kiln-demo-wrong-key
expect_fail "a module built for another kernel fails its stage, naming both releases" 1 \
	"kiln_demo\.ko.*$release-other.*$release|kiln_demo\.ko.*$release.*$release-other" \
	build_pkgs kiln-demo-other-kernel
rm -rf "$pkgs/wrong-key" "$pkgs/other-kernel"

# ---- the user's own key ----

openssl req -new -nodes -utf8 -sha512 -days 36500 -batch -x509 \
	-config "$pkgs/kernel/build/certs/x509.genkey" -subj "/O=kiln test/CN=The user's own module key" \
	-outform PEM -out "$work/user.pem" -keyout "$work/user.pem" 2>/dev/null
openssl x509 -in "$work/user.pem" -outform DER -out "$work/user.x509"
secret=(--secret "id=module_signing_key,src=$work/user.pem")
check "with the user's key, kernel-build builds again (a different key, a different kernel)" \
	build_pkgs "${secret[@]}" kernel-build
cp "$out/stderr" "$work/user-key.err"
check "... and only kernel-build and what uses the key: kernel-prepare is a cache hit" \
	grep -q 'kernel-prepare: cached' "$work/user-key.err"
check "the kernel trusts the user's certificate" \
	bash -c "'$KILN' cat kernel-build:$tag /src/certs/signing_key.x509 | cmp - '$work/user.x509'"
check "kernel-build holds no private key" \
	bash -c "! '$KILN' ls kernel-build:$tag /src/certs/signing_key.pem"
check "the modules build and are pushed with the user's key" \
	build_pkgs "${secret[@]}" --push --registry "$registry" --username kiln \
	kernel kiln-demo-pkg v4l2loopback-pkg
check "kernel-build, built with the user's key, may be pushed: it holds no key" \
	"$KILN" push "kernel-build:$tag" "$registry/kiln/kernel-build:$tag"
check "the extensions build from them" build_exts --push --registry "$registry" --username kiln \
	kiln-demo v4l2loopback
pulled "$registry/kiln/kiln-demo:$tag" cat "$registry/kiln/kiln-demo:$tag" "$ko" \
	>"$work/kiln_demo-user.ko"
check "the module verifies against the user's certificate" \
	"$KILN" module verify --cert "$work/user.x509" "$work/kiln_demo-user.ko"
check "the extension validates against the user's kernel" \
	"$KILN" ext validate "$registry/kiln/kiln-demo:$tag" --kernel-build "kernel-build:$tag"
check "in a VM, the kernel built with the user's key loads the modules signed with it" \
	boot_pushed user
check "the user's key is in no blob of the store, no pushed blob and no log" \
	python3 "$SRCDIR/tests/integration/find-key.py" \
	"$work/user.pem" "$KILN_CACHE_DIR/store" "$work/registry/data" \
	"$pkgs/_out" "$exts/_out" "$KILN_DEMO_OUT"

done_testing
