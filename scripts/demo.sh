#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The main job, as far as kiln goes today, following the seed's flow:
#  1. load, check and graph the example package trees (a pkgs tree with a
#     kernel and the kiln-demo module, an extensions tree with its extension);
#  2. build the kiln-demo module against this machine's kernel headers (the
#     stand-in for kernel-build until 'kiln build' exists), sign it with a
#     throw-away key, and answer "will it load?" before anything ships;
#  3. lay out the system extension (manifest.yaml rendered from the tree,
#     rootfs/ with the module and its firmware), make it an image, look
#     inside it, export it, and push it to a registry on loopback;
#  4. kiln build examples/hello (its base a busybox image imported from a
#     directory) into an extension-shaped image, push it, export it, and
#     build it again from the cache.
# Everything goes to _out/; the image store is _out/cache/store.
set -eu

kiln=$(realpath "$1")
cd "$(dirname "$0")/.."
out=$PWD/_out
mkdir -p "$out"
export KILN_CACHE_DIR="$out/cache"
export SOURCE_DATE_EPOCH=0
# the pushes of this run only: earlier runs pushed to registries that are gone
rm -f "$out/images.json"

step() {
	printf '\n== %s\n' "$*"
}

# 1. the package trees
for tree in pkgs extensions; do
	step "kiln -C examples/$tree validate"
	"$kiln" -C "examples/$tree" validate
	"$kiln" -C "examples/$tree" graph >"$out/graph-$tree.dot"
done
step "kiln -C examples/pkgs dump -t kiln-demo-pkg"
"$kiln" -C examples/pkgs dump -t kiln-demo-pkg

# one picture of both trees, each in its own box
{
	echo "digraph kiln {"
	for tree in pkgs extensions; do
		echo "subgraph cluster_$tree { label=\"examples/$tree\";"
		sed '1d;$d' "$out/graph-$tree.dot"
		echo "}"
	done
	echo "}"
} >"$out/graph.dot"
dot -Tsvg -o "$out/graph.svg" "$out/graph.dot"
echo "wrote _out/graph.svg"

# 2. the module: built, signed, checked
kdir=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
if [ -z "$kdir" ]; then
	echo "demo: no kernel headers in /usr/src: run scripts/install-deps.sh" >&2
	exit 1
fi
demo=$out/demo
rm -rf "$demo"
mkdir -p "$demo/keys"
cp -r examples/pkgs/kiln-demo/src "$demo/module"
step "make -C $kdir M=_out/demo/module modules"
make -s -C "$kdir" M="$demo/module" modules >"$demo/module/build.log" 2>&1 ||
	{ cat "$demo/module/build.log" >&2; exit 1; }
ko=$demo/module/kiln_demo.ko

# a throw-away key like the one kernel-build makes (private: stays in _out/demo/keys)
openssl req -new -nodes -utf8 -sha512 -days 36500 -batch -x509 \
	-config examples/pkgs/kernel/build/certs/x509.genkey \
	-outform PEM -out "$demo/keys/signing_key.pem" -keyout "$demo/keys/signing_key.pem" 2>/dev/null
openssl x509 -in "$demo/keys/signing_key.pem" -outform DER -out "$demo/keys/signing_key.x509"

step "kiln module sign --key ... --cert ... kiln_demo.ko"
"$kiln" module sign --key "$demo/keys/signing_key.pem" --cert "$demo/keys/signing_key.x509" "$ko"
step "kiln module verify --cert ... kiln_demo.ko"
"$kiln" module verify --cert "$demo/keys/signing_key.x509" "$ko"
step "kiln module info kiln_demo.ko"
"$kiln" module info "$ko"

release=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$kdir/include/generated/utsrelease.h")
ext=$demo/extension
mkdir -p "$ext/rootfs/usr/lib/modules/$release/extras" "$ext/rootfs/usr/lib/firmware/kiln" \
	"$ext/rootfs/usr/lib/udev/rules.d"
cp "$ko" "$ext/rootfs/usr/lib/modules/$release/extras/"
printf 'kiln demo firmware\n' >"$ext/rootfs/usr/lib/firmware/kiln/demo.bin"
cp examples/pkgs/kiln-demo/files/51-kiln-demo.rules "$ext/rootfs/usr/lib/udev/rules.d/"

step "kiln module check --kernel-build $kdir --cert ... --firmware-root extension/rootfs --sig-enforce"
"$kiln" module check --kernel-build "$kdir" --cert "$demo/keys/signing_key.x509" \
	--firmware-root "$ext/rootfs" --sig-enforce "$ko"

# 3. the extension image: manifest.yaml rendered from the extensions tree
"$kiln" -C examples/extensions eval -t kiln-demo \
	"$(cat examples/extensions/drivers/kiln-demo/manifest.yaml.tmpl)" >"$ext/manifest.yaml"
version=$("$kiln" -C examples/extensions eval -t kiln-demo '{{ .VERSION }}')
ref=localhost/kiln/kiln-demo:$version
step "kiln import _out/demo/extension --tag $ref"
"$kiln" import "$ext" --tag "$ref"
step "kiln ext validate $ref --kernel-build $kdir --cert ... --talos-version v1.12.0"
"$kiln" ext validate "$ref" --kernel-build "$kdir" --cert "$demo/keys/signing_key.x509" \
	--talos-version v1.12.0
step "kiln ls -R $ref"
"$kiln" ls -R "$ref"
step "kiln cat $ref /manifest.yaml"
"$kiln" cat "$ref" /manifest.yaml
step "kiln export $ref -o _out/kiln-demo.tar"
"$kiln" export "$ref" -o "$out/kiln-demo.tar"

# a registry on loopback, as the seed runs one on 127.0.0.1:5005
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$demo/registry"
cat >"$demo/registry/config.yml" <<CONF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $demo/registry/data}}
http: {addr: 127.0.0.1:$port}
CONF
docker-registry serve "$demo/registry/config.yml" >"$demo/registry/log" 2>&1 &
registry=$!
trap 'kill $registry 2>/dev/null' EXIT
i=0
until python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v2/')" 2>/dev/null; do
	i=$((i + 1))
	[ "$i" -lt 50 ] || { echo "demo: the registry did not start" >&2; exit 1; }
	sleep 0.1
done
step "kiln push $ref 127.0.0.1:$port/kiln/kiln-demo:$version"
"$kiln" push "$ref" "127.0.0.1:$port/kiln/kiln-demo:$version"
# 4. kiln build: examples/hello, over a busybox image made from a directory
bb=$demo/busybox-root
rm -rf "$bb"
mkdir -p "$bb/bin"
cp /bin/busybox "$bb/bin/"
for app in $(/bin/busybox --list); do
	[ -e "$bb/bin/$app" ] || ln -s busybox "$bb/bin/$app"
done
step "kiln import _out/demo/busybox-root --tag localhost/kiln/busybox:demo"
"$kiln" import "$bb" --tag localhost/kiln/busybox:demo
step "kiln -C examples/hello build hello-ext --push --registry 127.0.0.1:$port --username kiln -o _out/hello-ext"
rm -rf "$out/hello-ext"
"$kiln" -C examples/hello build --progress plain hello-ext --tag "$version" \
	--push --registry "127.0.0.1:$port" --username kiln -o "$out/hello-ext"
step "again: every stage comes from the cache"
"$kiln" -C examples/hello build --progress plain hello-ext --tag "$version"
step "kiln ext info hello-ext:$version"
"$kiln" ext info "hello-ext:$version"
step "kiln ls -R hello-ext:$version"
"$kiln" ls -R "hello-ext:$version"
step "the extension's program, run from the exported tree"
"$out/hello-ext/rootfs/usr/local/bin/hello"
step "kiln cache ls"
"$kiln" cache ls

step "_out/images.json"
cat "$out/images.json"
