import pytest

from ansible_collections.configsync.oci.plugins.module_utils.configsync.names import (
    ConfigSyncRuleError, reconciler_name, validate_gcp_service_account_email, validate_sync, workload_identity_member,
)


@pytest.mark.parametrize("name, namespace, kind, expected", [
    ("root-sync", None, None, "root-reconciler"),
    ("prod", None, None, "root-reconciler-prod"),
    ("prod", "config-management-system", None, "root-reconciler-prod"),
    ("repo-sync", "team-a", None, "ns-reconciler-team-a"),
    ("my-sync", "team-a", None, "ns-reconciler-team-a-my-sync-7"),
    ("my-sync", "team-a", "RepoSync", "ns-reconciler-team-a-my-sync-7"),
    ("a" * 38, None, None, "root-reconciler-" + "a" * 38),
])
def test_reconciler_names_follow_config_sync(name, namespace, kind, expected):
    assert reconciler_name(name, namespace=namespace, kind=kind) == expected


@pytest.mark.parametrize("name, namespace, kind, message", [
    ("a" * 39, None, None, "maximum length of RootSync name is 38, but found 39"),
    ("a" * 23, "b" * 23, None, "maximum combined length of RepoSync name and namespace is 45, but found 46"),
    ("Prod", None, None, "not a valid Kubernetes name"),
    ("prod_1", None, None, "not a valid Kubernetes name"),
    ("prod", "team-a", "RootSync", "only allowed in the config-management-system namespace, not in team-a"),
    ("sync", "config-management-system", "RepoSync", "RepoSync objects are not allowed in the config-management-system namespace"),
    ("sync", None, "RepoSync", "needs a namespace"),
    ("sync", "Team", None, "not a valid Kubernetes namespace"),
])
def test_names_config_sync_rejects_raise(name, namespace, kind, message):
    with pytest.raises(ConfigSyncRuleError, match=message):
        reconciler_name(name, namespace=namespace, kind=kind)


def test_repo_sync_at_the_limit_is_accepted():
    assert validate_sync("RepoSync", "a" * 22, "b" * 23) == "b" * 23


def test_workload_identity_member():
    assert (workload_identity_member("root-reconciler", "fleet-proj")
            == "serviceAccount:fleet-proj.svc.id.goog[config-management-system/root-reconciler]")


@pytest.mark.parametrize("project", ["", "Fleet", "ab", "1project", "proj_x"])
def test_workload_identity_member_rejects_bad_projects(project):
    with pytest.raises(ConfigSyncRuleError, match="not a valid Google Cloud project ID"):
        workload_identity_member("root-reconciler", project)


@pytest.mark.parametrize("email, message", [
    ("syncer@proj.iam.gserviceaccount.com", None),
    ("short@proj.iam.gserviceaccount.com", "6 to 30 characters"),
    ("syncer@example.com", "must end with .iam.gserviceaccount.com"),
    ("not-an-email", "not an email address"),
])
def test_gcp_service_account_email_rule(email, message):
    if message is None:
        assert validate_gcp_service_account_email(email) == email
    else:
        with pytest.raises(ConfigSyncRuleError, match=message):
            validate_gcp_service_account_email(email)
