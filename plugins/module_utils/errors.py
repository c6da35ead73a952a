# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base class of the errors the collection raises on purpose, for ``ConfigSyncModule.run`` to report.

Every such error's message is the task's failure message as it stands: it names the option, object, server or
registry at fault and never holds a secret. ``gcp.errors``, ``k8s.errors``, ``configsync.names``, the ``oci`` package,
``push_service`` and ``transport_security`` derive their errors from it.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ConfigSyncError(Exception):
    """A failure the task reports with its message (``result``: extra return values of the failed task, or None)."""

    result = None


class TaskFailed(ConfigSyncError):
    """Fail the task with ``message`` and the return values ``result`` (e.g. the image and digest of a failed push)."""

    def __init__(self, message, **result):
        super(TaskFailed, self).__init__(message)
        self.result = result
