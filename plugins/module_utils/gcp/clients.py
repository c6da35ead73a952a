# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every Google API client of the collection shares: client options with the endpoint override, messages as
API JSON, and the retry policy for transient answers.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import endpoint


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


def transient_retry(deadline=RETRY_DEADLINE):
    """The google.api_core retry policy for idempotent calls of the generated clients: transient statuses and dropped
    connections, exponential backoff with jitter from 0.25 s up to 4 s, at most ``deadline`` seconds in all."""
    from google.api_core import exceptions as core_exceptions
    from google.api_core import retry as core_retry
    import requests
    predicate = core_retry.if_exception_type(
        core_exceptions.TooManyRequests, core_exceptions.InternalServerError, core_exceptions.BadGateway,
        core_exceptions.ServiceUnavailable, core_exceptions.GatewayTimeout, requests.exceptions.ConnectionError)
    return core_retry.Retry(predicate=predicate, initial=0.25, maximum=4.0, multiplier=2.0, timeout=deadline)
