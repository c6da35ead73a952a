"""pytest plugin: one real Kubernetes control plane (etcd + kube-apiserver, Config Sync CRDs) per test session.

Fixtures:
    control_plane         session-scoped harness.controlplane.ControlPlane, started on first use, stopped at session
                          end. Its certificates, etcd data and server logs stay under the pytest basetemp
                          (<basetemp>/controlplane/logs/*.log) for debugging; ``control_plane.crd_origin`` says
                          whether Config Sync's release CRDs or the stand-ins in tests/harness/crds are installed.
    kube_client           kubernetes.client.ApiClient configured from the control plane's kubeconfig.
    configsync_crds       the installed CRD files (release or stand-in).
    real_configsync_crds  the same, but skips the test when only the stand-ins could be installed.
"""
import pytest

from harness import tools
from harness.controlplane import ControlPlane


def pytest_report_header(config):  # pylint: disable=unused-argument
    pinned = tools.versions()
    return "control plane: etcd {0}, kube-apiserver {1}, Config Sync {2} (scripts/versions.env)".format(
        pinned["ETCD_VERSION"], pinned["KUBERNETES_VERSION"], pinned["CONFIGSYNC_VERSION"])


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    # Failing to build etcd or kube-apiserver is an error, not a skip: the proxy serves both.
    plane = ControlPlane(tmp_path_factory.getbasetemp() / "controlplane")
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def configsync_crds(control_plane):
    return control_plane.crd_files


@pytest.fixture(scope="session")
def real_configsync_crds(control_plane):
    if not all(tools.crd_dir() in path.parents for path in control_plane.crd_files):
        pytest.skip("Config Sync's release CRDs are not installed: " + control_plane.crd_origin)
    return control_plane.crd_files


@pytest.fixture(scope="session")
def kube_client(control_plane):
    kubernetes = pytest.importorskip("kubernetes")
    client = kubernetes.config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    try:
        yield client
    finally:
        client.close()
