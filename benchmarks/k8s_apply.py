#!/usr/bin/env python
"""Benchmark: config_sync_source per task, next to kubernetes.core.k8s (server-side apply) applying the same RootSync.

    ~/.cache/configsync/venv/bin/python benchmarks/k8s_apply.py [--runs 5] [--json out.json]

One real control plane (etcd + kube-apiserver with Config Sync's CRDs, tests/harness/controlplane.py). Each of --runs
ansible-playbook runs executes, in one play on localhost, four tasks, alternating which module goes first:
  k8s first apply     kubernetes.core.k8s, apply + server_side_apply (force_conflicts), a new RootSync
  source first apply  configsync.oci.config_sync_source, a new RootSync with the same spec
  k8s no-op           the same k8s task again
  source no-op        the same config_sync_source task again (no write: resourceVersion unchanged, checked)
Per-task wall time comes from the ansible.posix.json callback (task start/end); the script prints the median of each
and the ratios config_sync_source / kubernetes.core.k8s.

Then --wait-runs runs of `wait: true`: a background thread acts as Config Sync (once the apply raised the generation it
writes a SYNCED status at the digest through the status subresource) and the script reports how long after that write
the task ended (the watch's reaction time plus Ansible's result handling; no polling period). config_sync_source does more in the same task: it validates
the object by Config Sync's rules, compares the dry-run result with the live object (no write on a no-op) and returns
the reconciler, its service account and the Workload Identity member.
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness.controlplane import ControlPlane  # noqa: E402  pylint: disable=wrong-import-position
from harness.paths import COLLECTIONS_PATH, ensure_collections_tree  # noqa: E402  pylint: disable=wrong-import-position

IMAGE = "us-docker.pkg.dev/demo-project/manifests/test-namespace@sha256:" + "3c2b9e62" * 8
CMS = "config-management-system"
ROWS = ("k8s first apply", "source first apply", "k8s no-op", "source no-op")
DIGEST = IMAGE.split("sha256:")[1]


def root_sync(name):
    return {
        "apiVersion": "configsync.gke.io/v1beta1",
        "kind": "RootSync",
        "metadata": {"name": name, "namespace": CMS},
        "spec": {"sourceType": "oci", "sourceFormat": "unstructured", "oci": {"image": IMAGE, "dir": ".", "auth": "k8sserviceaccount"}},
    }


def k8s_task(title, name, kubeconfig):
    return {"name": title, "kubernetes.core.k8s": {
        "kubeconfig": kubeconfig, "state": "present", "apply": True,
        "server_side_apply": {"field_manager": "benchmark", "force_conflicts": True},
        "definition": root_sync(name)}}


def source_task(title, name, kubeconfig):
    return {"name": title, "configsync.oci.config_sync_source": {
        "kubeconfig": kubeconfig, "name": name, "image": IMAGE, "dir": ".", "source_format": "unstructured",
        "auth": "k8sserviceaccount", "fleet_host_project": "demo-fleet-host"}}


def playbook(run, kubeconfig):
    k8s_name, source_name = "bench-k8s-%d" % run, "bench-source-%d" % run
    pairs = [(k8s_task("k8s first apply", k8s_name, kubeconfig), source_task("source first apply", source_name, kubeconfig)),
             (k8s_task("k8s no-op", k8s_name, kubeconfig), source_task("source no-op", source_name, kubeconfig))]
    tasks = []
    for first, second in pairs:
        # Alternate which module runs first, so neither profits from a warm cache of the other.
        tasks += [first, second] if run % 2 == 0 else [second, first]
    return [{"name": "bench", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]


def task_times(stdout):
    """({task name: seconds}, {task name: result}, {task name: end epoch}) from the ansible.posix.json callback."""
    report = json.loads(stdout)
    times, results, ends = {}, {}, {}
    for play in report["plays"]:
        for task in play["tasks"]:
            duration = task["task"]["duration"]
            start = datetime.fromisoformat(duration["start"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(duration["end"].replace("Z", "+00:00"))
            times[task["task"]["name"]] = (end - start).total_seconds()
            results[task["task"]["name"]] = task["hosts"]["localhost"]
            ends[task["task"]["name"]] = end.timestamp()
    return times, results, ends


def run_play(name, plays, workdir):
    """Run plays through ansible-playbook with the json callback; (times, results, task end times)."""
    play = workdir / ("%s.json" % name)
    play.write_text(json.dumps(plays))
    inventory = workdir / "inventory.ini"
    inventory.write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_PATH), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"), ANSIBLE_NOCOLOR="1")
    done = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(play)],
                          capture_output=True, text=True, env=env, check=False, timeout=600)
    if done.returncode != 0:
        raise SystemExit("ansible-playbook failed:\n" + done.stdout[-4000:] + done.stderr[-2000:])
    return task_times(done.stdout)


def run_once(run, kubeconfig, workdir):
    times, results, _ends = run_play("play-%d" % run, playbook(run, kubeconfig), workdir)
    return times, results


def synced_status(generation):
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    section = {"ociStatus": {"image": IMAGE, "dir": "."}, "commit": DIGEST, "lastUpdate": stamp}
    return {"observedGeneration": generation, "source": section, "rendering": section, "sync": section,
            "lastSyncedCommit": DIGEST, "conditions": [
                {"type": "Syncing", "status": "False", "reason": "Sync", "message": "Sync Completed", "commit": DIGEST,
                 "errorSummary": {}, "lastUpdateTime": stamp, "lastTransitionTime": stamp}]}


def act_as_config_sync(plane, name, written):
    """Once the module's apply raised the generation, write SYNCED at the digest (as the reconciler would)."""
    http = plane.session()
    url = plane.server + "/apis/configsync.gke.io/v1beta1/namespaces/%s/rootsyncs/%s" % (CMS, name)
    first = http.get(url, timeout=30).json()["metadata"]["generation"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        obj = http.get(url, timeout=30).json()
        if obj["metadata"]["generation"] != first:
            time.sleep(0.5)
            obj["status"] = synced_status(obj["metadata"]["generation"])
            written.append(time.time())
            http.put(url + "/status", json=obj, timeout=30).raise_for_status()
            return
        time.sleep(0.05)


def wait_latency(run, plane, workdir):
    """Seconds from the SYNCED status write to the end of the waiting task."""
    name = "bench-wait-%d" % run
    kubeconfig = str(plane.kubeconfig)
    create = source_task("create", name, kubeconfig)
    create["configsync.oci.config_sync_source"]["image"] = IMAGE.split("@", maxsplit=1)[0] + ":v1"
    run_play("wait-create-%d" % run, [{"name": "c", "hosts": "localhost", "gather_facts": False, "tasks": [create]}], workdir)
    written = []
    thread = threading.Thread(target=act_as_config_sync, args=(plane, name, written), daemon=True)
    thread.start()
    waiting = source_task("wait", name, kubeconfig)
    waiting["configsync.oci.config_sync_source"].update({"wait": True, "wait_timeout": 120})
    _times, results, ends = run_play("wait-%d" % run, [{"name": "w", "hosts": "localhost", "gather_facts": False, "tasks": [waiting]}],
                                     workdir)
    thread.join()
    assert results["wait"]["sync_status"]["status"] == "SYNCED", results["wait"]
    return ends["wait"] - written[0]


def check_outcomes(results):
    """The numbers only count if both modules did what they claim."""
    assert results["k8s first apply"]["changed"] is True
    assert results["source first apply"]["changed"] is True
    assert results["source no-op"]["changed"] is False, results["source no-op"]
    before = results["source first apply"]["object"]["metadata"]["resourceVersion"]
    after = results["source no-op"]["object"]["metadata"]["resourceVersion"]
    assert before == after, (before, after)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wait-runs", type=int, default=3)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    ensure_collections_tree()
    samples = {row: [] for row in ROWS}
    k8s_noop_changed = []
    with tempfile.TemporaryDirectory(prefix="k8s-apply-bench-") as tmp:
        workdir = pathlib.Path(tmp)
        plane = ControlPlane(workdir / "controlplane").start()
        try:
            for run in range(args.runs):
                times, results = run_once(run, str(plane.kubeconfig), workdir)
                check_outcomes(results)
                k8s_noop_changed.append(results["k8s no-op"]["changed"])
                for row in ROWS:
                    samples[row].append(times[row])
            latencies = [wait_latency(run, plane, workdir) for run in range(args.wait_runs)]
        finally:
            plane.stop()
    medians = {row: statistics.median(values) for row, values in samples.items()}
    report = {
        "runs": args.runs,
        "median_seconds": medians,
        "samples": samples,
        "ratio_first_apply": medians["source first apply"] / medians["k8s first apply"],
        "ratio_noop": medians["source no-op"] / medians["k8s no-op"],
        "k8s_noop_reported_changed": k8s_noop_changed,
        "wait_latency_seconds": latencies,
    }
    print("per-task wall time, median of %d runs (ansible.posix.json task start/end)" % args.runs)
    for row in ROWS:
        print("  %-20s %.3f s   (%s)" % (row, medians[row], ", ".join("%.3f" % v for v in samples[row])))
    print("ratio config_sync_source / kubernetes.core.k8s")
    print("  first apply  %.2f" % report["ratio_first_apply"])
    print("  no-op        %.2f" % report["ratio_noop"])
    print("kubernetes.core.k8s no-op reported changed: %s" % k8s_noop_changed)
    if latencies:
        print("wait: SYNCED status written -> task end, median of %d: %.3f s   (%s)"
              % (len(latencies), statistics.median(latencies), ", ".join("%.3f" % v for v in latencies)))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
