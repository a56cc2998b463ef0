#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Open a kiln build report in Debian's chromium, headless, and check it.

chromium is driven through the DevTools protocol over --remote-debugging-pipe
(JSON messages ended by NUL on fds 3 and 4): the page is loaded from its
file, every console message, uncaught exception, log entry and network
request is collected, the DOM is queried in the page, and a screenshot of
the whole page is written.

  check-report.py REPORT.html --screenshot OUT.png [--stage S]... [--built S]...
      [--cached S]... [--failed S --log-line TEXT] [--modules N] [--verdict TEXT]...
      [--extension S]...

Every failed expectation is printed; the exit status is 1 when any failed.
A page that logs to the console, throws, or asks for anything but its own
file fails.
"""
import argparse
import base64
import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
import tempfile
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe", "--window-size=1280,900"]

# runs in the page: what the report shows, as JSON
PROBE = r"""
(() => {
  const txt = e => e ? e.textContent.trim() : null;
  const graph = {};
  for (const g of document.querySelectorAll('#graph g.node.stage'))
    graph[txt(g.querySelector('title'))] = g.getAttribute('class');
  const timeline = {};
  for (const e of document.querySelectorAll('#timeline [data-stage]'))
    timeline[e.getAttribute('data-stage')] = e.getAttribute('class');
  const modules = [...document.querySelectorAll('#modules tr.module')].map(r =>
    ({stage: r.getAttribute('data-stage'), cells: [...r.cells].map(c => txt(c)),
      loads: r.classList.contains('loads')}));
  const failures = {};
  for (const f of document.querySelectorAll('.failure[data-stage]'))
    failures[f.getAttribute('data-stage')] = txt(f.querySelector('pre.log-tail'));
  const extensions = {};
  for (const r of document.querySelectorAll('#extensions tr[data-stage]'))
    extensions[r.getAttribute('data-stage')] = r.getAttribute('class') + ': ' + txt(r.cells[1]);
  const build = {};
  for (const r of document.querySelectorAll('#build tr')) build[txt(r.cells[0])] = txt(r.cells[1]);
  return JSON.stringify({graph, timeline, modules, failures, extensions, build,
    critical: document.querySelectorAll('#timeline .bar.critical').length,
    scripts: document.scripts.length, title: document.title,
    height: document.documentElement.scrollHeight});
})()
"""


class Browser:
    def __init__(self, profile):
        self.r_ours, self.w_theirs = os.pipe()  # chromium writes to fd 4
        self.r_theirs, self.w_ours = os.pipe()  # chromium reads fd 3

        def fds():
            # copies first: either end may already be fd 3 or 4
            r, w = os.dup(self.r_theirs), os.dup(self.w_theirs)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            ["chromium", *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=fds, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(self.r_theirs)
        os.close(self.w_theirs)
        self.next_id = 0
        self.buf = b""
        self.events = []
        self.deadline = time.time() + 120  # for everything: a hung browser fails the check

    def _read(self):
        while b"\0" not in self.buf:
            left = self.deadline - time.time()
            if left <= 0 or not select.select([self.r_ours], [], [], left)[0]:
                raise RuntimeError("chromium did not answer within 120 s")
            chunk = os.read(self.r_ours, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=None, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self.w_ours, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]
            self.events.append(m)

    def wait_event(self, method):
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read())

    def close(self):
        self.deadline = time.time() + 20
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def load(path, screenshot):
    """The probe's answer, and what went wrong while loading (console, errors, requests)."""
    url = pathlib.Path(os.path.abspath(path)).as_uri()
    profile = tempfile.mkdtemp(prefix="kiln-chromium-")
    b = Browser(profile)
    try:
        target = b.call("Target.createTarget", url="about:blank")["targetId"]
        s = b.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.call(f"{domain}.enable", session=s)
        b.call("Page.navigate", session=s, url=url)
        b.wait_event("Page.loadEventFired")
        probe = json.loads(b.call("Runtime.evaluate", session=s, expression=PROBE,
                                  returnByValue=True)["result"]["value"])
        b.call("Emulation.setDeviceMetricsOverride", session=s, width=1280,
               height=min(max(probe["height"], 600), 16000), deviceScaleFactor=1, mobile=False)
        shot = b.call("Page.captureScreenshot", session=s, format="png")["data"]
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot))
        problems = []
        for m in b.events:
            p = m.get("params", {})
            if m.get("method") == "Runtime.consoleAPICalled":
                problems.append(f"console.{p['type']}: "
                                + " ".join(str(a.get("value", a.get("description")))
                                           for a in p.get("args", [])))
            elif m.get("method") == "Runtime.exceptionThrown":
                problems.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m.get("method") == "Log.entryAdded":
                e = p["entry"]
                problems.append(f"log {e['level']} ({e['source']}): {e['text']}")
            elif m.get("method") == "Network.requestWillBeSent":
                if p["request"]["url"] != url:
                    problems.append(f"request for {p['request']['url']}")
            elif m.get("method") == "Network.loadingFailed":
                problems.append(f"loading failed: {p.get('errorText')}")
        return probe, problems
    finally:
        b.close()
        shutil.rmtree(profile, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--screenshot", required=True)
    ap.add_argument("--stage", action="append", default=[], help="on the graph and the timeline")
    ap.add_argument("--built", action="append", default=[], help="built: a bar in a job slot")
    ap.add_argument("--cached", action="append", default=[], help="marked as a cache hit")
    ap.add_argument("--failed", action="append", default=[])
    ap.add_argument("--log-line", help="in each failed stage's last log lines")
    ap.add_argument("--modules", type=int, default=0, help="at least N modules with verdicts")
    ap.add_argument("--verdict", action="append", default=[],
                    help="TEXT in some module's row (signer, kernel, verdict)")
    ap.add_argument("--extension", action="append", default=[], help="validated as built")
    ap.add_argument("--any-problem", action="store_true",
                    help="only expect the page to misbehave (to prove the check sees it)")
    a = ap.parse_args()

    probe, problems = load(a.report, a.screenshot)
    if a.any_problem:
        if not problems:
            print(f"check-report: {a.report}: expected to log or fail, and nothing was seen",
                  file=sys.stderr)
        return 0 if problems else 1
    bad = [f"while loading: {p}" for p in problems]
    if probe["scripts"]:
        bad.append(f"the report has {probe['scripts']} scripts")
    for s in a.stage + a.built + a.cached + a.failed:
        if s not in probe["graph"]:
            bad.append(f"stage {s} is not on the graph ({sorted(probe['graph'])})")
        if s not in probe["timeline"]:
            bad.append(f"stage {s} is not on the timeline ({sorted(probe['timeline'])})")
    for kind, names in (("built", a.built), ("cached", a.cached), ("failed", a.failed)):
        for s in names:
            for where in ("graph", "timeline"):
                cls = (probe[where].get(s) or "").split()
                if kind not in cls:
                    bad.append(f"stage {s} is not marked {kind} on the {where}: {cls}")
    for s in a.built:
        if "bar" not in (probe["timeline"].get(s) or "").split():
            bad.append(f"stage {s} has no bar on the timeline")
    if (a.built or a.failed) and probe["critical"] == 0:
        bad.append("no bar is on the critical path")
    for s in a.failed:
        tail = probe["failures"].get(s)
        if tail is None:
            bad.append(f"no failure section for {s} ({list(probe['failures'])})")
        elif a.log_line and a.log_line not in tail:
            bad.append(f"{s}'s last log lines lack {a.log_line!r}: {tail!r}")
    mods = [m for m in probe["modules"] if m["cells"][-1]]
    if len(mods) < a.modules:
        bad.append(f"{len(mods)} modules with a verdict, expected at least {a.modules}: "
                   f"{probe['modules']}")
    for text in a.verdict:
        if not any(text in " | ".join(m["cells"]) for m in mods):
            bad.append(f"no module row with {text!r}: {probe['modules']}")
    for s in a.extension:
        if "valid" not in (probe["extensions"].get(s) or "").split(":")[0].split():
            bad.append(f"extension {s} not shown valid: {probe['extensions']}")
    for key in ("command line", "kiln version", "tree revision", "build arguments"):
        if not probe["build"].get(key):
            bad.append(f"no {key} on the page")
    for b in bad:
        print(f"check-report: {a.report}: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
