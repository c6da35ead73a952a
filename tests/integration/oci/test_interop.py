"""What oci_push pushes, the seed's own tools read back byte for byte: crane export, oras pull, skopeo copy.

Everything runs for real: ansible-playbook with the collection, docker-registry, and crane / oras built from their Go
modules (scripts/build-tools), skopeo from Debian.
"""
import gzip
import hashlib
import io
import json
import os
import pathlib
import subprocess
import tarfile

import pytest

from harness.tools import tool

SEED_NAMESPACE = """apiVersion: v1
kind: Namespace
metadata:
  name: test
"""
FORMATS = ("image", "artifact")


# --- trees ---------------------------------------------------------------------------------------------------
def seed_tree(root):
    """The seed's case: one file, test-namespace.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "test-namespace.yaml").write_text(SEED_NAMESPACE)
    return root


def awkward_tree(root):
    """Nested directories, an empty directory, an executable, a non-ASCII name and a relative symlink."""
    (root / "clusters" / "prod" / "team-a").mkdir(parents=True)
    (root / "clusters" / "prod" / "team-a" / "namespace.yaml").write_text(SEED_NAMESPACE.replace("test", "team-a"))
    (root / "clusters" / "prod" / "quota.yaml").write_text("kind: ResourceQuota\nmetadata:\n  name: q\n")
    (root / "empty").mkdir()
    hook = root / "hooks" / "validate.sh"
    hook.parent.mkdir()
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    (root / "données-é.yaml").write_text("kind: ConfigMap\nmetadata:\n  name: unicode\ndata:\n  k: \"é ü 名前\"\n", encoding="utf-8")
    os.symlink("clusters/prod/quota.yaml", str(root / "quota-link.yaml"))
    return root


def tree_snapshot(root):
    """{relative posix path: description} for everything under root; files by content hash and executable bit."""
    snapshot = {}
    for path in sorted(pathlib.Path(root).rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            snapshot[name] = ("symlink", os.readlink(str(path)))
        elif path.is_dir():
            snapshot[name] = ("dir",)
        else:
            snapshot[name] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), bool(path.stat().st_mode & 0o100))
    return snapshot


def tar_snapshot(data):
    """The same description of a tar stream's entries (gzip or not), directories implied by paths included."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    snapshot = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive.getmembers():
            name = member.name.lstrip("./").rstrip("/")
            if not name:
                continue
            parts = name.split("/")
            for depth in range(1, len(parts)):
                snapshot.setdefault("/".join(parts[:depth]), ("dir",))
            if member.issym():
                snapshot[name] = ("symlink", member.linkname)
            elif member.isdir():
                snapshot[name] = ("dir",)
            elif member.isfile():
                content = archive.extractfile(member).read()
                snapshot[name] = ("file", hashlib.sha256(content).hexdigest(), bool(member.mode & 0o100))
    return snapshot


TREES = {"seed": seed_tree, "awkward": awkward_tree}


# --- running things ------------------------------------------------------------------------------------------
def run_tool(argv, **kwargs):
    completed = subprocess.run([str(arg) for arg in argv], capture_output=True, text=True, timeout=300, check=False, **kwargs)
    assert completed.returncode == 0, "{0} failed:\n{1}{2}".format(argv[0], completed.stdout, completed.stderr)
    return completed


def oci_push(ansible, image, src, fmt, **options):
    args = {"src": [str(path) for path in src], "image": image, "format": fmt}
    args.update(options)
    run = ansible(tasks=[{"name": "push", "configsync.oci.oci_push": args}])
    result = run.result("push")
    assert not run.failed, run.output
    return result


def sources(tree):
    """oci_push's src for a tree: the directory itself, whose contents sit at the image root (like `tar -C tree -cf x.tar .`)."""
    return [tree]


def layer_bytes(registry, repository, tag):
    media_type, raw = registry.get_manifest(repository, tag)
    manifest = json.loads(raw)
    assert len(manifest["layers"]) == 1, media_type
    return registry.get_blob(repository, manifest["layers"][0]["digest"]), manifest


@pytest.mark.parametrize("tree_kind", sorted(TREES))
@pytest.mark.parametrize("fmt", FORMATS)
def test_skopeo_copy_gets_the_same_manifest_and_files(ansible, registry, repository_name, tmp_path, fmt, tree_kind):
    tree = TREES[tree_kind](tmp_path / "src")
    result = oci_push(ansible, registry.ref(repository_name, "v1"), sources(tree), fmt)

    out = tmp_path / "skopeo"
    run_tool(["skopeo", "copy", "--src-tls-verify=false", "docker://" + registry.ref(repository_name, "v1"), "dir:" + str(out)])
    manifest_bytes = (out / "manifest.json").read_bytes()
    # skopeo keeps the manifest as the registry served it: its digest is the one oci_push reported.
    assert "sha256:" + hashlib.sha256(manifest_bytes).hexdigest() == result["digest"]
    layer_digest = json.loads(manifest_bytes)["layers"][0]["digest"]
    layer = (out / layer_digest.split(":", 1)[1]).read_bytes()
    assert tar_snapshot(layer) == tree_snapshot(tree)


@pytest.mark.parametrize("tree_kind", sorted(TREES))
def test_crane_export_gets_the_files_of_an_image(ansible, registry, repository_name, tmp_path, tree_kind):
    tree = TREES[tree_kind](tmp_path / "src")
    result = oci_push(ansible, registry.ref(repository_name, "v1"), sources(tree), "image")

    exported = tmp_path / "export.tar"
    run_tool([tool("crane"), "export", "--insecure", "{0}@{1}".format(registry.ref(repository_name), result["digest"]), exported])
    assert tar_snapshot(exported.read_bytes()) == tree_snapshot(tree)


@pytest.mark.parametrize("tree_kind", sorted(TREES))
def test_oras_pull_gets_the_bundle_of_an_artifact(ansible, registry, repository_name, tmp_path, tree_kind):
    tree = TREES[tree_kind](tmp_path / "src")
    result = oci_push(ansible, registry.ref(repository_name, "v1"), sources(tree), "artifact")

    out = tmp_path / "pulled"
    run_tool([tool("oras"), "pull", "--plain-http", "-o", out, "{0}@{1}".format(registry.ref(repository_name), result["digest"])])
    pulled = [path for path in out.rglob("*") if path.is_file()]
    # One file, named by the layer's org.opencontainers.image.title: the tar.gz `oras push` would have sent.
    assert len(pulled) == 1, pulled
    manifest = layer_bytes(registry, repository_name, "v1")[1]
    assert manifest["layers"][0]["annotations"]["org.opencontainers.image.title"] == pulled[0].name
    assert tar_snapshot(pulled[0].read_bytes()) == tree_snapshot(tree)


def push_with_seed_tool(tool_name, ref, tree, workdir):
    """The seed's step 6a (tar + crane append) or 6b (tar.gz + oras push)."""
    if tool_name == "crane":
        tarball = workdir / "test-namespace.tar"
        run_tool(["tar", "-C", tree, "-cf", tarball, "test-namespace.yaml"])
        run_tool([tool("crane"), "append", "--insecure", "-f", tarball, "-t", ref])
    else:
        tarball = workdir / "test-namespace.tar.gz"
        run_tool(["tar", "-C", tree, "-czf", tarball, "test-namespace.yaml"])
        run_tool([tool("oras"), "push", "--plain-http", ref, tarball.name], cwd=str(workdir))


@pytest.mark.parametrize("seed_tool, fmt", [("crane", "image"), ("oras", "artifact")])
def test_oci_push_replaces_what_the_seed_tool_pushed_then_is_idempotent(ansible, registry, repository_name, tmp_path, seed_tool, fmt):
    """The seed's step 6a/6b done by hand first; oci_push with different content takes the tag over, once."""
    tree = seed_tree(tmp_path / "src")
    ref = registry.ref(repository_name, "v1")
    push_with_seed_tool(seed_tool, ref, tree, tmp_path)
    seed_tool_digest = registry.manifest_digest(repository_name, "v1")

    (tree / "test-namespace.yaml").write_text(SEED_NAMESPACE.replace("name: test", "name: test2"))
    first = oci_push(ansible, ref, sources(tree), fmt)
    assert first["changed"] is True
    assert first["digest"] != seed_tool_digest
    assert registry.manifest_digest(repository_name, "v1") == first["digest"]

    registry.clear_log()
    second = oci_push(ansible, ref, sources(tree), fmt)
    assert second["changed"] is False
    assert second["digest"] == first["digest"]
    assert not [r for r in registry.requests() if r.method in ("PUT", "POST", "PATCH", "DELETE")], registry.requests()

    layer = layer_bytes(registry, repository_name, "v1")[0]
    assert tar_snapshot(layer) == tree_snapshot(tree)
