"""ar_iam_binding and iam_service_account_binding against the local Google API emulator, through real ansible-playbook."""
import pytest
from google.cloud import artifactregistry_v1
from google.iam.v1 import policy_pb2
from google.protobuf import json_format

REPO_MODULE = "configsync.oci.ar_iam_binding"
SA_MODULE = "configsync.oci.iam_service_account_binding"
READER = "roles/artifactregistry.reader"
WI_USER = "roles/iam.workloadIdentityUser"
REPOSITORY = "config-images"


def repo_binding(task="bind", **options):
    args = {"location": "us-central1", "repository": REPOSITORY, "role": READER}
    args.update(options)
    return {"name": task, REPO_MODULE: args}


def ar_client(gcp):
    return artifactregistry_v1.ArtifactRegistryClient(credentials=gcp.credentials(), transport="rest",
                                                      client_options={"api_endpoint": gcp.endpoint})


def repository_policy(gcp):
    policy = ar_client(gcp).get_iam_policy(request={"resource": gcp.repository_name(REPOSITORY),
                                                    "options": {"requested_policy_version": 3}})
    return json_format.MessageToDict(policy)


def set_repository_policy(gcp, policy, update_mask=None):
    request = {"resource": gcp.repository_name(REPOSITORY), "policy": json_format.ParseDict(policy, policy_pb2.Policy())}
    if update_mask:
        request["update_mask"] = {"paths": update_mask}
    ar_client(gcp).set_iam_policy(request=request)


def members_of(policy, role):
    found = [b for b in policy.get("bindings", []) if b["role"] == role and not b.get("condition")]
    return sorted(found[0]["members"]) if found else []


@pytest.fixture
def repository(ansible, gcp):
    run = ansible(tasks=[{"name": "repo", "configsync.oci.ar_repository": {"location": "us-central1", "name": REPOSITORY}}],
                  env=gcp.env())
    assert run.result("repo")["changed"] is True, run
    gcp.clear_log()
    return gcp.repository_name(REPOSITORY)


def test_add_is_idempotent_and_check_mode_writes_nothing(ansible, gcp, repository):
    task = repo_binding(members=["user:alice@example.com", "group:readers@example.com"])
    check = ansible(tasks=[task], env=gcp.env(), check=True, diff=True)
    predicted = check.result("bind")
    assert predicted["changed"] is True
    assert predicted["diff"] == {"before": {"role": READER, "members": []},
                                 "after": {"role": READER, "members": ["user:alice@example.com", "group:readers@example.com"]}}
    assert gcp.writes() == []

    first = ansible(tasks=[task], env=gcp.env(), diff=True)
    result = first.result("bind")
    assert result["changed"] is True
    assert result["added"] == ["user:alice@example.com", "group:readers@example.com"]
    assert [w["apiMethod"] for w in gcp.writes()] == ["artifactregistry.repositories.setIamPolicy"]
    assert members_of(repository_policy(gcp), READER) == ["group:readers@example.com", "user:alice@example.com"]

    gcp.clear_log()
    second = ansible(tasks=[task], env=gcp.env())
    assert second.result("bind")["changed"] is False
    assert gcp.writes() == []
    check_again = ansible(tasks=[task], env=gcp.env(), check=True)
    assert check_again.result("bind")["changed"] is False


def test_remove_and_exclusive_keep_other_roles_conditions_and_audit_configs(ansible, gcp, repository):
    conditional = {"role": READER, "members": ["user:temp@example.com"],
                   "condition": {"title": "until-2030", "expression": "request.time < timestamp('2030-01-01T00:00:00Z')"}}
    writer = {"role": "roles/artifactregistry.writer", "members": ["serviceAccount:ci@ci-project.iam.gserviceaccount.com"]}
    audit = [{"service": "allServices", "auditLogConfigs": [{"logType": "DATA_READ"}]}]
    set_repository_policy(gcp, {"version": 3, "bindings": [
        {"role": READER, "members": ["user:alice@example.com", "user:bob@example.com"]}, conditional, writer],
        "auditConfigs": audit}, update_mask=["bindings", "etag", "audit_configs"])
    gcp.clear_log()

    removed = ansible(tasks=[repo_binding(members=["user:bob@example.com"], state="absent")], env=gcp.env(), diff=True)
    result = removed.result("bind")
    assert result["changed"] is True
    assert result["removed"] == ["user:bob@example.com"]
    assert result["diff"]["after"]["members"] == ["user:alice@example.com"]

    exclusive = ansible(tasks=[repo_binding(members=["user:carol@example.com"], exclusive=True)], env=gcp.env())
    result = exclusive.result("bind")
    assert result["changed"] is True
    assert result["members_before"] == ["user:alice@example.com"]
    assert result["members_after"] == ["user:carol@example.com"]

    policy = repository_policy(gcp)
    assert members_of(policy, READER) == ["user:carol@example.com"]
    assert conditional in policy["bindings"]
    assert writer in policy["bindings"]
    assert policy["auditConfigs"] == audit

    gcp.clear_log()
    again = ansible(tasks=[repo_binding(members=["user:carol@example.com"], exclusive=True)], env=gcp.env())
    assert again.result("bind")["changed"] is False
    absent_again = ansible(tasks=[repo_binding(members=["user:bob@example.com"], state="absent")], env=gcp.env())
    assert absent_again.result("bind")["changed"] is False
    assert gcp.writes() == []


def test_member_case_does_not_cause_changes(ansible, gcp, repository):
    ansible(tasks=[repo_binding(members=["user:Alice@Example.com"])], env=gcp.env())
    gcp.clear_log()
    run = ansible(tasks=[repo_binding(members=["user:alice@example.com"])], env=gcp.env())
    assert run.result("bind")["changed"] is False
    assert gcp.writes() == []


def test_twenty_concurrent_writers_on_one_repository_policy(ansible, gcp, repository):
    hosts = ["writer%02d" % i for i in range(20)]
    # A slow read widens the window between getIamPolicy and setIamPolicy, so the writers really collide.
    gcp.inject("artifactregistry.repositories.getIamPolicy", latency=0.3)
    task = repo_binding(members=["user:{{ inventory_hostname }}@example.com"])
    run = ansible(tasks=[task], hosts=hosts, forks=20, env=gcp.env())
    gcp.clear_faults()

    assert run.failed == [], run
    results = run.results("bind")
    assert len(results) == 20 and all(r["changed"] for r in results)
    conflicts = [r for r in gcp.requests("artifactregistry.repositories.setIamPolicy") if r["status"] == 409]
    assert conflicts, "the writers never collided: no 409 in the emulator log"
    assert sum(r["conflicts"] for r in results) == len(conflicts)
    assert members_of(repository_policy(gcp), READER) == sorted("user:%s@example.com" % h for h in hosts)


def sa_binding(gcp, task="bind", **options):
    args = {"service_account": "config-sync@%s.iam.gserviceaccount.com" % gcp.project, "role": WI_USER}
    args.update(options)
    return {"name": task, SA_MODULE: args}


def test_service_account_binding_with_the_workload_identity_member(ansible, gcp):
    gcp.seed_service_account("config-sync@%s.iam.gserviceaccount.com" % gcp.project)
    member = "{{ 'root-sync' | configsync.oci.reconciler_name | configsync.oci.workload_identity_member(fleet_project) }}"
    task = sa_binding(gcp, members=[member])
    extra = {"fleet_project": gcp.project}
    check = ansible(tasks=[task], env=gcp.env(), check=True, extra_vars=extra)
    assert check.result("bind")["changed"] is True
    assert gcp.writes() == []

    first = ansible(tasks=[task], env=gcp.env(), diff=True, extra_vars=extra)
    result = first.result("bind")
    expected = "serviceAccount:%s.svc.id.goog[config-management-system/root-reconciler]" % gcp.project
    assert result["changed"] is True, first
    assert result["members_after"] == [expected]
    assert result["diff"]["after"] == {"role": WI_USER, "members": [expected]}
    assert [w["apiMethod"].rsplit(".", 2)[-2:] for w in gcp.writes()] == [["serviceAccounts", "setIamPolicy"]]

    gcp.clear_log()
    second = ansible(tasks=[task], env=gcp.env(), extra_vars=extra)
    assert second.result("bind")["changed"] is False
    assert gcp.writes() == []

    removed = ansible(tasks=[sa_binding(gcp, members=[member], state="absent")], env=gcp.env(), extra_vars=extra)
    assert removed.result("bind")["removed"] == [expected]


def test_twenty_concurrent_writers_on_one_service_account_policy(ansible, gcp):
    gcp.seed_service_account("config-sync@%s.iam.gserviceaccount.com" % gcp.project)
    hosts = ["cluster%02d" % i for i in range(20)]
    gcp.inject("*serviceAccounts.getIamPolicy", latency=0.3)
    member = "{{ ('sync-' ~ inventory_hostname) | configsync.oci.reconciler_name | configsync.oci.workload_identity_member(fleet_project) }}"
    run = ansible(tasks=[sa_binding(gcp, members=[member])], hosts=hosts, forks=20, env=gcp.env(),
                  extra_vars={"fleet_project": gcp.project})
    gcp.clear_faults()

    assert run.failed == [], run
    assert all(r["changed"] for r in run.results("bind"))
    assert [r for r in gcp.requests() if r["apiMethod"].endswith("serviceAccounts.setIamPolicy") and r["status"] == 409]
    gcp.clear_log()
    final = ansible(tasks=[sa_binding(gcp, task="read", members=["user:nobody@example.com"], state="absent")], env=gcp.env())
    expected = sorted("serviceAccount:%s.svc.id.goog[config-management-system/root-reconciler-sync-%s]" % (gcp.project, h)
                      for h in hosts)
    assert sorted(final.result("read")["members_after"]) == expected
    assert gcp.writes() == []


@pytest.mark.parametrize("options, words", [
    ({"members": ["alice@example.com"]}, ["members", "'alice@example.com'", "serviceAccount:"]),
    ({"members": ["user:"]}, ["members", "'user:'"]),
    ({"role": "artifactregistry.reader"}, ["role", "'artifactregistry.reader'", "roles/"]),
    ({"role": "projects/p/artifactregistry.reader"}, ["role", "roles/"]),
    ({"repository": "Config"}, ["repository", "'Config'"]),
    ({"location": "mars1"}, ["location", "'mars1'"]),
    ({"state": "absent", "exclusive": True}, ["exclusive", "state=present"]),
])
def test_bad_input_fails_before_any_request(ansible, gcp, options, words):
    run = ansible(tasks=[repo_binding(**dict({"members": ["user:alice@example.com"]}, **options))], env=gcp.env())
    message = run.failure_message("bind")
    for word in words:
        assert word in message
    assert gcp.requests() == []


@pytest.mark.parametrize("options, words", [
    ({"service_account": "config-sync"}, ["service_account", "'config-sync'"]),
    ({"members": ["config-sync.svc.id.goog[config-management-system/root-reconciler]"]}, ["members", "principal type"]),
    ({"role": "iam.workloadIdentityUser"}, ["role", "'iam.workloadIdentityUser'"]),
])
def test_service_account_binding_bad_input(ansible, gcp, options, words):
    run = ansible(tasks=[sa_binding(gcp, **dict({"members": ["user:alice@example.com"]}, **options))], env=gcp.env())
    message = run.failure_message("bind")
    for word in words:
        assert word in message
    assert gcp.requests() == []


def test_missing_repository_is_reported(ansible, gcp):
    run = ansible(tasks=[repo_binding(repository="does-not-exist", members=["user:alice@example.com"])], env=gcp.env())
    message = run.failure_message("bind")
    assert "getIamPolicy" in message and "404" in message
    assert gcp.writes() == []


def test_filters_in_a_real_play(ansible, gcp):
    tasks = [
        {"name": "names", "ansible.builtin.set_fact": {
            "root_default": "{{ 'root-sync' | configsync.oci.reconciler_name }}",
            "root_named": "{{ 'prod' | configsync.oci.reconciler_name }}",
            "repo_named": "{{ 'my-sync' | configsync.oci.reconciler_name(namespace='team-a') }}",
            "member": "{{ 'ns-reconciler-team-a' | configsync.oci.workload_identity_member('fleet-host', 'config-management-system') }}",
        }},
        {"name": "too long", "ansible.builtin.set_fact": {"bad": "{{ ('a' * 39) | configsync.oci.reconciler_name }}"}},
    ]
    run = ansible(tasks=tasks, env=gcp.env())
    facts = run.result("names")["ansible_facts"]
    assert facts == {"root_default": "root-reconciler", "root_named": "root-reconciler-prod",
                     "repo_named": "ns-reconciler-team-a-my-sync-7",
                     "member": "serviceAccount:fleet-host.svc.id.goog[config-management-system/ns-reconciler-team-a]"}
    message = run.failure_message("too long")
    assert "configsync.oci.reconciler_name" in message and "maximum length of RootSync name is 38" in message


def test_transient_errors_on_both_policy_apis_are_retried(ansible, gcp, repository):
    gcp.seed_service_account("config-sync@%s.iam.gserviceaccount.com" % gcp.project)
    gcp.inject("*.getIamPolicy", code=503, count=2)
    gcp.inject("*.setIamPolicy", code=429, count=2)
    tasks = [repo_binding(members=["user:alice@example.com"]),
             sa_binding(gcp, task="sa", members=["user:alice@example.com"])]
    run = ansible(tasks=tasks, env=gcp.env())
    assert run.failed == [], run
    assert run.result("bind")["changed"] and run.result("sa")["changed"]
    statuses = [r["status"] for r in gcp.requests() if r["apiMethod"].endswith("IamPolicy")]
    assert statuses.count(503) == 2 and statuses.count(429) == 2


def test_service_account_of_another_project_than_the_play(ansible, gcp):
    # module_defaults often set project to the repository's project; the account's own project must win.
    gcp.seed_project("identity-project", 123456789)
    email = "config-sync@identity-project.iam.gserviceaccount.com"
    gcp.seed_service_account(email)
    task = {"name": "bind", SA_MODULE: {"service_account": email, "role": WI_USER, "members": ["user:alice@example.com"]}}
    run = ansible(tasks=[task], env=gcp.env())
    result = run.result("bind")
    assert result["changed"] is True, run
    assert result["resource"] == "projects/identity-project/serviceAccounts/" + email


def test_missing_project_is_named(ansible, gcp):
    env = dict(gcp.env())
    env.pop("GCP_PROJECT")
    run = ansible(tasks=[repo_binding(members=["user:alice@example.com"])], env=env)
    assert "project is required" in run.failure_message("bind")
    assert gcp.requests() == []
