#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kiln module check against real modules and real kernel build trees. The
# trees are copies of Debian's linux-headers tree, changed the way another
# kernel build would differ: a signing key in certs/, another release,
# other vermagic flags, another CRC in Module.symvers. The test modules
# are built against each with scripts/build-test-modules.sh, then checked
# against the signing copy.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/lib-keys.sh"
. "$(dirname "$0")/lib-kernel.sh"

headers=$(kernel_headers)
build_mods=$SRCDIR/scripts/build-test-modules.sh
sign_file=$(kernel_sign_file "$headers")
[ -n "$headers" ] && [ -f "$headers/Module.symvers" ] ||
	bail_out "no linux-headers tree (linux-headers-amd64): run scripts/install-deps.sh"
need openssl
w=$out/w
mkdir -p "$w"

# A sanitizer's report need not change the exit status (ASan's is 1, as a module that would
# not load): look for it.
sanitized() {
	grep -qE "Sanitizer|runtime error:" "$out/stderr"
}

# expect_err NAME STATUS PATTERN CMD...: exit STATUS and stderr matching PATTERN
expect_err() {
	expect_fail "$@"
	if sanitized; then
		not_ok "$1: no sanitizer report" "$(head -c 3000 "$out/stderr")"
	fi
}

# not_in_out NAME PATTERN: the last command's stdout does not match PATTERN
not_in_out() {
	if grep -qE -- "$2" "$out/stdout"; then
		not_ok "$1" "stdout matches '$2':" "$(head -c 3000 "$out/stdout")"
	else
		ok "$1"
	fi
}

# copy_tree DIR: a copy of the headers tree
copy_tree() {
	kernel_headers_copy "$headers" "$1"
}

# set_release DIR RELEASE: what a build of another release has in its tree
set_release() {
	sed -i "s/^#define UTS_RELEASE .*/#define UTS_RELEASE \"$2\"/" "$1/include/generated/utsrelease.h" &&
		echo "$2" >"$1/include/config/kernel.release"
}

# genkey NAME BITS: NAME.pem (key and certificate) and NAME.x509 (DER), as certs/Makefile makes
# them from certs/default_x509.genkey
genkey() {
	kernel_key "$w/$1.genkey" "$w/$1.pem" "$w/$1.x509" sha512 "CN = kiln test $1 kernel key" \
		-newkey "rsa:$2"
}

# sign KEYNAME FILE...: with kiln module sign, or the kernel's sign-file while that is missing
sign() {
	local key=$1
	shift
	if "$KILN" module sign --help >/dev/null 2>&1; then
		"$KILN" module sign --hash sha512 --key "$w/$key.pem" --cert "$w/$key.x509" "$@"
	else
		for f in "$@"; do
			"$sign_file" sha512 "$w/$key.pem" "$w/$key.x509" "$f" || return 1
		done
	fi
}

# ---- the kernel: a headers tree with its signing key in certs/ ----------------------------------
kb=$w/kbuild
check "make a signing kernel build tree" copy_tree "$kb"
check "make the kernel's key" genkey kernel 4096
check "make another key" genkey other 2048
mkdir -p "$kb/certs"
cp "$w/kernel.pem" "$kb/certs/signing_key.pem"
cp "$w/kernel.x509" "$kb/certs/signing_key.x509"
release=$(kernel_release "$kb")

check "build the test modules against it" "$build_mods" "$w/mods" "$kb"
# the signed ones alone in a directory (the build's copies are under mods/src)
m=$w/signed
u=$w/unsigned
mkdir -p "$m" "$u"
cp "$w/mods"/*.ko "$m/"
cp "$w/mods"/*.ko "$u/"
check "sign them with the kernel's key" sign kernel "$m"/kiln_*.ko

# the firmware kiln_fw declares: kiln/test-fw.bin and kiln/board-*.bin
fw=$w/fwroot
mkdir -p "$fw/lib/firmware/kiln"
echo fw >"$fw/lib/firmware/kiln/test-fw.bin"
echo board >"$fw/lib/firmware/kiln/board-1.bin"

expect_out "all four, signed, with their firmware: ok" 0 \
	"^$m/kiln_fw.ko: ok$" \
	"$KILN" module check --kernel-build "$kb" --firmware-root "$fw" "$m"
if [ "$(grep -c ': ok$' "$out/stdout")" -eq 4 ] && [ "$(wc -l <"$out/stdout")" -eq 4 ]; then
	ok "one ok line per module"
else
	not_ok "one ok line per module" "$(cat "$out/stdout")"
fi

expect_out "--json: an object per module with its checks" 0 '"check": "vermagic"' \
	"$KILN" module check --json --kernel-build "$kb" --firmware-root "$fw" "$m"
cp "$out/stdout" "$w/check.json"
check "--json parses, every module loads, every check ok" python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert len(v) == 4, v
for m in v:
    assert m["loads"] is True and m["status"] == "ok", m
    assert [c["check"] for c in m["checks"]] == ["vermagic", "symbols", "signature", "firmware", "depends"]
    assert all(c["status"] == "ok" for c in m["checks"]), m
' "$w/check.json"

# ---- signatures -----------------------------------------------------------------------------------
expect_out "unsigned, kernel does not enforce: loads, tainting" 0 \
	"module verification failed: signature and/or required key missing - tainting kernel" \
	"$KILN" module check --kernel-build "$kb" "$u/kiln_plain.ko"
# the library gives the fix as a fact; the command words it with its own options
expect_out "... and says what to do, in kiln's commands" 0 \
	"^ +to do: sign it with the kernel's key: kiln module sign --key KEY --cert $kb/+certs/signing_key.x509 FILE$" \
	"$KILN" module check --kernel-build "$kb" "$u/kiln_plain.ko"
expect_out "... and --json gives the fix, its argument and the words" 0 \
	'"fix": "sign", "fix_arg": ".*certs/signing_key.x509", "advice": "sign it with' \
	sh -c '"$1" module check --json --kernel-build "$2" "$3" | tr -d "\n" | sed "s/,  */, /g"' \
	_ "$KILN" "$kb" "$u/kiln_plain.ko"
expect_out "unsigned, --sig-enforce: rejected" 1 "Loading of unsigned module is rejected" \
	"$KILN" module check --kernel-build "$kb" --sig-enforce "$u/kiln_plain.ko"

mkdir -p "$w/otherkey"
cp "$u/kiln_plain.ko" "$w/otherkey/"
check "sign one with another key" sign other "$w/otherkey/kiln_plain.ko"
expect_out "signed by another key: named, loads tainting" 0 \
	"signed by a key the kernel does not trust: \"kiln test other kernel key\"" \
	"$KILN" module check --kernel-build "$kb" "$w/otherkey/kiln_plain.ko"
expect_out "... to be re-signed, with --replace, or its signer enrolled" 0 \
	"to do: re-sign it with the kernel's key \(kiln module sign --replace --key KEY --cert .*\), or enroll" \
	"$KILN" module check --kernel-build "$kb" "$w/otherkey/kiln_plain.ko"
expect_out "signed by another key, --sig-enforce: rejected" 1 \
	"Loading of module with unavailable key is rejected" \
	"$KILN" module check --kernel-build "$kb" --sig-enforce "$w/otherkey/kiln_plain.ko"

# one byte of the body changed after signing: fatal even without enforcement
mkdir -p "$w/flipped"
cp "$m/kiln_plain.ko" "$w/flipped/"
flip_byte "$w/flipped/kiln_plain.ko" 200
expect_out "a signature that does not match the bytes: would not load" 1 \
	"init_module\(\) fails with EKEYREJECTED" \
	"$KILN" module check --kernel-build "$kb" "$w/flipped/kiln_plain.ko"

# ---- vermagic: another kernel with other flags -----------------------------------------------------
ko=$w/kother
# vermagic.h turns CONFIG_PREEMPT_BUILD into "preempt "; nothing else in a module build uses it
other_tree() {
	copy_tree "$1" && set_release "$1" 6.1.0-99-other &&
		sed -i '/^#define CONFIG_PREEMPT_BUILD 1$/d' "$1/include/generated/autoconf.h" &&
		sed -i '/^CONFIG_PREEMPT_BUILD=y$/d' "$1/include/config/auto.conf" "$1/.config"
}
check "make a tree of another kernel: other release, no CONFIG_PREEMPT_BUILD" other_tree "$ko"
check "build the test modules against it" "$build_mods" "$w/mods-other" "$ko"
expect_out "built for another kernel's flags: version magic reported" 1 \
	"kernel: kiln_plain: version magic '6.1.0-99-other SMP mod_unload modversions ' should be '$release SMP preempt mod_unload modversions '" \
	"$KILN" module check --kernel-build "$kb" "$w/mods-other/kiln_plain.ko"
expect_out "the vermagic derived from the other tree's .config is its modules'" 0 \
	"kiln_plain.ko: loads, with warnings" \
	"$KILN" module check --kernel-build "$ko" "$w/mods-other/kiln_plain.ko"
not_in_out "... and nothing about the vermagic" "vermagic"

kr=$w/krelease
release_tree() {
	copy_tree "$1" && set_release "$1" 6.1.0-98-samecfg
}
check "make a tree that differs only in its release" release_tree "$kr"
check "build the test modules against it" "$build_mods" "$w/mods-release" "$kr"
expect_out "another release only: loads (with modversions the kernel ignores the release)" 0 \
	"note: vermagic: built for release 6.1.0-98-samecfg, the kernel is $release: the kernel ignores the release" \
	"$KILN" module check --kernel-build "$kb" "$w/mods-release/kiln_plain.ko"
not_in_out "... and no version magic failure" "version magic|fail:"

# a kernel without CONFIG_MODVERSIONS: its modules have no __versions, and their vermagic says so
nomv_tree() {
	copy_tree "$1" &&
		sed -i '/^#define CONFIG_MODVERSIONS 1$/d' "$1/include/generated/autoconf.h" &&
		sed -i '/^CONFIG_MODVERSIONS=y$/d' "$1/include/config/auto.conf" "$1/.config"
}
kn=$w/knomv
check "make a tree without CONFIG_MODVERSIONS" nomv_tree "$kn"
check "build the test modules against it" "$build_mods" "$w/mods-nomv" "$kn"
expect_out "no symbol versions for a kernel that checks them: vermagic says so" 1 \
	"kernel: kiln_plain: version magic '$release SMP preempt mod_unload ' should be '$release SMP preempt mod_unload modversions '" \
	"$KILN" module check --kernel-build "$kb" "$w/mods-nomv/kiln_plain.ko"
expect_out "... and the forced-load taint is named" 1 \
	"kernel: kiln_plain: module_layout: kernel tainted\." \
	"$KILN" module check --kernel-build "$kb" "$w/mods-nomv/kiln_plain.ko"
expect_out "... while its own kernel takes it, checking no CRC" 0 "kiln_plain.ko: loads" \
	"$KILN" module check --kernel-build "$kn" "$w/mods-nomv/kiln_plain.ko"
not_in_out "... and nothing about symbols" "symbols"

# ---- CRCs: Module.symvers with one CRC changed -----------------------------------------------------
kc=$w/kcrc
crc_tree() {
	copy_tree "$1" &&
		sed -i 's/^0x[0-9a-f]*\t_printk\t/0x12345678\t_printk\t/' "$1/Module.symvers" &&
		grep -q "^0x12345678	_printk	" "$1/Module.symvers"
}
check "make a tree whose Module.symvers has another CRC for _printk" crc_tree "$kc"
check "build the test modules against it" "$build_mods" "$w/mods-crc" "$kc"
expect_out "CRC mismatch: the symbol named, as the kernel says it" 1 \
	"kernel: kiln_plain: disagrees about version of symbol _printk" \
	"$KILN" module check --kernel-build "$kb" "$w/mods-crc/kiln_plain.ko"
expect_out "... with both CRCs" 1 "CRC of _printk is 0x12345678 in the module, 0x[0-9a-f]{8} in" \
	"$KILN" module check --kernel-build "$kb" "$w/mods-crc/kiln_plain.ko"
not_in_out "... and only that symbol" "__fentry__|param_ops_int|module_layout"
expect_out "a module that does not use _printk is fine" 0 "kiln_fw.ko: (ok|loads)" \
	"$KILN" module check --kernel-build "$kb" "$w/mods-crc/kiln_fw.ko"

# the kernel's side changed instead: a Module.symvers edited as another build of the kernel
# would have it, given with --release, --symvers and --vermagic
piece() {
	"$KILN" module check --release "$release" --symvers "$1" --cert "$kb/certs/signing_key.x509" \
		--vermagic "$release SMP preempt mod_unload modversions " "${@:2}"
}
sed 's/^0x[0-9a-f]*\tmodule_layout\t/0x0badc0de\tmodule_layout\t/' "$kb/Module.symvers" >"$w/layout.symvers"
expect_out "another module_layout CRC: the kernel's own words" 1 \
	"kernel: kiln_fw: disagrees about version of symbol module_layout" \
	piece "$w/layout.symvers" "$m/kiln_fw.ko"
not_in_out "... and no unknown symbol (the kernel stops at ENOEXEC)" "Unknown symbol"
sed 's/^\(0x[0-9a-f]*\t_printk\tvmlinux\tEXPORT_SYMBOL\t\)$/\1KILN_NS/' "$kb/Module.symvers" >"$w/ns.symvers"
expect_out "a symbol in a namespace the module does not import" 1 \
	"kernel: kiln_plain: module uses symbol \(_printk\) from namespace KILN_NS, but does not import it\." \
	piece "$w/ns.symvers" "$m/kiln_plain.ko"
{ cat "$kb/Module.symvers"; printf '0x1\tkiln_provider_value\tvmlinux\tEXPORT_SYMBOL\t\n'; } >"$w/dup.symvers"
expect_out "exporting what the kernel exports" 1 \
	"kernel: kiln_provider: exports duplicate symbol kiln_provider_value \(owned by kernel\)" \
	piece "$w/dup.symvers" "$m/kiln_provider.ko"
grep -v '	_printk	' "$kb/Module.symvers" >"$w/noprintk.symvers"
expect_out "a symbol the kernel does not export" 1 \
	"kernel: kiln_plain: Unknown symbol _printk \(err -2\)" \
	piece "$w/noprintk.symvers" "$m/kiln_plain.ko"

# ---- firmware -------------------------------------------------------------------------------------
expect_out "no --firmware-root: missing firmware reported, as a warning" 0 \
	"kernel: <driver> <device>: Direct firmware load for kiln/test-fw.bin failed with error -2" \
	"$KILN" module check --kernel-build "$kb" "$m/kiln_fw.ko"
expect_out "... and --strict makes it fail" 1 "warn: firmware: kiln/test-fw.bin" \
	"$KILN" module check --kernel-build "$kb" --strict "$m/kiln_fw.ko"

fw2=$w/fwroot2
mkdir -p "$fw2/lib/firmware/kiln"
echo fw >"$fw2/lib/firmware/kiln/test-fw.bin"
expect_out "a root without a file for the glob: the pattern reported" 0 \
	"warn: firmware: kiln/board-\*.bin: no file matches the pattern on the kernel's firmware search path under \"$fw2\"" \
	"$KILN" module check --kernel-build "$kb" --firmware-root "$fw2" "$m/kiln_fw.ko"
not_in_out "... but not the file it has" "kiln/test-fw.bin"
expect_out "two roots together have both" 0 "^$m/kiln_fw.ko: ok$" \
	"$KILN" module check --kernel-build "$kb" --firmware-root "$fw2" --firmware-root "$fw" "$m/kiln_fw.ko"

# the other places the kernel looks: updates/<release>, compressed, /usr/lib through merged-/usr
fw3=$w/fwroot3
mkdir -p "$fw3/usr/lib/firmware/updates/$release/kiln" "$fw3/usr/lib/firmware/kiln"
ln -s usr/lib "$fw3/lib"
echo x | xz >"$fw3/usr/lib/firmware/kiln/test-fw.bin.xz"
echo x | zstd -q >"$fw3/usr/lib/firmware/updates/$release/kiln/board-7.bin.zst"
expect_out "found as .xz, .zst, under updates/<release>, through lib -> usr/lib" 0 \
	"^$m/kiln_fw.ko: ok$" \
	"$KILN" module check --kernel-build "$kb" --firmware-root "$fw3" "$m/kiln_fw.ko"

# an absolute symlink resolves inside the root, as on the target, not on this machine
fw4=$w/fwroot4
mkdir -p "$fw4/lib/firmware"
ln -s "$fw/lib/firmware/kiln" "$fw4/lib/firmware/kiln"
expect_out "an absolute symlink out of the root is not followed out of it" 0 \
	"warn: firmware: kiln/test-fw.bin: not found" \
	"$KILN" module check --kernel-build "$kb" --firmware-root "$fw4" "$m/kiln_fw.ko"

# ---- depends --------------------------------------------------------------------------------------
expect_out "consumer without its provider: depends reported" 1 \
	"fail: depends: kiln_provider: depends on kiln_provider, which is neither given nor part of the kernel" \
	"$KILN" module check --kernel-build "$kb" "$m/kiln_consumer.ko"
expect_out "... with the kernel's words for the symbol it takes from it" 1 \
	"kernel: kiln_consumer: Unknown symbol kiln_provider_value \(err -2\)" \
	"$KILN" module check --kernel-build "$kb" "$m/kiln_consumer.ko"
expect_out "... and what to give with it" 1 \
	"to do: give kiln_provider.ko too \(it must ship in the same extension\), or its Module.symvers with --symvers" \
	"$KILN" module check --kernel-build "$kb" "$m/kiln_consumer.ko"
expect_out "consumer with its provider: ok" 0 "^$m/kiln_consumer.ko: ok$" \
	"$KILN" module check --kernel-build "$kb" "$m/kiln_consumer.ko" "$m/kiln_provider.ko"
expect_out "consumer with the provider's Module.symvers (KBUILD_EXTRA_SYMBOLS): loads" 0 \
	"note: depends: kiln_provider: depends on kiln_provider, an external module listed in" \
	"$KILN" module check --kernel-build "$kb" --symvers "$w/mods/src/kiln_provider/Module.symvers" \
	"$m/kiln_consumer.ko"

# the consumer built against another provider build: its CRC is read from the provider module
expect_out "consumer against a provider from another build: same CRC, ok" 0 \
	"^$w/mods-other/kiln_provider.ko: (ok|loads)" \
	"$KILN" module check --kernel-build "$ko" "$w/mods-other/kiln_consumer.ko" "$w/mods-other/kiln_provider.ko"

# ---- the kernel given piece by piece ----------------------------------------------------------------
expect_out "--release, --symvers, --cert, --vermagic: ok" 0 "^$m/kiln_plain.ko: ok$" \
	"$KILN" module check --release "$release" --symvers "$kb/Module.symvers" \
	--cert "$kb/certs/signing_key.x509" \
	--vermagic "$release SMP preempt mod_unload modversions " "$m/kiln_plain.ko"
expect_out "no vermagic to compare with: skipped, said why" 0 "skipped: vermagic: the kernel's vermagic is unknown" \
	"$KILN" module check --release "$release" --symvers "$kb/Module.symvers" \
	--cert "$kb/certs/signing_key.x509" "$m/kiln_plain.ko"
expect_out "... and which options would give it" 0 \
	"to do: give a kernel build tree with its .config \(--kernel-build\), the vermagic \(--vermagic\)" \
	"$KILN" module check --release "$release" --symvers "$kb/Module.symvers" \
	--cert "$kb/certs/signing_key.x509" "$m/kiln_plain.ko"
expect_out "no .config: an unsigned module is taken as rejected" 1 "Loading of unsigned module is rejected" \
	"$KILN" module check --release "$release" --symvers "$kb/Module.symvers" "$u/kiln_plain.ko"
expect_out "no certificate: a signed module's signature is skipped" 0 \
	"skipped: signature: the module is signed, but there is no certificate" \
	"$KILN" module check --kernel-build "$headers" "$m/kiln_plain.ko"

# linux-image-amd64 and linux-headers-amd64 are of one release
mdir=/lib/modules/$release
expect_out "--modules-dir: the vermagic of the kernel's own modules" 0 "^$m/kiln_plain.ko: ok$" \
	"$KILN" module check --release "$release" --symvers "$kb/Module.symvers" \
	--cert "$kb/certs/signing_key.x509" --modules-dir "$mdir" "$m/kiln_plain.ko"

# ---- usage and hostile input ------------------------------------------------------------------------
expect_err "no kernel given: usage" 2 "give the kernel" "$KILN" module check "$m/kiln_plain.ko"
expect_err "no module given: usage" 2 "no module given" "$KILN" module check --kernel-build "$kb"
expect_err "a missing build tree: named" 1 "cannot open kernel build tree \"$w/nope\"" \
	"$KILN" module check --kernel-build "$w/nope" "$m/kiln_plain.ko"
printf '0x1234\tok\tvmlinux\tEXPORT_SYMBOL\t\n0xZZ\tbad\tvmlinux\tEXPORT_SYMBOL\t\n' >"$w/bad.symvers"
expect_err "a bad Module.symvers line: file and line named" 1 "bad.symvers:2: bad CRC" \
	"$KILN" module check --release "$release" --symvers "$w/bad.symvers" "$m/kiln_plain.ko"
head -c 5000 /dev/zero | tr '\0' 'a' >"$w/long.symvers"
expect_err "an overlong Module.symvers line: refused" 1 "long.symvers:1: line of 5000 bytes" \
	"$KILN" module check --release "$release" --symvers "$w/long.symvers" "$m/kiln_plain.ko"
expect_err "a missing firmware root: named" 1 "firmware root '$w/nope'" \
	"$KILN" module check --kernel-build "$kb" --firmware-root "$w/nope" "$m/kiln_fw.ko"
echo "not a module" >"$w/junk.ko"
expect_err "a file that is not a module: reported, exit 1" 1 "junk.ko" \
	"$KILN" module check --kernel-build "$kb" "$w/junk.ko" "$m/kiln_plain.ko"
if grep -q "kiln_plain.ko: ok" "$out/stdout"; then
	ok "... the others still checked"
else
	not_ok "... the others still checked" "$(cat "$out/stdout")"
fi

done_testing
