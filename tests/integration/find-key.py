#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Look for a private key's bytes in every file under some directories.

    find-key.py [--only-in-blobs-of REF] KEY.pem DIR...

The key is looked for as the PEM text of its base64 body and as its DER
bytes, in each file as it is and, for gzip or zstd files (layer blobs),
decompressed. Exit 0 when it is found nowhere, or, with --only-in-blobs-of,
only in the layer blobs of that image in the store ($KILN binary, `kiln
inspect --json`); else print where it was found and exit 1.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys


def needles(pem_path):
    der = subprocess.run(["openssl", "pkey", "-in", pem_path, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    with open(pem_path) as f:
        text = f.read()
    body = text.split("PRIVATE KEY-----", 1)[1].split("-----END", 1)[0].split()
    # three lines from the middle of the base64 body, and 64 DER bytes
    middle = len(body) // 2
    found = [line.encode() for line in body[middle - 1:middle + 2]]
    found.append(der[len(der) // 2:len(der) // 2 + 64])
    return found


def contents(path):
    with open(path, "rb") as f:
        data = f.read()
    yield data
    if data[:2] == b"\x1f\x8b":
        try:
            yield gzip.decompress(data)
        except (OSError, EOFError):
            pass
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        r = subprocess.run(["zstd", "-dcq"], input=data, capture_output=True)
        if r.returncode == 0:
            yield r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only-in-blobs-of")
    ap.add_argument("key")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()

    allowed = set()
    if a.only_in_blobs_of:
        info = json.loads(subprocess.run([os.environ["KILN"], "inspect", "--json", a.only_in_blobs_of],
                                         check=True, capture_output=True, text=True).stdout)
        allowed = {layer["digest"].split(":", 1)[1] for layer in info["layers"]}

    keys = needles(a.key)
    hits, allowed_hits, files = [], 0, 0
    for top in a.dirs:
        for root, _, names in os.walk(top):
            for name in names:
                path = os.path.join(root, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                files += 1
                if any(k in data for data in contents(path) for k in keys):
                    if name in allowed:
                        allowed_hits += 1
                    else:
                        hits.append(path)
    for h in hits:
        print(f"the key is in {h}", file=sys.stderr)
    print(f"# {files} files scanned, {allowed_hits} allowed hits, {len(hits)} other hits")
    if a.only_in_blobs_of and allowed_hits == 0:
        print(f"the key is not even in {a.only_in_blobs_of}: wrong key?", file=sys.stderr)
        return 1
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
