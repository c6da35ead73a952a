# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):
    # Registry credentials and transport, shared by every module that talks to an OCI registry.
    DOCUMENTATION = r"""
options:
  username:
    description:
      - User name for the registry. Give it together with O(password).
      - Falls back to the E(REGISTRY_USERNAME) environment variable.
      - When neither is set, Google registries (C(*.pkg.dev), C(gcr.io), C(*.gcr.io)) use an OAuth2 access token from
        the GCP auth options (user C(oauth2accesstoken)); other registries use the O(docker_config) entry for the host,
        or no credentials at all.
    type: str
  password:
    description:
      - Password or token for O(username). Never logged or returned.
      - Falls back to the E(REGISTRY_PASSWORD) environment variable.
    type: str
  docker_config:
    description:
      - Path of a Docker C(config.json) that gives the credentials for the registry host, read as docker reads it. The
        host's C(credHelpers) entry, else C(credsStore), names a credential helper (C(docker-credential-NAME get));
        without one, the host's C(auths) entry (C(auth) field, base64 of C(user:password), or C(username) and
        C(password) fields).
      - Defaults to C($DOCKER_CONFIG/config.json), then C(~/.docker/config.json); a missing default file means no
        credentials, a missing file given here is an error.
      - Identity tokens (C(identitytoken), or a helper's C(<token>) user) are not supported.
    type: path
  google_auth:
    description:
      - When to log in with an OAuth2 access token from the GCP auth options (user C(oauth2accesstoken)), when
        O(username) is not set.
      - V(auto) for Google registries (C(*.pkg.dev), C(gcr.io), C(*.gcr.io)); V(always) for any host, for example
        Artifact Registry behind a private DNS name; V(never) to use O(docker_config) for Google registries too.
    type: str
    default: auto
    choices: [auto, always, never]
  ca_cert:
    description:
      - PEM file of the certificate authority that signed the registry's TLS certificate.
    type: path
  validate_certs:
    description:
      - Verify the registry's TLS certificate. Turn off only for throwaway test registries.
    type: bool
    default: true
  insecure:
    description:
      - Allow plain HTTP and skip TLS verification for this registry (HTTPS is still tried first).
      - Plain HTTP is always allowed for C(localhost), C(127.0.0.1) and C([::1]) when the registry does not speak TLS.
    type: bool
    default: false
  timeout:
    description:
      - Seconds to wait for the registry to connect or answer, per request.
    type: float
    default: 60
  retries:
    description:
      - How many times a request is retried after a connection reset, a timeout, HTTP 429 or 5xx, with exponential
        backoff (and C(Retry-After) when the registry sends it). Interrupted chunked uploads resume where the
        registry's upload status says they stopped.
    type: int
    default: 5
"""
