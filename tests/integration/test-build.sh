#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kiln build against the real sandbox: tests/data/build-tree (a base stage
# over a busybox image imported from a directory, two stages on it, one on
# both, and packages that probe isolation, network, sources, secrets,
# failures and kills).
set -u
. "$(dirname "$0")/tap.sh"

: "${KILN:?}" "${SRCDIR:?}"
. "$SRCDIR/tests/integration/lib-registry.sh"

work=$(mktemp -d)
tmp=$work # for lib-registry.sh
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$work" "$out"
}
trap cleanup EXIT

# what kiln build needs: a failure, not a skip, where it is missing
if [ "$(id -u)" -ne 0 ] && ! unshare -U -r -m true 2>/dev/null; then
	bail_out "neither root nor user namespaces: kiln build cannot run here"
fi
[ -x /bin/busybox ] || bail_out "no /bin/busybox (busybox-static): run scripts/install-deps.sh"
need docker-registry skopeo htpasswd chromium dot

export KILN_CACHE_DIR=$work/cache
export KILN_TEST_LEAK=must-not-be-seen
unset SOURCE_DATE_EPOCH

tree=$work/tree
cp -r "$SRCDIR/tests/data/build-tree" "$tree"

# the base image: a directory with a static busybox
rootfs=$work/busybox
mkdir -p "$rootfs/bin" "$rootfs/usr/bin" "$rootfs/sbin" "$rootfs/tmp" "$rootfs/etc"
cp /bin/busybox "$rootfs/bin/busybox"
for app in $(/bin/busybox --list); do
	[ -e "$rootfs/bin/$app" ] || ln -s busybox "$rootfs/bin/$app"
done
check "import the busybox base image from a directory" \
	"$KILN" import "$rootfs" --tag kiln-test/busybox:1

kb() {
	"$KILN" -C "$tree" build --progress plain "$@"
}
# the report of a build, opened in chromium (check-report.py), and its trace
report() {
	python3 "$SRCDIR/tests/integration/check-report.py" "$work/$1.html" \
		--screenshot "$work/$1.png" "${@:2}"
}
trace() {
	python3 "$SRCDIR/tests/integration/check-trace.py" "$work/$1.json" "${@:2}"
}

# ---- the four-stage tree ----

check "build top: base, left, right and top" kb top --report "$work/first.html" \
	--trace "$work/first.json"
cp "$out/stderr" "$work/first.log"
cp "$out/stdout" "$work/first.out"
ref=$(cat "$work/first.out")
check "it prints top:TAG@sha256:..." grep -qE '^top:latest@sha256:[0-9a-f]{64}$' "$work/first.out"
check "_out/images.json records it" grep -q "\"top:latest\"" "$tree/_out/images.json"
check "a log per stage in _out/logs" test -s "$tree/_out/logs/left.log" -a -s "$tree/_out/logs/top.log"
check "4 stages built" grep -q '4 stages: 4 built, 0 cached' "$work/first.log"
check "its report in chromium: every stage built, on the graph and the timeline, nothing logged" \
	report first --built base --built left --built right --built top
check "its trace: the trace event format, a span a stage, its steps nested in it" \
	trace first --stage base --stage left --stage right --stage top --steps top
printf '<html><body><img src="nosuch.png"><script>console.error("x")</script></body></html>' \
	>"$work/noisy.html"
check "a page that logs to the console or loads a missing file is caught" \
	report noisy --any-problem

check "export top with -o" kb top -o "$work/top-out"
check "top's combined file is left's data, left's side and right's side" \
	diff <(printf 'left data, version 1\nleft base x86_64\nright hello from kiln\n') \
	"$work/top-out/usr/share/top/combined.txt"
check "a finalize file copied into a directory" \
	diff <(echo "base x86_64") "$work/top-out/usr/share/top/base-release"
check "the output holds finalize's paths only" \
	bash -c "[ \"\$(ls '$work/top-out')\" = usr ]"
check "export of several targets with -o: one directory each" \
	kb left top -o "$work/multi-out"
check "each target's files in DIR/TARGET" \
	bash -c "[ \"\$(ls '$work/multi-out')\" = 'left
top' ] && diff -r '$work/top-out' '$work/multi-out/top'"
touch "$work/multi-out/top/stale"
check "exporting again replaces a target's directory whole" kb left top -o "$work/multi-out"
check "so nothing of the old export is left" test ! -e "$work/multi-out/top/stale"
check "kiln cat reads the target's image" "$KILN" cat top:latest /usr/share/top/combined.txt
right_ref=$(kb right 2>/dev/null)
"$KILN" cat "$right_ref" /usr/share/right/greeting.txt >"$work/greeting.txt" 2>&1
check "a template rendered with the tree's variables reached /pkg" \
	grep -qx "hello from kiln on x86_64" "$work/greeting.txt"
check "left's test phase ran but its changes are gone" \
	bash -c "! \"$KILN\" ls \"\$(\"$KILN\" -C '$tree' build --progress quiet left)\" /usr/share/left/made-by-test 2>/dev/null"
left_ref=$(kb left 2>/dev/null)
"$KILN" ls -l "$left_ref" /usr/share/left >"$work/left-ls.txt" 2>&1
check "outputs are owned by 0:0 with mtime SOURCE_DATE_EPOCH (0)" \
	grep -qE '^-rw-r--r-- +0 +0 .*1970-01-01.*side.txt' "$work/left-ls.txt"

# ---- the cache ----

kb top --report "$work/noop.html" >"$work/noop.out" 2>"$work/noop.log"
check "a no-op rebuild does no stage work" grep -q '4 stages: 0 built, 4 cached' "$work/noop.log"
check "and gives the same reference" diff <(echo "$ref") "$work/noop.out"
check "its report marks every stage a cache hit" \
	report noop --cached base --cached left --cached right --cached top

echo "left data, version 2" >"$tree/left/data.txt"
kb top --report "$work/edit.html" --trace "$work/edit.json" >"$work/edit.out" 2>"$work/edit.log"
check "editing left's file rebuilds left and top only" \
	grep -q '4 stages: 2 built, 2 cached' "$work/edit.log"
check "left was built" grep -q 'left: built' "$work/edit.log"
check "top was built" grep -q 'top: built' "$work/edit.log"
check "base came from the cache" grep -q 'base: cached' "$work/edit.log"
check "right came from the cache" grep -q 'right: cached' "$work/edit.log"
check "the new data reached top" bash -c "\"$KILN\" cat top:latest /usr/share/top/combined.txt | grep -q 'version 2'"
check "its report: left and top built, base and right cache hits" \
	report edit --built left --built top --cached base --cached right
check "its trace: spans for the cache hits too" trace edit --stage base --stage top --steps left
check "without graphviz's dot the report is written, saying why it has no graph" \
	bash -c "PATH=/nonexistent '$KILN' -C '$tree' build --progress quiet top \
		--report '$work/no-dot.html' 2>&1 | grep -q 'no stage graph: graphviz.s dot is not installed' &&
		grep -q 'id=\"no-graph\"' '$work/no-dot.html'"

# ---- reproducibility: two clean builds give the same digests ----

clean_ref() {
	KILN_CACHE_DIR=$1 "$KILN" import "$rootfs" --tag kiln-test/busybox:1 >/dev/null &&
		KILN_CACHE_DIR=$1 "$KILN" -C "$tree" build --progress quiet top
}
clean_ref "$work/cache-a" >"$work/a.ref" 2>"$work/a.err"
clean_ref "$work/cache-b" >"$work/b.ref" 2>"$work/b.err"
check "two clean builds give the same image digest" \
	bash -c "[ -s '$work/a.ref' ] && diff '$work/a.ref' '$work/b.ref'"

# ---- isolation ----

marker=$work/host-marker-$RANDOM
echo "host secret $RANDOM" >"$marker"
sleep 1000 &
host_pid=$!
pids+=("$host_pid")
check "a step sees no host file, no host process, nothing of the caller's env" \
	kb isolation --build-arg "MARKER=$marker" --build-arg "HOST_PID=$host_pid" \
	--build-arg "CACHE=$KILN_CACHE_DIR"
check "what a step writes outside /rootfs is not in the output" \
	bash -c "\"$KILN\" ls isolation:latest / | grep -q env.txt && ! \"$KILN\" ls isolation:latest /stray.txt 2>/dev/null"

# ---- network ----

port_file=$work/port
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept(); c.sendall(b"pong\n"); c.close()
' "$port_file" &
pids+=($!)
for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file")
expect_fail "a step without network cannot reach a loopback listener" 1 'net-none' \
	kb net-none --build-arg "PORT=$port"
check "with network: default it can" kb net-default --build-arg "PORT=$port"
check "and got the listener's answer" bash -c "\"$KILN\" cat net-default:latest /reply.txt | grep -qx pong"

# ---- sources ----

srv=$work/srv
mkdir -p "$srv"
echo "payload $RANDOM" >"$srv/payload.txt"
sha256=$(sha256sum "$srv/payload.txt" | cut -d' ' -f1)
sha512=$(sha512sum "$srv/payload.txt" | cut -d' ' -f1)
http_port=$(free_port)
python3 -m http.server --bind 127.0.0.1 "$http_port" --directory "$srv" >/dev/null 2>&1 &
pids+=($!)
wait_http "$http_port"
url=http://127.0.0.1:$http_port/payload.txt
src_args=(--build-arg "SOURCE_URL=$url" --build-arg "SOURCE_SHA256=$sha256" --build-arg "SOURCE_SHA512=$sha512")
check "a source from a local HTTP server is fetched, verified and placed" kb sources-good "${src_args[@]}"
check "its bytes reached the output" bash -c "\"$KILN\" cat sources-good:latest /payload.txt | diff - '$srv/payload.txt'"
expect_fail "a wrong sha512 fails with the url, the expected and the actual digest" 1 \
	"$url.*sha512.*expected 0{128}.*got $sha512" kb sources-bad "${src_args[@]}"
check "and no instruction ran" bash -c "! grep -q '####' '$tree/_out/logs/sources-bad.log'"
check "and nothing was cached for it" bash -c "[ ! -e '$KILN_CACHE_DIR/sources/0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' ]"

# ---- secrets ----

key=$work/signing_key.pem
echo "PRIVATE KEY MATERIAL $RANDOM$RANDOM" >"$key"
check "a secret is mounted read-only for the step that lists it" \
	kb secret --secret "id=signing-key,src=$key"
check "the step saw its bytes" bash -c "\"$KILN\" cat secret:latest /secret.sha256 | diff - <(sha256sum '$key' | cut -d' ' -f1)"
check "its bytes are in no blob of the store" \
	bash -c "! grep -rqF \"\$(cat '$key')\" '$KILN_CACHE_DIR/store/blobs' && ! zgrep -qF \"\$(cat '$key')\" '$KILN_CACHE_DIR'/store/blobs/sha256/* 2>/dev/null"
expect_fail "a step asking for a secret that was not given fails clearly" 1 \
	'secret "signing-key".*--secret id=signing-key' kb secret

# ---- what persists: env across steps, cachePaths across builds ----

check "a stage with cachePaths builds" kb --no-cache persist
check "a step's env reaches later steps" \
	bash -c "\"$KILN\" cat persist:latest /env-from-step-1 | grep -qx 'set in step 1'"
check "and builds again" kb --no-cache persist
check "its cachePaths directory kept what the first build wrote" \
	bash -c "\"$KILN\" cat persist:latest /runs | grep -qx 2"

# ---- failures ----

expect_fail "a failing instruction names the stage, the step and the instruction" 1 \
	'stage failing failed at step 1 \(build\).*status 7' kb failing --report "$work/failing.html" \
	--trace "$work/failing.json" --build-arg 'NOTE=<script>console.error("not escaped")</script>'
cp "$out/stderr" "$work/failing.err"
check "the failed build's report shows the stage failed and the end of its log" \
	report failing --failed failing --log-line 'line one of the failing instruction'
check "where the build argument's <script> is text: escaped, it runs nothing" \
	grep -qF 'NOTE=&lt;script&gt;console.error(&quot;not escaped&quot;)&lt;/script&gt;' \
	"$work/failing.html"
check "and its trace has the failed stage" trace failing --stage failing
check "the failure shows the end of the log" grep -q 'line one of the failing instruction' "$work/failing.err"
check "the instruction is printed" grep -qx 'exit 7' "$work/failing.err"
expect_fail "with --keep-going a failure does not stop the stages that do not need it" 1 \
	'stage failing failed' kb --keep-going -j 1 --build-arg NONCE=$RANDOM$RANDOM failing true-stage
cp "$out/stderr" "$work/keep-going.err"
check "the other target was built" grep -q 'true-stage: built' "$work/keep-going.err"
expect_fail "a missing target is named" 1 'nosuch' kb nosuch
expect_fail "variant alpine without an alpine image says which image and what to do" 1 \
	'variant alpine.*needs image "docker.io/library/alpine:3.21".*kiln pull' kb --no-pull alpine-stage

# ---- system extensions are validated as they are built ----

check "an extension tree builds" kb good-ext --report "$work/ext.html"
check "its report shows it validated" report ext --built good-ext --extension good-ext
check "a cache hit of it builds" kb good-ext --report "$work/ext-cached.html"
check "and its report shows what validation found when it was built" \
	report ext-cached --cached good-ext --extension good-ext
check "into an image whose root is manifest.yaml and rootfs/" \
	bash -c "[ \"\$(\"$KILN\" ls good-ext:latest / | tr '\n' ' ')\" = 'manifest.yaml rootfs ' ]"
check "which kiln ext validate accepts" "$KILN" ext validate good-ext:latest --talos-version v1.12.0
expect_fail "a bad extension fails its build, naming the file and what to do" 1 \
	'stage bad-ext failed.*invalid system extension.*etc/udev/rules.d/51-kiln.rules' kb bad-ext \
	--report "$work/bad-ext.html"
check "its report says it is invalid and why" bash -c "python3 '$SRCDIR/tests/integration/check-report.py' \
	'$work/bad-ext.html' --screenshot '$work/bad-ext.png' --failed bad-ext &&
	grep -q '<tr class=\"extension invalid\" data-stage=\"bad-ext\">.*51-kiln.rules' '$work/bad-ext.html'"
check "and never reaches the store" bash -c "! \"$KILN\" cache ls | grep -q '^bad-ext '"

# ---- kernel modules are checked against the kernel they were built with ----

. "$SRCDIR/tests/integration/lib-kernel.sh"
headers=$(kernel_headers)
mods=${KILN_TEST_MODULES:-}
if [ -z "$headers" ] || [ ! -f "$headers/Module.symvers" ] || [ -z "$mods" ] ||
	[ ! -f "$mods/kiln_plain.ko" ]; then
	not_ok "kernel modules are checked" "no linux-headers tree ('$headers') or no test modules" \
		"in KILN_TEST_MODULES='$mods': run scripts/install-deps.sh, and the test through meson"
else
	. "$SRCDIR/tests/integration/lib-keys.sh"
	# a kernel-build stand-in with its tree at /src: what checking reads of Debian's
	# headers, and a signing certificate of the test's own
	kbimg=$work/kernel-build
	mkdir -p "$kbimg/src/include/generated" "$kbimg/src/include/config" "$kbimg/src/certs"
	cp "$headers/.config" "$headers/Module.symvers" "$kbimg/src/"
	cp "$headers/include/generated/utsrelease.h" "$kbimg/src/include/generated/"
	cp "$headers/include/config/kernel.release" "$kbimg/src/include/config/"
	kernel_key "$work/kernel.genkey" "$work/kernel.pem" "$work/kernel.x509" sha512 \
		"CN = kiln build test kernel key" -newkey rsa:2048
	kernel_key "$work/other.genkey" "$work/other.pem" "$work/other.x509" sha512 \
		"CN = kiln build test other key" -newkey rsa:2048
	cp "$work/kernel.x509" "$kbimg/src/certs/signing_key.x509"
	release=$(kernel_release "$kbimg/src")
	check "import a kernel-build image" "$KILN" import "$kbimg" --tag kiln-test/kernel-build:1

	# kmod's prebuilt modules (busybox builds none): DIR MODULE KEY
	kmod_put() {
		mkdir -p "$tree/checks/kmod/$1"
		cp "$mods/$2" "$tree/checks/kmod/$1/"
		"$KILN" module sign --hash sha512 --key "$work/$3.pem" --cert "$work/$3.x509" \
			"$tree/checks/kmod/$1/$2" >/dev/null
	}
	kmod_put good kiln_plain.ko kernel
	kmod_put other-key kiln_plain.ko other
	kmod_put fw kiln_fw.ko kernel
	mkdir -p "$tree/checks/kmod/unsigned" && cp "$mods/kiln_plain.ko" "$tree/checks/kmod/unsigned/"
	cp "$mods/kiln_plain.ko" "$tree/checks/kmod-listed/"
	kmod() {
		kb kmod --build-arg "KMOD=$1" --build-arg "KMOD_RELEASE=${2:-$release}" "${@:3}"
	}
	line="^  kmod  usr/lib/modules/$release/extras/kiln_plain.ko  signed by 'kiln build test kernel key' \(sha512\), vermagic $release SMP .*modversions, will load\$"

	check "a module signed with the kernel's key builds" kmod good/kiln_plain.ko "$release" \
		--report "$work/kmod.html"
	cp "$out/stderr" "$work/kmod-good.err"
	check "the report lists it with its signer, kernel and verdict" report kmod --built kmod \
		--modules 1 --verdict "'kiln build test kernel key'" \
		--verdict "kiln-test/kernel-build:1 (/src), $release" --verdict "will load"
	check "the summary lists it: signer, vermagic, verdict" grep -qE "$line" "$work/kmod-good.err"
	check "the log says what it was checked against" \
		grep -q "checking 1 kernel modules against the kernel at /src of kiln-test/kernel-build:1" \
		"$tree/_out/logs/kmod.log"
	check "a cache hit lists it too" kmod good/kiln_plain.ko "$release" \
		--report "$work/kmod-cached.html"
	cp "$out/stderr" "$work/kmod-cached.err"
	check "so does its report" report kmod-cached --cached kmod --modules 1 --verdict "will load"
	check "with the verdict it had" bash -c "grep -q 'kmod: cached' '$work/kmod-cached.err' && grep -qE \"\$1\" '$work/kmod-cached.err'" _ "$line"
	check "--json carries it" bash -c "\"\$@\" | python3 -c '
import json, sys
m = json.load(sys.stdin)[0][\"modules\"][0]
assert m[\"loads\"] and m[\"signer\"] == \"kiln build test kernel key\", m
assert m[\"kernel\"] == {\"dependency\": \"kiln-test/kernel-build:1\", \"dir\": \"/src\", \"release\": \"$release\", \"tree\": True}, m'" \
		_ "$KILN" -C "$tree" build --progress quiet --json kmod --build-arg KMOD=good/kiln_plain.ko \
		--build-arg "KMOD_RELEASE=$release"

	expect_fail "one signed by another key fails its stage, naming the module and why" 1 \
		"stage kmod failed \(check modules\): usr/lib/modules/$release/extras/kiln_plain.ko would not load on kernel $release .*signature: signed by a key the kernel does not trust: \"kiln build test other key\"" \
		kmod other-key/kiln_plain.ko
	cp "$out/stderr" "$work/kmod-other-key.err"
	check "and says what to do" grep -q "to do: sign it in the stage with the kernel's key" "$work/kmod-other-key.err"
	check "and its output never reaches the store" bash -c "[ \"\$(\"$KILN\" cache ls | grep -c '^kmod ')\" = 1 ]"
	expect_fail "one installed for another release fails likewise" 1 \
		"kiln_plain.ko would not load on kernel $release .*installed for kernel 6.1.0-99-other" \
		kmod good/kiln_plain.ko 6.1.0-99-other
	check "one missing its firmware builds" kmod fw/kiln_fw.ko
	cp "$out/stderr" "$work/kmod-fw.err"
	check "with a warning in the summary" grep -q "kiln_fw.ko .*will load, with a warning: firmware kiln/" "$work/kmod-fw.err"
	check "and in the log" grep -q "warn: firmware: kiln/test-fw.bin" "$tree/_out/logs/kmod.log"

	# a kernel image (siderolabs' kernel package): its modules directory, no tree
	kimg=$work/kernel-image/usr/lib/modules/$release
	mkdir -p "$kimg/kernel"
	cp "$tree/checks/kmod/good/kiln_plain.ko" "$kimg/kernel/kiln_intree.ko"
	echo "kernel/kiln_intree.ko:" >"$kimg/modules.dep"
	echo "kernel/lib/crc32.ko" >"$kimg/modules.builtin"
	check "import a kernel image" "$KILN" import "$work/kernel-image" --tag kiln-test/kernel:1
	check "over a kernel's modules alone, a signed module builds" \
		kmod good/kiln_plain.ko "$release" --build-arg KERNEL=kiln-test/kernel:1
	cp "$out/stderr" "$work/kmod-image.err"
	check "as far as its modules tell" \
		grep -q "kiln_plain.ko  signed by .*, will load, as far as checked" "$work/kmod-image.err"
	expect_fail "and an unsigned one fails: no grep for the signature's magic needed" 1 \
		"kiln_plain.ko would not load on kernel $release \(/usr/lib/modules/$release of kiln-test/kernel:1\): signature: the module is not signed" \
		kmod unsigned/kiln_plain.ko "$release" --build-arg KERNEL=kiln-test/kernel:1

	check "a stage without a kernel tree builds" kb kmod-listed
	cp "$out/stderr" "$work/kmod-listed.err"
	check "and lists its module unjudged" grep -q \
		"^  kmod-listed  usr/lib/modules/6.1.0-99-other/extras/kiln_plain.ko  unsigned, vermagic $release .*not checked" \
		"$work/kmod-listed.err"
fi

# examples/hello, as make demo builds it: it must stay a valid extension
cp -r "$SRCDIR/examples/hello" "$work/hello"
"$KILN" import "$rootfs" --tag localhost/kiln/busybox:demo >/dev/null 2>&1
check "examples/hello builds" "$KILN" -C "$work/hello" build --progress quiet --tag demo hello-ext
check "into a valid extension" "$KILN" ext validate hello-ext:demo --talos-version v1.12.0

# ---- SIGKILL in the middle of a stage ----

# kiln itself in the background, not a shell function around it: the kill must reach kiln
slow_seconds=$((100 + RANDOM % 800))
"$KILN" -C "$tree" build --progress plain --build-arg SLOW_SECONDS=$slow_seconds slow \
	>"$work/slow.out" 2>"$work/slow.err" &
kpid=$!
for _ in $(seq 300); do
	grep -q "sleep $slow_seconds" "$tree/_out/logs/slow.log" 2>/dev/null && break
	sleep 0.1
done
kill -9 "$kpid"
wait "$kpid" 2>/dev/null
check "the killed build left its working directory" bash -c "ls '$KILN_CACHE_DIR/work' | grep -q slow"
gone() {
	for _ in $(seq 50); do
		pgrep -f "^sleep $slow_seconds\$" >/dev/null || return 0
		sleep 0.1
	done
	return 1
}
check "the sandbox's processes die with kiln" gone
kb slow --build-arg SLOW_SECONDS=1 >"$work/slow2.out" 2>"$work/slow2.err"
check "the next run completes" grep -qE '^slow:latest@sha256:' "$work/slow2.out"
check "and removed the leftover" bash -c "! ls '$KILN_CACHE_DIR/work' | grep -q slow"
KILN_CACHE_DIR=$work/cache-a "$KILN" -C "$tree" build --progress quiet --build-arg SLOW_SECONDS=1 slow \
	>"$work/slow3.out" 2>/dev/null
check "with the digest of an uninterrupted build" diff "$work/slow2.out" "$work/slow3.out"

# ---- registries: pushing targets, pulling image dependencies ----

rport=$(free_port)
start_registry registry "$rport"
R=127.0.0.1:$rport
check "build --push pushes the target to REGISTRY/USERNAME/TARGET:TAG" \
	kb top --push --registry "$R" --username kiln --tag v1.2.3
cp "$out/stdout" "$work/push.out"
check "and prints the pushed reference" grep -qE "^$R/kiln/top:v1.2.3@sha256:[0-9a-f]{64}\$" "$work/push.out"
check "skopeo sees it with that digest" bash -c \
	"skopeo inspect --tls-verify=false docker://$R/kiln/top:v1.2.3 | grep -q \"\$(sed 's/.*@//' '$work/push.out')\""
check "_out/images.json records the pushed reference" grep -q "$R/kiln/top:v1.2.3" "$tree/_out/images.json"

# an output that holds a private key is not pushed, unless asked
expect_fail "build --push refuses a target whose image holds a private key, naming the file" 1 \
	"^kiln: refusing to push with-key:v1: layer [0-9]+ \(sha256:[0-9a-f]{64}\): src/certs/module.key holds a PEM private key \(PKCS#8\); .* or pass --allow-private-key\$" \
	kb with-key --push --registry "$R" --username kiln --tag v1
check "and nothing reached the registry" \
	bash -c "! skopeo inspect --tls-verify=false docker://$R/kiln/with-key:v1 >/dev/null 2>&1"
check "build --help tells of --allow-private-key" \
	bash -c "\"$KILN\" build --help | grep -q -- --allow-private-key"
check "build --push --allow-private-key pushes it" \
	kb with-key --push --allow-private-key --registry "$R" --username kiln --tag v1
cp "$out/stderr" "$work/with-key.err"
check "with a warning naming the file" \
	grep -q "^kiln: warning: pushing with-key:v1 with a private key: .*src/certs/module.key" \
	"$work/with-key.err"
check "skopeo sees it" \
	skopeo inspect --tls-verify=false "docker://$R/kiln/with-key:v1"

# an image dependency missing from the store is pulled from its registry
"$KILN" push kiln-test/busybox:1 "$R/kiln/busybox:1" >/dev/null 2>&1
pulltree=$work/pulltree
mkdir -p "$pulltree/base"
cp "$tree/Pkgfile" "$pulltree/"
sed "s|image: kiln-test/busybox:1|image: $R/kiln/busybox:1|" "$tree/base/pkg.yaml" >"$pulltree/base/pkg.yaml"
check "a missing image dependency is pulled from its registry" \
	env KILN_CACHE_DIR="$work/cache-pull" "$KILN" -C "$pulltree" build --progress plain base
cp "$out/stdout" "$work/pulled.out"
check "and the base built from it is the same image" bash -c \
	"[ \"\$(sed 's/.*@//' '$work/pulled.out')\" = \"\$(KILN_CACHE_DIR='$work/cache-a' '$KILN' -C '$tree' build --progress quiet base | sed 's/.*@//')\" ]"
expect_fail "--no-pull refuses instead, naming the image and what to do" 1 \
	"needs image \"$R/kiln/busybox:1\".*kiln pull" \
	env KILN_CACHE_DIR="$work/cache-nopull" "$KILN" -C "$pulltree" build --no-pull base

# a registry that wants a login: --authfile FILE, as kiln push and pull take it
htpasswd -Bbn kiln s3cret >"$work/htpasswd"
aport=$(free_port)
A=127.0.0.1:$aport
start_registry authreg "$aport" "auth: {htpasswd: {realm: kiln-test, path: $work/htpasswd}}"
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$A" "$(printf kiln:s3cret | base64 -w0)" \
	>"$work/auth.json"
expect_fail "build --push without credentials is refused by a registry that wants a login" \
	1 "requires a login" \
	kb good-ext --push --registry "$A" --username kiln --tag v1
check "build --push --authfile FILE logs in with FILE's credentials" \
	kb good-ext --push --registry "$A" --username kiln --tag v1 --authfile "$work/auth.json"
check "and the extension reached the registry" \
	skopeo inspect --tls-verify=false --authfile "$work/auth.json" "docker://$A/kiln/good-ext:v1"
expect_fail "ext validate cannot pull it without credentials" 1 "requires a login" \
	env KILN_CACHE_DIR="$work/cache-auth" "$KILN" ext validate "$A/kiln/good-ext:v1"
expect_out "ext validate --authfile FILE pulls it with FILE's credentials" 0 ": valid" \
	env KILN_CACHE_DIR="$work/cache-auth" "$KILN" ext validate --authfile "$work/auth.json" \
	--talos-version v1.12.0 "$A/kiln/good-ext:v1"
check "no password in the registry's log" bash -c "! grep -q s3cret '$work/authreg/log'"
for cmd in build "ext validate" "ext info" "image installer" push pull; do
	check "kiln $cmd --help tells of --authfile" \
		bash -c "\"\$KILN\" $cmd --help | grep -qE -- '^ +--authfile FILE +take registry credentials from FILE only\$'"
done

# ---- kiln cache ----

check "cache ls lists the stages" bash -c "\"$KILN\" cache ls | grep -q '^top '"
check "cache du" "$KILN" cache du --json
check "cache prune --dry-run removes nothing" "$KILN" cache prune --dry-run
check "the next build is still cached" bash -c "\"$KILN\" -C '$tree' build --progress plain top 2>&1 | grep -q '0 built, 4 cached'"
check "cache prune" "$KILN" cache prune
check "after prune, the stages are built again" bash -c "\"$KILN\" -C '$tree' build --progress plain top 2>&1 | grep -q '4 built, 0 cached'"

done_testing
