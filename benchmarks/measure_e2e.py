"""Measure the e2e harness: set-up time (cold and warm) and the time from oci_push to SYNCED reported by the module.

    ~/.cache/configsync/venv/bin/python benchmarks/measure_e2e.py [--updates N] [--out FILE]

Cold: the harness's own Config Sync builds (reconciler, reconciler-manager, resource-group) go to an empty folder,
so they are built first; scripts/build-tools' binaries and Go build cache are already there (build-tools runs first
in every set-up). Warm: everything built. Each set-up is: control plane (etcd, kube-apiserver, CRDs) + Config Sync
(install objects, reconciler-manager, resource-group controller) + a first RootSync until its reconciler Pod runs.

Latency: one playbook pushes a new version to the same tag (oci_push), reads the clock, then runs
config_sync_source with wait and expected_digest set to the pushed digest, and reads the clock again. It is measured
with the reconciler-manager's default filesystem polling period (15s) and with 5s, to show what bounds it.
"""
import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness.ansible_runner import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from harness.configsync_runner import ConfigSync  # noqa: E402  pylint: disable=wrong-import-position
from harness.controlplane import ControlPlane  # noqa: E402  pylint: disable=wrong-import-position
from harness.registry import Registry  # noqa: E402  pylint: disable=wrong-import-position
from integration.e2e.e2e_flow import Flow, namespace_manifest  # noqa: E402  pylint: disable=wrong-import-position


def timed(function):
    began = time.monotonic()
    value = function()
    return value, round(time.monotonic() - began, 3)


def set_up(workdir, registry, polling_period=None):
    """Control plane + Config Sync + a first RootSync's reconciler running; returns (plane, install, flow, timings)."""
    plane, plane_seconds = timed(lambda: ControlPlane(workdir / "controlplane").start())
    install, install_seconds = timed(lambda: ConfigSync(plane, workdir / "configsync", reconciler_polling_period=polling_period).start())
    flow = Flow(run_playbook, plane, registry, workdir)
    src = flow.manifests("first", {"ns.yaml": namespace_manifest("measure-first")})
    image = flow.image("measure/first")
    began = time.monotonic()
    flow.push(image, src)
    run = flow.sync("first-sync", image, wait=False)
    assert not run.failed, run.output
    while not (install.reconciler("RootSync", "first-sync", "config-management-system") or _Nothing()).running():
        time.sleep(0.05)
    timings = {"control_plane": plane_seconds, "config_sync": install_seconds, "binaries": install.timings["binaries"],
               "first_reconciler_running_after_create": round(time.monotonic() - began, 3)}
    timings["total"] = round(plane_seconds + install_seconds, 3)
    return plane, install, flow, timings


class _Nothing:
    @staticmethod
    def running():
        return False


def latencies(flow, updates, tag_repository):
    """Seconds from oci_push's end to config_sync_source's SYNCED at that digest, per pushed version."""
    image = flow.image(tag_repository)
    first = flow.manifests("v0", {"ns-0.yaml": namespace_manifest(tag_repository.replace("/", "-") + "-0")})
    flow.push_and_sync("latency-" + tag_repository.split("/")[-1], image, first)
    found = []
    for version in range(1, updates + 1):
        files = {"ns-{0}.yaml".format(i): namespace_manifest("{0}-{1}".format(tag_repository.replace("/", "-"), i)) for i in range(version + 1)}
        src = flow.manifests("v{0}".format(version), files)
        found.append(round(flow.push_and_sync("latency-" + tag_repository.split("/")[-1], image, src)[2], 3))
    return found


def summary(values):
    return {"runs": values, "median": round(statistics.median(values), 3), "min": min(values), "max": max(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="measure-e2e-") as tmp:
        root = pathlib.Path(tmp)
        registry = Registry(root / "registry").start()
        try:
            for label in ("cold", "warm"):
                plane, install, flow, timings = set_up(root / label, registry)
                results["setup_" + label] = timings
                if label == "warm":
                    results["push_to_synced_default_polling"] = summary(latencies(flow, args.updates, "measure/default"))
                install.stop()
                plane.stop()
            plane, install, flow, timings = set_up(root / "fast", registry, polling_period="5s")
            results["push_to_synced_polling_5s"] = summary(latencies(flow, args.updates, "measure/fast"))
            install.stop()
            plane.stop()
        finally:
            registry.stop()
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
