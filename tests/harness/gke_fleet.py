"""GKE and fleet APIs for the emulator (tests/harness/gcp_emulator.py registers them):

- Kubernetes Engine v1 (container.googleapis.com): projects.locations.clusters get / list (``-`` = every location).
- GKE Hub v1 (gkehub.googleapis.com): projects.locations.memberships get / list.
- Cloud Resource Manager v3 projects.get (the project number the Connect Gateway URL needs).
- OAuth2 ``/tokeninfo`` (who an access token belongs to).
- The Connect Gateway (connectgateway.googleapis.com/v1/projects/NUMBER/locations/L/{gkeMemberships|memberships}/M/...):
  a reverse proxy to the membership's local API server, passing the caller's Google token on.
- ``/__emulator/tokenreview``: a kube-apiserver TokenReview webhook (authentication.k8s.io/v1) answering with the
  token's principal, so test API servers accept Google tokens as GKE does and RBAC decides what the identity may do.

Clusters and memberships are seeded through ``/__emulator/gke-clusters`` and ``/__emulator/memberships`` (see
docs/emulator.md, "GKE, GKE Hub and the Connect Gateway"). This module never imports gcp_emulator (which may run as
``__main__``); the emulator hands over its error class.
"""
import base64
import hashlib
import http.client
import json
import re
import ssl
import threading
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

CONTAINER_SERVICE = "container.googleapis.com"
GKEHUB_SERVICE = "gkehub.googleapis.com"
SEGMENT = r"([^/:]+)"
P_L = r"/v1/projects/" + SEGMENT + "/locations/" + SEGMENT
GATEWAY = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/(gkeMemberships|memberships)/([^/]+)(/.+)$")
TOKEN_REVIEW_PATH = "/__emulator/tokenreview"
ZONE = re.compile(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")
# Headers a reverse proxy must not forward (RFC 9110 7.6.1), plus those http.server writes itself.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding",
              "upgrade", "host", "content-length", "date", "server"}
GATEWAY_WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE"}

# (HTTP method, path pattern, API method name, handler, changes state): appended to the emulator's ROUTES.
ROUTES = [
    ("GET", P_L + "/clusters", "container.projects.locations.clusters.list", "gke.list_clusters", False),
    ("GET", P_L + "/clusters/" + SEGMENT, "container.projects.locations.clusters.get", "gke.get_cluster", False),
    ("GET", P_L + "/memberships", "gkehub.projects.locations.memberships.list", "gke.list_memberships", False),
    ("GET", P_L + "/memberships/" + SEGMENT, "gkehub.projects.locations.memberships.get", "gke.get_membership", False),
    ("GET", r"/v3/projects/" + SEGMENT, "cloudresourcemanager.projects.get", "gke.get_project", False),
]


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_gateway_path(path):
    return GATEWAY.match(path) is not None


def reset_state(emulator):
    emulator.clusters = {}      # "projects/ID/locations/L/clusters/C" -> stored Cluster JSON (+ "_..." test fields)
    emulator.memberships = {}   # "projects/ID/locations/L/memberships/M" -> stored Membership JSON (+ "_server", "_ca")


class GkeFleet:
    """The handlers; each runs under the emulator lock (the gateway proxy does not)."""

    def __init__(self, emulator, api_error):
        self.emulator = emulator
        self.ApiError = api_error  # pylint: disable=invalid-name
        self._ssl = {}
        self._ssl_lock = threading.Lock()

    # ----- errors as the two APIs answer them -----

    def container_not_found(self, project_ref, location, cluster):
        # Recorded: a zonal cluster's 404 names it in the zones/ form although the request used locations/;
        # the container API adds the legacy errors[] list.
        form = "zones" if ZONE.match(location) else "locations"
        message = "Not found: projects/{0}/{1}/{2}/clusters/{3}.".format(project_ref, form, location, cluster)
        error = self.ApiError("NOT_FOUND", message)
        error.body = lambda: {"error": {"code": 404, "errors": [{"domain": "global", "message": message, "reason": "notFound"}],
                                        "message": message, "status": "NOT_FOUND"}}
        return error

    def hub_not_found(self, name):
        # The recorded GKE Hub v1 404 (fleets): no errors[] list.
        return self.ApiError("NOT_FOUND", "Resource '{0}' was not found".format(name))

    def permission_denied(self, service, permission, resource):
        message = "Permission '{0}' denied on resource '//{1}/{2}' (or it may not exist).".format(permission, service, resource)
        return self.ApiError("PERMISSION_DENIED", message, [{
            "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED", "domain": service,
            "metadata": {"permission": permission, "resource": resource}}])

    def project(self, project_ref, service, permission, resource):
        project = self.emulator.project(project_ref)
        if project is None:
            raise self.permission_denied(service, permission, resource)
        return project

    # ----- Kubernetes Engine v1 -----

    def cluster_view(self, stored):
        return json.loads(json.dumps({key: value for key, value in stored.items() if not key.startswith("_")}))

    def get_cluster(self, ctx, project_ref, location, cluster):
        resource = "projects/{0}/locations/{1}/clusters/{2}".format(project_ref, location, cluster)
        project = self.project(project_ref, CONTAINER_SERVICE, "container.clusters.get", resource)
        stored = self.emulator.clusters.get("projects/{0}/locations/{1}/clusters/{2}".format(project["projectId"], location, cluster))
        if stored is None:
            raise self.container_not_found(project_ref, location, cluster)
        return self.cluster_view(stored)

    def list_clusters(self, ctx, project_ref, location):
        resource = "projects/{0}/locations/{1}".format(project_ref, location)
        project = self.project(project_ref, CONTAINER_SERVICE, "container.clusters.list", resource)
        prefix = "projects/{0}/locations/".format(project["projectId"])
        found = [self.cluster_view(stored) for name, stored in sorted(self.emulator.clusters.items())
                 if name.startswith(prefix) and (location == "-" or stored["location"] == location
                                                 or (location in stored["locations"] and not ZONE.match(location)))]
        # Proto3 JSON leaves out empty repeated fields: no clusters, no key (missingZones likewise).
        return {"clusters": found} if found else {}

    # ----- GKE Hub v1 -----

    def membership_view(self, stored):
        return json.loads(json.dumps({key: value for key, value in stored.items() if not key.startswith("_")}))

    def get_membership(self, ctx, project_ref, location, membership):
        name = "projects/{0}/locations/{1}/memberships/{2}".format(project_ref, location, membership)
        project = self.project(project_ref, GKEHUB_SERVICE, "gkehub.memberships.get", name)
        stored = self.emulator.memberships.get("projects/{0}/locations/{1}/memberships/{2}".format(project["projectId"], location, membership))
        if stored is None:
            raise self.hub_not_found(name)
        return self.membership_view(stored)

    def list_memberships(self, ctx, project_ref, location):
        parent = "projects/{0}/locations/{1}".format(project_ref, location)
        project = self.project(project_ref, GKEHUB_SERVICE, "gkehub.memberships.list", parent)
        prefix = "projects/{0}/locations/".format(project["projectId"])
        items = [self.membership_view(stored) for name, stored in sorted(self.emulator.memberships.items())
                 if name.startswith(prefix) and location in ("-", stored["_location"])]
        size = int((ctx.query.get("pageSize") or ["0"])[0] or 0) or 1000
        start = int((ctx.query.get("pageToken") or ["0"])[0] or 0)
        out = {"resources": items[start:start + size]} if items[start:start + size] else {}
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return out

    # ----- Cloud Resource Manager v3 -----

    def get_project(self, ctx, project_ref):
        project = self.emulator.project(project_ref)
        if project is None:
            raise self.ApiError("PERMISSION_DENIED", "Permission 'resourcemanager.projects.get' denied on resource "
                                                     "'//cloudresourcemanager.googleapis.com/projects/{0}' (or it may not exist).".format(project_ref))
        return {"name": "projects/" + project["projectNumber"], "parent": "organizations/0", "projectId": project["projectId"],
                "state": "ACTIVE", "displayName": project["projectId"], "createTime": "2024-04-01T12:34:56.123456Z",
                "etag": "W/\"" + hashlib.sha256(project["projectId"].encode()).hexdigest()[:16] + "\""}

    # ----- seeding (control endpoints) -----

    def control(self, action, body):
        """The answer to a /__emulator/ control call this module owns, or None."""
        if action == ("POST", "gke-clusters"):
            return self.seed_cluster(body)
        if action == ("POST", "memberships"):
            return self.seed_membership(body)
        if action == ("DELETE", "gke-clusters"):
            self.emulator.clusters.pop(body["name"], None)
            return {}
        return None

    def seed_cluster(self, body):
        """A RUNNING cluster: name projects/ID/locations/L/clusters/C, endpoint HOST:PORT of its API server, caPem."""
        project_id, location, cluster = re.match(r"^projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)$", body["name"]).groups()
        project = self.emulator.project(project_id)
        if project is None:
            project = self.emulator.seed_project(project_id)
        number = project["projectNumber"]
        form = "zones" if ZONE.match(location) else "locations"
        digest = hashlib.sha256(body["name"].encode()).hexdigest()
        ca = base64.b64encode(body["caPem"].encode()).decode() if body.get("caPem") else None
        stored = {
            "name": cluster,
            "nodeConfig": {"machineType": "e2-medium", "diskSizeGb": 100},
            "masterAuth": {"clientCertificateConfig": {}},
            "loggingService": "logging.googleapis.com/kubernetes",
            "monitoringService": "monitoring.googleapis.com/kubernetes",
            "network": "default",
            "clusterIpv4Cidr": "10.112.0.0/14",
            "resourceLabels": dict(body.get("labels") or {}),
            "labelFingerprint": digest[:8],
            "selfLink": "https://container.googleapis.com/v1/projects/{0}/{1}/{2}/clusters/{3}".format(project_id, form, location, cluster),
            "zone": location,
            "endpoint": body["endpoint"],
            "controlPlaneEndpointsConfig": {
                "dnsEndpointConfig": {"allowExternalTraffic": False,
                                      "endpoint": "gke-{0}-{1}.{2}.gke.goog".format(digest[:36], number, location)},
                "ipEndpointsConfig": {"enabled": True, "enablePublicEndpoint": True, "publicEndpoint": body["endpoint"],
                                      "privateEndpoint": "10.2.0.2", "authorizedNetworksConfig": {}}},
            "initialClusterVersion": body.get("version", "1.35.3-gke.1389000"),
            "currentMasterVersion": body.get("version", "1.35.3-gke.1389000"),
            "currentNodeVersion": body.get("version", "1.35.3-gke.1389000"),
            "createTime": now(),
            "status": body.get("status", "RUNNING"),
            "currentNodeCount": 1,
            "location": location,
            "locations": [location] if ZONE.match(location) else [location + "-a", location + "-b", location + "-c"],
            "id": digest[:32],
            "etag": base64.b64encode(bytes.fromhex(digest[:16])).decode(),
        }
        if ca:
            stored["masterAuth"]["clusterCaCertificate"] = ca
        if body.get("workloadPool", True):
            stored["workloadIdentityConfig"] = {"workloadPool": "{0}.svc.id.goog".format(project_id)}
        if body.get("membership"):
            stored["fleet"] = {"project": "projects/" + number, "membership": "//gkehub.googleapis.com/" + body["membership"]}
        if not ca:
            stored["masterAuth"].pop("clusterCaCertificate", None)
        self.emulator.clusters["projects/{0}/locations/{1}/clusters/{2}".format(project_id, location, cluster)] = stored
        return self.cluster_view(stored)

    def seed_membership(self, body):
        """A READY membership: name projects/ID/locations/L/memberships/M, its API server (server, caPem), and the GKE
        cluster it registers (``cluster``, full name) or none (a cluster outside Google Cloud). A cluster outside Google
        Cloud gets an ``authority`` (fleet Workload Identity) when ``issuer`` (its service-account issuer URL) is given;
        ``oidcJwks`` (a JWKS object, or its base64) are the keys its tokens are checked with (tests/harness/gcp_sts.py)."""
        project_id, location, membership = re.match(r"^projects/([^/]+)/locations/([^/]+)/memberships/([^/]+)$", body["name"]).groups()
        project = self.emulator.project(project_id) or self.emulator.seed_project(project_id)
        stamp = now()
        unique = hashlib.sha256(body["name"].encode()).hexdigest()
        stored = {
            "name": body["name"],
            "labels": dict(body.get("labels") or {}),
            "endpoint": {"kubernetesMetadata": {"kubernetesApiServerVersion": "v1.35.3-gke.1389000", "nodeCount": 1,
                                                "vcpuCount": 2, "memoryMb": 4096, "updateTime": stamp}},
            "state": {"code": "READY"},
            "createTime": stamp,
            "updateTime": stamp,
            "externalId": "{0}-{1}-{2}-{3}-{4}".format(unique[:8], unique[8:12], unique[12:16], unique[16:20], unique[20:32]),
            "uniqueId": unique[32:64],
            "monitoringConfig": {"projectId": project_id, "location": location, "cluster": membership},
            "_location": location,
            "_server": body["server"],
            "_caPem": body.get("caPem"),
        }
        cluster = body.get("cluster")
        if cluster:
            c_project, c_location, c_name = re.match(r"^projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)$", cluster).groups()
            issuer = "https://container.googleapis.com/v1/projects/{0}/locations/{1}/clusters/{2}".format(c_project, c_location, c_name)
            stored["endpoint"]["gkeCluster"] = {"resourceLink": "//container.googleapis.com/" + cluster}
            stored["authority"] = {"issuer": issuer, "workloadIdentityPool": "{0}.svc.id.goog".format(project["projectId"]),
                                   "identityProvider": issuer}
            stored["monitoringConfig"].update({"location": c_location, "cluster": c_name, "kubernetesMetricsPrefix": "kubernetes.io"})
        elif body.get("issuer"):
            # A cluster outside Google Cloud registered with its service-account issuer (fleet Workload Identity): its
            # identity provider is the membership itself, in the fleet host project's pool.
            stored["authority"] = {"issuer": body["issuer"], "workloadIdentityPool": "{0}.svc.id.goog".format(project["projectId"]),
                                   "identityProvider": "https://gkehub.googleapis.com/projects/{0}/locations/{1}/memberships/{2}".format(
                                       project["projectId"], location, membership)}
        if body.get("oidcJwks") and "authority" in stored:
            # The cluster's verification keys (JWKS, RFC 7517), bytes in the API: base64 in JSON. Google then performs
            # no OIDC discovery on the issuer; the emulator's STS checks subject tokens against these keys.
            jwks = body["oidcJwks"]
            stored["authority"]["oidcJwks"] = jwks if not isinstance(jwks, dict) else base64.b64encode(json.dumps(jwks).encode()).decode()
        self.emulator.memberships[body["name"]] = stored
        return self.membership_view(stored)

    # ----- who a token belongs to -----

    def token_owner(self, token):
        """(principal, seconds left) of a live access token, or None."""
        with self.emulator.lock:
            issued = self.emulator.tokens.get(token)
        if not issued or issued["expires"] <= time.time():
            return None
        return issued["principal"], int(issued["expires"] - time.time())

    def tokeninfo(self, query):
        """oauth2.googleapis.com/tokeninfo?access_token=T: 200 with email and expiry, or 400 invalid_token."""
        owner = self.token_owner((query.get("access_token") or [""])[0])
        if owner is None:
            return 400, {"error": "invalid_token", "error_description": "Invalid Value"}
        principal, left = owner
        answer = {"azp": "emulator", "aud": "emulator", "scope": "https://www.googleapis.com/auth/cloud-platform "
                  "https://www.googleapis.com/auth/userinfo.email", "exp": str(int(time.time()) + left), "expires_in": str(left),
                  "access_type": "online"}
        if "@" in principal:
            answer.update({"email": principal, "email_verified": "true"})
        return 200, answer

    def token_review(self, review):
        """The TokenReview kube-apiserver's webhook authenticator sends, answered with the token's Google identity
        (the email, as GKE names a Google user or service account to RBAC)."""
        token = ((review or {}).get("spec") or {}).get("token") or ""
        owner = self.token_owner(token)
        out = {"apiVersion": (review or {}).get("apiVersion") or "authentication.k8s.io/v1", "kind": "TokenReview"}
        if owner is None:
            out["status"] = {"authenticated": False, "error": "not a valid Google access token"}
        else:
            out["status"] = {"authenticated": True, "user": {"username": owner[0], "uid": hashlib.sha256(owner[0].encode()).hexdigest()[:21],
                                                             "groups": ["system:authenticated"]}}
        return out

    # ----- the Connect Gateway -----

    def gateway_target(self, path, principal):
        """(server URL, CA PEM, Kubernetes path) for a gateway request, or an ApiError."""
        number, location, collection, membership, rest = GATEWAY.match(path).groups()
        with self.emulator.lock:
            project = self.emulator.project(number)
            if project is None or not number.isdigit():
                # The gateway wants the project number; an ID (or an unknown number) is refused.
                raise self.permission_denied("connectgateway.googleapis.com", "gkehub.gateway.get",
                                             "projects/{0}/locations/{1}/memberships/{2}".format(number, location, membership))
            name = "projects/{0}/locations/{1}/memberships/{2}".format(project["projectId"], location, membership)
            stored = self.emulator.memberships.get(name)
            if stored is None:
                raise self.hub_not_found("projects/{0}/locations/{1}/memberships/{2}".format(number, location, membership))
            if (collection == "gkeMemberships") != ("gkeCluster" in stored["endpoint"]):
                raise self.ApiError("FAILED_PRECONDITION", "membership {0} {1} a GKE cluster: use /{2}/".format(
                    name, "registers" if collection == "memberships" else "does not register",
                    "memberships" if collection == "gkeMemberships" else "gkeMemberships"))
            return stored["_server"], stored["_caPem"], rest

    def ssl_context(self, ca_pem):
        with self._ssl_lock:
            context = self._ssl.get(ca_pem)
            if context is None:
                context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
                self._ssl[ca_pem] = context
            return context

    def proxy(self, handler, verb, path, query_string, raw):
        """Forward one gateway request to the membership's API server and stream the answer back; returns
        (status, apiMethod, write) for the request log."""
        server, ca_pem, kube_path = self.gateway_target(path, None)
        target = urlsplit(server)
        connection = http.client.HTTPSConnection(target.hostname, target.port, context=self.ssl_context(ca_pem), timeout=120)
        headers = {name: value for name, value in handler.headers.items() if name.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(raw))
        try:
            connection.request(verb, kube_path + ("?" + query_string if query_string else ""), body=raw, headers=headers)
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            raise self.ApiError("UNAVAILABLE", "the Connect agent of this membership is not connected: {0}".format(exc))
        try:
            handler.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    handler.send_header(name, value)
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            while True:
                piece = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
                if not piece:
                    break
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")
        finally:
            connection.close()
        return response.status
