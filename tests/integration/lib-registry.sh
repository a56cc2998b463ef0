# SPDX-License-Identifier: LGPL-2.1-or-later
# Registry helpers for the integration scripts; sourced, not run. They use
# the sourcing script's $tmp (a scratch directory) and add the processes
# they start to its pids array, for the script's cleanup to kill.

# registry_test_setup TOOL...: bail out (tap.sh's need) unless every TOOL
# is installed; then a scratch $tmp, the working directory, removed at exit
# with the processes in pids killed, and nothing of the caller's: no
# credentials, no cache, no _out ($KILN_CACHE_DIR, $HOME and
# $XDG_RUNTIME_DIR in $tmp; $store is the store)
registry_test_setup() {
	need "$@"
	tmp=$(mktemp -d)
	pids=()
	trap registry_test_cleanup EXIT
	export KILN_CACHE_DIR=$tmp/cache HOME=$tmp/home XDG_RUNTIME_DIR=$tmp/run
	unset XDG_CONFIG_HOME XDG_CACHE_HOME DOCKER_CONFIG REGISTRY_AUTH_FILE
	mkdir -p "$HOME" "$XDG_RUNTIME_DIR" "$KILN_CACHE_DIR/store"
	cd "$tmp" || exit 1
	store=$KILN_CACHE_DIR/store
}

registry_test_cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp" "$out"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# http_status URL [HEADER]: the status of a GET (000 when nothing answers)
http_status() {
	python3 - "$@" <<'EOF'
import sys, urllib.error, urllib.request
h = dict([sys.argv[2].split(": ", 1)]) if len(sys.argv) > 2 else {}
try:
    print(urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers=h), timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
}

# wait until something answers HTTP on port @1 (any status)
wait_http() {
	for _ in $(seq 100); do
		[ "$(http_status "http://127.0.0.1:$1/")" != 000 ] && return 0
		sleep 0.1
	done
	return 1
}

# start_registry NAME PORT [AUTH_YAML]: a registry with its own storage and log
start_registry() {
	local d=$tmp/$1
	mkdir -p "$d/data"
	cat >"$d/config.yml" <<EOF
version: 0.1
log: {level: info, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $d/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$2}
${3:-}
EOF
	docker-registry serve "$d/config.yml" >"$d/log" 2>&1 &
	pids+=($!)
	wait_http "$2"
}

# mutating requests (POST, PUT, PATCH, DELETE) in a registry's access log
writes_in() {
	grep -cE '"(POST|PUT|PATCH|DELETE) ' "$1" || true
}

# json_field FILE KEY...: the value at FILE's KEY/KEY/...
json_field() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: d = d[k]
print(d)' "$@"
}

# auth_file HOST USER:PASSWORD FILE: an auth file (podman's and docker's format) for HOST
auth_file() {
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$1" "$(printf '%s' "$2" | base64 -w0)" >"$3"
}

# store_is_sound [STORE]: `kiln store verify` passes on STORE (default $store; a path
# ending in /store, the store of the cache above it): every blob hashes to its name,
# every name reaches a complete image. The one soundness check of the fault tests.
store_is_sound() {
	local s=${1:-$store}
	# a store that was never made holds nothing wrong
	[ -d "$s" ] || return 0
	KILN_CACHE_DIR=${s%/store} "$KILN" store verify >&2
}
