"""nomos status's rules (cmd/nomos/status/cluster_state.go at Config Sync 1.24.3) and the wait verdict built on them."""
import pytest

from ansible_collections.configsync.oci.plugins.module_utils.configsync.status import (
    ERROR, evaluate_sync_status, PENDING, RECONCILING, resource_statuses, source_string, STALLED, SYNCED,
)
from ansible_collections.configsync.oci.plugins.module_utils.configsync.versions import syncing_condition_supported
from ansible_collections.configsync.oci.plugins.module_utils.configsync.wait import WAIT_DONE, WAIT_FAIL, WAIT_MORE, wait_verdict

COMMIT = "c" * 64
OLD = "0" * 64
IMAGE = "us-docker.pkg.dev/p/r/pkg@sha256:" + COMMIT


def sync(conditions=None, generation=2, observed=2, kind="RootSync", namespace="config-management-system", **status):
    status = dict(status, observedGeneration=observed)
    if conditions is not None:
        status["conditions"] = conditions
    return {"kind": kind, "metadata": {"name": "root-sync", "namespace": namespace, "generation": generation},
            "spec": {"sourceType": "oci", "oci": {"image": IMAGE, "dir": "manifests/", "auth": "none"}}, "status": status}


def condition(kind, status, **fields):
    return dict(fields, type=kind, status=status)


def syncing(status, commit=COMMIT, **fields):
    return condition("Syncing", status, commit=commit, lastUpdateTime="2026-11-27T10:00:05Z", **fields)


SYNC_SECTION = {"commit": COMMIT, "lastUpdate": "2026-11-27T10:00:05Z"}


def test_synced_after_sync_completed_without_errors():
    state = evaluate_sync_status(sync([syncing("False", message="Sync Completed", errorSummary={})], sync=SYNC_SECTION))
    assert state["status"] == SYNCED
    assert state["commit"] == COMMIT
    assert state["last_update"] == "2026-11-27T10:00:05Z"
    assert state["source"] == IMAGE + "/manifests"
    assert state["scope"] == "<root>"


def test_stalled_wins_over_everything():
    state = evaluate_sync_status(sync([
        condition("Stalled", "True", message="KNV1061: bad"), condition("Reconciling", "True"), syncing("False")]))
    assert state["status"] == STALLED
    assert state["errors"] == ["KNV1061: bad"]
    assert state["error_summary"] == {"total_count": 1, "truncated": False, "error_count_after_truncation": 1}


def test_reconciling_before_syncing():
    assert evaluate_sync_status(sync([condition("Reconciling", "True"), syncing("False")]))["status"] == RECONCILING


def test_no_syncing_condition_is_pending_when_supported():
    assert evaluate_sync_status(sync([condition("Stalled", "False")]))["status"] == PENDING


def test_syncing_true_is_pending_with_its_errors():
    state = evaluate_sync_status(sync([syncing("True", errors=[{"code": "2009", "errorMessage": "KNV2009: apply failed"}])]))
    assert state["status"] == PENDING
    assert state["errors"] == ["KNV2009: apply failed"]


def test_error_with_errors_from_the_sections_the_condition_refers_to():
    summary = {"totalCount": 2, "truncated": True, "errorCountAfterTruncation": 1}
    state = evaluate_sync_status(sync(
        [syncing("False", commit="", errorSourceRefs=["status.source.errors"], errorSummary=summary)],
        source={"errors": [{"code": "2004", "errorMessage": "KNV2004: failed to pull image"}]},
        sync={"errors": [{"code": "2009", "errorMessage": "not referenced"}]}))
    assert state["status"] == ERROR
    assert state["errors"] == ["KNV2004: failed to pull image"]
    assert state["error_summary"] == {"total_count": 2, "truncated": True, "error_count_after_truncation": 1}
    assert state["commit"] is None


def test_error_summary_with_zero_count_is_synced_even_with_stale_condition_errors():
    # ConditionHasNoErrors reads the errorSummary when it is present.
    state = evaluate_sync_status(sync([syncing("False", errorSummary={}, errors=[{"errorMessage": "old"}])]))
    assert state["status"] == SYNCED


def test_condition_errors_without_summary_make_an_error():
    state = evaluate_sync_status(sync([syncing("False", errors=[{"errorMessage": "KNV1021: unknown kind"}])]))
    assert state["status"] == ERROR
    assert state["error_summary"]["total_count"] == 1


@pytest.mark.parametrize("status, expected", [
    ({}, PENDING),
    ({"source": {"commit": COMMIT}, "sync": {"commit": COMMIT}}, SYNCED),
    ({"source": {"commit": COMMIT}, "rendering": {"commit": COMMIT}, "sync": {"commit": COMMIT}}, SYNCED),
    ({"source": {"commit": COMMIT}, "rendering": {"commit": OLD}, "sync": {"commit": COMMIT}}, PENDING),
    ({"source": {"commit": COMMIT}, "sync": {"commit": OLD}}, PENDING),
    ({"source": {"errors": [{"errorMessage": "KNV2004: x"}]}, "sync": {"commit": OLD}}, ERROR),
])
def test_legacy_rules_without_syncing_condition_support(status, expected):
    state = evaluate_sync_status(sync([], **status), syncing_condition_supported=False)
    assert state["status"] == expected


def test_resources_sorted_with_conflicts():
    group = {"status": {"resourceStatuses": [
        {"group": "apps", "kind": "Deployment", "namespace": "web", "name": "api", "status": "Current"},
        {"group": "", "kind": "Namespace", "namespace": "", "name": "web", "status": "Current", "sourceHash": "abc1234"},
        {"group": "", "kind": "ConfigMap", "namespace": "web", "name": "cfg", "status": "Current",
         "conditions": [{"type": "OwnershipOverlap", "status": "True", "message": "managed by root-sync"}]},
    ]}}
    resources = resource_statuses(group)
    assert [(r["namespace"], r["resource"], r["status"]) for r in resources] == [
        ("", "namespace/web", "Current"), ("web", "configmap/cfg", "Conflict"), ("web", "deployment.apps/api", "Current")]
    assert resources[1]["conditions"] == ["managed by root-sync"]
    assert resource_statuses(None) == []


def test_synced_state_carries_resources():
    group = {"status": {"resourceStatuses": [{"group": "", "kind": "Namespace", "name": "test", "status": "Current"}]}}
    state = evaluate_sync_status(sync([syncing("False", errorSummary={})]), group)
    assert [r["resource"] for r in state["resources"]] == ["namespace/test"]


@pytest.mark.parametrize("oci, expected", [
    ({"image": "r/p:v1", "dir": "."}, "r/p:v1"), ({"image": "r/p:v1"}, "r/p:v1"), ({"image": "r/p:v1/", "dir": "/a/b/"}, "r/p:v1/a/b"),
    (None, "N/A"),
])
def test_source_string_as_nomos_prints_it(oci, expected):
    assert source_string(oci) == expected


@pytest.mark.parametrize("version, supported", [("1.10.0", True), ("v1.24.3", True), ("1.9.2", False), (None, False), ("NOT INSTALLED", False)])
def test_syncing_condition_support_by_version(version, supported):
    assert syncing_condition_supported(version) is supported


# -- wait verdicts ------------------------------------------------------------------------------------------------------

def verdict(obj, expected=COMMIT, changed_at=None):
    return wait_verdict(obj, evaluate_sync_status(obj), expected, changed_at)[0]


def test_wait_done_only_at_the_expected_commit():
    assert verdict(sync([syncing("False", errorSummary={})])) == WAIT_DONE
    assert verdict(sync([syncing("False", commit=OLD, errorSummary={})])) == WAIT_MORE
    assert verdict(sync([syncing("False", commit=OLD, errorSummary={})]), expected=None) == WAIT_DONE


def test_wait_ignores_status_of_an_older_generation():
    assert verdict(sync([condition("Stalled", "True", message="KNV1061")], generation=3, observed=2)) == WAIT_MORE
    assert verdict(sync([syncing("False", errorSummary={})], generation=3, observed=2)) == WAIT_MORE


def test_wait_fails_on_stalled():
    obj = sync([condition("Stalled", "True", message="KNV1061: RootSyncs must specify spec.oci.image")])
    outcome, reason = wait_verdict(obj, evaluate_sync_status(obj), COMMIT)
    assert outcome == WAIT_FAIL and "STALLED" in reason and "KNV1061" in reason


def test_wait_error_of_the_previous_source_does_not_end_the_wait():
    obj = sync([syncing("False", commit="", errors=[{"errorMessage": "KNV2004: old pull error"}])])
    # Reported at 10:00:05, before this run's write at 10:00:09: it is about the image being replaced.
    assert verdict(obj, changed_at="2026-11-27T10:00:09Z") == WAIT_MORE
    # Reported at or after the write, or with nothing written in this run: it is about the wanted image.
    assert verdict(obj, changed_at="2026-11-27T10:00:05Z") == WAIT_FAIL
    assert verdict(obj, changed_at=None) == WAIT_FAIL


def test_wait_source_error_about_another_image_does_not_end_the_wait():
    # The rollout role moved the spec from the tag to the digest; the error is still the tag pod's (oci-sync, KNV2004).
    source = {"ociStatus": {"image": IMAGE.split("@", maxsplit=1)[0] + ":v1", "dir": "manifests/"},
              "errors": [{"code": "2004", "errorMessage": "KNV2004: 403 DENIED"}]}
    obj = sync([syncing("False", commit="", errors=[{"errorMessage": "KNV2004: 403 DENIED"}])], source=source)
    assert verdict(obj, changed_at=None) == WAIT_MORE
    # Reported for the spec's own image: it is about the wanted source.
    source["ociStatus"]["image"] = IMAGE
    assert verdict(obj, changed_at=None) == WAIT_FAIL


def test_wait_error_at_the_expected_commit_fails_at_once():
    obj = sync([syncing("False", errors=[{"errorMessage": "KNV2009: apply failed"}])])
    assert verdict(obj, changed_at="2099-01-01T00:00:00Z") == WAIT_FAIL


def test_wait_keeps_waiting_while_pending_or_reconciling():
    assert verdict(sync([syncing("True")])) == WAIT_MORE
    assert verdict(sync([condition("Reconciling", "True")])) == WAIT_MORE
    assert verdict(sync(None)) == WAIT_MORE


def test_summary_line_like_nomos():
    state = evaluate_sync_status(sync([syncing("False", errorSummary={})], sync=SYNC_SECTION))
    assert state["summary"] == "<root>:root-sync  %s/manifests  SYNCED @ 2026-11-27T10:00:05Z  cccccccc" % IMAGE
    stalled = evaluate_sync_status(sync([condition("Stalled", "True", message="KNV1061: bad\n\nFor more information")]))
    assert stalled["summary"].endswith("STALLED  N/A  (1 error: KNV1061: bad)")


def test_the_live_commit_and_when_it_synced_while_a_newer_source_fails():
    # A pull failure on a newer image leaves the sync section at the last good sync (the reconciler's source status
    # update does not touch it): that commit is live, and its lastUpdate is when it synced.
    failing = [syncing("False", commit="", errorSourceRefs=["status.source.errors"], errorSummary={"totalCount": 1})]
    state = evaluate_sync_status(sync(failing, lastSyncedCommit=OLD, source={"errors": [{"errorMessage": "KNV2004: failed to pull image"}]},
                                      sync={"commit": OLD, "lastUpdate": "2026-11-27T09:00:00Z"}))
    assert (state["status"], state["last_synced_commit"], state["last_synced_at"]) == (ERROR, OLD, "2026-11-27T09:00:00Z")
    # A failed apply of the newer commit overwrote the sync section: the live commit is still known, its time is not.
    state = evaluate_sync_status(sync(failing, lastSyncedCommit=OLD, sync={"commit": COMMIT, "lastUpdate": "2026-11-27T10:00:00Z",
                                                                           "errors": [{"errorMessage": "KNV2009: apply failed"}]}))
    assert (state["last_synced_commit"], state["last_synced_at"]) == (OLD, None)
    assert evaluate_sync_status(sync(failing))["last_synced_at"] is None, "never synced"
