# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the Kubernetes transport; messages name the API server and never hold a token or key.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError


class KubernetesError(ConfigSyncError):
    """An API request failed; ``status`` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, message, status=0, reason=None):
        super(KubernetesError, self).__init__(message)
        self.status = status
        self.reason = reason


class KubernetesUnreachable(KubernetesError):
    """The API server could not be reached; the message names it."""


class KubernetesConfigError(KubernetesError):
    """The connection options or kubeconfig do not describe a usable API server."""
