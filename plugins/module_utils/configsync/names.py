# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Config Sync's naming rules, as pure functions: reconciler and service-account names, the limits Config Sync
enforces on RootSync/RepoSync names, and the Workload Identity member of a reconciler.

The rules mirror Config Sync's source (``pkg/core/names.go``, ``pkg/reconcilermanager/constants.go``,
``pkg/validate``) so that a playbook fails before any request where Config Sync would reject the object later.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError

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


class ConfigSyncRuleError(ConfigSyncError, ValueError):
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


def root_sync_name_warning(kind, name):
    """The warning for a RootSync name valid now but over the limit older Config Sync versions documented."""
    if kind == ROOT_SYNC_KIND and len(name) > ROOT_SYNC_NAME_LEGACY_MAX:
        return ("RootSync name %r has %d characters: current Config Sync accepts up to %d, but older versions documented "
                "a limit of %d, so clusters on those versions may reject it" % (name, len(name), ROOT_SYNC_NAME_MAX, ROOT_SYNC_NAME_LEGACY_MAX))
    return None
