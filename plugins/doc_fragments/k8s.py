# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):
    # Option names, aliases and environment variables follow kubernetes.core's k8s_auth_options, so playbooks,
    # module_defaults and the AWX/AAP "OpenShift or Kubernetes API Bearer Token" credential carry over unchanged.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file, several paths separated by V(:), or the kubeconfig itself as a dictionary.
      - When neither this nor O(host) with O(api_key) or O(client_cert) is set, E(KUBECONFIG) and then
        C(~/.kube/config) are read; inside a Pod without a kubeconfig, the Pod's service account is used.
      - As a dictionary, the credentials of its C(users) (tokens, client keys, passwords, auth-provider and exec
        values) never show in any output.
      - Falls back to the E(K8S_AUTH_KUBECONFIG) environment variable.
    type: raw
  context:
    description:
      - The kubeconfig context to use instead of its current context.
      - Falls back to E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - The API server URL, for example V(https://203.0.113.10:443). Overrides the kubeconfig's server.
      - Plain C(http://) is accepted only for loopback hosts (for example V(http://127.0.0.1:8001) of
        C(kubectl proxy)), as for the Google modules' C(api_endpoint), so credentials never travel unencrypted.
      - Falls back to E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - A bearer token for the API server. Overrides the kubeconfig's credentials, its client certificate too
        (unless O(client_cert) is also given), so the API server sees the token's identity.
      - Falls back to E(K8S_AUTH_API_KEY).
    type: str
  ca_cert:
    description:
      - Path to the CA certificate (full chain) that signed the API server's certificate.
      - Falls back to E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path to a client certificate to authenticate with.
      - Falls back to E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert).
      - Falls back to E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Whether to verify the API server's certificate. When not set, the kubeconfig decides (verified unless it sets
        C(insecure-skip-tls-verify)).
      - Falls back to E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
requirements:
  - kubernetes >= 28.1 (Python library), only for a kubeconfig that needs an exec or auth-provider plugin, several
    kubeconfig files to merge, or the in-cluster service account; a plain kubeconfig is read without it
  - urllib3
attributes:
  action_group:
    description: Use C(group/configsync.oci.k8s) in C(module_defaults) to set these options once for a play.
    support: full
    membership:
      - configsync.oci.k8s
notes:
  - All options in this fragment can be set once for a play with C(module_defaults) and the action group
    C(group/configsync.oci.k8s).
  - An unreachable API server fails the task with a message naming the server; tokens and keys never appear in
    results or messages.
"""
