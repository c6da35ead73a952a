"""The rollout role over 30 GKE clusters from the gke_fleet inventory, reached only with the Google credential.

30 clusters in the emulator (GKE API) over 3 real kube-apiservers that accept Google access tokens (webhook token
authentication) with RBAC; each cluster has its own endpoint and its own RootSync. Writes are counted in the API
servers' audit logs, the emulator's request log and the registry's log.
"""
import collections
import json
import urllib.parse
import urllib.request

import pytest

from harness.ansible_runner import run_playbook
from harness.gke_test_fleet import CLUSTERS, DEPLOYER, ROLE_PLAY, SERVERS

CREATE_TASK = "Create the sync object on each cluster"
# The first task that reads the cluster: the role works out auth and member before granting and creating.
FIRST_CLUSTER_TASK = "Work out each cluster's sync auth and Workload Identity member (nothing is written)"


def registry_writes(registry):
    return [r for r in registry.requests() if r.method in ("PUT", "POST", "PATCH", "DELETE")]


def rollout(fleet, inventory, forks=CLUSTERS, env=None, extra=None):
    extra_vars = fleet.rollout_vars()
    extra_vars.update(extra or {})
    return run_playbook(playbook=ROLE_PLAY, inventory_file=inventory, extra_vars=extra_vars, env=env or fleet.env(), forks=forks)


def changed_hosts(run):
    return sorted({r["host"] for r in run.records if r["result"].get("changed")})


def sync_requests_by_cluster(fleet, mark):
    """Audit events of the deployer, by the cluster whose RootSync they name, with the server that answered them."""
    found = collections.defaultdict(set)
    for event in fleet.fleet.requests(since=mark, user=DEPLOYER):
        for cluster in fleet.clusters:
            if "/rootsyncs/" + fleet.sync_name(cluster) in event.get("requestURI", ""):
                found[cluster.name].add(event["_server"])
    return found


@pytest.mark.timeout(1800)
def test_rollout_to_30_gke_clusters_one_unreachable_then_back_then_noop(fleet):
    """The rollout over 30 clusters with c07 down: exactly c07 fails, naming it; once back, a rerun completes c07 and
    changes nothing elsewhere; a third run is a no-op (changed=0 everywhere, no write on any server, Google or registry)."""
    inventory = fleet.inventory()
    down = fleet.fleet.cluster("c07")
    fleet.fleet.outage("c07")
    first = rollout(fleet, inventory)
    assert first.returncode != 0
    failed = [(r["host"], r["task"]) for r in first.failed]
    assert [host for host, _task in failed] == ["c07"] and failed[0][1].endswith(FIRST_CLUSTER_TASK), first
    message = first.failed[0]["result"]["msg"]
    assert down.server in message and down.full_name in message, message
    created = first.results(CREATE_TASK)
    assert len([r for r in created if r.get("changed")]) == CLUSTERS - 1
    pushes = first.results("Push the manifests as an OCI image")
    assert len(pushes) == 1
    assert fleet.root_sync(down) is None
    for cluster in fleet.clusters:
        if cluster is not down:
            sync = fleet.root_sync(cluster)
            assert sync is not None, cluster.name
            assert sync["spec"]["oci"]["image"] == pushes[0]["image"]
    # Every write on the API servers was made by the Google identity, authenticated by the token webhook.
    writers = {(e.get("user") or {}).get("username") for e in fleet.fleet.writes() if "/rootsyncs/rs-" + fleet.run_id in e["requestURI"]}
    assert writers == {DEPLOYER}
    # The GKE API was only read: the list for the inventory and one clusters.get per cluster-reading task and host (the
    # role reads each cluster twice: the auth/member check before the grant, then the apply; c07 fails at the first).
    gke_calls = collections.Counter(e["apiMethod"] for e in fleet.gcp.requests() if e["apiMethod"].startswith("container."))
    assert gke_calls == {"container.projects.locations.clusters.list": 1,
                         "container.projects.locations.clusters.get": 2 * CLUSTERS - 1}

    fleet.fleet.restore("c07")
    versions = {c.name: fleet.root_sync(c)["metadata"]["resourceVersion"] for c in fleet.clusters if c is not down}
    fleet.registry.clear_log()
    mark = fleet.fleet.audit_mark()
    second = rollout(fleet, inventory)
    assert second.returncode == 0 and not second.failed, second
    # The batch's one grant (run_once, reported on the first host) adds c07's member, and nothing else changes.
    grants = [r for r in second.records if r["result"].get("changed") and "read access" in r["task"]]
    assert all(r["result"].get("members") is None or fleet.sync_name(down) in str(r["result"]) for r in grants), grants
    assert sorted({r["host"] for r in second.records if r["result"].get("changed") and r not in grants}) == ["c07"]
    assert fleet.root_sync(down) is not None
    writes = fleet.fleet.writes(since=mark)
    assert writes and all("/rootsyncs/" + fleet.sync_name(down) in e["requestURI"] for e in writes), writes
    assert registry_writes(fleet.registry) == []
    assert {c.name: fleet.root_sync(c)["metadata"]["resourceVersion"] for c in fleet.clusters if c is not down} == versions

    versions = {c.name: fleet.root_sync(c)["metadata"]["resourceVersion"] for c in fleet.clusters}
    fleet.gcp.clear_log()
    fleet.registry.clear_log()
    mark = fleet.fleet.audit_mark()
    third = rollout(fleet, inventory)
    assert third.returncode == 0 and not third.failed, third
    assert changed_hosts(third) == [], "no-op rerun: changed=0 on every host"
    assert third.stdout.count("changed=0") == CLUSTERS
    assert fleet.gcp.writes() == []
    assert registry_writes(fleet.registry) == []
    assert fleet.fleet.writes(since=mark) == [], "no write call on any API server"
    assert {c.name: fleet.root_sync(c)["metadata"]["resourceVersion"] for c in fleet.clusters} == versions
    # Each host read its own cluster, on the API server behind that cluster's endpoint.
    assert sync_requests_by_cluster(fleet, mark) == {c.name: {c.plane.server} for c in fleet.clusters}
    assert len({c.plane.server for c in fleet.clusters}) == SERVERS


def test_one_token_per_identity_kept_across_tasks_and_minted_again_once_revoked(fleet):
    """Six hosts at forks 6, two cluster tasks each: one token is minted for the whole run and kept for the next; once
    revoked, each host's first read is refused (401), and the run mints exactly one new token and finishes."""
    cache = fleet.workdir / "tokens"
    clusters = fleet.clusters[:6]
    assert len({c.plane.server for c in clusters}) == SERVERS
    hosts = {c.name: {"gke": c.full_name} for c in clusters}
    tasks = [{"name": "status %d" % n, "configsync.oci.config_sync_status": {"gke_cluster": "{{ gke }}"}} for n in (1, 2)]
    env = fleet.env(CONFIGSYNC_OCI_TOKEN_CACHE=str(cache))

    def run():
        fleet.gcp.clear_log()
        played = run_playbook(tasks=tasks, hosts=hosts, env=env, forks=len(hosts))
        assert played.returncode == 0 and not played.failed, played
        assert sorted((r["host"], r["result"]["server"]) for r in played.records) == sorted(
            (c.name, c.server) for c in clusters for _n in (1, 2))
        return played

    run()
    assert len(fleet.gcp.requests("oauth2.token")) == 1, "one token for 12 tasks on 6 hosts"
    kept = list(cache.glob("*.json"))
    assert len(kept) == 1 and oct(kept[0].stat().st_mode & 0o777) == "0o600" and oct(cache.stat().st_mode & 0o777) == "0o700"
    run()
    assert fleet.gcp.requests("oauth2.token") == [], "the next run uses the kept token"

    token = json.loads(kept[0].read_text())["token"]
    revoke = urllib.request.Request(fleet.gcp.endpoint.rstrip("/") + "/revoke?" + urllib.parse.urlencode({"token": token}),
                                    data=b"", method="POST")
    with urllib.request.urlopen(revoke, timeout=10) as answer:
        assert answer.status == 200
    run()
    assert len(fleet.gcp.requests("oauth2.token")) == 1, "one new token after the revocation"
    refused = [e for e in fleet.gcp.requests("container.projects.locations.clusters.get") if e["status"] == 401]
    assert 1 <= len(refused) <= len(hosts), refused
    assert json.loads(kept[0].read_text())["token"] != token


def test_conflicting_cluster_sources_fail_before_any_request_to_either_server(fleet):
    one, other = fleet.fleet.cluster("c01"), fleet.fleet.cluster("c02")
    assert one.plane is not other.plane
    kubeconfig = fleet.kubeconfig(fleet.gcp.new_token(DEPLOYER))
    mark = fleet.fleet.audit_mark()
    task = {"name": "status", "configsync.oci.config_sync_status": {
        "gke_cluster": one.full_name, "kubeconfig": str(kubeconfig), "context": "gke_" + other.name}}
    run = run_playbook(tasks=[task], env=fleet.env())
    message = run.failure_message("status")
    assert one.full_name in message and one.server in message, message
    assert str(kubeconfig) in message and other.server in message, message
    assert fleet.fleet.requests(since=mark) == [], "neither API server saw a request"


def test_host_kubeconfig_context_wins_over_play_environment(fleet):
    one, other = fleet.fleet.cluster("c01"), fleet.fleet.cluster("c02")
    token = fleet.gcp.new_token(DEPLOYER)
    kubeconfig = fleet.kubeconfig(token)
    task = {"name": "status", "configsync.oci.config_sync_status": {"kubeconfig": str(kubeconfig), "context": "gke_" + other.name}}
    run = run_playbook(tasks=[task], env=fleet.env(K8S_AUTH_HOST=one.server, K8S_AUTH_API_KEY=token))
    assert run.returncode == 0, run
    assert run.result("status")["server"] == other.server


def test_rbac_decides_what_the_google_identity_may_do(fleet):
    stranger = fleet.gcp.service_account_file(fleet.workdir / "stranger.json", email="stranger@configsync-test.iam.gserviceaccount.com")
    task = {"name": "status", "configsync.oci.config_sync_status": {"gke_cluster": fleet.clusters[0].full_name}}
    run = run_playbook(tasks=[task], env=fleet.env(GCP_SERVICE_ACCOUNT_FILE=str(stranger)))
    message = run.failure_message("status")
    assert "403" in message and "stranger@configsync-test.iam.gserviceaccount.com" in message, message


@pytest.mark.timeout(1200)
def test_same_30_clusters_through_per_host_kubeconfig_contexts(fleet):
    kubeconfig = fleet.kubeconfig(fleet.gcp.new_token(DEPLOYER))
    hosts = {c.name: {"rollout_kubeconfig": str(kubeconfig), "rollout_context": "gke_" + c.name,
                      "rollout_sync_name": fleet.sync_name(c)} for c in fleet.clusters}
    extra_vars = fleet.rollout_vars()
    # A play-level bearer credential pointing at one cluster must not redirect any host.
    env = fleet.env(K8S_AUTH_HOST=fleet.clusters[0].server, K8S_AUTH_API_KEY=fleet.gcp.new_token(DEPLOYER))
    first = run_playbook(playbook=ROLE_PLAY, hosts=hosts, extra_vars=extra_vars, env=env, forks=CLUSTERS)
    assert first.returncode == 0 and not first.failed, first
    # Each RootSync is on the API server of its own context's cluster (a host sent to K8S_AUTH_HOST would have put
    # it on c00's server instead).
    for cluster in fleet.clusters:
        assert fleet.root_sync(cluster) is not None, cluster.name


@pytest.mark.timeout(900)
def test_fleet_memberships_through_the_connect_gateway(fleet):
    inventory = fleet.inventory(source="memberships", extra_options={"labels": {"wave": "0"}, "locations": ["global"]})
    first = rollout(fleet, inventory, forks=10)
    assert first.returncode == 0 and not first.failed, first
    hosts = sorted(r["host"] for r in first.records if r["task"].endswith(CREATE_TASK))
    wave = [c for c in fleet.clusters if int(c.name[1:]) // 3 % 3 == 0]
    assert len({c.plane.server for c in wave}) == SERVERS
    assert hosts == [c.name for c in wave]
    for cluster in wave:
        assert fleet.root_sync(cluster) is not None
    gateway = [e for e in fleet.gcp.requests() if e["apiMethod"].startswith("connectgateway.")]
    assert gateway and all("/gkeMemberships/" in e["path"] for e in gateway)
    assert all(e["path"].startswith("/v1/projects/{0}/".format(fleet.gcp.project_number)) for e in gateway)

    fleet.gcp.clear_log()
    mark = fleet.fleet.audit_mark()
    second = rollout(fleet, inventory, forks=10)
    assert second.returncode == 0 and changed_hosts(second) == [], second
    assert fleet.fleet.writes(since=mark) == []
    assert [e for e in fleet.gcp.requests() if e["write"]] == []
