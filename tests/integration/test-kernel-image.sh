#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A kernel kiln did not build, known by its boot image and its modules
# directory: Debian's own (/boot/vmlinuz-*, /lib/modules/*, installed by
# install-deps as linux-image-amd64). What kiln reads out of the image is
# checked against what is known without it: the certificate is valid X.509
# to openssl, its sha256 is openssl's fingerprint, and its serial number is
# the key Debian's modules name as their signer (modinfo's sig_key); the
# kernel's modules then verify against it.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/lib-keys.sh"
. "$(dirname "$0")/lib-kernel.sh"

need modinfo openssl python3
image=$(kernel_image)
release=${image#/boot/vmlinuz-}
mdir=$(kernel_modules)
[ -n "$image" ] && [ -f "$mdir/modules.dep" ] ||
	bail_out "no Debian kernel and modules (linux-image-amd64): run scripts/install-deps.sh"
[ -n "${KILN_TEST_MODULES:-}" ] && [ -f "$KILN_TEST_MODULES/kiln_plain.ko" ] ||
	bail_out "no test modules in KILN_TEST_MODULES='${KILN_TEST_MODULES:-}': run through meson test"
w=$out/w
mkdir -p "$w"
modinfo=$(PATH=$PATH:/usr/sbin:/sbin command -v modinfo)

# A module of the kernel's own: dummy (a network driver every flavour has), else the first.
debian_mod=$(find "$mdir/kernel" -name 'dummy.ko*' | head -n 1)
[ -n "$debian_mod" ] || debian_mod=$(find "$mdir/kernel" -name '*.ko*' | sort | head -n 1)

# ---- kiln module certs ------------------------------------------------------------------------------
expect_out "module certs: the image's release and its certificates" 0 \
	"^$image: bzImage \((xz|gzip|zstd)\), release $release: [1-9][0-9]* certificates?$" \
	"$KILN" module certs "$image"
cp "$out/stdout" "$w/certs.txt"
check "module certs --pem" "$KILN" module certs --pem "$image"
cp "$out/stdout" "$w/certs.pem"

# each PEM block on its own, through openssl
csplit -s -z -f "$w/cert-" "$w/certs.pem" '/^# /' '{*}'
n_pem=$(ls "$w"/cert-* | wc -l)
n_ok=0 serials= fingerprints=
for c in "$w"/cert-*; do
	if openssl x509 -in "$c" -noout 2>/dev/null; then
		n_ok=$((n_ok + 1))
		serials="$serials $(openssl x509 -in "$c" -noout -serial | sed 's/^serial=//')"
		fingerprints="$fingerprints $(openssl x509 -in "$c" -noout -fingerprint -sha256 |
			sed 's/^.*=//; s/://g' | tr 'A-F' 'a-f')"
	fi
done
if [ "$n_pem" -ge 1 ] && [ "$n_ok" -eq "$n_pem" ]; then
	ok "openssl parses every certificate kiln found ($n_ok)"
else
	not_ok "openssl parses every certificate kiln found" "$n_ok of $n_pem" "$(cat "$w/certs.pem")"
fi
bad_fp=0
for fp in $fingerprints; do
	grep -q "sha256  $fp$" "$w/certs.txt" || bad_fp=1
done
if [ "$bad_fp" -eq 0 ] && [ -n "$fingerprints" ]; then
	ok "the listed sha256 is openssl's fingerprint of each"
else
	not_ok "the listed sha256 is openssl's fingerprint of each" "$fingerprints" "$(cat "$w/certs.txt")"
fi

# the serial number Debian's modules name as their signer's key is one of the certificates'
# (Debian signs every module of its kernels)
sig_key=$("$modinfo" -F sig_key "$debian_mod" 2>/dev/null | tr -d ': \n' | tr 'a-f' 'A-F')
if [ -n "$sig_key" ] && printf '%s\n' $serials | grep -qx "$sig_key"; then
	ok "the signer of Debian's modules is built in (serial $sig_key)"
else
	not_ok "the signer of Debian's modules is built in" "modinfo sig_key $sig_key" "serials:$serials"
fi

expect_out "module certs --json" 0 '"description": ' "$KILN" module certs --json "$image"
cp "$out/stdout" "$w/certs.json"
check "--json parses: the DER is the certificate" python3 -c '
import base64, hashlib, json, sys
v = json.load(open(sys.argv[1]))
assert len(v) == 1 and v[0]["release"] == sys.argv[2], v
for c in v[0]["certificates"]:
    assert hashlib.sha256(base64.b64decode(c["der"])).hexdigest() == c["sha256"]
    assert c["description"].endswith(": " + c["skid"]), c
' "$w/certs.json" "$release"

# ---- kiln module check --kernel-image --kernel-modules ---------------------------------------------
expect_out "Debian's own module verifies against its kernel's certificates" 0 \
	"^$debian_mod: (ok|ok as far as checked)" \
	"$KILN" module check --sig-enforce --kernel-image "$image" --kernel-modules "$mdir" "$debian_mod"
if grep -q "signature" "$out/stdout"; then
	not_ok "... no signature finding" "$(cat "$out/stdout")"
else
	ok "... no signature finding"
fi
if grep -q "skipped: symbols: .* not checked: no Module.symvers" "$out/stdout"; then
	ok "... what it takes from vmlinux is said to be not checked"
else
	not_ok "... what it takes from vmlinux is said to be not checked" "$(cat "$out/stdout")"
fi

# what a module takes from another of the kernel's modules is checked against that module's CRC:
# uvcvideo with the CRC it recorded for videobuf2's vb2_queue_init changed (both are modules
# in Debian's amd64 kernel)
uvc=$(find "$mdir/kernel" -name 'uvcvideo.ko' | head -n 1)
if [ -z "$uvc" ] || ! grep -q '^alias symbol:vb2_queue_init ' "$mdir/modules.symbols"; then
	not_ok "a CRC against an in-tree module's" "no uvcvideo.ko or vb2_queue_init in $mdir"
else
	python3 - "$uvc" "$w/uvcvideo.ko" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
# a __versions entry: the CRC as an unsigned long, then the name
at = data.find(b"\0\0\0\0vb2_queue_init\0")
assert at > 4
data[at - 4] ^= 1
open(sys.argv[2], "wb").write(data)
PY
	expect_out "a CRC that differs from the exporting module's __kcrctab fails" 1 \
		"fail: symbols: vb2_queue_init: CRC of vb2_queue_init is 0x[0-9a-f]+ in the module, 0x[0-9a-f]+ in $mdir/.*videobuf2-[a-z0-9]+.ko" \
		"$KILN" module check --kernel-image "$image" --kernel-modules "$mdir" "$w/uvcvideo.ko"
	expect_out "... the same module unchanged: its in-tree imports agree" 0 "^$uvc: (ok|ok as far)" \
		"$KILN" module check --kernel-image "$image" --kernel-modules "$mdir" "$uvc"
fi

# a module signed by a key of our own: the kernel does not trust it, and kiln names what it does trust
cp "$KILN_TEST_MODULES/kiln_plain.ko" "$w/"
kernel_key "$w/own.genkey" "$w/own.pem" "$w/own.x509" sha512 "CN = kiln test own key" \
	-newkey rsa:2048
check "sign a test module with another key" \
	"$KILN" module sign --key "$w/own.pem" --cert "$w/own.x509" "$w/kiln_plain.ko"
expect_out "signed by another key: would not load, the built-in certificates named" 1 \
	"signed by a key the kernel does not trust: \"kiln test own key\" .* built into '$image' \('" \
	"$KILN" module check --kernel-image "$image" --kernel-modules "$mdir" "$w/kiln_plain.ko"

# ---- hostile input and usage -------------------------------------------------------------------------
expect_fail "the image and the release disagree" 1 "is release $release, not 9.9.9-other" \
	"$KILN" module check --kernel-image "$image" --release 9.9.9-other --kernel-modules "$mdir" \
	"$debian_mod"
head -c 600 "$image" >"$w/short"
expect_fail "a truncated image: named, why" 1 "'$w/short'.*outside the 600-byte file" \
	"$KILN" module certs "$w/short"
printf 'not a kernel\n' >"$w/text"
expect_fail "not an image" 1 "'$w/text' is not a kernel image" "$KILN" module certs "$w/text"
expect_fail "module certs: no image: usage" 2 "no kernel image given" "$KILN" module certs
expect_fail "module check --kernel-image alone: usage" 2 "give the kernel" \
	"$KILN" module check --kernel-image "$image" "$debian_mod"

done_testing
