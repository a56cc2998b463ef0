#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every package of siderolabs/extensions loads, renders and dumps for both
# platforms with the build arguments its Makefile passes, with the counts
# ../shared/corpus/README.md gives.
. "$(dirname "$0")/tap.sh"

corpus=$(find_corpus) || { echo "1..0 # SKIP no corpus: set KILN_CORPUS"; exit 0; }
tree=$corpus/siderolabs-extensions
here=$(dirname "$0")

# The build arguments siderolabs/extensions' Makefile passes (no value holds a space).
build_args=$(sed 's/^/--build-arg /' "$SRCDIR/tests/data/corpus-build-args")

# kiln over the corpus, with those arguments
k() {
	# shellcheck disable=SC2086
	"$KILN" -C "$tree" "$@" $build_args
}

validate_clean() {
	k validate --json --platform "$1" >"$out/validate.json" &&
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] and d["warnings"] == 0, d' \
			"$out/validate.json"
}

# The target's stages as "N dependencies, then TARGET"
stages_of() {
	k dump -t "$1" --json --platform "$2" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d) - 1, "dependencies, then", d[-1]["name"])'
}

dump_json() {
	k dump --json --platform "$1" >"$out/dump.json"
}

graph_renders() {
	k graph --platform "$1" | dot -Tsvg >/dev/null
}

every_target_resolves() {
	k dump --platform "$1" | awk '{print $1}' >"$out/names" || return 1
	[ -s "$out/names" ] || return 1
	while read -r pkgname; do
		k graph -t "$pkgname" --platform "$1" >/dev/null || { echo "cannot resolve $pkgname" >&2; return 1; }
	done <"$out/names"
}

for platform in linux/amd64 linux/arm64; do
	check "$platform: validate, zero errors and zero warnings" validate_clean "$platform"
	check "$platform: dump --json" dump_json "$platform"
	got=$(python3 "$here/corpus-counts.py" "$out/validate.json" "$out/dump.json")
	echo "# $platform: $got"
	if [ "$platform" = linux/amd64 ]; then
		want="116 pkg.yaml, 124 vars.yaml, 88 templates, 116 packages, 212 stage edges, 90 image deps, 189 steps, 61 sources"
		case "$got" in
		"$want"*) ok "$platform: counts match the corpus README" ;;
		*) not_ok "$platform: counts match the corpus README" "want: $want" "got:  $got" ;;
		esac
	fi
	check "$platform: graph renders with graphviz" graph_renders "$platform"
	# the README's 8 stages are what nfs-utils needs; the target itself comes last
	got=$(stages_of nfs-utils "$platform")
	if [ "$got" = "8 dependencies, then nfs-utils" ]; then
		ok "$platform: nfs-utils needs 8 stages"
	else
		not_ok "$platform: nfs-utils needs 8 stages" "got: $got"
	fi
	check "$platform: every package resolves as a target" every_target_resolves "$platform"
done

tag=$(k eval -t hailort '{{ .VERSION }}')
case "$tag" in
"" | *"no value"*) not_ok "eval of an extension's version tag" "got '$tag'" ;;
*) ok "eval of an extension's version tag ($tag)" ;;
esac

done_testing
