"""Fleet Workload Identity: a cluster with a ``membership`` object gets its reconciler's Google token from STS.

With the cluster-scoped ``memberships.hub.gke.io`` object ``membership`` present, the reconciler-manager gives the
reconciler Pod an ``external_account`` credential (pod annotation ``config.kubernetes.io/fleet-workload-identity``)
and a projected volume ``gcp-ksa`` with a token of the reconciler's KSA (audience: the fleet's pool). oci-sync's Go
auth library then exchanges that KSA token at ``sts.googleapis.com`` for a federated token of
``serviceAccount:POOL[config-management-system/KSA]`` and, for ``gcpserviceaccount``, trades it at
``iamcredentials.googleapis.com`` (generateAccessToken) for the Google service account's token. The harness plays the
kubelet (TokenRequest for the projected token, harness.configsync_runner), the emulator plays STS and IAM Credentials
(harness.gcp_sts, gcp_emulator), reached under their real host names through the front's proxy and CA.

The first tests check those endpoints over HTTPS with real KSA tokens of the test control plane; the slow ones run
Config Sync end to end. Sources of every answer: docs/emulator.md, "Fleet Workload Identity".
"""
import calendar
import json
import time

import pytest
import requests

from grants_flow import CONFIG_SYNC_NAMESPACE, WORKLOAD_IDENTITY_USER, failure_text
from harness.polling import poll
from integration.e2e.e2e_flow import namespace_manifest

STS_URL = "https://sts.googleapis.com/v1/token"
GENERATE = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{0}:generateAccessToken"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
JWT = "urn:ietf:params:oauth:token-type:jwt"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
FLEET_ANNOTATION = "config.kubernetes.io/fleet-workload-identity"
ROOT_SYNC = "/apis/configsync.gke.io/v1beta1/namespaces/" + CONFIG_SYNC_NAMESPACE + "/rootsyncs/{0}"
GET_ACCESS_TOKEN_DENIED = {"error": {
    "code": 403, "message": "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).",
    "status": "PERMISSION_DENIED",
    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED", "domain": "iam.googleapis.com",
                 "metadata": {"permission": "iam.serviceAccounts.getAccessToken"}}]}}
DOWNLOAD_DENIED = 'Permission "artifactregistry.repositories.downloadArtifacts" denied on resource'
GET_ACCESS_TOKEN_REFUSED = "Permission 'iam.serviceAccounts.getAccessToken' denied on resource"
READER_PERMISSION = "artifactregistry.repositories.downloadArtifacts"


def grants_resource(gcp):
    return gcp.repository_name("any")


# --- STS and IAM Credentials over HTTPS, with real KSA tokens -------------------------------------------------------

@pytest.fixture
def https(ar_front):
    """HTTPS to Google host names the way the reconciler reaches them: the front's proxy and CA."""
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"https": ar_front.router.url}
    session.verify = str(ar_front.ca_bundle)
    return session


@pytest.fixture
def ksa_token(control_plane):
    """``ksa_token(name, audience, namespace)``: a TokenRequest token of a KSA (created if missing)."""
    session = control_plane.session()

    def issue(name, audience, namespace="fleet-wi-test", expiration=3600):
        base = control_plane.server + "/api/v1/namespaces/"
        session.post(base.rstrip("/"), json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, timeout=30)
        session.post(base + namespace + "/serviceaccounts", json={"apiVersion": "v1", "kind": "ServiceAccount",
                                                                  "metadata": {"name": name}}, timeout=30)
        answer = session.post(base + "{0}/serviceaccounts/{1}/token".format(namespace, name), timeout=30, json={
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [audience], "expirationSeconds": expiration}})
        assert answer.status_code == 201, answer.text
        return answer.json()["status"]["token"]
    return issue


def exchange(https, audience, subject_token, **overrides):
    form = {"grant_type": TOKEN_EXCHANGE, "audience": audience, "scope": CLOUD_PLATFORM, "requested_token_type": ACCESS_TOKEN,
            "subject_token": subject_token, "subject_token_type": JWT}
    form.update(overrides)
    return https.post(STS_URL, data=form, timeout=30)


def audience_of(fleet):
    return "identitynamespace:{0}:{1}".format(fleet.pool, fleet.identity_provider)


def test_sts_exchanges_a_member_cluster_ksa_token_for_the_pool_identity(fleet_registration, ksa_token, https, gcp, ar_front):
    fleet = fleet_registration
    token = ksa_token("puller", fleet.pool)
    answer = exchange(https, audience_of(fleet), token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert sorted(body) == ["access_token", "expires_in", "issued_token_type", "token_type"]
    assert body["issued_token_type"] == ACCESS_TOKEN and body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3599
    # The federated token is the KSA's fleet identity wherever IAM is asked (the Docker front asks the same way).
    who = gcp.control("POST", "authorize", {"accessToken": body["access_token"], "resource": "projects/-/serviceAccounts/x@y",
                                            "permission": "iam.serviceAccounts.getAccessToken"})
    assert who["principal"] == "configsync-test.svc.id.goog[fleet-wi-test/puller]"
    assert who["member"] == "serviceAccount:configsync-test.svc.id.goog[fleet-wi-test/puller]"
    logged = gcp.requests("sts.token")[-1]
    assert logged["status"] == 200 and logged["body"]["subject_token"] == "<redacted>" and logged["response"] is None
    assert ("sts.googleapis.com", "/v1/token", 200) in [(e["host"], e["path"], e["status"]) for e in ar_front.api_requests()]


def tampered(token):
    header, claims, signature = token.split(".")
    return ".".join([header, claims, ("A" if signature[0] != "A" else "B") + signature[1:]])


def test_sts_refuses_what_google_refuses(fleet_registration, ksa_token, https):
    fleet = fleet_registration
    good = ksa_token("puller", fleet.pool)
    cases = {
        # Not a provider's full name: Google's text (google-github-actions/auth#60).
        "audience-form": (exchange(https, "my-pool", good), 400, "invalid_request", 'Invalid value for "audience"'),
        # A provider nobody registered: Google's text (google-github-actions/auth#161).
        "unknown-provider": (exchange(https, "identitynamespace:{0}:https://gkehub.googleapis.com/projects/{1}/locations/global/"
                                             "memberships/nowhere".format(fleet.pool, fleet.project), good),
                             400, "invalid_target", 'The target service indicated by the "audience" parameters is invalid'),
        # A KSA token for another audience than the pool.
        "token-audience": (exchange(https, audience_of(fleet), ksa_token("puller", "https://kubernetes.default.svc")),
                           400, "invalid_grant", "does not match the expected audience"),
        "signature": (exchange(https, audience_of(fleet), tampered(good)), 400, "invalid_grant", "Invalid JWT signature."),
        "grant-type": (exchange(https, audience_of(fleet), good, grant_type="client_credentials"), 400, "unsupported_grant_type",
                       'Invalid value for "grant_type"'),
    }
    for case, (answer, status, error, text) in cases.items():
        assert answer.status_code == status, (case, answer.text)
        assert answer.json()["error"] == error and text in answer.json()["error_description"], (case, answer.text)
        assert sorted(answer.json()) == ["error", "error_description"], case


def test_generate_access_token_needs_get_access_token_on_the_service_account(fleet_registration, ksa_token, https, gcp):
    fleet = fleet_registration
    gsa = "fleet-puller@{0}.iam.gserviceaccount.com".format(gcp.project)
    gcp.seed_service_account(gsa)
    federated = exchange(https, audience_of(fleet), ksa_token("puller", fleet.pool)).json()["access_token"]
    body = {"scope": [CLOUD_PLATFORM], "lifetime": "3600s"}
    headers = {"Authorization": "Bearer " + federated}

    denied = https.post(GENERATE.format(gsa), json=body, headers=headers, timeout=30)
    assert (denied.status_code, denied.json()) == (403, GET_ACCESS_TOKEN_DENIED)
    unknown = https.post(GENERATE.format("nobody@{0}.iam.gserviceaccount.com".format(gcp.project)), json=body, headers=headers, timeout=30)
    assert (unknown.status_code, unknown.json()) == (403, GET_ACCESS_TOKEN_DENIED)
    anonymous = https.post(GENERATE.format(gsa), json=body, timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["status"] == "UNAUTHENTICATED"

    member = "serviceAccount:configsync-test.svc.id.goog[fleet-wi-test/puller]"
    for role in (WORKLOAD_IDENTITY_USER, "roles/iam.serviceAccountTokenCreator"):
        response = requests.post(gcp.endpoint + "/v1/projects/-/serviceAccounts/{0}:setIamPolicy".format(gsa), timeout=30,
                                 json={"policy": {"bindings": [{"role": role, "members": [member]}]}},
                                 headers={"Authorization": "Bearer " + gcp.access_token})
        assert response.status_code == 200, response.text
        granted = https.post(GENERATE.format(gsa), json=body, headers=headers, timeout=30)
        assert granted.status_code == 200, (role, granted.text)
        assert sorted(granted.json()) == ["accessToken", "expireTime"]
        expires = calendar.timegm(time.strptime(granted.json()["expireTime"], "%Y-%m-%dT%H:%M:%SZ"))
        assert 3500 < expires - time.time() <= 3601, granted.json()
        who = gcp.control("POST", "authorize", {"accessToken": granted.json()["accessToken"], "permission": READER_PERMISSION,
                                                "resource": grants_resource(gcp)})
        assert who["principal"] == gsa, role
    too_long = https.post(GENERATE.format(gsa), json=dict(body, lifetime="7200s"), headers=headers, timeout=30)
    assert too_long.status_code == 400 and too_long.json()["error"]["status"] == "INVALID_ARGUMENT"
    logged = gcp.requests("iamcredentials.serviceAccounts.generateAccessToken")
    assert [entry["status"] for entry in logged] == [403, 403, 401, 200, 200, 400]
    assert all(entry["response"]["accessToken"] == "<redacted>" for entry in logged if entry["status"] == 200)


# --- Config Sync end to end ---------------------------------------------------------------------------------------

def unescaped_failure(run):
    return failure_text(run).replace('\\"', '"')


def fleet_deployment(grants, fleet, deployment):
    """The reconciler Deployment with fleet Workload Identity in it, checked against the recording (scenario 14)."""
    found = fleet.wait_for_fleet_credentials(deployment)
    assert found is not None, "the reconciler-manager put no fleet credentials into " + deployment
    template = found["spec"]["template"]
    credentials = json.loads(template["metadata"]["annotations"][FLEET_ANNOTATION])
    assert credentials["audience"] == audience_of(fleet)
    assert credentials["token_url"] == STS_URL
    volume = next(volume for volume in template["spec"]["volumes"] if volume["name"] == "gcp-ksa")
    token_source = volume["projected"]["sources"][0]["serviceAccountToken"]
    assert token_source == {"audience": fleet.pool, "expirationSeconds": 172800, "path": "token"}
    return credentials


def sts_exchanges(grants):
    return grants.gcp.requests("sts.token")


def generate_calls(grants, email):
    return [entry["status"] for entry in grants.gcp.requests("iamcredentials.serviceAccounts.generateAccessToken")
            if entry["path"].endswith("/{0}:generateAccessToken".format(email))]


@pytest.mark.slow
@pytest.mark.usefixtures("cluster_identities")
def test_k8sserviceaccount_pulls_with_the_sts_token_once_the_pool_member_is_a_reader(grants, fleet_membership, e2e_timings):
    fleet = fleet_membership
    name, ksa = "fleet-ksa", "root-reconciler-fleet-ksa"
    member = fleet.member(ksa)
    image = grants.image("fleet-ksa")
    pushed = grants.push(image, grants.manifests("v1", {"ns.yaml": namespace_manifest("grants-fleet-ksa")})).result("push")

    began = time.monotonic()
    denied = grants.sync(name, image)
    e2e_timings["fleet_ksa_create_to_knv2004_seconds"] = round(time.monotonic() - began, 3)
    message = unescaped_failure(denied)
    assert denied.failed and "KNV2004" in message and DOWNLOAD_DENIED in message and grants.resource in message, message
    assert grants.source_member(denied) == member
    credentials = fleet_deployment(grants, fleet, ksa)
    assert "service_account_impersonation_url" not in credentials
    # The token the registry refused was the STS one: the exchange succeeded, the front saw the pool member.
    assert any(entry["status"] == 200 and entry["body"]["audience"] == audience_of(fleet) for entry in sts_exchanges(grants))
    assert any(entry["member"] == member and entry["status"] == 403 for entry in grants.front.requests())

    began = time.monotonic()
    grants.bind(member)
    source = grants.sync_until_synced(name, image, pushed["digest"])
    e2e_timings["fleet_ksa_binding_to_synced_seconds"] = round(time.monotonic() - began, 3)
    assert source["sync_status"]["status"] == "SYNCED"
    assert grants.namespace_commit("grants-fleet-ksa") == pushed["digest"].split(":", 1)[1]
    assert grants.front_pulls(member), grants.front.requests()[-10:]
    # Never the metadata server, although the node offers one; never generateAccessToken (no GSA).
    assert grants.token_requests(ksa) == []
    assert grants.gcp.requests("iamcredentials.serviceAccounts.generateAccessToken") == []
    grants.delete(name)


@pytest.mark.slow
@pytest.mark.usefixtures("cluster_identities")
def test_gcpserviceaccount_impersonates_the_gsa_with_the_sts_token(grants, fleet_membership, e2e_timings):
    fleet = fleet_membership
    name, ksa = "fleet-gsa", "root-reconciler-fleet-gsa"
    email, dummy = grants.identity("cs-fleet-puller")
    image = grants.image("fleet-gsa")
    pushed = grants.push(image, grants.manifests("v1", {"ns.yaml": namespace_manifest("grants-fleet-gsa")})).result("push")
    options = {"auth": "gcpserviceaccount", "gcp_service_account_email": email}

    # The KSA's pool identity may not act as the GSA: IAM Credentials refuses, Config Sync reports it.
    refused = grants.sync(name, image, **options)
    message = unescaped_failure(refused)
    assert refused.failed and "KNV2004" in message and GET_ACCESS_TOKEN_REFUSED in message, message
    credentials = fleet_deployment(grants, fleet, ksa)
    assert credentials["service_account_impersonation_url"] == GENERATE.format(email)
    assert 403 in generate_calls(grants, email)

    # workloadIdentityUser through the collection's module: the GSA's token, which the repository still refuses.
    grants.bind_service_account(email, fleet.member(ksa))
    # The status holds the refusal of oci-sync's last attempt until its backoff retry; then the registry's denial.
    assert poll(lambda: READER_PERMISSION in json.dumps(grants.get(ROOT_SYNC.format(name))["status"]), timeout=120), \
        grants.get(ROOT_SYNC.format(name))["status"]
    denied = grants.sync(name, image, **options)
    message = unescaped_failure(denied)
    assert denied.failed and "KNV2004" in message and DOWNLOAD_DENIED in message and grants.resource in message, message
    assert 200 in generate_calls(grants, email)

    began = time.monotonic()
    grants.bind("serviceAccount:" + email)
    source = grants.sync_until_synced(name, image, pushed["digest"], **options)
    e2e_timings["fleet_gsa_binding_to_synced_seconds"] = round(time.monotonic() - began, 3)
    assert source["sync_status"]["status"] == "SYNCED"
    assert grants.namespace_commit("grants-fleet-gsa") == pushed["digest"].split(":", 1)[1]
    assert grants.front_pulls("serviceAccount:" + email)
    assert grants.token_requests(ksa) == []
    assert any(entry["status"] == 200 for entry in sts_exchanges(grants))
    grants.delete(name)
