import copy

import pytest

from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import GcpError
from ansible_collections.configsync.oci.plugins.module_utils.gcp.iam import (
    backoff_delay, binding_members, edit_policy, ensure_binding, IamRuleError, member_key, PolicyConflict,
    read_modify_write, service_account_resource, validate_member, validate_members, validate_role, validate_service_account,
    wanted_binding,
)

READER = "roles/artifactregistry.reader"
CONDITIONAL = {"role": READER, "members": ["user:temp@example.com"],
               "condition": {"title": "t", "expression": "request.time < timestamp('2030-01-01T00:00:00Z')"}}
WRITER = {"role": "roles/artifactregistry.writer", "members": ["group:ci@example.com"]}
AUDIT = [{"service": "allServices", "auditLogConfigs": [{"logType": "DATA_READ"}]}]


def policy(*reader_members):
    bindings = [WRITER, CONDITIONAL]
    if reader_members:
        bindings = [{"role": READER, "members": list(reader_members)}] + bindings
    return {"version": 1, "etag": "BwYW4c5j91M=", "bindings": copy.deepcopy(bindings), "auditConfigs": copy.deepcopy(AUDIT)}


def others(edited):
    return [b for b in edited["bindings"] if b["role"] != READER or b.get("condition")]


@pytest.mark.parametrize("role", ["roles/artifactregistry.reader", "projects/my-proj/roles/custom.reader",
                                  "organizations/123456/roles/myRole", "roles/iam.workloadIdentityUser"])
def test_valid_roles(role):
    assert validate_role(role) == role


@pytest.mark.parametrize("role", ["artifactregistry.reader", "role/viewer", "projects/p/artifactregistry.reader",
                                  "organizations/abc/roles/x", "", None, "roles/"])
def test_invalid_roles_name_the_option(role):
    with pytest.raises(IamRuleError, match="role"):
        validate_role(role)


@pytest.mark.parametrize("member", [
    "serviceAccount:sa@p.iam.gserviceaccount.com", "serviceAccount:p.svc.id.goog[config-management-system/root-reconciler]",
    "user:a@example.com", "group:g@example.com", "domain:example.com",
    "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p.svc.id.goog/subject/x",
    "principalSet://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p.svc.id.goog/namespace.x",
    "allUsers", "allAuthenticatedUsers",
])
def test_valid_members(member):
    assert validate_member(member) == member


@pytest.mark.parametrize("member", ["a@example.com", "user:", "serviceaccount:sa@p.iam.gserviceaccount.com", "everyone", ""])
def test_members_without_a_known_prefix_fail(member):
    with pytest.raises(IamRuleError, match="members entry"):
        validate_member(member)


def test_members_are_deduplicated_case_insensitively_for_emails():
    assert validate_members(["user:A@example.com", "user:a@example.com", "group:g@example.com"]) == \
        ["user:A@example.com", "group:g@example.com"]
    assert member_key("serviceAccount:SA@P.iam.gserviceaccount.com") == "serviceAccount:sa@p.iam.gserviceaccount.com"
    assert member_key("principal://X") == "principal://X"


@pytest.mark.parametrize("email", ["config-sync@my-proj.iam.gserviceaccount.com", "123-compute@developer.gserviceaccount.com",
                                   "123456789012345678901"])
def test_valid_service_accounts(email):
    assert validate_service_account(email) == email


@pytest.mark.parametrize("email", ["config-sync", "user@example.com", "", None])
def test_invalid_service_accounts(email):
    with pytest.raises(IamRuleError, match="service_account"):
        validate_service_account(email)


def test_add_keeps_everything_else():
    original = policy("user:a@example.com")
    edit = edit_policy(original, READER, ["user:b@example.com"])
    assert edit.changed and edit.added == ["user:b@example.com"] and edit.removed == []
    assert binding_members(edit.policy, READER) == ["user:a@example.com", "user:b@example.com"]
    assert others(edit.policy) == [WRITER, CONDITIONAL]
    assert edit.policy["auditConfigs"] == AUDIT
    assert edit.policy["etag"] == original["etag"]
    assert edit.policy["version"] == 3
    assert original == policy("user:a@example.com"), "the input policy must not be modified"


def test_add_to_an_empty_policy_creates_the_binding():
    edit = edit_policy({"etag": "ACAB"}, READER, ["user:a@example.com"])
    assert edit.policy == {"etag": "ACAB", "version": 3, "bindings": [{"role": READER, "members": ["user:a@example.com"]}]}


def test_add_of_present_members_changes_nothing():
    edit = edit_policy(policy("user:a@example.com"), READER, ["user:A@EXAMPLE.com"])
    assert not edit.changed


def test_remove_keeps_the_conditional_binding_of_the_same_role():
    edit = edit_policy(policy("user:a@example.com", "user:temp@example.com"), READER, ["user:temp@example.com"], state="absent")
    assert edit.removed == ["user:temp@example.com"]
    assert binding_members(edit.policy, READER) == ["user:a@example.com"]
    assert CONDITIONAL in edit.policy["bindings"]


def test_removing_the_last_member_drops_the_binding():
    edit = edit_policy(policy("user:a@example.com"), READER, ["user:a@example.com"], state="absent")
    assert [b for b in edit.policy["bindings"] if b["role"] == READER and not b.get("condition")] == []
    assert others(edit.policy) == [WRITER, CONDITIONAL]


def test_remove_of_absent_members_changes_nothing():
    assert not edit_policy(policy("user:a@example.com"), READER, ["user:z@example.com"], state="absent").changed


def test_exclusive_replaces_the_members_and_keeps_existing_spelling():
    edit = edit_policy(policy("user:A@example.com", "user:b@example.com"), READER, ["user:a@example.com", "user:c@example.com"],
                       exclusive=True)
    assert edit.after == ["user:A@example.com", "user:c@example.com"]
    assert edit.added == ["user:c@example.com"] and edit.removed == ["user:b@example.com"]
    assert CONDITIONAL in edit.policy["bindings"] and WRITER in edit.policy["bindings"]


def test_exclusive_with_no_members_removes_the_binding():
    edit = edit_policy(policy("user:a@example.com"), READER, [], exclusive=True)
    assert edit.removed == ["user:a@example.com"]
    assert binding_members(edit.policy, READER) == []


def test_backoff_grows_is_capped_and_jittered():
    assert backoff_delay(1, base=0.2, cap=8, rng=lambda: 0.0) == pytest.approx(0.1)
    assert backoff_delay(1, base=0.2, cap=8, rng=lambda: 1.0) == pytest.approx(0.2)
    assert backoff_delay(4, base=0.2, cap=8, rng=lambda: 1.0) == pytest.approx(1.6)
    assert backoff_delay(20, base=0.2, cap=8, rng=lambda: 1.0) == pytest.approx(8)
    assert backoff_delay(20, base=0.2, cap=8, rng=lambda: 0.0) == pytest.approx(4)


class FakeServer(object):
    """A policy store with an etag, where another writer slips in a change before the first ``conflicts`` writes."""

    def __init__(self, conflicts=0):
        self.policy = {"etag": "e0", "bindings": []}
        self.conflicts_left = conflicts
        self.reads = self.writes = 0

    def get(self):
        self.reads += 1
        return copy.deepcopy(self.policy)

    def set(self, policy):
        if self.conflicts_left:
            self.conflicts_left -= 1
            self.policy["bindings"].append({"role": "roles/other%d" % self.conflicts_left, "members": ["user:x@example.com"]})
            self.policy["etag"] = "e-other-%d" % self.conflicts_left
        if policy.get("etag") != self.policy["etag"]:
            raise PolicyConflict("409 ABORTED")
        self.writes += 1
        self.policy = dict(copy.deepcopy(policy), etag="e%d" % (self.writes + 10))


def adding(member):
    return lambda p: edit_policy(p, READER, [member])


def test_loop_rereads_after_a_conflict_and_keeps_the_other_writers_change():
    server, sleeps = FakeServer(conflicts=3), []
    edit, attempts, conflicts = read_modify_write(server.get, server.set, adding("user:a@example.com"), sleep=sleeps.append)
    assert (attempts, conflicts, server.reads, server.writes) == (4, 3, 4, 1)
    assert len(sleeps) == 3 and sleeps[0] < 0.25
    assert edit.changed
    roles = [b["role"] for b in server.policy["bindings"]]
    assert roles.count(READER) == 1 and len(roles) == 4


def test_loop_gives_up_after_the_attempts():
    server = FakeServer(conflicts=100)
    with pytest.raises(GcpError, match="gave up after 5 attempts"):
        read_modify_write(server.get, server.set, adding("user:a@example.com"), attempts=5, sleep=lambda s: None)
    assert server.writes == 0


def test_loop_in_check_mode_and_when_nothing_changes_only_reads():
    server = FakeServer()
    read_modify_write(server.get, server.set, adding("user:a@example.com"), check_mode=True)
    assert (server.reads, server.writes) == (1, 0)
    read_modify_write(server.get, server.set, adding("user:a@example.com"))
    read_modify_write(server.get, server.set, adding("user:a@example.com"))
    assert (server.reads, server.writes) == (3, 1)


def test_ensure_binding_result_and_option_checks():
    server = FakeServer()
    server.resource = "projects/p/locations/us/repositories/r"
    # The options as the module passes them: BINDING_ARGSPEC's defaults applied.
    wanted = wanted_binding({"role": READER, "members": ["user:a@example.com"], "state": "present", "exclusive": False})
    result = ensure_binding(wanted, server, check_mode=False)
    assert result["changed"] and result["members_after"] == ["user:a@example.com"]
    assert result["diff"] == {"before": {"role": READER, "members": []}, "after": {"role": READER, "members": ["user:a@example.com"]}}
    requests = (server.reads, server.writes)
    with pytest.raises(IamRuleError, match="exclusive"):
        wanted_binding({"role": READER, "members": ["user:a@example.com"], "state": "absent", "exclusive": True})
    with pytest.raises(IamRuleError, match="members is empty"):
        wanted_binding({"role": READER, "members": [], "state": "present", "exclusive": False})
    with pytest.raises(IamRuleError):
        wanted_binding({"role": "artifactregistry.reader", "members": ["user:a@example.com"], "state": "present", "exclusive": False})
    assert (server.reads, server.writes) == requests  # the rules send nothing


@pytest.mark.parametrize("project, email, expected", [
    ("repo-project", "config-sync@sa-project.iam.gserviceaccount.com", "projects/sa-project/serviceAccounts/config-sync@sa-project.iam.gserviceaccount.com"),
    ("p", "123-compute@developer.gserviceaccount.com", "projects/p/serviceAccounts/123-compute@developer.gserviceaccount.com"),
    (None, "123456789012345678901", "projects/-/serviceAccounts/123456789012345678901"),
])
def test_service_account_resource(project, email, expected):
    assert service_account_resource(project, email) == expected
