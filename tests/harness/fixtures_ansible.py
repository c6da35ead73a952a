"""The ``ansible`` fixture: run real playbooks against the collection in this working copy."""
import pytest

from harness.ansible_runner import run_playbook


@pytest.fixture
def ansible():
    return run_playbook
