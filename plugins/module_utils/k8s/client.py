# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place the collection sends requests to a Kubernetes API server: plain JSON over urllib3 to the REST paths
of the few kinds used here, with no discovery round trips and no model classes.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
from urllib.parse import quote, urlencode

from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import (
    KubernetesConfigError, KubernetesError, KubernetesUnreachable,
)
from ansible_collections.configsync.oci.plugins.module_utils.k8s.kubeconfig import settings_from_params


try:
    import urllib3
    HAS_URLLIB3 = True
except ImportError:  # pragma: no cover
    urllib3 = None
    HAS_URLLIB3 = False


FIELD_MANAGER = "configsync.oci"
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
# How long after a watch's own timeout (or a bounded read's) silence means the server stopped answering.
WATCH_GRACE = 2
APPLY_PATCH = "application/apply-patch+yaml"
# One quick reconnect, never a resend of a request the server may have processed; but a 429 (API Priority and Fairness
# rejected the request before handling it) is retried after the server's Retry-After, up to 5 times, as client-go does.
RETRIES = urllib3.Retry(total=None, connect=1, read=0, redirect=0, other=0, status=5, status_forcelist=(429,),
                        allowed_methods=None, backoff_factor=0.2, respect_retry_after_header=True,
                        raise_on_status=False) if HAS_URLLIB3 else None


def collection_path(api_version, plural, namespace=None):
    """``/api/v1/namespaces/NS/PLURAL`` for the core group, ``/apis/GROUP/VERSION/...`` for the others."""
    prefix = "/api/" + api_version if "/" not in api_version else "/apis/" + api_version
    if namespace:
        prefix += "/namespaces/" + quote(namespace, safe="")
    return prefix + "/" + plural


def object_path(api_version, plural, namespace, name):
    return collection_path(api_version, plural, namespace) + "/" + quote(name, safe="")


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
            timed_out = urllib3.exceptions.ReadTimeoutError
            if isinstance(exc, timed_out) or isinstance(getattr(exc, "reason", None), timed_out):
                raise KubernetesUnreachable("the Kubernetes API server %s stopped answering: no answer to %s %s in time"
                                            % (self.server, method, path))
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

    def get(self, path, timeout=None):
        """The object at ``path``, or None when it does not exist; ``timeout`` (seconds) bounds the read."""
        if timeout is not None:
            timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, timeout), read=timeout)
        try:
            return self.request("GET", path, timeout=timeout)
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
        # The server ends the watch after timeoutSeconds; no byte for a little longer means it stopped answering.
        timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, timeout_seconds + WATCH_GRACE),
                                  read=max(1, int(timeout_seconds)) + WATCH_GRACE)
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
            raise KubernetesUnreachable("the Kubernetes API server %s stopped answering: the watch of %s sent nothing for %ds"
                                        % (self.server, collection, int(timeout.read_timeout)))
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


def client_from_params(params):
    """A KubernetesClient from the module's auth options (K8S_AUTH_ARGSPEC)."""
    if not HAS_URLLIB3:
        raise KubernetesConfigError("the urllib3 Python library is required (pip install urllib3)")
    return KubernetesClient(settings_from_params(params))


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
