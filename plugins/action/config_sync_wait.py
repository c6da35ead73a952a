# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""config_sync_wait: wait for one sync object from the controller, showing its state while waiting.

A module cannot print while it runs, and the default callback's retry line shows no result, so the wait runs here,
on the controller (where the collection reaches every cluster from): it follows the sync object with the collection's
watch (k8s.watch_until) in slices of progress_interval seconds, judges it by the collection's one set of wait rules
(configsync.wait_verdict), and after each slice prints the state through Ansible's display, which AWX's event
stream carries too.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.configsync.oci.plugins.module_utils import configsync as cs
from ansible_collections.configsync.oci.plugins.module_utils import k8s
from ansible_collections.configsync.oci.plugins.module_utils.status_report import progress_line, short_commit

display = Display()

WAIT_ARGSPEC = {
    "kind": {"type": "str", "default": "RootSync", "choices": ["RootSync", "RepoSync"]},
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str"},
    "commit": {"type": "str"},
    "timeout": {"type": "int", "default": 300},
    "progress_interval": {"type": "int", "default": 10},
}


def expected_commit(commit):
    """The commit Config Sync reports for an OCI digest: the hex without ``sha256:``; an image@digest gives its digest."""
    if not commit:
        return None
    if "@" in commit:
        commit = commit.rsplit("@", 1)[1]
    return commit.split(":", 1)[1] if commit.startswith("sha256:") else commit


class SyncJudge:
    """wait_verdict over the watched object; an ERROR for another commit than the awaited one that is already there at
    the first look is the previous source's, and only Config Sync's next report (a newer update time) counts."""

    def __init__(self, kind, namespace, name, expected, syncing_condition_supported):
        self.kind, self.namespace, self.name = kind, namespace, name
        self.expected = expected
        self.supported = syncing_condition_supported
        self.state = None
        self.stale = None
        self.looks = 0

    def __call__(self, obj):
        if obj is None:
            return cs.WAIT_FAIL, "%s %s/%s disappeared while waiting" % (self.kind, self.namespace, self.name)
        self.looks += 1
        self.state = cs.evaluate_sync_status(obj, syncing_condition_supported=self.supported)
        verdict, reason = cs.wait_verdict(obj, self.state, self.expected)
        old_error = verdict == cs.WAIT_FAIL and self.state["status"] == cs.ERROR and self.expected and self.state["commit"] != self.expected
        if old_error and self.looks == 1:
            self.stale = self.state.get("status_updated_at") or ""
        if old_error and self.stale is not None and (self.state.get("status_updated_at") or "") <= self.stale:
            return cs.WAIT_MORE, "ERROR reported for the previous source, waiting for Config Sync to report on the new one"
        return verdict, reason


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, params = self.validate_argument_spec(argument_spec=dict(k8s.K8S_AUTH_ARGSPEC, **WAIT_ARGSPEC))
        kind, name = params["kind"], params["name"]
        namespace = params["namespace"] or (cs.CONFIG_MANAGEMENT_SYSTEM if kind == cs.ROOT_SYNC_KIND else None)
        if not namespace:
            result.update(failed=True, msg="namespace is required for a RepoSync")
            return result
        expected = expected_commit(params["commit"])
        host = (task_vars or {}).get("inventory_hostname", "localhost")
        result.update(changed=False, expected_commit=expected)
        began = time.monotonic()
        try:
            client = k8s.client_from_params(params)
            judge = SyncJudge(kind, namespace, name, expected, cs.syncing_condition_supported(k8s.config_management_version(client)))
            path, collection = k8s.sync_path(kind, namespace, name), k8s.sync_collection(kind, namespace)
            while True:
                left = params["timeout"] - (time.monotonic() - began)
                obj, verdict, reason = k8s.watch_until(client, path, collection, name, judge, max(0.0, min(params["progress_interval"], left)))
                elapsed = time.monotonic() - began
                if verdict == cs.WAIT_DONE:
                    group = k8s.get_optional(client, k8s.resource_group_path(namespace, name))
                    state = cs.evaluate_sync_status(obj, group, syncing_condition_supported=judge.supported)
                    display.display("[%s] %s:%s SYNCED at commit %s after %ds" % (
                        host, state["scope"], state["name"], short_commit(state["commit"]), int(elapsed)))
                    result.update(sync_status=state, elapsed=round(elapsed, 1))
                    return result
                if verdict == cs.WAIT_FAIL or elapsed >= params["timeout"]:
                    message = reason if verdict == cs.WAIT_FAIL else "timed out after %ss waiting for %s %s/%s to be SYNCED%s; last status: %s" % (
                        params["timeout"], kind, namespace, name, " at %s" % expected if expected else "", reason)
                    display.display(progress_line(host, judge.state, elapsed, "failed" if verdict == cs.WAIT_FAIL else "timed out"))
                    result.update(failed=True, msg=message, sync_status=judge.state, elapsed=round(elapsed, 1))
                    return result
                display.display(progress_line(host, judge.state, elapsed))
        except (k8s.KubernetesError, cs.ConfigSyncRuleError) as exc:
            result.update(failed=True, msg=str(exc), sync_status=None, elapsed=round(time.monotonic() - began, 1))
            return result
