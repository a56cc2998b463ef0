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

set -- \
	--build-arg PKGS_PREFIX=ghcr.io/siderolabs \
	--build-arg PKGS=v1.15.0-alpha.0-7-gb914c26 \
	--build-arg TOOLS_PREFIX=ghcr.io/siderolabs \
	--build-arg TOOLS=v1.15.0-alpha.0-2-gd102f15 \
	--build-arg TAG=v1.15.0-alpha.0 \
	--build-arg SOURCE_DATE_EPOCH=1755648000 \
	--build-arg TEST_STAGE= \
	--build-arg GNU_MIRROR_URL=https://mirrors.kernel.org

taskset -c 0 "$build/bench/bench-tree" "$corpus" 50 "$@"

hyperfine --warmup 3 --runs 30 --style basic \
	"taskset -c 0 $kiln -C $corpus validate $*" \
	"sh -c 'taskset -c 0 $kiln -C $corpus graph $* >/dev/null'"
