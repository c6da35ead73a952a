import pytest

from ansible_collections.configsync.oci.plugins.module_utils.transport_security import (
    InsecureTransportError, host_of, is_loopback, may_send_credentials, require_tls,
)


@pytest.mark.parametrize("value, host", [
    ("http://127.0.0.1:8080/x", "127.0.0.1"), ("127.0.0.1:5000", "127.0.0.1"), ("[::1]:5000", "::1"),
    ("https://Registry.Example.COM/v2/", "registry.example.com"), ("localhost", "localhost"),
])
def test_host_of(value, host):
    assert host_of(value) == host


@pytest.mark.parametrize("value", ["http://127.0.0.1:1", "127.0.0.2:5000", "http://[::1]:8", "localhost:5000",
                                   "http://api.localhost"])
def test_loopback(value):
    assert is_loopback(value)


@pytest.mark.parametrize("value", ["http://10.0.0.1", "192.0.2.1:5000", "http://example.com", "http://127.example.com"])
def test_not_loopback(value):
    assert not is_loopback(value)


def test_require_tls_refuses_plain_http_to_a_remote_host_and_names_the_option():
    with pytest.raises(InsecureTransportError) as caught:
        require_tls("http://10.1.2.3:6443", "a bearer token", option="host")
    assert "host http://10.1.2.3:6443" in str(caught.value) and "https://" in str(caught.value)


@pytest.mark.parametrize("url", ["https://10.1.2.3:6443", "http://127.0.0.1:8001", "HTTP://localhost:1", None, ""])
def test_require_tls_allows(url):
    assert require_tls(url, "a bearer token") == url


@pytest.mark.parametrize("url, owner, insecure, allowed", [
    ("https://auth.example.com/token", "registry.example.com", False, True),
    ("http://localhost:5001/token", "localhost:5000", False, True),       # own loopback host
    ("http://localhost:5001/token", "127.0.0.1:5000", False, False),      # another host name, plain HTTP
    ("http://127.0.0.2:80/token", "127.0.0.1:5000", False, False),
    ("http://registry.lan/token", "registry.lan:5000", False, False),     # own host, not loopback, not asked
    ("http://registry.lan/token", "registry.lan:5000", True, True),       # own host, insecure asked
    ("http://auth.lan/token", "registry.lan:5000", True, False),          # insecure is for the registry's host only
    ("ftp://registry.lan/token", "registry.lan", True, False),
])
def test_may_send_credentials(url, owner, insecure, allowed):
    assert may_send_credentials(url, owner, insecure) is allowed
