# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where credentials may travel: the one rule every client of the collection (Google APIs, Kubernetes API servers,
OCI registries and their token services) applies before it sends a token, a key or a password.

- Over TLS (``https://``) to the host they belong to: always.
- Over plain HTTP: only to a loopback host (an emulator, ``kubectl proxy``, a registry on this machine), or to the
  registry's own host when the user asked for ``insecure``.
- To another host than the one they belong to (a registry's token realm): only over TLS.

Pure functions, no network.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import ipaddress

from urllib.parse import urlsplit

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError


class InsecureTransportError(ConfigSyncError, ValueError):
    """Credentials would travel unencrypted; the message names the URL and the option that fixes it, never a secret."""


def host_of(url_or_host):
    """The lower-case host name of a URL (``http://h:1/x``) or of ``host[:port]`` / ``[v6]:port``, without the port."""
    text = url_or_host.strip()
    if "://" not in text:
        text = "//" + text
    return (urlsplit(text).hostname or "").lower()


def is_loopback(url_or_host):
    """localhost or a loopback address (127.0.0.0/8, ::1), in a URL or a ``host[:port]``."""
    host = host_of(url_or_host)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_tls(url, what, option=None):
    """Refuse ``url`` when it is plain HTTP to a non-loopback host: ``what`` carries credentials there.

    ``option`` names the setting to change in the message (e.g. ``host``, ``api_endpoint``).
    """
    if url and url.strip().lower().startswith("http://") and not is_loopback(url):
        raise InsecureTransportError(
            "%s%s would send %s unencrypted: plain http:// is only allowed for loopback hosts (127.0.0.1, ::1, "
            "localhost); use https://" % (option + " " if option else "", url, what))
    return url


def may_send_credentials(url, owner_host, insecure=False):
    """Whether credentials that belong to ``owner_host`` (``host[:port]``) may go to ``url``.

    HTTPS: yes. Plain HTTP: only to the owner's own host, and only when it is loopback or ``insecure`` was asked for it.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https":
        return True
    if scheme != "http":
        return False
    if host_of(url) != host_of(owner_host):
        return False
    return insecure or is_loopback(url)
