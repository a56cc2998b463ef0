#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# kiln module info against kmod's modinfo: every module of the installed
# Debian kernel, the test modules (plain, signed by sign-file both ways,
# compressed), -F, --json, and files that are not modules.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/lib-kernel.sh"

# kiln's four fields follow modinfo's; this drops them, for the comparisons
# that run without --compat.
strip_kiln() {
	grep -vE '^(compression|versions|signature_status|signer_id):'
}

need modinfo modprobe openssl python3 xz zstd
PATH=$PATH:/usr/sbin:/sbin
mods=$KILN_TEST_MODULES
[ -n "$mods" ] && [ -f "$mods/kiln_plain.ko" ] ||
	bail_out "no test modules in KILN_TEST_MODULES='$mods': run through meson test"
kdir=$(kernel_modules)
[ -n "$kdir" ] && [ -f "$kdir/modules.dep" ] ||
	bail_out "no installed kernel (linux-image-amd64): run scripts/install-deps.sh"
kver=${kdir#/lib/modules/}
sign_file=$(kernel_sign_file "$(kernel_headers)")
[ -x "$sign_file" ] || bail_out "no $sign_file (linux-headers-amd64): run scripts/install-deps.sh"

# ---- every module of a real kernel --------------------------------------
# kiln's own walk gives the list; it must be every module file there is
"$KILN" module info -F filename "$kdir" >"$out/list" 2>"$out/list.err"
n_kiln=$(wc -l <"$out/list")
n_find=$(find "$kdir" \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' \) -type f | wc -l)
if [ "$n_kiln" -eq "$n_find" ] && [ "$n_kiln" -gt 0 ] && [ ! -s "$out/list.err" ]; then
	ok "the walk of $kdir finds all $n_find modules"
else
	not_ok "the walk of $kdir finds all $n_find modules" "kiln listed $n_kiln" "$(head -5 "$out/list.err")"
fi
# one modinfo call and one kiln call over the same files (no path holds a space)
# shellcheck disable=SC2046
set -- $(cat "$out/list")
modinfo "$@" >"$out/modinfo.txt" 2>"$out/modinfo.err"
"$KILN" module info --compat "$@" >"$out/kiln.txt" 2>"$out/kiln.err"
if cmp -s "$out/modinfo.txt" "$out/kiln.txt" && [ ! -s "$out/kiln.err" ]; then
	ok "--compat is byte for byte modinfo's on all $# modules of $kver ($(wc -l <"$out/kiln.txt") lines)"
else
	not_ok "--compat is byte for byte modinfo's on all $# modules of $kver" \
		"$(diff "$out/modinfo.txt" "$out/kiln.txt" | head -20)" "$(head -5 "$out/kiln.err")"
fi
n_sig=$(grep -c '^sig_id:' "$out/kiln.txt")
n_sig_modinfo=$(grep -c '^sig_id:' "$out/modinfo.txt")
if [ "$n_sig" -eq "$n_sig_modinfo" ] && [ "$n_sig" -gt 0 ] &&
	[ "$(grep -c '^signature:' "$out/kiln.txt")" -eq "$n_sig" ]; then
	ok "the signature fields of $n_sig signed modules are among them"
else
	not_ok "the signature fields are among them" "kiln $n_sig, modinfo $n_sig_modinfo"
fi
"$KILN" module info "$@" >"$out/kiln-full.txt" 2>/dev/null
if strip_kiln <"$out/kiln-full.txt" | cmp -s - "$out/modinfo.txt"; then
	ok "without --compat, kiln's fields are only added"
else
	not_ok "without --compat, kiln's fields are only added" \
		"$(strip_kiln <"$out/kiln-full.txt" | diff "$out/modinfo.txt" - | head -10)"
fi
n_status=$(grep -c '^signature_status: ' "$out/kiln-full.txt")
n_signed=$(grep -c '^signature_status: signed$' "$out/kiln-full.txt")
if [ "$n_status" -eq "$#" ] && [ "$n_signed" -eq "$n_sig" ]; then
	ok "every module has a signature status; the $n_signed signed ones are well-formed"
else
	not_ok "every module has a signature status" "$n_status statuses, $n_signed signed, $n_sig sig_id"
fi
for f in alias author depends description firmware filename import_ns intree license name \
	parm parmtype retpoline sig_hashalgo sig_id sig_key signature signer softdep \
	srcversion vermagic version no_such_field; do
	modinfo -F "$f" "$@" >"$out/m.F" 2>/dev/null
	"$KILN" module info -F "$f" "$@" >"$out/k.F" 2>/dev/null
	if cmp -s "$out/m.F" "$out/k.F"; then
		ok "-F $f is modinfo's ($(wc -l <"$out/k.F") lines)"
	else
		not_ok "-F $f is modinfo's" "$(diff "$out/m.F" "$out/k.F" | head -10)"
	fi
done
# __versions: kmod's own reading of it, on every 25th module
bad=
i=0
for m in "$@"; do
	i=$((i + 1))
	[ $((i % 25)) -eq 0 ] || continue
	a=$(modprobe --dump-modversions "$m" 2>/dev/null | wc -l)
	b=$("$KILN" module info -F versions "$m")
	[ "$a" = "$b" ] || bad="$bad $m:$a:$b"
done
if [ -z "$bad" ]; then
	ok "__versions counts are modprobe --dump-modversions' on $((i / 25)) modules"
else
	not_ok "__versions counts are modprobe --dump-modversions'" "$bad"
fi
check "--json over the whole kernel parses, one object a module" sh -c '
	"$KILN" module info --json "$@" | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert len(d) == int(sys.argv[1]), len(d)
" "$#"' - "$@"

# ---- the test modules, signed and compressed -----------------------------
w=$out/mods
mkdir -p "$w"
for m in kiln_plain kiln_fw kiln_provider kiln_consumer; do
	cp "$mods/$m.ko" "$w/$m.ko"
done

check "--compat agrees with modinfo on the test modules" sh -c \
	'modinfo "$@" >"$0.m" && "$KILN" module info --compat "$@" >"$0.k" && cmp "$0.m" "$0.k"' \
	"$out/t" "$w"/*.ko

check "kiln_plain shows its fields in file order, parm last" sh -c '
	[ "$("$KILN" module info --compat "$1" | sed -n "s/^\([a-z_]*\):.*/\1/p" | tr "\n" " ")" = \
	  "filename alias alias license author description depends retpoline name vermagic parm " ]' - "$w/kiln_plain.ko"
check "kiln_plain's extra fields" sh -c '
	"$KILN" module info "$1" | grep -qx "signature_status: unsigned" &&
	"$KILN" module info -F versions "$1" | grep -qxE "[1-9][0-9]*" &&
	"$KILN" module info -F compression "$1" | grep -qx none &&
	[ -z "$("$KILN" module info -F signer_id "$1")" ]' - "$w/kiln_plain.ko"
check "-F firmware lists both, a glob included" sh -c '
	[ "$("$KILN" module info -F firmware "$1" | tr "\n" " ")" = "kiln/board-*.bin kiln/test-fw.bin " ]' - "$w/kiln_fw.ko"
check "-F depends names the provider" sh -c '
	[ "$("$KILN" module info -F depends "$1")" = kiln_provider ]' - "$w/kiln_consumer.ko"

# compressed with the CLIs, as modules_install does
xz --check=crc32 --lzma2=dict=1MiB -k -c "$w/kiln_fw.ko" >"$w/kiln_fw.ko.xz"
zstd -q -c "$w/kiln_fw.ko" >"$w/kiln_fw.ko.zst"
for z in xz zst; do
	check ".ko.$z reads as the .ko does" sh -c '
		"$KILN" module info "$1" | grep -v -e "^filename:" -e "^compression:" >"$1.a" &&
		"$KILN" module info "$1.$2" | grep -v -e "^filename:" -e "^compression:" >"$1.b" &&
		cmp "$1.a" "$1.b" &&
		"$KILN" module info -F compression "$1.$2" | grep -qxE "xz|zstd"' - "$w/kiln_fw.ko" "$z"
	check ".ko.$z agrees with modinfo" sh -c \
		'[ "$(modinfo "$1")" = "$("$KILN" module info --compat "$1")" ]' - "$w/kiln_fw.ko.$z"
done
check "a directory is walked for .ko, .ko.xz and .ko.zst, in name order" sh -c '
	[ "$("$KILN" module info -F name "$1" | tr "\n" " ")" = \
	  "kiln_consumer kiln_fw kiln_fw kiln_fw kiln_plain kiln_provider " ]' - "$w"

# signed by the kernel's own sign-file, by issuer and serial and (-k) by SKID
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$w/key.pem" -out "$w/cert.pem" \
	-days 2 -subj "/O=kiln tests/CN=kiln test signing key" -set_serial 0x1F2E3D4C5B6A \
	>/dev/null 2>&1
cp "$w/kiln_plain.ko" "$w/signed.ko"
cp "$w/kiln_plain.ko" "$w/skid.ko"
"$sign_file" sha512 "$w/key.pem" "$w/cert.pem" "$w/signed.ko"
"$sign_file" -k sha256 "$w/key.pem" "$w/cert.pem" "$w/skid.ko"
check "sign-file's signature: signer, serial and digest" sh -c '
	[ "$("$KILN" module info -F signer "$1")" = "kiln test signing key" ] &&
	[ "$("$KILN" module info -F sig_key "$1")" = "1F:2E:3D:4C:5B:6A" ] &&
	[ "$("$KILN" module info -F sig_hashalgo "$1")" = sha512 ] &&
	[ "$("$KILN" module info -F sig_id "$1")" = "PKCS#7" ] &&
	[ "$("$KILN" module info -F signature_status "$1")" = signed ] &&
	[ "$("$KILN" module info -F signer_id "$1")" = "issuer \"kiln test signing key\" serial 1F:2E:3D:4C:5B:6A" ]' \
	- "$w/signed.ko"
check "a 2048-bit signature is 256 bytes in 13 lines" sh -c '
	"$KILN" module info -F signature "$1" >"$1.sig" &&
	[ "$(wc -l <"$1.sig")" -eq 13 ] && [ "$(tr -cd : <"$1.sig" | wc -c)" -eq 255 ]' - "$w/signed.ko"
skid=$(openssl x509 -in "$w/cert.pem" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' ')
check "sign-file -k: sig_key is the subjectKeyIdentifier" sh -c '
	[ "$("$KILN" module info -F sig_key "$1")" = "$2" ] &&
	[ -z "$("$KILN" module info -F signer "$1")" ] &&
	[ "$("$KILN" module info -F signer_id "$1")" = "subjectKeyIdentifier $2" ] &&
	[ "$("$KILN" module info -F sig_hashalgo "$1")" = sha256 ]' - "$w/skid.ko" "$skid"
check "signed by issuer and serial: modinfo's output exactly" sh -c \
	'[ "$(modinfo "$1")" = "$("$KILN" module info --compat "$1")" ]' - "$w/signed.ko"
# kmod 30 requires issuer and serial and shows no signature at all for -k;
# kiln shows it: the rest must still be the same
if modinfo "$w/skid.ko" | grep -q '^sig_id:'; then
	check "signed by SKID: modinfo's output exactly" sh -c \
		'[ "$(modinfo "$1")" = "$("$KILN" module info --compat "$1")" ]' - "$w/skid.ko"
else
	check "signed by SKID: modinfo's output plus the signature fields kmod 30 omits" sh -c '
		"$KILN" module info --compat "$1" |
		awk "/^(sig_id|signer|sig_key|sig_hashalgo|signature):/ { sig = 1; next }
		     sig && /^\t/ { next } { sig = 0; print }" >"$1.k" &&
		modinfo "$1" | cmp - "$1.k"' - "$w/skid.ko"
fi
# an issuer without a CN: kmod shows its last entry, and so does kiln
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$w/nocn.pem" -out "$w/nocn.crt" \
	-days 2 -subj "/C=DE/O=kiln tests/OU=no common name" >/dev/null 2>&1
cp "$w/kiln_plain.ko" "$w/nocn.ko"
"$sign_file" sha384 "$w/nocn.pem" "$w/nocn.crt" "$w/nocn.ko"
check "an issuer without a CN shows its last entry as signer" sh -c \
	'[ "$("$KILN" module info -F signer "$1")" = "no common name" ]' - "$w/nocn.ko"
check "an issuer without a CN: modinfo's output exactly" sh -c \
	'[ "$(modinfo "$1")" = "$("$KILN" module info --compat "$1")" ]' - "$w/nocn.ko"
check "--json of a signed module" sh -c '
	"$KILN" module info --json "$1" "$2" | python3 -c "
import json, sys
signed, skid = json.load(sys.stdin)
assert signed[\"signer\"] == \"kiln test signing key\", signed
assert signed[\"signature_status\"] == \"signed\"
assert signed[\"signer_id\"] == {\"type\": \"issuer-serial\", \"issuer\": \"kiln test signing key\", \"serial\": \"1F:2E:3D:4C:5B:6A\"}, signed[\"signer_id\"]
assert signed[\"signature\"].count(\"\\n\t\t\") == 12
assert skid[\"signer_id\"][\"type\"] == \"skid\" and skid[\"signer\"] == \"\"
"' - "$w/signed.ko" "$w/skid.ko"
# a signature trailer whose length points before the file: malformed, and said so
python3 - "$w/signed.ko" "$w/badtrailer.ko" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[-28 - 4:-28] = (0x7fffffff).to_bytes(4, "big")
open(sys.argv[2], "wb").write(d)
EOF
check "a malformed trailer is reported, the module still read" sh -c '
	"$KILN" module info "$1" >"$1.out" &&
	grep -q "^signature_status: malformed: signature trailer says" "$1.out" &&
	grep -qx "name:           kiln_plain" "$1.out" && ! grep -q "^sig_id:" "$1.out"' \
	- "$w/badtrailer.ko"

# ---- handcrafted ELF: both classes, both byte orders (the fuzz seeds) ------
seeds=$SRCDIR/fuzz/corpus/modinfo
for s in elf32-le-arm.ko elf32-be-ppc.ko elf64-le-x86_64.ko elf64-be-s390.ko \
	elf64-le-x86_64.ko.xz elf64-le-x86_64.ko.zst unterminated-modinfo.ko signed.ko; do
	check "handcrafted $s agrees with modinfo" sh -c \
		'[ "$(modinfo "$1")" = "$("$KILN" module info --compat "$1")" ]' - "$seeds/$s"
done
check "handcrafted big-endian __versions agree with modprobe" sh -c '
	for s in elf32-be-ppc.ko elf64-be-s390.ko; do
		[ "$(modprobe --dump-modversions "$1/$s" | wc -l)" = \
		  "$("$KILN" module info -F versions "$1/$s")" ] || exit 1
	done' - "$seeds"
# a parm without ':' is left out of the listing, as modinfo does, with a warning
python3 - "$seeds/elf64-le-x86_64.ko" "$w/badparm.ko" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read().replace(b"parm=level:how loud", b"parm=level-how loud")
open(sys.argv[2], "wb").write(d)
EOF
check "a parm without ':' is left out with a warning" sh -c '
	"$KILN" module info --compat "$1" >"$1.k" 2>"$1.err" &&
	grep -q "warning: 1 parm or parmtype entries without .:. left out" "$1.err" &&
	grep -qx "parm:           level:int" "$1.k" &&
	modinfo "$1" 2>/dev/null | cmp - "$1.k"' - "$w/badparm.ko"

# a .modinfo "signer=" is shown as modinfo shows it, but in JSON cannot pose as the signature's
python3 - "$seeds/elf64-le-x86_64.ko" "$w/spoof.ko" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read().replace(b"license=GPL", b"signer=spoo")
open(sys.argv[2], "wb").write(d)
EOF
check "a .modinfo signer= is \"modinfo:signer\" in JSON" sh -c '
	"$KILN" module info "$1" | grep -qx "signer:         spoo" &&
	"$KILN" module info --json "$1" | python3 -c "
import json, sys
o = json.load(sys.stdin)[0]
assert o[\"modinfo:signer\"] == [\"spoo\"] and \"signer\" not in o, o
assert o[\"signature_status\"] == \"unsigned\" and o[\"signer_id\"] is None
"' - "$w/spoof.ko"

# kmod 30 asserts on gABI extended section numbering; kiln reads it
check "extended section numbering (e_shnum 0)" sh -c \
	'[ "$("$KILN" module info -F name "$1")" = seed ]' - "$seeds/extended-numbering.ko"

# ---- --json's shape ------------------------------------------------------
check "--json has the documented shape" sh -c '"$KILN" module info --json "$1" | python3 -c "
import json, sys
scalar = {\"filename\", \"name\", \"vermagic\", \"srcversion\", \"depends\", \"intree\", \"retpoline\",
          \"staging\", \"livepatch\", \"scmversion\", \"sig_id\", \"signer\", \"sig_key\",
          \"sig_hashalgo\", \"signature\", \"compression\", \"signature_status\"}
d = json.load(sys.stdin)
assert isinstance(d, list) and len(d) >= 6, d
for o in d:
    for k, v in o.items():
        if k == \"versions\":
            assert isinstance(v, int) and v > 0, (k, v)
        elif k == \"signer_id\":
            assert v is None or v[\"type\"] in (\"issuer-serial\", \"skid\"), v
        elif k in scalar:
            assert isinstance(v, str), (k, v)
        else:
            assert isinstance(v, list) and all(isinstance(s, str) for s in v), (k, v)
    for k in (\"filename\", \"name\", \"vermagic\", \"versions\", \"signature_status\", \"compression\"):
        assert k in o, (o[\"filename\"], k)
    assert o[\"signature_status\"] in (\"signed\", \"unsigned\") or o[\"signature_status\"].startswith(\"malformed: \")
plain = [o for o in d if o[\"filename\"].endswith(\"/kiln_plain.ko\")][0]
assert plain[\"alias\"] == [\"kiln-plain-other\", \"kiln-plain-alias\"], plain
assert plain[\"license\"] == [\"GPL\"] and plain[\"parmtype\"] == [\"level:int\"]
assert plain[\"signer_id\"] is None and plain[\"signature_status\"] == \"unsigned\"
"' - "$w"
check "--json with no module that reads is an empty array" sh -c '
	"$KILN" module info --json /nonexistent.ko 2>/dev/null | python3 -c "import json, sys; assert json.load(sys.stdin) == []"'

# ---- what is not a module ------------------------------------------------
printf 'not a module\n' >"$w/text.ko"
head -c 5000 "$w/kiln_plain.ko" >"$w/truncated.ko"
expect_fail "a text file is not a module" 1 \
	"^kiln: module info: '.*/text.ko': not a kernel module: not an ELF file$" \
	"$KILN" module info "$w/text.ko"
expect_fail "a truncated module is corrupt" 1 \
	"^kiln: module info: '.*/truncated.ko': truncated: " "$KILN" module info "$w/truncated.ko"
expect_fail "a missing file" 1 "^kiln: module info: '/nonexistent/x.ko': No such file or directory$" \
	"$KILN" module info /nonexistent/x.ko
check "after a bad file the others are still printed, and the exit status is 1" sh -c '
	"$KILN" module info "$1" "$2" "$3" >"$1.out" 2>"$1.err"; [ $? -eq 1 ] &&
	[ "$(grep -c "^filename:" "$1.out")" -eq 2 ] && [ "$(wc -l <"$1.err")" -eq 1 ]' \
	- "$w/text.ko" "$w/kiln_plain.ko" "$w/kiln_fw.ko"
head -c 3000 "$w/kiln_fw.ko.xz" >"$w/truncated.ko.xz"
expect_fail "a truncated .ko.xz is corrupt" 1 "truncated.ko.xz': xz data is (truncated|corrupt)" \
	"$KILN" module info "$w/truncated.ko.xz"
mkdir -p "$w/empty"
expect_fail "a directory without modules" 1 "'.*/empty': no .ko, .ko.xz or .ko.zst files in it" \
	"$KILN" module info "$w/empty"
expect_fail "no operand is a usage error" 2 "no module given" "$KILN" module info
expect_fail "-F with --json is a usage error" 2 "do not go together" \
	"$KILN" module info -F name --json "$w/kiln_fw.ko"
check "--help tells the rules" sh -c '"$KILN" module info --help | grep -q "always an array" &&
	"$KILN" module info --help | grep -q -- "--compat"'

done_testing
