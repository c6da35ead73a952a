#!/usr/bin/env python
"""Benchmark: oci_push versus crane append, oras push and skopeo copy, against one local registry in one run.

    ~/.cache/configsync/venv/bin/python benchmarks/oci_push.py [--cases a,b,c] [--big-mb 200] [--small-files 5000] [--json out.json]

Data sets (made in a temporary directory, removed at the end):
  a  the seed's one file, test-namespace.yaml
  b  --small-files small YAML files (about 4 KiB each, ~20 MB) in nested directories
  c  one --big-mb MB file of random bytes (incompressible)

For every data set each tool pushes to a repository of its own (so every blob is really uploaded):
  oci_push         the module run as a process (python plugins/modules/oci_push.py ARGS.json), defaults (gzip level 6)
  oci_push -l1     the same with compression_level 1 (crane's gzip level)
  ansible task     ansible-playbook running the oci_push task: the task's own time and the whole command
  crane append     on a tar made beforehand (`tar -cf`, timed separately: the seed's step 6a is both)
  oras push        on a tar.gz made beforehand (`tar -czf`, timed separately: the seed's step 6b is both)
  skopeo copy      dir: copy of the crane image -> registry (an already packaged image: upload only)

Every tool pushes --rounds times (each round to new repositories); the table shows the median wall time and the
highest peak memory. Wall time is measured around each process. Peak memory is GNU time's %M (Debian package ``time``): the largest
resident set of the process or of any descendant it waited for (for ansible-playbook: its largest process). It is
not taken from this script's own wait4(): a child forked from this Python process inherits its resident set until
exec, and Linux keeps that as the child's high-water mark. Then each tool pushes the same thing again and the
registry's access log gives the number of HTTP requests of that no-op re-push.
"""
import argparse
import json
import os
import pathlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness.paths import COLLECTIONS_PATH, ensure_collections_tree  # noqa: E402  pylint: disable=wrong-import-position
from harness.registry import Registry  # noqa: E402  pylint: disable=wrong-import-position
from harness.tools import tool  # noqa: E402  pylint: disable=wrong-import-position

SEED_NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: test\n"
MODULE = REPO / "plugins" / "modules" / "oci_push.py"
GNU_TIME = "/usr/bin/time"
TASK_TIMER = '''
import json, os, time
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "task_timer"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.started = time.monotonic()

    def v2_runner_on_ok(self, result):
        with open(os.environ["TASK_TIMER_FILE"], "a") as out:
            out.write(json.dumps({"task": result._task.get_name(), "seconds": time.monotonic() - self.started}) + "\\n")

    v2_runner_on_failed = v2_runner_on_ok
'''


class Measurement:
    def __init__(self, seconds, peak_kib, output):
        self.seconds = seconds
        self.peak_kib = peak_kib
        self.output = output


def measure(argv, cwd=None, env=None):
    """Run one process under GNU time; wall seconds and its peak RSS (KiB)."""
    with tempfile.NamedTemporaryFile(prefix="time-", suffix=".txt") as peak_file:
        command = [GNU_TIME, "-q", "-f", "%M", "-o", peak_file.name] + [str(arg) for arg in argv]
        started = time.monotonic()
        completed = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        seconds = time.monotonic() - started
        output = completed.stdout.decode("utf-8", "replace")
        if completed.returncode != 0:
            raise RuntimeError("{0} failed ({1}):\n{2}".format(argv[0], completed.returncode, output[-3000:]))
        peak_kib = int(pathlib.Path(peak_file.name).read_text().split()[-1])
    return Measurement(seconds, peak_kib, output)


# --- data sets -----------------------------------------------------------------------------------------------------
def make_seed(root):
    root.mkdir(parents=True)
    (root / "test-namespace.yaml").write_text(SEED_NAMESPACE)


def make_small_files(root, count):
    """``count`` ConfigMaps of ~4 KiB in 50 directories; some random text so gzip has work like real YAML gives it."""
    rng = random.Random(42)
    for index in range(count):
        directory = root / "team-{0:02d}".format(index % 50)
        directory.mkdir(parents=True, exist_ok=True)
        lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: cm-{0}".format(index),
                 "  namespace: team-{0:02d}".format(index % 50), "data:"]
        while sum(len(line) + 1 for line in lines) < 4000:
            lines.append("  key-{0}: \"{1:032x}\"".format(len(lines), rng.getrandbits(128)))
        (directory / "configmap-{0:05d}.yaml".format(index)).write_text("\n".join(lines) + "\n")


def make_big_file(root, megabytes):
    root.mkdir(parents=True)
    with open(str(root / "blob.bin"), "wb") as out:
        for dummy in range(megabytes):
            out.write(os.urandom(1024 * 1024))


def make_readable(root):
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def tree_size(root):
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


# --- tools ---------------------------------------------------------------------------------------------------------
class Bench:
    def __init__(self, workdir, registry):
        self.workdir = workdir
        self.registry = registry
        self.round = 0
        ensure_collections_tree()
        # Keep a PYTHONPATH the caller set (e.g. to try an optional compressor without installing it into the venv).
        self.module_env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(COLLECTIONS_PATH), os.environ.get("PYTHONPATH")) if p))
        self.crane = str(tool("crane"))
        self.oras = str(tool("oras"))
        self.callbacks = workdir / "callbacks"
        self.callbacks.mkdir()
        (self.callbacks / "task_timer.py").write_text(TASK_TIMER)

    def ref(self, case, who):
        """A repository per case, tool and round, so every round really uploads every blob."""
        return self.registry.ref("bench/{0}-{1}-{2}".format(case, who, self.round), "v1")

    def oci_push(self, case, src, who="oci_push", **options):
        args = {"src": [str(src)], "image": self.ref(case, who)}
        args.update(options)
        args_file = self.workdir / "{0}-{1}.json".format(case, who)
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
        return lambda: measure([sys.executable, MODULE, args_file], env=self.module_env)

    def ansible_task(self, case, src):
        play = [{"hosts": "localhost", "gather_facts": False, "connection": "local",
                 "tasks": [{"name": "push", "configsync.oci.oci_push": {"src": [str(src)], "image": self.ref(case, "ansible")}}]}]
        playbook = self.workdir / "{0}-play.json".format(case)
        playbook.write_text(json.dumps(play))
        timer_file = self.workdir / "{0}-task-times.jsonl".format(case)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH), ANSIBLE_CALLBACK_PLUGINS=str(self.callbacks),
                   ANSIBLE_CALLBACKS_ENABLED="task_timer", TASK_TIMER_FILE=str(timer_file),
                   ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False")
        playbook_bin = pathlib.Path(sys.executable).parent / "ansible-playbook"

        def run():
            if timer_file.exists():
                timer_file.unlink()
            result = measure([playbook_bin, "-i", "localhost,", "-e", "ansible_python_interpreter=" + sys.executable, playbook], env=env)
            result.task_seconds = json.loads(timer_file.read_text().splitlines()[-1])["seconds"]
            return result
        return run

    def crane_append(self, case, tarball):
        return lambda: measure([self.crane, "append", "--insecure", "-f", tarball, "-t", self.ref(case, "crane")])

    def oras_push(self, case, tarball):
        return lambda: measure([self.oras, "push", "--plain-http", "--disable-path-validation", self.ref(case, "oras"), tarball.name],
                               cwd=tarball.parent)

    def skopeo_copy(self, case, layout):
        """skopeo with a blob-info cache of its own for this push.

        skopeo remembers (in a cache that is per-user and, for root, not relocatable) in which repositories of a registry
        it saw a blob, and mounts it from there instead of uploading. Every push here must upload, so the timed skopeo
        runs as ``nobody`` (when we are root) with XDG_DATA_HOME, hence the cache, in a fresh directory.
        """
        def run():
            cache = pathlib.Path(tempfile.mkdtemp(prefix="skopeo-cache-", dir=str(self.workdir)))
            cache.chmod(0o777)
            prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.geteuid() == 0 else []
            env = dict(os.environ, HOME=str(cache), XDG_DATA_HOME=str(cache))
            return measure(prefix + ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "dir:" + str(layout),
                                     "docker://" + self.ref(case, "skopeo")], env=env)
        return run

    def repush_requests(self, push):
        """Requests the registry saw for a second, identical push."""
        self.registry.clear_log()
        push()
        return self.registry.requests()


def run_case(bench, case, src, results, rounds):
    tarball = bench.workdir / "{0}.tar".format(case)
    tar_time = measure(["tar", "-C", src, "-cf", tarball, "."])
    targz = bench.workdir / "{0}.tar.gz".format(case)
    targz_time = measure(["tar", "-C", src, "-czf", targz, "."])

    pushes = [
        ("oci_push", lambda: bench.oci_push(case, src)),
        ("oci_push -l1", lambda: bench.oci_push(case, src, who="oci_push-l1", compression_level=1)),
        ("ansible task", lambda: bench.ansible_task(case, src)),
        ("crane append", lambda: bench.crane_append(case, tarball)),
        ("oras push", lambda: bench.oras_push(case, targz)),
        ("skopeo copy", lambda: bench.skopeo_copy(case, layout)),
    ]
    layout = bench.workdir / "{0}-skopeo-dir".format(case)
    rows = {name: {"rounds": []} for name, dummy in pushes}
    for bench.round in range(rounds):
        for name, make_push in pushes:
            if name == "skopeo copy":
                # skopeo pushes what crane pushed this round, from a dir: copy made untimed.
                shutil.rmtree(str(layout), ignore_errors=True)
                measure(["skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://" + bench.ref(case, "crane"), "dir:" + str(layout)])
                make_readable(layout)
            push = make_push()
            first = push()
            rows[name]["rounds"].append({"seconds": first.seconds, "peak_mib": first.peak_kib / 1024.0,
                                         "task_seconds": getattr(first, "task_seconds", None)})
            if bench.round == 0:
                rows[name]["repush_requests"] = [repr(r) for r in bench.repush_requests(push)]
    for row in rows.values():
        row["seconds"] = statistics.median(r["seconds"] for r in row["rounds"])
        row["peak_mib"] = max(r["peak_mib"] for r in row["rounds"])
        if row["rounds"][0]["task_seconds"] is not None:
            row["task_seconds"] = statistics.median(r["task_seconds"] for r in row["rounds"])
    rows["tar -cf"] = {"seconds": tar_time.seconds, "peak_mib": tar_time.peak_kib / 1024.0}
    rows["tar -czf"] = {"seconds": targz_time.seconds, "peak_mib": targz_time.peak_kib / 1024.0}
    results[case] = {"input_bytes": tree_size(src), "files": sum(1 for p in src.rglob("*") if p.is_file()), "tools": rows}
    for path in (tarball, targz):
        path.unlink()
    shutil.rmtree(str(layout))


def print_table(results):
    tools = ["oci_push", "oci_push -l1", "ansible task", "crane append", "oras push", "skopeo copy", "tar -cf", "tar -czf"]
    print()
    header = ("case", "tool", "wall s", "x crane", "peak MiB", "x crane", "re-push")
    print("{0:<4} {1:<14} {2:>9} {3:>8} {4:>10} {5:>8} {6:>9}".format(*header))
    for case, data in results.items():
        crane = data["tools"]["crane append"]
        print("{0:<4} input: {1} files, {2:.1f} MB".format(case, data["files"], data["input_bytes"] / 1e6))
        for name in tools:
            row = data["tools"][name]
            repush = len(row["repush_requests"]) if "repush_requests" in row else ""
            print("{0:<4} {1:<14} {2:>9.2f} {3:>8.2f} {4:>10.1f} {5:>8.2f} {6:>9}".format(
                case, name, row["seconds"], row["seconds"] / crane["seconds"], row["peak_mib"], row["peak_mib"] / crane["peak_mib"],
                repush))
            if name == "ansible task":
                print("{0:<4} {1:<14} {2:>9.2f} {3:>8.2f}   (the task alone, inside ansible-playbook)".format(
                    case, "  task time", row["task_seconds"], row["task_seconds"] / crane["seconds"]))
    print()
    for case, data in results.items():
        for name in ("oci_push", "crane append", "oras push", "skopeo copy"):
            print("no-op re-push, case {0}, {1}: {2}".format(case, name, ", ".join(data["tools"][name]["repush_requests"])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--cases", default="a,b,c", help="comma-separated subset of a,b,c")
    parser.add_argument("--big-mb", type=int, default=200, help="size of case c's file in MB")
    parser.add_argument("--small-files", type=int, default=5000, help="number of files of case b")
    parser.add_argument("--rounds", type=int, default=3, help="pushes per tool and case; the table shows the median time")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    options = parser.parse_args()
    if not os.access(GNU_TIME, os.X_OK):
        parser.error("needs GNU time at {0} (Debian: apt-get install time)".format(GNU_TIME))

    workdir = pathlib.Path(tempfile.mkdtemp(prefix="bench-oci-push-"))
    workdir.chmod(0o755)  # skopeo runs as nobody and reads its source below here
    registry = Registry(workdir / "registry").start()
    results = {}
    try:
        bench = Bench(workdir, registry)
        makers = {"a": make_seed, "b": lambda root: make_small_files(root, options.small_files),
                  "c": lambda root: make_big_file(root, options.big_mb)}
        for case in options.cases.split(","):
            src = workdir / "data-{0}".format(case)
            makers[case](src)
            print("case {0}: pushing {1}".format(case, src), file=sys.stderr)
            run_case(bench, case, src, results, options.rounds)
            shutil.rmtree(str(src))
    finally:
        registry.stop()
        if not options.keep:
            shutil.rmtree(str(workdir), ignore_errors=True)
    print_table(results)
    print("\n" + textwrap.fill("versions: crane {0}, oras {1}, skopeo (Debian), docker-registry (Debian); {2} cores".format(
        tool("crane").parent.name, tool("oras").parent.name, os.cpu_count())))
    if options.json:
        pathlib.Path(options.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
