#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Two at once, and no room: two `kiln build`s over one tree and one cache
# started together (each stage is made once: the second waits on the
# stage's lock and takes the first's output from the cache), two pushes of
# one image to one repository at once, and a cache on a tiny tmpfs that
# fills up in the middle of a pull, an import, a build's output and a
# build's step: one clear error
# naming the path and the lack of space, the store still sound, and the
# rerun after making room (mount -o remount,size=...) succeeds.
#
# The tmpfs is mounted in a mount namespace of this script's own (as root,
# as CI runs): it goes with the script, whatever happens.
set -u

if [ -z "${KILN_FAULTS_UNSHARED:-}" ]; then
	if ! unshare -m --propagation private true 2>/dev/null; then
		echo "Bail out! cannot make a mount namespace (unshare -m): run as root"
		exit 1
	fi
	exec env KILN_FAULTS_UNSHARED=1 unshare -m --propagation private "$0" "$@"
fi

. "$SRCDIR/tests/integration/tap.sh"
. "$SRCDIR/tests/integration/lib-registry.sh"
here=$SRCDIR/tests/integration

[ -x /bin/busybox ] || bail_out "no /bin/busybox (busybox-static): run scripts/install-deps.sh"
registry_test_setup docker-registry python3 unshare mount
unset SOURCE_DATE_EPOCH

# at_once CMD...: CMD twice at the same moment, their output in a.out, a.err, b.out and
# b.err, their exit statuses in $both
at_once() {
	local a b sa sb
	"$@" >a.out 2>a.err &
	a=$!
	"$@" >b.out 2>b.err &
	b=$!
	wait $a
	sa=$?
	wait $b
	sb=$?
	both="$sa $sb"
}

# both_succeeded: at_once's two commands succeeded; if not, the ends of their stderr
both_succeeded() {
	[ "$both" = "0 0" ] && return 0
	tail -n 8 a.err b.err >&2
	return 1
}

# ---- two builds at once ----

tree=$tmp/tree
cp -r "$SRCDIR/tests/data/build-tree" "$tree"
busybox_rootfs "$tmp/busybox"
check "import the busybox base image" "$KILN" import "$tmp/busybox" --tag kiln-test/busybox:1

kb() {
	"$KILN" -C "$tree" build --progress plain "$@"
}

# built OUT.ERR: how many stages the build whose stderr is OUT.ERR made
built() {
	sed -n 's/^kiln: [0-9]* stages: \([0-9]*\) built.*/\1/p' "$1"
}

check "a build alone" sh -c "'$KILN' -C '$tree' build --progress plain top >alone.out"
alone=$(cat alone.out)
# the last round writes a trace of each build: a stage that waited for the other build is
# a cache hit, with no step outside its span
kbt() {
	kb top --trace "$tmp/trace.$BASHPID.json"
}
for i in 1 2 3; do
	"$KILN" cache prune --all >/dev/null
	if [ $i = 3 ]; then at_once kbt; else at_once kb top; fi
	check "two builds at once ($i): both succeed" both_succeeded
	check "two builds at once ($i): both give the digest of the build alone" \
		test "$(cat a.out) $(cat b.out)" = "$alone $alone"
	check "two builds at once ($i): each of the 4 stages made once" \
		test "$(($(built a.err) + $(built b.err)))" = 4
	check "two builds at once ($i): the store is sound" store_is_sound
done
check "a build that waited said so" grep -q "waiting: another kiln build is making this stage" \
	a.err b.err
for f in "$tmp"/trace.*.json; do
	check "two builds at once: a trace in the trace event format, a span a stage" \
		python3 "$here/check-trace.py" "$f" --stage base --stage left --stage right --stage top
done
check "two builds at once: two traces" test "$(ls "$tmp"/trace.*.json | wc -l)" = 2

# ---- cachePaths: one overlay a build, one build at a time ----

cache_paths=$KILN_CACHE_DIR/cachepaths
token=$$$RANDOM
check "two stages of one build use one cachePaths directory at once, through one overlay" \
	kb --no-cache -j 2 --build-arg "TOKEN=$token" shared-a shared-b
check "and the directory holds what each wrote" \
	test -s "$cache_paths/_root_.cache_shared/$token-a" -a -s "$cache_paths/_root_.cache_shared/$token-b"
at_once kb --no-cache cache-counter
check "two builds that use one cachePaths directory at once: both succeed" both_succeeded
check "one waited for the other, and said so" \
	grep -q "waiting: another kiln build is using cachePaths /root/.cache/counter" a.err b.err
check "and neither lost the other's update of the counter" \
	test "$(cat "$cache_paths/_root_.cache_counter/n")" = 2

# ---- two pushes at once ----

port=$(free_port)
R=127.0.0.1:$port
start_registry plain "$port"
# chunked (20M), monolithic (3M) and small layers
python3 "$here/make-image.py" "$store" img:v1 100K 20M 3M >digest.img
for i in 1 2 3 4 5; do
	# no mounts from the repositories of the rounds before: both upload every blob
	rm -f "$store/kiln-registry-sources"
	at_once "$KILN" push -q img:v1 "$R/two/p$i:v1"
	check "two pushes at once ($i): both succeed" both_succeeded
	check "two pushes at once ($i): both pushed the store's digest" \
		test "$(cut -d@ -f2 a.out) $(cut -d@ -f2 b.out)" = "$(cat digest.img) $(cat digest.img)"
	rm -rf "$tmp/pulled" && mkdir -p "$tmp/pulled"
	check "two pushes at once ($i): the image pulls back whole" \
		sh -c "KILN_CACHE_DIR='$tmp/pulled' '$KILN' pull -q $R/two/p$i:v1 >pull.out"
	check "two pushes at once ($i): with the same digest" \
		test "$(cut -d@ -f2 pull.out)" = "$(cat digest.img)"
	check "two pushes at once ($i): the pulled store is sound" store_is_sound "$tmp/pulled/store"
done

# ---- no room ----

small=$tmp/small
mkdir -p "$small"
trap 'umount "$small" 2>/dev/null; registry_test_cleanup' EXIT
# small_cache SIZE: an empty cache on a fresh tmpfs of SIZE
small_cache() {
	umount "$small" 2>/dev/null
	mount -t tmpfs -o size="$1" kiln-test "$small"
}
room="No space left on device; make room there"

no_partial_blobs() {
	test -z "$(ls -A "$small/store/tmp" 2>/dev/null)"
}

# the image is 23 MiB: the 20M layer cannot fit in 12
check "a 12M tmpfs for the cache" small_cache 12M
expect_fail "no room mid-pull: one clear error naming the path" 1 "$small/store.*$room" \
	env KILN_CACHE_DIR="$small" "$KILN" pull -q "$R/two/p1:v1"
check "no room mid-pull: the store is sound" store_is_sound "$small/store"
check "no room mid-pull: no partial blob left" no_partial_blobs
check "no room mid-pull: nothing is tagged" sh -c "! grep -q two/p1 '$small/store/index.json'"
check "make room" mount -o remount,size=64M "$small"
check "no room mid-pull: the rerun succeeds" \
	sh -c "KILN_CACHE_DIR='$small' '$KILN' pull -q $R/two/p1:v1 >pull.out"
check "no room mid-pull: the rerun has the pushed digest" \
	test "$(cut -d@ -f2 pull.out)" = "$(cat digest.img)"
check "no room mid-pull: the store is sound after the rerun" store_is_sound "$small/store"

# a 6 MiB file does not compress: the import's layer cannot fit in 4
mkdir -p "$tmp/big/data"
head -c 6M /dev/urandom >"$tmp/big/data/noise"
check "a 4M tmpfs for the cache" small_cache 4M
expect_fail "no room mid-import: one clear error naming the path" 1 "$small/store.*$room" \
	env KILN_CACHE_DIR="$small" "$KILN" import "$tmp/big" --tag big:v1
check "no room mid-import: the store is sound" store_is_sound "$small/store"
check "no room mid-import: no partial blob left" no_partial_blobs
check "make room" mount -o remount,size=64M "$small"
check "no room mid-import: the rerun succeeds" \
	env KILN_CACHE_DIR="$small" "$KILN" import "$tmp/big" --tag big:v1
check "no room mid-import: the image holds the file" \
	sh -c "KILN_CACHE_DIR='$small' '$KILN' cat big:v1 /data/noise | cmp - '$tmp/big/data/noise'"
check "no room mid-import: the store is sound after the rerun" store_is_sound "$small/store"

# a stage that writes 8 MiB that does not compress, over a cache with room for the base image
# and the stage's files but not for its layer too
mkdir -p "$tree/noise"
cat >"$tree/noise/pkg.yaml" <<'EOF'
name: noise
variant: scratch
shell: /bin/sh
dependencies:
  - stage: base
steps:
  - build:
      - mkdir -p /rootfs/usr/share/noise
      - head -c 8388608 /dev/urandom > /rootfs/usr/share/noise/data
finalize:
  - from: /rootfs
    to: /
EOF
check "a 16M tmpfs for the cache" small_cache 16M
check "import the base image into it" \
	env KILN_CACHE_DIR="$small" "$KILN" import "$tmp/busybox" --tag kiln-test/busybox:1
expect_fail "no room mid-build: one clear error naming the path" 1 "$small.*$room" \
	env KILN_CACHE_DIR="$small" "$KILN" -C "$tree" build --progress plain noise
check "no room mid-build: the store is sound" store_is_sound "$small/store"
check "no room mid-build: no partial blob left" no_partial_blobs
check "make room" mount -o remount,size=64M "$small"
check "no room mid-build: the rerun succeeds" \
	env KILN_CACHE_DIR="$small" "$KILN" -C "$tree" build --progress plain noise
check "no room mid-build: the store is sound after the rerun" store_is_sound "$small/store"

# a step that fills the filesystem itself: its command fails, kiln says why
mkdir -p "$tree/flood"
sed 's/noise/flood/g; s/8388608/33554432/' "$tree/noise/pkg.yaml" >"$tree/flood/pkg.yaml"
check "a 16M tmpfs for the cache" small_cache 16M
check "import the base image into it" \
	env KILN_CACHE_DIR="$small" "$KILN" import "$tmp/busybox" --tag kiln-test/busybox:1
expect_fail "no room in a step: one clear error naming the path" 1 \
	"step 1 \(build\): the instruction exited with status 1, and the filesystem of $small/work/[^ ]* is full: $room" \
	env KILN_CACHE_DIR="$small" "$KILN" -C "$tree" build --progress plain flood
check "no room in a step: the store is sound" store_is_sound "$small/store"
check "make room" mount -o remount,size=128M "$small"
check "no room in a step: the rerun succeeds" \
	env KILN_CACHE_DIR="$small" "$KILN" -C "$tree" build --progress plain flood
umount "$small"

done_testing
