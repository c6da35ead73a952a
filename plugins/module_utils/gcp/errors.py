# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the Google-facing modules: the collection's own exceptions, the classes a Google client call raises,
and one-line messages from them (code, status and Google's own words; never a secret).
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError


class GcpError(ConfigSyncError):
    """A Google-side problem a module reports with fail_json; the message never holds a secret."""


class GcpAuthError(GcpError):
    """Credentials could not be built; the message names the option at fault and never holds a secret."""


class GcpOptionError(GcpError):
    """An option value Google would reject (or a missing one); the message names the option and the value."""


def http_status(exc):
    """The HTTP status of a google-api-core or googleapiclient error (None for anything else)."""
    resp = getattr(exc, "resp", None)
    if resp is not None and getattr(resp, "status", None) is not None:
        return int(resp.status)
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def api_errors():
    """The exception classes a Google client call raises for an answer or a transport failure (a tuple for ``except``)."""
    classes = [GcpError, OSError]  # OSError: refused connections, timeouts, requests' RequestException
    try:
        from google.api_core import exceptions as core_exceptions
        classes.append(core_exceptions.GoogleAPIError)
    except ImportError:
        pass
    try:
        from google.auth import exceptions as auth_exceptions
        classes.append(auth_exceptions.GoogleAuthError)
    except ImportError:
        pass
    try:
        from googleapiclient import errors as discovery_errors
        import httplib2
        classes.extend([discovery_errors.Error, httplib2.HttpLib2Error])
    except ImportError:
        pass
    return tuple(classes)


def is_not_found(exc):
    return http_status(exc) == 404


def failure_message(exc, what):
    """The fail_json message for an error from ``api_errors()``: our own message as is, an API error as ``WHAT: CODE STATUS message``."""
    if isinstance(exc, GcpError):
        return str(exc)
    return "%s: %s" % (what, describe_error(exc))


def describe_error(exc):
    """A one-line message for a google-api-core or googleapiclient error: code, status and Google's own message.

    A retry that ran out of time (google.api_core RetryError, "Timeout of 30.0s exceeded") is described by the last
    error it retried, which is what the user can act on.
    """
    cause = getattr(exc, "cause", None)
    if cause is not None and cause is not exc and type(exc).__name__ == "RetryError":
        return "%s (still failing when the retries gave up: %s)" % (describe_error(cause), getattr(exc, "message", None) or exc)
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    status = None
    reason = getattr(exc, "grpc_status_code", None)
    if reason is not None:
        status = reason.name
    resp = getattr(exc, "resp", None)
    if resp is not None:  # googleapiclient.errors.HttpError
        code = getattr(resp, "status", code)
        try:
            error = json.loads(exc.content.decode("utf-8"))["error"]
            message, status = error.get("message"), error.get("status")
        except (ValueError, KeyError, TypeError, AttributeError):
            message = str(exc)
    parts = [str(code) if code is not None else None, status, message or str(exc)]
    return " ".join(p for p in parts if p)
