import json

import pytest
from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import (
    CLOUD_PLATFORM_SCOPE, credentials, endpoint, require_project, _scopes,
)
from ansible_collections.configsync.oci.plugins.module_utils.gcp.clients import client_options
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import (
    api_errors, describe_error, GcpAuthError, GcpOptionError, http_status, is_not_found,
)

SCOPE = CLOUD_PLATFORM_SCOPE


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("GCP_API_ENDPOINT", "GCP_ARTIFACTREGISTRY_ENDPOINT", "GCP_IAM_ENDPOINT", "GCP_IAMCREDENTIALS_ENDPOINT", "GCP_SCOPES"):
        monkeypatch.delenv(name, raising=False)


def test_endpoint_precedence(monkeypatch):
    assert endpoint({}, "artifactregistry") is None
    monkeypatch.setenv("GCP_API_ENDPOINT", "https://global")
    assert endpoint({}, "artifactregistry") == "https://global"
    monkeypatch.setenv("GCP_ARTIFACTREGISTRY_ENDPOINT", "https://ar")
    assert endpoint({}, "artifactregistry") == "https://ar"
    assert endpoint({}, "iam") == "https://global"
    assert endpoint({"api_endpoint": "https://option"}, "artifactregistry") == "https://option"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:80", "https://ar.example.com",
                                 "artifactregistry.googleapis.com"])
def test_allowed_endpoints(url):
    assert endpoint({"api_endpoint": url}, "artifactregistry") == url


@pytest.mark.parametrize("url", ["http://10.0.0.5:8080", "HTTP://ar.example.com", "http://127.0.0.1.example.com", "http://127example.com"])
def test_plain_http_to_other_hosts_is_refused(url):
    with pytest.raises(GcpOptionError, match="unencrypted"):
        endpoint({"api_endpoint": url}, "artifactregistry")


def test_client_options_only_when_overridden():
    assert client_options({}, "iam") is None
    assert client_options({"api_endpoint": "http://127.0.0.1:8080"}, "iam").api_endpoint == "http://127.0.0.1:8080"


def test_scopes_from_env_when_the_option_is_the_default(monkeypatch):
    monkeypatch.setenv("GCP_SCOPES", "https://a, https://b")
    assert _scopes({"scopes": [SCOPE]}) == ["https://a", "https://b"]
    assert _scopes({"scopes": ["https://c"]}) == ["https://c"]


def test_access_token_credentials_carry_the_token_and_explain_a_401():
    from google.auth import exceptions
    creds = credentials({"auth_kind": "accesstoken", "access_token": "tok-123", "scopes": [SCOPE]})
    assert creds.token == "tok-123" and creds.valid
    with pytest.raises(exceptions.RefreshError, match="rejected access_token") as caught:
        creds.refresh(None)
    assert "tok-123" not in str(caught.value)


def test_accesstoken_without_token():
    with pytest.raises(GcpAuthError, match="access_token"):
        credentials({"auth_kind": "accesstoken", "scopes": [SCOPE]})


def test_service_account_from_file_and_contents(tmp_path, key_info):
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(key_info))
    from_file = credentials({"auth_kind": "serviceaccount", "service_account_file": str(path), "scopes": [SCOPE]})
    from_contents = credentials({"auth_kind": "serviceaccount", "service_account_contents": json.dumps(key_info), "scopes": [SCOPE]})
    for creds in (from_file, from_contents):
        assert creds.service_account_email == "sa@p.iam.gserviceaccount.com"
        assert creds._token_uri == key_info["token_uri"]


@pytest.mark.parametrize("setup, words", [
    (lambda tmp: str(tmp / "nope.json"), ["service_account_file", "nope.json", "cannot be read"]),
    (str, ["service_account_file", "cannot be read"]),
    (lambda tmp: (tmp / "x.json").write_text("not json") and str(tmp / "x.json"), ["is not a JSON service-account key"]),
])
def test_unusable_key_files(tmp_path, setup, words):
    with pytest.raises(GcpAuthError) as caught:
        credentials({"auth_kind": "serviceaccount", "service_account_file": setup(tmp_path), "scopes": [SCOPE]})
    for word in words:
        assert word in str(caught.value)


def test_bad_contents_never_echo_the_secret(key_info):
    broken = json.dumps(key_info)[:-5]
    with pytest.raises(GcpAuthError, match="service_account_contents is not valid JSON") as caught:
        credentials({"auth_kind": "serviceaccount", "service_account_contents": broken, "scopes": [SCOPE]})
    assert "PRIVATE KEY" not in str(caught.value)
    corrupt = dict(key_info, private_key=key_info["private_key"].replace("A", "B"))
    with pytest.raises((GcpAuthError, ValueError)) as caught:
        credentials({"auth_kind": "serviceaccount", "service_account_contents": json.dumps(corrupt), "scopes": [SCOPE]})
    assert key_info["private_key"].splitlines()[2] not in str(caught.value)


def test_serviceaccount_needs_a_key():
    with pytest.raises(GcpAuthError, match="service_account_file nor service_account_contents"):
        credentials({"auth_kind": "serviceaccount", "scopes": [SCOPE]})


def test_impersonation_follows_the_endpoint_override(key_info, monkeypatch):
    monkeypatch.setenv("GCP_IAMCREDENTIALS_ENDPOINT", "http://127.0.0.1:9999")
    creds = credentials({"auth_kind": "serviceaccount", "service_account_contents": json.dumps(key_info), "scopes": [SCOPE],
                         "impersonate_service_account": "target@p.iam.gserviceaccount.com"})
    assert creds._target_principal == "target@p.iam.gserviceaccount.com"
    assert creds._iam_endpoint_override == (
        "http://127.0.0.1:9999/v1/projects/-/serviceAccounts/target@p.iam.gserviceaccount.com:generateAccessToken")


def test_require_project():
    assert require_project({"project": "p-proj"}) == "p-proj"
    with pytest.raises(GcpOptionError, match="GCP_PROJECT"):
        require_project({"project": None})


def test_errors_of_both_client_families():
    from google.api_core import exceptions
    from googleapiclient.errors import HttpError
    import httplib2
    core = exceptions.from_http_status(409, "There were concurrent policy changes.")
    assert http_status(core) == 409
    assert describe_error(core).startswith("409")
    body = json.dumps({"error": {"code": 404, "message": "Unknown service account", "status": "NOT_FOUND"}}).encode()
    discovery = HttpError(httplib2.Response({"status": 404}), body)
    assert http_status(discovery) == 404 and is_not_found(discovery)
    assert describe_error(discovery) == "404 NOT_FOUND Unknown service account"
    assert http_status(ValueError("x")) is None
    assert isinstance(core, api_errors()) and isinstance(discovery, api_errors())


def test_one_retry_policy_for_both_client_families():
    from google.api_core import exceptions
    from googleapiclient.errors import HttpError
    import httplib2
    import requests
    from ansible_collections.configsync.oci.plugins.module_utils.gcp.clients import is_transient, transient_retry

    def discovery_error(status):
        return HttpError(httplib2.Response({"status": status}), b"{}")
    for status in (429, 500, 502, 503, 504):
        assert is_transient(exceptions.from_http_status(status, "x")) and is_transient(discovery_error(status))
    for status in (400, 403, 404, 409, 412):
        assert not is_transient(exceptions.from_http_status(status, "x")) and not is_transient(discovery_error(status))
    assert is_transient(ConnectionResetError()) and not is_transient(ValueError("x"))

    # A discovery request wrapped whole: two 503s, then the answer.
    answers = [discovery_error(503), discovery_error(503), {"etag": "BwY="}]

    def execute():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    assert transient_retry(deadline=5)(execute)() == {"etag": "BwY="} and answers == []
    # A 409 is the etag loop's business, not the retry's: raised at once.
    answers[:] = [discovery_error(409), {"etag": "late"}]
    with pytest.raises(HttpError):
        transient_retry(deadline=5)(execute)()
    assert answers == [{"etag": "late"}]
    assert is_transient(requests.exceptions.ConnectionError(), (requests.exceptions.ConnectionError,))
