# SPDX-License-Identifier: LGPL-2.1-or-later
"""TAP output for the Python integration tests, as tap.sh is for the shell ones."""

import sys

_counts = {"tests": 0, "failed": 0}


def tap(ok, name, detail=()):
    """One test point: "ok N - NAME" or "not ok N - NAME", then DETAIL as comments."""
    _counts["tests"] += 1
    if not ok:
        _counts["failed"] += 1
    print(("ok" if ok else "not ok") + " %d - %s" % (_counts["tests"], name))
    for line in detail:
        for part in str(line).splitlines():
            print("# " + part)
    sys.stdout.flush()


def bail_out(why):
    """What the test needs is missing: a failure, never a skip."""
    print("Bail out! " + why)
    sys.exit(1)


def done_testing():
    """Print the plan; the exit status: 1 when any point failed."""
    print("1..%d" % _counts["tests"])
    return 1 if _counts["failed"] else 0
