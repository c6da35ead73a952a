"""Fleet Workload Identity for the test control plane: the cluster as a fleet member outside Google Cloud.

What registering a cluster with its own service-account issuer to a fleet does, in three places:

* GKE Hub (the emulator): a membership ``projects/PROJECT/locations/global/memberships/NAME`` whose ``authority`` has
  the API server's service-account ``issuer`` and its verification keys (``oidcJwks``, read from the API server's
  ``/openid/v1/jwks``); its ``identityProvider`` is ``https://gkehub.googleapis.com/projects/PROJECT/locations/global/
  memberships/NAME`` and its pool ``PROJECT.svc.id.goog``. The emulator's STS (tests/harness/gcp_sts.py) then accepts
  the cluster's service-account tokens for that pool.
* the cluster: the ``memberships.hub.gke.io`` CRD and the cluster-scoped ``Membership`` object named ``membership``
  (``spec.workload_identity_pool``, ``spec.identity_provider``, ``spec.owner.id``), which the Connect agent keeps on a
  registered cluster and Config Sync's reconciler-manager reads. The CRD is the hand-made minimal one the Config Sync
  recordings used (read in place from ../shared/reference, never copied into the repository).
* the reconciler-manager reads whether the CRD exists only when it starts, so installing the CRD restarts it (what
  ``kubectl rollout restart`` of its Deployment would do): its process is ended and the harness's supervisor starts
  it again, as the kubelet restarts a container.

``FleetWorkloadIdentity(control_plane, config_sync, gcp).set_up()`` does all three; ``remove_membership()`` deletes
the in-cluster object (the CRD stays: without the object Config Sync behaves as without fleet Workload Identity).
"""
import json
import os
import pathlib
import time

from harness.configsync_runner import Api
from harness.paths import REPO
from harness.polling import poll

MEMBERSHIP_CRD = pathlib.Path(os.environ.get(
    "CONFIGSYNC_MEMBERSHIP_CRD", REPO.parent / "shared" / "reference" / "config-sync-1.24.3-recordings" /
    "scenario-14-fleet-membership-k8sserviceaccount" / "inputs" / "membership-crd-minimal-handmade.json"))
CRD_NAME = "memberships.hub.gke.io"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + CRD_NAME
MEMBERSHIP_PATH = "/apis/hub.gke.io/v1/memberships/membership"
LOCATION = "global"


class FleetWorkloadIdentity:
    """The control plane registered as fleet member ``name`` of ``gcp.project`` (the fleet host project)."""

    def __init__(self, control_plane, config_sync, gcp, name="configsync-test-cluster"):
        self.control_plane = control_plane
        self.config_sync = config_sync
        self.gcp = gcp
        self.name = name
        self.api = Api(control_plane)
        self.authority = None
        self.waited = None

    @property
    def project(self):
        return self.gcp.project

    @property
    def pool(self):
        return "{0}.svc.id.goog".format(self.project)

    @property
    def hub_name(self):
        return "projects/{0}/locations/{1}/memberships/{2}".format(self.project, LOCATION, self.name)

    @property
    def identity_provider(self):
        return "https://gkehub.googleapis.com/" + self.hub_name

    def member(self, ksa, namespace="config-management-system"):
        """The IAM member of a KSA's federated identity (the same string as on GKE)."""
        return "serviceAccount:{0}[{1}/{2}]".format(self.pool, namespace, ksa)

    def set_up(self):
        self.install_crd()
        self.register()
        self.create_membership()
        return self

    # --- the cluster ------------------------------------------------------------------------------------------------
    def install_crd(self):
        """The Membership CRD; when it is new, the reconciler-manager is restarted so that it watches Memberships."""
        existed = self.api.get(CRD_PATH) is not None
        crd = json.loads(MEMBERSHIP_CRD.read_text())
        self.api.apply(CRD_PATH, crd, manager="configsync-test")
        established = poll(lambda: any(condition["type"] == "Established" and condition["status"] == "True"
                                       for condition in ((self.api.get(CRD_PATH) or {}).get("status") or {}).get("conditions") or []),
                           timeout=60, interval=0.2)
        assert established, "CRD {0} not established".format(CRD_NAME)
        if not existed:
            self.restart_reconciler_manager()

    def restart_reconciler_manager(self, timeout=60):
        """End the reconciler-manager's process; ConfigSync's supervisor starts it again (restartPolicy Always)."""
        process = self.config_sync.controllers["reconciler-manager"]
        before = process.restarts
        process.stop()
        assert poll(lambda: process.running() and process.restarts > before, timeout=timeout, interval=0.2), \
            "the reconciler-manager was not started again"

    def create_membership(self):
        body = {"apiVersion": "hub.gke.io/v1", "kind": "Membership", "metadata": {"name": "membership"},
                "spec": {"owner": {"id": "//gkehub.googleapis.com/" + self.hub_name},
                         "workload_identity_pool": self.pool, "identity_provider": self.identity_provider}}
        return self.api.apply(MEMBERSHIP_PATH, body, manager="configsync-test")

    def remove_membership(self, timeout=60):
        self.api.http.delete(self.api.server + MEMBERSHIP_PATH, timeout=30)
        assert poll(lambda: self.api.get(MEMBERSHIP_PATH) is None, timeout=timeout, interval=0.2), "Membership not deleted"

    # --- GKE Hub ----------------------------------------------------------------------------------------------------
    def register(self):
        """The fleet membership in the emulator, with the API server's service-account issuer and keys."""
        discovery = self.api.get("/.well-known/openid-configuration")
        jwks = self.api.get("/openid/v1/jwks")
        membership = self.gcp.control("POST", "memberships", {
            "name": self.hub_name, "server": self.control_plane.server, "caPem": pathlib.Path(self.control_plane.ca_file).read_text(),
            "issuer": discovery["issuer"], "oidcJwks": jwks})
        self.authority = membership["authority"]
        assert self.authority["identityProvider"] == self.identity_provider, self.authority
        assert self.authority["workloadIdentityPool"] == self.pool, self.authority
        return membership

    # --- waiting on the reconciler Deployment -------------------------------------------------------------------------
    def wait_for_fleet_credentials(self, deployment, timeout=60):
        """The reconciler Deployment once the reconciler-manager has put fleet Workload Identity into it (the pod
        template annotation), or None."""
        path = "/apis/apps/v1/namespaces/config-management-system/deployments/" + deployment

        def annotated():
            found = self.api.get(path)
            annotations = ((((found or {}).get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations") or {}
            return found if "config.kubernetes.io/fleet-workload-identity" in annotations else None
        began = time.monotonic()
        found = poll(annotated, timeout=timeout, interval=0.5)
        self.waited = round(time.monotonic() - began, 3)
        return found
