# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Google access tokens kept on disk between tasks, one per identity, as gcloud keeps its access-token cache.

A fleet run reaches every cluster with a Google token; each task on each host is a process of its own, so without a
cache every task mints a token (a signed JWT exchange at the token endpoint) and imports google-auth to do it, which
is most of a no-op task's start-up. Here one token per identity serves every task and every host of the run until
five minutes before it expires, and a cache hit imports nothing of google-auth.

- The key is a SHA-256 of what makes the identity (key ID, private key, email, token endpoint, scopes,
  impersonation target): another key, scope set or endpoint never gets this token.
- The directory is 0700 and each file 0600, written whole through a temporary file and ``os.replace``; a directory
  or file that another user owns or that others can read is never used.
- Minting holds a lock per identity, so 30 hosts starting at once mint one token, not 30.
- ``CONFIGSYNC_OCI_TOKEN_CACHE`` is the directory to use, or ``off``; the default is
  ``$XDG_CACHE_HOME/configsync.oci/tokens`` (``~/.cache/...``).
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock, at worst one token per task
    fcntl = None

CACHE_ENV = "CONFIGSYNC_OCI_TOKEN_CACHE"
# A token this close to its expiry is minted again: a task (and its wait) must not outlive the token it holds.
EXPIRY_MARGIN = 300


def default_dir(environ=None):
    """The cache directory, or None when the cache is switched off."""
    environ = os.environ if environ is None else environ
    configured = environ.get(CACHE_ENV)
    if configured:
        return None if configured.strip().lower() == "off" else configured
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "configsync.oci", "tokens")


def identity_key(info, scopes, impersonate=None):
    """The cache key of a service-account identity: a hash, so the file name reveals nothing of the key."""
    identity = {
        "client_email": info.get("client_email"),
        "private_key_id": info.get("private_key_id"),
        "private_key": info.get("private_key"),
        "token_uri": info.get("token_uri"),
        "scopes": sorted(scopes or []),
        "impersonate": impersonate,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()


def _private(path, want_dir):
    """Whether ``path`` is ours alone: owned by this user, not a symlink, nothing for group or others."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    kind_ok = stat.S_ISDIR(info.st_mode) if want_dir else stat.S_ISREG(info.st_mode)
    return kind_ok and info.st_uid == os.getuid() and not info.st_mode & 0o077


class TokenCache(object):
    """Tokens by identity key in one private directory; every failure to read or write is a cache miss."""

    def __init__(self, directory, clock=time.time):
        self.directory = directory
        self.clock = clock

    def _path(self, key):
        return os.path.join(self.directory, key + ".json")

    def _ensure_dir(self):
        """Whether the directory exists (made 0700 if need be) and is ours alone."""
        if not os.path.isdir(self.directory):
            try:
                os.makedirs(self.directory, 0o700)
            except OSError:
                return False
        return _private(self.directory, True)

    def get(self, key):
        """The cached token for ``key`` if it is valid for longer than EXPIRY_MARGIN, else None."""
        path = self._path(key)
        if not (_private(self.directory, True) and _private(path, False)):
            return None
        try:
            with open(path) as stream:
                entry = json.load(stream)
            token, expiry = entry["token"], float(entry["expiry"])
        except (OSError, IOError, ValueError, KeyError, TypeError):
            return None
        return token if token and expiry - EXPIRY_MARGIN > self.clock() else None

    def put(self, key, token, expiry):
        """Keep ``token`` (valid until the epoch second ``expiry``); silently skipped where the cache cannot be private."""
        try:
            if not self._ensure_dir():
                return
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".token-")
            try:
                with os.fdopen(handle, "w") as stream:
                    json.dump({"token": token, "expiry": expiry}, stream)
                os.replace(temporary, self._path(key))
            except BaseException:
                os.unlink(temporary)
                raise
        except (OSError, IOError):
            pass

    @contextlib.contextmanager
    def minting(self, key):
        """Hold the identity's lock while minting: the others wait, then find the token in the cache."""
        handle = None
        try:
            if fcntl is not None and self._ensure_dir():
                handle = os.open(os.path.join(self.directory, key + ".lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
                fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            if handle is not None:
                os.close(handle)
            handle = None
        try:
            yield
        finally:
            if handle is not None:
                os.close(handle)
