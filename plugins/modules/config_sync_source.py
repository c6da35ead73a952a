#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: config_sync_source
short_description: Make Config Sync sync a cluster or namespace from an OCI image (RootSync / RepoSync)
version_added: 1.0.0
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
      - V(auto) reads the Config Sync version from the image tag of the C(reconciler-manager) Deployment in
        C(config-management-system) and uses V(k8sserviceaccount) from 1.17.2 on, V(gcpserviceaccount) before
        (which then needs O(gcp_service_account_email)).
    type: str
    choices: [auto, k8sserviceaccount, gcpserviceaccount, gcenode, none]
    default: auto
  gcp_service_account_email:
    description:
      - The Google service account for V(gcpserviceaccount), C(ACCOUNT@PROJECT.iam.gserviceaccount.com) with
        C(ACCOUNT) 6 to 30 characters.
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
    description: Seconds to wait with O(wait).
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

from ansible_collections.configsync.oci.plugins.module_utils import configsync as cs
from ansible_collections.configsync.oci.plugins.module_utils import k8s
from ansible_collections.configsync.oci.plugins.module_utils.base import ConfigSyncModule


def identity(params):
    """Reconciler, KSA and Workload Identity member: the same functions as the filters, checked before any request."""
    kind, name = params["kind"], params["name"]
    namespace = cs.validate_sync(kind, name, params["namespace"])
    reconciler = cs.reconciler_name(name, namespace=namespace, kind=kind)
    result = {"reconciler": reconciler, "ksa": {"name": reconciler, "namespace": cs.CONFIG_MANAGEMENT_SYSTEM}}
    if params["fleet_host_project"]:
        result["workload_identity_member"] = cs.workload_identity_member(reconciler, params["fleet_host_project"])
    return namespace, result


def resolve_auth(client, params, result):
    """``auth: auto``: the Config Sync version in the reconciler-manager image tag decides (1.17.2)."""
    if params["auth"] != "auto":
        return params["auth"]
    deployment = client.get(k8s.RECONCILER_MANAGER_PATH)
    image = cs.reconciler_manager_image(deployment)
    version = cs.version_from_image(image) if image else None
    if version is None:
        found = ("its image %r has no version tag" % image) if deployment else "the Deployment does not exist"
        raise cs.ConfigSyncRuleError("auth=auto reads the Config Sync version from Deployment reconciler-manager in %s, but %s; "
                                     "set auth explicitly" % (cs.CONFIG_MANAGEMENT_SYSTEM, found))
    result["config_sync_version"] = cs.format_version(version)
    return cs.auth_for_version(version)


def desired_objects(params, namespace, auth):
    # With auth auto, an email given for older versions is not part of a k8sserviceaccount source.
    email = params["gcp_service_account_email"] if auth == "gcpserviceaccount" or params["auth"] != "auto" else None
    sync = cs.build_sync_object(
        params["kind"], params["name"], namespace, params["image"], auth, directory=params["dir"], period=params["period"],
        gcp_service_account_email=email, ca_cert_secret=params["ca_cert_secret"],
        source_format=params["source_format"], override=params["override"], role_refs=params["role_refs"])
    binding = None
    if params["kind"] == cs.REPO_SYNC_KIND:
        binding = cs.reconciler_role_binding(params["name"], namespace, params["reconciler_role"])
    return sync, binding


def apply_role_binding(client, binding, check_mode):
    """Apply the RepoSync reconciler's RoleBinding; its roleRef cannot change in place, so a new role replaces it."""
    path = k8s.role_binding_path(binding["metadata"]["namespace"], binding["metadata"]["name"])
    live = client.get(path)
    if live is not None and live.get("roleRef") != binding["roleRef"]:
        if check_mode:
            return k8s.Outcome(True, live, binding)
        client.delete(path)
    return k8s.apply_object(client, path, binding, check_mode)


def check_ca_cert_secret(client, params, namespace, warn):
    """The CA Secret must exist in the sync's namespace with a ``cert`` key, or Config Sync stalls the sync (KNV1061)."""
    name = params["ca_cert_secret"]
    if not name:
        return
    try:
        secret = client.get(k8s.object_path("v1", "secrets", namespace, name))
    except k8s.KubernetesError as exc:
        if exc.status != 403:
            raise
        warn("cannot read Secret %s/%s to check its cert key (403 Forbidden); Config Sync will check it" % (namespace, name))
        return
    problem = cs.ca_cert_secret_problem(secret, name, namespace)
    if problem:
        raise cs.ConfigSyncRuleError(problem)


def present(client, params, namespace, check_mode, result, warn):
    check_ca_cert_secret(client, params, namespace, warn)
    auth = resolve_auth(client, params, result)
    result["auth"] = auth
    sync, binding = desired_objects(params, namespace, auth)
    outcomes = []
    if binding:
        # The RoleBinding first, so the reconciler can manage the namespace from its first sync on.
        role_binding = apply_role_binding(client, binding, check_mode)
        result["role_binding"] = role_binding.after
        outcomes.append(("RoleBinding %s/%s" % (namespace, binding["metadata"]["name"]), role_binding))
    applied = k8s.apply_object(client, k8s.sync_path(params["kind"], namespace, params["name"]), sync, check_mode)
    result["object"] = applied.after
    outcomes.insert(0, ("%s %s/%s" % (params["kind"], namespace, params["name"]), applied))
    return applied, outcomes


def absent(client, params, namespace, check_mode, warn):
    path = k8s.sync_path(params["kind"], namespace, params["name"])
    deleted = k8s.delete_object(client, path, check_mode)
    outcomes = [("%s %s/%s" % (params["kind"], namespace, params["name"]), deleted)]
    if params["kind"] != cs.REPO_SYNC_KIND:
        return outcomes
    binding_name = cs.reconciler_name(params["name"], namespace=namespace, kind=params["kind"])
    if deleted.before is not None and not check_mode and client.get(path) is not None:
        # Config Sync's finalizer is still deleting the managed objects through the reconciler, which needs the binding.
        warn("RepoSync %s/%s is still being finalized by Config Sync; RoleBinding %s is kept until it is gone "
             "(run again to remove it)" % (namespace, params["name"], binding_name))
        return outcomes
    outcomes.append(("RoleBinding %s/%s" % (namespace, binding_name),
                     k8s.delete_object(client, k8s.role_binding_path(namespace, binding_name), check_mode)))
    return outcomes


def wait_for_sync(client, params, namespace, applied, result):
    """Follow the sync object until nomos's rules say SYNCED at the expected commit, or STALLED / ERROR (fail)."""
    expected = cs.expected_commit(params["image"], params["expected_digest"])
    result["expected_commit"] = expected
    changed_at = k8s.applied_at(applied.after) if applied.changed else None
    supported = cs.syncing_condition_supported(k8s.config_management_version(client))
    seen = {}

    def judge(obj):
        if obj is None:
            return cs.WAIT_FAIL, "%s %s/%s disappeared while waiting" % (params["kind"], namespace, params["name"])
        seen["state"] = cs.evaluate_sync_status(obj, syncing_condition_supported=supported)
        return cs.wait_verdict(obj, seen["state"], expected, changed_at)

    path = k8s.sync_path(params["kind"], namespace, params["name"])
    obj, verdict, reason = k8s.watch_until(client, path, k8s.sync_collection(params["kind"], namespace), params["name"],
                                           judge, params["wait_timeout"])
    state = seen.get("state")
    if verdict == cs.WAIT_DONE:
        group = k8s.get_optional(client, k8s.resource_group_path(namespace, params["name"]))
        state = cs.evaluate_sync_status(obj, group, syncing_condition_supported=supported)
        result["object"] = obj
    result["sync_status"] = state
    if verdict == "timeout":
        return "timed out after %ss waiting for %s %s/%s to be SYNCED%s; last status: %s" % (
            params["wait_timeout"], params["kind"], namespace, params["name"], " at %s" % expected if expected else "", reason)
    if verdict == cs.WAIT_FAIL:
        return reason
    return None


def run(module):
    params, check_mode = module.params, module.check_mode
    namespace, result = identity(params)
    warning = cs.root_sync_name_warning(params["kind"], params["name"])
    if warning:
        module.warn(warning)
    if params["state"] == "present":
        # Everything Config Sync checks on the object, before any request (auth auto is resolved later).
        provisional = params["auth"]
        if provisional == "auto":
            provisional = "gcpserviceaccount" if params["gcp_service_account_email"] else "k8sserviceaccount"
        desired_objects(params, namespace, provisional)
        cs.expected_commit(params["image"], params["expected_digest"])
    client = k8s.client_from_params(params)
    if params["state"] == "present":
        applied, outcomes = present(client, params, namespace, check_mode, result, module.warn)
    else:
        applied, outcomes = None, absent(client, params, namespace, check_mode, module.warn)
    result["changed"] = any(outcome.changed for _label, outcome in outcomes)
    if module._diff:
        diffs = [outcome.diff(label) for label, outcome in outcomes]
        result["diff"] = diffs[0] if len(diffs) == 1 else diffs
    if params["wait"] and applied is not None and not check_mode:
        failure = wait_for_sync(client, params, namespace, applied, result)
        if failure:
            module.fail_json(msg=failure, **result)
    return result


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
        auth=dict(type="str", choices=["auto", "k8sserviceaccount", "gcpserviceaccount", "gcenode", "none"], default="auto"),
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
    module = ConfigSyncModule(argument_spec, shared_argspecs=(k8s.K8S_AUTH_ARGSPEC,),
                              required_if=[("state", "present", ["image"])])
    try:
        result = run(module)
    except (cs.ConfigSyncRuleError, k8s.KubernetesError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
