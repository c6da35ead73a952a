"""The cluster side of the AWX tests: a namespace per cluster host, and what the clusters hold after a rollout."""
import uuid


def assert_synced_to(kube_client, namespaces, name, image):
    """Every namespace's RepoSync ``name`` points at ``image`` (the pushed digest)."""
    import kubernetes  # pylint: disable=import-outside-toplevel
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    for namespace in namespaces:
        sync = custom.get_namespaced_custom_object("configsync.gke.io", "v1beta1", namespace, "reposyncs", name)
        assert sync["spec"]["sourceType"] == "oci" and sync["spec"]["oci"]["image"] == image, (namespace, sync["spec"])


def cluster_namespaces(kube_client, hosts, prefix):
    """A fresh namespace per cluster host (one API server stands for every cluster): host -> namespace."""
    import kubernetes  # pylint: disable=import-outside-toplevel
    core = kubernetes.client.CoreV1Api(kube_client)
    suffix = uuid.uuid4().hex[:6]
    namespaces = {host: "{0}-{1}-{2}".format(prefix, host.rsplit("-", 1)[1], suffix) for host in hosts}
    for namespace in namespaces.values():
        core.create_namespace({"metadata": {"name": namespace}})
    return namespaces
