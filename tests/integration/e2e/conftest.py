"""Fixtures of the end-to-end tests (helpers in e2e_flow.py)."""
import pytest

from e2e_flow import Flow


@pytest.fixture
def flow(ansible, control_plane, registry, config_sync, tmp_path):  # pylint: disable=unused-argument
    return Flow(ansible, control_plane, registry, tmp_path)
