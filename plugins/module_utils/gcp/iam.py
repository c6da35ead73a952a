# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IAM bindings on any resource with getIamPolicy/setIamPolicy: one policy edit, one read-modify-write loop.

``edit_policy`` is a pure function on a policy in its JSON shape (``{"version", "etag", "bindings", "auditConfigs"}``):
it changes the members of ONE role's unconditional binding and leaves every other binding, every conditional
binding (also of the same role) and the audit configs as they were. ``read_modify_write`` is generic over a
``get()`` and a ``set(policy)`` callable: it re-reads the policy on every attempt and sends its etag back, so a
concurrent writer makes ``set`` fail with 409 ABORTED instead of being overwritten; it then backs off (exponential,
with jitter) and tries again from a fresh read. Two small stores adapt the Artifact Registry client (repositories)
and the IAM v1 discovery client (service accounts) to that get/set shape.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy
import random
import re
import time

from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import credentials
from ansible_collections.configsync.oci.plugins.module_utils.gcp.clients import client_options, transient_retry
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import (
    api_errors, describe_error, GcpError, GcpOptionError, http_status,
)

# The options every binding module takes besides the resource (doc fragment configsync.oci.iam_binding).
BINDING_ARGSPEC = dict(
    role=dict(type="str", required=True),
    members=dict(type="list", elements="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    exclusive=dict(type="bool", default=False),
)

# IAM principal identifiers (https://cloud.google.com/iam/docs/principal-identifiers).
MEMBER_PREFIXES = ("serviceAccount:", "user:", "group:", "domain:", "principal:", "principalSet:")
MEMBERS_WITHOUT_PREFIX = ("allUsers", "allAuthenticatedUsers")
# Email-like principals IAM compares case-insensitively (it stores them lowercased).
_CASE_INSENSITIVE_PREFIXES = ("serviceAccount:", "user:", "group:", "domain:")
_ROLE = re.compile(r"^(roles/[A-Za-z0-9_.]+|projects/[a-z0-9.:-]+/roles/[A-Za-z0-9_.]+|organizations/[0-9]+/roles/[A-Za-z0-9_.]+)$")
_SERVICE_ACCOUNT = re.compile(r"^([a-z0-9-]+@[a-z0-9.-]+\.gserviceaccount\.com|[0-9]{21})$")
POLICY_VERSION = 3
# principal:// and principalSet:// identifiers: a URI with an authority (iam.googleapis.com, goog) and a path.
_URI_PREFIXES = ("principal:", "principalSet:")
_PRINCIPAL_URI = re.compile(r"^//[a-z0-9.-]+/\S+$")

# Backoff between attempts after a 409: attempt n waits between half and all of min(MAX, BASE * 2**(n-1)) seconds.
DEFAULT_ATTEMPTS = 15
DEFAULT_BASE_DELAY = 0.2
DEFAULT_MAX_DELAY = 8.0


class IamRuleError(GcpOptionError):
    """A role or member IAM would reject; the message names the option and the value."""


class PolicyConflict(Exception):
    """setIamPolicy answered 409: the policy changed since it was read (its etag no longer matches)."""


class PolicyEdit(object):
    """The outcome of ``edit_policy``: the policy to send and the role's members before and after."""

    def __init__(self, policy, before, after):
        self.policy = policy
        self.before = before
        self.after = after
        before_keys, after_keys = set(map(member_key, before)), set(map(member_key, after))
        self.added = [m for m in after if member_key(m) not in before_keys]
        self.removed = [m for m in before if member_key(m) not in after_keys]
        self.changed = bool(self.added or self.removed)


# ---------------------------------------------------------------------------------------------------------------
# Rules (pure)

def validate_role(role):
    if not role or not _ROLE.match(role):
        raise IamRuleError("role %r is not an IAM role: use roles/NAME, projects/PROJECT/roles/NAME or "
                           "organizations/ORG/roles/NAME" % (role,))
    return role


def validate_member(member, option="members"):
    if member in MEMBERS_WITHOUT_PREFIX:
        return member
    for prefix in MEMBER_PREFIXES:
        if member.startswith(prefix) and len(member) > len(prefix):
            if prefix in _URI_PREFIXES and not _PRINCIPAL_URI.match(member[len(prefix):]):
                raise IamRuleError("%s entry %r is not a principal identifier: %s needs a URI such as "
                                   "%s//iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/POOL/..."
                                   % (option, member, prefix, prefix))
            return member
    raise IamRuleError("%s entry %r has no principal type: start it with one of %s (or use allUsers / allAuthenticatedUsers)"
                       % (option, member, ", ".join(MEMBER_PREFIXES)))


def validate_members(members, option="members"):
    """The members, validated, without duplicates (first spelling kept)."""
    unique, seen = [], set()
    for member in members or []:
        validate_member(member, option)
        if member_key(member) not in seen:
            seen.add(member_key(member))
            unique.append(member)
    return unique


def validate_service_account(email):
    if not email or not _SERVICE_ACCOUNT.match(email):
        raise IamRuleError("service_account %r is not a Google service account: use its email "
                           "(NAME@PROJECT.iam.gserviceaccount.com) or its numeric unique ID" % (email,))
    return email


def member_key(member):
    """How IAM compares a member: email-like principals without regard to case."""
    for prefix in _CASE_INSENSITIVE_PREFIXES:
        if member.startswith(prefix):
            return prefix + member[len(prefix):].lower()
    return member


def binding_members(policy, role):
    """The members of ``role``'s unconditional binding(s) in ``policy``."""
    members = []
    for binding in (policy or {}).get("bindings", []):
        if binding.get("role") == role and not binding.get("condition"):
            members.extend(m for m in binding.get("members", []) if m not in members)
    return members


def edit_policy(policy, role, members, state="present", exclusive=False):
    """A new policy where ``role``'s unconditional binding holds ``members`` (present), lacks them (absent), or is
    exactly them (exclusive). Nothing else in the policy changes; the etag is kept so the write is conditional."""
    before = binding_members(policy, role)
    wanted_keys = set(map(member_key, members))
    if state == "absent":
        after = [m for m in before if member_key(m) not in wanted_keys]
    elif exclusive:
        kept = dict((member_key(m), m) for m in before)
        after = [kept.get(member_key(m), m) for m in members]
    else:
        before_keys = set(map(member_key, before))
        after = before + [m for m in members if member_key(m) not in before_keys]
    return PolicyEdit(_with_members(policy, role, after), before, after)


def _with_members(policy, role, members):
    edited = copy.deepcopy(policy or {})
    bindings, placed = [], False
    for binding in edited.get("bindings", []):
        if binding.get("role") == role and not binding.get("condition"):
            if members and not placed:
                binding["members"] = list(members)
                bindings.append(binding)
            placed = True
            continue
        bindings.append(binding)
    if members and not placed:
        bindings.append({"role": role, "members": list(members)})
    edited["bindings"] = bindings
    # Version 3 is the one that can carry conditions; sending it never loses a conditional binding.
    edited["version"] = POLICY_VERSION
    return edited


def backoff_delay(attempt, base=DEFAULT_BASE_DELAY, cap=DEFAULT_MAX_DELAY, rng=random.random):
    """Seconds to wait after the ``attempt``-th conflict: exponential, capped, with "equal jitter" so that writers
    that collided once spread out instead of colliding again in lockstep."""
    ceiling = min(cap, base * (2 ** (attempt - 1)))
    return ceiling / 2 + rng() * ceiling / 2


# ---------------------------------------------------------------------------------------------------------------
# The loop (generic over get/set)

def read_modify_write(get_policy, set_policy, edit, check_mode=False, attempts=DEFAULT_ATTEMPTS, sleep=time.sleep,
                      delay=backoff_delay):
    """Read, edit, write with the read etag; on PolicyConflict start over from a fresh read.

    Returns ``(PolicyEdit, attempts_used, conflicts_seen)``. No write when nothing changes or in check mode.
    """
    conflicts = 0
    for attempt in range(1, attempts + 1):
        result = edit(get_policy())
        if not result.changed or check_mode:
            return result, attempt, conflicts
        try:
            set_policy(result.policy)
            return result, attempt, conflicts
        except PolicyConflict:
            conflicts += 1
            if attempt < attempts:
                sleep(delay(attempt))
    raise GcpError("gave up after %d attempts: the policy kept changing between read and write (409 ABORTED each time)"
                   % attempts)


def wanted_binding(params):
    """The binding change the options (BINDING_ARGSPEC, defaults applied) ask for, every rule checked, no request:
    ``{"role", "members", "state", "exclusive"}`` for ``ensure_binding``."""
    role = validate_role(params["role"])
    members = validate_members(params["members"])
    state, exclusive = params["state"], params["exclusive"]
    if exclusive and state == "absent":
        raise IamRuleError("exclusive applies to state=present (it makes the role's members exactly the list given)")
    if not members and not exclusive:
        raise IamRuleError("members is empty: list at least one member (or set exclusive=true to remove all members of the role)")
    return {"role": role, "members": members, "state": state, "exclusive": exclusive}


def ensure_binding(wanted, store, check_mode):
    """Run the loop on ``store`` for ``wanted`` (``wanted_binding``'s result) and build the module result."""
    role, members, state, exclusive = wanted["role"], wanted["members"], wanted["state"], wanted["exclusive"]
    result, attempts, conflicts = read_modify_write(
        store.get, store.set, lambda policy: edit_policy(policy, role, members, state, exclusive), check_mode=check_mode)
    return {
        "changed": result.changed,
        "resource": store.resource,
        "role": role,
        "members_before": result.before,
        "members_after": result.after,
        "added": result.added,
        "removed": result.removed,
        "attempts": attempts,
        "conflicts": conflicts,
        "diff": {"before": {"role": role, "members": result.before}, "after": {"role": role, "members": result.after}},
    }


# ---------------------------------------------------------------------------------------------------------------
# Stores: the two APIs behind get/set

class RepositoryPolicyStore(object):
    """An Artifact Registry repository's policy through ``ArtifactRegistryClient`` (REST)."""

    def __init__(self, api_client, resource):
        self.client = api_client
        self.resource = resource

    def get(self):
        from google.protobuf import json_format
        try:
            policy = self.client.get_iam_policy(
                request={"resource": self.resource, "options": {"requested_policy_version": POLICY_VERSION}},
                retry=transient_retry(), timeout=60)
        except api_errors() as exc:
            raise _api_error("getIamPolicy", self.resource, exc)
        return json_format.MessageToDict(policy)

    def set(self, policy):
        from google.iam.v1 import policy_pb2
        from google.protobuf import json_format
        message = json_format.ParseDict(policy, policy_pb2.Policy(), ignore_unknown_fields=True)
        try:
            # Safe to retry: the etag makes a repeated write fail with 409 rather than apply twice.
            self.client.set_iam_policy(request={"resource": self.resource, "policy": message}, retry=transient_retry(), timeout=60)
        except api_errors() as exc:
            if http_status(exc) == 409:
                raise PolicyConflict(describe_error(exc))
            raise _api_error("setIamPolicy", self.resource, exc)


class ServiceAccountPolicyStore(object):
    """A Google service account's policy through the IAM v1 discovery client (the admin client has no REST transport)."""

    def __init__(self, iam_service, resource):
        self.service_accounts = iam_service.projects().serviceAccounts()
        self.resource = resource

    def get(self):
        request = self.service_accounts.getIamPolicy(resource=self.resource, options_requestedPolicyVersion=POLICY_VERSION)
        try:
            return transient_retry()(request.execute)()
        except api_errors() as exc:
            raise _api_error("getIamPolicy", self.resource, exc)

    def set(self, policy):
        request = self.service_accounts.setIamPolicy(resource=self.resource, body={"policy": policy})
        try:
            # Safe to retry: the etag makes a repeated write fail with 409 rather than apply twice.
            transient_retry()(request.execute)()
        except api_errors() as exc:
            if http_status(exc) == 409:
                raise PolicyConflict(describe_error(exc))
            raise _api_error("setIamPolicy", self.resource, exc)


def _api_error(method, resource, exc):
    if isinstance(exc, GcpError):
        return exc
    if http_status(exc) is None and not hasattr(exc, "message"):
        # Not an API answer (e.g. a refused connection or a token exchange failure): keep its own words.
        return GcpError("%s on %s failed: %s" % (method, resource, exc))
    return GcpError("%s on %s failed: %s" % (method, resource, describe_error(exc)))


_USER_MANAGED_SA = re.compile(r"^[^@]+@(?P<project>[a-z][a-z0-9-]*)\.iam\.gserviceaccount\.com$")


def service_account_resource(project, email):
    """The account's resource name. A user-managed account's project is in its email, and IAM answers 404 for any other
    project, so a play-wide ``project`` (e.g. the repository's) must not override it; other accounts (the Compute Engine
    default, a unique ID) use ``project``, else ``-`` for IAM to find it."""
    match = _USER_MANAGED_SA.match(email)
    return "projects/%s/serviceAccounts/%s" % (match.group("project") if match else (project or "-"), email)


def iam_service(params):
    """The IAM v1 client from the discovery document shipped in google-api-python-client (no network fetch)."""
    import google_auth_httplib2
    import httplib2
    from googleapiclient import discovery
    http = google_auth_httplib2.AuthorizedHttp(credentials(params), http=httplib2.Http(timeout=60))
    return discovery.build("iam", "v1", http=http, static_discovery=True, cache_discovery=False,
                           client_options=client_options(params, "iam"))
