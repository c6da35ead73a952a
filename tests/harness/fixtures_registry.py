"""Registry fixtures: real docker-registry processes (tests/harness/registry.py), a token server and a fault proxy.

Session-scoped, shared by every test (use a repository name of your own in each test):
    registry               plain HTTP, no auth
    registry_tls_htpasswd  HTTPS with its own CA (``ca_file``) + htpasswd (``username``/``password``)
    registry_token         HTTPS + Bearer token realm (``token_server`` attribute holds the TokenServer)
Per test:
    registry_factory(auth="none"|"htpasswd"|"token", **kwargs) -> a started Registry of the test's own (stop/start/kill it)
    fault_proxy_factory(upstream_registry) -> a started FaultProxy in front of it
    repository_name        a repository path unique to the test, e.g. "tests/test-push-works-3f2a"
"""
import re
import secrets

import pytest

from harness.ansible_runner import remember_secret
from harness.fault_proxy import FaultProxy
from harness.registry import CertificateAuthority, Registry
from harness.token_server import TokenServer


def _started(registry, stack):
    stack.append(registry)
    return _remembered(registry.start())


def _remembered(registry):
    """Every playbook run of the session fails if this registry's password shows up in its output."""
    remember_secret(registry.password)
    return registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    server = Registry(tmp_path_factory.mktemp("registry-plain")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def registry_tls_htpasswd(tmp_path_factory):
    server = _remembered(Registry(tmp_path_factory.mktemp("registry-htpasswd"), auth="htpasswd").start())
    yield server
    server.stop()


def _token_registry(workdir):
    token_server = TokenServer(workdir / "token-server", ca=CertificateAuthority(workdir / "pki")).start()
    return Registry(workdir / "registry", auth="token", token_server=token_server)


@pytest.fixture(scope="session")
def registry_token(tmp_path_factory):
    server = _token_registry(tmp_path_factory.mktemp("registry-token"))
    try:
        yield _remembered(server.start())
    finally:
        server.stop()
        server.token_server.stop()


@pytest.fixture
def registry_factory(tmp_path_factory):
    """Start registries of the test's own; all are stopped (and their token servers) when the test ends."""
    started = []

    def create(auth="none", **kwargs):
        workdir = tmp_path_factory.mktemp("registry-" + auth)
        server = _token_registry(workdir) if auth == "token" else Registry(workdir, auth=auth, **kwargs)
        return _started(server, started)

    yield create
    for server in started:
        server.stop()
        if server.token_server is not None:
            server.token_server.stop()


@pytest.fixture
def fault_proxy_factory():
    """FaultProxy instances in front of plain-HTTP registries; stopped when the test ends (and after 10 minutes anyway)."""
    proxies = []

    def create(upstream, lifetime=600):
        proxy = FaultProxy(upstream.url, lifetime=lifetime).start()
        proxies.append(proxy)
        return proxy

    yield create
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def repository_name(request):
    """A repository path no other test uses (registries are shared by the session)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60]
    return "tests/{0}-{1}".format(slug, secrets.token_hex(3))
