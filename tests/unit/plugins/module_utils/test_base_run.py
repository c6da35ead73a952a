"""ConfigSyncModule.run: the one error funnel of the seven modules."""
import json

import pytest
from ansible.module_utils import basic

from ansible_collections.configsync.oci.plugins.module_utils.base import ConfigSyncModule
from ansible_collections.configsync.oci.plugins.module_utils.configsync.names import ConfigSyncRuleError
from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError, TaskFailed
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import GcpAuthError, GcpError, GcpOptionError
from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import KubernetesConfigError, KubernetesError
from ansible_collections.configsync.oci.plugins.module_utils.oci.auth import RegistryAuthError
from ansible_collections.configsync.oci.plugins.module_utils.oci.push import PartialPushError
from ansible_collections.configsync.oci.plugins.module_utils.oci.reference import ReferenceError
from ansible_collections.configsync.oci.plugins.module_utils.oci.registry import RegistryError
from ansible_collections.configsync.oci.plugins.module_utils.oci.walk import PackagingError
from ansible_collections.configsync.oci.plugins.module_utils.push_service import OptionError
from ansible_collections.configsync.oci.plugins.module_utils.transport_security import InsecureTransportError


@pytest.fixture
def module(monkeypatch):
    args = {"name": "repo", "password": "hunter2-secret", "_ansible_remote_tmp": "/tmp", "_ansible_keep_remote_files": False}
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
    return ConfigSyncModule(dict(name=dict(type="str"), password=dict(type="str", no_log=True)))


def outcome(capsys, module, *args):
    with pytest.raises(SystemExit) as exited:
        module.run(*args)
    return exited.value.code, json.loads(capsys.readouterr().out)


def test_the_logic_result_is_the_task_result(module, capsys):
    code, result = outcome(capsys, module, lambda m: {"changed": True, "name": m.params["name"]})
    assert code == 0 and result["changed"] is True and result["name"] == "repo"


@pytest.mark.parametrize("error", [
    GcpError("g"), GcpAuthError("a"), GcpOptionError("o"), KubernetesError("k", status=500), KubernetesConfigError("c"),
    ConfigSyncRuleError("KNV1061: r"), ReferenceError("ref"), PackagingError("p"), RegistryAuthError("ra"),
    RegistryError("re", status=500), PartialPushError("pp", tags_at={}), OptionError("op"), InsecureTransportError("tls"),
])
def test_every_collection_error_fails_with_its_own_message(module, capsys, error):
    assert isinstance(error, ConfigSyncError)

    def logic(_module):
        raise error
    code, result = outcome(capsys, module, logic)
    assert code == 1 and result["failed"] is True and result["msg"] == str(error)


def test_task_failed_carries_return_values(module, capsys):
    def logic(_module):
        raise TaskFailed("push failed", image="h/p:v1", digest="sha256:" + "0" * 64)
    code, result = outcome(capsys, module, logic)
    assert code == 1 and result["msg"] == "push failed"
    assert result["image"] == "h/p:v1" and result["digest"] == "sha256:" + "0" * 64


def test_library_errors_are_described_other_errors_are_bugs(module, capsys):
    class LibraryError(Exception):
        pass

    def library(_module):
        raise LibraryError("503 UNAVAILABLE")
    code, result = outcome(capsys, module, library, (LibraryError,), lambda exc: "request failed: %s" % exc)
    assert code == 1 and result["msg"] == "request failed: 503 UNAVAILABLE"

    def bug(_module):
        raise KeyError("bug")
    with pytest.raises(KeyError):
        module.run(bug, (LibraryError,))


def test_a_secret_in_a_message_is_masked(module, capsys):
    def logic(_module):
        raise ConfigSyncError("registry said hunter2-secret")
    code, result = outcome(capsys, module, logic)
    assert code == 1 and "hunter2-secret" not in json.dumps(result) and result["msg"] == "registry said ********"
