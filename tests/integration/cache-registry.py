#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Look at and damage kiln's registry cache entries, through the registry's API.

cache-registry.py entries HOST REPO         "STAGE TAG" per entry (tag kiln-<key>)
cache-registry.py rekey HOST REPO TAG       the entry's key annotation made another key
cache-registry.py not-index HOST REPO TAG   the tag made to name the output manifest itself
cache-registry.py drop-layer HOST REPO TAG  the output's layer blob deleted from the repository
cache-registry.py bad-record HOST REPO TAG  the record of module verdicts made one that
                                            does not parse as one (a module without a path)
"""
import hashlib
import json
import sys
import urllib.error
import urllib.request

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
RECORD = "application/vnd.kiln.build-modules.v1+json"
ACCEPT = ", ".join([INDEX, MANIFEST, "application/vnd.docker.distribution.manifest.v2+json"])


def call(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, dict(resp.headers), resp.read()


def get_manifest(base, repo, ref):
    _, _, body = call("GET", f"{base}/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT})
    return body


def put_manifest(base, repo, ref, body, media_type):
    status, _, _ = call("PUT", f"{base}/v2/{repo}/manifests/{ref}", body,
                        {"Content-Type": media_type})
    assert status == 201, status


def put_blob(base, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    status, headers, _ = call("POST", f"{base}/v2/{repo}/blobs/uploads/")
    assert status == 202, status
    loc = headers["Location"]
    if loc.startswith("/"):
        loc = base + loc
    sep = "&" if "?" in loc else "?"
    status, _, _ = call("PUT", f"{loc}{sep}digest={digest}", data,
                        {"Content-Type": "application/octet-stream"})
    assert status == 201, status
    return {"digest": digest, "size": len(data)}


def role(index, name):
    for d in index["manifests"]:
        if d.get("annotations", {}).get("dev.kiln.cache.role") == name:
            return d
    raise SystemExit(f"no {name} entry")


def main():
    cmd, host, repo = sys.argv[1:4]
    base = f"http://{host}"
    if cmd == "entries":
        _, _, body = call("GET", f"{base}/v2/{repo}/tags/list")
        for tag in sorted(json.loads(body)["tags"] or []):
            index = json.loads(get_manifest(base, repo, tag))
            print(index["annotations"]["dev.kiln.cache.stage"], tag)
        return
    tag = sys.argv[4]
    index = json.loads(get_manifest(base, repo, tag))
    if cmd == "rekey":
        index["annotations"]["dev.kiln.cache.key"] = "0" * 64
        put_manifest(base, repo, tag, json.dumps(index).encode(), INDEX)
    elif cmd == "not-index":
        out = role(index, "output")
        put_manifest(base, repo, tag, get_manifest(base, repo, out["digest"]), out["mediaType"])
    elif cmd == "drop-layer":
        man = json.loads(get_manifest(base, repo, role(index, "output")["digest"]))
        status, _, _ = call("DELETE", f"{base}/v2/{repo}/blobs/{man['layers'][0]['digest']}")
        assert status == 202, status
    elif cmd == "bad-record":
        record = json.dumps({"version": "kiln-build-modules-v1",
                             "modules": [{"name": "no path"}]}).encode()
        layer = dict(mediaType=RECORD, **put_blob(base, repo, record))
        config = dict(mediaType="application/vnd.oci.empty.v1+json", **put_blob(base, repo, b"{}"))
        man = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "artifactType": RECORD,
                          "config": config, "layers": [layer]}).encode()
        digest = "sha256:" + hashlib.sha256(man).hexdigest()
        put_manifest(base, repo, digest, man, MANIFEST)
        entry = role(index, "modules")
        entry["digest"], entry["size"] = digest, len(man)
        put_manifest(base, repo, tag, json.dumps(index).encode(), INDEX)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
