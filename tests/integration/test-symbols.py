#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libkiln.so exports its interface and nothing else.

Its interface is what include/kiln/*.h declares, every name kiln_-prefixed
(as squashfs-tools-ng holds libsquashfs to sqfs_). Checked with nm:
  - every symbol libkiln.so defines for others is kiln_-prefixed;
  - every function the headers declare (not a static inline one) is
    exported, so that no declaration outlives its definition;
  - tools/ includes no header of lib/ but lib/util's.
"""
import glob
import os
import re
import subprocess
import sys

LIB = os.environ["LIBKILN"]
SRCDIR = os.environ["SRCDIR"]

n = failed = 0


def tap(ok, name, detail=()):
    global n, failed
    n += 1
    failed += not ok
    print(("ok" if ok else "not ok") + " %d - %s" % (n, name))
    for line in detail:
        print("# " + line)


def header_functions():
    """The functions include/kiln/ declares, and those it defines static inline."""
    declared, inline = set(), set()
    for path in glob.glob(os.path.join(SRCDIR, "include", "kiln", "*.h")):
        text = re.sub(r"/\*.*?\*/", "", open(path).read(), flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        inline.update(re.findall(r"static inline[^;{]*?\b(kiln_\w+)\s*\(", text))
        # a declaration: a name and "(" after a type, at the start of a statement
        declared.update(re.findall(r"(?:^|[;}])\s*(?:const\s+)?[\w ]+?[\s*]+(kiln_\w+)\s*\(",
                                   text, flags=re.M))
    return declared - inline, inline


def main():
    nm = subprocess.run(["nm", "-D", "--defined-only", LIB], capture_output=True, text=True,
                        check=True)
    exported = {line.split()[-1] for line in nm.stdout.splitlines() if line.strip()}
    tap(len(exported) > 0, "libkiln.so exports %d symbols" % len(exported))

    others = sorted(s for s in exported if not s.startswith("kiln_"))
    tap(not others, "every exported symbol is kiln_-prefixed", others[:40])

    declared, _ = header_functions()
    missing = sorted(declared - exported)
    tap(len(declared) > 100 and not missing,
        "each of the %d functions include/kiln/ declares is exported" % len(declared),
        missing[:40])

    internal = []
    lib_headers = {os.path.basename(p): p for p in glob.glob(os.path.join(SRCDIR, "lib", "*", "*.h"))
                   if "/lib/util/" not in p}
    for path in sorted(glob.glob(os.path.join(SRCDIR, "tools", "*.c"))):
        for name in re.findall(r'^#include "([^"]+)"', open(path).read(), flags=re.M):
            if name in lib_headers and not os.path.exists(os.path.join(SRCDIR, "tools", name)):
                internal.append("%s includes %s" % (os.path.relpath(path, SRCDIR),
                                                    os.path.relpath(lib_headers[name], SRCDIR)))
    tap(not internal, "tools/ includes only include/kiln/ and lib/util/", internal)

    print("1..%d" % n)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
