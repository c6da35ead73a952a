# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A RootSync / RepoSync's status, decided by nomos's rules (cmd/nomos/status/cluster_state.go,
pkg/rootsync/conditions.go), as pure functions of the objects.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import posixpath

from ansible_collections.configsync.oci.plugins.module_utils.configsync.names import (
    CONFIG_MANAGEMENT_SYSTEM, REPO_SYNC_KIND, ROOT_SYNC_KIND,
)


SYNCED = "SYNCED"
PENDING = "PENDING"
RECONCILING = "RECONCILING"
STALLED = "STALLED"
ERROR = "ERROR"


def get_condition(conditions, condition_type):
    for condition in conditions or []:
        if condition.get("type") == condition_type:
            return condition
    return None


def _summary(error_summary):
    return {
        "total_count": int(error_summary.get("totalCount") or 0),
        "truncated": bool(error_summary.get("truncated")),
        "error_count_after_truncation": int(error_summary.get("errorCountAfterTruncation") or 0),
    }


def _counted_summary(count):
    return {"total_count": count, "truncated": False, "error_count_after_truncation": count} if count else None


def _messages(errors):
    return [error.get("errorMessage", "") for error in errors or []]


def condition_has_no_errors(condition):
    """pkg/rootsync ConditionHasNoErrors: the errorSummary's totalCount, else the condition's own errors."""
    summary = condition.get("errorSummary")
    if summary is None:
        return not condition.get("errors")
    return int(summary.get("totalCount") or 0) == 0


def _condition_errors(status, condition):
    """Errors of a Syncing condition: from the status sections its errorSourceRefs name, else its own list."""
    if condition.get("errorSummary") is not None:
        # ErrorSource values (v1beta1): the status field holding the errors.
        sections = {"status.rendering.errors": "rendering", "status.source.errors": "source", "status.sync.errors": "sync"}
        errors = []
        for ref in condition.get("errorSourceRefs") or []:
            errors.extend(_messages((status.get(sections.get(ref, "")) or {}).get("errors")))
        return errors, _summary(condition["errorSummary"])
    errors = _messages(condition.get("errors"))
    return errors, _counted_summary(len(errors))


def _legacy_status(status):
    """multiRepoSyncStatus: for Config Sync versions without the Syncing condition."""
    sections = [status.get(key) or {} for key in ("source", "sync", "rendering")]
    if any(section.get("errors") for section in sections):
        return ERROR
    source, sync, rendering = sections
    if not sync.get("commit"):
        return PENDING
    if sync.get("commit") == source.get("commit") and rendering.get("commit") in (None, "", sync.get("commit")):
        return SYNCED
    return PENDING


def resource_statuses(resource_group):
    """Managed resources from the ResourceGroup, with Conflict where ownership overlaps (nomos checkConflict)."""
    resources = []
    for entry in ((resource_group or {}).get("status") or {}).get("resourceStatuses") or []:
        conditions = entry.get("conditions") or []
        state = entry.get("status")
        if any(c.get("type") == "OwnershipOverlap" and c.get("status") == "True" for c in conditions):
            state = "Conflict"
        group, kind, name = entry.get("group") or "", entry.get("kind") or "", entry.get("name") or ""
        resources.append({
            "group": group,
            "kind": kind,
            "namespace": entry.get("namespace") or "",
            "name": name,
            "resource": "%s%s/%s" % (kind.lower(), "." + group if group else "", name),
            "status": state,
            "source_hash": entry.get("sourceHash") or None,
            "conditions": [c.get("message", "") for c in conditions],
        })
    return sorted(resources, key=lambda r: (r["namespace"], r["resource"]))


def source_string(oci):
    """nomos's ociString: the image, plus ``/dir`` unless the dir is the root."""
    if not oci:
        return "N/A"
    image = (oci.get("image") or "").rstrip("/")
    directory = oci.get("dir") or ""
    if directory in ("", ".", "/"):
        return image
    return image + "/" + posixpath.normpath(directory.lstrip("/"))


def last_synced_at(status):
    """When ``lastSyncedCommit`` was synced: ``status.sync.lastUpdate`` while the sync section still holds that commit
    without errors. The reconciler sets lastSyncedCommit from sync.commit only after an error-free sync, and a source
    or rendering failure on a newer commit leaves the sync section alone; once a newer commit's apply has failed, the
    sync section is that attempt's and the time of the last good sync is not kept anywhere (None)."""
    sync = status.get("sync") or {}
    commit = status.get("lastSyncedCommit")
    if commit and sync.get("commit") == commit and not sync.get("errors"):
        return sync.get("lastUpdate") or None
    return None


def evaluate_sync_status(sync, resource_group=None, syncing_condition_supported=True):
    """The state of one RootSync/RepoSync as ``nomos status`` decides and shows it, as a dict.

    ``syncing_condition_supported`` is what nomos derives from the ConfigManagement version (False on open-source
    installs without that object): only then does a sync without a Syncing condition count as PENDING outright.
    ``commit`` is the full commit (nomos shortens legacy commits to 8 characters when printing); None where nomos
    prints N/A.
    """
    metadata = sync.get("metadata") or {}
    spec = sync.get("spec") or {}
    status = sync.get("status") or {}
    conditions = status.get("conditions") or []
    kind = sync.get("kind") or (ROOT_SYNC_KIND if metadata.get("namespace") == CONFIG_MANAGEMENT_SYSTEM else REPO_SYNC_KIND)
    result = {
        "kind": kind,
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "scope": "<root>" if kind == ROOT_SYNC_KIND else metadata.get("namespace"),
        "source_type": spec.get("sourceType") or "git",
        "image": (spec.get("oci") or {}).get("image"),
        "dir": (spec.get("oci") or {}).get("dir"),
        "source": source_string(spec.get("oci")) if spec.get("sourceType") == "oci" else None,
        "status": None,
        "commit": None,
        "last_synced_commit": status.get("lastSyncedCommit") or None,
        "last_synced_at": last_synced_at(status),
        "last_update": None,
        "errors": [],
        "error_summary": None,
        "resources": [],
        "generation": metadata.get("generation"),
        "observed_generation": status.get("observedGeneration"),
        "reconciler": status.get("reconciler") or None,
    }
    stalled = get_condition(conditions, "Stalled")
    reconciling = get_condition(conditions, "Reconciling")
    syncing = get_condition(conditions, "Syncing")
    if stalled and stalled.get("status") == "True":
        result["status"] = STALLED
        result["errors"] = [stalled.get("message", "")]
        result["error_summary"] = _summary(stalled["errorSummary"]) if stalled.get("errorSummary") else _counted_summary(1)
    elif reconciling and reconciling.get("status") == "True":
        result["status"] = RECONCILING
    elif syncing is None:
        if syncing_condition_supported:
            result["status"] = PENDING
        else:
            result["status"] = _legacy_status(status)
            sync_section = status.get("sync") or {}
            if result["status"] == SYNCED:
                result["last_update"] = sync_section.get("lastUpdate")
            result["commit"] = sync_section.get("commit") or None
            errors = []
            for key in ("rendering", "source", "sync"):
                errors.extend(_messages((status.get(key) or {}).get("errors")))
            result["errors"] = errors
            result["error_summary"] = _counted_summary(len(errors))
            result["resources"] = resource_statuses(resource_group)
    elif syncing.get("status") == "True":
        result["status"] = PENDING
        result["commit"] = syncing.get("commit") or None
        result["errors"], result["error_summary"] = _condition_errors(status, syncing)
    elif condition_has_no_errors(syncing):
        result["status"] = SYNCED
        result["last_update"] = (status.get("sync") or {}).get("lastUpdate")
        result["commit"] = syncing.get("commit") or None
        result["resources"] = resource_statuses(resource_group)
    else:
        result["status"] = ERROR
        result["commit"] = syncing.get("commit") or None
        result["errors"], result["error_summary"] = _condition_errors(status, syncing)
    result["status_updated_at"] = (syncing or {}).get("lastUpdateTime")
    result["summary"] = summary_line(result)
    return result


def summary_line(state):
    """One line like nomos's two rows: ``<root>:root-sync  IMAGE[/DIR]  SYNCED @ TIME  COMMIT`` (commit shortened to 8)."""
    status = state["status"]
    if status == SYNCED and state["last_update"]:
        status = "%s @ %s" % (status, state["last_update"])
    commit = (state["commit"] or "N/A")[:8]
    line = "%s:%s  %s  %s  %s" % (state["scope"], state["name"], state["source"] or state["source_type"], status, commit)
    if state["errors"]:
        line += "  (%d error%s: %s)" % (len(state["errors"]), "" if len(state["errors"]) == 1 else "s", state["errors"][0].split("\n")[0])
    return line
