#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Errors bound to the failure: make one allocation fail, everywhere.

Each command below runs once as it is, to count its allocations (through
failmalloc.so, tests/fault/failmalloc.c), and then once for each of up to
PER_COMMAND allocations spread evenly over that count, with that one
allocation failing. Every such run must end in one of two ways:

  - it succeeds, with the same standard output as the run without a fault
    (glibc and libkiln may fall back where memory is short, but never to a
    different or shortened answer), or
  - it fails with exit 1 and its last line of standard error says that
    memory ran out ("out of memory", "Cannot allocate memory"): the
    message belongs to this failure, not to an older one.

A crash, another exit status, a success with other output, or a message
about something else is a failure, shown with the fault's number N; rerun
it with KILN_FAILMALLOC=N LD_PRELOAD=.../failmalloc.so taskset -c 0 kiln ...
(on one CPU, as the test runs it, so that kiln starts one worker).
Commands that change files (module sign, import) also check that what they
write is either as it was or complete.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import done_testing, tap  # noqa: E402

KILN = os.environ["KILN"]
SHIM = os.environ["FAILMALLOC"]
SRCDIR = os.environ["SRCDIR"]
MODULES = os.environ["KILN_TEST_MODULES"]
PER_COMMAND = int(os.environ.get("KILN_FAULTS_PER_COMMAND", "400"))

def find_corpus():
    """The siderolabs/extensions tree, where tap.sh's find_corpus looks."""
    for c in (os.environ.get("KILN_CORPUS", ""), os.path.join(SRCDIR, "..", "shared", "corpus"),
              "/work/shared/corpus"):
        if c and os.path.isdir(os.path.join(c, "siderolabs-extensions")):
            return os.path.join(c, "siderolabs-extensions")
    return None


CORPUS = find_corpus()



def says_memory(stderr):
    lines = stderr.decode(errors="replace").strip().splitlines()
    return bool(lines) and ("out of memory" in lines[-1].lower() or
                            "cannot allocate memory" in lines[-1].lower())


def faults(name, argv, env=None, prepare=None, check_files=None):
    """Run @argv with every sampled allocation failing; one TAP point."""
    env = dict(os.environ if env is None else env)
    env.pop("KILN_FAILMALLOC", None)
    if prepare:
        prepare()
    base = subprocess.run(argv, env=env, capture_output=True)
    if base.returncode != 0:
        tap(False, name, ["the run without a fault failed: exit %d" % base.returncode,
                          base.stderr.decode(errors="replace")[-1500:]])
        return
    want_files = check_files() if check_files else None
    with tempfile.NamedTemporaryFile() as count:
        env.update(LD_PRELOAD=SHIM, KILN_FAILMALLOC_COUNT=count.name)
        if prepare:
            prepare()
        subprocess.run(argv, env=env, capture_output=True)
        total = int(open(count.name).read() or "0")
        del env["KILN_FAILMALLOC_COUNT"]
    if total == 0:
        tap(False, name, ["no allocation was counted: is failmalloc.so preloaded?"])
        return
    step = max(1, total // PER_COMMAND)
    tried, problems = 0, []
    for n in range(1, total + 1, step):
        tried += 1
        env["KILN_FAILMALLOC"] = str(n)
        before = None
        if prepare:
            prepare()
            before = check_files() if check_files else None
        p = subprocess.run(argv, env=env, capture_output=True)
        err = p.stderr.decode(errors="replace").strip()
        if p.returncode < 0:
            problems.append("N=%d: killed by signal %d: %s" % (n, -p.returncode, err[-400:]))
        elif p.returncode == 0 and p.stdout != base.stdout:
            problems.append("N=%d: succeeded with other output" % n)
        elif p.returncode not in (0, 1):
            problems.append("N=%d: exit %d: %s" % (n, p.returncode, err[-400:]))
        elif p.returncode == 1 and not says_memory(p.stderr):
            problems.append("N=%d: the message is not about memory: %s" % (n, err[-400:]))
        elif "Sanitizer" in err:
            problems.append("N=%d: sanitizer report: %s" % (n, err[-400:]))
        elif check_files:
            got = check_files()
            if got != want_files and got != before:
                problems.append("N=%d: files left neither as they were nor complete" % n)
    tap(not problems, "%s: %d of %d allocations failed in turn" % (name, tried, total),
        problems[:10] + (["... and %d more" % (len(problems) - 10)] if len(problems) > 10 else []))


def read_tree(path):
    """Every file below @path and its bytes (an output directory's state)."""
    out = {}
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, path)] = fh.read()
    return out


def main():
    # on one CPU, kiln starts one worker: the Nth allocation is the same one in every run
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    work = tempfile.mkdtemp(prefix="kiln-alloc-faults.")
    try:
        run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(done_testing())


def run(work):
    tree = os.path.join(SRCDIR, "tests", "data", "build-tree")
    mods = [os.path.join(MODULES, m) for m in ("kiln_plain.ko", "kiln_fw.ko",
                                                 "kiln_consumer.ko", "kiln_provider.ko")]

    # the package model: YAML, templates, the graph
    faults("validate", [KILN, "-C", tree, "validate"])
    faults("dump --json", [KILN, "-C", tree, "dump", "--json"])
    plan = [KILN, "-C", tree, "plan", "--cache", "127.0.0.1:1/kiln/cache", "--push",
            "--registry", "127.0.0.1:1", "--username", "kiln", "--build-arg"]
    faults("plan --format github", plan + ["A=it's ${{ x }}", "--format", "github", "top"])
    faults("plan --format argo",
           plan + ["A=it's $x", "--format", "argo", "--image", "x/kiln:1", "top"])
    if not CORPUS:
        tap(False, "graph of siderolabs/extensions", ["no corpus: set KILN_CORPUS"])
    else:
        args = open(os.path.join(SRCDIR, "tests", "data", "corpus-build-args")).read().split()
        build_args = [a for arg in args for a in ("--build-arg", arg)]
        faults("graph of siderolabs/extensions",
               [KILN, "-C", CORPUS, "graph", "--format", "json"] + build_args)

    # modules: read, sign, verify
    faults("module info", [KILN, "module", "info"] + mods)
    faults("module info --json", [KILN, "module", "info", "--json"] + mods)
    key = os.path.join(work, "key.pem")
    cert = os.path.join(work, "cert.der")
    subprocess.run(["openssl", "req", "-new", "-nodes", "-x509", "-newkey", "rsa:2048",
                    "-subj", "/CN=kiln alloc faults", "-days", "36500", "-sha256",
                    "-keyout", key, "-out", key, "-batch"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-in", key, "-outform", "DER", "-out", cert],
                   check=True)
    signdir = os.path.join(work, "sign")

    def fresh_modules():
        shutil.rmtree(signdir, ignore_errors=True)
        os.mkdir(signdir)
        for m in mods:
            shutil.copy(m, signdir)

    faults("module sign", [KILN, "module", "sign", "--key", key, "--cert", cert,
                           "-j", "1", signdir],
           prepare=fresh_modules, check_files=lambda: read_tree(signdir))
    fresh_modules()
    subprocess.run([KILN, "module", "sign", "--key", key, "--cert", cert, signdir],
                   check=True, capture_output=True)
    faults("module verify", [KILN, "module", "verify", "--cert", cert, signdir])

    # the store: import a tree, then read it back
    store_env = dict(os.environ, KILN_CACHE_DIR=os.path.join(work, "cache"),
                     SOURCE_DATE_EPOCH="0")
    rootfs = os.path.join(work, "rootfs")
    os.makedirs(os.path.join(rootfs, "usr", "lib", "modules"))
    for m in mods:
        shutil.copy(m, os.path.join(rootfs, "usr", "lib", "modules"))
    os.symlink("usr/lib", os.path.join(rootfs, "lib"))

    def empty_store():
        shutil.rmtree(store_env["KILN_CACHE_DIR"], ignore_errors=True)

    faults("import", [KILN, "import", rootfs, "--tag", "localhost/faults:1"], env=store_env,
           prepare=empty_store)
    empty_store()
    subprocess.run([KILN, "import", rootfs, "--tag", "localhost/faults:1"], env=store_env,
                   check=True, capture_output=True)
    faults("inspect", [KILN, "inspect", "localhost/faults:1"], env=store_env)
    faults("ls", [KILN, "ls", "-l", "localhost/faults:1"], env=store_env)
    faults("store ls --json", [KILN, "store", "ls", "--json"], env=store_env)


if __name__ == "__main__":
    main()
