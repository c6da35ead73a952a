"""Helpers for the end-to-end tests: the seed's steps as real ansible-playbook runs against Config Sync."""
import json
import re

CONFIG_SYNC_NAMESPACE = "config-management-system"
# Short oci-sync poll period where a test waits for Config Sync to notice a pushed tag.
PERIOD = "5s"
WAIT_TIMEOUT = 180


def namespace_manifest(name):
    return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {0}\n".format(name)


def config_map_manifest(name, namespace, data):
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: " + name, "  namespace: " + namespace, "data:"]
    lines += ["  {0}: {1}".format(key, json.dumps(value)) for key, value in sorted(data.items())]
    return "\n".join(lines) + "\n"


class Flow:
    """The seed's steps, each one real ansible-playbook run of the collection's modules."""

    def __init__(self, ansible, control_plane, registry, workdir):
        self.ansible = ansible
        self.control_plane = control_plane
        self.registry = registry
        self.workdir = workdir
        self.http = control_plane.session()
        # The operator identity: control_plane.recorded_writes() tells the modules' requests from the controllers'.
        self.env = {"K8S_AUTH_KUBECONFIG": str(control_plane.operator_kubeconfig)}

    # --- inputs ---
    def manifests(self, name, files):
        """A directory of manifest files (relative path -> text)."""
        root = self.workdir / name
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return root

    def image(self, repository, tag="v1"):
        return "{0}/{1}:{2}".format(self.registry.host, repository, tag)

    # --- tasks ---
    @staticmethod
    def push_task(image, src, fmt="image", **options):
        # Paths inside the image are relative to src (the seed tars the file itself, without a folder).
        args = dict({"src": [str(src)], "base": str(src), "image": image, "format": fmt}, **options)
        return {"name": "push", "configsync.oci.oci_push": args}

    @staticmethod
    def source_task(name, image, kind="RootSync", namespace=CONFIG_SYNC_NAMESPACE, wait=True, expected_digest=None, period=PERIOD,
                    wait_timeout=WAIT_TIMEOUT, **options):
        args = {"kind": kind, "name": name, "namespace": namespace, "image": image, "dir": ".", "auth": "none", "period": period,
                "wait": wait, "wait_timeout": wait_timeout}
        if kind == "RootSync":
            args["source_format"] = "unstructured"
        if expected_digest:
            args["expected_digest"] = expected_digest
        args.update(options)
        return {"name": "source", "configsync.oci.config_sync_source": args}

    @staticmethod
    def clock_task(name):
        # A wall-clock reading between two tasks, to time one step of a playbook (python, not date: portable).
        return {"name": name, "ansible.builtin.command": {"argv": ["python3", "-c", "import time; print(repr(time.time()))"]},
                "changed_when": False}

    # --- runs ---
    def run(self, tasks, **kwargs):
        return self.ansible(tasks=tasks, env=self.env, **kwargs)

    def push(self, image, src, fmt="image", **options):
        run = self.run([self.push_task(image, src, fmt, **options)])
        assert not run.failed, run.output
        return run.result("push")

    def sync(self, name, image, **options):
        """config_sync_source; returns the PlaybookRun (the caller asserts success or failure)."""
        return self.run([self.source_task(name, image, **options)])

    def push_and_sync(self, name, image, src, fmt="image", **options):
        """One playbook: oci_push, then config_sync_source waiting for the digest just pushed; also times the wait."""
        source = self.source_task(name, image, expected_digest="{{ pushed.digest }}", **options)
        tasks = [dict(self.push_task(image, src, fmt), register="pushed"), self.clock_task("pushed at"), source,
                 self.clock_task("synced at")]
        run = self.run(tasks)
        assert not run.failed, run.output
        seconds = float(run.result("synced at")["stdout"]) - float(run.result("pushed at")["stdout"])
        return run.result("push"), run.result("source"), seconds

    def status(self, **filters):
        run = self.run([{"name": "status", "configsync.oci.config_sync_status": filters}])
        assert not run.failed, run.output
        return run.result("status")

    def delete(self, name, kind="RootSync", namespace=CONFIG_SYNC_NAMESPACE):
        args = {"kind": kind, "name": name, "namespace": namespace, "state": "absent"}
        run = self.run([{"name": "delete", "configsync.oci.config_sync_source": args}])
        assert not run.failed, run.output

    # --- the API server, read directly ---
    def get(self, path):
        response = self.http.get(self.control_plane.server + path, timeout=30)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()

    def create_namespace(self, name):
        response = self.http.post(self.control_plane.server + "/api/v1/namespaces",
                                  json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, timeout=30)
        assert response.status_code in (201, 409), response.text

    def create_secret(self, name, data, namespace=CONFIG_SYNC_NAMESPACE):
        """A Secret the user made (``kubectl create secret generic``): string data."""
        response = self.http.post("{0}/api/v1/namespaces/{1}/secrets".format(self.control_plane.server, namespace),
                                  json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}, timeout=30)
        assert response.status_code == 201, response.text

    def sync_object(self, name, kind="RootSync", namespace=CONFIG_SYNC_NAMESPACE):
        return self.get("/apis/configsync.gke.io/v1beta1/namespaces/{0}/{1}s/{2}".format(namespace, kind.lower(), name))


def nomos_states(output):
    """{(scope, name): (status, commit)} from ``nomos status`` text: each sync's header line ("<root>:NAME  SOURCE"),
    then its state line ("SYNCED @ <time>  <commit>" or "ERROR  <commit>"; the commit may be missing)."""
    lines = [line.strip() for line in output.splitlines()]
    found = {}
    for index, line in enumerate(lines[:-1]):
        header = re.match(r"^(<root>|[a-z0-9-]+):([a-z0-9.-]+)\s", line)
        if header:
            words = lines[index + 1].split()
            commit = words[-1] if len(words) > 1 and re.match(r"^[0-9a-f]{7,}$", words[-1]) else None
            found[(header.group(1), header.group(2))] = (words[0] if words else None, commit)
    return found


def nomos_state_is(nomos, scope, name, status, commit=None):
    """A ``nomos status`` report once it shows (status, commit) for one sync, else None (for poll)."""
    report = nomos()
    state = nomos_states(report.output).get((scope, name))
    if state and state[0] == status and (commit is None or state[1] == commit):
        return report
    return None
