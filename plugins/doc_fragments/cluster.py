# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):
    # Reaching a GKE cluster or a fleet membership with Google credentials; the credential options carry the gcp
    # fragment's names and GCP_* variables, so one AWX "Google Compute Engine" credential serves both sides.
    DOCUMENTATION = r"""
options:
  gke_cluster:
    description:
      - The GKE cluster to talk to, as V(projects/PROJECT/locations/LOCATION/clusters/CLUSTER) (a zone or a region as
        location).
      - Its endpoint and CA certificate are read from the GKE API (C(clusters.get)), and a Google access token from the
        Google credential options below is sent as bearer token, as C(gke-gcloud-auth-plugin) does; no kubeconfig,
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
  auth_kind:
    description:
      - How to obtain the Google credentials used with O(gke_cluster) or O(fleet_membership), as in the
        C(configsync.oci.gcp) options; the token is requested with the C(cloud-platform) and C(userinfo.email) scopes.
      - Falls back to E(GCP_AUTH_KIND), then to V(application).
    type: str
    choices: [application, serviceaccount, accesstoken, machineaccount]
  service_account_file:
    description:
      - Path to a service-account JSON key, for O(auth_kind=serviceaccount).
      - Falls back to E(GCP_SERVICE_ACCOUNT_FILE).
    type: path
  service_account_contents:
    description:
      - The service-account JSON key itself (a string or a dictionary), for O(auth_kind=serviceaccount).
      - Falls back to E(GCP_SERVICE_ACCOUNT_CONTENTS).
    type: raw
  service_account_email:
    description:
      - The service account to use with O(auth_kind=machineaccount).
      - Falls back to E(GCP_SERVICE_ACCOUNT_EMAIL).
    type: str
  access_token:
    description:
      - A Google OAuth2 access token, for O(auth_kind=accesstoken).
      - Falls back to E(GCP_ACCESS_TOKEN).
    type: str
  impersonate_service_account:
    description:
      - Act as this service account (by its email) through short-lived tokens from the IAM Credentials API.
      - Falls back to E(GCP_IMPERSONATE_SERVICE_ACCOUNT).
    type: str
notes:
  - With O(gke_cluster) or O(fleet_membership), only the GKE, GKE Hub and Resource Manager APIs are read; nothing is
    written on the Google side.
  - A host's own cluster source (O(gke_cluster), O(fleet_membership), or O(kubeconfig)/O(context) set on the task)
    wins over play-level C(K8S_AUTH_*) environment variables, which are then ignored for that host.
"""
