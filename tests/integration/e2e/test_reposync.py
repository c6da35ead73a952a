"""A RepoSync in a team's namespace: config_sync_source creates it and the RoleBinding its reconciler needs.

The reconciler runs as its own KSA (ns-reconciler-<ns>), so the ConfigMap is applied only because the RoleBinding
config_sync_source created grants that KSA the ``edit`` ClusterRole in the namespace.
"""
import pytest

from e2e_flow import config_map_manifest, poll

pytestmark = pytest.mark.slow

NAMESPACE = "team-a"


def test_repo_sync_with_its_role_binding_syncs_a_config_map(flow, nomos):
    flow.create_namespace(NAMESPACE)
    src = flow.manifests("team-a", {"settings.yaml": config_map_manifest("settings", NAMESPACE, {"color": "blue"})})
    image = flow.image("e2e/team-a")

    pushed, source, _ = flow.push_and_sync("repo-sync", image, src, kind="RepoSync", namespace=NAMESPACE)

    commit = pushed["digest"].split(":", 1)[1]
    assert source["reconciler"] == "ns-reconciler-" + NAMESPACE
    binding = source["role_binding"]
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert {"kind": "ServiceAccount", "name": "ns-reconciler-" + NAMESPACE, "namespace": "config-management-system"} in binding["subjects"]
    assert source["sync_status"]["status"] == "SYNCED" and source["sync_status"]["commit"] == commit

    config_map = flow.get("/api/v1/namespaces/{0}/configmaps/settings".format(NAMESPACE))
    assert config_map is not None and config_map["data"] == {"color": "blue"}
    assert config_map["metadata"]["annotations"]["configmanagement.gke.io/token"] == commit

    report = poll(lambda: (lambda out: out if "configmap/settings" in out.output and "Current" in out.output else None)(nomos()))
    assert report, nomos()
    assert any(NAMESPACE + ":repo-sync" in line for line in report.output.splitlines()), report
    assert any("SYNCED" in line and commit in line for line in report.output.splitlines()), report
    flow.delete("repo-sync", kind="RepoSync", namespace=NAMESPACE)
