#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: config_sync_wait
short_description: Wait until a RootSync or RepoSync is SYNCED, showing its state while waiting
version_added: 0.1.0
description:
  - Follows the sync object (a watch, as M(configsync.oci.config_sync_source) waits) until the rules of
    C(nomos status) say SYNCED at O(commit) (success), or ERROR or STALLED (failure), or O(timeout) passes.
  - While waiting, prints one line per cluster every O(progress_interval) seconds in Ansible's normal
    output (no C(-v) needed; AWX shows them too), for example
    C([cluster-a] team-a:platform PENDING commit N/A (20s)), and when done
    C([cluster-a] team-a:platform SYNCED at commit 3c2b9e62 after 37s).
  - An ERROR for another commit than O(commit), already present at the first read, is the previous source's and does
    not end the wait; the next report from Config Sync does.
  - Runs on the controller (an action plugin), where the collection reaches every cluster from.
author:
  - configsync.oci contributors (@configsync)
extends_documentation_fragment:
  - configsync.oci.k8s
  - configsync.oci.attributes
  - configsync.oci.attributes.INFO
options:
  kind:
    description: Kind of the sync object.
    type: str
    choices: [RootSync, RepoSync]
    default: RootSync
  name:
    description: Name of the sync object.
    type: str
    required: true
  namespace:
    description: Namespace of the sync object; C(config-management-system) for a RootSync.
    type: str
  commit:
    description:
      - The commit to wait for, as Config Sync reports it for an OCI source (the image digest without C(sha256:)).
      - Also accepted as C(sha256:HEX) or as a digest-pinned image C(HOST/PATH@sha256:HEX).
      - Any commit when unset.
    type: str
  timeout:
    description: Seconds to wait.
    type: int
    default: 300
  progress_interval:
    description: Print the state this often, in seconds.
    type: int
    default: 10
seealso:
  - module: configsync.oci.config_sync_status
  - module: configsync.oci.config_sync_source
"""

EXAMPLES = r"""
- name: Point the cluster at the pushed image
  configsync.oci.config_sync_source:
    name: root-sync
    image: "{{ pushed.image }}"
    auth: k8sserviceaccount

- name: Wait for SYNCED at the pushed digest, printing progress
  configsync.oci.config_sync_wait:
    name: root-sync
    commit: "{{ pushed.image }}"
    timeout: 600
"""

RETURN = r"""
sync_status:
  description: The last state read (as M(configsync.oci.config_sync_status) returns one entry of C(syncs)).
  returned: when the sync object was read
  type: dict
elapsed:
  description: Seconds waited.
  returned: always
  type: float
started_at:
  description: When the wait began (UTC, RFC 3339 with milliseconds).
  returned: when the wait began
  type: str
  sample: "2026-12-01T10:00:00.125Z"
finished_at:
  description: When the wait ended, SYNCED or not (UTC, RFC 3339 with milliseconds); the rollout timeline's bar ends here.
  returned: when the wait ended
  type: str
  sample: "2026-12-01T10:00:37.950Z"
timed_out:
  description: Whether O(timeout) passed before SYNCED (rather than an ERROR or STALLED state, or a failed read, ending the wait).
  returned: when the wait began
  type: bool
expected_commit:
  description: The commit waited for (null for any).
  returned: always
  type: str
"""
