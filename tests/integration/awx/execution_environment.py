"""The execution environment without a container engine: `ansible-builder create`, then the Containerfile's steps
replayed into a virtual environment.

The Containerfile ansible-builder 3 writes installs, in order: ``$ANSIBLE_INSTALL_REFS`` (ansible-core,
ansible-runner) with pip; the collections of ``_build/requirements.yml`` with ``ansible-galaxy collection install``
from ``/build`` into ``/usr/share/ansible/collections``; ``introspect.py introspect`` over those collections plus
``_build/requirements.txt`` / ``_build/bindep.txt``, whose merged requirements ``assemble`` and
``install-from-bindep`` install with pip. ``replay`` runs the same commands with the virtual environment's Python and a
collections directory in place of ``/usr/share/ansible/collections``.

The virtual environment is cached under ~/.cache/configsync/ee-venv/<hash of the pip inputs>, so a rerun only
reinstalls the collection; a changed requirement or pin builds a new one.
"""
import fcntl
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

from harness.paths import CACHE, REPO

EE_FILE = REPO / "meta" / "execution-environment.yml"
BUILDER = pathlib.Path(sys.executable).parent / "ansible-builder"


def create_context(context_dir):
    """Run ``ansible-builder create`` exactly as docs/awx.md says (from the repository root); returns its output."""
    completed = subprocess.run([str(BUILDER), "create", "-f", "meta/execution-environment.yml", "-c", str(context_dir),
                                "--output-filename", "Containerfile"],
                               cwd=str(REPO), capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


def containerfile_args(containerfile_text):
    """The ``ARG NAME="value"`` defaults at the top of a Containerfile."""
    return dict(re.findall(r'^ARG (\w+)="([^"]*)"$', containerfile_text, re.MULTILINE))


def _run(command, **kwargs):
    completed = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=1200, check=False, **kwargs)
    assert completed.returncode == 0, "%s failed:\n%s%s" % (" ".join(map(str, command)), completed.stdout[-3000:], completed.stderr[-3000:])
    return completed


class ReplayedEnvironment:
    """A virtual environment and collections directory built the way the Containerfile builds the image."""

    def __init__(self, venv, collections, requirements, timings):
        self.venv = pathlib.Path(venv)
        self.bin = self.venv / "bin"
        self.collections = pathlib.Path(collections)
        self.requirements = requirements
        self.timings = timings


def replay(context_dir, workdir):
    timings = {}
    context = pathlib.Path(context_dir)
    build = context / "_build"
    args = containerfile_args((context / "Containerfile").read_text())
    collections = pathlib.Path(workdir) / "usr-share-ansible" / "collections"
    env = dict(os.environ, ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1")
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)

    # Galaxy stage: the collection from /build (here: the context's _build) into the image's collections directory
    # (with the controller's ansible-galaxy: the same ansible-core as the pin, tests/integration/awx checks that).
    began = time.monotonic()
    galaxy_cli = pathlib.Path(sys.executable).parent / "ansible-galaxy"
    _run([galaxy_cli, "collection", "install", "-r", "requirements.yml", "--collections-path", collections],
         cwd=str(build), env=env)
    timings["galaxy_install_seconds"] = round(time.monotonic() - began, 2)

    # Builder stage: introspect the installed collections and the user's files into one requirements list.
    out = pathlib.Path(workdir) / "tmp-src"
    out.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, build / "scripts" / "introspect.py", "introspect", "--user-pip=requirements.txt",
          "--user-bindep=bindep.txt", "--write-bindep=%s" % (out / "bindep.txt"), "--write-pip=%s" % (out / "requirements.txt"),
          collections], cwd=str(build))
    requirements = (out / "requirements.txt").read_text()

    # Base + final stages: $ANSIBLE_INSTALL_REFS, then the introspected requirements, into a fresh virtual environment.
    key = hashlib.sha256("\n".join([sys.version, args["ANSIBLE_INSTALL_REFS"], requirements]).encode()).hexdigest()[:16]
    venv = CACHE / "ee-venv" / key
    venv.parent.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with open(str(venv) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / "complete").exists():
            shutil.rmtree(str(venv), ignore_errors=True)
            _run([sys.executable, "-m", "venv", venv])
            pip = [venv / "bin" / "python", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check"]
            _run(pip + args["ANSIBLE_INSTALL_REFS"].split())
            _run(pip + ["-r", out / "requirements.txt"])
            (venv / "complete").write_text(requirements)
    timings["venv_seconds"] = round(time.monotonic() - began, 2)
    timings["venv_key"] = key
    return ReplayedEnvironment(venv, collections, requirements, timings)
