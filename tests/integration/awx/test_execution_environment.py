"""meta/execution-environment.yml: `ansible-builder create` as docs/awx.md runs it, the context it generates, and the
rollout from an environment built by that context's steps (see execution_environment.py)."""
import json
import subprocess

import yaml

from execution_environment import EE_FILE, containerfile_args
from harness.paths import REPO
from sync_checks import assert_synced_to

DEPRECATED_BASES = ("quay.io/ansible/ansible-runner", "quay.io/ansible/ansible-builder", "quay.io/ansible/python-base")


def definition():
    return yaml.safe_load(EE_FILE.read_text())


def test_builder_context_installs_the_collection_and_its_requirements(ee_context):
    ee = definition()
    assert ee["version"] == 3
    containerfile = (ee_context / "Containerfile").read_text()
    args = containerfile_args(containerfile)

    base = ee["images"]["base_image"]["name"]
    assert args["EE_BASE_IMAGE"] == base and not base.startswith(DEPRECATED_BASES)
    assert "FROM $EE_BASE_IMAGE AS base" in containerfile
    refs = args["ANSIBLE_INSTALL_REFS"].split()
    assert sorted(ref.split("==")[0] for ref in refs) == ["ansible-core", "ansible-runner"]
    assert all("==" in ref for ref in refs), "ansible-core and ansible-runner are pinned: %s" % refs

    build = ee_context / "_build"
    assert (build / "requirements.txt").read_text() == (REPO / "requirements.txt").read_text()
    assert (build / "bindep.txt").read_text() == (REPO / "bindep.txt").read_text()
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    assert requirements == {"collections": [{"name": "configsync_oci", "type": "dir"}]}
    # The collection install step, from /build where _build is copied.
    assert "COPY _build /build\nWORKDIR /build" in containerfile
    assert 'ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml ' \
           '--collections-path "/usr/share/ansible/collections"' in containerfile
    assert "introspect.py introspect --user-pip=requirements.txt --user-bindep=bindep.txt" in containerfile

    collection = build / "configsync_oci"
    galaxy = yaml.safe_load((collection / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == ("configsync", "oci")
    tracked = subprocess.run(["git", "ls-files", "plugins", "roles", "playbooks", "meta/runtime.yml"], cwd=str(REPO),
                             capture_output=True, text=True, check=True).stdout.split()
    missing = [path for path in tracked if not (collection / path).is_file()]
    assert not missing, "files of the collection not copied into the build context: %s" % missing
    assert not (collection / "meta" / "execution-environment.yml").exists()


def test_collection_installed_as_in_the_image(ee_environment):
    installed = ee_environment.collections / "ansible_collections" / "configsync" / "oci"
    manifest = json.loads((installed / "MANIFEST.json").read_text())["collection_info"]
    assert manifest["version"] == yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    # ansible-builder reads an installed collection's meta/execution-environment.yml with paths relative to the
    # collection root; without that file it infers requirements.txt / bindep.txt there (docs/awx.md).
    assert not (installed / "meta" / "execution-environment.yml").exists()
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "%s  # from collection configsync.oci" % line in ee_environment.requirements


def test_pins_are_what_the_environment_runs(ee_context, ee_environment):
    args = containerfile_args((ee_context / "Containerfile").read_text())
    frozen = subprocess.run([str(ee_environment.bin / "python"), "-m", "pip", "freeze"], capture_output=True, text=True,
                            check=True).stdout.splitlines()
    for ref in args["ANSIBLE_INSTALL_REFS"].split():
        assert ref in frozen


def test_rollout_runs_from_the_execution_environment(ansible, ee_environment, gcp, control_plane, kube_client, fleet_namespaces,
                                                     survey):
    """The environment's own ansible-playbook and Python (no system site packages) and its installed collection."""
    hosts = {host: {"rollout_sync_namespace": namespace, "rollout_kubeconfig": str(control_plane.kubeconfig)}
             for host, namespace in fleet_namespaces.items()}
    run = ansible(playbook=REPO / "playbooks" / "rollout.yml", hosts=hosts, extra_vars=survey, env=gcp.env(),
                  forks=len(hosts), bin_dir=ee_environment.bin, collections_path=ee_environment.collections)
    assert run.returncode == 0 and not run.failed, run
    pushes = run.results("Push the manifests as an OCI image")
    assert len(pushes) == 1 and pushes[0]["changed"] is True
    assert_synced_to(kube_client, fleet_namespaces.values(), survey["rollout_sync_name"], pushes[0]["image"])
