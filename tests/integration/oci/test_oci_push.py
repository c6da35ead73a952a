"""oci_push against a real docker-registry (distribution 2.8): what lands in the registry, and what does not.

Every push runs the module in real ansible-playbook; every check reads the registry back through its HTTP API
(harness/registry.py) or its access log.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile

import pytest

SEED_NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: test\n"
WRITE_METHODS = {"PUT", "POST", "PATCH", "DELETE"}


def push_task(name="push", **args):
    return {"name": name, "configsync.oci.oci_push": args}


def seed_dir(tmp_path):
    """The seed's manifests: one test-namespace.yaml holding the Namespace ``test``."""
    directory = tmp_path / "seed"
    directory.mkdir()
    (directory / "test-namespace.yaml").write_text(SEED_NAMESPACE)
    return directory


def make_tree(root):
    """Nested directories, an empty directory, an executable, a non-ASCII name and a symlink inside the tree."""
    (root / "clusters" / "prod" / "apps").mkdir(parents=True)
    (root / "clusters" / "prod" / "apps" / "deploy.yaml").write_text("kind: Deployment\n")
    (root / "clusters" / "prod" / "ns.yaml").write_text(SEED_NAMESPACE)
    (root / "empty").mkdir()
    (root / "render.sh").write_text("#!/bin/sh\nexit 0\n")
    (root / "render.sh").chmod(0o750)
    (root / "configmap-café.yaml").write_text("kind: ConfigMap\n")
    os.symlink("clusters/prod/ns.yaml", str(root / "current.yaml"))
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    return root


def layer_members(registry, repository, tag):
    """Pull the image back through the registry API: (manifest, config, {name: (TarInfo, bytes or None)})."""
    dummy_type, raw = registry.get_manifest(repository, tag)
    manifest = json.loads(raw)
    config = json.loads(registry.get_blob(repository, manifest["config"]["digest"]))
    layer = registry.get_blob(repository, manifest["layers"][0]["digest"])
    assert hashlib.sha256(layer).hexdigest() == manifest["layers"][0]["digest"].split(":", 1)[1]
    members = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer)), mode="r:") as tar:
        for member in tar:
            data = tar.extractfile(member).read() if member.isfile() else None
            members[member.name] = (member, data)
    return manifest, config, layer, members


def writes(registry):
    return [r for r in registry.requests() if r.method in WRITE_METHODS]


@pytest.mark.parametrize("fmt, manifest_type, manifest_media, layer_media", [
    ("image", None, "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    ("image", "oci", "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip"),
    ("artifact", None, "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip"),
])
def test_seed_namespace_in_each_format(ansible, registry, repository_name, tmp_path, fmt, manifest_type, manifest_media, layer_media):
    options = {"format": fmt}
    if manifest_type:
        options["manifest_type"] = manifest_type
    run = ansible(tasks=[push_task(src=[str(seed_dir(tmp_path) / "test-namespace.yaml")], image=registry.ref(repository_name, "v1"), **options)])
    assert not run.failed, run.output
    result = run.result("push")
    assert result["changed"] is True
    assert result["files"] == ["test-namespace.yaml"]
    assert result["image"] == "%s/%s@%s" % (registry.host, repository_name, result["digest"])
    assert registry.manifest_digest(repository_name, "v1") == result["digest"]

    media_type, raw = registry.get_manifest(repository_name, "v1")
    assert media_type == manifest_media == result["media_type"]
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == result["digest"]
    manifest, config, layer, members = layer_members(registry, repository_name, "v1")
    assert manifest["layers"][0]["mediaType"] == layer_media
    assert list(members) == ["test-namespace.yaml"]
    assert members["test-namespace.yaml"][1].decode() == SEED_NAMESPACE
    if fmt == "artifact":
        assert manifest["artifactType"] == "application/vnd.unknown.artifact.v1"
        assert manifest["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
        assert manifest["layers"][0]["annotations"] == {"org.opencontainers.image.title": repository_name.rsplit("/", 1)[-1] + ".tar.gz",
                                                        "io.deis.oras.content.digest": result["diff_id"]}
        assert "org.opencontainers.image.created" not in json.dumps(manifest)
        assert config == {}
    else:
        assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]
        assert (config["os"], config["architecture"]) == ("linux", "amd64")


def test_tree_contents_come_back_from_the_registry(ansible, registry, repository_name, tmp_path):
    tree = make_tree(tmp_path / "tree")
    run = ansible(tasks=[push_task(src=[str(tree)], image=registry.ref(repository_name, "v1"))])
    assert not run.failed, run.output
    dummy_manifest, dummy_config, dummy_layer, members = layer_members(registry, repository_name, "v1")
    assert list(members) == ["clusters", "clusters/prod", "clusters/prod/apps", "clusters/prod/apps/deploy.yaml",
                             "clusters/prod/ns.yaml", "configmap-café.yaml", "current.yaml", "empty", "render.sh"]
    assert run.result("push")["files"] == ["clusters/", "clusters/prod/", "clusters/prod/apps/", "clusters/prod/apps/deploy.yaml",
                                           "clusters/prod/ns.yaml", "configmap-café.yaml", "current.yaml", "empty/", "render.sh"]
    for member, dummy_data in members.values():
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")
    assert members["empty"][0].isdir() and members["empty"][0].mode == 0o755
    assert members["render.sh"][0].mode == 0o755 and members["render.sh"][1] == b"#!/bin/sh\nexit 0\n"
    assert members["clusters/prod/ns.yaml"][0].mode == 0o644
    assert members["configmap-café.yaml"][1] == b"kind: ConfigMap\n"
    assert members["current.yaml"][0].issym() and members["current.yaml"][0].linkname == "clusters/prod/ns.yaml"


def test_two_checkouts_with_different_owners_and_mtimes_give_one_digest(ansible, registry, repository_name, tmp_path):
    first = make_tree(tmp_path / "checkout-a")
    second = tmp_path / "checkout-b"
    shutil.copytree(str(first), str(second), symlinks=True)
    for number, path in enumerate(sorted(second.rglob("*"))):
        os.lchown(str(path), 1000 + number, 2000 + number)
        os.utime(str(path), (1600000000 + number, 1600000000 + number), follow_symlinks=False)
    (second / "clusters" / "prod" / "ns.yaml").chmod(0o664)

    run = ansible(tasks=[
        push_task("a", src=[str(first)], image=registry.ref(repository_name + "/a", "v1")),
        push_task("b", src=[str(second)], image=registry.ref(repository_name + "/b", "v1")),
        push_task("b-into-a", src=[str(second)], image=registry.ref(repository_name + "/a", "v1")),
    ])
    assert not run.failed, run.output
    assert run.result("a")["digest"] == run.result("b")["digest"]
    assert registry.manifest_digest(repository_name + "/a", "v1") == registry.manifest_digest(repository_name + "/b", "v1")
    assert run.result("b-into-a")["changed"] is False


def test_second_push_changes_nothing_and_writes_nothing(ansible, registry, repository_name, tmp_path):
    tree = make_tree(tmp_path / "tree")
    task = push_task(src=[str(tree)], image=registry.ref(repository_name, "v1"), tags=["v1.0", "stable"])
    first = ansible(tasks=[task])
    assert not first.failed, first.output
    assert first.result("push")["updated_tags"] == ["v1", "v1.0", "stable"]
    registry.clear_log()

    second = ansible(tasks=[task])
    assert not second.failed, second.output
    result = second.result("push")
    assert result["changed"] is False and result["updated_tags"] == []
    assert result["digest"] == first.result("push")["digest"]
    assert writes(registry) == []
    assert registry.tags(repository_name) == ["stable", "v1", "v1.0"]


def test_only_the_stale_tag_is_written(ansible, registry, repository_name, tmp_path):
    tree = make_tree(tmp_path / "tree")
    run = ansible(tasks=[push_task(src=[str(tree)], image=registry.ref(repository_name, "v1"))])
    assert not run.failed, run.output
    registry.clear_log()
    run = ansible(tasks=[push_task(src=[str(tree)], image=registry.ref(repository_name, "v1"), tags=["v2"])])
    assert not run.failed, run.output
    assert run.result("push")["updated_tags"] == ["v2"]
    assert [(r.method, r.path) for r in writes(registry)] == [("PUT", "/v2/%s/manifests/v2" % repository_name)]
    assert not [r for r in registry.requests() if r.kind == "blob"]  # v1 at the digest vouches for the blobs


def test_changed_content_uploads_only_the_new_blobs(ansible, registry, repository_name, tmp_path):
    tree = make_tree(tmp_path / "tree")
    task = push_task(src=[str(tree)], image=registry.ref(repository_name, "v1"))
    assert not ansible(tasks=[task]).failed
    (tree / "clusters" / "prod" / "ns.yaml").write_text(SEED_NAMESPACE.replace("test", "test2"))
    run = ansible(tasks=[task], diff=True)
    assert not run.failed, run.output
    result = run.result("push")
    assert result["changed"] is True
    assert registry.manifest_digest(repository_name, "v1") == result["digest"]
    assert {blob["action"] for blob in result["blobs"]} == {"uploaded"}
    assert "v1: " + result["digest"] in result["diff"]["after"]
    assert "v1: sha256:" in result["diff"]["before"] and result["digest"] not in result["diff"]["before"]


def test_check_mode_pushes_nothing_and_predicts_changed(ansible, registry, repository_name, tmp_path):
    tree = make_tree(tmp_path / "tree")
    task = push_task(src=[str(tree)], image=registry.ref(repository_name, "v1"))
    registry.clear_log()
    checked = ansible(tasks=[task], check=True, diff=True)
    assert not checked.failed, checked.output
    prediction = checked.result("push")
    assert prediction["changed"] is True
    assert {blob["action"] for blob in prediction["blobs"]} == {"would upload"}
    assert "v1: (absent)" in prediction["diff"]["before"]
    assert writes(registry) == []
    assert registry.manifest_digest(repository_name, "v1") is None

    real = ansible(tasks=[task])
    assert real.result("push")["digest"] == prediction["digest"]
    assert ansible(tasks=[task], check=True).result("push")["changed"] is False


def test_chunked_upload_and_base_paths(ansible, registry, repository_name, tmp_path):
    tree = tmp_path / "repo"
    (tree / "manifests").mkdir(parents=True)
    with open(str(tree / "manifests" / "random.bin"), "wb") as stream:
        stream.write(os.urandom(300 * 1024))  # incompressible: the layer is bigger than three chunks
    (tree / "manifests" / "ns.yaml").write_text(SEED_NAMESPACE)
    registry.clear_log()
    run = ansible(tasks=[push_task(src=["manifests/ns.yaml", "manifests/random.bin"], base=str(tree),
                                   image=registry.ref(repository_name, "v1"), chunk_size=100 * 1024)])
    assert not run.failed, run.output
    patches = [r for r in registry.requests() if r.method == "PATCH"]
    assert len(patches) == 4
    dummy_manifest, dummy_config, dummy_layer, members = layer_members(registry, repository_name, "v1")
    assert list(members) == ["manifests", "manifests/ns.yaml", "manifests/random.bin"]
    assert members["manifests/random.bin"][1] == (tree / "manifests" / "random.bin").read_bytes()


def test_blobs_are_mounted_from_another_repository(ansible, registry, repository_name, tmp_path):
    tree = make_tree(tmp_path / "tree")
    source, target = repository_name + "/source", repository_name + "/target"
    assert not ansible(tasks=[push_task(src=[str(tree)], image=registry.ref(source, "v1"))]).failed
    registry.clear_log()
    run = ansible(tasks=[push_task(src=[str(tree)], image=registry.ref(target, "v1"), mount_from=[registry.ref(source)])])
    assert not run.failed, run.output
    assert {blob["action"] for blob in run.result("push")["blobs"]} == {"mounted"}
    posts = [r for r in registry.requests() if r.method == "POST"]
    assert posts and all(r.query.get("from") == [source] for r in posts)
    assert not [r for r in registry.requests() if r.method == "PATCH" or (r.method == "PUT" and "/blobs/" in r.path)]
    assert registry.manifest_digest(target, "v1") == run.result("push")["digest"]


def test_annotations_and_labels_land_in_manifest_and_config(ansible, registry, repository_name, tmp_path):
    run = ansible(tasks=[push_task(src=[str(seed_dir(tmp_path))], image=registry.ref(repository_name, "v1"), manifest_type="oci",
                                   annotations={"org.opencontainers.image.source": "https://example.com/cfg.git"},
                                   labels={"team": "platform"})])
    assert not run.failed, run.output
    manifest, config, dummy_layer, dummy_members = layer_members(registry, repository_name, "v1")
    assert manifest["annotations"] == {"org.opencontainers.image.source": "https://example.com/cfg.git"}
    assert config["config"]["Labels"] == {"team": "platform"}


@pytest.mark.parametrize("options, fragment", [
    ({"image": "{host}/Team/app:v1"}, "'Team' is not valid (repository names are lowercase)"),
    ({"image": "{host}/team/app:v1!"}, "tag 'v1!' is not valid"),
    ({"image": "team/app:v1"}, "has no registry host"),
    ({"image": "{host}/team/app"}, "has no tag"),
    ({"image": "{host}/team/app:v1", "tags": ["ok", "-bad"]}, "tag '-bad' is not valid"),
    ({"image": "{host}/team/app:v1", "src": ["/nonexistent/manifests"]}, "src /nonexistent/manifests does not exist"),
    ({"image": "{host}/team/app:v1", "src": []}, "src is empty"),
    ({"image": "{host}/team/app:v1", "annotations": {"a": "b"}}, "annotations need an OCI manifest"),
    ({"image": "{host}/team/app:v1", "format": "artifact", "labels": {"a": "b"}}, "labels apply to format=image only"),
    ({"image": "{host}/team/app:v1", "compression_level": 10}, "compression_level must be 0 to 9, got 10"),
    ({"image": "{host}/team/app:v1", "format": "artifact", "artifact_type": "not a type"}, "artifact_type 'not a type' is not a media type"),
    ({"image": "{host}/team/app:v1", "mount_from": ["other.example.com/x/y"]}, "mount_from 'other.example.com/x/y'"),
])
def test_bad_input_is_refused_before_any_write(ansible, registry, tmp_path, options, fragment):
    args = {"src": [str(seed_dir(tmp_path))]}
    args.update({k: v.format(host=registry.host) if isinstance(v, str) else v for k, v in options.items()})
    registry.clear_log()
    run = ansible(tasks=[push_task(**args)])
    assert run.failed
    assert fragment in run.result("push")["msg"]
    assert registry.requests() == []


def test_missing_src_option(ansible, registry):
    run = ansible(tasks=[push_task(image=registry.ref("team/app", "v1"))])
    assert run.failed
    assert "src" in run.result("push")["msg"]


def test_symlink_out_of_the_tree_is_refused(ansible, registry, repository_name, tmp_path):
    tree = make_tree(tmp_path / "tree")
    (tmp_path / "secret.yaml").write_text("kind: Secret\n")
    os.symlink("../secret.yaml", str(tree / "leak.yaml"))
    registry.clear_log()
    run = ansible(tasks=[push_task(src=[str(tree)], image=registry.ref(repository_name, "v1"))])
    assert run.failed
    message = run.result("push")["msg"]
    assert "leak.yaml" in message and "points outside the packaged tree" in message
    assert registry.requests() == []


def test_wrong_password_names_the_registry_not_the_secret(ansible, registry_tls_htpasswd, repository_name, tmp_path):
    reg = registry_tls_htpasswd
    wrong = "wrong-" + reg.password[::-1]
    reg.clear_log()
    run = ansible(tasks=[push_task(src=[str(seed_dir(tmp_path))], image=reg.ref(repository_name, "v1"), username=reg.username,
                                   password=wrong, ca_cert=str(reg.ca_file))], verbosity=3)
    assert run.failed
    message = run.result("push")["msg"]
    assert reg.host in message and "refused the credentials" in message
    assert wrong not in run.output and reg.password not in run.output
    assert writes(reg) == []
    assert reg.manifest_digest(repository_name, "v1") is None


class CuttingProxy:
    """A byte-level TCP relay that cuts the first PATCH after ``cut_after`` bytes have passed, like a dropped link.

    Unlike the HTTP fault proxy (which fails whole requests), part of the chunk reaches the registry: the upload
    session's size moves past the offset the client knows, which is the case resuming has to get right.
    """

    def __init__(self, upstream_port, cut_after):
        import socket
        import threading
        self.upstream_port = upstream_port
        self.cut_after = cut_after
        self.cut = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.threads = []
        self.stopping = False
        self._start(self._accept)

    def _start(self, target, *args):
        import threading
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _accept(self):
        import socket
        while not self.stopping:
            try:
                client, dummy = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._start(self._pump, client, upstream, True)
            self._start(self._pump, upstream, client, False)

    def _pump(self, source, target, inspect):
        import socket
        import struct
        passed = None  # bytes of the PATCH forwarded so far on this connection
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if inspect and not self.cut.is_set():
                    if passed is None and b"PATCH " in data:
                        passed = len(data) - data.index(b"PATCH ")
                    elif passed is not None:
                        passed += len(data)
                    if passed is not None and passed >= self.cut_after:
                        self.cut.set()
                        target.sendall(data[:max(0, len(data) - (passed - self.cut_after))])
                        for sock in (source, target):
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                            sock.close()
                        return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.close()
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.listener.close()


def test_chunk_cut_halfway_is_recovered(ansible, registry_factory, repository_name, tmp_path):
    reg = registry_factory()
    proxy = CuttingProxy(reg.port, cut_after=150 * 1024)
    try:
        tree = tmp_path / "tree"
        tree.mkdir()
        with open(str(tree / "random.bin"), "wb") as stream:
            stream.write(os.urandom(900 * 1024))
        run = ansible(tasks=[push_task(src=[str(tree)], image="127.0.0.1:%d/%s:v1" % (proxy.port, repository_name),
                                       chunk_size=256 * 1024)])
    finally:
        proxy.stop()
    assert proxy.cut.is_set()
    assert not run.failed, run.output
    result = run.result("push")
    assert result["stats"]["retries"] >= 1
    assert reg.manifest_digest(repository_name, "v1") == result["digest"]
    dummy_manifest, dummy_config, dummy_layer, members = layer_members(reg, repository_name, "v1")
    assert members["random.bin"][1] == (tree / "random.bin").read_bytes()


def test_five_hosts_pushing_the_same_tree_at_once_agree(ansible, registry, repository_name, tmp_path):
    """A play over many clusters without run_once: concurrent pushes of one tree all land on one digest."""
    tree = make_tree(tmp_path / "tree")
    hosts = ["cluster-%d" % number for number in range(5)]
    run = ansible(tasks=[push_task(src=[str(tree)], image=registry.ref(repository_name, "v1"))], hosts=hosts, forks=5)
    assert not run.failed, run.output
    digests = {result["digest"] for result in run.results("push")}
    assert len(run.results("push")) == 5 and len(digests) == 1
    assert registry.manifest_digest(repository_name, "v1") == digests.pop()


def test_google_credentials_log_in_as_oauth2accesstoken(ansible, registry_token, repository_name, tmp_path):
    """The GCP auth options (here auth_kind=accesstoken) give the token-exchange login Artifact Registry accepts."""
    reg = registry_token
    access_token = "ya29.test-" + reg.password
    reg.token_server.add_user("oauth2accesstoken", access_token)
    reg.token_server.clear_log()
    run = ansible(tasks=[push_task(src=[str(seed_dir(tmp_path))], image=reg.ref(repository_name, "v1"), ca_cert=str(reg.ca_file),
                                   google_auth="always", auth_kind="accesstoken", access_token=access_token)], verbosity=3)
    assert not run.failed, run.output
    granted = [entry for entry in reg.token_server.requests() if entry["status"] == 200]
    assert granted and {entry["user"] for entry in granted} == {"oauth2accesstoken"}
    assert reg.manifest_digest(repository_name, "v1") == run.result("push")["digest"]
    assert access_token not in run.output


def test_google_auth_never_keeps_google_credentials_out(ansible, registry_token, repository_name, tmp_path):
    reg = registry_token
    run = ansible(tasks=[push_task(src=[str(seed_dir(tmp_path))], image=reg.ref(repository_name, "v1"), ca_cert=str(reg.ca_file),
                                   google_auth="never", auth_kind="accesstoken", access_token="ya29.unused",
                                   docker_config=str(tmp_path / "missing.json"))])
    assert run.failed
    assert "docker_config %s cannot be read" % (tmp_path / "missing.json") in run.result("push")["msg"]


def test_plain_http_loopback_works_with_retries_zero(ansible, registry, repository_name, tmp_path):
    run = ansible(tasks=[push_task(src=[str(seed_dir(tmp_path))], image=registry.ref(repository_name, "v1"), retries=0)])
    assert not run.failed, run.output
    assert registry.manifest_digest(repository_name, "v1") == run.result("push")["digest"]


def test_source_date_epoch_from_the_environment(ansible, registry, repository_name, tmp_path):
    run = ansible(tasks=[push_task(src=[str(seed_dir(tmp_path))], image=registry.ref(repository_name, "v1"))],
                  env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert not run.failed, run.output
    dummy_manifest, config, dummy_layer, members = layer_members(registry, repository_name, "v1")
    assert members["test-namespace.yaml"][0].mtime == 1700000000
    assert config["created"] == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize("options", [{}, {"manifest_type": "oci"}, {"format": "artifact"}], ids=["docker", "oci", "artifact"])
def test_config_sync_oci_sync_extracts_what_was_pushed(ansible, registry, repository_name, tmp_path, options, configsync_tool):
    """Config Sync's oci-sync (the emulator's, or the real one in the real tier) pulls the push and lays the tree out by
    digest."""
    import subprocess
    oci_sync = configsync_tool("oci-sync")
    tree = make_tree(tmp_path / "tree")
    run = ansible(tasks=[push_task(src=[str(tree)], image=registry.ref(repository_name, "v1"), **options)])
    assert not run.failed, run.output
    digest = run.result("push")["digest"]
    root = tmp_path / "oci-sync"
    argv = oci_sync + ["--image=" + registry.ref(repository_name, "v1"), "--root=" + str(root), "--dest=pkg", "--auth=none", "--one-time"]
    synced = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert synced.returncode == 0, synced.stderr
    package = root / "pkg"
    # Config Sync's commit for an OCI source is the digest hex: the directory the package lands in.
    assert os.path.realpath(str(package)) == str(root / digest.split(":", 1)[1])
    assert (package / "clusters" / "prod" / "ns.yaml").read_text() == SEED_NAMESPACE
    assert (package / "configmap-café.yaml").read_text() == "kind: ConfigMap\n"
    assert (package / "empty").is_dir() and not list((package / "empty").iterdir())
    assert os.readlink(str(package / "current.yaml")) == "clusters/prod/ns.yaml"
    assert os.stat(str(package / "render.sh")).st_mode & 0o111
    assert not (package / ".git").exists()


def test_docker_credential_helper(ansible, registry_tls_htpasswd, repository_name, tmp_path):
    reg = registry_tls_htpasswd
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-testhelper"
    # A helper speaking the docker credential helper protocol: the server on stdin, JSON on stdout.
    helper.write_text('#!/bin/sh\nread server\necho "{\\"ServerURL\\":\\"$server\\",\\"Username\\":\\"%s\\",\\"Secret\\":\\"%s\\"}"\n'
                      % (reg.username, reg.password))
    helper.chmod(0o755)
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"credHelpers": {reg.host: "testhelper"}}))
    run = ansible(tasks=[push_task(src=[str(seed_dir(tmp_path))], image=reg.ref(repository_name, "v1"), ca_cert=str(reg.ca_file))],
                  env={"DOCKER_CONFIG": str(config.parent), "PATH": "%s:%s" % (bin_dir, os.environ["PATH"])}, verbosity=3)
    assert not run.failed, run.output
    assert reg.manifest_digest(repository_name, "v1") == run.result("push")["digest"]
    assert reg.password not in run.output
