#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every extension manifest of siderolabs/extensions, rendered as bldr renders
# it (kiln eval, with the build arguments its Makefile passes), parses as
# Talos loads it, and its compatibility constraint is checked against three
# Talos versions. The corpus README counts 88 manifest.yaml.tmpl files.
. "$(dirname "$0")/tap.sh"

corpus=$(find_corpus) || { echo "1..0 # SKIP no corpus: set KILN_CORPUS"; exit 0; }
tree=$corpus/siderolabs-extensions
: "${KILN:?}" "${SRCDIR:?}" "${EXT_MANIFEST_CHECK:?}"

# The build arguments siderolabs/extensions' Makefile passes (no value holds a space).
build_args=$(sed 's/^/--build-arg /' "$SRCDIR/tests/data/corpus-build-args")

results=$out/results.tsv
: >"$results"

# render_and_check TEMPLATE PKGNAME: render the manifest as the package sees it, then parse it
render_and_check() {
	# shellcheck disable=SC2086
	"$KILN" -C "$tree" eval -t "$2" "$(cat "$1")" $build_args >"$out/manifest.yaml" &&
		"$EXT_MANIFEST_CHECK" "$out/manifest.yaml" >"$out/line" &&
		cat "$out/line" >>"$results"
}

find "$tree" -name manifest.yaml.tmpl | LC_ALL=C sort >"$out/templates"
while read -r tmpl; do
	dir=$(dirname "$tmpl")
	rel=${dir#"$tree"/}
	pkgname=$(sed -n 's/^name: *//p' "$dir/pkg.yaml" 2>/dev/null | head -n 1)
	if [ -z "$pkgname" ]; then
		not_ok "$rel: has a package name" "no name: in $dir/pkg.yaml"
		continue
	fi
	check "$rel ($pkgname): renders and parses" render_and_check "$tmpl" "$pkgname"
	got=$(cut -f 1 "$out/line" 2>/dev/null)
	if [ "$got" != "$pkgname" ]; then
		not_ok "$rel: metadata.name is the package's name" "want $pkgname, got '$got'"
	fi
done <"$out/templates"

count=$(wc -l <"$out/templates")
parsed=$(wc -l <"$results")
if [ "$count" -eq 88 ] && [ "$parsed" -eq 88 ]; then
	ok "88 manifests, as the corpus README counts, and all parse"
else
	not_ok "88 manifests, as the corpus README counts, and all parse" \
		"found $count templates, $parsed parsed"
fi

# How many pass each Talos version, as the distinct constraints predict:
# ">= v1.10.0" (4), ">= v1.11.0" (3), ">= v1.12.0" (1) and ">= v1.13.0" (1) refuse
# v1.9.0; only ">= v1.13.0" refuses v1.12.0; the corpus's own v1.15.0-alpha.0
# takes every one of them.
col=4
for v in v1.9.0:79 v1.12.0:87 v1.15.0-alpha.0:88; do
	talos=${v%%:*}
	want=${v#*:}
	got=$(cut -f "$col" "$results" | grep -c '^ok$')
	echo "# Talos $talos: $got of $parsed compatible"
	cut -f 1,3,"$col" "$results" | grep -v '	ok$' | sed 's/^/#   refused: /'
	if [ "$got" -eq "$want" ]; then
		ok "$want manifests are compatible with Talos $talos"
	else
		not_ok "$want manifests are compatible with Talos $talos" "got $got"
	fi
	col=$((col + 1))
done

echo "# distinct constraints (count, constraint):"
cut -f 3 "$results" | sort | uniq -c | sort -rn | sed 's/^/#   /'

# Every refusal is Talos's sentence, not a parse error.
cut -f 4- "$results" | tr '\t' '\n' | grep -v '^ok$' >"$out/refusals"
if grep -qv "can't be satisfied with Talos version" "$out/refusals"; then
	not_ok "every refusal is an unsatisfied constraint, none a parse error" \
		"$(sort -u "$out/refusals" | head -n 5)"
else
	ok "every refusal is an unsatisfied constraint, none a parse error"
fi

done_testing
