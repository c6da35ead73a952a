"""The test control plane is a real Kubernetes API server running Config Sync's real CRDs.

Each test checks something only a real server does: persistence with server-set fields, OpenAPI schema
validation from the CRD (422 with the field path), and the status subresource's split between spec and status.
They run on ``bare_control_plane``, where no Config Sync controller acts on the RootSyncs they create.
"""
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

GROUP = "configsync.gke.io"
VERSION = "v1beta1"
PLURAL = "rootsyncs"
NAMESPACE = "config-management-system"


def unique(prefix):
    return "{0}-{1}".format(prefix, uuid.uuid4().hex[:8])


def oci_root_sync(name, **oci):
    spec_oci = {"image": "127.0.0.1:5000/configsync/app:v1", "dir": ".", "auth": "none"}
    spec_oci.update(oci)
    return {
        "apiVersion": "{0}/{1}".format(GROUP, VERSION),
        "kind": "RootSync",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"sourceType": "oci", "sourceFormat": "unstructured", "oci": spec_oci},
    }


@pytest.fixture
def custom_objects(bare_kube_client, configsync_crds):
    return client.CustomObjectsApi(bare_kube_client)


def test_server_reports_the_pinned_kubernetes_version(bare_control_plane, bare_kube_client):
    from harness import tools

    info = client.VersionApi(bare_kube_client).get_code()

    assert info.git_version == "v" + tools.versions()["KUBERNETES_VERSION"]
    assert bare_control_plane.server.startswith("https://127.0.0.1:")


def test_namespace_is_created_and_persisted(bare_kube_client):
    core = client.CoreV1Api(bare_kube_client)
    name = unique("ns")

    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"purpose": "harness"})))
    read_back = core.read_namespace(name)

    assert created.metadata.uid and read_back.metadata.uid == created.metadata.uid
    assert read_back.metadata.labels["purpose"] == "harness"
    # The namespace lifecycle controller in kube-apiserver sets the phase; no client wrote it.
    assert read_back.status.phase == "Active"


def test_config_management_system_namespace_exists(bare_kube_client):
    namespace = client.CoreV1Api(bare_kube_client).read_namespace(NAMESPACE)

    assert namespace.status.phase == "Active"


def test_configsync_crds_are_established(bare_kube_client, configsync_crds):
    extensions = client.ApiextensionsV1Api(bare_kube_client)

    for name in ("rootsyncs.configsync.gke.io", "reposyncs.configsync.gke.io", "resourcegroups.kpt.dev"):
        crd = extensions.read_custom_resource_definition(name)
        conditions = {c.type: c.status for c in crd.status.conditions}
        assert conditions.get("Established") == "True", name


def test_rootsync_with_oci_source_is_stored(custom_objects):
    name = unique("root-sync")

    custom_objects.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, oci_root_sync(name))
    stored = custom_objects.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)

    assert stored["spec"]["oci"] == {"image": "127.0.0.1:5000/configsync/app:v1", "dir": ".", "auth": "none"}
    assert stored["metadata"]["generation"] == 1


def test_rootsync_is_served_as_v1alpha1_too(custom_objects):
    name = unique("root-sync")
    custom_objects.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, oci_root_sync(name))

    as_alpha = custom_objects.get_namespaced_custom_object(GROUP, "v1alpha1", NAMESPACE, PLURAL, name)

    assert as_alpha["apiVersion"] == GROUP + "/v1alpha1"
    assert as_alpha["spec"]["oci"]["auth"] == "none"


def test_schema_rejects_an_auth_outside_the_enum(custom_objects):
    with pytest.raises(ApiException) as rejected:
        custom_objects.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, oci_root_sync(unique("root-sync"), auth="bogus"))

    assert rejected.value.status == 422
    assert "spec.oci.auth" in rejected.value.body
    assert "Unsupported value" in rejected.value.body


def test_schema_rejects_an_oci_source_without_image(custom_objects):
    body = oci_root_sync(unique("root-sync"))
    del body["spec"]["oci"]["image"]

    with pytest.raises(ApiException) as rejected:
        custom_objects.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)

    assert rejected.value.status == 422
    assert "spec.oci.image" in rejected.value.body


def test_release_crd_accepts_token_auth_with_a_secret_ref(bare_kube_client, configsync_crds):
    # Config Sync v1.24 added username/password auth for OCI (auth: token, spec.oci.secretRef); a structural
    # schema prunes fields it does not know, so secretRef surviving the round trip shows the release's schema.
    custom_objects = client.CustomObjectsApi(bare_kube_client)
    name = unique("root-sync")
    body = oci_root_sync(name, auth="token", secretRef={"name": "registry-credentials"})

    custom_objects.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
    stored = custom_objects.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)

    assert stored["spec"]["oci"]["auth"] == "token"
    assert stored["spec"]["oci"]["secretRef"] == {"name": "registry-credentials"}


def test_status_is_written_only_through_the_status_subresource(custom_objects):
    name = unique("root-sync")
    custom_objects.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, oci_root_sync(name))
    digest = "a" * 64
    status = {
        "observedGeneration": 1,
        "lastSyncedCommit": digest,
        "source": {"ociStatus": {"image": "127.0.0.1:5000/configsync/app:v1", "dir": "."}, "commit": digest},
        "conditions": [{"type": "Syncing", "status": "False", "reason": "Sync", "message": "Sync Completed",
                        "commit": digest, "lastUpdateTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
    }

    # With a status subresource the main resource ignores status changes ...
    custom_objects.patch_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name, {"status": status})
    assert "lastSyncedCommit" not in custom_objects.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name).get("status", {})

    # ... and /status stores it without touching spec or generation.
    custom_objects.patch_namespaced_custom_object_status(GROUP, VERSION, NAMESPACE, PLURAL, name, {"status": status})
    stored = custom_objects.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name)

    assert stored["status"]["lastSyncedCommit"] == digest
    assert stored["status"]["source"]["commit"] == digest
    assert stored["status"]["conditions"][0]["message"] == "Sync Completed"
    assert stored["metadata"]["generation"] == 1
    assert stored["spec"]["oci"]["auth"] == "none"
