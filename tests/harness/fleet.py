"""A fleet of clusters on the one test control plane, for the role's and the status report's tests.

Each cluster (inventory host) is one RepoSync namespace on the shared API server, synced by Config Sync
(harness.configsync_runner); a cluster that cannot be reached is a kubeconfig whose server nothing answers; a
cluster whose reconciler has not started yet is a sync object whose reconciler Pod is held back.
"""
import pathlib
import socket
import threading
import uuid

import yaml

from harness.configsync_runner import ConfigSyncReconciler, reconciler_name
from harness.process import LOOPBACK, free_port

SYNC_API = "/apis/configsync.gke.io/v1beta1"


def configmap_manifest(name, data):
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: " + name, "data:"]
    lines += ["  {0}: \"{1}\"".format(key, value) for key, value in sorted(data.items())]
    return "\n".join(lines) + "\n"


def kubeconfig_for_server(kubeconfig, path, server):
    """A copy of a kubeconfig whose cluster entries point at another server URL (same credentials)."""
    config = yaml.safe_load(pathlib.Path(kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = server
    path = pathlib.Path(path)
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


class ConnectionRecorder:
    """A TCP listener standing where an API server would be: it records every connection and answers none, so a test
    can show that nothing was sent to the cluster."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self):
        return "https://{0}:{1}".format(LOOPBACK, self.port)

    def _accept(self):
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.connections.append(peer)
            conn.close()

    def close(self):
        self.sock.close()


class Fleet:
    """RepoSync namespaces on the control plane, one per cluster name, and the objects the tests made there."""

    def __init__(self, control_plane, config_sync, workdir):
        self.control_plane = control_plane
        self.config_sync = config_sync
        self.workdir = pathlib.Path(workdir)
        self.http = control_plane.session()
        self.suffix = uuid.uuid4().hex[:5]
        self.namespaces = []
        self.held = []

    def namespace_for(self, cluster):
        name = "{0}-{1}".format(cluster, self.suffix)
        response = self.http.post(self.control_plane.server + "/api/v1/namespaces",
                                  json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, timeout=30)
        assert response.status_code in (201, 409), response.text
        self.namespaces.append(name)
        return name

    def unreachable_kubeconfig(self, name="unreachable"):
        """A kubeconfig for a cluster that does not answer (a loopback port nothing listens on)."""
        return kubeconfig_for_server(self.control_plane.kubeconfig, self.workdir / (name + ".kubeconfig"),
                                     "https://{0}:{1}".format(LOOPBACK, free_port()))

    def hold_reconciler(self, name, namespace, kind="RepoSync"):
        """Keep the sync object's reconciler Pod from starting (as while its node pulls the images): Config Sync's
        reconciler-manager still creates the Deployment, but no reconciler runs, so the sync stays PENDING."""
        deployment = reconciler_name(kind, name, namespace)
        # pylint: disable=protected-access
        with self.config_sync._lock:
            self.config_sync.reconcilers[deployment] = ConfigSyncReconciler(kind, name, namespace, self.control_plane,
                                                                            self.config_sync.workdir)
        self.held.append(deployment)

    def release_held(self):
        """Let the held reconcilers run (the runner starts them on its next look), so their syncs can be deleted."""
        # pylint: disable=protected-access
        with self.config_sync._lock:
            for deployment in self.held:
                self.config_sync.reconcilers.pop(deployment, None)
        self.held = []

    def sync_object(self, namespace, name, kind="RepoSync"):
        response = self.http.get("{0}{1}/namespaces/{2}/{3}s/{4}".format(self.control_plane.server, SYNC_API, namespace,
                                                                         kind.lower(), name), timeout=30)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def cleanup(self):
        """Delete the RepoSyncs (Config Sync finalizes them) and then the namespaces the fleet made."""
        self.release_held()
        for namespace in self.namespaces:
            self.http.delete("{0}{1}/namespaces/{2}/reposyncs".format(self.control_plane.server, SYNC_API, namespace), timeout=30)
        for namespace in self.namespaces:
            self.http.delete("{0}/api/v1/namespaces/{1}".format(self.control_plane.server, namespace), timeout=30)
