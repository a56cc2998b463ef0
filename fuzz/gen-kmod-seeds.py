#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
Write the seed corpora of fuzz-modinfo and fuzz-modsig: small module files
made from scratch (no kernel's or build's .ko is copied), each a few hundred
bytes to a few KB:

    fuzz/gen-kmod-seeds.py fuzz/corpus

ELF files of both classes and byte orders with .modinfo and __versions,
compressed copies, signature trailers around PKCS#7 made here by openssl
with a throwaway key (by issuer and serial, and by subjectKeyIdentifier),
and broken variants of each.
"""
import os
import lzma
import struct
import subprocess
import sys
import tempfile

ET_REL, SHT_PROGBITS, SHT_STRTAB, SHT_NOBITS = 1, 1, 3, 8
MAGIC = b"~Module signature appended~\n"


def elf(is64, be, machine, sections, shnum_override=None):
    """sections: [(name, type, bytes)]; returns an ET_REL with .shstrtab last."""
    e = ">" if be else "<"
    names = b"\0"
    offs = []
    for name, _, _ in sections + [(".shstrtab", SHT_STRTAB, b"")]:
        offs.append(len(names))
        names += name.encode() + b"\0"
    ehsize, shentsize = (64, 64) if is64 else (52, 40)
    body = bytearray(b"\0" * ehsize)
    placed = []
    for (name, typ, data), noff in zip(sections + [(".shstrtab", SHT_STRTAB, names)], offs):
        while len(body) % 8:
            body += b"\0"
        placed.append((noff, typ, len(body), len(data)))
        if typ != SHT_NOBITS:
            body += data
    while len(body) % 8:
        body += b"\0"
    shoff = len(body)
    shnum = len(placed) + 1
    # section 0; with e_shnum 0 (gABI extended numbering) it holds the count
    n0 = shnum if shnum_override == 0 else 0
    if is64:
        body += struct.pack(e + "IIQQQQIIQQ", 0, 0, 0, 0, 0, n0, 0, 0, 0, 0)
    else:
        body += struct.pack(e + "IIIIIIIIII", 0, 0, 0, 0, 0, n0, 0, 0, 0, 0)
    for noff, typ, off, size in placed:
        if is64:
            body += struct.pack(e + "IIQQQQIIQQ", noff, typ, 0, 0, off, size, 0, 0, 1, 0)
        else:
            body += struct.pack(e + "IIIIIIIIII", noff, typ, 0, 0, off, size, 0, 0, 1, 0)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 2 if be else 1, 1]) + b"\0" * 9
    if is64:
        hdr = struct.pack(e + "HHIQQQIHHHHHH", ET_REL, machine, 1, 0, 0, shoff, 0, ehsize, 0,
                          0, shentsize, shnum if shnum_override is None else shnum_override,
                          shnum - 1)
    else:
        hdr = struct.pack(e + "HHIIIIIHHHHHH", ET_REL, machine, 1, 0, 0, shoff, 0, ehsize, 0,
                          0, shentsize, shnum if shnum_override is None else shnum_override,
                          shnum - 1)
    body[0:ehsize] = ident + hdr
    return bytes(body)


def versions(is64, be, entries):
    e = ">" if be else "<"
    out = b""
    for crc, name in entries:
        if is64:
            out += struct.pack(e + "Q", crc) + name.encode().ljust(56, b"\0")
        else:
            out += struct.pack(e + "I", crc) + name.encode().ljust(60, b"\0")
    return out


MODINFO = (b"\0\0alias=pci:v00008086d*\0\0\0license=GPL\0parm=level:how loud\0"
           b"parmtype=level:int\0noequals\0depends=\0name=seed\0"
           b"vermagic=6.1.0-56-amd64 SMP preempt mod_unload modversions \0")
VERSIONS = [(0x8e17b3ae, "module_layout"), (0x92997ed8, "_printk"), (0x1, ".dotted")]


def trailer(der, id_type=2, sig_len=None):
    n = len(der) if sig_len is None else sig_len
    return der + bytes([0, 0, id_type, 0, 0, 0, 0, 0]) + struct.pack(">I", n) + MAGIC


def openssl_signatures(body):
    """Detached, attribute-free PKCS#7 over body, as sign-file makes them."""
    with tempfile.TemporaryDirectory() as d:
        key, cert, data = (os.path.join(d, x) for x in ("key.pem", "cert.pem", "body"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:1024", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2", "-subj",
                        "/O=kiln fuzz/CN=kiln fuzz seed key", "-set_serial", "0x0102"],
                       check=True, capture_output=True)
        with open(data, "wb") as f:
            f.write(body)
        out = []
        for extra in ([], ["-keyid"]):
            der = subprocess.run(["openssl", "cms", "-sign", "-binary", "-noattr", "-nocerts",
                                  "-nosmimecap", "-md", "sha256", "-signer", cert, "-inkey",
                                  key, "-in", data, "-outform", "DER"] + extra,
                                 check=True, capture_output=True).stdout
            out.append(der)
        return out


def main():
    root = sys.argv[1]
    mi, ms = os.path.join(root, "modinfo"), os.path.join(root, "modsig")
    os.makedirs(mi, exist_ok=True)
    os.makedirs(ms, exist_ok=True)

    def write(d, name, data):
        assert len(data) < 8192, name
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)

    secs = lambda is64, be: [(".modinfo", SHT_PROGBITS, MODINFO),
                             ("__versions", SHT_PROGBITS, versions(is64, be, VERSIONS))]
    x86 = elf(True, False, 62, secs(True, False))
    write(mi, "elf64-le-x86_64.ko", x86)
    write(mi, "elf64-be-s390.ko", elf(True, True, 22, secs(True, True)))
    write(mi, "elf32-le-arm.ko", elf(False, False, 40, secs(False, False)))
    write(mi, "elf32-be-ppc.ko", elf(False, True, 20, secs(False, True)))
    write(mi, "unterminated-modinfo.ko",
          elf(True, False, 183, [(".modinfo", SHT_PROGBITS, b"name=x\0license=GPL")]))
    write(mi, "nobits-modinfo.ko", elf(True, False, 62, [(".modinfo", SHT_NOBITS, b"x" * 16)]))
    write(mi, "no-modinfo.ko", elf(True, False, 62, [(".text", SHT_PROGBITS, b"\xc3")]))
    write(mi, "bad-versions-size.ko",
          elf(True, False, 62, [(".modinfo", SHT_PROGBITS, b"name=x\0"),
                                ("__versions", SHT_PROGBITS, b"\0" * 63)]))
    write(mi, "extended-numbering.ko", elf(True, False, 62, secs(True, False), shnum_override=0))
    write(mi, "truncated.ko", x86[: len(x86) - 70])
    write(mi, "elf64-le-x86_64.ko.xz",
          lzma.compress(x86, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32))
    zst = subprocess.run(["zstd", "-q", "-c"], input=x86, check=True, capture_output=True).stdout
    write(mi, "elf64-le-x86_64.ko.zst", zst)

    issuer_serial, skid = openssl_signatures(x86)
    write(mi, "signed.ko", x86 + trailer(issuer_serial))
    write(mi, "signed-skid.ko", x86 + trailer(skid))
    write(mi, "signed-bad-length.ko", x86 + trailer(issuer_serial, sig_len=0x7fffffff))
    write(mi, "signed-bad-id-type.ko", x86 + trailer(issuer_serial, id_type=1))

    write(ms, "issuer-serial.tail", b"X" + trailer(issuer_serial))
    write(ms, "skid.tail", b"X" + trailer(skid))
    write(ms, "issuer-serial.der", issuer_serial)
    write(ms, "skid.der", skid)
    write(ms, "truncated-der.tail", b"X" + trailer(issuer_serial[:200]))
    write(ms, "zero-length.tail", b"X" + trailer(b"", sig_len=0))
    write(ms, "length-past-start.tail", b"X" + trailer(issuer_serial, sig_len=len(issuer_serial) + 1))
    write(ms, "id-type-pgp.tail", b"X" + trailer(issuer_serial, id_type=0))
    write(ms, "magic-only.tail", MAGIC)


if __name__ == "__main__":
    main()
