# SPDX-License-Identifier: LGPL-2.1-or-later
# Count what `kiln validate --json` and `kiln dump --json` report of a tree,
# in the terms of ../shared/corpus/README.md.
import json
import sys

v = json.load(open(sys.argv[1]))
d = json.load(open(sys.argv[2]))
stage = sum(1 for p in d for x in p["dependencies"] if "stage" in x)
image = sum(1 for p in d for x in p["dependencies"] if "image" in x)
steps = sum(len(p["steps"]) for p in d)
sources = sum(len(s["sources"]) for p in d for s in p["steps"])
instr = sum(len(s[k]) for p in d for s in p["steps"] for k in ("prepare", "build", "install", "test"))
print(f"{v['pkgYaml']} pkg.yaml, {v['varsYaml']} vars.yaml, {v['templates']} templates, "
      f"{len(d)} packages, {stage} stage edges, {image} image deps, {steps} steps, "
      f"{sources} sources, {instr} instructions, {v['warnings']} warnings")
