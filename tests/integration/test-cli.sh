#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The command-line conventions, on the project's own example trees.
. "$(dirname "$0")/tap.sh"

pkgs=$SRCDIR/examples/pkgs
exts=$SRCDIR/examples/extensions

check "--version prints the version" sh -c '"$KILN" --version | grep -qE "^kiln [0-9]+\.[0-9]+\.[0-9]+$"'
check "help lists every command" sh -c '"$KILN" help | grep -q validate && "$KILN" help | grep -q graph && "$KILN" help | grep -q dump && "$KILN" help | grep -q eval'
for cmd in validate graph dump eval; do
	check "$cmd --help exits 0 and shows usage" sh -c "\"\$KILN\" $cmd --help | grep -q '^Usage: kiln $cmd'"
	check "help $cmd is $cmd --help" sh -c "[ \"\$(\"\$KILN\" help $cmd)\" = \"\$(\"\$KILN\" $cmd --help)\" ]"
done
expect_fail "unknown command is a usage error" 2 "^kiln: unknown command 'frobnicate'" "$KILN" frobnicate
expect_fail "unknown option is a usage error" 2 "^kiln: " "$KILN" graph --no-such-option
expect_fail "bad --platform is a usage error" 2 "unknown platform 's390x'" "$KILN" -C "$pkgs" graph --platform s390x
expect_fail "bad --build-arg is a usage error" 2 "expected KEY=VALUE" "$KILN" -C "$pkgs" graph --build-arg NOVALUE
expect_fail "eval needs one target" 2 "exactly one target" "$KILN" -C "$pkgs" eval '{{ .ARCH }}'
expect_fail "--checksums says why it is missing" 2 "source fetcher" "$KILN" -C "$pkgs" validate --checksums
expect_fail "a missing tree fails with the path" 1 "^kiln: validate: cannot open package tree '/nonexistent': No such file or directory" "$KILN" -C /nonexistent validate

check "examples/pkgs validates" "$KILN" -C "$pkgs" validate
check "examples/extensions validates" "$KILN" -C "$exts" validate
check "examples validate for arm64" "$KILN" -C "$pkgs" validate --platform linux/arm64
check "validate --json reports ok" sh -c '"$KILN" -C "$1" validate --json | python3 -c "import json,sys; d=json.load(sys.stdin); assert d[\"ok\"] and d[\"packages\"] == 7, d"' - "$pkgs"
check "global -C and command -C agree" sh -c '[ "$("$KILN" -C "$1" dump)" = "$("$KILN" dump -C "$1")" ]' - "$pkgs"

check "graph renders with graphviz" sh -c '"$KILN" -C "$1" graph | dot -Tsvg >/dev/null' - "$pkgs"
check "graph draws images as yellow boxes" sh -c '"$KILN" -C "$1" graph | grep -q "\"localhost/kiln/tools:bookworm\" \[shape=box, style=filled, fillcolor=lemonchiffon\]"' - "$pkgs"
check "graph -t keeps only what the target needs" sh -c '[ "$("$KILN" -C "$1" graph -t kernel-build --format json | python3 -c "import json,sys; print(\" \".join(sorted(n[\"name\"] for n in json.load(sys.stdin)[\"nodes\"] if n[\"kind\"] == \"stage\")))")" = "base kernel-build kernel-prepare" ]' - "$pkgs"
check "dump -t lists dependencies first" sh -c '[ "$("$KILN" -C "$1" dump -t kernel --json | python3 -c "import json,sys; print(\" \".join(p[\"name\"] for p in json.load(sys.stdin)))")" = "base kernel-prepare kernel-build kernel" ]' - "$pkgs"
check "dump --json has the documented shape" sh -c '"$KILN" -C "$1" dump --json | python3 -c "
import json, sys
for p in json.load(sys.stdin):
    for k in (\"name\", \"variant\", \"shell\", \"dir\", \"dependencies\", \"steps\", \"finalize\"):
        assert k in p, (p[\"name\"], k)
    for d in p[\"dependencies\"]:
        assert (\"stage\" in d) != (\"image\" in d)
        for k in (\"from\", \"to\", \"platform\", \"runtime\"):
            assert k in d
    for s in p[\"steps\"]:
        for k in (\"sources\", \"env\", \"cachePaths\", \"prepare\", \"build\", \"install\", \"test\", \"network\"):
            assert k in s
"' - "$pkgs"
check "eval renders with the target's variables" sh -c '[ "$("$KILN" -C "$1" eval -t kiln-demo --build-arg PKGS=v0.1.0 "{{ .VERSION }} {{ .TIER }} {{ .ARCH }}" --platform linux/arm64)" = "0.1.0-v0.1.0 extra aarch64" ]' - "$exts"
check "build args reach templates" sh -c '[ "$("$KILN" -C "$1" eval -t kiln-demo --build-arg TAG=v9 "{{ .BUILD_ARG_TAG }}")" = "v9" ]' - "$exts"
check "the arch-dependent env renders per platform" sh -c '"$KILN" -C "$1" dump -t kiln-demo-pkg --json --platform linux/arm64 | grep -q "\"ARCH\": \"arm64\""' - "$pkgs"

done_testing
