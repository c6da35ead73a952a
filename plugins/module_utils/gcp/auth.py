# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Google credentials from the google.cloud option names and their GCP_* environment variables, and where requests
may go (the endpoint override, plain HTTP only to loopback hosts).

Every Google-facing module declares ``GCP_AUTH_ARGSPEC`` (see the ``configsync.oci.gcp`` doc fragment), asks
``credentials()`` for google-auth credentials and ``endpoint()`` for where to send the requests.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime
import json
import os
import re

from ansible.module_utils.basic import env_fallback

from ansible_collections.configsync.oci.plugins.module_utils.gcp import token_cache
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import GcpAuthError, GcpOptionError
from ansible_collections.configsync.oci.plugins.module_utils.transport_security import InsecureTransportError, require_tls


# Project IDs (https://cloud.google.com/resource-manager/docs/creating-managing-projects): 6-30 lowercase letters,
# digits and hyphens, a letter first, no hyphen last; legacy domain-scoped IDs (example.com:my-project); or a project
# number, which the APIs accept in resource names.
_PROJECT_ID = re.compile(r"^(?:(?:[a-z0-9-]+\.)+[a-z]{2,}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[0-9]{1,20}$")
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

GCP_AUTH_ARGSPEC = dict(
    project=dict(type="str", fallback=(env_fallback, ["GCP_PROJECT"])),
    auth_kind=dict(type="str", choices=["application", "serviceaccount", "accesstoken", "machineaccount"],
                   fallback=(env_fallback, ["GCP_AUTH_KIND"])),
    service_account_file=dict(type="path", fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_FILE"])),
    service_account_contents=dict(type="raw", no_log=True, fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_CONTENTS"])),
    service_account_email=dict(type="str", fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_EMAIL"])),
    access_token=dict(type="str", no_log=True, fallback=(env_fallback, ["GCP_ACCESS_TOKEN"])),
    scopes=dict(type="list", elements="str", default=[CLOUD_PLATFORM_SCOPE]),
    impersonate_service_account=dict(type="str", fallback=(env_fallback, ["GCP_IMPERSONATE_SERVICE_ACCOUNT"])),
    api_endpoint=dict(type="str"),
)

# Environment variables google.cloud and AWX use that an argument spec cannot express directly.
_SCOPES_ENV = "GCP_SCOPES"


def require_project(params):
    """The project ID, or GcpOptionError naming both ways to set it."""
    project = params.get("project")
    if not project:
        raise GcpOptionError("project is required: set the project option (or the GCP_PROJECT environment variable)")
    if not _PROJECT_ID.match(project):
        raise GcpOptionError("project %r is not a Google Cloud project ID: 6 to 30 lowercase letters, digits and hyphens, "
                             "starting with a letter and not ending with a hyphen (or a project number)" % (project,))
    return project


def endpoint(params, api):
    """Where to send requests for ``api`` (e.g. ``artifactregistry``): the option, then GCP_<API>_ENDPOINT, then GCP_API_ENDPOINT.

    Returns None for Google's default endpoint.
    """
    url = (params.get("api_endpoint")
           or os.environ.get("GCP_%s_ENDPOINT" % api.upper())
           or os.environ.get("GCP_API_ENDPOINT")
           or None)
    try:
        # Every request carries a bearer token: over plain HTTP only to this machine (emulators), never across a network.
        return require_tls(url, "Google credentials", option="api_endpoint")
    except InsecureTransportError as exc:
        raise GcpOptionError(str(exc))


def _scopes(params):
    scopes = params.get("scopes")
    if (not scopes or scopes == [CLOUD_PLATFORM_SCOPE]) and os.environ.get(_SCOPES_ENV):
        scopes = [s.strip() for s in os.environ[_SCOPES_ENV].split(",") if s.strip()]
    return scopes or [CLOUD_PLATFORM_SCOPE]


def _service_account_info(params):
    contents = params.get("service_account_contents")
    path = params.get("service_account_file")
    if contents:
        if isinstance(contents, dict):
            return contents
        try:
            return json.loads(contents)
        except ValueError:
            # The value is a secret: say what is wrong with it, never what it is.
            raise GcpAuthError("service_account_contents is not valid JSON")
    if not path:
        raise GcpAuthError("auth_kind is serviceaccount but neither service_account_file nor service_account_contents is set")
    try:
        with open(path) as stream:
            text = stream.read()
    except (IOError, OSError) as exc:
        raise GcpAuthError("service_account_file %s cannot be read: %s" % (path, exc.strerror or exc))
    try:
        return json.loads(text)
    except ValueError:
        raise GcpAuthError("service_account_file %s is not a JSON service-account key" % path)


def _with_token_uri(params, info):
    """The key's info with the token endpoint the exchange really goes to."""
    token_endpoint = endpoint(params, "oauth2")
    if not token_endpoint:
        return info
    # The key file names Google's token endpoint (AWX always writes https://oauth2.googleapis.com/token): the token
    # exchange follows the same endpoint override as every API call (PSC endpoints, emulators).
    return dict(info, token_uri=token_endpoint.rstrip("/") + "/token")


def _access_token_credentials(token):
    """Credentials that carry a given token; when an API answers 401 they say so instead of google-auth's
    "cannot refresh" (a bare token has nothing to refresh with)."""
    from google.auth import exceptions as auth_exceptions
    from google.oauth2 import credentials as oauth2_credentials

    class AccessTokenCredentials(oauth2_credentials.Credentials):
        def refresh(self, request):
            raise auth_exceptions.RefreshError("the API rejected access_token (401 UNAUTHENTICATED): it is invalid or expired, "
                                               "and auth_kind accesstoken cannot renew it")

    return AccessTokenCredentials(token)


def _base_credentials(params, scopes):
    auth_kind = params.get("auth_kind") or "application"
    if auth_kind == "accesstoken":
        if not params.get("access_token"):
            raise GcpAuthError("auth_kind is accesstoken but access_token (or GCP_ACCESS_TOKEN) is not set")
        return _access_token_credentials(params["access_token"])
    if auth_kind == "serviceaccount":
        info = _with_token_uri(params, _service_account_info(params))
        from google.oauth2 import service_account
        try:
            return service_account.Credentials.from_service_account_info(info, scopes=scopes)
        except (ValueError, KeyError) as exc:
            source = "service_account_file %s" % params["service_account_file"] if params.get("service_account_file") else "service_account_contents"
            # google-auth's messages name missing fields, not their values.
            raise GcpAuthError("%s is not a usable service-account key: %s" % (source, exc))
    if auth_kind == "machineaccount":
        from google.auth import compute_engine
        return compute_engine.Credentials(service_account_email=params.get("service_account_email") or "default")
    import google.auth
    import google.auth.exceptions
    try:
        creds, dummy_project = google.auth.default(scopes=scopes)
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise GcpAuthError("auth_kind is application but no Application Default Credentials were found: %s" % exc)
    return creds


def credentials(params):
    """google-auth credentials from the module's auth options (raises GcpAuthError)."""
    scopes = _scopes(params)
    creds = _base_credentials(params, scopes)
    target = params.get("impersonate_service_account")
    if target:
        from google.auth import impersonated_credentials
        extra = {}
        override = endpoint(params, "iamcredentials")
        if override:
            # Token minting follows the same endpoint override as every other API (PSC endpoints, emulators).
            extra["iam_endpoint_override"] = "%s/v1/projects/-/serviceAccounts/%s:generateAccessToken" % (override.rstrip("/"), target)
        creds = impersonated_credentials.Credentials(source_credentials=creds, target_principal=target, target_scopes=scopes, **extra)
    return creds


def access_token(params, cached=True, rejected=None, cache_dir=None):
    """An OAuth2 access token for the identity the auth options name (registry logins, API servers as bearer).

    With ``cached``, a service-account key's token is kept in the TokenCache (one per identity for every task and host
    of a run, see token_cache.py). ``rejected`` is a token an API refused (401): it is never returned again, whether
    it was kept or is still held by google-auth. Other auth kinds always mint: their identity is not known without
    asking google-auth.
    """
    if not (cached and (params.get("auth_kind") or "application") == "serviceaccount"):
        return _mint(params, rejected)
    directory = cache_dir or token_cache.default_dir()
    if not directory:
        return _mint(params, rejected)
    cache = token_cache.TokenCache(directory)
    key = token_cache.identity_key(_with_token_uri(params, _service_account_info(params)), _scopes(params),
                                   params.get("impersonate_service_account"))
    token = cache.get(key)
    if token and token != rejected:
        return token
    with cache.minting(key):
        # Another task may have minted while this one waited for the lock (or after the token was refused).
        token = cache.get(key)
        if token and token != rejected:
            return token
        creds = _credentials_with_token(params, rejected)
        if getattr(creds, "expiry", None):
            # google-auth keeps expiry as a naive UTC datetime.
            cache.put(key, creds.token, (creds.expiry - datetime.datetime(1970, 1, 1)).total_seconds())
        return creds.token


def _credentials_with_token(params, rejected=None):
    import google.auth.transport.requests
    creds = credentials(params)
    if not getattr(creds, "token", None) or not creds.valid or creds.token == rejected:
        creds.refresh(google.auth.transport.requests.Request())
    return creds


def _mint(params, rejected=None):
    return _credentials_with_token(params, rejected).token
