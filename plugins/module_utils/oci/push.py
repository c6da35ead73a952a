# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The idempotent push: compare content first, send only what the registry lacks, write the manifest last.

"Nothing to push" is decided from the files, not from the compressed bytes: the gzip of the same tree differs between
zlib builds (zlib, zlib-ng, ISA-L) and levels, but the uncompressed layer digest does not. A tag whose manifest names
the same uncompressed content (the image config, which lists it in ``rootfs.diff_ids``, or the artifact layer's
``io.deis.oras.content.digest`` annotation, as oras records it) already holds these files, and its manifest is kept.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError

# Layer descriptor fields that depend on the compressor, not on the files.
_COMPRESSED_FIELDS = ("digest", "size")


class PartialPushError(ConfigSyncError):
    """Some tags moved before a manifest PUT failed; ``tags_at`` says where every tag points now."""

    def __init__(self, message, tags_at):
        super(PartialPushError, self).__init__(message)
        self.tags_at = tags_at


class HeldManifest(object):
    """A manifest the repository already holds (its own bytes, media type and digest)."""

    def __init__(self, digest, body, media_type):
        self.digest = digest
        self.body = body
        self.media_type = media_type


class PushPlan(object):
    """What a push found and did: each tag's digest before, the stale tags, each blob's fate, and the manifest the
    tags point at (``target``: the package's own, or an equivalent one the repository already held)."""

    def __init__(self, before, stale, blobs, target):
        self.before = before
        self.stale = stale
        self.blobs = blobs
        self.target = target

    @property
    def changed(self):
        return bool(self.stale)


def content_key(manifest_bytes):
    """The manifest without the compressed layers' digests and sizes: equal keys mean the same files, config and
    annotations (None when the bytes are not a single-layer image or artifact manifest this module could have written)."""
    try:
        document = json.loads(manifest_bytes.decode("utf-8") if isinstance(manifest_bytes, bytes) else manifest_bytes)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("layers"), list) or len(document["layers"]) != 1:
        return None
    key = dict(document)
    key["layers"] = [dict((k, v) for k, v in layer.items() if k not in _COMPRESSED_FIELDS)
                     for layer in document["layers"] if isinstance(layer, dict)]
    return json.dumps(key, sort_keys=True)


def _held_equivalent(client, repository, before, package):
    """A manifest some tag already points at that holds the package's content, or None."""
    wanted = content_key(package.manifest)
    for digest in sorted(set(d for d in before.values() if d and d != package.digest)):
        body, media_type = client.get_manifest(repository, digest)
        if body is not None and content_key(body) == wanted:
            return HeldManifest(digest, body, media_type or package.media_type)
    return None


def push(client, reference, tags, package, check_mode=False, mount_from=()):
    """Push ``package`` to ``reference``'s repository under ``tags``; nothing is written in check mode.

    Tags already at the package's content are left alone; when any is, not even a blob HEAD is sent and the other
    tags are pointed at the manifest the registry already holds. Blobs the repository has are skipped, others are
    mounted from ``mount_from`` repositories when possible, else uploaded; the manifest goes last so a tag never
    points at a manifest whose blobs are missing.
    """
    repository = reference.repository
    client.add_scope(repository, "pull,push")
    for source in mount_from:
        if source != repository:
            client.add_scope(source, "pull")
    client.connect()
    before = dict((tag, client.manifest_digest(repository, tag)) for tag in tags)
    target = HeldManifest(package.digest, package.manifest, package.media_type)
    if package.digest not in before.values():
        target = _held_equivalent(client, repository, before, package) or target
    stale = [tag for tag in tags if before[tag] != target.digest]
    blobs = []
    # A tag already at the target means the repository holds the manifest and so all its blobs.
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
    elif target.digest == package.digest:
        blobs = [dict(blob.descriptor(), action="exists") for blob in package.blobs]
    else:
        held = json.loads(target.body.decode("utf-8"))
        blobs = [dict(descriptor, action="exists") for descriptor in [held["config"]] + held["layers"]]
    if stale and not check_mode:
        _put_manifests(client, repository, tags, stale, before, target)
    return PushPlan(before, stale, blobs, target)


def _put_manifests(client, repository, tags, stale, before, target):
    moved = []
    for tag in stale:
        try:
            client.put_manifest(repository, tag, target.body, target.media_type, target.digest)
        except Exception as exc:
            tags_at = dict((t, target.digest if t in moved or t not in stale else before[t]) for t in tags)
            if not moved:
                raise
            where = ", ".join("%s -> %s (%s)" % (t, tags_at[t] or "absent", "moved" if t in moved else "unchanged")
                              for t in tags)
            raise PartialPushError("%s; the push stopped half-way, the tags now point at: %s" % (exc, where), tags_at)
        moved.append(tag)


def _diff(before, tags, digest):
    return {
        "before_header": "tags (before)",
        "after_header": "tags (after)",
        "before": "".join("%s: %s\n" % (tag, before.get(tag) or "(absent)") for tag in tags),
        "after": "".join("%s: %s\n" % (tag, digest) for tag in tags),
    }


def push_result(reference, tags, package, plan, stats):
    """The module result for a push (or a check-mode prediction of one)."""
    manifest = json.loads(plan.target.body.decode("utf-8") if isinstance(plan.target.body, bytes) else plan.target.body)
    layer = manifest["layers"][0]
    result = {
        "changed": plan.changed,
        "digest": plan.target.digest,
        "image": reference.with_digest(plan.target.digest),
        "tags": list(tags),
        "updated_tags": list(plan.stale),
        "size": layer["size"],
        "files": package.files,
        "media_type": plan.target.media_type,
        "config_media_type": manifest["config"]["mediaType"],
        "layer_media_type": layer["mediaType"],
        "config_digest": manifest["config"]["digest"],
        "layer_digest": layer["digest"],
        "diff_id": package.diff_id,
        "blobs": plan.blobs,
        "manifest": manifest,
        "stats": dict(stats),
        "diff": _diff(plan.before, tags, plan.target.digest),
    }
    if package.artifact_type:
        result["artifact_type"] = package.artifact_type
    return result
