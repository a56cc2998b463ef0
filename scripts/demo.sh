#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make demo: the first half of the seed's job, on one machine, through kiln
# alone:
#  1. a registry on 127.0.0.1:5005 (Debian's docker-registry; one that
#     already answers there is used as it is);
#  2. the build root, made from Debian's packages when the store lacks it
#     (examples/pkgs/tools/build-root.sh);
#  3. examples/pkgs: the kernel built once (kernel-prepare, kernel-build, with
#     its generated signing key), the kernel package, and the kiln-demo and
#     v4l2loopback modules built and signed against it; kernel, kiln-demo-pkg
#     and v4l2loopback-pkg pushed;
#  4. examples/extensions: the two system extensions, made from those images
#     pulled by PKGS_PREFIX/PKGS, and pushed;
#  5. both extensions validated deeply against kernel-build (Talos's rules,
#     and every module against the kernel: release, CRCs, signature);
#  6. the installer composed from installer-base and both extensions (kiln
#     image installer, every module checked against the base's kernel first),
#     and booted under QEMU (kiln boot-test): both modules load, with
#     signatures enforced, and their device nodes appear with udev's modes;
#  7. a summary: every image with its reference and digest, every module
#     with its verdict.
# The first build of each tree writes its report, which a browser opens:
# _out/report.html (pkgs: the stage graph, the timeline, the images, every
# module's verdict) and _out/report-extensions.html, with their traces
# _out/trace.json and _out/trace-extensions.json (Perfetto opens them).
# Everything goes under _out/ (the store is _out/cache); stage logs and
# images.json go to each tree's _out/. A second run is all cache hits.
#
# The environment can change where things go, as the integration test does:
# KILN_DEMO_OUT (_out), KILN_DEMO_REGISTRY (127.0.0.1:5005), KILN_DEMO_TAG
# (v0.1.0), KILN_CACHE_DIR ($KILN_DEMO_OUT/cache), KILN_DEMO_SECRET (a file
# given to kiln build as --secret id=module_signing_key: the user's own key).
set -euo pipefail

kiln=$(realpath "$1")
cd "$(dirname "$0")/.."
out=${KILN_DEMO_OUT:-$PWD/_out}
registry=${KILN_DEMO_REGISTRY:-127.0.0.1:5005}
tag=${KILN_DEMO_TAG:-v0.1.0}
mkdir -p "$out"
out=$(realpath "$out")
export KILN_CACHE_DIR=${KILN_CACHE_DIR:-$out/cache}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
start=$(date +%s)

secret=()
if [ -n "${KILN_DEMO_SECRET:-}" ]; then
	secret=(--secret "id=module_signing_key,src=$KILN_DEMO_SECRET")
fi

step() {
	printf '\n== %s\n' "$*"
}

# 1. the registry
step "registry at $registry"
if python3 -c "import urllib.request; urllib.request.urlopen('http://$registry/v2/', timeout=5)" 2>/dev/null; then
	echo "a registry answers at $registry: using it"
else
	mkdir -p "$out/registry"
	cat >"$out/registry/config.yml" <<CONF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $out/registry/data}, delete: {enabled: true}}
http: {addr: $registry}
CONF
	docker-registry serve "$out/registry/config.yml" >"$out/registry/log" 2>&1 &
	registry_pid=$!
	trap 'kill $registry_pid 2>/dev/null' EXIT
	for i in $(seq 100); do
		python3 -c "import urllib.request; urllib.request.urlopen('http://$registry/v2/', timeout=5)" \
			2>/dev/null && break
		if [ "$i" = 100 ] || ! kill -0 "$registry_pid" 2>/dev/null; then
			echo "demo: docker-registry did not start on $registry; its log:" >&2
			cat "$out/registry/log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "started docker-registry on $registry (storage: $out/registry/data)"
fi

# 2. the build root
tools=$("$kiln" -C examples/pkgs eval -t base '{{ .TOOLS_PREFIX }}:{{ .TOOLS_REV }}')
step "build root $tools"
if "$kiln" inspect "$tools" >/dev/null 2>&1; then
	echo "in the store"
else
	examples/pkgs/tools/build-root.sh "$kiln" "$tools"
fi

# kiln-init, the /init of installer-base, as the image the tree names
init_image=$("$kiln" -C examples/pkgs eval -t installer-base '{{ .KILN_INIT_IMAGE }}')
init_bin=$(dirname "$kiln")/../init/kiln-init
step "kiln import kiln-init --tag $init_image"
if [ ! -x "$init_bin" ]; then
	echo "demo: $init_bin is missing: build kiln first (make build)" >&2
	exit 1
fi
rm -rf "$out/kiln-init"
mkdir -p "$out/kiln-init"
cp "$init_bin" "$out/kiln-init/kiln-init"
"$kiln" import "$out/kiln-init" --tag "$init_image"

# 3. the pkgs tree, built; then the targets that ship are pushed (kernel-build
# stays here: it holds the generated key, and kiln refuses to push it)
push=(--push --registry "$registry" --username kiln)
step "kiln -C examples/pkgs build kernel-build kernel kiln-demo-pkg v4l2loopback-pkg installer-base --tag $tag"
"$kiln" -C examples/pkgs build --progress plain "${secret[@]}" --tag "$tag" \
	--report "$out/report.html" --trace "$out/trace.json" \
	kernel-build kernel kiln-demo-pkg v4l2loopback-pkg installer-base 2>&1 | tee "$out/build-pkgs.log"
# the timings of the last build that built the kernel, for make bench
if grep -q '] kernel-build: built' "$out/build-pkgs.log"; then
	cp "$out/build-pkgs.log" "$out/build-pkgs-kernel.log"
fi
step "kiln -C examples/pkgs build kernel kiln-demo-pkg v4l2loopback-pkg installer-base --tag $tag --push"
"$kiln" -C examples/pkgs build --progress plain "${secret[@]}" --tag "$tag" "${push[@]}" \
	kernel kiln-demo-pkg v4l2loopback-pkg installer-base

# 4. the extensions tree, from the pushed module packages
step "kiln -C examples/extensions build kiln-demo v4l2loopback --tag $tag --push"
"$kiln" -C examples/extensions build --progress plain --tag "$tag" "${push[@]}" \
	--report "$out/report-extensions.html" --trace "$out/trace-extensions.json" \
	--build-arg "PKGS_PREFIX=$registry/kiln" --build-arg "PKGS=$tag" kiln-demo v4l2loopback

# 5. the extensions against the kernel they are for
for ext in kiln-demo v4l2loopback; do
	step "kiln ext validate $registry/kiln/$ext:$tag --kernel-build kernel-build:$tag"
	"$kiln" ext validate "$registry/kiln/$ext:$tag" --kernel-build "kernel-build:$tag" \
		--talos-version v1.12.0
done
step "kiln ls -R $registry/kiln/kiln-demo:$tag /rootfs/usr/lib"
"$kiln" ls -R "$registry/kiln/kiln-demo:$tag" /rootfs/usr/lib

# 6. the installer, composed from installer-base and the two extensions as
# Talos's imager does (every module checked against the base's kernel first),
# and booted: both modules must load with signatures enforced
step "kiln image installer --base-installer-image $registry/kiln/installer-base:$tag ... -o _out"
"$kiln" image installer --base-installer-image "$registry/kiln/installer-base:$tag" \
	--system-extension-image "$registry/kiln/kiln-demo:$tag" \
	--system-extension-image "$registry/kiln/v4l2loopback:$tag" -o "$out"
step "kiln boot-test _out/installer-amd64.tar"
"$kiln" boot-test "$out/installer-amd64.tar" -o "$out" \
	--expect-module kiln_demo --expect-module v4l2loopback \
	--expect-dev /dev/kiln_demo:0666 --expect-dev /dev/video0

# 7. the summary
step "summary"
"$kiln" -C examples/pkgs build --progress quiet --json "${secret[@]}" --tag "$tag" \
	kernel-build kernel kiln-demo-pkg v4l2loopback-pkg installer-base >"$out/pkgs.json"
"$kiln" -C examples/extensions build --progress quiet --json --tag "$tag" \
	--build-arg "PKGS_PREFIX=$registry/kiln" --build-arg "PKGS=$tag" \
	kiln-demo v4l2loopback >"$out/extensions.json"
python3 scripts/demo-summary.py --validated kiln-demo --validated v4l2loopback "$out/pkgs.json" "$out/extensions.json" -- \
	examples/pkgs/_out/images.json examples/extensions/_out/images.json
echo
echo "demo: the build's report: $out/report.html (and report-extensions.html)"
echo "demo: done in $(($(date +%s) - start)) s"
