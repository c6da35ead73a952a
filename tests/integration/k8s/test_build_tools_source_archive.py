"""scripts/build-tools takes Config Sync from its source archive only after the archive's checksum is verified.

Cheap: a temporary CONFIGSYNC_CACHE, GOPROXY=off (the Go module route answers "not served" at once), and a copy of the
real archive with one byte changed, so nothing is built.
"""
import os
import pathlib
import shutil
import subprocess

from harness.paths import REPO
from harness.tools import versions

ARCHIVE_DIR = REPO.parent / "shared" / "third_party" / "config-sync"


def build_tools(cache, archive, *targets):
    env = dict(os.environ, CONFIGSYNC_CACHE=str(cache), CONFIGSYNC_SOURCE_ARCHIVE=str(archive), GOPROXY="off")
    return subprocess.run([str(REPO / "scripts" / "build-tools")] + list(targets), env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def corrupted_copy(tmp_path):
    name = "config-sync-{0}.tar.gz".format(versions()["CONFIGSYNC_VERSION"])
    copy = tmp_path / "archive" / name
    copy.parent.mkdir()
    shutil.copy(str(ARCHIVE_DIR / name), str(copy))
    shutil.copy(str(ARCHIVE_DIR / "SHA256SUMS"), str(copy.parent / "SHA256SUMS"))
    with open(str(copy), "r+b") as archive:
        archive.seek(1000)
        byte = archive.read(1)
        archive.seek(1000)
        archive.write(bytes([byte[0] ^ 0xFF]))
    return copy


def test_a_wrong_checksum_is_a_clear_error_and_nothing_is_unpacked(tmp_path):
    archive = corrupted_copy(tmp_path)
    cache = tmp_path / "cache"
    run = build_tools(cache, archive, "crds")
    assert run.returncode != 0
    assert "checksum mismatch for {0}".format(archive) in run.stderr and "not unpacking it" in run.stderr, run.stderr
    assert not (cache / "src").exists() or not any((cache / "src").iterdir())
    assert not (cache / "tools").exists() or not any(pathlib.Path(cache / "tools").glob("configsync-crds-*"))


def test_an_archive_without_a_checksum_line_is_refused(tmp_path):
    archive = corrupted_copy(tmp_path)
    (archive.parent / "SHA256SUMS").write_text("0" * 64 + "  some-other-file.tar.gz\n")
    run = build_tools(tmp_path / "cache", archive, "nomos")
    assert run.returncode != 0
    assert "has no line for {0}".format(archive.name) in run.stderr, run.stderr
    assert not (tmp_path / "cache" / "src").exists()
