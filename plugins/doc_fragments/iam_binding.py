# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):
    # The options of every IAM binding module (repository, service account); argument spec: iam.BINDING_ARGSPEC.
    DOCUMENTATION = r"""
options:
  role:
    description:
      - The role, as V(roles/NAME), V(projects/PROJECT/roles/NAME) or V(organizations/ORG/roles/NAME),
        for example V(roles/artifactregistry.reader) or V(roles/iam.workloadIdentityUser).
    type: str
    required: true
  members:
    description:
      - Principals, each with its type prefix (C(serviceAccount:), C(user:), C(group:), C(domain:), C(principal:),
        C(principalSet:)), or C(allUsers) / C(allAuthenticatedUsers).
      - For Config Sync's reconciler through Workload Identity use the
        C(configsync.oci.workload_identity_member) filter.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) adds the members to the role, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), make the role's (unconditional) members exactly O(members), removing any others.
        An empty O(members) then removes the role's binding.
    type: bool
    default: false
"""
