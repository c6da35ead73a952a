"""scripts/build-tools never builds Config Sync from a source archive, and removes what an earlier version built so.

Cheap: a temporary CONFIGSYNC_CACHE and GOPROXY=off, so the real-Config-Sync target answers "not served" at once and
nothing is built.
"""
import os
import subprocess

from harness.paths import REPO
from harness.tools import versions

COMMANDS = ("nomos", "oci-sync", "reconciler", "reconciler-manager", "resource-group")


def build_tools(cache, *targets):
    env = dict(os.environ, CONFIGSYNC_CACHE=str(cache), GOPROXY="off")
    env.pop("CONFIGSYNC_BIN_DIR", None)
    return subprocess.run([str(REPO / "scripts" / "build-tools")] + list(targets), env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_an_earlier_archive_build_is_deleted_and_not_used(tmp_path):
    cache = tmp_path / "cache"
    version = versions()["CONFIGSYNC_VERSION"]
    stale = [cache / "src" / ("config-sync-" + version) / "go.mod", cache / "tools" / ("configsync-crds-" + version) / "rootsync-crd.yaml"]
    stale += [cache / "tools" / "{0}-{1}".format(name, version) / name for name in COMMANDS]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    (cache / "bin").mkdir()
    (cache / "bin" / "nomos").symlink_to(stale[2])

    run = build_tools(cache, "configsync-real")

    assert run.returncode != 0
    assert "is not served by the Go module proxy" in run.stderr and "CONFIGSYNC_BIN_DIR" in run.stderr, run.stderr
    assert [path for path in stale if path.exists()] == []
    assert not os.path.lexists(str(cache / "bin" / "nomos"))
    assert not (cache / "tools" / ("configsync-" + version)).exists()
    assert "removing {0}".format(cache / "src") in run.stderr


def test_no_script_or_document_names_a_source_archive():
    tracked = subprocess.run(["git", "ls-files"], cwd=str(REPO), capture_output=True, text=True, check=True).stdout.split()
    this_file = "tests/integration/k8s/test_build_tools_configsync.py"
    words = ("CONFIGSYNC_SOURCE_ARCHIVE", "third_party/config-sync", "SHA256SUMS", "-mod=vendor")
    hits = []
    for name in tracked:
        path = REPO / name
        if name == this_file or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        hits.extend("{0}: {1}".format(name, word) for word in words if word in text)
    assert hits == []
