import pytest

from ansible_collections.configsync.oci.plugins.module_utils.gcp.artifact_registry import (
    AR_LOCATIONS, ArtifactRegistryRuleError, cleanup_policies_body, create_only_conflicts, merged_repository,
    parse_duration, registry_uri, update_mask, validate_format, validate_location, validate_repository_id,
    wanted_repository,
)
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import GcpOptionError

NAME = "projects/p-proj/locations/us-central1/repositories/config-images"


def params(**options):
    base = {"project": "p-proj", "location": "us-central1", "name": "config-images", "format": "docker", "mode": "standard"}
    base.update(options)
    return base


def existing(**fields):
    repository = {"name": NAME, "format": "DOCKER", "mode": "STANDARD_REPOSITORY", "createTime": "2024-04-01T12:34:56Z",
                  "registryUri": "us-central1-docker.pkg.dev/p/config-images"}
    repository.update(fields)
    return repository


@pytest.mark.parametrize("name", ["a", "config-images", "a1", "a" * 63, "repo-2024"])
def test_valid_repository_ids(name):
    assert validate_repository_id(name) == name


@pytest.mark.parametrize("name, words", [
    ("Config", "lowercase"), ("1config", "start with a letter"), ("config-", "end with a letter"), ("con_fig", "lowercase"),
    ("a" * 64, "64 characters, the maximum is 63"), ("", "required"),
])
def test_invalid_repository_ids(name, words):
    with pytest.raises(ArtifactRegistryRuleError, match=words):
        validate_repository_id(name)


def test_repository_id_error_names_the_option_it_came_from():
    with pytest.raises(ArtifactRegistryRuleError, match="^repository 'X'"):
        validate_repository_id("X", "repository")


@pytest.mark.parametrize("location", ["us-central1", "europe-west4", "asia-southeast1", "us", "europe", "asia", "africa-south1"])
def test_known_locations(location):
    assert validate_location(location) == location


@pytest.mark.parametrize("location", ["us-central", "US-CENTRAL1", "global", "eu", "moon-central1", "", None])
def test_unknown_locations(location):
    with pytest.raises(ArtifactRegistryRuleError, match="location"):
        validate_location(location)


def test_location_list_is_regions_and_three_multi_regions():
    assert {"us", "europe", "asia"} <= AR_LOCATIONS
    assert all(loc in ("us", "europe", "asia") or loc.count("-") == 1 for loc in AR_LOCATIONS)


def test_formats():
    assert validate_format("docker") == "DOCKER"
    with pytest.raises(ArtifactRegistryRuleError, match="format 'oci'"):
        validate_format("oci")


@pytest.mark.parametrize("value, expected", [("30d", "2592000s"), ("12h", "43200s"), ("90m", "5400s"), ("3600s", "3600s"),
                                             (3600, "3600s"), ("7 d", "604800s")])
def test_durations(value, expected):
    assert parse_duration(value, "older_than") == expected


@pytest.mark.parametrize("value", ["soon", "-1d", "1w", "1.5h", True])
def test_bad_durations(value):
    with pytest.raises(ArtifactRegistryRuleError, match="older_than"):
        parse_duration(value, "older_than")


def test_cleanup_policies_become_the_api_map():
    body = cleanup_policies_body([
        {"id": "keep", "action": "keep", "most_recent_versions": {"keep_count": 5, "package_name_prefixes": None}},
        {"id": "old", "action": "delete", "condition": {"tag_state": "untagged", "older_than": "30d", "tag_prefixes": None}},
    ])
    assert body == {"keep": {"id": "keep", "action": "KEEP", "mostRecentVersions": {"keepCount": 5}},
                    "old": {"id": "old", "action": "DELETE", "condition": {"tagState": "UNTAGGED", "olderThan": "2592000s"}}}


@pytest.mark.parametrize("policies, words", [
    ([{"id": "a", "condition": {"tag_state": "any"}}, {"id": "a", "condition": {"tag_state": "any"}}], r"cleanup_policies\[1\].id 'a' is used twice"),
    ([{"id": "a"}], r"cleanup_policies\[0\] needs a condition"),
    ([{"id": "a", "condition": {"tag_state": "any"}, "most_recent_versions": {"keep_count": 1}}], "both"),
])
def test_bad_cleanup_policies(policies, words):
    with pytest.raises(ArtifactRegistryRuleError, match=words):
        cleanup_policies_body(policies)


def test_wanted_repository_holds_only_what_the_task_sets():
    assert wanted_repository(params()) == {"name": NAME, "format": "DOCKER", "mode": "STANDARD_REPOSITORY"}
    wanted = wanted_repository(params(description="d", labels={"team": "platform"}, immutable_tags=True))
    assert wanted["description"] == "d" and wanted["labels"] == {"team": "platform"}
    assert wanted["dockerConfig"] == {"immutableTags": True}


@pytest.mark.parametrize("options, words", [
    ({"project": None}, "project is required"),
    ({"mode": "virtual"}, "mode=virtual needs virtual_repository_config"),
    ({"remote_repository_config": {"description": "x"}}, "remote_repository_config is only for mode=remote"),
    ({"immutable_tags": True, "format": "npm"}, "immutable_tags applies to docker"),
])
def test_wanted_repository_refuses(options, words):
    with pytest.raises(GcpOptionError, match=words):
        wanted_repository(params(**options))


def test_nothing_to_update_when_the_api_leaves_defaults_out():
    wanted = wanted_repository(params(description="", labels={}, immutable_tags=False, cleanup_policies=[], cleanup_policy_dry_run=False))
    assert update_mask(existing(), wanted) == []


def test_update_mask_names_only_what_differs():
    current = existing(description="old", labels={"a": "1"}, dockerConfig={"immutableTags": True})
    wanted = wanted_repository(params(description="new", labels={"a": "1"}, immutable_tags=False))
    assert update_mask(current, wanted) == ["description", "docker_config.immutable_tags"]
    merged = merged_repository(current, wanted, ["description", "docker_config.immutable_tags"])
    assert merged["description"] == "new" and merged["dockerConfig"] == {"immutableTags": False}
    assert merged["labels"] == {"a": "1"} and merged["createTime"] == current["createTime"]


def test_unset_options_are_not_compared():
    current = existing(description="kept", labels={"a": "1"})
    assert update_mask(current, wanted_repository(params())) == []


def test_create_only_fields():
    current = existing(kmsKeyName="projects/p/locations/us-central1/keyRings/r/cryptoKeys/one")
    wanted = wanted_repository(params(kms_key_name="projects/p/locations/us-central1/keyRings/r/cryptoKeys/two", format="maven"))
    conflicts = create_only_conflicts(current, wanted)
    assert len(conflicts) == 2
    assert conflicts[0].startswith("format cannot be changed") and conflicts[1].startswith("kms_key_name cannot be changed")
    assert create_only_conflicts(current, wanted_repository(params())) == []


def test_registry_uri():
    assert registry_uri("p", "us-central1", "r") == "us-central1-docker.pkg.dev/p/r"
    assert registry_uri("p", "europe", "r", "python") == "europe-python.pkg.dev/p/r"
    assert registry_uri("p", "us", "r", "generic") is None
