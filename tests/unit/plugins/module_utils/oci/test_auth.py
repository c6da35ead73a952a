import base64
import json

import pytest

from ansible_collections.configsync.oci.plugins.module_utils.oci.auth import (
    GOOGLE_TOKEN_USER, RegistryAuthError, RegistryCredentials, basic_header, docker_config_credentials,
    docker_config_path, is_google_registry, parse_challenges, redact,
)


@pytest.mark.parametrize("header, expected", [
    ('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"',
     [("bearer", {"realm": "https://auth.example.com/token", "service": "registry.example.com", "scope": "repository:a/b:pull,push"})]),
    # Artifact Registry's /v2/ challenge: a realm and no service.
    ('Bearer realm="https://us-docker.pkg.dev/v2/token"', [("bearer", {"realm": "https://us-docker.pkg.dev/v2/token"})]),
    ('Basic realm="Registry Realm"', [("basic", {"realm": "Registry Realm"})]),
    ("Basic", [("basic", {})]),
    ('bearer Realm="https://t/x", Service=svc', [("bearer", {"realm": "https://t/x", "service": "svc"})]),
    ('Basic realm="a, b", Bearer realm="https://t/token",service="s"',
     [("basic", {"realm": "a, b"}), ("bearer", {"realm": "https://t/token", "service": "s"})]),
    ('Bearer realm="https://t/token",error="insufficient_scope",scope="repository:x:push"',
     [("bearer", {"realm": "https://t/token", "error": "insufficient_scope", "scope": "repository:x:push"})]),
    ('Bearer realm="quote \\" inside"', [("bearer", {"realm": 'quote " inside'})]),
    ("", []),
    (None, []),
])
def test_parse_challenges(header, expected):
    assert parse_challenges(header) == expected


def _auth(user, password):
    return base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


@pytest.mark.parametrize("key", ["127.0.0.1:5000", "https://127.0.0.1:5000", "http://127.0.0.1:5000/v2/", "HTTPS://127.0.0.1:5000/v1/"])
def test_docker_config_auth_field_any_key_form(key):
    config = {"auths": {key: {"auth": _auth("pusher", "pa:ss")}, "other.example.com": {"auth": _auth("x", "y")}}}
    assert docker_config_credentials(config, "127.0.0.1:5000") == ("pusher", "pa:ss")


def test_docker_config_username_password_fields_and_missing_host():
    config = {"auths": {"registry.example.com": {"username": "u", "password": "p"}}}
    assert docker_config_credentials(config, "registry.example.com") == ("u", "p")
    assert docker_config_credentials(config, "elsewhere.example.com") is None
    assert docker_config_credentials({}, "registry.example.com") is None
    assert docker_config_credentials({"credsStore": "desktop"}, "registry.example.com") is None


def test_docker_hub_key_serves_docker_io():
    config = {"auths": {"https://index.docker.io/v1/": {"auth": _auth("me", "pw")}}}
    assert docker_config_credentials(config, "registry-1.docker.io") == ("me", "pw")


def test_docker_config_bad_auth_field_names_the_entry_not_the_value():
    config = {"auths": {"r.example.com": {"auth": base64.b64encode(b"no-colon-secret").decode()}}}
    with pytest.raises(RegistryAuthError) as caught:
        docker_config_credentials(config, "r.example.com")
    assert "r.example.com" in str(caught.value)
    assert "no-colon-secret" not in str(caught.value)


def test_docker_config_path_order(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert docker_config_path("/given.json") == "/given.json"
    assert docker_config_path(None) == str(tmp_path / "config.json")
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert docker_config_path(None) == str(tmp_path / ".docker" / "config.json")


def test_credentials_order(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"us-docker.pkg.dev": {"auth": _auth("cfg", "cfgpw")},
                                            "r.example.com": {"auth": _auth("cfg", "cfgpw")}}}))
    calls = []

    def token():
        calls.append(1)
        return "ya29.token"
    explicit = RegistryCredentials("us-docker.pkg.dev", "u", "p", str(config), google_token=token)
    assert explicit.get() == ("u", "p")
    google = RegistryCredentials("us-docker.pkg.dev", docker_config=str(config), google_token=token)
    assert google.get() == (GOOGLE_TOKEN_USER, "ya29.token")
    assert google.secrets() == ["ya29.token"]
    other = RegistryCredentials("r.example.com", docker_config=str(config), google_token=token)
    assert other.get() == ("cfg", "cfgpw")
    assert len(calls) == 1
    anonymous = RegistryCredentials("r2.example.com", docker_config=str(tmp_path / "absent.json"))
    with pytest.raises(RegistryAuthError):
        anonymous.get()  # an explicitly named docker config must exist
    assert RegistryCredentials("r2.example.com", docker_config=str(config)).get() is None


def test_username_without_password_is_refused():
    with pytest.raises(RegistryAuthError) as caught:
        RegistryCredentials("r.example.com", "u", None).get()
    assert "username and password must be given together" in str(caught.value)


@pytest.mark.parametrize("host, google", [
    ("us-docker.pkg.dev", True), ("europe-west1-docker.pkg.dev", True), ("us-python.pkg.dev", True),
    ("gcr.io", True), ("eu.gcr.io", True), ("pkg.dev.example.com", False), ("notgcr.io", False), ("127.0.0.1:5000", False),
])
def test_google_hosts(host, google):
    assert is_google_registry(host) is google


def test_basic_header_and_redaction():
    assert basic_header(("u", "p")) == "Basic dTpw"
    assert redact("token s3cr3t-value leaked", ["s3cr3t-value"]) == "token ******** leaked"


@pytest.mark.parametrize("host, mode, expected", [
    ("us-docker.pkg.dev", "auto", (GOOGLE_TOKEN_USER, "tok")),
    ("registry.internal:5000", "auto", None),
    ("registry.internal:5000", "always", (GOOGLE_TOKEN_USER, "tok")),
    ("us-docker.pkg.dev", "never", None),
])
def test_google_auth_modes(tmp_path, host, mode, expected):
    empty_config = tmp_path / "config.json"
    empty_config.write_text("{}")
    credentials = RegistryCredentials(host, docker_config=str(empty_config), google_token=lambda: "tok", google_auth=mode)
    assert credentials.get() == expected


def write_helper(directory, name, body):
    """A docker credential helper (a real executable speaking the protocol) for the tests."""
    path = directory / ("docker-credential-" + name)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_credential_helpers_take_precedence_like_docker(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    write_helper(bin_dir, "fake", 'read host\n[ "$host" = "r.example.com" ] || { echo "credentials not found in native keychain"; exit 1; }\n'
                                  'echo \'{"ServerURL":"r.example.com","Username":"helper-user","Secret":"helper-secret"}\'\n')
    write_helper(bin_dir, "broken", 'echo "leaked-secret-text" >&2\nexit 3\n')
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, __import__("os").environ["PATH"]))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"r.example.com": "fake", "b.example.com": "broken"},
                                  "auths": {"r.example.com": {"auth": _auth("cfg", "cfgpw")}}}))
    credentials = RegistryCredentials("r.example.com", docker_config=str(config))
    assert credentials.get() == ("helper-user", "helper-secret")
    assert credentials.source == "credential helper fake"
    assert credentials.secrets() == ["helper-secret"]
    with pytest.raises(RegistryAuthError) as caught:
        RegistryCredentials("b.example.com", docker_config=str(config)).get()
    assert "docker-credential-broken failed for b.example.com (exit 3)" in str(caught.value)
    assert "leaked" not in str(caught.value)
    config.write_text(json.dumps({"credsStore": "fake"}))
    assert RegistryCredentials("other.example.com", docker_config=str(config)).get() is None
    config.write_text(json.dumps({"credsStore": "absent"}))
    with pytest.raises(RegistryAuthError) as caught:
        RegistryCredentials("other.example.com", docker_config=str(config)).get()
    assert "docker-credential-absent cannot run" in str(caught.value)
