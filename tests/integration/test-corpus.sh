#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every package of siderolabs/extensions loads, renders and dumps for both
# platforms with the build arguments its Makefile passes, with the counts
# ../shared/corpus/README.md gives.
. "$(dirname "$0")/tap.sh"

corpus=$(find_corpus) || { echo "1..0 # SKIP no corpus: set KILN_CORPUS"; exit 0; }
tree=$corpus/siderolabs-extensions

set -- \
	--build-arg PKGS_PREFIX=ghcr.io/siderolabs \
	--build-arg PKGS=v1.15.0-alpha.0-7-gb914c26 \
	--build-arg TOOLS_PREFIX=ghcr.io/siderolabs \
	--build-arg TOOLS=v1.15.0-alpha.0-2-gd102f15 \
	--build-arg TAG=v1.15.0-alpha.0 \
	--build-arg SOURCE_DATE_EPOCH=1755648000 \
	--build-arg TEST_STAGE= \
	--build-arg GNU_MIRROR_URL=https://mirrors.kernel.org

counts() {
	python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
d = json.load(open(sys.argv[2]))
stage = sum(1 for p in d for x in p["dependencies"] if "stage" in x)
image = sum(1 for p in d for x in p["dependencies"] if "image" in x)
steps = sum(len(p["steps"]) for p in d)
sources = sum(len(s["sources"]) for p in d for s in p["steps"])
instr = sum(len(s[k]) for p in d for s in p["steps"] for k in ("prepare", "build", "install", "test"))
print(f"{v[\"pkgYaml\"]} pkg.yaml, {v[\"varsYaml\"]} vars.yaml, {v[\"templates\"]} templates, "
      f"{len(d)} packages, {stage} stage edges, {image} image deps, {steps} steps, "
      f"{sources} sources, {instr} instructions, {v[\"warnings\"]} warnings")
' "$1" "$2"
}

for platform in linux/amd64 linux/arm64; do
	check "$platform: validate, zero errors and zero warnings" sh -c \
		'"$KILN" -C "$0" validate --json --platform "$1" "$@" >"$2/validate.json" &&
		 python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"ok\"] and d[\"warnings\"] == 0, d" "$2/validate.json"' \
		"$tree" "$platform" "$out" "$@"
	check "$platform: dump --json" sh -c '"$KILN" -C "$0" dump --json --platform "$1" "$@" >"$2/dump.json"' \
		"$tree" "$platform" "$out" "$@"
	check "$platform: graph renders with graphviz" sh -c \
		'"$KILN" -C "$0" graph --platform "$1" "$@" | dot -Tsvg >/dev/null' "$tree" "$platform" "$@"
	got=$(counts "$out/validate.json" "$out/dump.json")
	echo "# $platform: $got"
	if [ "$platform" = linux/amd64 ]; then
		want="116 pkg.yaml, 124 vars.yaml, 88 templates, 116 packages, 212 stage edges, 90 image deps, 189 steps, 61 sources"
		case "$got" in
		"$want"*) ok "$platform: counts match the corpus README" ;;
		*) not_ok "$platform: counts match the corpus README" "want: $want" "got:  $got" ;;
		esac
	fi
	check "$platform: nfs-utils resolves to 8 stages" sh -c \
		'[ "$("$KILN" -C "$0" dump -t nfs-utils --json --platform "$1" "$@" | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")" = 8 ]' \
		"$tree" "$platform" "$@"
done

# Every target resolves, as `kiln graph -t` or a build would need it.
check "every package resolves as a target" sh -c '
	"$KILN" -C "$0" dump "$@" | awk "{print \$1}" | while read -r name; do
		"$KILN" -C "$0" dump -t "$name" "$@" >/dev/null || { echo "cannot resolve $name" >&2; exit 1; }
	done' "$tree" "$@"

# The extension tags come from `bldr eval`, as the Makefile computes them.
check "eval of an extension's version tag" sh -c \
	'[ -n "$("$KILN" -C "$0" eval -t hailort "{{ .VERSION }}" "$@")" ]' "$tree" "$@"

done_testing
