# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):
    # Reaching a GKE cluster or a fleet membership with Google credentials: the credential options are the gcp
    # fragment's CREDENTIALS (same names, GCP_* variables), so one AWX "Google Compute Engine" credential serves both.
    DOCUMENTATION = r"""
options:
  gke_cluster:
    description:
      - The GKE cluster to talk to, as V(projects/PROJECT/locations/LOCATION/clusters/CLUSTER) (a zone or a region as
        location).
      - Its endpoint and CA certificate are read from the GKE API (C(clusters.get)), and a Google access token from the
        Google credential options (O(auth_kind) and the others, with the C(cloud-platform) and C(userinfo.email)
        scopes) is sent as bearer token, as C(gke-gcloud-auth-plugin) does; no kubeconfig,
        C(gcloud) or plugin binary is needed. Kubernetes RBAC sees the Google identity (a user's or service account's
        email).
      - Takes precedence over C(K8S_AUTH_*) environment variables; with O(kubeconfig) or O(host) set on the task as
        well, both must name the same server, otherwise the task fails before any request to either.
      - Mutually exclusive in effect with O(fleet_membership).
      - The GKE API endpoint can be overridden with E(GCP_CONTAINER_ENDPOINT) (or E(GCP_API_ENDPOINT)).
    type: str
  fleet_membership:
    description:
      - The fleet membership to talk to through the Connect Gateway, as
        V(projects/PROJECT/locations/LOCATION/memberships/MEMBERSHIP); for private clusters and clusters outside
        Google Cloud.
      - The membership is read from the GKE Hub API; a project ID is turned into the project number the gateway needs
        with one Resource Manager read (give the number to save it). The same Google access token is the bearer token.
      - Endpoint overrides E(GCP_GKEHUB_ENDPOINT), E(GCP_CLOUDRESOURCEMANAGER_ENDPOINT), E(GCP_CONNECTGATEWAY_ENDPOINT)
        (or E(GCP_API_ENDPOINT)).
    type: str
notes:
  - With O(gke_cluster) or O(fleet_membership), only the GKE, GKE Hub and Resource Manager APIs are read; nothing is
    written on the Google side.
  - A host's own cluster source (O(gke_cluster), O(fleet_membership), or O(kubeconfig)/O(context) set on the task)
    wins over play-level C(K8S_AUTH_*) environment variables, which are then ignored for that host.
"""
