"""Test session set-up shared by every test.

The collection lives at the repository root, but Ansible and Python import it as
``ansible_collections.configsync.oci``. A symlinked collections tree outside the
repository gives both the same view of the working copy without copying it.
"""
import os
import sys

from harness.paths import COLLECTIONS_PATH, ensure_collections_tree

ensure_collections_tree()
if str(COLLECTIONS_PATH) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_PATH))
os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS_PATH))

pytest_plugins = (
    "harness.fixtures_ansible",
    "harness.fixtures_gcp",
    "harness.fixtures_registry",
    "harness.fixtures_k8s",
    "harness.fixtures_configsync",
)
