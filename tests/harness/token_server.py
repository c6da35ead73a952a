"""A registry token server (distribution's token authentication), for the Bearer-realm registry in tests.

A client that gets ``401`` with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` from the registry asks
this server for a token: ``GET <realm>?service=S&scope=repository:NAME:pull,push`` with Basic credentials (or the
OAuth2 form, ``POST`` with ``grant_type=password``). The answer is ``{"token", "access_token", "expires_in",
"issued_at"}``: a JWT signed (ES256) with a key whose certificate is the registry's ``auth.token.rootcertbundle``, with
the claims distribution checks: ``iss`` (= ``auth.token.issuer``), ``sub``, ``aud`` (= the requested service),
``exp``, ``nbf``, ``iat``, ``jti`` and ``access`` ([{type, name, actions}]). The certificate travels in the JWT
header's ``x5c``, which distribution verifies against the bundle.

Policy: known users with the right password get every action they ask for; anonymous callers get a token that
grants nothing (``access: []``), so the registry answers 401 insufficient_scope; a wrong password gets 401 here.

    ts = TokenServer(workdir, ca=ca).start()   # HTTPS when a CertificateAuthority is given, else HTTP
    ts.add_user("user", "secret"); ts.realm; ts.requests(); ts.stop()
"""
import base64
import http.server
import json
import pathlib
import secrets
import ssl
import threading
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from harness.registry import LOOPBACK, CertificateAuthority

DEFAULT_SERVICE = "configsync-test-registry"
DEFAULT_ISSUER = "configsync-test-token-server"
TOKEN_PATH = "/token"
# The realm names the host "localhost", not 127.0.0.1: crane (go-containerregistry >= 0.21, transport/bearer.go
# validateRealmURL) refuses a realm host that is a private or loopback IP literal, and oras (oras-go >= 2.7,
# auth/client.go validateRealm) one that resolves to loopback unless it is the registry's own host name; so the token
# registry is addressed as localhost too (harness/registry.py).
REALM_HOST = "localhost"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parse_scope(scope):
    """``repository:team/app:pull,push`` -> ("repository", "team/app", ["pull", "push"]); None if malformed."""
    resource_type, dummy, rest = scope.partition(":")
    name, dummy, actions = rest.rpartition(":")
    if not resource_type or not name:
        return None
    return resource_type, name, [action for action in actions.split(",") if action]


class TokenServer:
    """See the module docstring. Runs in a thread of the test process; every request is recorded (never a password)."""

    def __init__(self, workdir, ca=None, service=DEFAULT_SERVICE, issuer=DEFAULT_ISSUER, ttl=300):
        self.workdir = pathlib.Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca = ca
        self.service = service
        self.issuer = issuer
        self.ttl = ttl
        self.users = {}
        self.log = []
        self._lock = threading.Lock()
        signing_ca = ca or CertificateAuthority(self.workdir / "pki", name="configsync-test-token-ca")
        cert_file, key_file = signing_ca.issue("token-signing", server=False)
        self.signing_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        signing_cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        self.x5c = [base64.b64encode(signing_cert.public_bytes(serialization.Encoding.DER)).decode()]
        # The registry trusts the signing certificate itself: its chain in x5c is just this certificate.
        self.rootcertbundle = cert_file
        self._server = None
        self._thread = None

    @property
    def tls(self):
        return self.ca is not None

    @property
    def realm(self):
        return "{0}://{1}:{2}{3}".format("https" if self.tls else "http", REALM_HOST, self._server.server_address[1], TOKEN_PATH)

    def add_user(self, username, password):
        self.users[username] = password

    def start(self):
        if self._server:
            return self
        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _handler_for(self))
        self._server.daemon_threads = True
        if self.tls:
            cert_file, key_file = self.ca.issue("token-server")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert_file), str(key_file))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="token-server", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def requests(self):
        with self._lock:
            return list(self.log)

    def clear_log(self):
        with self._lock:
            del self.log[:]

    def record(self, entry):
        with self._lock:
            self.log.append(entry)

    # --- token issuing -----------------------------------------------------------------------------------------
    def authenticate(self, username, password):
        """The subject for these credentials: the user name, "" for anonymous, None when they are wrong."""
        if username is None:
            return ""
        known = self.users.get(username)
        if known is not None and secrets.compare_digest(known.encode(), (password or "").encode()):
            return username
        return None

    def grant(self, subject, scopes):
        """The access list for an authenticated subject: everything asked for; nothing for anonymous."""
        if not subject:
            return []
        access = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed:
                access.append({"type": parsed[0], "name": parsed[1], "actions": parsed[2]})
        return access

    def issue(self, subject, audience, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": self.x5c}
        claims = {"iss": self.issuer, "sub": subject, "aud": audience, "exp": now + self.ttl, "nbf": now - 1, "iat": now,
                  "jti": secrets.token_hex(16), "access": access}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        der = self.signing_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        # JWS ES256 wants r || s, 32 bytes each, not the DER sequence cryptography returns.
        r_value, s_value = decode_dss_signature(der)
        signature = r_value.to_bytes(32, "big") + s_value.to_bytes(32, "big")
        return signing_input + "." + b64url(signature), now


def _handler_for(server):
    class TokenHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # pylint: disable=arguments-differ
            """Quiet: the test reads server.requests() instead."""

        def do_GET(self):  # pylint: disable=invalid-name
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            username, password = self._basic_credentials()
            self._answer(url.path, "GET", query, username, password)

        def do_POST(self):  # pylint: disable=invalid-name
            """OAuth2 form (oras and containerd use it when they hold a password or refresh token)."""
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            username, password = self._basic_credentials()
            if form.get("grant_type", [""])[0] == "password":
                username, password = form.get("username", [None])[0], form.get("password", [None])[0]
            self._answer(url.path, "POST", form, username, password)

        def _basic_credentials(self):
            header = self.headers.get("Authorization", "")
            if not header.lower().startswith("basic "):
                return None, None
            try:
                decoded = base64.b64decode(header.split(" ", 1)[1]).decode()
            except (ValueError, UnicodeDecodeError):
                return None, None
            username, dummy, password = decoded.partition(":")
            return username, password

        def _answer(self, path, method, params, username, password):
            scopes = [part for value in params.get("scope", []) for part in value.split(" ") if part]
            audience = params.get("service", [server.service])[0]
            entry = {"method": method, "path": path, "service": audience, "scopes": scopes, "user": username}
            if path != TOKEN_PATH:
                return self._reply(entry, 404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
            subject = server.authenticate(username, password)
            if subject is None:
                return self._reply(entry, 401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]},
                                   challenge=True)
            access = server.grant(subject, scopes)
            token, issued = server.issue(subject, audience, access)
            entry["access"] = access
            body = {"token": token, "access_token": token, "expires_in": server.ttl,
                    "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued))}
            return self._reply(entry, 200, body)

        def _reply(self, entry, status, body, challenge=False):
            entry["status"] = status
            server.record(entry)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if challenge:
                self.send_header("WWW-Authenticate", 'Basic realm="configsync-test-token-server"')
            self.end_headers()
            self.wfile.write(payload)

    return TokenHandler
