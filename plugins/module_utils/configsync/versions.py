# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Config Sync versions: the version in the reconciler-manager image tag (what ``auth: auto`` decides by), and the
ConfigManagement version nomos reads to choose its status rules.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

from ansible_collections.configsync.oci.plugins.module_utils.configsync.names import ConfigSyncRuleError
from ansible_collections.configsync.oci.plugins.module_utils.configsync.objects import parse_image
from ansible_collections.configsync.oci.plugins.module_utils.k8s.client import get_optional, object_path


RECONCILER_MANAGER_PATH = object_path("apps/v1", "deployments", "config-management-system", "reconciler-manager")
CONFIG_MANAGEMENT_PATH = "/apis/configmanagement.gke.io/v1/configmanagements/config-management"


def config_management_version(client):
    """status.configManagementVersion of the ConfigManagement object (GKE-managed installs), or None (open source)."""
    obj = get_optional(client, CONFIG_MANAGEMENT_PATH)
    return ((obj or {}).get("status") or {}).get("configManagementVersion")


RECONCILER_MANAGER = "reconciler-manager"
# Config Sync 1.17.2 added spec.oci.auth k8sserviceaccount with Workload Identity for Artifact Registry; older
# versions need gcpserviceaccount and a Google service account (the seed's step 3a / 3b).
K8S_SERVICE_ACCOUNT_MIN_VERSION = (1, 17, 2)
# nomos reads the Syncing condition only from this version on (cmd/nomos/status/client.go).
SYNCING_CONDITION_MIN_VERSION = (1, 10, 0)


_VERSION = re.compile(r"^v?(?P<major>[0-9]+)\.(?P<minor>[0-9]+)\.(?P<patch>[0-9]+)")


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
        tag = parse_image(image).tag
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


def syncing_condition_supported(config_management_version):
    """nomos: the Syncing condition is read from ConfigManagement version 1.10.0-rc.1 on; unknown -> legacy rules."""
    version = parse_version(config_management_version or "")
    return version is not None and version >= SYNCING_CONDITION_MIN_VERSION
