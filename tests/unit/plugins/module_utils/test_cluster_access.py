"""The rules of cluster_access.py: names, which source a task's options make, and play environment vs host source."""
import pytest

from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import KubernetesConfigError
from ansible_collections.configsync.oci.plugins.module_utils.k8s.kubeconfig import K8S_AUTH_ARGSPEC
from ansible_collections.configsync.oci.plugins.module_utils.cluster_access import (
    CLUSTER_ARGSPEC, ClusterSourceConflict, gateway_server, own_sources, parse_cluster, parse_membership,
    settings_from_params, without_environment,
)

NO_OPTIONS = dict({name: None for name in K8S_AUTH_ARGSPEC}, **{name: None for name in CLUSTER_ARGSPEC})


def params(**values):
    return dict(NO_OPTIONS, **values)


def kubeconfig(server_a="https://127.0.0.1:6443", server_b="https://127.0.0.1:7443"):
    return {"apiVersion": "v1", "kind": "Config", "current-context": "a",
            "clusters": [{"name": "a", "cluster": {"server": server_a}}, {"name": "b", "cluster": {"server": server_b}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
            "contexts": [{"name": "a", "context": {"cluster": "a", "user": "u"}}, {"name": "b", "context": {"cluster": "b", "user": "u"}}]}


def test_names_are_checked_before_any_request():
    assert parse_cluster("projects/p/locations/us-central1-a/clusters/c") == ("p", "us-central1-a", "c")
    assert parse_membership("projects/123/locations/global/memberships/m") == ("123", "global", "m")
    with pytest.raises(KubernetesConfigError, match="gke_cluster 'p/c' is not a name of the form projects/PROJECT"):
        parse_cluster("p/c")
    with pytest.raises(KubernetesConfigError, match="fleet_membership"):
        parse_membership("projects/p/locations/global/clusters/c")


def test_gateway_url_uses_gke_memberships_for_a_registered_gke_cluster():
    assert gateway_server("https://connectgateway.googleapis.com", "123", "global", "m", True) == \
        "https://connectgateway.googleapis.com/v1/projects/123/locations/global/gkeMemberships/m"
    assert gateway_server("https://connectgateway.googleapis.com/", "123", "us-east1", "m", False) == \
        "https://connectgateway.googleapis.com/v1/projects/123/locations/us-east1/memberships/m"


def test_own_sources_are_only_what_the_task_set():
    values = params(gke_cluster="projects/p/locations/l/clusters/c", host="https://env:443", kubeconfig="/k", context="x")
    assert [kind for kind, dummy in own_sources(values, {"gke_cluster"})] == ["gke_cluster"]
    assert [kind for kind, dummy in own_sources(values, {"gke_cluster", "kubeconfig", "host"})] == ["gke_cluster", "kubeconfig", "host"]


def test_play_environment_is_dropped_when_the_host_has_its_own_source():
    environ = {"K8S_AUTH_HOST": "https://env:443", "K8S_AUTH_API_KEY": "secret", "K8S_AUTH_KUBECONFIG": "/env"}
    values = params(host="https://env:443", api_key="secret", kubeconfig="/env", gke_cluster="projects/p/locations/l/clusters/c")
    cleaned = without_environment(values, {"gke_cluster"}, environ, True)
    assert cleaned["host"] is None and cleaned["api_key"] is None and cleaned["kubeconfig"] is None
    # An explicit option equal to the environment's value is the task's own.
    kept = without_environment(values, {"host"}, environ, False)
    assert kept["host"] == "https://env:443" and kept["api_key"] is None


def test_play_environment_is_the_source_when_the_task_names_none():
    # K8S_AUTH_HOST / K8S_AUTH_API_KEY alone (as kubernetes.core takes them) reach that server.
    environ = {"K8S_AUTH_HOST": "https://127.0.0.1:9999", "K8S_AUTH_API_KEY": "play-token"}
    values = params(host=environ["K8S_AUTH_HOST"], api_key="play-token")
    settings = settings_from_params(values, explicit=set(), environ=environ)
    assert settings.host == "https://127.0.0.1:9999"
    assert settings.authorization() == "Bearer play-token"


def test_host_kubeconfig_context_wins_over_k8s_auth_host():
    environ = {"K8S_AUTH_HOST": "https://127.0.0.1:9999", "K8S_AUTH_API_KEY": "play-token"}
    values = params(kubeconfig=kubeconfig(), context="b", host=environ["K8S_AUTH_HOST"], api_key="play-token")
    settings = settings_from_params(values, explicit={"kubeconfig", "context"}, environ=environ)
    assert settings.host == "https://127.0.0.1:7443"
    assert settings.authorization() == "Bearer t"


def test_two_google_sources_conflict_before_any_request():
    def no_reader(_params):
        raise AssertionError("no Google request may be made")
    values = params(gke_cluster="projects/p/locations/l/clusters/c", fleet_membership="projects/p/locations/global/memberships/c")
    with pytest.raises(ClusterSourceConflict) as raised:
        settings_from_params(values, explicit={"gke_cluster", "fleet_membership"}, environ={}, reader_factory=no_reader)
    assert "gke_cluster projects/p/locations/l/clusters/c" in str(raised.value)
    assert "fleet_membership projects/p/locations/global/memberships/c" in str(raised.value)


def test_a_missing_kubeconfig_next_to_a_gke_cluster_fails_before_any_google_request():
    def no_reader(_params):
        raise AssertionError("no Google request may be made")
    values = params(gke_cluster="projects/p/locations/l/clusters/c", kubeconfig="/no/such/kubeconfig")
    with pytest.raises(KubernetesConfigError, match="/no/such/kubeconfig"):
        settings_from_params(values, explicit={"gke_cluster", "kubeconfig"}, environ={}, reader_factory=no_reader)
