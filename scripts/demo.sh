#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The main job, as far as kiln goes today: load and check the example package
# trees (a pkgs tree with a kernel and an out-of-tree module, an extensions
# tree with the module's system extension) and draw their stage graphs.
set -eu

kiln=$(realpath "$1")
cd "$(dirname "$0")/.."
mkdir -p _out

for tree in pkgs extensions; do
	echo "== kiln -C examples/$tree validate"
	"$kiln" -C "examples/$tree" validate
	"$kiln" -C "examples/$tree" graph >"_out/graph-$tree.dot"
done

echo "== kiln -C examples/pkgs dump -t kiln-demo-pkg"
"$kiln" -C examples/pkgs dump -t kiln-demo-pkg

echo "== kiln -C examples/extensions eval -t kiln-demo '{{ .VERSION }}'"
"$kiln" -C examples/extensions eval -t kiln-demo '{{ .VERSION }}'

# one picture of both trees, each in its own box
{
	echo "digraph kiln {"
	for tree in pkgs extensions; do
		echo "subgraph cluster_$tree { label=\"examples/$tree\";"
		sed '1d;$d' "_out/graph-$tree.dot"
		echo "}"
	done
	echo "}"
} >_out/graph.dot
dot -Tsvg -o _out/graph.svg _out/graph.dot
echo "== wrote _out/graph.svg"
