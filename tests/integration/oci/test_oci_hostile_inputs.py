"""oci_push against what a hostile tester tries: credentials sent where they do not belong, bad options that used to
be checked only once the registry asked, an empty tree, a non-PEM ca_cert, a multi-tag push cut in the middle, and the
same files compressed differently (a new zlib) that must not count as a change.

Real docker-registry processes, a real token server and the fault proxy; oci_push runs in real ansible-playbook.
"""
import json

import pytest

from harness.registry import Registry
from harness.token_server import TokenServer

SEED = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: test\n"


def tree(directory, files=None):
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {"test-namespace.yaml": SEED, "sub/cm.yaml": "kind: ConfigMap\n"}).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def push(src, image, **options):
    args = {"src": [str(src)], "image": image}
    args.update(options)
    return [{"name": "push", "configsync.oci.oci_push": args}]


# --- credentials go only to the host they belong to ----------------------------------------------------------------

@pytest.fixture
def registry_with_plain_http_realm(tmp_path_factory):
    """A TLS registry at 127.0.0.1 whose token realm is plain http:// on another host name (localhost)."""
    workdir = tmp_path_factory.mktemp("foreign-realm")
    token_server = TokenServer(workdir / "token-server").start()  # no CA: plain HTTP
    registry = Registry(workdir / "registry", auth="token", token_server=token_server, hostname="127.0.0.1", tls=True)
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()
        token_server.stop()


def test_password_never_goes_to_a_plain_http_realm_on_another_host(ansible, registry_with_plain_http_realm, tmp_path):
    reg = registry_with_plain_http_realm
    assert reg.token_server.realm.startswith("http://localhost:") and reg.host.startswith("127.0.0.1:")
    run = ansible(tasks=push(tree(tmp_path / "src"), reg.ref("team/app", "v1"), username=reg.username, password=reg.password,
                             ca_cert=str(reg.ca_file)))
    message = run.failure_message("push")
    sent = [entry for entry in reg.token_server.requests() if entry["user"]]
    assert sent == [], "the credentials went to %s over plain HTTP" % reg.token_server.realm
    assert "http://localhost" in message and "https" in message, message
    assert reg.password not in run.output
    assert reg.manifest_digest("team/app", "v1") is None


def test_plain_http_realm_on_the_registrys_own_loopback_host_still_works(ansible, registry_factory, tmp_path_factory, tmp_path):
    workdir = tmp_path_factory.mktemp("own-realm")
    token_server = TokenServer(workdir / "token-server").start()
    reg = Registry(workdir / "registry", auth="token", token_server=token_server, tls=False).start()  # localhost:PORT
    try:
        run = ansible(tasks=push(tree(tmp_path / "src"), reg.ref("team/app", "v1"), username=reg.username, password=reg.password))
        assert not run.failed, run
        assert reg.manifest_digest("team/app", "v1") == run.result("push")["digest"]
        assert [entry for entry in token_server.requests() if entry["user"] == reg.username and entry["status"] == 200]
    finally:
        reg.stop()
        token_server.stop()


# --- credential options are checked before any request -------------------------------------------------------------

@pytest.mark.parametrize("options, words", [
    ({"docker_config": "{tmp}/missing.json"}, ["docker_config", "missing.json"]),
    ({"docker_config": "{tmp}/garbage.json"}, ["docker_config", "not valid JSON"]),
    ({"username": "pusher"}, ["username", "password"]),
    ({"password": "s3cret-only-password"}, ["username", "password"]),
])
def test_credential_options_are_checked_before_any_request(ansible, registry, repository_name, tmp_path, options, words):
    (tmp_path / "garbage.json").write_text("{not json")
    options = {key: value.format(tmp=tmp_path) for key, value in options.items()}
    registry.clear_log()
    run = ansible(tasks=push(tree(tmp_path / "src"), registry.ref(repository_name, "v1"), **options))
    message = run.failure_message("push")
    for word in words:
        assert word in message, message
    assert registry.requests() == [], "a request went out before the options were checked"
    assert "s3cret-only-password" not in run.output


@pytest.mark.parametrize("timeout", [0, -5])
def test_zero_or_negative_timeout_is_refused_up_front(ansible, registry, repository_name, tmp_path, timeout):
    registry.clear_log()
    run = ansible(tasks=push(tree(tmp_path / "src"), registry.ref(repository_name, "v1"), timeout=timeout))
    assert "timeout" in run.failure_message("push")
    assert registry.requests() == []


def test_an_empty_tree_is_refused_unless_asked(ansible, registry, repository_name, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    registry.clear_log()
    run = ansible(tasks=push(empty, registry.ref(repository_name, "v1")))
    message = run.failure_message("push")
    assert "no files" in message and "allow_empty" in message, message
    assert registry.requests() == []

    allowed = ansible(tasks=push(empty, registry.ref(repository_name, "v1"), allow_empty=True))
    assert not allowed.failed, allowed
    assert registry.manifest_digest(repository_name, "v1") == allowed.result("push")["digest"]


def test_a_ca_cert_that_is_not_pem_is_named(ansible, registry_tls_htpasswd, repository_name, tmp_path):
    reg = registry_tls_htpasswd
    bogus = tmp_path / "ca.pem"
    bogus.write_text("this is not a certificate\n")
    reg.clear_log()
    run = ansible(tasks=push(tree(tmp_path / "src"), reg.ref(repository_name, "v1"), username=reg.username,
                             password=reg.password, ca_cert=str(bogus)))
    message = run.failure_message("push")
    assert "ca_cert" in message and str(bogus) in message and "not a PEM certificate" in message, message
    assert reg.requests() == []


# --- a multi-tag push cut in the middle says where every tag points ------------------------------------------------

def test_multi_tag_push_that_fails_on_the_second_tag_says_which_tags_moved(ansible, registry_factory, fault_proxy_factory,
                                                                           repository_name, tmp_path):
    reg = registry_factory()
    proxy = fault_proxy_factory(reg)
    image = "{0}/{1}".format(proxy.host, repository_name)
    first = ansible(tasks=push(tree(tmp_path / "v0", {"a.yaml": "kind: A\n"}), image, tags=["v1", "v2"]))
    assert not first.failed, first
    old = first.result("push")["digest"]

    proxy.fail("PUT", r"/manifests/v2$", times=1, status=403)
    run = ansible(tasks=push(tree(tmp_path / "v1", {"a.yaml": "kind: B\n"}), image, tags=["v1", "v2"]))
    message = run.failure_message("push")
    new = reg.manifest_digest(repository_name, "v1")
    assert new != old and reg.manifest_digest(repository_name, "v2") == old
    assert "v1" in message and new in message, message
    assert "v2" in message and old in message, message
    result = run.result("push")
    assert result.get("tags_at") == {"v1": new, "v2": old}, result


# --- "nothing to push" is decided from the files, not from the compressed bytes ------------------------------------

@pytest.mark.parametrize("fmt, extra", [
    ("image", {}),
    ("image", {"manifest_type": "oci"}),
    ("artifact", {}),
])
def test_same_files_compressed_differently_are_not_a_change(ansible, registry, repository_name, tmp_path, fmt, extra):
    src = tree(tmp_path / "src")
    image = registry.ref(repository_name, "v1")
    first = ansible(tasks=push(src, image, format=fmt, compression_level=6, **extra))
    assert not first.failed, first
    held = registry.manifest_digest(repository_name, "v1")
    assert held == first.result("push")["digest"]

    registry.clear_log()
    again = ansible(tasks=push(src, image, format=fmt, compression_level=1, tags=["v1-copy"], **extra), diff=True)
    assert not again.failed, again
    result = again.result("push")
    # The layer compressed at level 1 has another digest, but the tag already holds these files: v1 stays, and the new
    # tag points at the manifest the registry already holds.
    assert result["digest"] == held, result
    assert registry.manifest_digest(repository_name, "v1") == held
    assert registry.manifest_digest(repository_name, "v1-copy") == held
    assert result["updated_tags"] == ["v1-copy"]
    uploads = [r for r in registry.requests() if "/blobs/uploads/" in r.path]
    assert uploads == [], "a blob was uploaded for files the registry already holds"

    third = ansible(tasks=push(src, image, format=fmt, compression_level=1, tags=["v1-copy"], **extra))
    assert third.result("push")["changed"] is False, third.result("push")
    assert third.result("push")["digest"] == held

    changed = ansible(tasks=push(tree(tmp_path / "src", {"extra.yaml": "kind: X\n"}), image, format=fmt, compression_level=1, **extra))
    assert changed.result("push")["changed"] is True
    assert registry.manifest_digest(repository_name, "v1") != held


def test_the_artifact_layer_records_its_uncompressed_digest_as_oras_does(ansible, registry, repository_name, tmp_path):
    run = ansible(tasks=push(tree(tmp_path / "src"), registry.ref(repository_name, "v1"), format="artifact"))
    assert not run.failed, run
    result = run.result("push")
    manifest = json.loads(registry.get_manifest(repository_name, "v1")[1])
    annotations = manifest["layers"][0]["annotations"]
    assert annotations["io.deis.oras.content.digest"] == result["diff_id"]
    # Not io.deis.oras.content.unpack: `oras pull` still writes the .tar.gz itself, as for `oras push FILE.tar.gz`.
    assert "io.deis.oras.content.unpack" not in annotations
