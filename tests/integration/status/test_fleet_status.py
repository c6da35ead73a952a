"""The fleet status report over clusters in mixed states, against Config Sync and its nomos.

Four clusters (inventory hosts): one SYNCED, one whose image cannot be pulled (KNV2004), one whose reconciler has
not started, and one that cannot be reached. The printed report, the Markdown, the JSON and the HTML (opened in
headless Chromium) must say the same as config_sync_status and as ``nomos status`` for the same clusters; the play
fails exactly for the three clusters that are not SYNCED, and with report-only it succeeds and still writes files.
"""
import json
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser

import pytest

from harness.configsync_runner import configsync_command, kubeconfig_context
from harness.fleet import Fleet, configmap_manifest
from harness.paths import REPO
from harness.polling import poll

pytestmark = pytest.mark.slow

STATUS_PLAY = REPO / "playbooks" / "status.yml"
READ_TASK = "Read each cluster's Config Sync status"
FAIL_TASK = "Fail for each cluster that is not SYNCED"
SYNC = "platform"
EXPECTED = {"cluster-synced": "SYNCED", "cluster-pull-error": "ERROR", "cluster-not-started": "PENDING", "cluster-unreachable": "UNREACHABLE"}


@pytest.fixture
def fleet(control_plane, config_sync, tmp_path):
    fleet = Fleet(control_plane, config_sync, tmp_path)
    yield fleet
    fleet.cleanup()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """Files a person may want to look at after the run (the report's screenshot): printed at the end."""
    path = tmp_path_factory.getbasetemp() / "artifacts"
    path.mkdir(exist_ok=True)
    return path


def source_errors(sync):
    status = (sync or {}).get("status") or {}
    return [e["errorMessage"] for key in ("source", "rendering", "sync") for e in (status.get(key) or {}).get("errors") or []]


class FleetTable(HTMLParser):
    """The rows of the report's fleet table in a DOM: (cluster, state)."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.rows = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-cluster" in attrs:
            self.rows.append((attrs["data-cluster"], attrs["data-state"]))


def chromium(*args):
    binary = shutil.which("chromium")
    assert binary, "chromium is missing: scripts/bootstrap installs it"
    argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0"] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=dict(os.environ, HOME=os.environ.get("HOME", "/tmp")))


def nomos_for(kubeconfig, namespace=None):
    argv = configsync_command("nomos") + ["status", "--contexts=" + kubeconfig_context(kubeconfig)]
    if namespace:
        argv.append("--namespace=" + namespace)
    completed = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, KUBECONFIG=str(kubeconfig)), timeout=120, check=False)
    return completed.stdout + completed.stderr


def nomos_sync(output, namespace):
    """(status, commit, error lines) of the RepoSync ``namespace:platform`` in nomos's output."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("%s:%s" % (namespace, SYNC)):
            status_line = lines[index + 1].split()
            errors = []
            for following in lines[index + 2:]:
                if following.strip().startswith("--------") or not following.startswith("  "):
                    break
                if following.strip().startswith("Error:"):
                    errors.append(following.strip()[len("Error:"):].strip())
            return status_line[0], status_line[-1] if len(status_line) > 1 else None, errors
    raise AssertionError("no %s:%s in nomos output:\n%s" % (namespace, SYNC, output))


def printed_block(output, cluster):
    """The lines the report printed for one cluster (from its name to the next blank line)."""
    lines = output.splitlines()
    start = lines.index(cluster)
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def test_fleet_status_in_mixed_states(ansible, control_plane, registry, fleet, artifacts, tmp_path):
    # --- four clusters in four states ---
    src = tmp_path / "manifests"
    src.mkdir()
    (src / "configmap.yaml").write_text(configmap_manifest("platform", {"tier": "gold"}))
    repository = "status-" + fleet.suffix
    push_args = {"src": [str(src)], "base": str(src), "image": "{0}/{1}/platform:v1".format(registry.host, repository)}
    push = ansible(tasks=[{"name": "push", "configsync.oci.oci_push": push_args}])
    assert not push.failed, push
    image = push.result("push")["image"]
    missing = "{0}/{1}/does-not-exist:v1".format(registry.host, repository)
    namespaces = {cluster: fleet.namespace_for(cluster.replace("cluster-", "")) for cluster in EXPECTED if cluster != "cluster-unreachable"}
    fleet.hold_reconciler(SYNC, namespaces["cluster-not-started"])
    kubeconfig = str(control_plane.kubeconfig)
    hosts = {cluster: {"rollout_kubeconfig": kubeconfig, "rollout_status_namespace": namespace, "cluster_namespace": namespace,
                       "cluster_image": missing if cluster == "cluster-pull-error" else image} for cluster, namespace in namespaces.items()}
    create = ansible(hosts=hosts, forks=3, tasks=[
        {"name": "source", "configsync.oci.config_sync_source": {
            "kind": "RepoSync", "name": SYNC, "namespace": "{{ cluster_namespace }}", "image": "{{ cluster_image }}", "auth": "none",
            "period": "5s", "kubeconfig": kubeconfig}},
        {"name": "wait", "configsync.oci.config_sync_wait": {"kind": "RepoSync", "name": SYNC, "namespace": "{{ cluster_namespace }}",
                                                             "commit": image, "kubeconfig": kubeconfig, "timeout": 180},
         "when": "inventory_hostname == 'cluster-synced'"}])
    assert not create.failed, create
    assert poll(lambda: any("KNV2004" in e for e in source_errors(fleet.sync_object(namespaces["cluster-pull-error"], SYNC)))), \
        fleet.sync_object(namespaces["cluster-pull-error"], SYNC)
    assert poll(lambda: (fleet.sync_object(namespaces["cluster-not-started"], SYNC).get("status") or {}).get("observedGeneration"))
    group = "{0}/apis/kpt.dev/v1alpha1/namespaces/{1}/resourcegroups/{2}".format(control_plane.server, namespaces["cluster-synced"], SYNC)

    def resource_states():
        return [r.get("status") for r in (fleet.http.get(group, timeout=30).json().get("status") or {}).get("resourceStatuses") or []]
    assert poll(lambda: resource_states() == ["Current"]), "the resource-group controller computes the ConfigMap's status"
    hosts["cluster-unreachable"] = {"rollout_kubeconfig": str(fleet.unreachable_kubeconfig())}
    reports = tmp_path / "reports"

    # --- the gate: fails exactly the clusters that are not SYNCED ---
    run = ansible(playbook=STATUS_PLAY, hosts=hosts, forks=4, extra_vars={"rollout_report_dir": str(reports)})
    assert run.returncode != 0, run
    failed = {r["host"] for r in run.failed}
    assert failed == {"cluster-pull-error", "cluster-not-started", "cluster-unreachable"}, run
    assert {r["host"] for r in run.failed if r["task"].endswith(FAIL_TASK)} == failed, "each fails at the gate, not before"
    read = {r["host"]: r["result"] for r in run.records if r["task"].endswith(READ_TASK)}
    assert set(read) == set(EXPECTED)

    # --- config_sync_status, and the report in every form ---
    report = json.loads((reports / "config-sync-status.json").read_text())
    assert {c["cluster"]: c["state"] for c in report["clusters"]} == EXPECTED
    summary = "Fleet: 4 clusters: 1 SYNCED, 1 PENDING, 1 ERROR, 1 unreachable"
    assert report["summary_line"] == summary
    assert summary in run.stdout.splitlines()
    for cluster in report["clusters"]:
        result = read[cluster["cluster"]]
        if cluster["state"] == "UNREACHABLE":
            assert "syncs" not in result and cluster["errors"] == [result["msg"]]
            continue
        assert [(s["status"], s["commit"], s["errors"]) for s in cluster["syncs"]] == \
            [(s["status"], s["commit"], s["errors"]) for s in result["syncs"]], cluster["cluster"]
    by_name = {c["cluster"]: c for c in report["clusters"]}
    synced = by_name["cluster-synced"]["syncs"][0]
    assert synced["commit"] == image.split("sha256:")[1] and synced["short_commit"] == synced["commit"][:8]
    assert [(r["namespace"], r["resource"], r["status"]) for r in synced["resources"]] == \
        [(namespaces["cluster-synced"], "configmap/platform", "Current")]
    assert any("KNV2004" in e for e in by_name["cluster-pull-error"]["syncs"][0]["errors"])

    printed = {cluster: printed_block(run.stdout, cluster) for cluster in EXPECTED}
    assert any(line.split()[:1] == ["SYNCED"] and line.split()[-1] == synced["short_commit"] for line in printed["cluster-synced"])
    assert [line.split() for line in printed["cluster-synced"] if "configmap/platform" in line] == \
        [[namespaces["cluster-synced"], "configmap/platform", "Current", synced["resources"][0]["source_hash"]]]
    error_lines = [line for line in printed["cluster-pull-error"] if line.strip().startswith("Error:")]
    assert any("KNV2004" in line for line in error_lines) and "\\n" not in "\n".join(printed["cluster-pull-error"])
    # The reconciler-manager made the reconciler Deployment, which never became available: RECONCILING, a PENDING cluster.
    assert any(line.split()[:1] == ["RECONCILING"] for line in printed["cluster-not-started"])
    assert "  N/A  Failed to connect to cluster" in printed["cluster-unreachable"]

    markdown = (reports / "config-sync-status.md").read_text()
    rows = [line.split("|")[1:3] for line in markdown.splitlines() if line.startswith("| cluster-")]
    assert {name.strip(): state.strip() for name, state in rows} == EXPECTED
    assert summary in markdown and "KNV2004" in markdown

    # --- the same clusters through nomos ---
    for cluster in ("cluster-synced", "cluster-pull-error", "cluster-not-started"):
        status, commit, errors = nomos_sync(nomos_for(kubeconfig, namespaces[cluster]), namespaces[cluster])
        ours = by_name[cluster]["syncs"][0]
        # nomos prints the whole commit (nothing or N/A when there is none); the report shortens it to 8 characters.
        assert status == ours["status"] and (commit if commit != "N/A" else None) == ours["commit"], (cluster, status, commit, ours)
        assert (commit or "N/A")[:8] == ours["short_commit"]
        assert [e.splitlines()[0] for e in ours["errors"]] == errors, (cluster, errors, ours["errors"])
    assert "Failed to connect to cluster" in nomos_for(hosts["cluster-unreachable"]["rollout_kubeconfig"])

    # --- the HTML page in a real browser ---
    page = reports / "config-sync-status.html"
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-3000:]
    table = FleetTable()
    table.feed(dom.stdout)
    assert dict(table.rows) == EXPECTED and len(table.rows) == 4, table.rows
    assert not re.search(r"CONSOLE|Uncaught|net::ERR_", dom.stderr), dom.stderr[-3000:]
    screenshot = artifacts / "fleet-status.png"
    shot = chromium("--screenshot=" + str(screenshot), "--window-size=1280,1400", "--hide-scrollbars", page.as_uri())
    assert shot.returncode == 0 and screenshot.stat().st_size > 10000, shot.stderr[-3000:]
    shutil.copy(str(page), str(artifacts / "fleet-status.html"))
    print("fleet status report screenshot: {0}".format(screenshot))

    # --- report-only: green, and the files are written again ---
    before = report["generated_at"]
    time.sleep(1.1)
    only = ansible(playbook=STATUS_PLAY, hosts=hosts, forks=4, extra_vars={"rollout_report_dir": str(reports), "rollout_report_only": True})
    assert only.returncode == 0 and not only.failed, only
    again = json.loads((reports / "config-sync-status.json").read_text())
    assert again["generated_at"] != before and {c["cluster"]: c["state"] for c in again["clusters"]} == EXPECTED
    assert summary in only.stdout.splitlines()
