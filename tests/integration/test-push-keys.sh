#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kiln push refuses an image that holds a private key, against Debian's
# docker-registry on a free loopback port: a key in a lower layer that a
# later layer deletes (the flattened view hides it, the blob still ships
# it), several kinds of key in one layer (a key appended to 20 MiB of
# firmware too), one in the arm64 manifest of an index, one in an archive
# pushed as a file; --allow-private-key pushes with a warning, and an image
# without keys pushes as before. kiln build --push is in test-build.sh.
set -u

. "$SRCDIR/tests/integration/tap.sh"
. "$SRCDIR/tests/integration/lib-registry.sh"
here=$SRCDIR/tests/integration

registry_test_setup docker-registry skopeo python3 openssl

port=$(free_port)
R=127.0.0.1:$port
start_registry reg "$port"
check "docker-registry runs on $R" test "$(http_status "http://$R/v2/")" = 200
log=$tmp/reg/log

# the digest skopeo sees for REPO:TAG, or nothing
remote_digest() {
	skopeo inspect --tls-verify=false "docker://$R/$1" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["Digest"])' 2>/dev/null
}

# the keys
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pkcs8.pem 2>/dev/null
openssl pkey -in pkcs8.pem -traditional -out rsa.pem 2>/dev/null
openssl pkey -in pkcs8.pem -outform DER -out key.der 2>/dev/null
check "openssl made the keys" test -s pkcs8.pem -a -s rsa.pem -a -s key.der

# ---- a key in layer 1 that layer 2 deletes ----

mkdir -p lower/src/certs lower/etc upper/src/certs upper/etc
cp pkcs8.pem lower/src/certs/module-signing.pem
openssl req -new -x509 -key pkcs8.pem -subj /CN=kiln -days 1 -out lower/src/certs/module-signing.crt 2>/dev/null
echo one >lower/etc/version
: >upper/src/certs/.wh.module-signing.pem
echo two >upper/etc/version
python3 "$here/make-image.py" --dirs "$store" keyed:v1 lower upper >digest.keyed
check "the flattened view does not show the deleted key" \
	test "$("$KILN" ls keyed:v1 /src/certs)" = module-signing.crt

before=$(writes_in "$log")
expect_fail "push refuses it, naming the layer, the file and what it holds" 1 \
	"^kiln: refusing to push keyed:v1: layer 1 \(sha256:[0-9a-f]{64}\): src/certs/module-signing.pem holds a PEM private key \(PKCS#8\), which a later layer deletes but this layer's blob still ships; private keys must never leave this machine: remove it from the layer that adds it, or pass --allow-private-key\$" \
	"$KILN" push keyed:v1 "$R/kiln/keyed:v1"
cp "$out/stderr" refused.err
check "the error is one line" test "$(wc -l <refused.err)" = 1
layer1=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' \
	"$store/blobs/sha256/$(cut -d: -f2 digest.keyed)")
check "the layer named is the one that adds the key" grep -qF "layer 1 ($layer1)" refused.err
check "nothing was sent to the registry" test "$(writes_in "$log")" = "$before"
check "the repository has no such image" test -z "$(remote_digest kiln/keyed:v1)"
check "--help says so" bash -c "'$KILN' push --help | grep -q -- --allow-private-key"

check "push --allow-private-key pushes it" \
	"$KILN" push -q --allow-private-key keyed:v1 "$R/kiln/keyed:v1"
cp "$out/stderr" allowed.err
check "with a warning naming the file" \
	grep -qE "^kiln: warning: pushing keyed:v1 with a private key: layer 1 \(sha256:[0-9a-f]{64}\): src/certs/module-signing.pem holds" \
	allowed.err
check "skopeo inspect sees what was pushed" \
	test "$(remote_digest kiln/keyed:v1)" = "$(cat digest.keyed)"

# ---- no keys: pushed as before ----

python3 "$here/make-image.py" --dirs "$store" clean:v1 upper >digest.clean
check "an image without keys pushes" "$KILN" push -q clean:v1 "$R/kiln/clean:v1"
cp "$out/stderr" clean.err
check "with nothing said about keys" bash -c "! grep -qi 'key' clean.err"
check "skopeo inspect sees it" test "$(remote_digest kiln/clean:v1)" = "$(cat digest.clean)"
clean_layer=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"])' \
	"$store/blobs/sha256/$(cut -d: -f2 digest.clean)")
check "its layer is remembered as clean, and the keyed one is not" \
	bash -c "grep -qx '$clean_layer clean [0-9]*' '$store/kiln-key-scan' && ! grep -q '$layer1' '$store/kiln-key-scan'"

# ---- several keys in one layer: the first is named, the rest counted ----

mkdir -p many/a many/b many/c many/d
head -c 20M /dev/urandom >many/a/firmware.bin
cat pkcs8.pem >>many/a/firmware.bin
cp rsa.pem many/b/rsa.pem
cp key.der many/c/key.der
# names the markers, holds no key
printf '#!/bin/sh\ngrep -l -- "-----BEGIN PRIVATE KEY-----" "$@"\n' >many/d/find-keys.sh
python3 "$here/make-image.py" --dirs "$store" many:v1 many >/dev/null
expect_fail "a key at the end of 20 MiB is found, and the others counted" 1 \
	"refusing to push many:v1: layer 1 \(sha256:[0-9a-f]{64}\): a/firmware.bin holds a PEM private key \(PKCS#8\), and 2 more files hold private keys; .*remove them from the layers that add them, or pass --allow-private-key" \
	"$KILN" push many:v1 "$R/kiln/many:v1"
"$KILN" push -q --allow-private-key many:v1 "$R/kiln/many:v1" >/dev/null 2>warnings
check "--allow-private-key warns about each, and only the keys" \
	test "$(grep -c '^kiln: warning: pushing many:v1 with a private key' warnings)" = 3 -a \
	"$(grep -oE '[a-z]/[a-z0-9.-]+ holds (a PEM RSA|a DER)' warnings | sort | tr '\n' ,)" = \
	"b/rsa.pem holds a PEM RSA,c/key.der holds a DER,"

# ---- an index: every manifest, named by platform ----

python3 "$here/make-image.py" --arch arm64 --dirs "$store" armkey:v1 lower >/dev/null
python3 "$here/make-image.py" --index "$store" multi:v1 clean:v1 armkey:v1 >/dev/null
expect_fail "a key in the arm64 manifest of an index is refused, naming the platform" 1 \
	"refusing to push multi:v1: layer 1 \(sha256:[0-9a-f]{64}\) of linux/arm64: src/certs/module-signing.pem holds" \
	"$KILN" push multi:v1 "$R/kiln/multi:v1"

# ---- an archive pushed as a file ----

check "export the keyed image as a docker-archive" "$KILN" export keyed:v1 -o keyed.tar
expect_fail "pushing the archive is refused too" 1 \
	"refusing to push keyed.tar: layer 1 \(sha256:[0-9a-f]{64}\): src/certs/module-signing.pem holds" \
	"$KILN" push keyed.tar "$R/kiln/fromfile:v1"

done_testing
