#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Write the seed corpus of fuzz-archive-import: small image archives made
from scratch as docker save, skopeo and buildah write them. docker-archives
(layer as a plain tar, gzip, or a symlink <id>/layer.tar as skopeo writes,
two images, RepoTags absent), oci-archives (one manifest, an index of two
platforms), and hostile ones (a wrong diff_id, a config that is missing,
a member that escapes, a symlink loop between members, a truncated layer):

    fuzz/gen-archive-seeds.py fuzz/corpus/archive-import
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def tar(entries):
    """entries: (name, data bytes | ("sym", target) | ("dir",))."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, arg in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            if isinstance(arg, tuple) and arg[0] == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = arg[1]
                t.addfile(ti)
            elif isinstance(arg, tuple):
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            else:
                ti.size = len(arg)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(arg))
    # the two zero blocks that end a tar, without tarfile's padding to 10240 bytes
    body = out.getvalue().rstrip(b"\0")
    return body + b"\0" * (-len(body) % 512 + 1024)


def jdump(v):
    return json.dumps(v, separators=(",", ":")).encode()


LAYER = tar([("etc/", ("dir",)), ("etc/os-release", b"ID=kiln\n"), ("bin/sh", b"\x7fELF")])


def config(layers, arch="amd64"):
    return jdump({
        "architecture": arch,
        "os": "linux",
        "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in layers]},
        "history": [{"created_by": "kiln fuzz seed"}],
    })


def docker(layer_blobs=None, diff_layers=None, tags=("example.com/seed:1",), link=False,
           drop_config=False, extra=()):
    layer_blobs = layer_blobs if layer_blobs is not None else [LAYER]
    diff_layers = diff_layers if diff_layers is not None else [LAYER]
    cfg = config(diff_layers)
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    entries, names = [], []
    for i, blob in enumerate(layer_blobs):
        d = "%064x" % (i + 1)
        if link:
            entries.append(("blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob))
            entries.append((d + "/layer.tar",
                            ("sym", "../blobs/sha256/" + hashlib.sha256(blob).hexdigest())))
        else:
            entries.append((d + "/layer.tar", blob))
        names.append(d + "/layer.tar")
    if not drop_config:
        entries.append((cfg_name, cfg))
    man = [{"Config": cfg_name, "Layers": names}]
    if tags is not None:
        man[0]["RepoTags"] = list(tags)
    entries.append(("manifest.json", jdump(man)))
    entries.extend(extra)
    return tar(entries)


def oci(platforms=("amd64",), ref="example.com/seed:oci"):
    entries = [("oci-layout", jdump({"imageLayoutVersion": "1.0.0"}))]
    lgz = gzip.compress(LAYER, mtime=0)
    entries.append(("blobs/sha256/" + hashlib.sha256(lgz).hexdigest(), lgz))
    descs = []
    for arch in platforms:
        cfg = config([LAYER], arch)
        entries.append(("blobs/sha256/" + hashlib.sha256(cfg).hexdigest(), cfg))
        man = jdump({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha(cfg), "size": len(cfg)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": sha(lgz), "size": len(lgz)}],
        })
        entries.append(("blobs/sha256/" + hashlib.sha256(man).hexdigest(), man))
        descs.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "digest": sha(man), "size": len(man),
                      "platform": {"architecture": arch, "os": "linux"},
                      "annotations": {"org.opencontainers.image.ref.name": ref}})
    if len(descs) > 1:
        for d in descs:
            del d["annotations"]
        idx = jdump({"schemaVersion": 2,
                     "mediaType": "application/vnd.oci.image.index.v1+json",
                     "manifests": descs})
        entries.append(("blobs/sha256/" + hashlib.sha256(idx).hexdigest(), idx))
        descs = [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": sha(idx),
                  "size": len(idx), "annotations": {"org.opencontainers.image.ref.name": ref}}]
    entries.append(("index.json", jdump({"schemaVersion": 2, "manifests": descs})))
    return tar(entries)


def seeds():
    other = tar([("usr/", ("dir",)), ("usr/lib/x", b"x" * 700)])
    yield "docker-plain.tar", docker()
    yield "docker-gzip.tar", docker([gzip.compress(LAYER, mtime=0)])
    yield "docker-skopeo-links.tar", docker(link=True)
    yield "docker-two-layers.tar", docker([LAYER, other], [LAYER, other])
    yield "docker-no-tags.tar", docker(tags=None)
    yield "docker-two-tags.tar", docker(tags=("a.example/x:1", "b.example/y:2"))
    yield "oci-one.tar", oci()
    yield "oci-index.tar", oci(("amd64", "arm64"))
    # hostile
    yield "bad-diff-id.tar", docker([LAYER], [other])
    yield "bad-no-config.tar", docker(drop_config=True)
    yield "bad-escape.tar", docker(extra=[("../escape", b"x")])
    yield "bad-link-loop.tar", tar([
        ("a/layer.tar", ("sym", "../b/layer.tar")), ("b/layer.tar", ("sym", "../a/layer.tar")),
        ("manifest.json", jdump([{"Config": "c.json", "Layers": ["a/layer.tar"]}])),
        ("c.json", config([LAYER]))])
    yield "bad-truncated.tar", docker()[:2048 + 512]
    yield "bad-manifest-json.tar", tar([("manifest.json", b'[{"Config": 7, "Layers": {}}]')])


def main():
    out = sys.argv[1]
    # rewrites the seeds it makes; inputs added by hand (crash-*) stay
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
