# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Kubernetes API server a task talks to, and with which credentials: a GKE cluster or a fleet membership
reached with a Google access token, or the kubernetes.core-style options (``k8s``).

- ``gke_cluster: projects/P/locations/L/clusters/C``: the endpoint and CA that the GKE API (v1 ``clusters.get``)
  returns, and the Google access token as bearer, as ``gke-gcloud-auth-plugin`` would send it, with no plugin.
- ``fleet_membership: projects/P/locations/L/memberships/M``: the Connect Gateway
  (``connectgateway.googleapis.com/v1/projects/NUMBER/locations/L/{gkeMemberships|memberships}/M``) with the same
  token, for private clusters and clusters outside Google Cloud.

Only reads of the GKE, GKE Hub and Resource Manager APIs. The token comes from the ``gcp`` option names and ``GCP_*``
variables (``auth_kind``, ``service_account_file``, ...), with the ``userinfo.email`` scope so that RBAC sees a
service account's email.

A host's own cluster (``gke_cluster``, ``fleet_membership``, or ``kubeconfig``/``context`` set on the task) wins over
the play's environment (``K8S_AUTH_HOST``, ``K8S_AUTH_API_KEY``, ...); two of the task's own sources naming different
servers fail before any request to either (``ClusterSourceConflict``).
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import re

from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import (
    CLOUD_PLATFORM_SCOPE, GCP_AUTH_ARGSPEC, access_token, endpoint as google_endpoint,
)
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import api_errors, failure_message
from ansible_collections.configsync.oci.plugins.module_utils.k8s.client import (
    CONNECT_TIMEOUT, READ_TIMEOUT, RETRIES, KubernetesClient, _reason,
)
from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import KubernetesConfigError, KubernetesUnreachable
from ansible_collections.configsync.oci.plugins.module_utils.k8s.kubeconfig import (
    K8S_AUTH_ARGSPEC, ConnectionSettings, _file_or_data, settings_from_params as k8s_settings_from_params,
)

try:
    import urllib3
except ImportError:  # pragma: no cover
    urllib3 = None

USERINFO_EMAIL_SCOPE = "https://www.googleapis.com/auth/userinfo.email"
GKE_SCOPES = [CLOUD_PLATFORM_SCOPE, USERINFO_EMAIL_SCOPE]
DEFAULT_ENDPOINTS = {
    "container": "https://container.googleapis.com",
    "gkehub": "https://gkehub.googleapis.com",
    "connectgateway": "https://connectgateway.googleapis.com",
    "cloudresourcemanager": "https://cloudresourcemanager.googleapis.com",
}
CLUSTER_NAME = re.compile(r"^projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)$")
MEMBERSHIP_NAME = re.compile(r"^projects/([^/]+)/locations/([^/]+)/memberships/([^/]+)$")
# Cluster states in which the control plane answers (RECONCILING: an upgrade or a resize is under way).
SERVING_STATES = ("RUNNING", "RECONCILING", "DEGRADED")

_GOOGLE_AUTH = {name: spec for name, spec in GCP_AUTH_ARGSPEC.items()
                if name in ("auth_kind", "service_account_file", "service_account_contents", "service_account_email",
                            "access_token", "impersonate_service_account")}
CLUSTER_ARGSPEC = dict(
    gke_cluster=dict(type="str"),
    fleet_membership=dict(type="str"),
    **_GOOGLE_AUTH
)
# Options that say which server to reach, with the environment variable each falls back to.
_ENV_OF = {name: spec["fallback"][1][0] for name, spec in K8S_AUTH_ARGSPEC.items() if "fallback" in spec}
_SERVER_OPTIONS = ("host", "api_key", "ca_cert", "client_cert", "client_key", "validate_certs")
_KUBECONFIG_OPTIONS = ("kubeconfig", "context")


class ClusterSourceConflict(KubernetesConfigError):
    """Two sources of one task name different API servers."""


class ClusterLookupError(KubernetesConfigError):
    """The GKE, GKE Hub or Resource Manager API refused or failed a read."""


# ---------------------------------------------------------------------------------------------------------------------
# Rules (pure)
# ---------------------------------------------------------------------------------------------------------------------

def parse_name(option, value, pattern, form):
    match = pattern.match(value or "")
    if not match:
        raise KubernetesConfigError("%s %r is not a name of the form %s" % (option, value, form))
    return match.groups()


def parse_cluster(value):
    return parse_name("gke_cluster", value, CLUSTER_NAME, "projects/PROJECT/locations/LOCATION/clusters/CLUSTER")


def parse_membership(value):
    return parse_name("fleet_membership", value, MEMBERSHIP_NAME, "projects/PROJECT/locations/LOCATION/memberships/MEMBERSHIP")


def from_environment(params, explicit, name, environ):
    """Whether option ``name`` holds only the value of its K8S_AUTH_* fallback (the play's environment), not the task's."""
    env = _ENV_OF.get(name)
    return (name not in explicit and params.get(name) is not None and env is not None
            and environ.get(env) is not None)


def own_sources(params, explicit):
    """The task's own cluster sources, as (kind, description) in a fixed order."""
    sources = []
    if params.get("gke_cluster"):
        sources.append(("gke_cluster", "gke_cluster %s" % params["gke_cluster"]))
    if params.get("fleet_membership"):
        sources.append(("fleet_membership", "fleet_membership %s" % params["fleet_membership"]))
    if any(name in explicit and params.get(name) for name in _KUBECONFIG_OPTIONS):
        described = "kubeconfig %s" % (params["kubeconfig"] if isinstance(params.get("kubeconfig"), str) else
                                       "(dictionary)" if params.get("kubeconfig") else "(default)")
        if params.get("context"):
            described += " context %s" % params["context"]
        sources.append(("kubeconfig", described))
    if "host" in explicit and params.get("host"):
        sources.append(("host", "host %s" % params["host"]))
    return sources


def without_environment(params, explicit, environ, google_source):
    """The K8S_AUTH options with the play's environment values removed when the task has its own cluster source."""
    cleaned = dict(params)
    dropped = list(_SERVER_OPTIONS) + (list(_KUBECONFIG_OPTIONS) if google_source else [])
    for name in dropped:
        if from_environment(params, explicit, name, environ):
            cleaned[name] = None
    return cleaned


def conflict_message(first, first_server, second, second_server):
    return ("two cluster sources name different API servers: %s (%s) and %s (%s); set only one of them for this host"
            % (first, first_server, second, second_server))


def same_server(one, other):
    return one.rstrip("/").lower() == other.rstrip("/").lower()


def gateway_server(gateway, project_number, location, membership, registers_gke_cluster):
    collection = "gkeMemberships" if registers_gke_cluster else "memberships"
    return "%s/v1/projects/%s/locations/%s/%s/%s" % (gateway.rstrip("/"), project_number, location, collection, membership)


# ---------------------------------------------------------------------------------------------------------------------
# Google reads
# ---------------------------------------------------------------------------------------------------------------------

class GoogleReader(object):
    """JSON GETs against Google APIs with one access token (the same token then goes to the API server)."""

    def __init__(self, params):
        google = {name: params.get(name) for name in _GOOGLE_AUTH}
        google["scopes"] = GKE_SCOPES
        self.google = google
        self._token = None
        timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
        self.pool = urllib3.PoolManager(retries=RETRIES, timeout=timeout)

    def token(self, refresh=False):
        if self._token is None or refresh:
            try:
                self._token = access_token(self.google, rejected=self._token if refresh else None)
            except api_errors() as exc:
                raise ClusterLookupError("cannot get a Google access token for the cluster: %s"
                                         % failure_message(exc, "token"))
        return self._token

    def endpoint(self, api):
        return (google_endpoint({}, api) or DEFAULT_ENDPOINTS[api]).rstrip("/")

    def _get(self, url, what, api):
        try:
            return self.pool.request("GET", url, headers={"Authorization": "Bearer " + self.token(),
                                                          "Accept": "application/json", "User-Agent": "configsync.oci"})
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterLookupError("cannot read %s from %s: %s" % (what, self.endpoint(api), _reason(exc)))

    def get(self, api, path, what):
        url = self.endpoint(api) + path
        response = self._get(url, what, api)
        if response.status == 401:
            # A kept token can be revoked before it expires (a key disabled, a token revoked by hand): mint once more.
            self.token(refresh=True)
            response = self._get(url, what, api)
        if response.status >= 400:
            raise ClusterLookupError("cannot read %s: %s" % (what, _google_error(response)))
        return json.loads(response.data)


def _google_error(response):
    try:
        error = json.loads(response.data)["error"]
        return "%s %s %s" % (error.get("code", response.status), error.get("status", ""), error.get("message", ""))
    except (ValueError, KeyError, TypeError):
        return "HTTP %s" % response.status


def gke_cluster_settings(reader, name):
    """ConnectionSettings for a GKE cluster: its endpoint, the CA the GKE API returns, the Google token as bearer."""
    project, location, cluster_id = parse_cluster(name)
    cluster = reader.get("container", "/v1/projects/%s/locations/%s/clusters/%s" % (project, location, cluster_id),
                         "GKE cluster %s" % name)
    endpoint = cluster.get("endpoint")
    if not endpoint:
        raise ClusterLookupError("GKE cluster %s has no endpoint (status %s)" % (name, cluster.get("status")))
    if cluster.get("status") not in SERVING_STATES:
        raise ClusterLookupError("GKE cluster %s is %s, its control plane does not serve" % (name, cluster.get("status")))
    ca_data = (cluster.get("masterAuth") or {}).get("clusterCaCertificate")
    # clusterCaCertificate is base64 of the PEM: exactly kubeconfig's certificate-authority-data.
    ca_file = _file_or_data({"certificate-authority-data": ca_data}, "certificate-authority", "") if ca_data else None
    return ConnectionSettings("https://" + endpoint, ca_cert=ca_file, authorization=lambda: "Bearer " + reader.token())


def membership_settings(reader, name):
    """ConnectionSettings for a fleet membership: the Connect Gateway URL (project number) and the Google token."""
    project, location, membership_id = parse_membership(name)
    membership = reader.get("gkehub", "/v1/" + name, "fleet membership %s" % name)
    number = project
    if not project.isdigit():
        # The gateway wants the project number (as get-gke-credentials and gcloud look it up).
        number = reader.get("cloudresourcemanager", "/v3/projects/" + project, "project %s" % project)["name"].split("/")[-1]
    registers_gke = bool((membership.get("endpoint") or {}).get("gkeCluster"))
    server = gateway_server(reader.endpoint("connectgateway"), number, location, membership_id, registers_gke)
    return ConnectionSettings(server, authorization=lambda: "Bearer " + reader.token())


# ---------------------------------------------------------------------------------------------------------------------
# Entry point for the modules
# ---------------------------------------------------------------------------------------------------------------------

def explicit_options():
    """The option names the task itself set (module arguments and module_defaults), not filled from the environment."""
    from ansible.module_utils import basic
    try:
        return set(name for name in basic._load_params() if not name.startswith("_ansible"))
    except Exception:  # pragma: no cover - outside a module run, nothing is known to be explicit
        return set()


def settings_from_params(params, explicit=None, environ=None, reader_factory=GoogleReader):
    """The ConnectionSettings of the one API server this task reaches (raises KubernetesConfigError)."""
    import os
    environ = os.environ if environ is None else environ
    explicit = explicit_options() if explicit is None else explicit
    sources = own_sources(params, explicit)
    kinds = [kind for kind, _described in sources]
    if "gke_cluster" in kinds and "fleet_membership" in kinds:
        # Direct and through the gateway are two servers even for one cluster: the task must say which.
        raise ClusterSourceConflict("two cluster sources for one host: %s and %s; set only one of them" % (sources[0][1], sources[1][1]))
    google_source = next((s for s in sources if s[0] in ("gke_cluster", "fleet_membership")), None)
    # The play's K8S_AUTH_* values give way only to a source of the task's own; with none, they are the source.
    cleaned = without_environment(params, explicit, environ, google_source is not None) if sources else dict(params)
    if google_source is None:
        return k8s_settings_from_params(cleaned)
    others = [s for s in sources if s is not google_source]
    if others:
        # Parse the other source first: a kubeconfig that does not exist fails here, before any request.
        k8s_side = dict(cleaned)
        if "host" not in [kind for kind, _d in others]:
            k8s_side["host"] = None
        other_settings = k8s_settings_from_params(k8s_side)
    reader = reader_factory(params)
    if google_source[0] == "gke_cluster":
        settings = gke_cluster_settings(reader, params["gke_cluster"])
    else:
        settings = membership_settings(reader, params["fleet_membership"])
    if others and not same_server(settings.host, other_settings.host):
        raise ClusterSourceConflict(conflict_message(google_source[1], settings.host, others[0][1], other_settings.host))
    return settings


class NamedClusterClient(KubernetesClient):
    """A client whose "cannot reach" messages name the GKE cluster or membership as well as the server URL."""

    def __init__(self, settings, cluster):
        super(NamedClusterClient, self).__init__(settings)
        self.cluster = cluster

    def _send(self, *args, **kwargs):
        try:
            return super(NamedClusterClient, self)._send(*args, **kwargs)
        except KubernetesUnreachable as exc:
            raise KubernetesUnreachable("%s (%s)" % (exc, self.cluster))


def client_from_params(params):
    """A KubernetesClient for the task's cluster (every module that talks to Kubernetes uses this)."""
    if urllib3 is None:
        raise KubernetesConfigError("the urllib3 Python library is required (pip install urllib3)")
    settings = settings_from_params(params)
    if params.get("gke_cluster"):
        return NamedClusterClient(settings, "gke_cluster %s" % params["gke_cluster"])
    if params.get("fleet_membership"):
        return NamedClusterClient(settings, "fleet_membership %s" % params["fleet_membership"])
    return KubernetesClient(settings)
