"""The fleet status report over clusters in mixed states, against Config Sync and its nomos.

Four clusters (inventory hosts), rolled out by the role in two waves: one SYNCED (the canary), one that synced and
was then pointed at an image that cannot be pulled (KNV2004: ERROR, its good commit still live), one whose reconciler
has not started (its wait gives up), and one that cannot be reached. The printed report, the Markdown, the JSON and
the HTML must say the same as config_sync_status and as ``nomos status`` for the same clusters, worst first, with the
rollout's timeline as the role recorded it; the play fails exactly for the three clusters that are not SYNCED, and
with report-only it succeeds and still writes files. The HTML is opened in headless Chromium at 1,400 and 800 px:
nothing wider than the window, the error documentation links, the shortened sources and the timeline's bars in the
DOM, and screenshots of both kept as artifacts.
"""
import json
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser

import pytest
import yaml

from harness.configsync_runner import configsync_command, kubeconfig_context
from harness.fleet import Fleet, configmap_manifest
from harness.paths import REPO
from harness.polling import poll
from harness.process import LOOPBACK, free_port


STATUS_PLAY = REPO / "playbooks" / "status.yml"
# Waves as playbooks/rollout.yml makes them (serial), with the canary first: the harness's inventory is in name order.
WAVES_PLAY = """
- name: Roll out in waves
  hosts: all
  gather_facts: false
  serial: [1, "100%"]
  order: reverse_inventory
  tasks:
    - name: Sync
      ansible.builtin.include_role:
        name: configsync.oci.rollout
        tasks_from: sync
"""
WAIT_TASK = "Wait until the cluster reports SYNCED at the pushed digest"
TIMELINE_TASK = "Publish the rollout timeline for a later report"
WIDTHS = (1400, 800)
# Run in an instrumented copy of the page only (the report itself has no script): every details element opened, then
# every element's box measured against the window.
MEASURE = """<script>
document.querySelectorAll("details").forEach(function (d) { d.open = true; });
var wide = [];
document.querySelectorAll("body *").forEach(function (e) {
  var box = e.getBoundingClientRect();
  if (box.width && (box.right > window.innerWidth + 0.5 || box.left < -0.5)) {
    wide.push(e.tagName + "." + e.getAttribute("class") + " " + Math.round(box.left) + ".." + Math.round(box.right));
  }
});
var out = document.createElement("pre");
out.id = "measured";
out.textContent = JSON.stringify({width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
  svgWidth: (document.querySelector("svg.timeline") || {getBoundingClientRect: function () { return {width: 0}; }}).getBoundingClientRect().width,
  wide: wide});
document.body.appendChild(out);
</script>"""
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
def artifacts():
    """Files a person may want to look at after the run (the report's screenshots and page), printed at the end: in
    tests/output/ (ignored by git), which outlives pytest's rotation of its temporary directories."""
    path = REPO / "tests" / "output" / "status"
    path.mkdir(parents=True, exist_ok=True)
    return path


def source_errors(sync):
    status = (sync or {}).get("status") or {}
    return [e["errorMessage"] for key in ("source", "rendering", "sync") for e in (status.get(key) or {}).get("errors") or []]


class ReportDom(HTMLParser):
    """What a person sees in the report's DOM: the fleet table's rows (cluster, state) in order, the sources (shown
    text, full reference on hover), the links, the timeline's bars and what the instrumented copy measured."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.rows, self.sources, self.links, self.bars, self.svgs = [], [], [], [], 0
        self.measured = None
        self._source, self._link, self._pre = None, None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-cluster" in attrs:
            self.rows.append((attrs["data-cluster"], attrs["data-state"]))
        if tag == "span" and attrs.get("class") == "source":
            self._source = [attrs.get("title"), ""]
        if tag == "a" and attrs.get("href", "").startswith("http"):
            self._link = [attrs["href"], ""]
        if tag == "svg":
            self.svgs += 1
        if tag == "g" and attrs.get("class") == "timeline-bar":
            self.bars.append((attrs["data-cluster"], attrs["data-wave"], attrs["data-state"]))
        self._pre = tag == "pre" and attrs.get("id") == "measured"

    def handle_data(self, data):
        if self._source is not None:
            self._source[1] += data
        if self._link is not None:
            self._link[1] += data
        if self._pre:
            self.measured = json.loads(data)

    def handle_endtag(self, tag):
        if tag == "span" and self._source is not None:
            self.sources.append(tuple(self._source))
            self._source = None
        if tag == "a" and self._link is not None:
            self.links.append(tuple(self._link))
            self._link = None
        self._pre = False


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


def measure_in_chromium(page, width, workdir):
    """The DOM of an instrumented copy of the page (MEASURE added) in a window ``width`` px wide."""
    copy = workdir / "measure-{0}.html".format(width)
    copy.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    dom = chromium("--dump-dom", "--window-size={0},900".format(width), copy.as_uri())
    assert dom.returncode == 0, dom.stderr[-3000:]
    assert not re.search(r"CONSOLE|Uncaught|net::ERR_", dom.stderr), dom.stderr[-3000:]
    parsed = ReportDom()
    parsed.feed(dom.stdout)
    return parsed


def rollout_timeline(run):
    """The timeline as a later job gets it: the set_stats data of every cluster, added up (AWX aggregates lists)."""
    timeline = []
    for result in run.results(TIMELINE_TASK):
        timeline += result["ansible_stats"]["data"]["rollout_timeline"]
    return timeline


@pytest.mark.slow
def test_fleet_status_in_mixed_states(ansible, control_plane, registry, fleet, artifacts, tmp_path):
    # --- four clusters in four states: a rollout in two waves, then a bad image on one ---
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
    hosts = {cluster: {"rollout_kubeconfig": kubeconfig, "rollout_status_namespace": namespace, "rollout_sync_namespace": namespace,
                       # The reconciler that never starts makes its wait give up; the others have time to sync.
                       "rollout_wait_timeout": 15 if cluster == "cluster-not-started" else 180} for cluster, namespace in namespaces.items()}
    waves_play = tmp_path / "waves.yml"
    waves_play.write_text(WAVES_PLAY)
    rollout = ansible(playbook=waves_play, hosts=hosts, forks=3, extra_vars={
        "rollout_project": "status-" + fleet.suffix, "rollout_image": image, "rollout_sync_kind": "RepoSync", "rollout_sync_name": SYNC,
        "rollout_auth": "none", "rollout_period": "5s", "rollout_progress_interval": 5})
    assert {r["host"] for r in rollout.failed} == {"cluster-not-started"}, rollout
    assert [r["host"] for r in rollout.records if r["task"].endswith(WAIT_TASK)][0] == "cluster-synced", "the canary waits first"
    waits = {r["host"]: r["result"] for r in rollout.records if r["task"].endswith(WAIT_TASK)}
    assert waits["cluster-not-started"]["timed_out"] and not waits["cluster-synced"]["timed_out"], waits
    timeline = rollout_timeline(rollout)
    switch = ansible(hosts={"cluster-pull-error": {}}, tasks=[{"name": "source", "configsync.oci.config_sync_source": {
        "kind": "RepoSync", "name": SYNC, "namespace": namespaces["cluster-pull-error"], "image": missing, "auth": "none", "period": "5s",
        "kubeconfig": kubeconfig}}])
    assert not switch.failed and switch.result("source")["changed"], switch
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
    run = ansible(playbook=STATUS_PLAY, hosts=hosts, forks=4, extra_vars={"rollout_report_dir": str(reports), "rollout_timeline": timeline})
    assert run.returncode != 0, run
    failed = {r["host"] for r in run.failed}
    assert failed == {"cluster-pull-error", "cluster-not-started", "cluster-unreachable"}, run
    assert {r["host"] for r in run.failed if r["task"].endswith(FAIL_TASK)} == failed, "each fails at the gate, not before"
    read = {r["host"]: r["result"] for r in run.records if r["task"].endswith(READ_TASK)}
    assert set(read) == set(EXPECTED)

    # --- config_sync_status, and the report in every form ---
    report = json.loads((reports / "config-sync-status.json").read_text())
    assert {c["cluster"]: c["state"] for c in report["clusters"]} == EXPECTED
    worst_first = ["cluster-pull-error", "cluster-unreachable", "cluster-not-started", "cluster-synced"]
    assert [c["cluster"] for c in report["clusters"]] == worst_first
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
    broken = by_name["cluster-pull-error"]["syncs"][0]
    assert any("KNV2004" in e for e in broken["errors"])
    # What still runs there is the commit its wave synced, and the report says when.
    live = fleet.sync_object(namespaces["cluster-pull-error"], SYNC)["status"]
    assert broken["last_synced_commit"] == live["lastSyncedCommit"] == image.split("sha256:")[1]
    assert broken["last_synced_at"] == live["sync"]["lastUpdate"] and broken["live_short_commit"] == synced["short_commit"]
    assert re.match(r"^\d+(s|m \d\ds) ago$", broken["last_synced_ago"]), broken["last_synced_ago"]

    # --- the rollout timeline: the role's records, as drawn ---
    entries = {e["cluster"]: e for e in report["timeline"]["entries"]}
    assert [(e["cluster"], e["wave"], e["state"]) for e in report["timeline"]["entries"]][0] == ("cluster-synced", 1, "SYNCED")
    assert {name: (e["wave"], e["state"]) for name, e in entries.items()} == {
        "cluster-synced": (1, "SYNCED"), "cluster-pull-error": (2, "SYNCED"),
        "cluster-not-started": (2, waits["cluster-not-started"]["sync_status"]["status"])}
    assert waits["cluster-not-started"]["sync_status"]["status"] != "SYNCED"
    assert {name: e["ended_at"] for name, e in entries.items()} == {name: wait["finished_at"] for name, wait in waits.items()}
    assert entries["cluster-pull-error"]["started_at"] == entries["cluster-not-started"]["started_at"], "one start per wave"
    assert entries["cluster-pull-error"]["start"] >= entries["cluster-synced"]["end"], "the second wave starts after the canary synced"
    assert entries["cluster-not-started"]["duration"] >= 15, "its wait gave up at its timeout"

    printed = {cluster: printed_block(run.stdout, cluster) for cluster in EXPECTED}
    assert any(line.split()[:1] == ["SYNCED"] and line.split()[-1] == synced["short_commit"] for line in printed["cluster-synced"])
    assert [line.split() for line in printed["cluster-synced"] if "configmap/platform" in line] == \
        [[namespaces["cluster-synced"], "configmap/platform", "Current", synced["resources"][0]["source_hash"]]]
    error_lines = [line for line in printed["cluster-pull-error"] if line.strip().startswith("Error:")]
    assert any("KNV2004" in line for line in error_lines) and "\\n" not in "\n".join(printed["cluster-pull-error"])
    # The reconciler-manager made the reconciler Deployment, which never became available: RECONCILING, a PENDING cluster.
    assert any(line.split()[:1] == ["RECONCILING"] for line in printed["cluster-not-started"])
    assert "  N/A  Failed to connect to cluster" in printed["cluster-unreachable"]

    live_line = [line.strip() for line in printed["cluster-pull-error"] if line.strip().startswith("Live commit:")]
    assert live_line == ["Live commit: %s, last synced %s (%s)" % (synced["short_commit"], broken["last_synced_at"], broken["last_synced_ago"])]
    timeline_lines = run.stdout.splitlines()[run.stdout.splitlines().index("Rollout timeline (started %s):" % report["timeline"]["started_at"]) + 1:]
    assert [line.split()[:3] for line in timeline_lines[:3]] == [["wave", "1", "cluster-synced"], ["wave", "2", "cluster-not-started"],
                                                                 ["wave", "2", "cluster-pull-error"]]

    markdown = (reports / "config-sync-status.md").read_text()
    rows = [line.split("|")[1:3] for line in markdown.splitlines() if line.startswith("| cluster-")]
    assert [(name.strip(), state.strip()) for name, state in rows] == [(name, EXPECTED[name]) for name in worst_first]
    assert summary in markdown and "KNV2004" in markdown
    assert "Documentation: [KNV2004](https://g.co/cloud/acm-errors#knv2004)" in markdown
    assert "| 2 | cluster-not-started |" in markdown and "## Rollout timeline" in markdown

    # --- the same clusters through nomos ---
    for cluster in ("cluster-synced", "cluster-pull-error", "cluster-not-started"):
        status, commit, errors = nomos_sync(nomos_for(kubeconfig, namespaces[cluster]), namespaces[cluster])
        ours = by_name[cluster]["syncs"][0]
        # nomos prints the whole commit (nothing or N/A when there is none); the report shortens it to 8 characters.
        assert status == ours["status"] and (commit if commit != "N/A" else None) == ours["commit"], (cluster, status, commit, ours)
        assert (commit or "N/A")[:8] == ours["short_commit"]
        assert [e.splitlines()[0] for e in ours["errors"]] == errors, (cluster, errors, ours["errors"])
    assert "Failed to connect to cluster" in nomos_for(hosts["cluster-unreachable"]["rollout_kubeconfig"])

    # --- the HTML page in a real browser, at 1,400 and 800 px ---
    page = reports / "config-sync-status.html"
    html = page.read_text()
    assert not re.search(r"<script|<link|<iframe|<img|\ssrc=|url\(|@import", html, re.IGNORECASE), "no script, nothing loaded"
    full_sources = {s["source"] for c in report["clusters"] for s in c["syncs"]}
    for width in WIDTHS:
        dom = measure_in_chromium(page, width, tmp_path)
        assert dom.rows == [(name, EXPECTED[name]) for name in worst_first], dom.rows
        assert dom.measured["width"] == width and dom.measured["scrollWidth"] <= width, dom.measured
        assert dom.measured["wide"] == [], "elements wider than the {0} px window: {1}".format(width, dom.measured["wide"])
        # Each source shown short, with the full reference on hover.
        assert {title for title, dummy in dom.sources} == full_sources
        assert "{0}/\u2026/platform@sha256:{1}".format(registry.host, synced["short_commit"]) in \
            {text for dummy, text in dom.sources}
        assert all(len(text) < len(title) for title, text in dom.sources), dom.sources
        # Config Sync's documentation of KNV2004, from the table, the code and the error's own link.
        docs = [link for link in dom.links if link[0] == "https://g.co/cloud/acm-errors#knv2004"]
        assert len(docs) == 3 and {text for dummy, text in docs} == {"KNV2004", "https://g.co/cloud/acm-errors#knv2004"}, dom.links
        assert dom.svgs == 1 and 0 < dom.measured["svgWidth"] <= width
        assert dom.bars == [("cluster-synced", "1", "SYNCED"), ("cluster-not-started", "2", entries["cluster-not-started"]["state"]),
                            ("cluster-pull-error", "2", "SYNCED")], dom.bars
    shots = []
    for width in WIDTHS:
        screenshot = artifacts / "fleet-status-{0}.png".format(width)
        shot = chromium("--screenshot=" + str(screenshot), "--window-size={0},900".format(width), page.as_uri())
        assert shot.returncode == 0 and screenshot.stat().st_size > 10000, shot.stderr[-3000:]
        shots.append(screenshot)
    shutil.copy(str(page), str(artifacts / "fleet-status.html"))
    for screenshot in shots:
        print("fleet status report screenshot: {0}".format(screenshot))

    # --- report-only: green, and the files are written again ---
    before = report["generated_at"]
    time.sleep(1.1)
    only = ansible(playbook=STATUS_PLAY, hosts=hosts, forks=4, extra_vars={"rollout_report_dir": str(reports), "rollout_report_only": True})
    assert only.returncode == 0 and not only.failed, only
    again = json.loads((reports / "config-sync-status.json").read_text())
    assert again["generated_at"] != before and {c["cluster"]: c["state"] for c in again["clusters"]} == EXPECTED
    assert summary in only.stdout.splitlines()


NOTED_PLAY = """
- name: A rollout's waves, as the sync entry point notes them
  hosts: all
  gather_facts: false
  serial: 1
  tasks:
    - name: Note the timing
      ansible.builtin.set_fact:
        rollout_timing: {cluster: "{{ inventory_hostname }}", wave: "{{ wave }}", started_at: "{{ started }}", ended_at: "{{ ended }}", state: SYNCED}

- name: The report in the same run
  hosts: all
  gather_facts: false
  tasks:
    - name: Report
      ansible.builtin.include_role:
        name: configsync.oci.rollout
        tasks_from: status
"""


def test_the_report_draws_the_timeline_noted_earlier_in_the_same_run(ansible, tmp_path):
    """Without rollout_timeline given, the status entry point draws what the run's earlier plays noted per cluster
    (rollout_timing); the clusters here answer nothing (a loopback port nobody listens on), so all are UNREACHABLE."""
    kubeconfig = tmp_path / "nobody.kubeconfig"
    server = "https://{0}:{1}".format(LOOPBACK, free_port())
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "not-a-real-token"}}], "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    hosts = {"cluster-a": {"wave": 1, "started": "2026-12-01T09:00:00.000Z", "ended": "2026-12-01T09:00:20.000Z"},
             "cluster-b": {"wave": 2, "started": "2026-12-01T09:00:21.000Z", "ended": "2026-12-01T09:00:50.000Z"}}
    for variables in hosts.values():
        variables["rollout_kubeconfig"] = str(kubeconfig)
    play = tmp_path / "noted.yml"
    play.write_text(NOTED_PLAY)
    run = ansible(playbook=play, hosts=hosts, forks=2, extra_vars={"rollout_report_dir": str(tmp_path / "reports"), "rollout_report_only": True})
    assert run.returncode == 0 and not run.failed, run
    timeline = run.result("Report the fleet's Config Sync status")["timeline"]
    assert [(e["cluster"], e["wave"], e["start"], e["end"]) for e in timeline["entries"]] == [("cluster-a", 1, 0.0, 20.0), ("cluster-b", 2, 21.0, 50.0)]
    page = (tmp_path / "reports" / "config-sync-status.html").read_text()
    assert page.count('<g class="timeline-bar"') == 2
