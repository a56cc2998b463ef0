# SPDX-License-Identifier: LGPL-2.1-or-later
# TAP helpers for the integration scripts; sourced, not run.
#
#   check NAME CMD...      ok if CMD succeeds
#   expect_fail NAME STATUS PATTERN CMD...
#                          ok if CMD exits with STATUS and its stderr matches PATTERN
#   expect_out NAME STATUS PATTERN CMD...
#                          the same for its stdout, with no sanitizer report
#   done_testing           print the plan and exit with the result
#   bail_out WHY           the script cannot run: a failure, not a skip
#   need TOOL...           bail out unless every TOOL is installed

n=0
failed=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	shift
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/# /'
	done
}

check() {
	local name=$1
	shift
	if "$@" >"$out/stdout" 2>"$out/stderr"; then
		ok "$name"
	else
		not_ok "$name" "exit $?: $*" "$(head -c 2000 "$out/stderr")"
	fi
}

expect_fail() {
	local name=$1 want=$2 pattern=$3 got
	shift 3
	"$@" >"$out/stdout" 2>"$out/stderr"
	got=$?
	if [ "$got" -ne "$want" ]; then
		not_ok "$name" "want exit $want, got $got: $*" "$(head -c 2000 "$out/stderr")"
	elif ! grep -qE -- "$pattern" "$out/stderr"; then
		not_ok "$name" "stderr does not match '$pattern':" "$(head -c 2000 "$out/stderr")"
	else
		ok "$name"
	fi
}

# expect_out NAME STATUS PATTERN CMD...: ok if CMD exits with STATUS, its stdout matches
# PATTERN (grep -E) and its stderr has no sanitizer report (ASan's exit status need not
# differ from the one expected)
expect_out() {
	local name=$1 want=$2 pattern=$3 got
	shift 3
	"$@" >"$out/stdout" 2>"$out/stderr"
	got=$?
	if grep -qE "Sanitizer|runtime error:" "$out/stderr"; then
		not_ok "$name" "sanitizer report: $*" "$(head -c 3000 "$out/stderr")"
	elif [ "$got" -ne "$want" ]; then
		not_ok "$name" "want exit $want, got $got: $*" "$(head -c 3000 "$out/stdout")" \
			"$(head -c 2000 "$out/stderr")"
	elif ! grep -qE -- "$pattern" "$out/stdout"; then
		not_ok "$name" "stdout does not match '$pattern':" "$(head -c 3000 "$out/stdout")"
	else
		ok "$name"
	fi
}

done_testing() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit $?
}

# The real-world package trees (../shared/corpus): next to the source tree,
# or where KILN_CORPUS says.
find_corpus() {
	for c in "${KILN_CORPUS:-}" "$SRCDIR/../shared/corpus" /work/shared/corpus; do
		if [ -n "$c" ] && [ -d "$c/siderolabs-extensions" ]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

# flip_byte FILE OFFSET: invert every bit of one byte in place, so the file
# is sure to change (writing a fixed byte is a no-op when it was there already)
flip_byte() {
	python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))' "$1" "$2"
}

# busybox_rootfs DIR: a root filesystem of a static busybox and its applets, the base
# image of tests/data/build-tree
busybox_rootfs() {
	mkdir -p "$1/bin" "$1/usr/bin" "$1/sbin" "$1/tmp" "$1/etc"
	cp /bin/busybox "$1/bin/busybox"
	for app in $(/bin/busybox --list); do
		[ -e "$1/bin/$app" ] || ln -s busybox "$1/bin/$app"
	done
}

# bail_out WHY...: what the script needs is missing. A failure, never a skip:
# scripts/install-deps.sh installs everything the tests need.
bail_out() {
	echo "Bail out! $*"
	exit 1
}

# need TOOL...: bail out unless every TOOL is in $PATH (or in sbin, where Debian keeps depmod)
need() {
	local tool
	for tool in "$@"; do
		PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null 2>&1 ||
			bail_out "no $tool: run scripts/install-deps.sh"
	done
}
