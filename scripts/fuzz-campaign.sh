#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A fuzz campaign: every libFuzzer harness of BUILD_DIR, one at a time, each
# for RUNS executions (default 10^6), under nice -n 19, and one table of what
# each did. BUILD_DIR is a clang build with the sanitizers and libFuzzer:
#
#   CC=clang meson setup build-fuzz --native-file build-dev.ini -Dfuzzer=true
#   ninja -C build-fuzz
#   scripts/fuzz-campaign.sh build-fuzz /var/tmp/fuzz [RUNS] [HARNESS...]
#
# Each harness NAME starts from fuzz/corpus/NAME (read, never written) and
# grows its own corpus in OUT_DIR/NAME/corpus; whatever it finds (crash-*,
# leak-*, timeout-*, oom-*) lands in OUT_DIR/NAME/ and is counted. libFuzzer
# stops a harness at its first finding: fix it, add the input to
# fuzz/corpus/NAME/, and run that harness again. A unit is a timeout after
# 60 s of wall time, which on a busy machine (nice -n 19) is a few seconds
# of CPU; one that took over 10 s is only counted (slow-unit-*). The log of each run is
# OUT_DIR/NAME/log, the table OUT_DIR/table.txt. HARNESS names (e.g. "tar")
# pick some; the default is every harness built.
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD_DIR OUT_DIR [RUNS] [HARNESS...]" >&2
	exit 2
fi
build=$1
out=$2
runs=${3:-1000000}
shift $(($# < 3 ? $# : 3))
src=$(cd "$(dirname "$0")/.." && pwd)

if ! ls "$build"/fuzz/fuzz-*-libfuzzer >/dev/null 2>&1; then
	echo "$0: no libFuzzer harnesses in $build/fuzz: set the build up with -Dfuzzer=true (clang) and build it" >&2
	exit 2
fi
case $runs in
'' | *[!0-9]*)
	echo "$0: RUNS must be a count of executions, not \"$runs\"" >&2
	exit 2
	;;
esac

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for b in "$build"/fuzz/fuzz-*-libfuzzer; do
		b=${b##*/fuzz-}
		names+=("${b%-libfuzzer}")
	done
fi

mkdir -p "$out" || exit 1
table=$out/table.txt
row() {
	printf '%-14s %9s %7s %7s %7s %10s %6s %6s %13s %8s %s\n' "$@"
}

# The figures of one finished run, from its log, as a table row.
report() {
	local name=$1 log=$2 secs=$3 dir=$4 cpu=$5
	local execs rate cpurate last cov ft corp found slow

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	cpurate=$([ -n "$execs" ] && [ "${cpu:-0}" -gt 0 ] && echo $((execs / cpu)))
	# the last status line ("#N ... cov: C ft: F corp: N/SIZE ...") holds the end state
	last=$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -n 1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
	found=$(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' \) | wc -l)
	slow=$(find "$dir" -maxdepth 1 -name 'slow-unit-*' | wc -l)
	row "$name" "${execs:-?}" "${secs}s" "${cpu:-?}s" "${rate:-?}" "${cpurate:-?}" "${cov:-?}" \
		"${ft:-?}" "${corp:-?}" "$found" "$slow" | tee -a "$table"
}

# the CPU seconds a run took, user and system: on a shared machine the wall time says little
TIMEFORMAT='%3U %3S'
status=0
row harness execs wall cpu exec/s exec/cpu-s cov ft corpus/bytes findings slow | tee "$table"
for name in "${names[@]}"; do
	bin=$build/fuzz/fuzz-$name-libfuzzer
	seeds=$src/fuzz/corpus/$name
	dir=$out/$name
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "$0: no harness \"$name\" ($bin and $seeds)" >&2
		status=1
		continue
	fi
	rm -rf "$dir" && mkdir -p "$dir/corpus" || exit 1
	start=$(date +%s)
	# new inputs go to the first directory only: fuzz/corpus/NAME stays as it is
	{ time nice -n 19 "$bin" -runs="$runs" -print_final_stats=1 -timeout=60 -rss_limit_mb=2048 \
		-artifact_prefix="$dir/" "$dir/corpus" "$seeds" >"$dir/log" 2>&1; } 2>"$dir/cpu"
	rc=$?
	report "$name" "$dir/log" $(($(date +%s) - start)) "$dir" "$(awk '{ printf "%d", $1 + $2 }' "$dir/cpu")"
	if [ $rc -ne 0 ]; then
		echo "  $name stopped (exit $rc): see $dir/log and the findings in $dir/" | tee -a "$table"
		status=1
	fi
done
exit $status
