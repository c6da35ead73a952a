# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Artifact Registry repositories: Google's naming rules, the wanted repository as an API object, the update mask of
what differs, and the thin client layer that reads and writes it.

Repositories are handled as dictionaries in the REST API's JSON shape (camelCase keys, enum names), the shape
``gcloud --format=json`` prints and the shape the module returns. Everything above ``ArtifactRegistryApi`` is a pure
function and tested without a server.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy
import json
import re

from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import credentials, require_project
from ansible_collections.configsync.oci.plugins.module_utils.gcp.clients import client_options, message_to_dict, transient_retry
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import GcpOptionError

# Google Cloud regions plus Artifact Registry's three multi-regions. Artifact Registry's "Repository locations" page
# (https://cloud.google.com/artifact-registry/docs/repositories/repo-locations) defers to `gcloud artifacts locations
# list` (the API's projects.locations.list); this list was compiled from Google's published Cloud region list in
# 2026 and matches that output for the public cloud. A location Google adds later needs one line here.
AR_MULTI_REGIONS = ("asia", "europe", "us")
AR_REGIONS = (
    "africa-south1",
    "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3", "asia-south1", "asia-south2",
    "asia-southeast1", "asia-southeast2", "asia-southeast3",
    "australia-southeast1", "australia-southeast2",
    "europe-central2", "europe-north1", "europe-north2", "europe-southwest1", "europe-west1", "europe-west2",
    "europe-west3", "europe-west4", "europe-west6", "europe-west8", "europe-west9", "europe-west10", "europe-west12",
    "me-central1", "me-central2", "me-west1",
    "northamerica-northeast1", "northamerica-northeast2", "northamerica-south1",
    "southamerica-east1", "southamerica-west1",
    "us-central1", "us-east1", "us-east4", "us-east5", "us-south1", "us-west1", "us-west2", "us-west3", "us-west4",
)
AR_LOCATIONS = frozenset(AR_REGIONS + AR_MULTI_REGIONS)

# Option value -> the API's Repository.Format enum name (google.devtools.artifactregistry.v1).
FORMATS = {
    "docker": "DOCKER", "maven": "MAVEN", "npm": "NPM", "python": "PYTHON", "apt": "APT", "yum": "YUM",
    "go": "GO", "kfp": "KFP", "generic": "GENERIC",
}
MODES = {"standard": "STANDARD_REPOSITORY", "remote": "REMOTE_REPOSITORY", "virtual": "VIRTUAL_REPOSITORY"}
MODE_CONFIG_OPTION = {"remote": "remote_repository_config", "virtual": "virtual_repository_config"}
CLEANUP_ACTIONS = {"delete": "DELETE", "keep": "KEEP"}
TAG_STATES = {"tagged": "TAGGED", "untagged": "UNTAGGED", "any": "ANY"}

# The repository-ID rule of Artifact Registry's documentation: lowercase letters, numbers and hyphens, starts with a
# letter, ends with a letter or number, at most 63 characters (the emulator in tests/harness enforces the same).
REPOSITORY_ID_MAX = 63
LABELS_MAX = 64
LABEL_MAX_LENGTH = 63
_REPOSITORY_ID = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_DURATION_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

# Fields the module can change in place: JSON key path -> update-mask path (the API's proto field names).
UPDATABLE_FIELDS = (
    (("description",), "description"),
    (("labels",), "labels"),
    (("dockerConfig", "immutableTags"), "docker_config.immutable_tags"),
    (("cleanupPolicies",), "cleanup_policies"),
    (("cleanupPolicyDryRun",), "cleanup_policy_dry_run"),
    (("virtualRepositoryConfig",), "virtual_repository_config"),
    (("remoteRepositoryConfig",), "remote_repository_config"),
)
# Fields fixed at creation: JSON key -> option name. Asking for a different value fails, it never recreates.
CREATE_ONLY_FIELDS = (("format", "format"), ("mode", "mode"), ("kmsKeyName", "kms_key_name"))
# The value the API leaves out of its JSON when a field holds its default.
_FIELD_DEFAULTS = {"description": "", "labels": {}, "immutableTags": False, "cleanupPolicies": {}, "cleanupPolicyDryRun": False,
                   "kmsKeyName": "", "virtualRepositoryConfig": {}, "remoteRepositoryConfig": {}}


class ArtifactRegistryRuleError(GcpOptionError):
    """A value Artifact Registry would reject; the message names the option and the value."""


# ---------------------------------------------------------------------------------------------------------------
# Rules (pure)

def validate_repository_id(name, option="name"):
    if not name:
        raise ArtifactRegistryRuleError("%s is required: the repository ID" % option)
    if len(name) > REPOSITORY_ID_MAX:
        raise ArtifactRegistryRuleError("%s %r is not a valid repository ID: it has %d characters, the maximum is %d"
                                        % (option, name, len(name), REPOSITORY_ID_MAX))
    if not _REPOSITORY_ID.match(name):
        raise ArtifactRegistryRuleError("%s %r is not a valid repository ID: use lowercase letters, digits and hyphens, "
                                        "start with a letter and end with a letter or digit" % (option, name))
    return name


def validate_location(location):
    if location not in AR_LOCATIONS:
        raise ArtifactRegistryRuleError("location %r is not an Artifact Registry location; use a region such as us-central1 "
                                        "or a multi-region (%s)" % (location, ", ".join(AR_MULTI_REGIONS)))
    return location


def validate_format(repository_format):
    if repository_format not in FORMATS:
        raise ArtifactRegistryRuleError("format %r is not an Artifact Registry format; choose one of %s"
                                        % (repository_format, ", ".join(sorted(FORMATS))))
    return FORMATS[repository_format]


def _label_text_ok(text, first_letter):
    if len(text) > LABEL_MAX_LENGTH or (first_letter and not (text and text[0].isalpha() and not text[0].isupper())):
        return False
    return all((c.isalnum() and not c.isupper()) or c in "_-" for c in text)


def validate_labels(labels, option="labels"):
    """Google's label rules (https://cloud.google.com/resource-manager/docs/labels-overview#requirements): at most 64;
    keys 1-63 characters starting with a lowercase letter, values at most 63; only lowercase letters (international
    ones too), digits, underscores and dashes."""
    if len(labels) > LABELS_MAX:
        raise ArtifactRegistryRuleError("%s has %d entries; Google allows at most %d" % (option, len(labels), LABELS_MAX))
    for key, value in sorted(labels.items()):
        if not _label_text_ok(key, first_letter=True):
            raise ArtifactRegistryRuleError("%s key %r is not a valid label key: 1-63 lowercase letters, digits, _ or -, "
                                            "starting with a lowercase letter" % (option, key))
        if not _label_text_ok(value, first_letter=False):
            raise ArtifactRegistryRuleError("%s value %r (key %r) is not a valid label value: at most 63 lowercase "
                                            "letters, digits, _ or -" % (option, value, key))
    return labels


def parse_duration(value, option):
    """A cleanup-policy age as the API's Duration JSON (``"86400s"``); accepts ``30d``, ``12h``, ``90m``, ``3600s``, 3600."""
    if isinstance(value, bool):
        raise ArtifactRegistryRuleError("%s %r is not a duration" % (option, value))
    match = _DURATION.match(str(value))
    if not match:
        raise ArtifactRegistryRuleError("%s %r is not a duration: use a number of seconds or a number followed by s, m, h or d"
                                        % (option, value))
    return "%ds" % (int(match.group(1)) * _DURATION_SECONDS[match.group(2)])


def repository_name(project, location, repository):
    return "projects/%s/locations/%s/repositories/%s" % (project, location, repository)


def registry_uri(project, location, repository, repository_format="docker"):
    """Where clients reach the repository, e.g. ``us-central1-docker.pkg.dev/PROJECT/REPO`` (None for generic)."""
    if repository_format == "generic":
        return None
    return "%s-%s.pkg.dev/%s/%s" % (location, repository_format, project, repository)


def cleanup_policies_body(policies):
    """The module's list of cleanup policies as the API's ``cleanupPolicies`` map (id -> CleanupPolicy)."""
    body = {}
    for index, policy in enumerate(policies or []):
        where = "cleanup_policies[%d]" % index
        policy_id = policy.get("id")
        if not policy_id:
            raise ArtifactRegistryRuleError("%s.id is required" % where)
        if policy_id in body:
            raise ArtifactRegistryRuleError("%s.id %r is used twice" % (where, policy_id))
        item = {"id": policy_id, "action": CLEANUP_ACTIONS[policy.get("action") or "delete"]}
        if policy.get("condition") and policy.get("most_recent_versions"):
            raise ArtifactRegistryRuleError("%s sets both condition and most_recent_versions; a policy has one of them" % where)
        if policy.get("condition"):
            item["condition"] = _condition_body(policy["condition"], where + ".condition")
        elif policy.get("most_recent_versions"):
            item["mostRecentVersions"] = _most_recent_body(policy["most_recent_versions"])
        else:
            raise ArtifactRegistryRuleError("%s needs a condition or most_recent_versions" % where)
        body[policy_id] = item
    return body


def _condition_body(condition, where):
    body = {}
    if condition.get("tag_state"):
        body["tagState"] = TAG_STATES[condition["tag_state"]]
    for option, key in (("tag_prefixes", "tagPrefixes"), ("version_name_prefixes", "versionNamePrefixes"),
                        ("package_name_prefixes", "packageNamePrefixes")):
        if condition.get(option):
            body[key] = list(condition[option])
    for option, key in (("older_than", "olderThan"), ("newer_than", "newerThan")):
        if condition.get(option) not in (None, ""):
            body[key] = parse_duration(condition[option], "%s.%s" % (where, option))
    return body


def _most_recent_body(most_recent):
    body = {}
    if most_recent.get("package_name_prefixes"):
        body["packageNamePrefixes"] = list(most_recent["package_name_prefixes"])
    if most_recent.get("keep_count") is not None:
        if int(most_recent["keep_count"]) < 0:
            raise ArtifactRegistryRuleError("cleanup_policies most_recent_versions.keep_count must not be negative, got %s"
                                            % most_recent["keep_count"])
        body["keepCount"] = int(most_recent["keep_count"])
    return body


def wanted_repository(params):
    """The repository the options ask for, in API JSON shape; only the fields the user set (validated, no request)."""
    project = require_project(params)
    location = validate_location(params.get("location"))
    repository_id = validate_repository_id(params.get("name"))
    repository_format = params.get("format") or "docker"
    mode = params.get("mode") or "standard"
    wanted = {
        "name": repository_name(project, location, repository_id),
        "format": validate_format(repository_format),
        "mode": MODES[mode],
    }
    _check_mode_config(params, mode)
    if params.get("description") is not None:
        wanted["description"] = params["description"]
    if params.get("labels") is not None:
        wanted["labels"] = validate_labels(dict((str(k), str(v)) for k, v in params["labels"].items()))
    if params.get("immutable_tags") is not None:
        if repository_format != "docker":
            raise ArtifactRegistryRuleError("immutable_tags applies to docker repositories, not format %r" % repository_format)
        wanted["dockerConfig"] = {"immutableTags": bool(params["immutable_tags"])}
    if params.get("kms_key_name"):
        wanted["kmsKeyName"] = params["kms_key_name"]
    if params.get("cleanup_policies") is not None:
        wanted["cleanupPolicies"] = cleanup_policies_body(params["cleanup_policies"])
    if params.get("cleanup_policy_dry_run") is not None:
        wanted["cleanupPolicyDryRun"] = bool(params["cleanup_policy_dry_run"])
    for option in MODE_CONFIG_OPTION.values():
        if params.get(option):
            wanted[_json_key(option)] = copy.deepcopy(params[option])
    return wanted


def _check_mode_config(params, mode):
    for config_mode, option in MODE_CONFIG_OPTION.items():
        if params.get(option) and mode != config_mode:
            raise ArtifactRegistryRuleError("%s is only for mode=%s, but mode is %s" % (option, config_mode, mode))
    if mode in MODE_CONFIG_OPTION and not params.get(MODE_CONFIG_OPTION[mode]):
        raise ArtifactRegistryRuleError("mode=%s needs %s" % (mode, MODE_CONFIG_OPTION[mode]))


def _json_key(option):
    head, tail = option.split("_", 1)
    return head + "".join(part.title() for part in tail.split("_"))


def _lookup(obj, path):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _FIELD_DEFAULTS.get(path[-1])
        obj = obj[key]
    return obj


def _normalised(value):
    """Drop empty lists/dicts the API leaves out of its JSON, so ``[]`` and a missing field compare equal."""
    if isinstance(value, dict):
        return dict((k, _normalised(v)) for k, v in value.items() if v not in ([], {}, None))
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def create_only_conflicts(existing, wanted):
    """Messages for create-only fields that differ (format, mode, kms_key_name); an empty list when none do."""
    conflicts = []
    for key, option in CREATE_ONLY_FIELDS:
        if key not in wanted:
            continue
        have, want = _lookup(existing, (key,)), wanted[key]
        if have != want:
            conflicts.append("%s cannot be changed on an existing repository (it is %r, the task asks for %r); "
                             "create a new repository instead" % (option, have, want))
    return conflicts


def update_mask(existing, wanted):
    """The update-mask paths of the updatable fields the task sets and that differ from ``existing``."""
    paths = []
    for path, mask_path in UPDATABLE_FIELDS:
        if path[0] not in wanted:
            continue
        if _normalised(_lookup(existing, path)) != _normalised(_lookup(wanted, path)):
            paths.append(mask_path)
    return paths


def merged_repository(existing, wanted, paths):
    """``existing`` with the masked fields taken from ``wanted``: what the repository looks like after the PATCH."""
    merged = copy.deepcopy(existing)
    for path, mask_path in UPDATABLE_FIELDS:
        if mask_path not in paths:
            continue
        target = merged
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = copy.deepcopy(_lookup(wanted, path))
    return merged


def comparable_view(repository):
    """The part of a repository the module manages, for diff output."""
    if not repository:
        return {}
    view = {}
    for key, dummy_option in CREATE_ONLY_FIELDS:
        view[key] = _lookup(repository, (key,))
    for path, dummy_mask in UPDATABLE_FIELDS:
        value = _normalised(_lookup(repository, path))
        if value not in (None, {}, "") or path[0] in ("description", "labels"):
            view[".".join(path)] = value
    return view


# ---------------------------------------------------------------------------------------------------------------
# Client layer

def client(params):
    """An ArtifactRegistryClient (REST) with the module's credentials and endpoint."""
    from google.cloud import artifactregistry_v1
    return artifactregistry_v1.ArtifactRegistryClient(
        credentials=credentials(params), transport="rest", client_options=client_options(params, "artifactregistry"))


def canonical_mode_configs(wanted):
    """Remote/virtual configs as the API prints them (camelCase, enum names), so snake_case input compares equal."""
    from google.protobuf import json_format
    for option in MODE_CONFIG_OPTION.values():
        key = _json_key(option)
        if key in wanted:
            try:
                wanted[key] = message_to_dict(_repository_message({key: wanted[key]}, strict=True)).get(key, {})
            except json_format.ParseError as exc:
                raise ArtifactRegistryRuleError("%s is not a valid %s: %s" % (option, key, exc))
    return wanted


def _repository_message(body, strict=False):
    from google.cloud import artifactregistry_v1
    # Output-only fields a newer API returns may be unknown to this library version: they are not ours to send anyway.
    return artifactregistry_v1.Repository.from_json(json.dumps(body), ignore_unknown_fields=not strict)


class ArtifactRegistryApi(object):
    """The reads and writes ``ensure_repository`` needs, with repositories as API JSON dictionaries."""

    def __init__(self, api_client, timeout=300):
        self.client = api_client
        self.timeout = timeout
        # Every call rides out 429/5xx. A retried create whose first attempt went through answers 409, which create()
        # takes as "exists": the repository is then read and compared like any existing one.
        self.retry = transient_retry()

    def get(self, name):
        from google.api_core import exceptions
        try:
            return message_to_dict(self.client.get_repository(name=name, retry=self.retry, timeout=60))
        except exceptions.NotFound:
            return None

    def create(self, wanted):
        """The created repository, or None when it already exists (created meanwhile by someone else)."""
        from google.api_core import exceptions
        parent, dummy, repository_id = wanted["name"].rpartition("/repositories/")
        repository = _repository_message(wanted)
        try:
            operation = self.client.create_repository(parent=parent, repository=repository, repository_id=repository_id,
                                                      retry=self.retry, timeout=60)
        except exceptions.Conflict:
            # REST errors map by HTTP status alone, so ALREADY_EXISTS arrives as a plain 409 Conflict.
            return None
        return message_to_dict(operation.result(timeout=self.timeout))

    def update(self, wanted, paths):
        from google.protobuf import field_mask_pb2
        repository = _repository_message(wanted)
        mask = field_mask_pb2.FieldMask(paths=list(paths))
        return message_to_dict(self.client.update_repository(repository=repository, update_mask=mask, retry=self.retry, timeout=60))

    def has_packages(self, name):
        pager = self.client.list_packages(request={"parent": name, "page_size": 1}, retry=self.retry, timeout=60)
        for dummy_package in pager:
            return True
        return False

    def delete(self, name):
        self.client.delete_repository(name=name, retry=self.retry, timeout=60).result(timeout=self.timeout)


def ensure_repository(params, wanted, api, check_mode):
    """Make the repository match ``wanted`` (``wanted_repository(params)``); returns the module result (raises GcpError
    on refusals)."""
    wanted = canonical_mode_configs(wanted)
    existing = api.get(wanted["name"])
    if params["state"] == "absent":
        return _ensure_absent(params, api, check_mode, wanted, existing)
    if existing is None:
        if check_mode:
            return _result(params, True, None, wanted)
        created = api.create(wanted)
        if created is not None:
            return _result(params, True, None, created)
        # Another writer (a parallel play for the next cluster) created it first: carry on as with an existing one.
        existing = api.get(wanted["name"])
    conflicts = create_only_conflicts(existing, wanted)
    if conflicts:
        raise ArtifactRegistryRuleError("repository %s: %s" % (wanted["name"], "; ".join(conflicts)))
    paths = update_mask(existing, wanted)
    if not paths:
        return _result(params, False, existing, existing)
    after = merged_repository(existing, wanted, paths)
    if not check_mode:
        after = api.update(after, paths)
    result = _result(params, True, existing, after)
    result["update_mask"] = paths
    return result


def absent_mismatches(existing, wanted, params):
    """What the stated options say that the repository is not (format and mode count only when given)."""
    stated = dict((key, value) for key, value in wanted.items()
                  if not (key == "format" and not params.get("format")) and not (key == "mode" and not params.get("mode")))
    found = []
    for key, option in CREATE_ONLY_FIELDS:
        if key in stated and _lookup(existing, (key,)) != stated[key]:
            found.append("%s is %r, not %r" % (option, _lookup(existing, (key,)), stated[key]))
    for mask_path in update_mask(existing, stated):
        found.append("%s differs" % mask_path)
    return found


def _ensure_absent(params, api, check_mode, wanted, existing):
    if existing is None:
        return _result(params, False, None, None)
    mismatches = absent_mismatches(existing, wanted, params)
    if mismatches:
        raise ArtifactRegistryRuleError("repository %s is not the one described (%s): state=absent deletes only a matching "
                                        "repository; nothing was deleted" % (wanted["name"], "; ".join(mismatches)))
    if not params["force"] and api.has_packages(wanted["name"]):
        raise ArtifactRegistryRuleError("repository %s still holds packages; deleting it deletes them too. Set force=true to "
                                        "delete it anyway" % wanted["name"])
    if not check_mode:
        api.delete(wanted["name"])
    return _result(params, True, existing, None)


def _result(params, changed, before, after):
    project, location, name = params["project"], params["location"], params["name"]
    uri = (after or {}).get("registryUri") or registry_uri(project, location, name, params.get("format") or "docker")
    return {
        "changed": changed,
        "repository": after or {},
        "registry_uri": uri if after else None,
        "registry_host": uri.split("/", 1)[0] if (after and uri) else None,
        "diff": {"before": comparable_view(before), "after": comparable_view(after)},
    }
