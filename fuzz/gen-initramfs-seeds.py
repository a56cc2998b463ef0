#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Write the seed corpus of fuzz-initramfs: small initramfs images made from
scratch, normal ones (plain, gzip, xz and, when the zstd tool is there,
zstd segments, one after another with zeros between them, hard links,
070702 checksums) and hostile ones (truncation, traversal names, bad
numbers, junk between and inside segments, unsupported compression):

    fuzz/gen-initramfs-seeds.py fuzz/corpus/initramfs
"""
import gzip
import lzma
import os
import shutil
import subprocess
import sys


def entry(name, data=b"", mode=0o100644, ino=1, nlink=1, magic=b"070701", check=None):
    name = name.encode() + b"\0"
    if check is None:
        check = sum(data) & 0xFFFFFFFF if magic == b"070702" else 0
    fields = [ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name), check]
    out = magic + b"".join(b"%08X" % f for f in fields) + name
    out += b"\0" * (-len(out) % 4) + data
    return out + b"\0" * (-len(out) % 4)


def archive(*entries):
    out = b"".join(entries) + entry("TRAILER!!!", mode=0, ino=0)
    return out + b"\0" * (-len(out) % 512)


def zstd(data):
    if not shutil.which("zstd"):
        return None
    return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    ucode = archive(entry("kernel", mode=0o40755), entry("kernel/x86", mode=0o40755),
                    entry("kernel/x86/microcode/GenuineIntel.bin", b"intel"))
    rest = archive(entry("rootfs.sqsh", b"hsqs" + b"\0" * 60), entry("init", mode=0o120777,
                   data=b"/sbin/init"), entry("dev", mode=0o40755))
    seeds = {
        "plain": rest,
        "ucode-plus-xz": ucode + lzma.compress(rest, check=lzma.CHECK_CRC32),
        "ucode-plus-gzip": ucode + gzip.compress(rest, mtime=0),
        "zeros-between": ucode + b"\0" * 12 + gzip.compress(rest, mtime=0) + b"\0" * 3
        + lzma.compress(ucode, check=lzma.CHECK_CRC32),
        "crc": archive(entry("f", b"hello", magic=b"070702")),
        "crc-bad": archive(entry("f", b"hello", magic=b"070702", check=1)),
        "hardlinks": archive(entry("a", ino=7, nlink=2), entry("b", b"data", ino=7, nlink=2)),
        "traversal": archive(entry("../../etc/passwd", b"x")),
        "absolute": archive(entry("/init", b"x")),
        "truncated": rest[:150],
        "truncated-xz": ucode + lzma.compress(rest)[:-20],
        "bad-hex": rest[:7] + b"G" + rest[8:],
        "huge-name": rest[:94] + b"7FFFFFFF" + rest[102:],
        "junk-after": rest + b"junk",
        "junk-inside": lzma.compress(rest + b"junk"),
        "misaligned": b"\0" + rest,
        "odc": b"070707" + rest[6:],
        "lz4": rest + b"\x02\x21\x4c\x18" + b"\0" * 16,
        "empty": b"",
    }
    z = zstd(rest)
    if z:
        seeds["ucode-plus-zstd"] = ucode + z
    for name, data in seeds.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus/initramfs")
