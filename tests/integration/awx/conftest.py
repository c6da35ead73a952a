"""Fixtures of the AWX tests: the execution environment replayed into a virtualenv, an AWX project sync, cluster
credentials as AWX holds them, and the rollout's survey answers."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import yaml

import execution_environment
from awx_job import survey_extravars
from sync_checks import cluster_namespaces
from harness.paths import REPO

PROJECT_REQUIREMENTS = REPO / "collections" / "requirements.yml"
CLUSTERS = ["cluster-a", "cluster-b", "cluster-c"]
TIMINGS = {}


@pytest.fixture(scope="session")
def awx_timings(tmp_path_factory):
    """Measured durations (seconds) of the AWX path; written to <basetemp>/awx-timings.json, printed in the summary."""
    try:
        yield TIMINGS
    finally:
        if TIMINGS:
            (tmp_path_factory.getbasetemp() / "awx-timings.json").write_text(json.dumps(TIMINGS, indent=2, sort_keys=True) + "\n")


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_sep("-", "AWX path timings (seconds)")
        for name, value in sorted(TIMINGS.items()):
            terminalreporter.write_line("{0}: {1}".format(name, value))


@pytest.fixture(scope="session")
def ee_context(tmp_path_factory, awx_timings):
    context = tmp_path_factory.mktemp("ee") / "context"
    began = time.monotonic()
    execution_environment.create_context(context)
    awx_timings["ansible_builder_create_seconds"] = round(time.monotonic() - began, 2)
    return context


@pytest.fixture(scope="session")
def ee_environment(ee_context, tmp_path_factory, awx_timings):
    """The image's Python environment and /usr/share/ansible/collections, built as the Containerfile builds them."""
    replayed = execution_environment.replay(ee_context, tmp_path_factory.mktemp("ee-replay"))
    awx_timings.update(("ee_" + k, v) for k, v in replayed.timings.items())
    return replayed


def _snapshot_repository(target):
    """The working tree (tracked and untracked, not ignored files) as a git repository with a ``main`` branch: what
    AWX would clone from the repository's URL, including changes not committed yet."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=str(REPO),
                            capture_output=True, check=True).stdout.decode().split("\0")
    for relative in filter(None, listed):
        source = REPO / relative
        if source.is_file():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(str(source), str(destination))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-C", str(target)]
    subprocess.run(git + ["init", "-q", "-b", "main"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "snapshot"], check=True)
    return target


@pytest.fixture(scope="session")
def project_sync(tmp_path_factory, awx_timings):
    """An AWX project sync: ``ansible-galaxy collection install -r collections/requirements.yml`` with AWX's
    ANSIBLE_COLLECTIONS_PATHS (awx/playbooks/project_update.yml), into a fresh requirements_collections.

    The requirements entry is the repository's git URL; git's ``url.<base>.insteadOf`` points that URL at a snapshot
    of this working tree, so the entry resolves exactly as written, without a network."""
    workdir = tmp_path_factory.mktemp("project-sync")
    snapshot = _snapshot_repository(workdir / "origin")
    url = yaml.safe_load(PROJECT_REQUIREMENTS.read_text())["collections"][0]["name"]
    gitconfig = workdir / "gitconfig"
    gitconfig.write_text('[url "file://{0}"]\n\tinsteadOf = {1}\n'.format(snapshot, url))
    stage = workdir / "stage"
    env = dict(os.environ, GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1",
               ANSIBLE_COLLECTIONS_PATHS=str(stage / "requirements_collections"), ANSIBLE_LOCAL_TEMP=str(stage / "tmp"))
    env.pop("ANSIBLE_COLLECTIONS_PATH", None)
    project = workdir / "project"
    shutil.copytree(str(snapshot), str(project), ignore=shutil.ignore_patterns(".git"))
    began = time.monotonic()
    completed = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-galaxy"), "collection", "install", "-r",
                                str(project / "collections" / "requirements.yml")],
                               cwd=str(workdir), env=env, capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    awx_timings["project_sync_seconds"] = round(time.monotonic() - began, 2)
    completed.project = project
    completed.collections = stage / "requirements_collections"
    return completed


@pytest.fixture(scope="session")
def bearer_token(control_plane, kube_client):
    """A service account token, as an AWX user pastes into an "OpenShift or Kubernetes API Bearer Token" credential."""
    import kubernetes  # pylint: disable=import-outside-toplevel
    core = kubernetes.client.CoreV1Api(kube_client)
    rbac = kubernetes.client.RbacAuthorizationV1Api(kube_client)
    name = "awx-jobs-" + uuid.uuid4().hex[:6]
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_service_account(name, {"metadata": {"name": "awx"}})
    rbac.create_cluster_role_binding({"metadata": {"name": name},
                                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                                      "subjects": [{"kind": "ServiceAccount", "name": "awx", "namespace": name}]})
    request = core.create_namespaced_service_account_token("awx", name, {"spec": {"expirationSeconds": 7200}})
    return request.status.token


@pytest.fixture
def fleet_namespaces(kube_client):
    """One RepoSync namespace per cluster host."""
    return cluster_namespaces(kube_client, CLUSTERS, "awx")


@pytest.fixture
def manifests(tmp_path):
    directory = tmp_path / "manifests"
    directory.mkdir()
    (directory / "configmap.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: platform\ndata:\n  tier: gold\n")
    return directory


@pytest.fixture
def survey(gcp, registry, manifests):
    """The job template's survey answers (extras/awx/rollout_survey.yml), as the extra variables AWX makes of them."""
    repository = "awx-" + uuid.uuid4().hex[:6]
    return survey_extravars({
        "rollout_project": gcp.project,
        "rollout_repository": repository,
        "rollout_package": "platform",
        "rollout_src": str(manifests),
        "rollout_registry": "{0}/{1}/{2}".format(registry.host, gcp.project, repository),
        "rollout_sync_kind": "RepoSync",
        "rollout_sync_name": "platform",
        "rollout_auth": "none",
        "rollout_grant_reader": "true",
        "rollout_wait": "false",
    })
