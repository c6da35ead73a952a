"""The Google modules against what a hostile tester tries: a delete whose stated properties do not match, invalid
values with state=absent, zero timeouts, members / labels / keep_count / project IDs Google rejects, and faults on
the calls that write (429/503 on repositories.create, a 503 that outlasts the retry deadline).

Real ansible-playbook runs against the emulator (tests/harness/gcp_emulator.py).
"""
import pytest

REPO = {"location": "us-central1", "name": "config-images"}


def repo_task(**args):
    return [{"name": "repo", "configsync.oci.ar_repository": dict(REPO, **args)}]


def binding_task(**args):
    base = {"location": "us-central1", "repository": "config-images", "role": "roles/artifactregistry.reader",
            "members": ["user:alice@example.com"]}
    base.update(args)
    return [{"name": "bind", "configsync.oci.ar_iam_binding": base}]


def create_repository(ansible, gcp, **args):
    run = ansible(tasks=repo_task(**args), env=gcp.env())
    assert run.result("repo")["changed"] is True, run
    gcp.clear_log()


# --- state: absent ----------------------------------------------------------------------------------------------------

def test_absent_with_another_format_refuses_to_delete(ansible, gcp):
    create_repository(ansible, gcp)
    run = ansible(tasks=repo_task(state="absent", format="maven"), env=gcp.env())
    message = run.failure_message("repo")
    assert "format" in message and "DOCKER" in message and "maven" in message.lower(), message
    assert gcp.writes() == []
    assert gcp.state()["repositories"], "the repository was deleted"

    deleted = ansible(tasks=repo_task(state="absent"), env=gcp.env())
    assert deleted.result("repo")["changed"] is True, deleted


def test_absent_with_another_description_refuses_to_delete(ansible, gcp):
    create_repository(ansible, gcp, description="fleet manifests")
    run = ansible(tasks=repo_task(state="absent", description="something else"), env=gcp.env())
    assert "description" in run.failure_message("repo")
    assert gcp.writes() == []


@pytest.mark.parametrize("args, words", [
    ({"labels": {"Team": "platform"}}, ["labels", "Team"]),
    ({"labels": {"team": "Platform Team"}}, ["labels", "Platform Team"]),
    ({"cleanup_policies": [{"id": "keep", "action": "keep", "most_recent_versions": {"keep_count": -1}}]},
     ["keep_count", "-1"]),
    ({"timeout": 0}, ["timeout", "0"]),
    ({"timeout": -5}, ["timeout", "-5"]),
    ({"project": "Not_A_Project"}, ["project", "Not_A_Project"]),
])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_invalid_repository_values_fail_before_any_request(ansible, gcp, args, words, state):
    create_repository(ansible, gcp)
    run = ansible(tasks=repo_task(state=state, **args), env=gcp.env())
    message = run.failure_message("repo")
    for word in words:
        assert word in message, message
    assert gcp.requests() == [], "a request went out before the options were checked"


@pytest.mark.parametrize("timeout", [0, -1])
def test_project_service_zero_or_negative_timeout_is_refused(ansible, gcp, timeout):
    task = {"name": "svc", "configsync.oci.project_service": {"service": "container.googleapis.com", "timeout": timeout}}
    run = ansible(tasks=[task], env=gcp.env())
    assert "timeout" in run.failure_message("svc")
    assert gcp.requests() == []


@pytest.mark.parametrize("member", ["principal:garbage", "principalSet:garbage", "principal://iam.googleapis.com/"])
def test_a_malformed_principal_is_refused_locally(ansible, gcp, member):
    create_repository(ansible, gcp)
    run = ansible(tasks=binding_task(members=[member]), env=gcp.env())
    message = run.failure_message("bind")
    assert member in message and "principal" in message, message
    assert gcp.requests() == []


def test_a_principal_identifier_is_accepted(ansible, gcp):
    create_repository(ansible, gcp)
    member = ("principal://iam.googleapis.com/projects/%s/locations/global/workloadIdentityPools/%s.svc.id.goog/"
              "subject/ns/config-management-system/sa/root-reconciler" % (gcp.project_number, gcp.project))
    run = ansible(tasks=binding_task(members=[member]), env=gcp.env())
    assert run.result("bind")["changed"] is True, run


# --- the emulator rejects what Google rejects -----------------------------------------------------------------------

def _rest(gcp, method, path, body=None, query=""):
    import requests
    response = requests.request(method, "%s/v1/%s%s" % (gcp.endpoint, path, query), json=body, timeout=30,
                                headers={"Authorization": "Bearer " + gcp.access_token})
    return response.status_code, response.json()


@pytest.mark.parametrize("labels", [{"Team": "x"}, {"team": "Big Team"}, {"1team": "x"}, {"": "x"}, {"t" * 64: "x"}])
def test_emulator_rejects_labels_google_rejects(gcp, labels):
    status, body = _rest(gcp, "POST", "projects/%s/locations/us-central1/repositories" % gcp.project,
                         {"format": "DOCKER", "labels": labels}, "?repositoryId=labelled")
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT", body
    assert "label" in body["error"]["message"].lower()


def test_emulator_rejects_a_negative_keep_count(gcp):
    status, body = _rest(gcp, "POST", "projects/%s/locations/us-central1/repositories" % gcp.project,
                         {"format": "DOCKER", "cleanupPolicies": {"keep": {"action": "KEEP", "mostRecentVersions": {"keepCount": -1}}}},
                         "?repositoryId=cleaned")
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT", body


@pytest.mark.parametrize("member", ["principal:garbage", "principalSet:garbage"])
def test_emulator_rejects_a_malformed_principal(ansible, gcp, member):
    create_repository(ansible, gcp)
    name = gcp.repository_name("config-images")
    status, body = _rest(gcp, "POST", name + ":setIamPolicy",
                         {"policy": {"bindings": [{"role": "roles/artifactregistry.reader", "members": [member]}]}})
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT", body


# --- faults on writes --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [429, 503])
def test_one_transient_answer_on_repositories_create_is_retried(ansible, gcp, code):
    gcp.inject("artifactregistry.repositories.create", code=code, count=1)
    run = ansible(tasks=repo_task(), env=gcp.env())
    assert run.result("repo")["changed"] is True, run
    creates = gcp.requests("artifactregistry.repositories.create")
    assert [entry["status"] for entry in creates] == [code, 200], creates


def test_a_retry_deadline_message_keeps_the_last_error(ansible, gcp):
    gcp.inject("artifactregistry.repositories.get", code=503, message="backend fell over")
    run = ansible(tasks=repo_task(), env=gcp.env())
    message = run.failure_message("repo")
    assert "503" in message and "backend fell over" in message, message
    assert gcp.writes() == []


# --- messages stay readable when a value is also part of a secret ----------------------------------------------------

def test_messages_name_the_project_even_when_the_key_dict_holds_it(ansible, gcp, tmp_path):
    key_file = gcp.service_account_file(tmp_path / "sa.json")
    create_repository(ansible, gcp)
    auth = {"auth_kind": "serviceaccount", "service_account_contents": "{{ lookup('file', '%s') | from_json }}" % key_file,
            "api_endpoint": gcp.endpoint, "project": gcp.project}
    run = ansible(tasks=repo_task(format="maven", **auth), env={})
    message = run.failure_message("repo")
    assert "projects/%s/locations/us-central1/repositories/config-images" % gcp.project in message, message
    assert "********" not in message
