"""The rollout role inside other automation, against the real parts (Config Sync where a wait needs it).

Included from another role with include-time variables; rejected before any request when a variable is missing or
mistyped; publish and sync as separate plays; one part alone by tag; waves that stop after a failed canary.
Each cluster (inventory host) is a RepoSync namespace on the one test API server (harness.fleet).
"""
import re
import threading

import pytest

from harness.fleet import ConnectionRecorder, Fleet, configmap_manifest, kubeconfig_for_server
from harness.paths import REPO

ROLLOUT_PLAY = REPO / "playbooks" / "rollout.yml"
SYNC = "platform"


@pytest.fixture
def fleet(control_plane, config_sync, tmp_path):
    fleet = Fleet(control_plane, config_sync, tmp_path)
    yield fleet
    fleet.cleanup()


def manifests(tmp_path, name, text):
    src = tmp_path / name
    src.mkdir()
    (src / "config.yaml").write_text(text)
    return src


def role_vars(gcp, registry, control_plane, repository, src=None):
    variables = {"rollout_project": gcp.project, "rollout_repository": repository, "rollout_package": "platform",
                 "rollout_registry": "{0}/{1}/{2}".format(registry.host, gcp.project, repository), "rollout_sync_kind": "RepoSync",
                 "rollout_sync_name": SYNC, "rollout_auth": "none", "rollout_period": "5s", "rollout_grant_reader": True,
                 "rollout_wait_timeout": 240, "rollout_kubeconfig": str(control_plane.kubeconfig)}
    if src:
        variables["rollout_src"] = [str(src)]
    return variables


def wrapper_role(tmp_path, variables, tasks_from=None):
    """A platform team's own role that includes configsync.oci.rollout with every variable given at include time."""
    tasks = tmp_path / "roles" / "platform" / "tasks"
    tasks.mkdir(parents=True)
    include = {"name": "configsync.oci.rollout"}
    if tasks_from:
        include["tasks_from"] = tasks_from
    import yaml  # pylint: disable=import-outside-toplevel
    (tasks / "main.yml").write_text(yaml.safe_dump([{"name": "Roll out the platform configuration", "ansible.builtin.include_role": include,
                                                     "vars": variables}], sort_keys=False))
    play = tmp_path / "platform.yml"
    play.write_text(yaml.safe_dump([{"name": "platform", "hosts": "all", "gather_facts": False, "roles": ["platform"]}]))
    return play, {"ANSIBLE_ROLES_PATH": str(tmp_path / "roles")}


def progress_lines(output, host):
    return [line for line in output.splitlines() if line.startswith("[%s] " % host)]


@pytest.mark.slow
def test_role_included_from_another_role_rolls_out_and_shows_progress(ansible, gcp, registry, control_plane, fleet, tmp_path):
    src = manifests(tmp_path, "good", configmap_manifest("platform", {"tier": "gold"}))
    repository = "incl-" + fleet.suffix
    hosts = {"cluster-a": {}, "cluster-b": {}}
    for host in hosts:
        hosts[host]["team_namespace"] = fleet.namespace_for(host)
        # The reconciler Pods start a minute late (the push and apply take under 30 s), so the wait lasts over 30 s.
        fleet.hold_reconciler(SYNC, hosts[host]["team_namespace"])
    variables = dict(role_vars(gcp, registry, control_plane, repository, src), rollout_sync_namespace="{{ team_namespace }}")
    play, env = wrapper_role(tmp_path, variables)
    timer = threading.Timer(60, fleet.release_held)
    timer.start()
    try:
        run = ansible(playbook=play, hosts=hosts, forks=2, env=dict(gcp.env(), **env))
    finally:
        timer.cancel()
    assert run.returncode == 0 and not run.failed, run
    image = run.result("Push the manifests as an OCI image")["image"]
    for host, variables_of_host in hosts.items():
        sync = fleet.sync_object(variables_of_host["team_namespace"], SYNC)
        assert sync["spec"]["oci"]["image"] == image
        lines = progress_lines(run.stdout, host)
        final = re.match(r"^\[%s\] \S+:platform SYNCED at commit (\w{8}) after (\d+)s$" % host, lines[-1])
        assert final and final.group(1) == image.split("sha256:")[1][:8] and int(final.group(2)) >= 30, lines
        assert len(lines) - 1 >= 2, "at least two progress lines per cluster during a 30 s wait: {0}".format(lines)
    # The one reconciler member per cluster is bound once, by one task run for the whole batch.
    grants = run.results("Grant the reconcilers' Kubernetes service accounts read access to the repository")
    assert len(grants) == 1


@pytest.mark.parametrize("bad, message", [
    ({"rollout_wait_timeout": "soon"}, "rollout_wait_timeout"),
    ({"rollout_pin_digest": "maybe"}, "rollout_pin_digest"),
    ({"rollout_src": None}, "rollout_src"),
])
def test_a_missing_or_mistyped_variable_fails_before_any_request(ansible, gcp, registry, control_plane, tmp_path, bad, message):
    src = manifests(tmp_path, "good", configmap_manifest("platform", {"tier": "gold"}))
    api_server = ConnectionRecorder()
    try:
        kubeconfig = kubeconfig_for_server(control_plane.kubeconfig, tmp_path / "recorded.kubeconfig", api_server.url)
        variables = dict(role_vars(gcp, registry, control_plane, "typo", src), rollout_kubeconfig=str(kubeconfig), rollout_sync_namespace="team")
        variables.update(bad)
        variables = {key: value for key, value in variables.items() if value is not None}
        play, env = wrapper_role(tmp_path, variables)
        gcp.clear_log()
        registry.clear_log()
        run = ansible(playbook=play, hosts=["cluster-a"], env=dict(gcp.env(), **env))
        assert run.returncode != 0 and run.failed, run
        assert message in run.failed[0]["result"]["msg"], run.failed[0]["result"]["msg"]
        assert run.failed[0]["action"] in ("validate_argument_spec", "ansible.builtin.validate_argument_spec"), run.failed[0]
        assert gcp.requests() == [] and registry.requests() == [] and api_server.connections == []
    finally:
        api_server.close()


@pytest.mark.slow
def test_publish_and_sync_as_separate_plays_and_tags(ansible, gcp, registry, control_plane, fleet, tmp_path):
    src = manifests(tmp_path, "good", configmap_manifest("platform", {"tier": "gold"}))
    repository = "parts-" + fleet.suffix
    variables = role_vars(gcp, registry, control_plane, repository, src)
    one, published, tagged = (fleet.namespace_for(name) for name in ("one", "published", "tagged"))

    # One rollout, for comparison.
    whole = ansible(playbook=ROLLOUT_PLAY, hosts={"cluster-one": {"rollout_sync_namespace": one}}, extra_vars=variables, env=gcp.env())
    assert whole.returncode == 0 and not whole.failed, whole

    # A CI job publishes; a later job syncs, given only the published image (digest-pinned).
    publish_play = tmp_path / "publish.yml"
    publish_play.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_role:\n"
                            "        name: configsync.oci.rollout\n        tasks_from: publish\n")
    publish = ansible(playbook=publish_play, hosts=["ci"], extra_vars=variables, env=gcp.env())
    assert publish.returncode == 0 and not publish.failed, publish
    assert publish.result("Push the manifests as an OCI image")["changed"] is False, "the same content is pushed once"
    stats = publish.result("Publish the pushed image for later jobs")
    image = stats["ansible_stats"]["data"]["rollout_image"]
    assert "@sha256:" in image
    sync_vars = {key: value for key, value in variables.items() if key not in ("rollout_src", "rollout_registry", "rollout_package")}
    sync_play = tmp_path / "sync.yml"
    sync_play.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_role:\n"
                         "        name: configsync.oci.rollout\n        tasks_from: sync\n")
    gcp.clear_log()
    registry.clear_log()
    sync = ansible(playbook=sync_play, hosts={"cluster-published": {"rollout_sync_namespace": published}},
                   extra_vars=dict(sync_vars, rollout_image=image), env=gcp.env())
    assert sync.returncode == 0 and not sync.failed, sync
    assert not [r for r in registry.requests() if r.method in ("PUT", "POST", "PATCH")], "sync pushes nothing"
    first, second = fleet.sync_object(one, SYNC), fleet.sync_object(published, SYNC)
    assert first["spec"] == second["spec"], "publish + sync reach the same sync object as one rollout"
    assert [sync_object["status"]["sync"]["commit"] for sync_object in (first, second)] == [image.split("sha256:")[1]] * 2

    # Each tag runs only its part.
    hosts = {"cluster-tagged": {"rollout_sync_namespace": tagged}}
    only_publish = ansible(playbook=ROLLOUT_PLAY, hosts=hosts, extra_vars=variables, env=dict(gcp.env(), ANSIBLE_RUN_TAGS="rollout_publish"))
    assert only_publish.returncode == 0 and not only_publish.failed, only_publish
    ran = {r["task"].split(" : ")[-1] for r in only_publish.records if r["status"] != "skipped"}
    assert "Push the manifests as an OCI image" in ran and "Create the sync object on each cluster" not in ran, ran
    assert fleet.sync_object(tagged, SYNC) is None
    only_sync = ansible(playbook=ROLLOUT_PLAY, hosts=hosts, extra_vars=dict(variables, rollout_image=image),
                        env=dict(gcp.env(), ANSIBLE_RUN_TAGS="rollout_sync"))
    assert only_sync.returncode == 0 and not only_sync.failed, only_sync
    ran = {r["task"].split(" : ")[-1] for r in only_sync.records if r["status"] != "skipped"}
    assert "Create the sync object on each cluster" in ran and "Push the manifests as an OCI image" not in ran, ran
    assert fleet.sync_object(tagged, SYNC)["spec"] == first["spec"]


@pytest.mark.slow
def test_waves_stop_after_a_canary_that_does_not_sync(ansible, gcp, registry, control_plane, fleet, tmp_path):
    good = manifests(tmp_path, "good", configmap_manifest("platform", {"tier": "gold"}))
    bad = manifests(tmp_path, "bad", "apiVersion: v1\nkind: [ConfigMap\n")
    repository = "waves-" + fleet.suffix
    hosts = {"cluster-%d" % index: {} for index in range(1, 7)}
    for host in hosts:
        hosts[host]["rollout_sync_namespace"] = fleet.namespace_for(host)
    first = ansible(playbook=ROLLOUT_PLAY, hosts=hosts, forks=6, extra_vars=role_vars(gcp, registry, control_plane, repository, good), env=gcp.env())
    assert first.returncode == 0 and not first.failed, first
    before = {host: fleet.sync_object(v["rollout_sync_namespace"], SYNC)["metadata"]["resourceVersion"] for host, v in hosts.items()}

    waves = dict(role_vars(gcp, registry, control_plane, repository, bad), rollout_waves=[1, "25%", "100%"], rollout_max_fail_percentage=0,
                 rollout_wait_timeout=120)
    run = ansible(playbook=ROLLOUT_PLAY, hosts=hosts, forks=6, extra_vars=waves, env=gcp.env())
    assert run.returncode != 0, run
    assert {r["host"] for r in run.failed} == {"cluster-1"}, run
    message = run.failed[0]["result"]["msg"]
    assert run.failed[0]["task"].endswith("Wait until the cluster reports SYNCED at the pushed digest"), run.failed
    assert "KNV" in message and "config.yaml" in message, message
    assert len(run.results("Create the sync object on each cluster")) == 1, "only the canary's sync object was written"
    assert len(run.results("Push the manifests as an OCI image")) == 1, "the run stopped after the first wave"
    after = {host: fleet.sync_object(v["rollout_sync_namespace"], SYNC)["metadata"]["resourceVersion"] for host, v in hosts.items()}
    assert {h: after[h] for h in hosts if h != "cluster-1"} == {h: before[h] for h in hosts if h != "cluster-1"}
    assert after["cluster-1"] != before["cluster-1"]
