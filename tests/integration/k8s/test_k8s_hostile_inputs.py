"""The Kubernetes modules against what a hostile tester tries: a bearer token to a plain-HTTP remote server, api_key next
to a kubeconfig's client certificate, a delete whose stated properties do not match, bad values with state=absent,
zero timeouts, a dir leaving the image root, and an API server that stops answering in the middle of a wait.

A real kube-apiserver (the session control plane); no Config Sync reconciler runs, so a wait never ends SYNCED.
"""
import os
import signal
import threading
import time
import uuid

import pytest

from sync_objects import CMS, GROUP, IMAGE, PINNED, VERSION, unique

pytestmark = pytest.mark.usefixtures("configsync_crds")


def get_sync(custom, name, namespace=CMS, kind="RootSync"):
    import kubernetes
    try:
        return custom.get_namespaced_custom_object(GROUP, VERSION, namespace, kind.lower() + "s", name)
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def run_source(ansible, env, **params):
    params.setdefault("auth", "none")
    return ansible(tasks=[{"name": "t", "configsync.oci.config_sync_source": params}], env=env)


def service_account_token(kube_client, name, cluster_role=None):
    """A token of a new ServiceAccount in config-management-system, bound to ``cluster_role`` (or to nothing)."""
    import kubernetes
    core = kubernetes.client.CoreV1Api(kube_client)
    core.create_namespaced_service_account(CMS, {"metadata": {"name": name}})
    if cluster_role:
        kubernetes.client.RbacAuthorizationV1Api(kube_client).create_cluster_role_binding({
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": CMS}],
        })
    return core.create_namespaced_service_account_token(name, CMS, {"spec": {"expirationSeconds": 3600}}).status.token


# --- credentials go only where they belong ---------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["http://192.0.2.10:8080", "http://cluster.example.com"])
def test_a_bearer_token_is_never_sent_in_clear_to_a_remote_host(ansible, host):
    token = "secret-token-%s" % uuid.uuid4().hex
    run = ansible(tasks=[{"name": "t", "configsync.oci.config_sync_status": {}}],
                  env={"K8S_AUTH_HOST": host, "K8S_AUTH_API_KEY": token, "KUBECONFIG": "/nonexistent"})
    message = run.failure_message("t")
    # Refused before any connection attempt: not "cannot reach the Kubernetes API server" (which it said before).
    assert host in message and "unencrypted" in message and "https://" in message, message
    assert token not in run.output


def test_plain_http_to_loopback_is_still_allowed_as_for_the_google_modules(ansible):
    # Nothing listens there: the point is that the module tries (an emulator or kubectl proxy on this machine).
    run = ansible(tasks=[{"name": "t", "configsync.oci.config_sync_status": {}}],
                  env={"K8S_AUTH_HOST": "http://127.0.0.1:9", "K8S_AUTH_API_KEY": "x" * 20, "KUBECONFIG": "/nonexistent"})
    assert "cannot reach the Kubernetes API server http://127.0.0.1:9" in run.failure_message("t")


def test_api_key_replaces_the_kubeconfigs_client_certificate(ansible, k8s_env, bare_kube_client):
    # A garbage token next to the admin kubeconfig: the request must go as that token (401), not as the admin.
    garbage = "garbage-%s" % uuid.uuid4().hex
    run = ansible(tasks=[{"name": "t", "configsync.oci.config_sync_status": {"api_key": garbage}}], env=k8s_env)
    message = run.failure_message("t")
    assert "401" in message, message
    assert garbage not in run.output

    # A real token of an account without permissions: the API server sees that account, not system:masters.
    account = unique("nobody")
    token = service_account_token(bare_kube_client, account)
    run = ansible(tasks=[{"name": "t", "configsync.oci.config_sync_status": {"api_key": token}}], env=k8s_env)
    message = run.failure_message("t")
    assert "403" in message and "system:serviceaccount:%s:%s" % (CMS, account) in message, message
    assert token not in run.output


# --- state: absent refuses a delete whose stated properties do not match; bad values fail whatever the state ----------

def test_absent_with_a_mismatching_image_refuses_the_delete(ansible, k8s_env, custom):
    name = unique("root")
    assert not run_source(ansible, k8s_env, name=name, image=PINNED).failed
    run = run_source(ansible, k8s_env, name=name, state="absent", image=IMAGE + ":other")
    message = run.failure_message("t")
    assert "image" in message and PINNED in message, message
    assert get_sync(custom, name) is not None, "the RootSync was deleted although its image did not match"

    deleted = run_source(ansible, k8s_env, name=name, state="absent", image=PINNED)
    assert deleted.result("t")["changed"] is True, deleted
    assert get_sync(custom, name) is None


@pytest.mark.parametrize("params, words", [
    ({"period": "5x"}, ["period", "5x"]),
    ({"dir": "../../etc"}, ["dir", "../../etc", "image root"]),
    ({"wait_timeout": 0}, ["wait_timeout", "0"]),
    ({"image": "not a reference"}, ["image"]),
])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_invalid_values_are_errors_whatever_the_state(ansible, k8s_env, custom, params, words, state):
    name = unique("root")
    assert not run_source(ansible, k8s_env, name=name, image=PINNED).failed
    before = get_sync(custom, name)
    args = dict({"image": PINNED}, **params)
    run = run_source(ansible, k8s_env, name=name, state=state, **args)
    message = run.failure_message("t")
    for word in words:
        assert word in message, message
    after = get_sync(custom, name)
    assert after is not None and after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


@pytest.mark.parametrize("directory", ["../../etc", "/etc", "a/../../b"])
def test_a_dir_leaving_the_image_root_is_refused(ansible, k8s_env, custom, directory):
    name = unique("root")
    run = run_source(ansible, k8s_env, name=name, image=PINNED, dir=directory)
    assert "dir" in run.failure_message("t")
    assert get_sync(custom, name) is None


@pytest.mark.parametrize("directory", [".", "clusters/prod", "./a/b/../c"])
def test_a_dir_inside_the_image_is_accepted(ansible, k8s_env, custom, directory):
    name = unique("root")
    run = run_source(ansible, k8s_env, name=name, image=PINNED, dir=directory)
    assert not run.failed, run
    assert get_sync(custom, name)["spec"]["oci"]["dir"] == directory


@pytest.mark.parametrize("wait_timeout", [0, -1])
def test_zero_or_negative_wait_timeout_is_refused_before_writing(ansible, k8s_env, custom, wait_timeout):
    name = unique("root")
    run = run_source(ansible, k8s_env, name=name, image=PINNED, wait=True, wait_timeout=wait_timeout)
    assert "wait_timeout" in run.failure_message("t")
    assert get_sync(custom, name) is None


# --- an API server that stops answering in the middle of a wait --------------------------------------------------------

def test_a_hung_api_server_ends_the_wait_at_its_timeout_and_says_so(ansible, k8s_env, bare_control_plane):
    control_plane = bare_control_plane  # the plane k8s_env points at
    name = unique("root")
    pid = control_plane.pids()["kube-apiserver"]
    wait_timeout = 6
    outcome = {}

    def play():
        outcome["run"] = run_source(ansible, k8s_env, name=name, image=PINNED, wait=True, wait_timeout=wait_timeout)
        outcome["ended"] = time.monotonic()

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    stopped_at = None
    try:
        # Stop the server once the module is waiting: the RootSync exists (it was applied), and the watch is open.
        deadline = time.monotonic() + 60
        session = control_plane.session()
        while time.monotonic() < deadline:
            response = session.get(control_plane.server + "/apis/%s/%s/namespaces/%s/rootsyncs/%s" % (GROUP, VERSION, CMS, name),
                                   timeout=5)
            if response.status_code == 200:
                break
            time.sleep(0.1)
        time.sleep(1.0)
        os.kill(pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        thread.join(120)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert not thread.is_alive()
    run = outcome["run"]
    message = run.failure_message("t")
    assert "stopped answering" in message and control_plane.server in message, message
    assert "Config Sync" not in message.split("stopped answering")[0], message
    # The wait ends at its timeout (counted from its start, before the server stopped) plus a 2 s grace, where it used
    # to overrun by the watch's 15 s read margin; the bound leaves room for ansible-playbook on a loaded machine.
    assert outcome["ended"] - stopped_at < wait_timeout + 8, outcome["ended"] - stopped_at
