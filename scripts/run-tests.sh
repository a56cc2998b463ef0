#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Run every test (meson's unit and integration suites) and end with one line:
# "N passed, N failed[, N skipped]", counting each TAP test point.
set -u

build=$1
meson test -C "$build" --print-errorlogs --num-processes 2
status=$?
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, re, sys

passed = failed = skipped = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    points = [l for l in t.get("stdout", "").splitlines() if re.match(r"(not )?ok\b", l)]
    if not points:
        if t["result"] == "SKIP":
            skipped += 1
        elif t["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        else:
            failed += 1
        continue
    for p in points:
        if p.startswith("not ok"):
            failed += 1
        elif re.search(r"#\s*SKIP", p, re.I):
            skipped += 1
        else:
            passed += 1
    # a binary that crashed after its last point still fails
    if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") and not any(p.startswith("not ok") for p in points):
        failed += 1
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
PY
exit $status
