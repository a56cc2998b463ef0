#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Three kiln "hosts", each a network namespace with a cache directory of its
# own that reaches the registry only over a veth pair of its own, build
# disjoint targets of tests/data/build-tree at the same time with
# --cache-to; then a fourth host builds them all with --cache-from, and
# every stage is a hit in the registry cache. The registry listens in the
# root namespace on a bridge the veths hang off, on no other address.
set -u
. "$(dirname "$0")/tap.sh"

: "${KILN:?}" "${SRCDIR:?}"
. "$SRCDIR/tests/integration/lib-registry.sh"
. "$SRCDIR/tests/integration/lib-build.sh"

registry_test_setup docker-registry python3 ip
build_engine_needs
[ "$(id -u)" -eq 0 ] || bail_out "network namespaces and veth pairs need root"
[ -f "${KILN_TEST_MODULES:-}/kiln_plain.ko" ] ||
	bail_out "no test modules in KILN_TEST_MODULES: run the test through meson"
unset SOURCE_DATE_EPOCH KILN_CACHE_FROM KILN_CACHE_TO

# names of this run's namespaces and links (interface names: 15 characters at most)
id=k$(($$ % 100000))
net=10.$((200 + $$ % 50)).$(($$ % 250)).
bridge=${id}br
hosts=(1 2 3 4)
cleanup_net() {
	for h in "${hosts[@]}"; do
		ip netns del "$id-$h" 2>/dev/null
		ip link del "${id}h$h" 2>/dev/null
	done
	ip link del "$bridge" 2>/dev/null
	registry_test_cleanup
}
trap cleanup_net EXIT

ip link add "$bridge" type bridge &&
	ip addr add "${net}1/24" dev "$bridge" &&
	ip link set "$bridge" up || bail_out "cannot make bridge $bridge"
for h in "${hosts[@]}"; do
	ip netns add "$id-$h" &&
		ip link add "${id}h$h" type veth peer name eth0 netns "$id-$h" &&
		ip link set "${id}h$h" master "$bridge" up &&
		ip -n "$id-$h" addr add "${net}$((10 + h))/24" dev eth0 &&
		ip -n "$id-$h" link set eth0 up &&
		ip -n "$id-$h" link set lo up || bail_out "cannot make host $h's namespace"
done

port=$(free_port)
d=$tmp/reg
mkdir -p "$d/data"
cat >"$d/config.yml" <<EOC
version: 0.1
log: {level: info, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $d/data}}
http: {addr: ${net}1:$port}
EOC
docker-registry serve "$d/config.yml" >"$d/log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	[ "$(http_status "http://${net}1:$port/v2/")" = 200 ] && break
	sleep 0.1
done
repo=${net}1:$port/kiln/cache
check "the registry answers on the bridge" test "$(http_status "http://${net}1:$port/v2/")" = 200
check "host 1 reaches it over its veth" \
	ip netns exec "$id-1" python3 -c "import urllib.request as u; u.urlopen('http://${net}1:$port/v2/', timeout=5)"
check "its only route is its own link" \
	bash -c "[ \"\$(ip -n '$id-1' route)\" = '${net}0/24 dev eth0 proto kernel scope link src ${net}11 ' ]"

tree=$tmp/tree
cp -r "$SRCDIR/tests/data/build-tree" "$tree"
cp "$KILN_TEST_MODULES/kiln_plain.ko" "$tree/checks/kmod-listed/"
busybox_rootfs "$tmp/busybox"

# on HOST ARG...: kiln build in host HOST's namespace with its own cache
on() {
	local h=$1
	shift
	ip netns exec "$id-$h" env KILN_CACHE_DIR="$tmp/host-$h" \
		"$KILN" -C "$tree" build --progress plain --insecure "$@"
}
for h in "${hosts[@]}"; do
	KILN_CACHE_DIR=$tmp/host-$h "$KILN" import "$tmp/busybox" --tag kiln-test/busybox:1 \
		>/dev/null || bail_out "cannot import the base image for host $h"
done

# hosts 1, 2 and 3 at once: each builds its own targets (and base, which all need)
targets=("left kmod-listed" "right" "top")
for h in 1 2 3; do
	# shellcheck disable=SC2086
	on "$h" ${targets[h - 1]} --cache-to "$repo" >"$tmp/$h.out" 2>"$tmp/$h.err" &
	eval "job$h=\$!"
done
for h in 1 2 3; do
	eval "wait \$job$h"
	check "host $h built ${targets[h - 1]}" test $? = 0
	check "host $h: no warning" bash -c "! grep warning '$tmp/$h.err'"
done
check "host 1 built 3 stages" grep -q '3 stages: 3 built, 0 cached, 0 pulled' "$tmp/1.err"
check "host 3 built 4 stages" grep -q '4 stages: 4 built, 0 cached, 0 pulled' "$tmp/3.err"
"$SRCDIR/tests/integration/cache-registry.py" entries "${net}1:$port" kiln/cache >"$tmp/entries"
check "the registry holds base, left, right, top and kmod-listed, one entry each" \
	diff <(cut -d' ' -f1 "$tmp/entries" | sort) <(printf '%s\n' base kmod-listed left right top)

check "host 4 builds the whole of it from the registry cache" \
	on 4 top kmod-listed left right --cache-from "$repo" --json
cp "$out/stderr" "$tmp/4.err"
cp "$out/stdout" "$tmp/4.json"
check "every stage a hit, pulled: 5 stages: 0 built, 0 cached, 5 pulled" \
	grep -q '5 stages: 0 built, 0 cached, 5 pulled, 0 pushed' "$tmp/4.err"
check "a pulled line per stage" bash -c "[ \$(grep -c ': pulled from $repo in ' '$tmp/4.err') = 5 ]"
check "no warning" bash -c "! grep warning '$tmp/4.err'"
check "each target with the digest the host that built it printed" python3 -c '
import json, sys
got = {t["name"]: t["reference"] for t in json.load(open(sys.argv[1]))}
assert all(t["pulled"] for t in json.load(open(sys.argv[1])))
for f in sys.argv[2:]:
    for line in open(f):
        name = line.split(":")[0]
        assert got[name] == line.strip(), (got[name], line)' \
	"$tmp/4.json" "$tmp/1.out" "$tmp/2.out" "$tmp/3.out"
check "the requests came over the veths: host 4's address in the registry's log" \
	grep -q "${net}14" "$d/log"

done_testing
