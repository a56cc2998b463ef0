#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The end of `make demo`: every image with its full reference and digest,
every kernel module with its verdict.

    demo-summary.py [--validated NAME]... BUILD.json... -- IMAGES.json...

BUILD.json is what `kiln build --json` prints (the targets, their digests
and their modules' checks); IMAGES.json is a tree's _out/images.json (where
each target was pushed). --validated names an extension that `kiln ext
validate --kernel-build` passed: its modules were judged there, since an
extension's stage has no kernel tree of its own.
"""
import json
import sys


def verdict(m, validated):
    if m.get("error"):
        return "unreadable: " + m["error"]
    signer = "signed by '%s' (%s)" % (m["signer"], m["hash"]) if m.get("signed") else "unsigned"
    if m.get("loads") is None and validated:
        return signer + ", loads (kiln ext validate against kernel-build)"
    if m.get("loads") is None:
        return signer + ", not judged (no kernel tree among the stage's dependencies)"
    if not m["loads"]:
        bad = [c["check"] for c in m.get("checks", []) if c["status"] == "error"]
        return signer + ", REFUSED by the kernel (" + ", ".join(bad) + ")"
    warned = [c["check"] for c in m.get("checks", []) if c["status"] == "warning"]
    release = m["kernel"]["release"]
    return signer + ", loads on %s%s" % (release, " (warnings: " + ", ".join(warned) + ")" if warned else "")


def main(argv):
    validated = set()
    while argv and argv[0] == "--validated":
        validated.add(argv[1])
        argv = argv[2:]
    split = argv.index("--")
    builds = [json.load(open(p)) for p in argv[:split]]
    pushed = {}
    for p in argv[split + 1:]:
        for name, entry in json.load(open(p)).items():
            pushed[entry["digest"]] = pushed.get(entry["digest"], []) + [entry["reference"]]

    print("images:")
    for targets in builds:
        for t in targets:
            refs = [r for r in pushed.get(t["digest"], []) if "/" in r.split("@")[0]]
            where = refs[0] if refs else t["reference"] + " (local only)"
            print("  %-18s %s" % (t["name"], where))
    print("modules:")
    for targets in builds:
        for t in targets:
            for m in t.get("modules", []):
                print("  %-18s %-22s %s" % (t["name"], m["path"].rsplit("/", 1)[-1], verdict(m, t["name"] in validated)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
