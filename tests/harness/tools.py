"""The binaries the tests run, built from Go modules by ``scripts/build-tools``.

``tool("kube-apiserver")`` returns the path of the pinned binary, building it first when the cache does not
have it yet; ``crd_paths()`` returns Config Sync's release CRD files (RootSync, RepoSync, ResourceGroup), read in
place from ../shared/reference/. ``configsync_command(name)`` is the argv of one Config Sync command in the tier this
run tests (``configsync_tier()``): the Config Sync emulator (tests/harness/configsync_emulator, built by build-tools)
or real Config Sync's binaries (``CONFIGSYNC_BIN_DIR``, or build-tools' ``go install`` where a proxy serves the
module). Versions come from ``scripts/versions.env``.
"""
import os
import pathlib
import subprocess

from harness.paths import CACHE, MANIFESTS_DIR, REPO

BUILD_SCRIPT = REPO / "scripts" / "build-tools"
VERSIONS_FILE = REPO / "scripts" / "versions.env"
TOOL_VERSION_KEYS = {
    "etcd": "ETCD_VERSION",
    "kube-apiserver": "KUBERNETES_VERSION",
    "crane": "CRANE_VERSION",
    "oras": "ORAS_VERSION",
}
# Config Sync's commands, as the harness runs them (the reconciler Pod's containers, the two controllers, nomos).
CONFIGSYNC_COMMANDS = ("nomos", "oci-sync", "reconciler", "reconciler-manager", "resource-group")
EMULATOR = "configsync-emulator"
EMULATOR_SOURCE = REPO / "tests" / "harness" / "configsync_emulator"
TIERS = ("emulator", "real")
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


def emulator_version():
    """The emulator's cache key: a hash of its sources, the same one scripts/build-tools computes."""
    result = subprocess.run([str(BUILD_SCRIPT), "--emulator-version"], check=True, stdout=subprocess.PIPE, universal_newlines=True)
    return result.stdout.strip()


def cached_tool_path(name):
    """Where build-tools puts the binary: ``<cache>/tools/<name>-<version>/<name>``."""
    if name == EMULATOR:
        return CACHE / "tools" / "{0}-{1}".format(name, emulator_version()) / name
    return CACHE / "tools" / "{0}-{1}".format(name, version(name)) / name


def configsync_tier():
    """Which Config Sync the tests run against: ``emulator`` (the default) or ``real`` (CONFIGSYNC_TIER)."""
    tier = os.environ.get("CONFIGSYNC_TIER", "emulator")
    if tier not in TIERS:
        raise ToolUnavailable("CONFIGSYNC_TIER must be one of {0}, not {1!r}".format(", ".join(TIERS), tier))
    return tier


def real_configsync_dir():
    """The folder holding real Config Sync's binaries: CONFIGSYNC_BIN_DIR, else where build-tools' ``go install`` put
    them (where a module proxy serves Config Sync's module); None when neither has all of them."""
    candidates = [os.environ.get("CONFIGSYNC_BIN_DIR"), str(CACHE / "tools" / "configsync-{0}".format(versions()["CONFIGSYNC_VERSION"]))]
    for folder in candidates:
        if folder and all(_is_executable(pathlib.Path(folder) / name) for name in CONFIGSYNC_COMMANDS):
            return pathlib.Path(folder)
    return None


def configsync_command(name):
    """The argv of one Config Sync command in this run's tier."""
    if name not in CONFIGSYNC_COMMANDS:
        raise ValueError("unknown Config Sync command {0!r}; known: {1}".format(name, ", ".join(CONFIGSYNC_COMMANDS)))
    if configsync_tier() == "real":
        folder = real_configsync_dir()
        if folder is None:
            raise ToolUnavailable("CONFIGSYNC_TIER=real but real Config Sync is not here: set CONFIGSYNC_BIN_DIR to a folder "
                                  "holding " + ", ".join(CONFIGSYNC_COMMANDS) + ", or run scripts/build-tools configsync-real "
                                  "where a module proxy serves " + versions()["CONFIGSYNC_MODULE"])
        return [str(folder / name)]
    return [str(tool(EMULATOR)), name]


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
    if name not in TOOL_VERSION_KEYS and name != EMULATOR:
        raise ValueError("unknown tool {0!r}; known: {1}".format(name, ", ".join(sorted(TOOL_VERSION_KEYS) + [EMULATOR])))
    user_assets = kubebuilder_assets()
    if name in CONTROL_PLANE_TOOLS and user_assets:
        return user_assets / name
    path = cached_tool_path(name)
    if not _is_executable(path):
        build(name)
    if not _is_executable(path):
        raise ToolUnavailable("scripts/build-tools ran but {0} is not at {1}".format(name, path))
    return path


def manifests_dir():
    """Config Sync's release manifests (CRDs, reconciler ClusterRoles, the reconciler Deployment template): data files
    of the pinned release kept beside the checkout in ../shared/reference/, read from there and never copied."""
    return MANIFESTS_DIR


def crd_paths():
    """Config Sync's RootSync, RepoSync and ResourceGroup CRD files of the pinned release."""
    paths = [manifests_dir() / name for name in CRD_FILES]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise ToolUnavailable("Config Sync's release CRDs are missing: " + ", ".join(missing))
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
