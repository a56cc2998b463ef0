#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# kiln import of a rootfs tar, as docker import takes one: a tar GNU tar makes
# (owners 1000:1000 on part of it, setuid, sticky, symlinks, a hard link, a
# fifo, a device when root, an extended attribute) imported from a file, from
# standard input, compressed and streamed, always to the same digests; the
# image looked at with ls -l, cat and unpack, and read back by umoci and
# skopeo; archives on standard input still imported as archives; escaping,
# unsupported and corrupt tars refused by name and byte, leaving no ref and
# nothing half-written in the store.
. "$(dirname "$0")/tap.sh"

need python3 skopeo umoci xz zstd
export KILN_CACHE_DIR="$out/cache"
S=$KILN_CACHE_DIR/store
unset SOURCE_DATE_EPOCH
is_root=
[ "$(id -u)" = 0 ] && is_root=1

# digest NAME: the digest in what `kiln import` printed into $out/NAME
digest() {
	sed -n 's/^[^@]*@//p' "$out/$1"
}

# ---- the tree and its tar ---------------------------------------------------------------
src=$out/src
mkdir -p "$src/etc" "$src/usr/bin" "$src/home/user/.config" "$src/tmp" "$src/dev"
printf 'root:x:0:0::/root:/bin/sh\n' >"$src/etc/passwd"
printf '#!/bin/sh\necho tool\n' >"$src/usr/bin/tool"
chmod 755 "$src/usr/bin/tool"
ln "$src/usr/bin/tool" "$src/usr/bin/tool-hard"
printf 'su' >"$src/usr/bin/su"
chmod 4755 "$src/usr/bin/su"
chmod 1777 "$src/tmp"
ln -s usr/bin "$src/bin"
ln -s ../../etc/passwd "$src/home/user/passwd-link"
printf 'mine\n' >"$src/home/user/notes"
chmod 600 "$src/home/user/notes"
printf 'x=1\n' >"$src/home/user/.config/rc"
mkfifo "$src/tmp/fifo"
chmod 644 "$src/tmp/fifo"
[ -n "$is_root" ] && mknod "$src/dev/null" c 1 3 && chmod 666 "$src/dev/null"
have_xattr=
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.kiln", b"hello")' \
	"$src/etc/passwd" 2>/dev/null && have_xattr=1
find "$src" -exec touch -h -d @1600000000 {} +

# what mmdebstrap writes: GNU tar, PAX headers (xattrs, atime), "./" names; the
# home directory appended with other owners
tar --format=pax --xattrs --numeric-owner --owner=0 --group=0 -C "$src" \
	--exclude=./home/user -cf "$out/root.tar" .
tar --format=pax --xattrs --numeric-owner --owner=1000 --group=1000 -C "$src" \
	-rf "$out/root.tar" ./home/user

# ---- the same tar, every way in: the same digests ---------------------------------------------
check "import a rootfs tar from a file" "$KILN" import "$out/root.tar" --tag kiln/rootfs:file
cp "$out/stdout" "$out/file"
if grep -qx 'docker.io/kiln/rootfs:file@sha256:[0-9a-f]\{64\}' "$out/file"; then
	ok "it prints NAME@DIGEST"
else
	not_ok "it prints NAME@DIGEST" "$(cat "$out/file")"
fi
"$KILN" import - --tag kiln/rootfs:stdin <"$out/root.tar" >"$out/redirect" 2>&1
cat "$out/root.tar" | "$KILN" import - --tag kiln/rootfs:pipe >"$out/pipe" 2>"$out/pipe.err"
gzip -c "$out/root.tar" | "$KILN" import - --tag kiln/rootfs:gz >"$out/gz" 2>&1
cat "$out/root.tar" | "$KILN" import --format rootfs - --tag kiln/rootfs:stream >"$out/stream" 2>&1
d=$(digest file)
if [ -n "$d" ] && [ "$(digest redirect)" = "$d" ] && [ "$(digest pipe)" = "$d" ] &&
	[ "$(digest gz)" = "$d" ] && [ "$(digest stream)" = "$d" ]; then
	ok "file, redirected and piped standard input, gzip, --format rootfs: one digest $d"
else
	not_ok "the same tar gives the same digest every way in" "$(cat "$out/file" \
		"$out/redirect" "$out/pipe" "$out/pipe.err" "$out/gz" "$out/stream")"
fi
zstd -q -c "$out/root.tar" >"$out/root.tar.zst"
xz -c "$out/root.tar" >"$out/root.tar.xz"
"$KILN" import "$out/root.tar.zst" --tag kiln/rootfs:zst >"$out/zst" 2>&1
"$KILN" import "$out/root.tar.xz" --tag kiln/rootfs:xz >"$out/xz" 2>&1
if [ "$(digest zst)" = "$d" ] && [ "$(digest xz)" = "$d" ]; then
	ok "zstd and xz files give the same digest"
else
	not_ok "zstd and xz files give the same digest" "$(cat "$out/zst" "$out/xz")"
fi
if [ -z "$(ls -A "$S/tmp")" ]; then
	ok "nothing is left in the store's tmp/ (spools are unnamed)"
else
	not_ok "nothing is left in the store's tmp/" "$(ls -A "$S/tmp")"
fi
SOURCE_DATE_EPOCH=1700000000 "$KILN" import "$out/root.tar" --tag kiln/rootfs:sde \
	--label org.opencontainers.image.source=https://example.com/kiln >"$out/sde" 2>&1
"$KILN" inspect --json kiln/rootfs:file >"$out/i1.json"
"$KILN" inspect --json kiln/rootfs:sde >"$out/i2.json"
if python3 - "$out/i1.json" "$out/i2.json" <<'EOF'; then
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["layers"][0]["digest"] == b["layers"][0]["digest"], "the layer changed"
assert a["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
assert a["config"]["created"] == "1970-01-01T00:00:00Z", a["config"]
assert b["config"]["created"] == "2023-11-14T22:13:20Z", b["config"]
assert b["config"]["labels"] == {
    "org.opencontainers.image.source": "https://example.com/kiln"}, b["config"]
assert len(a["layers"]) == 1
EOF
	ok "SOURCE_DATE_EPOCH and --label change the config only; the layer keeps its mtimes"
else
	not_ok "SOURCE_DATE_EPOCH and --label change the config only" "$(head -c 1500 "$out/i1.json")"
fi

# ---- ls, cat: owners, modes, links as in the tar ------------------------------------------------
"$KILN" ls -lR kiln/rootfs:file / >"$out/ls.txt" 2>&1
tr -s ' ' <"$out/ls.txt" >"$out/ls1.txt"
want() {
	grep -qxE -- "$1" "$out/ls1.txt" || echo "missing: $1"
}
t='2020-09-13 12:26'
missing=$(
	want "-rwsr-xr-x 0 0 2 $t usr/bin/su"
	want "-rwxr-xr-x 0 0 20 $t usr/bin/tool"
	want "-rwxr-xr-x 0 0 20 $t usr/bin/tool-hard"
	want "lrwxrwxrwx 0 0 0 $t bin -> usr/bin"
	want "drwxrwxrwt 0 0 0 $t tmp"
	want "prw-r--r-- 0 0 0 $t tmp/fifo"
	want "drwxr-xr-x 1000 1000 0 $t home/user"
	want "-rw------- 1000 1000 5 $t home/user/notes"
	want "lrwxrwxrwx 1000 1000 0 $t home/user/passwd-link -> \.\./\.\./etc/passwd"
	want "-rw-r--r-- 1000 1000 4 $t home/user/\.config/rc"
	if [ -n "$is_root" ]; then want "crw-rw-rw- 0 0 1, 3 $t dev/null"; fi
)
if [ -z "$missing" ]; then
	ok "ls -l shows the tar's owners, modes (setuid, sticky), mtimes, links, fifo, device"
else
	not_ok "ls -l shows the tar's owners, modes and links" "$missing" "$(cat "$out/ls.txt")"
fi
if "$KILN" cat kiln/rootfs:file /usr/bin/tool-hard | cmp -s - "$src/usr/bin/tool" &&
	"$KILN" cat kiln/rootfs:file /home/user/passwd-link | cmp -s - "$src/etc/passwd" &&
	"$KILN" cat kiln/rootfs:file /bin/su | cmp -s - "$src/usr/bin/su"; then
	ok "cat gives the files' bytes through the hard link and the symlinks"
else
	not_ok "cat gives the files' bytes"
fi

# ---- the layer itself: the tar's entries, in kiln's tar form ---------------------------------------
layer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][0]["digest"][7:])' \
	"$out/i1.json")
if python3 - "$S/blobs/sha256/$layer" "$out/root.tar" "$have_xattr" <<'EOF'; then
import sys, tarfile
layer, src, have_xattr = sys.argv[1], sys.argv[2], sys.argv[3]
def entries(t):
    return [(m.name.rstrip("/"), m.type, m.mode, m.uid, m.gid, m.mtime, m.size, m.linkname,
             m.devmajor, m.devminor) for m in t]
with tarfile.open(layer, "r:gz") as l, tarfile.open(src) as s:
    assert entries(l) == entries(s), (entries(l), entries(s))
with tarfile.open(layer, "r:gz") as l:
    m = l.getmember("./etc/passwd")
    if have_xattr:
        assert m.pax_headers.get("SCHILY.xattr.user.kiln") == "hello", m.pax_headers
    assert "atime" not in m.pax_headers and not m.uname, (m.pax_headers, m.uname)
    assert l.getmember("./usr/bin/tool-hard").islnk()
EOF
	ok "the layer holds the tar's entries in order, xattrs kept, atime and user names not"
else
	not_ok "the layer holds the tar's entries"
fi

# ---- unpack, umoci, skopeo -----------------------------------------------------------------------
# a tree as find sees it: path, type, mode, owner (as root), size, link target, mtime
describe() {
	if [ -n "$is_root" ]; then
		fmt='%P|%y|%m|%U:%G|%s|%l|%T@\n'
	else
		fmt='%P|%y|%m|%s|%l|%T@\n'
	fi
	# a directory's size is the file system's
	(cd "$1" && find . -mindepth 1 ! -path ./dev/null -printf "$fmt" |
		awk -F'|' -v OFS='|' '$2 == "d" { $(NF - 2) = "-" } 1' | LC_ALL=C sort)
}
mkdir "$out/x"
tar --numeric-owner -C "$out/x" -xpf "$out/root.tar" 2>/dev/null
# GNU tar leaves home/ with the time home/user was made in it, not the tar's
touch -d @1600000000 "$out/x/home"
describe "$out/x" >"$out/want.txt"
check "unpack" "$KILN" unpack kiln/rootfs:file "$out/unpacked"
describe "$out/unpacked" >"$out/got.txt"
if cmp -s "$out/want.txt" "$out/got.txt" &&
	[ "$(stat -c %h "$out/unpacked/usr/bin/tool-hard")" = 2 ]; then
	ok "the unpacked tree is what GNU tar extracts (modes, owners, times, links)"
else
	not_ok "the unpacked tree is what GNU tar extracts" \
		"$(diff "$out/want.txt" "$out/got.txt" | head)"
fi
if [ -n "$have_xattr" ]; then
	if python3 -c 'import os, sys; assert os.getxattr(sys.argv[1], "user.kiln") == b"hello"' \
		"$out/unpacked/etc/passwd"; then
		ok "the extended attribute is unpacked"
	else
		not_ok "the extended attribute is unpacked"
	fi
else
	# a property of the file system $TMPDIR is on (tmpfs before Linux 6.6), not a package
	ok "the extended attribute is unpacked # SKIP no user xattrs on this file system"
fi

rootless=--rootless
[ -n "$is_root" ] && rootless=
# shellcheck disable=SC2086
if umoci unpack $rootless --image "$S:docker.io/kiln/rootfs:file" "$out/bundle" \
	>"$out/umoci.log" 2>&1; then
	describe "$out/bundle/rootfs" >"$out/umoci.txt"
	if cmp -s "$out/want.txt" "$out/umoci.txt"; then
		ok "umoci unpacks the image from kiln's store into what GNU tar extracts"
	else
		not_ok "umoci unpacks the image into what GNU tar extracts" \
			"$(diff "$out/want.txt" "$out/umoci.txt" | head)"
	fi
else
	not_ok "umoci unpacks the image from kiln's store" "$(tail -5 "$out/umoci.log")"
fi
if skopeo --insecure-policy copy "oci:$S:docker.io/kiln/rootfs:file" \
	"docker-archive:$out/sk.tar:kiln/from-skopeo:v1" >"$out/sk.log" 2>&1 &&
	KILN_CACHE_DIR=$out/cache2 "$KILN" import "$out/sk.tar" >"$out/sk-imp" 2>&1 &&
	KILN_CACHE_DIR=$out/cache2 "$KILN" ls -lR kiln/from-skopeo:v1 / | cmp -s - "$out/ls.txt"
then
	ok "skopeo copies the image (digests checked) into a docker-archive kiln reads back"
else
	not_ok "skopeo copies the image" "$(tail -5 "$out/sk.log")" "$(cat "$out/sk-imp")"
fi

# ---- archives on standard input are still archives -------------------------------------------------
"$KILN" export kiln/rootfs:file -o "$out/docker.tar"
"$KILN" export kiln/rootfs:file -o "$out/oci.tar" --format oci-archive
if gzip -c "$out/oci.tar" | KILN_CACHE_DIR=$out/cache3 "$KILN" import - >"$out/arch" 2>&1 &&
	grep -qx "docker.io/kiln/rootfs:file@$d" "$out/arch" &&
	cat "$out/docker.tar" | KILN_CACHE_DIR=$out/cache3 "$KILN" import - --tag kiln/d:1 \
		>"$out/arch2" 2>&1 &&
	KILN_CACHE_DIR=$out/cache3 "$KILN" ls -lR kiln/d:1 / | cmp -s - "$out/ls.txt"; then
	ok "oci-archive (gzipped) and docker-archive on standard input are imported as archives"
else
	not_ok "archives on standard input are archives" "$(cat "$out/arch" "$out/arch2")"
fi
expect_fail "--label is refused for an archive" 2 'rootfs tar, and .* is an oci-archive' \
	"$KILN" import "$out/docker.tar" --label a=b
expect_fail "--format rootfs takes an archive as a plain tar, which needs a name" 2 \
	'is a rootfs tar, which needs a name: --tag REF' \
	"$KILN" import --format rootfs "$out/docker.tar"
expect_fail "a rootfs tar needs --tag" 2 'needs a name: --tag REF' "$KILN" import "$out/root.tar"
expect_fail "--owner is for directories" 2 'are for directories' \
	"$KILN" import "$out/root.tar" --tag kiln/x:1 --owner 1:1

# ---- refusals: nothing stored ------------------------------------------------------------------------
blobs_before=$(ls "$S/blobs/sha256" | wc -l)
mkdir -p "$out/evil/d"
printf 'x' >"$out/evil/f"
ln -s / "$out/evil/up"
ln -s ../../.. "$out/evil/d/back"
# refused NAME PATTERN TAR-ARGS...: from the file and from a pipe, exit 1 naming the entry
refused() {
	name=$1 pattern=$2
	shift 2
	(cd "$out/evil" && tar -cf "$out/$name.tar" "$@") 2>/dev/null
	expect_fail "refused from a file: $name" 1 "import '.*$name.tar': $pattern" \
		"$KILN" import "$out/$name.tar" --tag "kiln/evil:$name"
	expect_fail "refused from a pipe: $name" 1 "import from standard input: $pattern" \
		sh -c 'cat "$1" | "$2" import - --tag "kiln/evil:$3"' - "$out/$name.tar" "$KILN" "$name"
	expect_fail "no ref left: $name" 1 'no image named' "$KILN" ls "kiln/evil:$name"
}
refused dotdot 'tar, at byte 0: entry "\.\./x": a "\.\." component \(an image layer cannot hold it' \
	-P --transform 's,^f$,../x,' f
refused inner-dotdot 'tar, at byte 0: entry "a/\.\./\.\./x": a "\.\." component' \
	-P --transform 's,^f$,a/../../x,' f
refused absolute 'tar, at byte 0: entry "/etc/kiln-x": an absolute path' \
	-P --transform 's,^f$,/etc/kiln-x,' f
refused through-symlink \
	'tar, at byte 512: entry "up/etc/x" goes through symlink "up" -> "/" which leaves the image root' \
	--transform 's,^f$,up/etc/x,' up f
refused through-relative-symlink \
	'tar, at byte 512: entry "d/back/x" goes through symlink "d/back" -> "\.\./\.\./\.\." which leaves the image root' \
	--transform 's,^f$,d/back/x,' d/back f
# g, then h as a hard link to it, whose target is renamed to what is not there
ln "$out/evil/f" "$out/evil/g"
refused hardlink-to-nothing 'tar, at byte 1024: hard link "h" to "nope": no such file' \
	--transform 's,^g$,nope,RSh' --transform 's,^f$,h,' g f
truncate -s 1M "$out/evil/sparse"
refused sparse 'tar, at byte [0-9]+: sparse files are not supported' --sparse sparse
head -c 1700 "$out/root.tar" >"$out/cut.tar"
expect_fail "a truncated tar is corrupt, with the byte" 1 'tar, at byte [0-9]+: truncated archive' \
	"$KILN" import "$out/cut.tar" --tag kiln/evil:cut
expect_fail "empty standard input" 1 'standard input holds no tar entries' \
	sh -c ': | "$1" import - --tag kiln/evil:empty' - "$KILN"
if [ "$(ls "$S/blobs/sha256" | wc -l)" = "$blobs_before" ] && [ -z "$(ls -A "$S/tmp")" ]; then
	ok "refused imports store no blob and leave nothing in tmp/"
else
	not_ok "refused imports store nothing" "$blobs_before blobs before" \
		"$(ls "$S/blobs/sha256" | wc -l) after" "$(ls -A "$S/tmp")"
fi

check "import --help" "$KILN" import --help
if grep -q 'rootfs' "$out/stdout" && grep -q 'FILE|DIR|-' "$out/stdout"; then
	ok "import --help tells of the three kinds and standard input"
else
	not_ok "import --help tells of rootfs tars"
fi

done_testing
