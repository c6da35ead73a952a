"""A local, in-memory emulator of the Google Cloud REST APIs this collection calls.

Served on one 127.0.0.1 port, so every client library can be pointed at it with an endpoint override:

- Artifact Registry v1: repositories create (LRO) / get / list / patch / delete (LRO), operations get,
  packages list, repository getIamPolicy (GET) / setIamPolicy (POST).
- IAM v1: projects.serviceAccounts get / getIamPolicy (POST) / setIamPolicy.
- Service Usage v1: services get / list / enable (LRO) / disable (LRO) / batchEnable (LRO), operations get.
- OAuth2 ``/token`` (JWT-bearer grant of a service-account key) and self-signed JWTs as bearer tokens.
- Security Token Service v1 ``/v1/token`` (fleet Workload Identity's token exchange, tests/harness/gcp_sts.py) and
  IAM Service Account Credentials v1 ``projects.serviceAccounts.generateAccessToken``; clients reach them under their
  real host names through the harness's HTTPS front (tests/harness/ar_docker.py).

Test control lives under ``/__emulator/`` (request log, reset, seeding, fault and latency injection);
see docs/emulator.md. Run it with ``python tests/harness/gcp_emulator.py --port 0 --port-file F``.

Only the standard library and ``cryptography`` (already a test dependency) are used.
"""
import argparse
import base64
import copy
import fnmatch
import hashlib
import json
import os
import re
import secrets
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

try:
    from harness import gcp_sts, gke_fleet
except ImportError:  # run as a script from tests/harness
    import gcp_sts  # pylint: disable=import-error
    import gke_fleet  # pylint: disable=import-error

# --------------------------------------------------------------------------------------------------
# Constants taken from the real APIs (recorded traffic, API reference pages, client libraries)
# --------------------------------------------------------------------------------------------------

AR_OPERATION_METADATA = "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata"
AR_REPOSITORY_TYPE = "type.googleapis.com/google.devtools.artifactregistry.v1.Repository"
EMPTY_TYPE = "type.googleapis.com/google.protobuf.Empty"
SU_OPERATION_METADATA = "type.googleapis.com/google.api.serviceusage.v1.OperationMetadata"
SU_ENABLE_RESPONSE = "type.googleapis.com/google.api.serviceusage.v1.EnableServiceResponse"
SU_DISABLE_RESPONSE = "type.googleapis.com/google.api.serviceusage.v1.DisableServiceResponse"
SU_BATCH_ENABLE_RESPONSE = "type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse"
SU_NOOP_OPERATION = "operations/noop.DONE_OPERATION"

# The etag IAM returns for a resource whose policy was never written.
EMPTY_POLICY_ETAG = "ACAB"
CONCURRENT_POLICY_CHANGE = ("There were concurrent policy changes. Please retry the whole read-modify-write with "
                            "exponential backoff.")
MEMBER_FORM = 'Policy members must be of the form "<type>:<value>".'
NOT_FOUND = "Requested entity was not found."
INVALID_ARGUMENT = "Request contains an invalid argument."
UNAUTHENTICATED_INVALID = ("Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
                           "or other valid authentication credential. See "
                           "https://developers.google.com/identity/sign-in/web/devconsole-project.")
UNAUTHENTICATED_MISSING = ("Request is missing required authentication credential. Expected OAuth 2 access token, "
                           "login cookie or other valid authentication credential. See "
                           "https://developers.google.com/identity/sign-in/web/devconsole-project.")
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
ACCESS_TOKEN_LIFETIME = 3599
# Google accepts JWT assertions valid for at most an hour.
MAX_ASSERTION_LIFETIME = 3600
CLOCK_SKEW = 300

# Canonical HTTP code for each google.rpc.Code name used here.
STATUS_CODES = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
    "ABORTED": 409, "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499, "INTERNAL": 500,
    "UNIMPLEMENTED": 501, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504, "UNKNOWN": 500, "DATA_LOSS": 500,
}
# The status an injected fault uses when only an HTTP code is given.
DEFAULT_STATUS_FOR_CODE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                           409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL",
                           501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
REASON_PHRASES = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                  409: "Conflict", 429: "Too Many Requests", 499: "Client Closed Request", 500: "Internal Server Error",
                  501: "Not Implemented", 503: "Service Unavailable", 504: "Gateway Timeout"}

# Artifact Registry locations (regions and multi-regions) as listed in its documentation.
AR_LOCATIONS = frozenset("""
africa-south1 asia-east1 asia-east2 asia-northeast1 asia-northeast2 asia-northeast3 asia-south1 asia-south2
asia-southeast1 asia-southeast2 australia-southeast1 australia-southeast2 europe-central2 europe-north1 europe-north2
europe-southwest1 europe-west1 europe-west2 europe-west3 europe-west4 europe-west6 europe-west8 europe-west9
europe-west10 europe-west12 me-central1 me-central2 me-west1 northamerica-northeast1 northamerica-northeast2
northamerica-south1 southamerica-east1 southamerica-west1 us-central1 us-east1 us-east4 us-east5 us-south1 us-west1
us-west2 us-west3 us-west4 asia europe us
""".split())
AR_REPOSITORY_ID = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
AR_REPOSITORY_ID_MAX = 63
AR_KMS_KEY = re.compile(r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
AR_REGISTRY_HOSTS = {"DOCKER": "docker.pkg.dev", "MAVEN": "maven.pkg.dev", "NPM": "npm.pkg.dev", "PYTHON": "python.pkg.dev",
                     "APT": "apt.pkg.dev", "YUM": "yum.pkg.dev", "GO": "go.pkg.dev", "KFP": "kfp.pkg.dev",
                     "GENERIC": "generic.pkg.dev", "RUBY": "ruby.pkg.dev"}
# Formats container scanning looks at; the others report SCANNING_UNSUPPORTED.
AR_SCANNED_FORMATS = frozenset(["DOCKER", "MAVEN", "NPM", "PYTHON", "GO"])
AR_FORMAT_CONFIGS = {"mavenConfig": ("Maven", "MAVEN"), "dockerConfig": ("Docker", "DOCKER")}
# Repository fields a client may send; everything else in the body is an unknown name to ESF.
AR_REPOSITORY_FIELDS = frozenset([
    "mavenConfig", "dockerConfig", "virtualRepositoryConfig", "remoteRepositoryConfig", "name", "format", "description",
    "labels", "createTime", "updateTime", "kmsKeyName", "mode", "cleanupPolicies", "sizeBytes", "satisfiesPzs",
    "cleanupPolicyDryRun", "vulnerabilityScanningConfig", "disallowUnspecifiedMode", "satisfiesPzi", "registryUri"])
AR_OUTPUT_ONLY = frozenset(["createTime", "updateTime", "sizeBytes", "satisfiesPzs", "satisfiesPzi", "registryUri"])
AR_IMMUTABLE = frozenset(["name", "format", "kmsKeyName", "mode"])
AR_MUTABLE = frozenset(["description", "labels", "mavenConfig", "dockerConfig", "virtualRepositoryConfig",
                        "remoteRepositoryConfig", "cleanupPolicies", "cleanupPolicyDryRun", "vulnerabilityScanningConfig",
                        "disallowUnspecifiedMode"])

# Enums the REST transport asks to receive as numbers ($alt=json;enum-encoding=int), by JSON field name.
ENUMS = {
    "format": ("google.devtools.artifactregistry.v1.Repository.Format",
               {"FORMAT_UNSPECIFIED": 0, "DOCKER": 1, "MAVEN": 2, "NPM": 3, "APT": 5, "YUM": 6, "PYTHON": 8, "KFP": 9,
                "GO": 10, "GENERIC": 11, "RUBY": 12}),
    "mode": ("google.devtools.artifactregistry.v1.Repository.Mode",
             {"MODE_UNSPECIFIED": 0, "STANDARD_REPOSITORY": 1, "VIRTUAL_REPOSITORY": 2, "REMOTE_REPOSITORY": 3}),
    "enablementConfig": ("google.devtools.artifactregistry.v1.Repository.VulnerabilityScanningConfig.EnablementConfig",
                         {"ENABLEMENT_CONFIG_UNSPECIFIED": 0, "INHERITED": 1, "DISABLED": 2}),
    "enablementState": ("google.devtools.artifactregistry.v1.Repository.VulnerabilityScanningConfig.EnablementState",
                        {"ENABLEMENT_STATE_UNSPECIFIED": 0, "SCANNING_UNSUPPORTED": 1, "SCANNING_DISABLED": 2,
                         "SCANNING_ACTIVE": 3}),
    "action": ("google.devtools.artifactregistry.v1.CleanupPolicy.Action", {"ACTION_UNSPECIFIED": 0, "DELETE": 1, "KEEP": 2}),
    "tagState": ("google.devtools.artifactregistry.v1.CleanupPolicyCondition.TagState",
                 {"TAG_STATE_UNSPECIFIED": 0, "TAGGED": 1, "UNTAGGED": 2, "ANY": 3}),
    "state": ("google.api.serviceusage.v1.State", {"STATE_UNSPECIFIED": 0, "DISABLED": 1, "ENABLED": 2}),
    "logType": ("google.iam.v1.AuditLogConfig.LogType", {"LOG_TYPE_UNSPECIFIED": 0, "ADMIN_READ": 1, "DATA_WRITE": 2,
                                                         "DATA_READ": 3}),
}
# Map-valued fields whose keys are user data, never enum field names.
FREE_FORM_FIELDS = frozenset(["labels", "annotations", "metadata"])

# Service Usage: titles of services tests are likely to touch; others can be seeded.
SERVICE_TITLES = {
    "artifactregistry.googleapis.com": "Artifact Registry API",
    "iam.googleapis.com": "Identity and Access Management (IAM) API",
    "iamcredentials.googleapis.com": "IAM Service Account Credentials API",
    "serviceusage.googleapis.com": "Service Usage API",
    "cloudresourcemanager.googleapis.com": "Cloud Resource Manager API",
    "container.googleapis.com": "Kubernetes Engine API",
    "containeranalysis.googleapis.com": "Container Analysis API",
    "containerscanning.googleapis.com": "Container Scanning API",
    "anthosconfigmanagement.googleapis.com": "Anthos Config Management API",
    "gkehub.googleapis.com": "GKE Hub API",
    "gkeconnect.googleapis.com": "GKE Connect API",
    "compute.googleapis.com": "Compute Engine API",
    "storage.googleapis.com": "Cloud Storage API",
    "storage-api.googleapis.com": "Google Cloud Storage JSON API",
    "storage-component.googleapis.com": "Cloud Storage",
    "cloudapis.googleapis.com": "Google Cloud APIs",
    "logging.googleapis.com": "Cloud Logging API",
    "monitoring.googleapis.com": "Cloud Monitoring API",
    "bigquery.googleapis.com": "BigQuery API",
    "oslogin.googleapis.com": "Cloud OS Login API",
    "pubsub.googleapis.com": "Cloud Pub/Sub API",
    "sourcerepo.googleapis.com": "Cloud Source Repositories API",
    "cloudbuild.googleapis.com": "Cloud Build API",
    "secretmanager.googleapis.com": "Secret Manager API",
}
# What a seeded project has enabled unless the seed says otherwise: the APIs this collection needs.
DEFAULT_ENABLED_SERVICES = ("artifactregistry.googleapis.com", "iam.googleapis.com", "serviceusage.googleapis.com",
                            "cloudresourcemanager.googleapis.com")
SU_BATCH_LIMIT = 20

# Member types IAM accepts ("type:value"); the bare ones have no value.
MEMBER_TYPES = frozenset(["user", "serviceAccount", "group", "domain", "principal", "principalSet", "deleted",
                          "projectOwner", "projectEditor", "projectViewer"])
BARE_MEMBERS = frozenset(["allUsers", "allAuthenticatedUsers"])
CASE_INSENSITIVE_MEMBER_TYPES = frozenset(["user", "serviceAccount", "group", "domain"])
EMAIL = re.compile(r"^[^@\s:]+@[^@\s:]+\.[^@\s:]+$")
WORKLOAD_IDENTITY_MEMBER = re.compile(r"^[a-z][-a-z0-9.:]*\.svc\.id\.goog\[[^/\]]+/[^/\]]+\]$")
SERVICE_ACCOUNT_EMAIL = re.compile(r"^([a-z][-a-z0-9]*)@([a-z][-a-z0-9]*)\.iam\.gserviceaccount\.com$")
# principal://... and principalSet://... identifiers (https://cloud.google.com/iam/docs/principal-identifiers): a URI
# with an authority (iam.googleapis.com, goog) and a non-empty path.
PRINCIPAL_URI = re.compile(r"^//[a-z0-9.-]+/\S+$")
# Google Cloud resource labels (https://cloud.google.com/resource-manager/docs/labels-overview#requirements): at most
# 64; keys 1-63 characters starting with a lowercase letter, values 0-63; both only lowercase letters, digits, "_", "-"
# (international lowercase letters too).
MAX_LABELS = 64
MAX_LABEL_LENGTH = 63
CUSTOM_ROLE = re.compile(r"^(projects|organizations)/[^/]+/roles/[A-Za-z0-9_.]+$")
BASIC_ROLES = frozenset(["roles/owner", "roles/editor", "roles/viewer"])
POLICY_VERSIONS = frozenset([0, 1, 3])
LOGGED_HEADERS = ("User-Agent", "x-goog-api-client", "x-goog-user-project", "x-goog-request-params", "Content-Type")


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------

class ApiError(Exception):
    """An error answered as Google's JSON error body: {"error": {"code", "message", "status", "details"}}."""

    def __init__(self, status, message, details=None, code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.code = code or STATUS_CODES.get(status, 500)

    def body(self):
        error = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class OAuthError(Exception):
    """An error of the OAuth2 token endpoint: {"error": ..., "error_description": ...}."""

    def __init__(self, error, description, code=400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.code = code


def timestamp():
    """RFC 3339 UTC with microseconds, the form the recorded responses use."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_etag():
    """A fresh IAM etag: base64 of 8 random bytes (real ones look like "BwYW4c5j91M=")."""
    return base64.b64encode(b"\x07" + secrets.token_bytes(7)).decode("ascii")


def etag_bytes(etag):
    """Etags are proto bytes; clients may re-encode them (padding, URL-safe alphabet), so compare decoded."""
    text = etag.strip()
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text) else None)
    except ValueError:
        return text.encode("utf-8")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def error_info(reason, domain, metadata=None):
    detail = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": domain}
    if metadata:
        detail["metadata"] = metadata
    return detail


def unknown_field_error(name, where):
    message = 'Invalid JSON payload received. Unknown name "{0}" at \'{1}\': Cannot find field.'.format(name, where)
    violation = {"field": where, "description": message}
    return ApiError("INVALID_ARGUMENT", message, [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                                   "fieldViolations": [violation]}])


def enum_value_error(field_path, field, value):
    type_name = ENUMS[field][0]
    message = "Invalid value at '{0}' (type.googleapis.com/{1}), {2}".format(field_path, type_name, json.dumps(value))
    return ApiError("INVALID_ARGUMENT", message, [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                                   "fieldViolations": [{"field": field_path, "description": message}]}])


def enum_name(field, value, field_path):
    """The enum value name for a JSON enum given as a name or as a number (both are valid proto JSON)."""
    names = ENUMS[field][1]
    if isinstance(value, bool):
        raise enum_value_error(field_path, field, value)
    if isinstance(value, int):
        for name, number in names.items():
            if number == value:
                return name
        raise enum_value_error(field_path, field, value)
    if value not in names:
        raise enum_value_error(field_path, field, value)
    return value


def render(value, enums_as_ints):
    """A deep copy of a stored (enum names) JSON value, with enums as numbers when the client asked for that."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if enums_as_ints and key in ENUMS and isinstance(item, str):
                out[key] = ENUMS[key][1].get(item, item)
            elif key in FREE_FORM_FIELDS:
                out[key] = copy.deepcopy(item)
            else:
                out[key] = render(item, enums_as_ints)
        return out
    if isinstance(value, list):
        return [render(item, enums_as_ints) for item in value]
    return value


def camel(path):
    """snake_case update-mask paths are as valid as camelCase ones."""
    return ".".join(re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), part) for part in path.split("."))


def page(items, query, key):
    """One page of a list answer; page tokens are plain offsets."""
    size = int(first(query, "pageSize") or 0) or 1000
    start = int(first(query, "pageToken") or 0)
    chunk = items[start:start + size]
    out = {key: chunk} if chunk else {}
    if start + size < len(items):
        out["nextPageToken"] = str(start + size)
    return out


def first(query, name, default=None):
    values = query.get(name)
    return values[0] if values else default


# --------------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------------

class Emulator:
    """All emulated state behind one lock; handlers run whole under the lock, so each call is atomic."""

    def __init__(self):
        self.lock = threading.RLock()
        self.log_lock = threading.Lock()
        self.log = []
        self.reset()

    def reset(self):
        with self.lock:
            self.projects = {}          # project id -> {"projectId", "projectNumber"}
            self.repositories = {}      # repository name -> stored Repository JSON (+ "_packages", "_policy")
            self.operations = {}        # operation name -> {"operation": Operation JSON, "polls_left": int}
            self.service_accounts = {}  # email -> ServiceAccount JSON (+ "_policy")
            self.enabled_services = {}  # project number -> set of service names
            self.extra_services = {}    # seeded service name -> title
            self.tokens = {}            # access token -> {"principal", "expires"}
            self.keys = {}              # service-account email -> {key id: public key}
            self.lro_polls = 0          # GETs of an operation that still answer done=false
            self.faults = []
            gke_fleet.reset_state(self)
        with self.log_lock:
            self.log = []

    # ----- projects -----

    def seed_project(self, project_id, number=None, services=None):
        with self.lock:
            number = str(number or self._number_for(project_id))
            self.projects[project_id] = {"projectId": project_id, "projectNumber": number}
            wanted = DEFAULT_ENABLED_SERVICES if services is None else services
            self.enabled_services[number] = set(wanted)
            return dict(self.projects[project_id])

    @staticmethod
    def _number_for(project_id):
        digest = hashlib.sha256(project_id.encode("utf-8")).hexdigest()
        return str(100000000000 + int(digest[:12], 16) % 900000000000)

    def project(self, ref):
        """A seeded project by id or number, or None."""
        if ref in self.projects:
            return self.projects[ref]
        for project in self.projects.values():
            if project["projectNumber"] == ref:
                return project
        return None

    def service_title(self, service):
        return self.extra_services.get(service) or SERVICE_TITLES.get(service)

    def is_enabled(self, project, service):
        return service in self.enabled_services.get(project["projectNumber"], set())

    # ----- operations -----

    def start_operation(self, name, metadata, result):
        """Record an LRO; ``result`` is the finished Operation's response (or error) part."""
        operation = {"name": name, "metadata": metadata}
        self.operations[name] = {"operation": operation, "result": result, "polls_left": self.lro_polls}
        return dict(operation)

    def poll_operation(self, name):
        entry = self.operations.get(name)
        if entry is None:
            return None
        if entry["polls_left"] > 0:
            entry["polls_left"] -= 1
            return dict(entry["operation"])
        done = dict(entry["operation"])
        done["done"] = True
        done.update(entry["result"])
        return done

    # ----- auth -----

    def issue_token(self, principal, lifetime=ACCESS_TOKEN_LIFETIME):
        token = "ya29.emulator-" + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = {"principal": principal, "expires": time.time() + lifetime}
        return token

    def register_key(self, email, key_id, public_key_pem):
        key = serialization.load_pem_public_key(public_key_pem.encode("utf-8"))
        with self.lock:
            self.keys.setdefault(email, {})[key_id] = key

    # ----- request log and faults -----

    def record(self, entry):
        with self.log_lock:
            entry["seq"] = len(self.log) + 1
            self.log.append(entry)

    def requests(self):
        with self.log_lock:
            return copy.deepcopy(self.log)

    def clear_log(self):
        with self.log_lock:
            self.log = []

    def add_fault(self, rule):
        if not rule.get("method"):
            raise ApiError("INVALID_ARGUMENT", "a fault needs 'method' (an API method name or glob)")
        fault = {"method": rule["method"], "code": rule.get("code"), "status": rule.get("status"),
                 "message": rule.get("message"), "count": rule.get("count"), "latency": float(rule.get("latency") or 0)}
        if fault["code"] is None and fault["status"]:
            fault["code"] = STATUS_CODES.get(fault["status"], 500)
        if fault["code"] is not None and not fault["status"]:
            fault["status"] = DEFAULT_STATUS_FOR_CODE.get(int(fault["code"]), "UNKNOWN")
        with self.lock:
            self.faults.append(fault)
        return fault

    def match_faults(self, api_method):
        """(error to answer or None, seconds of latency to add) for one call; consumes counted faults."""
        latency, error = 0.0, None
        with self.lock:
            for fault in self.faults:
                if not fnmatch.fnmatchcase(api_method, fault["method"]):
                    continue
                if fault["count"] is not None and fault["count"] <= 0:
                    continue
                latency += fault["latency"]
                if fault["code"] is not None and error is None:
                    error = ApiError(fault["status"], fault["message"] or default_fault_message(int(fault["code"])),
                                     code=int(fault["code"]))
                if fault["count"] is not None:
                    fault["count"] -= 1
        return error, latency


def default_fault_message(code):
    if code == 503:
        return "The service is currently unavailable."
    if code == 429:
        return "Quota exceeded."
    return "Injected fault (HTTP {0}).".format(code)


# --------------------------------------------------------------------------------------------------
# IAM policies (shared by Artifact Registry repositories and service accounts)
# --------------------------------------------------------------------------------------------------

class PolicyRules:
    """IAM's getIamPolicy / setIamPolicy semantics on a stored policy (None until first written)."""

    def __init__(self, emulator, role_allowed):
        self.emulator = emulator
        self.role_allowed = role_allowed

    @staticmethod
    def has_conditions(policy):
        return any(binding.get("condition") for binding in policy.get("bindings", []))

    def get(self, stored, requested_version):
        version = self.requested_version(requested_version)
        if stored is None:
            return {"etag": EMPTY_POLICY_ETAG}
        out = {"version": 3 if self.has_conditions(stored) else 1}
        bindings = copy.deepcopy(stored.get("bindings", []))
        if out["version"] == 3 and version < 3:
            # Documented IAM behaviour: a caller that cannot read conditions gets a version 1 policy
            # whose conditional roles carry a "_withcond_" suffix and no condition.
            out["version"] = 1
            bindings = [self.hide_condition(binding) for binding in bindings]
        if bindings:
            out["bindings"] = bindings
        if stored.get("auditConfigs"):
            out["auditConfigs"] = copy.deepcopy(stored["auditConfigs"])
        out["etag"] = stored["etag"]
        return out

    @staticmethod
    def hide_condition(binding):
        condition = binding.get("condition")
        if not condition:
            return binding
        digest = hashlib.sha256(json.dumps(condition, sort_keys=True).encode("utf-8")).hexdigest()[:20]
        return {"role": "{0}_withcond_{1}".format(binding["role"], digest), "members": binding["members"]}

    @staticmethod
    def requested_version(value):
        if value in (None, ""):
            return 0
        try:
            version = int(value)
        except (TypeError, ValueError):
            raise ApiError("INVALID_ARGUMENT", "Invalid value at 'options.requested_policy_version' (TYPE_INT32), "
                                               "\"{0}\"".format(value))
        if version not in POLICY_VERSIONS:
            raise ApiError("INVALID_ARGUMENT", "Invalid requested policy version: {0}. Valid values are 0, 1, and 3."
                           .format(version))
        return version

    def set(self, stored, request):
        """The new stored policy for a setIamPolicy request body, or an ApiError."""
        if not isinstance(request, dict) or not isinstance(request.get("policy"), dict):
            raise ApiError("INVALID_ARGUMENT", INVALID_ARGUMENT)
        policy = request["policy"]
        for name in policy:
            if name not in ("version", "bindings", "auditConfigs", "etag"):
                raise unknown_field_error(name, "policy")
        version = policy.get("version") or 0
        if version not in POLICY_VERSIONS:
            raise ApiError("INVALID_ARGUMENT", "Invalid policy version: {0}. Valid values are 0, 1, and 3.".format(version))
        self.check_etag(stored, policy.get("etag"))
        bindings = self.normalise_bindings(policy.get("bindings") or [])
        if any(binding.get("condition") for binding in bindings) and version < 3:
            raise ApiError("INVALID_ARGUMENT", "Policy version {0} cannot contain conditional role bindings; "
                                               "set version 3.".format(version))
        mask = [camel(path.strip()) for path in (request.get("updateMask") or "bindings,etag").split(",") if path.strip()]
        new = {"bindings": bindings if "bindings" in mask else copy.deepcopy((stored or {}).get("bindings", [])),
               "auditConfigs": copy.deepcopy((stored or {}).get("auditConfigs", [])), "etag": new_etag()}
        if "auditConfigs" in mask:
            new["auditConfigs"] = copy.deepcopy(policy.get("auditConfigs") or [])
        return new

    @staticmethod
    def check_etag(stored, etag):
        if not etag:
            return  # without an etag, setIamPolicy overwrites whatever is there
        current = stored["etag"] if stored else EMPTY_POLICY_ETAG
        if etag_bytes(etag) != etag_bytes(current):
            raise ApiError("ABORTED", CONCURRENT_POLICY_CHANGE)

    def normalise_bindings(self, bindings):
        """Validated bindings; bindings of the same role and condition are merged and members deduplicated."""
        merged = []
        index = {}
        for binding in bindings:
            role = binding.get("role") or ""
            members = binding.get("members") or []
            if not role:
                raise ApiError("INVALID_ARGUMENT", "Role must be specified in a policy binding.")
            if not self.role_allowed(role):
                raise ApiError("INVALID_ARGUMENT", "Role {0} is not supported for this resource.".format(role))
            if not members:
                raise ApiError("INVALID_ARGUMENT", "Binding for role {0} has no members.".format(role))
            for member in members:
                self.check_member(member)
            members = [canonical_member(member) for member in members]
            condition = binding.get("condition")
            if condition is not None and not (condition.get("expression") and condition.get("title")):
                raise ApiError("INVALID_ARGUMENT", "Condition of role {0} needs a title and an expression.".format(role))
            key = (role, json.dumps(condition, sort_keys=True))
            if key not in index:
                index[key] = {"role": role, "members": []}
                if condition:
                    index[key]["condition"] = copy.deepcopy(condition)
                merged.append(index[key])
            for member in members:
                if member not in index[key]["members"]:
                    index[key]["members"].append(member)
        return merged

    def check_member(self, member):
        if member in BARE_MEMBERS:
            return
        kind, sep, value = member.partition(":")
        if not sep or not value or kind not in MEMBER_TYPES:
            raise ApiError("INVALID_ARGUMENT", MEMBER_FORM)
        if kind == "deleted":
            return
        if kind in ("user", "group") and not EMAIL.match(value):
            raise ApiError("INVALID_ARGUMENT", "Invalid member: {0}".format(member))
        if kind == "serviceAccount":
            self.check_service_account_member(value)
        if kind in ("principal", "principalSet") and not PRINCIPAL_URI.match(value):
            raise ApiError("INVALID_ARGUMENT", "Invalid principal identifier: {0}".format(member))

    def check_service_account_member(self, value):
        if WORKLOAD_IDENTITY_MEMBER.match(value):
            return
        if not EMAIL.match(value):
            raise ApiError("INVALID_ARGUMENT", "Invalid service account ({0}).".format(value))
        match = SERVICE_ACCOUNT_EMAIL.match(value)
        # IAM checks that a user-managed service account exists; we can only know that for seeded projects.
        if match and self.emulator.project(match.group(2)) and value not in self.emulator.service_accounts:
            raise ApiError("INVALID_ARGUMENT", "Service account {0} does not exist.".format(value))


def label_text_ok(text, first_letter):
    if not isinstance(text, str) or len(text) > MAX_LABEL_LENGTH or (first_letter and not text):
        return False
    if first_letter and not (text[0].isalpha() and not text[0].isupper()):
        return False
    return all((c.isalnum() and not c.isupper()) or c in "_-" for c in text)


def canonical_member(member):
    """IAM stores email-like member values in lower case; the type prefix and principal URIs keep their case."""
    kind, sep, value = member.partition(":")
    if sep and kind in CASE_INSENSITIVE_MEMBER_TYPES:
        return kind + ":" + value.lower()
    return member


def ar_role_allowed(role):
    return role.startswith("roles/artifactregistry.") or role in BASIC_ROLES or bool(CUSTOM_ROLE.match(role))


def sa_role_allowed(role):
    return role.startswith("roles/iam.") or role in BASIC_ROLES or bool(CUSTOM_ROLE.match(role))


# --------------------------------------------------------------------------------------------------
# Artifact Registry v1
# --------------------------------------------------------------------------------------------------

class ArtifactRegistry:
    """artifactregistry.googleapis.com/v1: repositories, their packages and IAM policies, operations."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.policies = PolicyRules(emulator, ar_role_allowed)

    # ----- checks every call makes -----

    def project_for(self, project_ref, location, permission, resource):
        project = self.emulator.project(project_ref)
        if project is None:
            raise self.permission_denied(permission, resource)
        if not self.emulator.is_enabled(project, "artifactregistry.googleapis.com"):
            raise service_disabled(project, "artifactregistry.googleapis.com", "Artifact Registry API")
        if location not in AR_LOCATIONS:
            raise ApiError("INVALID_ARGUMENT", INVALID_ARGUMENT)
        return project

    @staticmethod
    def permission_denied(permission, resource):
        message = "Permission '{0}' denied on resource '//artifactregistry.googleapis.com/{1}' (or it may not exist)." \
            .format(permission, resource)
        return ApiError("PERMISSION_DENIED", message, [error_info("IAM_PERMISSION_DENIED", "artifactregistry.googleapis.com", {
            "permission": permission, "resource": resource})])

    def repository(self, project_ref, location, repo_id, permission):
        resource = "projects/{0}/locations/{1}/repositories/{2}".format(project_ref, location, repo_id)
        project = self.project_for(project_ref, location, permission, resource)
        name = "projects/{0}/locations/{1}/repositories/{2}".format(project["projectId"], location, repo_id)
        repo = self.emulator.repositories.get(name)
        if repo is None:
            raise ApiError("NOT_FOUND", NOT_FOUND)
        return repo

    # ----- views of a stored repository -----

    def view(self, repo, with_times=True, with_registry_uri=True):
        """The Repository JSON as the API answers it; recorded GCP leaves some fields out of some answers."""
        out = {key: copy.deepcopy(value) for key, value in repo.items() if not key.startswith("_")}
        size = sum(int(package.get("_sizeBytes", 0)) for package in repo["_packages"].values())
        if size:
            out["sizeBytes"] = str(size)
        out["vulnerabilityScanningConfig"] = self.scanning_view(repo)
        if not with_times:
            out.pop("createTime", None)
            out.pop("updateTime", None)
        if not with_registry_uri:
            out.pop("registryUri", None)
        return out

    def scanning_view(self, repo):
        config = copy.deepcopy(repo.get("vulnerabilityScanningConfig") or {})
        config["lastEnableTime"] = repo["_scanningSince"]
        project = self.emulator.project(repo["name"].split("/")[1])
        if repo["mode"] == "VIRTUAL_REPOSITORY":
            state, reason = "SCANNING_UNSUPPORTED", "Repository mode VIRTUAL_REPOSITORY is not supported."
        elif repo["format"] not in AR_SCANNED_FORMATS:
            state, reason = "SCANNING_UNSUPPORTED", "Repository format {0} is not supported.".format(repo["format"])
        elif config.get("enablementConfig") == "DISABLED":
            state, reason = "SCANNING_DISABLED", "Repository is disabled for scanning."
        elif project and not self.emulator.is_enabled(project, "containerscanning.googleapis.com"):
            state, reason = "SCANNING_DISABLED", "API containerscanning.googleapis.com is not enabled."
        else:
            state, reason = "SCANNING_ACTIVE", None
        config["enablementState"] = state
        if reason:
            config["enablementStateReason"] = reason
        else:
            config.pop("enablementStateReason", None)
        return config

    # ----- request bodies -----

    def parse_repository(self, body, field_prefix="repository"):
        """Check names and enums of a Repository body; returns it with enums as names and output-only fields dropped."""
        if not isinstance(body, dict):
            raise ApiError("INVALID_ARGUMENT", INVALID_ARGUMENT)
        repo = {}
        for key, value in body.items():
            if key not in AR_REPOSITORY_FIELDS:
                raise unknown_field_error(key, field_prefix)
            if key in AR_OUTPUT_ONLY:
                continue
            repo[key] = value
        for key in ("format", "mode"):
            if key in repo:
                repo[key] = enum_name(key, repo[key], "{0}.{1}".format(field_prefix, key))
        scanning = repo.get("vulnerabilityScanningConfig")
        if isinstance(scanning, dict):
            scanning = {k: v for k, v in scanning.items() if k == "enablementConfig"}
            if "enablementConfig" in scanning:
                scanning["enablementConfig"] = enum_name("enablementConfig", scanning["enablementConfig"],
                                                         field_prefix + ".vulnerability_scanning_config.enablement_config")
            repo["vulnerabilityScanningConfig"] = scanning
        for policy_id, policy in (repo.get("cleanupPolicies") or {}).items():
            if "action" in policy:
                policy["action"] = enum_name("action", policy["action"], field_prefix + ".cleanup_policies")
            if "tagState" in (policy.get("condition") or {}):
                policy["condition"]["tagState"] = enum_name("tagState", policy["condition"]["tagState"],
                                                            field_prefix + ".cleanup_policies")
            policy.setdefault("id", policy_id)
        return repo

    @staticmethod
    def check_labels(repo):
        labels = repo.get("labels") or {}
        if not isinstance(labels, dict) or len(labels) > MAX_LABELS:
            raise ApiError("INVALID_ARGUMENT", "A resource can have at most {0} labels.".format(MAX_LABELS))
        for key, value in labels.items():
            if not label_text_ok(key, first_letter=True):
                raise ApiError("INVALID_ARGUMENT", 'Invalid label key "{0}": it must be 1-63 lowercase letters, digits, '
                                                   "underscores or dashes and start with a lowercase letter.".format(key))
            if not isinstance(value, str) or not label_text_ok(value, first_letter=False):
                raise ApiError("INVALID_ARGUMENT", 'Invalid label value "{0}" for key "{1}": it must be at most 63 '
                                                   "lowercase letters, digits, underscores or dashes.".format(value, key))

    @staticmethod
    def check_cleanup_policies(repo):
        for policy_id, policy in (repo.get("cleanupPolicies") or {}).items():
            keep = (policy.get("mostRecentVersions") or {}).get("keepCount")
            if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or keep < 0):
                raise ApiError("INVALID_ARGUMENT", "Invalid cleanup policy {0}: most_recent_versions.keep_count must not "
                                                   "be negative, got {1}.".format(policy_id, keep))

    @staticmethod
    def check_format_configs(repo):
        for key, (label, fmt) in AR_FORMAT_CONFIGS.items():
            if repo.get(key) and repo.get("format") != fmt:
                raise ApiError("INVALID_ARGUMENT", '{0} config is not supported for format "{1}"'.format(label, repo.get("format")))
        if repo.get("kmsKeyName") and not AR_KMS_KEY.match(repo["kmsKeyName"]):
            raise ApiError("INVALID_ARGUMENT", "Invalid KMS key name: {0}".format(repo["kmsKeyName"]))
        mode = repo.get("mode")
        if mode == "VIRTUAL_REPOSITORY" and repo.get("remoteRepositoryConfig") or \
                mode == "REMOTE_REPOSITORY" and repo.get("virtualRepositoryConfig"):
            raise ApiError("INVALID_ARGUMENT", INVALID_ARGUMENT)

    # ----- methods -----

    def create(self, ctx, project_ref, location):
        parent = "projects/{0}/locations/{1}".format(project_ref, location)
        project = self.project_for(project_ref, location, "artifactregistry.repositories.create", parent)
        repo_id = first(ctx.query, "repositoryId") or first(ctx.query, "repository_id") or ""
        if not repo_id or len(repo_id) > AR_REPOSITORY_ID_MAX or not AR_REPOSITORY_ID.match(repo_id):
            raise ApiError("INVALID_ARGUMENT", 'Invalid repository ID "{0}": it must start with a lowercase letter, contain '
                                               "only lowercase letters, numbers and hyphens, not end with a hyphen, and be "
                                               "at most 63 characters long.".format(repo_id))
        repo = self.parse_repository(ctx.body or {})
        if repo.get("format", "FORMAT_UNSPECIFIED") == "FORMAT_UNSPECIFIED":
            raise ApiError("INVALID_ARGUMENT", "Repository format must be specified.")
        if repo.get("mode", "MODE_UNSPECIFIED") == "MODE_UNSPECIFIED":
            repo["mode"] = "STANDARD_REPOSITORY"
        self.check_format_configs(repo)
        self.check_labels(repo)
        self.check_cleanup_policies(repo)
        name = "projects/{0}/locations/{1}/repositories/{2}".format(project["projectId"], location, repo_id)
        if name in self.emulator.repositories:
            raise ApiError("ALREADY_EXISTS", "the repository already exists")
        now = timestamp()
        registry_uri = "{0}-{1}/{2}/{3}".format(location, AR_REGISTRY_HOSTS[repo["format"]], project["projectId"], repo_id)
        repo.update({"name": name, "createTime": now, "updateTime": now, "satisfiesPzi": True, "registryUri": registry_uri,
                     "_packages": {}, "_policy": None, "_scanningSince": now})
        self.emulator.repositories[name] = repo
        response = dict({"@type": AR_REPOSITORY_TYPE}, **self.view(repo, with_times=False, with_registry_uri=False))
        return self.operation(project, location, {"response": response})

    def operation(self, project, location, result):
        name = "projects/{0}/locations/{1}/operations/{2}".format(project["projectId"], location, uuid.uuid4())
        return self.emulator.start_operation(name, {"@type": AR_OPERATION_METADATA}, result)

    def get(self, ctx, project_ref, location, repo_id):
        return self.view(self.repository(project_ref, location, repo_id, "artifactregistry.repositories.get"))

    def list(self, ctx, project_ref, location):
        parent = "projects/{0}/locations/{1}".format(project_ref, location)
        project = self.project_for(project_ref, location, "artifactregistry.repositories.list", parent)
        prefix = "projects/{0}/locations/{1}/repositories/".format(project["projectId"], location)
        repos = [self.view(repo) for name, repo in sorted(self.emulator.repositories.items()) if name.startswith(prefix)]
        return page(repos, ctx.query, "repositories")

    def patch(self, ctx, project_ref, location, repo_id):
        repo = self.repository(project_ref, location, repo_id, "artifactregistry.repositories.update")
        wanted = self.parse_repository(ctx.body or {})
        mask = first(ctx.query, "updateMask")
        paths = [camel(p.strip()) for p in mask.split(",") if p.strip()] if mask else \
            [key for key in wanted if key not in AR_IMMUTABLE]
        if paths == ["*"]:
            paths = sorted(AR_MUTABLE)
        updated = copy.deepcopy(repo)
        for path in paths:
            top = path.split(".")[0]
            if top in AR_IMMUTABLE or top in AR_OUTPUT_ONLY:
                raise ApiError("INVALID_ARGUMENT", 'Invalid update_mask path "{0}": the field cannot be updated.'.format(path))
            if top not in AR_MUTABLE:
                raise ApiError("INVALID_ARGUMENT", 'Invalid update_mask path "{0}".'.format(path))
            self.apply_path(updated, wanted, path)
        self.check_format_configs(updated)
        self.check_labels(updated)
        self.check_cleanup_policies(updated)
        updated["updateTime"] = timestamp()
        if "vulnerabilityScanningConfig" in paths:
            updated["_scanningSince"] = updated["updateTime"]
        self.emulator.repositories[repo["name"]] = updated
        # Recorded GCP answers PATCH without registryUri (GET has it).
        return self.view(updated, with_registry_uri=False)

    @staticmethod
    def apply_path(target, source, path):
        parts = path.split(".")
        for part in parts[:-1]:
            source = source.get(part) or {}
            target = target.setdefault(part, {})
        if parts[-1] in source:
            target[parts[-1]] = copy.deepcopy(source[parts[-1]])
        else:
            target.pop(parts[-1], None)

    def delete(self, ctx, project_ref, location, repo_id):
        repo = self.repository(project_ref, location, repo_id, "artifactregistry.repositories.delete")
        # Deleting a repository deletes everything in it, as in the real API.
        del self.emulator.repositories[repo["name"]]
        project = self.emulator.project(project_ref)
        return self.operation(project, location, {"response": {"@type": EMPTY_TYPE}})

    def get_operation(self, ctx, project_ref, location, operation_id):
        name = "projects/{0}/locations/{1}/operations/{2}".format(project_ref, location, operation_id)
        self.project_for(project_ref, location, "artifactregistry.repositories.get", name)
        project = self.emulator.project(project_ref)
        found = self.emulator.poll_operation("projects/{0}/locations/{1}/operations/{2}".format(
            project["projectId"], location, operation_id))
        if found is None:
            raise ApiError("NOT_FOUND", NOT_FOUND)
        return found

    def list_packages(self, ctx, project_ref, location, repo_id):
        repo = self.repository(project_ref, location, repo_id, "artifactregistry.packages.list")
        packages = [{k: v for k, v in package.items() if not k.startswith("_")}
                    for dummy, package in sorted(repo["_packages"].items())]
        return page(packages, ctx.query, "packages")

    def get_iam_policy(self, ctx, project_ref, location, repo_id):
        repo = self.repository(project_ref, location, repo_id, "artifactregistry.repositories.getIamPolicy")
        return self.policies.get(repo["_policy"], first(ctx.query, "options.requestedPolicyVersion"))

    def set_iam_policy(self, ctx, project_ref, location, repo_id):
        repo = self.repository(project_ref, location, repo_id, "artifactregistry.repositories.setIamPolicy")
        repo["_policy"] = self.policies.set(repo["_policy"], ctx.body)
        return self.policies.get(repo["_policy"], 3)

    def seed_package(self, repository, package_id, size_bytes=0, display_name=None):
        with self.emulator.lock:
            repo = self.emulator.repositories.get(repository)
            if repo is None:
                raise ApiError("NOT_FOUND", "no repository {0}".format(repository))
            now = timestamp()
            package = {"name": "{0}/packages/{1}".format(repository, package_id.replace("/", "%2F")),
                       "createTime": now, "updateTime": now, "_sizeBytes": int(size_bytes or 0)}
            if display_name:
                package["displayName"] = display_name
            repo["_packages"][package_id] = package
            return {k: v for k, v in package.items() if not k.startswith("_")}


def service_disabled(project, service, title):
    number = project["projectNumber"]
    message = ("{0} has not been used in project {1} before or it is disabled. Enable it by visiting "
               "https://console.developers.google.com/apis/api/{2}/overview?project={1} then retry. If you enabled this API "
               "recently, wait a few minutes for the action to propagate to our systems and retry.").format(title, number, service)
    return ApiError("PERMISSION_DENIED", message, [error_info("SERVICE_DISABLED", "googleapis.com", {
        "service": service, "consumer": "projects/" + number, "serviceTitle": title,
        "activationUrl": "https://console.developers.google.com/apis/api/{0}/overview?project={1}".format(service, number),
        "containerInfo": number})])


# --------------------------------------------------------------------------------------------------
# IAM v1: service accounts
# --------------------------------------------------------------------------------------------------

class ServiceAccounts:
    """iam.googleapis.com/v1 projects.serviceAccounts get / getIamPolicy / setIamPolicy."""

    def __init__(self, emulator):
        self.emulator = emulator
        self.policies = PolicyRules(emulator, sa_role_allowed)

    def find(self, project_ref, account):
        accounts = self.emulator.service_accounts
        found = accounts.get(account)
        if found is None:
            found = next((sa for sa in accounts.values() if sa["uniqueId"] == account), None)
        if found is None or project_ref not in ("-", found["projectId"], self.project_number(found)):
            raise ApiError("NOT_FOUND", "Unknown service account")
        return found

    def project_number(self, account):
        project = self.emulator.project(account["projectId"])
        return project["projectNumber"] if project else None

    @staticmethod
    def view(account):
        return {key: value for key, value in account.items() if not key.startswith("_")}

    def get(self, ctx, project_ref, account):
        return self.view(self.find(project_ref, account))

    def get_iam_policy(self, ctx, project_ref, account):
        found = self.find(project_ref, account)
        requested = first(ctx.query, "options.requestedPolicyVersion")
        if requested is None and isinstance(ctx.body, dict):
            requested = (ctx.body.get("options") or {}).get("requestedPolicyVersion")
        return self.policies.get(found["_policy"], requested)

    def set_iam_policy(self, ctx, project_ref, account):
        found = self.find(project_ref, account)
        found["_policy"] = self.policies.set(found["_policy"], ctx.body)
        return self.policies.get(found["_policy"], 3)

    def seed(self, email, display_name=None, description=None, project_id=None):
        """Create a service account; its project comes from a user-managed email or from ``project_id``."""
        match = SERVICE_ACCOUNT_EMAIL.match(email)
        project_id = project_id or (match.group(2) if match else None)
        if not EMAIL.match(email) or not project_id:
            raise ApiError("INVALID_ARGUMENT", "give a service account email (NAME@PROJECT.iam.gserviceaccount.com) "
                                               "or its project: {0}".format(email))
        with self.emulator.lock:
            if self.emulator.project(project_id) is None:
                raise ApiError("INVALID_ARGUMENT", "seed project {0} before its service account {1}".format(project_id, email))
            if email in self.emulator.service_accounts:
                return self.view(self.emulator.service_accounts[email])  # seeding twice keeps the account's policy
            unique_id = str(10 ** 20 + int(hashlib.sha256(email.encode("utf-8")).hexdigest()[:16], 16) % 10 ** 20)
            account = {"name": "projects/{0}/serviceAccounts/{1}".format(project_id, email), "projectId": project_id,
                       "uniqueId": unique_id, "email": email, "etag": "MDEwMjE5MjA=", "oauth2ClientId": unique_id,
                       "_policy": None}
            if display_name:
                account["displayName"] = display_name
            if description:
                account["description"] = description
            self.emulator.service_accounts[email] = account
            return self.view(account)


# --------------------------------------------------------------------------------------------------
# Permission checks for the servers beside the emulator (Artifact Registry's Docker front, the GKE metadata server)
# --------------------------------------------------------------------------------------------------

AR_DOWNLOAD = "artifactregistry.repositories.downloadArtifacts"
AR_UPLOAD = "artifactregistry.repositories.uploadArtifacts"
AR_DELETE = "artifactregistry.repositories.deleteArtifacts"
SA_GET_ACCESS_TOKEN = "iam.serviceAccounts.getAccessToken"
# The permissions of the predefined roles that the emulator enforces (IAM roles reference). Basic roles and custom
# roles grant nothing here: the emulator holds no project policy and no role definitions.
ROLE_PERMISSIONS = {
    "roles/artifactregistry.reader": frozenset([AR_DOWNLOAD]),
    "roles/artifactregistry.writer": frozenset([AR_DOWNLOAD, AR_UPLOAD]),
    "roles/artifactregistry.createOnPushWriter": frozenset([AR_DOWNLOAD, AR_UPLOAD]),
    "roles/artifactregistry.repoAdmin": frozenset([AR_DOWNLOAD, AR_UPLOAD, AR_DELETE]),
    "roles/artifactregistry.createOnPushRepoAdmin": frozenset([AR_DOWNLOAD, AR_UPLOAD, AR_DELETE]),
    "roles/artifactregistry.admin": frozenset([AR_DOWNLOAD, AR_UPLOAD, AR_DELETE]),
    "roles/iam.workloadIdentityUser": frozenset([SA_GET_ACCESS_TOKEN, "iam.serviceAccounts.getOpenIdToken"]),
    "roles/iam.serviceAccountTokenCreator": frozenset([SA_GET_ACCESS_TOKEN, "iam.serviceAccounts.getOpenIdToken",
                                                       "iam.serviceAccounts.signBlob", "iam.serviceAccounts.signJwt"]),
}
SA_RESOURCE = re.compile(r"^projects/[^/]+/serviceAccounts/([^/]+)$")


def principal_member(principal):
    """The IAM member an issued token's principal is matched as: service-account emails and workload identities are
    ``serviceAccount:``, other emails ``user:``; a value with a type prefix stays as it is."""
    if not principal or principal in BARE_MEMBERS:
        return principal
    kind = principal.partition(":")[0]
    if kind in MEMBER_TYPES:
        return canonical_member(principal)
    if principal.endswith(".gserviceaccount.com") or WORKLOAD_IDENTITY_MEMBER.match(principal):
        return canonical_member("serviceAccount:" + principal)
    return canonical_member("user:" + principal)


def policy_grants(policy, member, permission):
    """Whether an unconditional binding of ``policy`` gives ``member`` (or allUsers / allAuthenticatedUsers) ``permission``."""
    members = {"allUsers"} | ({member, "allAuthenticatedUsers"} if member else set())
    for binding in (policy or {}).get("bindings") or []:
        if binding.get("condition") or permission not in ROLE_PERMISSIONS.get(binding.get("role"), ()):
            continue
        if members & set(binding.get("members") or []):
            return True
    return False


def authorize(emulator, body):
    """``/__emulator/authorize``: who a token belongs to and whether it holds a permission on a resource.

    ``{"accessToken" | "principal", "resource", "permission"}`` -> ``{"principal", "member", "token"
    (valid|expired|unknown|none), "resourceExists", "granted", "format"}``. Resources: an Artifact Registry repository
    ``projects/P/locations/L/repositories/R`` (P an ID or number), a service account ``projects/-/serviceAccounts/EMAIL``.
    """
    token_state, principal = "none", body.get("principal")
    with emulator.lock:
        if body.get("accessToken"):
            issued = emulator.tokens.get(body["accessToken"])
            token_state = "unknown" if issued is None else ("valid" if issued["expires"] > time.time() else "expired")
            principal = issued["principal"] if token_state == "valid" else None
        member = principal_member(principal)
        resource = body.get("resource") or ""
        policy, exists, fmt = None, False, None
        sa_match = SA_RESOURCE.match(resource)
        if sa_match:
            account = emulator.service_accounts.get(sa_match.group(1).lower())
            exists, policy = account is not None, (account or {}).get("_policy")
        else:
            parts = resource.split("/")
            if len(parts) == 6 and parts[0] == "projects" and parts[2] == "locations" and parts[4] == "repositories":
                project = emulator.project(parts[1])
                name = "projects/{0}/locations/{1}/repositories/{2}".format(
                    project["projectId"] if project else parts[1], parts[3], parts[5])
                repo = emulator.repositories.get(name)
                exists, policy, fmt = repo is not None, (repo or {}).get("_policy"), (repo or {}).get("format")
        granted = exists and policy_grants(policy, member, body.get("permission"))
    return {"principal": principal, "member": member, "token": token_state, "resourceExists": exists, "granted": granted,
            "format": fmt}


# --------------------------------------------------------------------------------------------------
# IAM Service Account Credentials v1 (iamcredentials.googleapis.com)
# --------------------------------------------------------------------------------------------------

GET_ACCESS_TOKEN_DENIED = "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
DEFAULT_SA_TOKEN_LIFETIME = 3600
MAX_SA_TOKEN_LIFETIME = 3600
DURATION = re.compile(r"^([0-9]+)(?:\.([0-9]{1,9}))?s$")


class IamCredentials:
    """projects.serviceAccounts.generateAccessToken: a token for a service account, to a caller that holds
    ``iam.serviceAccounts.getAccessToken`` on it (roles/iam.workloadIdentityUser or roles/iam.serviceAccountTokenCreator
    in the account's own policy; the emulator holds no project policies). Service account impersonation of Google's
    libraries (e.g. an ``external_account`` credential's ``service_account_impersonation_url``) calls it."""

    def __init__(self, emulator):
        self.emulator = emulator

    def generate_access_token(self, ctx, project_ref, account):
        found = self.emulator.service_accounts.get(account.lower())
        if found is None:
            found = next((sa for sa in self.emulator.service_accounts.values() if sa["uniqueId"] == account), None)
        member = principal_member(ctx.principal)
        # An account that does not exist answers like one the caller may not use ("or it may not exist").
        if found is None or project_ref != "-" or not policy_grants(found.get("_policy"), member, SA_GET_ACCESS_TOKEN):
            raise ApiError("PERMISSION_DENIED", GET_ACCESS_TOKEN_DENIED,
                           [error_info("IAM_PERMISSION_DENIED", "iam.googleapis.com", {"permission": SA_GET_ACCESS_TOKEN})])
        body = ctx.body if isinstance(ctx.body, dict) else {}
        for name in body:
            if name not in ("scope", "lifetime", "delegates"):
                raise unknown_field_error(name, "")
        scopes = body.get("scope") or []
        if not scopes:
            raise ApiError("INVALID_ARGUMENT", "Scope required.")
        lifetime = DEFAULT_SA_TOKEN_LIFETIME
        if body.get("lifetime"):
            match = DURATION.match(str(body["lifetime"]))
            if not match:
                raise ApiError("INVALID_ARGUMENT", 'Invalid value at \'lifetime\' (type.googleapis.com/google.protobuf.Duration), '
                                                   'Field \'lifetime\', Illegal duration format; duration must end with \'s\'')
            lifetime = int(match.group(1))
            if lifetime <= 0 or lifetime > MAX_SA_TOKEN_LIFETIME:
                raise ApiError("INVALID_ARGUMENT", "The lifetime of the requested token must be between 1s and {0}s.".format(
                    MAX_SA_TOKEN_LIFETIME))
        if body.get("delegates"):
            raise ApiError("INVALID_ARGUMENT", "Delegation chains are not emulated.")
        token = self.emulator.issue_token(found["email"], lifetime)
        self.emulator.tokens[token]["source"] = "generateAccessToken"
        expire = datetime.fromtimestamp(self.emulator.tokens[token]["expires"], timezone.utc)
        return {"accessToken": token, "expireTime": expire.strftime("%Y-%m-%dT%H:%M:%SZ")}


# --------------------------------------------------------------------------------------------------
# Service Usage v1
# --------------------------------------------------------------------------------------------------

class ServiceUsage:
    """serviceusage.googleapis.com/v1: services get / list / enable / disable / batchEnable, operations get."""

    def __init__(self, emulator):
        self.emulator = emulator

    def project_for(self, kind, project_ref, verb, services):
        project = self.emulator.project(project_ref) if kind == "projects" else None
        if project is None:
            help_token = secrets.token_urlsafe(24)
            message = "Permission denied to {0} service [{1}]\nHelp Token: {2}".format(verb, ",".join(services), help_token)
            raise ApiError("PERMISSION_DENIED", message, [
                {"@type": "type.googleapis.com/google.rpc.PreconditionFailure",
                 "violations": [{"type": "googleapis.com", "subject": "110002"}]},
                error_info("AUTH_PERMISSION_DENIED", "serviceusage.googleapis.com")])
        return project

    def check_known(self, services):
        unknown = [service for service in services if not self.emulator.service_title(service)]
        if unknown:
            message = "Not found or permission denied for service(s): {0}.".format(", ".join(unknown))
            raise ApiError("PERMISSION_DENIED", message, [error_info("SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED",
                                                                     "serviceusage.googleapis.com",
                                                                     {"services": ",".join(unknown)})])

    def service(self, project, service, with_config=True):
        """A Service; recorded LRO responses carry it without ``config``, GET with it."""
        number = project["projectNumber"]
        out = {"name": "projects/{0}/services/{1}".format(number, service), "parent": "projects/" + number,
               "state": "ENABLED" if self.emulator.is_enabled(project, service) else "DISABLED"}
        if with_config:
            out["config"] = {"name": service, "title": self.emulator.service_title(service)}
        return out

    def operation(self, project, metadata, result):
        name = "operations/acf.p2-{0}-{1}".format(project["projectNumber"], uuid.uuid4())
        return self.emulator.start_operation(name, metadata, result)

    def get(self, ctx, kind, project_ref, service):
        project = self.project_for(kind, project_ref, "get", [service])
        self.check_known([service])
        return self.service(project, service)

    def list(self, ctx, kind, project_ref):
        project = self.project_for(kind, project_ref, "list", ["*"])
        names = sorted(set(SERVICE_TITLES) | set(self.emulator.extra_services)
                       | self.emulator.enabled_services.get(project["projectNumber"], set()))
        services = [self.service(project, name) for name in names]
        wanted = (first(ctx.query, "filter") or "").replace(" ", "")
        if wanted in ("state:ENABLED", "state:DISABLED"):
            services = [s for s in services if s["state"] == wanted.split(":")[1]]
        return page(services, ctx.query, "services")

    def enable(self, ctx, kind, project_ref, service):
        project = self.project_for(kind, project_ref, "enable", [service])
        self.check_known([service])
        if self.emulator.is_enabled(project, service):
            # Real Service Usage answers an already-enabled service with a finished no-op operation.
            return {"name": SU_NOOP_OPERATION, "done": True,
                    "response": {"@type": SU_ENABLE_RESPONSE, "service": self.service(project, service, False)}}
        self.emulator.enabled_services[project["projectNumber"]].add(service)
        return self.operation(project, {"@type": EMPTY_TYPE, "value": {}},
                              {"response": {"@type": SU_ENABLE_RESPONSE, "service": self.service(project, service, False)}})

    def disable(self, ctx, kind, project_ref, service):
        project = self.project_for(kind, project_ref, "disable", [service])
        self.check_known([service])
        if not self.emulator.is_enabled(project, service):
            return {"name": SU_NOOP_OPERATION, "done": True,
                    "response": {"@type": SU_DISABLE_RESPONSE, "service": self.service(project, service, False)}}
        self.emulator.enabled_services[project["projectNumber"]].discard(service)
        return self.operation(project, {"@type": EMPTY_TYPE, "value": {}},
                              {"response": {"@type": SU_DISABLE_RESPONSE, "service": self.service(project, service, False)}})

    def batch_enable(self, ctx, kind, project_ref):
        body = ctx.body or {}
        services = body.get("serviceIds") or []
        project = self.project_for(kind, project_ref, "enable", services or ["*"])
        if not services or len(services) > SU_BATCH_LIMIT:
            raise ApiError("INVALID_ARGUMENT", "The number of services to enable must be between 1 and {0}."
                           .format(SU_BATCH_LIMIT))
        self.check_known(services)
        self.emulator.enabled_services[project["projectNumber"]].update(services)
        response = {"@type": SU_BATCH_ENABLE_RESPONSE,
                    "services": [self.service(project, service, False) for service in services]}
        return self.operation(project, {"@type": SU_OPERATION_METADATA}, {"response": response})

    def get_operation(self, ctx, operation_id):
        found = self.emulator.poll_operation("operations/" + operation_id)
        if found is None:
            raise ApiError("NOT_FOUND", NOT_FOUND)
        return found


# --------------------------------------------------------------------------------------------------
# OAuth2: the token endpoint and bearer-token checks
# --------------------------------------------------------------------------------------------------

def _signature_valid(public_key, signature, signed):
    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


class OAuth:
    """JWT-bearer grants at /token, and the Authorization check every API call makes."""

    def __init__(self, emulator, token_url_getter):
        self.emulator = emulator
        self.token_url = token_url_getter

    def verify_jwt(self, jwt, audiences):
        """The claims of a service-account-signed JWT; raises OAuthError when it must not be trusted."""
        parts = jwt.split(".")
        if len(parts) != 3:
            raise OAuthError("invalid_grant", "Invalid JWT: malformed.")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError:
            raise OAuthError("invalid_grant", "Invalid JWT: malformed.")
        if header.get("alg") != "RS256":
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)) or exp - iat > MAX_ASSERTION_LIFETIME \
                or iat > now + CLOCK_SKEW or exp < now - CLOCK_SKEW:
            raise OAuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                                              "reasonable timeframe. Check your iat and exp values in the JWT claim.")
        if audiences is not None and claims.get("aud") not in audiences:
            raise OAuthError("invalid_grant", "Invalid JWT: audience is not the token endpoint.")
        email = claims.get("iss") or ""
        with self.emulator.lock:
            keys = dict(self.emulator.keys.get(email) or {})
        if keys:
            # A JWT without "kid" (AWX's Google Compute Engine credential writes a key file without private_key_id)
            # is checked against each of the account's keys, as Google does.
            candidates = [keys.get(header["kid"])] if "kid" in header else list(keys.values())
            signed = (parts[0] + "." + parts[1]).encode("ascii")
            if not any(key is not None and _signature_valid(key, signature, signed) for key in candidates):
                raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        return claims

    def token(self, form):
        grant = first(form, "grant_type")
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise OAuthError("unsupported_grant_type", "Invalid grant_type: {0}".format(grant or ""))
        assertion = first(form, "assertion") or ""
        claims = self.verify_jwt(assertion, {GOOGLE_TOKEN_AUDIENCE, self.token_url()})
        if not claims.get("scope") and not claims.get("target_audience"):
            raise OAuthError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        token = self.emulator.issue_token(claims.get("sub") or claims.get("iss"))
        return {"access_token": token, "expires_in": ACCESS_TOKEN_LIFETIME, "token_type": "Bearer"}

    def authenticate(self, header):
        """The caller's principal, or an ApiError 401."""
        if not header:
            raise ApiError("UNAUTHENTICATED", UNAUTHENTICATED_MISSING, [error_info("CREDENTIALS_MISSING", "googleapis.com")])
        scheme, dummy, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise ApiError("UNAUTHENTICATED", UNAUTHENTICATED_INVALID, [error_info("ACCESS_TOKEN_TYPE_UNSUPPORTED", "googleapis.com")])
        with self.emulator.lock:
            issued = self.emulator.tokens.get(credential)
        if issued and issued["expires"] > time.time():
            return issued["principal"]
        if credential.count(".") == 2 and not credential.startswith("ya29."):
            # A self-signed JWT, which the gapic clients send for service-account keys (AIP-4111).
            try:
                claims = self.verify_jwt(credential, None)
            except OAuthError:
                claims = {}
            # AIP-4111: a self-signed JWT names the API as audience or carries scopes.
            if claims.get("scope") or str(claims.get("aud", "")).startswith("https://"):
                return claims.get("iss")
        raise ApiError("UNAUTHENTICATED", UNAUTHENTICATED_INVALID, [error_info("ACCESS_TOKEN_EXPIRED" if issued else
                                                                               "ACCESS_TOKEN_TYPE_UNSUPPORTED", "googleapis.com")])


# --------------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------------

SEGMENT = r"([^/:]+)"
P_L = r"/v1/projects/" + SEGMENT + "/locations/" + SEGMENT
AR_REPO = P_L + "/repositories/" + SEGMENT
SA = r"/v1/projects/" + SEGMENT + "/serviceAccounts/" + SEGMENT
SU_PARENT = r"/v1/(projects|folders|organizations)/" + SEGMENT

# (HTTP method, path pattern, API method name, handler attribute path, changes state)
ROUTES = [
    ("POST", P_L + "/repositories", "artifactregistry.repositories.create", "ar.create", True),
    ("GET", P_L + "/repositories", "artifactregistry.repositories.list", "ar.list", False),
    ("GET", AR_REPO, "artifactregistry.repositories.get", "ar.get", False),
    ("PATCH", AR_REPO, "artifactregistry.repositories.patch", "ar.patch", True),
    ("DELETE", AR_REPO, "artifactregistry.repositories.delete", "ar.delete", True),
    ("GET", AR_REPO + ":getIamPolicy", "artifactregistry.repositories.getIamPolicy", "ar.get_iam_policy", False),
    ("POST", AR_REPO + ":setIamPolicy", "artifactregistry.repositories.setIamPolicy", "ar.set_iam_policy", True),
    ("GET", AR_REPO + "/packages", "artifactregistry.packages.list", "ar.list_packages", False),
    ("GET", P_L + "/operations/" + SEGMENT, "artifactregistry.operations.get", "ar.get_operation", False),
    ("GET", SA, "iam.serviceAccounts.get", "iam.get", False),
    ("POST", SA + ":getIamPolicy", "iam.serviceAccounts.getIamPolicy", "iam.get_iam_policy", False),
    ("POST", SA + ":setIamPolicy", "iam.serviceAccounts.setIamPolicy", "iam.set_iam_policy", True),
    ("POST", SA + ":generateAccessToken", "iamcredentials.serviceAccounts.generateAccessToken",
     "iamcredentials.generate_access_token", False),
    ("POST", SU_PARENT + "/services:batchEnable", "serviceusage.services.batchEnable", "su.batch_enable", True),
    ("GET", SU_PARENT + "/services", "serviceusage.services.list", "su.list", False),
    ("GET", SU_PARENT + "/services/" + SEGMENT, "serviceusage.services.get", "su.get", False),
    ("POST", SU_PARENT + "/services/" + SEGMENT + ":enable", "serviceusage.services.enable", "su.enable", True),
    ("POST", SU_PARENT + "/services/" + SEGMENT + ":disable", "serviceusage.services.disable", "su.disable", True),
    ("GET", r"/v1/operations/([^/]+)", "serviceusage.operations.get", "su.get_operation", False),
] + gke_fleet.ROUTES
COMPILED_ROUTES = [(verb, re.compile("^" + pattern + "$"), name, handler, write)
                   for verb, pattern, name, handler, write in ROUTES]


# API methods whose answer holds a credential: that field is redacted in the request log.
CREDENTIAL_ANSWERS = {"iamcredentials.serviceAccounts.generateAccessToken": "accessToken"}


def find_route(verb, path):
    """(route, path arguments) for a request, or (None, None)."""
    for route in COMPILED_ROUTES:
        match = route[1].match(path)
        if match and route[0] == verb:
            return route, match.groups()
    return None, None


class Context:
    """What a handler needs from a request."""

    def __init__(self, query, body, principal):
        self.query = query
        self.body = body
        self.principal = principal


class Services:
    """The emulated APIs, the OAuth endpoint and the control endpoints, sharing one Emulator."""

    def __init__(self, emulator, token_url_getter):
        self.emulator = emulator
        self.ar = ArtifactRegistry(emulator)
        self.iam = ServiceAccounts(emulator)
        self.su = ServiceUsage(emulator)
        self.oauth = OAuth(emulator, token_url_getter)
        self.gke = gke_fleet.GkeFleet(emulator, ApiError)
        self.sts = gcp_sts.Sts(emulator)
        self.iamcredentials = IamCredentials(emulator)

    def handler(self, dotted):
        owner, method = dotted.split(".")
        return getattr(getattr(self, owner), method)

    # ----- /__emulator/ control endpoints (not part of any Google API) -----

    def control(self, verb, path, body):
        body = body if isinstance(body, dict) else {}
        emulator = self.emulator
        action = (verb, path[len("/__emulator/"):].strip("/"))
        if action == ("GET", "health"):
            return {"ok": True}
        if action == ("GET", "requests"):
            return {"requests": emulator.requests()}
        if action == ("DELETE", "requests"):
            emulator.clear_log()
            return {}
        if action == ("POST", "reset"):
            emulator.reset()
            return {}
        if action == ("POST", "projects"):
            return emulator.seed_project(body["projectId"], body.get("projectNumber"), body.get("services"))
        if action == ("POST", "services"):
            with emulator.lock:
                emulator.extra_services[body["name"]] = body.get("title") or body["name"]
            return {"name": body["name"]}
        if action == ("POST", "packages"):
            return self.ar.seed_package(body["repository"], body["packageId"], body.get("sizeBytes", 0), body.get("displayName"))
        if action == ("POST", "service-accounts"):
            return self.iam.seed(body["email"], body.get("displayName"), body.get("description"), body.get("projectId"))
        if action == ("POST", "service-account-keys"):
            emulator.register_key(body["email"], body["keyId"], body["publicKeyPem"])
            return {}
        if action == ("POST", "tokens"):
            lifetime = int(body.get("expiresIn") or ACCESS_TOKEN_LIFETIME)
            return {"access_token": emulator.issue_token(body.get("principal") or "test", lifetime), "expires_in": lifetime,
                    "token_type": "Bearer"}
        if action == ("POST", "faults"):
            return emulator.add_fault(body)
        if action == ("DELETE", "faults"):
            with emulator.lock:
                emulator.faults = []
            return {}
        if action == ("POST", "config"):
            with emulator.lock:
                if "lroPolls" in body:
                    emulator.lro_polls = int(body["lroPolls"])
            return {"lroPolls": emulator.lro_polls}
        if action == ("GET", "state"):
            return self.dump()
        if action == ("POST", "authorize"):
            return authorize(emulator, body)
        with emulator.lock:
            answer = self.gke.control(action, body)
        if answer is not None:
            return answer
        raise ApiError("NOT_FOUND", "no control endpoint {0} {1}".format(verb, path))

    def dump(self):
        with self.emulator.lock:
            return {"projects": copy.deepcopy(self.emulator.projects),
                    "enabledServices": {k: sorted(v) for k, v in self.emulator.enabled_services.items()},
                    "repositories": {name: self.ar.view(repo) for name, repo in self.emulator.repositories.items()},
                    "repositoryPolicies": {name: repo["_policy"] for name, repo in self.emulator.repositories.items()},
                    "serviceAccounts": {email: dict(self.iam.view(sa), policy=sa["_policy"])
                                        for email, sa in self.emulator.service_accounts.items()}}


# --------------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    """One HTTP request: control, token, or API call; every API call is logged with its answer's status."""

    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""
    # Headers and body leave in one segment: with keep-alive, Nagle plus delayed ACKs would add ~40 ms per call.
    disable_nagle_algorithm = True
    wbufsize = -1

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.verbose:
            sys.stderr.write("gcp-emulator: " + (format % args) + "\n")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def dispatch(self, verb):
        services = self.server.services
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query, keep_blank_values=True)
        raw = self.read_body()
        if path == gke_fleet.TOKEN_REVIEW_PATH:
            self.send_json(200, services.gke.token_review(json.loads(raw or b"{}")))
        elif path == "/tokeninfo":
            self.send_json(*services.gke.tokeninfo(query))
        elif gke_fleet.is_gateway_path(path):
            self.answer_gateway(services, verb, path, url.query, query, raw)
        elif path.startswith("/__emulator/"):
            self.answer_control(services, verb, path, raw)
        elif path == "/token":
            self.answer_token(services, verb, path, query, raw)
        elif path == gcp_sts.STS_PATH:
            self.answer_sts(services, verb, path, query, raw)
        elif path == "/revoke":
            self.answer_revoke(services, verb, path, query, raw)
        else:
            self.answer_api(services, verb, path, query, raw)

    def answer_control(self, services, verb, path, raw):
        try:
            body = json.loads(raw) if raw else {}
            self.send_json(200, services.control(verb, path, body))
        except ApiError as exc:
            self.send_json(exc.code, exc.body())
        except (KeyError, ValueError, TypeError) as exc:
            self.send_json(400, {"error": {"code": 400, "message": "bad control request: {0!r}".format(exc),
                                           "status": "INVALID_ARGUMENT"}})

    def answer_token(self, services, verb, path, query, raw):
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        try:
            if verb != "POST":
                raise OAuthError("invalid_request", "Only POST is supported.")
            status, body = 200, services.oauth.token(form)
        except OAuthError as exc:
            status, body = exc.code, {"error": exc.error, "error_description": exc.description}
        # The assertion is a credential: the log keeps only that one was sent.
        logged_form = {key: ("<redacted>" if key == "assertion" else values[0]) for key, values in form.items()}
        self.log_call(verb, path, query, logged_form, status, "oauth2.token", False)
        self.send_json(status, body)

    def answer_sts(self, services, verb, path, query, raw):
        """sts.googleapis.com ``POST /v1/token``: the token exchange (gcp_sts.Sts), logged as ``sts.token`` with the
        subject token redacted and without its answer (a credential)."""
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        try:
            if verb != "POST":
                raise gcp_sts.StsError("invalid_request", "Only POST is supported.")
            status, body = 200, services.sts.exchange(form)
        except gcp_sts.StsError as exc:
            status, body = exc.code, exc.body()
        logged_form = {key: ("<redacted>" if key == "subject_token" else values[0]) for key, values in form.items()}
        self.log_call(verb, path, query, logged_form, status, "sts.token", False, None if status == 200 else body)
        self.send_json(status, body)

    def answer_revoke(self, services, verb, path, query, raw):
        """``POST /revoke?token=...`` (or the token in the form): 200 ``{}``, or 400 ``invalid_token`` for a token
        that is unknown, expired or already revoked, as oauth2.googleapis.com/revoke answers."""
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        token = (query.get("token") or form.get("token") or [""])[0]
        emulator = services.emulator
        with emulator.lock:
            issued = emulator.tokens.pop(token, None) if verb == "POST" else None
        if verb != "POST":
            status, body = 400, {"error": "invalid_request", "error_description": "Only POST is supported."}
        elif issued is None or issued["expires"] <= time.time():
            status, body = 400, {"error": "invalid_token", "error_description": "Token expired or revoked"}
        else:
            status, body = 200, {}
        # The token is a credential: the log keeps only that one was sent.
        self.log_call(verb, path, {}, {"token": "<redacted>"} if token else {}, status, "oauth2.revoke", True)
        self.send_json(status, body)

    def answer_api(self, services, verb, path, query, raw):
        route, args = find_route(verb, path)
        api_method = route[2] if route else "unknown"
        write = route[4] if route else verb != "GET"
        body = None
        latency = 0.0
        try:
            body = self.parse_json(raw)
            principal = services.oauth.authenticate(self.headers.get("Authorization"))
            if route is None:
                raise ApiError("NOT_FOUND", "Method not found.")
            fault, latency = services.emulator.match_faults(api_method)
            if fault is not None:
                raise fault
            with services.emulator.lock:
                answer = services.handler(route[3])(Context(query, body, principal), *args)
            status = 200
        except ApiError as exc:
            status, answer = exc.code, exc.body()
        enums_as_ints = "enum-encoding=int" in (first(query, "$alt") or first(query, "alt") or "")
        if latency:
            time.sleep(latency)  # after the state was read or written, so concurrent callers see stale answers
        rendered = render(answer, enums_as_ints)
        logged = rendered
        if status == 200 and api_method in CREDENTIAL_ANSWERS:
            logged = dict(rendered, **{CREDENTIAL_ANSWERS[api_method]: "<redacted>"})  # the log never holds a token
        self.log_call(verb, path, query, body, status, api_method, write, logged)
        extra = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'} if status == 401 else None
        self.send_json(status, rendered, extra)

    def answer_gateway(self, services, verb, path, query_string, query, raw):
        """Connect Gateway: Google authentication, then the membership's API server answers (streamed through)."""
        write = verb in gke_fleet.GATEWAY_WRITE_VERBS and "All" not in query.get("dryRun", [])
        api_method = "connectgateway.{0}".format(verb.lower())
        try:
            services.oauth.authenticate(self.headers.get("Authorization"))
            status = services.gke.proxy(self, verb, path, query_string, raw)
        except ApiError as exc:
            status = exc.code
            self.send_json(status, exc.body())
        self.log_call(verb, path, query, None, status, api_method, write)

    @staticmethod
    def parse_json(raw):
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError("INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.")

    def log_call(self, verb, path, query, body, status, api_method, write, response=None):
        """Log one call; ``response`` is kept for API calls only (the token endpoint's answer is a credential)."""
        flat_query = {key: values[0] if len(values) == 1 else values for key, values in query.items()}
        # Only headers that say who called and how; never Authorization.
        headers = {name: self.headers[name] for name in LOGGED_HEADERS if self.headers.get(name)}
        self.server.services.emulator.record({"time": timestamp(), "method": verb, "path": path, "query": flat_query,
                                              "headers": headers, "body": body, "status": status, "apiMethod": api_method,
                                              "write": write, "response": response})

    def send_json(self, status, payload, extra_headers=None):
        data = (json.dumps(payload, indent=2) + "\n").encode("utf-8")
        self.send_response(status, REASON_PHRASES.get(status))
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Vary", "Origin")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port=0, verbose=False):
        super().__init__(("127.0.0.1", port), Handler)
        self.verbose = verbose
        self.emulator = Emulator()
        self.services = Services(self.emulator, lambda: "http://127.0.0.1:{0}/token".format(self.server_address[1]))

    @property
    def port(self):
        return self.server_address[1]


def start_in_thread(port=0, verbose=False):
    """Start an emulator in this process (for scripts); returns the server, stop it with ``shutdown()``."""
    server = EmulatorServer(port, verbose)
    thread = threading.Thread(target=server.serve_forever, name="gcp-emulator", daemon=True)
    thread.start()
    return server


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--port-file", help="write the chosen port to this file once listening")
    parser.add_argument("--project", action="append", default=[], metavar="ID[:NUMBER]",
                        help="seed a project (with the APIs this collection needs enabled); repeatable")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    server = EmulatorServer(args.port, args.verbose)
    for spec in args.project:
        project_id, dummy, number = spec.partition(":")
        server.emulator.seed_project(project_id, number or None)
    if args.port_file:
        temporary = args.port_file + ".tmp"
        with open(temporary, "w") as stream:
            stream.write(str(server.port))
        os.replace(temporary, args.port_file)  # readers never see a half-written file
    print("gcp-emulator listening on http://127.0.0.1:{0}".format(server.port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
