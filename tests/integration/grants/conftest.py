"""Fixtures of the grant tests: Artifact Registry's Docker front (IAM enforced), GKE metadata per reconciler KSA.

``ar_front``      session: harness.ar_docker.ArtifactRegistryDocker before the session's plain docker-registry.
``gke_metadata``  session: harness.gke_metadata.GkeMetadataServer for the test cluster (fleet host project = the
                  emulator's default project).
``grants``        a Grants helper on a fresh emulator with one Docker repository and a writer identity; it also makes
                  every reconciler container started during the test get the metadata server and the front's proxy/CA.
``fleet_registration``  the control plane registered as a fleet member in the (fresh) emulator: its service-account
                  issuer and keys, so the emulator's STS accepts its KSA tokens (harness.fleet_workload_identity).
``fleet_membership``    that registration plus the Membership CRD and the ``membership`` object in the cluster, so Config
                  Sync uses fleet Workload Identity; the object is deleted after the test.
"""
import secrets

import pytest

from harness.ar_docker import ArtifactRegistryDocker
from harness.configsync_runner import CONFIG_SYNC_NAMESPACE
from harness.fleet_workload_identity import FleetWorkloadIdentity
from harness.gke_metadata import GkeMetadataServer
from harness.polling import poll

from grants_flow import Grants


@pytest.fixture(scope="session")
def ar_front(gcp_emulator_process, registry, tmp_path_factory):
    front = ArtifactRegistryDocker(tmp_path_factory.mktemp("ar-docker"), gcp_emulator_process, registry).start()
    try:
        yield front
    finally:
        front.stop()


@pytest.fixture(scope="session")
def gke_metadata(gcp_emulator_process, control_plane):
    from harness.fixtures_gcp import DEFAULT_PROJECT, DEFAULT_PROJECT_NUMBER  # pylint: disable=import-outside-toplevel
    session = control_plane.session()

    def api_get(path):
        response = session.get(control_plane.server + path, timeout=30)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    server = GkeMetadataServer(gcp_emulator_process, api_get, DEFAULT_PROJECT, DEFAULT_PROJECT_NUMBER)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def cluster_identities(config_sync, ar_front, gke_metadata):
    """Reconciler containers started from now on run as their Pod's KSA through the metadata server, and reach
    ``*-docker.pkg.dev`` through the front (what a GKE node with Workload Identity gives a Pod)."""
    def node_env(deployment, container):  # pylint: disable=unused-argument
        env = dict(ar_front.env())
        env.update(gke_metadata.pod_env(CONFIG_SYNC_NAMESPACE, deployment["spec"]["template"]["spec"]["serviceAccountName"]))
        return env

    config_sync.pod_env_hooks.append(node_env)
    try:
        yield
    finally:
        config_sync.pod_env_hooks.remove(node_env)


def delete_root_sync(control_plane, name):
    """Remove a RootSync an earlier test of the session left on the shared control plane, and wait until the real
    reconciler-manager has let it go: its reconciler was started without this package's identities and its old SYNCED
    status would answer for the new image."""
    session = control_plane.session()
    url = "{0}/apis/configsync.gke.io/v1beta1/namespaces/{1}/rootsyncs/{2}".format(control_plane.server, CONFIG_SYNC_NAMESPACE,
                                                                                   name)
    session.delete(url, timeout=30)
    assert poll(lambda: session.get(url, timeout=30).status_code == 404, timeout=120), "RootSync {0} was not deleted".format(name)


@pytest.fixture
def grants(ansible, gcp, ar_front, gke_metadata, control_plane, tmp_path):
    delete_root_sync(control_plane, "root-sync")
    helper = Grants(ansible, gcp, ar_front, gke_metadata, control_plane, tmp_path, "grants-" + secrets.token_hex(3))
    helper.set_up()
    return helper


@pytest.fixture
def fleet_registration(gcp, control_plane):
    fleet = FleetWorkloadIdentity(control_plane, None, gcp)
    fleet.register()
    return fleet


@pytest.fixture
def fleet_membership(grants, config_sync, control_plane):
    fleet = FleetWorkloadIdentity(control_plane, config_sync, grants.gcp).set_up()
    try:
        yield fleet
    finally:
        fleet.remove_membership()
