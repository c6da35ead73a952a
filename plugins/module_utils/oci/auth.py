# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry credentials: where they come from and how a registry's ``WWW-Authenticate`` challenge is answered.

No network here: the registry client asks ``parse_challenges`` what a 401 wants and ``RegistryCredentials`` for the
user name and password, which it resolves lazily so that an anonymous registry never triggers a Google token request.
Resolving reads the Docker config file and, when it names a credential helper for the host, runs
``docker-credential-<helper> get`` (``helper_credentials``); a Google token comes from the function the caller passes.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import binascii
import json
import os
import re

from ansible.module_utils.basic import env_fallback

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError

# The Google user name that Artifact Registry and Container Registry token endpoints accept with an OAuth2 access token.
GOOGLE_TOKEN_USER = "oauth2accesstoken"
_GOOGLE_HOST_RE = re.compile(r"^(?:[a-z0-9-]+\.)*(?:pkg\.dev|gcr\.io)(?::443)?$")

REGISTRY_AUTH_ARGSPEC = dict(
    username=dict(type="str", fallback=(env_fallback, ["REGISTRY_USERNAME"])),
    password=dict(type="str", no_log=True, fallback=(env_fallback, ["REGISTRY_PASSWORD"])),
    docker_config=dict(type="path"),
    ca_cert=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    insecure=dict(type="bool", default=False),
    google_auth=dict(type="str", default="auto", choices=["auto", "always", "never"]),
    timeout=dict(type="float", default=60.0),
    retries=dict(type="int", default=5),
)

_TOKEN68_OR_SCHEME = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_PARAM_RE = re.compile(r'\s*(%s)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)' % _TOKEN68_OR_SCHEME)
_SCHEME_RE = re.compile(r"\s*,?\s*(%s)(?:\s+|$)" % _TOKEN68_OR_SCHEME)


class RegistryAuthError(ConfigSyncError):
    """Credentials are missing, unreadable or refused; the message names the registry and never holds a secret."""


def is_google_registry(host):
    """Artifact Registry (``*-docker.pkg.dev``, any ``*.pkg.dev``) and Container Registry (``gcr.io``, ``*.gcr.io``)."""
    return bool(_GOOGLE_HOST_RE.match(host.lower()))


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_challenges(header):
    """Parse a ``WWW-Authenticate`` value into ``[(scheme_lowercase, {param: value})]``.

    Handles quoted values holding commas (``scope="repository:a:pull,push"``), several challenges in one header
    (requests joins repeated headers with ", ") and parameter names in any case (stored lowercase).
    """
    challenges = []
    position = 0
    header = header or ""
    while position < len(header):
        scheme_match = _SCHEME_RE.match(header, position)
        if not scheme_match or "=" in header[scheme_match.end(1):scheme_match.end(1) + 1]:
            break
        params = {}
        position = scheme_match.end()
        while position < len(header):
            param_match = _PARAM_RE.match(header, position)
            if not param_match:
                break
            params[param_match.group(1).lower()] = _unquote(param_match.group(2))
            position = param_match.end()
        challenges.append((scheme_match.group(1).lower(), params))
    return challenges


def _registry_key(key):
    """``https://host/v1/`` or ``host`` -> ``host``, the form docker config keys are compared in."""
    key = re.sub(r"^[a-z]+://", "", key.strip().lower())
    return key.split("/", 1)[0]


def docker_config_path(option_value=None):
    """The docker config the user meant: the option, then $DOCKER_CONFIG/config.json, then ~/.docker/config.json."""
    if option_value:
        return option_value
    if os.environ.get("DOCKER_CONFIG"):
        return os.path.join(os.environ["DOCKER_CONFIG"], "config.json")
    return os.path.join(os.path.expanduser("~"), ".docker", "config.json")


def docker_config_credentials(config, host):
    """Username and password for ``host`` from a parsed docker ``config.json`` (``auths`` entries), or None.

    An entry may carry ``auth`` (base64 of ``user:password``) or ``username``/``password`` fields. Docker Hub's
    ``https://index.docker.io/v1/`` key also serves ``docker.io`` and ``registry-1.docker.io``.
    """
    auths = config.get("auths") or {}
    wanted = {host.lower()}
    if host.lower() in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        wanted.update(("docker.io", "registry-1.docker.io", "index.docker.io"))
    for key in sorted(auths):
        if _registry_key(key) not in wanted:
            continue
        entry = auths[key] or {}
        if entry.get("auth"):
            try:
                decoded = base64.b64decode(entry["auth"], validate=False).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise RegistryAuthError("docker config entry %r: the auth field is not base64 of user:password" % key)
            if ":" not in decoded:
                raise RegistryAuthError("docker config entry %r: the auth field is not base64 of user:password" % key)
            username, password = decoded.split(":", 1)
            return username, password
        if entry.get("username") and entry.get("password") is not None:
            return entry["username"], entry["password"]
    return None


def credential_helper_name(config, host):
    """The credential helper docker would ask for ``host``: its ``credHelpers`` entry, else ``credsStore``, else None."""
    helpers = config.get("credHelpers") or {}
    for key in sorted(helpers):
        if _registry_key(key) == host.lower():
            return helpers[key]
    return config.get("credsStore") or None


def helper_credentials(helper, host):
    """Ask ``docker-credential-<helper> get`` for ``host`` (the docker credential helper protocol); None when it has none.

    The helper's output holds the secret, so no message here ever includes it.
    """
    import subprocess
    executable = "docker-credential-" + helper
    try:
        completed = subprocess.run([executable, "get"], input=host, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise RegistryAuthError("docker config names the credential helper %s for %s, but %s cannot run: %s"
                                % (helper, host, executable, getattr(exc, "strerror", None) or type(exc).__name__))
    if completed.returncode != 0:
        if "credentials not found" in (completed.stdout + completed.stderr).lower():
            return None
        raise RegistryAuthError("credential helper %s failed for %s (exit %d)" % (executable, host, completed.returncode))
    try:
        answer = json.loads(completed.stdout)
        username, secret = answer["Username"], answer["Secret"]
    except (ValueError, KeyError, TypeError):
        raise RegistryAuthError("credential helper %s answered for %s without Username and Secret" % (executable, host))
    if username == "<token>":
        raise RegistryAuthError("credential helper %s gave an identity token for %s, which oci_push cannot use; "
                                "set username and password instead" % (executable, host))
    return username, secret


def load_docker_config(path, required):
    """The parsed config.json at ``path``; {} when it does not exist and was not asked for explicitly."""
    try:
        with open(path) as stream:
            return json.load(stream)
    except (IOError, OSError) as exc:
        if required:
            raise RegistryAuthError("docker_config %s cannot be read: %s" % (path, exc.strerror or exc))
        return {}
    except ValueError:
        raise RegistryAuthError("docker_config %s is not valid JSON" % path)


_PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def check_options(params):
    """Refuse unusable credential and TLS options before any request (the registry may never ask for them).

    ``username`` and ``password`` come together; ``docker_config``, when given, must be a readable JSON file;
    ``ca_cert`` must hold at least one PEM certificate.
    """
    if bool(params.get("username")) != bool(params.get("password")):
        given, missing = ("username", "password") if params.get("username") else ("password", "username")
        raise RegistryAuthError("%s is set but %s is not: username and password must be given together" % (given, missing))
    if params.get("docker_config"):
        load_docker_config(params["docker_config"], required=True)
    ca_cert = params.get("ca_cert")
    if ca_cert:
        if not os.path.isfile(ca_cert):
            raise RegistryAuthError("ca_cert %s is not a file" % ca_cert)
        try:
            with open(ca_cert, "rb") as stream:
                text = stream.read()
        except (IOError, OSError) as exc:
            raise RegistryAuthError("ca_cert %s cannot be read: %s" % (ca_cert, exc.strerror or exc))
        if _PEM_CERTIFICATE.encode("ascii") not in text:
            raise RegistryAuthError("ca_cert %s is not a PEM certificate file (no %s line): give the registry's CA "
                                    "certificate in PEM form" % (ca_cert, _PEM_CERTIFICATE))


class RegistryCredentials(object):
    """Who we are to one registry host, resolved on first use.

    Order: ``username``/``password``; then, for Google hosts (or any host with ``google_auth=always``; never with
    ``never``), an OAuth2 access token from the GCP auth options (user ``oauth2accesstoken``); then the docker
    config: its credential helper for the host (``credHelpers``, else ``credsStore``) or its ``auths`` entry;
    else anonymous (None).
    ``google_token`` is a callable returning an access token, so no Google request happens unless a registry asks.
    """

    def __init__(self, host, username=None, password=None, docker_config=None, google_token=None, google_auth="auto"):
        self.host = host
        self._google_auth = google_auth
        self._username = username
        self._password = password
        self._docker_config = docker_config
        self._google_token = google_token
        self._resolved = False
        self._pair = None
        self.source = None

    def _uses_google(self):
        if self._google_token is None or self._google_auth == "never":
            return False
        return self._google_auth == "always" or is_google_registry(self.host)

    def get(self):
        """``(username, password)`` or None for anonymous."""
        if not self._resolved:
            self._pair, self.source = self._resolve()
            self._resolved = True
        return self._pair

    def secrets(self):
        """Values that must never appear in any message (for redaction)."""
        pair = self._pair if self._resolved else None
        values = [self._password] + list(pair or ())[1:]
        return [v for v in values if v]

    def _resolve(self):
        if self._username or self._password:
            if not (self._username and self._password):
                raise RegistryAuthError("registry %s: username and password must be given together" % self.host)
            return (self._username, self._password), "username/password"
        if self._uses_google():
            return (GOOGLE_TOKEN_USER, self._google_token()), "Google credentials"
        config_path = docker_config_path(self._docker_config)
        config = load_docker_config(config_path, required=bool(self._docker_config))
        helper = credential_helper_name(config, self.host)
        if helper:
            # Like docker: a configured helper, not the auths entries, holds the credentials.
            pair = helper_credentials(helper, self.host)
            return (pair, "credential helper %s" % helper) if pair else (None, "anonymous")
        pair = docker_config_credentials(config, self.host)
        if pair:
            return pair, "docker config %s" % config_path
        return None, "anonymous"


def basic_header(pair):
    username, password = pair
    return "Basic " + base64.b64encode(("%s:%s" % (username, password)).encode("utf-8")).decode("ascii")


def redact(text, secrets):
    """``text`` with every occurrence of each secret of 4 characters or more replaced by ``********``: a last guard for
    error messages. Only the literal values are replaced (not encoded forms such as a Basic header's base64, which no
    message of the collection includes); shorter values are left as they are."""
    text = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "********")
    return text
