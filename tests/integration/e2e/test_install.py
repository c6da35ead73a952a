"""What the modules read from a Config Sync install: the version in the reconciler-manager Deployment's image tag."""
import pytest

from harness.configsync_runner import configsync_version

pytestmark = pytest.mark.slow


def test_auth_auto_reads_the_installed_version_and_picks_k8sserviceaccount(flow):
    task = flow.source_task("auto-auth-sync", flow.image("e2e/auto-auth"), wait=False, auth="auto", fleet_host_project="fleet-host-1")

    run = flow.run([task], check=True)

    assert not run.failed, run.output
    result = run.result("source")
    assert result["config_sync_version"] == configsync_version()
    # From 1.17.2 on the reconciler's own KSA is granted access through Workload Identity.
    assert result["auth"] == "k8sserviceaccount"
    assert result["workload_identity_member"] == "serviceAccount:fleet-host-1.svc.id.goog[config-management-system/root-reconciler-auto-auth-sync]"
    # Check mode: nothing was created, so no reconciler was started for it.
    assert flow.sync_object("auto-auth-sync") is None
