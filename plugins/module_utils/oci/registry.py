# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small distribution-spec (OCI registry API v2) client on ``requests``, made for pushes that must not re-send.

It answers auth challenges (Docker token flow with or without ``service``, and Basic), checks manifests and blobs
with HEAD, mounts blobs across repositories, uploads blobs monolithically or in ``Content-Range`` chunks streamed
from disk, resumes an interrupted upload from the registry's ``Range`` (GET on the upload URL), and retries
connection resets, 429 and 5xx answers with backoff. Every retry lives here, nowhere else, under one policy
(``Attempts``).
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import hashlib
import re
import time

from urllib.parse import urlencode, urljoin, urlsplit

try:
    import requests
    REQUEST_ERRORS = (requests.exceptions.RequestException,)
except ImportError:  # pragma: no cover - oci_push checks for requests (ConfigSyncModule.require_library) before this loads
    REQUEST_ERRORS = ()

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError
from ansible_collections.configsync.oci.plugins.module_utils.oci.auth import (
    basic_header, parse_challenges, redact, RegistryAuthError,
)
from ansible_collections.configsync.oci.plugins.module_utils.oci.constants import DEFAULT_CHUNK_SIZE
from ansible_collections.configsync.oci.plugins.module_utils.oci.manifest import MANIFEST_MEDIA_TYPES
from ansible_collections.configsync.oci.plugins.module_utils.transport_security import is_loopback, may_send_credentials

RETRY_STATUSES = (429, 500, 502, 503, 504)
# Answers that mean "this upload session is gone or out of step" (BLOB_UPLOAD_INVALID/UNKNOWN, DIGEST_INVALID, a
# range mismatch): the blob is uploaded again from a fresh session, within the retry budget.
UPLOAD_LOST_STATUSES = (400, 404, 416)
_STREAM_BLOCK = 1024 * 1024
_MAX_BACKOFF = 10.0
_MAX_RETRY_AFTER = 30.0
_RANGE_RE = re.compile(r"(\d+)-(\d+)")


class RegistryError(ConfigSyncError):
    """A registry request failed; the message names the registry, the request and the registry's error codes."""

    def __init__(self, message, status=None, codes=()):
        super(RegistryError, self).__init__(message)
        self.status = status
        self.codes = tuple(codes)


class _TransientError(Exception):
    """A failure worth retrying (connection reset, timeout, 429, 5xx), carried up to the resume logic."""

    def __init__(self, message, response=None):
        super(_TransientError, self).__init__(message)
        self.response = response  # for its Retry-After, when the registry sent one


class Attempts(object):
    """The registry transport's one retry policy, one budget per operation (``what``, e.g. ``GET /v2/``).

    The first try plus at most ``client.retries`` retries. Before each retry: ``client.backoff`` seconds doubled per
    retry already made (at most _MAX_BACKOFF), or the registry's ``Retry-After`` when longer (at most
    _MAX_RETRY_AFTER); each retry counts in ``client.stats["retries"]``. When the budget is spent, ``retry`` raises
    RegistryError naming the operation, the number of attempts and the last reason (secrets redacted).
    """

    def __init__(self, client, what):
        self.client = client
        self.what = what
        self.failed = 0  # attempts that failed so far

    @property
    def left(self):
        """Whether another retry is allowed."""
        return self.failed < self.client.retries

    def retry(self, reason, response=None):
        """Wait before the next attempt (``response``: the answer that failed, for its Retry-After), or raise."""
        client = self.client
        if not self.left:
            raise RegistryError("registry %s: %s failed after %d attempts: %s"
                                % (client.host, self.what, self.failed + 1, redact(reason, client.credentials.secrets())))
        client.stats["retries"] += 1
        delay = min(_MAX_BACKOFF, client.backoff * (2 ** self.failed))
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after and retry_after.strip().isdigit():
            delay = min(_MAX_RETRY_AFTER, max(delay, float(retry_after)))
        self.failed += 1
        client.sleep(delay)

    def reset(self):
        """Progress was made (a chunk landed): the budget starts again."""
        self.failed = 0

    def send(self, exchange):
        """``exchange()`` (one request) again after each dropped connection or transient status (429, 5xx) while the
        budget lasts; returns the last answer, which may still be a transient status when the budget ran out on one."""
        while True:
            try:
                response = exchange()
            except _TransientError as exc:
                self.retry(exc)
                continue
            if response.status_code in RETRY_STATUSES and self.left:
                self.retry(response.status_code, response)
                continue
            return response


def error_codes(response):
    """The ``code`` values of a distribution error body, e.g. ('MANIFEST_BLOB_UNKNOWN',)."""
    try:
        return tuple(str(e.get("code")) for e in response.json().get("errors") or [] if isinstance(e, dict))
    except (ValueError, AttributeError):
        return ()


def error_messages(response):
    """The registry's own words, ``CODE: message`` per error of a distribution error body (Artifact Registry's messages
    name the missing permission and the repository)."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return ()
    return tuple("%s: %s" % (e.get("code"), e["message"]) if e.get("message") else str(e.get("code"))
                 for e in errors if isinstance(e, dict))


def _registry_says(response):
    messages = error_messages(response)
    return " (%s)" % "; ".join(messages) if messages else ""


def with_query(url, **params):
    """``url`` with extra query parameters, keeping any the registry already put in its Location."""
    separator = "&" if urlsplit(url).query else "?"
    return url + separator + urlencode(params)


def parse_range(value):
    """Bytes the registry holds for an upload, from ``Range: 0-N`` (N inclusive); 0 when absent.

    distribution reports an empty upload as ``0-0`` too, so ``0-0`` counts as nothing received: a one-byte
    misjudgement is caught by the registry's 416 answer and the upload restarts.
    """
    match = _RANGE_RE.search(value or "")
    if not match:
        return 0
    end = int(match.group(2))
    return 0 if end == 0 else end + 1


class FileSlice(object):
    """``length`` bytes of a file from ``offset``, as an iterable of 1 MiB blocks with a length.

    requests sends an iterable with ``__len__`` with a Content-Length (not chunked transfer encoding) and reads it
    block by block, so an upload never holds more than one block in memory.
    """

    def __init__(self, blob, offset, length):
        self.blob = blob
        self.offset = offset
        self.length = length

    def __len__(self):
        return self.length

    def __iter__(self):
        with self.blob.open() as stream:
            stream.seek(self.offset)
            left = self.length
            while left > 0:
                block = stream.read(min(_STREAM_BLOCK, left))
                if not block:
                    raise IOError("blob %s ended early at offset %d" % (self.blob.digest, self.offset + self.length - left))
                left -= len(block)
                yield block


class RegistryClient(object):
    """One registry host. Call ``add_scope`` for each repository, then ``connect`` before any other request."""

    def __init__(self, host, credentials, validate_certs=True, ca_cert=None, insecure=False, timeout=60.0, retries=5,
                 chunk_size=DEFAULT_CHUNK_SIZE, backoff=0.5, sleep=time.sleep, session=None):
        self.host = host
        self.credentials = credentials
        self.insecure = insecure
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.chunk_size = int(chunk_size)
        self.backoff = backoff
        self.sleep = sleep
        self.session = session or requests.Session()
        # Passed on every request: a Session's own ``verify`` would lose to REQUESTS_CA_BUNDLE from the environment.
        self.verify = False if insecure or not validate_certs else (ca_cert or True)
        self.session.headers["User-Agent"] = "configsync.oci-oci_push"
        self.base_url = None
        self.scopes = {}
        self._authorization = None
        self._challenge = None
        self.stats = {"requests": 0, "retries": 0, "bytes_uploaded": 0}

    # -- connection and auth ------------------------------------------------------------------------------------

    def add_scope(self, repository, actions):
        """Ask for ``actions`` ('pull' or 'pull,push') on a repository in the next token request."""
        wanted = set(self.scopes.get(repository, ())) | set(actions.split(","))
        self.scopes[repository] = tuple(sorted(wanted))

    def connect(self):
        """Ping ``/v2/`` to pick the scheme (plain HTTP only for loopback or ``insecure``) and learn the auth challenge."""
        may_use_http = self.insecure or is_loopback(self.host)
        scheme = "https"
        attempts = Attempts(self, "GET /v2/")
        while True:
            try:
                response = attempts.send(lambda url="%s://%s/v2/" % (scheme, self.host): self._send("GET", url))
            except requests.exceptions.SSLError as exc:
                if may_use_http and scheme == "https" and not _is_certificate_error(exc):
                    scheme = "http"  # the server does not speak TLS at all; switching is not a failed attempt
                    continue
                raise RegistryError("registry %s: TLS failed: %s (set ca_cert to the registry's CA file%s)"
                                    % (self.host, _short(exc), ", or insecure" if not may_use_http else ""))
            if response.status_code == 401:
                self._challenge = response.headers.get("WWW-Authenticate", "")
                if not self._challenge:
                    raise RegistryAuthError("registry %s answered GET /v2/ with 401 but no WWW-Authenticate challenge" % self.host)
            elif response.status_code in RETRY_STATUSES:
                raise RegistryError("registry %s: GET /v2/ answered %d after %d attempts"
                                    % (self.host, response.status_code, attempts.failed + 1), response.status_code)
            elif response.status_code != 200:
                raise RegistryError("registry %s does not look like an OCI registry: GET /v2/ answered %d"
                                    % (self.host, response.status_code), response.status_code)
            self.base_url = "%s://%s" % (scheme, self.host)
            return self.base_url

    def _authenticate(self, challenge_header):
        challenges = dict(parse_challenges(challenge_header))
        if "bearer" in challenges:
            self._authorization = "Bearer " + self._fetch_token(challenges["bearer"])
        elif "basic" in challenges:
            pair = self.credentials.get()
            if not pair:
                raise RegistryAuthError(self._needs_credentials())
            self._authorization = basic_header(pair)
        else:
            raise RegistryAuthError("registry %s asked for authentication with an unsupported challenge %r"
                                    % (self.host, challenge_header.split(" ", 1)[0] if challenge_header else ""))

    def _needs_credentials(self):
        return ("registry %s requires authentication and no credentials were found: set username and password, "
                "docker_config, or (for Google registries) the GCP auth options" % self.host)

    def _scope_params(self, challenge):
        scopes = ["repository:%s:%s" % (repo, ",".join(actions)) for repo, actions in sorted(self.scopes.items())]
        extra = challenge.get("scope")
        if extra and extra not in scopes:
            scopes.extend(s for s in extra.split(" ") if s and s not in scopes)
        return scopes

    def _fetch_token(self, challenge):
        realm = challenge.get("realm")
        if not realm:
            raise RegistryAuthError("registry %s sent a Bearer challenge without a realm" % self.host)
        params = [("scope", s) for s in self._scope_params(challenge)]
        if challenge.get("service"):
            params.insert(0, ("service", challenge["service"]))
        pair = self.credentials.get()
        if pair and not may_send_credentials(realm, self.host, self.insecure):
            # A realm is whatever the registry's challenge names: credentials follow it only to a host they may go to.
            raise RegistryAuthError(
                "registry %s names the token service %s, but the credentials for %s go to another host only over "
                "https:// (plain http:// only to the registry's own host when it is loopback or insecure is set); "
                "nothing was sent" % (self.host, _without_query(realm), self.host))
        response = Attempts(self, "token request").send(
            lambda: self._send("GET", realm, params=params, auth=pair, authorize=False))
        if response.status_code in (401, 403):
            if pair:
                raise RegistryAuthError(redact("registry %s refused the credentials of user %s (from %s): the token service answered %d%s"
                                               % (self.host, pair[0], self.credentials.source, response.status_code,
                                                  _registry_says(response)), self.credentials.secrets()))
            raise RegistryAuthError(self._needs_credentials())
        if response.status_code != 200:
            raise RegistryAuthError("registry %s: the token service %s answered %d"
                                    % (self.host, _without_query(realm), response.status_code))
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not token:
            raise RegistryAuthError("registry %s: the token service answered without a token" % self.host)
        return token

    # -- requests with retries -----------------------------------------------------------------------------------

    def _send(self, method, url, headers=None, data=None, params=None, auth=None, authorize=True):
        """One HTTP exchange; connection failures become _TransientError. No retry here."""
        headers = dict(headers or {})
        if authorize and self._authorization:
            headers["Authorization"] = self._authorization
        self.stats["requests"] += 1
        try:
            return self.session.request(method, url, headers=headers, data=data, params=params, auth=auth, verify=self.verify,
                                        timeout=self.timeout, allow_redirects=method in ("GET", "HEAD"))
        except requests.exceptions.SSLError:
            raise
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise _TransientError(_short(exc))

    def url(self, path_or_url):
        return urljoin(self.base_url + "/", path_or_url)

    def request(self, method, path, headers=None, body=None, retry=True):
        """Send with auth and retries; ``body`` is bytes or a callable giving a fresh body per attempt.

        With ``retry=False`` a transient failure raises _TransientError for the caller to resume from.
        Any other answer (404, 400, ...) is returned for the caller to judge.
        """
        url = self.url(path)
        authenticated_now = False
        attempts = Attempts(self, "%s %s" % (method, _path_of(url)))
        while True:
            if self._authorization is None and self._challenge:
                self._authenticate(self._challenge)
                authenticated_now = True
            data = body() if callable(body) else body
            try:
                response = self._send(method, url, headers=headers, data=data)
            except _TransientError as exc:
                if not retry:
                    raise
                attempts.retry(exc)
                continue
            if response.status_code == 401:
                challenge = response.headers.get("WWW-Authenticate", "")
                if authenticated_now or not challenge:
                    raise RegistryAuthError(self._refused(method, url))
                # First 401 (or an expired token): answer this challenge, it may carry a wider scope.
                self._challenge = challenge
                self._authorization = None
                continue
            if response.status_code in RETRY_STATUSES and retry and attempts.left:
                attempts.retry(response.status_code, response)
                continue
            if response.status_code in RETRY_STATUSES and not retry:
                raise _TransientError("%s %s answered %d" % (method, _path_of(url), response.status_code), response)
            return response

    def _refused(self, method, url):
        pair = self.credentials.get()
        if not pair:
            return self._needs_credentials()
        return ("registry %s refused the credentials of user %s (from %s) for %s %s"
                % (self.host, pair[0], self.credentials.source, method, _path_of(url)))

    def _fail(self, response, what):
        codes = error_codes(response)
        if response.status_code == 403:
            message = "registry %s denied %s (403%s)%s: check that the credentials may push to this repository" % (
                self.host, what, " " + ",".join(codes) if codes else "", _registry_says(response))
        else:
            message = "registry %s: %s answered %d%s" % (self.host, what, response.status_code, " " + ",".join(codes) if codes else "")
        raise RegistryError(redact(message, self.credentials.secrets()), response.status_code, codes)

    # -- manifests ------------------------------------------------------------------------------------------------

    def manifest_digest(self, repository, reference):
        """The digest a tag points at, or None when the tag (or the repository) does not exist."""
        path = "/v2/%s/manifests/%s" % (repository, reference)
        headers = {"Accept": ", ".join(MANIFEST_MEDIA_TYPES)}
        response = self.request("HEAD", path, headers=headers)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            self._fail(response, "HEAD %s" % path)
        digest = response.headers.get("Docker-Content-Digest")
        if digest:
            return digest
        # Some registries leave the header out of HEAD answers: hash the manifest bytes instead.
        response = self.request("GET", path, headers=headers)
        if response.status_code != 200:
            self._fail(response, "GET %s" % path)
        return "sha256:" + hashlib.sha256(response.content).hexdigest()

    def get_manifest(self, repository, reference):
        """(bytes, media type) of a manifest, or (None, None) when it does not exist."""
        path = "/v2/%s/manifests/%s" % (repository, reference)
        response = self.request("GET", path, headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)})
        if response.status_code == 404:
            return None, None
        if response.status_code != 200:
            self._fail(response, "GET %s" % path)
        return response.content, (response.headers.get("Content-Type") or "").split(";")[0].strip() or None

    def put_manifest(self, repository, reference, body, media_type, expected_digest):
        path = "/v2/%s/manifests/%s" % (repository, reference)
        response = self.request("PUT", path, headers={"Content-Type": media_type}, body=body)
        if response.status_code not in (200, 201, 202):
            self._fail(response, "PUT %s" % path)
        stored = response.headers.get("Docker-Content-Digest")
        if stored and stored != expected_digest:
            raise RegistryError("registry %s stored the manifest for %s:%s as %s, not %s (it rewrote the manifest)"
                                % (self.host, repository, reference, stored, expected_digest))

    # -- blobs ----------------------------------------------------------------------------------------------------

    def blob_exists(self, repository, digest):
        path = "/v2/%s/blobs/%s" % (repository, digest)
        response = self.request("HEAD", path)
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            self._fail(response, "HEAD %s" % path)
        return True

    def _start_upload(self, repository, mount=None, mount_from=None):
        """POST a new upload (or a mount): returns ('mounted', None) or ('upload', location URL)."""
        path = "/v2/%s/blobs/uploads/" % repository
        if mount and mount_from:
            path = with_query(path, mount=mount, **{"from": mount_from})
        response = self.request("POST", path, headers={"Content-Length": "0"})
        if response.status_code == 201 and mount:
            return "mounted", None
        if response.status_code != 202 or not response.headers.get("Location"):
            self._fail(response, "POST %s" % _path_of(path))
        return "upload", self.url(response.headers["Location"])

    def push_blob(self, repository, blob, mount_from=()):
        """Upload ``blob`` unless a mount from one of ``mount_from`` works. Returns 'mounted' or 'uploaded'."""
        location = None
        for source in mount_from:
            if source == repository:
                continue
            outcome, opened = self._start_upload(repository, mount=blob.digest, mount_from=source)
            if outcome == "mounted":
                if location:
                    self._cancel_upload(location)
                return "mounted"
            # The registry opened a normal upload instead: keep the first such session, drop later ones.
            if location is None:
                location = opened
            else:
                self._cancel_upload(opened)
        attempts = Attempts(self, "upload of %s" % blob.digest)
        while True:
            try:
                if location is None:
                    dummy, location = self._start_upload(repository)
                if blob.size <= self.chunk_size:
                    self._upload_monolithic(location, blob)
                else:
                    self._upload_chunked(location, blob)
                return "uploaded"
            except _TransientError as exc:
                # Resuming happens inside the chunked loop; here the upload starts over unless the blob made it.
                attempts.retry(exc, exc.response)
                location = None
                if self.blob_exists(repository, blob.digest):
                    return "uploaded"

    def _cancel_upload(self, location):
        """Best effort: a session left open is purged by the registry later anyway."""
        try:
            self.request("DELETE", location, retry=False)
        except _TransientError:
            pass

    def _upload_monolithic(self, location, blob):
        headers = {"Content-Type": "application/octet-stream"}
        response = self.request("PUT", with_query(location, digest=blob.digest), headers=headers,
                                body=lambda: FileSlice(blob, 0, blob.size) if blob.data is None else blob.data, retry=False)
        if response.status_code in UPLOAD_LOST_STATUSES:
            raise _TransientError("the upload answered %d %s" % (response.status_code, ",".join(error_codes(response))))
        if response.status_code != 201:
            self._fail(response, "PUT upload of %s" % blob.digest)
        self.stats["bytes_uploaded"] += blob.size

    def _upload_chunked(self, location, blob):
        offset = 0
        attempts = Attempts(self, "PATCH upload of %s" % blob.digest)
        while offset < blob.size:
            length = min(self.chunk_size, blob.size - offset)
            headers = {"Content-Type": "application/octet-stream", "Content-Range": "%d-%d" % (offset, offset + length - 1)}
            try:
                response = self.request("PATCH", location, headers=headers,
                                        body=lambda start=offset, size=length: FileSlice(blob, start, size), retry=False)
                reason = None if response.status_code == 202 else response.status_code
            except _TransientError as exc:
                reason = exc
            if reason is not None and (not isinstance(reason, int) or reason in UPLOAD_LOST_STATUSES):
                # Part of the chunk may have landed: ask the registry where the upload stands and go on from there.
                attempts.retry(reason, getattr(reason, "response", None))
                location, offset = self._upload_progress(location)
                continue
            if reason is not None:
                self._fail(response, "PATCH upload of %s" % blob.digest)
            attempts.reset()
            self.stats["bytes_uploaded"] += length
            location = self.url(response.headers.get("Location") or location)
            offset += length
        response = self.request("PUT", with_query(location, digest=blob.digest), headers={"Content-Length": "0"}, retry=False)
        if response.status_code in UPLOAD_LOST_STATUSES:
            # E.g. DIGEST_INVALID: the bytes the registry holds are not the blob; the caller starts a fresh upload.
            raise _TransientError("closing the upload answered %d %s" % (response.status_code, ",".join(error_codes(response))))
        if response.status_code != 201:
            self._fail(response, "PUT to close the upload of %s" % blob.digest)

    def _upload_progress(self, location):
        """Where an interrupted upload stands (distribution-spec: GET on the upload URL -> 204 with Range).

        A registry that cannot resume this upload (distribution cancels one whose size moved past the offset in its
        upload URL) answers 400/404/416; the upload then starts over in ``push_blob``.
        """
        attempts = Attempts(self, "GET upload status")
        while True:
            try:
                response = self.request("GET", location, retry=False)
            except _TransientError as exc:
                attempts.retry(exc, exc.response)
                continue
            if response.status_code == 204:
                return self.url(response.headers.get("Location") or location), parse_range(response.headers.get("Range"))
            if response.status_code in UPLOAD_LOST_STATUSES:
                raise _TransientError("the upload cannot be resumed (%d %s)" % (response.status_code, ",".join(error_codes(response))))
            self._fail(response, "GET upload status")


def _is_certificate_error(exc):
    text = str(exc).lower()
    return "certificate" in text or "hostname" in text


def _short(exc):
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."


def _path_of(url):
    return urlsplit(url).path or url


def _without_query(url):
    parts = urlsplit(url)
    return "%s://%s%s" % (parts.scheme, parts.netloc, parts.path)
