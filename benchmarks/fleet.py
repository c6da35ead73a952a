"""Rollout and no-op rerun over 1, 10 and 30 GKE clusters, ours against the playbook a user would write instead.

Ours: the configsync.oci.rollout role (rollout_wait false) on hosts from the gke_fleet inventory, reaching each cluster
with the Google credential (gke_cluster: endpoint and CA from the GKE API, Google token as bearer).
Peer: kubernetes.core.k8s (server-side apply of the same RootSync) and a kubernetes.core.k8s_info until-loop, per host
from kubeconfig contexts holding a Google token (what `get-credentials` plus a token gives; the Google side, AR and the
push, is left out of the peer, so the peer does less than ours). google.cloud's container modules cannot be used
against the local emulator: their URLs are fixed to container.googleapis.com (gcp_container_cluster_info
``collection()``), with no endpoint option.

Every number comes from real runs in this process's machine: emulator (in a thread), registry, 3 kube-apiservers with
webhook token authentication and audit logs. Prints wall time, CPU time of the ansible-playbook process tree,
requests per cluster (reads / writes) on the API servers, the emulator and the registry, and the ratios.

    ~/.cache/configsync/venv/bin/python benchmarks/fleet.py            # 1, 10, 30 clusters x forks 1, 10, 30
    ~/.cache/configsync/venv/bin/python benchmarks/fleet.py --clusters 30 --forks 30 --profile
    ~/.cache/configsync/venv/bin/python benchmarks/fleet.py --breakdown     # where a task's start-up time goes
"""
import argparse
import base64
import json
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import yaml  # noqa: E402

from harness import gcp_emulator  # noqa: E402
from harness.ansible_runner import run_playbook  # noqa: E402
from harness.fixtures_gcp import GcpEmulator  # noqa: E402
from harness.gke_test_fleet import DEPLOYER, ROLE_PLAY, Fleet  # noqa: E402
from harness.paths import COLLECTIONS_PATH, ensure_collections_tree  # noqa: E402
from harness.registry import Registry  # noqa: E402

PEER_PLAY = [{
    "name": "Peer: kubernetes.core apply and wait per cluster",
    "hosts": "all",
    "gather_facts": False,
    "tasks": [
        {"name": "Apply the RootSync", "kubernetes.core.k8s": {
            "kubeconfig": "{{ peer_kubeconfig }}", "context": "{{ peer_context }}", "apply": True, "server_side_apply": {"field_manager": "peer"},
            "definition": {"apiVersion": "configsync.gke.io/v1beta1", "kind": "RootSync",
                           "metadata": {"name": "{{ peer_sync_name }}", "namespace": "config-management-system"},
                           "spec": {"sourceType": "oci", "sourceFormat": "unstructured",
                                    "oci": {"image": "{{ peer_image }}", "dir": ".", "auth": "k8sserviceaccount"}}}}},
        {"name": "Wait for the RootSync", "kubernetes.core.k8s_info": {
            "kubeconfig": "{{ peer_kubeconfig }}", "context": "{{ peer_context }}", "api_version": "configsync.gke.io/v1beta1",
            "kind": "RootSync", "namespace": "config-management-system", "name": "{{ peer_sync_name }}"},
         "register": "peer_sync", "until": "peer_sync.resources | length == 1", "retries": 30, "delay": 2},
    ],
}]


# What each task process pays before its first request, measured as fresh interpreters (each step adds to the one
# before it). A module process runs the first three on every task; the fourth only when it mints a Google token,
# which with the token cache (gcp/token_cache.py) is once per identity and run instead of once per task and host.
START_STEPS = [
    ("interpreter", "pass"),
    ("ansible basic", "import ansible.module_utils.basic"),
    ("urllib3 (Kubernetes and Google reads)", "import ansible.module_utils.basic, urllib3"),
    ("config_sync_source with every module_utils it runs",
     "import ansible.module_utils.basic, urllib3\n"
     "from ansible_collections.configsync.oci.plugins.modules import config_sync_source\n"
     "from ansible_collections.configsync.oci.plugins.module_utils import cluster_access, sync_service"),
    ("+ google-auth to mint a token (a cache miss)",
     "import ansible.module_utils.basic, urllib3\n"
     "from ansible_collections.configsync.oci.plugins.modules import config_sync_source\n"
     "from ansible_collections.configsync.oci.plugins.module_utils import cluster_access, sync_service\n"
     "import google.auth.transport.requests, google.oauth2.service_account"),
]


def start_costs(repeats=15):
    """Median CPU milliseconds (user + system) of each start-up step in a fresh interpreter: CPU, not wall, because
    on 2 cores shared by 30 forks CPU is what a fleet run runs out of."""
    ensure_collections_tree()
    env = {"PYTHONPATH": str(COLLECTIONS_PATH), "PATH": "/usr/bin:/bin"}
    costs = []
    for label, program in START_STEPS:
        times = []
        for _attempt in range(repeats):
            began = children_cpu()
            subprocess.run([sys.executable, "-c", program], env=env, check=True)
            times.append((children_cpu() - began) * 1000)
        costs.append((label, statistics.median(times)))
    return costs


def print_breakdown(costs):
    print("\n| start-up step (fresh interpreter) | CPU ms | added by the step |")
    print("|---|---|---|")
    previous = 0.0
    for label, ms in costs:
        print("| {0} | {1:.0f} | {2:+.0f} |".format(label, ms, ms - previous))
        previous = ms


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Bench:
    def __init__(self, workdir, clusters, profile=False):
        self.workdir = pathlib.Path(workdir)
        self.server = gcp_emulator.start_in_thread()
        self.endpoint = "http://127.0.0.1:{0}".format(self.server.port)
        self.gcp = GcpEmulator(self.endpoint).reset()
        self.registry = Registry(self.workdir / "registry").start()
        self.fleet = Fleet(self.workdir / "fleet", self.endpoint, servers=3).start()
        self.fleet.grant(DEPLOYER)
        self.clusters = self.fleet.seed(self.gcp.control, self.gcp.project, clusters)
        self.key_file = self.gcp.service_account_file(self.workdir / "deployer.json", email=DEPLOYER)
        self.profile = profile
        manifests = self.workdir / "manifests"
        manifests.mkdir(exist_ok=True)
        (manifests / "configmap.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: platform\n  namespace: default\n"
                                                  "data:\n  tier: gold\n")
        self.manifests = manifests

    def stop(self):
        self.fleet.stop()
        self.registry.stop()
        self.server.shutdown()

    def env(self):
        env = {"GCP_API_ENDPOINT": self.endpoint, "GCP_AUTH_KIND": "serviceaccount", "GCP_SERVICE_ACCOUNT_FILE": str(self.key_file),
               "GCP_PROJECT": self.gcp.project, "KUBECONFIG": str(self.workdir / "none")}
        if self.profile:
            env["ANSIBLE_CALLBACKS_ENABLED"] = "record_results,ansible.posix.profile_tasks"
        return env

    def counts(self, run_id, marks, count):
        audit = self.fleet.requests(since=marks, user=DEPLOYER)
        writes = self.fleet.writes(since=marks, user=DEPLOYER)
        log = self.gcp.requests()
        registry = self.registry.requests()
        return {
            "k8s_reads_per_cluster": round((len(audit) - len(writes)) / count, 2),
            "k8s_writes_per_cluster": round(len(writes) / count, 2),
            "google_reads": len([e for e in log if not e["write"]]),
            "google_writes": len([e for e in log if e["write"]]),
            "registry_reads": len([r for r in registry if r.method in ("GET", "HEAD")]),
            "registry_writes": len([r for r in registry if r.method not in ("GET", "HEAD")]),
        }

    def measure(self, label, run, count, run_id):
        self.gcp.clear_log()
        self.registry.clear_log()
        marks = self.fleet.audit_mark()
        cpu, began = children_cpu(), time.monotonic()
        result = run()
        wall, cpu_used = time.monotonic() - began, children_cpu() - cpu
        changed = sorted({r["host"] for r in result.records if r["result"].get("changed")})
        row = {"run": label, "clusters": count, "wall_s": round(wall, 2), "cpu_s": round(cpu_used, 2),
               "failed": len(result.failed), "changed_hosts": len(changed)}
        row.update(self.counts(run_id, marks, count))
        if result.failed or result.returncode:
            row["error"] = repr(result)[-800:]
        if self.profile:
            row["profile"] = [line for line in result.stdout.splitlines() if " -- " in line or "----" in line][-25:]
        return row

    def ours(self, count, forks):
        run_id = uuid.uuid4().hex[:5]
        repository = "fleet-" + run_id
        inventory = self.workdir / "{0}.gke_fleet.yml".format(run_id)
        wanted = {c.name for c in self.clusters[:count]}
        inventory.write_text(yaml.safe_dump({
            "plugin": "configsync.oci.gke_fleet", "projects": [self.gcp.project],
            "compose": {"ansible_connection": "'local'", "ansible_python_interpreter": "'%s'" % sys.executable,
                        "rollout_sync_name": "'rs-%s-' ~ gke_cluster_name" % run_id},
            "groups": {"bench": "gke_cluster_name in %s" % sorted(wanted)}}))
        extra = {"rollout_project": self.gcp.project, "rollout_location": "us-central1", "rollout_repository": repository,
                 "rollout_package": "platform", "rollout_tag": "v1", "rollout_src": [str(self.manifests)],
                 "rollout_registry": "{0}/{1}/{2}".format(self.registry.host, self.gcp.project, repository),
                 "rollout_sync_kind": "RootSync", "rollout_auth": "k8sserviceaccount", "rollout_wait": False,
                 "rollout_clusters": "bench"}

        def run():
            return run_playbook(playbook=ROLE_PLAY, inventory_file=inventory, extra_vars=extra, env=self.env(), forks=forks)
        return [self.measure("ours rollout", run, count, run_id), self.measure("ours no-op", run, count, run_id)]

    def peer(self, count, forks):
        run_id = uuid.uuid4().hex[:5]
        token = self.gcp.new_token(DEPLOYER)
        config = {"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [],
                  "users": [{"name": "deployer", "user": {"token": token}}]}
        for cluster in self.clusters[:count]:
            ca = base64.b64encode(pathlib.Path(cluster.plane.ca_file).read_bytes()).decode()
            config["clusters"].append({"name": cluster.name, "cluster": {"server": cluster.server, "certificate-authority-data": ca}})
            config["contexts"].append({"name": "gke_" + cluster.name, "context": {"cluster": cluster.name, "user": "deployer"}})
        kubeconfig = self.workdir / "peer-{0}.kubeconfig".format(run_id)
        kubeconfig.write_text(yaml.safe_dump(config))
        hosts = {c.name: {"peer_kubeconfig": str(kubeconfig), "peer_context": "gke_" + c.name,
                          "peer_sync_name": "peer-{0}-{1}".format(run_id, c.name)} for c in self.clusters[:count]}
        playbook = self.workdir / "peer.yml"
        playbook.write_text(yaml.safe_dump(PEER_PLAY, sort_keys=False))
        extra = {"peer_image": "{0}/{1}/peer/platform:v1".format(self.registry.host, self.gcp.project)}

        def run():
            return run_playbook(playbook=playbook, hosts=hosts, extra_vars=extra, env=self.env(), forks=forks)
        return [self.measure("peer rollout", run, count, run_id), self.measure("peer no-op", run, count, run_id)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, action="append", help="cluster counts (default 1, 10, 30)")
    parser.add_argument("--forks", type=int, action="append", help="fork counts (default 1, 10, 30)")
    parser.add_argument("--pair", action="append", metavar="CLUSTERS:FORKS", help="only these combinations, e.g. 30:30")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print ansible.posix.profile_tasks per run")
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--breakdown", action="store_true", help="only the start-up cost of a task process, step by step")
    args = parser.parse_args(argv)
    if args.breakdown:
        print_breakdown(start_costs())
        return 0
    counts = args.clusters or [1, 10, 30]
    forks_list = args.forks or [1, 10, 30]
    pairs = [tuple(int(x) for x in pair.split(":")) for pair in args.pair or []]
    if not pairs:
        pairs = [(count, forks) for count in counts for forks in forks_list
                 if not (forks > count and any(count <= f < forks for f in forks_list))]  # more forks than hosts: nothing new
    counts = sorted({count for count, _forks in pairs})
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as workdir:
        bench = Bench(workdir, max(counts), profile=args.profile)
        try:
            for count, forks in pairs:
                for row in bench.ours(count, forks) + ([] if args.no_peer else bench.peer(count, forks)):
                    row["forks"] = forks
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            bench.stop()
    print_table(rows)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


def print_table(rows):
    print("\n| run | clusters | forks | wall s | CPU s | k8s reads/cluster | k8s writes/cluster | Google reads | Google writes "
          "| registry r/w | changed hosts | failed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| {run} | {clusters} | {forks} | {wall_s} | {cpu_s} | {k8s_reads_per_cluster} | {k8s_writes_per_cluster} | {google_reads} | "
              "{google_writes} | {registry_reads}/{registry_writes} | {changed_hosts} | {failed} |".format(**r))
    noop = {(r["run"], r["clusters"], r["forks"]): r["wall_s"] for r in rows if "no-op" in r["run"]}
    one = noop.get(("ours no-op", 1, 1))
    for (run, count, forks), wall in sorted(noop.items()):
        if run == "ours no-op" and count > 1:
            peer = noop.get(("peer no-op", count, forks))
            print("ours no-op {0} clusters forks {1}: {2:.1f}x the one-cluster no-op{3}".format(
                count, forks, wall / one if one else float("nan"),
                ", {0:.2f}x the peer's time".format(wall / peer) if peer else ""))


if __name__ == "__main__":
    sys.exit(main())
