# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster access: the kubernetes.core option names and K8S_AUTH_* variables, read into the connection settings of one
API server (options first, then the kubeconfig; the kubernetes library only for kubeconfigs that need its plugins).

Options and environment variables follow kubernetes.core (``kubeconfig``, ``context``, ``host``, ``api_key``,
``ca_cert``, ``client_cert``, ``client_key``, ``validate_certs``; ``K8S_AUTH_*``), so playbooks, ``module_defaults``
and AWX's bearer-token credential carry over. Secrets (tokens, client keys) stay in the request headers and the TLS
context: no message built here contains them.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import atexit
import base64
import os
import shutil
import tempfile
from urllib.parse import urlparse

from ansible.module_utils.basic import env_fallback

from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import KubernetesConfigError
from ansible_collections.configsync.oci.plugins.module_utils.transport_security import InsecureTransportError, require_tls


K8S_AUTH_ARGSPEC = {
    "kubeconfig": {"type": "raw", "fallback": (env_fallback, ["K8S_AUTH_KUBECONFIG"])},
    "context": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_CONTEXT"])},
    "host": {"type": "str", "fallback": (env_fallback, ["K8S_AUTH_HOST"])},
    "api_key": {"type": "str", "no_log": True, "fallback": (env_fallback, ["K8S_AUTH_API_KEY"])},
    "ca_cert": {"type": "path", "aliases": ["ssl_ca_cert"], "fallback": (env_fallback, ["K8S_AUTH_SSL_CA_CERT"])},
    "client_cert": {"type": "path", "aliases": ["cert_file"], "fallback": (env_fallback, ["K8S_AUTH_CERT_FILE"])},
    "client_key": {"type": "path", "aliases": ["key_file"], "no_log": False, "fallback": (env_fallback, ["K8S_AUTH_KEY_FILE"])},
    "validate_certs": {"type": "bool", "aliases": ["verify_ssl"], "fallback": (env_fallback, ["K8S_AUTH_VERIFY_SSL"])},
}


class ConnectionSettings(object):
    """What a request needs: the server URL, TLS files, and a function giving the Authorization header."""

    def __init__(self, host, ca_cert=None, client_cert=None, client_key=None, verify=True, tls_server_name=None,
                 proxy=None, authorization=None):
        self.host = (host or "").rstrip("/")
        self.ca_cert = ca_cert
        self.client_cert = client_cert
        self.client_key = client_key
        self.verify = verify
        self.tls_server_name = tls_server_name
        self.proxy = proxy
        # A callable so that kubeconfig exec plugins and expiring tokens are refreshed per request.
        self.authorization = authorization or (lambda: None)


def _bearer(token):
    return token if token.lower().startswith("bearer ") else "Bearer " + token


def _kubeconfig_paths(kubeconfig):
    if kubeconfig:
        return kubeconfig
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


# The kubeconfig entries read here directly; anything else (exec and auth-provider plugins, basic auth, several files to
# merge) goes through the kubernetes library's loader. Importing and running that loader costs about half a second per
# task, more than all the requests of a no-op.
_SIMPLE_CLUSTER_KEYS = {"server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify",
                        "tls-server-name", "proxy-url"}
_SIMPLE_USER_KEYS = {"token", "tokenFile", "client-certificate", "client-certificate-data", "client-key", "client-key-data"}


def _named(entries, name, field):
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry.get(field)
    return None


def _private_dir():
    """A directory only this process can read, removed at exit, for certificates and keys embedded in a kubeconfig
    (urllib3 loads them from files)."""
    if not _PRIVATE.get("dir"):
        _PRIVATE["dir"] = tempfile.mkdtemp(prefix="configsync-k8s-")
        atexit.register(shutil.rmtree, _PRIVATE["dir"], True)
    return _PRIVATE["dir"]


_PRIVATE = {}


def _file_or_data(entry, key, base):
    """Path of ``key`` (relative to the kubeconfig's folder) or of ``key-data`` written to a private file."""
    if entry.get(key + "-data"):
        path = os.path.join(_private_dir(), key)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(base64.b64decode(entry[key + "-data"]))
        return path
    if entry.get(key):
        return os.path.join(base, os.path.expanduser(entry[key]))
    return None


def _read_kubeconfig_file(source):
    """(config dict, folder for relative paths), or None when the kubernetes library has to read it."""
    if isinstance(source, dict):
        return source, os.getcwd()
    paths = source.split(os.pathsep)
    path = os.path.expanduser(paths[0])
    if len(paths) != 1 or not os.path.isfile(path):
        return None
    try:
        import yaml
    except ImportError:
        return None
    with open(path) as stream:
        config = yaml.safe_load(stream)
    return config, os.path.dirname(os.path.abspath(path))


def _simple_kubeconfig(source, context):
    """ConnectionSettings read straight from a kubeconfig that needs no plugin; None to use the kubernetes library."""
    found = _read_kubeconfig_file(source)
    if not found or not isinstance(found[0], dict):
        return None
    config, base = found
    selected = _named(config.get("contexts"), context or config.get("current-context"), "context") or {}
    cluster = _named(config.get("clusters"), selected.get("cluster"), "cluster")
    user = _named(config.get("users"), selected.get("user"), "user") or {}
    if not cluster or not cluster.get("server") or set(cluster) - _SIMPLE_CLUSTER_KEYS or set(user) - _SIMPLE_USER_KEYS:
        return None
    token = user.get("token")
    if not token and user.get("tokenFile"):
        with open(os.path.join(base, os.path.expanduser(user["tokenFile"]))) as stream:
            token = stream.read().strip()
    authorization = _bearer(token) if token else None
    return ConnectionSettings(
        cluster["server"], ca_cert=_file_or_data(cluster, "certificate-authority", base),
        client_cert=_file_or_data(user, "client-certificate", base), client_key=_file_or_data(user, "client-key", base),
        verify=not cluster.get("insecure-skip-tls-verify", False), tls_server_name=cluster.get("tls-server-name"),
        proxy=cluster.get("proxy-url"), authorization=lambda: authorization)


def _load_kubeconfig(kubeconfig, context):
    """A kubernetes.client Configuration loaded from a kubeconfig (path(s) or dict), or from the in-cluster
    service account when no kubeconfig exists (as kubernetes.core does)."""
    try:
        from kubernetes import config as kube_config
        from kubernetes.client import Configuration
    except ImportError:
        raise KubernetesConfigError("the kubernetes Python library is required to read a kubeconfig (pip install kubernetes)")
    configuration = Configuration()
    source = _kubeconfig_paths(kubeconfig)
    try:
        if isinstance(source, dict):
            kube_config.load_kube_config_from_dict(source, context=context, client_configuration=configuration, persist_config=False)
        elif all(os.path.exists(os.path.expanduser(p)) for p in source.split(os.pathsep)):
            kube_config.load_kube_config(config_file=source, context=context, client_configuration=configuration, persist_config=False)
        elif not kubeconfig and os.environ.get("KUBERNETES_SERVICE_HOST"):
            kube_config.load_incluster_config(client_configuration=configuration)
        else:
            raise KubernetesConfigError("kubeconfig %s does not exist; set kubeconfig, or host with api_key or client_cert" % source)
    except KubernetesConfigError:
        raise
    except Exception as exc:  # the loader raises ConfigException, ValueError, KeyError... for a broken file
        where = "the kubeconfig dictionary" if isinstance(source, dict) else "kubeconfig %s" % source
        raise KubernetesConfigError("cannot use %s%s: %s" % (where, " (context %s)" % context if context else "", exc))
    return configuration


def _authorization_of(configuration):
    """The Authorization header a kubernetes.client Configuration would send (refreshing tokens as it does)."""
    def header():
        for setting in configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("key", "").lower() == "authorization" and setting.get("value"):
                return setting["value"]
        return None
    return header


def settings_from_params(params):
    """ConnectionSettings from the module's K8S_AUTH_ARGSPEC values (options first, then kubeconfig), as kubernetes.core.

    ``host`` with ``api_key`` or ``client_cert`` needs no kubeconfig; otherwise the kubeconfig is read and the options
    that are set override its values.
    """
    kubeconfig, context, host, api_key = params.get("kubeconfig"), params.get("context"), params.get("host"), params.get("api_key")
    if kubeconfig is not None and not isinstance(kubeconfig, (dict, str)):
        raise KubernetesConfigError("kubeconfig must be a path or a dictionary, got %s" % type(kubeconfig).__name__)
    standalone = host and (api_key or params.get("client_cert")) and not kubeconfig and not context
    if standalone:
        settings = ConnectionSettings(host)
    else:
        settings = _simple_kubeconfig(_kubeconfig_paths(kubeconfig), context)
        if settings is None:
            configuration = _load_kubeconfig(kubeconfig, context)
            settings = ConnectionSettings(
                configuration.host, ca_cert=configuration.ssl_ca_cert, client_cert=configuration.cert_file,
                client_key=configuration.key_file, verify=configuration.verify_ssl,
                tls_server_name=getattr(configuration, "tls_server_name", None), proxy=configuration.proxy,
                authorization=_authorization_of(configuration))
    if host:
        settings.host = host.rstrip("/")
    if api_key:
        token = _bearer(api_key)
        settings.authorization = lambda: token
        if not params.get("client_cert"):
            # The API server authenticates a client certificate before a bearer token: a kubeconfig's certificate left in
            # place would make api_key a no-op and the request run as the kubeconfig's user.
            settings.client_cert = settings.client_key = None
    for option, attribute in (("ca_cert", "ca_cert"), ("client_cert", "client_cert"), ("client_key", "client_key")):
        if params.get(option):
            setattr(settings, attribute, params[option])
    if params.get("validate_certs") is not None:
        settings.verify = params["validate_certs"]
    if not settings.host:
        raise KubernetesConfigError("no Kubernetes API server: set host or a kubeconfig with a current context")
    parsed = urlparse(settings.host if "://" in settings.host else "https://" + settings.host)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise KubernetesConfigError("host %r is not an API server URL such as https://HOST:6443" % settings.host)
    settings.host = "%s://%s%s" % (parsed.scheme, parsed.netloc, parsed.path.rstrip("/"))
    try:
        require_tls(settings.host, "Kubernetes credentials", option="host")
    except InsecureTransportError as exc:
        raise KubernetesConfigError(str(exc))
    return settings
