#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SIGKILL at any moment: the store stays sound and the rerun gives the same digests.

Each operation (build, push, pull, import, export, unpack, module sign)
first runs once uninterrupted, to learn its duration T and its digests.
Then, KILLS times, it is started again and its whole process group is
killed with SIGKILL at a moment drawn uniformly from (0, T); a run that
ends before its moment is not counted, and is drawn again. After each
kill:

  - `kiln store verify` passes (leftovers of killed writers are allowed:
    they are not faults, and no reader sees them);
  - what the user sees is absent, as it was, or complete: export's file,
    unpack's and `build -o`'s directory, the modules being signed (each
    byte-identical to the old file or to the fully signed one), with no
    other name beside them but kiln's hidden temporary ones
    (.NAME.kiln-XXXXXX, out of sight of ls);
  - no live process of the killed group is left;
  - the rerun succeeds with the digests of the uninterrupted run, and
    leaves no temporary name at all in the output directory (the next
    writer of a path removes what a killed one left).

Starting states alternate (see each reset()): a fresh store or registry,
then one as the last runs left it (a pull killed halfway, pushes killed
halfway, a stage cache holding base but not left).

The moments come from one seed, printed first: KILN_KILL_SEED=N reproduces
a run, KILN_KILLS=N sets the number of kills per operation.
"""
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from taplib import bail_out, done_testing, tap  # noqa: E402

KILN = os.environ["KILN"]
SRCDIR = os.environ["SRCDIR"]
MODULES = os.environ["KILN_TEST_MODULES"]
KILLS = int(os.environ.get("KILN_KILLS", "50"))
TEMP_NAME = re.compile(r"^\..+\.kiln-[A-Za-z0-9]{6}$")
SEED = int(os.environ.get("KILN_KILL_SEED") or random.SystemRandom().randrange(1 << 32))




def need(*tools):
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    for t in tools:
        if not shutil.which(t, path=path):
            bail_out("no %s: run scripts/install-deps.sh" % t)


def run(argv, env, cwd=None):
    """Run to the end: (exit status, stdout, stderr)."""
    p = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def must(argv, env, cwd=None):
    rc, so, se = run(argv, env, cwd)
    if rc != 0:
        bail_out("%s failed (%d): %s" % (" ".join(argv), rc, se.strip()[-500:]))
    return so


def kill_at(argv, env, moment, cwd=None):
    """Start @argv in its own process group and SIGKILL the group at @moment:
    (None, whether a process of the group is left) when it was killed, else
    (its exit status, False): it ended first."""
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        return p.wait(timeout=moment), False
    except subprocess.TimeoutExpired:
        pass
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    return None, not group_gone(p.pid)


def group_members(pgid):
    """The live processes of group @pgid: zombies are dead already (reaping them is up to
    the parent they were handed to, here the container's pid 1, which takes its time)."""
    live = []
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            live.append("%s (%s)" % (pid, fields[0]))
    return live


def group_gone(pgid):
    """Whether no live process of group @pgid is left (given a moment to exit)."""
    for _ in range(100):
        if not group_members(pgid):
            return True
        time.sleep(0.02)
    return False


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(root):
    """Every entry under @root: path, type, mode, content or link target."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(("%s %o\n" % (os.path.relpath(p, root), st.st_mode)).encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(p).encode())
            elif stat.S_ISREG(st.st_mode):
                h.update(sha256_file(p).encode())
    return h.hexdigest()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Registry:
    """Debian's docker-registry on loopback, with storage of its own."""

    def __init__(self, work, name):
        self.dir = os.path.join(work, name)
        self.proc = None
        self.port = None

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(os.path.join(self.dir, "data"))
        self.port = free_port()
        with open(os.path.join(self.dir, "config.yml"), "w") as f:
            f.write("version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\n"
                    "storage: {filesystem: {rootdirectory: %s/data}, delete: {enabled: true}}\n"
                    "http: {addr: 127.0.0.1:%d}\n" % (self.dir, self.port))
        log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(["docker-registry", "serve",
                                      os.path.join(self.dir, "config.yml")],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/v2/" % self.port, timeout=5)
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        bail_out("docker-registry did not start: see " + self.dir + "/log")

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    def manifest_digest(self, repo, tag):
        req = urllib.request.Request(
            "http://%s/v2/%s/manifests/%s" % (self.host, repo, tag), method="HEAD",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        try:
            return urllib.request.urlopen(req, timeout=10).headers.get("Docker-Content-Digest")
        except OSError as e:
            return "none (%s)" % e


class Op:
    """One operation under kills: subclasses say how to run, reset and check it."""

    name = ""
    store = True  # whether it uses a store that `store verify` must pass
    writes_blobs = False  # its rerun writes blobs, and so first removes what killed writers left

    def __init__(self, work):
        self.work = os.path.join(work, self.name.replace(" ", "-"))
        os.makedirs(self.work)
        self.env = dict(os.environ, KILN_CACHE_DIR=os.path.join(self.work, "cache"),
                        HOME=os.path.join(self.work, "home"),
                        XDG_RUNTIME_DIR=os.path.join(self.work, "run"))
        for k in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE",
                  "SOURCE_DATE_EPOCH"):
            self.env.pop(k, None)
        os.makedirs(self.env["HOME"])
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700)
        self.out = os.path.join(self.work, "out")
        os.makedirs(self.out)

    def kiln(self, *args):
        return must([KILN] + list(args), self.env)

    def argv(self):
        raise NotImplementedError

    def reset(self, i):
        """The state before kill @i."""

    def result(self, stdout):
        """What the completed run made, to compare with the uninterrupted run's."""
        return stdout.strip()

    hidden = 0  # hidden temporary names seen after kills
    leftovers = frozenset()  # temporary files of killed writers that store verify listed

    def after_kill(self, rerun=False):
        """Problems with what the killed run (or the rerun) left the user, as strings."""
        return []

    def before_rerun(self):
        """What the user does before running a killed operation again."""

    def extra_names(self, d, allowed, rerun):
        """Problems with names in @d other than @allowed: after a kill, kiln's hidden
        temporary names (.NAME.kiln-XXXXXX) are out of the user's sight and allowed
        (the next run over the same output removes them); after the rerun none is."""
        bad = []
        for name in sorted(set(os.listdir(d)) - set(allowed)):
            if not rerun and TEMP_NAME.match(name):
                self.hidden += 1
            else:
                bad.append("left in %s: %s" % (d, name))
        return bad


class Import(Op):
    name = "import"
    writes_blobs = True

    def __init__(self, work, tree):
        super().__init__(work)
        self.tree = tree

    def argv(self):
        return [KILN, "import", self.tree, "--tag", "kill/import:1"]

    def reset(self, i):
        # every other kill into a fresh store, else into what the last ones left
        if i % 2 == 0:
            shutil.rmtree(self.env["KILN_CACHE_DIR"], ignore_errors=True)
        else:
            run([KILN, "store", "rm", "kill/import:1"], self.env)


class Export(Op):
    name = "export"

    def __init__(self, work, tree):
        super().__init__(work)
        self.kiln("import", tree, "--tag", "kill/t:1")
        self.file = os.path.join(self.out, "t.tar")

    def argv(self):
        return [KILN, "export", "kill/t:1", "-o", self.file]

    def reset(self, i):
        # over nothing, or over the complete file of the last run
        if i % 2 == 0 and os.path.exists(self.file):
            os.unlink(self.file)

    def result(self, stdout):
        return sha256_file(self.file)

    def after_kill(self, rerun=False):
        bad = self.extra_names(self.out, ["t.tar"], rerun)
        if os.path.exists(self.file) and sha256_file(self.file) != self.expected:
            bad.append("%s is there but not the complete archive" % self.file)
        return bad


class Unpack(Op):
    name = "unpack"

    def __init__(self, work, tree):
        super().__init__(work)
        self.kiln("import", tree, "--tag", "kill/t:1")
        self.dir = os.path.join(self.out, "root")

    def argv(self):
        return [KILN, "unpack", "kill/t:1", self.dir]

    def reset(self, i):
        shutil.rmtree(self.dir, ignore_errors=True)

    def before_rerun(self):
        # killed after the rename: the unpack was whole (after_kill checked it), and
        # unpack refuses a directory that is not empty
        shutil.rmtree(self.dir, ignore_errors=True)

    def result(self, stdout):
        return tree_digest(self.dir)

    def after_kill(self, rerun=False):
        bad = self.extra_names(self.out, ["root"], rerun)
        if os.path.exists(self.dir) and tree_digest(self.dir) != self.expected:
            bad.append("%s is there but not complete" % self.dir)
        return bad


class Build(Op):
    name = "build"

    def __init__(self, work, busybox):
        super().__init__(work)
        self.tree = os.path.join(self.work, "tree")
        shutil.copytree(os.path.join(SRCDIR, "tests/data/build-tree"), self.tree, symlinks=True)
        self.kiln("import", busybox, "--tag", "kiln-test/busybox:1")
        self.dir = os.path.join(self.out, "left")

    def argv(self):
        return [KILN, "-C", self.tree, "build", "--progress", "quiet", "left", "-o", self.dir]

    def reset(self, i):
        # every other kill with every stage to build, else with base in the cache
        if i % 2 == 0:
            self.kiln("cache", "prune", "--all")
        else:
            for e in json.loads(self.kiln("store", "ls", "--json")):
                if (e["name"] or "").startswith("kiln.local/stage/left:"):
                    self.kiln("store", "rm", e["name"])
        shutil.rmtree(self.dir, ignore_errors=True)

    def result(self, stdout):
        return stdout.strip() + " " + tree_digest(self.dir)

    def after_kill(self, rerun=False):
        bad = self.extra_names(self.out, ["left"], rerun)
        if os.path.exists(self.dir) and tree_digest(self.dir) != self.expected.split()[1]:
            bad.append("%s is there but not complete" % self.dir)
        images = os.path.join(self.tree, "_out", "images.json")
        try:
            if os.path.exists(images):
                json.load(open(images))
        except ValueError as e:
            bad.append("%s is not JSON: %s" % (images, e))
        return bad


class Push(Op):
    name = "push"

    def __init__(self, work, tree):
        super().__init__(work)
        self.kiln("import", tree, "--tag", "kill/t:1")
        self.registry = Registry(self.work, "registry")
        self.registry.start()

    def argv(self):
        return [KILN, "push", "-q", "kill/t:1", self.registry.host + "/kill/push:1"]

    def reset(self, i):
        # every other kill into an empty registry, else into what the killed pushes left
        if i % 2 == 0:
            self.registry.stop()
            self.registry.start()

    def result(self, stdout):
        got = stdout.strip().rsplit("@", 1)[-1]
        return got + " " + str(self.registry.manifest_digest("kill/push", "1"))


class Pull(Op):
    name = "pull"
    writes_blobs = True

    def __init__(self, work, ref):
        super().__init__(work)
        self.ref = ref
        self.partial = os.path.join(self.work, "partial")

    def argv(self):
        return [KILN, "pull", "-q", self.ref]

    def reset(self, i):
        # every other kill into a fresh cache, else into one a killed pull filled in part
        cache = self.env["KILN_CACHE_DIR"]
        shutil.rmtree(cache, ignore_errors=True)
        if i % 2 == 1 and os.path.isdir(self.partial):
            shutil.copytree(self.partial, cache, symlinks=True)

    def after_kill(self, rerun=False):
        if rerun:
            return []
        shutil.rmtree(self.partial, ignore_errors=True)
        shutil.copytree(self.env["KILN_CACHE_DIR"], self.partial, symlinks=True)
        return []


class Sign(Op):
    name = "module sign"
    store = False

    def __init__(self, work, key):
        super().__init__(work)
        self.key = key
        self.orig = os.path.join(self.work, "orig")
        os.makedirs(self.orig)
        mods = sorted(f for f in os.listdir(MODULES) if f.endswith(".ko"))
        if not mods:
            bail_out("no test modules in " + MODULES)
        for k in range(8):
            for m in mods:
                shutil.copy(os.path.join(MODULES, m), os.path.join(self.orig, "%d-%s" % (k, m)))
        self.names = sorted(os.listdir(self.orig))
        self.before = {n: sha256_file(os.path.join(self.orig, n)) for n in self.names}
        self.dir = os.path.join(self.out, "mods")

    def argv(self):
        return [KILN, "module", "sign", "-k", self.key, "--replace", "-j", "2", self.dir]

    def reset(self, i):
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.copytree(self.orig, self.dir)

    def files(self):
        return {n: sha256_file(os.path.join(self.dir, n)) for n in self.names}

    def result(self, stdout):
        return json.dumps(self.files(), sort_keys=True)

    def after_kill(self, rerun=False):
        bad = self.extra_names(self.dir, self.names, rerun)
        got = self.files()
        signed = json.loads(self.expected)
        for n in self.names:
            if got.get(n) not in (self.before[n], signed[n]):
                bad.append("%s is neither the old module nor the signed one" % n)
        return bad


def verify(op, rerun=False):
    if not op.store:
        return []
    rc, so, se = run([KILN, "store", "verify"], op.env)
    if rc != 0:
        return ["store verify exit %d: %s%s" % (rc, so.strip()[-1500:], se.strip()[-500:])]
    left = {line.split(":")[1] for line in so.splitlines() if line.startswith("leftover: ")}
    op.leftovers |= left
    if rerun and op.writes_blobs and left:
        return ["the rerun left what the killed run left in the store: %s" % sorted(left)]
    return []


def exercise(op, rng):
    """The uninterrupted run, then KILLS kills; one TAP line."""
    # T for each of the two starting states reset() makes (i even, i odd), the shorter of
    # two runs (the machine is shared: a slow run would waste kills on finished runs)
    durations = [None, None]
    op.expected = None
    for i in (0, 1, 2, 3):
        op.reset(i)
        t0 = time.monotonic()
        rc, so, se = run(op.argv(), op.env)
        took = time.monotonic() - t0
        if rc != 0:
            tap(False, "%s: the uninterrupted run" % op.name, [se[-1500:]])
            return
        durations[i % 2] = min(durations[i % 2] or took, took)
        before, op.expected = op.expected, op.result(so)
        problems = verify(op) + op.after_kill(rerun=True)
        if before is not None and before != op.expected:
            problems.append("two uninterrupted runs differ: %s and %s" % (before, op.expected))
        if problems:
            tap(False, "%s: the uninterrupted run leaves a sound store and output" % op.name,
                problems)
            return
    kills = tries = 0
    failures = []
    start = time.monotonic()
    while kills < KILLS and tries < KILLS * 3 and len(failures) < 5:
        i = tries
        tries += 1
        op.reset(i)
        duration = durations[i % 2]
        moment = rng.uniform(0, duration)
        status, stray = kill_at(op.argv(), op.env, moment)
        if status is not None:
            if status != 0:
                failures.append("try %d: the run (not killed) failed with %d" % (i, status))
            continue
        kills += 1
        where = "kill %d (try %d, at %.3f s of %.3f)" % (kills, i, moment, duration)
        problems = verify(op) + op.after_kill()
        if stray:
            problems.append("a process of the killed group is still there")
        op.before_rerun()
        rc, so, se = run(op.argv(), op.env)
        if rc != 0:
            problems.append("the rerun failed (%d): %s" % (rc, se.strip()[-800:]))
        else:
            got = op.result(so)
            if got != op.expected:
                problems.append("the rerun gave %s, the uninterrupted run %s"
                                % (got[:300], op.expected[:300]))
            problems += verify(op, rerun=True) + op.after_kill(rerun=True)
        for p in problems:
            failures.append("%s: %s" % (where, p))
    took = time.monotonic() - start
    tap(kills >= KILLS and not failures,
        "%s: %d kills in %d tries (T = %.3f and %.3f s, %.0f s; seen: %d hidden temporary "
        "names, %d store leftovers), each leaving a sound store, no half-written output, and a "
        "rerun with the same digests" % (op.name, kills, tries, durations[0], durations[1], took,
                                         op.hidden, len(op.leftovers)),
        failures)


def main():
    need("docker-registry", "openssl")
    if not os.path.exists("/bin/busybox"):
        bail_out("no /bin/busybox (busybox-static): run scripts/install-deps.sh")
    if os.geteuid() != 0 and subprocess.run(["unshare", "-U", "-r", "-m", "true"],
                                            capture_output=True).returncode != 0:
        bail_out("neither root nor user namespaces: kiln build cannot run here")
    print("# seed %d (KILN_KILL_SEED=%d reproduces this run), %d kills per operation"
          % (SEED, SEED, KILLS))
    rng = random.Random(SEED)
    work = tempfile.mkdtemp(prefix="kiln-kill-")
    ops = []
    try:
        # an image of 1 MB in 20 files that do not compress: import takes 0.1-0.3 s
        tree = os.path.join(work, "tree")
        os.makedirs(os.path.join(tree, "data"))
        data = random.Random(1)
        for k in range(20):
            with open(os.path.join(tree, "data", "f%d" % k), "wb") as f:
                f.write(data.randbytes(50000))
        os.symlink("data/f0", os.path.join(tree, "link"))
        busybox = os.path.join(work, "busybox")
        for d in ("bin", "usr/bin", "sbin", "tmp", "etc"):
            os.makedirs(os.path.join(busybox, d))
        shutil.copy("/bin/busybox", os.path.join(busybox, "bin/busybox"))
        for app in subprocess.run(["/bin/busybox", "--list"], capture_output=True,
                                  text=True).stdout.split():
            if not os.path.exists(os.path.join(busybox, "bin", app)):
                os.symlink("busybox", os.path.join(busybox, "bin", app))
        key = os.path.join(work, "key.pem")
        subprocess.run(["openssl", "req", "-new", "-nodes", "-utf8", "-sha256", "-days", "36500",
                        "-batch", "-x509", "-subj", "/CN=kiln kill test", "-newkey", "rsa:2048",
                        "-outform", "PEM", "-out", key, "-keyout", key],
                       capture_output=True, check=True)

        # the registry pulls come from, with the image pushed once
        source = Registry(work, "source")
        source.start()
        ops.append(source)
        push = Push(work, tree)
        ops.append(push.registry)
        ref = source.host + "/kill/pull:1"
        must([KILN, "push", "-q", "kill/t:1", ref], push.env)

        for op in (Build(work, busybox), push, Pull(work, ref), Import(work, tree),
                   Export(work, tree), Unpack(work, tree), Sign(work, key)):
            exercise(op, rng)
    finally:
        for r in ops:
            r.stop()
        shutil.rmtree(work, ignore_errors=True)
    return done_testing()


if __name__ == "__main__":
    sys.exit(main())
