# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The idempotent push: compare digests first, send only what the registry lacks, write the manifest last."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class PushPlan(object):
    """What a push found and did: each tag's digest before, the stale tags, and each blob's fate."""

    def __init__(self, before, stale, blobs):
        self.before = before
        self.stale = stale
        self.blobs = blobs

    @property
    def changed(self):
        return bool(self.stale)


def push(client, reference, tags, package, check_mode=False, mount_from=()):
    """Push ``package`` to ``reference``'s repository under ``tags``; nothing is written in check mode.

    Tags already at the package's digest are left alone; when any is, not even a blob HEAD is sent. Blobs the
    repository has are skipped, others are mounted from ``mount_from`` repositories when possible, else uploaded;
    the manifest goes last so a tag never points at a manifest whose blobs are missing.
    """
    repository = reference.repository
    client.add_scope(repository, "pull,push")
    for source in mount_from:
        if source != repository:
            client.add_scope(source, "pull")
    client.connect()
    before = dict((tag, client.manifest_digest(repository, tag)) for tag in tags)
    stale = [tag for tag in tags if before[tag] != package.digest]
    blobs = []
    # A tag already at the digest means the repository holds the manifest and so all its blobs.
    blobs_present = len(stale) < len(tags)
    if stale and not blobs_present:
        for blob in package.blobs:
            if client.blob_exists(repository, blob.digest):
                action = "exists"
            elif check_mode:
                action = "would upload"
            else:
                action = client.push_blob(repository, blob, mount_from)
            blobs.append(dict(blob.descriptor(), action=action))
    else:
        blobs = [dict(blob.descriptor(), action="exists") for blob in package.blobs]
    if stale and not check_mode:
        for tag in stale:
            client.put_manifest(repository, tag, package.manifest, package.media_type, package.digest)
    return PushPlan(before, stale, blobs)


def _diff(before, tags, digest):
    return {
        "before_header": "tags (before)",
        "after_header": "tags (after)",
        "before": "".join("%s: %s\n" % (tag, before.get(tag) or "(absent)") for tag in tags),
        "after": "".join("%s: %s\n" % (tag, digest) for tag in tags),
    }


def push_result(reference, tags, package, plan, stats):
    """The module result for a push (or a check-mode prediction of one)."""
    import json
    result = {
        "changed": plan.changed,
        "digest": package.digest,
        "image": reference.with_digest(package.digest),
        "tags": list(tags),
        "updated_tags": list(plan.stale),
        "size": package.layer.size,
        "files": package.files,
        "media_type": package.media_type,
        "config_media_type": package.config.media_type,
        "layer_media_type": package.layer.media_type,
        "config_digest": package.config.digest,
        "layer_digest": package.layer.digest,
        "diff_id": package.diff_id,
        "blobs": plan.blobs,
        "manifest": json.loads(package.manifest.decode("utf-8")),
        "stats": dict(stats),
        "diff": _diff(plan.before, tags, package.digest),
    }
    if package.artifact_type:
        result["artifact_type"] = package.artifact_type
    return result
