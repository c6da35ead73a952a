"""ar_repository against the local Google API emulator, through real ansible-playbook runs."""
import pytest

MODULE = "configsync.oci.ar_repository"


def repo_task(task="repo", **options):
    args = {"location": "us-central1", "name": "config-images"}
    args.update(options)
    return {"name": task, MODULE: args}


def write_methods(gcp):
    return [entry["apiMethod"] for entry in gcp.writes()]


def test_create_then_noop(ansible, gcp):
    # The create operation answers done=false twice first: the module must wait for it.
    gcp.set_lro_polls(2)
    task = repo_task(description="Config Sync OCI images", labels={"team": "platform"})
    first = ansible(tasks=[task], env=gcp.env())
    result = first.result("repo")
    assert result["changed"] is True, first
    assert result["registry_uri"] == "us-central1-docker.pkg.dev/%s/config-images" % gcp.project
    assert result["registry_host"] == "us-central1-docker.pkg.dev"
    assert result["repository"]["format"] == "DOCKER"
    assert result["repository"]["description"] == "Config Sync OCI images"
    assert write_methods(gcp) == ["artifactregistry.repositories.create"]
    assert len(gcp.requests("artifactregistry.operations.get")) >= 3

    gcp.clear_log()
    second = ansible(tasks=[task], env=gcp.env())
    assert second.result("repo")["changed"] is False, second
    assert gcp.writes() == []


def test_check_mode_makes_no_write_and_predicts_changed(ansible, gcp):
    task = repo_task(description="first")
    check = ansible(tasks=[task], env=gcp.env(), check=True, diff=True)
    predicted = check.result("repo")
    assert predicted["changed"] is True
    assert predicted["diff"]["before"] == {}
    assert predicted["diff"]["after"]["description"] == "first"
    assert gcp.writes() == []

    real = ansible(tasks=[task], env=gcp.env())
    assert real.result("repo")["changed"] is True

    gcp.clear_log()
    update = repo_task(description="second")
    check = ansible(tasks=[update], env=gcp.env(), check=True, diff=True)
    assert check.result("repo")["changed"] is True
    assert gcp.writes() == []
    noop_check = ansible(tasks=[task], env=gcp.env(), check=True)
    assert noop_check.result("repo")["changed"] is False


def test_update_sends_one_patch_with_only_the_changed_fields(ansible, gcp):
    ansible(tasks=[repo_task(description="before", labels={"a": "1"}, immutable_tags=False)], env=gcp.env())
    gcp.clear_log()

    run = ansible(tasks=[repo_task(description="after", labels={"a": "2", "b": "3"}, immutable_tags=False)],
                  env=gcp.env(), diff=True)
    result = run.result("repo")
    assert result["changed"] is True, run
    assert sorted(result["update_mask"]) == ["description", "labels"]
    assert result["diff"]["before"]["description"] == "before"
    assert result["diff"]["after"]["description"] == "after"
    assert result["diff"]["after"]["labels"] == {"a": "2", "b": "3"}

    writes = gcp.writes()
    assert [w["apiMethod"] for w in writes] == ["artifactregistry.repositories.patch"]
    mask = writes[0]["query"]["updateMask"]
    mask = mask[0] if isinstance(mask, list) else mask
    assert sorted(mask.split(",")) == ["description", "labels"]
    assert result["repository"]["labels"] == {"a": "2", "b": "3"}


def test_cleanup_policies_and_immutable_tags_are_idempotent(ansible, gcp):
    task = repo_task(immutable_tags=True, cleanup_policy_dry_run=True, cleanup_policies=[
        {"id": "keep-recent", "action": "keep", "most_recent_versions": {"keep_count": 5}},
        {"id": "delete-old", "condition": {"tag_state": "any", "older_than": "30d"}},
    ])
    first = ansible(tasks=[task], env=gcp.env())
    repository = first.result("repo")["repository"]
    assert repository["dockerConfig"] == {"immutableTags": True}
    assert repository["cleanupPolicies"]["delete-old"]["condition"]["olderThan"] == "2592000s"
    gcp.clear_log()
    second = ansible(tasks=[task], env=gcp.env())
    assert second.result("repo")["changed"] is False, second
    assert gcp.writes() == []


def test_kms_key_change_is_refused(ansible, gcp):
    key = "projects/%s/locations/us-central1/keyRings/ring/cryptoKeys/%s"
    ansible(tasks=[repo_task(kms_key_name=key % (gcp.project, "one"))], env=gcp.env())
    gcp.clear_log()
    run = ansible(tasks=[repo_task(kms_key_name=key % (gcp.project, "two"))], env=gcp.env())
    assert "kms_key_name cannot be changed" in run.failure_message("repo")
    assert gcp.writes() == []


def test_absent_refuses_a_repository_with_packages_unless_forced(ansible, gcp):
    ansible(tasks=[repo_task()], env=gcp.env())
    gcp.seed_package(gcp.repository_name("config-images"), "test-namespace")
    gcp.clear_log()

    refused = ansible(tasks=[repo_task(state="absent")], env=gcp.env())
    message = refused.failure_message("repo")
    assert "still holds packages" in message and "force" in message
    assert gcp.writes() == []

    check = ansible(tasks=[repo_task(state="absent", force=True)], env=gcp.env(), check=True)
    assert check.result("repo")["changed"] is True
    assert gcp.writes() == []

    forced = ansible(tasks=[repo_task(state="absent", force=True)], env=gcp.env())
    assert forced.result("repo")["changed"] is True
    assert write_methods(gcp) == ["artifactregistry.repositories.delete"]

    gcp.clear_log()
    again = ansible(tasks=[repo_task(state="absent")], env=gcp.env())
    assert again.result("repo")["changed"] is False
    assert gcp.writes() == []


def test_absent_deletes_an_empty_repository(ansible, gcp):
    ansible(tasks=[repo_task()], env=gcp.env())
    run = ansible(tasks=[repo_task(state="absent")], env=gcp.env(), diff=True)
    result = run.result("repo")
    assert result["changed"] is True
    assert result["diff"]["after"] == {}
    assert result["registry_uri"] is None


@pytest.mark.parametrize("options, words", [
    ({"name": "Config-Images"}, ["name", "'Config-Images'", "lowercase"]),
    ({"name": "1config"}, ["name", "'1config'", "start with a letter"]),
    ({"name": "a" * 64}, ["name", "64 characters", "maximum is 63"]),
    ({"location": "moon-central1"}, ["location", "'moon-central1'"]),
    ({"format": "tarball"}, ["format", "tarball"]),
    ({"mode": "remote"}, ["remote_repository_config"]),
    ({"immutable_tags": True, "format": "maven"}, ["immutable_tags", "maven"]),
    ({"cleanup_policies": [{"id": "x", "condition": {"older_than": "soon"}}]}, ["cleanup_policies[0].condition.older_than", "soon"]),
])
def test_bad_input_fails_before_any_request(ansible, gcp, options, words):
    run = ansible(tasks=[repo_task(**options)], env=gcp.env())
    message = run.failure_message("repo")
    for word in words:
        assert word in message
    assert gcp.requests() == []


def test_missing_project_is_named(ansible, gcp):
    env = dict(gcp.env())
    env.pop("GCP_PROJECT")
    run = ansible(tasks=[repo_task()], env=env)
    message = run.failure_message("repo")
    assert "project is required" in message and "GCP_PROJECT" in message
    assert gcp.requests() == []


def test_remote_and_virtual_repositories(ansible, gcp):
    upstream = ansible(tasks=[repo_task(task="upstream")], env=gcp.env())
    assert upstream.result("upstream")["changed"] is True
    remote = repo_task(task="remote", **{"name": "docker-hub", "mode": "remote",
                                         "remote_repository_config": {"description": "Docker Hub",
                                                                      "docker_repository": {"public_repository": "DOCKER_HUB"}}})
    virtual = repo_task(task="virtual", **{"name": "all-images", "mode": "virtual", "virtual_repository_config": {
        "upstreamPolicies": [{"id": "main", "repository": gcp.repository_name("config-images"), "priority": 1}]}})
    first = ansible(tasks=[remote, virtual], env=gcp.env())
    assert first.result("remote")["repository"]["mode"] == "REMOTE_REPOSITORY", first
    assert first.result("virtual")["repository"]["mode"] == "VIRTUAL_REPOSITORY", first
    gcp.clear_log()
    second = ansible(tasks=[remote, virtual], env=gcp.env())
    assert second.result("remote")["changed"] is False, second
    assert second.result("virtual")["changed"] is False, second
    assert gcp.writes() == []


def test_transient_errors_on_reads_and_updates_are_retried(ansible, gcp):
    ansible(tasks=[repo_task(description="one")], env=gcp.env())
    gcp.clear_log()
    gcp.inject("artifactregistry.repositories.get", code=503, count=2)
    gcp.inject("artifactregistry.repositories.patch", code=500, count=1)
    run = ansible(tasks=[repo_task(description="two")], env=gcp.env())
    assert run.result("repo")["changed"] is True, run
    assert [r["status"] for r in gcp.requests("artifactregistry.repositories.get")] == [503, 503, 200]
    assert [r["status"] for r in gcp.requests("artifactregistry.repositories.patch")] == [500, 200]


def test_a_failed_create_is_reported_with_googles_message(ansible, gcp):
    gcp.inject("artifactregistry.repositories.create", code=403, message="Permission 'artifactregistry.repositories.create' denied")
    run = ansible(tasks=[repo_task()], env=gcp.env())
    message = run.failure_message("repo")
    assert "403" in message and "artifactregistry.repositories.create" in message
    assert len(gcp.requests("artifactregistry.repositories.create")) == 1


def test_parallel_plays_creating_the_same_repository(ansible, gcp):
    # Without run_once every cluster's host asks for the repository: exactly one creates it, the others find it.
    hosts = ["cluster%02d" % i for i in range(6)]
    # A slow first read makes every play see "no repository" before the first create lands.
    gcp.inject("artifactregistry.repositories.get", latency=2.0, count=len(hosts))
    run = ansible(tasks=[repo_task(description="shared")], hosts=hosts, forks=6, env=gcp.env())
    gcp.clear_faults()
    assert run.failed == [], run
    statuses = [r["status"] for r in gcp.requests("artifactregistry.repositories.create")]
    assert statuses.count(200) == 1
    assert statuses.count(409) >= 1, "the plays never raced: no 409 ALREADY_EXISTS in the log"
    assert sum(1 for r in run.results("repo") if r["changed"]) == 1
