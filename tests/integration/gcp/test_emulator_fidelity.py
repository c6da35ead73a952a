"""The GCP emulator answers like the real APIs: recorded traffic replayed, and the real client libraries driven.

Two kinds of checks:

- Replay: the requests of each recorded log in /work/shared/reference/gcp-http-logs/ are sent again (same method,
  path, query, body; placeholders filled in), and each answer, normalised the way the recording harness
  normalised (project, ids, timestamps, etags), must equal the recorded answer. The few known, documented
  differences are listed in ``KNOWN_DIFFERENCES``.
- Clients: the real google-cloud-artifact-registry, google-cloud-service-usage and google-api-python-client
  libraries, with real OAuth2 service-account credentials, against the emulator; the shapes of the logged
  answers are compared with the recorded ones.
"""
import json
import os
import pathlib
import re
import threading
import uuid

import google.api_core.retry
import google.auth.exceptions
import google.auth.transport.requests
import pytest
import requests
from google.api_core import exceptions as gexc
from google.cloud import artifactregistry_v1 as ar
from google.cloud import service_usage_v1 as su
from google.iam.v1 import policy_pb2
from google.oauth2 import service_account
from google.protobuf import field_mask_pb2, json_format
from googleapiclient import discovery
from googleapiclient.errors import HttpError

from harness.paths import REPO

# The recorded traffic (see its README) lives in the shared reference folder beside the checkout (CI lays a copy
# there too); GCP_HTTP_LOGS points elsewhere.
LOGS = pathlib.Path(os.environ.get("GCP_HTTP_LOGS", REPO.parent / "shared" / "reference" / "gcp-http-logs"))
RECORDED_TIME = "2024-04-01T12:34:56.123456Z"
RECORDED_ETAG = "abcdef0123A="
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
READER = "roles/artifactregistry.reader"
WI_USER = "roles/iam.workloadIdentityUser"


@pytest.fixture
def recorded_traffic():
    """The recordings are always beside the checkout (CI lays them there): missing, they are an error, not a skip."""
    if not LOGS.is_dir():
        pytest.fail("recorded GCP traffic not found at %s (set GCP_HTTP_LOGS to its folder)" % LOGS)
    return LOGS


needs_recordings = pytest.mark.usefixtures("recorded_traffic")


# ----------------------------------------------------------------------------------------------------------
# Reading the recorded logs
# ----------------------------------------------------------------------------------------------------------

STATUS_LINE = re.compile(r"^(\d{3}) [A-Za-z ]+$")


def parse_http_log(path):
    """The exchanges of a KCC ``_http.log``: dicts with method, url, request (JSON or None), status, response."""
    exchanges = []
    for block in path.read_text().split("\n---\n"):
        lines = block.strip("\n").splitlines()
        method, url = lines[0].split(" ", 1)
        status_at = next(i for i, line in enumerate(lines) if i > 0 and STATUS_LINE.match(line))
        request_lines = lines[1:status_at]
        request_body = "\n".join(request_lines[request_lines.index(""):]).strip() if "" in request_lines else ""
        response_lines = lines[status_at + 1:]
        response_body = "\n".join(response_lines[response_lines.index(""):]).strip() if "" in response_lines else ""
        exchanges.append({"method": method, "url": url, "request": json.loads(request_body) if request_body else None,
                          "status": int(STATUS_LINE.match(lines[status_at]).group(1)),
                          "response": json.loads(response_body) if response_body else None})
    return exchanges


def recorded(name, host=None, method=None, path_end=None):
    """Recorded exchanges of one log, optionally only those to one host / method / path ending."""
    found = []
    for exchange in parse_http_log(LOGS / name):
        url = exchange["url"].split("?")[0]
        if host and host not in url or method and exchange["method"] != method or path_end and not url.endswith(path_end):
            continue
        found.append(exchange)
    return found


def shape(value):
    """The structure of a JSON value: keys of objects (recursively), element shape of lists, scalars as None."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


# ----------------------------------------------------------------------------------------------------------
# Replaying the recorded requests
# ----------------------------------------------------------------------------------------------------------

class Replay:
    """Sends recorded requests to the emulator and normalises its answers like the recording harness did."""

    def __init__(self, gcp, names):
        self.gcp = gcp
        self.names = names  # placeholder -> our value, e.g. {"${projectId}": "configsync-test"}
        self.operation_id = None
        self.etag = None

    def fill(self, text):
        for placeholder, value in self.names.items():
            text = text.replace(placeholder, value)
        if self.operation_id:
            text = text.replace("${operationID}", self.operation_id)
        if self.etag:
            text = text.replace(RECORDED_ETAG, self.etag)
        return text

    def send(self, exchange):
        url = self.fill(re.sub(r"^https://[^/]+", self.gcp.endpoint, exchange["url"]))
        body = json.loads(self.fill(json.dumps(exchange["request"]))) if exchange["request"] is not None else None
        response = requests.request(exchange["method"], url, json=body, timeout=30,
                                    headers={"Authorization": "Bearer " + self.gcp.access_token})
        answer = response.json()
        if isinstance(answer.get("name"), str) and "operations/" in answer["name"]:
            self.operation_id = answer["name"].split("operations/", 1)[1]
        if "etag" in answer:
            self.etag = answer["etag"]
        return response.status_code, answer

    def normalise(self, value):
        """Our answer in the recording's terms: placeholders back in, timestamps and etags fixed."""
        text = json.dumps(value)
        if self.operation_id:
            text = text.replace(self.operation_id, "${operationID}")
        for placeholder, ours in sorted(self.names.items(), key=lambda item: -len(item[1])):
            text = text.replace(ours, placeholder)
        value = json.loads(text)
        return self._fixed_values(value)

    def _fixed_values(self, value):
        if isinstance(value, dict):
            return {key: (RECORDED_ETAG if key == "etag" else RECORDED_TIME if isinstance(item, str) and TIMESTAMP.match(item)
                          else self._fixed_values(item)) for key, item in value.items()}
        if isinstance(value, list):
            return [self._fixed_values(item) for item in value]
        return value


# Differences between a recording and the emulator that are known and explained in docs/emulator.md.
def drop_registry_uri(answer):
    """The MOCK-GENERATED IAM log has no registryUri in GET; real GCP returns it (see its README)."""
    answer.pop("registryUri", None)
    return answer


def drop_metadata(answer):
    """The Feb 2025 enable answer is {name} only; the Sep 2025 recording adds Empty metadata, which we follow."""
    answer.pop("metadata", None)
    return answer


KNOWN_DIFFERENCES = {
    ("artifactregistry-repository-iampolicy_MOCKGCP-GENERATED_http.log", "GET", "repositories/artifactregistryrepository-${uniqueId}"):
        drop_registry_uri,
    ("serviceusage-enable-on-new-project-gcloud_http.log", "POST", ":enable"): drop_metadata,
}


def known_difference(log, exchange):
    path = exchange["url"].split("?")[0]
    for (name, method, ending), fix in KNOWN_DIFFERENCES.items():
        if name == log and method == exchange["method"] and path.endswith(ending):
            return fix
    return None


def replay_log(gcp, log, names, host=None):
    """Replay every exchange of ``log`` (to ``host`` only, if given); returns [(recorded, ours)] of differing answers."""
    replay = Replay(gcp, names)
    mismatches = []
    for exchange in recorded(log, host=host):
        status, answer = replay.send(exchange)
        ours = replay.normalise(answer)
        fix = known_difference(log, exchange)
        if fix:
            ours = fix(ours)
        if status != exchange["status"] or ours != exchange["response"]:
            mismatches.append({"request": exchange["method"] + " " + exchange["url"], "status": (exchange["status"], status),
                               "recorded": exchange["response"], "emulator": ours})
    return mismatches


@needs_recordings
def test_replay_gcloud_docker_repository_crud(gcp):
    """REAL recording: gcloud create (LRO) / get / patch description / get / delete (LRO) of a DOCKER repository."""
    names = {"${projectId}": gcp.project, "${uniqueId}": uuid.uuid4().hex[:10]}
    assert replay_log(gcp, "artifactregistry-repository-docker-crud-gcloud_http.log", names) == []


@needs_recordings
def test_replay_kcc_virtual_repository(gcp):
    """REAL-EQUIVALENT recording: 404 on a missing repository, STANDARD and VIRTUAL repositories, labels, patch."""
    names = {"${projectId}": gcp.project, "${uniqueId}": uuid.uuid4().hex[:10]}
    assert replay_log(gcp, "artifactregistry-repository-virtual-kcc-fixture_http.log", names) == []


@needs_recordings
def test_replay_repository_iam_policy_shapes(gcp):
    """MOCK-GENERATED shapes: empty policy is just an etag, set with version 3 reports version 1, clearing keeps version."""
    names = {"${projectId}": gcp.project, "${uniqueId}": uuid.uuid4().hex[:10]}
    assert replay_log(gcp, "artifactregistry-repository-iampolicy_MOCKGCP-GENERATED_http.log", names) == []


@needs_recordings
def test_replay_service_usage_enable_on_new_project(gcp):
    """REAL recording (raw project number): enable answers an operation; polling it gives EnableServiceResponse."""
    unique = uuid.uuid4().hex[:10]
    gcp.seed_project("test-" + unique, "1168704978", services=[])
    names = {"${uniqueId}": unique}
    assert replay_log(gcp, "serviceusage-enable-on-new-project-gcloud_http.log", names, host="serviceusage.googleapis.com") == []


@needs_recordings
def test_replay_service_usage_batch_enable_and_enable(gcp):
    project = "su-" + uuid.uuid4().hex[:8]
    gcp.seed_project(project, "246813579024", services=[])
    names = {"${projectId}": project, "${projectNumber}": "246813579024"}
    assert replay_log(gcp, "serviceusage-services-batchenable-enable-gcloud_http.log", names) == []


@needs_recordings
def test_operation_names_look_like_recorded_ones(gcp):
    """The raw go-vcr cassette shows AR operation names end in a UUID; Service Usage ones are operations/<id>."""
    cassette = (LOGS / "artifactregistry-repository-virtual-kcc-tf_vcr-cassette.yaml").read_text()
    assert re.search(r"/operations/" + UUID.pattern, cassette)
    client = ar_client(gcp)
    operation = client.create_repository(parent=parent(gcp), repository_id="names", repository=docker_repository())
    assert re.match(r"^projects/%s/locations/us-central1/operations/%s$" % (gcp.project, UUID.pattern), operation.operation.name)


# ----------------------------------------------------------------------------------------------------------
# Artifact Registry through google-cloud-artifact-registry (REST transport)
# ----------------------------------------------------------------------------------------------------------

def ar_client(gcp, credentials=None):
    return ar.ArtifactRegistryClient(credentials=credentials or gcp.credentials(), transport="rest",
                                     client_options={"api_endpoint": gcp.endpoint})


def parent(gcp, location="us-central1"):
    return "projects/{0}/locations/{1}".format(gcp.project, location)


def docker_repository(description="manifests for Config Sync"):
    return ar.Repository(format_=ar.Repository.Format.DOCKER, description=description)


def logged(gcp, api_method):
    return [entry for entry in gcp.requests(api_method) if entry["status"] == 200]


def test_repository_lifecycle_with_client(gcp):
    client = ar_client(gcp)
    gcp.set_lro_polls(2)  # the client really polls the operation until it is done
    created = client.create_repository(parent=parent(gcp), repository_id="oci", repository=docker_repository()).result(timeout=30)
    assert created.name == gcp.repository_name("oci")
    assert created.mode == ar.Repository.Mode.STANDARD_REPOSITORY
    assert len(gcp.requests("artifactregistry.operations.get")) == 3

    got = client.get_repository(name=created.name)
    assert got.registry_uri == "us-central1-docker.pkg.dev/{0}/oci".format(gcp.project)
    assert got.create_time == got.update_time

    patched = client.update_repository(repository=ar.Repository(name=created.name, description="v2", format_=ar.Repository.Format.MAVEN),
                                       update_mask=field_mask_pb2.FieldMask(paths=["description"]))
    assert (patched.description, patched.format_) == ("v2", ar.Repository.Format.DOCKER)
    assert patched.update_time > got.update_time
    assert [r.name for r in client.list_repositories(parent=parent(gcp))] == [created.name]

    client.delete_repository(name=created.name).result(timeout=30)
    with pytest.raises(gexc.NotFound, match="Requested entity was not found."):
        client.get_repository(name=created.name)


@needs_recordings
def test_client_answers_match_recorded_shapes(gcp):
    """The answers the REST client got (enums as numbers) have the recorded keys; enums are numbers as asked."""
    client = ar_client(gcp)
    created = client.create_repository(parent=parent(gcp), repository_id="shape", repository=docker_repository(description=""))
    name = created.result(timeout=30).name
    client.get_repository(name=name)
    client.update_repository(repository=ar.Repository(name=name, description="d2"), update_mask=field_mask_pb2.FieldMask(paths=["description"]))
    crud = recorded("artifactregistry-repository-docker-crud-gcloud_http.log")
    by_method = {"artifactregistry.repositories.create": crud[0], "artifactregistry.operations.get": crud[1],
                 "artifactregistry.repositories.get": crud[2], "artifactregistry.repositories.patch": crud[3]}
    for api_method, exchange in by_method.items():
        assert shape(logged(gcp, api_method)[0]["response"]) == shape(exchange["response"]), api_method
    get_answer = logged(gcp, "artifactregistry.repositories.get")[0]
    assert get_answer["query"]["$alt"] == "json;enum-encoding=int"
    assert get_answer["response"]["format"] == 1 and get_answer["response"]["mode"] == 1
    assert get_answer["response"]["vulnerabilityScanningConfig"]["enablementState"] == 2


def test_repository_errors_with_client(gcp):
    client = ar_client(gcp)
    client.create_repository(parent=parent(gcp), repository_id="dup", repository=docker_repository()).result(timeout=30)
    with pytest.raises(gexc.Conflict, match="the repository already exists") as exists:
        client.create_repository(parent=parent(gcp), repository_id="dup", repository=docker_repository())
    # Over REST both ALREADY_EXISTS and ABORTED arrive as Conflict (409); the body's status tells them apart.
    assert exists.value.response.json()["error"]["status"] == "ALREADY_EXISTS"
    for bad_id in ("Upper", "9lives", "trailing-", "a" * 64, "under_score"):
        with pytest.raises(gexc.BadRequest):
            client.create_repository(parent=parent(gcp), repository_id=bad_id, repository=docker_repository())
    assert client.create_repository(parent=parent(gcp), repository_id="a" * 63, repository=docker_repository()).result(timeout=30)
    with pytest.raises(gexc.BadRequest):
        client.create_repository(parent=parent(gcp, "us-nowhere9"), repository_id="x", repository=docker_repository())
    with pytest.raises(gexc.BadRequest):
        client.create_repository(parent=parent(gcp), repository_id="noformat", repository=ar.Repository())
    for immutable, in_message in (("format", "format"), ("kms_key_name", "kmsKeyName"), ("mode", "mode")):
        with pytest.raises(gexc.BadRequest, match=in_message):
            client.update_repository(repository=ar.Repository(name=gcp.repository_name("dup")),
                                     update_mask=field_mask_pb2.FieldMask(paths=[immutable]))
    with pytest.raises(gexc.Forbidden, match="or it may not exist"):
        client.get_repository(name="projects/no-such-project/locations/us-central1/repositories/x")


def test_artifact_registry_api_must_be_enabled(gcp):
    gcp.seed_project("fresh-project", "555000111222", services=[])
    client = ar_client(gcp)
    with pytest.raises(gexc.Forbidden, match="Artifact Registry API has not been used in project 555000111222"):
        client.create_repository(parent="projects/fresh-project/locations/us-central1", repository_id="x", repository=docker_repository())
    su_client(gcp).batch_enable_services(request={"parent": "projects/fresh-project",
                                                  "service_ids": ["artifactregistry.googleapis.com"]}).result(timeout=30)
    client.create_repository(parent="projects/fresh-project/locations/us-central1", repository_id="x",
                             repository=docker_repository()).result(timeout=30)


def test_deleting_a_repository_with_packages_deletes_them(gcp):
    client = ar_client(gcp)
    name = client.create_repository(parent=parent(gcp), repository_id="full", repository=docker_repository()).result(timeout=30).name
    gcp.seed_package(name, "test-namespace", size_bytes=2048)
    assert [p.name for p in client.list_packages(parent=name)] == [name + "/packages/test-namespace"]
    assert client.get_repository(name=name).size_bytes == 2048
    client.delete_repository(name=name).result(timeout=30)
    client.create_repository(parent=parent(gcp), repository_id="full", repository=docker_repository()).result(timeout=30)
    assert list(client.list_packages(parent=name)) == []


# ----------------------------------------------------------------------------------------------------------
# IAM policies on repositories
# ----------------------------------------------------------------------------------------------------------

def wi_member(gcp, ksa="root-reconciler"):
    return "serviceAccount:{0}.svc.id.goog[config-management-system/{1}]".format(gcp.project, ksa)


def test_repository_iam_policy_read_modify_write(gcp):
    client = ar_client(gcp)
    name = client.create_repository(parent=parent(gcp), repository_id="iam", repository=docker_repository()).result(timeout=30).name
    empty = client.get_iam_policy(request={"resource": name, "options": {"requested_policy_version": 3}})
    assert logged(gcp, "artifactregistry.repositories.getIamPolicy")[0]["response"] == {"etag": "ACAB"}
    assert logged(gcp, "artifactregistry.repositories.getIamPolicy")[0]["query"]["options.requestedPolicyVersion"] == "3"

    empty.bindings.add(role=READER, members=[wi_member(gcp)])
    empty.version = 3
    written = client.set_iam_policy(request={"resource": name, "policy": empty})
    assert written.etag != empty.etag and written.version == 1
    assert [(b.role, list(b.members)) for b in written.bindings] == [(READER, [wi_member(gcp)])]

    with pytest.raises(gexc.Conflict, match="There were concurrent policy changes") as stale:
        client.set_iam_policy(request={"resource": name, "policy": empty})  # the etag it carries is stale now
    assert stale.value.response.json()["error"]["status"] == "ABORTED"

    blind = policy_pb2.Policy(bindings=[policy_pb2.Binding(role=READER, members=["user:someone@example.com"])])
    overwritten = client.set_iam_policy(request={"resource": name, "policy": blind})
    assert [list(b.members) for b in overwritten.bindings] == [["user:someone@example.com"]]
    assert gcp.requests("artifactregistry.repositories.getIamPolicy")[0]["write"] is False
    assert [e["apiMethod"] for e in gcp.writes()] == ["artifactregistry.repositories.create"] + \
        ["artifactregistry.repositories.setIamPolicy"] * 3


def test_conditions_need_version_3_and_are_kept(gcp):
    client = ar_client(gcp)
    name = client.create_repository(parent=parent(gcp), repository_id="cond", repository=docker_repository()).result(timeout=30).name
    condition = {"title": "until 2030", "expression": 'request.time < timestamp("2030-01-01T00:00:00Z")'}
    policy = {"bindings": [{"role": READER, "members": ["group:readers@example.com"], "condition": condition},
                           {"role": READER, "members": [wi_member(gcp)]}],
              "auditConfigs": [{"service": "allServices", "auditLogConfigs": [{"logType": "DATA_READ"}]}]}
    with pytest.raises(gexc.BadRequest):
        client.set_iam_policy(request={"resource": name, "policy": json_format.ParseDict(dict(policy, version=1), policy_pb2.Policy())})
    written = client.set_iam_policy(request={"resource": name, "policy": json_format.ParseDict(dict(policy, version=3), policy_pb2.Policy()),
                                             "update_mask": field_mask_pb2.FieldMask(paths=["bindings", "etag", "audit_configs"])})
    assert written.version == 3 and written.bindings[0].condition.title == "until 2030"
    assert written.audit_configs[0].audit_log_configs[0].log_type == policy_pb2.AuditLogConfig.LogType.DATA_READ

    as_v1 = client.get_iam_policy(request={"resource": name, "options": {"requested_policy_version": 1}})
    assert as_v1.version == 1 and "_withcond_" in as_v1.bindings[0].role and not as_v1.bindings[0].HasField("condition")

    current = client.get_iam_policy(request={"resource": name, "options": {"requested_policy_version": 3}})
    del current.bindings[1]
    kept = client.set_iam_policy(request={"resource": name, "policy": current})  # default mask: bindings, etag
    assert [b.role for b in kept.bindings] == [READER] and kept.bindings[0].condition.expression == condition["expression"]
    assert len(kept.audit_configs) == 1


def test_member_emails_are_stored_in_lower_case(gcp):
    client = ar_client(gcp)
    name = client.create_repository(parent=parent(gcp), repository_id="case", repository=docker_repository()).result(timeout=30).name
    members = ["user:Alice@Example.com", "user:alice@example.com", "principal://iam.googleapis.com/X/Subject/Ab"]
    policy = policy_pb2.Policy(bindings=[policy_pb2.Binding(role=READER, members=members)])
    written = client.set_iam_policy(request={"resource": name, "policy": policy})
    assert list(written.bindings[0].members) == ["user:alice@example.com", "principal://iam.googleapis.com/X/Subject/Ab"]
    with pytest.raises(gexc.BadRequest, match="Policy members must be of the form"):
        client.set_iam_policy(request={"resource": name, "policy": policy_pb2.Policy(
            bindings=[policy_pb2.Binding(role=READER, members=["User:alice@example.com"])])})


@pytest.mark.parametrize("member", ["someone@example.com", "robot:x@example.com", "user:not-an-email",
                                    "serviceAccount:missing@configsync-test.iam.gserviceaccount.com"])
def test_invalid_members_are_refused(gcp, member):
    client = ar_client(gcp)
    name = client.create_repository(parent=parent(gcp), repository_id="members", repository=docker_repository()).result(timeout=30).name
    policy = policy_pb2.Policy(bindings=[policy_pb2.Binding(role=READER, members=[member])])
    with pytest.raises(gexc.BadRequest):
        client.set_iam_policy(request={"resource": name, "policy": policy})


def test_concurrent_read_modify_write_collides_and_retries_converge(gcp):
    """20 clients add one member each; with latency on getIamPolicy they collide (409) and retrying converges."""
    client = ar_client(gcp)
    name = client.create_repository(parent=parent(gcp), repository_id="busy", repository=docker_repository()).result(timeout=30).name
    gcp.inject("artifactregistry.repositories.getIamPolicy", latency=0.3)
    outcomes = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def add_member(index, retry):
        own = ar_client(gcp)
        start.wait()
        while True:
            policy = own.get_iam_policy(request={"resource": name, "options": {"requested_policy_version": 3}})
            policy.bindings.add(role=READER, members=[wi_member(gcp, "ns-reconciler-team-%d" % index)])
            try:
                own.set_iam_policy(request={"resource": name, "policy": policy})
                result = "ok"
            except gexc.Conflict:  # 409 ABORTED: the policy changed since it was read
                result = "aborted"
            if result == "ok" or not retry:
                break
        with lock:
            outcomes.append(result)

    def run(retry):
        threads = [threading.Thread(target=add_member, args=(i, retry)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

    run(retry=False)
    assert "aborted" in outcomes
    members = {m for b in client.get_iam_policy(request={"resource": name}).bindings for m in b.members}
    assert len(members) == outcomes.count("ok")

    outcomes.clear()
    run(retry=True)
    members = {m for b in client.get_iam_policy(request={"resource": name}).bindings for m in b.members}
    assert members == {wi_member(gcp, "ns-reconciler-team-%d" % i) for i in range(20)}


# ----------------------------------------------------------------------------------------------------------
# Service accounts through google-api-python-client, with a real service-account key
# ----------------------------------------------------------------------------------------------------------

def sa_credentials(gcp, tmp_path):
    key_file = gcp.service_account_file(tmp_path / "key.json")
    return service_account.Credentials.from_service_account_file(str(key_file), scopes=SCOPES)


def iam_service(gcp, credentials):
    return discovery.build("iam", "v1", credentials=credentials, static_discovery=True, cache_discovery=False,
                           client_options={"api_endpoint": gcp.endpoint})


def test_service_account_key_token_exchange(gcp, tmp_path):
    credentials = sa_credentials(gcp, tmp_path)
    credentials.refresh(google.auth.transport.requests.Request())
    assert credentials.token.startswith("ya29.") and credentials.expiry is not None
    token_call = gcp.requests("oauth2.token")[0]
    assert token_call["body"] == {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "<redacted>"}
    assert token_call["response"] is None  # the access token never lands in the log
    assert credentials.token not in json.dumps(gcp.requests())


def test_token_exchange_refuses_a_foreign_key(gcp, tmp_path):
    good = json.loads(gcp.service_account_file(tmp_path / "good.json").read_text())
    other = json.loads(gcp.service_account_file(tmp_path / "other.json", email="other@%s.iam.gserviceaccount.com" % gcp.project).read_text())
    forged = dict(good, private_key=other["private_key"])  # same account and key id, another private key
    credentials = service_account.Credentials.from_service_account_info(forged, scopes=SCOPES)
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        credentials.refresh(google.auth.transport.requests.Request())


def test_api_calls_need_a_bearer_token(gcp):
    url = gcp.endpoint + "/v1/{0}/repositories".format(parent(gcp))
    missing = requests.get(url, timeout=30)
    assert missing.status_code == 401 and missing.json()["error"]["status"] == "UNAUTHENTICATED"
    assert set(missing.json()["error"]) == {"code", "message", "status", "details"}
    wrong = requests.get(url, headers={"Authorization": "Bearer ya29.not-issued"}, timeout=30)
    assert wrong.status_code == 401 and "invalid authentication credentials" in wrong.json()["error"]["message"]


def test_gapic_client_with_service_account_key_uses_self_signed_jwt(gcp, tmp_path):
    client = ar_client(gcp, sa_credentials(gcp, tmp_path))
    assert list(client.list_repositories(parent=parent(gcp))) == []
    assert gcp.requests("oauth2.token") == []  # AIP-4111: no token exchange, the JWT itself is the bearer


def test_service_account_policy_with_discovery_client(gcp, tmp_path):
    gsa = "config-sync@{0}.iam.gserviceaccount.com".format(gcp.project)
    gcp.seed_service_account(gsa, display_name="Config Sync")
    iam = iam_service(gcp, sa_credentials(gcp, tmp_path))
    resource = "projects/{0}/serviceAccounts/{1}".format(gcp.project, gsa)
    account = iam.projects().serviceAccounts().get(name="projects/-/serviceAccounts/" + gsa).execute()
    assert account["email"] == gsa and account["projectId"] == gcp.project and set(account) >= {"name", "uniqueId", "etag", "oauth2ClientId"}

    policy = iam.projects().serviceAccounts().getIamPolicy(resource=resource, options_requestedPolicyVersion=3).execute()
    assert policy == {"etag": "ACAB"}
    call = gcp.requests("iam.serviceAccounts.getIamPolicy")[0]
    assert (call["method"], call["query"]["options.requestedPolicyVersion"], call["write"]) == ("POST", "3", False)

    policy["bindings"] = [{"role": WI_USER, "members": [wi_member(gcp)]}]
    written = iam.projects().serviceAccounts().setIamPolicy(resource=resource, body={"policy": policy}).execute()
    assert written["bindings"] == policy["bindings"] and written["version"] == 1 and written["etag"] != "ACAB"
    with pytest.raises(HttpError) as stale:
        iam.projects().serviceAccounts().setIamPolicy(resource=resource, body={"policy": policy}).execute()
    assert stale.value.resp.status == 409 and json.loads(stale.value.content)["error"]["status"] == "ABORTED"

    with pytest.raises(HttpError) as missing:
        iam.projects().serviceAccounts().getIamPolicy(resource="projects/-/serviceAccounts/nobody@%s.iam.gserviceaccount.com"
                                                      % gcp.project).execute()
    assert missing.value.resp.status == 404 and json.loads(missing.value.content)["error"]["status"] == "NOT_FOUND"


# ----------------------------------------------------------------------------------------------------------
# Service Usage through google-cloud-service-usage (REST transport)
# ----------------------------------------------------------------------------------------------------------

def su_client(gcp):
    return su.ServiceUsageClient(credentials=gcp.credentials(), transport="rest", client_options={"api_endpoint": gcp.endpoint})


def test_service_get_and_enable_with_client(gcp):
    client = su_client(gcp)
    name = "projects/{0}/services/container.googleapis.com".format(gcp.project)
    service = client.get_service(request={"name": name})
    assert service.name == "projects/{0}/services/container.googleapis.com".format(gcp.project_number)
    assert (service.parent, service.state, service.config.title) == ("projects/" + gcp.project_number, su.State.DISABLED,
                                                                     "Kubernetes Engine API")
    assert logged(gcp, "serviceusage.services.get")[0]["response"]["state"] == 1

    operation = client.enable_service(request={"name": name})
    assert operation.operation.name.startswith("operations/acf.p2-" + gcp.project_number) and not operation.operation.done
    assert client.get_service(request={"name": name}).state == su.State.ENABLED
    again = client.enable_service(request={"name": name})
    assert again.operation.name == "operations/noop.DONE_OPERATION" and again.done()

    batch = client.batch_enable_services(request={"parent": "projects/" + gcp.project,
                                                  "service_ids": ["compute.googleapis.com", "storage.googleapis.com"]})
    assert [s.state for s in batch.result(timeout=30).services] == [su.State.ENABLED] * 2


@needs_recordings
def test_enable_operation_matches_recorded_real_answer(gcp):
    """Polling an enable operation answers metadata {"@type": Empty, "value": {}}, as recorded from real GCP.

    That form trips the REST operations client of google-api-core (it parses strictly), so code that enables a
    service must not rely on ``operation.result()``; docs/emulator.md explains.
    """
    client = su_client(gcp)
    operation = client.enable_service(request={"name": "projects/{0}/services/container.googleapis.com".format(gcp.project)})
    with pytest.raises(json_format.ParseError, match='"google.protobuf.Empty" has no field named "value"'):
        operation.result(timeout=30)
    polled = logged(gcp, "serviceusage.operations.get")[0]["response"]
    real = recorded("serviceusage-enable-on-new-project-gcloud_http.log", host="serviceusage.googleapis.com")[1]["response"]
    assert shape(polled) == shape(real) and polled["metadata"] == real["metadata"]


def test_service_usage_errors(gcp):
    client = su_client(gcp)
    with pytest.raises(gexc.Forbidden, match="Permission denied to get service"):
        client.get_service(request={"name": "projects/no-such-project/services/container.googleapis.com"})
    with pytest.raises(gexc.Forbidden, match="Not found or permission denied for service"):
        client.enable_service(request={"name": "projects/{0}/services/nope.googleapis.com".format(gcp.project)})


# ----------------------------------------------------------------------------------------------------------
# Test support: fault injection and the request log
# ----------------------------------------------------------------------------------------------------------

def test_injected_unavailable_then_normal(gcp):
    gcp.inject("artifactregistry.repositories.get", code=503, count=2)
    url = gcp.endpoint + "/v1/" + gcp.repository_name("nothing")
    headers = {"Authorization": "Bearer " + gcp.access_token}
    answers = [requests.get(url, headers=headers, timeout=30) for dummy in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 404]
    assert answers[0].json()["error"]["status"] == "UNAVAILABLE"
    assert [e["status"] for e in gcp.requests()] == [503, 503, 404]


def test_client_retries_through_injected_unavailable(gcp):
    client = ar_client(gcp)
    name = client.create_repository(parent=parent(gcp), repository_id="flaky", repository=docker_repository()).result(timeout=30).name
    gcp.inject("artifactregistry.repositories.get", code=503, count=1)
    # Artifact Registry's generated client has no default retry: the caller passes one.
    retry = google.api_core.retry.Retry(predicate=google.api_core.retry.if_exception_type(gexc.ServiceUnavailable),
                                        initial=0.01, maximum=0.1, timeout=30)
    assert client.get_repository(name=name, retry=retry).name == name
    assert [e["status"] for e in gcp.requests("artifactregistry.repositories.get")] == [503, 200]
