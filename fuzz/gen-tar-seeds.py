#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Write the seed corpus of fuzz-tar: small layers made from scratch, normal
ones in every format kiln reads (ustar, PAX, GNU; plain, gzip, zstd, xz)
and hostile ones (traversal, absolute paths, symlink and hard link
escapes, devices, oversized headers, bad checksums, truncation, bad
numbers, symlink loops):

    fuzz/gen-tar-seeds.py fuzz/corpus/tar
"""
import gzip
import io
import lzma
import os
import shutil
import subprocess
import sys
import tarfile


def tar(entries, fmt=tarfile.USTAR_FORMAT):
    """entries: (name, type, data-or-linkname, extra dict)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as t:
        for name, typ, arg, extra in entries:
            ti = tarfile.TarInfo(name)
            ti.type = typ
            ti.mtime = 0
            ti.mode = extra.get("mode", 0o755 if typ == tarfile.DIRTYPE else 0o644)
            for k in ("uid", "gid", "devmajor", "devminor", "pax_headers"):
                if k in extra:
                    setattr(ti, k, extra[k])
            if typ in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                ti.linkname = arg
                t.addfile(ti)
            elif typ == tarfile.REGTYPE:
                ti.size = len(arg)
                t.addfile(ti, io.BytesIO(arg))
            else:
                t.addfile(ti)
    return out.getvalue()


def E(name, typ=tarfile.REGTYPE, arg=b"", **extra):
    return (name, typ, arg, extra)


def header(name, typ, size, link=b"", size_field=None, checksum=True):
    """A raw ustar header, for what tarfile will not write."""
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = size_field if size_field is not None else b"%011o\0" % size
    h[136:148] = b"00000000000\0"
    h[156:157] = typ
    h[157:157 + len(link)] = link
    h[257:265] = b"ustar\x0000"
    h[148:156] = b"        "
    if checksum:
        h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def pad(data):
    return data + b"\0" * (-len(data) % 512)


END = b"\0" * 1024
D, S, L = tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE

normal = [
    E("bin/", D), E("bin/sh", arg=b"#!/bin/sh\n", mode=0o755), E("etc/", D),
    E("etc/passwd", arg=b"root:x:0:0::/root:/bin/sh\n"), E("lib", S, "usr/lib"),
    E("usr/", D), E("usr/lib/", D), E("usr/lib/libc.so", arg=b"\x7fELF"),
    E("usr/lib/hard", L, "usr/lib/libc.so"), E("tmp/", D, mode=0o1777),
    E("usr/bin/su", arg=b"su", mode=0o4755), E("run/fifo", tarfile.FIFOTYPE),
]
long_name = "very/" + "long-directory-name/" * 8 + "file-with-a-long-name.txt"
seeds = {
    "normal.tar": tar(normal),
    "pax.tar": tar(normal + [
        E(long_name, arg=b"long"),
        E("xattr", arg=b"x", pax_headers={"SCHILY.xattr.user.kiln": "v",
                                          "SCHILY.xattr.security.capability": "\x01\x00"}),
        E("big-uid", arg=b"", uid=3000000, gid=3000000),
        E("longlink", S, "target/" * 30),
    ], tarfile.PAX_FORMAT),
    "gnu-longname.tar": tar(normal + [E(long_name, arg=b"gnu"),
                                      E("gnulink", L, long_name)], tarfile.GNU_FORMAT),
    "whiteouts.tar": tar([E("etc/.wh.passwd"), E("usr/lib/.wh..wh..opq"),
                          E("usr/lib/new", arg=b"n"), E(".wh.bin"), E(".wh..wh.plnk")]),
    "dot-slash.tar": tar([E("./", D), E("./a/", D), E("./a/b", arg=b"b"), E("a//c", arg=b"c")]),
    # hostile
    "traversal.tar": tar([E("../escape", arg=b"x")]),
    "traversal-inner.tar": tar([E("a/../../escape", arg=b"x")]),
    "absolute.tar": tar([E("/etc/evil", arg=b"x")]),
    "symlink-root.tar": tar([E("a", S, "/"), E("a/etc/passwd", arg=b"evil")]),
    "symlink-up.tar": tar([E("a", S, "../.."), E("a/escaped", arg=b"x")]),
    "symlink-dangling.tar": tar([E("a", S, "missing/dir"), E("a/x", arg=b"x")]),
    "symlink-loop.tar": tar([E("a", S, "b"), E("b", S, "a"), E("a/x", arg=b"x")]),
    "symlink-chain.tar": tar([E("l%d" % i, S, "l%d" % (i + 1)) for i in range(45)] +
                             [E("l45", D), E("l0/x", arg=b"x")]),
    "hardlink-out.tar": tar([E("h", L, "../../etc/passwd")]),
    "hardlink-abs.tar": tar([E("h", L, "/etc/passwd")]),
    "hardlink-missing.tar": tar([E("h", L, "nothing")]),
    "hardlink-dir.tar": tar([E("d/", D), E("h", L, "d")]),
    "device.tar": tar([E("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
                       E("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0)]),
    "whiteout-parent.tar": tar([E(".wh.d/x", arg=b"x")]),
    "file-then-child.tar": tar([E("f", arg=b"f"), E("f/x", arg=b"x")]),
    "huge-pax.tar": header(b"PaxHeaders.0/x", b"x", 2 << 20) + END,
    "huge-longname.tar": header(b"././@LongLink", b"L", (1 << 20) + 1) + END,
    "bad-checksum.tar": header(b"f", b"0", 0, checksum=False) + END,
    "truncated.tar": header(b"f", b"0", 1000) + b"only a little data",
    "no-trailer.tar": header(b"f", b"0", 0),
    "negative-size.tar": header(b"f", b"0", 0, size_field=b"\xff" * 12) + END,
    "overflow-size.tar": header(b"f", b"0", 0, size_field=b"\x80" + b"\xff" * 11) + END,
    "bad-octal.tar": header(b"f", b"0", 0, size_field=b"0000000009x\0") + END,
    "pax-bad-record.tar": header(b"PaxHeaders.0/f", b"x", 12) + pad(b"99 path=ab\n\n") +
    header(b"f", b"0", 0) + END,
    "pax-sparse.tar": header(b"PaxHeaders.0/f", b"x", 22) + pad(b"22 GNU.sparse.major=1\n") +
    header(b"f", b"0", 0) + END,
    "pax-nul-path.tar": header(b"PaxHeaders.0/f", b"x", 12) + pad(b"12 path=a\0b\n") +
    header(b"f", b"0", 0) + END,
    "zero-then-data.tar": b"\0" * 512 + header(b"f", b"0", 0) + END,
}
seeds["normal.tar.gz"] = gzip.compress(seeds["normal.tar"], mtime=0)
seeds["normal.tar.xz"] = lzma.compress(seeds["normal.tar"])
seeds["truncated.tar.gz"] = seeds["normal.tar.gz"][:-20]
if shutil.which("zstd"):
    seeds["normal.tar.zst"] = subprocess.run(["zstd", "-q", "-c"], input=seeds["normal.tar"],
                                             stdout=subprocess.PIPE, check=True).stdout

os.makedirs(sys.argv[1], exist_ok=True)
for name, data in sorted(seeds.items()):
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(data)
