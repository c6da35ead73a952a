"""Real Config Sync, out of cluster, against the test control plane: reconciler-manager, reconcilers, resource-group.

A Config Sync install runs three controllers. This module runs all three as local processes built by
scripts/build-tools from the pinned Config Sync module, and plays only the parts a cluster provides around them
(no kubelet, no Deployment controller run here):

* ``reconciler-manager`` (real): turns each RootSync/RepoSync into the reconciler KSA, RBAC bindings and a reconciler
  Deployment, and writes the sync object's ``observedGeneration`` and ``Reconciling``/``Stalled`` conditions.
* the reconciler Pods: ``ConfigSyncReconciler`` reads a reconciler Deployment the reconciler-manager created and runs
  its ``oci-sync`` and ``reconciler`` containers as processes, with the container's own args and env (``valueFrom``
  Secret keys read as the kubelet reads them); the Pod's emptyDir volumes (/repo, /reconciler-signals, /.kube) become
  directories, its Secret volumes (the ``ca-cert`` of caCertSecretRef) directories holding the Secret's keys, and its
  projected volumes (fleet Workload Identity's ``gcp-ksa``) directories holding what the kubelet writes there: a
  service-account token from the TokenRequest API and downward-API annotations. The reconciler talks to the API server
  as the
  Deployment's ServiceAccount (kubeconfig impersonation), so RBAC is enforced as in a cluster. Like the Deployment
  controller + kubelet it restarts exited processes, recreates the Pod (fresh volumes) when the template changes
  (strategy Recreate), and reports the Deployment available in its status: that is the only status written here.
* ``resource-group`` controller (real): computes each managed object's kstatus (``Current``) in the ResourceGroup,
  which ``nomos status`` prints under "Managed resources".

``ConfigSync(control_plane, workdir).start()`` installs the cluster-wide objects of a release (Config Sync's own
ClusterRoles and reconciler-manager ServiceAccount/binding from its manifests/, the ``reconciler-manager-cm``
template, and the ``reconciler-manager`` Deployment whose image tag carries the version) and starts everything.
Logs: ``<workdir>/logs/{reconciler-manager,resource-group}.log`` and
``<workdir>/pods/<reconciler>/logs/{oci-sync,reconciler}.log``. ``nomos_status()`` runs the real ``nomos status``.
"""
import base64
import json
import os
import pathlib
import re
import shutil
import subprocess
import threading
import time

import yaml

from harness import tools
from harness.process import ServerProcess

CONFIG_SYNC_NAMESPACE = "config-management-system"
API_GROUP = "configsync.gke.io"
SYNC_RESOURCES = {"RootSync": "rootsyncs", "RepoSync": "reposyncs"}
RELEASE_IMAGE_REGISTRY = "gcr.io/config-management-release"
RECONCILER_DEPLOYMENTS = "/apis/apps/v1/namespaces/{0}/deployments".format(CONFIG_SYNC_NAMESPACE)
RECONCILER_TEMPLATE = "reconciler-manager-configmap.yaml"
# Objects of the release manifests that the controllers need: the reconcilers' ClusterRoles, and the
# reconciler-manager's ServiceAccount with its cluster-admin binding.
INSTALL_MANIFESTS = ("ns-reconciler-base-cluster-role.yaml", "ns-reconciler-cluster-scope-cluster-role.yaml",
                     "root-reconciler-base-cluster-role.yaml", "reconciler-manager-service-account.yaml")
# The containers of the reconciler Pod that run here (by container name -> binary); the others (otel-agent, and
# git-sync/helm-sync/hydration-controller, which the reconciler-manager drops for oci without rendering) do not.
CONTAINER_BINARIES = {"oci-sync": "oci-sync", "reconciler": "reconciler"}
GC_FINALIZERS = ("foregroundDeletion", "orphan")
GC_COLLECTIONS = ("/api/v1/namespaces/{0}/serviceaccounts".format(CONFIG_SYNC_NAMESPACE),
                  "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "/apis/rbac.authorization.k8s.io/v1/rolebindings",
                  "/apis/kpt.dev/v1alpha1/resourcegroups")


class ConfigSyncRunnerError(RuntimeError):
    """Config Sync could not be set up; the message says what and where the logs are."""


class ConfigSyncUnavailable(ConfigSyncRunnerError):
    """Config Sync's binaries or manifests cannot be had on this machine (e.g. the module proxy refuses the module)."""


# --- binaries and manifests ---------------------------------------------------------------------------------------

def configsync_version():
    return tools.versions()["CONFIGSYNC_VERSION"]


def configsync_command(name):
    """The argv that runs one Config Sync command (``nomos``, ``oci-sync``, ``reconciler``, ``reconciler-manager``,
    ``resource-group``) of the tier this run tests: the emulator's, or real Config Sync's (tools.configsync_tier)."""
    try:
        return tools.configsync_command(name)
    except tools.ToolUnavailable as error:
        raise ConfigSyncUnavailable(str(error))


def manifests_dir():
    """Config Sync's release manifests (CRDs, roles, the reconciler Deployment template), read in place."""
    return tools.manifests_dir()


def install_manifests():
    """The release objects of INSTALL_MANIFESTS, from the pinned module's manifests/."""
    manifests = manifests_dir()
    objects = []
    for file_name in INSTALL_MANIFESTS:
        objects.extend(doc for doc in yaml.safe_load_all((manifests / file_name).read_text()) if doc)
    return objects


def reconciler_deployment_template(version):
    """manifests/templates/reconciler-manager-configmap.yaml, with the release's image names filled in."""
    template = yaml.safe_load((manifests_dir() / RECONCILER_TEMPLATE).read_text())
    text = template["data"]["deployment.yaml"]
    for placeholder, image in (("RECONCILER_IMAGE_NAME", "reconciler"), ("OCI_SYNC_IMAGE_NAME", "oci-sync"),
                               ("HYDRATION_CONTROLLER_IMAGE_NAME", "hydration-controller"), ("GIT_SYNC_IMAGE_NAME", "git-sync"),
                               ("HELM_SYNC_IMAGE_NAME", "helm-sync"), ("ASKPASS_IMAGE_NAME", "gcenode-askpass-sidecar"),
                               ("OTELCONTRIBCOL_IMAGE_NAME", "otelcontribcol")):
        text = text.replace(placeholder, "{0}/{1}:v{2}".format(RELEASE_IMAGE_REGISTRY, image, version))
    template["data"]["deployment.yaml"] = text
    return template


# --- a small REST client on the control plane's admin session -----------------------------------------------------

class Api:
    """JSON requests to the API server as the admin user of the control plane."""

    def __init__(self, control_plane):
        self.server = control_plane.server
        self.http = control_plane.session()

    def get(self, path):
        response = self.http.get(self.server + path, timeout=30)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def apply(self, path, body, manager="configsync-install"):
        """Server-side apply (create or update) of one object."""
        response = self.http.patch(self.server + path, params={"fieldManager": manager, "force": "true"}, data=json.dumps(body),
                                   headers={"Content-Type": "application/apply-patch+yaml"}, timeout=30)
        if response.status_code >= 300:
            raise ConfigSyncRunnerError("apply {0} failed: HTTP {1} {2}".format(path, response.status_code, response.text[:500]))
        return response.json()

    def post(self, path, body):
        response = self.http.post(self.server + path, json=body, timeout=30)
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise ConfigSyncRunnerError("post {0} failed: HTTP {1} {2}".format(path, response.status_code, response.text[:500]))
        return response.json()

    def merge_patch(self, path, body):
        response = self.http.patch(self.server + path, data=json.dumps(body), headers={"Content-Type": "application/merge-patch+json"},
                                   timeout=30)
        if response.status_code >= 300 and response.status_code != 404:
            raise ConfigSyncRunnerError("patch {0} failed: HTTP {1} {2}".format(path, response.status_code, response.text[:500]))

    def put(self, path, body):
        response = self.http.put(self.server + path, json=body, timeout=30)
        if response.status_code >= 300:
            raise ConfigSyncRunnerError("put {0} failed: HTTP {1} {2}".format(path, response.status_code, response.text[:500]))
        return response.json()


def object_path(obj):
    """The REST path of an object of the few kinds the install applies."""
    kind, meta = obj["kind"], obj["metadata"]
    cluster_scoped = {"ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings"}
    namespaced = {"ServiceAccount": ("/api/v1", "serviceaccounts"), "ConfigMap": ("/api/v1", "configmaps"),
                  "Deployment": ("/apis/apps/v1", "deployments")}
    if kind in cluster_scoped:
        return "/apis/rbac.authorization.k8s.io/v1/{0}/{1}".format(cluster_scoped[kind], meta["name"])
    prefix, resource = namespaced[kind]
    return "{0}/namespaces/{1}/{2}/{3}".format(prefix, meta["namespace"], resource, meta["name"])


def impersonating_kubeconfig(admin_kubeconfig, path, service_account, namespace=CONFIG_SYNC_NAMESPACE):
    """The admin kubeconfig acting as a ServiceAccount: the process gets exactly that account's RBAC, as in a Pod."""
    config = yaml.safe_load(pathlib.Path(admin_kubeconfig).read_text())
    for user in config["users"]:
        user["user"]["as"] = "system:serviceaccount:{0}:{1}".format(namespace, service_account)
        user["user"]["as-groups"] = ["system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"]
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, default_flow_style=False))
    path.chmod(0o600)
    return path


class EnvServerProcess(ServerProcess):
    """A ServerProcess with its own environment and working directory (the container's), restartable: each start is
    numbered in its log."""

    def __init__(self, name, argv, log_file, env, cwd=None):
        super().__init__(name, argv, log_file, env=env, cwd=cwd)
        self.restarts = -1

    def _announce(self, log):
        self.restarts += 1
        log.write("--- {0} start #{1}: {2}\n".format(time.strftime("%H:%M:%S"), self.restarts, " ".join(self.argv)).encode())
        log.flush()


def base_env(home):
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}


def finish_deletion(api, obj, collection=RECONCILER_DEPLOYMENTS):
    """The garbage collector's part in a foreground deletion: the object has no dependents here (no ReplicaSets or
    Pods exist), so the propagation finalizers (foregroundDeletion, orphan) are done at once. Without this the object
    stays Terminating, and the reconciler-manager's teardown of a deleted sync waits 30s for each such object,
    blocking its only worker (and with it every other sync's set-up)."""
    finalizers = obj["metadata"].get("finalizers") or []
    remaining = [name for name in finalizers if name not in GC_FINALIZERS]
    if remaining != finalizers:
        namespace = obj["metadata"].get("namespace")
        if namespace and "/namespaces/" not in collection:
            group_version, resource = collection.rsplit("/", 1)
            collection = "{0}/namespaces/{1}/{2}".format(group_version, namespace, resource)
        api.merge_patch("{0}/{1}".format(collection, obj["metadata"]["name"]), {"metadata": {"finalizers": remaining or None}})


def collect_garbage(api):
    """finish_deletion for the other objects the reconciler-manager deletes with foreground propagation (the reconciler
    KSA, RoleBindings, ClusterRoleBindings, the sync's ResourceGroup): none has dependents, so the garbage collector
    would finish them at once."""
    for collection in GC_COLLECTIONS:
        for item in (api.get(collection) or {}).get("items") or []:
            if item["metadata"].get("deletionTimestamp"):
                finish_deletion(api, item, collection)


# --- one reconciler Pod --------------------------------------------------------------------------------------------

def reconciler_name(kind, name, namespace):
    """pkg/core/names.go: root-reconciler[-NAME], ns-reconciler-NS[-NAME-LEN]."""
    if kind == "RootSync":
        return "root-reconciler" if name == "root-sync" else "root-reconciler-" + name
    if name == "repo-sync":
        return "ns-reconciler-" + namespace
    return "ns-reconciler-{0}-{1}-{2}".format(namespace, name, len(name))


class ConfigSyncReconciler:
    """The reconciler Pod of one RootSync/RepoSync: its Deployment's oci-sync and reconciler containers as processes.

    ``start()`` returns at once; a thread waits for the Deployment the reconciler-manager creates, runs the containers,
    follows template changes, and stops them when the Deployment goes away. ``stop()`` ends everything.
    """

    def __init__(self, kind, name, namespace, control_plane, workdir, poll_interval=0.5, env_hooks=()):
        if kind not in SYNC_RESOURCES:
            raise ValueError("kind must be RootSync or RepoSync, not {0!r}".format(kind))
        self.kind, self.name, self.namespace = kind, name, namespace
        self.deployment_name = reconciler_name(kind, name, namespace)
        self.control_plane = control_plane
        self.api = Api(control_plane)
        self.dir = pathlib.Path(workdir).resolve() / "pods" / self.deployment_name
        self.log_dir = self.dir / "logs"
        self.poll_interval = poll_interval
        self.generation = None
        self.pod_starts = 0
        self.processes = {}
        self.skipped_containers = []
        self.last_error = None
        # What the node adds to a container's environment (e.g. the GKE metadata server): hook(deployment, container) -> dict.
        self.env_hooks = env_hooks
        self._stop = threading.Event()
        self._thread = None

    def __repr__(self):
        return "ConfigSyncReconciler({0} {1}/{2}, logs {3})".format(self.kind, self.namespace, self.name, self.log_dir)

    @property
    def deployment_path(self):
        return "{0}/{1}".format(RECONCILER_DEPLOYMENTS, self.deployment_name)

    def start(self):
        for binary in CONTAINER_BINARIES.values():
            configsync_command(binary)  # build failures surface here, not inside the thread
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name=repr(self), daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(60)
        self._stop_pod()

    def running(self):
        return bool(self.processes) and all(process.running() for process in self.processes.values())

    def log(self, container):
        path = self.log_dir / (container + ".log")
        return path.read_text(errors="replace") if path.exists() else ""

    def _supervise(self):
        while not self._stop.is_set():
            try:
                self._step()
                self.last_error = None
            except Exception as error:  # pylint: disable=broad-except
                # One failed step (the API server busy, say) must not end supervision; the next step retries.
                self.last_error = repr(error)
            self._stop.wait(self.poll_interval)

    def _step(self):
        deployment = self.api.get(self.deployment_path)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            if self.processes:
                self._stop_pod()
                self.generation = None
            if deployment is not None:
                finish_deletion(self.api, deployment)
            return
        generation = deployment["metadata"]["generation"]
        if generation != self.generation:
            # A changed Pod template: strategy Recreate replaces the Pod, volumes and all.
            self._stop_pod()
            self._start_pod(deployment)
            self.generation = generation
            self._report_available(deployment)
            return
        for process in self.processes.values():
            if not process.running():
                process.start()  # restartPolicy: Always

    def _secret(self, name):
        """The data of a Secret in the Pod's namespace, decoded; a missing Secret keeps the Pod from starting, as the
        kubelet would (the next step retries)."""
        secret = self.api.get("/api/v1/namespaces/{0}/secrets/{1}".format(CONFIG_SYNC_NAMESPACE, name))
        if secret is None:
            raise ConfigSyncRunnerError("Secret {0}/{1} not found (the Pod cannot start)".format(CONFIG_SYNC_NAMESPACE, name))
        return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}

    def _volume_dirs(self, template):
        """Each emptyDir volume of the Pod is a fresh directory shared by the containers that mount it; a Secret volume
        is a directory holding the Secret's keys (or the listed items) as files; a projected volume a directory holding
        its sources' files (``_projected``)."""
        spec = template["spec"]
        dirs = {}
        for volume in spec.get("volumes") or []:
            path = self.dir / "volumes" / volume["name"]
            if "emptyDir" in volume:
                path.mkdir(parents=True, exist_ok=True)
                dirs[volume["name"]] = path
            elif "secret" in volume:
                path.mkdir(parents=True, exist_ok=True)
                self._write_secret_items(path, volume["secret"], 0o600)
                dirs[volume["name"]] = path
            elif "projected" in volume:
                path.mkdir(parents=True, exist_ok=True)
                self._projected(path, volume, template)
                dirs[volume["name"]] = path
        return dirs

    def _write_secret_items(self, path, source, mode):
        data = self._secret(source["secretName"] if "secretName" in source else source["name"])
        items = source.get("items") or [{"key": key, "path": key} for key in data]
        for item in items:
            if item["key"] not in data:
                raise ConfigSyncRunnerError("Secret {0} has no key {1}".format(source.get("secretName") or source.get("name"), item["key"]))
            self._write_file(path / item["path"], data[item["key"]], item.get("mode", mode))

    @staticmethod
    def _write_file(target, data, mode):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(mode)

    def _projected(self, path, volume, template):
        """What the kubelet writes into a projected volume: for a ``serviceAccountToken`` source a token of the Pod's
        ServiceAccount from the TokenRequest API (its audience and expirationSeconds; the kubelet would also bind it to
        the Pod object, which does not exist here); for ``downwardAPI`` items the Pod's field (``metadata.annotations[..]``,
        ``metadata.labels[..]``, ``metadata.name``/``namespace``, from the Pod template); for ``secret`` sources the
        Secret's items. File modes: the item's ``mode``, else ``defaultMode`` (0644).

        One harness liberty: a downward-API value that is JSON has the container paths of this volume's mounts inside
        it rewritten to the volume's directory (as container args and env are), because the containers run as local
        processes without their mount namespace: fleet Workload Identity's credential file names
        /var/run/secrets/tokens/gcp-ksa/token."""
        projected = volume["projected"]
        default_mode = projected.get("defaultMode", 0o644)
        mounts = {mount["mountPath"]: path for container in template["spec"].get("containers") or []
                  for mount in container.get("volumeMounts") or [] if mount["name"] == volume["name"]}
        for source in projected.get("sources") or []:
            if "serviceAccountToken" in source:
                token_source = source["serviceAccountToken"]
                token = self._service_account_token(template["spec"].get("serviceAccountName") or "default",
                                                    token_source.get("audience"), token_source.get("expirationSeconds", 3600))
                self._write_file(path / token_source["path"], token.encode(), default_mode)
            elif "downwardAPI" in source:
                for item in source["downwardAPI"].get("items") or []:
                    value = self._translate_content(self._pod_field(template, item), mounts)
                    self._write_file(path / item["path"], value.encode(), item.get("mode", default_mode))
            elif "secret" in source:
                self._write_secret_items(path, source["secret"], default_mode)
            else:
                raise ConfigSyncRunnerError("projected volume {0}: source {1} is not supported by the harness".format(
                    volume["name"], sorted(source)))

    def _service_account_token(self, service_account, audience, expiration_seconds):
        """A token for the Pod's ServiceAccount from the API server's TokenRequest API, as the kubelet requests it."""
        spec = {"expirationSeconds": int(expiration_seconds)}
        if audience:
            spec["audiences"] = [audience]
        answer = self.api.post("/api/v1/namespaces/{0}/serviceaccounts/{1}/token".format(CONFIG_SYNC_NAMESPACE, service_account),
                               {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        if answer is None:
            raise ConfigSyncRunnerError("ServiceAccount {0}/{1} not found (the Pod cannot start)".format(
                CONFIG_SYNC_NAMESPACE, service_account))
        return answer["status"]["token"]

    @staticmethod
    def _pod_field(template, item):
        field_path = (item.get("fieldRef") or {}).get("fieldPath")
        if not field_path:
            raise ConfigSyncRunnerError("downwardAPI item {0}: only fieldRef is supported by the harness".format(item.get("path")))
        metadata = template.get("metadata") or {}
        match = re.match(r"^metadata\.(annotations|labels)\['(.+)'\]$", field_path)
        if match:
            return (metadata.get(match.group(1)) or {}).get(match.group(2), "")
        if field_path == "metadata.namespace":
            return CONFIG_SYNC_NAMESPACE
        if field_path == "metadata.name":
            return metadata.get("name") or ""
        raise ConfigSyncRunnerError("downwardAPI fieldPath {0} is not supported by the harness".format(field_path))

    @classmethod
    def _translate_content(cls, value, mounts):
        """A JSON value with the strings naming a path under one of ``mounts`` rewritten to the local directory."""
        try:
            document = json.loads(value)
        except ValueError:
            return value
        if not isinstance(document, (dict, list)):
            return value

        def walk(node):
            if isinstance(node, dict):
                return {key: walk(item) for key, item in node.items()}
            if isinstance(node, list):
                return [walk(item) for item in node]
            return cls._translate(node, mounts) if isinstance(node, str) and node.startswith("/") else node
        return json.dumps(walk(document), separators=(",", ":"), sort_keys=False)

    def _env_value(self, variable, mounts):
        if "value" in variable:
            return self._translate(variable["value"], mounts)
        secret_ref = (variable.get("valueFrom") or {}).get("secretKeyRef")
        if secret_ref:
            data = self._secret(secret_ref["name"])
            if secret_ref["key"] not in data:
                raise ConfigSyncRunnerError("Secret {0} has no key {1}".format(secret_ref["name"], secret_ref["key"]))
            return data[secret_ref["key"]].decode()
        return None

    @staticmethod
    def _translate(value, mounts):
        """A container path under a mounted volume -> the volume's local directory (longest mount path first)."""
        for mount_path, local in sorted(mounts.items(), key=lambda item: -len(item[0])):
            if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
                return str(local) + value[len(mount_path.rstrip("/")):]
            if "=" in value:
                flag, dummy, rest = value.partition("=")
                if rest == mount_path or rest.startswith(mount_path.rstrip("/") + "/"):
                    return flag + "=" + str(local) + rest[len(mount_path.rstrip("/")):]
        return value

    def _start_pod(self, deployment):
        spec = deployment["spec"]["template"]["spec"]
        shutil.rmtree(str(self.dir / "volumes"), ignore_errors=True)
        volumes = self._volume_dirs(deployment["spec"]["template"])
        kubeconfig = impersonating_kubeconfig(self.control_plane.kubeconfig, self.dir / "kubeconfig", spec["serviceAccountName"])
        self.processes, self.skipped_containers = {}, []
        for container in spec["containers"]:
            binary = CONTAINER_BINARIES.get(container["name"])
            if binary is None:
                self.skipped_containers.append(container["name"])
                continue
            mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in container.get("volumeMounts") or [] if mount["name"] in volumes}
            argv = configsync_command(binary) + [self._translate(arg, mounts) for arg in container.get("args") or []]
            env = base_env(self.dir)
            env["KUBECONFIG"] = str(kubeconfig)
            for variable in container.get("env") or []:
                value = self._env_value(variable, mounts)
                if value is not None:
                    env[variable["name"]] = value
            for hook in list(self.env_hooks):
                env.update(hook(deployment, container) or {})
            self.processes[container["name"]] = EnvServerProcess(container["name"], argv, self.log_dir / (container["name"] + ".log"),
                                                                 env, cwd=self.dir)
        for process in self.processes.values():
            process.start()
        self.pod_starts += 1

    def _report_available(self, deployment):
        """What the Deployment controller writes once its one replica is ready, so kstatus computes Current."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        replicas = deployment["spec"].get("replicas", 1)
        deployment["status"] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.",
                 "lastUpdateTime": now, "lastTransitionTime": now},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": "ReplicaSet has successfully progressed.",
                 "lastUpdateTime": now, "lastTransitionTime": now},
            ],
        }
        self.api.put(self.deployment_path + "/status", deployment)

    def _stop_pod(self):
        for process in self.processes.values():
            process.stop()


def aggregate_cluster_roles(api, passes=5):
    """Fill the rules of aggregated ClusterRoles (admin, edit, view) from the roles their selectors pick.

    A stand-in for kube-controller-manager's clusterrole-aggregation controller, which the test control plane does
    not run: without it ``edit`` grants nothing and a RepoSync reconciler bound to it cannot list a ConfigMap.
    Repeated until nothing changes, because ``admin`` aggregates ``edit``.
    """
    for dummy in range(passes):
        roles = api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles")["items"]
        changed = False
        for role in roles:
            selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
            if not selectors:
                continue
            rules = []
            for other in sorted(roles, key=lambda item: item["metadata"]["name"]):
                labels = other["metadata"].get("labels") or {}
                if other is not role and any(all(labels.get(k) == v for k, v in (s.get("matchLabels") or {}).items()) for s in selectors):
                    rules.extend(rule for rule in other.get("rules") or [] if rule not in rules)
            if rules != (role.get("rules") or []):
                role["rules"] = rules
                api.put("/apis/rbac.authorization.k8s.io/v1/clusterroles/" + role["metadata"]["name"], role)
                changed = True
        if not changed:
            return


# --- the whole install -------------------------------------------------------------------------------------------

class ConfigSync:
    """A Config Sync install on the control plane: release objects, reconciler-manager, resource-group controller,
    and a ConfigSyncReconciler for every reconciler Deployment that appears."""

    def __init__(self, control_plane, workdir, reconciler_polling_period=None, poll_interval=0.5):
        self.control_plane = control_plane
        self.api = Api(control_plane)
        self.workdir = pathlib.Path(workdir).resolve()
        self.log_dir = self.workdir / "logs"
        self.version = configsync_version()
        self.reconciler_polling_period = reconciler_polling_period
        self.poll_interval = poll_interval
        self.controllers = {}
        self.reconcilers = {}
        self.timings = {}
        self.last_error = None
        # Environment hooks for every reconciler container started from now on (see ConfigSyncReconciler.env_hooks).
        self.pod_env_hooks = []
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    @property
    def reconciler_manager_image(self):
        return "{0}/reconciler-manager:v{1}".format(RELEASE_IMAGE_REGISTRY, self.version)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        began = time.monotonic()
        for name in ("oci-sync", "nomos", "reconciler", "reconciler-manager", "resource-group"):
            configsync_command(name)
        self.timings["binaries"] = round(time.monotonic() - began, 3)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._install()
        self._start_controllers()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="ConfigSync pods", daemon=True)
        self._thread.start()
        self.timings["total"] = round(time.monotonic() - began, 3)
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(60)
        with self._lock:
            for reconciler in self.reconcilers.values():
                reconciler.stop()
            self.reconcilers.clear()
        for process in self.controllers.values():
            process.stop()

    def reconciler(self, kind, name, namespace):
        """The ConfigSyncReconciler running one sync object's reconciler Pod (None before its Deployment exists)."""
        with self._lock:
            return self.reconcilers.get(reconciler_name(kind, name, namespace))

    def _install(self):
        aggregate_cluster_roles(self.api)
        for obj in install_manifests() + [reconciler_deployment_template(self.version), self._reconciler_manager_deployment()]:
            self.api.apply(object_path(obj), obj)

    def _reconciler_manager_deployment(self):
        # The object the release installs (manifests/templates/reconciler-manager.yaml): modules read the version from
        # its image tag. Its Pod is the reconciler-manager process started below, so it is not run a second time.
        labels = {"app": "reconciler-manager"}
        container = {"name": "reconciler-manager", "image": self.reconciler_manager_image, "command": ["/reconciler-manager"]}
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "reconciler-manager", "namespace": CONFIG_SYNC_NAMESPACE,
                             "labels": {"app": "reconciler-manager", "configmanagement.gke.io/system": "true"}},
                "spec": {"selector": {"matchLabels": labels}, "replicas": 1,
                         "template": {"metadata": {"labels": labels},
                                      "spec": {"serviceAccountName": "reconciler-manager", "containers": [container]}}}}

    def _start_controllers(self):
        manager_dir = self.workdir / "reconciler-manager"
        manager_dir.mkdir(exist_ok=True)
        # The reconciler-manager reads its Pod template from ./deployment.yaml (the ConfigMap mounted at /deployment.yaml).
        (manager_dir / "deployment.yaml").write_text(reconciler_deployment_template(self.version)["data"]["deployment.yaml"])
        manager_env = base_env(manager_dir)
        manager_env["KUBECONFIG"] = str(impersonating_kubeconfig(self.control_plane.kubeconfig, manager_dir / "kubeconfig",
                                                                 "reconciler-manager"))
        if self.reconciler_polling_period:
            manager_env["RECONCILER_POLLING_PERIOD"] = self.reconciler_polling_period
        self.controllers["reconciler-manager"] = EnvServerProcess(
            "reconciler-manager", configsync_command("reconciler-manager") + ["-v=1"],
            self.log_dir / "reconciler-manager.log", manager_env, cwd=manager_dir).start()
        group_dir = self.workdir / "resource-group"
        group_dir.mkdir(exist_ok=True)
        group_env = base_env(group_dir)
        group_env["KUBECONFIG"] = str(self.control_plane.kubeconfig)
        self.controllers["resource-group"] = EnvServerProcess(
            "resource-group", configsync_command("resource-group") + ["--metrics-addr=0"],
            self.log_dir / "resource-group.log", group_env, cwd=group_dir).start()

    def _watch(self):
        while not self._stop.is_set():
            try:
                self._discover()
                self.last_error = None
            except Exception as error:  # pylint: disable=broad-except
                self.last_error = repr(error)
            self._stop.wait(self.poll_interval)

    def _discover(self):
        for process in self.controllers.values():
            if not process.running():
                process.start()  # restartPolicy: Always
        collect_garbage(self.api)
        listing = self.api.get(RECONCILER_DEPLOYMENTS + "?labelSelector=app%3Dreconciler") or {}
        for deployment in listing.get("items") or []:
            if deployment["metadata"].get("deletionTimestamp") and deployment["metadata"]["name"] not in self.reconcilers:
                finish_deletion(self.api, deployment)  # a Deployment deleted before its Pod ever ran
                continue
            labels = deployment["spec"]["template"]["metadata"].get("labels") or {}
            kind = labels.get("configsync.gke.io/sync-kind")
            name, namespace = labels.get("configsync.gke.io/sync-name"), labels.get("configsync.gke.io/sync-namespace")
            with self._lock:
                if deployment["metadata"]["name"] in self.reconcilers or self._stop.is_set() or kind not in SYNC_RESOURCES:
                    continue
                self.reconcilers[deployment["metadata"]["name"]] = ConfigSyncReconciler(
                    kind, name, namespace, self.control_plane, self.workdir, poll_interval=self.poll_interval,
                    env_hooks=self.pod_env_hooks).start()


# --- nomos status ------------------------------------------------------------------------------------------------

class NomosStatus:
    """One run of the real ``nomos status``."""

    def __init__(self, argv, returncode, output):
        self.argv = argv
        self.returncode = returncode
        self.output = output

    def __repr__(self):
        return "NomosStatus(rc={0}: {1})\n{2}".format(self.returncode, " ".join(self.argv), self.output)


def kubeconfig_context(kubeconfig):
    return yaml.safe_load(pathlib.Path(kubeconfig).read_text())["current-context"]


def nomos_status(control_plane, namespace=None, timeout=60, extra_args=()):
    """``nomos status --contexts=<current context>`` with KUBECONFIG set to the control plane's, as the seed runs it."""
    kubeconfig = str(control_plane.kubeconfig)
    argv = configsync_command("nomos") + ["status", "--contexts=" + kubeconfig_context(kubeconfig)]
    if namespace:
        argv.append("--namespace=" + namespace)
    argv.extend(extra_args)
    env = dict(os.environ, KUBECONFIG=kubeconfig)
    completed = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    return NomosStatus(argv, completed.returncode, completed.stdout + completed.stderr)
