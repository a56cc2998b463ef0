#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Check a kiln build --trace file against the Chrome trace event format.

  check-trace.py TRACE.json [--stage S]...

The file is a JSON object whose "traceEvents" is a list of events; each
complete event (ph "X") has a name, a category, ts and dur (microseconds,
integers, dur >= 0), pid and tid; metadata events (ph "M") name the process
and the threads. Every stage named has a span of category "stage"; every
span of category "step" lies inside the span of its stage (args.stage) on
the same pid and tid, and spans on one thread either nest or do not
overlap. Every failure is printed; the exit status is 1 when any.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--stage", action="append", default=[])
    ap.add_argument("--steps", action="append", default=[],
                    help="a stage that must have step spans")
    a = ap.parse_args()
    bad = []
    with open(a.trace) as f:
        doc = json.load(f)
    events = doc.get("traceEvents") if isinstance(doc, dict) else None
    if not isinstance(events, list):
        print(f"check-trace: {a.trace}: no traceEvents list", file=sys.stderr)
        return 1
    spans = []
    for i, e in enumerate(events):
        ph = e.get("ph")
        if ph == "M":
            if e.get("name") not in ("process_name", "thread_name") or \
                    not isinstance(e.get("args", {}).get("name"), str):
                bad.append(f"event {i}: a metadata event without a name: {e}")
            continue
        if ph != "X":
            bad.append(f"event {i}: phase {ph!r}, expected X or M")
            continue
        for key, kind in (("name", str), ("cat", str), ("ts", int), ("dur", int),
                          ("pid", int), ("tid", int)):
            if not isinstance(e.get(key), kind) or isinstance(e.get(key), bool):
                bad.append(f"event {i}: {key} is {e.get(key)!r}, expected {kind.__name__}")
        if isinstance(e.get("dur"), int) and e["dur"] < 0:
            bad.append(f"event {i}: negative dur")
        spans.append(e)
    if bad:
        for b in bad:
            print(f"check-trace: {a.trace}: {b}", file=sys.stderr)
        return 1

    stages = {e["name"]: e for e in spans if e["cat"] == "stage"}
    for s in a.stage:
        if s not in stages:
            bad.append(f"no span for stage {s} (spans: {sorted(stages)})")
    for e in spans:
        if e["cat"] != "step":
            continue
        st = stages.get(e.get("args", {}).get("stage"))
        if not st:
            bad.append(f"step {e['name']} names no stage span: {e.get('args')}")
        elif (e["pid"], e["tid"]) != (st["pid"], st["tid"]) or e["ts"] < st["ts"] or \
                e["ts"] + e["dur"] > st["ts"] + st["dur"]:
            bad.append(f"step {e['name']} [{e['ts']}, +{e['dur']}] on {e['tid']} is not inside "
                       f"stage {st['name']} [{st['ts']}, +{st['dur']}] on {st['tid']}")
    for s in a.steps:
        if not any(e["cat"] == "step" and e.get("args", {}).get("stage") == s for e in spans):
            bad.append(f"stage {s} has no step spans")
    # on one thread, two spans nest or are apart: what the viewers draw as a stack
    threads = {}
    for e in spans:
        threads.setdefault((e["pid"], e["tid"]), []).append(e)
    for key, evs in threads.items():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in evs:
            while stack and e["ts"] >= stack[-1]["ts"] + stack[-1]["dur"] and \
                    not (e["dur"] == 0 and e["ts"] == stack[-1]["ts"]):
                stack.pop()
            if stack and e["ts"] + e["dur"] > stack[-1]["ts"] + stack[-1]["dur"]:
                bad.append(f"thread {key}: {e['name']} [{e['ts']}, +{e['dur']}] overlaps "
                           f"{stack[-1]['name']} [{stack[-1]['ts']}, +{stack[-1]['dur']}] "
                           "without nesting in it")
            stack.append(e)
    for b in bad:
        print(f"check-trace: {a.trace}: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
