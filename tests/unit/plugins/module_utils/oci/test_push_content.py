import json

from ansible_collections.configsync.oci.plugins.module_utils.oci.push import content_key


def manifest(layer_digest, size=10, config="sha256:c", annotations=None, media_type="application/vnd.oci.image.manifest.v1+json"):
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": size}
    if annotations:
        layer["annotations"] = annotations
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "config": {"digest": config, "size": 2},
                       "layers": [layer]}).encode()


def test_another_compression_of_the_same_content_has_the_same_key():
    assert content_key(manifest("sha256:a", 10)) == content_key(manifest("sha256:b", 12))


def test_another_config_or_annotation_or_media_type_is_another_key():
    base = content_key(manifest("sha256:a"))
    assert content_key(manifest("sha256:a", config="sha256:other")) != base
    assert content_key(manifest("sha256:a", annotations={"io.deis.oras.content.digest": "sha256:t"})) != base
    assert content_key(manifest("sha256:a", media_type="application/vnd.docker.distribution.manifest.v2+json")) != base


def test_what_this_module_cannot_have_written_has_no_key():
    assert content_key(b"not json") is None
    assert content_key(json.dumps({"manifests": []}).encode()) is None
    two_layers = json.loads(manifest("sha256:a"))
    two_layers["layers"].append(two_layers["layers"][0])
    assert content_key(json.dumps(two_layers).encode()) is None
