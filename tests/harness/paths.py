"""Where the working copy, the caches and the collections tree are."""
import hashlib
import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]
# Config Sync's release manifests (data files of the pinned release), read in place.
MANIFESTS_DIR = pathlib.Path(os.environ.get("CONFIGSYNC_MANIFESTS_DIR", REPO.parent / "shared" / "reference" / "config-sync-1.24.3-manifests"))
CACHE = pathlib.Path(os.environ.get("CONFIGSYNC_CACHE", pathlib.Path.home() / ".cache" / "configsync"))
# One tree per working copy, so a CI clone and a developer checkout never point at each other.
COLLECTIONS_PATH = CACHE / "collections" / hashlib.sha256(str(REPO).encode()).hexdigest()[:12]


def ensure_collections_tree():
    """Make ``COLLECTIONS_PATH/ansible_collections/configsync/oci`` a symlink to the working copy."""
    link = COLLECTIONS_PATH / "ansible_collections" / "configsync" / "oci"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not (link.is_symlink() and link.resolve() == REPO):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(REPO, target_is_directory=True)
    return link
