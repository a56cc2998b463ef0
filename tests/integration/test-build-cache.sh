#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Registry caches (kiln build --cache-from/--cache-to) against Debian's
# docker-registry on loopback, each "runner" a cache directory of its own:
# what one pushes another pulls, with the same digests and module verdicts;
# damaged entries and an unreachable registry are misses with a warning; a
# stage whose output holds a private key is never pushed; two runners
# pushing the same keys at once leave valid entries.
set -u
. "$(dirname "$0")/tap.sh"

: "${KILN:?}" "${SRCDIR:?}"
. "$SRCDIR/tests/integration/lib-registry.sh"
. "$SRCDIR/tests/integration/lib-build.sh"

registry_test_setup docker-registry python3 htpasswd
build_engine_needs
[ -f "${KILN_TEST_MODULES:-}/kiln_plain.ko" ] ||
	bail_out "no test modules in KILN_TEST_MODULES: run the test through meson"
unset SOURCE_DATE_EPOCH KILN_CACHE_FROM KILN_CACHE_TO
entries="$SRCDIR/tests/integration/cache-registry.py"

tree=$tmp/tree
cp -r "$SRCDIR/tests/data/build-tree" "$tree"
cp "$KILN_TEST_MODULES/kiln_plain.ko" "$tree/checks/kmod-listed/"
busybox_rootfs "$tmp/busybox"

port=$(free_port)
start_registry reg "$port" || bail_out "docker-registry did not start"
host=127.0.0.1:$port
repo=$host/kiln/cache

# runner NAME: its own cache directory, with the tree's base image
runner() {
	export KILN_CACHE_DIR=$tmp/runner-$1
	[ -d "$KILN_CACHE_DIR" ] || "$KILN" import "$tmp/busybox" --tag kiln-test/busybox:1 >/dev/null
}
kb() {
	"$KILN" -C "$tree" build --progress plain "$@"
}
# kbc NAME ARG...: check kiln build ARG..., its stderr kept in $tmp/last (a check's
# redirection would empty $out/stderr before the next check reads it)
kbc() {
	check "$1" kb "${@:2}"
	cp "$out/stderr" "$tmp/last"
	cp "$out/stdout" "$tmp/last.out"
}

# ---- one runner pushes, an empty one pulls ----

runner a
kbc "runner a builds top and kmod-listed with no cache" top kmod-listed
cp "$out/stdout" "$tmp/a.out"
check "it pushed nothing: no registry cache was named" \
	grep -q '5 stages: 5 built, 0 cached (' "$tmp/last"
kbc "with --cache-to, its local hits are pushed" top kmod-listed --cache-to "$repo"
check "all 5 (pushed where the key is missing)" \
	grep -q '5 stages: 0 built, 5 cached, 0 pulled, 5 pushed' "$tmp/last"
kbc "again: nothing to push, every key is there" top kmod-listed --cache-to "$repo"
check "0 pushed" grep -q '5 cached, 0 pulled, 0 pushed' "$tmp/last"
"$entries" entries "$host" kiln/cache >"$tmp/entries"
check "the registry holds one entry per stage, tagged kiln-<64 hex of the key>" \
	bash -c "[ \$(grep -cE '^(base|left|right|top|kmod-listed) kiln-[0-9a-f]{64}\$' '$tmp/entries') = 5 ]"
check "each tag is a stage cache key of runner a" bash -c "
	for t in \$(cut -d' ' -f2 '$tmp/entries'); do
		'$KILN' store ls | grep -q \"kiln.local/stage/[a-z-]*:\${t#kiln-} \" || exit 1
	done"

runner b
check "runner b (empty) pulls every stage from KILN_CACHE_FROM" \
	env KILN_CACHE_FROM="  $host/kiln/nothing-here	$repo " "$KILN" -C "$tree" build \
	--progress plain --json top kmod-listed
cp "$out/stderr" "$tmp/b.err"
cp "$out/stdout" "$tmp/b.json"
check "5 stages: 0 built, 0 cached, 5 pulled" \
	grep -q '5 stages: 0 built, 0 cached, 5 pulled, 0 pushed' "$tmp/b.err"
check "an empty repository first in the list is a miss, not a warning" \
	bash -c "! grep -q 'warning' '$tmp/b.err'"
check "each pull is a line naming the repository, the time, the bytes and the digest" \
	grep -qE "^\[ *[0-9.]+s\] top: pulled from $repo in [0-9.]+s \([0-9.]+ MB\), sha256:[0-9a-f]{64}\$" \
	"$tmp/b.err"
check "--json says pulled (and cached) per target" python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
assert [x["pulled"] and x["cached"] for x in t] == [True, True], t' "$tmp/b.json"
check "the same digests as runner a built" diff "$tmp/a.out" <(python3 -c '
import json, sys
for t in json.load(open(sys.argv[1])): print(t["reference"])' "$tmp/b.json")
check "the module verdicts came with kmod-listed's entry" \
	grep -qE '^  kmod-listed  usr/lib/modules/6.1.0-99-other/extras/kiln_plain.ko  unsigned, vermagic .*, not checked' \
	"$tmp/b.err"
check "the pulled output is the built one" bash -c \
	"'$KILN' cat top:latest /usr/share/top/combined.txt | grep -q 'right hello from kiln'"
kbc "next time runner b finds all in its local cache" top kmod-listed --cache-from "$repo"
check "5 cached, 0 pulled" grep -q '5 stages: 0 built, 5 cached, 0 pulled' "$tmp/last"
check "and its module verdicts with them" grep -q '^  kmod-listed  .*kiln_plain.ko  unsigned' \
	"$tmp/last"
check "the entries' tags are no names in runner b's store" \
	bash -c "! '$KILN' store ls | grep -q '$repo'"

# ---- a private key is never pushed ----

runner a
kbc "with-key (its output holds a private key) builds with --cache-to" \
	with-key --cache-to "$repo"
check "one warning, naming the stage and the file" \
	bash -c "[ \$(grep -c 'warning' '$tmp/last') = 1 ] && grep -q \"warning: stage with-key: not pushed to the registry cache: its output holds a private key (src/certs/module.key: a PEM private key\" '$tmp/last'"
check "and nothing pushed (base was there)" grep -q '2 stages: 1 built, 1 cached, 0 pulled, 0 pushed' \
	"$tmp/last"
check "the registry has no entry for it" bash -c \
	"! '$entries' entries '$host' kiln/cache | grep -q '^with-key '"

# ---- damaged entries and registries: a miss and one warning each ----

tag_of() { grep "^$1 " "$tmp/entries" | cut -d' ' -f2; }
check "damage left's entry: its key annotation names another key" \
	"$entries" rekey "$host" kiln/cache "$(tag_of left)"
check "right's: its output's layer deleted from the repository" \
	"$entries" drop-layer "$host" kiln/cache "$(tag_of right)"
check "top's: the tag names a manifest, not an entry" \
	"$entries" not-index "$host" kiln/cache "$(tag_of top)"
check "kmod-listed's: a record of verdicts that does not validate" \
	"$entries" bad-record "$host" kiln/cache "$(tag_of kmod-listed)"
runner c
kbc "runner c (empty) builds past every damaged entry" \
	top kmod-listed --cache-from "$repo" --cache-to "$repo"
cp "$tmp/last" "$tmp/c.err"
cp "$out/stdout" "$tmp/c.out"
check "4 built, base pulled, the 4 damaged entries pushed again" \
	grep -q '5 stages: 4 built, 0 cached, 1 pulled, 4 pushed' "$tmp/c.err"
check "one warning per damaged entry" bash -c "[ \$(grep -c warning '$tmp/c.err') = 4 ]"
for w in "left: .* another stage or key" "right: .*blob sha256:" "top: .*not an index" \
	"kmod-listed: .*record of module verdicts"; do
	check "warning: stage ${w%%:*}" grep -qE "warning: stage $w" "$tmp/c.err"
done
check "the same digests as runner a built" diff "$tmp/a.out" "$tmp/c.out"
dead=$(free_port)
runner d
# --cache-from replaces the environment's list: the dead registry there is never asked
KILN_CACHE_FROM="127.0.0.1:$dead/kiln/cache" \
	kbc "after the repair, an empty runner pulls all 5" top kmod-listed --cache-from "$repo"
check "5 pulled, no warning" bash -c \
	"grep -q '5 stages: 0 built, 0 cached, 5 pulled' '$tmp/last' && ! grep -q warning '$tmp/last'"

runner e
kbc "an unreachable registry: the build goes on" \
	top --cache-from "127.0.0.1:$dead/kiln/cache" --cache-to "127.0.0.1:$dead/kiln/cache"
check "with one warning for it, all built" bash -c "[ \$(grep -c warning '$tmp/last') = 1 ] &&
	grep -q 'warning: registry cache 127.0.0.1:$dead/kiln/cache cannot be used' '$tmp/last' &&
	grep -q '4 stages: 4 built, 0 cached, 0 pulled, 0 pushed' '$tmp/last'"
expect_fail "a cache named with a tag is refused" 1 \
	'registry cache "127.0.0.1:1/x:v1": give a repository \(host/path\), without tag or digest' \
	kb top --cache-from 127.0.0.1:1/x:v1

# ---- a registry that wants a login: --authfile applies ----

htpasswd -Bbn kiln s3cret >"$tmp/htpasswd"
aport=$(free_port)
start_registry basic "$aport" "auth: {htpasswd: {realm: kiln-test, path: $tmp/htpasswd}}" ||
	bail_out "docker-registry with htpasswd did not start"
arepo=127.0.0.1:$aport/kiln/cache
auth_file "127.0.0.1:$aport" kiln:s3cret "$tmp/auth.json"
runner a
kbc "--cache-to a registry that wants a login, with --authfile" \
	top --cache-to "$arepo" --authfile "$tmp/auth.json"
check "4 pushed" grep -q '4 cached, 0 pulled, 4 pushed' "$tmp/last"
runner i
kbc "--cache-from it without credentials: the build goes on" top --cache-from "$arepo"
check "with one warning, which says a login is needed, and all built" bash -c \
	"[ \$(grep -c warning '$tmp/last') = 1 ] &&
	grep -q 'warning: registry cache $arepo cannot be used: .*login' '$tmp/last' &&
	grep -q '4 stages: 4 built' '$tmp/last'"
runner j
kbc "--cache-from it with --authfile" top --cache-from "$arepo" --authfile "$tmp/auth.json"
check "4 pulled" grep -q '4 stages: 0 built, 0 cached, 4 pulled' "$tmp/last"
check "no password in kiln's output or the registry's log" \
	bash -c "! grep -q s3cret '$tmp/last' '$tmp/basic/log'"

# ---- two runners push the same keys at once ----

runner f
kb top >/dev/null 2>&1
runner g
kb top >/dev/null 2>&1
repo2=$host/kiln/race
# both have every stage (built alike) and finish them at once: each finds every key missing
export KILN_CACHE_DIR=$tmp/runner-f
kb top --cache-to "$repo2" >"$tmp/f.out" 2>"$tmp/f.err" &
f=$!
export KILN_CACHE_DIR=$tmp/runner-g
KILN_CACHE_TO=$repo2 kb top >"$tmp/g.out" 2>"$tmp/g.err" &
g=$!
wait $f
fs=$?
wait $g
gs=$?
check "both runners succeed" test "$fs$gs" = 00
check "without a warning" bash -c "! grep -q warning '$tmp/f.err' '$tmp/g.err'"
check "runner g's cache came from KILN_CACHE_TO" grep -q ', 0 pulled, [0-9] pushed' "$tmp/g.err"
# how many times the tags were written: 8 when the two runners raced on all 4
echo "# tag writes to kiln/race: $(grep -cE '"PUT /v2/kiln/race/manifests/kiln-' "$tmp/reg/log")"
check "one entry per stage" bash -c \
	"[ \$('$entries' entries '$host' kiln/race | wc -l) = 4 ]"
runner h
kbc "an empty runner pulls all 4 from them" top --cache-from "$repo2"
check "4 pulled, no warning" bash -c \
	"grep -q '4 stages: 0 built, 0 cached, 4 pulled' '$tmp/last' && ! grep -q warning '$tmp/last'"
check "the digest both built" bash -c "diff '$tmp/last.out' '$tmp/f.out' && diff '$tmp/last.out' '$tmp/g.out'"

done_testing
