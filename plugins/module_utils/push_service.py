# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``oci_push`` module's logic: option checks, packaging, push. ``plugins/modules/oci_push.py`` only declares options."""
from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re
import threading

from ansible_collections.configsync.oci.plugins.module_utils.errors import ConfigSyncError, TaskFailed
from ansible_collections.configsync.oci.plugins.module_utils.oci.auth import (
    check_options as check_registry_options, redact, RegistryAuthError, RegistryCredentials,
)
from ansible_collections.configsync.oci.plugins.module_utils.oci.package import build_package
from ansible_collections.configsync.oci.plugins.module_utils.oci.push import PartialPushError, push, push_result
from ansible_collections.configsync.oci.plugins.module_utils.oci.reference import looks_like_host, parse_reference, ReferenceError, validate_tag
from ansible_collections.configsync.oci.plugins.module_utils.oci.walk import collect_entries, PackagingError

# RFC 6838 type/subtype names, as the image-spec requires for artifactType.
_MEDIA_TYPE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")


class OptionError(ConfigSyncError, ValueError):
    """An option value the module refuses before doing anything."""


def _tags(reference, extra_tags):
    tags = []
    for tag in ([reference.tag] if reference.tag else []) + list(extra_tags):
        try:
            validate_tag(tag)
        except ReferenceError as exc:
            raise OptionError("tags: %s" % exc)
        if tag not in tags:
            tags.append(tag)
    if not tags:
        raise OptionError("image %s has no tag: write HOST/PATH:TAG or list tags" % reference)
    return tags


def _mount_sources(reference, values):
    """Repositories on the same registry to mount blobs from: 'team/app' or 'HOST/team/app[:tag]'."""
    sources = []
    for value in values:
        first = value.split("/", 1)[0]
        if value.startswith(reference.host + "/"):
            try:
                source = parse_reference(value).repository
            except ReferenceError as exc:
                raise OptionError("mount_from: %s" % exc)
        elif looks_like_host(first):
            raise OptionError("mount_from %r is on another registry than %s (cross-repository mounts only work within one registry)"
                              % (value, reference.host))
        else:
            try:
                source = parse_reference("%s/%s" % (reference.host, value)).repository
            except ReferenceError:
                raise OptionError("mount_from %r is not a repository on %s (cross-repository mounts only work within one registry)"
                                  % (value, reference.host))
        if source != reference.repository and source not in sources:
            sources.append(source)
    return sources


def _check_options(params):
    """Refuse every bad option before packaging or any request; returns (reference, tags, manifest_type)."""
    try:
        reference = parse_reference(params["image"])
    except ReferenceError as exc:
        raise OptionError(str(exc))
    if reference.digest:
        raise OptionError("image %s names a digest; push to a tag (HOST/PATH:TAG or tags)" % params["image"])
    tags = _tags(reference, params["tags"])
    manifest_type = params["manifest_type"]
    if params["format"] == "artifact":
        if manifest_type == "docker":
            raise OptionError("manifest_type=docker does not apply to format=artifact (artifacts are always OCI manifests)")
        if params["labels"]:
            raise OptionError("labels apply to format=image only (an artifact has an empty config); use annotations")
        manifest_type = "oci"
    if params["format"] == "artifact" and not _MEDIA_TYPE_RE.match(params["artifact_type"]):
        raise OptionError("artifact_type %r is not a media type (type/subtype, RFC 6838)" % params["artifact_type"])
    manifest_type = manifest_type or "docker"
    if params["annotations"] and manifest_type == "docker":
        raise OptionError("annotations need an OCI manifest: set manifest_type=oci (Docker schema2 manifests have no annotations)")
    for option in ("annotations", "labels"):
        for key, value in params[option].items():
            if not isinstance(value, str):
                raise OptionError("%s: the value of %r must be a string, got %r" % (option, key, value))
    if not 0 <= params["compression_level"] <= 9:
        raise OptionError("compression_level must be 0 to 9, got %d" % params["compression_level"])
    if params["chunk_size"] < 1024:
        raise OptionError("chunk_size must be at least 1024 bytes, got %d" % params["chunk_size"])
    if params["retries"] < 0:
        raise OptionError("retries must be 0 or more, got %d" % params["retries"])
    if (params["source_date_epoch"] or 0) < 0:
        raise OptionError("source_date_epoch must be 0 or more, got %d" % params["source_date_epoch"])
    try:
        # Checked now, not when (or if) the registry asks for credentials.
        check_registry_options(params)
    except RegistryAuthError as exc:
        raise OptionError(str(exc))
    return reference, tags, manifest_type


def _check_not_empty(entries, params):
    if params["allow_empty"] or any(entry.kind != "dir" for entry in entries):
        return
    raise OptionError("src %s has no files to package (%s): an image without files would make Config Sync delete "
                      "everything it manages from it; set allow_empty=true to push it anyway"
                      % (", ".join(params["src"]), "only empty directories" if entries else "nothing at all"))


def _google_token(module):
    def token():
        from ansible_collections.configsync.oci.plugins.module_utils.gcp.auth import access_token
        from ansible_collections.configsync.oci.plugins.module_utils.gcp.errors import GcpAuthError
        try:
            # A push runs once per rollout, not once per host: a fresh token, nothing kept on disk for it.
            return access_token(module.params, cached=False)
        except GcpAuthError as exc:
            raise RegistryAuthError("Google credentials for the registry: %s" % exc)
        except Exception as exc:  # google-auth transport/refresh errors; their text holds no secret
            raise RegistryAuthError("Google credentials for the registry could not be refreshed: %s" % type(exc).__name__)
    return token


def _load_registry():
    """Start importing the registry module on a thread; the returned function waits for it and returns it."""
    loaded = {}

    def load():
        try:
            from ansible_collections.configsync.oci.plugins.module_utils.oci import registry
            loaded["module"] = registry
        except BaseException as exc:  # re-raised in the main thread by wait()
            loaded["error"] = exc

    thread = threading.Thread(target=load, name="oci-registry-import")
    thread.start()

    def wait():
        thread.join()
        if "error" in loaded:
            raise loaded["error"]
        return loaded["module"]
    return wait


def _client(module, reference, registry):
    params = module.params
    credentials = RegistryCredentials(reference.host, params["username"], params["password"], params["docker_config"],
                                      google_token=_google_token(module), google_auth=params["google_auth"])
    client = registry.RegistryClient(reference.host, credentials, validate_certs=params["validate_certs"], ca_cert=params["ca_cert"],
                                     insecure=params["insecure"], timeout=params["timeout"], retries=params["retries"],
                                     chunk_size=params["chunk_size"])
    return client, credentials


def run(module):
    """Everything ``oci_push`` does, as the logic of ``ConfigSyncModule.run``: returns the result, fails by raising."""
    params = module.params
    module.require_library("requests", "requests", load=False)
    wait_for_registry = _load_registry()
    reference, tags, manifest_type = _check_options(params)
    mount_from = _mount_sources(reference, params["mount_from"])
    entries = collect_entries(params["src"], params["base"], params["exclude"])
    _check_not_empty(entries, params)
    layer_path = os.path.join(module.tmpdir, "layer.tar.gz")
    title = params["layer_title"] or reference.repository.rsplit("/", 1)[-1] + ".tar.gz"
    try:
        package = build_package(
            entries, layer_path, fmt=params["format"], manifest_type=manifest_type, mtime=params["source_date_epoch"] or 0,
            compression_level=params["compression_level"], annotations=params["annotations"], labels=params["labels"],
            artifact_type=params["artifact_type"], layer_title=title)
    except (PackagingError, IOError, OSError) as exc:
        raise TaskFailed("packaging src failed: %s" % exc)
    registry = wait_for_registry()
    client, credentials = _client(module, reference, registry)
    try:
        plan = push(client, reference, tags, package, check_mode=module.check_mode, mount_from=mount_from)
    except PartialPushError as exc:
        raise TaskFailed(redact(exc, credentials.secrets()), image=str(reference), digest=package.digest, tags_at=exc.tags_at)
    except ConfigSyncError as exc:  # registry.RegistryError, RegistryAuthError...
        raise TaskFailed(redact(exc, credentials.secrets()), image=str(reference), digest=package.digest)
    except registry.REQUEST_ERRORS + (IOError, OSError) as exc:  # requests' own errors (TLS to a token realm, bad URLs), local I/O
        raise TaskFailed(redact("registry %s: %s" % (reference.host, exc), credentials.secrets()), image=str(reference),
                         digest=package.digest)
    finally:
        if os.path.exists(layer_path):
            os.unlink(layer_path)
    result = push_result(reference, tags, package, plan, client.stats)
    if not module._diff:
        result.pop("diff")
    return result
