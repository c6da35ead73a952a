"""The RootSync/RepoSync object, its RoleBinding, and the rules Config Sync checks before accepting them."""
import re

import pytest

from ansible_collections.configsync.oci.plugins.module_utils.configsync.names import ConfigSyncRuleError, root_sync_name_warning
from ansible_collections.configsync.oci.plugins.module_utils.configsync.objects import (
    build_sync_object, expected_commit, parse_image, reconciler_role_binding, validate_period,
)
from ansible_collections.configsync.oci.plugins.module_utils.configsync.versions import (
    auth_for_version, parse_version, reconciler_manager_image, version_from_image,
)

DIGEST = "a" * 64
IMAGE = "us-docker.pkg.dev/proj/repo/pkg"


def test_root_sync_object_as_the_seed_writes_it():
    obj = build_sync_object("RootSync", "root-sync", None, IMAGE + ":v1", "k8sserviceaccount", directory=".",
                            source_format="unstructured")
    assert obj == {
        "apiVersion": "configsync.gke.io/v1beta1",
        "kind": "RootSync",
        "metadata": {"name": "root-sync", "namespace": "config-management-system"},
        "spec": {"sourceType": "oci", "sourceFormat": "unstructured",
                 "oci": {"image": IMAGE + ":v1", "dir": ".", "auth": "k8sserviceaccount"}},
    }


def test_optional_fields_only_when_set():
    obj = build_sync_object("RepoSync", "repo-sync", "team-a", IMAGE + "@sha256:" + DIGEST, "gcpserviceaccount",
                            period="30s", gcp_service_account_email="reader-sa@proj.iam.gserviceaccount.com",
                            ca_cert_secret="registry-ca", override={"reconcileTimeout": "5m"})
    assert obj["metadata"] == {"name": "repo-sync", "namespace": "team-a"}
    assert obj["spec"] == {
        "sourceType": "oci",
        "oci": {"image": IMAGE + "@sha256:" + DIGEST, "auth": "gcpserviceaccount", "period": "30s",
                "gcpServiceAccountEmail": "reader-sa@proj.iam.gserviceaccount.com", "caCertSecretRef": {"name": "registry-ca"}},
        "override": {"reconcileTimeout": "5m"},
    }


def test_role_refs_go_into_the_override():
    obj = build_sync_object("RootSync", "root-sync", None, IMAGE + ":v1", "none", override={"statusMode": "disabled"},
                            role_refs=[{"kind": "ClusterRole", "name": "view"}, {"kind": "Role", "name": "deployer", "namespace": "apps"}])
    assert obj["spec"]["override"] == {"statusMode": "disabled", "roleRefs": [
        {"kind": "ClusterRole", "name": "view"}, {"kind": "Role", "name": "deployer", "namespace": "apps"}]}


@pytest.mark.parametrize("kind, namespace, kwargs, message", [
    ("RootSync", None, {"auth": "gcpserviceaccount"}, "must also specify spec.oci.gcpServiceAccountEmail"),
    ("RootSync", None, {"auth": "gcpserviceaccount", "gcp_service_account_email": "abc@p.iam.gserviceaccount.com"},
     "must use suffix"),
    ("RepoSync", "team-a", {"auth": "gcpserviceaccount", "gcp_service_account_email": "reader-sa@example.com"},
     'RepoSyncs which specify spec.oci.auth as "gcpserviceaccount" must use suffix'),
    ("RootSync", None, {"auth": "k8sserviceaccount", "gcp_service_account_email": "reader-sa@p.iam.gserviceaccount.com"},
     "only used with auth gcpserviceaccount"),
    ("RootSync", None, {"auth": "GCENode"}, "must specify spec.oci.auth to be one of gcenode,gcpserviceaccount,k8sserviceaccount,none,token"),
    ("RootSync", None, {"auth": "token"}, "RootSyncs which specify spec.oci.auth as token must also specify spec.oci.secretRef"),
    ("RepoSync", "team-a", {"auth": "none", "secret_ref": "registry-login"}, "must not specify spec.oci.secretRef"),
    ("RootSync", None, {"auth": "token", "secret_ref": "Registry_Login"}, "secret_ref 'Registry_Login' is not a valid Secret name"),
    ("RootSync", None, {"auth": "none", "image": ""}, 'must specify spec.oci.image when spec.sourceType is "oci"'),
    ("RootSync", None, {"auth": "none", "period": "15 seconds"}, "period '15 seconds' is not a duration"),
    ("RepoSync", "team-a", {"auth": "none", "source_format": "hierarchy"}, "only supports source_format unstructured"),
    ("RepoSync", "team-a", {"auth": "none", "role_refs": [{"name": "view"}]}, "only allowed on a RootSync"),
    ("RootSync", None, {"auth": "none", "role_refs": [{"kind": "Role", "name": "deployer"}]},
     "KNV1061: RootSyncs must specify 'spec.override.roleRefs.namespace' for role references with kind Role"),
    ("RootSync", None, {"auth": "none", "ca_cert_secret": "Bad_Name"}, "ca_cert_secret 'Bad_Name' is not a valid Secret name"),
    ("RootSync", "team-a", {"auth": "none"}, "RootSync objects are only allowed in the config-management-system namespace"),
])
def test_rejected_before_any_request(kind, namespace, kwargs, message):
    kwargs = dict(kwargs)
    image = kwargs.pop("image", IMAGE + ":v1")
    auth = kwargs.pop("auth")
    with pytest.raises(ConfigSyncRuleError, match=re.escape(message)):
        build_sync_object(kind, "sync", namespace, image, auth, **kwargs)


def test_token_auth_names_the_secret_only():
    obj = build_sync_object("RepoSync", "sync", "team-a", IMAGE + ":v1", "token", secret_ref="registry-login")
    assert obj["spec"]["oci"] == {"image": IMAGE + ":v1", "auth": "token", "secretRef": {"name": "registry-login"}}


def test_messages_carry_config_sync_code():
    with pytest.raises(ConfigSyncRuleError) as error:
        build_sync_object("RootSync", "sync", None, IMAGE + ":v1", "gcpserviceaccount")
    assert str(error.value).startswith("KNV1061: RootSyncs which specify spec.oci.auth as \"gcpserviceaccount\"")


@pytest.mark.parametrize("period", ["15s", "1m", "1h30m", "1.5h", "500ms", "0"])
def test_go_durations_accepted(period):
    assert validate_period(period) == period


@pytest.mark.parametrize("image, expected", [
    (IMAGE + ":v1", {"registry": "us-docker.pkg.dev", "repository": "proj/repo/pkg", "tag": "v1", "digest": None}),
    (IMAGE + "@sha256:" + DIGEST, {"registry": "us-docker.pkg.dev", "repository": "proj/repo/pkg", "tag": None, "digest": "sha256:" + DIGEST}),
    ("localhost:5000/ns/pkg:v1@sha256:" + DIGEST, {"registry": "localhost:5000", "repository": "ns/pkg", "tag": "v1", "digest": "sha256:" + DIGEST}),
    ("127.0.0.1:5000/pkg", {"registry": "127.0.0.1:5000", "repository": "pkg", "tag": None, "digest": None}),
    ("library/busybox:1.36", {"registry": None, "repository": "library/busybox", "tag": "1.36", "digest": None}),
])
def test_image_references(image, expected):
    reference = parse_image(image)
    assert {"registry": reference.host, "repository": reference.repository, "tag": reference.tag,
            "digest": reference.digest} == expected


@pytest.mark.parametrize("image", [
    "", " us-docker.pkg.dev/p/r/pkg:v1", IMAGE + "@sha256:abc", IMAGE + "@md5:" + DIGEST, IMAGE + ":bad tag", IMAGE.upper(),
    "us-docker.pkg.dev/p//pkg:v1",
    # Go's \w is ASCII: go-containerregistry refuses a tag with other letters.
    IMAGE + ":v\u00e9",
])
def test_image_references_oci_sync_could_not_parse(image):
    with pytest.raises(ConfigSyncRuleError):
        parse_image(image)


def test_expected_commit_is_the_digest_hex():
    assert expected_commit(IMAGE + "@sha256:" + DIGEST) == DIGEST
    assert expected_commit(IMAGE + ":v1") is None
    assert expected_commit(IMAGE + ":v1", "sha256:" + "b" * 64) == "b" * 64
    assert expected_commit(IMAGE + ":v1", "c" * 64) == "c" * 64
    with pytest.raises(ConfigSyncRuleError, match="expected_digest"):
        expected_commit(IMAGE + ":v1", "sha256:xyz")


def test_repo_sync_role_binding():
    binding = reconciler_role_binding("apps", "team-a", "admin")
    assert binding["metadata"]["name"] == "ns-reconciler-team-a-apps-4"
    assert binding["metadata"]["namespace"] == "team-a"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ns-reconciler-team-a-apps-4", "namespace": "config-management-system"}]
    assert reconciler_role_binding("repo-sync", "team-a")["metadata"]["name"] == "ns-reconciler-team-a"


def test_long_root_sync_names_warn_about_older_versions():
    assert root_sync_name_warning("RootSync", "a" * 26) is None
    assert "26" in root_sync_name_warning("RootSync", "a" * 27)
    assert root_sync_name_warning("RepoSync", "a" * 30) is None


@pytest.mark.parametrize("text, expected", [
    ("v1.17.2", (1, 17, 2)), ("1.16.0", (1, 16, 0)), ("v1.24.3-gke.1", (1, 24, 3)), ("v1.17.2-rc.1", (1, 17, 2)),
    ("latest", None), ("", None), ("v1.17", None),
])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("version, auth", [
    ((1, 16, 0), "gcpserviceaccount"), ((1, 17, 1), "gcpserviceaccount"), ((1, 17, 2), "k8sserviceaccount"),
    ((1, 17, 3), "k8sserviceaccount"), ((1, 24, 3), "k8sserviceaccount"), ((2, 0, 0), "k8sserviceaccount"),
])
def test_auto_auth_by_version(version, auth):
    assert auth_for_version(version) == auth


def test_version_from_the_reconciler_manager_deployment():
    deployment = {"spec": {"template": {"spec": {"containers": [
        {"name": "otel-agent", "image": "gcr.io/config-management-release/otelcontribcol:v0.103.0"},
        {"name": "reconciler-manager", "image": "gcr.io/config-management-release/reconciler-manager:v1.17.3-rc.2@sha256:" + DIGEST},
    ]}}}}
    image = reconciler_manager_image(deployment)
    assert image.startswith("gcr.io/config-management-release/reconciler-manager:")
    assert version_from_image(image) == (1, 17, 3)
    assert version_from_image("gcr.io/x/reconciler-manager@sha256:" + DIGEST) is None
    assert reconciler_manager_image(None) is None


def test_ca_cert_secret_rule():
    from ansible_collections.configsync.oci.plugins.module_utils.configsync.objects import ca_cert_secret_problem
    assert "Secret ca not found" in ca_cert_secret_problem(None, "ca", "config-management-system")
    assert '"cert" key is not present in "ca" Secret' in ca_cert_secret_problem({"data": {"ca.crt": "eA=="}}, "ca", "team-a")
    assert ca_cert_secret_problem({"data": {"cert": "eA=="}}, "ca", "team-a") is None
