# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deterministic packaging: files -> one tar+gzip layer -> config -> manifest, with their digests. No network.

The tar is streamed through two hashes (the uncompressed tar is the config's ``diff_id``, the gzip is the layer
digest) into a temporary file in one pass, so memory does not grow with the bundle.
"""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import collections
import hashlib
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.configsync.oci.plugins.module_utils.oci.gzip import _BlockGzipWriter
from ansible_collections.configsync.oci.plugins.module_utils.oci.manifest import (
    Blob, DEFAULT_ARTIFACT_TYPE, DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, EMPTY_JSON, image_config, manifest,
    OCI_CONFIG, OCI_EMPTY, OCI_LAYER, OCI_MANIFEST, sha256_digest, TITLE_ANNOTATION, CONTENT_DIGEST_ANNOTATION,
)
from ansible_collections.configsync.oci.plugins.module_utils.oci.tar import write_tar


_HASH_QUEUE = 2


class _HashingWriter(object):
    """A write-only stream that hashes and counts what passes through to ``target``.

    With ``background``, hashing and the write to ``target`` run in order on one thread of their own (sha256 and
    file writes release the GIL), at most _HASH_QUEUE pieces behind; call ``drain`` before reading ``digest``.
    """

    def __init__(self, target, background=False):
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0
        self.executor = ThreadPoolExecutor(1) if background else None
        self.in_flight = collections.deque()

    def _consume(self, data):
        self.hash.update(data)
        self.target.write(data)

    def write(self, data):
        self.size += len(data)
        if self.executor is None:
            self._consume(data)
        else:
            self.in_flight.append(self.executor.submit(self._consume, data))
            while len(self.in_flight) > _HASH_QUEUE:
                self.in_flight.popleft().result()
        return len(data)

    def drain(self):
        while self.in_flight:
            self.in_flight.popleft().result()
        if self.executor is not None:
            self.executor.shutdown()
            self.executor = None

    def abort(self):
        for future in self.in_flight:
            future.cancel()
        self.in_flight.clear()
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None

    def flush(self):
        self.drain()
        self.target.flush()

    def tell(self):
        return self.size

    @property
    def digest(self):
        return "sha256:" + self.hash.hexdigest()


def write_layer(entries, out_stream, mtime=0, compression_level=6, workers=None):
    """Stream the tar+gzip of ``entries`` into ``out_stream``; return (diff_id, digest, compressed size, tar size)."""
    compressed = _HashingWriter(out_stream, background=True)
    try:
        gzip_stream = _BlockGzipWriter(compressed, compression_level, workers)
    except BaseException:
        compressed.abort()
        raise
    uncompressed = _HashingWriter(gzip_stream, background=True)
    try:
        write_tar(entries, uncompressed.write, mtime)
        uncompressed.drain()
        gzip_stream.close()
        compressed.drain()
    except BaseException:
        uncompressed.abort()
        gzip_stream.abort()
        compressed.abort()
        raise
    out_stream.flush()
    return uncompressed.digest, compressed.digest, compressed.size, uncompressed.size


class Package(object):
    """Everything a push needs: the manifest bytes and the blobs it names (config first, then the layer)."""

    def __init__(self, manifest_bytes, media_type, config, layer, entries, diff_id, artifact_type=None):
        self.manifest = manifest_bytes
        self.media_type = media_type
        self.digest = sha256_digest(manifest_bytes)
        self.config = config
        self.layer = layer
        self.blobs = [config, layer]
        self.entries = entries
        self.diff_id = diff_id
        self.artifact_type = artifact_type

    @property
    def files(self):
        return [entry.display_name for entry in self.entries]


def build_package(entries, layer_path, fmt="image", manifest_type="docker", mtime=0, compression_level=6,
                  annotations=None, labels=None, artifact_type=DEFAULT_ARTIFACT_TYPE, layer_title=None):
    """Write the layer to ``layer_path`` and return the Package.

    ``fmt`` image: a container image like ``crane append`` (Docker schema2 or OCI by ``manifest_type``).
    ``fmt`` artifact: like ``oras push`` of a .tar.gz: OCI manifest, ``artifactType``, the empty config, the layer
    titled ``layer_title``, and no ``created`` annotation so the digest does not change with time.
    """
    with open(layer_path, "wb") as out_stream:
        diff_id, layer_digest, layer_size, dummy_tar_size = write_layer(entries, out_stream, mtime, compression_level)
    if fmt == "artifact":
        layer = Blob(OCI_LAYER, layer_digest, layer_size, path=layer_path, annotations={
            TITLE_ANNOTATION: layer_title or "bundle.tar.gz", CONTENT_DIGEST_ANNOTATION: diff_id})
        config = Blob.from_bytes(OCI_EMPTY, EMPTY_JSON)
        body = manifest(config, [layer], OCI_MANIFEST, artifact_type=artifact_type, annotations=annotations)
        return Package(body, OCI_MANIFEST, config, layer, entries, diff_id, artifact_type)
    if manifest_type == "oci":
        media_type, config_type, layer_type = OCI_MANIFEST, OCI_CONFIG, OCI_LAYER
    else:
        media_type, config_type, layer_type = DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER
    layer = Blob(layer_type, layer_digest, layer_size, path=layer_path)
    config = Blob.from_bytes(config_type, image_config(diff_id, mtime, labels))
    body = manifest(config, [layer], media_type, annotations=annotations)
    return Package(body, media_type, config, layer, entries, diff_id)
