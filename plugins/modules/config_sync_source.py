#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: config_sync_source
short_description: Make Config Sync sync a cluster or namespace from an OCI image (RootSync / RepoSync)
version_added: 0.1.0
description:
  - Creates, updates or removes a Config Sync C(RootSync) or C(RepoSync) (C(configsync.gke.io/v1beta1)) with
    C(spec.sourceType=oci), through server-side apply with the field manager C(configsync.oci).
  - Checks everything Config Sync would reject (names and their lengths, namespaces, the OCI source, the
    C(gcpserviceaccount) email rule, role references) before any request, with Config Sync's own messages.
  - Writes only when the server's dry-run result of the apply differs from the live object, so a second run changes
    nothing and leaves the resourceVersion as it is. Check mode stops at the dry run.
  - For a C(RepoSync) it also manages the RoleBinding that lets the namespace reconciler manage the namespace.
  - Optionally waits until Config Sync reports C(SYNCED) at the image's digest, judged by the rules of
    C(nomos status), following the object through a watch.
author:
  - configsync.oci contributors (@configsync)
extends_documentation_fragment:
  - configsync.oci.k8s
  - configsync.oci.cluster
  - configsync.oci.gcp.CREDENTIALS
  - configsync.oci.attributes
  - configsync.oci.attributes.ACTIONS
options:
  kind:
    description:
      - C(RootSync) syncs cluster-wide and lives in C(config-management-system); C(RepoSync) syncs one namespace and
        lives in it.
    type: str
    choices: [RootSync, RepoSync]
    default: RootSync
  name:
    description:
      - Name of the RootSync (at most 38 characters) or RepoSync (name and namespace together at most 45).
      - A RootSync name over 26 characters gets a warning; older Config Sync versions documented that limit.
    type: str
    required: true
  namespace:
    description:
      - Namespace of the object. A RootSync must be in C(config-management-system) (the default for it); a RepoSync
        needs its namespace and can never be there.
    type: str
  state:
    description:
      - V(present) creates or updates the object; V(absent) deletes it (and a RepoSync's RoleBinding).
      - With V(absent), the source options that are given (O(image), O(dir), O(period), O(source_format),
        O(gcp_service_account_email), O(secret_ref), O(ca_cert_secret)) must match the object, or nothing is deleted;
        and every option is checked as for V(present).
    type: str
    choices: [present, absent]
    default: present
  image:
    description:
      - The OCI image to sync, C(REGISTRY/REPOSITORY:TAG) or C(REGISTRY/REPOSITORY@sha256:DIGEST). Required with
        O(state=present).
      - Pinning the digest lets O(wait) check that exactly this image was synced.
    type: str
  dir:
    description:
      - Directory in the image holding the manifests (C(spec.oci.dir)); Config Sync's default is the root.
      - A relative path inside the image; an absolute path or one reaching above the image root (C(../)) is refused.
    type: str
  period:
    description:
      - How often Config Sync checks a tag for a new image (C(spec.oci.period)), a duration such as V(15s) or V(1m).
    type: str
  source_format:
    description:
      - C(spec.sourceFormat). When not set Config Sync uses V(hierarchy) for a RootSync; a RepoSync is always
        V(unstructured).
    type: str
    choices: [hierarchy, unstructured]
  auth:
    description:
      - How the reconciler authenticates to the registry (C(spec.oci.auth)).
      - V(k8sserviceaccount) uses the reconciler's Kubernetes service account through Workload Identity (Config Sync
        1.17.2 and later); grant it C(roles/artifactregistry.reader) on the repository (see RV(workload_identity_member)).
      - V(gcpserviceaccount) impersonates O(gcp_service_account_email) through Workload Identity.
      - V(gcenode) uses the node's service account, V(none) pulls anonymously.
      - V(token) (Config Sync 1.24 and later) logs in with the C(username) and C(password) keys of the Secret named by
        O(secret_ref), for registries outside Google Cloud.
      - V(auto) reads the Config Sync version from the image tag of the C(reconciler-manager) Deployment in
        C(config-management-system) and uses V(k8sserviceaccount) from 1.17.2 on, V(gcpserviceaccount) before
        (which then needs O(gcp_service_account_email)).
    type: str
    choices: [auto, k8sserviceaccount, gcpserviceaccount, gcenode, none, token]
    default: auto
  gcp_service_account_email:
    description:
      - The Google service account for V(gcpserviceaccount), C(ACCOUNT@PROJECT.iam.gserviceaccount.com) with
        C(ACCOUNT) 6 to 30 characters.
    type: str
  secret_ref:
    description:
      - Name of the Secret with keys C(username) and C(password) for O(auth=token) (C(spec.oci.secretRef.name)); in
        C(config-management-system) for a RootSync, in the RepoSync's namespace. Only the name goes into the object.
    type: str
  ca_cert_secret:
    description:
      - Name of a Secret (key C(cert)) with the CA certificate of a registry with a private CA
        (C(spec.oci.caCertSecretRef.name)); in C(config-management-system) for a RootSync, in the RepoSync's namespace.
      - The Secret is checked before the apply (it exists and has the key C(cert); its content is never read out), as
        Config Sync would stall the sync otherwise.
    type: str
  override:
    description:
      - C(spec.override) as Config Sync defines it (resources, statusMode, reconcileTimeout, apiServerTimeout,
        logLevels, namespaceStrategy...), passed through unchanged.
    type: dict
  role_refs:
    description:
      - RootSync only. The roles the root reconciler is bound to (C(spec.override.roleRefs)) instead of
        C(cluster-admin).
    type: list
    elements: dict
    suboptions:
      kind:
        description: V(ClusterRole) or V(Role).
        type: str
        choices: [ClusterRole, Role]
        default: ClusterRole
      name:
        description: Name of the role.
        type: str
        required: true
      namespace:
        description:
          - Namespace for the RoleBinding; required for a V(Role). For a V(ClusterRole), a RoleBinding in this
            namespace instead of a ClusterRoleBinding.
        type: str
  reconciler_role:
    description:
      - RepoSync only. The ClusterRole bound (through a RoleBinding named after the reconciler, in the RepoSync's
        namespace) to the namespace reconciler's service account, so it can manage the namespace's objects.
    type: str
    default: edit
  fleet_host_project:
    description:
      - The fleet host project (the project ID with GKE Workload Identity). When set, RV(workload_identity_member) is
        returned, the IAM member to grant C(roles/artifactregistry.reader) (or C(roles/iam.workloadIdentityUser) on
        the Google service account).
    type: str
  wait:
    description:
      - Wait until Config Sync reports C(SYNCED) for the current generation, at the expected commit (the digest of
        a pinned O(image), or O(expected_digest)). Fails at once on C(STALLED) or C(ERROR), with Config Sync's messages.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait); more than 0. The wait ends at this time also when the API server stops
        answering (the message then says so).
    type: int
    default: 300
  expected_digest:
    description:
      - The digest (C(sha256:HEX)) Config Sync must report with O(wait) when O(image) is a tag, for example the
        digest the push returned.
    type: str
notes:
  - The apply uses C(force) (the field manager C(configsync.oci) takes over the fields it sets).
seealso:
  - module: configsync.oci.config_sync_status
"""

EXAMPLES = r"""
- name: Sync the cluster from a pinned image with the reconciler's own service account
  configsync.oci.config_sync_source:
    name: root-sync
    image: us-docker.pkg.dev/my-project/manifests/test-namespace@sha256:3c2b9e62b0b1a8cf6f8f5c2b6c4f5f0e8e1d6c6c1e2b1a0f9e8d7c6b5a4f3e2d
    dir: .
    source_format: unstructured
    auth: k8sserviceaccount
    fleet_host_project: my-fleet-project
    wait: true
  register: root_sync

- name: Let a team's namespace sync from its own image (RepoSync + RoleBinding)
  configsync.oci.config_sync_source:
    kind: RepoSync
    name: repo-sync
    namespace: team-a
    image: us-docker.pkg.dev/my-project/manifests/team-a:v3
    auth: gcpserviceaccount
    gcp_service_account_email: config-sync-reader@my-project.iam.gserviceaccount.com
    reconciler_role: admin

- name: Stop syncing
  configsync.oci.config_sync_source:
    name: root-sync
    state: absent
"""

RETURN = r"""
object:
  description: The RootSync/RepoSync as stored (in check mode, as the server's dry run predicts it); absent after deletion.
  returned: O(state=present)
  type: dict
auth:
  description: The C(spec.oci.auth) applied (what V(auto) resolved to).
  returned: O(state=present)
  type: str
  sample: k8sserviceaccount
config_sync_version:
  description: The Config Sync version read from the reconciler-manager Deployment for O(auth=auto).
  returned: O(auth=auto)
  type: str
  sample: 1.24.3
reconciler:
  description: Name of the reconciler Deployment and of its Kubernetes service account.
  returned: always
  type: str
  sample: root-reconciler
ksa:
  description: The reconciler's Kubernetes service account.
  returned: always
  type: dict
  contains:
    name:
      description: Service account name.
      type: str
      sample: root-reconciler
    namespace:
      description: Always C(config-management-system).
      type: str
      sample: config-management-system
workload_identity_member:
  description: The IAM member of the reconciler's service account through Workload Identity.
  returned: when O(fleet_host_project) is set
  type: str
  sample: serviceAccount:my-fleet-project.svc.id.goog[config-management-system/root-reconciler]
role_binding:
  description: The RoleBinding of a RepoSync's reconciler, as stored.
  returned: O(kind=RepoSync) and O(state=present)
  type: dict
sync_status:
  description:
    - The sync's status by the rules of C(nomos status), after O(wait) (also when the wait failed).
    - The same fields as each entry of M(configsync.oci.config_sync_status)'s RV(configsync.oci.config_sync_status#module:syncs).
  returned: O(wait=true)
  type: dict
  sample: {"status": "SYNCED", "commit": "3c2b9e62b0b1a8cf6f8f5c2b6c4f5f0e8e1d6c6c1e2b1a0f9e8d7c6b5a4f3e2d"}
expected_commit:
  description: The commit O(wait) waited for (the digest hex without C(sha256:)); null when any commit was accepted.
  returned: O(wait=true)
  type: str
"""

from ansible_collections.configsync.oci.plugins.module_utils import sync_service
from ansible_collections.configsync.oci.plugins.module_utils.base import ConfigSyncModule
from ansible_collections.configsync.oci.plugins.module_utils.cluster_access import CLUSTER_ARGSPEC
from ansible_collections.configsync.oci.plugins.module_utils.k8s.kubeconfig import K8S_AUTH_ARGSPEC


def main():
    argument_spec = dict(
        kind=dict(type="str", choices=["RootSync", "RepoSync"], default="RootSync"),
        name=dict(type="str", required=True),
        namespace=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        image=dict(type="str"),
        dir=dict(type="str"),
        period=dict(type="str"),
        source_format=dict(type="str", choices=["hierarchy", "unstructured"]),
        auth=dict(type="str", choices=["auto", "k8sserviceaccount", "gcpserviceaccount", "gcenode", "none", "token"], default="auto"),
        secret_ref=dict(type="str", no_log=False),  # the name of a Secret, not a secret
        gcp_service_account_email=dict(type="str"),
        ca_cert_secret=dict(type="str", no_log=False),  # the name of a Secret, not a secret
        override=dict(type="dict"),
        role_refs=dict(type="list", elements="dict", options=dict(
            kind=dict(type="str", choices=["ClusterRole", "Role"], default="ClusterRole"),
            name=dict(type="str", required=True),
            namespace=dict(type="str"),
        )),
        reconciler_role=dict(type="str", default="edit"),
        fleet_host_project=dict(type="str"),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=300),
        expected_digest=dict(type="str"),
    )
    module = ConfigSyncModule(argument_spec, shared_argspecs=(K8S_AUTH_ARGSPEC, CLUSTER_ARGSPEC),
                              required_if=[("state", "present", ["image"])])
    module.run(sync_service.run_source)


if __name__ == "__main__":
    main()
