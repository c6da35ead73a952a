"""What the cluster side holds after a rollout."""


def assert_synced_to(kube_client, namespaces, name, image):
    """Every namespace's RepoSync ``name`` points at ``image`` (the pushed digest)."""
    import kubernetes  # pylint: disable=import-outside-toplevel
    custom = kubernetes.client.CustomObjectsApi(kube_client)
    for namespace in namespaces:
        sync = custom.get_namespaced_custom_object("configsync.gke.io", "v1beta1", namespace, "reposyncs", name)
        assert sync["spec"]["sourceType"] == "oci" and sync["spec"]["oci"]["image"] == image, (namespace, sync["spec"])
