#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# kiln store ls|gc|rm|path, tag and inspect on a store under a temporary
# KILN_CACHE_DIR, populated with an image umoci builds and skopeo copies in;
# then umoci and skopeo read what kiln left (after tag and gc).
. "$(dirname "$0")/tap.sh"
need umoci skopeo flock

# Keep the last check's stdout: the next check overwrites it.
save() {
	cp "$out/stdout" "$out/saved"
}

# stdout of the last check contains PATTERN
stdout_has() {
	if grep -qE -- "$2" "$out/stdout"; then
		ok "$1"
	else
		not_ok "$1" "stdout lacks '$2':" "$(head -c 2000 "$out/stdout")"
	fi
}

KILN_CACHE_DIR=$out/cache
export KILN_CACHE_DIR
S=$KILN_CACHE_DIR/store

check "store path creates the store" "$KILN" store path
stdout_has "store path prints \$KILN_CACHE_DIR/store" "^$S\$"
check "a new store is an OCI layout" test -f "$S/oci-layout" -a -f "$S/index.json" -a -d "$S/blobs/sha256"
check "store ls on an empty store" "$KILN" store ls
save
check "store ls prints nothing for an empty store" test ! -s "$out/saved"


# ---- an image made by umoci, copied into kiln's store by skopeo ---------
u=$out/umoci
mkdir -p "$out/root/etc"
echo hello >"$out/root/etc/hello"
{
	umoci init --layout "$u" &&
		umoci new --image "$u:v1" &&
		umoci insert --rootless --image "$u:v1" "$out/root/etc" /etc &&
		umoci config --image "$u:v1" --config.label org.opencontainers.image.source=https://example.com/kiln \
			--config.env A=1 --config.cmd /bin/sh &&
		skopeo copy "oci:$u:v1" "oci:$S:docker.io/library/test:v1"
} >"$out/setup.log" 2>&1
check "umoci builds an image and skopeo copies it into the store" test $? -eq 0
M=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$S/index.json")
MSIZE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["size"])' "$S/index.json")

check "store ls lists it" "$KILN" store ls
stdout_has "store ls shows the name and digest" "^docker.io/library/test:v1 +$M +manifest +$MSIZE\$"
check "store ls --json" "$KILN" store ls --json
save
check "store ls --json is JSON with name and digest" python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert v == [{"name": "docker.io/library/test:v1", "digest": sys.argv[2],
	"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": int(sys.argv[3])}], v
' "$out/saved" "$M" "$MSIZE"

check "inspect by short name" "$KILN" inspect test:v1
stdout_has "inspect shows the digest" "^Digest: +$M"
stdout_has "inspect shows the platform" "^Platform: +linux/amd64"
stdout_has "inspect shows the label" "org.opencontainers.image.source=https://example.com/kiln"
stdout_has "inspect shows the layer" "sha256:[0-9a-f]{64} .*application/vnd.oci.image.layer.v1.tar\+gzip"
check "inspect by digest" "$KILN" inspect "$M"
check "inspect --json" "$KILN" inspect --json docker.io/library/test:v1
save
check "inspect --json has config and layers" python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert v["digest"] == sys.argv[2] and v["platform"] == "linux/amd64", v
assert v["config"]["os"] == "linux" and v["config"]["env"] == ["A=1"], v
assert v["config"]["labels"]["org.opencontainers.image.source"] == "https://example.com/kiln"
assert len(v["layers"]) == 1 and v["layers"][0]["digest"].startswith("sha256:")
' "$out/saved" "$M"
check "inspect --raw" "$KILN" inspect --raw test:v1
save
check "inspect --raw prints the manifest byte for byte" \
	test "sha256:$(sha256sum <"$out/saved" | cut -d' ' -f1)" = "$M"
check "inspect --config" "$KILN" inspect --config test:v1
save
C=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"]["digest"])' "$S/blobs/sha256/${M#sha256:}")
check "inspect --config prints the config blob" cmp -s "$out/saved" "$S/blobs/sha256/${C#sha256:}"

# ---- tag ----------------------------------------------------------------
check "tag to a registry name" "$KILN" tag test:v1 127.0.0.1:5005/kiln/test:v2
stdout_has "tag prints the full name and digest" "^127.0.0.1:5005/kiln/test:v2@$M\$"
check "tag by digest, the tag defaulting to latest" "$KILN" tag "$M" kiln/bydigest
stdout_has "tag by digest names docker.io/kiln/bydigest:latest" "^docker.io/kiln/bydigest:latest@$M\$"
check "index.json carries both name annotations" python3 -c '
import json, sys
for e in json.load(open(sys.argv[1]))["manifests"]:
	a = e["annotations"]
	if a["org.opencontainers.image.ref.name"] == "127.0.0.1:5005/kiln/test:v2":
		assert a["io.containerd.image.name"] == "127.0.0.1:5005/kiln/test:v2"
		break
else:
	raise SystemExit("no entry")
' "$S/index.json"
check "umoci ls reads kiln's layout" umoci ls --layout "$S"
stdout_has "umoci lists the new name" "^127.0.0.1:5005/kiln/test:v2\$"
check "skopeo inspect oci:STORE:NAME reads it" skopeo inspect "oci:$S:127.0.0.1:5005/kiln/test:v2"
stdout_has "skopeo sees the same digest" "\"Digest\": \"$M\""

expect_fail "tag needs two arguments" 2 "expected SRC and DEST" "$KILN" tag test:v1
expect_fail "tag of a name not in the store" 1 "^kiln: tag: no image named nope \(docker.io/library/nope:latest\)" \
	"$KILN" tag nope x:1
expect_fail "tag to a malformed name" 1 "^kiln: tag: invalid reference \"Bad\": the repository name must be lowercase" \
	"$KILN" tag test:v1 Bad
expect_fail "tag to a name with a digest" 2 "has a digest" "$KILN" tag test:v1 "x@$M"
expect_fail "inspect of a name not in the store" 1 "^kiln: inspect nope: no image named nope" \
	"$KILN" inspect nope
expect_fail "inspect of a missing digest" 1 "no blob sha256:0{64}" \
	"$KILN" inspect sha256:0000000000000000000000000000000000000000000000000000000000000000
expect_fail "inspect for another platform" 1 "is an image for linux/amd64, not linux/arm64" \
	"$KILN" inspect --platform linux/arm64 test:v1
expect_fail "inspect with a malformed platform" 2 "invalid platform" "$KILN" inspect --platform linux test:v1
expect_fail "inspect without REF" 2 "expected one REF" "$KILN" inspect

# ---- an index, written by hand, named by its digest --------------------
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"arm","os":"linux","variant":"v7"}}]}' \
	"$M" "$MSIZE" "$M" "$MSIZE" >"$out/index"
IX=sha256:$(sha256sum <"$out/index" | cut -d' ' -f1)
cp "$out/index" "$S/blobs/sha256/${IX#sha256:}"
check "tag an index by digest" "$KILN" tag "$IX" multi:1
check "inspect an index" "$KILN" inspect multi:1
stdout_has "inspect lists the index's platforms" "^  linux/arm/v7 +$M"
stdout_has "inspect shows the host's manifest" "^Manifest: +$M"
check "inspect --json of an index" "$KILN" inspect --json --platform linux/arm/v7 multi:1
save
check "inspect --json lists platforms" python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert [p["platform"] for p in v["platforms"]] == ["linux/amd64", "linux/arm/v7"], v
assert v["mediaType"] == "application/vnd.oci.image.index.v1+json"
' "$out/saved"
expect_fail "a platform the index lacks lists those it has" 1 \
	"multi:1 has no image for linux/arm64 \(it has: linux/amd64, linux/arm/v7\)" \
	"$KILN" inspect --platform linux/arm64 multi:1
check "skopeo reads the index kiln tagged" skopeo inspect --raw "oci:$S:docker.io/library/multi:1"

# ---- concurrent tags from two processes ---------------------------------
(for i in 1 2 3 4 5 6 7 8 9 10; do "$KILN" tag test:v1 "p1:$i" >/dev/null || exit 1; done) &
p1=$!
(for i in 1 2 3 4 5 6 7 8 9 10; do "$KILN" tag test:v1 "p2:$i" >/dev/null || exit 1; done) &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
check "two processes tagging at once both succeed" test $r1 -eq 0 -a $r2 -eq 0
"$KILN" store ls >"$out/ls" 2>&1
check "no tag was lost" test "$(grep -cE '^docker.io/library/p[12]:' "$out/ls")" -eq 20

# ---- gc -----------------------------------------------------------------
echo junk >"$out/junk"
J=$(sha256sum <"$out/junk" | cut -d' ' -f1)
cp "$out/junk" "$S/blobs/sha256/$J"
: >"$S/tmp/blob-1-dead"
check "gc --dry-run" "$KILN" store gc --dry-run
stdout_has "gc --dry-run names the junk" "^would remove sha256:$J 5\$"
check "gc --dry-run removes nothing" test -f "$S/blobs/sha256/$J"
check "gc" "$KILN" store gc
stdout_has "gc prints what it removed" "^removed sha256:$J 5\$"
stdout_has "gc prints a summary" "^removed 1 blobs \(5 bytes\), kept 4\$"
check "gc removed the junk" test ! -e "$S/blobs/sha256/$J"
check "gc removed the dead writer's temporary file" test ! -e "$S/tmp/blob-1-dead"
check "umoci unpacks from kiln's layout after gc" \
	umoci unpack --rootless --image "$S:127.0.0.1:5005/kiln/test:v2" "$out/bundle"
check "the unpacked file is there" grep -qx hello "$out/bundle/rootfs/etc/hello"
check "skopeo still reads the store after gc" skopeo inspect "oci:$S:docker.io/library/test:v1"

check "store rm of every name" "$KILN" store rm test:v1 127.0.0.1:5005/kiln/test:v2 kiln/bydigest multi:1
for i in 1 2 3 4 5 6 7 8 9 10; do "$KILN" store rm "p1:$i" "p2:$i" || echo "rm p*:$i failed"; done >"$out/rm.log" 2>&1
check "store rm of the rest" test ! -s "$out/rm.log"
expect_fail "store rm of a name not there" 1 "no image named docker.io/library/test:v1" "$KILN" store rm test:v1
check "gc --json after removing every name" "$KILN" store gc --json
save
check "gc --json removed the 4 blobs" python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
assert len(v["removed"]) == 4 and v["kept"] == 0 and v["dry_run"] is False, v
' "$out/saved"
check "the store is empty" test -z "$(ls "$S/blobs/sha256")"

# ---- a corrupt blob is found and removed --------------------------------
skopeo copy "oci:$u:v1" "oci:$S:docker.io/library/test:v1" >/dev/null 2>&1
C=$("$KILN" inspect --json test:v1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["digest"])')
chmod u+w "$S/blobs/sha256/${C#sha256:}"
echo '{"architecture":"evil"}' >"$S/blobs/sha256/${C#sha256:}"
expect_fail "inspect finds a corrupt config" 1 "blob $C in the store .* is corrupt" "$KILN" inspect test:v1
check "the corrupt blob was removed" test ! -e "$S/blobs/sha256/${C#sha256:}"

# ---- store verify: each fault found, named and repaired ------------------
rm -rf "$S"
skopeo copy "oci:$u:v1" "oci:$S:docker.io/library/test:v1" >/dev/null 2>&1
"$KILN" tag test:v1 other:1 >/dev/null
M=$("$KILN" inspect --json test:v1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
L=$("$KILN" inspect --json test:v1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
blob() { echo "$S/blobs/sha256/${1#sha256:}"; }
check "store verify passes on a sound store" "$KILN" store verify
stdout_has "store verify counts what it checked" "^3 blobs \([0-9]+ bytes\), 2 names: 0 problems, 0 leftovers, 0 removed\$"
: >"$S/tmp/blob-1-dead"
check "a dead writer's temporary file is no failure" "$KILN" store verify
stdout_has "but it is listed as a leftover" "^leftover: tmp/blob-1-dead: a temporary file of an interrupted write"
check "the leftover is kept without --repair" test -e "$S/tmp/blob-1-dead"

chmod u+w "$(blob "$L")"
flip_byte "$(blob "$L")" 10
expect_out "a corrupt layer fails verify" 1 "^corrupt: $L: its [0-9]+ bytes hash to sha256:" "$KILN" store verify
stdout_has "each name that needs it is named" "^ref: docker.io/library/other:1: its manifest $M is incomplete"
stdout_has "both names" "^ref: docker.io/library/test:v1: its manifest $M is incomplete"
check "without --repair nothing is removed" test -e "$(blob "$L")"
check "store verify --json" bash -c "'$KILN' store verify --json >'$out/v.json'; test \$? -eq 1"
check "--json lists each problem with its kind and subject" python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
kinds = sorted((p["kind"], p["subject"]) for p in v["problems"])
assert kinds == [("corrupt", sys.argv[2]), ("leftover", "tmp/blob-1-dead"),
	("ref", "docker.io/library/other:1"), ("ref", "docker.io/library/test:v1")], kinds
assert v["faults"] == 3 and v["leftovers"] == 1 and v["repaired"] == 0, v
' "$out/v.json" "$L"
expect_out "store verify --repair exits 1: something was wrong" 1 "^corrupt: $L: .* \[removed\]\$" \
	"$KILN" store verify --repair
stdout_has "--repair removes the names of the incomplete image" "^ref: docker.io/library/test:v1: .* \[removed\]\$"
stdout_has "--repair removes the leftover" "^leftover: tmp/blob-1-dead: .* \[removed\]\$"
check "the corrupt blob is gone" test ! -e "$(blob "$L")"
check "the leftover is gone" test ! -e "$S/tmp/blob-1-dead"
check "after --repair the store verifies" "$KILN" store verify
stdout_has "with no names left" "2 blobs .*, 0 names: 0 problems"
check "gc then removes what only those names reached" "$KILN" store gc

skopeo copy "oci:$u:v1" "oci:$S:docker.io/library/test:v1" >/dev/null 2>&1
"$KILN" tag test:v1 other:1 >/dev/null
check "the image copied in again verifies" "$KILN" store verify
rm -f "$(blob "$L")"
expect_out "a deleted layer is found" 1 "^missing: $L: not in the store, named by manifest $M\$" \
	"$KILN" store verify --repair
stdout_has "and its names removed" "^ref: docker.io/library/other:1: .* \[removed\]\$"
check "after --repair the store verifies" "$KILN" store verify

skopeo copy "oci:$u:v1" "oci:$S:docker.io/library/test:v1" >/dev/null 2>&1
"$KILN" tag test:v1 "kiln.local/stage/left:$(printf '%064d' 0)" >/dev/null
rm -f "$(blob "$M")"
expect_out "a name whose manifest is gone is found" 1 "^missing: $M: not in the store, named by ref docker.io/library/test:v1\$" \
	"$KILN" store verify
stdout_has "a stage cache entry to a missing output is found too" \
	"^missing: $M: not in the store, named by ref kiln.local/stage/left:0{64}\$"
check "--repair removes both" bash -c "'$KILN' store verify --repair >/dev/null; test \$? -eq 1"
check "after --repair the store verifies" "$KILN" store verify
check "and the store has no names" test -z "$("$KILN" store ls)"

skopeo copy "oci:$u:v1" "oci:$S:docker.io/library/test:v1" >/dev/null 2>&1
python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
v["manifests"][0]["size"] += 1
json.dump(v, open(sys.argv[1], "w"))' "$S/index.json"
expect_out "a name whose descriptor has the wrong size is found" 1 \
	"^size: $M: [0-9]+ bytes, but ref docker.io/library/test:v1 says [0-9]+\$" "$KILN" store verify
echo junk >"$S/blobs/sha256/not-a-digest"
expect_out "a file that is not a blob is found" 1 "^stray: blobs/sha256/not-a-digest: not named by a sha256 digest" \
	"$KILN" store verify
# this shell holds the store open as every kiln process does (gc.lock shared)
exec 9>>"$S/gc.lock"
flock -s 9
check "store verify runs beside another kiln process" bash -c "'$KILN' store verify >/dev/null; test \$? -eq 1"
expect_fail "store verify --repair does not: that one may be between its blobs and its ref" 1 \
	"is in use by another kiln process .*; run verify --repair when it has finished" "$KILN" store verify --repair
exec 9>&-
expect_fail "store verify with an operand is a usage error" 2 "unexpected argument 'x'" "$KILN" store verify x
expect_fail "store verify with an unknown option is a usage error" 2 "" "$KILN" store verify --frob
rm -rf "$S"

"$KILN" store >/dev/null 2>&1
check "store without a subcommand is a usage error" test $? -eq 2
expect_fail "store with an unknown subcommand" 2 "unknown subcommand 'frob'" "$KILN" store frob
check "store --help" "$KILN" store --help
stdout_has "store --help names KILN_CACHE_DIR" "KILN_CACHE_DIR"
for c in "store ls" "store gc" "store rm" "store verify" "store path" tag inspect; do
	# shellcheck disable=SC2086
	check "$c --help" "$KILN" $c --help
done

done_testing
