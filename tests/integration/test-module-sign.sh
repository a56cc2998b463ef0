#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# kiln module sign and verify on real modules (tests/modules, built against
# Debian's headers), compared byte for byte with the kernel's own sign-file,
# with keys made by openssl as the kernel's certs/Makefile makes them.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/lib-keys.sh"
. "$(dirname "$0")/lib-kernel.sh"

sign_file=$(kernel_sign_file "$(kernel_headers)")
mods=${KILN_TEST_MODULES:-}
[ -x "$sign_file" ] || bail_out "no $sign_file (linux-headers-amd64): run scripts/install-deps.sh"
[ -n "$mods" ] && [ -f "$mods/kiln_plain.ko" ] ||
	bail_out "no test modules in KILN_TEST_MODULES='$mods': run through meson test"
need openssl
w=$out/w
mkdir -p "$w"
plain=$mods/kiln_plain.ko

# genkey BITS|ec NAME: NAME.pem (key and certificate, as signing_key.pem) and NAME.der
genkey() {
	local name=$2
	if [ "$1" = ec ]; then
		set -- -newkey ec -pkeyopt ec_paramgen_curve:secp384r1
	else
		set -- -newkey "rsa:$1"
	fi
	kernel_key "$w/$name.genkey" "$w/$name.pem" "$w/$name.der" sha256 \
		"$(printf 'O = kiln tests\nCN = kiln test %s' "$name")" "$@"
}

# be32 N: N as four big-endian bytes (struct module_signature's sig_len)
be32() {
	for s in 24 16 8 0; do
		# shellcheck disable=SC2059
		printf "\\$(printf '%03o' $(($1 >> s & 255)))"
	done
}

# append_sig BODY DER OUT: OUT = BODY, DER, the struct and the magic, as sign-file lays them out
append_sig() {
	{
		cat "$1" "$2"
		printf '\000\000\002\000\000\000\000\000'
		be32 "$(stat -c %s "$2")"
		printf '~Module signature appended~\n'
	} >"$3"
}

check "RSA-2048 key and certificate" genkey 2048 RSA-2048
check "RSA-4096 key and certificate" genkey 4096 RSA-4096
check "ECDSA P-384 key and certificate" genkey ec P-384

# ---- byte for byte with sign-file ----------------------------------------------

mkdir -p "$w/stripped"
for m in "$mods"/*.ko; do
	strip --strip-debug -o "$w/stripped/$(basename "$m")" "$m"
done
# same_as_sign_file KEY HASH SRCDIR: kiln signs a copy of the directory in one run,
# sign-file each module of another copy; every pair must be equal
same_as_sign_file() {
	local d=$w/cmp-$1-$2-$(basename "$3") m n=0 bad=""
	rm -rf "$d"
	mkdir -p "$d/kiln" "$d/sign-file"
	cp "$3"/*.ko "$d/kiln/"
	cp "$3"/*.ko "$d/sign-file/"
	"$KILN" module sign --key "$w/$1.pem" --cert "$w/$1.der" --hash "$2" "$d/kiln" >/dev/null ||
		return 1
	for m in "$d"/sign-file/*.ko; do
		"$sign_file" "$2" "$w/$1.pem" "$w/$1.der" "$m" || return 1
		cmp -s "$m" "$d/kiln/$(basename "$m")" || bad="$bad $(basename "$m")"
		n=$((n + 1))
	done
	[ -z "$bad" ] && [ "$n" -ge 4 ] || { echo "differ:$bad" >&2; return 1; }
}
for key in RSA-2048 RSA-4096; do
	for hash in sha256 sha512; do
		check "$key $hash: kiln = sign-file, every test module" \
			same_as_sign_file "$key" "$hash" "$mods"
		check "$key $hash: kiln = sign-file, every test module after strip --strip-debug" \
			same_as_sign_file "$key" "$hash" "$w/stripped"
	done
done
check "sha384, sha224, sha1, sha3-256, sha3-384, sha3-512: kiln = sign-file" sh -c '
	for h in sha384 sha224 sha1 sha3-256 sha3-384 sha3-512; do
		cp "$1" "$2/k-$h.ko" && cp "$1" "$2/s-$h.ko" &&
		"$KILN" module sign -k "$2/RSA-2048.pem" -c "$2/RSA-2048.der" --hash $h "$2/k-$h.ko" >/dev/null &&
		"$3" $h "$2/RSA-2048.pem" "$2/RSA-2048.der" "$2/s-$h.ko" &&
		cmp "$2/k-$h.ko" "$2/s-$h.ko" || exit 1
	done' - "$plain" "$w" "$sign_file"

cp "$plain" "$w/ref.ko"
"$sign_file" sha512 "$w/RSA-2048.pem" "$w/RSA-2048.der" "$w/ref.ko"
cp "$plain" "$w/ref256.ko"
"$sign_file" sha256 "$w/RSA-2048.pem" "$w/RSA-2048.der" "$w/ref256.ko"

cp "$plain" "$w/pemcert.ko"
check "a PEM certificate (the key file itself) gives the same bytes" sh -c '
	"$KILN" module sign --key "$2/RSA-2048.pem" --cert "$2/RSA-2048.pem" "$1" >/dev/null &&
	cmp "$1" "$2/ref.ko"' - "$w/pemcert.ko" "$w"
cp "$plain" "$w/nocert.ko"
check "without --cert, the certificate comes from the key file" sh -c '
	"$KILN" module sign --key "$2/RSA-2048.pem" "$1" >/dev/null && cmp "$1" "$2/ref.ko"' \
	- "$w/nocert.ko" "$w"
check "the default hash is sha512" cmp "$w/nocert.ko" "$w/ref.ko"

cp "$plain" "$w/skid-kiln.ko"
cp "$plain" "$w/skid-sf.ko"
check "--skid = sign-file -k" sh -c '
	"$KILN" module sign --skid -k "$3/RSA-2048.pem" -c "$3/RSA-2048.der" "$1" >/dev/null &&
	"$4" -k sha512 "$3/RSA-2048.pem" "$3/RSA-2048.der" "$2" && cmp "$1" "$2"' \
	- "$w/skid-kiln.ko" "$w/skid-sf.ko" "$w" "$sign_file"

# ---- passphrases ---------------------------------------------------------------

openssl pkey -in "$w/RSA-2048.pem" -aes256 -passout pass:s3cret -out "$w/enc.pem"
cp "$plain" "$w/enc-kiln.ko"
cp "$plain" "$w/enc-sf.ko"
check "an encrypted PEM key with KBUILD_SIGN_PIN: same bytes as sign-file" sh -c '
	KBUILD_SIGN_PIN=s3cret "$KILN" module sign -k "$3/enc.pem" -c "$3/RSA-2048.der" "$1" >/dev/null &&
	KBUILD_SIGN_PIN=s3cret "$4" sha512 "$3/enc.pem" "$3/RSA-2048.der" "$2" && cmp "$1" "$2"' \
	- "$w/enc-kiln.ko" "$w/enc-sf.ko" "$w" "$sign_file"
cp "$plain" "$w/enc2.ko"
expect_fail "an encrypted key without KBUILD_SIGN_PIN says so" 1 \
	"key '.*enc.pem' is encrypted: put its passphrase in KBUILD_SIGN_PIN" \
	env -u KBUILD_SIGN_PIN "$KILN" module sign -k "$w/enc.pem" -c "$w/RSA-2048.der" "$w/enc2.ko"
expect_fail "a wrong passphrase is refused" 1 "cannot decrypt key '.*enc.pem'" \
	env KBUILD_SIGN_PIN=wrong "$KILN" module sign -k "$w/enc.pem" -c "$w/RSA-2048.der" "$w/enc2.ko"
check "the module is untouched after a key error" cmp "$w/enc2.ko" "$plain"
check "no key material in any message" sh -c '
	for pem in "$1/enc.pem" "$1/RSA-2048.pem"; do
		"$KILN" module sign -k "$pem" -c "$1/RSA-4096.der" "$1/enc2.ko" >"$1/msg" 2>&1
		KBUILD_SIGN_PIN=x "$KILN" module sign -k "$pem" -c "$1/RSA-4096.der" "$1/enc2.ko" >>"$1/msg" 2>&1
		grep -v -- "-----" "$pem" | while read -r line; do
			! grep -qF -- "$line" "$1/msg" || exit 1
		done || exit 1
	done
	! grep -q "PRIVATE" "$1/msg"' - "$w"

# ---- refusals, --replace, modes ------------------------------------------------

cp "$w/ref256.ko" "$w/again.ko"
expect_fail "an already signed module is refused without --replace" 1 \
	"^kiln: module sign: '.*again.ko': already signed; use --replace to sign it again$" \
	"$KILN" module sign -k "$w/RSA-2048.pem" -c "$w/RSA-2048.der" "$w/again.ko"
check "and left as it was" cmp "$w/again.ko" "$w/ref256.ko"
check "--replace gives the bytes of signing the unsigned module" sh -c '
	"$KILN" module sign --replace -k "$2/RSA-2048.pem" -c "$2/RSA-2048.der" "$1" >/dev/null &&
	cmp "$1" "$2/ref.ko"' - "$w/again.ko" "$w"
cp "$w/ref256.ko" "$w/twice.ko"
"$sign_file" sha256 "$w/RSA-2048.pem" "$w/RSA-2048.der" "$w/twice.ko"
check "--replace strips every trailer of a module sign-file signed twice" sh -c '
	"$KILN" module sign --replace -k "$2/RSA-2048.pem" -c "$2/RSA-2048.der" "$1" >/dev/null &&
	cmp "$1" "$2/ref.ko"' - "$w/twice.ko" "$w"

cp "$plain" "$w/mode.ko"
chmod 0600 "$w/mode.ko"
check "the file's mode is kept (0600)" sh -c '
	"$KILN" module sign -k "$2/RSA-2048.pem" -c "$2/RSA-2048.der" "$1" >/dev/null &&
	[ "$(stat -c %a "$1")" = 600 ] && cmp "$1" "$2/ref.ko"' - "$w/mode.ko" "$w"
check "no temporary file is left behind" sh -c '! ls -A "$1" | grep -qE "\.tmp\.|\.kiln-"' - "$w"

cp "$plain" "$w/target.ko"
ln -s target.ko "$w/link.ko"
check "a symlink is followed: the file is signed, the link stays" sh -c '
	"$KILN" module sign -k "$2/RSA-2048.pem" -c "$2/RSA-2048.der" "$1/link.ko" >/dev/null &&
	[ -L "$1/link.ko" ] && cmp "$1/target.ko" "$2/ref.ko"' - "$w" "$w"

mkdir -p "$w/mixed"
cp "$plain" "$w/mixed/a.ko"
cp "$w/ref.ko" "$w/mixed/b.ko"
echo "not a module" >"$w/mixed/c.ko"
cp "$plain" "$w/mixed/d.ko"
expect_fail "per-file errors are printed once and the others are still signed" 1 \
	"^kiln: module sign: '.*/mixed/c.ko': not a kernel module" \
	"$KILN" module sign -k "$w/RSA-2048.pem" -c "$w/RSA-2048.der" -j 3 "$w/mixed"
cp "$out/stderr" "$w/mixed.err"
check "  each error once, the signed ones equal sign-file's" sh -c '
	[ "$(grep -c "mixed/b.ko.: already signed" "$1")" = 1 ] &&
	[ "$(wc -l <"$1")" = 2 ] && cmp "$2/mixed/a.ko" "$2/ref.ko" && cmp "$2/mixed/d.ko" "$2/ref.ko"' \
	- "$w/mixed.err" "$w"

expect_fail "a hash the kernel does not take is refused" 1 "unknown hash 'md5': the kernel takes" \
	"$KILN" module sign -k "$w/RSA-2048.pem" --hash md5 "$w/enc2.ko"
expect_fail "a key that does not match the certificate is refused once" 1 \
	"the key '.*RSA-2048.pem' is not the key of certificate '.*RSA-4096.der'" \
	"$KILN" module sign -k "$w/RSA-2048.pem" -c "$w/RSA-4096.der" "$w/enc2.ko"
expect_fail "pkcs11: without OpenSSL's pkcs11 provider says so" 1 "pkcs11 provider" \
	"$KILN" module sign -k "pkcs11:token=kiln;object=key" -c "$w/RSA-2048.der" "$w/enc2.ko"
expect_fail "--key is required" 2 "--key KEY is required" "$KILN" module sign "$w/enc2.ko"
expect_fail "a missing file is a per-file error" 1 "'.*/nonexistent.ko': cannot read it: No such file" \
	"$KILN" module sign -k "$w/RSA-2048.pem" "$w/nonexistent.ko"

mkdir -p "$w/json"
cp "$plain" "$w/json/a.ko"
cp "$w/ref.ko" "$w/json/b.ko"
check "--json summary" sh -c '
	"$KILN" module sign --json -k "$1/RSA-2048.pem" "$1/json" | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert d[\"signed\"] == 1 and d[\"failed\"] == 1 and d[\"hash\"] == \"sha512\", d
assert d[\"signer\"] == \"kiln test RSA-2048\", d
a, b = d[\"modules\"]
assert a[\"signed\"] and a[\"compression\"] == \"none\" and not a[\"replaced\"], a
assert not b[\"signed\"] and \"already signed\" in b[\"error\"], b
"; [ $? = 0 ]' - "$w"

# ---- compressed modules --------------------------------------------------------

xz --check=crc32 --lzma2=dict=1MiB -c "$plain" >"$w/c.ko.xz"
zstd -q -c "$plain" >"$w/c.ko.zst"
check ".ko.xz and .ko.zst: signed inside, decompressed equal sign-file's .ko" sh -c '
	"$KILN" module sign -k "$2/RSA-2048.pem" -c "$2/RSA-2048.der" "$1.xz" "$1.zst" >/dev/null &&
	xz -t "$1.xz" && xz -dc "$1.xz" | cmp - "$2/ref.ko" &&
	zstd -q -t "$1.zst" && zstd -q -dc "$1.zst" | cmp - "$2/ref.ko"' - "$w/c.ko" "$w"
check ".ko.xz keeps the kernel's xz settings (CRC32 check)" sh -c 'xz -lvv "$1" | grep -q CRC32' \
	- "$w/c.ko.xz"
expect_fail "a signed .ko.xz is refused without --replace" 1 "c.ko.xz': already signed" \
	"$KILN" module sign -k "$w/RSA-2048.pem" "$w/c.ko.xz"

# ---- ECDSA ---------------------------------------------------------------------

cp "$plain" "$w/ec.ko"
cp "$plain" "$w/ec-sf.ko"
check "ECDSA P-384 signs" "$KILN" module sign -k "$w/P-384.pem" -c "$w/P-384.der" --hash sha384 "$w/ec.ko"
"$sign_file" sha384 "$w/P-384.pem" "$w/P-384.der" "$w/ec-sf.ko"
expect_out "ECDSA P-384: kiln's and sign-file's signatures verify" 0 \
	"ec-sf.ko: ok \(signer \"kiln test P-384\", serial [0-9A-F:]+, sha384\)" \
	"$KILN" module verify --cert "$w/P-384.der" "$w/ec.ko" "$w/ec-sf.ko"

# ---- verify: one verdict each --------------------------------------------------

expect_out "verify: kiln-signed is ok" 0 \
	"^.*/pemcert.ko: ok \(signer \"kiln test RSA-2048\", serial [0-9A-F:]+, sha512\)$" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/pemcert.ko"
expect_out "verify: sign-file-signed is ok" 0 "ref.ko: ok" \
	"$KILN" module verify --cert "$w/RSA-2048.pem" "$w/ref.ko"
expect_out "verify: compressed modules are ok" 0 "c.ko.zst: ok" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/c.ko.xz" "$w/c.ko.zst"
expect_out "verify: SKID-named signer is ok" 0 "skid-sf.ko: ok \(signer .*key id [0-9A-F:]+" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/skid-sf.ko"
expect_out "verify: unsigned" 1 "^.*/kiln_plain.ko: unsigned$" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$plain"
expect_out "verify: wrong key names the signer" 1 \
	"ref.ko: signed by another key \(signer \"kiln test RSA-2048\", serial [0-9A-F:]+" \
	"$KILN" module verify --cert "$w/RSA-4096.der" "$w/ref.ko"
expect_out "verify: any of several --cert will do" 0 "ref.ko: ok" \
	"$KILN" module verify --cert "$w/RSA-4096.der" --cert "$w/RSA-2048.der" "$w/ref.ko"

cp "$w/ref.ko" "$w/flip.ko"
printf '\377' | dd of="$w/flip.ko" bs=1 seek=4096 conv=notrunc 2>/dev/null
expect_out "verify: one flipped byte in the body is a bad signature" 1 \
	"flip.ko: corrupt: bad signature" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/flip.ko"

size=$(stat -c %s "$w/ref.ko")
cp "$w/ref.ko" "$w/badlen.ko"
be32 4000000 | dd of="$w/badlen.ko" bs=1 seek=$((size - 32)) conv=notrunc 2>/dev/null
expect_out "verify: a trailer whose sig_len runs past the file is corrupt" 1 \
	"badlen.ko: corrupt: signature trailer says 4000000 bytes" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/badlen.ko"
cp "$w/ref.ko" "$w/shortlen.ko"
be32 600 | dd of="$w/shortlen.ko" bs=1 seek=$((size - 32)) conv=notrunc 2>/dev/null
expect_out "verify: a sig_len that cuts into the DER is corrupt" 1 "shortlen.ko: corrupt: the signature" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/shortlen.ko"
cp "$w/ref.ko" "$w/idtype.ko"
printf '\001' | dd of="$w/idtype.ko" bs=1 seek=$((size - 38)) conv=notrunc 2>/dev/null
expect_out "verify: a trailer with another id_type is corrupt" 1 "idtype.ko: corrupt: .*id_type 1" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/idtype.ko"

# signatures sign-file would never make, made with openssl cms and laid out by hand
cms() {
	local name=$1
	shift
	openssl cms -sign -in "$plain" -signer "$w/RSA-2048.der" -inkey "$w/RSA-2048.pem" \
		-binary -outform DER -nocerts -out "$w/$name.p7" "$@" &&
		append_sig "$plain" "$w/$name.p7" "$w/$name.ko"
}
check "openssl cms -noattr makes sign-file's DER (so the layouts by hand below are right)" sh -c '
	openssl cms -sign -in "$1" -signer "$2/RSA-2048.der" -inkey "$2/RSA-2048.pem" -binary \
		-outform DER -nocerts -noattr -md sha512 -out "$2/same.p7" &&
	tail -c +$(($(stat -c %s "$1") + 1)) "$2/ref.ko" | head -c "$(stat -c %s "$2/same.p7")" |
		cmp - "$2/same.p7"' - "$plain" "$w"
cms attrs -md sha256
expect_out "verify: signed attributes present is corrupt" 1 \
	"attrs.ko: corrupt: the signature has signed attributes" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/attrs.ko"
# embedded content is checked after the size: keep the DER under the kernel's 64 KiB
head -c 1000 "$plain" >"$w/small"
openssl cms -sign -in "$w/small" -signer "$w/RSA-2048.der" -inkey "$w/RSA-2048.pem" -binary \
	-outform DER -nocerts -noattr -nodetach -out "$w/embedded.p7"
append_sig "$plain" "$w/embedded.p7" "$w/embedded.ko"
expect_out "verify: embedded content is corrupt" 1 "embedded.ko: corrupt: the signature embeds its content" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/embedded.ko"
cms md5 -md md5 -noattr
expect_out "verify: an MD5 digest is unsupported" 1 "md5.ko: corrupt: digest algorithm md5 is not one" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/md5.ko"
cms pss -md sha256 -noattr -keyopt rsa_padding_mode:pss
expect_out "verify: RSA-PSS is unsupported" 1 "pss.ko: corrupt: signature algorithm rsassaPss is not one" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/pss.ko"
head -c 100 "$w/RSA-2048.der" >"$w/junk.p7"
append_sig "$plain" "$w/junk.p7" "$w/junk.ko"
expect_out "verify: DER that does not parse is corrupt" 1 "junk.ko: corrupt: the signature is not valid DER" \
	"$KILN" module verify --cert "$w/RSA-2048.der" "$w/junk.ko"

check "verify --json: a verdict, a problem and the kernel's error per module" sh -c '
	"$KILN" module verify --json --cert "$1/RSA-2048.der" "$1/ref.ko" "$2" "$1/flip.ko" \
		"$1/attrs.ko" "$1/md5.ko" "$1/badlen.ko" >"$1/v.json"; [ $? = 1 ] &&
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
got = [(m[\"verdict\"], m[\"problem\"], m[\"kernel_error\"]) for m in d]
want = [(\"ok\", None, None), (\"unsigned\", None, \"ENODATA\"),
	(\"corrupt\", \"bad-signature\", \"EKEYREJECTED\"),
	(\"corrupt\", \"signed-attributes\", \"EKEYREJECTED\"),
	(\"corrupt\", \"unsupported-algorithm\", \"ENOPKG\"),
	(\"corrupt\", \"bad-trailer\", \"EBADMSG\")]
assert got == want, got
assert d[0][\"signer\"] == \"kiln test RSA-2048\" and d[0][\"sig_hashalgo\"] == \"sha512\", d[0]
" "$1/v.json"' - "$w" "$plain"
check "verify walks directories" sh -c '
	"$KILN" module verify --cert "$1/RSA-2048.der" "$1/mixed" >"$1/dir.out"; [ $? = 1 ] &&
	grep -q "mixed/a.ko: ok" "$1/dir.out" && grep -q "mixed/d.ko: ok" "$1/dir.out"' - "$w"
expect_fail "verify needs --cert" 2 "--cert CERT is required" "$KILN" module verify "$w/ref.ko"

# ---- two runs over one directory at once ----------------------------------------

# A signs a*.ko, and B starts on b*.ko once A has a signed file staged beside
# its module: B's sweep of what killed runs left must leave A's alone
mkdir "$w/two"
i=0
while [ $i -lt 150 ]; do
	cp "$w/stripped/kiln_plain.ko" "$w/two/a$i.ko"
	cp "$w/stripped/kiln_plain.ko" "$w/two/b$i.ko"
	i=$((i + 1))
done
two_at_once() {
	"$KILN" module sign -k "$w/RSA-4096.pem" "$w"/two/a*.ko >"$w/two-a.out" 2>&1 &
	a=$!
	i=0
	until ls -A "$w/two" | grep -q '^\.a.*\.kiln-'; do
		i=$((i + 1))
		[ $i -lt 2000 ] || break
		sleep 0.005
	done
	"$KILN" module sign -k "$w/RSA-4096.pem" "$w"/two/b*.ko >"$w/two-b.out" 2>&1
	sb=$?
	wait $a
	[ $? = 0 ] && [ $sb = 0 ] || { cat "$w/two-a.out" "$w/two-b.out" >&2; return 1; }
}
check "two runs over one directory at once: both succeed" two_at_once
check "and every module of both is signed" sh -c '
	test "$("$1" module verify --cert "$2/RSA-4096.der" "$2/two" | grep -c ": ok")" = 300' \
	- "$KILN" "$w"
check "and nothing is left beside them" sh -c '! ls -A "$1/two" | grep -q "^\\."' - "$w"

done_testing
