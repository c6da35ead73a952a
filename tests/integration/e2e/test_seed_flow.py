"""The seed's whole flow with Config Sync: oci_push -> config_sync_source (wait) -> nomos status -> config_sync_status.

Everything checked here was written by real processes: the manifests by the reconciler (applied from what oci-sync
pulled), the RootSync status by the reconciler and reconciler-manager, the managed resources' status by the
resource-group controller, and the text by the real ``nomos status``.
"""
import pytest

from harness.polling import poll

from e2e_flow import CONFIG_SYNC_NAMESPACE, namespace_manifest, nomos_state_is

pytestmark = pytest.mark.slow

SEED_SYNC = "root-sync"
TOKEN_ANNOTATION = "configmanagement.gke.io/token"


def digest_hex(digest):
    assert digest.startswith("sha256:"), digest
    return digest[len("sha256:"):]


def namespace_token(flow, name):
    """The commit Config Sync stamped on a namespace it applied (None when the namespace does not exist)."""
    namespace = flow.get("/api/v1/namespaces/" + name)
    return None if namespace is None else (namespace["metadata"].get("annotations") or {}).get(TOKEN_ANNOTATION)


def sync_entry(status, name, kind="RootSync"):
    return next((sync for sync in status["syncs"] if sync["name"] == name and sync["kind"] == kind), None)


def resource_status(entry, resource):
    return next((item.get("status") for item in (entry or {}).get("resources") or [] if item.get("resource") == resource), None)


def current_status_of(flow, sync_name, resource):
    """config_sync_status's report once it shows ``resource`` of ``sync_name`` Current, else None."""
    status = flow.status(namespace=CONFIG_SYNC_NAMESPACE)
    return status if resource_status(sync_entry(status, sync_name), resource) == "Current" else None


def nomos_line_with(output, *words):
    return next((line for line in output.splitlines() if all(word in line for word in words)), None)


def nomos_report_with(nomos, *words):
    """A nomos status run whose output has a line with all ``words``, else None."""
    report = nomos()
    return report if nomos_line_with(report.output, *words) else None


@pytest.mark.parametrize("fmt", ["image", "artifact"])
def test_push_then_root_sync_is_synced_at_the_pushed_digest(flow, nomos, e2e_timings, fmt):
    src = flow.manifests("v1", {"test-namespace.yaml": namespace_manifest("test")})
    image = flow.image("e2e/test-namespace-" + fmt)

    pushed, source, seconds = flow.push_and_sync(SEED_SYNC, image, src, fmt)
    commit = digest_hex(pushed["digest"])
    e2e_timings["push_to_synced_first_sync_{0}_seconds".format(fmt)] = round(seconds, 3)

    # config_sync_source's wait: SYNCED at the digest oci_push returned.
    assert source["sync_status"]["status"] == "SYNCED", source
    assert source["sync_status"]["commit"] == commit
    assert source["expected_commit"] == commit

    # The reconciler applied namespace/test from that very image.
    assert namespace_token(flow, "test") == commit

    # nomos status: SYNCED with the digest, and namespace/test Current (once the resource-group controller
    # has computed it).
    report = poll(lambda: nomos_report_with(nomos, "namespace/test", "Current"))
    assert report, nomos()
    assert nomos_line_with(report.output, "SYNCED", commit), report
    assert nomos_line_with(report.output, "<root>:" + SEED_SYNC, image), report

    # config_sync_status agrees, including the managed resource.
    status = poll(lambda: current_status_of(flow, SEED_SYNC, "namespace/test"))
    assert status, flow.status(namespace=CONFIG_SYNC_NAMESPACE)
    entry = sync_entry(status, SEED_SYNC)
    assert entry["status"] == "SYNCED"
    assert entry["commit"] == commit
    assert entry["image"] == image


def test_a_new_version_pushed_to_the_same_tag_is_picked_up(flow, nomos, e2e_timings):
    name = "update-sync"
    image = flow.image("e2e/update")
    v1 = flow.manifests("v1", {"ns.yaml": namespace_manifest("update-a")})
    first = flow.push_and_sync(name, image, v1)[0]

    v2 = flow.manifests("v2", {"ns.yaml": namespace_manifest("update-a"), "ns-b.yaml": namespace_manifest("update-b")})
    second, source, seconds = flow.push_and_sync(name, image, v2)
    e2e_timings["push_to_synced_update_seconds"] = round(seconds, 3)

    assert second["digest"] != first["digest"]
    assert source["sync_status"]["status"] == "SYNCED"
    assert source["sync_status"]["commit"] == digest_hex(second["digest"])
    # The same RootSync spec (a tag): oci-sync's poll found the new digest, nothing was re-applied by the module.
    assert not source["changed"], source
    assert namespace_token(flow, "update-b") == digest_hex(second["digest"])
    assert namespace_token(flow, "update-a") == digest_hex(second["digest"])
    assert poll(lambda: nomos_state_is(nomos, "<root>", name, "SYNCED", digest_hex(second["digest"]))), nomos()
    flow.delete(name)


def test_a_digest_pinned_root_sync_does_not_follow_the_tag(flow, nomos, config_sync):
    """A RootSync on image@sha256 syncs once; a second RootSync on the tag proves the tag moved and was polled."""
    image = flow.image("e2e/pinning")
    v1 = flow.manifests("v1", {"pinned/ns.yaml": namespace_manifest("pinned-a"), "tracking/ns.yaml": namespace_manifest("tracking-a")})
    first = flow.push(image, v1)
    pinned_image = "{0}@{1}".format(image.rsplit(":", 1)[0], first["digest"])
    run = flow.run([flow.source_task("pinned-sync", pinned_image, dir="pinned"),
                    dict(flow.source_task("tracking-sync", image, dir="tracking", expected_digest=first["digest"]), name="tracking")])
    assert not run.failed, run.output
    assert run.result("source")["sync_status"]["commit"] == digest_hex(first["digest"])

    v2 = flow.manifests("v2", {"pinned/ns.yaml": namespace_manifest("pinned-a"), "pinned/ns-b.yaml": namespace_manifest("pinned-b"),
                               "tracking/ns.yaml": namespace_manifest("tracking-a"), "tracking/ns-b.yaml": namespace_manifest("tracking-b")})
    second = flow.push(image, v2)
    tracking = flow.sync("tracking-sync", image, dir="tracking", expected_digest=second["digest"])
    assert not tracking.failed, tracking.output
    assert namespace_token(flow, "tracking-b") == digest_hex(second["digest"])

    # The tag has moved and been polled; the pinned sync still holds the first digest and never pulled the second.
    status = flow.status(namespace=CONFIG_SYNC_NAMESPACE, name="pinned-sync")
    entry = sync_entry(status, "pinned-sync")
    assert entry["status"] == "SYNCED" and entry["commit"] == digest_hex(first["digest"]), entry
    assert flow.get("/api/v1/namespaces/pinned-b") is None
    pod = config_sync.reconciler("RootSync", "pinned-sync", CONFIG_SYNC_NAMESPACE)
    assert "no further syncs will occur" in pod.log("oci-sync"), pod.log("oci-sync")[-2000:]
    # nomos agrees: the pinned sync at the first digest, the tag-following one at the second.
    assert poll(lambda: nomos_state_is(nomos, "<root>", "tracking-sync", "SYNCED", digest_hex(second["digest"]))), nomos()
    assert nomos_state_is(nomos, "<root>", "pinned-sync", "SYNCED", digest_hex(first["digest"])), nomos()
    flow.delete("pinned-sync")
    flow.delete("tracking-sync")
