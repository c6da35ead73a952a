import os
import subprocess
import sys

import pytest

from ansible_collections.configsync.oci.plugins.module_utils.oci.registry import error_messages, is_loopback, parse_range, with_query


@pytest.mark.parametrize("value, received", [("0-1023", 1024), ("bytes=0-99", 100), ("0-0", 0), ("", 0), (None, 0)])
def test_upload_range(value, received):
    assert parse_range(value) == received


def test_with_query_keeps_registry_state():
    assert with_query("http://h/v2/a/blobs/uploads/u?_state=x", digest="sha256:1") == "http://h/v2/a/blobs/uploads/u?_state=x&digest=sha256%3A1"
    assert with_query("/v2/a/blobs/uploads/", mount="sha256:1", **{"from": "b/c"}) == "/v2/a/blobs/uploads/?mount=sha256%3A1&from=b%2Fc"


@pytest.mark.parametrize("host, loopback", [
    ("localhost", True), ("localhost:5000", True), ("127.0.0.1:5000", True), ("[::1]:5000", True),
    ("registry.example.com", False), ("127.0.0.2:5000", True), ("localhost.example.com", False),
])
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_module_chunk_size_default_is_the_registry_one():
    # One definition, in oci/constants.py, which imports nothing: the module reads it for its option spec without
    # importing the registry client (and requests), which push_service loads on a thread while it packages.
    from ansible_collections.configsync.oci.plugins.module_utils import push_service
    from ansible_collections.configsync.oci.plugins.module_utils.oci import constants, registry
    from ansible_collections.configsync.oci.plugins.modules import oci_push
    assert oci_push.DEFAULT_CHUNK_SIZE is constants.DEFAULT_CHUNK_SIZE
    assert registry.DEFAULT_CHUNK_SIZE is constants.DEFAULT_CHUNK_SIZE
    assert push_service._load_registry()() is registry


def test_the_module_imports_neither_requests_nor_the_registry_client_up_front():
    code = ("import sys; import ansible_collections.configsync.oci.plugins.modules.oci_push; "
            "print(sorted(m for m in sys.modules if m == 'requests' or m.endswith('module_utils.oci.registry')))")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


class _Answer:
    def __init__(self, body):
        self.body = body

    def json(self):
        if self.body is None:
            raise ValueError("no JSON")
        return self.body


def test_error_messages_keep_the_registry_words():
    message = ('Permission "artifactregistry.repositories.uploadArtifacts" denied on resource '
               '"projects/p/locations/l/repositories/r" (or it may not exist)')
    assert error_messages(_Answer({"errors": [{"code": "DENIED", "message": message}]})) == ("DENIED: " + message,)
    assert error_messages(_Answer({"errors": [{"code": "UNAUTHORIZED"}]})) == ("UNAUTHORIZED",)
    assert error_messages(_Answer(None)) == ()


class _Retried:
    def __init__(self, retry_after=None):
        self.headers = {"Retry-After": retry_after} if retry_after else {}


class _NoSession:
    """No request is sent: only the policy is under test."""

    def __init__(self):
        self.headers = {}


def test_one_retry_policy_backoff_retry_after_budget_and_redaction():
    from ansible_collections.configsync.oci.plugins.module_utils.oci.auth import RegistryCredentials
    from ansible_collections.configsync.oci.plugins.module_utils.oci.registry import Attempts, RegistryClient, RegistryError
    slept = []
    client = RegistryClient("r.example.com", RegistryCredentials("r.example.com", "u", "s3cret-pw"), retries=7, backoff=0.5,
                            sleep=slept.append, session=_NoSession())
    attempts = Attempts(client, "PATCH upload of sha256:1")
    for _retry in range(6):
        assert attempts.left
        attempts.retry(503, _Retried())
    assert slept == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]  # doubled per retry, at most 10 s
    attempts.retry(429, _Retried("60"))  # the registry's Retry-After when longer, at most 30 s
    assert slept[-1] == 30.0 and not attempts.left and client.stats["retries"] == 7
    with pytest.raises(RegistryError) as caught:
        attempts.retry("connection reset while sending s3cret-pw")
    assert str(caught.value) == ("registry r.example.com: PATCH upload of sha256:1 failed after 8 attempts: "
                                 "connection reset while sending ********")
    assert client.stats["retries"] == 7 and len(slept) == 7  # the refused retry neither counts nor waits
    attempts.reset()  # progress (a chunk landed): the budget starts again, from the first delay
    attempts.retry(503)
    assert attempts.failed == 1 and slept[-1] == 0.5

    none_left = Attempts(RegistryClient("r.example.com", RegistryCredentials("r.example.com"), retries=0, session=_NoSession()),
                         "GET /v2/")
    assert not none_left.left
    with pytest.raises(RegistryError, match="GET /v2/ failed after 1 attempts"):
        none_left.retry(500)


def test_the_policy_resends_after_drops_and_transient_statuses():
    from ansible_collections.configsync.oci.plugins.module_utils.oci.auth import RegistryCredentials
    from ansible_collections.configsync.oci.plugins.module_utils.oci.registry import Attempts, RegistryClient, _TransientError
    client = RegistryClient("r.example.com", RegistryCredentials("r.example.com"), retries=2, sleep=lambda _s: None,
                            session=_NoSession())

    class Answer(_Retried):
        def __init__(self, status):
            super().__init__()
            self.status_code = status

    answers = [_TransientError("connection reset"), Answer(503), Answer(200)]

    def exchange():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    assert Attempts(client, "GET /v2/").send(exchange).status_code == 200 and client.stats["retries"] == 2
    answers[:] = [Answer(502), Answer(502), Answer(502)]
    assert Attempts(client, "GET /v2/").send(exchange).status_code == 502 and not answers  # the budget's last answer
