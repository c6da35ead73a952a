"""Secrets in every form an option accepts (a service-account key as a dictionary, a kubeconfig as a dictionary) never
show in any output: the default callback, -vvv, the json callback, --diff, and the failure paths (a task that fails in
the module, a task that fails the argument spec).

Real ansible-playbook runs against the GCP emulator and the test control plane.
"""
import base64
import json

import pytest
import yaml

from harness.ansible_runner import run_playbook

REPO = {"location": "us-central1", "name": "config-images"}


def every_output(tasks, env, failing_tasks=()):
    """Run the tasks in each output form (and the failing tasks too); returns all the text a user could see."""
    runs = [
        run_playbook(tasks=tasks, env=env),
        run_playbook(tasks=tasks, env=env, verbosity=3, diff=True),
        run_playbook(tasks=tasks, env=dict(env, ANSIBLE_STDOUT_CALLBACK="json"), diff=True),
    ]
    for task in failing_tasks:
        runs.append(run_playbook(tasks=[task], env=env, verbosity=3, diff=True))
        runs.append(run_playbook(tasks=[task], env=dict(env, ANSIBLE_STDOUT_CALLBACK="json")))
    return runs


def assert_nothing_shows(runs, secrets):
    for run in runs:
        text = run.output + json.dumps([r["result"] for r in run.records], default=str)
        for secret in secrets:
            assert secret not in text, "a secret (%s...) leaked into the output:\n%s" % (secret[:6], run.output[-3000:])


def key_lines(pem):
    return [line for line in pem.splitlines() if line and "-----" not in line]


# --- a service-account key as a dictionary ---------------------------------------------------------------------------

def test_service_account_key_as_a_dictionary_never_shows(gcp, tmp_path):
    key_file = gcp.service_account_file(tmp_path / "sa.json")
    info = json.loads(key_file.read_text())
    auth = {"auth_kind": "serviceaccount", "service_account_contents": "{{ lookup('file', '%s') | from_json }}" % key_file,
            "api_endpoint": gcp.endpoint, "project": gcp.project}
    tasks = [{"name": "repo", "configsync.oci.ar_repository": dict(REPO, **auth)},
             {"name": "svc", "configsync.oci.project_service": dict(auth, service="container.googleapis.com")}]
    failing = [{"name": "bad-location", "configsync.oci.ar_repository": dict(REPO, location="mars-1", **auth)},
               {"name": "bad-type", "configsync.oci.ar_repository": dict(REPO, timeout="soon", **auth)},
               {"name": "format-conflict", "configsync.oci.ar_repository": dict(REPO, format="maven", **auth)}]
    runs = every_output(tasks, {}, failing)
    assert runs[0].result("repo")["changed"] is True, runs[0]
    assert all(run.failed for run in runs[3:]), "a failing task did not fail"
    assert_nothing_shows(runs, key_lines(info["private_key"]) + [info["private_key_id"], "PRIVATE KEY"])


def test_service_account_key_as_a_string_never_shows(gcp, tmp_path):
    key_file = gcp.service_account_file(tmp_path / "sa.json")
    info = json.loads(key_file.read_text())
    auth = {"auth_kind": "serviceaccount", "service_account_contents": key_file.read_text(),
            "api_endpoint": gcp.endpoint, "project": gcp.project}
    runs = every_output([{"name": "repo", "configsync.oci.ar_repository": dict(REPO, **auth)}], {},
                        [{"name": "bad-type", "configsync.oci.ar_repository": dict(REPO, timeout="soon", **auth)}])
    assert runs[0].result("repo")["changed"] is True, runs[0]
    assert_nothing_shows(runs, key_lines(info["private_key"]) + [info["private_key_id"], "PRIVATE KEY"])


# --- a kubeconfig as a dictionary -------------------------------------------------------------------------------------

def _token_for_admin_account(control_plane):
    """A service-account token bound to cluster-admin (created through the control plane's admin session)."""
    http = control_plane.session()
    server = control_plane.server
    name = "secret-forms-admin"
    http.post(server + "/api/v1/namespaces/default/serviceaccounts", json={"metadata": {"name": name}}, timeout=30)
    http.post(server + "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", timeout=30, json={
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}]})
    response = http.post(server + "/api/v1/namespaces/default/serviceaccounts/%s/token" % name, timeout=30,
                         json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                               "spec": {"expirationSeconds": 3600}})
    response.raise_for_status()
    return response.json()["status"]["token"]


@pytest.mark.parametrize("identity", ["client-key-data", "token"])
def test_kubeconfig_as_a_dictionary_never_shows(control_plane, configsync_crds, identity):
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    user = config["users"][0]["user"]
    cluster = config["clusters"][0]["cluster"]
    cluster["certificate-authority-data"] = base64.b64encode(open(cluster.pop("certificate-authority"), "rb").read()).decode()
    key_pem = open(user["client-key"]).read()
    if identity == "token":
        token = _token_for_admin_account(control_plane)
        config["users"][0]["user"] = {"token": token}
        secrets = [token, token[-40:]]
    else:
        user["client-certificate-data"] = base64.b64encode(open(user.pop("client-certificate"), "rb").read()).decode()
        user["client-key-data"] = base64.b64encode(open(user.pop("client-key"), "rb").read()).decode()
        secrets = [user["client-key-data"], user["client-key-data"][40:100]] + key_lines(key_pem)[1:3]
    tasks = [{"name": "status", "configsync.oci.config_sync_status": {"kubeconfig": config}},
             {"name": "absent", "configsync.oci.config_sync_source": {"kubeconfig": config, "name": "never-there",
                                                                      "state": "absent"}}]
    failing = [{"name": "bad-image", "configsync.oci.config_sync_source": {"kubeconfig": config, "name": "x", "image": "no image"}},
               {"name": "bad-type", "configsync.oci.config_sync_source": {"kubeconfig": config, "name": "x",
                                                                          "image": "r.example/x:v1", "wait_timeout": "soon"}},
               {"name": "server-says-no", "configsync.oci.config_sync_source": {
                   "kubeconfig": config, "name": "x", "namespace": "no-such-namespace", "kind": "RepoSync",
                   "image": "r.example/x:v1", "auth": "none"}}]
    runs = every_output(tasks, {"KUBECONFIG": "/nonexistent"}, failing)
    assert not runs[0].failed, runs[0]
    assert all(run.failed for run in runs[3:]), "a failing task did not fail"
    assert_nothing_shows(runs, secrets)
