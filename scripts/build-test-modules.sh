#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Build the test modules of tests/modules/ against a kernel build tree and
# put the .ko files in OUTDIR. They are unsigned: Debian's headers carry no
# signing key, which is what the tests want to start from.
#
#   build-test-modules.sh OUTDIR [KDIR]
#
# KDIR defaults to Debian's linux-headers-amd64 tree (install-deps.sh
# installs it). Builds are done in a copy of the sources under OUTDIR, so the
# source tree stays clean.
set -eu

out=$1
kdir=${2:-}
if [ -z "$kdir" ]; then
	. "$(dirname "$0")/../tests/integration/lib-kernel.sh"
	# Debian's, always: the unit tests compare the modules with it
	kdir=$(KILN_HEADERS= && kernel_headers)
fi
if [ ! -f "$kdir/Module.symvers" ]; then
	echo "build-test-modules: no kernel build tree at '${kdir:-/usr/src/linux-headers-*-amd64}':" \
		"run scripts/install-deps.sh" >&2
	exit 1
fi
src=$(cd "$(dirname "$0")/../tests/modules" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/src"
cp -r "$src" "$out/src"

# build MODULE [MAKE ARGS...]
build() {
	m=$1
	shift
	make -s -C "$kdir" M="$out/src/$m" "$@" modules >"$out/src/$m/build.log" 2>&1 ||
		{ cat "$out/src/$m/build.log" >&2; exit 1; }
}

build kiln_plain
build kiln_fw
build kiln_provider
# the consumer resolves kiln_provider_value through the provider's Module.symvers
build kiln_consumer KBUILD_EXTRA_SYMBOLS="$out/src/kiln_provider/Module.symvers"

for m in kiln_plain kiln_fw kiln_provider kiln_consumer; do
	cp "$out/src/$m/$m.ko" "$out/$m.ko"
done
