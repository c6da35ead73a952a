# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When waiting for a sync is over: the verdict on one status, for the watch in k8s.watch.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.configsync.oci.plugins.module_utils.configsync.status import ERROR, STALLED, SYNCED
from ansible_collections.configsync.oci.plugins.module_utils.k8s.watch import WAIT_DONE, WAIT_FAIL, WAIT_MORE


def stale_source_error(sync):
    """Whether the sync's only errors are source errors Config Sync reported for another image or dir than the spec's.

    The reconciler writes ``status.source.ociStatus`` with the source its errors are about; after the spec moves (a
    tag replaced by a digest, say) those errors stay until the new reconciler Pod reports, and say nothing about the
    new source.

    >>> stale_source_error({"spec": {"oci": {"image": "h/p@sha256:1", "dir": "."}}, "status": {"source": {
    ...     "ociStatus": {"image": "h/p:v1", "dir": "."}, "errors": [{"code": "2004"}]}}})
    True
    """
    spec = (sync.get("spec") or {}).get("oci") or {}
    status = sync.get("status") or {}
    source = status.get("source") or {}
    reported = source.get("ociStatus") or {}
    if not source.get("errors") or not reported or any((status.get(phase) or {}).get("errors") for phase in ("rendering", "sync")):
        return False
    return (reported.get("image"), reported.get("dir") or ".") != (spec.get("image"), spec.get("dir") or ".")


def wait_verdict(sync, state, expected, changed_at=None):
    """Whether waiting for a sync is over: (WAIT_DONE | WAIT_FAIL | WAIT_MORE, reason).

    ``state`` is evaluate_sync_status's result; ``expected`` the commit to reach (None: any). A status is only judged
    once Config Sync has observed the current generation. ``changed_at`` (RFC 3339, the API server's time of this
    run's write) keeps an ERROR that Config Sync reported for the previous source before the write from ending the
    wait; so does a source ERROR whose ``ociStatus`` names another image than the spec (``stale_source_error``). An
    ERROR at the expected commit, or newer than the write, ends it at once.
    """
    generation = (sync.get("metadata") or {}).get("generation")
    observed = (sync.get("status") or {}).get("observedGeneration")
    if generation is not None and (observed is None or observed < generation):
        return WAIT_MORE, "Config Sync has not yet observed generation %s (observed: %s)" % (generation, observed)
    status = state["status"]
    if status == STALLED:
        return WAIT_FAIL, "%s %s/%s is STALLED: %s" % (state["kind"], state["namespace"], state["name"], "; ".join(state["errors"]))
    if status == SYNCED:
        if expected is None or state["commit"] == expected:
            return WAIT_DONE, "SYNCED at %s" % state["commit"]
        return WAIT_MORE, "SYNCED at %s, waiting for %s" % (state["commit"], expected)
    if status == ERROR:
        if stale_source_error(sync):
            reported = ((sync.get("status") or {}).get("source") or {}).get("ociStatus") or {}
            return WAIT_MORE, "ERROR reported for an earlier source (%s), waiting for Config Sync to report on %s" % (
                reported.get("image"), state["image"])
        current = (changed_at is None or (expected is not None and state["commit"] == expected)
                   or (state.get("status_updated_at") or "") >= changed_at)
        if current:
            return WAIT_FAIL, "%s %s/%s is in ERROR at commit %s: %s" % (state["kind"], state["namespace"], state["name"],
                                                                         state["commit"] or "N/A", "; ".join(state["errors"]))
        return WAIT_MORE, "ERROR reported before this change, waiting for Config Sync to report on the new source"
    return WAIT_MORE, "%s at commit %s" % (status, state["commit"] or "N/A")
