# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Enable or disable a Google Cloud API on a project through the Service Usage API (REST): GET first, write only
when the state differs, wait for the long-running operation."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

from ansible_collections.configsync.oci.plugins.module_utils import gcp

# A service name is a DNS name, e.g. artifactregistry.googleapis.com.
_SERVICE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
WANTED_STATE = {"present": "ENABLED", "absent": "DISABLED"}
CHECK_IF_SERVICE_HAS_USAGE = {"skip": "SKIP", "check": "CHECK"}


class ServiceUsageRuleError(gcp.GcpOptionError):
    """A service name Service Usage would reject."""


def validate_service_name(service):
    if not service or not _SERVICE_NAME.match(service):
        raise ServiceUsageRuleError("service %r is not a Google Cloud service name (for example artifactregistry.googleapis.com)"
                                    % (service,))
    return service


def service_resource(project, service):
    return "projects/%s/services/%s" % (project, service)


def client(params):
    from google.cloud import service_usage_v1
    return service_usage_v1.ServiceUsageClient(
        credentials=gcp.credentials(params), transport="rest", client_options=gcp.client_options(params, "serviceusage"))


def _to_dict(message):
    from google.protobuf import json_format
    return json_format.MessageToDict(type(message).pb(message), preserving_proto_field_name=False)


class ServiceUsageApi(object):
    def __init__(self, api_client, timeout=300):
        self.client = api_client
        self.timeout = timeout

    def get(self, name):
        return _to_dict(self.client.get_service(request={"name": name}, timeout=60))

    def enable(self, name):
        self.client.enable_service(request={"name": name}, timeout=60).result(timeout=self.timeout)

    def disable(self, name, disable_dependent_services, check_if_service_has_usage):
        request = {"name": name, "disable_dependent_services": disable_dependent_services,
                   "check_if_service_has_usage": CHECK_IF_SERVICE_HAS_USAGE[check_if_service_has_usage]}
        self.client.disable_service(request=request, timeout=60).result(timeout=self.timeout)


def ensure_service(params, api, check_mode):
    """Make the service's state match ``params["state"]``; returns the module result."""
    project = gcp.require_project(params)
    service = validate_service_name(params.get("service"))
    name = service_resource(project, service)
    wanted = WANTED_STATE[params.get("state") or "present"]
    current = api.get(name)
    before = current.get("state", "STATE_UNSPECIFIED")
    changed = before != wanted
    if changed and not check_mode:
        if wanted == "ENABLED":
            api.enable(name)
        else:
            api.disable(name, bool(params.get("disable_dependent_services")), params.get("check_if_service_has_usage") or "skip")
        current = api.get(name)
    elif changed:
        current = dict(current, state=wanted)
    return {
        "changed": changed,
        "name": name,
        "state_before": before,
        "service": current,
        "diff": {"before": {"service": service, "state": before}, "after": {"service": service, "state": current.get("state")}},
    }
