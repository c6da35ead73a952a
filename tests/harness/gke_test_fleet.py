"""A test fleet: GKE clusters (and fleet memberships) in the emulator, served by a few real API servers that accept
Google access tokens.

    fleet = Fleet(workdir, emulator_endpoint, servers=3).start()
    fleet.seed(gcp_control, project, clusters=30, identity="deployer@P.iam.gserviceaccount.com")
    fleet.clusters            # [FleetCluster(name, server, plane, ...)], one per GKE cluster
    fleet.outage("c07") / fleet.restore("c07")
    fleet.writes()            # write requests the API servers' audit logs hold (dry runs excluded)
    fleet.stop()

Each API server runs webhook token authentication against the emulator's TokenReview endpoint (the emulator knows whom
each token it issued belongs to), RBAC decides what that identity may do, and an audit log at Metadata level records
every request. Several clusters share one API server (10 clusters on 3 servers for 30); each cluster has its own
TCP forwarder port, so each has its own endpoint that can go down alone.
"""
import json
import pathlib
import socket
import threading

import yaml

from harness.controlplane import ControlPlane
from harness.paths import REPO
from harness.process import LOOPBACK

# The test fleet: 30 clusters over 3 API servers, deployed by one Google service account.
CLUSTERS = 30
SERVERS = 3
DEPLOYER = "fleet-deployer@configsync-test.iam.gserviceaccount.com"
ROLE_PLAY = REPO / "playbooks" / "rollout.yml"

AUDIT_POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
                "rules": [{"level": "Metadata"}]}
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


class Forwarder:
    """A loopback TCP port forwarding every connection to one upstream port (TLS passes through untouched)."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOOPBACK, 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        self.down = False
        self.connections = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()  # the endpoint is down: connections are refused at once (reset)
                continue
            try:
                upstream = socket.create_connection((LOOPBACK, self.upstream_port), timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.connections.append((client, upstream))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def set_down(self, down):
        self.down = down
        if down:
            with self.lock:
                for pair in self.connections:
                    for sock in pair:
                        try:
                            sock.close()
                        except OSError:
                            pass
                self.connections = []

    def close(self):
        self.set_down(True)
        self.listener.close()


class FleetCluster:
    def __init__(self, name, full_name, plane, forwarder, membership=None):
        self.name = name                # short name, e.g. c07
        self.full_name = full_name      # projects/P/locations/L/clusters/C
        self.plane = plane              # the ControlPlane serving it
        self.forwarder = forwarder
        self.membership = membership    # projects/P/locations/global/memberships/M, when registered

    @property
    def endpoint(self):
        return "{0}:{1}".format(LOOPBACK, self.forwarder.port)

    @property
    def server(self):
        return "https://" + self.endpoint


class Fleet:
    def __init__(self, workdir, emulator_endpoint, servers=3):
        self.workdir = pathlib.Path(workdir)
        self.emulator_endpoint = emulator_endpoint
        self.planes = []
        self.servers = servers
        self.clusters = []

    def start(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        webhook = self.workdir / "token-webhook.kubeconfig"
        webhook.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "gcp-emulator", "cluster": {"server": self.emulator_endpoint + "/__emulator/tokenreview"}}],
            "users": [{"name": "kube-apiserver", "user": {}}],
            "contexts": [{"name": "webhook", "context": {"cluster": "gcp-emulator", "user": "kube-apiserver"}}],
            "current-context": "webhook"}))
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY))
        try:
            for index in range(self.servers):
                directory = self.workdir / "apiserver-{0}".format(index)
                args = ["--authentication-token-webhook-config-file=" + str(webhook),
                        "--authentication-token-webhook-version=v1",
                        "--audit-policy-file=" + str(policy),
                        "--audit-log-path=" + str(directory / "audit.log"),
                        "--audit-log-mode=blocking"]
                self.planes.append(ControlPlane(directory, apiserver_args=args).start())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for cluster in self.clusters:
            cluster.forwarder.close()
        for plane in self.planes:
            plane.stop()

    def grant(self, identity, cluster_role="cluster-admin"):
        """RBAC on every API server: the Google identity (a User named by its email, as GKE names it) gets ``cluster_role``."""
        name = "google-" + identity.split("@")[0]
        for plane in self.planes:
            body = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": identity}]}
            response = plane.session().post(plane.server + "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json=body, timeout=30)
            if response.status_code not in (201, 409):
                raise RuntimeError("ClusterRoleBinding on {0}: {1} {2}".format(plane.server, response.status_code, response.text))

    def seed(self, control, project, count, locations=("us-central1", "europe-west1", "us-east1-b"), memberships=True,
             labels=None):
        """``count`` GKE clusters c00..cNN in ``project`` over the API servers (round robin) and locations, each with its
        own endpoint; with ``memberships`` each is also registered to the project's fleet (GKE Hub)."""
        if len(self.clusters) != count:
            # The clusters (and their endpoints) are made once; seeding again registers them in a reset emulator.
            for cluster in self.clusters:
                cluster.forwarder.close()
            self.clusters = []
            for index in range(count):
                plane = self.planes[index % len(self.planes)]
                name = "c{0:02d}".format(index)
                location = locations[index % len(locations)]
                full_name = "projects/{0}/locations/{1}/clusters/{2}".format(project, location, name)
                membership = "projects/{0}/locations/global/memberships/{1}".format(project, name) if memberships else None
                self.clusters.append(FleetCluster(name, full_name, plane, Forwarder(int(plane.server.rsplit(":", 1)[1])), membership))
        for index, cluster in enumerate(self.clusters):
            cluster.forwarder.set_down(False)
            full_name, membership = cluster.full_name, cluster.membership
            ca_pem = pathlib.Path(cluster.plane.ca_file).read_text()
            cluster_labels = {"env": "prod" if index % 2 else "staging", "wave": str(index // 3 % 3)}
            cluster_labels.update(labels or {})
            control("POST", "gke-clusters", {"name": full_name, "endpoint": cluster.endpoint, "caPem": ca_pem,
                                             "labels": cluster_labels, "membership": membership})
            if membership:
                control("POST", "memberships", {"name": membership, "server": cluster.server, "caPem": ca_pem,
                                                "cluster": full_name, "labels": cluster_labels})
        return self.clusters

    def cluster(self, name):
        return next(c for c in self.clusters if c.name == name)

    def outage(self, name):
        self.cluster(name).forwarder.set_down(True)

    def restore(self, name):
        self.cluster(name).forwarder.set_down(False)

    def audit_events(self):
        events = []
        for plane in self.planes:
            log = plane.workdir / "audit.log"
            if log.exists():
                events += [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        return events

    def audit_mark(self):
        """How many audit events exist now, per API server (pass to ``writes(since=...)``)."""
        return [len((plane.workdir / "audit.log").read_text().splitlines()) if (plane.workdir / "audit.log").exists() else 0
                for plane in self.planes]

    def requests(self, since=None, user=None):
        """Audit events (stage ResponseComplete) of clients since a mark, optionally of one user."""
        out = []
        for index, plane in enumerate(self.planes):
            log = plane.workdir / "audit.log"
            lines = log.read_text().splitlines() if log.exists() else []
            for line in lines[(since[index] if since else 0):]:
                event = json.loads(line)
                if event.get("stage") != "ResponseComplete":
                    continue
                username = (event.get("user") or {}).get("username") or ""
                if (user and username != user) or username.startswith("system:"):
                    continue  # kube-apiserver's own traffic (system:apiserver and the like) is not a client's
                event["_server"] = plane.server
                out.append(event)
        return out

    def writes(self, since=None, user=None):
        """Write requests (not dry runs) the API servers answered since a mark."""
        return [event for event in self.requests(since, user)
                if event.get("verb") in WRITE_VERBS and "dryRun=All" not in event.get("requestURI", "")]
