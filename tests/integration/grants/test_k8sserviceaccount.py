"""auth: k8sserviceaccount with Config Sync: the repository grant to the reconciler's KSA decides whether it pulls.

oci-sync runs unmodified: its Go auth library asks the metadata server (GCE_METADATA_HOST) of its Pod's KSA for a
token, and go-containerregistry takes it (user ``_token``) to ``us-central1-docker.pkg.dev/v2/token`` through the
front, which checks the repository's IAM policy in the emulator.
"""
import time

import pytest

from grants_flow import CONFIG_SYNC_NAMESPACE, READER, failure_text, reconciler_member
from integration.e2e.e2e_flow import config_map_manifest, namespace_manifest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cluster_identities")]

DOWNLOAD_DENIED = 'Permission "artifactregistry.repositories.downloadArtifacts" denied on resource'


def assert_pull_denied(grants, run):
    assert run.failed, run.output
    # oci-sync's error reaches the status as JSON, so its quotes arrive escaped.
    message = failure_text(run).replace('\\"', '"')
    assert "KNV2004" in message, message
    assert DOWNLOAD_DENIED in message and '"{0}"'.format(grants.resource) in message, message
    return message


def test_seed_flow_syncs_only_while_the_reconciler_ksa_holds_the_reader_grant(grants, e2e_timings):
    name, ksa = "root-sync", "root-reconciler"
    member = reconciler_member(grants.project, ksa)
    image = grants.image("seed")
    v1 = grants.manifests("v1", {"ns.yaml": namespace_manifest("grants-seed-a")})
    pushed = grants.push(image, v1).result("push")

    # Before ar_iam_binding: Config Sync's own error, with the registry's 403 for the KSA's identity.
    began = time.monotonic()
    denied = grants.sync(name, image)
    e2e_timings["grants_create_to_knv2004_seconds"] = round(time.monotonic() - began, 3)
    assert_pull_denied(grants, denied)
    assert (200, "{0}.svc.id.goog[{1}/{2}]".format(grants.project, CONFIG_SYNC_NAMESPACE, ksa)) in grants.token_requests(ksa)
    assert grants.source_member(denied) == member

    began = time.monotonic()
    grants.bind(member)
    source = grants.sync_until_synced(name, image, pushed["digest"])
    e2e_timings["grants_binding_to_synced_seconds"] = round(time.monotonic() - began, 3)
    assert source["sync_status"]["status"] == "SYNCED"
    assert source["sync_status"]["commit"] == pushed["digest"].split(":", 1)[1]
    assert grants.namespace_commit("grants-seed-a") == source["sync_status"]["commit"]
    assert grants.front_pulls(member), grants.front.requests()[-10:]

    # The grant taken away and a new version pushed to the tag: the next poll is refused, the sync fails again.
    began = time.monotonic()
    grants.bind(member, state="absent")
    v2 = grants.manifests("v2", {"ns.yaml": namespace_manifest("grants-seed-a"), "b.yaml": namespace_manifest("grants-seed-b")})
    second = grants.push(image, v2).result("push")
    assert second["digest"] != pushed["digest"]
    again = grants.sync(name, image, expected_digest=second["digest"])
    assert_pull_denied(grants, again)
    e2e_timings["grants_revoke_and_push_to_knv2004_seconds"] = round(time.monotonic() - began, 3)
    assert grants.get("/api/v1/namespaces/grants-seed-b") is None
    grants.delete(name)


WRONG_MEMBERS = {
    # A RootSync named prod runs as root-reconciler-prod, not root-reconciler.
    "rootsync-name": ("RootSync", "prod", CONFIG_SYNC_NAMESPACE, "configsync-test", "root-reconciler"),
    # A RepoSync named platform in team-grants runs as ns-reconciler-team-grants-platform-8 (length suffix).
    "reposync-suffix": ("RepoSync", "platform", "team-grants", "configsync-test", "ns-reconciler-team-grants-platform"),
    # The member of another fleet host project's identity pool.
    "fleet-host-project": ("RootSync", "fleet", CONFIG_SYNC_NAMESPACE, "other-fleet-project", "root-reconciler-fleet"),
}


@pytest.mark.parametrize("case", sorted(WRONG_MEMBERS))
def test_a_grant_to_the_wrong_member_fails_and_the_role_grants_the_right_one(grants, case, e2e_timings):
    kind, name, namespace, bound_project, bound_ksa = WRONG_MEMBERS[case]
    if kind == "RepoSync":
        grants.create_namespace(namespace)
    image = grants.image("wrong-" + case)
    # A RepoSync may hold only objects of its own namespace.
    if kind == "RepoSync":
        manifest = config_map_manifest("grants", namespace, {"granted": "yes"})
    else:
        manifest = namespace_manifest("grants-" + case)
    src = grants.manifests("v1", {"objects.yaml": manifest})
    pushed = grants.push(image, src).result("push")
    wrong = reconciler_member(bound_project, bound_ksa)
    grants.bind(wrong)

    denied = grants.sync(name, image, kind=kind, namespace=namespace, expected_digest=pushed["digest"], fleet_host_project=bound_project)
    assert_pull_denied(grants, denied)
    ksa = denied.results("source")[-1]["ksa"]["name"]
    right = reconciler_member(grants.project, ksa)
    assert right != wrong
    assert (200, right.split(":", 1)[1]) in grants.token_requests(ksa)

    # The rollout role, given the same sync inputs, binds the member Config Sync authenticates as and waits for SYNCED.
    run = grants.rollout(src, "wrong-" + case, kind=kind, name=name, namespace=namespace)
    assert not run.failed, run.output
    waited = run.result("Wait until the cluster reports SYNCED at the pushed digest")
    assert waited["sync_status"]["status"] == "SYNCED", waited
    members = {member for binding in grants.repository_policy().get("bindings", []) if binding["role"] == READER
               for member in binding["members"]}
    assert {wrong, right} <= members, members
    assert grants.front_pulls(right)
    grants.delete(name, kind=kind, namespace=namespace)
