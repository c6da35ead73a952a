"""A real Kubernetes control plane for tests: etcd + kube-apiserver on loopback, started the way envtest does.

controller-runtime's envtest (pkg/internal/testing/controlplane) runs the same two binaries with the same flags;
this module does it from Python so tests and demos need neither Docker nor downloads. No controller-manager
runs: there are no default ServiceAccounts and a deleted namespace stays Terminating.

    cp = ControlPlane(workdir).start()   # PKI, etcd, kube-apiserver, /readyz, Config Sync's release CRDs, namespace
    cp.kubeconfig, cp.server, cp.ca_file
    cp.operator_kubeconfig               # the identity Ansible runs use (OPERATOR_USER), so the audit log tells them apart
    mark = cp.audit_mark(); ...; cp.write_requests(since=mark)   # the operator's create/update/patch/delete since mark
    cp.stop()

kube-apiserver writes an audit log (workdir/logs/audit.log, JSON lines, policy AUDIT_POLICY): every request except
reads, at Metadata level (deletes at Request level, so a dry-run delete is told from a real one). It is how tests prove
that a no-op or check-mode run wrote nothing: a server-side apply of unchanged content does not change the
resourceVersion, so only the requests themselves show it.

CLI for demos: ``python tests/harness/controlplane.py up --dir D`` prints the kubeconfig path once ready and runs
until SIGTERM/SIGINT; ``python tests/harness/controlplane.py down --dir D`` stops it.
"""
import argparse
import contextlib
import datetime
import ipaddress
import json
import os
import pathlib
import shutil
import signal
import sys
import time
import urllib.parse

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if __package__ in (None, ""):
    # Run as a script: make the `harness` package importable like under pytest (pythonpath = tests).
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from harness import tools  # noqa: E402  pylint: disable=wrong-import-position
from harness.process import LOOPBACK, ServerProcess, free_port  # noqa: E402  pylint: disable=wrong-import-position

CONFIG_SYNC_NAMESPACE = "config-management-system"
ADMIN_USER = "configsync-test-admin"
# The user the Ansible runs of the tests and demos act as (also system:masters): the harness and Config Sync's
# controllers use other identities, so the audit log's requests of this user are the modules' own.
OPERATOR_USER = "configsync-test-operator"
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
# Reads are not logged (the log stays small while controllers poll); /version is, so that audit_sync() can tell when
# the log holds every request sent before it.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "nonResourceURLs": ["/version"]},
        {"level": "None", "verbs": ["get", "list", "watch"]},
        {"level": "Request", "verbs": ["delete", "deletecollection"]},
        {"level": "Metadata"},
    ],
}
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


class ControlPlaneError(RuntimeError):
    """The control plane did not come up; the message ends with the failing process's log tail."""


def _loopback_session():
    """A requests session that ignores the environment: REQUESTS_CA_BUNDLE would override its `verify` (a known
    requests behaviour) and proxy variables must never route loopback traffic elsewhere."""
    http = requests.Session()
    http.trust_env = False
    return http


class Pki:
    """CA, kube-apiserver serving certificate, service-account key pair and an admin client certificate.

    ECDSA P-256 keys: generated in milliseconds, and accepted by kube-apiserver for serving, client and
    service-account signing.
    """

    def __init__(self, directory):
        self.dir = pathlib.Path(directory)
        self.ca_file = self.dir / "ca.crt"
        self.ca_key_file = self.dir / "ca.key"
        self.serving_cert_file = self.dir / "apiserver.crt"
        self.serving_key_file = self.dir / "apiserver.key"
        self.sa_key_file = self.dir / "sa-signer.key"
        self.sa_pub_file = self.dir / "sa-signer.pub"
        self.admin_cert_file = self.dir / "admin.crt"
        self.admin_key_file = self.dir / "admin.key"
        self.operator_cert_file = self.dir / "operator.crt"
        self.operator_key_file = self.dir / "operator.key"

    def generate(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = self._ca_certificate(ca_key)
        self._write_cert(self.ca_file, ca_cert)
        self._write_key(self.ca_key_file, ca_key)

        serving_key = ec.generate_private_key(ec.SECP256R1())
        serving_names = [x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default"),
                         x509.DNSName("kubernetes.default.svc"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]
        serving = self._leaf(ca_key, ca_cert, serving_key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
                             ExtendedKeyUsageOID.SERVER_AUTH, serving_names)
        self._write_cert(self.serving_cert_file, serving)
        self._write_key(self.serving_key_file, serving_key)

        sa_key = ec.generate_private_key(ec.SECP256R1())
        self._write_key(self.sa_key_file, sa_key)
        self.sa_pub_file.write_bytes(sa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                      serialization.PublicFormat.SubjectPublicKeyInfo))

        # O=system:masters: the group kube-apiserver always authorizes, whatever RBAC holds.
        for user, cert_file, key_file in ((ADMIN_USER, self.admin_cert_file, self.admin_key_file),
                                          (OPERATOR_USER, self.operator_cert_file, self.operator_key_file)):
            key = ec.generate_private_key(ec.SECP256R1())
            subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, user)])
            self._write_cert(cert_file, self._leaf(ca_key, ca_cert, key, subject, ExtendedKeyUsageOID.CLIENT_AUTH, []))
            self._write_key(key_file, key)
        return self

    @staticmethod
    def _validity(builder):
        now = datetime.datetime.now(datetime.timezone.utc)
        return builder.not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=7))

    def _ca_certificate(self, ca_key):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "configsync-test-ca")])
        builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
        builder = self._validity(builder.serial_number(x509.random_serial_number()))
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                                      key_encipherment=False, data_encipherment=False, key_agreement=False,
                                                      encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    def _leaf(self, ca_key, ca_cert, key, subject, usage, alt_names):
        builder = x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject).public_key(key.public_key())
        builder = self._validity(builder.serial_number(x509.random_serial_number()))
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                                      data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                                      crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    @staticmethod
    def _write_cert(path, cert):
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    @staticmethod
    def _write_key(path, key):
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        path.chmod(0o600)


class ControlPlane:
    """etcd + kube-apiserver on free loopback ports, with everything written under ``workdir``.

    workdir/pki (certificates, keys), workdir/etcd-data, workdir/logs/{etcd,kube-apiserver,audit}.log,
    workdir/kubeconfig (admin), workdir/operator-kubeconfig (OPERATOR_USER).
    """

    def __init__(self, workdir, etcd=None, kube_apiserver=None, crds=None, namespaces=(CONFIG_SYNC_NAMESPACE,), start_timeout=120,
                 apiserver_args=()):
        self.workdir = pathlib.Path(workdir).resolve()
        self.etcd_binary = etcd
        self.apiserver_binary = kube_apiserver
        self.crd_files = crds
        self.namespaces = tuple(namespaces)
        self.start_timeout = start_timeout
        # Extra kube-apiserver flags, e.g. webhook token authentication (tests/harness/gke_test_fleet.py).
        self.apiserver_args = list(apiserver_args)
        self.pki = Pki(self.workdir / "pki")
        self.kubeconfig = self.workdir / "kubeconfig"
        self.operator_kubeconfig = self.workdir / "operator-kubeconfig"
        self.log_dir = self.workdir / "logs"
        self.audit_log = self.log_dir / "audit.log"
        self.etcd_url = None
        self.server = None
        self.etcd = None
        self.apiserver = None
        self.timings = {}

    # Paths tests and tools commonly want.
    @property
    def ca_file(self):
        return self.pki.ca_file

    @property
    def client_cert_file(self):
        return self.pki.admin_cert_file

    @property
    def client_key_file(self):
        return self.pki.admin_key_file

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        started = time.monotonic()
        try:
            self._resolve_binaries()
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._timed("pki", self.pki.generate)
            self._timed("etcd", self._start_etcd)
            self._timed("kube-apiserver", self._start_apiserver)
            self._write_kubeconfig()
            self._timed("crds", self._install_crds)
            self._timed("namespaces", self._create_namespaces)
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = round(time.monotonic() - started, 3)
        (self.workdir / "timings.json").write_text(json.dumps(self.timings, indent=2) + "\n")
        return self

    def stop(self):
        # The API server first: it must not see etcd vanish under it and spend its stop timeout retrying.
        for server in (self.apiserver, self.etcd):
            if server:
                server.stop()

    def pids(self):
        return {server.name: server.pid for server in (self.etcd, self.apiserver) if server and server.running()}

    def session(self):
        """A requests session that talks to this API server as the admin (system:masters) user."""
        http = _loopback_session()
        http.verify = str(self.ca_file)
        http.cert = (str(self.client_cert_file), str(self.client_key_file))
        return http

    def _timed(self, step, function):
        began = time.monotonic()
        function()
        self.timings[step] = round(time.monotonic() - began, 3)

    def _resolve_binaries(self):
        began = time.monotonic()
        self.etcd_binary = pathlib.Path(self.etcd_binary or tools.tool("etcd"))
        self.apiserver_binary = pathlib.Path(self.apiserver_binary or tools.tool("kube-apiserver"))
        if self.crd_files is None:
            self.crd_files = tools.crd_paths()
        # Non-zero only when build-tools had to build something: the cold-start cost.
        self.timings["binaries"] = round(time.monotonic() - began, 3)

    def _start_etcd(self):
        data_dir = self.workdir / "etcd-data"
        # Each start is a fresh cluster: stale data from an earlier run would hold objects from other tests.
        shutil.rmtree(str(data_dir), ignore_errors=True)
        client_url = "http://{0}:{1}".format(LOOPBACK, free_port())
        peer_url = "http://{0}:{1}".format(LOOPBACK, free_port())
        argv = [self.etcd_binary,
                "--data-dir=" + str(data_dir),
                "--listen-client-urls=" + client_url,
                "--advertise-client-urls=" + client_url,
                "--listen-peer-urls=" + peer_url,
                "--initial-advertise-peer-urls=" + peer_url,
                "--initial-cluster=default=" + peer_url,
                # As envtest: a throw-away test store does not need fsync, and tests get much faster without it.
                "--unsafe-no-fsync=true"]
        self.etcd = ServerProcess("etcd", argv, self.log_dir / "etcd.log").start()
        self.etcd_url = client_url
        http = _loopback_session()
        self._wait_until(self.etcd, lambda: http.get(client_url + "/health", timeout=2).json().get("health") == "true")

    def _start_apiserver(self):
        port = free_port()
        self.server = "https://{0}:{1}".format(LOOPBACK, port)
        cert_dir = self.workdir / "apiserver-certs"
        cert_dir.mkdir(exist_ok=True)
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY, default_flow_style=False))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # The flags of envtest's APIServer.defaultArgs, plus the client CA it adds for certificate users (CertAuthn).
        # No --advertise-address: kube-apiserver rejects a loopback address for the `kubernetes` Service endpoints
        # (and /readyz never turns ready); the default (the host's address) is only recorded, never dialled here.
        argv = [self.apiserver_binary,
                "--etcd-servers=" + self.etcd_url,
                "--cert-dir=" + str(cert_dir),
                "--tls-cert-file=" + str(self.pki.serving_cert_file),
                "--tls-private-key-file=" + str(self.pki.serving_key_file),
                "--client-ca-file=" + str(self.pki.ca_file),
                "--secure-port=" + str(port),
                "--bind-address=" + LOOPBACK,
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                # No controller-manager creates default ServiceAccounts, so the admission plugin would reject pods.
                "--disable-admission-plugins=ServiceAccount",
                "--authorization-mode=RBAC",
                "--service-account-issuer=" + self.server + "/",
                "--service-account-key-file=" + str(self.pki.sa_pub_file),
                "--service-account-signing-key-file=" + str(self.pki.sa_key_file),
                # Blocking mode (the default, named here on purpose): an event is written before the request returns.
                "--audit-policy-file=" + str(policy),
                "--audit-log-path=" + str(self.audit_log),
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                "--audit-log-maxsize=0"] + self.apiserver_args
        self.apiserver = ServerProcess("kube-apiserver", argv, self.log_dir / "kube-apiserver.log").start()
        http = self.session()
        self._wait_until(self.apiserver, lambda: http.get(self.server + "/readyz", timeout=5).status_code == 200)

    def _wait_until(self, server, is_ready):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not server.running():
                raise ControlPlaneError("{0} exited with code {1}; log {2}:\n{3}".format(
                    server.name, server.process.returncode, server.log_file, server.log_tail()))
            try:
                if is_ready():
                    return
            except (requests.RequestException, ValueError):
                pass  # not listening yet, or not answering JSON yet
            time.sleep(0.1)
        raise ControlPlaneError("{0} not ready after {1}s; log {2}:\n{3}".format(
            server.name, self.start_timeout, server.log_file, server.log_tail()))

    def _write_kubeconfig(self):
        for path, user, cert_file, key_file in (
                (self.kubeconfig, ADMIN_USER, self.client_cert_file, self.client_key_file),
                (self.operator_kubeconfig, OPERATOR_USER, self.pki.operator_cert_file, self.pki.operator_key_file)):
            config = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "configsync-test", "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)}}],
                "users": [{"name": user, "user": {"client-certificate": str(cert_file), "client-key": str(key_file)}}],
                "contexts": [{"name": "configsync-test", "context": {"cluster": "configsync-test", "user": user}}],
                "current-context": "configsync-test",
            }
            path.write_text(yaml.safe_dump(config, default_flow_style=False))
            path.chmod(0o600)

    # --- the audit log ------------------------------------------------------------------------------------------

    def audit_sync(self, timeout=30):
        """Return once the audit log holds every request sent before this call: a /version request with a unique
        marker is sent, and the log is read until its event appears (events are written in order)."""
        marker = ("audit-sync-" + os.urandom(8).hex()).encode()
        start = self.audit_log.stat().st_size if self.audit_log.exists() else 0
        self.session().get(self.server + "/version", params={"marker": marker}, timeout=30)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.audit_log.exists():
                with open(str(self.audit_log), "rb") as log:
                    log.seek(start)
                    if marker in log.read():
                        return
            time.sleep(0.05)
        raise ControlPlaneError("the audit log {0} did not record the sync request within {1}s".format(self.audit_log, timeout))

    def audit_mark(self):
        """A position in the audit log: the start of a window for write_requests()."""
        self.audit_sync()
        return self.audit_log.stat().st_size

    def audit_events(self, since=0):
        """The audit events (dicts) written after position ``since``, once every earlier request is in the log."""
        self.audit_sync()
        with open(str(self.audit_log), "rb") as log:
            log.seek(since)
            lines = log.read().decode(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    @contextlib.contextmanager
    def recorded_writes(self, user=OPERATOR_USER):
        """``with plane.recorded_writes() as writes: ...``: afterwards ``writes`` holds write_requests() of the block."""
        writes = []
        mark = self.audit_mark()
        yield writes
        writes.extend(self.write_requests(mark, user))

    def write_requests(self, since, user=OPERATOR_USER):
        """The create/update/patch/delete requests ``user`` sent after ``since`` that wrote (dry runs are left out):
        ``[{"verb", "uri", "code", "object"}]``, object as ``resource[/subresource] namespace/name``."""
        found = []
        for event in self.audit_events(since):
            if event.get("stage") != "ResponseComplete" or event.get("verb") not in WRITE_VERBS:
                continue
            if (event.get("user") or {}).get("username") != user or event.get("impersonatedUser"):
                continue
            if is_dry_run(event):
                continue
            ref = event.get("objectRef") or {}
            resource = ref.get("resource", "") + ("/" + ref["subresource"] if ref.get("subresource") else "")
            found.append({"verb": event["verb"], "uri": event.get("requestURI"), "code": (event.get("responseStatus") or {}).get("code"),
                          "object": "{0} {1}/{2}".format(resource, ref.get("namespace", ""), ref.get("name", ""))})
        return found

    def _install_crds(self):
        http = self.session()
        names = []
        for path in self.crd_files or ():
            for crd in yaml.safe_load_all(pathlib.Path(path).read_text()):
                if isinstance(crd, dict) and crd.get("kind") == "CustomResourceDefinition":
                    self._create(http, CRD_API, crd)
                    names.append(crd["metadata"]["name"])
        for name in names:
            self._wait_established(http, name)

    def _wait_established(self, http, name):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            response = http.get("{0}{1}/{2}".format(self.server, CRD_API, name), timeout=10)
            response.raise_for_status()
            conditions = response.json().get("status", {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                return
            time.sleep(0.05)
        raise ControlPlaneError("CRD {0} not Established after {1}s".format(name, self.start_timeout))

    def _create_namespaces(self):
        http = self.session()
        for namespace in self.namespaces:
            self._create(http, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})

    def _create(self, http, collection, body):
        response = http.post(self.server + collection, json=body, timeout=30)
        if response.status_code not in (200, 201, 409):
            raise ControlPlaneError("creating {0} {1} failed: HTTP {2} {3}".format(
                body.get("kind"), body["metadata"]["name"], response.status_code, response.text[:500]))


def is_dry_run(event):
    """A request the API server only simulated: ``dryRun`` in the query, or in a delete's DeleteOptions body."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(event.get("requestURI") or "").query)
    if query.get("dryRun"):
        return True
    return bool((event.get("requestObject") or {}).get("dryRun"))


# --- CLI for demos -----------------------------------------------------------------------------------------------

PID_FILE = "controlplane.pid"


def _command_up(args):
    workdir = pathlib.Path(args.dir).resolve()
    pid_file = workdir / PID_FILE
    if pid_file.exists() and _alive(int(pid_file.read_text().split()[0])):
        sys.exit("a control plane already runs for {0} (pid file {1})".format(workdir, pid_file))
    stop_requested = []
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop_requested.append(True))
    plane = ControlPlane(workdir, crds=[] if args.no_crds else None)
    plane.start()
    try:
        pid_file.write_text("{0}\n".format(os.getpid()))
        (workdir / "servers.json").write_text(json.dumps({"pids": plane.pids(), "server": plane.server,
                                                          "crds": [str(path) for path in plane.crd_files],
                                                          "kubeconfig": str(plane.kubeconfig), "timings": plane.timings}, indent=2) + "\n")
        print(plane.kubeconfig, flush=True)
        while not stop_requested and all(server.running() for server in (plane.etcd, plane.apiserver)):
            time.sleep(0.2)
    finally:
        plane.stop()
        if pid_file.exists():
            pid_file.unlink()


def _command_down(args):
    workdir = pathlib.Path(args.dir).resolve()
    pid_file = workdir / PID_FILE
    if not pid_file.exists():
        print("no control plane runs for {0}".format(workdir))
        return
    pid = int(pid_file.read_text().split()[0])
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    if _alive(pid):
        sys.exit("control plane process {0} did not stop".format(pid))
    if pid_file.exists():
        pid_file.unlink()
    print("stopped control plane for {0}".format(workdir))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run a real etcd + kube-apiserver with Config Sync's CRDs on loopback.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start, print the kubeconfig path, run until SIGTERM/SIGINT")
    up.add_argument("--dir", required=True, help="working directory (pki, etcd data, logs, kubeconfig, pid file)")
    up.add_argument("--no-crds", action="store_true", help="do not install Config Sync's CRDs")
    down = commands.add_parser("down", help="stop the control plane started by `up --dir D`")
    down.add_argument("--dir", required=True)
    args = parser.parse_args(argv)
    if args.command == "up":
        _command_up(args)
    else:
        _command_down(args)


if __name__ == "__main__":
    main()
