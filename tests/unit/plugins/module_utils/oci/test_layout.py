import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from ansible_collections.configsync.oci.plugins.module_utils.oci.gzip import GZIP_BLOCK
from ansible_collections.configsync.oci.plugins.module_utils.oci.manifest import (
    DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST,
)
from ansible_collections.configsync.oci.plugins.module_utils.oci.package import build_package, write_layer
from ansible_collections.configsync.oci.plugins.module_utils.oci.tar import _COPY_BUFFER, _tar_info, write_tar
from ansible_collections.configsync.oci.plugins.module_utils.oci.walk import collect_entries, PackagingError


def make_tree(root, mtime):
    """A tree with nesting, an empty directory, an executable, a non-ASCII name, a symlink and a .git folder."""
    (root / "clusters" / "prod").mkdir(parents=True)
    (root / "clusters" / "prod" / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n")
    (root / "empty").mkdir()
    (root / "hook.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "hook.sh", 0o700)
    (root / "privé.yaml").write_text("kind: ConfigMap\n")
    os.chmod(root / "privé.yaml", 0o600)
    os.symlink("clusters/prod/ns.yaml", root / "current.yaml")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (mtime, mtime), follow_symlinks=False)


def build(root, tmp_path, name="layer.tgz", **kwargs):
    entries = collect_entries([str(root)], **{k: v for k, v in kwargs.items() if k in ("base", "exclude")})
    options = {k: v for k, v in kwargs.items() if k not in ("base", "exclude")}
    return build_package(entries, str(tmp_path / name), **options)


def test_same_tree_different_mtimes_and_modes_gives_identical_bytes(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    make_tree(first, 1000000000)
    make_tree(second, 1700000000)
    os.chmod(second / "privé.yaml", 0o664)  # a different umask on the other machine
    a = build(first, tmp_path, "a.tgz")
    b = build(second, tmp_path, "b.tgz")
    assert (tmp_path / "a.tgz").read_bytes() == (tmp_path / "b.tgz").read_bytes()
    assert a.manifest == b.manifest and a.digest == b.digest and a.diff_id == b.diff_id


def test_rebuilding_gives_identical_bytes(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    make_tree(tree, 1234)
    digests = {build(tree, tmp_path, "l%d.tgz" % i).digest for i in range(3)}
    assert len(digests) == 1


def test_tar_headers_are_normalised(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    make_tree(tree, 1234)
    package = build(tree, tmp_path)
    with tarfile.open(str(tmp_path / "layer.tgz")) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert list(members) == ["clusters", "clusters/prod", "clusters/prod/ns.yaml", "current.yaml", "empty", "hook.sh", "privé.yaml"]
    for member in members.values():
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")
        assert set(member.pax_headers) <= {"path"}  # no atime/ctime/mtime records
    assert members["clusters"].isdir() and members["clusters"].mode == 0o755
    assert members["empty"].isdir()
    assert members["hook.sh"].mode == 0o755
    assert members["privé.yaml"].mode == 0o644
    assert members["current.yaml"].issym() and members["current.yaml"].linkname == "clusters/prod/ns.yaml"
    assert package.files == ["clusters/", "clusters/prod/", "clusters/prod/ns.yaml", "current.yaml", "empty/", "hook.sh", "privé.yaml"]


def test_gzip_header_has_no_name_and_no_time(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.yaml").write_text("a: 1\n")
    build(tree, tmp_path)
    header = (tmp_path / "layer.tgz").read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] == 0  # no FNAME, no FEXTRA, no FCOMMENT
    assert header[4:8] == b"\x00\x00\x00\x00"  # mtime 0


def test_digests_match_the_bytes(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.yaml").write_text("a: 1\n")
    package = build(tree, tmp_path)
    data = (tmp_path / "layer.tgz").read_bytes()
    assert package.layer.digest == "sha256:" + hashlib.sha256(data).hexdigest()
    assert package.layer.size == len(data)
    assert package.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest()
    config = json.loads(package.config.data)
    assert config["rootfs"] == {"type": "layers", "diff_ids": [package.diff_id]}
    assert package.digest == "sha256:" + hashlib.sha256(package.manifest).hexdigest()


def test_source_date_epoch_sets_every_mtime_and_changes_digest(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.yaml").write_text("a: 1\n")
    zero = build(tree, tmp_path, "z.tgz")
    later = build(tree, tmp_path, "l.tgz", mtime=1700000000)
    with tarfile.open(str(tmp_path / "l.tgz")) as tar:
        assert [m.mtime for m in tar] == [1700000000]
    assert zero.digest != later.digest
    assert json.loads(later.config.data)["created"] == "2023-11-14T22:13:20Z"


def test_docker_and_oci_image_manifests(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.yaml").write_text("a: 1\n")
    docker = build(tree, tmp_path, "d.tgz", labels={"team": "a"})
    oci = build(tree, tmp_path, "o.tgz", manifest_type="oci", annotations={"x": "y"})
    docker_manifest, oci_manifest = json.loads(docker.manifest), json.loads(oci.manifest)
    assert docker_manifest["mediaType"] == DOCKER_MANIFEST
    assert docker_manifest["config"]["mediaType"] == DOCKER_CONFIG
    assert docker_manifest["layers"][0]["mediaType"] == DOCKER_LAYER
    assert json.loads(docker.config.data)["config"]["Labels"] == {"team": "a"}
    assert oci_manifest["mediaType"] == OCI_MANIFEST
    assert oci_manifest["config"]["mediaType"] == OCI_CONFIG
    assert oci_manifest["layers"][0]["mediaType"] == OCI_LAYER
    assert oci_manifest["annotations"] == {"x": "y"}


def test_artifact_manifest_is_oras_like_without_created(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "test-namespace.yaml").write_text("kind: Namespace\n")
    package = build(tree, tmp_path, fmt="artifact", layer_title="test-namespace.tar.gz")
    document = json.loads(package.manifest)
    assert document["artifactType"] == "application/vnd.unknown.artifact.v1"
    assert document["config"] == {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                                  "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}
    assert document["layers"][0]["annotations"] == {"org.opencontainers.image.title": "test-namespace.tar.gz",
                                                    "io.deis.oras.content.digest": package.diff_id}
    assert "annotations" not in document


def test_base_keeps_paths_relative_to_it(tmp_path):
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)
    (tmp_path / "repo" / "a" / "b" / "x.yaml").write_text("x\n")
    (tmp_path / "repo" / "top.yaml").write_text("t\n")
    entries = collect_entries(["a/b/x.yaml", str(tmp_path / "repo" / "top.yaml")], base=str(tmp_path / "repo"))
    assert [e.display_name for e in entries] == ["a/", "a/b/", "a/b/x.yaml", "top.yaml"]


def test_file_source_without_base_sits_at_the_root(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "test-namespace.yaml").write_text("x\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "sub").mkdir()
    entries = collect_entries([str(tmp_path / "d" / "test-namespace.yaml"), str(tmp_path / "other")])
    assert [e.display_name for e in entries] == ["sub/", "test-namespace.yaml"]


def test_exclude_patterns(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    make_tree(tree, 0)
    names = [e.name for e in collect_entries([str(tree)], exclude=[".git", "*.sh", "clusters/prod"])]
    assert names == ["clusters", "current.yaml", "empty", "privé.yaml"]
    with_git = [e.name for e in collect_entries([str(tree)], exclude=[])]
    assert ".git/HEAD" in with_git


@pytest.mark.parametrize("target", ["../outside.yaml", "/etc/passwd", "sub/../../outside.yaml"])
def test_symlink_out_of_the_tree_is_refused(tmp_path, target):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tmp_path / "outside.yaml").write_text("secret\n")
    os.symlink(target, tree / "link")
    with pytest.raises(PackagingError) as caught:
        collect_entries([str(tree)])
    assert "symlink" in str(caught.value) and "link" in str(caught.value)


def test_symlink_escaping_through_another_symlink_is_refused(tmp_path):
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    os.symlink("..", tree / "d" / "up")  # d/up -> tree itself: fine on its own
    os.symlink("d/up/..", tree / "escape")  # lexically "d", really the parent of tree
    with pytest.raises(PackagingError) as caught:
        collect_entries([str(tree)])
    assert "escape" in str(caught.value)


def test_directory_symlink_is_stored_not_followed(tmp_path):
    tree = tmp_path / "tree"
    (tree / "real").mkdir(parents=True)
    (tree / "real" / "a.yaml").write_text("a\n")
    os.symlink("real", tree / "alias")
    assert [(e.name, e.kind) for e in collect_entries([str(tree)])] == [
        ("alias", "symlink"), ("real", "dir"), ("real/a.yaml", "file")]


@pytest.mark.parametrize("sources, fragment", [
    ([], "src is empty"),
    (["/nonexistent/x.yaml"], "does not exist"),
])
def test_bad_sources(sources, fragment):
    with pytest.raises(PackagingError) as caught:
        collect_entries(sources)
    assert fragment in str(caught.value)


def test_source_outside_base_and_conflicts(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.yaml").write_text("1\n")
    (tmp_path / "b" / "x.yaml").write_text("2\n")
    with pytest.raises(PackagingError) as caught:
        collect_entries([str(tmp_path / "b" / "x.yaml")], base=str(tmp_path / "a"))
    assert "is not inside base" in str(caught.value)
    with pytest.raises(PackagingError) as caught:
        collect_entries([str(tmp_path / "a"), str(tmp_path / "b")])
    assert "x.yaml" in str(caught.value)


def test_layer_streams_large_file_in_blocks(tmp_path):
    big = tmp_path / "tree" / "big.bin"
    big.parent.mkdir()
    with open(str(big), "wb") as stream:
        for dummy in range(8):
            stream.write(os.urandom(1024 * 1024))
    out = io.BytesIO()
    entries = collect_entries([str(big.parent)])
    diff_id, digest, size, tar_size = write_layer(entries, out)
    assert size == len(out.getvalue())
    assert tar_size > 8 * 1024 * 1024
    assert digest == "sha256:" + hashlib.sha256(out.getvalue()).hexdigest()


def test_non_utf8_file_name_is_refused(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    with open(os.path.join(str(tree).encode(), b"bad\xff.yaml"), "wb") as stream:
        stream.write(b"x\n")
    with pytest.raises(PackagingError) as caught:
        collect_entries([str(tree)])
    assert "not valid UTF-8" in str(caught.value)


def test_symlinks_given_directly_as_src_are_followed_without_base(tmp_path):
    (tmp_path / "releases" / "v3").mkdir(parents=True)
    (tmp_path / "releases" / "v3" / "ns.yaml").write_text("x\n")
    (tmp_path / "releases" / "v3.yaml").write_text("y\n")
    os.symlink("releases/v3", str(tmp_path / "current"))
    os.symlink("releases/v3.yaml", str(tmp_path / "current.yaml"))
    entries = collect_entries([str(tmp_path / "current"), str(tmp_path / "current.yaml")])
    assert [(e.name, e.kind) for e in entries] == [("current.yaml", "file"), ("ns.yaml", "file")]


def test_compression_level_zero_stores_and_stays_a_valid_gzip(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.yaml").write_text("a: 1\n" * 1000)
    stored = build(tree, tmp_path, "s.tgz", compression_level=0)
    packed = build(tree, tmp_path, "p.tgz")
    assert stored.diff_id == packed.diff_id and stored.layer.size > packed.layer.size
    with tarfile.open(str(tmp_path / "s.tgz")) as tar:
        assert tar.extractfile("a.yaml").read() == b"a: 1\n" * 1000


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_block_gzip_is_one_member_and_independent_of_worker_count(tmp_path, level):
    tree = tmp_path / "tree"
    tree.mkdir()
    with open(str(tree / "text.yaml"), "w") as stream:
        for number in range(60000):
            stream.write("- name: item-%d\n  value: %d\n" % (number, number * 7))
    with open(str(tree / "random.bin"), "wb") as stream:
        stream.write(os.urandom(GZIP_BLOCK + 12345))
    entries = collect_entries([str(tree)])
    outputs = []
    for workers in (1, 3):
        out = io.BytesIO()
        outputs.append((write_layer(entries, out, compression_level=level, workers=workers), out.getvalue()))
    assert outputs[0] == outputs[1]
    (diff_id, digest, size, tar_size), data = outputs[0]
    plain = gzip.decompress(data)
    assert len(plain) == tar_size and diff_id == "sha256:" + hashlib.sha256(plain).hexdigest()
    assert tar_size > 2 * GZIP_BLOCK  # several blocks, so the joins are exercised
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.extractfile("random.bin").read() == (tree / "random.bin").read_bytes()


def test_incompressible_blocks_are_stored_and_text_still_compresses(tmp_path):
    noise, text = tmp_path / "noise", tmp_path / "text"
    noise.mkdir()
    text.mkdir()
    (noise / "blob.bin").write_bytes(os.urandom(3 * GZIP_BLOCK))
    (text / "cm.yaml").write_text("kind: ConfigMap\ndata:\n  key: value\n" * 100000)
    for tree, bound in ((noise, 1.001), (text, 0.05)):
        out = io.BytesIO()
        dummy_diff_id, dummy_digest, size, tar_size = write_layer(collect_entries([str(tree)]), out)
        assert size < tar_size * bound
        assert gzip.decompress(out.getvalue())[512:512 + 16] == ((tree / "blob.bin").read_bytes()[:16] if tree == noise else b"kind: ConfigMap\n")


def _tarfile_reference(entries, mtime):
    """The tar Python's tarfile writes for ``entries`` (PAX format), as the module wrote it before ustar headers were built directly."""
    out = io.BytesIO()
    with tarfile.TarFile(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for entry in entries:
            info = _tar_info(entry, mtime)
            if entry.kind == "file":
                with open(entry.local_path, "rb") as stream:
                    info.size = os.fstat(stream.fileno()).st_size
                    tar.addfile(info, stream)
            else:
                tar.addfile(info)
    return out.getvalue()


@pytest.mark.parametrize("mtime", [0, 1700000000, 8 ** 11 + 5])
def test_direct_ustar_headers_equal_tarfile_pax_output(tmp_path, mtime):
    tree = tmp_path / "tree"
    long_dir = tree / ("d" * 60) / ("e" * 50)
    long_dir.mkdir(parents=True)
    (long_dir / "long-name.yaml").write_text("x: 1\n")
    (tree / "exactly").mkdir()
    (tree / "exactly" / ("n" * (100 - len("exactly/")))).write_text("100 bytes of name\n")
    (tree / "caf\u00e9.yaml").write_text("non-ascii name\n")
    (tree / "empty.yaml").write_text("")
    (tree / "block.bin").write_bytes(b"b" * 512)
    (tree / "big.bin").write_bytes(os.urandom(_COPY_BUFFER * 2 + 123))
    (tree / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(str(tree / "run.sh"), 0o700)
    (tree / "empty-dir").mkdir()
    os.symlink("empty.yaml", str(tree / "link"))
    os.symlink("../" + "x" * 40 + "/../" + "y" * 60 + "/../empty.yaml", str(tree / "exactly" / "long-link"))
    entries = collect_entries([str(tree)])
    out = io.BytesIO()
    size = write_tar(entries, out.write, mtime)
    data = out.getvalue()
    assert size == len(data) and len(data) % (20 * 512) == 0
    assert data == _tarfile_reference(entries, mtime)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == [e.name for e in entries]
    assert all(m.mtime == mtime and m.uid == 0 and m.gid == 0 and m.uname == "" and m.gname == "" for m in members)
    if mtime < 8 ** 11:  # a later time (year 4147 on) only fits a PAX record, as with tarfile
        assert all(set(m.pax_headers) <= {"path", "linkpath"} for m in members)


def test_file_that_shrinks_while_packaging_is_refused(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.yaml").write_text("a" * 1000)
    entries = collect_entries([str(tree)])
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, count: real_read(fd, count)[:10])
    with pytest.raises(PackagingError, match="shrank"):
        write_tar(entries, io.BytesIO().write)
    # Short reads of a file that still has its bytes are completed.
    monkeypatch.setattr(os, "read", lambda fd, count: real_read(fd, min(count, 7)))
    out = io.BytesIO()
    write_tar(entries, out.write)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        assert tar.extractfile("a.yaml").read() == b"a" * 1000
