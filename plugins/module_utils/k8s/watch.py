# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting through a watch: follow one object until a judge gives its verdict, never a polling period late.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import time

from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import KubernetesUnreachable

# Seconds past the deadline a read may take before the server counts as not answering.
_GRACE = 2

# A judge's verdicts, and the two watch_until adds when the wait ends without one.
WAIT_DONE = "done"
WAIT_FAIL = "fail"
WAIT_MORE = "wait"
WAIT_TIMEOUT = "timeout"
WAIT_UNREACHABLE = "unreachable"
_FINAL = (WAIT_DONE, WAIT_FAIL)


def watch_until(client, path, collection, name, judge, timeout):
    """Read the object, then follow it through watches until ``judge(obj)`` gives a final verdict or time runs out.

    ``judge`` returns (verdict, reason) with verdict WAIT_DONE, WAIT_FAIL or WAIT_MORE; the last (obj, verdict, reason)
    is returned, with verdict WAIT_TIMEOUT when time ran out, or WAIT_UNREACHABLE (the reason says so) when the API server
    stopped answering; every read is bounded by the deadline, so the wait never overruns it by more than a few
    seconds. A watch wakes us on every change, so the wait ends as soon as the object reaches the wanted state, never
    a polling period later.
    """
    deadline = deadline_after(timeout)
    obj, verdict, reason = None, WAIT_MORE, None
    try:
        obj = client.get(path, timeout=remaining(deadline) + _GRACE)
        verdict, reason = judge(obj)
        return _follow(client, path, collection, name, judge, deadline, obj, verdict, reason)
    except KubernetesUnreachable as exc:
        return obj, WAIT_UNREACHABLE, str(exc)


def _follow(client, path, collection, name, judge, deadline, obj, verdict, reason):
    while verdict not in _FINAL:
        left = remaining(deadline)
        if left <= 0:
            return obj, WAIT_TIMEOUT, reason
        version = ((obj or {}).get("metadata") or {}).get("resourceVersion")
        for event_type, event_object in client.watch(collection, name, version, left):
            if event_type == "BOOKMARK":
                continue
            obj = None if event_type == "DELETED" else event_object
            verdict, reason = judge(obj)
            if verdict in _FINAL or remaining(deadline) <= 0:
                break
        else:
            # The watch ended (server timeout or expired history): read the object again and keep watching.
            if remaining(deadline) > 0:
                obj = client.get(path, timeout=remaining(deadline) + _GRACE)
                verdict, reason = judge(obj)
    return obj, verdict, reason


def deadline_after(seconds):
    return time.monotonic() + seconds


def remaining(deadline):
    return max(0.0, deadline - time.monotonic())
