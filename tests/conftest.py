"""Test session set-up shared by every test.

The collection lives at the repository root, but Ansible and Python import it as
``ansible_collections.configsync.oci``. A symlinked collections tree outside the
repository gives both the same view of the working copy without copying it.
"""
import atexit
import os
import shutil
import sys
import tempfile

from harness.paths import COLLECTIONS_PATH, ensure_collections_tree

ensure_collections_tree()
if str(COLLECTIONS_PATH) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_PATH))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS_PATH))
# Google tokens minted for the clusters are kept per identity (gcp/token_cache.py): a cache of this session's own, so
# no token of an earlier session's emulator is ever offered, and none of the tests' tokens stays behind in ~/.cache.
os.environ["CONFIGSYNC_OCI_TOKEN_CACHE"] = tempfile.mkdtemp(prefix="configsync-tokens-")
atexit.register(shutil.rmtree, os.environ["CONFIGSYNC_OCI_TOKEN_CACHE"], True)

pytest_plugins = (
    "harness.fixtures_ansible",
    "harness.fixtures_gcp",
    "harness.fixtures_registry",
    "harness.fixtures_k8s",
    "harness.fixtures_configsync",
)

# Fixtures that run Config Sync (the emulator, or real Config Sync in the real tier): a test using any of them is a
# `configsync` test, which scripts/test runs once per tier it has.
CONFIG_SYNC_FIXTURES = frozenset(("config_sync", "nomos", "configsync_tool"))


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    import pytest  # pylint: disable=import-outside-toplevel
    for item in items:
        if CONFIG_SYNC_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.configsync)


def pytest_report_header(config):  # pylint: disable=unused-argument
    from harness import tools  # pylint: disable=import-outside-toplevel
    return "Config Sync tier: {0}".format(tools.configsync_tier())
