# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Media types, blobs, the image config and the manifest, as canonical JSON with their digests. No network.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import hashlib
import json


DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_MEDIA_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST)
DEFAULT_ARTIFACT_TYPE = "application/vnd.unknown.artifact.v1"
TITLE_ANNOTATION = "org.opencontainers.image.title"
# The digest of the uncompressed content, as oras records it for a directory it packs (oras-go's file store
# AnnotationDigest). oras pull checks it only with io.deis.oras.content.unpack, which is left out so that oras pull
# writes the .tar.gz itself, as for `oras push FILE.tar.gz`. oci_push compares it to decide that a tag holds the files.
CONTENT_DIGEST_ANNOTATION = "io.deis.oras.content.digest"
EMPTY_JSON = b"{}"


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(value):
    """Compact JSON with sorted keys: the same value always gives the same bytes, hence the same digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Blob(object):
    """A blob to push: from bytes in memory (``data``) or a file on disk (``path``)."""

    def __init__(self, media_type, digest, size, data=None, path=None, annotations=None):
        self.media_type = media_type
        self.digest = digest
        self.size = size
        self.data = data
        self.path = path
        self.annotations = annotations or {}

    @classmethod
    def from_bytes(cls, media_type, data):
        return cls(media_type, sha256_digest(data), len(data), data=data)

    def descriptor(self):
        descriptor = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            descriptor["annotations"] = dict(self.annotations)
        return descriptor

    def open(self):
        if self.path is not None:
            return open(self.path, "rb")
        import io
        return io.BytesIO(self.data)


def rfc3339(epoch):
    import datetime
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=int(epoch))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_config(diff_id, created_epoch=0, labels=None):
    """The image config Config Sync's oci-sync (go-containerregistry) reads: one layer in ``rootfs.diff_ids``."""
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": rfc3339(created_epoch),
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    if labels:
        config["config"]["Labels"] = dict(labels)
    return canonical_json(config)


def manifest(config_blob, layer_blobs, media_type, artifact_type=None, annotations=None):
    """Manifest bytes (canonical JSON) for a config and layers; ``artifact_type`` and annotations only for OCI."""
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config_blob.descriptor(),
        "layers": [blob.descriptor() for blob in layer_blobs],
    }
    if artifact_type:
        document["artifactType"] = artifact_type
    if annotations:
        document["annotations"] = dict(annotations)
    return canonical_json(document)
