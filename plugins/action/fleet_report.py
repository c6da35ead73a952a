# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_report: the fleet's Config Sync status as nomos prints it, plus Markdown, HTML and JSON files, on the controller.

It runs once for the play (run_once) over the config_sync_status results of every cluster; the rendering is
module_utils/status_report.py.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime
import os

from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.configsync.oci.plugins.module_utils import status_report

display = Display()

REPORT_ARGSPEC = {
    "clusters": {"type": "dict", "required": True},
    "dest": {"type": "path"},
    "basename": {"type": "str", "default": "config-sync-status"},
    "formats": {"type": "list", "elements": "str", "default": ["markdown", "html", "json"], "choices": ["markdown", "html", "json"]},
    "title": {"type": "str", "default": "Config Sync fleet status"},
    "print_report": {"type": "bool", "default": True},
    "timeline": {"type": "list", "elements": "dict", "default": []},
}
EXTENSIONS = {"markdown": "md", "html": "html", "json": "json"}


def write_if_changed(path, text):
    data = to_bytes(text)
    try:
        with open(path, "rb") as existing:
            if existing.read() == data:
                return False
    except (IOError, OSError):
        pass
    temporary = path + ".tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.rename(temporary, path)
    return True


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy, params = self.validate_argument_spec(argument_spec=REPORT_ARGSPEC)
        generated_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        report = status_report.build_report(params["clusters"], generated_at=generated_at, title=params["title"], timeline=params["timeline"])
        if params["print_report"]:
            display.display(status_report.render_text(report))
        files, changed = {}, False
        if params["dest"]:
            if not self._task.check_mode and not os.path.isdir(params["dest"]):
                os.makedirs(params["dest"])
            for fmt in params["formats"]:
                path = os.path.join(params["dest"], "%s.%s" % (params["basename"], EXTENSIONS[fmt]))
                files[fmt] = path
                if not self._task.check_mode:
                    changed = write_if_changed(path, status_report.RENDERERS[fmt](report)) or changed
                else:
                    changed = True
        result.update(changed=changed, files=files, summary=report["summary"], summary_line=report["summary_line"],
                      clusters=dict((cluster["cluster"], cluster) for cluster in report["clusters"]), generated_at=generated_at,
                      timeline=report["timeline"])
        return result
