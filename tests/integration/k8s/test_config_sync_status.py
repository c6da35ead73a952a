"""configsync.oci.config_sync_status against a real kube-apiserver with Config Sync's real CRDs.

The status objects (sync_objects.py) are shaped as Config Sync 1.24 writes them and are written through the status
subresource, as the reconciler does, on ``bare_control_plane`` where no Config Sync controller rewrites them. STALLED
comes from the reconciler-manager (the emulator's, or the real one in the real tier) on ``control_plane``
(test_stalled_with_knv1061).
"""
import uuid

import kubernetes
import pytest

from harness.polling import poll

from sync_objects import (
    CMS, DIGEST, GROUP, KNV2004, PINNED, VERSION, error_pull_status, pending_status, stalled_status, synced_status, unique,
    write_resource_group, write_status,
)


def create_sync(ansible, k8s_env, name, image=PINNED, **extra):
    params = dict({"name": name, "image": image, "auth": "none", "dir": "."}, **extra)
    run = ansible(tasks=[{"name": "t", "configsync.oci.config_sync_source": params}], env=k8s_env)
    assert run.result("t")["changed"] is True, run.output


def status_of(ansible, k8s_env, **params):
    run = ansible(tasks=[{"name": "s", "configsync.oci.config_sync_status": params}], env=k8s_env, check=True)
    return run.result("s")


def by_name(result, name):
    found = [sync for sync in result["syncs"] if sync["name"] == name]
    assert len(found) == 1, result
    return found[0]


def test_synced_at_the_digest_with_managed_resources(ansible, k8s_env, custom):
    name = unique("synced")
    create_sync(ansible, k8s_env, name)
    write_status(custom, "RootSync", CMS, name, synced_status(PINNED, DIGEST))
    write_resource_group(custom, CMS, name, [
        {"group": "", "kind": "Namespace", "namespace": "", "name": "test", "status": "Current", "sourceHash": DIGEST[:7],
         "strategy": "Apply", "actuation": "Succeeded", "reconcile": "Succeeded"},
        {"group": "apps", "kind": "Deployment", "namespace": "test", "name": "web", "status": "InProgress", "sourceHash": DIGEST[:7],
         "conditions": [{"type": "OwnershipOverlap", "status": "True", "message": "This resource is managed by another RootSync"}]},
    ])
    result = status_of(ansible, k8s_env, name=name)
    assert result["changed"] is False
    sync = by_name(result, name)
    assert sync["status"] == "SYNCED"
    assert sync["commit"] == DIGEST
    assert sync["source"] == PINNED
    assert sync["last_update"]
    assert sync["errors"] == []
    assert sync["summary"].startswith("<root>:%s  %s  SYNCED @ " % (name, PINNED)) and sync["summary"].endswith(DIGEST[:8])
    assert [(r["resource"], r["namespace"], r["status"]) for r in sync["resources"]] == [
        ("namespace/test", "", "Current"), ("deployment.apps/web", "test", "Conflict")]


def test_pending_while_syncing(ansible, k8s_env, custom):
    name = unique("pending")
    create_sync(ansible, k8s_env, name)
    write_status(custom, "RootSync", CMS, name, pending_status(PINNED, DIGEST))
    sync = by_name(status_of(ansible, k8s_env, name=name), name)
    assert sync["status"] == "PENDING" and sync["commit"] == DIGEST


def test_new_object_without_status_is_pending(ansible, k8s_env):
    name = unique("fresh")
    create_sync(ansible, k8s_env, name)
    sync = by_name(status_of(ansible, k8s_env, name=name), name)
    assert sync["status"] == "PENDING"
    assert sync["commit"] is None


def test_stalled_with_knv1061(ansible, control_plane, config_sync, kube_client):  # pylint: disable=unused-argument
    """STALLED is the reconciler-manager's verdict on a spec it rejects (KNV1061 at validation).

    The reconciler-manager owns the Stalled condition: at every reconcile of a valid spec it clears Stalled and
    Reconciling (handleReconcileError with no error), so a Stalled condition written by hand on a valid RootSync is
    gone again moments later and the sync reads PENDING. Here the state comes from Config Sync itself: a RootSync
    written by another client (the module refuses this spec) with auth gcpserviceaccount and no
    gcpServiceAccountEmail, which the release CRD accepts and the reconciler-manager stalls.
    """
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    name = unique("stalled")
    custom.create_namespaced_custom_object(GROUP, VERSION, CMS, "rootsyncs", {
        "apiVersion": GROUP + "/" + VERSION, "kind": "RootSync", "metadata": {"name": name, "namespace": CMS},
        "spec": {"sourceType": "oci", "sourceFormat": "unstructured", "oci": {"image": PINNED, "dir": ".", "auth": "gcpserviceaccount"}}})
    try:
        stalled = poll(lambda: stalled_condition(custom.get_namespaced_custom_object(GROUP, VERSION, CMS, "rootsyncs", name)), timeout=60,
                       interval=0.5)
        assert stalled, custom.get_namespaced_custom_object(GROUP, VERSION, CMS, "rootsyncs", name)
        assert stalled["reason"] == "Validation" and "KNV1061" in stalled["message"] and "gcpServiceAccountEmail" in stalled["message"]
        env = {"K8S_AUTH_KUBECONFIG": str(control_plane.operator_kubeconfig)}
        sync = by_name(status_of(ansible, env, name=name), name)
        assert sync["status"] == "STALLED"
        assert sync["errors"] == [stalled["message"]]
        assert sync["error_summary"]["total_count"] == 1
        theirs, output = nomos_statuses(control_plane.kubeconfig)
        assert theirs[("<root>", name)][0] == "STALLED", output
    finally:
        custom.delete_namespaced_custom_object(GROUP, VERSION, CMS, "rootsyncs", name)


def stalled_condition(sync):
    found = [c for c in (sync.get("status") or {}).get("conditions") or [] if c["type"] == "Stalled" and c["status"] == "True"]
    return found[0] if found else None


def test_error_with_knv2004_pull_error(ansible, k8s_env, custom):
    name = unique("error")
    create_sync(ansible, k8s_env, name)
    write_status(custom, "RootSync", CMS, name, error_pull_status(PINNED))
    sync = by_name(status_of(ansible, k8s_env, name=name), name)
    assert sync["status"] == "ERROR"
    assert sync["errors"] == [KNV2004 % PINNED]
    assert sync["commit"] is None


def test_lists_every_sync_with_repo_syncs_and_a_summary(ansible, k8s_env, custom, bare_kube_client):
    import kubernetes
    namespace = unique("team")
    kubernetes.client.CoreV1Api(bare_kube_client).create_namespace({"metadata": {"name": namespace}})
    root = unique("fleet")
    create_sync(ansible, k8s_env, root)
    write_status(custom, "RootSync", CMS, root, synced_status(PINNED, DIGEST))
    run = ansible(tasks=[{"name": "t", "configsync.oci.config_sync_source": {
        "kind": "RepoSync", "name": "repo-sync", "namespace": namespace, "image": PINNED, "auth": "none"}}], env=k8s_env)
    assert run.result("t")["changed"] is True
    result = status_of(ansible, k8s_env)
    repo = [s for s in result["syncs"] if s["kind"] == "RepoSync" and s["namespace"] == namespace][0]
    assert repo["status"] == "PENDING" and repo["scope"] == namespace
    assert by_name(result, root)["scope"] == "<root>"
    assert result["summary"]["SYNCED"] >= 1 and result["summary"]["PENDING"] >= 1
    assert result["synced"] is False
    # nomos reports a sync without its ResourceGroup as an error of the cluster.
    assert any('resourcegroups.kpt.dev "%s" not found in namespace "%s"' % (root, CMS) in e for e in result["errors"])
    only_repo = status_of(ansible, k8s_env, kind="RepoSync", namespace=namespace)
    assert [(s["kind"], s["name"]) for s in only_repo["syncs"]] == [("RepoSync", "repo-sync")]


def test_one_host_per_cluster_in_a_play(ansible, k8s_env, bare_control_plane):
    run = ansible(tasks=[{"name": "s", "configsync.oci.config_sync_status": {"kubeconfig": str(bare_control_plane.kubeconfig)}}],
                  hosts=["cluster-a", "cluster-b"], check=False)
    results = run.results("s")
    assert len(results) == 2 and all(r["server"] == bare_control_plane.server for r in results)


def test_unreachable_cluster_is_named(ansible):
    from harness.process import free_port
    server = "https://127.0.0.1:%d" % free_port()
    params = {"host": server, "api_key": "tok-" + uuid.uuid4().hex, "validate_certs": False}
    run = ansible(tasks=[{"name": "s", "configsync.oci.config_sync_status": params}])
    record = [r for r in run.records if r["task"] == "s"][0]
    assert record["status"] == "failed" and server in record["result"]["msg"]


# ----------------------------------------------------------------------------------------------------------------------
# The same verdicts as `nomos status` (the emulator's, or the real one in the real tier)
# ----------------------------------------------------------------------------------------------------------------------

def nomos_statuses(kubeconfig):
    """{(scope, name): (status, commit)} from `nomos status` run against the control plane."""
    import os
    import re
    import subprocess
    from harness import tools
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    output = subprocess.run(tools.configsync_command("nomos") + ["status"], env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    lines = [line.strip() for line in output.splitlines()]
    found = {}
    for index, line in enumerate(lines):
        header = re.match(r"^(<root>|[a-z0-9-]+):([a-z0-9.-]+)\s", line)
        if header and index + 1 < len(lines):
            # "SYNCED @ <time>  <commit>" or "<STATUS>  <commit>" (tabwriter columns); the commit may be empty.
            words = lines[index + 1].split()
            commit = words[-1] if len(words) > 1 and re.match(r"^([0-9a-f]{7,}|N/A)$", words[-1]) else ""
            found[(header.group(1), header.group(2))] = (words[0], commit)
    return found, output


@pytest.mark.configsync
def test_same_verdicts_as_nomos_status(ansible, k8s_env, custom, bare_control_plane):
    shapes = {
        "n-synced": lambda: synced_status(PINNED, DIGEST),
        "n-pending": lambda: pending_status(PINNED, DIGEST),
        "n-stalled": stalled_status,
        "n-error": lambda: error_pull_status(PINNED),
        "n-fresh": None,
    }
    suffix = uuid.uuid4().hex[:4]
    for prefix, shape in shapes.items():
        name = "%s-%s" % (prefix, suffix)
        create_sync(ansible, k8s_env, name)
        write_resource_group(custom, CMS, name, [])
        if shape:
            write_status(custom, "RootSync", CMS, name, shape())
    ours = {(s["scope"], s["name"]): s for s in status_of(ansible, k8s_env, kind="RootSync")["syncs"]}
    theirs, output = nomos_statuses(bare_control_plane.kubeconfig)
    for prefix in shapes:
        key = ("<root>", "%s-%s" % (prefix, suffix))
        assert key in theirs, output
        status, commit = theirs[key]
        assert ours[key]["status"] == status, (key, ours[key], output)
        # nomos prints N/A (or nothing) for no commit; it shortens legacy commits to 8 characters.
        if commit in ("", "N/A"):
            assert ours[key]["commit"] is None, (key, ours[key], output)
        else:
            assert ours[key]["commit"].startswith(commit), (key, ours[key], output)
