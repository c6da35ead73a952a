# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Config Sync's own rules, as pure functions: reconciler and service-account names, the limits Config Sync
enforces, and the Workload Identity member of a reconciler.

The rules mirror Config Sync's source (``pkg/core/names.go``, ``pkg/reconcilermanager/constants.go``,
``pkg/validate``) so that a playbook fails before any request where Config Sync would reject the object later.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import posixpath
import re

ROOT_SYNC_KIND = "RootSync"
REPO_SYNC_KIND = "RepoSync"
CONFIG_MANAGEMENT_SYSTEM = "config-management-system"
ROOT_SYNC_DEFAULT_NAME = "root-sync"
REPO_SYNC_DEFAULT_NAME = "repo-sync"
ROOT_RECONCILER_PREFIX = "root-reconciler"
NS_RECONCILER_PREFIX = "ns-reconciler"

ROOT_SYNC_NAME_MAX = 38
REPO_SYNC_NAME_AND_NAMESPACE_MAX = 45
# Config Sync before 1.x documented 26 characters for a RootSync name (the seed page still does).
ROOT_SYNC_NAME_LEGACY_MAX = 26

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_GSA_EMAIL = re.compile(r"^(?P<account>[^@]+)@(?P<domain>[^@]+)$")
_FLEET_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.-]+:[a-z][a-z0-9-]{4,28}[a-z0-9]$")


INVALID_SYNC_CODE = "KNV1061"


class ConfigSyncRuleError(ValueError):
    """A value Config Sync would reject; the message reads like Config Sync's own."""


def knv1061(message):
    """A KNV1061 (invalid RootSync/RepoSync) message, as Config Sync prints it."""
    return "%s: %s" % (INVALID_SYNC_CODE, message)


def sync_kind(namespace=None, kind=None):
    """RootSync unless a namespace (other than config-management-system) or kind=RepoSync says otherwise."""
    if kind:
        if kind not in (ROOT_SYNC_KIND, REPO_SYNC_KIND):
            raise ConfigSyncRuleError("kind must be RootSync or RepoSync, got %r" % (kind,))
        return kind
    if namespace and namespace != CONFIG_MANAGEMENT_SYSTEM:
        return REPO_SYNC_KIND
    return ROOT_SYNC_KIND


def is_dns1123_label(value):
    return bool(value) and len(value) <= 63 and bool(_DNS1123_LABEL.match(value))


def is_dns1123_subdomain(value):
    return bool(value) and len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.match(value))


def validate_sync(kind, name, namespace=None):
    """Raise ConfigSyncRuleError where Config Sync would reject a RootSync/RepoSync of this name and namespace.

    Returns the namespace the object lives in.
    """
    if not is_dns1123_subdomain(name or ""):
        raise ConfigSyncRuleError("%s name %r is not a valid Kubernetes name (DNS-1123 subdomain: lowercase letters, digits, '-' and '.')"
                                  % (kind, name))
    if kind == ROOT_SYNC_KIND:
        if namespace and namespace != CONFIG_MANAGEMENT_SYSTEM:
            raise ConfigSyncRuleError(knv1061("RootSync objects are only allowed in the %s namespace, not in %s (option namespace)"
                                              % (CONFIG_MANAGEMENT_SYSTEM, namespace)))
        if len(name) > ROOT_SYNC_NAME_MAX:
            raise ConfigSyncRuleError(knv1061("maximum length of RootSync name is %d, but found %d (option name %r)"
                                              % (ROOT_SYNC_NAME_MAX, len(name), name)))
        return CONFIG_MANAGEMENT_SYSTEM
    if not namespace:
        raise ConfigSyncRuleError("a RepoSync needs a namespace")
    if namespace == CONFIG_MANAGEMENT_SYSTEM:
        raise ConfigSyncRuleError(knv1061("RepoSync objects are not allowed in the %s namespace (option namespace); use a RootSync there"
                                          % CONFIG_MANAGEMENT_SYSTEM))
    if not is_dns1123_label(namespace):
        raise ConfigSyncRuleError("namespace %r is not a valid Kubernetes namespace name (DNS-1123 label)" % (namespace,))
    combined = len(name) + len(namespace)
    if combined > REPO_SYNC_NAME_AND_NAMESPACE_MAX:
        raise ConfigSyncRuleError(knv1061("maximum combined length of RepoSync name and namespace is %d, but found %d (name %r, namespace %r)"
                                          % (REPO_SYNC_NAME_AND_NAMESPACE_MAX, combined, name, namespace)))
    return namespace


def reconciler_name(name, namespace=None, kind=None):
    """The reconciler Deployment and Kubernetes service account name Config Sync derives for a sync object.

    >>> reconciler_name("root-sync")
    'root-reconciler'
    >>> reconciler_name("my-sync", namespace="team-a")
    'ns-reconciler-team-a-my-sync-7'
    """
    kind = sync_kind(namespace, kind)
    validate_sync(kind, name, namespace)
    if kind == ROOT_SYNC_KIND:
        result = ROOT_RECONCILER_PREFIX if name == ROOT_SYNC_DEFAULT_NAME else "%s-%s" % (ROOT_RECONCILER_PREFIX, name)
    elif name == REPO_SYNC_DEFAULT_NAME:
        result = "%s-%s" % (NS_RECONCILER_PREFIX, namespace)
    else:
        result = "%s-%s-%s-%d" % (NS_RECONCILER_PREFIX, namespace, name, len(name))
    if not is_dns1123_subdomain(result):
        raise ConfigSyncRuleError("reconciler name %r derived from %s %r is not a valid Kubernetes name" % (result, kind, name))
    return result


def workload_identity_member(ksa_name, fleet_host_project, ksa_namespace=CONFIG_MANAGEMENT_SYSTEM):
    """The IAM member of a Kubernetes service account through (fleet) Workload Identity.

    >>> workload_identity_member("root-reconciler", "fleet-proj")
    'serviceAccount:fleet-proj.svc.id.goog[config-management-system/root-reconciler]'
    """
    if not fleet_host_project or not _FLEET_PROJECT.match(fleet_host_project):
        raise ConfigSyncRuleError("fleet host project %r is not a valid Google Cloud project ID" % (fleet_host_project,))
    if not is_dns1123_subdomain(ksa_name or ""):
        raise ConfigSyncRuleError("Kubernetes service account name %r is not a valid Kubernetes name" % (ksa_name,))
    if not is_dns1123_label(ksa_namespace or ""):
        raise ConfigSyncRuleError("namespace %r is not a valid Kubernetes namespace name" % (ksa_namespace,))
    return "serviceAccount:%s.svc.id.goog[%s/%s]" % (fleet_host_project, ksa_namespace, ksa_name)


def validate_gcp_service_account_email(email):
    """Config Sync's rule for spec.oci.gcpServiceAccountEmail (KNV1061): ACCOUNT@DOMAIN.iam.gserviceaccount.com,
    ACCOUNT 6 to 30 characters."""
    match = _GSA_EMAIL.match(email or "")
    if not match:
        raise ConfigSyncRuleError("gcp_service_account_email %r is not an email address" % (email,))
    account, domain = match.group("account"), match.group("domain")
    if not 6 <= len(account) <= 30:
        raise ConfigSyncRuleError("gcp_service_account_email %r: the part before '@' must be 6 to 30 characters, found %d"
                                  % (email, len(account)))
    if not domain.endswith(".iam.gserviceaccount.com"):
        raise ConfigSyncRuleError("gcp_service_account_email %r must end with .iam.gserviceaccount.com" % (email,))
    return email


# ---------------------------------------------------------------------------------------------------------------------
# The RootSync / RepoSync object (configsync.gke.io/v1beta1, sourceType oci) and the rules Config Sync checks on it.
# Messages carry Config Sync's own code and wording (pkg/validate/rsync/validate/source_spec_validator.go).
# ---------------------------------------------------------------------------------------------------------------------

API_GROUP = "configsync.gke.io"
API_VERSION = API_GROUP + "/v1beta1"
RESOURCE_GROUP_API_VERSION = "kpt.dev/v1alpha1"
OCI_AUTH_TYPES = ("gcenode", "gcpserviceaccount", "k8sserviceaccount", "none", "token")
SOURCE_FORMATS = ("hierarchy", "unstructured")
GCP_SA_SUFFIX = ".iam.gserviceaccount.com"
ROLE_REF_KINDS = ("ClusterRole", "Role")
RECONCILER_MANAGER = "reconciler-manager"
# Config Sync 1.17.2 added spec.oci.auth k8sserviceaccount with Workload Identity for Artifact Registry; older
# versions need gcpserviceaccount and a Google service account (the seed's step 3a / 3b).
K8S_SERVICE_ACCOUNT_MIN_VERSION = (1, 17, 2)
# nomos reads the Syncing condition only from this version on (cmd/nomos/status/client.go).
SYNCING_CONDITION_MIN_VERSION = (1, 10, 0)
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "configsync.oci"

# Go's time.ParseDuration grammar (metav1.Duration): "15s", "1m30s", "1.5h", "0".
_GO_DURATION = re.compile(r"^(0|[+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|ms|s|m|h))+)$")
# go-containerregistry name.ParseReference: [registry/]repository[:tag][@sha256:hex].
_REPOSITORY_PART = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]+)?$|^\[[0-9a-fA-F:]+\](:[0-9]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_SHA256_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_VERSION = re.compile(r"^v?(?P<major>[0-9]+)\.(?P<minor>[0-9]+)\.(?P<patch>[0-9]+)")


def validate_gcp_service_account_email_for(kind, email):
    """spec.oci.gcpServiceAccountEmail as the reconciler-manager checks it for auth gcpserviceaccount."""
    if not email:
        raise ConfigSyncRuleError(knv1061('%ss which specify spec.oci.auth as "gcpserviceaccount" must also specify '
                                          'spec.oci.gcpServiceAccountEmail (option gcp_service_account_email)' % kind))
    try:
        validate_gcp_service_account_email(email)
    except ConfigSyncRuleError as exc:
        raise ConfigSyncRuleError(knv1061('%ss which specify spec.oci.auth as "gcpserviceaccount" must use suffix '
                                          '<gcp_serviceaccount_name>.[%s] (%s)' % (kind, GCP_SA_SUFFIX, exc)))
    return email


def parse_image_reference(image):
    """Split an OCI image reference the way oci-sync (go-containerregistry) reads it.

    Returns a dict with registry, repository, tag and digest (None when absent). Raises ConfigSyncRuleError for a
    reference oci-sync could not parse, so the mistake shows up before the RootSync is written.

    >>> parse_image_reference("us-docker.pkg.dev/p/r/ns@sha256:" + "a" * 64)["digest"] == "sha256:" + "a" * 64
    True
    """
    if not image or image != image.strip():
        raise ConfigSyncRuleError("image %r is not an OCI image reference" % (image,))
    rest, digest = image, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _SHA256_DIGEST.match(digest):
            raise ConfigSyncRuleError("image %r: the digest must be sha256: followed by 64 lowercase hex digits" % (image,))
    tag = None
    last_slash = rest.rfind("/")
    if ":" in rest[last_slash + 1:]:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ConfigSyncRuleError("image %r: tag %r is not a valid tag" % (image, tag))
    parts = rest.split("/")
    registry = None
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0)
        if not _REGISTRY.match(registry):
            raise ConfigSyncRuleError("image %r: registry %r is not a valid host" % (image, registry))
    if not parts or not all(_REPOSITORY_PART.match(part) for part in parts):
        raise ConfigSyncRuleError("image %r: repository %r must be lowercase path components" % (image, "/".join(parts)))
    return {"registry": registry, "repository": "/".join(parts), "tag": tag, "digest": digest}


def expected_commit(image, expected_digest=None):
    """The commit Config Sync reports once the image is synced: its digest hex, without ``sha256:``.

    ``expected_digest`` (with or without ``sha256:``) wins; a tag-only image without it has no known commit (None).
    """
    digest = expected_digest or parse_image_reference(image)["digest"]
    if not digest:
        return None
    hex_part = digest[len("sha256:"):] if digest.startswith("sha256:") else digest
    if not re.match(r"^[a-f0-9]{64}$", hex_part):
        raise ConfigSyncRuleError("expected_digest %r is not a sha256 digest" % (expected_digest,))
    return hex_part


def validate_period(period):
    if period is not None and not _GO_DURATION.match(period):
        raise ConfigSyncRuleError("period %r is not a duration such as 15s, 1m or 1h30m" % (period,))
    return period


def validate_role_refs(kind, role_refs):
    """spec.override.roleRefs: RootSync only; kind Role needs a namespace (KNV1061)."""
    if not role_refs:
        return []
    if kind != ROOT_SYNC_KIND:
        raise ConfigSyncRuleError("role_refs (spec.override.roleRefs) is only allowed on a RootSync")
    result = []
    for ref in role_refs:
        ref_kind, name, namespace = ref.get("kind") or "ClusterRole", ref.get("name"), ref.get("namespace")
        if ref_kind not in ROLE_REF_KINDS:
            raise ConfigSyncRuleError("role_refs kind %r must be one of %s" % (ref_kind, ", ".join(ROLE_REF_KINDS)))
        if not is_dns1123_subdomain(name or ""):
            raise ConfigSyncRuleError("role_refs name %r is not a valid Kubernetes name" % (name,))
        if ref_kind == "Role" and not namespace:
            raise ConfigSyncRuleError(knv1061("RootSyncs must specify 'spec.override.roleRefs.namespace' for role references with kind Role"
                                              " (role_refs entry %r)" % (name,)))
        if namespace and not is_dns1123_label(namespace):
            raise ConfigSyncRuleError("role_refs namespace %r is not a valid Kubernetes namespace name" % (namespace,))
        entry = {"kind": ref_kind, "name": name}
        if namespace:
            entry["namespace"] = namespace
        result.append(entry)
    return result


def validate_oci_source(kind, image, auth, gcp_service_account_email=None, source_format=None, period=None, secret_ref=None):
    """Everything Config Sync checks on spec.oci / spec.sourceFormat of a sourceType oci sync (KNV1061)."""
    if not image:
        raise ConfigSyncRuleError(knv1061('%ss must specify spec.oci.image when spec.sourceType is "oci" (option image)' % kind))
    parse_image_reference(image)
    if auth not in OCI_AUTH_TYPES:
        raise ConfigSyncRuleError(knv1061("%ss must specify spec.oci.auth to be one of %s, got auth=%r"
                                          % (kind, ",".join(OCI_AUTH_TYPES), auth)))
    if auth == "gcpserviceaccount":
        validate_gcp_service_account_email_for(kind, gcp_service_account_email)
    elif gcp_service_account_email:
        raise ConfigSyncRuleError("gcp_service_account_email is only used with auth gcpserviceaccount, not auth=%s" % auth)
    if auth == "token" and not secret_ref:
        raise ConfigSyncRuleError(knv1061("%ss which specify spec.oci.auth as token must also specify spec.oci.secretRef "
                                          "(option secret_ref)" % kind))
    if auth != "token" and secret_ref:
        raise ConfigSyncRuleError(knv1061("%ss which specify spec.oci.auth as %s must not specify spec.oci.secretRef "
                                          "(option secret_ref is only for auth token)" % (kind, auth)))
    if secret_ref and not is_dns1123_subdomain(secret_ref):
        raise ConfigSyncRuleError("secret_ref %r is not a valid Secret name" % (secret_ref,))
    if source_format and source_format not in SOURCE_FORMATS:
        raise ConfigSyncRuleError("source_format %r must be one of %s" % (source_format, ", ".join(SOURCE_FORMATS)))
    if kind == REPO_SYNC_KIND and source_format == "hierarchy":
        raise ConfigSyncRuleError("a RepoSync only supports source_format unstructured, not hierarchy")
    validate_period(period)


def root_sync_name_warning(kind, name):
    """The warning for a RootSync name valid now but over the limit older Config Sync versions documented."""
    if kind == ROOT_SYNC_KIND and len(name) > ROOT_SYNC_NAME_LEGACY_MAX:
        return ("RootSync name %r has %d characters: current Config Sync accepts up to %d, but older versions documented "
                "a limit of %d, so clusters on those versions may reject it" % (name, len(name), ROOT_SYNC_NAME_MAX, ROOT_SYNC_NAME_LEGACY_MAX))
    return None


def build_sync_object(kind, name, namespace, image, auth, directory=None, period=None, gcp_service_account_email=None,
                      ca_cert_secret=None, source_format=None, override=None, role_refs=None, secret_ref=None):
    """The RootSync/RepoSync object to apply (server-side apply: only the fields this collection owns).

    Validates first; raises ConfigSyncRuleError for anything Config Sync would reject.
    """
    namespace = validate_sync(kind, name, namespace)
    validate_oci_source(kind, image, auth, gcp_service_account_email, source_format, period, secret_ref)
    role_refs = validate_role_refs(kind, role_refs)
    if ca_cert_secret is not None and not is_dns1123_subdomain(ca_cert_secret):
        raise ConfigSyncRuleError("ca_cert_secret %r is not a valid Secret name" % (ca_cert_secret,))
    oci = {"image": image, "auth": auth}
    if directory is not None:
        oci["dir"] = directory
    if period is not None:
        oci["period"] = period
    if gcp_service_account_email:
        oci["gcpServiceAccountEmail"] = gcp_service_account_email
    if ca_cert_secret:
        oci["caCertSecretRef"] = {"name": ca_cert_secret}
    if secret_ref:
        oci["secretRef"] = {"name": secret_ref}
    spec = {"sourceType": "oci", "oci": oci}
    if source_format:
        spec["sourceFormat"] = source_format
    override = dict(override or {})
    if role_refs:
        if override.get("roleRefs") not in (None, role_refs):
            raise ConfigSyncRuleError("role_refs and override.roleRefs are both set and differ; set one of them")
        override["roleRefs"] = role_refs
    if override:
        spec["override"] = override
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def reconciler_role_binding(sync_name, namespace, cluster_role="edit"):
    """The RoleBinding that lets a RepoSync's reconciler manage its namespace.

    Named after the reconciler (unique per RepoSync in the namespace); the subject is the reconciler's KSA in
    config-management-system, as Config Sync's documentation asks the person to create by hand.
    """
    if not is_dns1123_subdomain(cluster_role or ""):
        raise ConfigSyncRuleError("reconciler_role %r is not a valid ClusterRole name" % (cluster_role,))
    ksa = reconciler_name(sync_name, namespace=namespace, kind=REPO_SYNC_KIND)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": ksa,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
        "subjects": [{"kind": "ServiceAccount", "name": ksa, "namespace": CONFIG_MANAGEMENT_SYSTEM}],
    }


# ---------------------------------------------------------------------------------------------------------------------
# Config Sync version (auth: auto) from the reconciler-manager Deployment's image tag.
# ---------------------------------------------------------------------------------------------------------------------

def parse_version(text):
    """(major, minor, patch) from a version or image tag such as ``v1.17.3``, ``1.16.0-rc.1``, ``v1.24.3-gke.1``.

    Pre-release and build suffixes are ignored: ``1.17.2-rc.1`` counts as 1.17.2.
    """
    match = _VERSION.match(text or "")
    if not match:
        return None
    return int(match.group("major")), int(match.group("minor")), int(match.group("patch"))


def version_from_image(image):
    """The Config Sync version in the reconciler-manager image tag, or None when the image has no version tag."""
    try:
        tag = parse_image_reference(image)["tag"]
    except ConfigSyncRuleError:
        return None
    return parse_version(tag)


def reconciler_manager_image(deployment):
    """The reconciler-manager container image of the Deployment (the container of that name, else the first)."""
    containers = (((deployment or {}).get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    for container in containers:
        if container.get("name") == RECONCILER_MANAGER:
            return container.get("image")
    return containers[0].get("image") if containers else None


def auth_for_version(version):
    """What ``auth: auto`` means for a Config Sync version: k8sserviceaccount from 1.17.2, gcpserviceaccount before."""
    return "k8sserviceaccount" if tuple(version) >= K8S_SERVICE_ACCOUNT_MIN_VERSION else "gcpserviceaccount"


def format_version(version):
    return ".".join(str(part) for part in version) if version else None


# ---------------------------------------------------------------------------------------------------------------------
# Status, decided by nomos's rules (cmd/nomos/status/cluster_state.go, pkg/rootsync/conditions.go).
# ---------------------------------------------------------------------------------------------------------------------

SYNCED = "SYNCED"
PENDING = "PENDING"
RECONCILING = "RECONCILING"
STALLED = "STALLED"
ERROR = "ERROR"


def get_condition(conditions, condition_type):
    for condition in conditions or []:
        if condition.get("type") == condition_type:
            return condition
    return None


def _summary(error_summary):
    return {
        "total_count": int(error_summary.get("totalCount") or 0),
        "truncated": bool(error_summary.get("truncated")),
        "error_count_after_truncation": int(error_summary.get("errorCountAfterTruncation") or 0),
    }


def _counted_summary(count):
    return {"total_count": count, "truncated": False, "error_count_after_truncation": count} if count else None


def _messages(errors):
    return [error.get("errorMessage", "") for error in errors or []]


def condition_has_no_errors(condition):
    """pkg/rootsync ConditionHasNoErrors: the errorSummary's totalCount, else the condition's own errors."""
    summary = condition.get("errorSummary")
    if summary is None:
        return not condition.get("errors")
    return int(summary.get("totalCount") or 0) == 0


def _condition_errors(status, condition):
    """Errors of a Syncing condition: from the status sections its errorSourceRefs name, else its own list."""
    if condition.get("errorSummary") is not None:
        # ErrorSource values (v1beta1): the status field holding the errors.
        sections = {"status.rendering.errors": "rendering", "status.source.errors": "source", "status.sync.errors": "sync"}
        errors = []
        for ref in condition.get("errorSourceRefs") or []:
            errors.extend(_messages((status.get(sections.get(ref, "")) or {}).get("errors")))
        return errors, _summary(condition["errorSummary"])
    errors = _messages(condition.get("errors"))
    return errors, _counted_summary(len(errors))


def _legacy_status(status):
    """multiRepoSyncStatus: for Config Sync versions without the Syncing condition."""
    sections = [status.get(key) or {} for key in ("source", "sync", "rendering")]
    if any(section.get("errors") for section in sections):
        return ERROR
    source, sync, rendering = sections
    if not sync.get("commit"):
        return PENDING
    if sync.get("commit") == source.get("commit") and rendering.get("commit") in (None, "", sync.get("commit")):
        return SYNCED
    return PENDING


def resource_statuses(resource_group):
    """Managed resources from the ResourceGroup, with Conflict where ownership overlaps (nomos checkConflict)."""
    resources = []
    for entry in ((resource_group or {}).get("status") or {}).get("resourceStatuses") or []:
        conditions = entry.get("conditions") or []
        state = entry.get("status")
        if any(c.get("type") == "OwnershipOverlap" and c.get("status") == "True" for c in conditions):
            state = "Conflict"
        group, kind, name = entry.get("group") or "", entry.get("kind") or "", entry.get("name") or ""
        resources.append({
            "group": group,
            "kind": kind,
            "namespace": entry.get("namespace") or "",
            "name": name,
            "resource": "%s%s/%s" % (kind.lower(), "." + group if group else "", name),
            "status": state,
            "source_hash": entry.get("sourceHash") or None,
            "conditions": [c.get("message", "") for c in conditions],
        })
    return sorted(resources, key=lambda r: (r["namespace"], r["resource"]))


def source_string(oci):
    """nomos's ociString: the image, plus ``/dir`` unless the dir is the root."""
    if not oci:
        return "N/A"
    image = (oci.get("image") or "").rstrip("/")
    directory = oci.get("dir") or ""
    if directory in ("", ".", "/"):
        return image
    return image + "/" + posixpath.normpath(directory.lstrip("/"))


def evaluate_sync_status(sync, resource_group=None, syncing_condition_supported=True):
    """The state of one RootSync/RepoSync as ``nomos status`` decides and shows it, as a dict.

    ``syncing_condition_supported`` is what nomos derives from the ConfigManagement version (False on open-source
    installs without that object): only then does a sync without a Syncing condition count as PENDING outright.
    ``commit`` is the full commit (nomos shortens legacy commits to 8 characters when printing); None where nomos
    prints N/A.
    """
    metadata = sync.get("metadata") or {}
    spec = sync.get("spec") or {}
    status = sync.get("status") or {}
    conditions = status.get("conditions") or []
    kind = sync.get("kind") or (ROOT_SYNC_KIND if metadata.get("namespace") == CONFIG_MANAGEMENT_SYSTEM else REPO_SYNC_KIND)
    result = {
        "kind": kind,
        "name": metadata.get("name"),
        "namespace": metadata.get("namespace"),
        "scope": "<root>" if kind == ROOT_SYNC_KIND else metadata.get("namespace"),
        "source_type": spec.get("sourceType") or "git",
        "image": (spec.get("oci") or {}).get("image"),
        "dir": (spec.get("oci") or {}).get("dir"),
        "source": source_string(spec.get("oci")) if spec.get("sourceType") == "oci" else None,
        "status": None,
        "commit": None,
        "last_synced_commit": status.get("lastSyncedCommit") or None,
        "last_update": None,
        "errors": [],
        "error_summary": None,
        "resources": [],
        "generation": metadata.get("generation"),
        "observed_generation": status.get("observedGeneration"),
        "reconciler": status.get("reconciler") or None,
    }
    stalled = get_condition(conditions, "Stalled")
    reconciling = get_condition(conditions, "Reconciling")
    syncing = get_condition(conditions, "Syncing")
    if stalled and stalled.get("status") == "True":
        result["status"] = STALLED
        result["errors"] = [stalled.get("message", "")]
        result["error_summary"] = _summary(stalled["errorSummary"]) if stalled.get("errorSummary") else _counted_summary(1)
    elif reconciling and reconciling.get("status") == "True":
        result["status"] = RECONCILING
    elif syncing is None:
        if syncing_condition_supported:
            result["status"] = PENDING
        else:
            result["status"] = _legacy_status(status)
            sync_section = status.get("sync") or {}
            if result["status"] == SYNCED:
                result["last_update"] = sync_section.get("lastUpdate")
            result["commit"] = sync_section.get("commit") or None
            errors = []
            for key in ("rendering", "source", "sync"):
                errors.extend(_messages((status.get(key) or {}).get("errors")))
            result["errors"] = errors
            result["error_summary"] = _counted_summary(len(errors))
            result["resources"] = resource_statuses(resource_group)
    elif syncing.get("status") == "True":
        result["status"] = PENDING
        result["commit"] = syncing.get("commit") or None
        result["errors"], result["error_summary"] = _condition_errors(status, syncing)
    elif condition_has_no_errors(syncing):
        result["status"] = SYNCED
        result["last_update"] = (status.get("sync") or {}).get("lastUpdate")
        result["commit"] = syncing.get("commit") or None
        result["resources"] = resource_statuses(resource_group)
    else:
        result["status"] = ERROR
        result["commit"] = syncing.get("commit") or None
        result["errors"], result["error_summary"] = _condition_errors(status, syncing)
    result["status_updated_at"] = (syncing or {}).get("lastUpdateTime")
    result["summary"] = summary_line(result)
    return result


def summary_line(state):
    """One line like nomos's two rows: ``<root>:root-sync  IMAGE[/DIR]  SYNCED @ TIME  COMMIT`` (commit shortened to 8)."""
    status = state["status"]
    if status == SYNCED and state["last_update"]:
        status = "%s @ %s" % (status, state["last_update"])
    commit = (state["commit"] or "N/A")[:8]
    line = "%s:%s  %s  %s  %s" % (state["scope"], state["name"], state["source"] or state["source_type"], status, commit)
    if state["errors"]:
        line += "  (%d error%s: %s)" % (len(state["errors"]), "" if len(state["errors"]) == 1 else "s", state["errors"][0].split("\n")[0])
    return line


def syncing_condition_supported(config_management_version):
    """nomos: the Syncing condition is read from ConfigManagement version 1.10.0-rc.1 on; unknown -> legacy rules."""
    version = parse_version(config_management_version or "")
    return version is not None and version >= SYNCING_CONDITION_MIN_VERSION


WAIT_DONE = "done"
WAIT_FAIL = "fail"
WAIT_MORE = "wait"


def wait_verdict(sync, state, expected, changed_at=None):
    """Whether waiting for a sync is over: (WAIT_DONE | WAIT_FAIL | WAIT_MORE, reason).

    ``state`` is evaluate_sync_status's result; ``expected`` the commit to reach (None: any). A status is only judged
    once Config Sync has observed the current generation. ``changed_at`` (RFC 3339, the API server's time of this
    run's write) keeps an ERROR that Config Sync reported for the previous source before the write from ending the
    wait; an ERROR at the expected commit, or newer than the write, ends it at once.
    """
    generation = (sync.get("metadata") or {}).get("generation")
    observed = (sync.get("status") or {}).get("observedGeneration")
    if generation is not None and (observed is None or observed < generation):
        return WAIT_MORE, "Config Sync has not yet observed generation %s (observed: %s)" % (generation, observed)
    status = state["status"]
    if status == STALLED:
        return WAIT_FAIL, "%s %s/%s is STALLED: %s" % (state["kind"], state["namespace"], state["name"], "; ".join(state["errors"]))
    if status == SYNCED:
        if expected is None or state["commit"] == expected:
            return WAIT_DONE, "SYNCED at %s" % state["commit"]
        return WAIT_MORE, "SYNCED at %s, waiting for %s" % (state["commit"], expected)
    if status == ERROR:
        current = (changed_at is None or (expected is not None and state["commit"] == expected)
                   or (state.get("status_updated_at") or "") >= changed_at)
        if current:
            return WAIT_FAIL, "%s %s/%s is in ERROR at commit %s: %s" % (state["kind"], state["namespace"], state["name"],
                                                                         state["commit"] or "N/A", "; ".join(state["errors"]))
        return WAIT_MORE, "ERROR reported before this change, waiting for Config Sync to report on the new source"
    return WAIT_MORE, "%s at commit %s" % (status, state["commit"] or "N/A")


# ---------------------------------------------------------------------------------------------------------------------
# The CA certificate Secret (spec.oci.caCertSecretRef), checked as the reconciler-manager does
# (pkg/reconcilermanager/controllers/reconciler_base.go validateCACertSecret).
# ---------------------------------------------------------------------------------------------------------------------

CA_CERT_SECRET_KEY = "cert"


def ca_cert_secret_problem(secret, name, namespace):
    """Config Sync's KNV1061 message for an unusable CA certificate Secret, or None. Only key names are looked at."""
    if secret is None:
        return knv1061("Secret %s not found: create one to allow client authentication (option ca_cert_secret, namespace %s)"
                       % (name, namespace))
    if CA_CERT_SECRET_KEY not in (secret.get("data") or {}):
        return knv1061('caCertSecretRef was set, but "%s" key is not present in "%s" Secret (option ca_cert_secret, namespace %s)'
                       % (CA_CERT_SECRET_KEY, name, namespace))
    return None
