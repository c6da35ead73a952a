"""A GKE fleet for the tests: 30 clusters in the emulator over 3 real API servers that accept Google access tokens.

``fleet_servers`` (module scope) starts the API servers (webhook token authentication against the emulator, RBAC,
audit logs) and the clusters' endpoints; ``fleet`` (per test) registers the clusters in the freshly reset emulator and
gives the deployer's service-account key. Several clusters share one API server, so each cluster's sync object has its
own name (``rs-<run>-<cluster>``): a cluster is its endpoint, its CA and its RootSync.
"""
import base64
import pathlib
import sys
import uuid

import pytest
import yaml

from harness.gke_test_fleet import CLUSTERS, DEPLOYER, SERVERS, Fleet


@pytest.fixture(scope="module")
def fleet_servers(tmp_path_factory, gcp_emulator_process):
    fleet = Fleet(tmp_path_factory.mktemp("fleet"), gcp_emulator_process, servers=SERVERS).start()
    try:
        fleet.grant(DEPLOYER)
        yield fleet
    finally:
        fleet.stop()


class FleetRun:
    """One test's fleet: the clusters, the deployer's Google credential, and the files a playbook run needs."""

    def __init__(self, fleet, gcp, registry, workdir):
        self.fleet = fleet
        self.gcp = gcp
        self.registry = registry
        self.workdir = workdir
        self.clusters = fleet.seed(gcp.control, gcp.project, CLUSTERS)
        self.key_file = gcp.service_account_file(workdir / "deployer.json", email=DEPLOYER)
        self.run_id = uuid.uuid4().hex[:5]
        self.repository = "fleet-" + self.run_id
        manifests = workdir / "manifests"
        manifests.mkdir()
        (manifests / "configmap.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: platform\n"
                                                  "  namespace: default\ndata:\n  tier: gold\n")
        self.manifests = manifests

    def env(self, **extra):
        """Only the Google credential: no kubeconfig, no K8S_AUTH_* unless a test adds them."""
        env = {"GCP_API_ENDPOINT": self.gcp.endpoint, "GCP_AUTH_KIND": "serviceaccount",
               "GCP_SERVICE_ACCOUNT_FILE": str(self.key_file), "GCP_PROJECT": self.gcp.project,
               "KUBECONFIG": str(self.workdir / "no-such-kubeconfig")}
        env.update(extra)
        return env

    def sync_name(self, cluster):
        return "rs-{0}-{1}".format(self.run_id, cluster.name)

    def inventory(self, source="clusters", extra_options=None):
        """An inventory file for the gke_fleet plugin, as an AWX inventory source would hold it."""
        options = {"plugin": "configsync.oci.gke_fleet", "projects": [self.gcp.project], "source": source,
                   "keyed_groups": [{"key": "gke_location" if source == "clusters" else "fleet_location", "prefix": "location"}],
                   "compose": {"ansible_connection": "'local'", "ansible_python_interpreter": "'%s'" % sys.executable,
                               "rollout_sync_name": "'rs-%s-' ~ %s" % (self.run_id, "gke_cluster_name" if source == "clusters"
                                                                       else "fleet_membership_name")}}
        options.update(extra_options or {})
        path = self.workdir / "{0}.gke_fleet.yml".format(source)
        path.write_text(yaml.safe_dump(options))
        return path

    def rollout_vars(self):
        return {
            "rollout_project": self.gcp.project,
            "rollout_location": "us-central1",
            "rollout_repository": self.repository,
            "rollout_package": "platform",
            "rollout_tag": "v1",
            "rollout_src": [str(self.manifests)],
            "rollout_registry": "{0}/{1}/{2}".format(self.registry.host, self.gcp.project, self.repository),
            "rollout_sync_kind": "RootSync",
            "rollout_auth": "k8sserviceaccount",
            "rollout_wait": False,
        }

    def kubeconfig(self, token):
        """One kubeconfig with a context per cluster (server, CA data, the Google token as user token)."""
        config = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [{"name": "deployer", "user": {"token": token}}],
                  "contexts": []}
        for cluster in self.clusters:
            ca = base64.b64encode(pathlib.Path(cluster.plane.ca_file).read_bytes()).decode()
            config["clusters"].append({"name": cluster.name, "cluster": {"server": cluster.server, "certificate-authority-data": ca}})
            config["contexts"].append({"name": "gke_" + cluster.name, "context": {"cluster": cluster.name, "user": "deployer"}})
        path = self.workdir / "fleet.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def root_sync(self, cluster, name=None):
        """The RootSync of a cluster as its API server holds it (admin read), or None."""
        plane = cluster.plane
        response = plane.session().get("{0}/apis/configsync.gke.io/v1beta1/namespaces/config-management-system/rootsyncs/{1}"
                                       .format(plane.server, name or self.sync_name(cluster)), timeout=30)
        return response.json() if response.status_code == 200 else None


@pytest.fixture
def fleet(fleet_servers, gcp, registry, tmp_path):
    return FleetRun(fleet_servers, gcp, registry, tmp_path)
