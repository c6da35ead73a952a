"""Fixtures of the Kubernetes-side tests: the modules' connection settings and a client for custom objects."""
import pytest


@pytest.fixture
def k8s_env(control_plane):
    """The environment a module run needs to reach the test control plane (kubernetes.core's variable)."""
    return {"K8S_AUTH_KUBECONFIG": str(control_plane.kubeconfig)}


@pytest.fixture
def custom(kube_client):
    import kubernetes  # pylint: disable=import-outside-toplevel
    return kubernetes.client.CustomObjectsApi(kube_client)
