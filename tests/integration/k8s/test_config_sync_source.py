"""configsync.oci.config_sync_source against a real kube-apiserver with Config Sync's real CRDs.

Status objects are written through the status subresource exactly as Config Sync's reconciler writes them
(see sync_objects.py); no reconciler runs on ``bare_control_plane``, so every status a test expects is one it wrote
itself. "Nothing written" is proven from the API server's audit log (``recorded_writes``), not from resourceVersion:
a server-side apply of unchanged content leaves the resourceVersion as it was.
"""
import threading
import time
import uuid

import pytest

from harness.process import free_port
from sync_objects import (
    CMS, DIGEST, GROUP, VERSION, IMAGE, PINNED, error_pull_status, pending_status, stalled_status, synced_status, unique,
    write_status,
)

FLEET = "demo-fleet-host"


@pytest.fixture
def rbac(bare_kube_client):
    import kubernetes
    return kubernetes.client.RbacAuthorizationV1Api(bare_kube_client)


@pytest.fixture
def namespace(bare_kube_client):
    import kubernetes
    name = unique("team")
    kubernetes.client.CoreV1Api(bare_kube_client).create_namespace({"metadata": {"name": name}})
    return name


def get_sync(custom, kind, namespace, name):
    import kubernetes
    try:
        return custom.get_namespaced_custom_object(GROUP, VERSION, namespace, kind.lower() + "s", name)
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def outcome(run, task="t"):
    """The task's result with ``failed`` set from the recorded status (Ansible keeps it out of the result dict)."""
    records = [record for record in run.records if record["task"] == task]
    assert len(records) == 1, run.output
    return dict(records[0]["result"], failed=records[0]["status"] == "failed")


class Outcome(object):
    def __init__(self, run):
        self.run = run

    def result(self, task="t"):
        return outcome(self.run, task)


def source(env, ansible, check=False, diff=False, **params):
    params.setdefault("auth", "none")
    return Outcome(ansible(tasks=[{"name": "t", "configsync.oci.config_sync_source": params}], check=check, diff=diff, env=env))


# ----------------------------------------------------------------------------------------------------------------------
# Life cycle: create, no-op, update, check mode, diff, absent
# ----------------------------------------------------------------------------------------------------------------------

def test_root_sync_create_noop_update_absent(ansible, k8s_env, custom, bare_control_plane):
    name = unique("root")
    with bare_control_plane.recorded_writes() as writes:
        created = source(k8s_env, ansible, name=name, image=IMAGE + ":v1", dir=".", source_format="unstructured",
                         auth="k8sserviceaccount", fleet_host_project=FLEET).result("t")
    assert created["changed"] is True, created
    # The audit log sees the module's own requests: the one apply that created the object.
    assert [(w["verb"], w["object"]) for w in writes] == [("patch", "rootsyncs %s/%s" % (CMS, name))], writes
    assert created["reconciler"] == "root-reconciler-" + name
    assert created["ksa"] == {"name": "root-reconciler-" + name, "namespace": CMS}
    assert created["workload_identity_member"] == "serviceAccount:%s.svc.id.goog[%s/root-reconciler-%s]" % (FLEET, CMS, name)
    live = get_sync(custom, "RootSync", CMS, name)
    assert live["spec"] == {"sourceType": "oci", "sourceFormat": "unstructured",
                            "oci": {"image": IMAGE + ":v1", "dir": ".", "auth": "k8sserviceaccount"}}
    assert live["apiVersion"] == "configsync.gke.io/v1beta1"

    with bare_control_plane.recorded_writes() as writes:
        again = source(k8s_env, ansible, name=name, image=IMAGE + ":v1", dir=".", source_format="unstructured",
                       auth="k8sserviceaccount").result("t")
    assert again["changed"] is False, again
    assert writes == [], "a no-op run sent write requests"
    assert get_sync(custom, "RootSync", CMS, name)["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]

    updated = source(k8s_env, ansible, name=name, image=PINNED, dir=".", source_format="unstructured",
                     auth="k8sserviceaccount").result("t")
    assert updated["changed"] is True
    after = get_sync(custom, "RootSync", CMS, name)
    assert after["spec"]["oci"]["image"] == PINNED
    assert after["metadata"]["generation"] == live["metadata"]["generation"] + 1

    removed = source(k8s_env, ansible, name=name, state="absent").result("t")
    assert removed["changed"] is True
    assert get_sync(custom, "RootSync", CMS, name) is None
    with bare_control_plane.recorded_writes() as writes:
        assert source(k8s_env, ansible, name=name, state="absent").result("t")["changed"] is False
    assert writes == []


def test_dropping_an_option_removes_the_field(ansible, k8s_env, custom):
    name = unique("root")
    source(k8s_env, ansible, name=name, image=IMAGE + ":v1", period="30s")
    assert get_sync(custom, "RootSync", CMS, name)["spec"]["oci"]["period"] == "30s"
    result = source(k8s_env, ansible, name=name, image=IMAGE + ":v1").result("t")
    assert result["changed"] is True
    assert "period" not in get_sync(custom, "RootSync", CMS, name)["spec"]["oci"]


def test_check_mode_writes_nothing_and_predicts_changed(ansible, k8s_env, custom, bare_control_plane):
    name = unique("root")
    with bare_control_plane.recorded_writes() as writes:
        first = source(k8s_env, ansible, check=True, name=name, image=IMAGE + ":v1").result("t")
    assert writes == []
    assert first["changed"] is True
    assert first["object"]["spec"]["oci"]["image"] == IMAGE + ":v1"
    assert get_sync(custom, "RootSync", CMS, name) is None

    source(k8s_env, ansible, name=name, image=IMAGE + ":v1")
    version = get_sync(custom, "RootSync", CMS, name)["metadata"]["resourceVersion"]
    with bare_control_plane.recorded_writes() as writes:
        change = source(k8s_env, ansible, check=True, name=name, image=IMAGE + ":v2").result("t")
        noop = source(k8s_env, ansible, check=True, name=name, image=IMAGE + ":v1").result("t")
        gone = source(k8s_env, ansible, check=True, name=name, state="absent").result("t")
    assert writes == [], "check mode sent write requests"
    assert change["changed"] is True
    assert noop["changed"] is False
    live = get_sync(custom, "RootSync", CMS, name)
    assert live["metadata"]["resourceVersion"] == version
    assert live["spec"]["oci"]["image"] == IMAGE + ":v1"

    assert gone["changed"] is True
    assert get_sync(custom, "RootSync", CMS, name) is not None


def test_diff_shows_before_and_after(ansible, k8s_env):
    name = unique("root")
    created = source(k8s_env, ansible, diff=True, name=name, image=IMAGE + ":v1").result("t")
    assert created["diff"]["before"] == {}
    assert created["diff"]["after"]["spec"]["oci"]["image"] == IMAGE + ":v1"
    updated = source(k8s_env, ansible, diff=True, check=True, name=name, image=IMAGE + ":v2").result("t")
    assert updated["diff"]["before"]["spec"]["oci"]["image"] == IMAGE + ":v1"
    assert updated["diff"]["after"]["spec"]["oci"]["image"] == IMAGE + ":v2"
    assert "managedFields" not in updated["diff"]["after"]["metadata"]
    run = ansible(tasks=[{"name": "t", "configsync.oci.config_sync_source": {"name": name, "image": IMAGE + ":v2", "auth": "none"}}],
                  diff=True, env=k8s_env)
    assert "-    image: %s:v1" % IMAGE in run.output or '"image": "%s:v1"' % IMAGE in run.output, run.output


# ----------------------------------------------------------------------------------------------------------------------
# RepoSync and its RoleBinding
# ----------------------------------------------------------------------------------------------------------------------

def test_repo_sync_with_role_binding(ansible, k8s_env, custom, rbac, namespace, bare_control_plane):
    reconciler = "ns-reconciler-%s-apps-4" % namespace
    created = source(k8s_env, ansible, kind="RepoSync", name="apps", namespace=namespace, image=PINNED).result("t")
    assert created["changed"] is True
    assert created["reconciler"] == reconciler
    assert get_sync(custom, "RepoSync", namespace, "apps")["spec"]["oci"]["image"] == PINNED
    binding = rbac.read_namespaced_role_binding(reconciler, namespace)
    assert binding.role_ref.kind == "ClusterRole" and binding.role_ref.name == "edit"
    assert [(s.kind, s.name, s.namespace) for s in binding.subjects] == [("ServiceAccount", reconciler, CMS)]

    with bare_control_plane.recorded_writes() as writes:
        again = source(k8s_env, ansible, kind="RepoSync", name="apps", namespace=namespace, image=PINNED).result("t")
        check = source(k8s_env, ansible, check=True, kind="RepoSync", name="apps", namespace=namespace, image=PINNED,
                       reconciler_role="admin").result("t")
    assert again["changed"] is False
    assert check["changed"] is True
    assert writes == [], "the no-op and check-mode runs wrote the RepoSync or its RoleBinding"

    admin = source(k8s_env, ansible, kind="RepoSync", name="apps", namespace=namespace, image=PINNED,
                   reconciler_role="admin").result("t")
    assert admin["changed"] is True
    assert rbac.read_namespaced_role_binding(reconciler, namespace).role_ref.name == "admin"

    removed = source(k8s_env, ansible, kind="RepoSync", name="apps", namespace=namespace, state="absent").result("t")
    assert removed["changed"] is True
    assert get_sync(custom, "RepoSync", namespace, "apps") is None
    assert reconciler not in [b.metadata.name for b in rbac.list_namespaced_role_binding(namespace).items]


def test_role_refs_on_root_sync(ansible, k8s_env, custom):
    name = unique("root")
    source(k8s_env, ansible, name=name, image=PINNED,
           role_refs=[{"name": "view"}, {"kind": "Role", "name": "deployer", "namespace": "apps"}])
    assert get_sync(custom, "RootSync", CMS, name)["spec"]["override"]["roleRefs"] == [
        {"kind": "ClusterRole", "name": "view"}, {"kind": "Role", "name": "deployer", "namespace": "apps"}]


# ----------------------------------------------------------------------------------------------------------------------
# auth: auto reads the Config Sync version from the reconciler-manager Deployment
# ----------------------------------------------------------------------------------------------------------------------

@pytest.fixture
def reconciler_manager(bare_kube_client):
    import kubernetes
    apps = kubernetes.client.AppsV1Api(bare_kube_client)

    def install(version):
        body = {
            "metadata": {"name": "reconciler-manager", "namespace": CMS},
            "spec": {
                "selector": {"matchLabels": {"app": "reconciler-manager"}},
                "template": {
                    "metadata": {"labels": {"app": "reconciler-manager"}},
                    "spec": {"containers": [
                        {"name": "reconciler-manager",
                         "image": "gcr.io/config-management-release/reconciler-manager:v%s" % version},
                        {"name": "otel-agent", "image": "gcr.io/config-management-release/otelcontribcol:v0.103.0-gke.3"},
                    ]},
                },
            },
        }
        try:
            apps.delete_namespaced_deployment("reconciler-manager", CMS)
        except kubernetes.client.ApiException as exc:
            if exc.status != 404:
                raise
        apps.create_namespaced_deployment(CMS, body)

    yield install
    apps.delete_namespaced_deployment("reconciler-manager", CMS)


def test_auth_auto_before_1_17_2_uses_gcpserviceaccount(ansible, k8s_env, custom, reconciler_manager):
    reconciler_manager("1.16.0")
    name = unique("root")
    missing = source(k8s_env, ansible, name=name, image=PINNED, auth="auto").result("t")
    assert missing["failed"] is True
    assert "KNV1061" in missing["msg"] and "gcpServiceAccountEmail" in missing["msg"]
    assert get_sync(custom, "RootSync", CMS, name) is None

    email = "config-sync-reader@demo-project.iam.gserviceaccount.com"
    result = source(k8s_env, ansible, name=name, image=PINNED, auth="auto", gcp_service_account_email=email).result("t")
    assert result["auth"] == "gcpserviceaccount"
    assert result["config_sync_version"] == "1.16.0"
    oci = get_sync(custom, "RootSync", CMS, name)["spec"]["oci"]
    assert oci["auth"] == "gcpserviceaccount" and oci["gcpServiceAccountEmail"] == email


def test_auth_auto_from_1_17_2_uses_k8sserviceaccount(ansible, k8s_env, custom, reconciler_manager):
    reconciler_manager("1.17.3")
    name = unique("root")
    result = source(k8s_env, ansible, name=name, image=PINNED, auth="auto",
                    gcp_service_account_email="config-sync-reader@demo-project.iam.gserviceaccount.com").result("t")
    assert result["auth"] == "k8sserviceaccount"
    assert result["config_sync_version"] == "1.17.3"
    oci = get_sync(custom, "RootSync", CMS, name)["spec"]["oci"]
    assert oci["auth"] == "k8sserviceaccount" and "gcpServiceAccountEmail" not in oci


def test_token_auth_references_the_login_secret(ansible, k8s_env, custom, bare_control_plane):
    """Config Sync 1.24's username/password auth for registries outside Google: only the Secret's name is written."""
    name = unique("root")
    result = source(k8s_env, ansible, name=name, image=PINNED, auth="token", secret_ref="registry-login").result("t")
    assert result["changed"] is True and result["auth"] == "token"
    oci = get_sync(custom, "RootSync", CMS, name)["spec"]["oci"]
    assert oci["auth"] == "token" and oci["secretRef"] == {"name": "registry-login"}
    with bare_control_plane.recorded_writes() as writes:
        again = source(k8s_env, ansible, name=name, image=PINNED, auth="token", secret_ref="registry-login").result("t")
    assert again["changed"] is False
    assert writes == []


def test_auth_auto_without_config_sync_is_a_clear_error(ansible, k8s_env, custom):
    name = unique("root")
    result = source(k8s_env, ansible, name=name, image=PINNED, auth="auto").result("t")
    assert result["failed"] is True
    assert "reconciler-manager" in result["msg"] and "set auth explicitly" in result["msg"]
    assert get_sync(custom, "RootSync", CMS, name) is None


# ----------------------------------------------------------------------------------------------------------------------
# Bad input: a clear error naming the option, and nothing written
# ----------------------------------------------------------------------------------------------------------------------

BAD_INPUT = [
    ({"name": "r" * 39}, "maximum length of RootSync name is 38, but found 39"),
    ({"kind": "RepoSync", "name": "s" * 23, "namespace": "n" * 23}, "maximum combined length of RepoSync name and namespace is 45, but found 46"),
    ({"name": "outside", "namespace": "team-a"}, "RootSync objects are only allowed in the config-management-system namespace, not in team-a"),
    ({"kind": "RepoSync", "name": "inside", "namespace": CMS}, "RepoSync objects are not allowed in the config-management-system namespace"),
    ({"name": "no-email", "auth": "gcpserviceaccount"}, "must also specify spec.oci.gcpServiceAccountEmail (option gcp_service_account_email)"),
    ({"name": "bad-email", "auth": "gcpserviceaccount", "gcp_service_account_email": "reader@demo-project.example.com"},
     "must use suffix <gcp_serviceaccount_name>.[.iam.gserviceaccount.com]"),
    ({"name": "short-email", "auth": "gcpserviceaccount", "gcp_service_account_email": "abc@p.iam.gserviceaccount.com"},
     "must be 6 to 30 characters"),
    ({"name": "bad-auth", "auth": "basic"},
     "value of auth must be one of: auto, k8sserviceaccount, gcpserviceaccount, gcenode, none, token, got: basic"),
    ({"name": "token-without-secret", "auth": "token"}, "must also specify spec.oci.secretRef (option secret_ref)"),
    ({"name": "Upper"}, "RootSync name 'Upper' is not a valid Kubernetes name"),
    ({"name": "bad-image", "image": "us-docker.pkg.dev/p/r/Img:v1"}, "path component 'Img' is not valid (repository names are lowercase)"),
    ({"name": "no-image", "image": None}, "state is present but all of the following are missing: image"),
]


@pytest.mark.parametrize("params, message", BAD_INPUT, ids=[m[:40] for _p, m in BAD_INPUT])
def test_bad_input_fails_before_any_request(ansible, k8s_env, custom, params, message):
    params = dict({"image": PINNED}, **params)
    if params["image"] is None:
        del params["image"]
    result = source(k8s_env, ansible, **params).result("t")
    assert result["failed"] is True
    assert message in result["msg"], result["msg"]
    kind = params.get("kind", "RootSync")
    namespace = params.get("namespace", CMS)
    if len(params["name"]) + len(namespace) < 250 and namespace in (CMS,):
        assert get_sync(custom, kind, namespace, params["name"].lower()) is None


def test_unreachable_api_server_is_named_and_the_token_is_not_shown(ansible):
    server = "https://127.0.0.1:%d" % free_port()
    token = "secret-token-%s" % uuid.uuid4().hex
    run = ansible(tasks=[{"name": "t", "configsync.oci.config_sync_source": {"name": "root-sync", "image": PINNED, "auth": "none"}}],
                  env={"K8S_AUTH_HOST": server, "K8S_AUTH_API_KEY": token, "K8S_AUTH_VERIFY_SSL": "False"})
    result = outcome(run)
    assert result["failed"] is True
    assert "cannot reach the Kubernetes API server %s" % server in result["msg"]
    assert token not in run.output


def test_bearer_token_and_ca_from_awx_style_environment(ansible, bare_control_plane, bare_kube_client):
    """AWX's bearer-token credential injects K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_VERIFY_SSL, K8S_AUTH_SSL_CA_CERT."""
    import kubernetes
    core = kubernetes.client.CoreV1Api(bare_kube_client)
    account = unique("awx")
    core.create_namespaced_service_account(CMS, {"metadata": {"name": account}})
    kubernetes.client.RbacAuthorizationV1Api(bare_kube_client).create_cluster_role_binding({
        "metadata": {"name": account},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": CMS}],
    })
    token = core.create_namespaced_service_account_token(account, CMS, {"spec": {"expirationSeconds": 3600}}).status.token
    name = unique("root")
    run = ansible(tasks=[{"name": "t", "configsync.oci.config_sync_source": {"name": name, "image": PINNED, "auth": "none"}}],
                  env={"K8S_AUTH_HOST": bare_control_plane.server, "K8S_AUTH_API_KEY": token, "K8S_AUTH_VERIFY_SSL": "True",
                       "K8S_AUTH_SSL_CA_CERT": str(bare_control_plane.ca_file), "KUBECONFIG": "/nonexistent"})
    assert run.result("t")["changed"] is True, run.output
    assert token not in run.output


# ----------------------------------------------------------------------------------------------------------------------
# wait: SYNCED at the digest, fail fast on STALLED / ERROR, time out clearly
# ----------------------------------------------------------------------------------------------------------------------

def write_after_change(custom, name, shapes, delay=0.5):
    """Act like Config Sync in a background thread: once the module's apply has raised the generation, build and write
    the status objects one after another (``shapes`` are functions, so their timestamps are those of the write)."""
    generation = get_sync(custom, "RootSync", CMS, name)["metadata"]["generation"]

    def writer():
        deadline = time.monotonic() + 120
        while get_sync(custom, "RootSync", CMS, name)["metadata"]["generation"] == generation and time.monotonic() < deadline:
            time.sleep(0.1)
        for shape in shapes:
            time.sleep(delay)
            write_status(custom, "RootSync", CMS, name, shape())
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    return thread


def test_wait_returns_when_synced_at_the_digest(ansible, k8s_env, custom):
    name = unique("root")
    source(k8s_env, ansible, name=name, image=IMAGE + ":v1")
    thread = write_after_change(custom, name, [lambda: pending_status(PINNED, DIGEST), lambda: synced_status(PINNED, DIGEST)])
    result = source(k8s_env, ansible, name=name, image=PINNED, wait=True, wait_timeout=120).result("t")
    thread.join()
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert result["expected_commit"] == DIGEST
    assert result["sync_status"]["status"] == "SYNCED"
    assert result["sync_status"]["commit"] == DIGEST


def test_wait_ignores_synced_at_another_commit_and_times_out_clearly(ansible, k8s_env, custom):
    name = unique("root")
    source(k8s_env, ansible, name=name, image=PINNED)
    other = "0" * 64
    write_status(custom, "RootSync", CMS, name, synced_status(IMAGE + "@sha256:" + other, other))
    result = source(k8s_env, ansible, name=name, image=PINNED, wait=True, wait_timeout=3).result("t")
    assert result["failed"] is True
    assert "timed out after 3s" in result["msg"] and DIGEST in result["msg"], result["msg"]
    assert result["sync_status"]["status"] == "SYNCED" and result["sync_status"]["commit"] == other


def test_wait_fails_at_once_on_stalled(ansible, k8s_env, custom):
    name = unique("root")
    source(k8s_env, ansible, name=name, image=PINNED)
    write_status(custom, "RootSync", CMS, name, stalled_status())
    result = source(k8s_env, ansible, name=name, image=PINNED, wait=True, wait_timeout=300).result("t")
    assert result["failed"] is True
    assert "STALLED" in result["msg"] and "KNV1061" in result["msg"]
    assert "timed out" not in result["msg"]
    assert result["sync_status"]["status"] == "STALLED"


def test_wait_fails_on_a_pull_error_reported_after_the_change(ansible, k8s_env, custom):
    name = unique("root")
    source(k8s_env, ansible, name=name, image=IMAGE + ":v1")
    thread = write_after_change(custom, name, [lambda: error_pull_status(PINNED)], delay=1.5)
    result = source(k8s_env, ansible, name=name, image=PINNED, wait=True, wait_timeout=90).result("t")
    thread.join()
    assert result["failed"] is True
    assert "ERROR" in result["msg"] and "KNV2004" in result["msg"] and "failed to pull image" in result["msg"]
    assert result["sync_status"]["status"] == "ERROR"


def test_untrusted_server_certificate_is_a_tls_error_naming_the_server(ansible, bare_control_plane, tmp_path):
    """A CA that did not sign the server's certificate: a TLS message naming the server, nothing written."""
    import shutil
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(str(bare_control_plane.kubeconfig), str(kubeconfig))
    other_ca = tmp_path / "other-ca.crt"
    # Any valid CA certificate that is not the control plane's: the system bundle's first certificate.
    bundle = open("/etc/ssl/certs/ca-certificates.crt").read()
    other_ca.write_text(bundle[:bundle.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")] + "\n")
    run = ansible(tasks=[{"name": "t", "configsync.oci.config_sync_source": {
        "name": unique("root"), "image": PINNED, "auth": "none", "kubeconfig": str(kubeconfig), "ca_cert": str(other_ca)}}])
    result = outcome(run)
    assert result["failed"] is True
    assert "TLS handshake with the Kubernetes API server %s failed" % bare_control_plane.server in result["msg"], result["msg"]


def test_root_sync_name_over_26_characters_warns_but_applies(ansible, k8s_env, custom):
    name = unique("a-long-root-sync-name-x")  # 30 characters
    result = source(k8s_env, ansible, name=name, image=PINNED).result("t")
    assert result["changed"] is True
    assert any("older versions documented a limit of 26" in warning for warning in result.get("warnings", [])), result
    assert get_sync(custom, "RootSync", CMS, name) is not None


def test_client_retries_429_after_retry_after_and_then_reports_it():
    """API Priority and Fairness answers 429 before handling a request: the client waits Retry-After and retries
    (a loopback HTTP server stands in for an overloaded API server)."""
    import http.server
    import json

    from ansible_collections.configsync.oci.plugins.module_utils.k8s.client import KubernetesClient
    from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import KubernetesError
    from ansible_collections.configsync.oci.plugins.module_utils.k8s.kubeconfig import ConnectionSettings

    seen = []

    class Overloaded(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            seen.append(self.path)
            if len(seen) <= 2 or self.path.endswith("/always"):
                body, status = {"kind": "Status", "code": 429, "reason": "TooManyRequests", "message": "too many requests"}, 429
            else:
                body, status = {"kind": "RootSync", "metadata": {"name": "root-sync"}}, 200
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Overloaded)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = KubernetesClient(ConnectionSettings("http://127.0.0.1:%d" % server.server_address[1]))
        assert client.get("/apis/x/v1/rootsyncs/root-sync")["metadata"]["name"] == "root-sync"
        assert len(seen) == 3
        with pytest.raises(KubernetesError) as error:
            client.get("/apis/x/v1/rootsyncs/always")
        assert error.value.status == 429 and "too many requests" in str(error.value)
        assert len(seen) == 3 + 6  # the first try and 5 retries
    finally:
        server.shutdown()


def test_ca_cert_secret_must_exist_with_a_cert_key(ansible, k8s_env, custom, bare_kube_client):
    import kubernetes
    core = kubernetes.client.CoreV1Api(bare_kube_client)
    name, secret = unique("root"), unique("registry-ca")
    missing = source(k8s_env, ansible, name=name, image=PINNED, ca_cert_secret=secret).result("t")
    assert missing["failed"] is True
    assert "KNV1061: Secret %s not found" % secret in missing["msg"]
    core.create_namespaced_secret(CMS, {"metadata": {"name": secret}, "stringData": {"ca.crt": "-----BEGIN CERTIFICATE-----"}})
    wrong_key = source(k8s_env, ansible, name=name, image=PINNED, ca_cert_secret=secret).result("t")
    assert wrong_key["failed"] is True
    assert 'caCertSecretRef was set, but "cert" key is not present in "%s" Secret' % secret in wrong_key["msg"]
    assert "BEGIN CERTIFICATE" not in str(wrong_key)
    assert get_sync(custom, "RootSync", CMS, name) is None
    core.patch_namespaced_secret(secret, CMS, {"stringData": {"cert": "-----BEGIN CERTIFICATE-----"}})
    good = source(k8s_env, ansible, name=name, image=PINNED, ca_cert_secret=secret).result("t")
    assert good["changed"] is True, good
    assert get_sync(custom, "RootSync", CMS, name)["spec"]["oci"]["caCertSecretRef"] == {"name": secret}


@pytest.mark.parametrize("kind, override, message", [
    ("RepoSync", {"roleRefs": [{"kind": "ClusterRole", "name": "view"}]},
     "override.roleRefs is not a field of a RepoSync's spec.override"),
    ("RepoSync", {"namespaceStrategy": "explicit"}, "override.namespaceStrategy is not a field of a RepoSync's spec.override"),
    ("RootSync", {"reconcileTimout": "5m"}, "override.reconcileTimout is not a field of a RootSync's spec.override"),
])
def test_an_override_field_the_schema_lacks_is_refused_before_any_write(ansible, k8s_env, custom, namespace, bare_control_plane,
                                                                        kind, override, message):
    """The API server would prune an unknown field silently (structural schema): the module refuses it, naming the
    fields the kind's schema has, and sends no write request."""
    params = {"kind": kind, "name": unique("ovr"), "image": PINNED, "override": override}
    if kind == "RepoSync":
        params["namespace"] = namespace
    with bare_control_plane.recorded_writes() as writes:
        result = source(k8s_env, ansible, **params).result("t")
    assert result["failed"] is True
    assert message in result["msg"], result["msg"]
    assert "apiServerTimeout" in result["msg"]
    assert writes == []
    assert get_sync(custom, kind, params.get("namespace", CMS), params["name"]) is None
