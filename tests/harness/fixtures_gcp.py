"""pytest fixtures for the local Google Cloud API emulator (tests/harness/gcp_emulator.py).

- ``gcp_emulator_process`` (session): the emulator running as a subprocess on 127.0.0.1.
- ``gcp`` (function): state and request log reset before the test, one seeded project with the APIs this
  collection needs enabled, and a valid access token. See docs/emulator.md for what the emulator answers.

    def test_something(gcp):
        client = ArtifactRegistryClient(credentials=gcp.credentials(), transport="rest",
                                        client_options={"api_endpoint": gcp.endpoint})
        ...
        assert gcp.writes() == []
"""
import json
import os
import pathlib
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

EMULATOR_SCRIPT = pathlib.Path(__file__).resolve().parent / "gcp_emulator.py"
DEFAULT_PROJECT = "configsync-test"
DEFAULT_PROJECT_NUMBER = "918273645012"
STARTUP_TIMEOUT = 30


class EmulatorUnavailable(RuntimeError):
    """The emulator subprocess did not come up; the message carries its output."""


class GcpEmulator:
    """A handle on a running emulator: where it is, a token for it, and its control endpoints."""

    def __init__(self, endpoint, project=DEFAULT_PROJECT, project_number=DEFAULT_PROJECT_NUMBER):
        self.endpoint = endpoint
        self.project = project
        self.project_number = project_number
        self.access_token = None

    # ----- control endpoints -----

    def control(self, method, path, body=None):
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.endpoint + "/__emulator/" + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise AssertionError("emulator control {0} {1} failed: {2} {3}".format(method, path, exc.code, exc.read().decode()))

    def reset(self):
        """Forget everything (projects, repositories, policies, tokens, faults, log), then seed the default project."""
        self.control("POST", "reset")
        self.seed_project(self.project, self.project_number)
        self.access_token = self.new_token()
        return self

    def requests(self, api_method=None):
        """The request log: dicts with method, path, query, body, status, apiMethod, write (oldest first)."""
        log = self.control("GET", "requests")["requests"]
        return [entry for entry in log if api_method is None or entry["apiMethod"] == api_method]

    def writes(self):
        """Only the logged calls of state-changing methods, whatever their status (getIamPolicy is a read, even as a POST)."""
        return [entry for entry in self.requests() if entry["write"]]

    def clear_log(self):
        self.control("DELETE", "requests")

    def state(self):
        """Everything the emulator holds, for debugging a failed test."""
        return self.control("GET", "state")

    # ----- seeding -----

    def seed_project(self, project_id, number=None, services=None):
        """A project (id + number); ``services`` enabled (default: Artifact Registry, IAM, Service Usage, CRM)."""
        body = {"projectId": project_id}
        if number is not None:
            body["projectNumber"] = str(number)
        if services is not None:
            body["services"] = list(services)
        return self.control("POST", "projects", body)

    def seed_service(self, name, title=None):
        """Make a service name known to Service Usage (a few common ones are known already)."""
        return self.control("POST", "services", {"name": name, "title": title or name})

    def seed_package(self, repository, package_id, size_bytes=0, display_name=None):
        """Put a package into an existing repository (full name ``projects/P/locations/L/repositories/R``)."""
        body = {"repository": repository, "packageId": package_id, "sizeBytes": size_bytes}
        if display_name:
            body["displayName"] = display_name
        return self.control("POST", "packages", body)

    def seed_service_account(self, email, display_name=None, project_id=None):
        """A service account (NAME@PROJECT.iam.gserviceaccount.com, or any email with ``project_id``)."""
        body = {"email": email}
        if display_name:
            body["displayName"] = display_name
        if project_id:
            body["projectId"] = project_id
        return self.control("POST", "service-accounts", body)

    def new_token(self, principal="test", expires_in=3599):
        return self.control("POST", "tokens", {"principal": principal, "expiresIn": expires_in})["access_token"]

    def service_account_file(self, path, email=None):
        """Write a real service-account key JSON (fresh RSA key, token_uri at the emulator) and return its path.

        The account is seeded and its public key registered, so the emulator checks the signatures made with it.
        """
        email = email or "configsync-test@{0}.iam.gserviceaccount.com".format(self.project)
        self.seed_service_account(email)
        key_id, private_pem, public_pem = _new_rsa_key()
        self.control("POST", "service-account-keys", {"email": email, "keyId": key_id, "publicKeyPem": public_pem})
        project_id = email.split("@", 1)[1].split(".", 1)[0]
        info = {
            "type": "service_account", "project_id": project_id, "private_key_id": key_id, "private_key": private_pem,
            "client_email": email, "client_id": str(secrets.randbelow(10 ** 20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": self.endpoint + "/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/" + email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The file holds a private key: owner-only from the moment it exists.
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            json.dump(info, stream, indent=2)
        return path

    # ----- faults -----

    def inject(self, method, status=None, code=None, count=None, latency=None, message=None):
        """Answer calls of ``method`` (API method name or glob, e.g. "artifactregistry.repositories.getIamPolicy",
        "*.getIamPolicy") with an error and/or extra latency (seconds, added after the state was read/written).

        ``count`` limits how many calls are affected (None = all). Examples::

            gcp.inject("serviceusage.services.enable", code=503, count=2)   # two UNAVAILABLE, then normal
            gcp.inject("*.getIamPolicy", latency=0.3)                      # make read-modify-writes collide
        """
        body = {"method": method}
        for key, value in (("status", status), ("code", code), ("count", count), ("latency", latency), ("message", message)):
            if value is not None:
                body[key] = value
        return self.control("POST", "faults", body)

    def clear_faults(self):
        self.control("DELETE", "faults")

    def set_lro_polls(self, polls):
        """How many GETs of a new operation still answer done=false (default 0: the first GET is done)."""
        return self.control("POST", "config", {"lroPolls": polls})

    # ----- for clients and modules -----

    def credentials(self):
        """google-auth credentials carrying the fixture's access token."""
        from google.oauth2.credentials import Credentials
        return Credentials(self.access_token)

    def env(self):
        """Environment for the collection's modules (auth_kind accesstoken against the emulator)."""
        return {"GCP_API_ENDPOINT": self.endpoint, "GCP_AUTH_KIND": "accesstoken", "GCP_ACCESS_TOKEN": self.access_token,
                "GCP_PROJECT": self.project}

    def repository_name(self, repository_id, location="us-central1", project=None):
        return "projects/{0}/locations/{1}/repositories/{2}".format(project or self.project, location, repository_id)


def _new_rsa_key():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode("ascii")
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    return secrets.token_hex(20), private_pem, public_pem


def start_emulator(workdir):
    """Start ``gcp_emulator.py`` on a free 127.0.0.1 port; returns (process, endpoint)."""
    port_file = pathlib.Path(workdir) / "gcp-emulator.port"
    log_file = open(str(pathlib.Path(workdir) / "gcp-emulator.log"), "w")  # pylint: disable=consider-using-with
    process = subprocess.Popen([sys.executable, str(EMULATOR_SCRIPT), "--port", "0", "--port-file", str(port_file)],
                               stdout=log_file, stderr=subprocess.STDOUT)
    log_file.close()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_emulator(process)
            output = (pathlib.Path(workdir) / "gcp-emulator.log").read_text()
            raise EmulatorUnavailable("gcp emulator did not start (exit {0}):\n{1}".format(process.returncode, output[-3000:]))
        time.sleep(0.05)
    return process, "http://127.0.0.1:{0}".format(int(port_file.read_text()))


def stop_emulator(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def gcp_emulator_process(tmp_path_factory):
    """The emulator subprocess for the whole session: yields its endpoint."""
    process, endpoint = start_emulator(tmp_path_factory.mktemp("gcp-emulator"))
    try:
        yield endpoint
    finally:
        stop_emulator(process)


@pytest.fixture
def gcp(gcp_emulator_process):
    """A freshly reset emulator with one seeded project and a valid access token."""
    return GcpEmulator(gcp_emulator_process).reset()
