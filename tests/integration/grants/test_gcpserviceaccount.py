"""auth: gcpserviceaccount, and auth: auto by the installed Config Sync version, with Config Sync.

The real reconciler-manager annotates the reconciler KSA with ``iam.gke.io/gcp-service-account``; the metadata server
then hands out the Google service account's token only if the KSA holds ``roles/iam.workloadIdentityUser`` on it, and
the front lets that account pull only with the repository's reader grant.
"""
import pytest

from grants_flow import CONFIG_SYNC_NAMESPACE, READER, WORKLOAD_IDENTITY_USER, failure_text, reconciler_member
from integration.e2e.e2e_flow import namespace_manifest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("cluster_identities")]

RECONCILER_MANAGER = "/apis/apps/v1/namespaces/config-management-system/deployments/reconciler-manager"
WORKLOAD_IDENTITY_REFUSED = "Unable to generate access token; IAM returned 403 Forbidden"
DOWNLOAD_DENIED = 'Permission "artifactregistry.repositories.downloadArtifacts" denied on resource'


def unescaped_failure(run):
    return failure_text(run).replace('\\"', '"')


def test_only_reader_and_workload_identity_user_together_let_the_gsa_path_pull(grants, e2e_timings):
    reader_only, dummy = grants.identity("cs-reader-only")
    wi_only, dummy = grants.identity("cs-wi-only")
    image = grants.image("gsa")
    src = grants.manifests("v1", {"ns.yaml": namespace_manifest("grants-gsa")})
    pushed = grants.push(image, src).result("push")
    cases = {"gsa-reader-only": reader_only, "gsa-wi-only": wi_only, "gsa-both": reader_only}
    grants.grant(grants.resource, "serviceAccount:" + reader_only)
    grants.grant("projects/-/serviceAccounts/" + wi_only, reconciler_member(grants.project, "root-reconciler-gsa-wi-only"),
                 WORKLOAD_IDENTITY_USER)
    grants.grant("projects/-/serviceAccounts/" + reader_only, reconciler_member(grants.project, "root-reconciler-gsa-both"),
                 WORKLOAD_IDENTITY_USER)
    grants.ok([dict(grants.source_task(name, image, auth="gcpserviceaccount", gcp_service_account_email=email, wait=False),
                    name="create " + name) for name, email in sorted(cases.items())])

    # The KSA is annotated by the reconciler-manager itself.
    for name, email in cases.items():
        account = grants.get("/api/v1/namespaces/{0}/serviceaccounts/root-reconciler-{1}".format(CONFIG_SYNC_NAMESPACE, name))
        assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] == email

    # Reader grant to the GSA, but the KSA may not act as it: the metadata server refuses the token, as GKE does.
    run = grants.sync("gsa-reader-only", image, auth="gcpserviceaccount", gcp_service_account_email=reader_only)
    message = unescaped_failure(run)
    assert run.failed and "KNV2004" in message and WORKLOAD_IDENTITY_REFUSED in message, message
    assert (403, None) in grants.token_requests("root-reconciler-gsa-reader-only")

    # The KSA may act as the GSA, which has no grant on the repository: the registry refuses the GSA.
    run = grants.sync("gsa-wi-only", image, auth="gcpserviceaccount", gcp_service_account_email=wi_only)
    message = unescaped_failure(run)
    assert run.failed and "KNV2004" in message and DOWNLOAD_DENIED in message and grants.resource in message, message
    assert (200, wi_only) in grants.token_requests("root-reconciler-gsa-wi-only")

    # Both: SYNCED at the pushed digest, pulled as the GSA.
    run = grants.sync("gsa-both", image, auth="gcpserviceaccount", gcp_service_account_email=reader_only,
                      expected_digest=pushed["digest"], wait_timeout=120)
    assert not run.failed, run.output
    assert run.result("source")["sync_status"]["status"] == "SYNCED"
    assert grants.namespace_commit("grants-gsa") == pushed["digest"].split(":", 1)[1]
    assert (200, reader_only) in grants.token_requests("root-reconciler-gsa-both")
    assert grants.front_pulls("serviceAccount:" + reader_only)
    for name in cases:
        grants.delete(name)


@pytest.fixture
def reconciler_manager_version(grants):
    """Set the version tag of the reconciler-manager Deployment's image (what auth auto reads); restored afterwards."""
    original = grants.get(RECONCILER_MANAGER)["spec"]["template"]["spec"]["containers"][0]["image"]

    def set_image(image):
        body = {"spec": {"template": {"spec": {"containers": [{"name": "reconciler-manager", "image": image}]}}}}
        response = grants.http.patch(grants.control_plane.server + RECONCILER_MANAGER, json=body, timeout=30,
                                     headers={"Content-Type": "application/strategic-merge-patch+json"})
        assert response.status_code == 200, response.text

    def set_version(version):
        set_image(original.rsplit(":", 1)[0] + ":v" + version)

    try:
        yield set_version
    finally:
        set_image(original)


@pytest.mark.parametrize("version, auth", [("1.17.2", "k8sserviceaccount"), ("1.17.1", "gcpserviceaccount")])
def test_auth_auto_takes_the_path_of_the_installed_version_and_the_role_grants_it(grants, reconciler_manager_version, version,
                                                                                  auth, e2e_timings):
    reconciler_manager_version(version)
    email, dummy = grants.identity("cs-auto-puller")
    name = "auto-" + version.replace(".", "-")
    ksa = "root-reconciler-" + name
    src = grants.manifests("v1", {"ns.yaml": namespace_manifest("grants-" + name)})

    run = grants.rollout(src, name, name=name, auth="auto", email=email)
    assert not run.failed, run.output
    source = run.result("Create the sync object on each cluster")
    assert source["auth"] == auth and source["config_sync_version"] == version, source
    waited = run.result("Wait until the cluster reports SYNCED at the pushed digest")
    assert waited["sync_status"]["status"] == "SYNCED", waited

    bindings = {binding["role"]: set(binding["members"]) for binding in grants.repository_policy().get("bindings", [])}
    account = grants.get("/api/v1/namespaces/{0}/serviceaccounts/{1}".format(CONFIG_SYNC_NAMESPACE, ksa))
    annotation = (account["metadata"].get("annotations") or {}).get("iam.gke.io/gcp-service-account")
    if auth == "k8sserviceaccount":
        assert reconciler_member(grants.project, ksa) in bindings[READER]
        assert annotation is None
        assert (200, reconciler_member(grants.project, ksa).split(":", 1)[1]) in grants.token_requests(ksa)
    else:
        assert "serviceAccount:" + email in bindings[READER]
        policy = grants.gcp.state()["serviceAccounts"][email]["policy"]
        assert {"role": WORKLOAD_IDENTITY_USER, "members": [reconciler_member(grants.project, ksa)]} in policy["bindings"]
        assert annotation == email
        assert (200, email) in grants.token_requests(ksa)
    grants.delete(name)
