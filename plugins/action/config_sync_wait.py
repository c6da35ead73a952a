# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""config_sync_wait: wait for one sync object from the controller, showing its state while waiting.

A module cannot print while it runs, and the default callback's retry line shows no result, so the wait runs here,
on the controller (where the collection reaches every cluster from): it follows the sync object with the collection's
watch (watch_until) in slices of progress_interval seconds, judges it by the collection's one set of wait rules
(configsync/wait.py wait_verdict), and after each slice prints the state through Ansible's display, which AWX's event
stream carries too.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.configsync.oci.plugins.module_utils.configsync.names import (
    CONFIG_MANAGEMENT_SYSTEM, ROOT_SYNC_KIND, ConfigSyncRuleError,
)
from ansible_collections.configsync.oci.plugins.module_utils.configsync.objects import resource_group_path, sync_collection, sync_path
from ansible_collections.configsync.oci.plugins.module_utils.configsync.status import ERROR, evaluate_sync_status
from ansible_collections.configsync.oci.plugins.module_utils.configsync.versions import config_management_version, syncing_condition_supported
from ansible_collections.configsync.oci.plugins.module_utils.configsync.wait import WAIT_DONE, WAIT_FAIL, WAIT_MORE, wait_verdict
from ansible_collections.configsync.oci.plugins.module_utils.k8s.client import client_from_params, get_optional
from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import KubernetesError
from ansible_collections.configsync.oci.plugins.module_utils.k8s.kubeconfig import K8S_AUTH_ARGSPEC
from ansible_collections.configsync.oci.plugins.module_utils.k8s.watch import watch_until
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


def utc_now():
    """Now as RFC 3339 UTC with milliseconds: the rollout timeline's bars start and end at such times."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


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
            return WAIT_FAIL, "%s %s/%s disappeared while waiting" % (self.kind, self.namespace, self.name)
        self.looks += 1
        self.state = evaluate_sync_status(obj, syncing_condition_supported=self.supported)
        verdict, reason = wait_verdict(obj, self.state, self.expected)
        old_error = verdict == WAIT_FAIL and self.state["status"] == ERROR and self.expected and self.state["commit"] != self.expected
        if old_error and self.looks == 1:
            self.stale = self.state.get("status_updated_at") or ""
        if old_error and self.stale is not None and (self.state.get("status_updated_at") or "") <= self.stale:
            return WAIT_MORE, "ERROR reported for the previous source, waiting for Config Sync to report on the new one"
        return verdict, reason


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, params = self.validate_argument_spec(argument_spec=dict(K8S_AUTH_ARGSPEC, **WAIT_ARGSPEC))
        kind, name = params["kind"], params["name"]
        namespace = params["namespace"] or (CONFIG_MANAGEMENT_SYSTEM if kind == ROOT_SYNC_KIND else None)
        if not namespace:
            result.update(failed=True, msg="namespace is required for a RepoSync")
            return result
        expected = expected_commit(params["commit"])
        host = (task_vars or {}).get("inventory_hostname", "localhost")
        result.update(changed=False, expected_commit=expected, started_at=utc_now(), timed_out=False)
        began = time.monotonic()
        try:
            client = client_from_params(params)
            judge = SyncJudge(kind, namespace, name, expected, syncing_condition_supported(config_management_version(client)))
            path, collection = sync_path(kind, namespace, name), sync_collection(kind, namespace)
            while True:
                left = params["timeout"] - (time.monotonic() - began)
                obj, verdict, reason = watch_until(client, path, collection, name, judge, max(0.0, min(params["progress_interval"], left)))
                elapsed = time.monotonic() - began
                if verdict == WAIT_DONE:
                    group = get_optional(client, resource_group_path(namespace, name))
                    state = evaluate_sync_status(obj, group, syncing_condition_supported=judge.supported)
                    display.display("[%s] %s:%s SYNCED at commit %s after %ds" % (
                        host, state["scope"], state["name"], short_commit(state["commit"]), int(elapsed)))
                    result.update(sync_status=state, elapsed=round(elapsed, 1), finished_at=utc_now())
                    return result
                if verdict == WAIT_FAIL or elapsed >= params["timeout"]:
                    message = reason if verdict == WAIT_FAIL else "timed out after %ss waiting for %s %s/%s to be SYNCED%s; last status: %s" % (
                        params["timeout"], kind, namespace, name, " at %s" % expected if expected else "", reason)
                    display.display(progress_line(host, judge.state, elapsed, "failed" if verdict == WAIT_FAIL else "timed out"))
                    result.update(failed=True, msg=message, sync_status=judge.state, elapsed=round(elapsed, 1), finished_at=utc_now(),
                                  timed_out=verdict != WAIT_FAIL)
                    return result
                display.display(progress_line(host, judge.state, elapsed))
        except (KubernetesError, ConfigSyncRuleError) as exc:
            result.update(failed=True, msg=str(exc), sync_status=None, elapsed=round(time.monotonic() - began, 1), finished_at=utc_now())
            return result
