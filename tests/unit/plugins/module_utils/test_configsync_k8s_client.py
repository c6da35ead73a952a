"""The pure parts of k8s.py: connection settings from kubernetes.core-style options, and the no-op decision."""
import pytest

from ansible_collections.configsync.oci.plugins.module_utils.k8s.apply import apply_changes, comparable
from ansible_collections.configsync.oci.plugins.module_utils.k8s.client import collection_path, object_path
from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import KubernetesConfigError
from ansible_collections.configsync.oci.plugins.module_utils.k8s.kubeconfig import settings_from_params

NO_OPTIONS = {"kubeconfig": None, "context": None, "host": None, "api_key": None, "ca_cert": None, "client_cert": None,
              "client_key": None, "validate_certs": None}


def params(**values):
    return dict(NO_OPTIONS, **values)


def kubeconfig(server="https://127.0.0.1:6443", token="kc-token"):
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "a", "cluster": {"server": server, "insecure-skip-tls-verify": True}},
                     {"name": "b", "cluster": {"server": "https://10.0.0.2:443"}}],
        "users": [{"name": "a", "user": {"token": token}}],
        "contexts": [{"name": "a", "context": {"cluster": "a", "user": "a"}}, {"name": "b", "context": {"cluster": "b", "user": "a"}}],
    }


def test_host_and_api_key_need_no_kubeconfig(monkeypatch):
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")
    settings = settings_from_params(params(host="https://203.0.113.10:443/", api_key="abc", ca_cert="/tmp/ca.crt"))
    assert settings.host == "https://203.0.113.10:443"
    assert settings.authorization() == "Bearer abc"
    assert settings.ca_cert == "/tmp/ca.crt"
    assert settings.verify is True


def test_bearer_prefix_is_not_doubled():
    assert settings_from_params(params(host="https://h:6443", api_key="Bearer abc")).authorization() == "Bearer abc"


def test_kubeconfig_dict_and_context():
    settings = settings_from_params(params(kubeconfig=kubeconfig()))
    assert settings.host == "https://127.0.0.1:6443"
    assert settings.verify is False
    assert settings.authorization() == "Bearer kc-token"
    assert settings_from_params(params(kubeconfig=kubeconfig(), context="b")).host == "https://10.0.0.2:443"


def test_options_override_the_kubeconfig():
    settings = settings_from_params(params(kubeconfig=kubeconfig(), host="https://other:6443", api_key="opt", validate_certs=True))
    assert settings.host == "https://other:6443"
    assert settings.authorization() == "Bearer opt"
    assert settings.verify is True


def test_kubeconfig_file(tmp_path):
    import yaml
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig(server="https://192.0.2.1:6443")))
    assert settings_from_params(params(kubeconfig=str(path))).host == "https://192.0.2.1:6443"


def test_missing_kubeconfig_is_named(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubernetesConfigError, match="kubeconfig /nonexistent/config does not exist"):
        settings_from_params(params(kubeconfig="/nonexistent/config"))


def test_unknown_context_is_a_config_error():
    with pytest.raises(KubernetesConfigError, match="context nope"):
        settings_from_params(params(kubeconfig=kubeconfig(), context="nope"))


def test_secret_not_in_config_errors():
    with pytest.raises(KubernetesConfigError) as error:
        settings_from_params(params(host="ftp://h", api_key="very-secret"))
    assert "very-secret" not in str(error.value)


def test_rest_paths():
    assert object_path("configsync.gke.io/v1beta1", "rootsyncs", "config-management-system", "root-sync") == \
        "/apis/configsync.gke.io/v1beta1/namespaces/config-management-system/rootsyncs/root-sync"
    assert collection_path("v1", "namespaces") == "/api/v1/namespaces"
    assert collection_path("kpt.dev/v1alpha1", "resourcegroups") == "/apis/kpt.dev/v1alpha1/resourcegroups"


LIVE = {
    "apiVersion": "configsync.gke.io/v1beta1", "kind": "RootSync",
    "metadata": {"name": "root-sync", "namespace": "config-management-system", "resourceVersion": "10", "generation": 1,
                 "uid": "u", "creationTimestamp": "2026-11-27T10:00:00Z",
                 "managedFields": [{"manager": "configsync.oci", "operation": "Apply", "time": "2026-11-27T10:00:00Z",
                                    "fieldsV1": {"f:spec": {"f:oci": {"f:image": {}}}}}]},
    "spec": {"sourceType": "oci", "oci": {"image": "r/p:v1", "auth": "none"}},
    "status": {"observedGeneration": 1},
}


def with_changes(obj, spec=None, fields=None, resource_version=None):
    import copy
    changed = copy.deepcopy(obj)
    if spec:
        changed["spec"]["oci"].update(spec)
    if fields:
        changed["metadata"]["managedFields"][0]["fieldsV1"] = fields
    if resource_version:
        changed["metadata"]["resourceVersion"] = resource_version
    return changed


def test_same_content_and_ownership_is_no_change():
    assert apply_changes(LIVE, with_changes(LIVE)) is False


def test_changed_field_is_a_change():
    assert apply_changes(LIVE, with_changes(LIVE, spec={"image": "r/p:v2"})) is True


def test_dropped_ownership_is_a_change():
    # Removing an option from the playbook releases the field: content may look the same, ownership does not.
    assert apply_changes(LIVE, with_changes(LIVE, fields={"f:spec": {}})) is True


def test_new_object_is_a_change():
    assert apply_changes(None, LIVE) is True


def test_comparable_drops_bookkeeping_and_status():
    shown = comparable(LIVE)
    assert "status" not in shown
    assert set(shown["metadata"]) == {"name", "namespace"}
    assert comparable(None) is None


def test_embedded_certificates_are_written_privately_and_relative_paths_resolved(tmp_path):
    import base64
    import os
    import stat
    import yaml
    config = kubeconfig()
    config["clusters"][0]["cluster"] = {"server": "https://127.0.0.1:6443", "certificate-authority": "pki/ca.crt"}
    config["users"][0]["user"] = {"client-certificate-data": base64.b64encode(b"CERT").decode(),
                                  "client-key-data": base64.b64encode(b"KEY").decode()}
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(config))
    settings = settings_from_params(params(kubeconfig=str(path)))
    assert settings.ca_cert == str(tmp_path / "pki" / "ca.crt")
    assert open(settings.client_cert, "rb").read() == b"CERT"
    assert open(settings.client_key, "rb").read() == b"KEY"
    assert stat.S_IMODE(os.stat(settings.client_key).st_mode) == 0o600
    assert settings.authorization() is None


def test_token_file(tmp_path):
    (tmp_path / "token").write_text("from-file\n")
    config = kubeconfig()
    config["users"][0]["user"] = {"tokenFile": str(tmp_path / "token")}
    assert settings_from_params(params(kubeconfig=config)).authorization() == "Bearer from-file"


def test_exec_plugin_goes_through_the_kubernetes_library():
    credential = '{"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": {"token": "exec-token"}}'
    config = kubeconfig()
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "sh",
                                           "args": ["-c", "echo '%s'" % credential], "interactiveMode": "Never"}}
    settings = settings_from_params(params(kubeconfig=config))
    assert settings.host == "https://127.0.0.1:6443"
    assert settings.authorization() == "Bearer exec-token"
