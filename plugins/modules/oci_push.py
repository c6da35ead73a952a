#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: oci_push
short_description: Push Kubernetes manifests to an OCI registry as a reproducible image or artifact
version_added: 0.1.0
description:
  - Packages files and directories into one deterministic tar+gzip layer and pushes it to an OCI registry, as a
    container image that Config Sync's C(oci-sync) extracts (like C(crane append)) or as an OCI artifact (like C(oras push)).
  - The same tree gives the same uncompressed layer on every machine (sorted entries, fixed mtime, uid/gid 0, no owner
    names, normalised modes, gzip without name or time). A tag that already holds these files is left alone, whatever
    compressed them (another zlib build or level). For images the config's C(rootfs.diff_ids) names the uncompressed
    layer, for artifacts the layer's C(io.deis.oras.content.digest) annotation does (as oras records it). Then the
    result is C(changed=false) with the digest the registry holds, and nothing is sent but the HEAD (and one GET)
    requests.
  - Only blobs the repository lacks are sent (mounted from O(mount_from) repositories when possible); the manifest
    is written last, once per tag that does not already point at it.
author:
  - configsync.oci contributors (@configsync)
extends_documentation_fragment:
  - configsync.oci.attributes
  - configsync.oci.attributes.ACTIONS
  - configsync.oci.registry
  - configsync.oci.gcp
  - configsync.oci.gcp.CREDENTIALS
options:
  src:
    description:
      - Files and directories to package; directories are packaged recursively.
      - Without O(base), a directory's contents sit at the image root and a file sits there under its own name.
      - With O(base), paths inside the image are relative to O(base), and relative O(src) paths are taken relative to O(base).
      - Symlinks inside the tree are stored as symlinks; a symlink whose target lies outside the packaged tree
        (absolute, or reaching above it) is refused. A symlink given directly in O(src) without O(base) is followed.
      - File names must be valid UTF-8.
    type: list
    elements: path
    required: true
  base:
    description:
      - Directory the paths inside the image are relative to. Every O(src) must be inside it.
    type: path
  exclude:
    description:
      - Shell patterns (C(fnmatch)) of entries to leave out, matched against each entry's name and its path inside
        the image. An excluded directory is skipped with everything below it.
    type: list
    elements: str
    default: [.git]
  image:
    description:
      - Where to push, C(HOST/PATH:TAG) or C(HOST/PATH) with O(tags), for example
        C(us-docker.pkg.dev/my-project/my-repo/test-namespace:v1). The host is required; a digest is not allowed.
    type: str
    required: true
  tags:
    description:
      - Tags to point at the pushed manifest, in addition to the tag in O(image).
    type: list
    elements: str
    default: []
  format:
    description:
      - V(image) pushes a container image like C(crane append) of a tar onto an empty base; its config lists the
        layer in C(rootfs.diff_ids).
      - V(artifact) pushes an OCI artifact like C(oras push) of a C(.tar.gz), with O(artifact_type), the empty
        config C(application/vnd.oci.empty.v1+json), and the layer titled O(layer_title). Unlike oras, no
        C(org.opencontainers.image.created) annotation is added, so the digest does not change with time.
      - Config Sync's C(oci-sync) extracts both.
    type: str
    default: image
    choices: [image, artifact]
  manifest_type:
    description:
      - For O(format=image), V(docker) writes a Docker v2 schema2 manifest (what C(crane append) writes) and V(oci)
        an OCI image manifest (what C(crane append --oci-empty-base) writes). Defaults to V(docker).
      - O(format=artifact) always writes an OCI manifest.
    type: str
    choices: [docker, oci]
  artifact_type:
    description:
      - The manifest's C(artifactType) for O(format=artifact).
    type: str
    default: application/vnd.unknown.artifact.v1
  layer_title:
    description:
      - The C(org.opencontainers.image.title) annotation of the layer for O(format=artifact) (the file name
        C(oras pull) writes). Defaults to the last repository path component plus C(.tar.gz).
    type: str
  annotations:
    description:
      - Manifest annotations (string values). They need an OCI manifest (O(format=artifact) or O(manifest_type=oci)).
    type: dict
    default: {}
  labels:
    description:
      - Image config labels (string values), for O(format=image).
    type: dict
    default: {}
  source_date_epoch:
    description:
      - The mtime of every tar entry and the image's C(created) time, in seconds since 1970.
      - Falls back to the E(SOURCE_DATE_EPOCH) environment variable, then to 0.
    type: int
  compression_level:
    description:
      - gzip level 1 (fastest) to 9 (smallest), or 0 to store without compressing (for content that does not
        compress, such as already compressed files). Changing it changes the digest.
    type: int
    default: 6
  mount_from:
    description:
      - Other repositories on the same registry (C(team/app) or C(HOST/team/app)) to mount missing blobs from
        (C(POST .../uploads/?mount=DIGEST&from=REPO)) before uploading them.
    type: list
    elements: str
    default: []
  chunk_size:
    description:
      - Blobs larger than this many bytes are uploaded in chunks (C(PATCH) with C(Content-Range)) so an
        interrupted upload resumes instead of restarting; smaller blobs go in one C(PUT). At least 1024.
    type: int
    default: 16777216
  allow_empty:
    description:
      - Push even when O(src) holds no files (nothing, or only empty directories). Config Sync deletes everything it
        manages from a source that became empty, so this is refused unless asked for.
    type: bool
    default: false
notes:
  - Memory does not grow with the bundle; files are streamed into a temporary layer file (in the module's
    temporary directory) while both digests are computed, and uploads stream from that file. gzip compresses
    1 MiB blocks on up to 4 threads; the output does not depend on the number of threads.
  - The layer digest depends on the deflate implementation that compresses it (ISA-L from the C(isal) package when it
    is installed, about three times faster, else Python's zlib, which may itself be zlib or zlib-ng); the uncompressed
    C(diff_id) does not, and the module compares that. Compare pushes by the digest the registry holds (RV(digest)),
    not by recomputing it elsewhere.
  - With ISA-L, O(compression_level) 1-3 use its level 1, 4-6 its level 2 and 7-9 its level 3.
  - Credentials (O(password), a Google access token) go to the registry, and to the token service its
    C(WWW-Authenticate) challenge names only over HTTPS, or over plain HTTP only when that service is on the
    registry's own host and the host is loopback or O(insecure) is set; otherwise the module fails and sends nothing.
  - The registry client is a small distribution-spec client on C(requests) rather than C(oras) (oras-py reads
    whole files into memory, always writes the manifest without checking the tag first, and cannot write Docker
    schema2 manifests) or C(python-dxf) (one more dependency, for what a few hundred lines do).
  - In check mode the module packages the files, computes the digest and asks the registry (HEAD only) which tags
    and blobs would change; nothing is uploaded.
requirements:
  - requests
  - google-auth (for Google registries)
  - isal (optional; faster gzip)
seealso:
  - name: Distribution specification
    description: The registry API this module speaks.
    link: https://github.com/opencontainers/distribution-spec/blob/main/spec.md
  - name: Config Sync OCI sources
    description: Syncing from OCI images and artifacts in Artifact Registry.
    link: https://cloud.google.com/kubernetes-engine/enterprise/config-sync/docs/how-to/sync-oci-artifacts-from-artifact-registry
"""

EXAMPLES = r"""
- name: Push the manifests as an image, like crane append (Google credentials from the environment)
  configsync.oci.oci_push:
    src: [test-namespace.yaml]
    base: "{{ playbook_dir }}/manifests"
    image: us-docker.pkg.dev/my-project/config-repo/test-namespace:v1
  register: pushed

- name: Sync the pushed image by digest
  ansible.builtin.debug:
    msg: "{{ pushed.image }}"

- name: Push a directory as an oras-style artifact under two tags
  configsync.oci.oci_push:
    src: ["{{ playbook_dir }}/clusters/prod"]
    image: us-docker.pkg.dev/my-project/config-repo/prod
    tags: [v1.4.0, latest]
    format: artifact
    annotations:
      org.opencontainers.image.source: https://example.com/config.git

- name: Push to a private registry with a CA file and a password
  configsync.oci.oci_push:
    src: [manifests/]
    image: registry.example.com:5000/platform/base:v3
    manifest_type: oci
    username: pusher
    password: "{{ vault_registry_password }}"
    ca_cert: /etc/pki/registry-ca.pem
"""

RETURN = r"""
digest:
  description: Digest of the manifest (what the tags point at).
  returned: success
  type: str
  sample: sha256:3f0a5c2d8d6a4c7e9c1b6e1f0f7a1e0b6d7c9a4e1f2b3c4d5e6f708192a3b4c5
image:
  description: The image pinned by digest, C(HOST/PATH@sha256:...), for RootSync C(spec.oci.image).
  returned: success
  type: str
  sample: us-docker.pkg.dev/my-project/config-repo/test-namespace@sha256:3f0a5c2d8d6a4c7e9c1b6e1f0f7a1e0b6d7c9a4e1f2b3c4d5e6f708192a3b4c5
tags:
  description: All tags the module manages.
  returned: success
  type: list
  elements: str
  sample: [v1]
updated_tags:
  description: Tags that did not point at the digest before (and do now, unless in check mode).
  returned: success
  type: list
  elements: str
  sample: [v1]
size:
  description: Size in bytes of the compressed layer holding the files.
  returned: success
  type: int
  sample: 1234
files:
  description: Entries packaged, in tar order; directories end in C(/).
  returned: success
  type: list
  elements: str
  sample: [test-namespace.yaml]
media_type:
  description: Media type of the manifest.
  returned: success
  type: str
  sample: application/vnd.docker.distribution.manifest.v2+json
config_media_type:
  description: Media type of the config blob.
  returned: success
  type: str
  sample: application/vnd.docker.container.image.v1+json
layer_media_type:
  description: Media type of the layer blob.
  returned: success
  type: str
  sample: application/vnd.docker.image.rootfs.diff.tar.gzip
artifact_type:
  description: The manifest's C(artifactType).
  returned: when O(format=artifact)
  type: str
  sample: application/vnd.unknown.artifact.v1
config_digest:
  description: Digest of the config blob.
  returned: success
  type: str
layer_digest:
  description: Digest of the compressed layer.
  returned: success
  type: str
diff_id:
  description: Digest of the uncompressed tar (the config's C(rootfs.diff_ids) entry for images).
  returned: success
  type: str
blobs:
  description:
    - The config and layer descriptors, each with C(action) V(exists), V(uploaded), V(mounted) or, in check mode,
      V(would upload).
  returned: success
  type: list
  elements: dict
manifest:
  description: The manifest pushed (or that would be pushed).
  returned: success
  type: dict
tags_at:
  description:
    - When a push to several tags failed after some tags were moved, where each tag points now (the new digest,
      the digest it had before, or null when it did not exist).
  returned: failure of a multi-tag push half-way
  type: dict
  sample: {v1: "sha256:3f0a...", latest: "sha256:77aa..."}
stats:
  description: Requests sent, retries made and bytes uploaded.
  returned: success
  type: dict
  sample: {requests: 4, retries: 0, bytes_uploaded: 0}
"""

from ansible.module_utils.basic import env_fallback

from ansible_collections.configsync.oci.plugins.module_utils.base import ConfigSyncModule
from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import GCP_AUTH_ARGSPEC
from ansible_collections.configsync.oci.plugins.module_utils.oci.auth import REGISTRY_AUTH_ARGSPEC
from ansible_collections.configsync.oci.plugins.module_utils.oci.constants import DEFAULT_CHUNK_SIZE
from ansible_collections.configsync.oci.plugins.module_utils.oci.manifest import DEFAULT_ARTIFACT_TYPE
from ansible_collections.configsync.oci.plugins.module_utils.oci.walk import DEFAULT_EXCLUDE
from ansible_collections.configsync.oci.plugins.module_utils.push_service import run


def main():
    module = ConfigSyncModule(
        argument_spec=dict(
            src=dict(type="list", elements="path", required=True),
            base=dict(type="path"),
            exclude=dict(type="list", elements="str", default=list(DEFAULT_EXCLUDE)),
            image=dict(type="str", required=True),
            tags=dict(type="list", elements="str", default=[]),
            format=dict(type="str", default="image", choices=["image", "artifact"]),
            manifest_type=dict(type="str", choices=["docker", "oci"]),
            artifact_type=dict(type="str", default=DEFAULT_ARTIFACT_TYPE),
            layer_title=dict(type="str"),
            annotations=dict(type="dict", default={}),
            labels=dict(type="dict", default={}),
            source_date_epoch=dict(type="int", fallback=(env_fallback, ["SOURCE_DATE_EPOCH"])),
            compression_level=dict(type="int", default=6),
            mount_from=dict(type="list", elements="str", default=[]),
            chunk_size=dict(type="int", default=DEFAULT_CHUNK_SIZE),
            allow_empty=dict(type="bool", default=False),
        ),
        shared_argspecs=(GCP_AUTH_ARGSPEC, REGISTRY_AUTH_ARGSPEC),
    )
    module.run(run)


if __name__ == "__main__":
    main()
