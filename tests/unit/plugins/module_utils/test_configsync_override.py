"""spec.override: only the fields of the kind's schema (the API server would prune any other without a word)."""
import pytest

from ansible_collections.configsync.oci.plugins.module_utils.configsync.names import ConfigSyncRuleError
from ansible_collections.configsync.oci.plugins.module_utils.configsync.objects import build_sync_object

IMAGE = "us-docker.pkg.dev/proj/repo/pkg:v1"


@pytest.mark.parametrize("kind, namespace, field", [
    ("RepoSync", "team-a", "roleRefs"), ("RepoSync", "team-a", "namespaceStrategy"), ("RootSync", None, "reconcileTimout"),
])
def test_a_field_outside_the_schema_is_refused(kind, namespace, field):
    with pytest.raises(ConfigSyncRuleError) as error:
        build_sync_object(kind, "sync", namespace, IMAGE, "none", override={field: "x"})
    assert "override.%s is not a field of a %s's spec.override" % (field, kind) in str(error.value)
    assert "reconcileTimeout" in str(error.value)


@pytest.mark.parametrize("kind, namespace, override", [
    ("RootSync", None, {"namespaceStrategy": "explicit", "roleRefs": [{"kind": "ClusterRole", "name": "view"}]}),
    ("RepoSync", "team-a", {"reconcileTimeout": "5m", "apiServerTimeout": "20s", "statusMode": "disabled"}),
])
def test_the_schemas_fields_pass(kind, namespace, override):
    assert build_sync_object(kind, "sync", namespace, IMAGE, "none", override=override)["spec"]["override"] == override
