#!/usr/bin/env python
"""Benchmark: what an ``ar_repository`` no-op costs per task, next to an ``ansible.builtin.uri`` task making the same GET.

    ~/.cache/configsync/venv/bin/python benchmarks/gcp_noop.py [--runs 7] [--pairs 3] [--json out.json]

One local Google API emulator (tests/harness/gcp_emulator.py) holds one repository. Each of --runs ansible-playbook runs
executes --pairs pairs of tasks, alternating which one goes first:
  uri            ansible.builtin.uri GET .../repositories/config-images with the bearer token (one request)
  ar_repository  configsync.oci.ar_repository with the same repository: a no-op (one GET, no write)
Per-task wall time comes from the ansible.posix.json callback (task start/end). The script prints the median of each and
their ratio, then a breakdown of where the module's extra time goes, each step measured in --runs fresh interpreters:
  python start        an empty interpreter
  ansible basic       import ansible.module_utils.basic (both modules pay it)
  google imports      import google.cloud.artifactregistry_v1 (+ google.auth), and `python -X importtime`'s top entries
  client              credentials + ArtifactRegistryClient(transport="rest")
  request             get_repository (the one GET)
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness.fixtures_gcp import GcpEmulator, start_emulator, stop_emulator  # noqa: E402  pylint: disable=wrong-import-position
from harness.paths import COLLECTIONS_PATH, ensure_collections_tree  # noqa: E402  pylint: disable=wrong-import-position

REPOSITORY = "config-images"
LOCATION = "us-central1"

# Runs in a fresh interpreter: the module's own steps, timed one by one (stdout: one JSON object).
STEP_TIMER = r'''
import json, sys, time
t0 = time.perf_counter()
import ansible.module_utils.basic  # noqa: F401
t1 = time.perf_counter()
import google.auth  # noqa: F401
from google.cloud import artifactregistry_v1
t2 = time.perf_counter()
from ansible_collections.configsync.oci.plugins.module_utils.gcp import artifact_registry
params = {"auth_kind": "accesstoken", "access_token": sys.argv[1], "api_endpoint": sys.argv[2], "scopes": None}
client = artifact_registry.client(params)
t3 = time.perf_counter()
client.get_repository(name=sys.argv[3], timeout=60)
t4 = time.perf_counter()
print(json.dumps({"ansible basic": t1 - t0, "google imports": t2 - t1, "client": t3 - t2, "request": t4 - t3}))
'''

# The alternative a read-only path could take: the same GET through google-auth's requests session, no gapic client.
PLAIN_TIMER = r'''
import json, sys, time
t0 = time.perf_counter()
from google.oauth2.credentials import Credentials
from google.auth.transport.requests import AuthorizedSession
t1 = time.perf_counter()
response = AuthorizedSession(Credentials(sys.argv[1])).get("%s/v1/%s" % (sys.argv[2], sys.argv[3]), timeout=60)
response.raise_for_status()
response.json()
t2 = time.perf_counter()
print(json.dumps({"plain imports": t1 - t0, "plain request": t2 - t1}))
'''


def playbook(gcp, pairs):
    url = "%s/v1/%s" % (gcp.endpoint, gcp.repository_name(REPOSITORY, LOCATION))
    uri = {"name": "uri", "ansible.builtin.uri": {"url": url, "headers": {"Authorization": "Bearer {{ token }}"},
                                                  "return_content": False}, "no_log": True}
    module = {"name": "ar_repository", "configsync.oci.ar_repository": {"location": LOCATION, "name": REPOSITORY}}
    tasks = []
    for index in range(pairs):
        tasks += [uri, module] if index % 2 == 0 else [module, uri]
    return [{"name": "noop", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def task_times(stdout):
    """{task name: [seconds, ...]} from the ansible.posix.json callback's output."""
    from datetime import datetime
    report = json.loads(stdout)
    times = {}
    for task in report["plays"][0]["tasks"]:
        duration = task["task"]["duration"]
        start = datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
        for result in task["hosts"].values():
            if result.get("failed") or result.get("changed"):
                raise SystemExit("task %s did not run as a no-op: %s" % (task["task"]["name"], result))
        times.setdefault(task["task"]["name"], []).append((end - start).total_seconds())
    return times


def run_plays(gcp, workdir, runs, pairs):
    play = workdir / "play.yml"
    play.write_text(json.dumps(playbook(gcp, pairs)))
    inventory = workdir / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"), **gcp.env())
    collected = {}
    for dummy in range(runs):
        gcp.clear_log()
        done = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(play),
                               "-e", json.dumps({"token": gcp.access_token})],
                              capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise SystemExit("ansible-playbook failed:\n%s%s" % (done.stdout[-3000:], done.stderr[-3000:]))
        if gcp.writes():
            raise SystemExit("the no-op wrote: %s" % gcp.writes())
        for name, values in task_times(done.stdout).items():
            collected.setdefault(name, []).extend(values)
    return collected


def step_times(gcp, runs):
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS_PATH))
    name = gcp.repository_name(REPOSITORY, LOCATION)
    steps, starts = {}, []
    for dummy in range(runs):
        done = subprocess.run([sys.executable, "-c", STEP_TIMER, gcp.access_token, gcp.endpoint, name],
                              capture_output=True, text=True, env=env, check=True)
        plain = subprocess.run([sys.executable, "-c", PLAIN_TIMER, gcp.access_token, gcp.endpoint, name],
                               capture_output=True, text=True, env=env, check=True)
        for key, value in list(json.loads(done.stdout).items()) + list(json.loads(plain.stdout).items()):
            steps.setdefault(key, []).append(value)
        starts.append(_time_of([sys.executable, "-c", "pass"]))
    steps["python start"] = starts
    return steps


def _time_of(command):
    import time
    began = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - began


def import_time_top(count=10, max_depth=3):
    """The heaviest google/grpc/proto imports by `python -X importtime` (cumulative seconds), with their nesting depth."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import ansible.module_utils.basic; "
                           "from google.cloud import artifactregistry_v1"], capture_output=True, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        dummy, cumulative, raw_name = line[len("import time:"):].split("|")
        name = raw_name.strip()
        depth = (len(raw_name) - len(raw_name.lstrip())) // 2
        if cumulative.strip().isdigit() and depth <= max_depth and name.split(".")[0] in ("google", "grpc", "proto"):
            rows.append((int(cumulative) / 1e6, depth, name))
    return sorted(rows, reverse=True)[:count]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    ensure_collections_tree()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="gcp-noop-"))
    process, endpoint = start_emulator(workdir)
    try:
        gcp = GcpEmulator(endpoint).reset()
        create = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible"), "localhost", "-m", "configsync.oci.ar_repository",
                                 "-a", json.dumps({"location": LOCATION, "name": REPOSITORY})],
                                capture_output=True, text=True, check=False,
                                env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH), **gcp.env()))
        if create.returncode != 0:
            raise SystemExit("creating the repository failed:\n" + create.stdout + create.stderr)
        tasks = run_plays(gcp, workdir, args.runs, args.pairs)
        steps = step_times(gcp, args.runs)
    finally:
        stop_emulator(process)
    report = {"tasks": {k: statistics.median(v) for k, v in tasks.items()}, "samples": {k: len(v) for k, v in tasks.items()},
              "steps": {k: statistics.median(v) for k, v in steps.items()}, "imports": import_time_top()}
    report["ratio"] = report["tasks"]["ar_repository"] / report["tasks"]["uri"]
    print_report(report)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))


def print_report(report):
    tasks, steps = report["tasks"], report["steps"]
    print("per-task wall time, median of %d samples each (ansible.posix.json task start/end)" % report["samples"]["uri"])
    print("  %-28s %7.3f s" % ("ansible.builtin.uri GET", tasks["uri"]))
    print("  %-28s %7.3f s" % ("ar_repository no-op", tasks["ar_repository"]))
    print("  %-28s %7.2f x" % ("ratio", report["ratio"]))
    print("  %-28s %7.3f s" % ("difference", tasks["ar_repository"] - tasks["uri"]))
    print("module steps in a fresh interpreter, median")
    for key in ("python start", "ansible basic", "google imports", "client", "request"):
        print("  %-28s %7.3f s" % (key, steps[key]))
    print("heaviest imports (python -X importtime, cumulative)")
    for seconds, depth, name in report["imports"]:
        print("  %-75s %7.3f s" % ("  " * depth + name, seconds))
    print("the same GET without the generated client (google.auth AuthorizedSession, fresh interpreter), median")
    print("  %-28s %7.3f s" % ("imports", steps["plain imports"]))
    print("  %-28s %7.3f s" % ("request", steps["plain request"]))


if __name__ == "__main__":
    main()
