# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image references (``HOST/PATH:TAG``, ``HOST/PATH@sha256:HEX``) by the grammar of distribution's reference package.

One grammar for every module. A push must name its registry host: pushing to an implied Docker Hub is never what a
Config Sync rollout wants, so there a missing host is an error. A sync object's image is read as oci-sync reads it
(go-containerregistry ``name.ParseReference``), where a reference without a host is Docker Hub's
(``require_host=False``, ``host`` None).
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError

# One DNS label, a dotted host name, an optional port; or a bracketed IPv6 address.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(r"^(?:%s(?:\.%s)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$" % (_DOMAIN_COMPONENT, _DOMAIN_COMPONENT))
# A repository path component: lowercase alphanumerics joined by one '.', one or two '_', or any number of '-'.
_PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
MAX_NAME_LENGTH = 255


class ReferenceError(ConfigSyncError, ValueError):
    """An image reference or tag that a registry would refuse; the message says which part and why."""


class Reference(object):
    """A parsed reference: ``host``, ``repository`` (the path), and optional ``tag`` and ``digest``."""

    def __init__(self, host, repository, tag=None, digest=None):
        self.host = host
        self.repository = repository
        self.tag = tag
        self.digest = digest

    @property
    def name(self):
        """``HOST/PATH`` (``PATH`` without a host) without tag or digest."""
        return "%s/%s" % (self.host, self.repository) if self.host else self.repository

    def with_tag(self, tag):
        return "%s:%s" % (self.name, tag)

    def with_digest(self, digest):
        return "%s@%s" % (self.name, digest)

    def __str__(self):
        text = self.name
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + self.digest
        return text

    def __eq__(self, other):
        return isinstance(other, Reference) and str(self) == str(other)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(str(self))

    def __repr__(self):
        return "Reference(%r)" % str(self)


def validate_tag(tag):
    """Return ``tag`` or raise ReferenceError: 1-128 of ``[A-Za-z0-9_.-]``, not starting with '.' or '-'."""
    if not isinstance(tag, str) or not _TAG_RE.match(tag):
        raise ReferenceError("tag %r is not valid: a tag is 1 to 128 characters of letters, digits, '_', '.' and '-', "
                             "and does not start with '.' or '-'" % (tag,))
    return tag


def validate_digest(digest):
    if not _DIGEST_RE.match(digest):
        raise ReferenceError("digest %r is not valid: expected sha256: and 64 lowercase hex digits" % (digest,))
    return digest


def looks_like_host(component):
    """Docker's rule: the first component of a reference is a registry host only when it looks like one (has a '.' or
    a ':port', is localhost, or is a bracketed IPv6 address)."""
    return "." in component or ":" in component or component == "localhost" or component.startswith("[")


def _split_host(text, remainder, require_host):
    first, _slash, rest = remainder.partition("/")
    if not (rest and looks_like_host(first)) and not require_host:
        return None, remainder
    if "/" not in remainder:
        raise ReferenceError("image %r has no registry host: write HOST/PATH, e.g. us-docker.pkg.dev/PROJECT/REPO/NAME" % text)
    host, path = first, rest
    if not looks_like_host(host):
        raise ReferenceError("image %r has no registry host: %r is a repository path component, not a host name "
                             "(a host has a '.', a ':port' or is localhost)" % (text, host))
    if not _DOMAIN_RE.match(host):
        raise ReferenceError("image %r: registry host %r is not a valid host name" % (text, host))
    return host, path


def _validate_path(text, path):
    if not path:
        raise ReferenceError("image %r has no repository path after the host" % text)
    for component in path.split("/"):
        if not _PATH_COMPONENT_RE.match(component):
            hint = " (repository names are lowercase)" if component.lower() != component else ""
            raise ReferenceError("image %r: repository path component %r is not valid%s: use lowercase letters, digits, "
                                 "and single separators '.', '_', '__' or '-' between them" % (text, component, hint))


def parse_reference(text, require_host=True):
    """Parse ``HOST/PATH[:TAG][@sha256:HEX]`` into a Reference, or raise ReferenceError naming the bad part."""
    if not isinstance(text, str) or not text.strip():
        raise ReferenceError("image must be a non-empty reference like HOST/PATH:TAG")
    if text != text.strip() or any(c.isspace() for c in text):
        raise ReferenceError("image %r contains whitespace" % text)
    remainder, digest = text, None
    if "@" in remainder:
        remainder, digest = remainder.split("@", 1)
        validate_digest(digest)
    host, path = _split_host(text, remainder, require_host)
    tag = None
    # A ':' after the last '/' starts the tag; one before it belongs to the host's port.
    if ":" in path.rsplit("/", 1)[-1]:
        path, tag = path.rsplit(":", 1)
        try:
            validate_tag(tag)
        except ReferenceError as exc:
            raise ReferenceError("image %r: %s" % (text, exc))
    _validate_path(text, path)
    if len(host or "") + 1 + len(path) > MAX_NAME_LENGTH:
        raise ReferenceError("image %r: HOST/PATH is longer than %d characters" % (text, MAX_NAME_LENGTH))
    return Reference(host, path, tag, digest)
