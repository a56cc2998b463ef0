#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Bad input never crashes and never hangs: each case gives one clear error
# that names the file (and line:col where there is one), and exit status 1.
. "$(dirname "$0")/tap.sh"

t=$out/tree
# A fresh tree holding only a Pkgfile; callers add files to it.
new_tree() {
	rm -rf "$t"
	mkdir -p "$t"
	printf 'format: v1alpha2\n' >"$t/Pkgfile"
}

pkg() { # pkg DIR NAME [DEPS...]
	mkdir -p "$t/$1"
	{
		printf 'name: %s\nvariant: scratch\n' "$2"
		shift 2
		if [ $# -gt 0 ]; then
			echo "dependencies:"
			for d in "$@"; do echo "  - stage: $d"; done
		fi
		printf 'finalize:\n  - from: /\n    to: /\n'
	} >"$t/$1/pkg.yaml"
}

# Every case runs under a timeout: a hang is a failure too.
kiln() { timeout 60 "$KILN" "$@"; }

new_tree
pkg a a
printf 'name: [unclosed\n' >"$t/a/pkg.yaml"
expect_fail "malformed YAML names file:line:col" 1 "a/pkg.yaml:[0-9]+:[0-9]+: " kiln -C "$t" validate

new_tree
pkg a a
printf 'name: a\nvariant: scratch\n# {{ if eq .ARCH "x86_64"' >"$t/a/pkg.yaml"
expect_fail "a template that never closes" 1 "a/pkg.yaml:3:[0-9]+: .*unclosed action" kiln -C "$t" validate

new_tree
pkg a a
printf 'name: a\nvariant: scratch\nsteps:\n  - build:\n      - "{{ .X | frob }}"\n' >"$t/a/pkg.yaml"
expect_fail "an unknown function" 1 "a/pkg.yaml:5:[0-9]+: .*frob" kiln -C "$t" validate

new_tree
pkg a a
head -c 104857600 /dev/zero | tr '\0' 'x' >"$t/a/pkg.yaml"
expect_fail "a 100 MB pkg.yaml is refused, not read" 1 "a/pkg.yaml' is larger than" kiln -C "$t" validate

new_tree
pkg a a
python3 -c 'print("name: a\nvariant: scratch\nx: " + "[" * 100000 + "]" * 100000)' >"$t/a/pkg.yaml"
expect_fail "deep nesting" 1 "a/pkg.yaml:3:[0-9]+: .*(deep|nest)" kiln -C "$t" validate

new_tree
pkg a a b
pkg b b c
pkg c c a
expect_fail "a cycle prints the cycle" 1 "circular dependency detected: a -> b -> c -> a" kiln -C "$t" graph -t a
expect_fail "validate finds the cycle too" 1 "circular dependency detected" kiln -C "$t" validate

new_tree
pkg a a
pkg sub/a a
expect_fail "a duplicate name names both files" 1 "package \"a\" is defined twice, in 'a/pkg.yaml' and in 'sub/a/pkg.yaml'" kiln -C "$t" validate

new_tree
pkg a a missing
expect_fail "a missing stage names who asked" 1 "a/pkg.yaml:[0-9]+:[0-9]+: package \"missing\" not defined, but \"a\" depends on it" kiln -C "$t" graph -t a

new_tree
pkg a a
printf 'format: v1alpha1\n' >"$t/Pkgfile"
expect_fail "an old Pkgfile format" 1 "Pkgfile:1:9: unsupported format \"v1alpha1\"" kiln -C "$t" validate

new_tree
pkg a a
printf 'FOO: "{{ .BAR "\n' >"$t/vars.yaml"
expect_fail "a broken vars.yaml" 1 "^kiln: vars.yaml:1:" kiln -C "$t" validate

new_tree
pkg a a
pkg b b
printf 'name: a\nvariant: scratch\nsteps:\n  - build: [make]\n' >"$t/a/pkg.yaml"
printf 'name: b\nvariant: debian\nfinalize: []\n' >"$t/b/pkg.yaml"
expect_fail "validate reports every broken package" 1 "2 errors in package tree" kiln -C "$t" validate
check "each with its own line" sh -c '"$KILN" -C "$0" validate 2>&1 | grep -c "pkg.yaml:" | grep -qx 2' "$t"

new_tree
pkg a a
printf 'name: a\nvariant: scratch\nfrobnicate: 1\nfinalize:\n  - from: /\n    to: /\n' >"$t/a/pkg.yaml"
check "an unknown key is a warning with file:line, not an error" sh -c \
	'"$KILN" -C "$0" validate 2>&1 >/dev/null | grep -q "^kiln: warning: a/pkg.yaml:3:1: unknown key \"frobnicate\""' "$t"

done_testing
