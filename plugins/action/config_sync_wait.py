# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""config_sync_wait: wait for one sync object from the controller, showing its state while waiting.

A module cannot print while it runs, and the default callback's retry line shows no result, so the wait runs here:
it reads the sync object with config_sync_status every poll_interval, judges it by the collection's one set of wait
rules (configsync.wait_verdict), and prints a progress line through Ansible's display (which AWX's event stream
carries too) at least every progress_interval.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.configsync.oci.plugins.module_utils import configsync as cs
from ansible_collections.configsync.oci.plugins.module_utils.k8s import K8S_AUTH_ARGSPEC
from ansible_collections.configsync.oci.plugins.module_utils.status_report import progress_line, short_commit

display = Display()

WAIT_ARGSPEC = {
    "kind": {"type": "str", "default": "RootSync", "choices": ["RootSync", "RepoSync"]},
    "name": {"type": "str", "required": True},
    "namespace": {"type": "str"},
    "commit": {"type": "str"},
    "timeout": {"type": "int", "default": 300},
    "poll_interval": {"type": "int", "default": 5},
    "progress_interval": {"type": "int", "default": 10},
}
STATUS_MODULE = "configsync.oci.config_sync_status"


def expected_commit(commit):
    """The commit Config Sync reports for an OCI digest: the hex without ``sha256:``; an image@digest gives its digest."""
    if not commit:
        return None
    if "@" in commit:
        commit = commit.rsplit("@", 1)[1]
    return commit.split(":", 1)[1] if commit.startswith("sha256:") else commit


def generation_view(state):
    """The two fields of the sync object that wait_verdict reads, from config_sync_status's state."""
    return {"metadata": {"generation": state.get("generation")}, "status": {"observedGeneration": state.get("observed_generation")}}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, params = self.validate_argument_spec(argument_spec=dict(K8S_AUTH_ARGSPEC, **WAIT_ARGSPEC))
        # The connection options go to config_sync_status as given (its own fallbacks and no_log apply there).
        connection = dict((key, value) for key, value in self._task.args.items() if key not in WAIT_ARGSPEC)
        namespace = params["namespace"] or (cs.CONFIG_MANAGEMENT_SYSTEM if params["kind"] == cs.ROOT_SYNC_KIND else None)
        if not namespace:
            result.update(failed=True, msg="namespace is required for a RepoSync")
            return result
        expected = expected_commit(params["commit"])
        host = task_vars.get("inventory_hostname", "localhost") if task_vars else "localhost"
        status_args = dict(connection, kind=params["kind"], name=params["name"], namespace=namespace, resources=False)
        began = time.monotonic()
        printed_at, stale, polls, state, reason = None, None, 0, None, "no status read yet"
        while True:
            status = self._execute_module(module_name=STATUS_MODULE, module_args=status_args, task_vars=task_vars)
            polls += 1
            elapsed = time.monotonic() - began
            if status.get("failed"):
                verdict, reason = cs.WAIT_MORE, "status not read: %s" % status.get("msg")
                state = None
            else:
                state = (status.get("syncs") or [None])[0]
                if state is None:
                    verdict, reason = cs.WAIT_MORE, "the sync object does not exist yet"
                else:
                    verdict, reason = cs.wait_verdict(generation_view(state), state, expected)
                    # An ERROR already shown at the first look, for another commit than the one awaited, is the
                    # previous source's: wait until Config Sync reports again.
                    if polls == 1 and verdict == cs.WAIT_FAIL and state["status"] == cs.ERROR and expected and state["commit"] != expected:
                        stale = state.get("status_updated_at") or ""
                    if stale is not None and verdict == cs.WAIT_FAIL and state["status"] == cs.ERROR and state["commit"] != expected \
                            and (state.get("status_updated_at") or "") <= stale:
                        verdict, reason = cs.WAIT_MORE, "ERROR reported for the previous source, waiting for Config Sync to report on the new one"
            if verdict == cs.WAIT_DONE:
                display.display("[%s] %s:%s SYNCED at commit %s after %ds" % (
                    host, state["scope"], state["name"], short_commit(state["commit"]), int(elapsed)))
                result.update(changed=False, sync_status=state, elapsed=round(elapsed, 1), polls=polls, expected_commit=expected)
                return result
            if verdict == cs.WAIT_FAIL or elapsed >= params["timeout"]:
                message = reason if verdict == cs.WAIT_FAIL else "timed out after %ss waiting for %s %s/%s to be SYNCED%s; last status: %s" % (
                    params["timeout"], params["kind"], namespace, params["name"], " at %s" % expected if expected else "", reason)
                display.display(progress_line(host, state, elapsed, "gave up" if verdict != cs.WAIT_FAIL else None))
                result.update(failed=True, msg=message, sync_status=state, elapsed=round(elapsed, 1), polls=polls, expected_commit=expected)
                return result
            if printed_at is None or elapsed - printed_at >= params["progress_interval"]:
                display.display(progress_line(host, state, elapsed, None if state else reason))
                printed_at = elapsed
            time.sleep(min(params["poll_interval"], max(0.0, params["timeout"] - elapsed)) or 0.1)
