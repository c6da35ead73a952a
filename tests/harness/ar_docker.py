"""Artifact Registry's Docker endpoint (``LOCATION-docker.pkg.dev``) in front of a real docker-registry, with IAM.

Clients use the real host names: ``GoogleHostRouter`` is an HTTPS proxy (CONNECT only) that tunnels
``*-docker.pkg.dev:443`` to ``ArtifactRegistryDocker``, which serves TLS with a certificate for ``*.pkg.dev`` from a
harness CA. Go (oci-sync) and Python (oci_push, requests) take the proxy from ``HTTPS_PROXY`` and trust the CA through
``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` (``env()``), so their registry and auth code runs as shipped.

What the front does, as Artifact Registry does (facts and sources: docs/emulator.md, "Artifact Registry Docker front"):

* ``GET /v2/`` without credentials: 401 ``WWW-Authenticate: Bearer realm="https://HOST/v2/token"`` (no ``service``).
* ``GET /v2/token?scope=repository:PROJECT/REPOSITORY/IMAGE:pull[,push]`` with Basic credentials: users
  ``oauth2accesstoken``, ``_token``, ``_dcgcloud_token`` with a Google access token the emulator issued;
  ``_json_key`` with a service-account key JSON, ``_json_key_base64`` with its base64 (the key is exchanged at the
  emulator's ``/token`` with a JWT it signs, so the emulator checks the key). Answers ``{"token", "expires_in"}``, or
  403 DENIED when the principal may do none of the asked actions on a repository.
* Every registry request (``/v2/PROJECT/REPOSITORY/IMAGE/...``) is checked against the repository's IAM policy in the
  emulator at that moment: reads need ``artifactregistry.repositories.downloadArtifacts`` (reader, writer, admin),
  writes ``uploadArtifacts`` (writer, admin), DELETE ``deleteArtifacts``. A registry token or a Google access token
  as ``Bearer`` both work. A repository that does not exist is a denial ("or it may not exist").
* Allowed requests go to the docker-registry under ``/v2/LOCATION/PROJECT/REPOSITORY/IMAGE``; its ``Location``
  headers are rewritten back to the front's host.

``requests()`` is the front's log: method, host, path, status, error code, the Basic user name and the IAM member.

The same router also tunnels ``sts.googleapis.com`` and ``iamcredentials.googleapis.com`` (fleet Workload Identity's
token exchange and service-account impersonation) to ``GoogleApiServer``, a TLS front (certificate from the same CA)
that passes each request unchanged to the Google API emulator, which serves both APIs (tests/harness/gcp_sts.py,
gcp_emulator.py). ``api_requests()`` is its log: host, method, path, status.
"""
import base64
import binascii
import http.client
import json
import pathlib
import re
import secrets
import select
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from harness.gcp_emulator import AR_DELETE, AR_DOWNLOAD, AR_LOCATIONS, AR_UPLOAD, GOOGLE_TOKEN_AUDIENCE
from harness.process import LOOPBACK
from harness.registry import CertificateAuthority

AR_DOCKER_HOST = re.compile(r"^([a-z0-9-]+)-docker\.pkg\.dev$")
# Google API hosts whose requests go to the emulator as they are (its paths are the APIs' own).
GOOGLE_API_HOSTS = ("sts.googleapis.com", "iamcredentials.googleapis.com")
GOOGLE_API_HOST = re.compile(r"^(sts|iamcredentials)\.googleapis\.com$")
TOKEN_USERS = ("oauth2accesstoken", "_token", "_dcgcloud_token")
KEY_USERS = ("_json_key", "_json_key_base64")
SYSTEM_CA_BUNDLE = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
NAME_INVALID = ("Missing image name. Pushes should be of the form docker push "
                "HOST-NAME/PROJECT-ID/REPOSITORY/IMAGE")
REGISTRY_PATH = re.compile(r"^/v2/(?P<name>.+?)/(?P<kind>manifests|blobs|tags)(?P<rest>/.*)?$")
HOP_HEADERS = frozenset(["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te", "trailer"])
MAX_TOKEN_LIFETIME = 3600


def registry_error(code, message):
    return {"errors": [{"code": code, "message": message}]}


def repository_resource(location, name):
    """``PROJECT/REPOSITORY/IMAGE...`` -> ``projects/PROJECT/locations/LOCATION/repositories/REPOSITORY`` (None when the
    name has no image part)."""
    parts = name.split("/")
    if len(parts) < 3 or not all(parts):
        return None
    return "projects/{0}/locations/{1}/repositories/{2}".format(parts[0], location, parts[1])


def denial(permission, resource, authenticated):
    if authenticated:
        message = 'Permission "{0}" denied on resource "{1}" (or it may not exist)'.format(permission, resource)
    else:
        message = ('Unauthenticated request. Unauthenticated requests do not have permission "{0}" on resource "{1}" '
                   "(or it may not exist)").format(permission, resource)
    return 403, registry_error("DENIED", message)


def parse_scopes(values):
    """``repository:NAME:pull,push`` values (repeated or space separated) -> [(name, [actions])]."""
    scopes = []
    for value in values:
        for item in value.split():
            kind, dummy, rest = item.partition(":")
            name, dummy, actions = rest.rpartition(":")
            if kind == "repository" and name:
                scopes.append((name, [action for action in actions.split(",") if action]))
    return scopes


class EmulatorClient:
    """The emulator's ``/__emulator/authorize`` and ``/token``, as the front and the metadata server call them."""

    def __init__(self, endpoint):
        self.endpoint = endpoint.rstrip("/")

    def _post(self, path, data, content_type):
        request = urllib.request.Request(self.endpoint + path, data=data, method="POST", headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def authorize(self, resource, permission, access_token=None, principal=None):
        body = {"resource": resource, "permission": permission}
        if access_token:
            body["accessToken"] = access_token
        if principal:
            body["principal"] = principal
        status, answer = self._post("/__emulator/authorize", json.dumps(body).encode(), "application/json")
        if status != 200:
            raise RuntimeError("emulator authorize answered {0}: {1}".format(status, answer))
        return answer

    def issue_token(self, principal, lifetime=3599):
        status, answer = self._post("/__emulator/tokens", json.dumps({"principal": principal, "expiresIn": lifetime}).encode(),
                                    "application/json")
        if status != 200:
            raise RuntimeError("emulator tokens answered {0}: {1}".format(status, answer))
        return answer["access_token"]

    def exchange_key(self, key):
        """An access token for a service-account key (JWT-bearer grant, signed with the key), or None when refused."""
        try:
            private_key = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
            email = key["client_email"]
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": key.get("private_key_id")}
        claims = {"iss": email, "sub": email, "aud": GOOGLE_TOKEN_AUDIENCE, "scope": CLOUD_PLATFORM, "iat": now, "exp": now + 3600}
        signing_input = b".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=") for part in (header, claims))
        signature = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        assertion = signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")
        form = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion.decode()})
        status, answer = self._post("/token", form.encode(), "application/x-www-form-urlencoded")
        return answer.get("access_token") if status == 200 else None


class FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Docker-Distribution-Api-Version registry/2.0"
    sys_version = ""
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            raise

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def do_GET(self):
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # --- request plumbing -------------------------------------------------------------------------------------
    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() + b"\n" if body is not None else b"")
        self.send_response(status)
        sent = set()
        for name, value in (headers or []):
            self.send_header(name, value)
            sent.add(name.lower())
        if body is not None and "content-type" not in sent:
            self.send_header("Content-Type", "application/json")
        if "content-length" not in sent:
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return status

    def challenge(self, host):
        return [("WWW-Authenticate", 'Bearer realm="https://{0}/v2/token"'.format(host))]

    # --- dispatch ---------------------------------------------------------------------------------------------
    def dispatch(self):
        front = self.server.front
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        entry = {"method": self.command, "host": host, "path": url.path, "query": url.query, "user": None, "member": None}
        match = AR_DOCKER_HOST.match(host)
        if not match or match.group(1) not in AR_LOCATIONS:
            entry["status"] = self.answer(404, registry_error("NAME_UNKNOWN", "Unknown host {0}".format(host)))
        elif url.path in ("/v2", "/v2/"):
            entry["status"] = self.base(host, entry)
        elif url.path == "/v2/token":
            entry["status"] = self.token(host, match.group(1), urllib.parse.parse_qs(url.query), entry)
        else:
            entry["status"] = self.registry(host, match.group(1), url, body, entry)
        front.record(entry)

    def caller(self, resource, permission, entry):
        """The authorize answer for this request's bearer credential (a front token or a Google access token)."""
        front = self.server.front
        scheme, dummy, credential = (self.headers.get("Authorization") or "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            return None
        issued = front.tokens.get(credential)
        if issued is not None:
            if issued["expires"] <= time.time():
                return {"expired": True}
            answer = front.emulator.authorize(resource, permission, principal=issued["principal"])
        else:
            answer = front.emulator.authorize(resource, permission, access_token=credential)
            if answer["token"] != "valid":
                return {"expired": answer["token"] == "expired", "unauthenticated": True}
        entry["member"] = answer["member"]
        return answer

    def base(self, host, entry):
        scheme, dummy, credential = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            answer = self.caller("projects/-/locations/-/repositories/-", AR_DOWNLOAD, entry)
            if answer and not answer.get("expired") and not answer.get("unauthenticated"):
                return self.answer(200, {})
        return self.answer(401, registry_error("UNAUTHORIZED", "authentication required"), self.challenge(host))

    def principal_from_basic(self, entry):
        """(access token, None) from the Basic credentials, or (None, reason) when there are none or they are refused."""
        scheme, dummy, credential = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None, "anonymous"
        try:
            user, dummy, password = base64.b64decode(credential.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None, "malformed"
        entry["user"] = user
        if user in TOKEN_USERS:
            return password, None
        if user in KEY_USERS:
            try:
                text = base64.b64decode(password).decode("utf-8") if user == "_json_key_base64" else password
                key = json.loads(text)
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return None, "malformed key"
            token = self.server.front.emulator.exchange_key(key if isinstance(key, dict) else {})
            return (token, None) if token else (None, "key refused")
        return None, "unknown user"

    def token(self, host, location, query, entry):
        front = self.server.front
        access_token, dummy = self.principal_from_basic(entry)
        scopes = parse_scopes(query.get("scope") or [])
        granted, principal, expires = [], None, time.time() + MAX_TOKEN_LIFETIME
        for name, actions in scopes:
            resource = repository_resource(location, name)
            if resource is None:
                return self.answer(400, registry_error("NAME_INVALID", NAME_INVALID))
            allowed = []
            first_missing = None
            for action in actions or ["pull"]:
                permission = {"pull": AR_DOWNLOAD, "push": AR_UPLOAD, "delete": AR_DELETE}.get(action, AR_DOWNLOAD)
                answer = front.emulator.authorize(resource, permission, access_token=access_token) if access_token else \
                    front.emulator.authorize(resource, permission)
                entry["member"] = answer["member"]
                principal = answer["principal"]
                if answer["granted"]:
                    allowed.append(action)
                elif first_missing is None:
                    first_missing = permission
            if not allowed:
                return self.answer(*denial(first_missing, resource, authenticated=bool(principal)))
            granted.append((name, allowed))
        if access_token and principal is None:
            # No scope asked (docker login): the credentials alone must be good.
            answer = front.emulator.authorize("projects/-/locations/-/repositories/-", AR_DOWNLOAD, access_token=access_token)
            principal = answer["principal"]
            entry["member"] = answer["member"]
        if principal is None:
            return self.answer(*denial(AR_DOWNLOAD, "projects/-/locations/{0}/repositories/-".format(location), False))
        token = "ar-" + secrets.token_urlsafe(24)
        lifetime = min(MAX_TOKEN_LIFETIME, front.token_lifetime)
        front.tokens[token] = {"principal": principal, "scopes": granted, "expires": min(expires, time.time() + lifetime)}
        issued_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return self.answer(200, {"token": token, "expires_in": int(lifetime), "issued_at": issued_at})

    def registry(self, host, location, url, body, entry):
        front = self.server.front
        match = REGISTRY_PATH.match(url.path)
        if not match:
            return self.answer(404, registry_error("NAME_UNKNOWN", "Not found"))
        name = match.group("name")
        resource = repository_resource(location, name)
        if resource is None:
            return self.answer(400, registry_error("NAME_INVALID", NAME_INVALID))
        permission = AR_DOWNLOAD if self.command in ("GET", "HEAD") else (AR_DELETE if self.command == "DELETE" else AR_UPLOAD)
        answer = self.caller(resource, permission, entry)
        if answer is None or answer.get("expired"):
            # No credentials, or an expired registry token: the client asks the token endpoint again.
            return self.answer(401, registry_error("UNAUTHORIZED", "authentication required"), self.challenge(host))
        if answer.get("unauthenticated"):
            return self.answer(*denial(permission, resource, authenticated=False))
        if not answer["granted"]:
            return self.answer(*denial(permission, resource, authenticated=True))
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if "from" in query:
            source = repository_resource(location, query["from"][0])
            if source is None or not front.emulator.authorize(source, AR_DOWNLOAD, principal=answer["principal"])["granted"]:
                query.pop("from")
                query.pop("mount", None)  # not mountable for this caller: the registry starts a plain upload instead
            else:
                query["from"] = [location + "/" + query["from"][0]]
        upstream_path = "/v2/{0}/{1}/{2}{3}".format(location, name, match.group("kind"), match.group("rest") or "")
        upstream_query = urllib.parse.urlencode(query, doseq=True)
        return self.forward(host, location, upstream_path + ("?" + upstream_query if upstream_query else ""), body, match)

    def forward(self, host, location, target, body, match):
        front = self.server.front
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in HOP_HEADERS and name.lower() not in ("authorization", "host", "content-length")}
        connection = http.client.HTTPConnection(LOOPBACK, front.upstream_port, timeout=120)
        try:
            connection.request(self.command, target, body=body if body or self.command in ("POST", "PUT", "PATCH") else None,
                               headers=headers)
            response = connection.getresponse()
            data = response.read()
            out_headers = []
            for name, value in response.getheaders():
                if name.lower() in HOP_HEADERS or name.lower() == "content-length":
                    continue
                if name.lower() == "location":
                    value = front.rewrite_location(value, host, location)
                out_headers.append((name, value))
            status = response.status
            if status == 404 and match.group("kind") == "manifests" and b"MANIFEST_UNKNOWN" in data:
                reference = (match.group("rest") or "/").rsplit("/", 1)[-1]
                data = json.dumps(registry_error("MANIFEST_UNKNOWN", 'Failed to fetch "{0}"'.format(reference))).encode()
                out_headers = [(n, v) for n, v in out_headers if n.lower() != "content-type"] + [("Content-Type", "application/json")]
            length = response.getheader("Content-Length")
            if self.command == "HEAD" and length:
                out_headers.append(("Content-Length", length))
            return self.answer(status, headers=out_headers, raw=data)
        finally:
            connection.close()


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when a client hangs up (oci-sync and requests do)."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, socket.timeout)):
            super().handle_error(request, client_address)


class FrontServer(QuietServer):

    def __init__(self, front, context):
        super().__init__((LOOPBACK, 0), FrontHandler)
        self.front = front
        # The handshake runs in the request's thread (FrontHandler.setup), not in the accept loop.
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)


class GoogleApiHandler(FrontHandler):
    """One request to a Google API host, passed to the emulator unchanged (path, query, headers, body) and its answer
    passed back; the emulator tells the APIs apart by path."""

    server_version = "ESF"

    def dispatch(self):
        api = self.server.api
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        body = self.read_body()
        entry = {"host": host, "method": self.command, "path": urllib.parse.urlsplit(self.path).path}
        if not GOOGLE_API_HOST.match(host):
            entry["status"] = self.send_raw(404, [("Content-Type", "text/plain")], b"unknown host\n")
        else:
            entry["status"] = self.forward_to_emulator(api, host, body)
        api.record(entry)

    def forward_to_emulator(self, api, host, body):
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in HOP_HEADERS and name.lower() != "content-length"}
        headers["Host"] = host
        connection = http.client.HTTPConnection(api.emulator_host, api.emulator_port, timeout=60)
        try:
            connection.request(self.command, self.path, body=body if body or self.command in ("POST", "PUT", "PATCH") else None,
                               headers=headers)
            response = connection.getresponse()
            data = response.read()
            out = [(name, value) for name, value in response.getheaders()
                   if name.lower() not in HOP_HEADERS and name.lower() != "content-length"]
            return self.send_raw(response.status, out, data)
        except OSError as error:
            return self.send_raw(502, [("Content-Type", "text/plain")], "emulator unreachable: {0}\n".format(error).encode())
        finally:
            connection.close()

    def send_raw(self, status, headers, data):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return status


class GoogleApiServer(QuietServer):
    """TLS for ``GOOGLE_API_HOSTS`` in front of the emulator; ``requests()`` is its log (host, method, path, status)."""

    def __init__(self, emulator_endpoint, context):
        super().__init__((LOOPBACK, 0), GoogleApiHandler)
        self.api = self
        parsed = urllib.parse.urlsplit(emulator_endpoint)
        self.emulator_host, self.emulator_port = parsed.hostname, parsed.port
        self.log = []
        self.log_lock = threading.Lock()
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def record(self, entry):
        entry["time"] = time.time()
        with self.log_lock:
            self.log.append(entry)

    def requests(self):
        with self.log_lock:
            return [dict(entry) for entry in self.log]


class RouterHandler(BaseHTTPRequestHandler):
    """CONNECT host:443 -> the local server for that host; anything else is refused, so no request leaves the machine."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def refuse(self, why):
        data = (why + "\n").encode()
        self.send_response(403)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_CONNECT(self):
        router = self.server.router
        host, dummy, port = self.path.rpartition(":")
        target = router.route(host.lower(), int(port) if port.isdigit() else 0)
        router.connects.append((host, port, target is not None))
        if target is None:
            self.refuse("the test harness routes no traffic to {0}".format(self.path))
            return
        try:
            upstream = socket.create_connection(target, timeout=30)
        except OSError as error:
            self.send_error(502, "cannot reach {0}: {1}".format(target, error))
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        pipe(self.connection, upstream)

    def do_GET(self):
        self.refuse("the test harness proxy only tunnels HTTPS (CONNECT)")

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET


def pipe(one, other):
    sockets = [one, other]
    try:
        while True:
            readable, dummy, broken = select.select(sockets, [], sockets, 300)
            if broken or not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (other if sock is one else one).sendall(data)
    except OSError:
        return
    finally:
        other.close()


class RouterServer(QuietServer):

    def __init__(self, router):
        super().__init__((LOOPBACK, 0), RouterHandler)
        self.router = router


class GoogleHostRouter:
    """An HTTPS proxy for the harness: real Google host names -> local servers (``routes``: host regex -> (ip, port))."""

    def __init__(self):
        self.routes = []
        self.connects = []
        self.server = None

    def add_route(self, pattern, address):
        self.routes.append((re.compile(pattern), address))

    def route(self, host, port):
        if port != 443:
            return None
        return next((address for pattern, address in self.routes if pattern.match(host)), None)

    def start(self):
        self.server = RouterServer(self)
        threading.Thread(target=self.server.serve_forever, name="google-host-router", daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self):
        return "http://{0}:{1}".format(LOOPBACK, self.server.server_address[1])


class ArtifactRegistryDocker:
    """The front, its CA and its router; see the module docstring. ``start()`` / ``stop()``; ``env()`` for clients."""

    def __init__(self, workdir, emulator_endpoint, upstream, token_lifetime=MAX_TOKEN_LIFETIME):
        self.workdir = pathlib.Path(workdir)
        self.emulator_endpoint = emulator_endpoint
        self.emulator = EmulatorClient(emulator_endpoint)
        self.api_server = None
        self.upstream = upstream
        self.upstream_port = upstream.port
        self.token_lifetime = token_lifetime
        self.tokens = {}
        self.log = []
        self.log_lock = threading.Lock()
        self.ca = None
        self.ca_bundle = self.workdir / "ca-bundle.crt"
        self.server = None
        self.router = GoogleHostRouter()

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca = CertificateAuthority(self.workdir / "pki", name="configsync-test-google-ca")
        cert_file, key_file = self.ca.issue("pkg.dev", dns_names=("*.pkg.dev",))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert_file), str(key_file))
        system = SYSTEM_CA_BUNDLE.read_bytes() if SYSTEM_CA_BUNDLE.exists() else b""
        self.ca_bundle.write_bytes(system + b"\n" + self.ca.ca_file.read_bytes())
        self.server = FrontServer(self, context)
        threading.Thread(target=self.server.serve_forever, name="ar-docker-front", daemon=True).start()
        self.router.add_route(AR_DOCKER_HOST.pattern, (LOOPBACK, self.server.server_address[1]))
        api_cert, api_key = self.ca.issue("googleapis.com", dns_names=GOOGLE_API_HOSTS)
        api_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        api_context.load_cert_chain(str(api_cert), str(api_key))
        self.api_server = GoogleApiServer(self.emulator_endpoint, api_context)
        threading.Thread(target=self.api_server.serve_forever, name="google-api-front", daemon=True).start()
        self.router.add_route(GOOGLE_API_HOST.pattern, (LOOPBACK, self.api_server.server_address[1]))
        self.router.start()
        return self

    def stop(self):
        self.router.stop()
        for server in (self.server, self.api_server):
            if server:
                server.shutdown()
                server.server_close()

    def api_requests(self):
        """The Google API front's log: requests to sts.googleapis.com / iamcredentials.googleapis.com (host, method,
        path, status); the emulator's own request log has their bodies (credentials redacted)."""
        return self.api_server.requests() if self.api_server else []

    def env(self):
        """What a process needs to reach ``*-docker.pkg.dev``, ``sts.googleapis.com`` and ``iamcredentials.googleapis.com``
        here: the proxy (loopback bypasses it) and the CA."""
        bundle = str(self.ca_bundle)
        return {"HTTPS_PROXY": self.router.url, "https_proxy": self.router.url, "NO_PROXY": "127.0.0.1,localhost,::1",
                "no_proxy": "127.0.0.1,localhost,::1", "SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle}

    @staticmethod
    def host(location):
        return "{0}-docker.pkg.dev".format(location)

    def rewrite_location(self, value, host, location):
        parsed = urllib.parse.urlsplit(value)
        path = parsed.path
        prefix = "/v2/{0}/".format(location)
        if path.startswith(prefix):
            path = "/v2/" + path[len(prefix):]
        return urllib.parse.urlunsplit(("https", host, path, parsed.query, parsed.fragment))

    def record(self, entry):
        with self.log_lock:
            self.log.append(entry)

    def requests(self):
        with self.log_lock:
            return [dict(entry) for entry in self.log]

    def clear_log(self):
        with self.log_lock:
            self.log = []

    def expire_tokens(self):
        """Make every registry token the front issued expired (clients must go back to the token endpoint)."""
        for issued in self.tokens.values():
            issued["expires"] = 0
