"""The rollout as AWX runs a job: a private data directory in AWX's layout streamed through
`ansible-runner transmit | ansible-runner worker | ansible-runner process`, the worker running in the execution
environment (execution_environment.py), with the credentials AWX injects; asserted from the job events."""
import base64
import json

import pytest
import yaml

from awx_job import BEARER_TOKEN_VARIABLES, GCE_VARIABLES, PrivateDataDir, fleet_credential_type, run_job, survey_extravars
from sync_checks import assert_synced_to, cluster_namespaces

PLAYBOOK = "playbooks/rollout.yml"
# Host variables an AWX inventory sets for clusters: reached from the execution environment's own Python.
CLUSTER_HOST_VARS = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}


@pytest.fixture
def gce_inputs(gcp, tmp_path):
    """A "Google Compute Engine" credential's inputs: the service account email, project, and RSA private key."""
    key = json.loads(gcp.service_account_file(tmp_path / "key.json").read_text())
    return {"username": key["client_email"], "project": gcp.project, "ssh_key_data": key["private_key"]}


def job_dir(tmp_path, name):
    return PrivateDataDir(tmp_path / name, tmp_path / (name + "-worker"))


def secrets_in(result, secrets):
    text = result.raw_text()
    return [secret[:12] + "..." for secret in secrets if secret in text]


def private_key_lines(pem):
    return [line for line in pem.splitlines() if line.strip() and "PRIVATE KEY" not in line]


def run_twice(tmp_path, name, prepare, ee_environment, hosts, survey, project_sync, gcp, timings):
    results = []
    for attempt in (1, 2):
        private = job_dir(tmp_path, "%s-%d" % (name, attempt))
        prepare(private)
        private.write(PLAYBOOK, hosts, survey, project_sync.collections, job_env={"GCP_API_ENDPOINT": gcp.endpoint},
                      forks=len(hosts))
        results.append((private, run_job(private, ee_environment.bin, "%s-%d" % (name, attempt))))
        timings["%s_run%d_seconds" % (name, attempt)] = results[-1][1].seconds
    return results


def assert_idempotent_success(results, hosts):
    (dummy, first), (dummy2, second) = results
    for result in (first, second):
        assert result.status == "successful" and result.returncodes == {"transmit": 0, "worker": 0, "process": 0}, result
        stats = result.stats
        assert not stats.get("failures") and not stats.get("dark"), result
        assert set(stats["ok"]) == set(hosts), "every cluster reports ok: %s" % stats["ok"]
    assert set(first.stats["changed"]) == set(hosts), "the first run changes every cluster: %s" % first.stats["changed"]
    assert not any(second.stats["changed"].values()), "the second run changes nothing: %s" % second.stats["changed"]
    return first


def test_job_with_awx_google_and_bearer_token_credentials(tmp_path, ee_environment, project_sync, gcp, control_plane,
                                                          kube_client, bearer_token, fleet_namespaces, survey, gce_inputs, awx_timings):
    hosts = {host: dict(CLUSTER_HOST_VARS, rollout_sync_namespace=namespace) for host, namespace in fleet_namespaces.items()}

    def prepare(private):
        private.inject_gce(**gce_inputs)
        private.inject_kubernetes_bearer_token(control_plane.server, bearer_token, verify_ssl=True,
                                               ssl_ca_cert=control_plane.ca_file.read_text())
        assert set(private.env) == GCE_VARIABLES | BEARER_TOKEN_VARIABLES

    results = run_twice(tmp_path, "bearer_token", prepare, ee_environment, hosts, survey, project_sync, gcp, awx_timings)
    first = assert_idempotent_success(results, hosts)
    private = results[0][0]
    envvars = yaml.safe_load((private.root / "env" / "envvars").read_text())
    assert envvars["GCP_AUTH_KIND"] == "serviceaccount" and envvars["GCP_ENV_TYPE"] == "tower"
    assert envvars["K8S_AUTH_VERIFY_SSL"] == "True" and envvars["K8S_AUTH_SSL_CA_CERT"].startswith(str(private.worker_dir))
    key_file = json.loads((private.root / "env" / envvars["GCP_SERVICE_ACCOUNT_FILE"].rsplit("/", 1)[1]).read_text())
    assert sorted(key_file) == ["client_email", "private_key", "project_id", "token_uri", "type"]

    pushes = first.host_results("Push the manifests as an OCI image")
    assert len(pushes) == 1 and pushes[0]["res"]["changed"] is True
    assert_synced_to(kube_client, fleet_namespaces.values(), survey["rollout_sync_name"], pushes[0]["res"]["image"])
    secrets = [bearer_token] + private_key_lines(gce_inputs["ssh_key_data"])
    for dummy, result in results:
        assert secrets_in(result, secrets) == []


def fleet_kubeconfig(control_plane, token, clusters):
    """One context per cluster, everything embedded (what a user pastes into the fleet credential)."""
    ca_data = base64.b64encode(control_plane.ca_file.read_bytes()).decode()
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": c, "cluster": {"server": control_plane.server, "certificate-authority-data": ca_data}} for c in clusters],
        "users": [{"name": "awx-" + c, "user": {"token": token}} for c in clusters],
        "contexts": [{"name": "gke_" + c, "context": {"cluster": c, "user": "awx-" + c}} for c in clusters],
        "current-context": "gke_" + clusters[0]})


def test_job_with_the_fleet_kubeconfig_credential(tmp_path, ee_environment, project_sync, gcp, control_plane, kube_client,
                                                  bearer_token, fleet_namespaces, survey, gce_inputs, awx_timings):
    hosts = {host: dict(CLUSTER_HOST_VARS, rollout_sync_namespace=namespace, rollout_context="gke_" + host)
             for host, namespace in fleet_namespaces.items()}
    kubeconfig = fleet_kubeconfig(control_plane, bearer_token, sorted(hosts))

    def prepare(private):
        private.inject_gce(**gce_inputs)
        private.inject_custom(fleet_credential_type(), {"kubeconfig": kubeconfig})
        assert set(private.env) == GCE_VARIABLES | {"K8S_AUTH_KUBECONFIG"}
        injected = private.root / "env" / private.env["K8S_AUTH_KUBECONFIG"].rsplit("/", 1)[1]
        assert injected.read_text() == kubeconfig and oct(injected.stat().st_mode & 0o777) == "0o600"

    results = run_twice(tmp_path, "fleet_kubeconfig", prepare, ee_environment, hosts, survey, project_sync, gcp, awx_timings)
    first = assert_idempotent_success(results, hosts)
    pushes = first.host_results("Push the manifests as an OCI image")
    assert_synced_to(kube_client, fleet_namespaces.values(), survey["rollout_sync_name"], pushes[0]["res"]["image"])

    # The workflow's second node (docs/awx.md): the fleet status report, same inventory and credentials, no survey.
    private = job_dir(tmp_path, "fleet-status")
    prepare(private)
    # Report-only: the rollout above did not wait, so a cluster may still be PENDING (the gate is tested in tests/integration/status).
    private.write("playbooks/status.yml", hosts, {"rollout_report_only": True}, project_sync.collections, job_env={"GCP_API_ENDPOINT": gcp.endpoint},
                  forks=len(hosts))
    status = run_job(private, ee_environment.bin, "fleet-status")
    awx_timings["fleet_status_job_seconds"] = status.seconds
    assert status.status == "successful" and set(status.stats["ok"]) == set(hosts), status
    reported = {(event["event_data"]["host"], sync["namespace"]) for event in status.events if event.get("event") == "runner_on_ok"
                for sync in (event["event_data"].get("res") or {}).get("syncs") or [] if sync.get("name") == "platform"}
    assert set(fleet_namespaces.items()) <= reported, reported

    secrets = [bearer_token] + private_key_lines(gce_inputs["ssh_key_data"])
    for result in [result for dummy, result in results] + [status]:
        assert secrets_in(result, secrets) == []


SLICED_CLUSTERS = ["cluster-%d" % number for number in range(1, 7)]
SLICES = 3


@pytest.fixture
def sliced_fleet(kube_client, config_sync):  # pylint: disable=unused-argument
    """Six clusters (RepoSync namespaces) with Config Sync reconciling them; their RepoSyncs are deleted after."""
    import kubernetes  # pylint: disable=import-outside-toplevel
    namespaces = cluster_namespaces(kube_client, SLICED_CLUSTERS, "slice")
    yield namespaces
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    for namespace in namespaces.values():
        try:
            custom.delete_namespaced_custom_object("configsync.gke.io", "v1beta1", namespace, "reposyncs", "platform")
        except kubernetes.client.ApiException:
            pass


def repository_readers(gcp, repository):
    from google.cloud import artifactregistry_v1  # pylint: disable=import-outside-toplevel
    client = artifactregistry_v1.ArtifactRegistryClient(credentials=gcp.credentials(), transport="rest",
                                                        client_options={"api_endpoint": gcp.endpoint})
    policy = client.get_iam_policy(request={"resource": gcp.repository_name(repository), "options": {"requested_policy_version": 3}})
    return {member for binding in policy.bindings if binding.role == "roles/artifactregistry.reader" for member in binding.members}


@pytest.mark.slow
def test_sliced_job_three_slices_at_once(tmp_path, ee_environment, project_sync, gcp, registry, control_plane, kube_client,
                                         bearer_token, sliced_fleet, survey, gce_inputs, awx_timings):
    """AWX job slicing: one job per slice, all at once; run_once (the push) runs once per slice."""
    import concurrent.futures  # pylint: disable=import-outside-toplevel
    import kubernetes  # pylint: disable=import-outside-toplevel
    hosts = {host: dict(CLUSTER_HOST_VARS, rollout_sync_namespace=namespace) for host, namespace in sliced_fleet.items()}
    survey = survey_extravars(dict(survey, rollout_wait="true", rollout_wait_timeout=240))
    jobs = []
    for number in range(1, SLICES + 1):
        private = job_dir(tmp_path, "slice-%d" % number)
        private.inject_gce(**gce_inputs)
        private.inject_kubernetes_bearer_token(control_plane.server, bearer_token, ssl_ca_cert=control_plane.ca_file.read_text())
        sliced = private.write(PLAYBOOK, hosts, survey, project_sync.collections, job_env={"GCP_API_ENDPOINT": gcp.endpoint},
                               slice_number=number, slice_count=SLICES, forks=len(hosts))
        jobs.append((private, sliced))
    assert sorted(host for dummy, sliced in jobs for host in sliced) == sorted(hosts)

    with concurrent.futures.ThreadPoolExecutor(SLICES) as pool:
        results = list(pool.map(lambda job: run_job(job[0], ee_environment.bin, job[0].root.name), jobs))
    awx_timings["sliced_job_seconds"] = max(result.seconds for result in results)

    for (dummy, sliced), result in zip(jobs, results):
        assert result.status == "successful", result
        assert not [e for e in result.events if e.get("event") in ("runner_on_failed", "runner_on_unreachable")], result
        assert set(result.stats["ok"]) == set(sliced)
    pushes = [event["res"] for result in results for event in result.host_results("Push the manifests as an OCI image")]
    assert len(pushes) == SLICES, "run_once runs once per slice"
    digests = {push["digest"] for push in pushes}
    assert len(digests) == 1, "every slice pushed the same bundle: %s" % digests
    digest = digests.pop()
    assert registry.manifest_digest("{0}/{1}/platform".format(gcp.project, survey["rollout_repository"]), "v1") == digest

    members = {event["res"]["workload_identity_member"] for result in results
               for event in result.host_results("Create the sync object on each cluster")}
    assert len(members) == len(hosts)
    assert repository_readers(gcp, survey["rollout_repository"]) == members, "no slice's IAM binding was lost"
    conflicts = [entry for entry in gcp.requests("artifactregistry.repositories.setIamPolicy") if entry["status"] == 409]
    awx_timings["sliced_job_iam_conflicts_retried"] = len(conflicts)

    waits = [event["res"] for result in results for event in result.host_results("Wait until the cluster reports SYNCED at the pushed digest")]
    assert len(waits) == len(hosts) and all(w["sync_status"]["status"] == "SYNCED" for w in waits), waits
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    core = kubernetes.client.CoreV1Api(kube_client)
    for namespace in sliced_fleet.values():
        sync = custom.get_namespaced_custom_object("configsync.gke.io", "v1beta1", namespace, "reposyncs", "platform")
        assert sync["status"]["sync"]["commit"] == digest.split(":", 1)[1], sync["status"]
        assert core.read_namespaced_config_map("platform", namespace).data == {"tier": "gold"}
    secrets = [bearer_token] + private_key_lines(gce_inputs["ssh_key_data"])
    for result in results:
        assert secrets_in(result, secrets) == []
