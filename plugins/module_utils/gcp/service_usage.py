# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Enable or disable a Google Cloud API on a project through the Service Usage API (REST): GET first, write only
when the state differs, wait for the long-running operation."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re
import time

from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import (
    credentials as gcp_credentials, endpoint, require_project,
)
from ansible_collections.configsync.oci.plugins.module_utils.gcp.clients import client_options, message_to_dict, transient_retry, TRANSIENT_STATUS
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import GcpError, GcpOptionError

# A service name is a DNS name, e.g. artifactregistry.googleapis.com.
_SERVICE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
WANTED_STATE = {"present": "ENABLED", "absent": "DISABLED"}
CHECK_IF_SERVICE_HAS_USAGE = {"skip": "SKIP", "check": "CHECK"}


class ServiceUsageRuleError(GcpOptionError):
    """A service name Service Usage would reject."""


def validate_service_name(service):
    if not service or not _SERVICE_NAME.match(service):
        raise ServiceUsageRuleError("service %r is not a Google Cloud service name (for example artifactregistry.googleapis.com)"
                                    % (service,))
    return service


def service_resource(project, service):
    return "projects/%s/services/%s" % (project, service)


DEFAULT_ENDPOINT = "https://serviceusage.googleapis.com"
POLL_FIRST_DELAY = 0.2
POLL_MAX_DELAY = 5.0


def client(params, credentials=None):
    from google.cloud import service_usage_v1
    return service_usage_v1.ServiceUsageClient(
        credentials=credentials or gcp_credentials(params), transport="rest", client_options=client_options(params, "serviceusage"))


def base_url(params):
    url = endpoint(params, "serviceusage") or DEFAULT_ENDPOINT
    return (url if "://" in url else "https://" + url).rstrip("/")


def operation_outcome(operation):
    """None while the operation runs; raises GcpError when it failed; True when it is done."""
    if not operation.get("done"):
        return None
    error = operation.get("error")
    if error:
        raise GcpError("operation %s failed: %s %s" % (operation.get("name"), error.get("code", ""), error.get("message", "")))
    return True


class ServiceUsageApi(object):
    """Service Usage reads and writes. Operations are polled as plain JSON rather than through the library's
    operations client: Service Usage's enable/disable operations carry ``metadata`` of type google.protobuf.Empty
    written as ``{"@type": ..., "value": {}}`` (proto3 JSON for a well-known type inside Any, and what the real API
    sends), which the protobuf Python JSON parser rejects ("Empty has no field named value")."""

    def __init__(self, params, timeout=300, credentials=None, sleep=time.sleep):
        from google.auth.transport.requests import AuthorizedSession
        credentials = credentials or gcp_credentials(params)
        self.client = client(params, credentials)
        self.session = AuthorizedSession(credentials)
        self.base_url = base_url(params)
        self.timeout = timeout
        self.sleep = sleep
        # get/enable/disable are idempotent: all of them ride out 429/5xx.
        self.retry = transient_retry()

    def wait(self, operation):
        """Poll ``operation`` (its name) until done, with growing delays, for at most ``self.timeout`` seconds."""
        name = operation.operation.name
        deadline, delay = time.monotonic() + self.timeout, POLL_FIRST_DELAY
        while True:
            response = self.session.get("%s/v1/%s" % (self.base_url, name), timeout=60)
            if response.status_code in TRANSIENT_STATUS:
                response = None  # a transient answer while polling: just poll again
            elif response.status_code != 200:
                raise GcpError("polling operation %s failed: HTTP %d %s" % (name, response.status_code, response.text[:500]))
            if response is not None and operation_outcome(response.json()):
                return
            if time.monotonic() + delay > deadline:
                raise GcpError("operation %s did not finish within %d seconds" % (name, self.timeout))
            self.sleep(delay)
            delay = min(POLL_MAX_DELAY, delay * 2)

    def get(self, name):
        return message_to_dict(self.client.get_service(request={"name": name}, retry=self.retry, timeout=60))

    def enable(self, name):
        self.wait(self.client.enable_service(request={"name": name}, retry=self.retry, timeout=60))

    def disable(self, name, disable_dependent_services, check_if_service_has_usage):
        request = {"name": name, "disable_dependent_services": disable_dependent_services,
                   "check_if_service_has_usage": CHECK_IF_SERVICE_HAS_USAGE[check_if_service_has_usage]}
        self.wait(self.client.disable_service(request=request, retry=self.retry, timeout=60))


def wanted_service(params):
    """The service's resource name (``projects/P/services/S``) from the options, checked, no request."""
    return service_resource(require_project(params), validate_service_name(params["service"]))


def ensure_service(params, name, api, check_mode):
    """Make the state of the service ``name`` (``wanted_service``'s result) match ``params["state"]``; returns the
    module result."""
    wanted = WANTED_STATE[params["state"]]
    current = api.get(name)
    before = current.get("state", "STATE_UNSPECIFIED")
    changed = before != wanted
    if changed and not check_mode:
        if wanted == "ENABLED":
            api.enable(name)
        else:
            api.disable(name, params["disable_dependent_services"], params["check_if_service_has_usage"])
        current = api.get(name)
    elif changed:
        current = dict(current, state=wanted)
    return {
        "changed": changed,
        "name": name,
        "state_before": before,
        "service": current,
        "diff": {"before": {"service": params["service"], "state": before},
                 "after": {"service": params["service"], "state": current.get("state")}},
    }
