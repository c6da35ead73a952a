# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one module class every module of the collection is built on."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib


class ConfigSyncModule(AnsibleModule):
    """AnsibleModule plus the collection's shared option groups.

    ``shared_argspecs`` are merged under the module's own argument spec (e.g. ``gcp.GCP_AUTH_ARGSPEC``), so a module's
    ``main()`` only declares what is its own.
    """

    def __init__(self, argument_spec, shared_argspecs=(), **kwargs):
        merged = {}
        for spec in shared_argspecs:
            merged.update(spec)
        merged.update(argument_spec)
        kwargs.setdefault("supports_check_mode", True)
        super(ConfigSyncModule, self).__init__(argument_spec=merged, **kwargs)

    def require_library(self, import_name, pip_name):
        """Import a third-party library or fail with the pip package to install."""
        try:
            return __import__(import_name, fromlist=["_"])
        except ImportError:
            self.fail_json(msg=missing_required_lib(pip_name), exception=traceback.format_exc())
