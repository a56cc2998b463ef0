#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Layers and archives against real tools: a directory imported into the
# store, looked at (ls, cat), unpacked, exported as oci-archive and
# docker-archive; umoci unpacks kiln's OCI layouts, skopeo reads kiln's
# docker-archive and writes archives kiln imports; the same tree gives the
# same digests; hostile layers are refused and write nothing outside.
. "$(dirname "$0")/tap.sh"

export KILN_CACHE_DIR="$out/cache"
unset SOURCE_DATE_EPOCH
need skopeo umoci python3
skopeo_() { skopeo --insecure-policy "$@"; }

# What a tree is, for comparing two: path, type, mode, size, link target,
# then a hash of every regular file (a fifo or link has no content to hash).
describe() {
	(cd "$1" && find . -mindepth 1 -printf '%P|%y|%m|%s|%l\n' | grep -v '^\.kiln' |
		sed 's/^\([^|]*\)|d|\([0-9]*\)|[0-9]*|/\1|d|\2|-|/' | LC_ALL=C sort &&
		find . -type f -exec sha256sum {} + | LC_ALL=C sort -k 2)
}

same_tree() {
	describe "$1" >"$out/a.txt"
	describe "$2" >"$out/b.txt"
	cmp -s "$out/a.txt" "$out/b.txt"
}

# ---- a source tree with every kind of entry ---------------------------------
src=$out/src
mkdir -p "$src/bin" "$src/etc/ssl" "$src/usr/lib/modules" "$src/empty" "$src/tmp"
printf 'root:x:0:0::/root:/bin/sh\n' >"$src/etc/passwd"
head -c 300000 /dev/urandom >"$src/usr/lib/blob.bin"
printf '#!/bin/sh\necho hi\n' >"$src/bin/tool"
chmod 755 "$src/bin/tool"
printf 'su' >"$src/bin/su"
chmod 4755 "$src/bin/su"
chmod 1777 "$src/tmp"
ln "$src/etc/passwd" "$src/etc/passwd.hard"
ln -s ../etc/passwd "$src/bin/passwd-link"
ln -s /usr/lib "$src/lib"
mkfifo "$src/tmp/fifo"
long=$src/usr/lib/modules/$(printf 'd%.0s' $(seq 1 60))/$(printf 'e%.0s' $(seq 1 60))
mkdir -p "$long"
printf 'deep' >"$long/$(printf 'f%.0s' $(seq 1 80)).ko"
printf 'space' >"$src/etc/with space"

# ---- import, determinism --------------------------------------------------------
check "import a directory" "$KILN" import "$src" --tag kiln/test:v1
d1=$(sed 's/.*@//' "$out/stdout")
"$KILN" import "$src" --tag kiln/test:v2 >"$out/v2" 2>&1
d2=$(sed 's/.*@//' "$out/v2")
cp -a "$src" "$out/src-copy"
touch -d '2001-02-03' "$out/src-copy/etc/passwd" "$out/src-copy/bin"
"$KILN" import "$out/src-copy" --tag kiln/test:copy >"$out/v3" 2>&1
d3=$(sed 's/.*@//' "$out/v3")
if [ -n "$d1" ] && [ "$d1" = "$d2" ] && [ "$d1" = "$d3" ]; then
	ok "the same tree (copied elsewhere, other mtimes) gives the same digest $d1"
else
	not_ok "the same tree gives the same digest" "$d1" "$d2" "$d3"
fi
SOURCE_DATE_EPOCH=1700000000 "$KILN" import "$src" --tag kiln/test:sde >"$out/v4" 2>&1
d4=$(sed 's/.*@//' "$out/v4")
if [ -n "$d4" ] && [ "$d4" != "$d1" ] && "$KILN" ls -l kiln/test:sde /etc/passwd |
	grep -q ' 2023-11-14 22:13 '; then
	ok "SOURCE_DATE_EPOCH sets every mtime"
else
	not_ok "SOURCE_DATE_EPOCH sets every mtime" "$d4" "$("$KILN" ls -l kiln/test:sde /etc 2>&1)"
fi
check "import with zstd" "$KILN" import "$src" --tag kiln/test:zstd --compression zstd \
	--label org.opencontainers.image.source=https://example.com/kiln

# ---- ls, cat ------------------------------------------------------------------------
"$KILN" ls -R kiln/test:v1 | LC_ALL=C sort >"$out/ls.txt"
(cd "$src" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) >"$out/find.txt"
if cmp -s "$out/ls.txt" "$out/find.txt"; then
	ok "ls -R lists exactly what find lists ($(wc -l <"$out/ls.txt") entries)"
else
	not_ok "ls -R lists what find lists" "$(diff "$out/find.txt" "$out/ls.txt" | head)"
fi
"$KILN" ls -l kiln/test:v1 /bin >"$out/ls-l.txt"
if grep -q '^-rwsr-xr-x 0 0 *2 1970-01-01 00:00 su$' "$out/ls-l.txt" &&
	grep -q '^lrwxrwxrwx .* passwd-link -> ../etc/passwd$' "$out/ls-l.txt" &&
	"$KILN" ls -l kiln/test:v1 /tmp | grep -q '^prw-r--r-- .* fifo$' &&
	"$KILN" ls -l kiln/test:v1 / | grep -q '^drwxrwxrwt .* tmp$'; then
	ok "ls -l shows modes, owners, sizes, times and link targets as ls does"
else
	not_ok "ls -l shows modes as ls does" "$(cat "$out/ls-l.txt")"
fi
for img in kiln/test:v1 kiln/test:zstd; do
	if "$KILN" cat "$img" /usr/lib/blob.bin | cmp -s - "$src/usr/lib/blob.bin" &&
		"$KILN" cat "$img" /bin/passwd-link | cmp -s - "$src/etc/passwd" &&
		"$KILN" cat "$img" /lib/blob.bin | cmp -s - "$src/usr/lib/blob.bin" &&
		"$KILN" cat "$img" /etc/passwd.hard | cmp -s - "$src/etc/passwd"; then
		ok "cat $img gives the files' bytes (through symlinks and hard links)"
	else
		not_ok "cat $img gives the files' bytes"
	fi
done
"$KILN" ls -R --json kiln/test:v1 >"$out/ls.json"
if python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
by = {e["path"]: e for e in v}
assert by["/bin/su"]["mode"] == "4755" and by["/bin/su"]["type"] == "file"
assert by["/lib"]["target"] == "/usr/lib" and by["/tmp/fifo"]["type"] == "fifo"
assert len(v) == int(sys.argv[2])
' "$out/ls.json" "$(wc -l <"$out/find.txt")"; then
	ok "ls --json describes every entry"
else
	not_ok "ls --json describes every entry" "$(head -c 600 "$out/ls.json")"
fi
expect_fail "cat of a directory" 1 'is a directory' "$KILN" cat kiln/test:v1 /etc
expect_fail "ls of a missing path" 1 'no such file' "$KILN" ls kiln/test:v1 /nope
expect_fail "ls of a missing image" 1 'no image named' "$KILN" ls kiln/nope:1
expect_fail "ls without a ref" 2 'expected REF' "$KILN" ls

# ---- unpack ----------------------------------------------------------------------------
check "unpack" "$KILN" unpack kiln/test:v1 "$out/unpacked"
if same_tree "$src" "$out/unpacked" &&
	[ "$(stat -c %h "$out/unpacked/etc/passwd.hard")" = 2 ]; then
	ok "the unpacked tree is the source tree (modes, links, contents)"
else
	not_ok "the unpacked tree is the source tree" "$(diff "$out/a.txt" "$out/b.txt" | head)"
fi
expect_fail "unpack into a non-empty directory" 1 'not empty' \
	"$KILN" unpack kiln/test:v1 "$out/unpacked"

# ---- exports: deterministic ---------------------------------------------------------------
check "export oci-archive" "$KILN" export kiln/test:v1 -o "$out/oci.tar" --format oci-archive
check "export docker-archive" "$KILN" export kiln/test:v1 -o "$out/docker.tar"
"$KILN" export kiln/test:v1 -o "$out/docker2.tar"
"$KILN" export kiln/test:v1 -o "$out/oci2.tar" --format oci-archive
if cmp -s "$out/docker.tar" "$out/docker2.tar" && cmp -s "$out/oci.tar" "$out/oci2.tar"; then
	ok "exports are byte for byte the same each time"
else
	not_ok "exports are byte for byte the same each time"
fi
if tar -xOf "$out/docker.tar" manifest.json | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert len(m) == 1 and m[0]["RepoTags"] == ["kiln/test:v1"]
assert m[0]["Config"].startswith("blobs/sha256/")
assert all(l.startswith("blobs/sha256/") for l in m[0]["Layers"])
' && [ -z "$(ls -A "$out" | grep -E '\.tmp\.|\.kiln-')" ]; then
	ok "docker-archive: manifest.json with RepoTags and blob paths; no temporary files left"
else
	not_ok "docker-archive: manifest.json" "$(tar -xOf "$out/docker.tar" manifest.json)"
fi

# ---- umoci ------------------------------------------------------------------------------------
# umoci_unpacks NAME IMAGE BUNDLE: umoci unpacks IMAGE (digests and diff_ids checked) into
# BUNDLE, whose rootfs is the source tree
umoci_unpacks() {
	if umoci unpack --rootless --image "$2" "$3" >"$out/umoci.log" 2>&1 &&
		same_tree "$src" "$3/rootfs"; then
		ok "$1"
	else
		not_ok "$1" "$(tail -5 "$out/umoci.log")" "$(diff "$out/a.txt" "$out/b.txt" | head)"
	fi
}

mkdir "$out/layout"
tar -xf "$out/oci.tar" -C "$out/layout"
umoci_unpacks "umoci unpacks kiln's oci-archive (digests and diff_ids checked) into the source tree" \
	"$out/layout:docker.io/kiln/test:v1" "$out/bundle"
umoci_unpacks "umoci unpacks straight from kiln's store" \
	"$KILN_CACHE_DIR/store:docker.io/kiln/test:v1" "$out/bundle-store"

# ---- skopeo -----------------------------------------------------------------------------------
check "skopeo copies kiln's docker-archive" \
	skopeo_ copy "docker-archive:$out/docker.tar" "oci:$out/sk-layout:v1"
check "and reads the copy" skopeo_ inspect --raw "oci:$out/sk-layout:v1"
check "skopeo finds the image in kiln's docker-archive by its RepoTag" \
	skopeo_ copy "docker-archive:$out/docker.tar:kiln/test:v1" "oci:$out/sk-layout2:v1"
umoci_unpacks "kiln docker-archive -> skopeo -> umoci gives the source tree" \
	"$out/sk-layout:v1" "$out/bundle-sk"
check "skopeo reads kiln's docker-archive as an oci-archive too (the dual form)" \
	skopeo_ copy "oci-archive:$out/docker.tar:docker.io/kiln/test:v1" "oci:$out/sk-layout3:v1"
# and back: archives skopeo writes, imported by kiln
skopeo_ copy "oci:$out/sk-layout:v1" "docker-archive:$out/sk-docker.tar:kiln/from-skopeo:v1" \
	>"$out/sk.log" 2>&1
skopeo_ copy "oci-archive:$out/oci.tar:docker.io/kiln/test:v1" \
	"oci-archive:$out/sk-oci.tar:skopeo-tag" >>"$out/sk.log" 2>&1
if "$KILN" import "$out/sk-docker.tar" >"$out/imp1" 2>&1 &&
	grep -q '^docker.io/kiln/from-skopeo:v1@sha256:' "$out/imp1" &&
	"$KILN" import "$out/sk-oci.tar" --tag kiln/from-skopeo-oci:v1 >"$out/imp2" 2>&1 &&
	"$KILN" unpack kiln/from-skopeo:v1 "$out/un-sk1" && same_tree "$src" "$out/un-sk1" &&
	"$KILN" unpack kiln/from-skopeo-oci:v1 "$out/un-sk2" && same_tree "$src" "$out/un-sk2" &&
	"$KILN" cat kiln/from-skopeo:v1 /usr/lib/blob.bin | cmp -s - "$src/usr/lib/blob.bin"; then
	ok "skopeo's docker-archive and oci-archive import into kiln (diff_ids checked)"
else
	not_ok "skopeo's archives import into kiln" "$(cat "$out/imp1" "$out/imp2")" \
		"$(tail -3 "$out/sk.log")"
fi
"$KILN" export kiln/test:zstd -o "$out/zstd-docker.tar"
if skopeo_ copy "docker-archive:$out/zstd-docker.tar" "oci:$out/sk-zstd:v1" >"$out/sk.log" 2>&1 &&
	tar -xOf "$out/zstd-docker.tar" manifest.json | grep -q '"Layers":\["blobs/sha256/'; then
	ok "a zstd image exports as a docker-archive of plain tars that skopeo reads"
else
	not_ok "a zstd image exports as a docker-archive" "$(tail -3 "$out/sk.log")"
fi

# ---- kiln's own archives, round trip into another store ------------------------------------------
oci_digest=$(tar -xOf "$out/oci.tar" index.json | python3 -c \
	'import json,sys; print(json.load(sys.stdin)["manifests"][0]["digest"])')
dock_digest=$(tar -xOf "$out/docker.tar" index.json | python3 -c \
	'import json,sys; print(json.load(sys.stdin)["manifests"][0]["digest"])')
if KILN_CACHE_DIR="$out/cache2" "$KILN" import "$out/oci.tar" >"$out/rt1" 2>&1 &&
	grep -qx "docker.io/kiln/test:v1@$oci_digest" "$out/rt1" && [ "$oci_digest" = "$d1" ] &&
	KILN_CACHE_DIR="$out/cache2" "$KILN" import "$out/docker.tar" --tag kiln/rt:docker \
		>"$out/rt2" 2>&1 && grep -qx "docker.io/kiln/rt:docker@$dock_digest" "$out/rt2" &&
	KILN_CACHE_DIR="$out/cache2" "$KILN" import --format docker-archive "$out/docker.tar" \
		--tag kiln/rt:manifest-json >"$out/rt3" 2>&1 &&
	KILN_CACHE_DIR="$out/cache2" "$KILN" unpack kiln/rt:manifest-json "$out/un-rt" &&
	same_tree "$src" "$out/un-rt"; then
	ok "kiln's archives import into another store with their digests"
else
	not_ok "kiln's archives import into another store" "$(cat "$out/rt1" "$out/rt2" "$out/rt3")"
fi

# ---- hostile layers ------------------------------------------------------------------------------
# A docker-archive around a layer made by Python's tarfile, which writes what it is told.
hostile() {
	python3 - "$out/$1.tar" "$2" <<'EOF'
import hashlib, io, json, sys, tarfile
path, spec = sys.argv[1], json.loads(sys.argv[2])
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name, kind, arg in spec:
        ti = tarfile.TarInfo(name)
        ti.type = {"file": tarfile.REGTYPE, "sym": tarfile.SYMTYPE, "dir": tarfile.DIRTYPE,
                   "link": tarfile.LNKTYPE, "char": tarfile.CHRTYPE}[kind]
        if kind == "dir":
            ti.mode = 0o755
            t.addfile(ti)
        elif kind == "file":
            ti.size = len(arg)
            t.addfile(ti, io.BytesIO(arg.encode()))
        else:
            ti.linkname = arg
            if kind == "char":
                ti.devmajor, ti.devminor, ti.linkname = 1, 3, ""
            t.addfile(ti)
data = layer.getvalue()
diff = "sha256:" + hashlib.sha256(data).hexdigest()
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
cid = hashlib.sha256(config).hexdigest()
with tarfile.open(path, "w") as t:
    for name, blob in ((cid + ".json", config), ("layer.tar", data),
                       ("manifest.json", json.dumps([{"Config": cid + ".json",
                        "RepoTags": ["kiln/hostile:x"], "Layers": ["layer.tar"]}]).encode())):
        ti = tarfile.TarInfo(name)
        ti.size = len(blob)
        t.addfile(ti, io.BytesIO(blob))
EOF
	KILN_CACHE_DIR="$out/hostile-cache" "$KILN" import "$out/$1.tar" --tag "kiln/hostile:$1" \
		>/dev/null 2>&1
}

marker=kiln-escape-$$
refused() {
	name=$1 pattern=$2
	hostile "$name" "$3"
	rm -rf "$out/h"
	mkdir "$out/h"
	KILN_CACHE_DIR="$out/hostile-cache" "$KILN" unpack "kiln/hostile:$name" "$out/h/root" \
		>"$out/h.out" 2>"$out/h.err"
	rc=$?
	KILN_CACHE_DIR="$out/hostile-cache" "$KILN" ls -R "kiln/hostile:$name" >/dev/null \
		2>"$out/h.ls"
	rc_ls=$?
	if [ "$rc" -eq 1 ] && [ "$rc_ls" -eq 1 ] && grep -qE -- "$pattern" "$out/h.err" &&
		grep -qE -- "$pattern" "$out/h.ls" && [ -z "$(ls -A "$out/h")" ] &&
		[ ! -e "/$marker" ] && [ ! -e "$out/$marker" ]; then
		ok "refused, nothing written: $name"
	else
		not_ok "refused, nothing written: $name" "unpack $rc, ls $rc_ls" \
			"$(cat "$out/h.err" "$out/h.ls")" "$(ls -A "$out/h")"
	fi
}
refused traversal '"\.\."' "[[\"../$marker\", \"file\", \"x\"]]"
refused traversal-inner '"\.\."' "[[\"a/../../$marker\", \"file\", \"x\"]]"
refused absolute 'absolute' "[[\"/$marker\", \"file\", \"x\"]]"
refused hardlink-out '"\.\."' "[[\"h\", \"link\", \"../../../../etc/passwd\"]]"
refused hardlink-missing 'no such file' "[[\"h\", \"link\", \"etc/passwd\"]]"
refused symlink-dangling '[Nn]o such file' \
	"[[\"a\", \"sym\", \"/nonexistent-$marker/x\"], [\"a/y\", \"file\", \"x\"]]"

# A write through a symlink that leaves the root is refused, whatever is below it.
leaves='which leaves the image root; refusing it'
refused symlink-root "layer 1 .*: entry \"a/$marker\" goes through symlink \"a\" -> \"/\" $leaves" \
	"[[\"a\", \"sym\", \"/\"], [\"a/$marker\", \"file\", \"x\"]]"
refused symlink-up \
	"entry \"up/$marker\" goes through symlink \"up\" -> \"\.\./\.\./\.\.\" $leaves" \
	"[[\"up\", \"sym\", \"../../..\"], [\"up/$marker\", \"file\", \"x\"]]"
refused symlink-nested "entry \"x/$marker\" goes through symlink \"d/a\" -> \"//\" $leaves" \
	"[[\"d/a\", \"sym\", \"//\"], [\"x\", \"sym\", \"d/a/tmp\"],
	[\"x/$marker\", \"file\", \"x\"]]"
refused hardlink-symlink-root \
	"hard link \"h\" to \"a/etc/passwd\" goes through symlink \"a\" -> \"/\"" \
	"[[\"a\", \"sym\", \"/\"], [\"h\", \"link\", \"a/etc/passwd\"]]"

# Other symlinks may point anywhere, absolute ones too: what goes through them lands
# inside the target, as in the container. Symlinks that leave the root are only data
# while nothing is written through them.
hostile inside "[[\"run\", \"dir\", \"\"], [\"var/run\", \"sym\", \"/run\"],
	[\"a\", \"sym\", \"/\"], [\"up\", \"sym\", \"../../../..\"],
	[\"var/run/$marker\", \"file\", \"in\"], [\"dev/null\", \"char\", \"\"]]"
rm -rf "$out/h"
mkdir "$out/h"
if KILN_CACHE_DIR="$out/hostile-cache" "$KILN" unpack kiln/hostile:inside "$out/h/root" \
	>/dev/null 2>"$out/h.err" && [ "$(cat "$out/h/root/run/$marker")" = in ] &&
	[ -L "$out/h/root/var/run" ] && [ ! -e "/run/$marker" ] && [ ! -e "/$marker" ] &&
	[ "$(ls -A "$out/h")" = root ] && [ ! -e "$out/h/root/dev/null" ] &&
	grep -q 'device files not created' "$out/h.err"; then
	ok "a write through var/run -> /run lands in the target's run; devices skipped"
else
	not_ok "a write through var/run -> /run lands inside" "$(cat "$out/h.err")" \
		"$(ls -AR "$out/h")"
fi
# looking a path up follows every symlink inside the image, those that leave the root too
if [ "$(KILN_CACHE_DIR="$out/hostile-cache" "$KILN" cat kiln/hostile:inside \
	"/a/up/var/run/$marker" 2>"$out/h.err")" = in ]; then
	ok "cat follows symlinks to / and ../.. inside the image"
else
	not_ok "cat follows symlinks inside the image" "$(cat "$out/h.err")"
fi
rm -f "/run/$marker" "/$marker"

# a corrupt blob in the store is found, not shown
cp -a "$KILN_CACHE_DIR" "$out/corrupt-cache"
layer=$(KILN_CACHE_DIR="$out/corrupt-cache" "$KILN" inspect --json kiln/test:v1 |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"][7:])')
blob=$out/corrupt-cache/store/blobs/sha256/$layer
chmod u+w "$blob"
flip_byte "$blob" 100
KILN_CACHE_DIR="$out/corrupt-cache" expect_fail "a corrupt layer is refused by ls" 1 \
	'corrupt|does not match' "$KILN" ls -R kiln/test:v1
KILN_CACHE_DIR="$out/corrupt-cache" expect_fail "a corrupt layer is refused by export" 1 \
	'corrupt|does not match' "$KILN" export kiln/test:v1 -o "$out/never.tar"
if [ ! -e "$out/never.tar" ] && [ -z "$(ls -A "$out" | grep 'never\.tar\.')" ]; then
	ok "a failed export leaves no file"
else
	not_ok "a failed export leaves no file" "$(ls "$out")"
fi

# ---- usage and help ---------------------------------------------------------------------------------
for c in import export ls cat unpack; do
	check "$c --help" "$KILN" "$c" --help
done
expect_fail "import of a directory needs --tag" 2 'needs a name' "$KILN" import "$src"
expect_fail "export needs -o" 2 '-o FILE' "$KILN" export kiln/test:v1
expect_fail "export with an unknown format" 2 'docker-archive or oci-archive' \
	"$KILN" export kiln/test:v1 -o x --format zip
expect_fail "import of what is not there" 1 "import '/nonexistent'" "$KILN" import /nonexistent
printf 'not a tar at all, just text that goes on for a while ...' >"$out/junk"
expect_fail "import of a file that is not an archive" 1 'tar' "$KILN" import "$out/junk" --tag x:y

done_testing
