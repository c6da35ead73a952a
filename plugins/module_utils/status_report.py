# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet status report: what ``nomos status --contexts`` prints, for every cluster of a play, as text, Markdown,
a self-contained HTML page and JSON. Pure functions of config_sync_status results (no I/O), so every format is
rendered from one report and unit tested without servers."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json

from html import escape as _html_escape

SYNCED = "SYNCED"
PENDING = "PENDING"
ERROR = "ERROR"
UNREACHABLE = "UNREACHABLE"
# Cluster states in the order the summary lists them.
CLUSTER_STATES = (SYNCED, PENDING, ERROR, UNREACHABLE)
# Sync-object states (config_sync_status) that make a cluster ERROR or PENDING; everything else is PENDING too.
_ERROR_SYNC_STATES = ("ERROR", "STALLED")
SHORT_COMMIT = 8
# The fields of a config_sync_status sync entry that the report keeps.
SYNC_FIELDS = ("kind", "name", "namespace", "scope", "status", "source", "source_type", "commit", "last_update", "error_summary", "reconciler")
# nomos prints this for a context it cannot reach (cmd/nomos/status/cluster_state.go unavailableCluster).
UNREACHABLE_ERROR = "Failed to connect to cluster"
INDENT = "  "
SEPARATOR = "--------------------"
COLOURS = {SYNCED: "#1e7b34", PENDING: "#9a6700", ERROR: "#b42318", UNREACHABLE: "#5b5b5b"}


def short_commit(commit):
    return (commit or "N/A")[:SHORT_COMMIT]


def cluster_state(syncs):
    """A cluster is SYNCED when it has sync objects and every one is SYNCED, ERROR when any is ERROR or STALLED,
    else PENDING (PENDING, RECONCILING, or no sync object yet)."""
    states = [sync.get("status") for sync in syncs]
    if any(state in _ERROR_SYNC_STATES for state in states):
        return ERROR
    if states and all(state == SYNCED for state in states):
        return SYNCED
    return PENDING


def cluster_entry(name, result):
    """One cluster of the report from its config_sync_status result (a registered task result).

    A result without ``syncs`` (the read failed: connection refused, bad credentials, Ansible unreachable) is an
    UNREACHABLE cluster, with the failure message as its error.
    """
    result = result or {}
    if result.get("unreachable") or "syncs" not in result:
        message = result.get("msg") or "no status was read"
        return {"cluster": name, "state": UNREACHABLE, "server": result.get("server"), "errors": [message], "syncs": []}
    syncs = []
    for sync in result["syncs"]:
        entry = dict((key, sync.get(key)) for key in SYNC_FIELDS)
        entry["short_commit"] = short_commit(sync.get("commit"))
        entry["errors"] = list(sync.get("errors") or [])
        entry["resources"] = [dict((key, resource.get(key)) for key in ("namespace", "resource", "status", "source_hash", "conditions"))
                              for resource in sync.get("resources") or []]
        syncs.append(entry)
    return {"cluster": name, "state": cluster_state(syncs), "server": result.get("server"),
            "errors": list(result.get("errors") or []), "syncs": syncs}


def fleet_summary(clusters):
    counts = dict((state, 0) for state in CLUSTER_STATES)
    for cluster in clusters:
        counts[cluster["state"]] += 1
    counts["total"] = len(clusters)
    return counts


def summary_line(summary):
    """``Fleet: 4 clusters: 1 SYNCED, 1 PENDING, 1 ERROR, 1 unreachable``."""
    return "Fleet: %d cluster%s: %d SYNCED, %d PENDING, %d ERROR, %d unreachable" % (
        summary["total"], "" if summary["total"] == 1 else "s", summary[SYNCED], summary[PENDING], summary[ERROR], summary[UNREACHABLE])


def build_report(results, generated_at=None, title="Config Sync fleet status"):
    """The report of a fleet from ``{cluster name: config_sync_status result}``; clusters in name order."""
    clusters = [cluster_entry(name, results[name]) for name in sorted(results)]
    summary = fleet_summary(clusters)
    return {"title": title, "generated_at": generated_at, "clusters": clusters, "summary": summary,
            "summary_line": summary_line(summary)}


# --- text, as nomos prints it ---------------------------------------------------------------------------------------

def _columns(rows, indent):
    """Rows of cells aligned in columns (nomos uses a tabwriter)."""
    widths = [max(len(row[i]) if i < len(row) else 0 for row in rows) for i in range(max(len(row) for row in rows))]
    return [(indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))).rstrip() for row in rows]


def _error_lines(message, indent):
    """Every line of an error message, the first after ``Error:``, the rest indented under it (KNV codes each on a
    line of their own, not joined by a literal \\n)."""
    lines = message.splitlines() or [""]
    return [indent + "Error:  " + lines[0]] + [indent + "        " + line for line in lines[1:]]


def _sync_status_text(sync):
    if sync["status"] == SYNCED and sync.get("last_update"):
        return "%s @ %s" % (sync["status"], sync["last_update"])
    return sync["status"] or "N/A"


def sync_text(sync, indent=INDENT):
    lines = _columns([["%s:%s" % (sync["scope"], sync["name"]), sync.get("source") or sync.get("source_type") or "N/A"],
                      [_sync_status_text(sync), sync["short_commit"]]], indent)
    summary = sync.get("error_summary") or {}
    if summary.get("total_count"):
        if summary.get("truncated"):
            lines.append("%sTotalErrorCount: %d, ErrorTruncated: true, ErrorCountAfterTruncation: %d" % (
                indent, summary["total_count"], summary.get("error_count_after_truncation") or 0))
        else:
            lines.append("%sTotalErrorCount: %d" % (indent, summary["total_count"]))
    for message in sync["errors"]:
        lines.extend(_error_lines(message, indent))
    if sync["resources"]:
        lines.append(indent + "Managed resources:")
        rows = [["NAMESPACE", "NAME", "STATUS", "SOURCEHASH"]]
        rows += [[r["namespace"] or "", r["resource"] or "", r["status"] or "", r["source_hash"] or ""] for r in sync["resources"]]
        lines.extend(_columns(rows, indent + "  "))
    return lines


def cluster_text(cluster):
    lines = [cluster["cluster"]]
    if cluster["state"] == UNREACHABLE:
        lines += [INDENT + SEPARATOR, "%sN/A  %s" % (INDENT, UNREACHABLE_ERROR)]
        lines += [INDENT + "       " + line for message in cluster["errors"] for line in message.splitlines()]
        return lines
    for message in cluster["errors"]:
        lines += [INDENT + SEPARATOR] + _error_lines(message, INDENT)
    for sync in cluster["syncs"]:
        lines += [INDENT + SEPARATOR] + sync_text(sync)
    return lines


def render_text(report):
    lines = []
    for cluster in report["clusters"]:
        lines += [""] + cluster_text(cluster)
    return "\n".join(lines + ["", report["summary_line"]]) + "\n"


# --- Markdown -------------------------------------------------------------------------------------------------------

def _md_cell(value):
    return (value or "").replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def _md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for dummy in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def _fleet_rows(report):
    """One row per cluster: cluster, state, and its sync objects, sources and short commits (one per line)."""
    rows = []
    for cluster in report["clusters"]:
        syncs = cluster["syncs"]
        rows.append([cluster["cluster"], cluster["state"],
                     "\n".join("%s:%s %s" % (s["scope"], s["name"], s["status"]) for s in syncs) or (cluster["errors"] or ["-"])[0].splitlines()[0],
                     "\n".join(s.get("source") or "N/A" for s in syncs),
                     "\n".join(s["short_commit"] for s in syncs)])
    return rows


FLEET_HEADER = ["Cluster", "State", "Sync objects", "Source", "Commit"]


def render_markdown(report):
    lines = ["# " + report["title"], ""]
    if report.get("generated_at"):
        lines += ["Generated %s." % report["generated_at"], ""]
    lines += ["**%s**" % report["summary_line"], ""]
    lines += _md_table(FLEET_HEADER, _fleet_rows(report))
    for cluster in report["clusters"]:
        lines += ["", "## %s: %s" % (cluster["cluster"], cluster["state"]), ""]
        if cluster["state"] == UNREACHABLE:
            lines += ["%s:" % UNREACHABLE_ERROR, "", "```"] + list(cluster["errors"]) + ["```"]
            continue
        if cluster["errors"]:
            lines += ["Cluster errors:", "", "```"] + cluster["errors"] + ["```", ""]
        for sync in cluster["syncs"]:
            lines += ["### %s:%s" % (sync["scope"], sync["name"]), "",
                      "- Source: `%s`" % (sync.get("source") or "N/A"),
                      "- Status: **%s**" % _sync_status_text(sync),
                      "- Commit: `%s`" % sync["short_commit"], ""]
            if sync["errors"]:
                lines += ["Errors:", "", "```"] + [line for message in sync["errors"] for line in message.splitlines()] + ["```", ""]
            if sync["resources"]:
                lines += ["Managed resources:", ""]
                lines += _md_table(["NAMESPACE", "NAME", "STATUS", "SOURCEHASH"],
                                   [[r["namespace"], r["resource"], r["status"], r["source_hash"]] for r in sync["resources"]])
                lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# --- HTML: one page, no external assets -----------------------------------------------------------------------------

def _h(value):
    return _html_escape(value if value is not None else "", quote=True)


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em; color: #1f2328; }
h1 { font-size: 1.5em; } .summary { font-size: 1.1em; margin: 1em 0; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; } th, td { border: 1px solid #d0d7de; padding: 0.3em 0.6em;
text-align: left; vertical-align: top; } th { background: #f6f8fa; }
.state { color: #fff; font-weight: bold; border-radius: 0.3em; padding: 0.1em 0.5em; white-space: nowrap; }
%s
pre { background: #f6f8fa; padding: 0.6em; white-space: pre-wrap; } code { font-size: 0.9em; }
details { margin: 0.5em 0; } summary { cursor: pointer; font-weight: bold; }
""" % "\n".join(".state-%s { background: %s; }" % (state, colour) for state, colour in sorted(COLOURS.items()))


def _state_badge(state):
    return '<span class="state state-%s">%s</span>' % (_h(state), _h(state))


def _html_cluster(cluster):
    parts = ['<details class="cluster-details" id="cluster-%s"%s>' % (_h(cluster["cluster"]), "" if cluster["state"] == SYNCED else " open"),
             "<summary>%s %s</summary>" % (_h(cluster["cluster"]), _state_badge(cluster["state"]))]
    if cluster["state"] == UNREACHABLE:
        parts.append("<p>%s:</p><pre class=\"errors\">%s</pre>" % (_h(UNREACHABLE_ERROR), _h("\n".join(cluster["errors"]))))
    elif cluster["errors"]:
        parts.append('<pre class="errors">%s</pre>' % _h("\n".join(cluster["errors"])))
    for sync in cluster["syncs"]:
        parts.append("<h3>%s:%s %s</h3>" % (_h(sync["scope"]), _h(sync["name"]), _state_badge(sync["status"] if sync["status"] in COLOURS else PENDING)))
        parts.append("<p>Source <code>%s</code>, status %s, commit <code>%s</code></p>" % (
            _h(sync.get("source") or "N/A"), _h(_sync_status_text(sync)), _h(sync["short_commit"])))
        if sync["errors"]:
            parts.append('<pre class="errors">%s</pre>' % _h("\n".join(sync["errors"])))
        if sync["resources"]:
            parts.append("<table class=\"resources\"><tr><th>NAMESPACE</th><th>NAME</th><th>STATUS</th><th>SOURCEHASH</th></tr>")
            parts.extend("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                _h(r["namespace"]), _h(r["resource"]), _h(r["status"]), _h(r["source_hash"])) for r in sync["resources"])
            parts.append("</table>")
    parts.append("</details>")
    return "\n".join(parts)


def render_html(report):
    rows = []
    for cluster, row in zip(report["clusters"], _fleet_rows(report)):
        cells = ['<td class="cluster-name"><a href="#cluster-%s">%s</a></td>' % (_h(cluster["cluster"]), _h(cluster["cluster"])),
                 '<td class="cluster-state">%s</td>' % _state_badge(cluster["state"])]
        cells += ["<td>%s</td>" % "<br>".join(_h(line) for line in cell.split("\n")) for cell in row[2:]]
        rows.append('<tr class="cluster" data-cluster="%s" data-state="%s">%s</tr>' % (_h(cluster["cluster"]), _h(cluster["state"]), "".join(cells)))
    generated = "<p>Generated %s.</p>" % _h(report["generated_at"]) if report.get("generated_at") else ""
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>%s</title>" % _h(report["title"]),
        "<style>%s</style></head><body>" % _STYLE,
        "<h1>%s</h1>" % _h(report["title"]), generated,
        '<p class="summary" id="summary">%s</p>' % _h(report["summary_line"]),
        '<table class="fleet" id="fleet"><thead><tr>%s</tr></thead><tbody>' % "".join("<th>%s</th>" % _h(h) for h in FLEET_HEADER),
        "\n".join(rows), "</tbody></table>",
        "\n".join(_html_cluster(cluster) for cluster in report["clusters"]),
        "</body></html>", ""])


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "html": render_html, "json": render_json}


# --- progress while waiting -----------------------------------------------------------------------------------------

def progress_line(cluster, sync, elapsed, detail=None):
    """One line a person watching a wait reads: ``[cluster-a] team-a:platform PENDING commit N/A (15s)``."""
    if sync is None:
        text = "no sync object yet"
    else:
        text = "%s:%s %s commit %s" % (sync.get("scope"), sync.get("name"), sync.get("status"), short_commit(sync.get("commit")))
        if sync.get("errors"):
            text += " (%s)" % sync["errors"][0].splitlines()[0]
    if detail:
        text += ": " + detail
    return "[%s] %s (%ds)" % (cluster, text, int(elapsed))
