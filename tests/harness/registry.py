"""Real OCI registries for tests: Debian's ``docker-registry`` (distribution 2.8) on a free loopback port.

Three modes, all with filesystem storage in a temporary directory and ``storage.delete.enabled``:

    Registry(workdir).start()                                   # plain HTTP, no auth
    Registry(workdir, auth="htpasswd").start()                  # HTTPS (our own CA) + htpasswd (bcrypt)
    Registry(workdir, auth="token", token_server=ts).start()    # HTTPS + Bearer tokens from tests/harness/token_server.py

Every registry has ``host``, ``url``, ``username``, ``password``, ``ca_file``, ``requests()`` (the parsed request log),
``clear_log()``, ``stop()`` and ``start()`` (restartable on the same port and storage), plus a small client
(``manifest_digest()``, ``get_manifest()``, ``get_blob()``) for asserting what a push left behind.

The request log is distribution's access log (Apache combined format, one line per request, whatever the status);
the application log next to it is JSON (``log.formatter: json``) and is exposed as ``app_log()``.
"""
import datetime
import ipaddress
import json
import pathlib
import re
import secrets
import shutil
import subprocess
import time
import urllib.parse

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.process import LOOPBACK, ServerProcess, free_port

REGISTRY_BINARY = "docker-registry"
DEFAULT_USERNAME = "configsync-tester"
MANIFEST_ACCEPT = ", ".join((
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
))
# 127.0.0.1 - user [27/Nov/2026:14:02:59 +0000] "HEAD /v2/foo/manifests/v1 HTTP/1.1" 404 92 "" "curl/7.88.1"
ACCESS_LOG_LINE = re.compile(r'^(?P<remote>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] '
                             r'"(?P<method>[A-Z]+) (?P<uri>\S+) [^"]*" (?P<status>\d{3}) (?P<size>\d+|-) '
                             r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)"')


class RegistryError(RuntimeError):
    """The registry did not come up; the message ends with its log tail."""


class CertificateAuthority:
    """A throw-away CA that issues loopback serving certificates and token-signing certificates (ECDSA P-256)."""

    def __init__(self, directory, name="configsync-test-registry-ca"):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = _validity(x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(self.key.public_key()))
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        builder = builder.add_extension(_key_usage(cert_sign=True), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
        self.cert = builder.sign(self.key, hashes.SHA256())
        self.ca_file = self.dir / "ca.crt"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, name, server=True, dns_names=("localhost",)):
        """A leaf certificate and key for ``name``, written to ``<dir>/<name>.crt`` and ``.key``; returns the two paths.

        ``server=True``: a serving certificate for 127.0.0.1 and ``dns_names`` (wildcards such as ``*.pkg.dev`` work).
        ``server=False``: a signing certificate (digital signature only), e.g. for registry tokens.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = _validity(x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject).public_key(key.public_key()))
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(_key_usage(), critical=True)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        if server:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            names = [x509.DNSName(dns_name) for dns_name in dns_names] + [x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        cert_file, key_file = self.dir / (name + ".crt"), self.dir / (name + ".key")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        key_file.chmod(0o600)
        return cert_file, key_file


def _validity(builder):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = builder.serial_number(x509.random_serial_number())
    return builder.not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=7))


def _key_usage(cert_sign=False):
    return x509.KeyUsage(digital_signature=True, key_cert_sign=cert_sign, crl_sign=cert_sign, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                         decipher_only=False)


def bcrypt_hash(password):
    """A bcrypt hash for an htpasswd line: distribution's htpasswd backend accepts bcrypt only.

    Uses the ``bcrypt`` package when installed, else ``htpasswd -nbB`` from apache2-utils.
    """
    try:
        import bcrypt  # pylint: disable=import-outside-toplevel
    except ImportError:
        bcrypt = None
    if bcrypt is not None:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=6)).decode()
    if shutil.which("htpasswd") is None:
        raise RegistryError("htpasswd mode needs the Python 'bcrypt' package or htpasswd (Debian apache2-utils)")
    # -i reads the password from stdin, so it never shows in a process listing.
    out = subprocess.run(["htpasswd", "-niB", "-C", "6", "user"], input=password, capture_output=True, text=True, check=True).stdout
    return out.strip().split(":", 1)[1]


class LoggedRequest:
    """One line of the registry's access log."""

    def __init__(self, method, uri, status, size, user, agent):
        self.method = method
        self.uri = uri
        parsed = urllib.parse.urlsplit(uri)
        self.path = parsed.path
        self.query = urllib.parse.parse_qs(parsed.query)
        self.status = status
        self.size = size
        self.user = user
        self.agent = agent

    @property
    def kind(self):
        """What the request is about: 'base', 'manifest', 'blob', 'upload', 'tags', 'catalog' or 'other'."""
        path = self.path
        if path in ("/v2", "/v2/"):
            return "base"
        for marker, kind in (("/manifests/", "manifest"), ("/blobs/uploads", "upload"), ("/blobs/", "blob"), ("/tags/list", "tags")):
            if marker in path:
                return kind
        return "catalog" if path.startswith("/v2/_catalog") else "other"

    def __repr__(self):
        return "{0} {1} {2}".format(self.method, self.path, self.status)


class Registry:
    """One docker-registry process; see the module docstring."""

    def __init__(self, workdir, auth="none", tls=None, username=DEFAULT_USERNAME, password=None, token_server=None,
                 ca=None, port=None, hostname=None, start_timeout=30):
        if auth not in ("none", "htpasswd", "token"):
            raise ValueError("auth must be none, htpasswd or token, not {0!r}".format(auth))
        if auth == "token" and token_server is None:
            raise ValueError("auth='token' needs a token_server (tests/harness/token_server.py)")
        self.workdir = pathlib.Path(workdir).resolve()
        self.auth = auth
        self.tls = (auth != "none") if tls is None else tls
        self.port = port or free_port()
        # The registry always listens on 127.0.0.1. In token mode clients address it as "localhost", like its realm:
        # crane refuses a realm that is a loopback IP literal (unless it is the registry's own host:port), and oras
        # refuses a realm resolving to loopback unless its host name is the registry's own. "localhost" for both passes
        # both checks, the way a real registry and its token service on one host name do (Artifact Registry's realm
        # is on the registry's own host).
        self.hostname = hostname or ("localhost" if auth == "token" else LOOPBACK)
        self.username = None if auth == "none" else username
        self.password = None if auth == "none" else (password or secrets.token_urlsafe(18))
        self.token_server = token_server
        # One CA for the registry and its token server, so a client needs one ca_cert for both.
        self.ca = ca or (token_server.ca if token_server is not None else None)
        self.start_timeout = start_timeout
        self.storage = self.workdir / "storage"
        self.config_file = self.workdir / "config.yml"
        self.log_file = self.workdir / "registry.log"
        self.ca_file = None
        self._log_offset = 0
        self._process = None
        self._client = None

    # --- addresses ---------------------------------------------------------------------------------------------
    @property
    def host(self):
        """How clients address the registry: ``127.0.0.1:PORT``, or ``localhost:PORT`` in token mode (see __init__)."""
        return "{0}:{1}".format(self.hostname, self.port)

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def url(self):
        return "{0}://{1}".format(self.scheme, self.host)

    def ref(self, repository, tag=None):
        """``HOST/REPOSITORY[:TAG]``."""
        return "{0}/{1}{2}".format(self.host, repository, ":" + tag if tag else "")

    # --- lifecycle ---------------------------------------------------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Start (or restart) the registry on the same port and storage, and wait until /v2/ answers."""
        if self._process and self._process.running():
            return self
        if not self.config_file.exists():
            self._write_config()
        self.ca_file = self.ca.ca_file if self.tls else None
        self._process = ServerProcess("docker-registry", [shutil.which(REGISTRY_BINARY) or REGISTRY_BINARY, "serve", self.config_file],
                                      self.log_file).start()
        self._wait_ready()
        return self

    def stop(self):
        if self._process:
            self._process.stop()

    def kill(self):
        """SIGKILL, like a crash: no graceful shutdown of in-flight requests."""
        if self._process:
            self._process.kill()

    def running(self):
        return bool(self._process and self._process.running())

    @property
    def pid(self):
        return self._process.pid if self._process else None

    def _write_config(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "json", "fields": {"service": "registry"}},
            "storage": {"filesystem": {"rootdirectory": str(self.storage)}, "delete": {"enabled": True},
                        # No background upload purge while a test inspects half-finished uploads.
                        "maintenance": {"uploadpurging": {"enabled": False}}},
            # A fixed secret keeps upload state (the _state query parameter) valid across a restart.
            "http": {"addr": "{0}:{1}".format(LOOPBACK, self.port), "secret": secrets.token_hex(16)},
        }
        if self.tls:
            self.ca = self.ca or CertificateAuthority(self.workdir / "pki")
            cert_file, key_file = self.ca.issue("registry")
            config["http"]["tls"] = {"certificate": str(cert_file), "key": str(key_file)}
        if self.auth == "htpasswd":
            htpasswd = self.workdir / "htpasswd"
            htpasswd.write_text("{0}:{1}\n".format(self.username, bcrypt_hash(self.password)))
            config["auth"] = {"htpasswd": {"realm": "configsync-test-registry", "path": str(htpasswd)}}
        elif self.auth == "token":
            self.token_server.add_user(self.username, self.password)
            config["auth"] = {"token": {"realm": self.token_server.realm, "service": self.token_server.service,
                                        "issuer": self.token_server.issuer, "rootcertbundle": str(self.token_server.rootcertbundle)}}
        self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))

    def _wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self._process.running():
                break
            try:
                # Any HTTP answer (200, or 401 with auth) means the listener is up.
                requests.get(self.url + "/v2/", verify=str(self.ca_file) if self.ca_file else True, timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.1)
        tail = self._process.log_tail()
        self.stop()
        raise RegistryError("docker-registry on {0} did not come up:\n{1}".format(self.host, tail))

    # --- logs --------------------------------------------------------------------------------------------------
    def _log_lines(self):
        self._settle_log()
        try:
            with open(str(self.log_file), "rb") as log:
                log.seek(self._log_offset)
                return log.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return []

    def _settle_log(self):
        """The access log line is written as the response goes out; give the last one a moment to land."""
        size, deadline = -1, time.monotonic() + 1.0
        while time.monotonic() < deadline:
            current = self.log_file.stat().st_size if self.log_file.exists() else 0
            if current == size:
                return
            size = current
            time.sleep(0.05)

    def requests(self):
        """Every request since the last ``clear_log()``, in order, as LoggedRequest (method, path, query, status...)."""
        found = []
        for line in self._log_lines():
            match = ACCESS_LOG_LINE.match(line)
            if match:
                size = match.group("size")
                found.append(LoggedRequest(match.group("method"), match.group("uri"), int(match.group("status")),
                                           0 if size == "-" else int(size), match.group("user"), match.group("agent")))
        return found

    def app_log(self):
        """The JSON application log entries since the last ``clear_log()`` (dicts, e.g. msg, err.code, http.request.uri)."""
        entries = []
        for line in self._log_lines():
            if line.startswith("{"):
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    continue
        return entries

    def clear_log(self):
        """Later ``requests()`` / ``app_log()`` calls see only what happens from now on."""
        self._settle_log()
        self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0

    def log_tail(self, lines=30):
        return self._process.log_tail(lines) if self._process else "(not started)"

    # --- a small client for assertions ---------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            self._client = RegistryClient(self.url, self.username, self.password, self.ca_file)
        return self._client

    def manifest_digest(self, repository, reference):
        """The ``Docker-Content-Digest`` of a HEAD on the manifest, or None when the registry answers 404."""
        response = self.client.request("HEAD", repository, "/v2/{0}/manifests/{1}".format(repository, reference),
                                       headers={"Accept": MANIFEST_ACCEPT})
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.headers["Docker-Content-Digest"]

    def get_manifest(self, repository, reference):
        """(media type, raw bytes) of a manifest."""
        response = self.client.request("GET", repository, "/v2/{0}/manifests/{1}".format(repository, reference),
                                       headers={"Accept": MANIFEST_ACCEPT})
        response.raise_for_status()
        return response.headers.get("Content-Type"), response.content

    def get_blob(self, repository, digest):
        response = self.client.request("GET", repository, "/v2/{0}/blobs/{1}".format(repository, digest))
        response.raise_for_status()
        return response.content

    def tags(self, repository):
        response = self.client.request("GET", repository, "/v2/{0}/tags/list".format(repository))
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return sorted(response.json().get("tags") or [])


class RegistryClient:
    """Just enough of the distribution protocol for test assertions: Basic, or Bearer through the realm's challenge."""

    def __init__(self, url, username=None, password=None, ca_file=None):
        self.url = url
        self.session = requests.Session()
        # Passed on every call: a Session's own ``verify`` loses to REQUESTS_CA_BUNDLE from the environment.
        self.verify = str(ca_file) if ca_file else True
        self.credentials = (username, password) if username else None
        self.tokens = {}

    def request(self, method, repository, path, headers=None, scope_actions="pull"):
        headers = dict(headers or {})
        scope = "repository:{0}:{1}".format(repository, scope_actions)
        if scope in self.tokens:
            headers["Authorization"] = "Bearer " + self.tokens[scope]
        response = self.session.request(method, self.url + path, headers=headers, auth=None if scope in self.tokens else self.credentials,
                                        verify=self.verify, timeout=60)
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code == 401 and challenge.lower().startswith("bearer "):
            self.tokens[scope] = self._fetch_token(parse_challenge(challenge), scope)
            headers["Authorization"] = "Bearer " + self.tokens[scope]
            response = self.session.request(method, self.url + path, headers=headers, verify=self.verify, timeout=60)
        return response

    def _fetch_token(self, challenge, scope):
        params = {"scope": scope}
        if challenge.get("service"):
            params["service"] = challenge["service"]
        response = self.session.get(challenge["realm"], params=params, auth=self.credentials, verify=self.verify, timeout=30)
        response.raise_for_status()
        body = response.json()
        return body.get("token") or body["access_token"]


def parse_challenge(header):
    """``Bearer realm="...",service="...",scope="..."`` -> dict of the parameters."""
    params = header.partition(" ")[2]
    return {key.lower(): value for key, value in re.findall(r'(\w+)="([^"]*)"', params)}
