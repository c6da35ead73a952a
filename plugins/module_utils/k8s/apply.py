# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Idempotent server-side apply and delete: a write only when the server's dry run of the apply differs from the live
object, in content or in what this field manager owns.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.configsync.oci.plugins.module_utils.k8s.client import FIELD_MANAGER
from ansible_collections.configsync.oci.plugins.module_utils.k8s.errors import KubernetesError


# Fields the API server changes on every write or that no playbook sets; they say nothing about whether an apply changes
# the object.
_VOLATILE_METADATA = ("resourceVersion", "managedFields", "generation", "creationTimestamp", "uid", "selfLink")


def comparable(obj):
    """The object without server bookkeeping and status, for the diff and the change decision."""
    if obj is None:
        return None
    result = {key: value for key, value in obj.items() if key != "status"}
    metadata = {key: value for key, value in (obj.get("metadata") or {}).items() if key not in _VOLATILE_METADATA}
    result["metadata"] = metadata
    return result


def managed_fields_of(obj, manager=FIELD_MANAGER):
    """The fieldsV1 set of one field manager (apply operation), to notice ownership changes (e.g. a dropped field)."""
    for entry in (obj or {}).get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            return entry.get("fieldsV1")
    return None


def apply_changes(live, predicted, manager=FIELD_MANAGER):
    """Whether applying changes the object: the dry-run result differs from the live object in content or in what
    this field manager owns."""
    if live is None:
        return True
    if comparable(live) != comparable(predicted):
        return True
    return managed_fields_of(live, manager) != managed_fields_of(predicted, manager)


def applied_at(obj, manager=FIELD_MANAGER):
    """The API server's time of this field manager's last apply (RFC 3339), or None."""
    for entry in (obj or {}).get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            return entry.get("time")
    return None


class Outcome(object):
    """What an apply or delete did (or would do in check mode): ``changed`` and the object before and after."""

    def __init__(self, changed, before, after):
        self.changed = changed
        self.before = before
        self.after = after

    def diff(self, header):
        return {"before": comparable(self.before) or {}, "after": comparable(self.after) or {},
                "before_header": header, "after_header": header}


def is_terminating(obj):
    return bool(obj and (obj.get("metadata") or {}).get("deletionTimestamp"))


def apply_object(client, path, obj, check_mode, field_manager=FIELD_MANAGER):
    """Server-side apply that writes only when something changes.

    The live object is compared with the server's dry-run result of the apply, so a second run sends no write and the
    resourceVersion stays; check mode stops after the dry run. A new object is created at once (nothing to compare).
    """
    live = client.get(path)
    if is_terminating(live):
        raise KubernetesError("%s %s/%s is being deleted; run again once it is gone"
                              % (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]))
    if live is None and not check_mode:
        return Outcome(True, None, client.apply(path, obj, field_manager))
    predicted = client.apply(path, obj, field_manager, dry_run=True)
    if not apply_changes(live, predicted, field_manager):
        return Outcome(False, live, live)
    if check_mode:
        return Outcome(True, live, predicted)
    return Outcome(True, live, client.apply(path, obj, field_manager))


def delete_object(client, path, check_mode, precondition=None):
    """Delete when present (an object already being deleted counts as gone); the server's dry run in check mode.

    ``precondition(live)`` may raise to refuse the delete of the object as it is (e.g. it is not the one described).
    """
    live = client.get(path)
    if live is None or is_terminating(live):
        return Outcome(False, live, live if live is not None else None)
    if precondition is not None:
        precondition(live)
    client.delete(path, dry_run=check_mode)
    return Outcome(True, live, None)
