"""Google auth of the GCP modules against the emulator: every auth path, endpoint overrides, and no secret in any output
(at -vvv, on success and on failure)."""
import json
import re

import pytest

REPO = {"location": "us-central1", "name": "config-images"}
# Tokens the emulator issues start with this; a self-signed JWT starts with base64('{"') twice (header and claims).
EMULATOR_TOKEN = re.compile(r"ya29\.[A-Za-z0-9_-]{8,}")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")


def assert_no_secret(run, *secrets):
    output = run.output + json.dumps([r["result"] for r in run.records], default=str)
    for secret in secrets:
        assert secret and secret not in output, "a secret leaked into the output"
    assert not EMULATOR_TOKEN.search(output), "an access token leaked into the output"
    assert not JWT.search(output), "a signed JWT leaked into the output"
    assert "PRIVATE KEY" not in output


def key_fragments(path):
    """A few lines of the private key body: if any shows up anywhere, the key leaked."""
    key = json.loads(path.read_text())["private_key"]
    lines = [line for line in key.splitlines() if line and "PRIVATE KEY" not in line]
    return [lines[1], lines[len(lines) // 2], lines[-2]]


def test_access_token_never_shows_at_vvv(ansible, gcp):
    tasks = [
        {"name": "enable", "configsync.oci.project_service": {"service": "artifactregistry.googleapis.com"}},
        {"name": "repo", "configsync.oci.ar_repository": REPO},
        {"name": "bind", "configsync.oci.ar_iam_binding": {"location": "us-central1", "repository": "config-images",
                                                           "role": "roles/artifactregistry.reader",
                                                           "members": ["user:alice@example.com"]}},
    ]
    run = ansible(tasks=tasks, env=gcp.env(), verbosity=3, diff=True)
    assert run.failed == [], run
    assert_no_secret(run, gcp.access_token)


def test_access_token_given_as_an_option_never_shows(ansible, gcp):
    args = dict(REPO, auth_kind="accesstoken", access_token=gcp.access_token, project=gcp.project, api_endpoint=gcp.endpoint)
    run = ansible(tasks=[{"name": "repo", "configsync.oci.ar_repository": args}], env={}, verbosity=3)
    assert run.result("repo")["changed"] is True, run
    assert_no_secret(run, gcp.access_token)


def test_a_rejected_token_fails_without_showing_it(ansible, gcp):
    bogus = "ya29.not-a-valid-token-" + "x" * 20
    env = dict(gcp.env(), GCP_ACCESS_TOKEN=bogus)
    run = ansible(tasks=[{"name": "repo", "configsync.oci.ar_repository": REPO}], env=env, verbosity=3)
    message = run.failure_message("repo")
    assert "401" in message and "access_token" in message
    assert bogus not in run.output
    assert_no_secret(run, bogus)


def test_service_account_key_exchanged_at_the_token_endpoint(ansible, gcp, tmp_path):
    key_file = gcp.service_account_file(tmp_path / "sa.json")
    gcp.seed_service_account("config-sync@%s.iam.gserviceaccount.com" % gcp.project)
    auth = {"auth_kind": "serviceaccount", "service_account_file": str(key_file)}
    env = {"GCP_API_ENDPOINT": gcp.endpoint, "GCP_PROJECT": gcp.project}
    tasks = [
        {"name": "repo", "configsync.oci.ar_repository": dict(REPO, **auth)},
        {"name": "sa", "configsync.oci.iam_service_account_binding": dict(
            auth, service_account="config-sync@%s.iam.gserviceaccount.com" % gcp.project, role="roles/iam.workloadIdentityUser",
            members=["serviceAccount:%s.svc.id.goog[config-management-system/root-reconciler]" % gcp.project])},
        {"name": "svc", "configsync.oci.project_service": dict(auth, service="container.googleapis.com")},
    ]
    run = ansible(tasks=tasks, env=env, verbosity=3)
    assert run.failed == [], run
    assert all(r["changed"] for r in run.results())
    assert gcp.requests("oauth2.token"), "the key was never exchanged at the token endpoint"
    assert_no_secret(run, *key_fragments(key_file))


def test_service_account_contents_never_shows(ansible, gcp, tmp_path):
    key_file = gcp.service_account_file(tmp_path / "sa.json")
    contents = key_file.read_text()
    args = dict(REPO, auth_kind="serviceaccount", service_account_contents=contents)
    env = {"GCP_API_ENDPOINT": gcp.endpoint, "GCP_PROJECT": gcp.project}
    run = ansible(tasks=[{"name": "repo", "configsync.oci.ar_repository": args}], env=env, verbosity=3)
    assert run.result("repo")["changed"] is True, run
    assert_no_secret(run, *key_fragments(key_file))


def test_service_account_from_awx_style_environment(ansible, gcp, tmp_path):
    key_file = gcp.service_account_file(tmp_path / "awx.json")
    env = {"GCP_API_ENDPOINT": gcp.endpoint, "GCP_PROJECT": gcp.project, "GCP_AUTH_KIND": "serviceaccount",
           "GCP_SERVICE_ACCOUNT_FILE": str(key_file)}
    run = ansible(tasks=[{"name": "svc", "configsync.oci.project_service": {"service": "container.googleapis.com"}}],
                  env=env, verbosity=3)
    assert run.result("svc")["changed"] is True, run
    assert_no_secret(run, *key_fragments(key_file))


def test_a_corrupt_key_fails_without_showing_it(ansible, gcp, tmp_path):
    key_file = gcp.service_account_file(tmp_path / "sa.json")
    info = json.loads(key_file.read_text())
    fragments = key_fragments(key_file)
    lines = info["private_key"].splitlines()
    lines[3] = lines[3][::-1]  # still base64, no longer a key
    info["private_key"] = "\n".join(lines)
    key_file.write_text(json.dumps(info))
    env = {"GCP_API_ENDPOINT": gcp.endpoint, "GCP_PROJECT": gcp.project}
    args = dict(REPO, auth_kind="serviceaccount", service_account_file=str(key_file))
    run = ansible(tasks=[{"name": "repo", "configsync.oci.ar_repository": args}], env=env, verbosity=3)
    message = run.failure_message("repo")
    assert "service_account_file" in message
    assert_no_secret(run, lines[3], *fragments)
    assert gcp.requests() == []


@pytest.mark.parametrize("make_path, words", [
    (lambda tmp: tmp / "missing.json", ["service_account_file", "missing.json", "cannot be read"]),
    (lambda tmp: tmp, ["service_account_file", "cannot be read"]),
])
def test_missing_or_unreadable_key_file(ansible, gcp, tmp_path, make_path, words):
    env = {"GCP_API_ENDPOINT": gcp.endpoint, "GCP_PROJECT": gcp.project}
    args = dict(REPO, auth_kind="serviceaccount", service_account_file=str(make_path(tmp_path)))
    run = ansible(tasks=[{"name": "repo", "configsync.oci.ar_repository": args}], env=env)
    message = run.failure_message("repo")
    for word in words:
        assert word in message
    assert gcp.requests() == []


def test_accesstoken_without_a_token_is_named(ansible, gcp):
    env = {"GCP_API_ENDPOINT": gcp.endpoint, "GCP_PROJECT": gcp.project, "GCP_AUTH_KIND": "accesstoken"}
    run = ansible(tasks=[{"name": "repo", "configsync.oci.ar_repository": REPO}], env=env)
    assert "access_token" in run.failure_message("repo")
    assert gcp.requests() == []


def test_module_defaults_group_sets_auth_once(ansible, gcp):
    defaults = {"group/configsync.oci.gcp": {"auth_kind": "accesstoken", "access_token": gcp.access_token,
                                             "project": gcp.project, "api_endpoint": gcp.endpoint}}
    tasks = [
        {"name": "svc", "configsync.oci.project_service": {"service": "artifactregistry.googleapis.com"}},
        {"name": "repo", "configsync.oci.ar_repository": REPO},
    ]
    run = ansible(tasks=tasks, env={}, module_defaults=defaults, verbosity=3)
    assert run.failed == [], run
    assert run.result("repo")["changed"] is True
    assert_no_secret(run, gcp.access_token)


def test_per_api_endpoint_variable_wins_over_the_global_one(ansible, gcp):
    # The global endpoint points nowhere: only GCP_ARTIFACTREGISTRY_ENDPOINT can make this work.
    env = dict(gcp.env(), GCP_API_ENDPOINT="http://127.0.0.1:9", GCP_ARTIFACTREGISTRY_ENDPOINT=gcp.endpoint)
    run = ansible(tasks=[{"name": "repo", "configsync.oci.ar_repository": REPO}], env=env)
    assert run.result("repo")["changed"] is True, run


def test_a_rejected_token_fails_the_discovery_client_without_showing_it(ansible, gcp):
    bogus = "ya29.not-a-valid-token-" + "y" * 20
    env = dict(gcp.env(), GCP_ACCESS_TOKEN=bogus)
    task = {"name": "sa", "configsync.oci.iam_service_account_binding": {
        "service_account": "config-sync@%s.iam.gserviceaccount.com" % gcp.project, "role": "roles/iam.workloadIdentityUser",
        "members": ["user:alice@example.com"]}}
    run = ansible(tasks=[task], env=env, verbosity=3)
    message = run.failure_message("sa")
    assert "401" in message and "access_token" in message
    assert_no_secret(run, bogus)


def test_application_default_credentials(ansible, gcp, tmp_path):
    key_file = gcp.service_account_file(tmp_path / "adc.json")
    env = {"GCP_API_ENDPOINT": gcp.endpoint, "GCP_PROJECT": gcp.project, "GOOGLE_APPLICATION_CREDENTIALS": str(key_file)}
    run = ansible(tasks=[{"name": "svc", "configsync.oci.project_service": {"service": "container.googleapis.com"}}],
                  env=env, verbosity=3)
    assert run.result("svc")["changed"] is True, run
    assert_no_secret(run, *key_fragments(key_file))


def test_plain_http_to_a_remote_endpoint_is_refused(ansible, gcp):
    env = dict(gcp.env(), GCP_API_ENDPOINT="http://10.1.2.3:8080")
    run = ansible(tasks=[{"name": "repo", "configsync.oci.ar_repository": REPO}], env=env)
    message = run.failure_message("repo")
    assert "http://10.1.2.3:8080" in message and "unencrypted" in message
    assert_no_secret(run, gcp.access_token)
