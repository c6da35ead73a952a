"""Fixtures of the Kubernetes-side tests: the modules' connection settings and a client for custom objects.

The module tests here write sync objects' status themselves (shaped as Config Sync writes it), so they run on
``bare_control_plane``, where no Config Sync controller rewrites it. Ansible runs act as the control plane's operator
user, so ``bare_control_plane.recorded_writes()`` shows exactly what a module run wrote.
"""
import kubernetes
import pytest


@pytest.fixture
def k8s_env(bare_control_plane):
    """The environment a module run needs to reach the test control plane (kubernetes.core's variable)."""
    return {"K8S_AUTH_KUBECONFIG": str(bare_control_plane.operator_kubeconfig)}


@pytest.fixture
def custom(bare_kube_client):
    return kubernetes.client.CustomObjectsApi(bare_kube_client)
