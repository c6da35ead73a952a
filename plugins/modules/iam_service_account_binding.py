#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: iam_service_account_binding
short_description: Grant or revoke a role on a Google service account
version_added: 0.1.0
description:
  - Adds members to (or removes them from) one role's binding in a Google service account's IAM policy, the way
    C(gcloud iam service-accounts add-iam-policy-binding) does, but idempotently and safe under concurrent writers.
  - The typical use is seed step 3b for Config Sync before 1.17.2 - let the reconciler's Kubernetes service account act as
    the Google service account through Workload Identity (V(roles/iam.workloadIdentityUser)).
  - Every change is a read-modify-write that sends the policy's etag back; on 409 ABORTED the module re-reads and retries
    with exponential backoff and jitter. Other roles' bindings, conditional bindings and audit configs are kept.
author:
  - configsync.oci contributors (@configsync)
extends_documentation_fragment:
  - configsync.oci.gcp
  - configsync.oci.gcp.CREDENTIALS
  - configsync.oci.iam_binding
  - configsync.oci.attributes
  - configsync.oci.attributes.ACTIONS
options:
  service_account:
    description:
      - The Google service account whose policy changes, by email (C(NAME@PROJECT.iam.gserviceaccount.com)) or unique ID.
      - The account's project is taken from its email (C(NAME@PROJECT.iam.gserviceaccount.com)), whatever O(project) says;
        for other accounts (the Compute Engine default account, a unique ID) it is O(project) when set, else IAM finds it.
    type: str
    required: true
notes:
  - Uses the IAM API v1 (C(projects.serviceAccounts.getIamPolicy) / C(setIamPolicy)) through the discovery document shipped
    with C(google-api-python-client); nothing is downloaded at run time.
requirements:
  - google-auth
  - google-auth-httplib2
  - google-api-python-client
"""

EXAMPLES = r"""
- name: Let the root reconciler act as the Google service account (seed step 3b)
  configsync.oci.iam_service_account_binding:
    project: my-project
    service_account: config-sync@my-project.iam.gserviceaccount.com
    role: roles/iam.workloadIdentityUser
    members:
      - "{{ 'root-reconciler' | configsync.oci.workload_identity_member('my-project') }}"
"""

RETURN = r"""
resource:
  description: The service account's resource name.
  returned: always
  type: str
  sample: projects/my-project/serviceAccounts/config-sync@my-project.iam.gserviceaccount.com
role:
  description: The role.
  returned: always
  type: str
  sample: roles/iam.workloadIdentityUser
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
from ansible_collections.configsync.oci.plugins.module_utils.gcp import iam
from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import GCP_AUTH_ARGSPEC
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import api_errors, failure_message


def main():
    module = ConfigSyncModule(
        argument_spec=dict(
            service_account=dict(type="str", required=True),
        ),
        shared_argspecs=(GCP_AUTH_ARGSPEC, iam.BINDING_ARGSPEC),
    )
    module.require_library("googleapiclient.discovery", "google-api-python-client")
    module.run(logic, api_errors(), lambda exc: failure_message(exc, "IAM request failed"))


def logic(module):
    params = module.params
    # Every rule first: a bad option fails before credentials are built or any request is sent.
    resource = iam.service_account_resource(params["project"], iam.validate_service_account(params["service_account"]))
    wanted = iam.wanted_binding(params)
    store = iam.ServiceAccountPolicyStore(iam.iam_service(params), resource)
    return iam.ensure_binding(wanted, store, module.check_mode)


if __name__ == "__main__":
    main()
