#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kiln plan --format gitlab, run: gitlab-ci-local runs the pipeline with its
# shell executor, every job in a build directory of its own (a copy of the
# repository) with its own empty KILN_CACHE_DIR there, against one
# docker-registry on loopback that holds the base image and serves as the
# registry cache. The build engine's test tree (tests/data/build-tree) builds
# end to end this way: the first job builds base and pushes it to the cache,
# every later one pulls what it merges from there and builds its own stage
# alone, and the target's job pushes the target. The jobs' counts are
# printed as TAP comments.
set -u
. "$(dirname "$0")/tap.sh"

: "${KILN:?}" "${SRCDIR:?}"
. "$SRCDIR/tests/integration/lib-registry.sh"
. "$SRCDIR/tests/integration/lib-build.sh"

NPM=${KILN_NPM_PREFIX:-/opt/kiln-npm}
registry_test_setup docker-registry skopeo node rsync git python3
build_engine_needs
gcl=$NPM/node_modules/gitlab-ci-local/src/index.js
[ -f "$gcl" ] || bail_out "no gitlab-ci-local in $NPM: run scripts/install-deps.sh"
unset SOURCE_DATE_EPOCH KILN_CACHE_FROM KILN_CACHE_TO

port=$(free_port)
start_registry reg "$port" || bail_out "docker-registry did not start"
host=127.0.0.1:$port
cache=$host/kiln/cache

# the base image, in the registry only: no job has it in its store
busybox_rootfs "$tmp/busybox"
"$KILN" import "$tmp/busybox" --tag kiln-test/busybox:1 >/dev/null
check "the base image is pushed to the registry" \
	"$KILN" push --insecure kiln-test/busybox:1 "$host/kiln-test/busybox:1"

# the repository: the test tree, its base image taken from the registry
repo=$tmp/repo
mkdir -p "$repo"
cp -r "$SRCDIR/tests/data/build-tree" "$repo/tree"
sed -i "s|image: kiln-test/busybox:1|image: $host/kiln-test/busybox:1|" "$repo/tree/base/pkg.yaml"
cd "$repo" || exit 1
check "kiln plan writes the pipeline for top" \
	"$KILN" -C tree plan --format gitlab --cache "$cache" --insecure \
	--tag ci --push --registry "$host" --username kiln top
cp "$out/stdout" .gitlab-ci.yml
check "four jobs, each needing the stages it merges" \
	test "$(python3 -c 'import yaml
d = yaml.safe_load(open(".gitlab-ci.yml"))
print(" ".join(k + ":" + ",".join(v["needs"]) for k, v in d.items()))')" \
	= "build:base: build:left:build:base build:right:build:base build:top:build:base,build:left,build:right"
export GIT_AUTHOR_NAME=kiln GIT_AUTHOR_EMAIL=kiln@localhost
export GIT_COMMITTER_NAME=kiln GIT_COMMITTER_EMAIL=kiln@localhost
git init -q . && git add -A && git commit -qm tree ||
	bail_out "cannot make the repository"

# the runner: kiln on PATH; each job's cache in its own build directory (shell isolation)
PATH="$(dirname "$KILN"):$PATH"
export PATH
node "$gcl" --shell-executor-no-image --shell-isolation --home "$tmp/home" \
	--variable 'KILN_CACHE_DIR=$CI_PROJECT_DIR/.kiln-cache' >"$tmp/pipeline.log" 2>&1
status=$?
check "gitlab-ci-local runs the pipeline to the end" test "$status" -eq 0
check "after checking it against GitLab's CI schema (the one it ships)" \
	grep -q 'json schema validated' "$tmp/pipeline.log"
for job in base left right top; do
	check "job build:$job passed" grep -qE "^ PASS +build:$job( |\$)" "$tmp/pipeline.log"
done
[ "$status" -eq 0 ] || sed 's/^/# /' "$tmp/pipeline.log" | tail -60

# counts LOG JOB: "STAGES BUILT CACHED PULLED PUSHED" of the job's kiln summary line
counts() {
	sed -nE "s/^build:$2 +> kiln: ([0-9]+) stages: ([0-9]+) built, ([0-9]+) cached, ([0-9]+) pulled, ([0-9]+) pushed.*/\\1 \\2 \\3 \\4 \\5/p" "$1"
}
for job in base left right top; do
	read -r stages built cached pulled pushed <<<"$(counts "$tmp/pipeline.log" "$job")"
	echo "# job build:$job: ${stages:-?} stages: ${built:-?} built, ${pulled:-?} pulled from the registry cache, ${cached:-?} found in its own cache, ${pushed:-?} pushed"
done
check "build:base built base, pulled nothing and pushed base" test "$(counts "$tmp/pipeline.log" base)" = "1 1 0 0 1"
check "build:left pulled base and built left alone" test "$(counts "$tmp/pipeline.log" left)" = "2 1 0 1 1"
check "build:right pulled base and built right alone" test "$(counts "$tmp/pipeline.log" right)" = "2 1 0 1 1"
check "build:top pulled base, left and right and built top alone" test "$(counts "$tmp/pipeline.log" top)" = "4 1 0 3 1"
check "each job's cache was its own: four of them" \
	test "$(ls -d .gitlab-ci-local/builds/*/.kiln-cache | wc -l)" -eq 4
check "the target's job pushed top" \
	grep -qE "^build:top +> $host/kiln/top:ci@sha256:[0-9a-f]{64}\$" "$tmp/pipeline.log"
check "the registry has top:ci" skopeo inspect --tls-verify=false "docker://$host/kiln/top:ci"
check "and the cache an entry for each of the four stages" \
	test "$(skopeo list-tags --tls-verify=false "docker://$cache" | grep -c '"kiln-[0-9a-f]\{64\}"')" -eq 4

# ---- --skip-cached: what the cache holds gets no job ----

check "with everything cached, --skip-cached keeps the target's job alone" \
	test "$("$KILN" -C tree plan --format gitlab --cache "$cache" --insecure --skip-cached top |
		python3 -c 'import sys, yaml
print(" ".join(k + ":" + ",".join(v["needs"]) for k, v in yaml.safe_load(sys.stdin).items()))')" \
	= "build:top:"
sed -i 's/echo "right {{ .greeting }}"/echo "right, changed"/' tree/right/pkg.yaml
git commit -qam "right changed" || bail_out "cannot commit"
check "right changed: kiln plan --skip-cached again" \
	"$KILN" -C tree plan --format gitlab --cache "$cache" --insecure --skip-cached \
	--tag ci2 --push --registry "$host" --username kiln top
cp "$out/stdout" .gitlab-ci.yml
check "that is two jobs" test "$(python3 -c 'import yaml
d = yaml.safe_load(open(".gitlab-ci.yml"))
print(" ".join(k + ":" + ",".join(v["needs"]) for k, v in d.items()))')" \
	= "build:right: build:top:build:right"
git commit -qam "the pruned pipeline" || bail_out "cannot commit"
node "$gcl" --shell-executor-no-image --shell-isolation --home "$tmp/home" --state-dir .gcl-2 \
	--variable 'KILN_CACHE_DIR=$CI_PROJECT_DIR/.kiln-cache' >"$tmp/pipeline2.log" 2>&1
status=$?
check "gitlab-ci-local runs the pruned pipeline" test "$status" -eq 0
[ "$status" -eq 0 ] || sed 's/^/# /' "$tmp/pipeline2.log" | tail -60
for job in right top; do
	read -r stages built cached pulled pushed <<<"$(counts "$tmp/pipeline2.log" "$job")"
	echo "# pruned pipeline, job build:$job: ${stages:-?} stages: ${built:-?} built, ${pulled:-?} pulled, ${cached:-?} found in its own cache, ${pushed:-?} pushed"
done
check "build:right pulled base and built right" test "$(counts "$tmp/pipeline2.log" right)" = "2 1 0 1 1"
check "build:top pulled base, left and the new right and built top" test "$(counts "$tmp/pipeline2.log" top)" = "4 1 0 3 1"
check "the new top has right's new greeting" bash -c "'$KILN' pull --insecure '$host/kiln/top:ci2' >/dev/null &&
	'$KILN' cat '$host/kiln/top:ci2' /usr/share/top/combined.txt | grep -qx 'right, changed'"

done_testing
