# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Google API client of the collection shares: client options with the endpoint override, messages as
API JSON, and the retry policy for transient answers.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import endpoint
from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import http_status


def client_options(params, api):
    from google.api_core.client_options import ClientOptions
    url = endpoint(params, api)
    return ClientOptions(api_endpoint=url) if url else None


def message_to_dict(message):
    """A generated client's proto-plus message as the API's JSON dictionary (camelCase keys)."""
    from google.protobuf import json_format
    return json_format.MessageToDict(type(message).pb(message), preserving_proto_field_name=False)


# Transient answers every client layer retries (idempotent calls only): 429 and the 5xx a front end returns
# when a backend is briefly unavailable.
TRANSIENT_STATUS = (429, 500, 502, 503, 504)
RETRY_DEADLINE = 30.0


def is_transient(exc, connection_errors=(ConnectionError,)):
    """Whether the same call is worth sending again: an answer with a TRANSIENT_STATUS (either client family's error),
    or a connection lost before any answer."""
    status = http_status(exc)
    if status is not None:
        return status in TRANSIENT_STATUS
    return isinstance(exc, connection_errors)


def transient_retry(deadline=RETRY_DEADLINE):
    """The one retry policy of the Google API calls, generated and discovery clients alike (idempotent calls only):
    ``is_transient`` answers, exponential backoff with jitter from 0.25 s up to 4 s, at most ``deadline`` seconds in
    all. A discovery request is wrapped whole: ``transient_retry()(request.execute)()``."""
    from google.api_core import retry as core_retry
    import requests
    dropped = (ConnectionError, requests.exceptions.ConnectionError)
    return core_retry.Retry(predicate=lambda exc: is_transient(exc, dropped), initial=0.25, maximum=4.0, multiplier=2.0,
                            timeout=deadline)
