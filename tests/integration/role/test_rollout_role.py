"""The rollout role across several clusters (inventory hosts) in one play, against the real parts.

Each host stands for one cluster with its own RepoSync namespace (one API server serves them all here, so every
host's objects are distinct). The Google side runs once per play, the IAM binding once per host, concurrently.
Waiting for SYNCED needs Config Sync's own controllers and is covered by tests/integration/e2e and `make demo`;
here the role runs with ``rollout_wait: false`` so that it is tested wherever the control plane runs.
"""
import uuid

import pytest
from google.cloud import artifactregistry_v1
from google.protobuf import json_format

from harness.paths import REPO

ROLE_PLAY = REPO / "playbooks" / "rollout.yml"
READER = "roles/artifactregistry.reader"
CLUSTERS = ["cluster-a", "cluster-b", "cluster-c"]


def repository_policy(gcp, repository):
    client = artifactregistry_v1.ArtifactRegistryClient(credentials=gcp.credentials(), transport="rest",
                                                        client_options={"api_endpoint": gcp.endpoint})
    policy = client.get_iam_policy(request={"resource": gcp.repository_name(repository), "options": {"requested_policy_version": 3}})
    return json_format.MessageToDict(policy)


@pytest.fixture
def fleet(kube_client):
    """One RepoSync namespace per cluster host, created the way a platform team's namespace role would."""
    import kubernetes  # pylint: disable=import-outside-toplevel
    core = kubernetes.client.CoreV1Api(kube_client)
    suffix = uuid.uuid4().hex[:6]
    namespaces = {host: "team-{0}-{1}".format(host[-1], suffix) for host in CLUSTERS}
    for namespace in namespaces.values():
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    return namespaces


def rollout_vars(gcp, registry, control_plane, manifests, repository):
    return {
        "rollout_project": gcp.project,
        "rollout_location": "us-central1",
        "rollout_repository": repository,
        "rollout_package": "platform",
        "rollout_tag": "v1",
        "rollout_src": [str(manifests)],
        "rollout_registry": "{0}/{1}/{2}".format(registry.host, gcp.project, repository),
        "rollout_sync_kind": "RepoSync",
        "rollout_sync_name": "platform",
        "rollout_auth": "none",
        "rollout_grant_reader": True,
        "rollout_wait": False,
        "rollout_kubeconfig": str(control_plane.operator_kubeconfig),
    }


def test_role_rolls_out_to_every_cluster_and_is_idempotent(ansible, gcp, registry, control_plane, fleet, kube_client, tmp_path):
    import kubernetes  # pylint: disable=import-outside-toplevel
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "configmap.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: platform\ndata:\n  tier: gold\n")
    repository = "platform-" + uuid.uuid4().hex[:6]
    extra = rollout_vars(gcp, registry, control_plane, manifests, repository)
    # Per-host variables through extra vars would override them for every host: write a host_vars-like inventory.
    hosts = {host: {"rollout_sync_namespace": namespace} for host, namespace in fleet.items()}

    first = ansible(playbook=ROLE_PLAY, hosts=hosts, extra_vars=extra, env=gcp.env(), forks=len(CLUSTERS))
    assert first.returncode == 0 and not first.failed, first
    pushes = first.results("Push the manifests as an OCI image")
    assert len(pushes) == 1 and pushes[0]["changed"] is True, "the bundle is pushed once per run, not once per cluster"
    digest = pushes[0]["digest"]
    assert registry.manifest_digest("{0}/{1}/platform".format(gcp.project, repository), "v1") == digest

    custom = kubernetes.client.CustomObjectsApi(kube_client)
    members = set()
    for host, namespace in fleet.items():
        sync = custom.get_namespaced_custom_object("configsync.gke.io", "v1beta1", namespace, "reposyncs", "platform")
        assert sync["spec"]["sourceType"] == "oci"
        assert sync["spec"]["oci"]["image"] == pushes[0]["image"], "each cluster is pinned to the pushed digest"
        reconciler = "ns-reconciler-{0}-platform-8".format(namespace)
        members.add("serviceAccount:{0}.svc.id.goog[config-management-system/{1}]".format(gcp.project, reconciler))
        created = [r for r in first.results("Create the sync object on each cluster") if r["reconciler"] == reconciler]
        assert len(created) == 1, host
        binding = kubernetes.client.RbacAuthorizationV1Api(kube_client).read_namespaced_role_binding(
            created[0]["role_binding"]["metadata"]["name"], namespace)
        assert binding.subjects[0].name == reconciler
    policy = repository_policy(gcp, repository)
    readers = [b for b in policy.get("bindings", []) if b["role"] == READER]
    assert readers and set(readers[0]["members"]) == members, "every cluster's reconciler can read the repository"

    gcp.clear_log()
    registry.clear_log()
    with control_plane.recorded_writes() as k8s_writes:
        second = ansible(playbook=ROLE_PLAY, hosts=hosts, extra_vars=extra, env=gcp.env(), forks=len(CLUSTERS))
    assert second.returncode == 0 and not second.failed, second
    assert k8s_writes == [], "the second run wrote to the Kubernetes API (kube-apiserver's audit log)"
    changed = [r for r in second.records if r["result"].get("changed")]
    assert changed == [], "second run changes nothing: {0}".format([r["task"] for r in changed])
    assert gcp.writes() == []
    assert [r for r in registry.requests() if r.method in ("PUT", "POST", "PATCH", "DELETE")] == []


def test_a_reconciler_member_shared_by_many_clusters_is_granted_once(ansible, gcp, registry, control_plane, tmp_path):
    """Three clusters with the same RootSync name and fleet host project share one Workload Identity member: one
    binding call with that one member and one policy write for the fleet, none in a later wave or on a rerun."""
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "configmap.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\ndata:\n  a: b\n")
    repository = "shared-" + uuid.uuid4().hex[:6]
    extra = dict(rollout_vars(gcp, registry, control_plane, manifests, repository), rollout_sync_kind="RootSync",
                 rollout_sync_name="shared-" + uuid.uuid4().hex[:4])
    gcp.clear_log()
    first = ansible(playbook=ROLE_PLAY, hosts=CLUSTERS, extra_vars=extra, env=gcp.env(), forks=len(CLUSTERS))
    assert first.returncode == 0 and not first.failed, first
    grants = first.results("Grant the reconcilers' Kubernetes service accounts read access to the repository")
    member = "serviceAccount:{0}.svc.id.goog[config-management-system/root-reconciler-{1}]".format(gcp.project, extra["rollout_sync_name"])
    assert len(grants) == 1 and grants[0]["changed"] is True, grants
    assert grants[0]["invocation"]["module_args"]["members"] == [member]
    assert len(gcp.requests("artifactregistry.repositories.setIamPolicy")) == 1, "one policy write for the fleet"

    gcp.clear_log()
    waves = ansible(playbook=ROLE_PLAY, hosts=CLUSTERS, extra_vars=dict(extra, rollout_waves=[1, "100%"]), env=gcp.env(), forks=len(CLUSTERS))
    assert waves.returncode == 0 and not waves.failed, waves
    assert len(waves.results("Grant the reconcilers' Kubernetes service accounts read access to the repository")) == 2, "once per wave"
    assert gcp.writes() == [], "the member is already bound: no wave writes the policy again"
