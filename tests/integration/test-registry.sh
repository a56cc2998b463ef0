#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kiln push and pull against Debian's docker-registry, started here on free
# loopback ports and stopped at the end whatever happens: interop with
# skopeo both ways, cross-repository mounts, a no-op re-push, an index,
# Basic (htpasswd) and token auth with credentials from auth files, and
# faults injected by fault-proxy.py (500, 502, 503, 429 with and without
# Retry-After, 400, 403, 404, dropped connections, truncated bodies, stalls,
# corrupted bytes, redirects to storage that fails too). After every fault
# case the store must be sound (store_is_sound, lib-registry.sh).
set -u

. "$SRCDIR/tests/integration/tap.sh"
. "$SRCDIR/tests/integration/lib-registry.sh"
here=$SRCDIR/tests/integration

registry_test_setup docker-registry skopeo python3 htpasswd openssl

port=$(free_port)
R=127.0.0.1:$port
start_registry plain "$port"
check "docker-registry runs on $R" test "$(http_status "http://$R/v2/")" = 200

# the image: a small layer, one over 16 MiB (chunked upload), one in between
python3 "$here/make-image.py" "$store" src:v1 100K 20M 3M >digest.src
python3 "$here/make-image.py" layout v1 64K 17M >/dev/null
# the 20M layer (uploaded in chunks) and the 3M one
layer20=sha256:$(find "$store/blobs/sha256" -size +10M -printf '%f\n')
layer3=sha256:$(find "$store/blobs/sha256" -size +2M -size -10M -printf '%f\n')

# ---- push, and skopeo reads it ----

check "kiln push" sh -c "'$KILN' push src:v1 $R/kiln/test:v1 >push.out"
check "push prints host/repo:tag@digest" \
	grep -qxE "$R/kiln/test:v1@sha256:[0-9a-f]{64}" push.out
pushed=$(cut -d@ -f2 push.out)
check "the pushed digest is the store's manifest" test "$pushed" = "$(cat digest.src)"
check "_out/images.json records the push" \
	test "$(json_field _out/images.json "$R/kiln/test:v1" reference)" = "$(cat push.out)"
check "skopeo inspect reads what kiln pushed" \
	sh -c "skopeo inspect --tls-verify=false docker://$R/kiln/test:v1 >inspect.json"
check "skopeo sees the same digest" test "$(json_field inspect.json Digest)" = "$pushed"
check "skopeo copy reads what kiln pushed" \
	skopeo copy -q --src-tls-verify=false "docker://$R/kiln/test:v1" oci:copied:v1
check "skopeo inspect --raw gives the store's manifest bytes" \
	sh -c "skopeo inspect --raw --tls-verify=false docker://$R/kiln/test:v1 |
		cmp - '$store/blobs/sha256/${pushed#sha256:}'"

# ---- re-push is HEADs only; a second repository mounts ----

before=$(writes_in "$tmp/plain/log")
check "re-push" sh -c "'$KILN' push --json src:v1 $R/kiln/test:v1 >repush.json"
check "re-push uploads nothing" \
	test "$(json_field repush.json blobs existing) $(json_field repush.json blobs uploaded) $(json_field repush.json manifestsPut)" = "4 0 0"
check "re-push sends no POST, PUT or PATCH" test "$(writes_in "$tmp/plain/log")" = "$before"
check "push to a second repository" \
	sh -c "'$KILN' push --json src:v1 $R/kiln/second:v1 >mount.json"
check "every blob is mounted from kiln/test" test "$(json_field mount.json blobs mounted)" = 4
check "the registry saw the mounts" \
	grep -qE '"POST /v2/kiln/second/blobs/uploads/\?[^"]*mount=[^"]*" 201' "$tmp/plain/log"

# ---- skopeo pushes, kiln pulls ----

check "skopeo copy pushes a layout" \
	skopeo copy -q --dest-tls-verify=false oci:layout:v1 "docker://$R/kiln/fromskopeo:v1"
check "kiln pull" sh -c "'$KILN' pull $R/kiln/fromskopeo:v1 >pull.out"
want=$(skopeo inspect --tls-verify=false "docker://$R/kiln/fromskopeo:v1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
check "kiln pulled the digest skopeo pushed" test "$(cut -d@ -f2 pull.out)" = "$want"
check "the store names the pulled image" grep -q "\"$R/kiln/fromskopeo:v1\"" "$store/index.json"
check "the manifest is stored byte for byte" test -f "$store/blobs/sha256/${want#sha256:}"
check "pull by digest" "$KILN" pull -q "$R/kiln/fromskopeo@$want"
check "store is sound after pulls" store_is_sound
expect_fail "pull of a missing tag fails" 1 "no such image|MANIFEST_UNKNOWN|not found" \
	"$KILN" pull -q "$R/kiln/fromskopeo:nope"
expect_fail "push to another digest is refused" 1 "names digest" \
	"$KILN" push src:v1 "$R/kiln/test@sha256:$(printf '%064d' 0)"
expect_fail "an unreachable registry is a clear error" 1 "cannot reach" \
	"$KILN" push -q src:v1 "127.0.0.1:$(free_port)/kiln/test:v1"

# ---- an index: children first, the platform's manifest on pull ----

python3 "$here/make-image.py" --arch arm64 "$store" arm:v1 50K >/dev/null
python3 "$here/make-image.py" --index "$store" multi:v1 src:v1 arm:v1 >digest.multi
check "push an index" "$KILN" push -q multi:v1 "$R/kiln/multi:v1"
check "skopeo reads the index" sh -c "skopeo inspect --raw --tls-verify=false docker://$R/kiln/multi:v1 |
	grep -q 'image.index.v1+json'"
rm -rf "$KILN_CACHE_DIR/arm" && mkdir -p "$KILN_CACHE_DIR/arm"
check "pull --platform linux/arm64 takes the arm64 manifest" sh -c \
	"KILN_CACHE_DIR='$KILN_CACHE_DIR/arm' '$KILN' pull --json --platform linux/arm64 $R/kiln/multi:v1 >multi.json"
check "the pulled manifest is the arm64 one" \
	test "$(json_field multi.json manifest)" = "$(python3 -c 'import json,sys; print([m["digest"] for m in json.load(open(sys.argv[1]))["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "arm:v1"][0])' "$store/index.json")"
expect_fail "a platform the index lacks is a clear error" 1 "no image for linux/s390x" \
	env KILN_CACHE_DIR="$KILN_CACHE_DIR/arm" "$KILN" pull --platform linux/s390x "$R/kiln/multi:v1"

# ---- kiln import DIR, and archives pushed as files ----

mkdir -p tree/etc && echo hello >tree/etc/greeting
check "kiln import DIR makes an image" "$KILN" import tree --tag imported:v1
check "push an image made by kiln import" "$KILN" push -q imported:v1 "$R/kiln/imported:v1"
check "skopeo copies it" skopeo copy -q --src-tls-verify=false \
	"docker://$R/kiln/imported:v1" oci:imported:v1
check "skopeo writes a docker-archive" \
	skopeo copy -q oci:layout:v1 docker-archive:"$tmp/image.tar":kiln/arch:v1
check "kiln push FILE pushes a docker-archive" \
	sh -c "'$KILN' push -q '$tmp/image.tar' $R/kiln/archive:v1 >archive.out"
check "skopeo reads the pushed archive" \
	skopeo inspect --tls-verify=false "docker://$R/kiln/archive:v1"
check "the archive is in the store under DEST's name" \
	grep -q "\"$R/kiln/archive:v1\"" "$store/index.json"
check "skopeo writes an oci-archive" skopeo copy -q oci:layout:v1 oci-archive:"$tmp/oci.tar":v1
check "kiln push FILE pushes an oci-archive" \
	"$KILN" push -q "$tmp/oci.tar" "$R/kiln/ociarchive:v1"
check "skopeo inspect --raw gives what the oci-archive holds" sh -c \
	"test \$(skopeo inspect --raw --tls-verify=false docker://$R/kiln/ociarchive:v1 | sha256sum | cut -d' ' -f1) = \
	      \$(skopeo inspect --raw oci-archive:$tmp/oci.tar:v1 | sha256sum | cut -d' ' -f1)"

# ---- Basic auth (htpasswd) ----

htpasswd -Bbn kiln s3cret >"$tmp/htpasswd"
bport=$(free_port)
B=127.0.0.1:$bport
start_registry basic "$bport" "auth: {htpasswd: {realm: kiln-test, path: $tmp/htpasswd}}"
auth_file "$B" kiln:s3cret good.json
auth_file "$B" kiln:wrong bad.json
expect_fail "basic: no credentials is refused cleanly" 1 "requires a login.*no credentials" \
	"$KILN" push -q src:v1 "$B/kiln/test:v1"
check "basic: push with REGISTRY_AUTH_FILE" \
	env REGISTRY_AUTH_FILE="$tmp/good.json" "$KILN" push -q src:v1 "$B/kiln/test:v1"
expect_fail "basic: wrong password is refused cleanly" 1 "refused.*bad.json" \
	env REGISTRY_AUTH_FILE="$tmp/bad.json" "$KILN" push -q src:v1 "$B/kiln/test:v1"
mkdir -p docker && cp good.json docker/config.json
check "basic: pull with \$DOCKER_CONFIG/config.json" \
	env DOCKER_CONFIG="$tmp/docker" "$KILN" pull -q "$B/kiln/test:v1"
check "basic: skopeo reads it with the same auth file" \
	skopeo inspect --tls-verify=false --authfile good.json "docker://$B/kiln/test:v1"
check "no password in the log" sh -c "! grep -q s3cret '$tmp/basic/log'"

# ---- token auth: a python issuer signing RS256 JWTs with openssl ----

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-days 2 -subj /CN=kiln-issuer 2>/dev/null
iport=$(free_port)
python3 "$here/token-issuer.py" "$iport" "$tmp/key.pem" "$tmp/cert.pem" kiln-registry \
	kiln-issuer kiln:s3cret "$tmp/issuer.log" &
pids+=($!)
wait_http "$iport"
tport=$(free_port)
T=127.0.0.1:$tport
start_registry token "$tport" "auth: {token: {realm: http://127.0.0.1:$iport/token, service: kiln-registry, issuer: kiln-issuer, rootcertbundle: $tmp/cert.pem}}"
auth_file "$T" kiln:s3cret tgood.json
auth_file "$T" kiln:nope tbad.json
expect_fail "token: push without credentials is refused cleanly" 1 "no credentials for $T" \
	"$KILN" push -q src:v1 "$T/kiln/test:v1"
check "token: push with credentials from the auth file" \
	env REGISTRY_AUTH_FILE="$tmp/tgood.json" "$KILN" push -q src:v1 "$T/kiln/test:v1"
expect_fail "token: wrong credentials are refused cleanly" 1 "refused the credentials" \
	env REGISTRY_AUTH_FILE="$tmp/tbad.json" "$KILN" push -q src:v1 "$T/kiln/test:v1"
check "token: anonymous pull" \
	env KILN_CACHE_DIR="$tmp/anon" "$KILN" pull -q "$T/kiln/test:v1"
check "token: a second repository mounts with pull on the first in the token" sh -c \
	"REGISTRY_AUTH_FILE='$tmp/tgood.json' '$KILN' push --json src:v1 $T/kiln/other:v1 >tmount.json &&
	 test \$(python3 -c 'import json; print(json.load(open(\"tmount.json\"))[\"blobs\"][\"mounted\"])') = 4"
check "token: the issuer saw both scopes in one request" \
	grep -q "repository:kiln/other:pull,push repository:kiln/test:pull\|repository:kiln/test:pull repository:kiln/other:pull,push" "$tmp/issuer.log"
check "no token or password in the registry log" sh -c "! grep -qE 's3cret|eyJ' '$tmp/token/log'"

# ---- faults, through a proxy in front of the plain registry ----

pport=$(free_port)
P=127.0.0.1:$pport
sport=$(free_port)
python3 "$here/fault-proxy.py" "$pport" "$port" "$tmp/rules.json" "$tmp/proxy.log" "$sport" &
pids+=($!)
wait_http "$pport"

# the pushing store and the pulling one
stores_are_sound() {
	store_is_sound && store_is_sound "$KILN_CACHE_DIR/f/store"
}

# fault NAME RULES PATTERN CMD...: CMD succeeds with RULES in force and says
# what it did about them (PATTERN, on stderr); then the store is checked
fault() {
	local name=$1 rules=$2 pattern=$3
	shift 3
	printf '%s\n' "$rules" >"$tmp/rules.json"
	# no mounts from what earlier pushes left: every blob must go over the proxy
	rm -f "$store/kiln-registry-sources"
	check "fault: $name" "$@"
	cp "$out/stderr" "$tmp/fault.err"
	printf '[]\n' >"$tmp/rules.json"
	check "fault: $name: kiln reports it" grep -qE "$pattern" "$tmp/fault.err"
	check "fault: $name: every blob in the store hashes to its name" stores_are_sound
}

# fault_fails NAME RULES PATTERN CMD...: CMD fails (exit 1) with RULES in force, with
# PATTERN on stderr; then the store is checked
fault_fails() {
	local name=$1 rules=$2 pattern=$3
	shift 3
	printf '%s\n' "$rules" >"$tmp/rules.json"
	rm -f "$store/kiln-registry-sources"
	: >"$tmp/proxy.log"
	expect_fail "fault: $name" 1 "$pattern" "$@"
	printf '[]\n' >"$tmp/rules.json"
	check "fault: $name: every blob in the store hashes to its name" stores_are_sound
}

fault "500 twice on blob HEADs: retried" \
	'[{"method": "HEAD", "path": "/blobs/", "action": "status", "status": 500, "times": 2}]' \
	"answered 500; retrying" \
	"$KILN" push -q src:v1 "$P/fault/a:v1"
check "the proxy answered 500" grep -q "HEAD .* 500 status" "$tmp/proxy.log"
fault "MANIFEST_BLOB_UNKNOWN twice on the manifest PUT (a push racing another): retried" \
	'[{"method": "PUT", "path": "/manifests/", "action": "status", "status": 400, "code": "MANIFEST_BLOB_UNKNOWN", "times": 2}]' \
	"calls a blob it just confirmed unknown .*retrying \\(2 of 4\\)" \
	"$KILN" push -q src:v1 "$P/fault/race:v1"
fault_fails "MANIFEST_BLOB_UNKNOWN on every manifest PUT: one error after 4 tries" \
	'[{"method": "PUT", "path": "/manifests/", "action": "status", "status": 400, "code": "MANIFEST_BLOB_UNKNOWN"}]' \
	"MANIFEST_BLOB_UNKNOWN" \
	"$KILN" push -q src:v1 "$P/fault/race2:v1"
check "... asked 4 times" test "$(grep -c 'PUT /v2/fault/race2/manifests/v1 400' "$tmp/proxy.log")" = 4
fault "429 with Retry-After on upload starts: retried" \
	'[{"method": "POST", "path": "/blobs/uploads/", "action": "status", "status": 429, "retry_after": 1, "times": 2}]' \
	"answered 429; retrying" \
	"$KILN" push -q src:v1 "$P/fault/b:v1"
# libcurl itself sends a request again once when a reused connection dies
# before any answer: each cut happens twice, so that kiln sees at least one
fault "connection cut mid-chunk (partial data reached the registry): upload restarted" \
	'[{"method": "PATCH", "path": "/blobs/uploads/", "action": "drop", "after": 1000000, "forward": true, "times": 2}]' \
	"starting it again" \
	"$KILN" push -q src:v1 "$P/fault/c:v1"
fault "connection cut before a chunk reached the registry: upload resumed" \
	'[{"method": "PATCH", "path": "/blobs/uploads/", "action": "drop", "after": 0, "times": 2}]' \
	"interrupted \\(.*\\); resuming at" \
	"$KILN" push -q src:v1 "$P/fault/d:v1"
fault "connection cut mid-PUT: upload restarted" \
	'[{"method": "PUT", "path": "/blobs/uploads/", "action": "drop", "after": 50000, "forward": true, "times": 2}]' \
	"starting it again" \
	"$KILN" push -q src:v1 "$P/fault/e:v1"
fault "a corrupted byte on the way up: the registry refuses, kiln sends it again" \
	'[{"method": "PUT", "path": "/blobs/uploads/", "action": "corrupt", "offset": 1000, "times": 1}]' \
	"DIGEST_INVALID.*starting it again" \
	"$KILN" push -q src:v1 "$P/fault/f:v1"
printf '%s\n' '[{"method": "PUT", "path": "/blobs/uploads/", "action": "corrupt", "offset": 1000}]' >"$tmp/rules.json"
rm -f "$store/kiln-registry-sources"
expect_fail "fault: bytes corrupted every time: push fails clearly" 1 "something on the way corrupts uploads" \
	"$KILN" push -q src:v1 "$P/fault/g:v1"
printf '[]\n' >"$tmp/rules.json"
check "fault: the failed push tagged nothing" test "$(http_status "http://$R/v2/fault/g/manifests/v1" \
	"Accept: application/vnd.oci.image.manifest.v1+json")" = 404

# pullf ARGS...: kiln pull into a store of its own, emptied first
pullf() {
	rm -rf "$KILN_CACHE_DIR/f" && mkdir -p "$KILN_CACHE_DIR/f" &&
		KILN_CACHE_DIR="$KILN_CACHE_DIR/f" "$KILN" pull -q "$@"
}
fault "connection cut mid-blob twice on pull: resumed with Range" \
	'[{"method": "GET", "path": "/blobs/sha256:", "action": "drop", "after": 3000000, "times": 2}]' \
	"resuming at byte [1-9]" \
	pullf "$P/kiln/test:v1"
check "the resumed download asked for a range" grep -qE "GET /v2/kiln/test/blobs/sha256:[0-9a-f]+ 206" "$tmp/proxy.log"
fault "500 three times on blob GETs: retried" \
	'[{"method": "GET", "path": "/blobs/sha256:", "action": "status", "status": 500, "times": 3}]' \
	"answered 500; retrying" \
	pullf "$P/kiln/test:v1"
printf '%s\n' '[{"method": "GET", "path": "/blobs/sha256:", "action": "corrupt", "offset": 5000}]' >"$tmp/rules.json"
expect_fail "fault: a corrupted blob on pull is refused" 1 "digest mismatch" \
	pullf "$P/kiln/test:v1"
printf '[]\n' >"$tmp/rules.json"
check "fault: nothing was tagged" sh -c "! grep -q 'kiln/test:v1' '$KILN_CACHE_DIR/f/store/index.json'"
check "fault: no wrong blob in that store" store_is_sound "$KILN_CACHE_DIR/f/store"
printf '%s\n' '[{"method": "GET", "path": "/manifests/", "action": "corrupt", "offset": 10}]' >"$tmp/rules.json"
expect_fail "fault: a corrupted manifest is refused" 1 "hashes to|manifest" \
	pullf "$P/kiln/test:v1"
printf '[]\n' >"$tmp/rules.json"

# ---- more of what registries do: 502, 503, 429 without Retry-After, truncated bodies,
# stalls, non-transient answers, redirects to storage ----

# kiln gives up on a connection that moves nothing for this long (60 s by default)
export KILN_HTTP_STALL_SECONDS=1

# most_tries METHOD STATUS: the most requests for one blob the proxy answered STATUS
most_tries() {
	grep "^$1 .* $2 status\$" "$tmp/proxy.log" | grep -oE 'sha256(:|%3a)[0-9a-f]{64}' |
		sed 's/%3a/:/' | sort | uniq -c | sort -rn | awk '{print $1; exit}'
}
fault "502 and 503 on blob HEADs and upload starts: retried" \
	'[{"method": "HEAD", "path": "/blobs/", "action": "status", "status": 503, "times": 2},
	  {"method": "POST", "path": "/blobs/uploads/", "action": "status", "status": 502, "times": 2}]' \
	"answered 503; retrying.*|answered 502; retrying" \
	"$KILN" push -q src:v1 "$P/fault/h:v1"
check "kiln said both" sh -c "grep -q 'answered 503; retrying' '$tmp/fault.err' &&
	grep -q 'answered 502; retrying' '$tmp/fault.err'"
fault "429 without Retry-After on chunk uploads: backed off and resumed" \
	'[{"method": "PATCH", "path": "/blobs/uploads/", "action": "status", "status": 429, "times": 2}]' \
	"interrupted \\(.*\\); resuming at 0" \
	"$KILN" push -q src:v1 "$P/fault/i:v1"
fault_fails "503 on every upload: bounded, one clear error" \
	'[{"method": "PUT", "path": "/blobs/uploads/", "action": "status", "status": 503}]' \
	"starting it again \(5 of 5\).*|cannot push .*answered 503" \
	"$KILN" push -q src:v1 "$P/fault/j:v1"
check "fault: 503 on every upload: five tries for a blob, never more" \
	test "$(most_tries PUT 503)" = 5
check "fault: 503 on every upload: nothing tagged" test "$(http_status "http://$R/v2/fault/j/manifests/v1" \
	"Accept: application/vnd.oci.image.manifest.v1+json")" = 404
fault "a chunk truncated on the way (the registry takes it as whole): resumed where it stopped" \
	'[{"method": "PATCH", "path": "/blobs/uploads/", "action": "truncate", "after": 1000000, "times": 1}]' \
	"the registry got 1000000 of the 20973056 bytes sent; resuming there" \
	"$KILN" push -q src:v1 "$P/fault/k:v1"
fault "a PUT truncated on the way: the registry refuses, kiln sends it again" \
	'[{"method": "PUT", "path": "/blobs/uploads/", "action": "truncate", "after": 1000, "times": 1}]' \
	"DIGEST_INVALID.*starting it again" \
	"$KILN" push -q src:v1 "$P/fault/l:v1"
fault "the registry stops reading a chunk: kiln gives up on the connection and resumes" \
	'[{"method": "PATCH", "path": "/blobs/uploads/", "action": "stall", "after": 1000000, "seconds": 30, "times": 1}]' \
	"interrupted \\(.*too slow.*\\); resuming at 0" \
	"$KILN" push -q src:v1 "$P/fault/m:v1"
fault "the registry stops reading a PUT: kiln gives up on the connection and starts again" \
	'[{"method": "PUT", "path": "/blobs/uploads/", "action": "stall", "after": 1000000, "seconds": 30, "times": 1}]' \
	"too slow.*starting it again" \
	"$KILN" push -q src:v1 "$P/fault/n:v1"
fault_fails "400 on an upload: no retry, one clear error" \
	'[{"method": "PUT", "path": "/blobs/uploads/", "action": "status", "status": 400}]' \
	"cannot push .*answered 400: BLOB_UPLOAD_INVALID" \
	"$KILN" push -q src:v1 "$P/fault/o:v1"
check "fault: 400 on an upload: no blob was sent twice" \
	sh -c "test \$(grep -c 'PUT .* 400 status' '$tmp/proxy.log') = \$(grep 'PUT .* 400 status' '$tmp/proxy.log' | sort -u | wc -l)"
fault_fails "403 on upload starts: no retry, one clear error" \
	'[{"method": "POST", "path": "/blobs/uploads/", "action": "status", "status": 403}]' \
	"access refused" \
	"$KILN" push -q src:v1 "$P/fault/p:v1"
check "fault: 403 on upload starts: one POST per blob at most" \
	test "$(grep -c 'POST .* 403 status' "$tmp/proxy.log")" -le 4

fault "502 and 429 without Retry-After on blob GETs: retried" \
	'[{"method": "GET", "path": "/blobs/sha256:", "action": "status", "status": 502, "times": 2},
	  {"method": "GET", "path": "/blobs/sha256:", "action": "status", "status": 429, "times": 2}]' \
	"answered 502; retrying" \
	pullf "$P/kiln/test:v1"
check "kiln said 429 too" grep -q "answered 429; retrying" "$tmp/fault.err"
fault_fails "503 on every blob GET: bounded, one clear error" \
	'[{"method": "GET", "path": "/blobs/sha256:", "action": "status", "status": 503}]' \
	"retrying \(6 of 6\).*|cannot pull .*answered 503" \
	pullf "$P/kiln/test:v1"
check "fault: 503 on every blob GET: six tries for a blob, never more" \
	test "$(most_tries GET 503)" = 6
fault "a body shorter than the blob that ends cleanly: the size check catches it, resumed" \
	'[{"method": "GET", "path": "/blobs/sha256:", "action": "truncate", "after": 1000000, "times": 2}]' \
	"1000000 of [0-9]+ bytes arrived; resuming at byte 1000000" \
	pullf "$P/kiln/test:v1"
fault "a stall mid-blob: kiln gives up on the connection and resumes" \
	'[{"method": "GET", "path": "/blobs/sha256:", "action": "stall", "after": 2000000, "seconds": 30, "times": 1}]' \
	"too slow.*resuming at byte [1-9]" \
	pullf "$P/kiln/test:v1"
printf '%s\n' '[{"method": "GET", "path": "/manifests/", "action": "truncate", "after": 300}]' >"$tmp/rules.json"
expect_fail "fault: a truncated manifest is refused" 1 "the manifest received hashes to" \
	pullf "$P/kiln/test:v1"
printf '[]\n' >"$tmp/rules.json"
for st in 400 404; do
	fault_fails "$st on a blob GET: no retry, one clear error" \
		'[{"method": "GET", "path": "/blobs/'"$layer3"'", "action": "status", "status": '"$st"'}]' \
		"cannot pull .*GET blob $layer3: $P answered $st" \
		pullf "$P/kiln/test:v1"
	check "fault: $st on a blob GET: asked once" test "$(grep -c " $st status" "$tmp/proxy.log")" = 1
done
fault_fails "403 on a blob GET: no retry, one clear error" \
	'[{"method": "GET", "path": "/blobs/'"$layer3"'", "action": "status", "status": 403}]' \
	"cannot pull .*access refused: no credentials for $P" \
	pullf "$P/kiln/test:v1"
check "fault: 403 on a blob GET: asked once" test "$(grep -c " 403 status" "$tmp/proxy.log")" = 1

# blob GETs sent to storage elsewhere (307), as S3-backed registries do; a resume goes back
# to the registry, which sends kiln to storage again with its Range
redirect='{"method": "GET", "path": "/blobs/sha256:", "action": "redirect"}'
: >"$tmp/proxy.log"
printf '[%s]\n' "$redirect" >"$tmp/rules.json"
check "fault: blob GETs redirected to storage: pulled" pullf "$P/kiln/test:v1"
check "fault: every blob came from the storage server" \
	test "$(grep -c 'GET /storage/sha256:[0-9a-f]* 200$' "$tmp/proxy.log")" = 4
fault "storage cuts the connection mid-blob: resumed through the registry, with Range" \
	"[$redirect, {\"method\": \"GET\", \"path\": \"/storage/$layer20\", \"action\": \"drop\", \"after\": 3000000, \"times\": 1}]" \
	"resuming at byte [1-9]" \
	pullf "$P/kiln/test:v1"
check "fault: the storage server answered the resume with 206" grep -q "GET /storage/$layer20 206" "$tmp/proxy.log"
fault "storage stalls mid-blob: resumed" \
	"[$redirect, {\"method\": \"GET\", \"path\": \"/storage/\", \"action\": \"stall\", \"after\": 3000000, \"seconds\": 30, \"times\": 1}]" \
	"too slow.*resuming at byte [1-9]" \
	pullf "$P/kiln/test:v1"
fault "storage answers 503 once: retried, and kiln names the storage" \
	"[$redirect, {\"method\": \"GET\", \"path\": \"/storage/\", \"action\": \"status\", \"status\": 503, \"times\": 1}]" \
	"http://127.0.0.1:$sport answered 503; retrying" \
	pullf "$P/kiln/test:v1"
fault_fails "storage answers 403 (an expired signature): one clear error naming the storage, not the login" \
	"[$redirect, {\"method\": \"GET\", \"path\": \"/storage/\", \"action\": \"status\", \"status\": 403, \"code\": \"AccessDenied\"}]" \
	"GET blob sha256:[0-9a-f]{64}: http://127.0.0.1:$sport, where $P sent kiln, answered 403: AccessDenied" \
	pullf "$P/kiln/test:v1"
check "fault: storage 403: asked once per blob at most" test "$(grep -c " 403 status" "$tmp/proxy.log")" -le 4

# credentials go to the registry only, never to the storage it redirects to
bpport=$(free_port)
bsport=$(free_port)
python3 "$here/fault-proxy.py" "$bpport" "$bport" "$tmp/rules.json" "$tmp/bproxy.log" "$bsport" &
pids+=($!)
wait_http "$bpport"
auth_file "127.0.0.1:$bpport" kiln:s3cret bproxy.json
rm -rf "$KILN_CACHE_DIR/f" && mkdir -p "$KILN_CACHE_DIR/f"
printf '[%s]\n' "$redirect" >"$tmp/rules.json"
check "redirect with Basic auth: pulled" env REGISTRY_AUTH_FILE="$tmp/bproxy.json" KILN_CACHE_DIR="$KILN_CACHE_DIR/f" \
	"$KILN" pull -q "127.0.0.1:$bpport/kiln/test:v1"
printf '[]\n' >"$tmp/rules.json"
check "redirect with Basic auth: the blobs came from storage" grep -q "GET /storage/sha256:[0-9a-f]* 200$" "$tmp/bproxy.log"
check "redirect with Basic auth: no Authorization reached the storage" \
	sh -c "! grep -q authorization '$tmp/bproxy.log'"
check "redirect with Basic auth: the store is sound" store_is_sound "$KILN_CACHE_DIR/f/store"
unset KILN_HTTP_STALL_SECONDS

# a store whose blob went bad: kiln reads every layer before a push (for private keys), finds
# it, and says which and why; nothing is sent
mkdir -p "$tmp/bad/store"
python3 "$here/make-image.py" "$tmp/bad/store" bad:v1 200K >/dev/null
layer=$(find "$tmp/bad/store/blobs/sha256" -size +100k)
flip_byte "$layer" 1000
expect_fail "a corrupt blob in the store is named, not pushed" 1 \
	"cannot push bad:v1: .*layer sha256:[0-9a-f]{64} is corrupt in the store: it hashes to" \
	env KILN_CACHE_DIR="$tmp/bad" "$KILN" push -q bad:v1 "$R/kiln/bad:v1"

done_testing
