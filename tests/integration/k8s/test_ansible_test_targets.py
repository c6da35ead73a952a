"""ansible-test integration targets (tests/integration/targets/) against a real control plane (``bare_control_plane``:
the target reads the status nobody writes there, PENDING).

ansible-test needs the collection at ansible_collections/configsync/oci and passes variables to targets through
tests/integration/integration_config.yml, so the test lays out a copy of the files git knows about and writes the
control plane's operator kubeconfig path there. The API server's audit log then shows what the whole run wrote: only
the create and the final delete, so the check-mode run, the repeated run and the refused name sent no write request.
"""
import pathlib
import shutil
import subprocess
import sys

import yaml

from harness.paths import REPO

TARGETS = ("config_sync_source",)


def collection_copy(root):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=str(REPO), capture_output=True,
                           check=True).stdout.decode().split("\0")
    copy = root / "ansible_collections" / "configsync" / "oci"
    for name in filter(None, files):
        source = REPO / name
        if source.is_file() or source.is_symlink():
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(str(source), str(target), follow_symlinks=False)
    return copy


def test_integration_targets_pass(bare_control_plane, tmp_path):
    copy = collection_copy(tmp_path)
    (copy / "tests" / "integration" / "integration_config.yml").write_text(
        yaml.safe_dump({"configsync_kubeconfig": str(bare_control_plane.operator_kubeconfig)}))
    python = "{0}.{1}".format(*sys.version_info[:2])
    command = [str(pathlib.Path(sys.executable).parent / "ansible-test"), "integration", "--local", "--allow-unsupported",
               "--python", python, "--color", "no"] + list(TARGETS)
    env = {"PATH": "{0}:/usr/bin:/bin".format(pathlib.Path(sys.executable).parent), "HOME": str(pathlib.Path.home())}
    with bare_control_plane.recorded_writes() as writes:
        run = subprocess.run(command, cwd=str(copy), capture_output=True, text=True, env=env, timeout=600, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "Running config_sync_source integration test role" in output, output[-3000:]
    assert "failed=0" in output and "ok=" in output, output[-3000:]
    sync = "rootsyncs config-management-system/ansible-test-sync"
    assert [(write["verb"], write["object"]) for write in writes] == [("patch", sync), ("delete", sync)], writes
