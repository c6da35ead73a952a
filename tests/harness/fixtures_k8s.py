"""pytest plugin: real Kubernetes control planes (etcd + kube-apiserver with Config Sync's release CRDs) per test session.

Fixtures:
    control_plane         session-scoped harness.controlplane.ControlPlane, started on first use, stopped at session
                          end; the one Config Sync (fixture ``config_sync``) runs on. Its certificates, etcd data
                          and server logs (audit.log included) stay under <basetemp>/controlplane.
    bare_control_plane    a second session-scoped control plane on which no controller ever runs: for tests that write
                          a sync object's status themselves (Config Sync's reconciler-manager would rewrite it).
                          <basetemp>/bare-controlplane.
    kube_client           kubernetes.client.ApiClient (admin) of ``control_plane``; ``bare_kube_client`` of the other.
    configsync_crds       the installed CRD files (always Config Sync's release manifests, from scripts/build-tools).

A machine where Config Sync's CRDs or the ``kubernetes`` package cannot be had gets errors here, never skips.
Audit: ``mark = plane.audit_mark()`` ... ``plane.write_requests(since=mark)`` lists what the Ansible runs (the operator
user of ``plane.operator_kubeconfig``) wrote; see harness.controlplane.
"""
import kubernetes
import pytest

from harness import tools
from harness.controlplane import ControlPlane


def pytest_report_header(config):  # pylint: disable=unused-argument
    pinned = tools.versions()
    return "control plane: etcd {0}, kube-apiserver {1}, Config Sync {2} (scripts/versions.env)".format(
        pinned["ETCD_VERSION"], pinned["KUBERNETES_VERSION"], pinned["CONFIGSYNC_VERSION"])


def _running(workdir):
    plane = ControlPlane(workdir)
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    yield from _running(tmp_path_factory.getbasetemp() / "controlplane")


@pytest.fixture(scope="session")
def bare_control_plane(tmp_path_factory):
    yield from _running(tmp_path_factory.getbasetemp() / "bare-controlplane")


@pytest.fixture(scope="session")
def configsync_crds():
    return tools.crd_paths()


def _client(plane):
    client = kubernetes.config.new_client_from_config(config_file=str(plane.kubeconfig))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def kube_client(control_plane):
    yield from _client(control_plane)


@pytest.fixture(scope="session")
def bare_kube_client(bare_control_plane):
    yield from _client(bare_control_plane)
