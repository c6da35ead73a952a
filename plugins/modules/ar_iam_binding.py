#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: ar_iam_binding
short_description: Grant or revoke a role on an Artifact Registry repository
version_added: 0.1.0
description:
  - Adds members to (or removes them from) one role's binding in an Artifact Registry repository's IAM policy, the way
    C(gcloud artifacts repositories add-iam-policy-binding) does, but idempotently and safe under concurrent writers.
  - Every change is a read-modify-write that sends the policy's etag back. When another writer changed the policy in
    between, the API answers 409 ABORTED; the module re-reads the policy and tries again, with exponential backoff and jitter.
  - Bindings of other roles, conditional bindings (also of the same role) and audit configs are kept as they are.
author:
  - configsync.oci contributors (@configsync)
extends_documentation_fragment:
  - configsync.oci.gcp
  - configsync.oci.gcp.CREDENTIALS
  - configsync.oci.iam_binding
  - configsync.oci.attributes
  - configsync.oci.attributes.ACTIONS
options:
  location:
    description:
      - The repository's region or multi-region.
    type: str
    required: true
  repository:
    description:
      - The repository ID.
    type: str
    required: true
notes:
  - Uses C(getIamPolicy) with requested policy version 3 and C(setIamPolicy) of the Artifact Registry API v1.
requirements:
  - google-auth
  - google-cloud-artifact-registry
"""

EXAMPLES = r"""
- name: Let the root reconciler pull from the repository (Config Sync >= 1.17.2, seed step 3a)
  configsync.oci.ar_iam_binding:
    project: my-project
    location: us-central1
    repository: config-images
    role: roles/artifactregistry.reader
    members:
      - "{{ 'root-reconciler' | configsync.oci.workload_identity_member('my-project') }}"

- name: Only these readers, nobody else
  configsync.oci.ar_iam_binding:
    project: my-project
    location: us-central1
    repository: config-images
    role: roles/artifactregistry.reader
    exclusive: true
    members:
      - serviceAccount:config-sync@my-project.iam.gserviceaccount.com
"""

RETURN = r"""
resource:
  description: The repository's resource name.
  returned: always
  type: str
  sample: projects/my-project/locations/us-central1/repositories/config-images
role:
  description: The role.
  returned: always
  type: str
  sample: roles/artifactregistry.reader
members_before:
  description: The role's unconditional members before the task.
  returned: always
  type: list
  elements: str
members_after:
  description: The role's unconditional members after the task (in check mode, what they would be).
  returned: always
  type: list
  elements: str
added:
  description: Members the task added.
  returned: always
  type: list
  elements: str
removed:
  description: Members the task removed.
  returned: always
  type: list
  elements: str
attempts:
  description: Read-modify-write attempts used (more than 1 when concurrent writers collided).
  returned: always
  type: int
  sample: 1
conflicts:
  description: How many writes were refused with 409 because the policy had changed since it was read.
  returned: always
  type: int
  sample: 0
"""

from ansible_collections.configsync.oci.plugins.module_utils.base import ConfigSyncModule
from ansible_collections.configsync.oci.plugins.module_utils.gcp import artifact_registry, iam
from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import GCP_AUTH_ARGSPEC, require_project
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import api_errors, failure_message


def main():
    module = ConfigSyncModule(
        argument_spec=dict(
            location=dict(type="str", required=True),
            repository=dict(type="str", required=True),
        ),
        shared_argspecs=(GCP_AUTH_ARGSPEC, iam.BINDING_ARGSPEC),
    )
    module.require_library("google.cloud.artifactregistry_v1", "google-cloud-artifact-registry")
    module.run(logic, api_errors(), lambda exc: failure_message(exc, "IAM request failed"))


def logic(module):
    params = module.params
    # Every rule first: a bad option fails before credentials are built or any request is sent.
    resource = artifact_registry.repository_name(require_project(params), artifact_registry.validate_location(params["location"]),
                                                 artifact_registry.validate_repository_id(params["repository"], "repository"))
    wanted = iam.wanted_binding(params)
    store = iam.RepositoryPolicyStore(artifact_registry.client(params), resource)
    return iam.ensure_binding(wanted, store, module.check_mode)


if __name__ == "__main__":
    main()
