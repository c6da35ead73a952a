#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: project_service
short_description: Enable or disable a Google Cloud API on a project
version_added: 0.1.0
description:
  - Enables (or disables) a service such as V(artifactregistry.googleapis.com) on a project through the Service Usage API,
    like C(gcloud services enable SERVICE --project=PROJECT) (seed step 1), but reads the state first and writes only when
    it differs; it waits for the operation to finish.
author:
  - configsync.oci contributors (@configsync)
extends_documentation_fragment:
  - configsync.oci.gcp
  - configsync.oci.gcp.CREDENTIALS
  - configsync.oci.attributes
  - configsync.oci.attributes.ACTIONS
options:
  service:
    description:
      - The service name, for example V(artifactregistry.googleapis.com).
    type: str
    required: true
  state:
    description:
      - V(present) enables the service, V(absent) disables it.
    type: str
    choices: [present, absent]
    default: present
  disable_dependent_services:
    description:
      - With O(state=absent), also disable the services that depend on this one (otherwise the API refuses when there are any).
    type: bool
    default: false
  check_if_service_has_usage:
    description:
      - With O(state=absent), V(check) makes the API refuse to disable a service that was used recently.
    type: str
    choices: [skip, check]
    default: skip
  timeout:
    description:
      - Seconds to wait for the enable or disable operation to finish.
    type: int
    default: 300
notes:
  - The caller needs C(serviceusage.services.get), and C(serviceusage.services.enable) / C(.disable) to change anything.
requirements:
  - google-auth
  - google-cloud-service-usage
"""

EXAMPLES = r"""
- name: Enable the Artifact Registry API (seed step 1)
  configsync.oci.project_service:
    project: my-project
    service: artifactregistry.googleapis.com
"""

RETURN = r"""
name:
  description: The service's resource name.
  returned: always
  type: str
  sample: projects/my-project/services/artifactregistry.googleapis.com
state_before:
  description: The service's state before the task (V(ENABLED) or V(DISABLED)).
  returned: always
  type: str
  sample: DISABLED
service:
  description: The service as the API returns it after the task (in check mode, with the state it would have).
  returned: always
  type: dict
  sample: {"name": "projects/123/services/artifactregistry.googleapis.com", "state": "ENABLED"}
"""

from ansible_collections.configsync.oci.plugins.module_utils.base import ConfigSyncModule
from ansible_collections.configsync.oci.plugins.module_utils.gcp import service_usage
from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import GCP_AUTH_ARGSPEC
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import api_errors, failure_message


def main():
    module = ConfigSyncModule(
        argument_spec=dict(
            service=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            disable_dependent_services=dict(type="bool", default=False),
            check_if_service_has_usage=dict(type="str", choices=["skip", "check"], default="skip"),
            timeout=dict(type="int", default=300),
        ),
        shared_argspecs=(GCP_AUTH_ARGSPEC,),
    )
    module.require_library("google.cloud.service_usage_v1", "google-cloud-service-usage")
    module.run(logic, api_errors(), lambda exc: failure_message(exc, "Service Usage request failed"))


def logic(module):
    params = module.params
    name = service_usage.wanted_service(params)  # the rules first: before credentials are built or any request
    api = service_usage.ServiceUsageApi(params, timeout=params["timeout"])
    return service_usage.ensure_service(params, name, api, module.check_mode)


if __name__ == "__main__":
    main()
