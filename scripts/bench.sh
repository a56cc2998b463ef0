#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make bench: load, render and graph the whole siderolabs/extensions tree on
# one core. bench-tree times the library (median of 50 rounds); hyperfine
# times whole `kiln` processes. bldr, the peer tool, is a Go program that
# cannot be fetched here, so there is no side-by-side figure for it.
set -eu

build=$1
corpus=$2
if [ ! -d "$corpus" ]; then
	corpus=/work/shared/corpus/siderolabs-extensions
fi
kiln=$build/tools/kiln

# the build arguments siderolabs/extensions' Makefile passes (no value holds a space)
# shellcheck disable=SC2046
set -- $(sed 's/^/--build-arg /' "$(dirname "$0")/../tests/data/corpus-build-args")

taskset -c 0 "$build/bench/bench-tree" "$corpus" 50 "$@"

hyperfine --warmup 3 --runs 30 --style basic \
	"taskset -c 0 $kiln -C $corpus validate $*" \
	"sh -c 'taskset -c 0 $kiln -C $corpus graph $* >/dev/null'"
