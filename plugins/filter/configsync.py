# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.configsync.oci.plugins.module_utils.configsync.names import (
    ConfigSyncRuleError, reconciler_name as _reconciler_name, workload_identity_member as _workload_identity_member,
)


def reconciler_name(name, namespace=None, kind=None):
    try:
        return _reconciler_name(name, namespace=namespace, kind=kind)
    except ConfigSyncRuleError as exc:
        raise AnsibleFilterError("configsync.oci.reconciler_name: %s" % exc)


def workload_identity_member(ksa_name, fleet_host_project, namespace="config-management-system"):
    try:
        return _workload_identity_member(ksa_name, fleet_host_project, namespace)
    except ConfigSyncRuleError as exc:
        raise AnsibleFilterError("configsync.oci.workload_identity_member: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {
            "reconciler_name": reconciler_name,
            "workload_identity_member": workload_identity_member,
        }
