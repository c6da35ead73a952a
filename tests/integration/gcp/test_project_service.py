"""project_service against the local Google API emulator, through real ansible-playbook runs."""
import pytest

MODULE = "configsync.oci.project_service"


def service_task(task="svc", **options):
    args = {"service": "container.googleapis.com"}
    args.update(options)
    return {"name": task, MODULE: args}


def test_enable_waits_for_the_operation_and_is_idempotent(ansible, gcp):
    # The operation answers done=false twice before done=true: the module must poll, not assume.
    gcp.set_lro_polls(2)
    check = ansible(tasks=[service_task()], env=gcp.env(), check=True, diff=True)
    predicted = check.result("svc")
    assert predicted["changed"] is True
    assert predicted["diff"]["before"]["state"] == "DISABLED"
    assert predicted["diff"]["after"]["state"] == "ENABLED"
    assert gcp.writes() == []

    first = ansible(tasks=[service_task()], env=gcp.env(), diff=True)
    result = first.result("svc")
    assert result["changed"] is True, first
    assert result["state_before"] == "DISABLED"
    assert result["service"]["state"] == "ENABLED"
    assert [w["apiMethod"] for w in gcp.writes()] == ["serviceusage.services.enable"]
    polls = gcp.requests("serviceusage.operations.get")
    assert len(polls) >= 3

    gcp.clear_log()
    second = ansible(tasks=[service_task()], env=gcp.env())
    assert second.result("svc")["changed"] is False
    assert gcp.writes() == []
    check_again = ansible(tasks=[service_task()], env=gcp.env(), check=True)
    assert check_again.result("svc")["changed"] is False


def test_the_seed_step_one_service_already_enabled(ansible, gcp):
    run = ansible(tasks=[service_task(service="artifactregistry.googleapis.com")], env=gcp.env())
    assert run.result("svc")["changed"] is False
    assert gcp.writes() == []


def test_disable(ansible, gcp):
    ansible(tasks=[service_task()], env=gcp.env())
    gcp.clear_log()
    check = ansible(tasks=[service_task(state="absent")], env=gcp.env(), check=True)
    assert check.result("svc")["changed"] is True
    assert gcp.writes() == []
    run = ansible(tasks=[service_task(state="absent")], env=gcp.env())
    assert run.result("svc")["service"]["state"] == "DISABLED"
    assert [w["apiMethod"] for w in gcp.writes()] == ["serviceusage.services.disable"]
    gcp.clear_log()
    again = ansible(tasks=[service_task(state="absent")], env=gcp.env())
    assert again.result("svc")["changed"] is False
    assert gcp.writes() == []


def test_transient_errors_are_retried(ansible, gcp):
    gcp.inject("serviceusage.services.get", code=503, count=1)
    gcp.inject("serviceusage.services.enable", code=429, count=2)
    gcp.inject("serviceusage.operations.get", code=503, count=1)
    run = ansible(tasks=[service_task()], env=gcp.env())
    assert run.result("svc")["changed"] is True, run
    enables = gcp.requests("serviceusage.services.enable")
    assert [r["status"] for r in enables] == [429, 429, 200]
    assert gcp.requests("serviceusage.services.get")[0]["status"] == 503


def test_a_refused_enable_is_reported_with_googles_message(ansible, gcp):
    gcp.inject("serviceusage.services.enable", code=403, message="Permission denied to enable service [container.googleapis.com]")
    run = ansible(tasks=[service_task()], env=gcp.env(), verbosity=3)
    message = run.failure_message("svc")
    assert "403" in message and "Permission denied to enable service" in message
    assert gcp.access_token not in run.output


@pytest.mark.parametrize("options, words", [
    ({"service": "Container API"}, ["service", "'Container API'"]),
    ({"service": "container"}, ["service", "'container'"]),
])
def test_bad_input_fails_before_any_request(ansible, gcp, options, words):
    run = ansible(tasks=[service_task(**options)], env=gcp.env())
    message = run.failure_message("svc")
    for word in words:
        assert word in message
    assert gcp.requests() == []


def test_missing_project_is_named(ansible, gcp):
    env = dict(gcp.env())
    env.pop("GCP_PROJECT")
    run = ansible(tasks=[service_task()], env=env)
    assert "project is required" in run.failure_message("svc")
    assert gcp.requests() == []
