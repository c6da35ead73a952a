"""Config Sync objects for the k8s tests: names, and status objects shaped as Config Sync 1.24 writes them
(pkg/rootsync/conditions.go setCondition, pkg/parse/root_sync_client.go, the reconciler-manager's Stalled condition,
the ResourceGroup's resourceStatuses), written through the status subresource as the reconciler does."""
import datetime
import uuid

GROUP, VERSION = "configsync.gke.io", "v1beta1"
CMS = "config-management-system"
DIGEST = "3c2b9e62b0b1a8cf6f8f5c2b6c4f5f0e8e1d6c6c1e2b1a0f9e8d7c6b5a4f3e2d"
IMAGE = "us-docker.pkg.dev/demo-project/manifests/test-namespace"
PINNED = IMAGE + "@sha256:" + DIGEST
KNV1061 = ('KNV1061: RootSyncs must specify spec.oci.auth to be one of gcenode,gcpserviceaccount,k8sserviceaccount,none\n\n'
           'For more information, see https://g.co/cloud/acm-errors#knv1061')
KNV2004 = ('KNV2004: error in the oci-sync container: failed to pull image %s: GET https://us-docker.pkg.dev/v2/token?scope='
           'repository%%3Ademo-project%%2Fmanifests%%2Ftest-namespace%%3Apull&service=: DENIED: Permission '
           '"artifactregistry.repositories.downloadArtifacts" denied on resource\n\n'
           'For more information, see https://g.co/cloud/acm-errors#knv2004')


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _oci(image):
    return {"ociStatus": {"image": image, "dir": "."}}


def _false(kind, stamp):
    return {"type": kind, "status": "False", "lastUpdateTime": stamp, "lastTransitionTime": stamp}


def synced_status(image, commit):
    """After a successful sync: Syncing=False 'Sync Completed' at the commit, no errors."""
    stamp = now()
    sections = {key: dict(_oci(image), commit=commit, lastUpdate=stamp) for key in ("source", "rendering", "sync")}
    sections["rendering"]["message"] = "Rendering not required but is currently enabled"
    return dict(sections, lastSyncedCommit=commit, reconciler="", conditions=[
        _false("Reconciling", stamp), _false("Stalled", stamp),
        {"type": "Syncing", "status": "False", "reason": "Sync", "message": "Sync Completed", "commit": commit,
         "errorSummary": {}, "lastUpdateTime": stamp, "lastTransitionTime": stamp},
    ])


def pending_status(image, commit):
    """While applying: Syncing=True 'Syncing'."""
    stamp = now()
    return {"source": dict(_oci(image), commit=commit, lastUpdate=stamp), "conditions": [
        _false("Reconciling", stamp), _false("Stalled", stamp),
        {"type": "Syncing", "status": "True", "reason": "Sync", "message": "Syncing", "commit": commit,
         "errorSummary": {}, "lastUpdateTime": stamp, "lastTransitionTime": stamp},
    ]}


def stalled_status():
    """The reconciler-manager rejected the spec: Stalled=True reason Validation, Syncing removed."""
    stamp = now()
    return {"conditions": [
        {"type": "Reconciling", "status": "False", "lastUpdateTime": stamp, "lastTransitionTime": stamp},
        {"type": "Stalled", "status": "True", "reason": "Validation", "message": KNV1061,
         "errorSummary": {"totalCount": 1, "errorCountAfterTruncation": 1}, "lastUpdateTime": stamp, "lastTransitionTime": stamp},
    ]}


def error_pull_status(image):
    """oci-sync could not pull: a KNV2004 source error, Syncing=False referring to status.source.errors, no commit."""
    stamp = now()
    summary = {"totalCount": 1, "errorCountAfterTruncation": 1}
    syncing = {"type": "Syncing", "status": "False", "reason": "Source", "message": "Source", "errorSourceRefs": ["status.source.errors"],
               "errorSummary": summary, "lastUpdateTime": stamp, "lastTransitionTime": stamp}
    source = dict(_oci(image), lastUpdate=stamp, errorSummary=summary, errors=[{"code": "2004", "errorMessage": KNV2004 % image}])
    return {"source": source, "conditions": [_false("Reconciling", stamp), _false("Stalled", stamp), syncing]}


def write_status(custom, kind, namespace, name, status):
    """Write status through the status subresource with the current generation observed, as Config Sync does."""
    plural = kind.lower() + "s"
    obj = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)
    obj["status"] = dict(status, observedGeneration=obj["metadata"]["generation"])
    return custom.replace_namespaced_custom_object_status(GROUP, VERSION, namespace, plural, name, obj)


def write_resource_group(custom, namespace, name, resources):
    body = {"apiVersion": "kpt.dev/v1alpha1", "kind": "ResourceGroup", "metadata": {"name": name, "namespace": namespace},
            "spec": {"resources": [{k: r[k] for k in ("group", "kind", "namespace", "name")} for r in resources]}}
    created = custom.create_namespaced_custom_object("kpt.dev", "v1alpha1", namespace, "resourcegroups", body)
    created["status"] = {"observedGeneration": created["metadata"]["generation"], "resourceStatuses": resources}
    return custom.replace_namespaced_custom_object_status("kpt.dev", "v1alpha1", namespace, "resourcegroups", name, created)


# ----------------------------------------------------------------------------------------------------------------------


def unique(prefix):
    """Object names unique per test: all tests share one cluster for the session."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])
