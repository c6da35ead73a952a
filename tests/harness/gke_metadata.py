"""The GKE metadata server as a Pod with Workload Identity sees it: one listener per Kubernetes service account.

A reconciler Pod's Google libraries find it through ``GCE_METADATA_HOST`` (Go; Python also pings
``GCE_METADATA_IP``), which ``pod_env()`` gives each reconciler container. On every token request the server reads
the Pod's KSA from the API server, as GKE's does:

* KSA without ``iam.gke.io/gcp-service-account``: a token for the KSA's federated identity, principal
  ``PROJECT.svc.id.goog[NAMESPACE/KSA]`` (IAM member ``serviceAccount:PROJECT.svc.id.goog[NAMESPACE/KSA]``), where
  PROJECT is the cluster's fleet host project (``project_id``); ``email`` answers ``PROJECT.svc.id.goog``.
* KSA annotated with a Google service account: a token for that account only if the KSA's member holds
  ``iam.serviceAccounts.getAccessToken`` on it (``roles/iam.workloadIdentityUser``) in the emulator's policy of that
  account; otherwise HTTP 403 with GKE's text body (docs/emulator.md has the source).

Answers carry ``Metadata-Flavor: Google``; requests without that header get 403. ``requests()`` lists
``(namespace, ksa, path, status, principal)``.
"""
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from harness.ar_docker import EmulatorClient, QuietServer
from harness.gcp_emulator import SA_GET_ACCESS_TOKEN
from harness.process import LOOPBACK

GSA_ANNOTATION = "iam.gke.io/gcp-service-account"
TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
WORKLOAD_IDENTITY_DENIED = (
    "Unable to generate access token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied on "
    "resource (or it may not exist).\nThis error could be caused by a missing IAM policy binding on the target IAM service "
    "account.\nFor more information, refer to the Workload Identity documentation:\n\t"
    "https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity#authenticating_to\n")
TOKEN_LIFETIME = 3599


class MetadataHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Metadata Server for VM"
    sys_version = ""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def send(self, status, text, content_type="application/text"):
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return status

    def do_GET(self):
        server = self.server
        url = urllib.parse.urlsplit(self.path)
        entry = {"namespace": server.namespace, "ksa": server.ksa, "path": url.path, "principal": None}
        if self.headers.get("Metadata-Flavor") != "Google":
            entry["status"] = self.send(403, "Missing required header \"Metadata-Flavor\": \"Google\"\n", "text/plain")
        else:
            entry["status"] = self.answer(url.path.rstrip("/"), urllib.parse.parse_qs(url.query), entry)
        server.metadata.record(entry)

    def answer(self, path, query, entry):
        metadata, server = self.server.metadata, self.server
        if path in ("", "/computeMetadata/v1"):
            return self.send(200, "instance/\nproject/\n")
        if path == "/computeMetadata/v1/project/project-id":
            return self.send(200, metadata.project_id)
        if path == "/computeMetadata/v1/project/numeric-project-id":
            return self.send(200, metadata.project_number)
        if path == "/computeMetadata/v1/universe/universe-domain":
            return self.send(200, "googleapis.com")
        if path == "/computeMetadata/v1/instance/attributes/cluster-name":
            return self.send(200, metadata.cluster_name)
        if path == "/computeMetadata/v1/instance/attributes/cluster-location":
            return self.send(200, metadata.cluster_location)
        gsa = metadata.annotated_gsa(server.namespace, server.ksa)
        email = gsa or metadata.pool
        if path == "/computeMetadata/v1/instance/service-accounts":
            return self.send(200, "default/\n{0}/\n".format(email))
        if path == "/computeMetadata/v1/instance/service-accounts/default/email":
            return self.send(200, email)
        if path == "/computeMetadata/v1/instance/service-accounts/default" and "true" in (query.get("recursive") or []):
            return self.send(200, json.dumps({"aliases": ["default"], "email": email, "scopes": list(metadata.scopes)}),
                             "application/json")
        if path == TOKEN_PATH.rstrip("/"):
            return self.token(gsa, entry)
        return self.send(404, "Not Found\n", "text/html; charset=UTF-8")

    def token(self, gsa, entry):
        metadata, server = self.server.metadata, self.server
        ksa_principal = metadata.ksa_principal(server.namespace, server.ksa)
        principal = ksa_principal
        if gsa:
            answer = metadata.emulator.authorize("projects/-/serviceAccounts/" + gsa, SA_GET_ACCESS_TOKEN, principal=ksa_principal)
            if not answer["granted"]:
                return self.send(403, WORKLOAD_IDENTITY_DENIED, "text/plain; charset=utf-8")
            principal = gsa
        entry["principal"] = principal
        token = metadata.emulator.issue_token(principal, metadata.token_lifetime)
        body = {"access_token": token, "expires_in": metadata.token_lifetime, "token_type": "Bearer"}
        return self.send(200, json.dumps(body), "application/json")


class KsaServer(QuietServer):

    def __init__(self, metadata, namespace, ksa):
        super().__init__((LOOPBACK, 0), MetadataHandler)
        self.metadata, self.namespace, self.ksa = metadata, namespace, ksa


class GkeMetadataServer:
    """Metadata listeners for the KSAs of one emulated cluster whose fleet host project is ``project_id``.

    ``api_get(path)`` reads an object from the cluster's API server (None when it does not exist).
    """

    def __init__(self, emulator_endpoint, api_get, project_id, project_number, cluster_name="configsync-test-cluster",
                 cluster_location="us-central1", token_lifetime=TOKEN_LIFETIME):
        self.emulator = EmulatorClient(emulator_endpoint)
        self.api_get = api_get
        self.project_id = project_id
        self.project_number = str(project_number)
        self.cluster_name = cluster_name
        self.cluster_location = cluster_location
        self.token_lifetime = token_lifetime
        self.scopes = ("https://www.googleapis.com/auth/cloud-platform",)
        self.servers = {}
        self.log = []
        self.lock = threading.Lock()

    @property
    def pool(self):
        return "{0}.svc.id.goog".format(self.project_id)

    def ksa_principal(self, namespace, ksa):
        return "{0}[{1}/{2}]".format(self.pool, namespace, ksa)

    def annotated_gsa(self, namespace, ksa):
        account = self.api_get("/api/v1/namespaces/{0}/serviceaccounts/{1}".format(namespace, ksa)) or {}
        return ((account.get("metadata") or {}).get("annotations") or {}).get(GSA_ANNOTATION)

    def host_for(self, namespace, ksa):
        """``127.0.0.1:PORT`` of the listener for one KSA (started on first use)."""
        with self.lock:
            server = self.servers.get((namespace, ksa))
            if server is None:
                server = self.servers[(namespace, ksa)] = KsaServer(self, namespace, ksa)
                threading.Thread(target=server.serve_forever, name="gke-metadata {0}/{1}".format(namespace, ksa), daemon=True).start()
            return "{0}:{1}".format(LOOPBACK, server.server_address[1])

    def pod_env(self, namespace, ksa):
        """The environment GKE gives a Pod running as ``ksa``, as the Google libraries read it."""
        host = self.host_for(namespace, ksa)
        return {"GCE_METADATA_HOST": host, "GCE_METADATA_IP": host, "GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED": "false"}

    def record(self, entry):
        entry["time"] = time.time()
        with self.lock:
            self.log.append(entry)

    def requests(self, ksa=None):
        with self.lock:
            return [dict(entry) for entry in self.log if ksa is None or entry["ksa"] == ksa]

    def stop(self):
        with self.lock:
            servers, self.servers = list(self.servers.values()), {}
        for server in servers:
            server.shutdown()
            server.server_close()
