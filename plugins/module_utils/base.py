# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one module class every module of the collection is built on."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError

# Options given in seconds: zero or less would fail the task only after it wrote, so they are refused up front.
POSITIVE_OPTIONS = ("timeout", "wait_timeout")
# The fields of a service-account key that are secret; the others (project_id, client_email, token_uri...) are not, and
# masking them would turn every message naming the project into "projects/********".
SERVICE_ACCOUNT_SECRET_FIELDS = ("private_key", "private_key_id")


# Keys of a kubeconfig user entry whose values are secret, at any depth: bearer tokens, client keys, basic-auth
# passwords, auth-provider tokens and secrets, and the values of an exec plugin's environment.
KUBECONFIG_SECRET_KEYS = frozenset(["token", "client-key-data", "password", "access-token", "refresh-token", "id-token",
                                    "client-secret", "value"])


def kubeconfig_secret_values(kubeconfig):
    """The secret strings of a kubeconfig dictionary's ``users`` (see KUBECONFIG_SECRET_KEYS), else []."""
    found = []

    def collect(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key in KUBECONFIG_SECRET_KEYS and isinstance(item, str) and item:
                    found.append(item)
                else:
                    collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)

    if isinstance(kubeconfig, dict):
        for user in kubeconfig.get("users") or []:
            if isinstance(user, dict):
                collect(user.get("user"))
    return found


def service_account_public_values(contents):
    """The values of a service-account key dictionary that are not secret (to unmask), else []."""
    if not isinstance(contents, dict):
        return []
    secret = set(str(contents.get(field)) for field in SERVICE_ACCOUNT_SECRET_FIELDS if contents.get(field))
    return [value for key, value in contents.items()
            if key not in SERVICE_ACCOUNT_SECRET_FIELDS and isinstance(value, str) and value not in secret]


class ConfigSyncModule(AnsibleModule):
    """AnsibleModule plus the collection's shared option groups, secrets in every form an option accepts, timeouts
    that must be positive, and one error funnel (``run``).

    ``shared_argspecs`` are merged under the module's own argument spec (e.g. ``gcp.GCP_AUTH_ARGSPEC``), so a module's
    ``main()`` only declares what is its own, then hands its logic to ``run``.
    """

    def __init__(self, argument_spec, shared_argspecs=(), **kwargs):
        merged = {}
        for spec in shared_argspecs:
            merged.update(spec)
        merged.update(argument_spec)
        kwargs.setdefault("supports_check_mode", True)
        super(ConfigSyncModule, self).__init__(argument_spec=merged, **kwargs)
        for name in POSITIVE_OPTIONS:
            value = self.params.get(name) if name in self.argument_spec else None
            if value is not None and value <= 0:
                self.fail_json(msg="%s must be more than 0 seconds, got %s" % (name, value))

    def _hide_secret_forms(self):
        """Add the secrets inside structured options to the values Ansible masks (before any output is written), and
        unmask the public fields of a service-account key dictionary that its no_log made Ansible mask."""
        params = getattr(self, "params", None) or {}
        self.no_log_values.update(kubeconfig_secret_values(params.get("kubeconfig")))
        validated = getattr(self, "validation_result", None)
        if validated is not None and not validated.error_messages:
            other_secrets = set()
            for name, options in self.argument_spec.items():
                if options.get("no_log") and name != "service_account_contents" and isinstance(params.get(name), str):
                    other_secrets.add(params[name])
            for value in service_account_public_values(params.get("service_account_contents")):
                if value not in other_secrets:
                    self.no_log_values.discard(value)

    def _log_invocation(self):
        self._hide_secret_forms()
        super(ConfigSyncModule, self)._log_invocation()

    def exit_json(self, **kwargs):
        self._hide_secret_forms()
        super(ConfigSyncModule, self).exit_json(**kwargs)

    def fail_json(self, msg, **kwargs):
        self._hide_secret_forms()
        super(ConfigSyncModule, self).fail_json(msg, **kwargs)

    def run(self, logic, library_errors=(), describe=str):
        """The module's whole run: ``logic(module)`` returns the result for exit_json, or raises.

        A ConfigSyncError (the collection's own errors) fails the task with its message as it stands, plus its
        ``result`` (``fail_from_exception``). An exception of ``library_errors`` (a client library's own, for example
        ``gcp.errors.api_errors()``) fails it with ``describe(exc)``. Anything else is a bug, and Ansible reports it with
        its traceback. Messages never hold a secret: the errors are written without them, and fail_json masks the
        no_log values (``_hide_secret_forms``) on top.
        """
        try:
            result = logic(self)
        except ConfigSyncError as exc:
            self.fail_from_exception(exc)
        except library_errors as exc:
            self.fail_json(msg=describe(exc))
        self.exit_json(**result)

    def fail_from_exception(self, exc):
        """Fail the task with a ConfigSyncError's message and its extra return values."""
        self.fail_json(msg=str(exc), **(exc.result or {}))

    def require_library(self, import_name, pip_name, load=True):
        """Import a third-party library or fail with the pip package to install.

        With ``load=False`` only check that it can be imported (no import now: a later step, or a thread, imports it).
        """
        if not load:
            import importlib.util
            if importlib.util.find_spec(import_name) is None:
                self.fail_json(msg=missing_required_lib(pip_name))
            return None
        try:
            return __import__(import_name, fromlist=["_"])
        except ImportError:
            self.fail_json(msg=missing_required_lib(pip_name), exception=traceback.format_exc())
