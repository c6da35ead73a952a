"""The main job on embedded defaults: the whole flow of Google's guide against local stand-ins for Google Cloud and GKE.

Starts the Google API emulator, an OCI registry (standing in for LOCATION-docker.pkg.dev), etcd + kube-apiserver
with Config Sync's release CRDs, and Config Sync (the emulator, or real Config Sync's binaries with
``CONFIGSYNC_TIER=real``); runs playbooks/demo.yml through the collection's role; prints ``nomos status`` and the
collection's ``config_sync_status``; then stops everything (``--keep`` leaves it running until Ctrl-C).
"""
import argparse
import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

# pylint: disable=wrong-import-position
from harness.controlplane import ControlPlane  # noqa: E402
from harness.fixtures_gcp import GcpEmulator, start_emulator, stop_emulator  # noqa: E402
from harness.paths import COLLECTIONS_PATH, ensure_collections_tree  # noqa: E402
from harness.registry import Registry  # noqa: E402

PROJECT = "configsync-demo"
PROJECT_NUMBER = "123456789012"


def say(message):
    print("\n==> " + message, flush=True)


@contextlib.contextmanager
def gcp_emulator(workdir):
    process, endpoint = start_emulator(workdir)
    try:
        emulator = GcpEmulator(endpoint, project=PROJECT, project_number=PROJECT_NUMBER).reset()
        yield emulator
    finally:
        stop_emulator(process)


@contextlib.contextmanager
def started(server):
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def config_sync(control_plane, workdir):
    """Config Sync's controllers (reconciler-manager, reconcilers, resource-group) on the control plane."""
    from harness.configsync_runner import ConfigSync  # pylint: disable=import-outside-toplevel
    install = ConfigSync(control_plane, workdir, reconciler_polling_period="5s").start()
    try:
        yield install
    finally:
        install.stop()


def which_config_sync():
    """The Config Sync this run uses, in words: the emulator's or real binaries (harness.tools.configsync_tier)."""
    from harness import tools  # pylint: disable=import-outside-toplevel
    if tools.configsync_tier() == "real":
        return "real Config Sync {0} from {1}".format(tools.versions()["CONFIGSYNC_VERSION"], tools.real_configsync_dir())
    return "the Config Sync emulator (Config Sync {0} behaviour; tests/harness/configsync_emulator)".format(
        tools.versions()["CONFIGSYNC_VERSION"])


def settled_nomos_status(control_plane, timeout=60):
    """``nomos status`` once the resource-group controller has rated every managed resource (Unknown until then)."""
    from harness.configsync_runner import nomos_status  # pylint: disable=import-outside-toplevel
    deadline = time.monotonic() + timeout
    while True:
        output = nomos_status(control_plane).output
        if "Unknown" not in output or time.monotonic() > deadline:
            return output
        time.sleep(1)


def run(command, env):
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, env=env, check=False).returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave everything running until Ctrl-C")
    parser.add_argument("--workdir", help="where state and logs go (default: a new temporary directory)")
    args = parser.parse_args()
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="configsync-demo-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    ensure_collections_tree()
    began = time.monotonic()
    bin_dir = pathlib.Path(sys.executable).parent

    with contextlib.ExitStack() as stack:
        say("Starting the Google API emulator, an OCI registry and a Kubernetes API server (logs in {0})".format(workdir))
        emulator = stack.enter_context(gcp_emulator(workdir))
        registry = stack.enter_context(started(Registry(workdir / "registry")))
        control_plane = stack.enter_context(started(ControlPlane(workdir / "cluster")))
        say("Starting Config Sync: {0} (reconciler-manager, reconcilers, resource-group controller)".format(which_config_sync()))
        stack.enter_context(config_sync(control_plane, workdir / "config-sync"))

        env = dict(os.environ)
        env.update(emulator.env())
        env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_PATH),
            "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "K8S_AUTH_KUBECONFIG": str(control_plane.operator_kubeconfig),
            "KUBECONFIG": str(control_plane.operator_kubeconfig),
            "DEMO_REGISTRY": "{0}/{1}/config-sync-demo".format(registry.host, PROJECT),
            "DEMO_WAIT": "true",
        })
        say("Running playbooks/demo.yml: API, repository, IAM binding, push, RootSync, wait for SYNCED")
        status = run([str(bin_dir / "ansible-playbook"), str(REPO / "playbooks" / "demo.yml")], env)

        say("nomos status ({0})".format(which_config_sync()))
        print(settled_nomos_status(control_plane), flush=True)
        say("The collection's view: playbooks/status.yml (configsync.oci.config_sync_status)")
        run([str(bin_dir / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(REPO / "playbooks" / "status.yml")], env)
        say("Demo finished in {0:.0f}s on {1} (playbook exit status {2})".format(time.monotonic() - began, which_config_sync(), status))

        if args.keep:
            say("Still running. KUBECONFIG={0}  registry={1}  emulator={2}. Ctrl-C stops everything.".format(
                control_plane.kubeconfig, registry.host, emulator.endpoint))
            stopped = []
            signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
            try:
                while not stopped:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
    return status


if __name__ == "__main__":
    sys.exit(main())
