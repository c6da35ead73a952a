"""A RepoSync in a team's namespace: config_sync_source creates it and the RoleBinding its reconciler needs.

The reconciler runs as its own KSA (ns-reconciler-<ns>), so the ConfigMap is applied only because the RoleBinding
config_sync_source created grants that KSA the ``edit`` ClusterRole in the namespace.
"""
import pytest

from harness.polling import poll

from e2e_flow import config_map_manifest

pytestmark = pytest.mark.slow

NAMESPACE = "team-a"


def current_in_nomos(nomos, resource):
    """A nomos status run that lists ``resource`` as Current, else None."""
    report = nomos()
    return report if any(resource in line and "Current" in line for line in report.output.splitlines()) else None


def test_repo_sync_with_its_role_binding_syncs_a_config_map(flow, nomos, e2e_timings):
    flow.create_namespace(NAMESPACE)
    src = flow.manifests("team-a", {"settings.yaml": config_map_manifest("settings", NAMESPACE, {"color": "blue"})})
    image = flow.image("e2e/team-a")

    pushed, source, seconds = flow.push_and_sync("repo-sync", image, src, kind="RepoSync", namespace=NAMESPACE)

    e2e_timings["push_to_synced_first_sync_reposync_seconds"] = round(seconds, 3)
    commit = pushed["digest"].split(":", 1)[1]
    assert source["reconciler"] == "ns-reconciler-" + NAMESPACE
    binding = source["role_binding"]
    assert binding["metadata"]["namespace"] == NAMESPACE
    assert {"kind": "ServiceAccount", "name": "ns-reconciler-" + NAMESPACE, "namespace": "config-management-system"} in binding["subjects"]
    assert source["sync_status"]["status"] == "SYNCED" and source["sync_status"]["commit"] == commit

    config_map = flow.get("/api/v1/namespaces/{0}/configmaps/settings".format(NAMESPACE))
    assert config_map is not None and config_map["data"] == {"color": "blue"}
    assert config_map["metadata"]["annotations"]["configmanagement.gke.io/token"] == commit

    report = poll(lambda: current_in_nomos(nomos, "configmap/settings"))
    assert report, nomos()
    assert any(NAMESPACE + ":repo-sync" in line for line in report.output.splitlines()), report
    assert any("SYNCED" in line and commit in line for line in report.output.splitlines()), report
    flow.delete("repo-sync", kind="RepoSync", namespace=NAMESPACE)
