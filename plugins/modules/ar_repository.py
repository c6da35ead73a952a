#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: ar_repository
short_description: Create, update or delete an Artifact Registry repository
version_added: 0.1.0
description:
  - Makes an Artifact Registry repository match the task, the way C(gcloud artifacts repositories create/update/delete) would,
    but idempotently; a second run with the same options makes no write request.
  - Fields the task leaves out are left as they are. An update sends one PATCH whose update mask names only the fields that differ.
  - The repository ID, the location and the format are checked before any request.
author:
  - configsync.oci contributors (@configsync)
extends_documentation_fragment:
  - configsync.oci.gcp
  - configsync.oci.gcp.CREDENTIALS
  - configsync.oci.attributes
  - configsync.oci.attributes.ACTIONS
options:
  state:
    description:
      - V(present) creates or updates the repository, V(absent) deletes it.
      - With V(absent), every option that is given (O(format), O(mode), O(description), O(labels), O(kms_key_name),
        cleanup policies...) must match the repository, or nothing is deleted; and every value is checked as for
        V(present).
    type: str
    choices: [present, absent]
    default: present
  location:
    description:
      - The region (for example V(us-central1)) or multi-region (V(us), V(europe), V(asia)) of the repository.
    type: str
    required: true
  name:
    description:
      - The repository ID, for example the seed's C(AR_REPO_NAME).
      - Lowercase letters, digits and hyphens, starts with a letter, ends with a letter or digit, at most 63 characters.
    type: str
    required: true
  format:
    description:
      - The package format. Fixed at creation; asking for another format on an existing repository fails.
      - V(docker) when a repository is created without it. With O(state=absent), a format that is given must match.
    type: str
    choices: [docker, maven, npm, python, apt, yum, go, kfp, generic]
  mode:
    description:
      - V(standard) stores artifacts; V(remote) proxies an upstream (needs O(remote_repository_config)); V(virtual)
        serves several repositories under one name (needs O(virtual_repository_config)). Fixed at creation.
      - V(standard) when a repository is created without it. With O(state=absent), a mode that is given must match.
    type: str
    choices: [standard, remote, virtual]
  remote_repository_config:
    description:
      - "The API's C(remoteRepositoryConfig) for O(mode=remote), in its JSON shape (camelCase or snake_case keys), for example
        C({dockerRepository: {publicRepository: DOCKER_HUB}, description: Docker Hub})."
    type: dict
  virtual_repository_config:
    description:
      - "The API's C(virtualRepositoryConfig) for O(mode=virtual), for example
        C({upstreamPolicies: [{id: main, repository: projects/P/locations/L/repositories/R, priority: 1}]})."
    type: dict
  description:
    description:
      - The repository description.
    type: str
  labels:
    description:
      - Labels of the repository. When set, the repository's labels become exactly these.
    type: dict
  immutable_tags:
    description:
      - For docker repositories, whether a tag, once pushed, can no longer be moved to another image.
    type: bool
  kms_key_name:
    description:
      - The Cloud KMS key (C(projects/P/locations/L/keyRings/R/cryptoKeys/K)) that encrypts the repository.
      - Set at creation only. Asking for a different key on an existing repository fails; it never recreates the repository.
    type: str
  cleanup_policies:
    description:
      - Cleanup policies of the repository. When set, the repository's policies become exactly these.
    type: list
    elements: dict
    suboptions:
      id:
        description: The policy ID.
        type: str
        required: true
      action:
        description: Whether matching versions are deleted or kept.
        type: str
        choices: [delete, keep]
        default: delete
      condition:
        description: Which versions the policy matches (one of O(cleanup_policies[].condition) and O(cleanup_policies[].most_recent_versions)).
        type: dict
        suboptions:
          tag_state:
            description: Match tagged, untagged or any versions.
            type: str
            choices: [tagged, untagged, any]
          tag_prefixes:
            description: Match versions with a tag starting with one of these.
            type: list
            elements: str
          version_name_prefixes:
            description: Match versions whose name starts with one of these.
            type: list
            elements: str
          package_name_prefixes:
            description: Match packages whose name starts with one of these.
            type: list
            elements: str
          older_than:
            description: Match versions older than this (V(30d), V(12h), V(90m), V(3600s) or a number of seconds).
            type: str
          newer_than:
            description: Match versions newer than this (same forms as O(cleanup_policies[].condition.older_than)).
            type: str
      most_recent_versions:
        description: Keep the most recent versions of matching packages.
        type: dict
        suboptions:
          package_name_prefixes:
            description: Packages whose name starts with one of these.
            type: list
            elements: str
          keep_count:
            description: How many versions to keep.
            type: int
  cleanup_policy_dry_run:
    description:
      - When V(true), cleanup policies only report what they would delete.
    type: bool
  force:
    description:
      - With O(state=absent), delete the repository even if it still holds packages (they are deleted with it).
      - Without it, deleting a repository that holds packages fails and nothing is deleted.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for the create or delete operation to finish.
    type: int
    default: 300
notes:
  - Uses the Artifact Registry API v1 through C(google-cloud-artifact-registry) over REST.
  - The caller needs C(artifactregistry.repositories.get), and C(.create), C(.update) or C(.delete) to change anything.
requirements:
  - google-auth
  - google-cloud-artifact-registry
"""

EXAMPLES = r"""
- name: Create the repository of the seed workflow (step 2)
  configsync.oci.ar_repository:
    project: my-project
    location: us-central1
    name: config-images
    format: docker
    description: Config Sync OCI images
    labels:
      team: platform

- name: Keep only the 10 most recent versions, tags immutable
  configsync.oci.ar_repository:
    project: my-project
    location: us-central1
    name: config-images
    immutable_tags: true
    cleanup_policies:
      - id: keep-recent
        action: keep
        most_recent_versions:
          keep_count: 10
      - id: delete-old
        condition:
          tag_state: any
          older_than: 30d

- name: Delete a repository, with its images
  configsync.oci.ar_repository:
    project: my-project
    location: us-central1
    name: scratch
    state: absent
    force: true
"""

RETURN = r"""
repository:
  description: The repository as the API returns it (JSON shape); empty after deletion. In check mode, the requested fields.
  returned: always
  type: dict
  sample: {"name": "projects/my-project/locations/us-central1/repositories/config-images", "format": "DOCKER",
           "mode": "STANDARD_REPOSITORY", "description": "Config Sync OCI images",
           "registryUri": "us-central1-docker.pkg.dev/my-project/config-images"}
registry_uri:
  description: Where clients reach the repository (C(LOCATION-FORMAT.pkg.dev/PROJECT/REPO)); null when it does not exist.
  returned: always
  type: str
  sample: us-central1-docker.pkg.dev/my-project/config-images
registry_host:
  description: The registry host part of RV(registry_uri), for logins.
  returned: always
  type: str
  sample: us-central1-docker.pkg.dev
update_mask:
  description: The fields the update changed (update-mask paths).
  returned: when an existing repository was updated
  type: list
  elements: str
  sample: [description, labels]
"""

from ansible_collections.configsync.oci.plugins.module_utils.base import ConfigSyncModule
from ansible_collections.configsync.oci.plugins.module_utils.gcp import artifact_registry
from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import GCP_AUTH_ARGSPEC
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import api_errors, failure_message

_CONDITION = dict(
    tag_state=dict(type="str", choices=["tagged", "untagged", "any"]),
    tag_prefixes=dict(type="list", elements="str"),
    version_name_prefixes=dict(type="list", elements="str"),
    package_name_prefixes=dict(type="list", elements="str"),
    older_than=dict(type="str"),
    newer_than=dict(type="str"),
)
_MOST_RECENT = dict(package_name_prefixes=dict(type="list", elements="str"), keep_count=dict(type="int"))


def main():
    module = ConfigSyncModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            location=dict(type="str", required=True),
            name=dict(type="str", required=True),
            format=dict(type="str", choices=sorted(artifact_registry.FORMATS)),
            mode=dict(type="str", choices=["standard", "remote", "virtual"]),
            remote_repository_config=dict(type="dict"),
            virtual_repository_config=dict(type="dict"),
            description=dict(type="str"),
            labels=dict(type="dict"),
            immutable_tags=dict(type="bool"),
            kms_key_name=dict(type="str"),
            cleanup_policies=dict(type="list", elements="dict", options=dict(
                id=dict(type="str", required=True),
                action=dict(type="str", choices=["delete", "keep"], default="delete"),
                condition=dict(type="dict", options=_CONDITION),
                most_recent_versions=dict(type="dict", options=_MOST_RECENT),
            )),
            cleanup_policy_dry_run=dict(type="bool"),
            force=dict(type="bool", default=False),
            timeout=dict(type="int", default=300),
        ),
        shared_argspecs=(GCP_AUTH_ARGSPEC,),
    )
    module.require_library("google.cloud.artifactregistry_v1", "google-cloud-artifact-registry")
    module.run(logic, api_errors(), lambda exc: failure_message(exc, "Artifact Registry request failed"))


def logic(module):
    # Rules first: a bad option fails before credentials are built or any request is sent.
    wanted = artifact_registry.wanted_repository(module.params)
    api = artifact_registry.ArtifactRegistryApi(artifact_registry.client(module.params), timeout=module.params["timeout"])
    return artifact_registry.ensure_repository(module.params, wanted, api, module.check_mode)


if __name__ == "__main__":
    main()
