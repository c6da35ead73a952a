"""The seed's grant steps as real ansible-playbook runs, against Artifact Registry's Docker front and Config Sync."""
import json

import requests

from harness.paths import REPO
from integration.e2e.e2e_flow import Flow

ROLLOUT_PLAYBOOK = REPO / "playbooks" / "rollout.yml"
LOCATION = "us-central1"
CONFIG_SYNC_NAMESPACE = "config-management-system"
READER = "roles/artifactregistry.reader"
WRITER = "roles/artifactregistry.writer"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
PERIOD = "5s"
# A failing sync reports within a few seconds; a granted one waits for oci-sync's retry (backoff 1s, 2s, 4s, ... ).
FAIL_TIMEOUT = 90
SYNC_TIMEOUT = 150


def reconciler_member(project, ksa):
    return "serviceAccount:{0}.svc.id.goog[{1}/{2}]".format(project, CONFIG_SYNC_NAMESPACE, ksa)


class Grants:
    """One Docker repository in the emulator (``repository``), a writer identity that pushes (``pusher``), and the
    playbook steps of the seed around them."""

    def __init__(self, ansible, gcp, front, metadata, control_plane, workdir, repository):
        self.ansible = ansible
        self.gcp = gcp
        self.front = front
        self.metadata = metadata
        self.control_plane = control_plane
        self.workdir = workdir
        self.repository = repository
        # The e2e helpers for what is not about grants: manifest trees, reading the cluster, deleting a sync.
        self.cluster = Flow(ansible, control_plane, None, workdir)
        self.http = self.cluster.http
        self.manifests = self.cluster.manifests
        self.get = self.cluster.get
        self.create_namespace = self.cluster.create_namespace
        self.pusher = "pusher@{0}.iam.gserviceaccount.com".format(gcp.project)
        self.pusher_token = None

    @property
    def project(self):
        return self.gcp.project

    @property
    def resource(self):
        return "projects/{0}/locations/{1}/repositories/{2}".format(self.project, LOCATION, self.repository)

    def image(self, package, tag="v1"):
        return "{0}-docker.pkg.dev/{1}/{2}/{3}:{4}".format(LOCATION, self.project, self.repository, package, tag)

    # --- environment --------------------------------------------------------------------------------------------
    def env(self, token=None):
        """The controller's environment: Google APIs at the emulator (admin token unless ``token``), the registry
        host names through the front, the cluster's kubeconfig."""
        env = dict(self.gcp.env())
        env.update(self.front.env())
        env["K8S_AUTH_KUBECONFIG"] = str(self.control_plane.kubeconfig)
        if token:
            env["GCP_ACCESS_TOKEN"] = token
        return env

    def run(self, tasks, token=None, env=None, **kwargs):
        run_env = self.env(token)
        run_env.update(env or {})
        return self.ansible(tasks=tasks, env=run_env, **kwargs)

    def ok(self, tasks, **kwargs):
        run = self.run(tasks, **kwargs)
        assert not run.failed, run.output
        return run

    # --- Google side ----------------------------------------------------------------------------------------------
    def identity(self, name):
        """A Google service account of the project and an access token for it: (email, token)."""
        email = "{0}@{1}.iam.gserviceaccount.com".format(name, self.project)
        self.gcp.seed_service_account(email)
        return email, self.gcp.new_token(email)

    def set_up(self):
        """The repository and the pusher's writer grant, straight through the emulator's REST API (test set-up: the
        modules that do this have tests of their own; one playbook less per test on a busy machine)."""
        self.pusher_token = self.identity("pusher")[1]
        response = self.rest("POST", "/v1/projects/{0}/locations/{1}/repositories".format(self.project, LOCATION),
                             {"format": "DOCKER"}, params={"repositoryId": self.repository})
        assert response.status_code == 200, response.text
        self.grant(self.resource, "serviceAccount:" + self.pusher, WRITER)
        return self

    def rest(self, method, path, body=None, params=None):
        return requests.request(method, self.gcp.endpoint + path, json=body, params=params, timeout=30,
                                headers={"Authorization": "Bearer " + self.gcp.access_token})

    def grant(self, resource, member, role=READER, present=True):
        """Add (or remove) one binding by getIamPolicy + setIamPolicy (a repository or ``projects/-/serviceAccounts/EMAIL``)."""
        verb = "GET" if "/repositories/" in resource else "POST"
        policy = self.rest(verb, "/v1/{0}:getIamPolicy".format(resource)).json()
        bindings = [binding for binding in policy.get("bindings", []) if binding["role"] != role]
        members = next((binding["members"] for binding in policy.get("bindings", []) if binding["role"] == role), [])
        members = set(members) | {member} if present else set(members) - {member}
        if members:
            bindings.append({"role": role, "members": sorted(members)})
        response = self.rest("POST", "/v1/{0}:setIamPolicy".format(resource),
                             {"policy": {"bindings": bindings, "etag": policy.get("etag")}})
        assert response.status_code == 200, response.text

    def bind_task(self, member, role=READER, state="present", name="bind"):
        args = {"location": LOCATION, "repository": self.repository, "role": role, "members": [member], "state": state}
        return {"name": name, "configsync.oci.ar_iam_binding": args}

    def bind(self, member, role=READER, state="present"):
        return self.ok([self.bind_task(member, role, state)]).result("bind")

    def bind_service_account(self, service_account, member, role=WORKLOAD_IDENTITY_USER, state="present"):
        task = {"name": "bind", "configsync.oci.iam_service_account_binding": {
            "service_account": service_account, "role": role, "members": [member], "state": state}}
        return self.ok([task]).result("bind")

    def repository_policy(self):
        return self.gcp.state()["repositoryPolicies"].get(self.resource) or {}

    # --- pushes and syncs -----------------------------------------------------------------------------------------
    @staticmethod
    def push_task(image, src, **options):
        args = {"src": [str(src)], "base": str(src), "image": image}
        args.update(options)
        return {"name": "push", "configsync.oci.oci_push": args}

    def push(self, image, src, token=None, **options):
        """oci_push as the pusher (or ``token``); returns the PlaybookRun."""
        return self.run([self.push_task(image, src, **options)], token=token or self.pusher_token)

    @staticmethod
    def source_task(name, image, kind="RootSync", namespace=CONFIG_SYNC_NAMESPACE, auth="k8sserviceaccount", wait=True,
                    wait_timeout=FAIL_TIMEOUT, **options):
        args = {"kind": kind, "name": name, "namespace": namespace, "image": image, "dir": ".", "auth": auth, "period": PERIOD,
                "wait": wait, "wait_timeout": wait_timeout}
        if kind == "RootSync":
            args["source_format"] = "unstructured"
        args.update(options)
        return {"name": "source", "configsync.oci.config_sync_source": args}

    def sync(self, name, image, **options):
        options.setdefault("fleet_host_project", self.project)
        return self.run([self.source_task(name, image, **options)])

    @staticmethod
    def source_member(run):
        """The Workload Identity member config_sync_source reported (also when its wait failed)."""
        return run.results("source")[-1]["workload_identity_member"]

    def rollout(self, src, package, kind="RootSync", name="root-sync", namespace="", auth="auto", email="", token=None):
        """The rollout role (playbooks/rollout.yml) on this cluster: push, sync object, grants, wait for SYNCED."""
        extra_vars = {
            "rollout_project": self.project, "rollout_location": LOCATION, "rollout_repository": self.repository,
            "rollout_package": package, "rollout_tag": "v1", "rollout_src": [str(src)], "rollout_base": str(src),
            "rollout_sync_kind": kind, "rollout_sync_name": name, "rollout_sync_namespace": namespace,
            "rollout_auth": auth, "rollout_gcp_service_account_email": email, "rollout_period": PERIOD,
            "rollout_wait_timeout": SYNC_TIMEOUT, "rollout_kubeconfig": str(self.control_plane.kubeconfig),
        }
        return self.ansible(playbook=ROLLOUT_PLAYBOOK, extra_vars=extra_vars, env=self.env(token or self.pusher_token))

    def sync_until_synced(self, name, image, expected_digest, retries=SYNC_TIMEOUT // 10, **options):
        """The wait run again until SYNCED at ``expected_digest``: right after a grant, the status still holds the
        KNV2004 error of oci-sync's last attempt until its backoff retry, and a wait that changed nothing ends on it."""
        task = dict(self.source_task(name, image, expected_digest=expected_digest, wait_timeout=20, **options),
                    register="synced", until="synced is succeeded", retries=retries, delay=5)
        run = self.run([task])
        assert not run.failed, run.output
        return run.results("source")[-1]

    def delete(self, name, kind="RootSync", namespace=CONFIG_SYNC_NAMESPACE):
        self.cluster.delete(name, kind=kind, namespace=namespace)

    # --- the cluster, read directly ---------------------------------------------------------------------------------
    def namespace_commit(self, name):
        namespace = self.get("/api/v1/namespaces/" + name)
        return None if namespace is None else (namespace["metadata"].get("annotations") or {}).get("configmanagement.gke.io/token")

    def token_requests(self, ksa):
        """The metadata server's token answers for one reconciler KSA: [(status, principal)]."""
        return [(entry["status"], entry["principal"]) for entry in self.metadata.requests(ksa) if entry["path"].endswith("/token")]

    def front_pulls(self, member):
        """Manifest reads the front let through for an IAM member."""
        return [entry for entry in self.front.requests() if entry["member"] == member and "/manifests/" in entry["path"]
                and entry["method"] in ("GET", "HEAD") and entry["status"] == 200]


def failure_text(run, task="source"):
    return run.failure_message(task) if run.failed else json.dumps(run.results(task))
