# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet status report: what ``nomos status --contexts`` prints, for every cluster of a play, as text, Markdown,
a self-contained HTML page and JSON. Pure functions of config_sync_status results (no I/O), so every format is
rendered from one report and unit tested without servers."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime
import json
import re

from html import escape as _html_escape

SYNCED = "SYNCED"
PENDING = "PENDING"
ERROR = "ERROR"
UNREACHABLE = "UNREACHABLE"
# Cluster states in the order the summary lists them.
CLUSTER_STATES = (SYNCED, PENDING, ERROR, UNREACHABLE)
# The order a person reads the clusters in, worst first: a cluster whose configuration Config Sync refuses needs a
# fix, one that cannot be read may be fine or not, one still syncing may get there by itself, a SYNCED one needs nothing.
SEVERITY = (ERROR, UNREACHABLE, PENDING, SYNCED)
# Sync-object states (config_sync_status) that make a cluster ERROR or PENDING; everything else is PENDING too.
_ERROR_SYNC_STATES = ("ERROR", "STALLED")
SHORT_COMMIT = 8
# The fields of a config_sync_status sync entry that the report keeps.
SYNC_FIELDS = ("kind", "name", "namespace", "scope", "status", "source", "source_type", "image", "dir", "commit", "last_update",
               "last_synced_commit", "last_synced_at", "error_summary", "reconciler")
# nomos prints this for a context it cannot reach (cmd/nomos/status/cluster_state.go unavailableCluster).
UNREACHABLE_ERROR = "Failed to connect to cluster"
INDENT = "  "
SEPARATOR = "--------------------"
COLOURS = {SYNCED: "#1e7b34", PENDING: "#9a6700", ERROR: "#b42318", UNREACHABLE: "#5b5b5b"}
# Config Sync's error documentation: every KNV code has an anchor there, and its messages end with that link.
ERROR_DOCS = "https://g.co/cloud/acm-errors#"
_ERROR_DOC_LINK = re.compile(r"https://g\.co/cloud/acm-errors#knv\d{4}\b|\bKNV\d{4}\b", re.IGNORECASE)
ELLIPSIS = u"\u2026"
_UTC = datetime.timezone.utc


def short_commit(commit):
    return (commit or "N/A")[:SHORT_COMMIT]


def short_reference(reference):
    """An image reference a person can scan: ``host/…/name@sha256:abcd1234`` (registry host, image name, tag, and
    8 hex digits of the digest); the full one stays in the report for hover and copy."""
    if not reference:
        return "N/A"
    name, at, digest = reference.partition("@")
    if at:
        algorithm, colon, hexdigits = digest.partition(":")
        digest = "@" + (algorithm + ":" + hexdigits[:SHORT_COMMIT] if colon else digest)
    parts = name.split("/")
    if len(parts) > 2:
        name = parts[0] + "/" + ELLIPSIS + "/" + parts[-1]
    return name + digest


def short_source(sync):
    """The sync's source shortened (short_reference of its image, then the directory nomos appends)."""
    source, image = sync.get("source"), sync.get("image")
    if image and source and source.startswith(image):
        return short_reference(image) + source[len(image):]
    return short_reference(source) if source else (sync.get("source_type") or "N/A")


def parse_time(text):
    """A Kubernetes / RFC 3339 time (``2026-12-01T10:00:00Z``, fractions and offsets allowed) as an aware datetime."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", (text or "").strip())
    if not match:
        return None
    moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    if match.group(2):
        moment += datetime.timedelta(microseconds=int(round(float(match.group(2)) * 1000000)))
    offset = match.group(3) or "Z"
    if offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        moment -= sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(tzinfo=_UTC)


def format_duration(seconds):
    """``42s``, ``3m 05s``, ``2h 07m``, ``3d 4h``: two units at most, what a person reads at a glance."""
    seconds = int(round(max(0, seconds)))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm %02ds" % (seconds // 60, seconds % 60)
    if seconds < 86400:
        return "%dh %02dm" % (seconds // 3600, seconds % 3600 // 60)
    return "%dd %dh" % (seconds // 86400, seconds % 86400 // 3600)


def time_ago(moment, now):
    """``5m 12s ago`` from two RFC 3339 times; None when either is unknown."""
    then, current = parse_time(moment), parse_time(now)
    if then is None or current is None:
        return None
    return format_duration((current - then).total_seconds()) + " ago"


def cluster_state(syncs):
    """A cluster is SYNCED when it has sync objects and every one is SYNCED, ERROR when any is ERROR or STALLED,
    else PENDING (PENDING, RECONCILING, or no sync object yet)."""
    states = [sync.get("status") for sync in syncs]
    if any(state in _ERROR_SYNC_STATES for state in states):
        return ERROR
    if states and all(state == SYNCED for state in states):
        return SYNCED
    return PENDING


def cluster_entry(name, result, generated_at=None):
    """One cluster of the report from its config_sync_status result (a registered task result).

    A result without ``syncs`` (the read failed: connection refused, bad credentials, Ansible unreachable) is an
    UNREACHABLE cluster, with the failure message as its error. Each sync keeps its commit, and the commit that is
    live (``lastSyncedCommit``) with how long before ``generated_at`` it synced.
    """
    result = result or {}
    if result.get("unreachable") or "syncs" not in result:
        message = result.get("msg") or "no status was read"
        return {"cluster": name, "state": UNREACHABLE, "server": result.get("server"), "errors": [message], "syncs": []}
    syncs = []
    for sync in result["syncs"]:
        entry = dict((key, sync.get(key)) for key in SYNC_FIELDS)
        entry["short_commit"] = short_commit(sync.get("commit"))
        entry["short_source"] = short_source(entry)
        entry["live_short_commit"] = short_commit(entry["last_synced_commit"]) if entry["last_synced_commit"] else None
        entry["last_synced_ago"] = time_ago(entry["last_synced_at"], generated_at)
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


def rollout_timeline(entries):
    """The rollout's timeline from the role's records, one per cluster (``cluster``, ``wave``, ``started_at`` when
    its wave began, ``ended_at`` when its wait ended, ``state``: SYNCED or the state the wait gave up in), ordered by
    wave, start and name, with seconds from the rollout's start. Entries without a readable start are left out."""
    rows = []
    for entry in entries or []:
        started = parse_time((entry or {}).get("started_at"))
        if started is None or not entry.get("cluster"):
            continue
        ended = parse_time(entry.get("ended_at"))
        rows.append((started, ended, entry))
    if not rows:
        return None
    origin = min(started for started, dummy, dummy in rows)
    timeline = []
    for started, ended, entry in rows:
        wave = entry.get("wave")
        start = (started - origin).total_seconds()
        timeline.append({"cluster": entry["cluster"], "wave": int(wave) if str(wave).isdigit() else None,
                         "started_at": entry.get("started_at"), "ended_at": entry.get("ended_at") if ended else None,
                         "state": entry.get("state") or None, "start": round(start, 1),
                         "end": round((ended - origin).total_seconds(), 1) if ended else None,
                         "duration": round((ended - started).total_seconds(), 1) if ended else None})
    timeline.sort(key=lambda row: (row["wave"] is None, row["wave"] or 0, row["start"], row["cluster"]))
    return {"started_at": origin.strftime("%Y-%m-%dT%H:%M:%SZ"), "entries": timeline}


def build_report(results, generated_at=None, title="Config Sync fleet status", timeline=None):
    """The report of a fleet from ``{cluster name: config_sync_status result}``, clusters worst first (SEVERITY),
    then by name; ``timeline`` is the rollout's records (rollout_timeline), when the report follows a rollout."""
    clusters = [cluster_entry(name, results[name], generated_at) for name in results]
    clusters.sort(key=lambda cluster: (SEVERITY.index(cluster["state"]), cluster["cluster"]))
    summary = fleet_summary(clusters)
    return {"title": title, "generated_at": generated_at, "clusters": clusters, "summary": summary,
            "summary_line": summary_line(summary), "timeline": rollout_timeline(timeline)}


# --- what every format says alike ----------------------------------------------------------------------------------

def live_phrase(sync):
    """For a sync that is not SYNCED, what is actually running: ``cadde328, last synced 2026-12-08T00:04:18Z (3m 05s
    ago)`` from ``lastSyncedCommit``, ``none (never synced)`` for an ERROR before any good sync; None otherwise (a SYNCED
    sync's commit is the live one, a first sync still PENDING has nothing to say)."""
    if sync["status"] == SYNCED:
        return None
    if not sync.get("last_synced_commit"):
        return "none (never synced)" if sync["status"] in _ERROR_SYNC_STATES else None
    if not sync.get("last_synced_at"):
        return "%s, last synced at a time Config Sync no longer reports" % sync["live_short_commit"]
    ago = " (%s)" % sync["last_synced_ago"] if sync.get("last_synced_ago") else ""
    return "%s, last synced %s%s" % (sync["live_short_commit"], sync["last_synced_at"], ago)


def live_brief(sync):
    """live_phrase for a table cell: ``live cadde328, synced 3m 05s ago``, ``live: none (never synced)``."""
    if live_phrase(sync) is None:
        return None
    if not sync.get("last_synced_commit"):
        return "live: none (never synced)"
    return "live %s%s" % (sync["live_short_commit"], ", synced " + sync["last_synced_ago"] if sync.get("last_synced_ago") else "")


def error_codes(messages):
    """The KNV codes of error messages, each once, in order (each has a page at ERROR_DOCS)."""
    codes = []
    for message in messages:
        for match in re.finditer(r"\bKNV(\d{4})\b", message, re.IGNORECASE):
            code = "KNV" + match.group(1)
            if code not in codes:
                codes.append(code)
    return codes


def error_doc_url(code):
    return ERROR_DOCS + code.lower()


def _bar_state(state):
    """The colour class of a timeline bar: the wait's outcome (SYNCED, or the state it gave up in)."""
    if state == SYNCED:
        return SYNCED
    if state in _ERROR_SYNC_STATES or state in (ERROR, "FAILED"):
        return ERROR
    return PENDING if state else UNREACHABLE


def timeline_outcome(entry):
    """``SYNCED after 42s``, ``not SYNCED (RECONCILING) after 15s``, ``no wait``."""
    if entry["duration"] is None:
        return "no wait"
    if entry["state"] == SYNCED:
        return "SYNCED after %s" % format_duration(entry["duration"])
    return "not SYNCED (%s) after %s" % (entry["state"] or "unknown", format_duration(entry["duration"]))


def _waves(timeline):
    waves = []
    for entry in timeline["entries"]:
        if not waves or waves[-1][0] != entry["wave"]:
            waves.append((entry["wave"], []))
        waves[-1][1].append(entry)
    return waves


def _wave_name(wave):
    return "wave %d" % wave if wave is not None else "wave ?"


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
    live = live_phrase(sync)
    if live:
        lines.append("%sLive commit: %s" % (indent, live))
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


def timeline_text(timeline):
    """``wave 1  cluster-a  +0s  +42s  SYNCED after 42s``, seconds from the rollout's start."""
    rows = [[_wave_name(e["wave"]), e["cluster"], "+" + format_duration(e["start"]),
             "+" + format_duration(e["end"]) if e["end"] is not None else "-", timeline_outcome(e)] for e in timeline["entries"]]
    return ["Rollout timeline (started %s):" % timeline["started_at"]] + _columns(rows, INDENT)


def render_text(report):
    lines = []
    for cluster in report["clusters"]:
        lines += [""] + cluster_text(cluster)
    if report.get("timeline"):
        lines += [""] + timeline_text(report["timeline"])
    return "\n".join(lines + ["", report["summary_line"]]) + "\n"


# --- Markdown -------------------------------------------------------------------------------------------------------

_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]|#~])")


def md_text(value):
    """Text from a cluster as Markdown shows it literally: ``<root>`` as an entity, not a tag that vanishes, and no
    emphasis, link or table cell made by the characters of a name or a message."""
    text = (value or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_PUNCTUATION.sub(r"\\\1", text)


def md_code(value):
    """A code span that holds any text, backticks included (a fence longer than any run of them inside)."""
    text = (value or "").replace("\n", " ")
    fence = "`" * (max([len(run) for run in re.findall(r"`+", text)] + [0]) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return fence + padding + text + padding + fence


def _md_fenced(lines):
    fence = "`" * max([3] + [len(run) + 1 for line in lines for run in re.findall(r"^`{3,}", line)])
    return [fence] + list(lines) + [fence]


def _md_table(header, rows):
    """A table whose cells are Markdown already (md_text for what comes from a cluster); lines joined by <br>."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for dummy in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("\n", "<br>") for cell in row) + " |" for row in rows]
    return lines


def _md_doc_links(messages):
    return ", ".join("[%s](%s)" % (code, error_doc_url(code)) for code in error_codes(messages))


def _md_fleet_rows(report):
    rows = []
    for cluster in report["clusters"]:
        syncs = cluster["syncs"]
        objects = []
        for sync in syncs:
            line = md_text("%s:%s %s" % (sync["scope"], sync["name"], sync["status"]))
            if sync["errors"]:
                line += " (%s)" % _md_doc_links(sync["errors"])
            objects.append(line)
        commits = [md_text(sync["short_commit"]) + ("\n" + md_text(live_brief(sync)) if live_brief(sync) else "") for sync in syncs]
        rows.append([md_text(cluster["cluster"]), md_text(cluster["state"]),
                     "\n".join(objects) or md_text((cluster["errors"] or ["-"])[0].splitlines()[0]),
                     "\n".join(md_text(sync["short_source"]) for sync in syncs), "\n".join(commits)])
    return rows


FLEET_HEADER = ["Cluster", "State", "Sync objects", "Source", "Commit"]


def _md_errors(messages):
    lines = _md_fenced([line for message in messages for line in message.splitlines()])
    links = _md_doc_links(messages)
    return lines + (["", "Documentation: " + links] if links else [])


def render_markdown(report):
    lines = ["# " + md_text(report["title"]), ""]
    if report.get("generated_at"):
        lines += ["Generated %s." % md_text(report["generated_at"]), ""]
    lines += ["**%s**" % md_text(report["summary_line"]), ""]
    lines += _md_table(FLEET_HEADER, _md_fleet_rows(report))
    if report.get("timeline"):
        timeline = report["timeline"]
        lines += ["", "## Rollout timeline", "", "Started %s; times are from the start." % md_text(timeline["started_at"]), ""]
        lines += _md_table(["Wave", "Cluster", "Started", "Ended", "Outcome"], [
            [md_text(str(e["wave"] or "?")), md_text(e["cluster"]), "+" + format_duration(e["start"]),
             "+" + format_duration(e["end"]) if e["end"] is not None else "-", md_text(timeline_outcome(e))] for e in timeline["entries"]])
    for cluster in report["clusters"]:
        lines += ["", "## %s: %s" % (md_text(cluster["cluster"]), md_text(cluster["state"])), ""]
        if cluster["state"] == UNREACHABLE:
            lines += ["%s:" % UNREACHABLE_ERROR, ""] + _md_fenced(cluster["errors"])
            continue
        if cluster["errors"]:
            lines += ["Cluster errors:", ""] + _md_errors(cluster["errors"]) + [""]
        for sync in cluster["syncs"]:
            lines += ["### %s:%s" % (md_text(sync["scope"]), md_text(sync["name"])), "",
                      "- Source: %s" % md_code(sync.get("source") or "N/A"),
                      "- Status: **%s**" % md_text(_sync_status_text(sync)),
                      "- Commit: %s" % md_code(sync["short_commit"])]
            live = live_phrase(sync)
            if live:
                lines.append("- Live commit: %s" % md_text(live))
            lines.append("")
            if sync["errors"]:
                lines += ["Errors:", ""] + _md_errors(sync["errors"]) + [""]
            if sync["resources"]:
                lines += ["Managed resources:", ""]
                lines += _md_table(["NAMESPACE", "NAME", "STATUS", "SOURCEHASH"],
                                   [[md_text(r["namespace"]), md_text(r["resource"]), md_text(r["status"]), md_text(r["source_hash"])]
                                    for r in sync["resources"]])
                lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# --- HTML: one page, no script, no external assets ------------------------------------------------------------------

def _h(value):
    return _html_escape(value if value is not None else "", quote=True)


def html_linked(text):
    """Escaped text with Config Sync's error documentation made links: its ``https://g.co/cloud/acm-errors#knvNNNN``
    URLs and the KNV codes themselves. No other URL from a cluster becomes a link."""
    parts, last = [], 0
    for match in _ERROR_DOC_LINK.finditer(text or ""):
        token = match.group(0)
        code = "KNV" + token[-4:]
        parts.append(_h(text[last:match.start()]))
        parts.append('<a class="error-doc" href="%s" target="_blank" rel="noopener noreferrer">%s</a>' % (_h(error_doc_url(code)), _h(token)))
        last = match.end()
    parts.append(_h((text or "")[last:]))
    return "".join(parts)


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em; color: #1f2328;
overflow-wrap: anywhere; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.5em; } .summary { font-size: 1.1em; margin: 1em 0; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; max-width: 100%%; } th, td { border: 1px solid #d0d7de;
padding: 0.3em 0.6em; text-align: left; vertical-align: top; } th { background: #f6f8fa; }
.state { color: #fff; font-weight: bold; border-radius: 0.3em; padding: 0.1em 0.5em; white-space: nowrap; }
%s
pre { background: #f6f8fa; padding: 0.6em; white-space: pre-wrap; } code { font-size: 0.9em; }
.source { cursor: help; border-bottom: 1px dotted #8c959f; } .live { color: #57606a; font-size: 0.9em; }
a.error-doc { color: #0550ae; }
details { margin: 0.5em 0; } summary { cursor: pointer; font-weight: bold; }
svg.timeline { display: block; width: 100%%; max-width: 820px; height: auto; margin: 0.5em 0 1em 0; }
table.fleet td { overflow-wrap: break-word; } table.fleet td.sync-objects { overflow-wrap: anywhere; } th { overflow-wrap: normal; }
table.fleet .state { font-size: 0.85em; }
svg.timeline text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 13px; fill: #1f2328; }
svg.timeline .tick { fill: #57606a; font-size: 12px; } svg.timeline .wave { font-weight: bold; }
""" % "\n".join(".state-%s { background: %s; }" % (state, colour) for state, colour in sorted(COLOURS.items()))


def _state_badge(state):
    return '<span class="state state-%s">%s</span>' % (_h(state), _h(state))


def _html_source(sync):
    """The short source, breakable after each ``/`` and before ``@`` (a narrow column wraps it there), the full
    reference on hover."""
    full = sync.get("source") or sync.get("source_type") or "N/A"
    short = re.sub(r"(/)|(@)", lambda match: "/<wbr>" if match.group(1) else "<wbr>@", _h(sync["short_source"]))
    return '<span class="source" title="%s">%s</span>' % (_h(full), short)


def _html_doc_links(messages):
    return ", ".join('<a class="error-doc" href="%s" target="_blank" rel="noopener noreferrer">%s</a>' % (_h(error_doc_url(code)), _h(code))
                     for code in error_codes(messages))


def _html_cluster(cluster):
    parts = ['<details class="cluster-details" id="cluster-%s"%s>' % (_h(cluster["cluster"]), "" if cluster["state"] == SYNCED else " open"),
             "<summary>%s %s</summary>" % (_h(cluster["cluster"]), _state_badge(cluster["state"]))]
    if cluster["state"] == UNREACHABLE:
        parts.append("<p>%s:</p><pre class=\"errors\">%s</pre>" % (_h(UNREACHABLE_ERROR), _h("\n".join(cluster["errors"]))))
    elif cluster["errors"]:
        parts.append('<pre class="errors">%s</pre>' % html_linked("\n".join(cluster["errors"])))
    for sync in cluster["syncs"]:
        parts.append("<h3>%s:%s %s</h3>" % (_h(sync["scope"]), _h(sync["name"]), _state_badge(sync["status"] if sync["status"] in COLOURS else PENDING)))
        parts.append("<p>Source <code>%s</code>, status %s, commit <code>%s</code></p>" % (
            _h(sync.get("source") or "N/A"), _h(_sync_status_text(sync)), _h(sync["short_commit"])))
        live = live_phrase(sync)
        if live:
            parts.append('<p class="live-commit">Live commit: %s</p>' % _h(live))
        if sync["errors"]:
            parts.append('<pre class="errors">%s</pre>' % html_linked("\n".join(sync["errors"])))
        if sync["resources"]:
            parts.append("<table class=\"resources\"><tr><th>NAMESPACE</th><th>NAME</th><th>STATUS</th><th>SOURCEHASH</th></tr>")
            parts.extend("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
                _h(r["namespace"]), _h(r["resource"]), _h(r["status"]), _h(r["source_hash"])) for r in sync["resources"])
            parts.append("</table>")
    parts.append("</details>")
    return "\n".join(parts)


def _html_fleet_row(cluster):
    syncs = cluster["syncs"]
    objects = []
    for sync in syncs:
        line = _h("%s:%s %s" % (sync["scope"], sync["name"], sync["status"]))
        if sync["errors"]:
            line += " (%s)" % _html_doc_links(sync["errors"])
        objects.append(line)
    commits = ["<code>%s</code>%s" % (_h(sync["short_commit"]), '<br><span class="live">%s</span>' % _h(live_brief(sync)) if live_brief(sync) else "")
               for sync in syncs]
    cells = ['<td class="cluster-name"><a href="#cluster-%s">%s</a></td>' % (_h(cluster["cluster"]), _h(cluster["cluster"])),
             '<td class="cluster-state">%s</td>' % _state_badge(cluster["state"]),
             '<td class="sync-objects">%s</td>' % ("<br>".join(objects) or _h((cluster["errors"] or ["-"])[0].splitlines()[0])),
             '<td class="sources">%s</td>' % "<br>".join(_html_source(sync) for sync in syncs),
             '<td class="commits">%s</td>' % "<br>".join(commits)]
    return '<tr class="cluster" data-cluster="%s" data-state="%s">%s</tr>' % (_h(cluster["cluster"]), _h(cluster["state"]), "".join(cells))


# The timeline's drawing, in SVG user units: 820 wide, drawn 1:1 on a wide page and scaled down to the page's width
# on a narrow one (0.9 at 800 px, text still readable).
_TL_WIDTH, _TL_AXIS, _TL_WAVE, _TL_ROW, _TL_BAR = 820, 28, 24, 22, 14
# Cluster names longer than this are cut (the full name is in the bar's tooltip); 7 units is about one character of
# the 13 px font, used to keep names and outcome labels inside the picture.
_TL_NAME, _TL_CHAR = 26, 7.0
_TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)


def _tick_label(seconds):
    if seconds and seconds % 3600 == 0:
        return "%dh" % (seconds // 3600)
    if seconds and seconds % 60 == 0:
        return "%dm" % (seconds // 60)
    return "%ds" % seconds if seconds < 60 else "%dm%02ds" % (seconds // 60, seconds % 60)


def timeline_svg(timeline):
    """One bar per cluster from its wave's start to SYNCED (or to where its wait gave up), grouped by wave, on an
    axis of seconds from the rollout's start: inline SVG, drawn here, so the page needs no script."""
    entries = timeline["entries"]
    span = max([e["end"] if e["end"] is not None else e["start"] for e in entries] + [1.0])
    step = next((step for step in _TICK_STEPS if span / step <= 8), _TICK_STEPS[-1])
    ticks = int(-(-span // step))
    names = [e["cluster"] if len(e["cluster"]) <= _TL_NAME else e["cluster"][:_TL_NAME - 1] + ELLIPSIS for e in entries]
    label = max([len(name) for name in names] + [len("Wave 10")]) * _TL_CHAR
    left = label + 10
    right = max(len(timeline_outcome(e)) for e in entries) * _TL_CHAR + 12
    scale = float(_TL_WIDTH - left - right) / (ticks * step)
    waves = _waves(timeline)
    height = _TL_AXIS + len(waves) * _TL_WAVE + len(entries) * _TL_ROW + 6
    parts = ['<svg class="timeline" id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" '
             'role="img" aria-labelledby="timeline-title">' % (_TL_WIDTH, height, _TL_WIDTH, height),
             '<title id="timeline-title">Rollout timeline: %d cluster%s in %d wave%s, started %s</title>' % (
                 len(entries), "" if len(entries) == 1 else "s", len(waves), "" if len(waves) == 1 else "s", _h(timeline["started_at"]))]
    for index in range(ticks + 1):
        x = left + index * step * scale
        parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#d0d7de"/>' % (x, _TL_AXIS - 6, x, height))
        parts.append('<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x, _TL_AXIS - 12, _tick_label(index * step)))
    y = _TL_AXIS
    short_names = dict((entry["cluster"], name) for entry, name in zip(entries, names))
    for wave, members in waves:
        parts.append('<text class="wave" x="0" y="%d">%s</text>' % (y + _TL_WAVE - 7, _h(_wave_name(wave).capitalize())))
        y += _TL_WAVE
        for entry in members:
            name = short_names[entry["cluster"]]
            x = left + entry["start"] * scale
            width = max(2.0, (entry["duration"] or 0) * scale)
            state = _bar_state(entry["state"]) if entry["duration"] is not None else UNREACHABLE
            parts.append('<g class="timeline-bar" data-cluster="%s" data-wave="%s" data-state="%s">' % (
                _h(entry["cluster"]), _h(str(entry["wave"] or "")), _h(entry["state"] or "")))
            parts.append("<title>%s, %s: %s, from %s to %s</title>" % (
                _h(entry["cluster"]), _h(_wave_name(entry["wave"])), _h(timeline_outcome(entry)), _h(entry["started_at"]), _h(entry["ended_at"] or "-")))
            parts.append('<text x="%.1f" y="%d" text-anchor="end">%s</text>' % (label, y + _TL_ROW - 7, _h(name)))
            parts.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" rx="3" fill="%s"/>' % (
                x, y + (_TL_ROW - _TL_BAR) // 2, width, _TL_BAR, COLOURS[state]))
            parts.append('<text x="%.1f" y="%d">%s</text>' % (x + width + 6, y + _TL_ROW - 7, _h(timeline_outcome(entry))))
            parts.append("</g>")
            y += _TL_ROW
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(report):
    generated = "<p>Generated %s.</p>" % _h(report["generated_at"]) if report.get("generated_at") else ""
    timeline = ""
    if report.get("timeline"):
        timeline = ('<h2>Rollout timeline</h2>\n<p>From %s; each bar runs from the start of the cluster\'s wave to SYNCED, '
                    'or to where its wait gave up.</p>\n%s') % (
            _h(report["timeline"]["started_at"]), timeline_svg(report["timeline"]))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>%s</title>" % _h(report["title"]),
        "<style>%s</style></head><body>" % _STYLE,
        "<h1>%s</h1>" % _h(report["title"]), generated,
        '<p class="summary" id="summary">%s</p>' % _h(report["summary_line"]),
        '<table class="fleet" id="fleet"><thead><tr>%s</tr></thead><tbody>' % "".join("<th>%s</th>" % _h(h) for h in FLEET_HEADER),
        "\n".join(_html_fleet_row(cluster) for cluster in report["clusters"]), "</tbody></table>",
        timeline,
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
