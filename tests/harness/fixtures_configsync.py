"""pytest plugin: real Config Sync (reconciler-manager, reconcilers, resource-group controller) on the test control plane.

Fixtures:
    configsync_tool a function returning the path of a Config Sync command (``configsync_tool("oci-sync")``), skipping
                    the test where it cannot be built (the Go module proxy may refuse the module).
    config_sync     session-scoped harness.configsync_runner.ConfigSync, started on first use and stopped at session
                    end. Every RootSync/RepoSync with ``sourceType: oci`` created on the control plane gets a real
                    reconciler. Logs: <basetemp>/configsync/logs/*.log, <basetemp>/configsync/pods/<reconciler>/logs/.
    nomos           a function running the real ``nomos status`` against the control plane: ``nomos(namespace=None)``
                    returns a NomosStatus (``.output``, ``.returncode``).
    e2e_timings     session-scoped dict of measured durations (seconds); written to <basetemp>/e2e-timings.json and
                    printed in the terminal summary.
"""
import json
import time

import pytest

from harness import tools
from harness.configsync_runner import ConfigSync, ConfigSyncUnavailable, nomos_status

TIMINGS = {}


@pytest.fixture(scope="session")
def config_sync(control_plane, configsync_crds, tmp_path_factory):  # pylint: disable=unused-argument
    began = time.monotonic()
    install = ConfigSync(control_plane, tmp_path_factory.getbasetemp() / "configsync")
    try:
        install.start()
    except ConfigSyncUnavailable as error:
        pytest.skip("Config Sync is not available on this machine: {0}".format(tools.reason(error)))
    TIMINGS["config_sync_start_seconds"] = round(time.monotonic() - began, 3)
    TIMINGS["config_sync_binaries_seconds"] = install.timings.get("binaries")
    TIMINGS["control_plane_start_seconds"] = control_plane.timings.get("total")
    try:
        yield install
    finally:
        install.stop()


@pytest.fixture
def configsync_tool():
    """``configsync_tool(name)``: the path of a Config Sync command, or skip the test where it cannot be built."""
    def find(name):
        try:
            return tools.tool(name)
        except tools.ToolUnavailable as error:
            pytest.skip("Config Sync's {0} is not available on this machine: {1}".format(name, tools.reason(error)))
    return find


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
