# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the Config Sync modules do with a cluster: the service layer between the modules' entry points and the rules
(``configsync``) and the client (``k8s``).

``run_source`` is config_sync_source (validate, resolve auth, server-side apply, RepoSync RoleBinding, wait);
``cluster_status`` is config_sync_status (every sync object with nomos's verdict and its ResourceGroup).
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.configsync.oci.plugins.module_utils.configsync.names import (
    CONFIG_MANAGEMENT_SYSTEM, ConfigSyncRuleError, reconciler_name, REPO_SYNC_KIND, ROOT_SYNC_KIND, root_sync_name_warning,
    validate_sync, workload_identity_member,
)
from ansible_collections.configsync.oci.plugins.module_utils.configsync.objects import (
    build_sync_object, ca_cert_secret_problem, expected_commit, reconciler_role_binding, resource_group_collection,
    resource_group_path, role_binding_path, stated_mismatches, sync_collection, sync_path, validate_stated,
)
from ansible_collections.configsync.oci.plugins.module_utils.configsync.status import (
    ERROR, evaluate_sync_status, PENDING, RECONCILING, STALLED, SYNCED,
)
from ansible_collections.configsync.oci.plugins.module_utils.configsync.versions import (
    auth_for_version, config_management_version, format_version, reconciler_manager_image, RECONCILER_MANAGER_PATH,
    syncing_condition_supported, version_from_image,
)
from ansible_collections.configsync.oci.plugins.module_utils.errors import TaskFailed
from ansible_collections.configsync.oci.plugins.module_utils.configsync.wait import WAIT_DONE, WAIT_FAIL, wait_verdict
from ansible_collections.configsync.oci.plugins.module_utils.k8s.apply import applied_at, apply_object, delete_object, Outcome
from ansible_collections.configsync.oci.plugins.module_utils.cluster_access import client_from_params
from ansible_collections.configsync.oci.plugins.module_utils.k8s.client import (
    get_optional, list_optional, object_path,
)
from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import KubernetesError
from ansible_collections.configsync.oci.plugins.module_utils.k8s.watch import WAIT_TIMEOUT, WAIT_UNREACHABLE, watch_until


# --- config_sync_source -------------------------------------------------------------------------------------------

def identity(params):
    """Reconciler, KSA and Workload Identity member: the same functions as the filters, checked before any request."""
    kind, name = params["kind"], params["name"]
    namespace = validate_sync(kind, name, params["namespace"])
    reconciler = reconciler_name(name, namespace=namespace, kind=kind)
    result = {"reconciler": reconciler, "ksa": {"name": reconciler, "namespace": CONFIG_MANAGEMENT_SYSTEM}}
    if params["fleet_host_project"]:
        result["workload_identity_member"] = workload_identity_member(reconciler, params["fleet_host_project"])
    return namespace, result


def resolve_auth(client, params, result):
    """``auth: auto``: the Config Sync version in the reconciler-manager image tag decides (1.17.2)."""
    if params["auth"] != "auto":
        return params["auth"]
    deployment = client.get(RECONCILER_MANAGER_PATH)
    image = reconciler_manager_image(deployment)
    version = version_from_image(image) if image else None
    if version is None:
        found = ("its image %r has no version tag" % image) if deployment else "the Deployment does not exist"
        raise ConfigSyncRuleError("auth=auto reads the Config Sync version from Deployment reconciler-manager in %s, but %s; "
                                  "set auth explicitly" % (CONFIG_MANAGEMENT_SYSTEM, found))
    result["config_sync_version"] = format_version(version)
    return auth_for_version(version)


def desired_objects(params, namespace, auth):
    # With auth auto, an email given for older versions is not part of a k8sserviceaccount source.
    email = params["gcp_service_account_email"] if auth == "gcpserviceaccount" or params["auth"] != "auto" else None
    sync = build_sync_object(
        params["kind"], params["name"], namespace, params["image"], auth, directory=params["dir"], period=params["period"],
        gcp_service_account_email=email, ca_cert_secret=params["ca_cert_secret"], secret_ref=params["secret_ref"],
        source_format=params["source_format"], override=params["override"], role_refs=params["role_refs"])
    binding = None
    if params["kind"] == REPO_SYNC_KIND:
        binding = reconciler_role_binding(params["name"], namespace, params["reconciler_role"])
    return sync, binding


def apply_role_binding(client, binding, check_mode):
    """Apply the RepoSync reconciler's RoleBinding; its roleRef cannot change in place, so a new role replaces it."""
    path = role_binding_path(binding["metadata"]["namespace"], binding["metadata"]["name"])
    live = client.get(path)
    if live is not None and live.get("roleRef") != binding["roleRef"]:
        if check_mode:
            return Outcome(True, live, binding)
        client.delete(path)
    return apply_object(client, path, binding, check_mode)


def check_ca_cert_secret(client, params, namespace, warn):
    """The CA Secret must exist in the sync's namespace with a ``cert`` key, or Config Sync stalls the sync (KNV1061)."""
    name = params["ca_cert_secret"]
    if not name:
        return
    try:
        secret = client.get(object_path("v1", "secrets", namespace, name))
    except KubernetesError as exc:
        if exc.status != 403:
            raise
        warn("cannot read Secret %s/%s to check its cert key (403 Forbidden); Config Sync will check it" % (namespace, name))
        return
    problem = ca_cert_secret_problem(secret, name, namespace)
    if problem:
        raise ConfigSyncRuleError(problem)


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
    applied = apply_object(client, sync_path(params["kind"], namespace, params["name"]), sync, check_mode)
    result["object"] = applied.after
    outcomes.insert(0, ("%s %s/%s" % (params["kind"], namespace, params["name"]), applied))
    return applied, outcomes


def absent(client, params, namespace, check_mode, warn):
    path = sync_path(params["kind"], namespace, params["name"])

    def described(live):
        mismatches = stated_mismatches(params, live)
        if mismatches:
            raise ConfigSyncRuleError("%s %s/%s is not the object described (%s): state=absent deletes only a matching "
                                      "object; nothing was deleted"
                                      % (params["kind"], namespace, params["name"], "; ".join(mismatches)))

    deleted = delete_object(client, path, check_mode, precondition=described)
    outcomes = [("%s %s/%s" % (params["kind"], namespace, params["name"]), deleted)]
    if params["kind"] != REPO_SYNC_KIND:
        return outcomes
    binding_name = reconciler_name(params["name"], namespace=namespace, kind=params["kind"])
    if deleted.before is not None and not check_mode and client.get(path) is not None:
        # Config Sync's finalizer is still deleting the managed objects through the reconciler, which needs the binding.
        warn("RepoSync %s/%s is still being finalized by Config Sync; RoleBinding %s is kept until it is gone "
             "(run again to remove it)" % (namespace, params["name"], binding_name))
        return outcomes
    outcomes.append(("RoleBinding %s/%s" % (namespace, binding_name),
                     delete_object(client, role_binding_path(namespace, binding_name), check_mode)))
    return outcomes


def wait_for_sync(client, params, namespace, applied, result):
    """Follow the sync object until nomos's rules say SYNCED at the expected commit, or STALLED / ERROR (fail)."""
    expected = expected_commit(params["image"], params["expected_digest"])
    result["expected_commit"] = expected
    changed_at = applied_at(applied.after) if applied.changed else None
    supported = syncing_condition_supported(config_management_version(client))
    seen = {}

    def judge(obj):
        if obj is None:
            return WAIT_FAIL, "%s %s/%s disappeared while waiting" % (params["kind"], namespace, params["name"])
        seen["state"] = evaluate_sync_status(obj, syncing_condition_supported=supported)
        return wait_verdict(obj, seen["state"], expected, changed_at)

    path = sync_path(params["kind"], namespace, params["name"])
    obj, verdict, reason = watch_until(client, path, sync_collection(params["kind"], namespace), params["name"],
                                       judge, params["wait_timeout"])
    state = seen.get("state")
    if verdict == WAIT_DONE:
        group = get_optional(client, resource_group_path(namespace, params["name"]))
        state = evaluate_sync_status(obj, group, syncing_condition_supported=supported)
        result["object"] = obj
    result["sync_status"] = state
    if verdict == WAIT_TIMEOUT:
        return "timed out after %ss waiting for %s %s/%s to be SYNCED%s; last status: %s" % (
            params["wait_timeout"], params["kind"], namespace, params["name"], " at %s" % expected if expected else "", reason)
    if verdict == WAIT_UNREACHABLE:
        # Not Config Sync's fault: the API server the status comes from went quiet.
        return "%s, while waiting for %s %s/%s to be SYNCED%s (wait_timeout %ss)" % (
            reason, params["kind"], namespace, params["name"], " at %s" % expected if expected else "", params["wait_timeout"])
    if verdict == WAIT_FAIL:
        return reason
    return None


def run_source(module):
    params, check_mode = module.params, module.check_mode
    namespace, result = identity(params)
    warning = root_sync_name_warning(params["kind"], params["name"])
    if warning:
        module.warn(warning)
    validate_stated(params)  # the source options that are given (image with expected_digest, dir, period), any state
    if params["state"] == "present":
        # Everything Config Sync checks on the object, before any request (auth auto is resolved later).
        provisional = params["auth"]
        if provisional == "auto":
            provisional = "gcpserviceaccount" if params["gcp_service_account_email"] else "k8sserviceaccount"
        desired_objects(params, namespace, provisional)
    client = client_from_params(params)
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
            raise TaskFailed(failure, **result)
    return result


# --- config_sync_status -------------------------------------------------------------------------------------------

def wanted_kinds(params):
    if params["kind"]:
        return [params["kind"]]
    if params["namespace"] == CONFIG_MANAGEMENT_SYSTEM:
        return [ROOT_SYNC_KIND]
    if params["namespace"]:
        return [REPO_SYNC_KIND]
    return [ROOT_SYNC_KIND, REPO_SYNC_KIND]


def read_syncs(client, params):
    syncs = []
    for kind in wanted_kinds(params):
        for item in list_optional(client, sync_collection(kind, params["namespace"])):
            if not params["name"] or item["metadata"]["name"] == params["name"]:
                item.setdefault("kind", kind)
                syncs.append(item)
    return syncs


def read_resource_groups(client, params):
    """All ResourceGroups at once (one request), by (namespace, name)."""
    if not params["resources"]:
        return None
    path = resource_group_collection(params["namespace"])
    return {(g["metadata"]["namespace"], g["metadata"]["name"]): g for g in list_optional(client, path)}


def cluster_status(client, params):
    syncs = read_syncs(client, params)
    groups = read_resource_groups(client, params)
    supported = syncing_condition_supported(config_management_version(client))
    states, errors = [], []
    for sync in syncs:
        key = (sync["metadata"]["namespace"], sync["metadata"]["name"])
        group = groups.get(key) if groups is not None else None
        if groups is not None and group is None:
            # nomos: "We always expect a ResourceGroup, even if we have no managed resources."
            errors.append('resourcegroups.kpt.dev "%s" not found in namespace "%s"' % (key[1], key[0]))
        states.append(evaluate_sync_status(sync, group, syncing_condition_supported=supported))
    states.sort(key=lambda s: (s["scope"], s["name"]))
    if not states:
        errors.append("No %s resources found" % " or ".join(wanted_kinds(params)))
    summary = {status: 0 for status in (SYNCED, PENDING, RECONCILING, STALLED, ERROR)}
    for state in states:
        summary[state["status"]] += 1
    return {
        "changed": False,
        "server": client.server,
        "syncs": states,
        "summary": summary,
        "synced": bool(states) and summary[SYNCED] == len(states),
        "errors": errors,
    }
