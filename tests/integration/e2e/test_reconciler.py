"""More of the seed's flow with the reconciler, each case checked against ``nomos status`` too.

* auth: token with secret_ref (the Secret the user names) and ca_cert_secret against the TLS + htpasswd registry;
  a wrong password and a missing CA give Config Sync's own errors through config_sync_source's wait;
* source_format: hierarchy with a bundle in Config Sync's hierarchy layout (system/repo.yaml, namespaces/NAME/);
* a RootSync and a RepoSync of non-default, long names (reconciler names with the length suffix), synced by the
  reconcilers the reconciler-manager sets up, with the KSA and RoleBinding it expects;
* while an older digest is SYNCED, a wait for the new digest does not return before Config Sync reports it.
"""
import threading
import time

import pytest

from harness.polling import poll

from e2e_flow import CONFIG_SYNC_NAMESPACE, config_map_manifest, namespace_manifest, nomos_state_is

pytestmark = pytest.mark.slow

FAILURE_TIMEOUT = 120
LOGIN_SECRET = "registry-login"
CA_SECRET = "registry-ca"


def digest_hex(digest):
    return digest.split(":", 1)[1]


def failure_message(run, task="source"):
    failed = [record for record in run.failed if record["task"] == task]
    assert len(failed) == 1, run.output
    return failed[0]["result"].get("msg", "")


def status_errors(sync_object):
    status = sync_object.get("status") or {}
    return [error["errorMessage"] for stage in ("source", "rendering", "sync") for error in (status.get(stage) or {}).get("errors") or []]


@pytest.fixture(scope="module")
def login_registry(registry_tls_htpasswd):
    return registry_tls_htpasswd


@pytest.fixture
def pushed_to_login_registry(flow, login_registry):
    """A bundle pushed to the TLS + htpasswd registry, and the Secrets Config Sync needs for it (once per module)."""
    reg = login_registry
    if flow.get("/api/v1/namespaces/{0}/secrets/{1}".format(CONFIG_SYNC_NAMESPACE, LOGIN_SECRET)) is None:
        flow.create_secret(LOGIN_SECRET, {"username": reg.username, "password": reg.password})
        flow.create_secret(CA_SECRET, {"cert": reg.ca_file.read_text()})
    src = flow.manifests("login", {"ns.yaml": namespace_manifest("login-a")})
    image = reg.ref("e2e/login", "v1")
    pushed = flow.push(image, src, username=reg.username, password=reg.password, ca_cert=str(reg.ca_file))
    return image, pushed


def test_token_auth_and_ca_cert_from_secrets_sync_from_the_htpasswd_registry(flow, nomos, pushed_to_login_registry, login_registry):
    image, pushed = pushed_to_login_registry
    commit = digest_hex(pushed["digest"])
    run = flow.sync("login-sync", image, expected_digest=pushed["digest"], auth="token", secret_ref=LOGIN_SECRET,
                    ca_cert_secret=CA_SECRET)
    assert not run.failed, run.output
    source = run.result("source")
    assert source["sync_status"]["status"] == "SYNCED" and source["sync_status"]["commit"] == commit, source
    assert flow.sync_object("login-sync")["spec"]["oci"] == {
        "image": image, "dir": ".", "auth": "token", "period": "5s", "secretRef": {"name": LOGIN_SECRET},
        "caCertSecretRef": {"name": CA_SECRET}}
    assert (flow.get("/api/v1/namespaces/login-a")["metadata"].get("annotations") or {})["configmanagement.gke.io/token"] == commit
    report = poll(lambda: nomos_state_is(nomos, "<root>", "login-sync", "SYNCED", commit))
    assert report, nomos()
    assert login_registry.password not in run.output
    flow.delete("login-sync")


def test_a_wrong_password_and_a_missing_ca_fail_the_wait_with_config_syncs_errors(flow, nomos, pushed_to_login_registry, login_registry):
    image, dummy = pushed_to_login_registry
    wrong_password = "not-the-password-" + login_registry.username
    flow.create_secret("registry-login-wrong", {"username": login_registry.username, "password": wrong_password})
    common = {"wait": True, "wait_timeout": FAILURE_TIMEOUT}
    wrong = flow.source_task("wrong-login", image, auth="token", secret_ref="registry-login-wrong", ca_cert_secret=CA_SECRET, **common)
    no_ca = flow.source_task("no-ca", image, auth="token", secret_ref=LOGIN_SECRET, **common)
    # Both sync objects first (no wait), so both reconcilers pull at once; then one wait each, errors ignored.
    tasks = [dict(wrong, name="apply wrong", **{"configsync.oci.config_sync_source": dict(wrong["configsync.oci.config_sync_source"], wait=False)}),
             dict(no_ca, name="apply no-ca", **{"configsync.oci.config_sync_source": dict(no_ca["configsync.oci.config_sync_source"], wait=False)}),
             dict(wrong, name="wait wrong", ignore_errors=True), dict(no_ca, name="wait no-ca", ignore_errors=True)]
    run = flow.run(tasks)

    unauthorized = failure_message(run, "wait wrong")
    assert run.results("wait wrong")[0]["sync_status"]["status"] == "ERROR"
    assert "KNV2004" in unauthorized and "UNAUTHORIZED" in unauthorized.upper(), unauthorized
    errors = status_errors(flow.sync_object("wrong-login"))
    assert errors and all(error.splitlines()[0] in unauthorized for error in errors), (unauthorized, errors)
    assert wrong_password not in run.output and login_registry.password not in run.output

    untrusted = failure_message(run, "wait no-ca")
    assert run.results("wait no-ca")[0]["sync_status"]["status"] == "ERROR"
    assert "KNV2004" in untrusted and "x509" in untrusted and "certificate" in untrusted, untrusted
    assert any(error.splitlines()[0] in untrusted for error in status_errors(flow.sync_object("no-ca")))

    for name in ("wrong-login", "no-ca"):
        assert poll(lambda name=name: nomos_state_is(nomos, "<root>", name, "ERROR")), nomos()
        flow.delete(name)


HIERARCHY_REPO = """apiVersion: configmanagement.gke.io/v1
kind: Repo
metadata:
  name: repo
spec:
  version: 1.0.0
"""


def test_hierarchy_format_bundle_is_synced(flow, nomos):
    """Config Sync's hierarchy layout: the Repo object in system/, each namespace in namespaces/NAME/ with its objects,
    which take the directory's namespace (the ConfigMap names none)."""
    config_map = config_map_manifest("settings", "hier-a", {"tier": "gold"}).replace("  namespace: hier-a\n", "")
    src = flow.manifests("hierarchy", {"system/repo.yaml": HIERARCHY_REPO,
                                       "namespaces/hier-a/namespace.yaml": namespace_manifest("hier-a"),
                                       "namespaces/hier-a/settings.yaml": config_map})
    pushed, source, dummy = flow.push_and_sync("hier-sync", flow.image("e2e/hierarchy"), src, source_format="hierarchy")
    commit = digest_hex(pushed["digest"])
    assert source["sync_status"]["status"] == "SYNCED" and source["sync_status"]["commit"] == commit
    assert flow.sync_object("hier-sync")["spec"]["sourceFormat"] == "hierarchy"
    settings = flow.get("/api/v1/namespaces/hier-a/configmaps/settings")
    assert settings["data"] == {"tier": "gold"}
    assert settings["metadata"]["annotations"]["configmanagement.gke.io/token"] == commit
    # The hierarchy parser gave the ConfigMap its directory's namespace and recorded the file it came from.
    assert settings["metadata"]["annotations"].get("configmanagement.gke.io/source-path") == "namespaces/hier-a/settings.yaml"
    assert poll(lambda: nomos_state_is(nomos, "<root>", "hier-sync", "SYNCED", commit)), nomos()
    flow.delete("hier-sync")


def test_long_names_get_the_reconcilers_the_reconciler_manager_expects(flow, nomos, config_sync):
    root_name = "platform-configuration-root"  # 27 characters: over the old documented 26
    namespace, repo_name = "team-long-names", "application-settings"
    flow.create_namespace(namespace)
    root_src = flow.manifests("long-root", {"ns.yaml": namespace_manifest("long-root-a")})
    repo_src = flow.manifests("long-repo", {"cm.yaml": config_map_manifest("long", namespace, {"k": "v"})})
    root_pushed = flow.push(flow.image("e2e/long-root"), root_src)
    repo_pushed = flow.push(flow.image("e2e/long-repo"), repo_src)
    run = flow.run([
        dict(flow.source_task(root_name, flow.image("e2e/long-root"), expected_digest=root_pushed["digest"]), name="root"),
        dict(flow.source_task(repo_name, flow.image("e2e/long-repo"), kind="RepoSync", namespace=namespace,
                              expected_digest=repo_pushed["digest"]), name="repo"),
    ])
    assert not run.failed, run.output
    root, repo = run.result("root"), run.result("repo")
    expected = {"root": "root-reconciler-" + root_name,
                "repo": "ns-reconciler-{0}-{1}-{2}".format(namespace, repo_name, len(repo_name))}
    assert root["reconciler"] == expected["root"] and repo["reconciler"] == expected["repo"]
    for result, reconciler, pushed in ((root, expected["root"], root_pushed), (repo, expected["repo"], repo_pushed)):
        assert result["ksa"] == {"name": reconciler, "namespace": CONFIG_SYNC_NAMESPACE}
        assert result["sync_status"]["status"] == "SYNCED" and result["sync_status"]["commit"] == digest_hex(pushed["digest"])
        # The real reconciler-manager made the KSA and the Deployment of that very name, running as that KSA.
        assert flow.get("/api/v1/namespaces/{0}/serviceaccounts/{1}".format(CONFIG_SYNC_NAMESPACE, reconciler)) is not None
        deployment = flow.get("/apis/apps/v1/namespaces/{0}/deployments/{1}".format(CONFIG_SYNC_NAMESPACE, reconciler))
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == reconciler
    binding = repo["role_binding"]
    assert binding["metadata"]["namespace"] == namespace
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": expected["repo"], "namespace": CONFIG_SYNC_NAMESPACE}]
    assert flow.get("/api/v1/namespaces/{0}/configmaps/long".format(namespace))["data"] == {"k": "v"}
    assert config_sync.reconciler("RepoSync", repo_name, namespace).deployment_name == expected["repo"]
    assert poll(lambda: nomos_state_is(nomos, "<root>", root_name, "SYNCED", digest_hex(root_pushed["digest"]))), nomos()
    assert poll(lambda: nomos_state_is(nomos, namespace, repo_name, "SYNCED", digest_hex(repo_pushed["digest"]))), nomos()
    flow.delete(root_name)
    flow.delete(repo_name, kind="RepoSync", namespace=namespace)


def test_wait_for_a_new_digest_holds_while_the_old_one_is_synced(flow, nomos):
    """The tag moves while the RootSync is SYNCED at the old digest; oci-sync notices only at its next poll. The wait
    for the new digest must sit through that SYNCED-at-the-old-digest time and return once Config Sync reports the
    new commit."""
    name = "moving-tag"
    image = flow.image("e2e/moving-tag")
    first = flow.push_and_sync(name, image, flow.manifests("v1", {"ns.yaml": namespace_manifest("moving-a")}), period="20s")[0]
    old = digest_hex(first["digest"])
    timeline = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            sync = flow.sync_object(name) or {}
            syncing = [c for c in (sync.get("status") or {}).get("conditions") or [] if c["type"] == "Syncing"]
            if syncing:
                timeline.append((time.time(), syncing[0]["status"], syncing[0].get("commit")))
            stop.wait(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        v2 = flow.manifests("v2", {"ns.yaml": namespace_manifest("moving-a"), "ns-b.yaml": namespace_manifest("moving-b")})
        run = flow.run([dict(flow.push_task(image, v2), register="pushed"), flow.clock_task("pushed at"),
                        flow.source_task(name, image, expected_digest="{{ pushed.digest }}", period="20s"), flow.clock_task("synced at")])
    finally:
        stop.set()
        watcher.join()
    assert not run.failed, run.output
    new = digest_hex(run.result("push")["digest"])
    source = run.result("source")
    pushed_at, returned_at = float(run.result("pushed at")["stdout"]), float(run.result("synced at")["stdout"])
    assert source["changed"] is False  # the same spec (a tag): only oci-sync's next poll brings the new digest
    assert source["sync_status"]["status"] == "SYNCED" and source["sync_status"]["commit"] == new, source
    # After the push, while the wait ran, the RootSync still sat SYNCED at the old digest: a wait on "SYNCED" alone, or
    # on the last synced commit of the tag, would have returned here.
    old_synced_after_push = [t for t, status, commit in timeline if pushed_at < t < returned_at and status == "False" and commit == old]
    assert len(old_synced_after_push) >= 3, timeline
    # The wait returned only after Config Sync reported the new commit (the watcher polls every 0.2 s, so it may see it
    # a little after the module did).
    new_seen = [t for t, status, commit in timeline if commit == new]
    assert new_seen and min(new_seen) <= returned_at + 2, (returned_at, timeline)
    assert returned_at > max(old_synced_after_push)
    assert poll(lambda: nomos_state_is(nomos, "<root>", name, "SYNCED", new)), nomos()
    flow.delete(name)
