"""pytest plugin: Config Sync (reconciler-manager, reconcilers, resource-group controller) on the test control plane.

Fixtures:
    configsync_tool a function returning the argv of a Config Sync command (``configsync_tool("oci-sync")``).
    config_sync     session-scoped harness.configsync_runner.ConfigSync, started on first use and stopped at session
                    end. Every RootSync/RepoSync with ``sourceType: oci`` created on the control plane gets a real
                    reconciler. Logs: <basetemp>/configsync/logs/*.log, <basetemp>/configsync/pods/<reconciler>/logs/.
    nomos           a function running ``nomos status`` against the control plane: ``nomos(namespace=None)``
                    returns a NomosStatus (``.output``, ``.returncode``).

The commands are the Config Sync emulator's, or real Config Sync's in the real tier (harness.tools.configsync_command).
Where they cannot be had, these fixtures raise and the tests that use them error with the reason: never a skip.
    e2e_timings     session-scoped dict of measured durations (seconds); written to <basetemp>/e2e-timings.json and
                    printed in the terminal summary.
"""
import json
import time

import pytest

from harness import tools
from harness.configsync_runner import ConfigSync, nomos_status

TIMINGS = {}


@pytest.fixture(scope="session")
def config_sync(control_plane, tmp_path_factory):
    began = time.monotonic()
    install = ConfigSync(control_plane, tmp_path_factory.getbasetemp() / "configsync")
    install.start()
    TIMINGS["config_sync_start_seconds"] = round(time.monotonic() - began, 3)
    TIMINGS["config_sync_binaries_seconds"] = install.timings.get("binaries")
    TIMINGS["control_plane_start_seconds"] = control_plane.timings.get("total")
    try:
        yield install
    finally:
        install.stop()


@pytest.fixture
def configsync_tool():
    """``configsync_tool(name)``: the argv of a Config Sync command in this run's tier (built when missing)."""
    return tools.configsync_command


@pytest.fixture
def nomos(control_plane, config_sync):  # pylint: disable=unused-argument
    def run(namespace=None, extra_args=()):
        return nomos_status(control_plane, namespace=namespace, extra_args=extra_args)
    return run


@pytest.fixture(scope="session")
def e2e_timings(tmp_path_factory):
    try:
        yield TIMINGS
    finally:
        if TIMINGS:
            path = tmp_path_factory.getbasetemp() / "e2e-timings.json"
            path.write_text(json.dumps(TIMINGS, indent=2, sort_keys=True) + "\n")


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_sep("-", "Config Sync e2e timings (seconds)")
        for name, value in sorted(TIMINGS.items()):
            terminalreporter.write_line("{0}: {1}".format(name, value))
