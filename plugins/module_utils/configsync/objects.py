# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The objects this collection writes for Config Sync, and where they live on the API server: the RootSync / RepoSync
(configsync.gke.io/v1beta1, sourceType oci) with the rules Config Sync checks on it, the RepoSync reconciler's
RoleBinding, and the CA-certificate Secret check.

Messages carry Config Sync's own code and wording (pkg/validate/rsync/validate/source_spec_validator.go,
pkg/reconcilermanager/controllers/reconciler_base.go validateCACertSecret).
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import posixpath
import re

from ansible_collections.configsync.oci.plugins.module_utils.configsync.names import (
    CONFIG_MANAGEMENT_SYSTEM, ConfigSyncRuleError, is_dns1123_label, is_dns1123_subdomain, knv1061, reconciler_name,
    REPO_SYNC_KIND, ROOT_SYNC_KIND, validate_gcp_service_account_email, validate_sync,
)
from ansible_collections.configsync.oci.plugins.module_utils.k8s.client import collection_path, object_path
from ansible_collections.configsync.oci.plugins.module_utils.oci.reference import ReferenceError, parse_reference


API_GROUP = "configsync.gke.io"
API_VERSION = API_GROUP + "/v1beta1"
SYNC_PLURALS = {"RootSync": "rootsyncs", "RepoSync": "reposyncs"}
# The resource-group controller's ResourceGroup (one per sync object, same name and namespace): the inventory of what
# the sync applied, with each object's status.
RESOURCE_GROUP_API_VERSION = "kpt.dev/v1alpha1"
RESOURCE_GROUP_PLURAL = "resourcegroups"


def sync_path(kind, namespace, name):
    return object_path(API_VERSION, SYNC_PLURALS[kind], namespace, name)


def sync_collection(kind, namespace=None):
    return collection_path(API_VERSION, SYNC_PLURALS[kind], namespace)


def role_binding_path(namespace, name):
    return object_path("rbac.authorization.k8s.io/v1", "rolebindings", namespace, name)


def resource_group_path(namespace, name):
    return object_path(RESOURCE_GROUP_API_VERSION, RESOURCE_GROUP_PLURAL, namespace, name)


def resource_group_collection(namespace=None):
    return collection_path(RESOURCE_GROUP_API_VERSION, RESOURCE_GROUP_PLURAL, namespace)


OCI_AUTH_TYPES = ("gcenode", "gcpserviceaccount", "k8sserviceaccount", "none", "token")
SOURCE_FORMATS = ("hierarchy", "unstructured")
GCP_SA_SUFFIX = ".iam.gserviceaccount.com"
ROLE_REF_KINDS = ("ClusterRole", "Role")


MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "configsync.oci"

# Go's time.ParseDuration grammar (metav1.Duration): "15s", "1m30s", "1.5h", "0".
_GO_DURATION = re.compile(r"^(0|[+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|ms|s|m|h))+)$")


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


def parse_image(image):
    """The sync object's image as oci-sync reads it (no host: Docker Hub's), by the one grammar of oci/reference.py.

    Raises ConfigSyncRuleError naming the bad part, so the mistake shows up before the RootSync is written.
    """
    try:
        return parse_reference(image, require_host=False)
    except ReferenceError as exc:
        raise ConfigSyncRuleError(str(exc))


def expected_commit(image, expected_digest=None):
    """The commit Config Sync reports once the image is synced: its digest hex, without ``sha256:``.

    ``expected_digest`` (with or without ``sha256:``) wins; a tag-only image without it has no known commit (None).
    """
    digest = expected_digest or parse_image(image).digest
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


def validate_dir(directory):
    """``spec.oci.dir`` must name a directory inside the image: relative, and not reaching above the image root."""
    if directory is None:
        return None
    normalised = posixpath.normpath(directory) if directory else ""
    if not directory or directory.startswith("/") or normalised == ".." or normalised.startswith("../"):
        raise ConfigSyncRuleError("dir %r leaves the image root: give a relative path inside the image such as . or "
                                  "clusters/prod" % (directory,))
    return directory


def validate_stated(params):
    """Check every source option that was given, whatever the state: a bad value is an error even for a delete."""
    validate_period(params.get("period"))
    validate_dir(params.get("dir"))
    if params.get("image") is not None:
        expected_commit(params["image"], params.get("expected_digest"))


# Source options -> where build_sync_object puts them in the object (a path of keys). Not auth: it has a default
# (auto) that resolves per cluster version, so it does not say which object is meant.
_STATED_FIELDS = (
    ("image", ("spec", "oci", "image")), ("dir", ("spec", "oci", "dir")), ("period", ("spec", "oci", "period")),
    ("source_format", ("spec", "sourceFormat")),
    ("gcp_service_account_email", ("spec", "oci", "gcpServiceAccountEmail")),
    ("secret_ref", ("spec", "oci", "secretRef", "name")), ("ca_cert_secret", ("spec", "oci", "caCertSecretRef", "name")),
)


def stated_mismatches(params, live):
    """The options given whose value the live object does not have, as readable phrases."""
    found = []
    for option, path in _STATED_FIELDS:
        wanted = params.get(option)
        if wanted is None:
            continue
        value = live
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value != wanted:
            found.append("%s is %r, not %r" % (option, value, wanted))
    return found


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
    parse_image(image)
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


# The fields of spec.override in the v1beta1 schemas (manifests/rootsync-crd.yaml, reposync-crd.yaml of v1.24.3). The
# API server prunes any other field of a structural schema without a word, so it is refused here instead.
OVERRIDE_FIELDS = {
    ROOT_SYNC_KIND: ("apiServerTimeout", "enableShellInRendering", "gitSyncDepth", "logLevels", "namespaceStrategy",
                     "reconcileTimeout", "resources", "roleRefs", "statusMode"),
    REPO_SYNC_KIND: ("apiServerTimeout", "enableShellInRendering", "gitSyncDepth", "logLevels", "reconcileTimeout",
                     "resources", "statusMode"),
}


def validate_override(kind, override):
    """Every top-level field of ``override`` is one the kind's spec.override schema has."""
    unknown = sorted(set(override or {}) - set(OVERRIDE_FIELDS[kind]))
    if unknown:
        raise ConfigSyncRuleError("override.%s is not a field of a %s's spec.override (the API server would drop it); "
                                  "its fields are %s" % (unknown[0], kind, ", ".join(OVERRIDE_FIELDS[kind])))


def build_sync_object(kind, name, namespace, image, auth, directory=None, period=None, gcp_service_account_email=None,
                      ca_cert_secret=None, source_format=None, override=None, role_refs=None, secret_ref=None):
    """The RootSync/RepoSync object to apply (server-side apply: only the fields this collection owns).

    Validates first; raises ConfigSyncRuleError for anything Config Sync would reject.
    """
    namespace = validate_sync(kind, name, namespace)
    validate_oci_source(kind, image, auth, gcp_service_account_email, source_format, period, secret_ref)
    validate_dir(directory)
    role_refs = validate_role_refs(kind, role_refs)
    validate_override(kind, override)
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
