"""pytest plugin: one real Kubernetes control plane (etcd + kube-apiserver, Config Sync CRDs) per test session.

Fixtures:
    control_plane    session-scoped harness.controlplane.ControlPlane, started on first use, stopped at session end.
                     Its certificates, etcd data and server logs stay under the pytest basetemp
                     (<basetemp>/controlplane/logs/*.log) for debugging.
    kube_client      kubernetes.client.ApiClient configured from the control plane's kubeconfig.
    configsync_crds  the CRD files installed; skips the test when Config Sync's CRDs could not be obtained.
"""
import pytest

from harness import tools
from harness.controlplane import ControlPlane


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory):
    # The etcd + kube-apiserver binaries are required: failing to build them is an error, not a skip.
    # Config Sync's CRDs come from a module the proxy may not serve; without them the plane still runs, and only
    # the tests asking for configsync_crds skip, naming the reason.
    try:
        crds = tools.crd_paths()
        crds_unavailable = None
    except tools.ToolUnavailable as error:
        crds = []
        crds_unavailable = str(error)
    plane = ControlPlane(tmp_path_factory.getbasetemp() / "controlplane", crds=crds)
    plane.crds_unavailable = crds_unavailable
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def configsync_crds(control_plane):
    if control_plane.crds_unavailable:
        pytest.skip("Config Sync CRDs unavailable: " + control_plane.crds_unavailable)
    return control_plane.crd_files


@pytest.fixture(scope="session")
def kube_client(control_plane):
    kubernetes = pytest.importorskip("kubernetes")
    client = kubernetes.config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    try:
        yield client
    finally:
        client.close()
