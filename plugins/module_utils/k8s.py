# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place the collection talks to a Kubernetes API server.

Options and environment variables follow kubernetes.core (``kubeconfig``, ``context``, ``host``, ``api_key``,
``ca_cert``, ``client_cert``, ``client_key``, ``validate_certs``; ``K8S_AUTH_*``), so playbooks, ``module_defaults``
and AWX's bearer-token credential carry over. The kubernetes library reads kubeconfig files (exec plugins, token
refresh, embedded certificates); requests go straight to the REST paths of the few kinds used here through urllib3,
with no discovery round trips and no model classes.

Secrets (tokens, client keys) stay in the request headers and the TLS context: no message built here contains them.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import atexit
import base64
import json
import os
import shutil
import tempfile
import time

from ansible.module_utils.basic import env_fallback

from urllib.parse import quote, urlencode, urlparse

try:
    import urllib3
    HAS_URLLIB3 = True
except ImportError:  # pragma: no cover
    urllib3 = None
    HAS_URLLIB3 = False

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

FIELD_MANAGER = "configsync.oci"
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
APPLY_PATCH = "application/apply-patch+yaml"
# One quick reconnect, never a resend of a request the server may have processed; but a 429 (API Priority and Fairness
# rejected the request before handling it) is retried after the server's Retry-After, up to 5 times, as client-go does.
RETRIES = urllib3.Retry(total=None, connect=1, read=0, redirect=0, other=0, status=5, status_forcelist=(429,),
                        allowed_methods=None, backoff_factor=0.2, respect_retry_after_header=True,
                        raise_on_status=False) if HAS_URLLIB3 else None


class KubernetesError(Exception):
    """An API request failed; ``status`` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, message, status=0, reason=None):
        super(KubernetesError, self).__init__(message)
        self.status = status
        self.reason = reason


class KubernetesUnreachable(KubernetesError):
    """The API server could not be reached; the message names it."""


class KubernetesConfigError(KubernetesError):
    """The connection options or kubeconfig do not describe a usable API server."""


# ---------------------------------------------------------------------------------------------------------------------
# REST paths
# ---------------------------------------------------------------------------------------------------------------------

def collection_path(api_version, plural, namespace=None):
    """``/api/v1/namespaces/NS/PLURAL`` for the core group, ``/apis/GROUP/VERSION/...`` for the others."""
    prefix = "/api/" + api_version if "/" not in api_version else "/apis/" + api_version
    if namespace:
        prefix += "/namespaces/" + quote(namespace, safe="")
    return prefix + "/" + plural


def object_path(api_version, plural, namespace, name):
    return collection_path(api_version, plural, namespace) + "/" + quote(name, safe="")


# ---------------------------------------------------------------------------------------------------------------------
# Connection settings from options, environment and kubeconfig
# ---------------------------------------------------------------------------------------------------------------------

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
    return settings


# ---------------------------------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------------------------------

class KubernetesClient(object):
    """Plain JSON requests (no model classes) against one API server: get, list, server-side apply (with dry run), delete, watch."""

    def __init__(self, settings):
        self.settings = settings
        self.server = settings.host
        pool_args = {
            "cert_reqs": "CERT_REQUIRED" if settings.verify else "CERT_NONE",
            "ca_certs": settings.ca_cert,
            "cert_file": settings.client_cert,
            "key_file": settings.client_key,
            "retries": RETRIES,
            "timeout": urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
        }
        if settings.tls_server_name:
            pool_args["server_hostname"] = settings.tls_server_name
        if not settings.verify:
            pool_args["assert_hostname"] = False
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if settings.proxy:
            self.pool = urllib3.ProxyManager(settings.proxy, **pool_args)
        else:
            self.pool = urllib3.PoolManager(**pool_args)

    # -- plumbing -----------------------------------------------------------------------------------------------------

    def _headers(self, content_type=None):
        headers = {"Accept": "application/json", "User-Agent": "configsync.oci"}
        authorization = self.settings.authorization()
        if authorization:
            headers["Authorization"] = authorization
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _url(self, path, query=None):
        query = {key: value for key, value in (query or {}).items() if value is not None}
        return self.server + path + ("?" + urlencode(query) if query else "")

    def _send(self, method, path, query=None, body=None, content_type=None, timeout=None, stream=False):
        # Passing timeout=None would mean "no timeout" to urllib3: leave the pool's default unless one is given.
        extra = {"timeout": timeout} if timeout is not None else {}
        try:
            return self.pool.request(method, self._url(path, query), body=body, headers=self._headers(content_type),
                                     preload_content=not stream, **extra)
        except urllib3.exceptions.HTTPError as exc:
            # urllib3 wraps the cause (refused, timed out, TLS) in MaxRetryError; name the server and the cause only.
            if isinstance(exc, urllib3.exceptions.SSLError) or isinstance(getattr(exc, "reason", None), urllib3.exceptions.SSLError):
                raise KubernetesUnreachable("TLS handshake with the Kubernetes API server %s failed: %s" % (self.server, _reason(exc)))
            raise KubernetesUnreachable("cannot reach the Kubernetes API server %s: %s" % (self.server, _reason(exc)))

    def request(self, method, path, query=None, body=None, content_type="application/json", timeout=None):
        """One request; the decoded JSON response. Raises KubernetesError with the server's own message on 4xx/5xx."""
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        response = self._send(method, path, query, body, content_type if body is not None else None, timeout)
        data = response.data
        if response.status >= 400:
            raise _api_error(method, path, response.status, data, self.server)
        return json.loads(data) if data else None

    # -- verbs ----------------------------------------------------------------------------------------------------------

    def get(self, path):
        """The object at ``path``, or None when it does not exist."""
        try:
            return self.request("GET", path)
        except KubernetesError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, path, label_selector=None):
        return self.request("GET", path, query={"labelSelector": label_selector}).get("items") or []

    def apply(self, path, obj, field_manager=FIELD_MANAGER, dry_run=False, force=True):
        """Server-side apply of ``obj`` (JSON is valid YAML); ``dry_run`` asks the server what it would store."""
        query = {"fieldManager": field_manager, "force": "true" if force else None, "dryRun": "All" if dry_run else None}
        return self.request("PATCH", path, query=query, body=obj, content_type=APPLY_PATCH)

    def delete(self, path, dry_run=False, propagation="Background"):
        """Delete; returns False when the object did not exist."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if dry_run:
            body["dryRun"] = ["All"]
        try:
            self.request("DELETE", path, body=body)
        except KubernetesError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def watch(self, collection, name, resource_version, timeout_seconds):
        """Events (type, object) for one named object in ``collection`` from ``resource_version`` on.

        Ends when the server closes the watch (at ``timeout_seconds`` at the latest). A 410 Gone (history expired)
        ends it too: the caller reads the object again and watches anew.
        """
        query = {
            "watch": "1",
            "fieldSelector": "metadata.name=" + name,
            "resourceVersion": resource_version,
            "timeoutSeconds": str(max(1, int(timeout_seconds))),
            "allowWatchBookmarks": "true",
        }
        timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=max(1, int(timeout_seconds)) + 15)
        response = self._send("GET", collection, query, timeout=timeout, stream=True)
        try:
            if response.status >= 400:
                raise _api_error("WATCH", collection, response.status, response.read(), self.server)
            for event in _json_lines(response):
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        return
                    raise KubernetesError("watch of %s failed: %s" % (collection, status.get("message")), status.get("code") or 0)
                yield event.get("type"), event.get("object")
        except urllib3.exceptions.ReadTimeoutError:
            return
        except urllib3.exceptions.ProtocolError:
            # The server ended the chunked stream early (e.g. restart); the caller re-reads and watches again.
            return
        finally:
            response.release_conn()


def _json_lines(response):
    buffered = b""
    for chunk in response.stream(65536):
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)
    if buffered.strip():
        yield json.loads(buffered)


def _reason(exc):
    """The innermost cause of a urllib3 error (e.g. 'Connection refused'), without the URL's query string."""
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    # urllib3 prefixes a connection object's repr; keep the readable part after the last colon pair.
    if "Failed to establish a new connection:" in text:
        text = text.split("Failed to establish a new connection:", 1)[1].strip()
    return text


def _api_error(method, path, status, data, server):
    message, reason = None, None
    try:
        decoded = json.loads(data)
        message, reason = decoded.get("message"), decoded.get("reason")
    except (ValueError, TypeError, AttributeError):
        message = (data or b"")[:300].decode("utf-8", "replace") if isinstance(data, bytes) else str(data)[:300]
    if status == 401:
        message = "the Kubernetes API server %s did not accept the credentials (401 Unauthorized)" % server
    return KubernetesError("%s %s: %s %s: %s" % (method, path, status, reason or "", message), status=status, reason=reason)


# ---------------------------------------------------------------------------------------------------------------------
# Comparing a server-side-apply dry-run result with the live object.
# ---------------------------------------------------------------------------------------------------------------------

# Fields the API server changes on every write or that no playbook sets; they say nothing about whether an apply changes
# the object.
_VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid", "selfLink")


def comparable(obj):
    """The object without server bookkeeping and status, for the diff and the change decision."""
    if obj is None:
        return None
    result = {key: value for key, value in obj.items() if key != "status"}
    metadata = {key: value for key, value in (obj.get("metadata") or {}).items() if key not in _VOLATILE_METADATA}
    result["metadata"] = metadata
    return result


def managed_fields_of(obj, manager=FIELD_MANAGER):
    """The fieldsV1 set of one field manager (apply operation), to notice ownership changes (e.g. a dropped field)."""
    for entry in (obj or {}).get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            return entry.get("fieldsV1")
    return None


def apply_changes(live, predicted, manager=FIELD_MANAGER):
    """Whether applying changes the object: the dry-run result differs from the live object in content or in what
    this field manager owns."""
    if live is None:
        return True
    if comparable(live) != comparable(predicted):
        return True
    return managed_fields_of(live, manager) != managed_fields_of(predicted, manager)


def applied_at(obj, manager=FIELD_MANAGER):
    """The API server's time of this field manager's last apply (RFC 3339), or None."""
    for entry in (obj or {}).get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            return entry.get("time")
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Idempotent apply and delete, and waiting through a watch
# ---------------------------------------------------------------------------------------------------------------------

class Outcome(object):
    """What an apply or delete did (or would do in check mode): ``changed`` and the object before and after."""

    def __init__(self, changed, before, after):
        self.changed = changed
        self.before = before
        self.after = after

    def diff(self, header):
        return {"before": comparable(self.before) or {}, "after": comparable(self.after) or {},
                "before_header": header, "after_header": header}


def is_terminating(obj):
    return bool(obj and (obj.get("metadata") or {}).get("deletionTimestamp"))


def apply_object(client, path, obj, check_mode, field_manager=FIELD_MANAGER):
    """Server-side apply that writes only when something changes.

    The live object is compared with the server's dry-run result of the apply, so a second run sends no write and the
    resourceVersion stays; check mode stops after the dry run. A new object is created at once (nothing to compare).
    """
    live = client.get(path)
    if is_terminating(live):
        raise KubernetesError("%s %s/%s is being deleted; run again once it is gone"
                              % (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]))
    if live is None and not check_mode:
        return Outcome(True, None, client.apply(path, obj, field_manager))
    predicted = client.apply(path, obj, field_manager, dry_run=True)
    if not apply_changes(live, predicted, field_manager):
        return Outcome(False, live, live)
    if check_mode:
        return Outcome(True, live, predicted)
    return Outcome(True, live, client.apply(path, obj, field_manager))


def delete_object(client, path, check_mode):
    """Delete when present (an object already being deleted counts as gone); the server's dry run in check mode."""
    live = client.get(path)
    if live is None or is_terminating(live):
        return Outcome(False, live, live if live is not None else None)
    client.delete(path, dry_run=check_mode)
    return Outcome(True, live, None)


def watch_until(client, path, collection, name, judge, timeout):
    """Read the object, then follow it through watches until ``judge(obj)`` gives a final verdict or time runs out.

    ``judge`` returns (verdict, reason) with verdict "done", "fail" or "wait"; the last (obj, verdict, reason) is
    returned, with verdict "timeout" when time ran out. A watch wakes us on every change, so the wait ends as soon
    as the object reaches the wanted state, never a polling period later.
    """
    deadline = deadline_after(timeout)
    obj = client.get(path)
    verdict, reason = judge(obj)
    while verdict not in ("done", "fail"):
        left = remaining(deadline)
        if left <= 0:
            return obj, "timeout", reason
        version = ((obj or {}).get("metadata") or {}).get("resourceVersion")
        for event_type, event_object in client.watch(collection, name, version, left):
            if event_type == "BOOKMARK":
                continue
            obj = None if event_type == "DELETED" else event_object
            verdict, reason = judge(obj)
            if verdict in ("done", "fail") or remaining(deadline) <= 0:
                break
        else:
            # The watch ended (server timeout or expired history): read the object again and keep watching.
            if remaining(deadline) > 0:
                obj = client.get(path)
                verdict, reason = judge(obj)
    return obj, verdict, reason


def client_from_params(params):
    """A KubernetesClient from the module's auth options (K8S_AUTH_ARGSPEC)."""
    if not HAS_URLLIB3:
        raise KubernetesConfigError("the urllib3 Python library is required (pip install urllib3)")
    return KubernetesClient(settings_from_params(params))


def deadline_after(seconds):
    return time.monotonic() + seconds


def remaining(deadline):
    return max(0.0, deadline - time.monotonic())


# ---------------------------------------------------------------------------------------------------------------------
# Config Sync's objects on the API server
# ---------------------------------------------------------------------------------------------------------------------

CONFIG_SYNC_API_VERSION = "configsync.gke.io/v1beta1"
SYNC_PLURALS = {"RootSync": "rootsyncs", "RepoSync": "reposyncs"}
RESOURCE_GROUPS = collection_path("kpt.dev/v1alpha1", "resourcegroups")
RECONCILER_MANAGER_PATH = object_path("apps/v1", "deployments", "config-management-system", "reconciler-manager")
CONFIG_MANAGEMENT_PATH = "/apis/configmanagement.gke.io/v1/configmanagements/config-management"


def sync_path(kind, namespace, name):
    return object_path(CONFIG_SYNC_API_VERSION, SYNC_PLURALS[kind], namespace, name)


def sync_collection(kind, namespace=None):
    return collection_path(CONFIG_SYNC_API_VERSION, SYNC_PLURALS[kind], namespace)


def role_binding_path(namespace, name):
    return object_path("rbac.authorization.k8s.io/v1", "rolebindings", namespace, name)


def resource_group_path(namespace, name):
    return object_path("kpt.dev/v1alpha1", "resourcegroups", namespace, name)


def get_optional(client, path):
    """GET that treats a kind the server does not know (CRD not installed: 404) like a missing object."""
    try:
        return client.get(path)
    except KubernetesError as exc:
        if exc.status in (403, 404):
            return None
        raise


def list_optional(client, path):
    try:
        return client.list(path)
    except KubernetesError as exc:
        if exc.status == 404:
            return []
        raise


def config_management_version(client):
    """status.configManagementVersion of the ConfigManagement object (GKE-managed installs), or None (open source)."""
    obj = get_optional(client, CONFIG_MANAGEMENT_PATH)
    return ((obj or {}).get("status") or {}).get("configManagementVersion")
