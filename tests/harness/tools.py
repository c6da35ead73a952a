"""The real binaries the tests run, built from Go modules by ``scripts/build-tools``.

``tool("kube-apiserver")`` returns the path of the pinned binary, building it first when the cache does not
have it yet; ``crd_paths()`` returns Config Sync's release CRD files (RootSync, RepoSync, ResourceGroup), extracted
from the pinned release by build-tools. There is no other source of CRDs: where Config Sync cannot be built, this
raises ToolUnavailable and the tests that need it error.
Versions come from ``scripts/versions.env``.
"""
import os
import pathlib
import subprocess

from harness.paths import CACHE, REPO

BUILD_SCRIPT = REPO / "scripts" / "build-tools"
VERSIONS_FILE = REPO / "scripts" / "versions.env"
TOOL_VERSION_KEYS = {
    "etcd": "ETCD_VERSION",
    "kube-apiserver": "KUBERNETES_VERSION",
    "crane": "CRANE_VERSION",
    "oras": "ORAS_VERSION",
    "nomos": "CONFIGSYNC_VERSION",
    "oci-sync": "CONFIGSYNC_VERSION",
    "reconciler": "CONFIGSYNC_VERSION",
    "reconciler-manager": "CONFIGSYNC_VERSION",
    "resource-group": "CONFIGSYNC_VERSION",
}
CRD_FILES = ("rootsync-crd.yaml", "reposync-crd.yaml", "resourcegroup-crd.yaml")
CONTROL_PLANE_TOOLS = ("etcd", "kube-apiserver")


class ToolUnavailable(RuntimeError):
    """A binary or CRD could not be built or found; the message says why and how to get it."""


def versions(path=VERSIONS_FILE):
    """The ``NAME=value`` pairs of scripts/versions.env (comments and blank lines skipped)."""
    pinned = {}
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            pinned[name.strip()] = value.strip()
    return pinned


def version(name):
    """The pinned version of one tool, e.g. ``version("etcd") == "3.6.16"``."""
    return versions()[TOOL_VERSION_KEYS[name]]


def cached_tool_path(name):
    """Where build-tools puts the binary: ``<cache>/tools/<name>-<version>/<name>``."""
    return CACHE / "tools" / "{0}-{1}".format(name, version(name)) / name


def kubebuilder_assets():
    """The user's KUBEBUILDER_ASSETS folder when it holds both control-plane binaries (setup-envtest convention)."""
    folder = os.environ.get("KUBEBUILDER_ASSETS")
    if folder and all(_is_executable(pathlib.Path(folder) / name) for name in CONTROL_PLANE_TOOLS):
        return pathlib.Path(folder)
    return None


def assets_dir():
    """The KUBEBUILDER_ASSETS-style folder build-tools fills: ``<cache>/k8s/<kubernetes-version>``."""
    return CACHE / "k8s" / versions()["KUBERNETES_VERSION"]


def tool(name):
    """Path of a runnable binary for ``name``, building it through scripts/build-tools when it is missing."""
    if name not in TOOL_VERSION_KEYS:
        raise ValueError("unknown tool {0!r}; known: {1}".format(name, ", ".join(sorted(TOOL_VERSION_KEYS))))
    user_assets = kubebuilder_assets()
    if name in CONTROL_PLANE_TOOLS and user_assets:
        return user_assets / name
    path = cached_tool_path(name)
    if not _is_executable(path):
        build(name)
    if not _is_executable(path):
        raise ToolUnavailable("scripts/build-tools ran but {0} is not at {1}".format(name, path))
    return path


def crd_dir():
    return CACHE / "tools" / "configsync-crds-{0}".format(versions()["CONFIGSYNC_VERSION"])


def crd_paths():
    """Config Sync's RootSync, RepoSync and ResourceGroup CRD files, extracted from the pinned release."""
    paths = [crd_dir() / name for name in CRD_FILES]
    if not all(path.is_file() for path in paths):
        build("crds")
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ToolUnavailable("Config Sync CRDs missing after scripts/build-tools: " + ", ".join(missing))
    return paths


def build(*names):
    """Run scripts/build-tools for ``names``; its output (which names each build's wall time) goes to our stderr."""
    result = subprocess.run([str(BUILD_SCRIPT)] + list(names), check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    if result.returncode != 0:
        # The last lines say which tool failed and why (e.g. a module the proxy does not serve).
        tail = "\n".join(result.stdout.splitlines()[-15:])
        raise ToolUnavailable("scripts/build-tools {0} failed (exit {1}):\n{2}".format(" ".join(names), result.returncode, tail))
    return result.stdout


def _is_executable(path):
    return path.is_file() and os.access(str(path), os.X_OK)
