"""The fleet status report (module_utils/status_report.py): one report, rendered as text, Markdown, HTML and JSON."""
import json
import re
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
        for key in ("src", "href", "xlink:href"):
            if attrs.get(key) and not attrs[key].startswith("#"):
                self.external.append((tag, key, attrs[key]))


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
    assert report["clusters"][1]["errors"] == ["cannot reach https://127.0.0.1:1: connection refused"]


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
    assert [row.split("|")[1:3] for row in table] == [[" cluster-b ", " ERROR "], [" cluster-d ", " UNREACHABLE "],
                                                      [" cluster-c ", " PENDING "], [" cluster-a ", " SYNCED "]]
    for name in ("cluster-a", "cluster-b", "cluster-c", "cluster-d"):
        assert "## %s:" % name in markdown
    assert "| team-a | configmap/platform | Current | 3c2b9e6 |" in markdown
    assert "KNV2004: failed to pull image" in markdown


def test_html_is_one_self_contained_page_with_a_row_per_cluster():
    page = render_html(build_report(fleet()))
    parser = Rows()
    parser.feed(page)
    assert parser.rows == [("cluster-b", ERROR), ("cluster-d", UNREACHABLE), ("cluster-c", PENDING), ("cluster-a", SYNCED)]
    assert parser.external == [("a", "href", "https://g.co/cloud/acm-errors#knv2004")] * 3, \
        "no external assets: only links to Config Sync's error documentation"
    assert "<script" not in page and "<link" not in page and "url(" not in page and "@import" not in page
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


GENERATED = "2026-12-01T10:00:00Z"
LIVE = "cadde328" + "b" * 56


def broken_update():
    """cluster-b synced LIVE an hour and five minutes before the report, and now cannot pull its newer image."""
    results = fleet()
    sync = results["cluster-b"]["syncs"][0]
    sync.update(last_synced_commit=LIVE, last_synced_at="2026-12-01T08:55:00Z")
    return results


def test_clusters_are_sorted_worst_first_then_by_name():
    results = fleet()
    results["cluster-0"] = {"server": "https://0", "errors": [], "syncs": [sync_state("STALLED", errors=["KNV1061: bad"])]}
    results["cluster-9"] = {"server": "https://9", "errors": [], "syncs": [sync_state("ERROR", errors=[KNV2004])]}
    report = build_report(results, generated_at=GENERATED)
    assert [(c["cluster"], c["state"]) for c in report["clusters"]] == [
        ("cluster-0", ERROR), ("cluster-9", ERROR), ("cluster-b", ERROR), ("cluster-d", UNREACHABLE), ("cluster-c", PENDING), ("cluster-a", SYNCED)]
    text = render_text(report)
    assert [line for line in text.splitlines() if line.startswith("cluster-")] == [c["cluster"] for c in report["clusters"]]


def test_an_error_cluster_shows_the_live_commit_and_how_long_ago_it_synced():
    report = build_report(broken_update(), generated_at=GENERATED)
    sync = report["clusters"][0]["syncs"][0]
    assert (sync["live_short_commit"], sync["last_synced_ago"]) == ("cadde328", "1h 05m ago")
    assert "  Live commit: cadde328, last synced 2026-12-01T08:55:00Z (1h 05m ago)" in render_text(report).splitlines()
    assert "- Live commit: cadde328, last synced 2026-12-01T08:55:00Z (1h 05m ago)" in render_markdown(report)
    page = render_html(report)
    assert '<span class="live">live cadde328, synced 1h 05m ago</span>' in page
    assert '<p class="live-commit">Live commit: cadde328, last synced 2026-12-01T08:55:00Z (1h 05m ago)</p>' in page
    # After a failed apply of a newer commit, Config Sync still names the live commit but no longer says when it synced.
    results = broken_update()
    results["cluster-b"]["syncs"][0]["last_synced_at"] = None
    unknown = build_report(results, generated_at=GENERATED)
    assert "  Live commit: cadde328, last synced at a time Config Sync no longer reports" in render_text(unknown).splitlines()
    assert '<span class="live">live cadde328</span>' in render_html(unknown)
    # An ERROR before any good sync says nothing runs; a SYNCED one needs no such line.
    never = build_report(fleet(), generated_at=GENERATED)
    assert "  Live commit: none (never synced)" in render_text(never).splitlines()
    assert "Live commit" not in "\n".join(cluster_text_of(never, "cluster-a"))


def cluster_text_of(report, name):
    return report_module.cluster_text([c for c in report["clusters"] if c["cluster"] == name][0])


def test_durations_and_ages_read_at_a_glance():
    assert [report_module.format_duration(s) for s in (0, 42.4, 185, 7620, 273600)] == ["0s", "42s", "3m 05s", "2h 07m", "3d 4h"]
    assert report_module.time_ago("2026-12-01T09:59:30.5+00:00", GENERATED) == "30s ago"
    assert report_module.time_ago("2026-12-01T11:00:00+02:00", GENERATED) == "1h 00m ago"
    assert report_module.time_ago(None, GENERATED) is None and report_module.time_ago("yesterday", GENERATED) is None


def test_sources_are_shortened_to_host_name_and_digest():
    short = report_module.short_reference
    assert short("us-docker.pkg.dev/p/r/platform@sha256:" + COMMIT) == "us-docker.pkg.dev/\u2026/platform@sha256:3c2b9e62"
    assert short("127.0.0.1:5000/status/does-not-exist:v1") == "127.0.0.1:5000/\u2026/does-not-exist:v1"
    assert short("registry.example/platform:v1@sha256:" + COMMIT) == "registry.example/platform:v1@sha256:3c2b9e62"
    sync = dict(sync_state("SYNCED"), image="us-docker.pkg.dev/p/r/platform@sha256:" + COMMIT)
    sync["source"] = sync["image"] + "/clusters/prod"
    assert report_module.short_source(sync) == "us-docker.pkg.dev/\u2026/platform@sha256:3c2b9e62/clusters/prod"
    page = render_html(build_report(fleet()))
    full = "registry.example/p/r/platform@sha256:" + COMMIT
    # Breakable after each / and before @, where a narrow column wraps it.
    assert '<span class="source" title="%s">registry.example/<wbr>\u2026/<wbr>platform<wbr>@sha256:3c2b9e62</span>' % full in page


def test_error_documentation_is_linked_and_nothing_else_from_a_cluster_is():
    hostile = "KNV1021: see https://evil.example/x and javascript:alert(1) or https://g.co/cloud/acm-errors#knv1021."
    linked = report_module.html_linked(hostile)
    assert linked.count("<a ") == 2 and 'href="https://g.co/cloud/acm-errors#knv1021"' in linked
    assert "evil.example" not in "".join(re.findall(r'href="([^"]*)"', linked)) and "javascript:" not in "".join(re.findall(r'href="([^"]*)"', linked))
    markdown = render_markdown(build_report(fleet()))
    assert "Documentation: [KNV2004](https://g.co/cloud/acm-errors#knv2004)" in markdown
    assert "| team-b:platform ERROR ([KNV2004](https://g.co/cloud/acm-errors#knv2004)) |" in markdown


def rendered_markdown(markdown):
    """The HTML a CommonMark renderer with tables (as GitHub and GitLab render) makes of the Markdown report."""
    from markdown_it import MarkdownIt  # pylint: disable=import-outside-toplevel
    return MarkdownIt("commonmark").enable("table").render(markdown)


class Text(HTMLParser):
    def __init__(self):
        HTMLParser.__init__(self)
        self.text, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_markdown_shows_root_and_names_literally():
    results = fleet()
    root = sync_state("ERROR", name="root-sync", namespace="config-management-system", errors=[KNV2004])
    root.update(scope="<root>", kind="RootSync")
    results["cluster-b"]["syncs"] = [root]
    results["cluster_*x*"] = {"server": "https://x", "errors": [], "syncs": [sync_state("SYNCED", name="a|b")]}
    html = rendered_markdown(render_markdown(build_report(results)))
    parser = Text()
    parser.feed(html)
    text = "".join(parser.text)
    assert "<root>:root-sync ERROR" in text and "<root>:root-sync" in [line.strip() for line in text.splitlines()], text
    assert "root" not in parser.tags and "em" not in parser.tags and "strong" in parser.tags
    assert "cluster_*x*" in text and "team-a:a|b SYNCED" in text
    fleet_rows = html.split("<tbody>")[1].split("</tbody>")[0].count("<tr>")
    assert fleet_rows == 5, "one row per cluster: no cell split by a | in a name"
    assert '<a href="https://g.co/cloud/acm-errors#knv2004">KNV2004</a>' in html


TIMELINE = [
    {"cluster": "cluster-c", "wave": 2, "started_at": "2026-12-01T09:00:40Z", "ended_at": "2026-12-01T09:00:55Z", "state": "RECONCILING"},
    {"cluster": "cluster-a", "wave": 1, "started_at": "2026-12-01T09:00:00Z", "ended_at": "2026-12-01T09:00:38.2Z", "state": SYNCED},
    {"cluster": "cluster-b", "wave": 2, "started_at": "2026-12-01T09:00:40Z", "ended_at": "2026-12-01T09:01:30Z", "state": SYNCED},
    {"cluster": "cluster-e", "wave": 2, "started_at": "2026-12-01T09:00:40Z", "ended_at": None, "state": None},
    {"cluster": "cluster-x", "wave": 3, "started_at": "not a time"},
]


def test_the_rollout_timeline_in_waves():
    report = build_report(fleet(), generated_at=GENERATED, timeline=TIMELINE)
    timeline = report["timeline"]
    assert timeline["started_at"] == "2026-12-01T09:00:00Z"
    assert [(e["wave"], e["cluster"], e["start"], e["end"], e["duration"]) for e in timeline["entries"]] == [
        (1, "cluster-a", 0.0, 38.2, 38.2), (2, "cluster-b", 40.0, 90.0, 50.0), (2, "cluster-c", 40.0, 55.0, 15.0), (2, "cluster-e", 40.0, None, None)]
    lines = render_text(report).splitlines()
    start = lines.index("Rollout timeline (started 2026-12-01T09:00:00Z):")
    assert [line.split() for line in lines[start + 1:start + 5]] == [
        ["wave", "1", "cluster-a", "+0s", "+38s", "SYNCED", "after", "38s"],
        ["wave", "2", "cluster-b", "+40s", "+1m", "30s", "SYNCED", "after", "50s"],
        ["wave", "2", "cluster-c", "+40s", "+55s", "not", "SYNCED", "(RECONCILING)", "after", "15s"],
        ["wave", "2", "cluster-e", "+40s", "-", "no", "wait"]]
    assert lines[-1] == report["summary_line"]
    assert "| 2 | cluster-c | +40s | +55s | not SYNCED (RECONCILING) after 15s |" in render_markdown(report)
    svg = report_module.timeline_svg(timeline)
    bars = re.findall(r'<g class="timeline-bar" data-cluster="([^"]+)" data-wave="(\d*)" data-state="([^"]*)">', svg)
    assert bars == [("cluster-a", "1", SYNCED), ("cluster-b", "2", SYNCED), ("cluster-c", "2", "RECONCILING"), ("cluster-e", "2", "")]
    assert svg.count(">Wave ") == 2 and "<script" not in svg
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="\d+" width="([\d.]+)"', svg)]
    assert widths[1] > widths[0] > widths[2] > widths[3], "bar lengths follow the durations"
    assert render_html(report).count('<svg class="timeline"') == 1
    assert "<svg" not in render_html(build_report(fleet())), "no timeline without a rollout"
