# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):
    # Option names and environment variables follow google.cloud's, so playbooks and the
    # AWX/AAP "Google Compute Engine" credential carry over unchanged. Google-facing modules take DOCUMENTATION and
    # CREDENTIALS; the modules that reach a cluster with a Google token (the cluster fragment) take CREDENTIALS only.
    DOCUMENTATION = r"""
options:
  project:
    description:
      - The Google Cloud project ID.
      - Falls back to the E(GCP_PROJECT) environment variable.
    type: str
  scopes:
    description:
      - OAuth2 scopes to request.
      - Falls back to E(GCP_SCOPES) (comma separated).
    type: list
    elements: str
    default: [https://www.googleapis.com/auth/cloud-platform]
  api_endpoint:
    description:
      - Send the Google API requests of this module to this endpoint instead of Google's default, for example a
        Private Service Connect endpoint or a local emulator.
      - Plain C(http://) is accepted only for loopback hosts (for example V(http://127.0.0.1:8080)), because every request
        carries a bearer token; any other host needs C(https://) or no scheme.
      - Falls back to E(GCP_<API>_ENDPOINT) for the API the module calls (E(GCP_ARTIFACTREGISTRY_ENDPOINT),
        E(GCP_IAM_ENDPOINT), E(GCP_SERVICEUSAGE_ENDPOINT), and E(GCP_IAMCREDENTIALS_ENDPOINT) for
        O(impersonate_service_account)), then to E(GCP_API_ENDPOINT).
      - With O(auth_kind=serviceaccount) the key's token exchange goes to the same place (E(GCP_OAUTH2_ENDPOINT), then
        E(GCP_API_ENDPOINT)) instead of the key file's C(token_uri).
    type: str
attributes:
  action_group:
    description: Use C(group/configsync.oci.gcp) in C(module_defaults) to set these options once for a play.
    support: full
    membership:
      - configsync.oci.gcp
notes:
  - All options in this fragment can be set once for a play with C(module_defaults) and the action group
    C(group/configsync.oci.gcp).
"""

    CREDENTIALS = r"""
options:
  auth_kind:
    description:
      - How to obtain Google credentials.
      - V(application) uses Application Default Credentials.
      - V(serviceaccount) uses a service-account key from O(service_account_file) or O(service_account_contents).
      - V(accesstoken) uses the OAuth2 token in O(access_token).
      - V(machineaccount) uses the metadata server of the Compute Engine / GKE node it runs on.
      - Falls back to the E(GCP_AUTH_KIND) environment variable, then to V(application).
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
      - Never shown in any output; of a dictionary only C(private_key) and C(private_key_id) are masked, so messages
        naming the project stay readable.
      - Falls back to E(GCP_SERVICE_ACCOUNT_CONTENTS).
    type: raw
  service_account_email:
    description:
      - The service account to use with O(auth_kind=machineaccount); the node's default account when not set.
      - Falls back to E(GCP_SERVICE_ACCOUNT_EMAIL).
    type: str
  access_token:
    description:
      - An OAuth2 access token, for O(auth_kind=accesstoken).
      - Falls back to E(GCP_ACCESS_TOKEN).
    type: str
  impersonate_service_account:
    description:
      - Act as this service account (by its email) using the credentials above, through short-lived tokens from the
        IAM Credentials API. The caller needs C(roles/iam.serviceAccountTokenCreator) on it.
      - Falls back to E(GCP_IMPERSONATE_SERVICE_ACCOUNT).
    type: str
"""
