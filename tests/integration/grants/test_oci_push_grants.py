"""oci_push to Artifact Registry's Docker front with Google credentials (the gcp auth options), IAM enforced."""
import pytest

from grants_flow import LOCATION, WRITER
from integration.e2e.e2e_flow import namespace_manifest

UPLOAD = "artifactregistry.repositories.uploadArtifacts"


@pytest.fixture
def home(tmp_path):
    """An empty HOME and no DOCKER_CONFIG: nothing may be written there."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def upstream_digest(grants, package, tag="v1"):
    """The tag as the docker-registry behind the front holds it (None when it does not exist)."""
    return grants.front.upstream.manifest_digest("{0}/{1}/{2}/{3}".format(LOCATION, grants.project, grants.repository, package), tag)


def writes(grants, member):
    return [entry for entry in grants.front.requests() if entry["member"] == member and entry["method"] in ("POST", "PUT", "PATCH")]


def test_reader_is_refused_naming_repository_and_permission_writer_pushes_once(grants, home):
    image = grants.image("app")
    v1 = grants.manifests("v1", {"ns.yaml": namespace_manifest("push-a")})
    v2 = grants.manifests("v2", {"ns.yaml": namespace_manifest("push-b")})
    env = {"HOME": str(home), "DOCKER_CONFIG": ""}
    first = grants.run([grants.push_task(image, v1)], token=grants.pusher_token, env=env)
    assert not first.failed, first.output
    assert first.result("push")["changed"]
    digest = first.result("push")["digest"]
    assert upstream_digest(grants, "app") == digest

    reader, reader_token = grants.identity("push-reader")
    grants.grant(grants.resource, "serviceAccount:" + reader)
    refused = grants.run([grants.push_task(image, v2)], token=reader_token, env=env)
    message = refused.failure_message("push")
    assert "403" in message and UPLOAD in message and grants.resource in message, message
    assert reader_token not in refused.output
    assert upstream_digest(grants, "app") == digest  # the tag is unchanged

    grants.front.clear_log()
    again = grants.run([grants.push_task(image, v1)], token=grants.pusher_token, env=env)
    assert not again.failed, again.output
    assert again.result("push")["changed"] is False and again.result("push")["digest"] == digest
    assert writes(grants, "serviceAccount:" + grants.pusher) == []
    assert not (home / ".docker").exists()


@pytest.mark.parametrize("auth_kind", ["accesstoken", "serviceaccount", "application"])
def test_each_gcp_auth_kind_pushes_as_its_identity(grants, home, tmp_path, auth_kind):
    email, token = grants.identity("push-" + auth_kind[:7])
    grants.grant(grants.resource, "serviceAccount:" + email, WRITER)
    key_file = grants.gcp.service_account_file(tmp_path / "key.json", email)
    env = {"HOME": str(home), "DOCKER_CONFIG": "", "GCP_AUTH_KIND": auth_kind, "GCP_ACCESS_TOKEN": token}
    if auth_kind == "serviceaccount":
        env.update(GCP_SERVICE_ACCOUNT_FILE=str(key_file), GCP_ACCESS_TOKEN="")
    if auth_kind == "application":
        env.update(GOOGLE_APPLICATION_CREDENTIALS=str(key_file), GCP_ACCESS_TOKEN="")
    image = grants.image("kind-" + auth_kind)
    run = grants.run([grants.push_task(image, grants.manifests("src", {"ns.yaml": namespace_manifest("kind")}))], env=env)
    assert not run.failed, run.output
    assert upstream_digest(grants, "kind-" + auth_kind) == run.result("push")["digest"]
    assert writes(grants, "serviceAccount:" + email), grants.front.requests()[-5:]
    assert not (home / ".docker").exists()
