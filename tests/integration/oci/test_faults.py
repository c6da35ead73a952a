"""oci_push when the registry fails: it dies in the middle of an upload, answers 503/429, or resets connections.

A fault proxy (tests/harness/fault_proxy.py) in front of a real docker-registry injects the faults and can hold a
request at an exact point of the exchange, so "the registry stopped while the layer was uploading" is not a race.
"""
import os
import subprocess
import threading
import time

import pytest

from harness.tools import tool

SEED_NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: test\n"
CHUNK = 1024 * 1024


def push_task(src, image, **options):
    args = {"src": [str(src)], "image": image}
    args.update(options)
    return [{"name": "push", "configsync.oci.oci_push": args}]


def seed_file(directory, name="test-namespace.yaml", text=SEED_NAMESPACE):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def large_tree(directory, megabytes):
    """Random (incompressible) bytes, so the gzip layer spans several upload chunks."""
    directory.mkdir(parents=True, exist_ok=True)
    seed_file(directory)
    with open(str(directory / "blob.bin"), "wb") as out:
        for dummy in range(megabytes):
            out.write(os.urandom(1024 * 1024))
    return directory


def in_background(function, *args, **kwargs):
    """Run ``function`` in a thread; the returned holder gets ``value`` (or ``error``) when it ends."""
    holder = {}

    def target():
        try:
            holder["value"] = function(*args, **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            holder["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    holder["thread"] = thread
    return holder


def finished(holder, timeout=600):
    holder["thread"].join(timeout)
    assert not holder["thread"].is_alive(), "the push did not end within {0}s".format(timeout)
    if "error" in holder:
        raise holder["error"]
    return holder["value"]


@pytest.fixture
def own_registry(registry_factory):
    return registry_factory()


def test_registry_dies_during_upload_push_fails_clearly_tag_unchanged_rerun_completes(
        ansible, own_registry, fault_proxy_factory, repository_name, tmp_path):
    reg = own_registry
    proxy = fault_proxy_factory(reg)
    first = ansible(tasks=push_task(seed_file(tmp_path / "v1"), "{0}/{1}:v1".format(proxy.host, repository_name)))
    assert not first.failed, first.output
    old_digest = reg.manifest_digest(repository_name, "v1")
    assert old_digest == first.result("push")["digest"]

    # The third chunk of the layer upload waits at the proxy; meanwhile the registry is killed.
    gate = proxy.hold("PATCH", r"/blobs/uploads/", skip=2)
    tree = large_tree(tmp_path / "v2", megabytes=8)
    holder = in_background(ansible, tasks=push_task(tree, "{0}/{1}:v1".format(proxy.host, repository_name),
                                                    chunk_size=CHUNK, retries=1))
    assert gate.arrived.wait(300), proxy.requests()
    uploads_started = [r for r in reg.requests() if r.method == "PATCH" and r.status == 202 and repository_name in r.path]
    assert len(uploads_started) == 2, reg.requests()
    reg.kill()
    gate.release()

    run = finished(holder)
    assert run.failed, run.output
    message = run.result("push")["msg"]
    assert proxy.host in message, message
    assert "Traceback" not in message

    reg.start()
    assert reg.manifest_digest(repository_name, "v1") == old_digest

    rerun = ansible(tasks=push_task(tree, "{0}/{1}:v1".format(proxy.host, repository_name), chunk_size=CHUNK))
    assert not rerun.failed, rerun.output
    new_digest = rerun.result("push")["digest"]
    assert new_digest != old_digest
    assert reg.manifest_digest(repository_name, "v1") == new_digest


def test_registry_restarted_during_chunked_upload_push_resumes(ansible, own_registry, fault_proxy_factory, repository_name, tmp_path):
    """The registry dies while a chunk is on its way and comes back (same port and storage) while oci_push backs off:
    the upload goes on from the registry's upload status instead of starting over."""
    reg = own_registry
    proxy = fault_proxy_factory(reg)
    gate = proxy.hold("PATCH", r"/blobs/uploads/", skip=3)
    tree = large_tree(tmp_path / "src", megabytes=8)
    holder = in_background(ansible, tasks=push_task(tree, "{0}/{1}:v1".format(proxy.host, repository_name), chunk_size=CHUNK))
    assert gate.arrived.wait(300), proxy.requests()
    reg.kill()
    gate.release()
    # The held chunk meets the dead registry (the proxy resets the connection); then the registry comes back.
    wait_until(lambda: any(entry["action"].startswith("upstream unreachable") for entry in proxy.requests()))
    reg.start()
    reg.clear_log()

    run = finished(holder)
    assert not run.failed, run.output
    result = run.result("push")
    assert reg.manifest_digest(repository_name, "v1") == result["digest"]
    assert result["stats"]["retries"] >= 1, result["stats"]
    after_restart = reg.requests()
    # Resumed: oci_push asked the registry where the upload stands (GET -> 204 + Range) and opened no new upload.
    assert [r for r in after_restart if r.method == "GET" and "/blobs/uploads/" in r.path and r.status == 204], after_restart
    assert not [r for r in after_restart if r.method == "POST"], after_restart


def wait_until(condition, timeout=60):
    """Poll a condition (bounded); the test's asserts come after, not here."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)


def test_503_on_first_attempts_is_retried(ansible, own_registry, fault_proxy_factory, repository_name, tmp_path):
    reg = own_registry
    proxy = fault_proxy_factory(reg)
    proxy.fail("PUT", r"/manifests/", times=2, status=503)
    proxy.fail("POST", r"/blobs/uploads/$", times=1, status=503)
    proxy.fail("HEAD", r"/blobs/", times=1, status=429, retry_after=1)

    run = ansible(tasks=push_task(seed_file(tmp_path), "{0}/{1}:v1".format(proxy.host, repository_name)))
    assert not run.failed, run.output
    result = run.result("push")
    assert reg.manifest_digest(repository_name, "v1") == result["digest"]
    injected = proxy.injected()
    assert [entry["action"] for entry in injected].count("503") == 3, injected
    assert [entry["action"] for entry in injected].count("429") == 1, injected
    assert result["stats"]["retries"] >= 4


def test_connection_reset_during_upload_is_retried(ansible, own_registry, fault_proxy_factory, repository_name, tmp_path):
    reg = own_registry
    proxy = fault_proxy_factory(reg)
    # The monolithic PUT of a blob (it carries ?digest=) is reset once, and so is the second chunk of the layer.
    proxy.fail("PUT", r"/blobs/uploads/.", times=1, reset=True)
    proxy.fail("PATCH", r"/blobs/uploads/", times=1, reset=True, skip=1)
    tree = large_tree(tmp_path / "src", megabytes=4)

    run = ansible(tasks=push_task(tree, "{0}/{1}:v1".format(proxy.host, repository_name), chunk_size=CHUNK))
    assert not run.failed, run.output
    assert reg.manifest_digest(repository_name, "v1") == run.result("push")["digest"]
    assert [entry["action"] for entry in proxy.injected()].count("reset") == 2, proxy.requests()


def test_persistent_503_fails_clearly_and_pushes_no_tag(ansible, own_registry, fault_proxy_factory, repository_name, tmp_path):
    reg = own_registry
    proxy = fault_proxy_factory(reg)
    proxy.fail("PUT", r"/manifests/", times=100, status=503)

    run = ansible(tasks=push_task(seed_file(tmp_path), "{0}/{1}:v1".format(proxy.host, repository_name), retries=1))
    assert run.failed, run.output
    message = run.result("push")["msg"]
    assert proxy.host in message and "503" in message, message
    assert reg.manifest_digest(repository_name, "v1") is None
    assert [entry["action"] for entry in proxy.injected()].count("503") == 2, proxy.requests()


def test_fault_proxy_carries_a_streamed_crane_push_and_its_retries(own_registry, fault_proxy_factory, repository_name, tmp_path):
    """The harness itself: crane streams its uploads with chunked transfer encoding and retries 503 the way Go clients do.

    If this fails, the proxy is at fault, not oci_push.
    """
    reg = own_registry
    proxy = fault_proxy_factory(reg)
    proxy.fail("PUT", r"/manifests/", times=1, status=503)
    tree = large_tree(tmp_path / "src", megabytes=2)
    tarball = tmp_path / "bundle.tar"
    subprocess.run(["tar", "-C", str(tree), "-cf", str(tarball), "."], check=True)

    completed = subprocess.run([str(tool("crane")), "append", "--insecure", "-f", str(tarball), "-t",
                                "{0}/{1}:v1".format(proxy.host, repository_name)], capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    digest = completed.stdout.strip().rsplit("@", 1)[-1]
    assert reg.manifest_digest(repository_name, "v1") == digest
    assert [entry["action"] for entry in proxy.injected()] == ["503"], proxy.requests()
