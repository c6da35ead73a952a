"""Config Sync's own errors surface through config_sync_source's wait: a missing image, a manifest that is not YAML."""
import pytest

from harness.polling import poll

from e2e_flow import namespace_manifest, nomos_state_is

pytestmark = pytest.mark.slow

FAILURE_TIMEOUT = 120


def status_errors(sync_object):
    """Every error message the reconciler wrote into the RootSync's status (source, rendering, sync)."""
    status = sync_object.get("status") or {}
    return [error["errorMessage"] for stage in ("source", "rendering", "sync") for error in (status.get(stage) or {}).get("errors") or []]


def failure_message(run):
    failed = run.failed
    assert failed, run.output
    return failed[0]["result"].get("msg", "")


def test_an_image_that_does_not_exist_fails_the_wait_with_the_pull_error(flow, nomos):
    name = "missing-image"
    image = flow.image("e2e/does-not-exist", "v1")

    run = flow.sync(name, image, wait_timeout=FAILURE_TIMEOUT)

    message = failure_message(run)
    assert "KNV2004" in message, message
    assert "failed to pull image" in message and "e2e/does-not-exist" in message, message
    result = run.result("source")
    assert result["sync_status"]["status"] == "ERROR", result["sync_status"]
    # The same error the reconciler wrote (from oci-sync's error file) into the RootSync.
    errors = status_errors(flow.sync_object(name))
    assert any("KNV2004" in error or "failed to pull image" in error for error in errors), errors
    assert poll(lambda: nomos_state_is(nomos, "<root>", name, "ERROR")), nomos()
    flow.delete(name)


def test_a_manifest_that_is_not_yaml_fails_the_wait_with_the_parse_error(flow, nomos):
    name = "bad-yaml"
    image = flow.image("e2e/bad-yaml")
    src = flow.manifests("bad", {"good.yaml": namespace_manifest("bad-yaml-good"), "broken.yaml": "apiVersion: v1\nkind: [Namespace\n"})
    pushed = flow.push(image, src)

    run = flow.sync(name, image, expected_digest=pushed["digest"], wait_timeout=FAILURE_TIMEOUT)

    message = failure_message(run)
    errors = status_errors(flow.sync_object(name))
    assert errors, flow.sync_object(name).get("status")
    assert "broken.yaml" in message, message
    # The module reports Config Sync's own error text (KNV code and all), not a paraphrase.
    assert any(error.splitlines()[0] in message for error in errors), (message, errors)
    assert "KNV" in message
    assert run.result("source")["sync_status"]["status"] == "ERROR"
    # Nothing from the broken source was applied.
    assert flow.get("/api/v1/namespaces/bad-yaml-good") is None
    assert poll(lambda: nomos_state_is(nomos, "<root>", name, "ERROR")), nomos()
    flow.delete(name)
