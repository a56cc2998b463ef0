#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write an OCI image layout holding images of random data, for the registry
tests and the push bench.

    make-image.py [--arch ARCH] LAYOUT TAG SIZE...
    make-image.py [--arch ARCH] --dirs LAYOUT TAG DIR...
    make-image.py --index LAYOUT TAG TAG1 TAG2...

The first form makes one uncompressed tar layer per SIZE (bytes, or with a
K/M/G suffix), each holding one file of random bytes, streamed to disk (a
512 MiB image never sits in memory), for linux/ARCH (default amd64). The
--dirs form makes one uncompressed tar layer per DIR, of the files under
it as they are (a file named .wh.NAME is a whiteout of NAME in the layers
below). The last form makes an index of the manifests TAG1, TAG2...
already in LAYOUT, each entry with its config's platform. An existing
layout gets the image added and TAG moved to it; the digest is printed."""

import hashlib
import json
import os
import sys
import tarfile

CHUNK = 1 << 20


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:].upper(), 1)
    return int(s[:-1] if mult > 1 else s) * mult


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def write_layer(layout, index, size):
    tmp = os.path.join(layout, "blobs", "sha256", ".layer-%d.tmp" % os.getpid())
    h = hashlib.sha256()
    total = 0
    with open(tmp, "wb") as f:

        def out(b):
            nonlocal total
            h.update(b)
            f.write(b)
            total += len(b)

        info = tarfile.TarInfo("layer%d.bin" % index)
        info.size = size
        info.mode = 0o644
        info.mtime = 0
        out(info.tobuf(format=tarfile.USTAR_FORMAT))
        left = size
        while left:
            n = min(CHUNK, left)
            out(os.urandom(n))
            left -= n
        out(b"\0" * ((512 - size % 512) % 512))
        out(b"\0" * 1024)
    digest = "sha256:" + h.hexdigest()
    os.rename(tmp, os.path.join(layout, "blobs", "sha256", digest[7:]))
    return digest, total


def write_dir_layer(layout, d):
    tmp = os.path.join(layout, "blobs", "sha256", ".layer-%d.tmp" % os.getpid())
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as t:
        for root, dirs, files in os.walk(d):
            dirs.sort()
            for name in dirs + sorted(files):
                path = os.path.join(root, name)
                info = t.gettarinfo(path, os.path.relpath(path, d))
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                if info.isfile():
                    with open(path, "rb") as f:
                        t.addfile(info, f)
                else:
                    t.addfile(info)
    with open(tmp, "rb") as f:
        digest = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
    os.rename(tmp, os.path.join(layout, "blobs", "sha256", digest[7:]))
    return digest, os.path.getsize(os.path.join(layout, "blobs", "sha256", digest[7:]))


def read_index(layout):
    path = os.path.join(layout, "index.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {"schemaVersion": 2, "manifests": []}


def ref_name(entry):
    return entry.get("annotations", {}).get("org.opencontainers.image.ref.name")


def read_blob(layout, digest):
    with open(os.path.join(layout, "blobs", "sha256", digest[7:]), "rb") as f:
        return f.read()


def tag_image(layout, tag, media_type, digest, size):
    index = read_index(layout)
    index["manifests"] = [m for m in index.get("manifests", []) if ref_name(m) != tag]
    index["manifests"].append({"mediaType": media_type, "digest": digest, "size": size,
                               "annotations": {"org.opencontainers.image.ref.name": tag}})
    path = os.path.join(layout, "index.json")
    with open(path + ".tmp", "w") as f:
        json.dump(index, f)
    os.rename(path + ".tmp", path)
    print(digest)


def make_index(layout, tag, members):
    entries = []
    for member in members:
        entry = [m for m in read_index(layout)["manifests"] if ref_name(m) == member][0]
        manifest = json.loads(read_blob(layout, entry["digest"]))
        config = json.loads(read_blob(layout, manifest["config"]["digest"]))
        entries.append({"mediaType": entry["mediaType"], "digest": entry["digest"],
                        "size": entry["size"],
                        "platform": {"architecture": config["architecture"],
                                     "os": config["os"]}})
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": entries}
    digest, size = put_blob(layout, json.dumps(index, separators=(",", ":")).encode())
    tag_image(layout, tag, "application/vnd.oci.image.index.v1+json", digest, size)


def main():
    args = sys.argv[1:]
    arch = "amd64"
    if args[:1] == ["--index"]:
        if len(args) < 4:
            sys.exit(__doc__)
        return make_index(args[1], args[2], args[3:])
    if args[:1] == ["--arch"] and len(args) > 1:
        arch, args = args[1], args[2:]
    dirs = args[:1] == ["--dirs"]
    if dirs:
        args = args[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    layout, tag = args[0], args[1]
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    layers = []
    for i, arg in enumerate(args[2:]):
        digest, n = write_dir_layer(layout, arg) if dirs else write_layer(layout, i, parse_size(arg))
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                       "digest": digest, "size": n})
    config = {"architecture": arch, "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]},
              "config": {}}
    cdigest, csize = put_blob(layout, json.dumps(config, separators=(",", ":")).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": cdigest, "size": csize},
                "layers": layers}
    mdigest, msize = put_blob(layout, json.dumps(manifest, separators=(",", ":")).encode())
    tag_image(layout, tag, "application/vnd.oci.image.manifest.v1+json", mdigest, msize)


if __name__ == "__main__":
    main()
