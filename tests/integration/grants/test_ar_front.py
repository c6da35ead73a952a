"""What Artifact Registry's Docker front and the GKE metadata server enforce, checked over HTTP with the real host names.

Every answer compared here is the status and body Artifact Registry / GKE give (sources in docs/emulator.md).
"""
import base64
import hashlib
import json
import socket

import pytest
import requests

from grants_flow import LOCATION, READER, WORKLOAD_IDENTITY_USER, reconciler_member

HOST = "{0}-docker.pkg.dev".format(LOCATION)
REALM = 'Bearer realm="https://{0}/v2/token"'.format(HOST)


@pytest.fixture
def http(ar_front):
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"https": ar_front.router.url}
    session.verify = str(ar_front.ca_bundle)
    return session


def token_for(http, scope, user=None, password=None):
    auth = (user, password) if user else None
    return http.get("https://{0}/v2/token".format(HOST), params={"scope": scope, "service": HOST}, auth=auth, timeout=30)


def push_image(http, token, name, tag="v1"):
    """A one-layer image pushed with a registry token (monolithic uploads); returns the manifest digest."""
    headers = {"Authorization": "Bearer " + token}
    digests = {}
    for label, blob in (("config", b"{}"), ("layer", b"layer-bytes")):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        started = http.post("https://{0}/v2/{1}/blobs/uploads/".format(HOST, name), headers=headers, timeout=30)
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        assert location.startswith("https://{0}/v2/{1}/blobs/uploads/".format(HOST, name)), location
        done = http.put(location, params={"digest": digest}, data=blob, headers=dict(headers, **{"Content-Type": "application/octet-stream"}),
                        timeout=30)
        assert done.status_code == 201, done.text
        digests[label] = (digest, len(blob))
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digests["config"][0],
                                      "size": digests["config"][1]},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digests["layer"][0],
                                       "size": digests["layer"][1]}]}).encode()
    put = http.put("https://{0}/v2/{1}/manifests/{2}".format(HOST, name, tag), data=manifest,
                   headers=dict(headers, **{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}), timeout=30)
    assert put.status_code == 201, put.text
    return put.headers["Docker-Content-Digest"]


def denied(permission, resource):
    return {"errors": [{"code": "DENIED", "message": 'Permission "{0}" denied on resource "{1}" (or it may not exist)'.format(
        permission, resource)}]}


def unauthenticated(permission, resource):
    return {"errors": [{"code": "DENIED", "message": (
        'Unauthenticated request. Unauthenticated requests do not have permission "{0}" on resource "{1}" (or it may not exist)'
    ).format(permission, resource)}]}


DOWNLOAD = "artifactregistry.repositories.downloadArtifacts"
UPLOAD = "artifactregistry.repositories.uploadArtifacts"


def test_the_registry_token_flow_enforces_the_repository_policy(grants, http, ar_front, tmp_path):
    name = "{0}/{1}/app".format(grants.project, grants.repository)
    scope = "repository:{0}:pull,push".format(name)
    challenge = http.get("https://{0}/v2/".format(HOST), timeout=30)
    assert challenge.status_code == 401 and challenge.headers["WWW-Authenticate"] == REALM

    writer = token_for(http, scope, "oauth2accesstoken", grants.pusher_token)
    assert writer.status_code == 200, writer.text
    digest = push_image(http, writer.json()["token"], name)

    # A reader, by each way Artifact Registry takes Google credentials.
    reader_email, reader_token = grants.identity("reader")
    grants.grant(grants.resource, "serviceAccount:" + reader_email, READER)
    key = json.loads(grants.gcp.service_account_file(tmp_path / "reader.json", reader_email).read_text())
    for user, password in (("oauth2accesstoken", reader_token), ("_token", reader_token), ("_dcgcloud_token", reader_token),
                           ("_json_key", json.dumps(key)), ("_json_key_base64", base64.b64encode(json.dumps(key).encode()).decode())):
        answer = token_for(http, scope, user, password)
        assert answer.status_code == 200, (user, answer.text)
        pulled = http.get("https://{0}/v2/{1}/manifests/v1".format(HOST, name), timeout=30,
                          headers={"Authorization": "Bearer " + answer.json()["token"],
                                   "Accept": "application/vnd.oci.image.manifest.v1+json"})
        assert pulled.status_code == 200 and pulled.headers["Docker-Content-Digest"] == digest, (user, pulled.text)
        refused = http.post("https://{0}/v2/{1}/blobs/uploads/".format(HOST, name), timeout=30,
                            headers={"Authorization": "Bearer " + answer.json()["token"]})
        assert refused.status_code == 403 and refused.json() == denied(UPLOAD, grants.resource), refused.text
    # A Google access token works as Bearer directly, too.
    direct = http.head("https://{0}/v2/{1}/manifests/v1".format(HOST, name), timeout=30,
                       headers={"Authorization": "Bearer " + reader_token, "Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert direct.status_code == 200

    # Denied principal, expired Google token, a forged key, anonymous: Artifact Registry's 403 bodies.
    stranger_email, stranger_token = grants.identity("stranger")
    assert token_for(http, scope, "oauth2accesstoken", stranger_token).json() == denied(DOWNLOAD, grants.resource)
    expired = grants.gcp.new_token(reader_email, expires_in=-1)
    answer = token_for(http, scope, "oauth2accesstoken", expired)
    assert answer.status_code == 403 and answer.json() == unauthenticated(DOWNLOAD, grants.resource)
    forged = json.loads(grants.gcp.service_account_file(tmp_path / "other.json", stranger_email).read_text())
    forged.update(client_email=reader_email, private_key_id=key["private_key_id"])
    assert token_for(http, scope, "_json_key", json.dumps(forged)).json() == unauthenticated(DOWNLOAD, grants.resource)
    assert token_for(http, scope).json() == unauthenticated(DOWNLOAD, grants.resource)

    # A repository that does not exist is a denial (no project-level grant can reveal it); a name without an image is invalid.
    missing = "projects/{0}/locations/{1}/repositories/absent".format(grants.project, LOCATION)
    answer = token_for(http, "repository:{0}/absent/app:pull".format(grants.project), "oauth2accesstoken", reader_token)
    assert answer.status_code == 403 and answer.json() == denied(DOWNLOAD, missing)
    answer = token_for(http, "repository:{0}/{1}:pull".format(grants.project, grants.repository), "oauth2accesstoken", reader_token)
    assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == "NAME_INVALID"
    unknown_tag = http.get("https://{0}/v2/{1}/manifests/v9".format(HOST, name), timeout=30,
                           headers={"Authorization": "Bearer " + reader_token})
    manifest_unknown = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": 'Failed to fetch "v9"'}]}
    assert unknown_tag.status_code == 404 and unknown_tag.json() == manifest_unknown

    # The policy is read on every request: a registry token stops working when the grant goes; an expired one is challenged.
    token = token_for(http, scope, "oauth2accesstoken", reader_token).json()["token"]
    grants.grant(grants.resource, "serviceAccount:" + reader_email, READER, present=False)
    gone = http.get("https://{0}/v2/{1}/manifests/v1".format(HOST, name), timeout=30, headers={"Authorization": "Bearer " + token})
    assert gone.status_code == 403 and gone.json() == denied(DOWNLOAD, grants.resource)
    ar_front.expire_tokens()
    stale = http.get("https://{0}/v2/{1}/manifests/v1".format(HOST, name), timeout=30,
                     headers={"Authorization": "Bearer " + writer.json()["token"]})
    assert stale.status_code == 401 and stale.headers["WWW-Authenticate"] == REALM


def test_the_router_tunnels_only_artifact_registry_hosts(ar_front):
    with socket.create_connection(("127.0.0.1", int(ar_front.router.url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(b"CONNECT www.googleapis.com:443 HTTP/1.1\r\nHost: www.googleapis.com:443\r\n\r\n")
        assert sock.recv(200).startswith(b"HTTP/1.1 403")


def metadata_get(host, path, flavor=True):
    headers = {"Metadata-Flavor": "Google"} if flavor else {}
    return requests.get("http://{0}/computeMetadata/v1/{1}".format(host, path), headers=headers, timeout=30)


def test_the_metadata_server_answers_for_the_ksa_as_gke_workload_identity_does(grants, gke_metadata):
    gsa, dummy = grants.identity("cs-metadata")
    ksa = "metadata-probe"
    response = grants.http.post(grants.control_plane.server + "/api/v1/namespaces/config-management-system/serviceaccounts",
                                json={"metadata": {"name": ksa}}, timeout=30)
    assert response.status_code in (201, 409), response.text
    host = gke_metadata.host_for("config-management-system", ksa)
    token_path = "instance/service-accounts/default/token?scopes=https://www.googleapis.com/auth/cloud-platform"

    assert metadata_get(host, token_path, flavor=False).status_code == 403
    plain = metadata_get(host, token_path)
    assert plain.status_code == 200 and plain.headers["Metadata-Flavor"] == "Google"
    member = reconciler_member(grants.project, ksa)
    assert grants.front.emulator.authorize("x", "y", access_token=plain.json()["access_token"])["member"] == member
    assert metadata_get(host, "instance/service-accounts/default/email").text == grants.project + ".svc.id.goog"

    patch = {"metadata": {"annotations": {"iam.gke.io/gcp-service-account": gsa}}}
    response = grants.http.patch(grants.control_plane.server + "/api/v1/namespaces/config-management-system/serviceaccounts/" + ksa,
                                 json=patch, headers={"Content-Type": "application/merge-patch+json"}, timeout=30)
    assert response.status_code == 200, response.text
    refused = metadata_get(host, token_path)
    assert refused.status_code == 403 and refused.text.startswith(
        "Unable to generate access token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied")
    grants.grant("projects/-/serviceAccounts/" + gsa, member, WORKLOAD_IDENTITY_USER)
    allowed = metadata_get(host, token_path)
    assert allowed.status_code == 200, allowed.text
    assert grants.front.emulator.authorize("x", "y", access_token=allowed.json()["access_token"])["principal"] == gsa
    assert metadata_get(host, "instance/service-accounts/default/email").text == gsa
