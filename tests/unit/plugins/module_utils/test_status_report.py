"""The fleet status report (module_utils/status_report.py): one report, rendered as text, Markdown, HTML and JSON."""
import json
from html.parser import HTMLParser

from ansible_collections.configsync.oci.plugins.module_utils import status_report as report_module
from ansible_collections.configsync.oci.plugins.module_utils.status_report import (
    ERROR, PENDING, SYNCED, UNREACHABLE, build_report, cluster_state, progress_line, render_html, render_json,
    render_markdown, render_text,
)

COMMIT = "3c2b9e62" + "a" * 56
KNV2004 = ("KNV2004: failed to pull image us-docker.pkg.dev/p/r/missing:v1: GET https://us-docker.pkg.dev/v2/p/r/missing/manifests/v1: "
           "MANIFEST_UNKNOWN\n\nFor more information, see https://g.co/cloud/acm-errors#knv2004")


def sync_state(status, name="platform", namespace="team-a", commit=COMMIT, errors=(), resources=(), last_update=None):
    return {"kind": "RepoSync", "name": name, "namespace": namespace, "scope": namespace, "status": status,
            "source": "registry.example/p/r/platform@sha256:" + (commit or "0" * 64), "source_type": "oci", "commit": commit,
            "last_update": last_update, "errors": list(errors),
            "error_summary": {"total_count": len(errors), "truncated": False, "error_count_after_truncation": len(errors)} if errors else None,
            "resources": list(resources), "reconciler": None}


RESOURCE = {"namespace": "team-a", "resource": "configmap/platform", "status": "Current", "source_hash": "3c2b9e6", "conditions": []}


def fleet():
    return {
        "cluster-a": {"server": "https://a", "errors": [], "syncs": [sync_state("SYNCED", resources=[RESOURCE], last_update="2026-12-01T10:00:00Z")]},
        "cluster-b": {"server": "https://b", "errors": [], "syncs": [sync_state("ERROR", namespace="team-b", commit=None, errors=[KNV2004])]},
        "cluster-c": {"server": "https://c", "errors": [], "syncs": [sync_state("PENDING", namespace="team-c", commit=None)]},
        "cluster-d": {"failed": True, "msg": "cannot reach https://127.0.0.1:1: connection refused"},
    }


class Rows(HTMLParser):
    """The fleet table's rows (data-cluster, data-state) and whether any external asset is referenced."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.rows, self.external = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and "data-cluster" in attrs:
            self.rows.append((attrs["data-cluster"], attrs["data-state"]))
        for key in ("src", "href"):
            if attrs.get(key) and not attrs[key].startswith("#"):
                self.external.append(attrs[key])


def test_cluster_states_follow_the_worst_sync_object():
    assert cluster_state([sync_state("SYNCED"), sync_state("SYNCED")]) == SYNCED
    assert cluster_state([sync_state("SYNCED"), sync_state("RECONCILING")]) == PENDING
    assert cluster_state([sync_state("PENDING"), sync_state("STALLED")]) == ERROR
    assert cluster_state([]) == PENDING, "a cluster without any sync object is not SYNCED"


def test_report_summarises_the_fleet_and_marks_unread_clusters_unreachable():
    report = build_report(fleet(), generated_at="2026-12-01T10:00:00Z")
    states = {c["cluster"]: c["state"] for c in report["clusters"]}
    assert states == {"cluster-a": SYNCED, "cluster-b": ERROR, "cluster-c": PENDING, "cluster-d": UNREACHABLE}
    assert report["summary"] == {SYNCED: 1, PENDING: 1, ERROR: 1, UNREACHABLE: 1, "total": 4}
    assert report["summary_line"] == "Fleet: 4 clusters: 1 SYNCED, 1 PENDING, 1 ERROR, 1 unreachable"
    assert report["clusters"][3]["errors"] == ["cannot reach https://127.0.0.1:1: connection refused"]


def test_text_is_laid_out_like_nomos_with_errors_on_lines_of_their_own():
    text = render_text(build_report(fleet()))
    lines = text.splitlines()
    assert "cluster-a" in lines and "  --------------------" in lines
    assert any(line.startswith("  SYNCED @ 2026-12-01T10:00:00Z") and line.endswith("3c2b9e62") for line in lines)
    assert "  Managed resources:" in lines
    header = [line for line in lines if "NAMESPACE" in line][0].split()
    assert header == ["NAMESPACE", "NAME", "STATUS", "SOURCEHASH"]
    assert [line for line in lines if "configmap/platform" in line][0].split() == ["team-a", "configmap/platform", "Current", "3c2b9e6"]
    error_line = [line for line in lines if "KNV2004" in line][0]
    assert error_line.startswith("  Error:  KNV2004: failed to pull image")
    assert "\\n" not in text, "no literal backslash-n"
    assert any(line.strip() == "For more information, see https://g.co/cloud/acm-errors#knv2004" for line in lines)
    assert "  N/A  Failed to connect to cluster" in lines
    assert lines[-1] == "Fleet: 4 clusters: 1 SYNCED, 1 PENDING, 1 ERROR, 1 unreachable"


def test_markdown_has_the_fleet_table_and_one_section_per_cluster():
    markdown = render_markdown(build_report(fleet()))
    table = [line for line in markdown.splitlines() if line.startswith("| cluster-")]
    assert [row.split("|")[1:3] for row in table] == [[" cluster-a ", " SYNCED "], [" cluster-b ", " ERROR "],
                                                      [" cluster-c ", " PENDING "], [" cluster-d ", " UNREACHABLE "]]
    for name in ("cluster-a", "cluster-b", "cluster-c", "cluster-d"):
        assert "## %s:" % name in markdown
    assert "| team-a | configmap/platform | Current | 3c2b9e6 |" in markdown
    assert "KNV2004: failed to pull image" in markdown


def test_html_is_one_self_contained_page_with_a_row_per_cluster():
    page = render_html(build_report(fleet()))
    parser = Rows()
    parser.feed(page)
    assert parser.rows == [("cluster-a", SYNCED), ("cluster-b", ERROR), ("cluster-c", PENDING), ("cluster-d", UNREACHABLE)]
    assert parser.external == [], "no external assets"
    for state, colour in report_module.COLOURS.items():
        assert ".state-%s { background: %s; }" % (state, colour) in page


def test_html_escapes_what_comes_from_the_cluster():
    results = fleet()
    results["cluster-b"]["syncs"][0]["errors"] = ["KNV1021: <script>alert(1)</script> & more"]
    page = render_html(build_report(results))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page


def test_json_round_trips_the_report():
    report = build_report(fleet(), generated_at="2026-12-01T10:00:00Z")
    assert json.loads(render_json(report)) == report


def test_progress_lines_name_the_cluster_state_and_time():
    assert progress_line("cluster-a", sync_state("PENDING", commit=None), 15.7) == "[cluster-a] team-a:platform PENDING commit N/A (15s)"
    line = progress_line("cluster-b", sync_state("ERROR", commit=None, errors=[KNV2004]), 3)
    assert line.startswith("[cluster-b] team-a:platform ERROR commit N/A (KNV2004: failed to pull image") and "\n" not in line
    assert progress_line("cluster-c", None, 0, "the sync object does not exist yet") == \
        "[cluster-c] no sync object yet: the sync object does not exist yet (0s)"
