"""An AWX project sync from this repository: collections/requirements.yml installs the collection, and the synced
project's playbooks/rollout.yml resolves the role from it."""
import json

import yaml

from harness.paths import REPO
from sync_checks import assert_synced_to


def test_requirements_name_the_repository_of_the_collection():
    entry = yaml.safe_load((REPO / "collections" / "requirements.yml").read_text())["collections"][0]
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert entry["type"] == "git" and entry["name"] == galaxy["repository"] + ".git"


def test_project_sync_installs_the_collection(project_sync):
    installed = project_sync.collections / "ansible_collections" / "configsync" / "oci"
    manifest = json.loads((installed / "MANIFEST.json").read_text())["collection_info"]
    assert (manifest["namespace"], manifest["name"]) == ("configsync", "oci")
    assert (installed / "roles" / "rollout" / "tasks" / "main.yml").read_text() == \
        (REPO / "roles" / "rollout" / "tasks" / "main.yml").read_text()
    # galaxy.yml's build_ignore applies: no tests, no project-only files in the installed collection.
    assert not (installed / "tests").exists() and not (installed / "collections").exists()


def test_synced_project_runs_the_rollout(ansible, project_sync, gcp, control_plane, kube_client, fleet_namespaces, survey):
    hosts = {host: {"rollout_sync_namespace": namespace, "rollout_kubeconfig": str(control_plane.kubeconfig)}
             for host, namespace in fleet_namespaces.items()}
    run = ansible(playbook=project_sync.project / "playbooks" / "rollout.yml", hosts=hosts, extra_vars=survey,
                  env=gcp.env(), forks=len(hosts), collections_path=project_sync.collections)
    assert run.returncode == 0 and not run.failed, run
    pushes = run.results("Push the manifests as an OCI image")
    assert len(pushes) == 1
    assert_synced_to(kube_client, fleet_namespaces.values(), survey["rollout_sync_name"], pushes[0]["image"])
