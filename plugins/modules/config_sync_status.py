#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: config_sync_status
short_description: What C(nomos status) shows for a cluster, as data
version_added: 0.1.0
description:
  - Reads every Config Sync C(RootSync) and C(RepoSync) of one cluster (or the ones named) and decides each one's
    status (C(SYNCED), C(PENDING), C(RECONCILING), C(STALLED), C(ERROR)) by the rules of C(nomos status).
  - Returns the source image and directory, the commit (the image digest without C(sha256:) for OCI sources), the
    last update, the errors with Config Sync's codes, and the managed resources with their status from the
    ResourceGroup of the same name and namespace.
  - One cluster per host, so a play over many clusters (one inventory host each) gathers the fleet's state.
author:
  - configsync.oci contributors (@configsync)
extends_documentation_fragment:
  - configsync.oci.k8s
  - configsync.oci.cluster
  - configsync.oci.gcp.CREDENTIALS
  - configsync.oci.attributes
  - configsync.oci.attributes.INFO
options:
  kind:
    description: Only RootSyncs or only RepoSyncs.
    type: str
    choices: [RootSync, RepoSync]
  name:
    description: Only syncs of this name.
    type: str
  namespace:
    description: Only syncs in this namespace (C(config-management-system) holds the RootSyncs).
    type: str
  resources:
    description: Read the ResourceGroups to report the managed resources of each synced source.
    type: bool
    default: true
seealso:
  - module: configsync.oci.config_sync_source
"""

EXAMPLES = r"""
- name: Fleet status, one inventory host per cluster
  configsync.oci.config_sync_status:
    kubeconfig: "{{ cluster_kubeconfig }}"
  register: config_sync

- name: Every cluster synced the pushed digest
  ansible.builtin.assert:
    that:
      - config_sync.synced
      - config_sync.syncs | selectattr('commit', 'equalto', pushed_digest | replace('sha256:', '')) | list | length > 0
"""

RETURN = r"""
server:
  description: The API server the status was read from.
  returned: always
  type: str
syncs:
  description: One entry per RootSync and RepoSync, sorted as C(nomos status) prints them (scope, then name).
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: C(RootSync) or C(RepoSync).
      type: str
    name:
      description: The object's name.
      type: str
    namespace:
      description: The object's namespace.
      type: str
    scope:
      description: C(<root>) for a RootSync, else the RepoSync's namespace (as nomos prints it).
      type: str
    status:
      description: C(SYNCED), C(PENDING), C(RECONCILING), C(STALLED) or C(ERROR), decided by nomos's rules.
      type: str
    source_type:
      description: C(spec.sourceType).
      type: str
    source:
      description: The source as nomos prints it, the image plus C(/DIR) when the directory is not the root.
      type: str
    image:
      description: C(spec.oci.image).
      type: str
    dir:
      description: C(spec.oci.dir).
      type: str
    commit:
      description: The commit the status refers to (full; nomos prints 8 characters of older statuses); null for N/A.
      type: str
    last_synced_commit:
      description: C(status.lastSyncedCommit), the last commit synced without errors (what is live while a newer one fails).
      type: str
    last_synced_at:
      description:
        - When C(last_synced_commit) was synced (C(status.sync.lastUpdate) while the sync section still holds it).
        - Null when unknown, as after a failed apply of a newer commit.
      type: str
    last_update:
      description: When the last sync completed (set when SYNCED).
      type: str
    errors:
      description: Config Sync's error messages (with their KNV codes).
      type: list
      elements: str
    error_summary:
      description: Total and truncated error counts, when there are errors.
      type: dict
    resources:
      description: The managed resources from the ResourceGroup (when SYNCED), with C(resource) as nomos prints it.
      type: list
      elements: dict
    generation:
      description: C(metadata.generation).
      type: int
    observed_generation:
      description: C(status.observedGeneration).
      type: int
    reconciler:
      description: C(status.reconciler).
      type: str
    status_updated_at:
      description: C(lastUpdateTime) of the Syncing condition.
      type: str
    summary:
      description: One line as nomos prints the sync (scope:name, source, status, short commit, first error).
      type: str
      sample: "<root>:root-sync  us-docker.pkg.dev/p/r/ns@sha256:3c2b...  SYNCED @ 2026-11-27T14:40:00Z  3c2b9e62"
summary:
  description: How many syncs are in each status.
  returned: always
  type: dict
  sample: {"SYNCED": 2, "PENDING": 0, "RECONCILING": 0, "STALLED": 0, "ERROR": 1}
synced:
  description: Whether there is at least one sync and all are SYNCED.
  returned: always
  type: bool
errors:
  description: Cluster-level errors as nomos reports them (a missing ResourceGroup, no syncs found).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.configsync.oci.plugins.module_utils import sync_service
from ansible_collections.configsync.oci.plugins.module_utils.base import ConfigSyncModule
from ansible_collections.configsync.oci.plugins.module_utils.cluster_access import CLUSTER_ARGSPEC, client_from_params
from ansible_collections.configsync.oci.plugins.module_utils.k8s.kubeconfig import K8S_AUTH_ARGSPEC


def main():
    argument_spec = dict(
        kind=dict(type="str", choices=["RootSync", "RepoSync"]),
        name=dict(type="str"),
        namespace=dict(type="str"),
        resources=dict(type="bool", default=True),
    )
    module = ConfigSyncModule(argument_spec, shared_argspecs=(K8S_AUTH_ARGSPEC, CLUSTER_ARGSPEC))
    module.run(logic)


def logic(module):
    return sync_service.cluster_status(client_from_params(module.params), module.params)


if __name__ == "__main__":
    main()
